// The relay's camera list for the app pages: `GET api/cameras`, retried with
// backoff (0.5 s doubling to 10 s) for as long as the relay cannot be reached,
// so a page opened while the relay is down starts by itself once it is back.

/** Resolves with `[{id, name, status, capabilities}]`; `waiting(why)` says why it is still trying. */
export async function listCameras(waiting) {
  for (let delay = 500; ; delay = Math.min(delay * 2, 10_000)) {
    try {
      const response = await fetch("api/cameras");
      if (response.ok) return await response.json();
      waiting(`The relay answered ${response.status}; retrying…`);
    } catch {
      waiting("Cannot reach the relay; retrying…");
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
