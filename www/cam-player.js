// <cam-player>: the thin JS class that registers the custom element and hands its
// lifecycle to Rust (CamPlayerCore in crates/player). Everything else — the socket,
// decoding, drawing, state — lives in the Wasm module.

const bindings = new Promise((resolve) => {
  if (window.wasmBindings) {
    resolve(window.wasmBindings);
  } else {
    addEventListener("TrunkApplicationStarted", () => resolve(window.wasmBindings), { once: true });
  }
});

class CamPlayer extends HTMLElement {
  static observedAttributes = ["camera", "relay", "decoder"];

  #core = null;

  connectedCallback() {
    bindings.then((wasm) => {
      if (!this.isConnected) return;
      this.#core ??= new wasm.CamPlayerCore(this);
      this.#core.connected();
    });
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

  /** Counters: frames received/painted/skipped, decode errors, size, decoder, codec, time to first frame. */
  get stats() {
    return this.#core ? this.#core.stats() : null;
  }
}

customElements.define("cam-player", CamPlayer);
