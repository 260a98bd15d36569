// The page a share link opens, `/share#token=sls_…`: one camera, full window,
// for whoever has the link — no account, no cookie. The token is taken out of
// the address bar at once (so it stays out of history and screenshots) and
// kept in sessionStorage (`sightline.share`), so that a reload of this tab
// still works while a new tab needs the link again. With it, the camera list
// (`GET api/cameras`, one camera) and the player's tickets (`getTicket`) are
// asked with `Authorization: Bearer`. When the relay refuses the token (401:
// expired or revoked) the player goes and the page says so.
//
// `data-app="ready"` on <html> once the player exists; `share-refused` when
// the link does not work.

import { ticketGetter, withToken } from "./api.js";
import { listCameras } from "./cameras.js";

const SHARE_KEY = "sightline.share";
const shared = document.getElementById("shared");
const caption = document.getElementById("share-caption");
const message = document.getElementById("share-message");

/** A link's `#token=…`, and the fragment gone from the address bar; null without one. */
function takeToken() {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (token === null) return null;
  history.replaceState(history.state, "", location.pathname + location.search);
  return token || null;
}

/** The link's token (kept for a reload of this tab), else the one kept; null for none. */
function shareToken() {
  const fromLink = takeToken();
  try {
    if (fromLink) sessionStorage.setItem(SHARE_KEY, fromLink);
    return sessionStorage.getItem(SHARE_KEY) ?? fromLink;
  } catch {
    return fromLink;
  }
}

/** Ends the page with `text` (and no player). */
function stop(text) {
  shared.replaceChildren();
  caption.hidden = true;
  message.hidden = false;
  message.textContent = text;
  document.documentElement.dataset.app = "share-refused";
}

const refused = () => stop("This share link has expired or was revoked");

// Another share link opened in this tab changes only the fragment.
addEventListener("hashchange", () => {
  const fresh = takeToken();
  if (!fresh) return;
  try {
    sessionStorage.setItem(SHARE_KEY, fresh);
  } catch {
    return;
  }
  location.reload();
});

async function start() {
  const token = shareToken();
  if (!token) return stop("This page shows a camera shared with a link: open the whole link you were given.");
  const api = withToken(token);
  let cameras;
  try {
    cameras = await listCameras((why) => (message.textContent = why), api);
  } catch (e) {
    if (e.status === 401) return refused();
    return stop(e.message);
  }
  const camera = cameras[0];
  if (!camera) return stop("The shared camera is not available any more.");
  const player = document.createElement("cam-player");
  player.camera = camera.id;
  player.controls = true;
  player.getTicket = ticketGetter(api, refused);
  shared.replaceChildren(player);
  // The share's own end is not known here: tickets say only their own.
  caption.textContent = `${camera.name} · Shared link`;
  caption.hidden = false;
  message.textContent = "";
  message.hidden = true;
  document.title = `${camera.name} · Sightline`;
  document.documentElement.dataset.app = "ready";
  dispatchEvent(new Event("sightline:ready"));
}

start();
