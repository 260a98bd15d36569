// <cam-player>: the custom element, and all a page needs to show a camera:
//
//   <script type="module" src="https://RELAY/cam-player.js"></script>
//   <cam-player camera="front-door" controls></cam-player>
//
// This file loads the player (Rust compiled to WebAssembly) from beside itself,
// so it works on pages of any origin, and hands each element's lifecycle to it
// (CamPlayerCore in crates/player). Everything else — the socket, decoding,
// drawing, state — lives in the Wasm module. The public API is in README.md.
//
// Credentials. On the relay's own pages the session cookie does. Elsewhere
// (embeds, kiosks, share links) the element brings a signed ticket, sent in the
// socket's first message (never in a URL, never logged):
//
//   player.getTicket = async () => (await fetch("/my-backend/cam-ticket")).text();
//   <cam-player camera="front-door" ticket="st1.…"></cam-player>   // or fixed
//
// - `getTicket` (property): a function returning a ticket or a Promise of one,
//   called at every (re)connect: the first, after a drop or a relay restart,
//   after the relay refused a ticket (`unauthenticated`). A ticket only has to
//   be valid when the socket opens. If it throws or rejects, the element fires
//   `error` with `detail = {source: "ticket", message: "getTicket failed: …"}`
//   and retries with the usual backoff. It wins over `ticket`.
// - `ticket` (attribute and property): one fixed ticket, sent at every
//   (re)connect; replace it before it expires, or use `getTicket`.
// - Elements share a socket only with the same credentials: the same `ticket`
//   string, the same `getTicket` function object, or neither. Changing either
//   reconnects the element with the new credentials.
// - A refusal fires `error` with `detail = {source: "relay", code, message}`
//   (`code`: `unauthenticated`, `unknown_camera` or `protocol_mismatch`).
//
// Alerts. While in the document, seen or not, an element hears its camera's
// alerts (motion, camera events, webhooks, the camera going offline) and fires
// `alert` for each change: `detail` is the alert as the relay gives it (`id`,
// `camera`, `kind`, `severity`, `label`, `message`, `started_at_ms`,
// `ended_at_ms`, `zones`, `score`, `area`, `acked_by`, `acked_at_ms`,
// `snapshot`, `clip`) plus `event`: `active` (already going when the socket
// opened: show it, do not ring), `start`, `update`, `end` or `ack`. One id
// comes several times: key by `id`. With the `alerts` attribute the tile is
// outlined (colour by severity) with the label while an alert lasts; the host
// then has `alerting="info|warning|critical"`. `activeAlerts` lists the
// camera's active alerts, most severe first.
//
// PTZ. With the `ptz` attribute, a camera with PTZ shows its controls to a
// user who may steer it (operators and admins with its grant; the host then
// has `ptz-control`): a press-and-hold pad and zoom buttons, drag on the
// picture to pan, click or tap to centre, the wheel to zoom, a speed
// control, presets (go, save, remove), who holds control, and keys while the
// player has focus (arrows, + and −, 1–9 for presets). A held move is renewed
// while held and stopped when let go, on pointer cancel, when focus or the
// tab is lost, and when the element is hidden or removed; the relay stops the
// camera by itself if renewals stop. For a page's own controls (no attribute
// needed): `ptzMove({pan, tilt, zoom})` (−1..1 each; moves until `ptzStop()`),
// `ptzStop()`, `gotoPreset(name)`, `savePreset(name)`, `ptzState`, and the
// `ptzstate` event (`detail`: `camera`, `holder`, `yours`, `lease_ms`,
// `features`, `moving`, `presets`, `position`). A refusal fires `error` with
// `detail.source = "ptz"` (`code`: `forbidden`, `conflict` when another
// operator holds control, `camera_refused` with the camera's own words…).
//
// Streams. A camera with a substream (`substream = …` in the relay's config)
// plays it while the element is small, and its main stream once the element
// is more than 1.25× the substream's width (device pixels, at most 2 per CSS
// pixel), or when it must: `stream="main"` or `stream="sub"` (attribute and
// property) pins one. Decoding in Wasm prefers the substream; a stream that
// is offline, or whose codec this browser cannot play, gives way to the
// other. A switch is seamless: the old stream keeps painting until the new
// one has its first picture. `getStats().stream` says which plays.
//
// Sound. An element starts muted. For a camera with audio (G.711 or AAC) it
// shows a sound button; a click unmutes it. `muted` (property) does the same
// from script, `muted="false"` (attribute) asks for sound from the start. A
// page plays one camera at a time: unmuting one element mutes the one that
// had the sound; each change fires `volumechange`. A muted element receives
// no audio at all. `getStats().audio` says what plays (codec, decoder,
// latency, level).

import init, { CamPlayerCore, setAssetBase } from "./sightline-player.js";

const base = new URL("./", import.meta.url).href;
const ready = init({ module_or_path: new URL("sightline-player_bg.wasm", base) }).then(() =>
  setAssetBase(base),
);

/** Attributes mirrored as string properties, and as boolean ones. */
const STRINGS = ["camera", "relay", "ticket", "decoder", "renderer", "fit", "stream"];
const FLAGS = ["controls", "stats", "alerts", "ptz"];

export class CamPlayer extends HTMLElement {
  static observedAttributes = [...STRINGS, ...FLAGS, "muted"];

  #core = null;
  #getTicket = null;

  constructor() {
    super();
    // A property set before this class was defined sits on the instance and
    // would hide the accessor: move it through the accessor.
    for (const name of [...STRINGS, ...FLAGS, "getTicket", "muted"]) {
      if (Object.prototype.hasOwnProperty.call(this, name)) {
        const value = this[name];
        delete this[name];
        this[name] = value;
      }
    }
  }

  connectedCallback() {
    ready.then(
      () => {
        if (!this.isConnected) return;
        this.#core ??= new CamPlayerCore(this);
        this.#core.connected();
      },
      (e) => console.error("Sightline: the player could not load", e),
    );
  }

  disconnectedCallback() {
    this.#core?.disconnected();
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (oldValue !== newValue) this.#core?.attributeChanged(name);
  }

  /**
   * Called for a fresh ticket at every (re)connect: `() => string | Promise<string>`,
   * or null. Wins over the `ticket` attribute; setting it reconnects.
   */
  get getTicket() {
    return this.#getTicket;
  }

  set getTicket(fn) {
    if (fn !== null && fn !== undefined && typeof fn !== "function") {
      throw new TypeError("getTicket must be a function returning a ticket or a Promise of one");
    }
    fn ??= null;
    if (fn === this.#getTicket) return;
    this.#getTicket = fn;
    this.#core?.credentialsChanged();
  }

  /**
   * True (the default) while the element makes no sound. Setting it false
   * unmutes it and mutes whichever element had the sound (a page plays one
   * camera at a time); outside a click the browser may hold the sound until
   * the page's next click or key. Fires `volumechange`.
   */
  get muted() {
    return this.#core ? this.#core.muted : this.getAttribute("muted") !== "false";
  }

  set muted(value) {
    if (this.#core) this.#core.setMuted(Boolean(value));
    else this.setAttribute("muted", value ? "" : "false");
  }

  /** `connecting`, `live`, `paused`, `unsupported`, `reconnecting` or `offline`. */
  get state() {
    return this.#core ? this.#core.state : "connecting";
  }

  /** The camera's active alerts, most severe first (objects as in the `alert` event, without `event`). */
  get activeAlerts() {
    return this.#core ? this.#core.activeAlerts() : [];
  }

  /** Counters and live figures (see README: `getStats()`). */
  getStats() {
    return this.#core ? this.#core.getStats() : null;
  }

  /** The picture shown now: Promise<Blob> at the stream's resolution (PNG by default). */
  snapshot(type, quality) {
    return this.#core
      ? this.#core.snapshot(type, quality)
      : Promise.reject(new Error("no picture yet"));
  }

  /**
   * Moves the camera at these speeds (−1..1 each; pan right, tilt up, zoom in
   * positive) until `ptzStop()`. False when the element receives nothing now
   * (hidden, out of view, not connected): nothing is kept for later.
   */
  ptzMove(velocity) {
    if (velocity === null || typeof velocity !== "object") {
      throw new TypeError("ptzMove takes {pan, tilt, zoom}, each from -1 to 1");
    }
    const n = (v) => Number(v ?? 0) || 0;
    return this.#core ? this.#core.ptzMove(n(velocity.pan), n(velocity.tilt), n(velocity.zoom)) : false;
  }

  /** Stops what `ptzMove` (or the controls) hold. */
  ptzStop() {
    this.#core?.ptzStop();
  }

  /** Goes to the preset with this name (or token); false if there is none. */
  gotoPreset(name) {
    return this.#core ? this.#core.gotoPreset(String(name)) : false;
  }

  /** Saves the current position as a preset with this name. */
  savePreset(name) {
    return this.#core ? this.#core.savePreset(String(name)) : false;
  }

  /** The camera's PTZ state (as in the `ptzstate` event), or null. */
  get ptzState() {
    return this.#core ? this.#core.ptzState : null;
  }

  /** Resubscribes now; reopens the relay connection if it is down or silent. */
  reconnect() {
    this.#core?.reconnect();
  }
}

for (const name of STRINGS) {
  Object.defineProperty(CamPlayer.prototype, name, {
    get() {
      return this.getAttribute(name);
    },
    set(value) {
      if (value === null || value === undefined) this.removeAttribute(name);
      else this.setAttribute(name, value);
    },
  });
}
for (const name of FLAGS) {
  Object.defineProperty(CamPlayer.prototype, name, {
    get() {
      return this.hasAttribute(name);
    },
    set(value) {
      this.toggleAttribute(name, Boolean(value));
    },
  });
}

if (!customElements.get("cam-player")) customElements.define("cam-player", CamPlayer);
