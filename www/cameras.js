// The relay's camera list for the app pages: `GET api/cameras`, retried with
// backoff (0.5 s doubling to 10 s) for as long as the relay cannot be reached,
// so a page opened while the relay is down starts by itself once it is back.
// A 401 (no one signed in, the session was ended, or a bearer token was
// revoked) is not retried: it is thrown as an ApiError with `status` 401, and
// each page decides what to do (the app goes to the sign-in page; a kiosk
// says it is not signed in, or was revoked).

import { get, retrying } from "./api.js";

/**
 * Resolves with `[{id, name, status, capabilities}]`; `waiting(why)` says why
 * it is still trying. With `api` (from `withToken`), the cameras that token
 * may see; otherwise the signed-in user's.
 */
export function listCameras(waiting, api = { get }) {
  return retrying(() => api.get("api/cameras"), waiting);
}
