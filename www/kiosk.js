// Kiosk mode, for screens that run unattended for months:
//   /kiosk?cams=a,b,c,d&layout=2x2&rotate=30&fit=cover&decoder=auto
// - cams: camera ids (default: every camera the relay lists);
// - layout: COLSxROWS (default: the smallest near-square grid that holds them);
// - rotate: with more cameras than cells, show the next page every N seconds (default 30);
// - fit: contain (default) or cover; decoder, renderer: as the element's attributes;
// - alerts: `outline` outlines a tile while its camera has an alert (the
//   element's `alerts` attribute); `focus` does that too and brings a camera
//   whose alert starts to the whole screen for `alerts_secs` seconds (default
//   30; a newer alert takes over and starts the time again), then goes back
//   to the page it was showing and to rotation (paused meanwhile). Every
//   player of the wall hears its camera's alerts, on the page shown or not.
// No chrome, no cursor, the screen kept awake (Screen Wake Lock). Each player
// reconnects forever on its own; on top of that a watchdog restarts any tile
// that painted nothing new for 10 s, so a stuck tile heals without a reload.
//
// A kiosk device (made on the admin page) runs on its own token, not on a
// session: its link, `/kiosk?…#device=sld_…`, is opened once on the screen;
// the token is kept in localStorage (`sightline.device`) and the fragment
// taken out of the address bar at once. With it the camera list is asked with
// `Authorization: Bearer`, and each player gets its tickets the same way
// (`getTicket`). A device that is revoked never comes back: when the relay
// refuses its token (401) the wall is blanked and says so, and stops.
//
// Without a device token, the browser's session: a relay with accounts that
// answers 401 (this browser is not signed in) gets a message, not a redirect —
// no one may be there to type — and is asked again every 10 s, so the kiosk
// starts by itself once a session exists.

import { ticketGetter, withToken } from "./api.js";
import { listCameras } from "./cameras.js";

const WATCHDOG_MS = 10_000;
const SIGNED_OUT_RETRY_MS = 10_000;
const DEVICE_KEY = "sightline.device";
const wall = document.getElementById("wall");
const message = document.getElementById("message");
const query = new URLSearchParams(location.search);

/** A link's `#device=…` token, and the fragment gone from the address bar; null without one. */
function takeDeviceToken() {
  const token = new URLSearchParams(location.hash.slice(1)).get("device");
  if (token === null) return null;
  history.replaceState(history.state, "", location.pathname + location.search);
  return token || null;
}

/** The device token: a link's (kept for the next start), else the one kept; null for none. */
function deviceToken() {
  const fromLink = takeDeviceToken();
  try {
    if (fromLink) localStorage.setItem(DEVICE_KEY, fromLink);
    return localStorage.getItem(DEVICE_KEY) ?? fromLink;
  } catch {
    // Storage switched off: the link works until the page is closed.
    return fromLink;
  }
}

// A device link opened on this very page changes only the fragment: keep the
// new token, and start again with it.
addEventListener("hashchange", () => {
  const fresh = takeDeviceToken();
  if (!fresh) return;
  try {
    localStorage.setItem(DEVICE_KEY, fresh);
  } catch {
    return;
  }
  location.reload();
});

const token = deviceToken();
const device = token ? withToken(token) : null;
/** Intervals to clear once the device is refused. */
const timers = [];
let refused = false;

/** The device's token was refused: the wall goes blank and says so, for good. */
function revoked() {
  if (refused) return;
  refused = true;
  timers.forEach(clearInterval);
  wall.replaceChildren();
  message.textContent = "This kiosk was revoked or its link is invalid: ask an admin for a new link";
  document.documentElement.dataset.app = "revoked";
}

/** The camera ids: from `cams`, else from the relay (retried until it answers). */
async function cameraIds() {
  const listed = (query.get("cams") ?? "").split(",").map((c) => c.trim()).filter(Boolean);
  if (listed.length) return listed;
  const waiting = (why) => (message.textContent = `Waiting for the relay: ${why}`);
  for (;;) {
    try {
      const cameras = await listCameras(waiting, device ?? undefined);
      return cameras.map((c) => c.id);
    } catch (e) {
      if (e.status !== 401) throw e;
      if (device) {
        revoked();
        return new Promise(() => {});
      }
      message.textContent = "This kiosk is not signed in. Sign in at /login in this browser: the kiosk then starts by itself.";
      document.documentElement.dataset.app = "signed-out";
      await new Promise((resolve) => setTimeout(resolve, SIGNED_OUT_RETRY_MS));
    }
  }
}

/** `layout=3x2` → {cols: 3, rows: 2}; otherwise the smallest grid for `n`. */
function parseLayout(text, n) {
  const m = /^(\d{1,2})x(\d{1,2})$/.exec(text ?? "");
  if (m && +m[1] > 0 && +m[2] > 0) return { cols: +m[1], rows: +m[2] };
  const cols = Math.ceil(Math.sqrt(Math.max(n, 1)));
  return { cols, rows: Math.ceil(Math.max(n, 1) / cols) };
}

/** Keeps the screen awake; the lock is dropped whenever the tab is hidden. */
async function keepAwake() {
  if (!("wakeLock" in navigator)) {
    console.info("Sightline kiosk: no Screen Wake Lock in this browser");
    return;
  }
  const request = async () => {
    if (document.visibilityState !== "visible") return;
    try {
      await navigator.wakeLock.request("screen");
    } catch (e) {
      console.warn("Sightline kiosk: wake lock refused", e);
    }
  };
  document.addEventListener("visibilitychange", request);
  await request();
}

const ids = await cameraIds();
// The players of one wall share their tickets (one mint, one audit line).
const getTicket = device ? ticketGetter(device, revoked) : null;
message.textContent = "";
const { cols, rows } = parseLayout(query.get("layout"), ids.length);
wall.style.setProperty("--cols", cols);
wall.style.setProperty("--rows", rows);
const alertMode = query.get("alerts");
const players = ids.map((id) => {
  const player = document.createElement("cam-player");
  player.camera = id;
  if (alertMode !== null) player.alerts = true;
  player.fit = query.get("fit") === "cover" ? "cover" : "contain";
  if (query.get("decoder")) player.decoder = query.get("decoder");
  if (query.get("renderer")) player.renderer = query.get("renderer");
  if (getTicket) player.getTicket = getTicket;
  return player;
});
wall.replaceChildren(...players);

// Pages of `cols × rows` cameras; hidden players stop receiving by themselves.
const perPage = cols * rows;
const pages = Math.ceil(players.length / perPage);
let page = 0;
/** The player shown full screen for an alert, or null. */
let focused = null;
let focusTimer = null;
function showPage() {
  if (focused) return;
  wall.style.setProperty("--cols", cols);
  wall.style.setProperty("--rows", rows);
  players.forEach((p, i) => (p.hidden = Math.floor(i / perPage) !== page));
  delete document.documentElement.dataset.alertFocus;
}
showPage();
const rotate = Math.max(5, Number(query.get("rotate")) || 30);
if (pages > 1) {
  timers.push(
    setInterval(() => {
      if (focused) return; // rotation waits while an alert has the screen
      page = (page + 1) % pages;
      showPage();
    }, rotate * 1000),
  );
}

// `alerts=focus`: a camera whose alert starts takes the whole screen for a while.
if (alertMode === "focus") {
  const seconds = Math.max(1, Number(query.get("alerts_secs")) || 30);
  wall.addEventListener("alert", (event) => {
    if (event.detail?.event !== "start" || refused) return;
    const player = players.find((p) => p.camera === event.detail.camera);
    if (!player) return;
    focused = player;
    wall.style.setProperty("--cols", 1);
    wall.style.setProperty("--rows", 1);
    players.forEach((p) => (p.hidden = p !== player));
    document.documentElement.dataset.alertFocus = player.camera;
    clearTimeout(focusTimer);
    focusTimer = setTimeout(() => {
      focused = null;
      showPage();
    }, seconds * 1000);
  });
}

// The watchdog: a shown tile whose painted-frame count has not moved for
// WATCHDOG_MS is restarted, unless the relay says its camera is offline (the
// relay is already retrying that camera; restarting the tile would not help).
const progress = new Map(players.map((p) => [p, { painted: -1, since: performance.now() }]));
let restarts = 0;
timers.push(setInterval(() => {
  const now = performance.now();
  for (const player of players) {
    const seen = progress.get(player);
    const painted = player.getStats()?.framesPainted ?? 0;
    if (player.hidden || painted !== seen.painted || player.state === "offline") {
      progress.set(player, { painted, since: now });
    } else if (now - seen.since >= WATCHDOG_MS) {
      restarts += 1;
      console.warn(`Sightline kiosk: ${player.camera} painted nothing for 10 s; restarting it`);
      player.reconnect();
      progress.set(player, { painted: -1, since: now });
    }
  }
  document.documentElement.dataset.watchdogRestarts = restarts;
}, 1000));

keepAwake();
// A ticket refused while the wall was being built has blanked it already.
if (!refused) {
  document.documentElement.dataset.app = "ready";
  dispatchEvent(new Event("sightline:ready"));
}
