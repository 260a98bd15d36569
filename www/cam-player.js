// <cam-player>: the custom element, and all a page needs to show a camera:
//
//   <script type="module" src="https://RELAY/cam-player.js"></script>
//   <cam-player camera="front-door" controls></cam-player>
//
// This file loads the player (Rust compiled to WebAssembly) from beside itself,
// so it works on pages of any origin, and hands each element's lifecycle to it
// (CamPlayerCore in crates/player). Everything else — the socket, decoding,
// drawing, state — lives in the Wasm module. The public API is in README.md.

import init, { CamPlayerCore, setAssetBase } from "./sightline-player.js";

const base = new URL("./", import.meta.url).href;
const ready = init({ module_or_path: new URL("sightline-player_bg.wasm", base) }).then(() =>
  setAssetBase(base),
);

/** Attributes mirrored as string properties, and as boolean ones. */
const STRINGS = ["camera", "relay", "decoder", "renderer", "fit"];
const FLAGS = ["controls", "stats"];

export class CamPlayer extends HTMLElement {
  static observedAttributes = [...STRINGS, ...FLAGS];

  #core = null;

  constructor() {
    super();
    // A property set before this class was defined sits on the instance and
    // would hide the accessor: move it through the accessor.
    for (const name of [...STRINGS, ...FLAGS]) {
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

  /** `connecting`, `live`, `reconnecting` or `offline`. */
  get state() {
    return this.#core ? this.#core.state : "connecting";
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
