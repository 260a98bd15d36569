// The relay's HTTP API as the app's pages use it: who is signed in, sign in,
// sign out, and `post` for any other change. Kept in one place because every
// state-changing request must carry the same two headers — `Content-Type:
// application/json` (a cross-site form cannot send it) and the session's
// `X-CSRF-Token` from `GET api/me` — and because the relay's errors all read
// `{error, message}`: callers get an `ApiError` and show its `message`.
// The session cookie itself is HttpOnly: this file never sees it.
// Pages that run on a bearer token instead of a session (a kiosk device's
// `sld_…`, a share link's `sls_…`) use `withToken` and `ticketGetter`.

/** A refused or failed request; `status` is 0 when the relay could not be reached. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    /** Seconds, from `Retry-After` (a 429's). */
    this.retryAfter = retryAfter;
  }
}

/** The last `me()` / `login()` answer: `{auth, user, csrf}`; undefined when unknown. */
let session;

/** Fetches, and resolves with the JSON body (null for an empty one) or throws an ApiError. */
async function request(path, init = {}) {
  let response;
  try {
    response = await fetch(path, { cache: "no-store", ...init });
  } catch {
    throw new ApiError(0, "unreachable", "Cannot reach the relay");
  }
  const text = await response.text().catch(() => "");
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON (a proxy's page, say): for an error the status says enough.
    if (response.ok) throw new ApiError(response.status, "not_json", "The relay's answer was not JSON");
  }
  if (response.ok) return body;
  const retryAfter = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
  throw new ApiError(
    response.status,
    body?.error ?? "http",
    body?.message ?? `The relay answered ${response.status}`,
    Number.isFinite(retryAfter) ? retryAfter : null,
  );
}

/** A JSON request (POST, DELETE) with the CSRF token, when there is a session to take it from. */
function send(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (session?.csrf) headers["X-CSRF-Token"] = session.csrf;
  return request(path, { method, headers, body: JSON.stringify(body) });
}

/** `GET path` → its JSON. */
export function get(path) {
  return request(path);
}

/**
 * Who is signed in: `{auth: true, user: {name, role, cameras}, csrf}`, or
 * `{auth: false, user: null, csrf: null}` when the relay checks no one.
 * Throws an ApiError with status 401 when no one is signed in.
 */
export async function me() {
  try {
    session = await request("api/me");
  } catch (e) {
    if (e.status === 401) session = undefined;
    throw e;
  }
  return session;
}

/** Signs in with `{user, password}` or `{token}` (a sign-in link's); resolves like `me()`. */
export async function login(credentials) {
  session = await send("POST", "api/login", credentials);
  return session;
}

/** Ends this browser's session (resolves once the relay has forgotten it). */
export async function logout() {
  await post("api/logout", {});
  session = undefined;
}

/**
 * A state-changing request: `POST path` with `body` as JSON and the CSRF
 * token. If the token was stale (signed in again in another tab, so the
 * session changed), it is fetched anew and the request sent once more — a
 * request refused for its token was not carried out.
 */
export function post(path, body = {}) {
  return change("POST", path, body);
}

/** `DELETE path`, sent like `post` (an empty JSON body: the relay wants one). */
export function del(path) {
  return change("DELETE", path, {});
}

async function change(method, path, body) {
  if (session === undefined) await me();
  try {
    return await send(method, path, body);
  } catch (e) {
    const before = session?.csrf;
    if (e.status !== 403 || !before) throw e;
    await me();
    if (session.csrf === before) throw e;
    return send(method, path, body);
  }
}

/**
 * The API as a bearer token sees it: `{get(path), post(path, body)}` with
 * `Authorization: Bearer <token>`. No cookie is sent: a session this browser
 * may also have (an admin trying a kiosk link) would otherwise speak instead
 * of the token, and its POSTs carry no CSRF token.
 */
export function withToken(token) {
  const auth = { Authorization: `Bearer ${token}` };
  return {
    get: (path) => request(path, { credentials: "omit", headers: auth }),
    post: (path, body = {}) =>
      request(path, {
        method: "POST",
        credentials: "omit",
        headers: { ...auth, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      }),
  };
}

/** How long the players of one page share a ticket (each lives an hour). */
const TICKET_REUSE_MS = 10_000;

/**
 * A `getTicket` for `<cam-player>`: `POST api/tickets` with the token of
 * `api` (from `withToken`), resolving with the ticket string. Players that
 * (re)connect together — a wall starting, or after a relay restart — share
 * one request: each mint is a line in the audit log. `refused(error)` is
 * called, once, when the relay answers 401 (the token was revoked or has
 * expired); the returned promise rejects all the same.
 */
export function ticketGetter(api, refused) {
  let last = null;
  let told = false;
  return () => {
    if (!last || performance.now() - last.at > TICKET_REUSE_MS) {
      // An hour, the most a ticket may live: the socket it opens ends with
      // it, so a kiosk reconnects (for a fraction of a second) once an hour.
      const promise = api.post("api/tickets", { ttl: 3600 }).then((minted) => minted.ticket);
      last = { promise, at: performance.now() };
      promise.catch((e) => {
        if (last?.promise === promise) last = null;
        if (e.status === 401 && !told) {
          told = true;
          refused(e);
        }
      });
    }
    return last.promise;
  };
}

/**
 * Runs `attempt` until it resolves, retrying with backoff (0.5 s doubling to
 * 10 s) while the relay cannot be reached or answers an error, so a page opened
 * while the relay is down starts by itself once it is back; `waiting(why)`
 * says why it is still trying. A 401 is not retried: it is thrown, for the
 * page to send its user to sign in.
 */
export async function retrying(attempt, waiting) {
  for (let delay = 500; ; delay = Math.min(delay * 2, 10_000)) {
    try {
      return await attempt();
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      if (e.status === 401) throw e;
      waiting(e.status === 0 ? "Cannot reach the relay; retrying…" : `The relay answered ${e.status}; retrying…`);
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/**
 * Shows "NAME · ROLE" in the page's `#whoami` and wires its `#sign-out`
 * button: sign out, then to the sign-in page. `failed(message)` tells the
 * user when signing out failed (a 401 is no failure: the session had ended).
 */
export function showSignedIn(user, failed) {
  const whoami = document.getElementById("whoami");
  const signOut = document.getElementById("sign-out");
  whoami.textContent = `${user.name} · ${user.role}`;
  whoami.hidden = signOut.hidden = false;
  signOut.addEventListener("click", async () => {
    signOut.disabled = true;
    try {
      await logout();
    } catch (e) {
      if (e.status !== 401) {
        failed(`Could not sign out: ${e.message}`);
        signOut.disabled = false;
        return;
      }
    }
    location.replace("login");
  });
}
