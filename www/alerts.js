// The app's alerts panel: what happened on the cameras, live and past.
//
// Live: each tile's <cam-player> hears its camera's alerts over the page's one
// socket (seen or not) and fires `alert`, which bubbles to the grid; the app
// has one tile per camera, so each change arrives here once. History: `GET
// api/alerts` (newest first, paged with `next` → `before`), loaded when the
// panel first opens and whenever a filter changes. Both go into one map keyed
// by alert id; an alert only moves forward (ended, snapshot and clip ready,
// acknowledged), so the two sources are merged field by field and whichever
// comes last cannot undo the other.
//
// Each alert is a list item: its snapshot as a thumbnail, label, camera,
// time, message, "active" while it lasts, who acknowledged it (or an
// Acknowledge button: `POST api/alerts/{id}/ack`), "Play clip" (the MP4 in a
// plain <video>: it plays where WebCodecs does not), and "Snooze camera". A
// click on the item shows that camera live, focused.
//
// Ringing: a `start` (not `active`: that is an alert already going when the
// page connected) rings unless its camera is snoozed: the count on the
// Alerts button (alerts since the panel was last open), an optional beep
// (WebAudio, off by default: the Sound box), and a browser notification when
// the user allowed them and the tab is hidden. A snoozed camera (1 hour, or
// until tomorrow; kept in localStorage per browser) does not ring and its
// tile is not outlined (the `alerts` attribute is taken off its player), but
// its alerts are still listed.
//
// Every text here comes from outside (labels and messages from webhooks,
// camera names from the config): it is set with textContent, never as HTML.

import { get, post } from "./api.js";

const SNOOZE_KEY = "sightline.alerts.snooze";
const SOUND_KEY = "sightline.alerts.sound";
const OPEN_KEY = "sightline.alerts.open";
const PAGE = 50;

const KINDS = [
  ["", "All kinds"],
  ["motion", "Motion"],
  ["onvif:", "Camera events"],
  ["webhook:", "Webhooks"],
  ["camera_offline", "Camera offline"],
];

/** Whether `alert` passes the kind filter: exact, or a prefix ending in `:`. */
function kindMatches(filter, kind) {
  if (!filter) return true;
  return filter.endsWith(":") ? kind.startsWith(filter) : kind === filter;
}

/** The later state of one alert from two sightings: alerts only move forward. */
function merge(old, fresh) {
  if (!old) return { ...fresh };
  const merged = { ...old, ...fresh };
  merged.ended_at_ms = fresh.ended_at_ms ?? old.ended_at_ms;
  merged.snapshot = Boolean(old.snapshot || fresh.snapshot);
  merged.clip = Boolean(old.clip || fresh.clip);
  merged.acked_by = fresh.acked_by ?? old.acked_by;
  merged.acked_at_ms = fresh.acked_at_ms ?? old.acked_at_ms;
  delete merged.event;
  return merged;
}

/** "14:03:07", with the date when it is not today. */
function when(ms) {
  const d = new Date(ms);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString();
}

/** "12 s", "3 min 4 s", "2 h 5 min". */
function lasted(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** Local midnight starting tomorrow. */
function tomorrow() {
  const d = new Date();
  d.setHours(24, 0, 0, 0);
  return d.getTime();
}

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

/**
 * Wires the panel. `grid`: the element the tiles' `alert` events bubble to;
 * `cameras`: `[{id, name}]`; `focus(id)`: show that camera live, focused;
 * `relayout()`: the grid's size changed; `signedOut()`: a 401.
 */
export function setUpAlerts({ grid, cameras, focus, relayout, signedOut }) {
  const panel = document.getElementById("alerts-panel");
  const toggle = document.getElementById("alerts-toggle");
  const count = document.getElementById("alerts-count");
  const list = document.getElementById("alerts-list");
  const empty = document.getElementById("alerts-empty");
  const more = document.getElementById("alerts-more");
  const error = document.getElementById("alerts-error");
  const cameraFilter = document.getElementById("alerts-camera");
  const kindFilter = document.getElementById("alerts-kind");
  const sound = document.getElementById("alerts-sound");
  const notify = document.getElementById("alerts-notify");
  const snoozedList = document.getElementById("alerts-snoozed");
  const names = new Map(cameras.map((c) => [c.id, c.name]));
  /** id → alert (merged); id → its list item. */
  const alerts = new Map();
  const items = new Map();
  let unseen = 0;
  let rings = 0;
  let beeps = 0;
  let historyLoaded = false;
  let next = null;
  let loading = null;
  let audio = null;

  for (const camera of cameras) {
    cameraFilter.append(new Option(camera.name, camera.id));
  }
  for (const [value, label] of KINDS) kindFilter.append(new Option(label, value));

  // ---- snooze (per camera, per browser) ----

  function snoozes() {
    try {
      const kept = JSON.parse(localStorage.getItem(SNOOZE_KEY) ?? "{}");
      return kept && typeof kept === "object" ? kept : {};
    } catch {
      return {};
    }
  }

  function saveSnoozes(all) {
    try {
      localStorage.setItem(SNOOZE_KEY, JSON.stringify(all));
    } catch {
      // Storage switched off: the snooze lasts as long as the page.
    }
    snoozeMemory = all;
  }

  let snoozeMemory = snoozes();
  let snoozeTimer = null;

  function snoozedUntil(camera) {
    const until = Number((snoozeMemory ?? {})[camera]);
    return Number.isFinite(until) && until > Date.now() ? until : null;
  }

  function snooze(camera, until) {
    const all = { ...snoozes(), [camera]: until };
    saveSnoozes(all);
    applySnoozes();
  }

  function resume(camera) {
    const all = snoozes();
    delete all[camera];
    saveSnoozes(all);
    applySnoozes();
  }

  /** Outlines off for snoozed cameras, the "Snoozed" lines, and a timer for the next expiry. */
  function applySnoozes() {
    snoozeMemory = snoozes();
    const now = Date.now();
    for (const [camera, until] of Object.entries(snoozeMemory)) {
      if (!(Number(until) > now)) delete snoozeMemory[camera];
    }
    for (const player of grid.querySelectorAll("cam-player")) {
      player.alerts = snoozedUntil(player.camera) === null;
    }
    snoozedList.replaceChildren(
      ...Object.entries(snoozeMemory)
        .filter(([camera]) => names.has(camera))
        .map(([camera, until]) => {
          const li = element("li", "alerts-snoozed-item");
          li.dataset.camera = camera;
          li.append(element("span", "", `${names.get(camera)}: snoozed until ${when(Number(until))}`));
          const button = element("button", "alerts-resume", "Resume");
          button.type = "button";
          button.addEventListener("click", () => resume(camera));
          li.append(button);
          return li;
        }),
    );
    clearTimeout(snoozeTimer);
    const ends = Object.values(snoozeMemory).map(Number).filter((t) => t > now);
    if (ends.length) {
      snoozeTimer = setTimeout(applySnoozes, Math.min(Math.min(...ends) - now + 50, 2 ** 31 - 1));
    }
  }

  // Another tab snoozed or resumed a camera.
  addEventListener("storage", (e) => {
    if (e.key === SNOOZE_KEY) applySnoozes();
  });

  // ---- ringing: count, sound, notification ----

  function beep(severity) {
    try {
      audio ??= new AudioContext();
      if (audio.state === "suspended") audio.resume().catch(() => {});
      const tones = severity === "critical" ? 3 : severity === "warning" ? 2 : 1;
      const t0 = audio.currentTime + 0.01;
      for (let i = 0; i < tones; i++) {
        const at = t0 + i * 0.25;
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.frequency.value = severity === "critical" ? 1175 : 880;
        gain.gain.setValueAtTime(0.0001, at);
        gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.18);
        osc.connect(gain).connect(audio.destination);
        osc.start(at);
        osc.stop(at + 0.2);
      }
      beeps += 1;
      panel.dataset.beeps = beeps;
    } catch (e) {
      console.warn("Sightline: cannot beep", e);
    }
  }

  function notifyOf(alert) {
    if (!("Notification" in window) || Notification.permission !== "granted" || !document.hidden) return;
    try {
      const shown = new Notification(`${names.get(alert.camera) ?? alert.camera}: ${alert.label}`, {
        body: alert.message ?? "",
        tag: `sightline-alert-${alert.id}`,
        icon: alert.snapshot ? `api/alerts/${alert.id}/snapshot.jpg` : undefined,
      });
      shown.addEventListener("click", () => {
        window.focus();
        focus(alert.camera);
        shown.close();
      });
    } catch (e) {
      console.warn("Sightline: cannot show a notification", e);
    }
  }

  function ring(alert) {
    if (snoozedUntil(alert.camera) !== null) return;
    rings += 1;
    panel.dataset.rings = rings;
    if (panel.hidden) {
      unseen += 1;
      showCount();
    }
    if (sound.checked) beep(alert.severity);
    notifyOf(alert);
  }

  function showCount() {
    count.textContent = unseen > 99 ? "99+" : String(unseen);
    count.hidden = unseen === 0;
    toggle.setAttribute("aria-label", unseen ? `Alerts, ${unseen} new` : "Alerts");
  }

  sound.checked = localStorage.getItem(SOUND_KEY) === "1";
  sound.addEventListener("change", () => {
    localStorage.setItem(SOUND_KEY, sound.checked ? "1" : "0");
    // A user's click may start audio: make (or wake) the context now, and
    // say it works with a beep.
    if (sound.checked) beep("info");
  });

  function showNotify() {
    if (!("Notification" in window)) {
      notify.hidden = true;
      return;
    }
    const permission = Notification.permission;
    notify.textContent =
      permission === "granted"
        ? "Notifications on"
        : permission === "denied"
          ? "Notifications blocked"
          : "Allow notifications";
    notify.disabled = permission !== "default";
    notify.title =
      permission === "denied"
        ? "The browser blocks notifications for this site: allow them in its site settings"
        : "A notification for each new alert while this tab is in the background";
  }
  notify.addEventListener("click", async () => {
    try {
      await Notification.requestPermission();
    } finally {
      showNotify();
    }
  });
  showNotify();

  // ---- the list ----

  function matches(alert) {
    return (!cameraFilter.value || alert.camera === cameraFilter.value) && kindMatches(kindFilter.value, alert.kind);
  }

  /** Builds or refreshes the item of `alert` (the clip's <video>, if open, stays). */
  function draw(alert) {
    let li = items.get(alert.id);
    const fresh = !li;
    if (fresh) {
      li = element("li", "alert-item");
      li.dataset.alertId = alert.id;
      const open = element("button", "alert-open");
      open.type = "button";
      open.addEventListener("click", () => focus(alert.camera));
      const thumb = element("span", "alert-thumb alert-nothumb", "No picture");
      const text = element("span", "alert-text");
      open.append(thumb, text);
      const actions = element("div", "alert-actions");
      const clip = element("div", "alert-clip");
      li.append(open, actions, clip);
      items.set(alert.id, li);
      // Newest (largest id) first.
      const after = [...list.children].find((other) => Number(other.dataset.alertId) < alert.id);
      list.insertBefore(li, after ?? null);
    }
    const active = alert.ended_at_ms === undefined || alert.ended_at_ms === null;
    const name = names.get(alert.camera) ?? alert.camera;
    li.dataset.camera = alert.camera;
    li.dataset.kind = alert.kind;
    li.dataset.severity = alert.severity;
    li.dataset.active = String(active);
    li.hidden = !matches(alert);
    const open = li.querySelector(".alert-open");
    open.title = `Watch ${name} live`;

    // The thumbnail: set once, when the snapshot is ready.
    const thumb = open.querySelector(".alert-thumb");
    if (alert.snapshot && thumb.tagName !== "IMG") {
      const img = element("img", "alert-thumb");
      img.alt = `Snapshot: ${alert.label}`;
      img.decoding = "async";
      img.src = `api/alerts/${encodeURIComponent(alert.id)}/snapshot.jpg`;
      thumb.replaceWith(img);
    }

    const text = open.querySelector(".alert-text");
    const parts = [element("strong", "alert-label", alert.label)];
    const line = element("span", "alert-meta");
    line.append(element("span", "alert-camera", name), document.createTextNode(" · "));
    line.append(element("span", "alert-time", when(alert.started_at_ms)));
    parts.push(line);
    const state = active
      ? element("span", "alert-state alert-active", "Active")
      : element("span", "alert-state", `Lasted ${lasted(alert.ended_at_ms - alert.started_at_ms)}`);
    parts.push(state);
    if (alert.message) parts.push(element("span", "alert-message", alert.message));
    if (alert.zones?.length) parts.push(element("span", "alert-zones", `Zones: ${alert.zones.join(", ")}`));
    text.replaceChildren(...parts);

    const actions = li.querySelector(".alert-actions");
    const buttons = [];
    if (alert.acked_by) {
      const at = alert.acked_at_ms ? ` at ${when(alert.acked_at_ms)}` : "";
      buttons.push(element("span", "alert-acked", `Acknowledged by ${alert.acked_by}${at}`));
    } else {
      const ack = element("button", "alert-ack", "Acknowledge");
      ack.type = "button";
      ack.addEventListener("click", () => acknowledge(alert.id, ack));
      buttons.push(ack);
    }
    if (alert.clip) {
      const shown = li.querySelector(".alert-clip video") !== null;
      const play = element("button", "alert-play", shown ? "Hide clip" : "Play clip");
      play.type = "button";
      play.addEventListener("click", () => toggleClip(li, alert.id, play));
      buttons.push(play);
    }
    const snoozeMenu = element("select", "alert-snooze");
    snoozeMenu.setAttribute("aria-label", `Snooze ${name}`);
    snoozeMenu.append(
      new Option("Snooze camera…", ""),
      new Option("For 1 hour", "hour"),
      new Option("Until tomorrow", "tomorrow"),
    );
    snoozeMenu.addEventListener("change", () => {
      const choice = snoozeMenu.value;
      snoozeMenu.value = "";
      if (choice === "hour") snooze(alert.camera, Date.now() + 3600_000);
      else if (choice === "tomorrow") snooze(alert.camera, tomorrow());
    });
    buttons.push(snoozeMenu);
    actions.replaceChildren(...buttons);
  }

  function toggleClip(li, id, button) {
    const box = li.querySelector(".alert-clip");
    if (box.firstChild) {
      box.replaceChildren();
      button.textContent = "Play clip";
      return;
    }
    const video = document.createElement("video");
    video.controls = true;
    video.autoplay = true;
    video.muted = true;
    video.playsInline = true;
    video.preload = "auto";
    video.src = `api/alerts/${encodeURIComponent(id)}/clip.mp4`;
    box.append(video);
    button.textContent = "Hide clip";
  }

  async function acknowledge(id, button) {
    if (button.dataset.busy) return;
    button.dataset.busy = "true";
    error.textContent = "";
    try {
      upsert(await post(`api/alerts/${encodeURIComponent(id)}/ack`, {}));
    } catch (e) {
      if (e.status === 401) return signedOut();
      error.textContent = `Could not acknowledge: ${e.message}`;
    } finally {
      delete button.dataset.busy;
    }
  }

  function showEmpty() {
    empty.hidden = [...items.values()].some((li) => !li.hidden);
  }

  function upsert(alert) {
    if (!alert || typeof alert.id !== "number") return;
    const merged = merge(alerts.get(alert.id), alert);
    alerts.set(alert.id, merged);
    draw(merged);
    showEmpty();
  }

  /** The first page of history for the filters (again), or the next older one. */
  async function loadHistory(older) {
    // One request at a time; a filter changed meanwhile asks again after it.
    while (loading) await loading;
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (cameraFilter.value) query.set("camera", cameraFilter.value);
    if (kindFilter.value) query.set("kind", kindFilter.value);
    if (older && next !== null) query.set("before", String(next));
    loading = (async () => {
      error.textContent = "";
      try {
        const page = await get(`api/alerts?${query}`);
        for (const alert of page.alerts) upsert(alert);
        next = page.next ?? null;
        more.hidden = next === null;
        historyLoaded = true;
        panel.dataset.history = "loaded";
      } catch (e) {
        if (e.status === 401) return signedOut();
        error.textContent = `Could not load the alert history: ${e.message}`;
      } finally {
        loading = null;
        showEmpty();
      }
    })();
    return loading;
  }

  function refilter() {
    for (const [id, li] of items) li.hidden = !matches(alerts.get(id));
    showEmpty();
    next = null;
    loadHistory(false);
  }
  cameraFilter.addEventListener("change", refilter);
  kindFilter.addEventListener("change", refilter);
  more.addEventListener("click", () => loadHistory(true));

  // ---- open and close ----

  function setOpen(open) {
    panel.hidden = !open;
    document.body.classList.toggle("alerts-open", open);
    toggle.setAttribute("aria-expanded", String(open));
    try {
      localStorage.setItem(OPEN_KEY, open ? "1" : "0");
    } catch {
      // Not remembered: fine.
    }
    if (open) {
      unseen = 0;
      showCount();
      if (!historyLoaded) loadHistory(false);
    }
    placePanel();
    relayout();
  }

  /** The panel sits below the header, whose height depends on the window. */
  function placePanel() {
    const header = document.querySelector("header");
    document.documentElement.style.setProperty("--header-height", `${header.offsetHeight}px`);
  }
  addEventListener("resize", placePanel);

  toggle.addEventListener("click", () => setOpen(panel.hidden));
  document.getElementById("alerts-close").addEventListener("click", () => {
    setOpen(false);
    toggle.focus();
  });

  grid.addEventListener("alert", (event) => {
    const alert = event.detail;
    if (!alert || typeof alert.id !== "number") return;
    upsert(alert);
    if (alert.event === "start") ring(alerts.get(alert.id));
  });

  applySnoozes();
  const query = new URLSearchParams(location.search);
  setOpen(query.has("alerts") || localStorage.getItem(OPEN_KEY) === "1");

  return {
    /** Whether the panel is open. */
    get open() {
      return !panel.hidden;
    },
    /** Tiles were (re)made: outline them unless snoozed. */
    applySnoozes,
  };
}
