// The app page: every camera the relay lists, in a grid sized to the window.
// Click a tile (or open `?camera=ID`) to focus one camera; Back, Esc or
// "All cameras" returns to the grid. Tiles that cannot be seen (the others
// while one is focused, or scrolled away) stop receiving video by themselves.
//
// `?decoder=wasm|webcodecs` forces a decoder on every tile, `?renderer=webgl|canvas2d`
// how the Wasm decoder's pictures are painted; `?stats` shows the
// stats boxes (also the Stats box in the header, remembered per browser).
//
// With accounts on, the page first asks who is signed in: no one → the sign-in
// page, which comes back here (`login?next=…`); the header shows the user and
// a "Sign out" button, and for admins a link to the admin page. A session
// ended later (the camera list answers 401) goes to the sign-in page too.
//
// A focused camera has "Share…": a link (`/share#token=…`) that lets anyone
// who has it watch that one camera for 1 to 168 hours, until it expires or is
// revoked (by its creator or an admin). The relay shows the link only once:
// it appears with a Copy button until "Done".
//
// Alerts (alerts.js): every tile outlines its camera while an alert lasts
// (the player's `alerts` attribute, off while the camera is snoozed), and the
// Alerts button opens the panel: live list and history, acknowledge, clips,
// snooze, sound and notifications. `?alerts` opens it at once.

import { setUpAlerts } from "./alerts.js";
import { me, post, retrying, showSignedIn } from "./api.js";
import { listCameras } from "./cameras.js";
import { showOnce } from "./once.js";

const grid = document.getElementById("grid");
const summary = document.getElementById("summary");
const back = document.getElementById("back");
const showStats = document.getElementById("show-stats");
const share = document.getElementById("share");
const sharePanel = document.getElementById("share-panel");
const shareForm = document.getElementById("share-form");
const shareHours = document.getElementById("share-hours");
const shareResult = document.getElementById("share-result");
const shareError = document.getElementById("share-error");
/** Camera id → name, for the share link's note. */
const names = new Map();
/** Whether this user may make share links (a relay with accounts, someone signed in). */
let canShare = false;
const query = new URLSearchParams(location.search);
const decoder = query.get("decoder");
const renderer = query.get("renderer");

showStats.checked = query.has("stats") || localStorage.getItem("sightline.stats") === "1";
showStats.addEventListener("change", () => {
  localStorage.setItem("sightline.stats", showStats.checked ? "1" : "0");
  for (const player of grid.querySelectorAll("cam-player")) player.stats = showStats.checked;
});
document.getElementById("fullscreen").addEventListener("click", () => {
  if (document.fullscreenElement) document.exitFullscreen();
  else document.documentElement.requestFullscreen().catch(() => {});
});

/** One tile: the player and a caption with the camera's name and state. */
function tile(camera) {
  const figure = document.createElement("figure");
  figure.className = "tile";
  figure.dataset.camera = camera.id;
  const player = document.createElement("cam-player");
  player.camera = camera.id;
  player.stats = showStats.checked;
  // The outline while an alert lasts (alerts.js takes it off while snoozed).
  player.alerts = true;
  if (decoder) player.decoder = decoder;
  if (renderer) player.renderer = renderer;
  const caption = document.createElement("figcaption");
  caption.textContent = camera.name;
  figure.append(player, caption);
  player.addEventListener("statechange", updateSummary);
  // A click on the picture focuses; the player's own buttons do their job.
  player.addEventListener("click", (event) => {
    if (event.composedPath()[0]?.tagName === "BUTTON") return;
    if (grid.dataset.focus !== camera.id) focus(camera.id, true);
  });
  return figure;
}

/** Shows one camera (`id`) or, with null, the whole grid. */
function focus(id, push) {
  const known = [...grid.children].some((t) => t.dataset.camera === id);
  id = known ? id : null;
  for (const t of grid.children) {
    t.hidden = id !== null && t.dataset.camera !== id;
    // The focused camera gets the control bar (snapshot, full screen) and,
    // for operators of a PTZ camera, its PTZ controls; in the grid a click
    // on a tile focuses it.
    const player = t.querySelector("cam-player");
    player.controls = id !== null && !t.hidden;
    player.ptz = id !== null && !t.hidden;
    // Keys go to the focused camera (its PTZ keys, for operators).
    if (player.ptz) player.focus({ preventScroll: true });
  }
  if (id === null) delete grid.dataset.focus;
  else grid.dataset.focus = id;
  back.hidden = id === null;
  closeShare(false);
  share.hidden = id === null || !canShare;
  layout();
  if (push) {
    const url = new URL(location.href);
    if (id === null) url.searchParams.delete("camera");
    else url.searchParams.set("camera", id);
    history.pushState({ camera: id }, "", url);
  }
}

/** Columns and width so that every visible tile (16:9) fits the window. */
function layout() {
  const tiles = [...grid.children].filter((t) => !t.hidden).length || 1;
  const style = getComputedStyle(grid);
  const gap = parseFloat(style.columnGap) || 0;
  const header = document.querySelector("header").offsetHeight;
  const width = grid.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const height = innerHeight - header - parseFloat(style.paddingBottom) - 1;
  // The column count that gives the largest tiles.
  let best = { cols: 1, size: 0 };
  for (let cols = 1; cols <= tiles; cols++) {
    const rows = Math.ceil(tiles / cols);
    const size = Math.min((width - gap * (cols - 1)) / cols, ((height - gap * (rows - 1)) / rows) * (16 / 9));
    if (size > best.size) best = { cols, size };
  }
  grid.style.setProperty("--cols", best.cols);
  grid.style.setProperty("--tile-width", `${Math.floor(best.size)}px`);
}

/**
 * "6 cameras · 5 online · 1 offline": cameras, not tiles painting. A tile out
 * of view (the others while one is focused) is `paused` and its camera online;
 * so is one whose codec this browser cannot decode (`unsupported`).
 */
function updateSummary() {
  const states = [...grid.querySelectorAll("cam-player")].map((p) => p.state);
  const count = (...names) => states.filter((s) => names.includes(s)).length;
  const parts = [`${states.length} camera${states.length === 1 ? "" : "s"}`, `${count("live", "paused", "unsupported")} online`];
  const offline = count("offline");
  const reconnecting = count("reconnecting");
  if (offline) parts.push(`${offline} offline`);
  if (reconnecting) parts.push(`${reconnecting} reconnecting`);
  summary.textContent = parts.join(" · ");
}

/** Opens the share panel's form for the focused camera, the hours field focused. */
function openShare() {
  shareError.textContent = "";
  shareResult.hidden = true;
  shareForm.hidden = false;
  sharePanel.hidden = false;
  share.setAttribute("aria-expanded", "true");
  layout();
  shareHours.focus();
  shareHours.select();
}

/** Closes the share panel, dropping a link shown; `refocus` puts focus back on "Share…". */
function closeShare(refocus) {
  if (sharePanel.hidden) return;
  sharePanel.hidden = true;
  shareResult.hidden = true;
  document.getElementById("share-link").textContent = "";
  share.setAttribute("aria-expanded", "false");
  layout();
  if (refocus && !share.hidden) share.focus();
}

/** Creates the share link (`POST api/shares`) and shows it once. */
async function createShare(event) {
  event.preventDefault();
  const create = document.getElementById("share-create");
  const camera = grid.dataset.focus;
  const hours = Number(shareHours.value);
  shareError.textContent = "";
  if (!Number.isInteger(hours) || hours < 1 || hours > 168) {
    shareHours.setAttribute("aria-invalid", "true");
    shareError.textContent = "Enter a whole number of hours, from 1 to 168";
    shareHours.focus();
    return;
  }
  shareHours.setAttribute("aria-invalid", "false");
  if (!camera || create.dataset.busy) return;
  create.dataset.busy = "true";
  try {
    const answer = await post("api/shares", { camera, hours });
    const until = new Date(answer.share.expires_at * 1000).toLocaleString();
    document.getElementById("share-note").textContent =
      `Anyone who has this link can watch ${names.get(camera) ?? camera} until ${until}, unless it is revoked. ` +
      "It is shown only now: copy it.";
    shareForm.hidden = true;
    showOnce(shareResult, answer.link);
    layout();
    document.getElementById("share-copy").focus();
  } catch (e) {
    if (e.status === 401) return toLogin();
    shareError.textContent = e.message;
  } finally {
    delete create.dataset.busy;
  }
}

/** To the sign-in page, which brings the user back to this very view. Never resolves. */
function toLogin() {
  location.replace(`login?next=${encodeURIComponent(location.pathname + location.search)}`);
  return new Promise(() => {});
}

/** "alice · viewer" and the Sign out button, when the relay has accounts. */
function showUser(session) {
  const signedIn = session.auth && session.user;
  document.getElementById("whoami").hidden = !signedIn;
  document.getElementById("sign-out").hidden = !signedIn;
  if (!signedIn) return;
  document.getElementById("admin-link").hidden = session.user.role !== "admin";
  canShare = true;
  showSignedIn(session.user, (message) => (summary.textContent = message));
}

/** Resolves with `f()`, or goes to the sign-in page on a 401 (no one signed in). */
async function signedIn(f) {
  try {
    return await f();
  } catch (e) {
    if (e.status === 401) return toLogin();
    throw e;
  }
}

back.addEventListener("click", () => focus(null, true));
share.addEventListener("click", () => (sharePanel.hidden ? openShare() : closeShare(true)));
shareForm.addEventListener("submit", createShare);
document.getElementById("share-cancel").addEventListener("click", () => closeShare(true));
document.getElementById("share-done").addEventListener("click", () => closeShare(true));
addEventListener("keydown", (e) => {
  if (e.key !== "Escape" || document.fullscreenElement) return;
  // Esc closes the share panel first, then leaves the focused camera.
  if (!sharePanel.hidden) closeShare(true);
  else if (grid.dataset.focus) focus(null, true);
});
addEventListener("popstate", () => focus(new URLSearchParams(location.search).get("camera"), false));
addEventListener("resize", layout);

const waiting = (why) => (summary.textContent = why);
showUser(await signedIn(() => retrying(me, waiting)));
const list = await signedIn(() => listCameras(waiting));
for (const camera of list) names.set(camera.id, camera.name);
grid.replaceChildren(...list.map(tile));
setUpAlerts({
  grid,
  cameras: list,
  focus: (id) => {
    if (grid.dataset.focus !== id) focus(id, true);
  },
  relayout: layout,
  signedOut: toLogin,
});
if (!list.length) summary.textContent = "The relay has no cameras: see README, Configuration.";
else updateSummary();
focus(query.get("camera"), false);
// For scripts (and the end-to-end tests) that drive the page: the tiles exist.
document.documentElement.dataset.app = "ready";
dispatchEvent(new Event("sightline:ready"));
