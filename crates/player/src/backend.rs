//! Which decoder a player uses: WebCodecs or the OpenH264-Wasm fallback, chosen
//! by the element's `decoder` attribute (`auto`, `webcodecs`, `wasm`).

use js_sys::Uint8Array;
use sightline_wire::{MediaHeader, StreamConfig};
use wasm_bindgen::JsValue;

use crate::decoder::{Fed, WebCodecsDecoder};
use crate::fallback::WasmDecoder;

/// What the `decoder` attribute asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preference {
    /// WebCodecs where the browser has it and it works; otherwise Wasm.
    Auto,
    WebCodecs,
    Wasm,
}

impl Preference {
    pub fn parse(attribute: Option<&str>) -> Preference {
        match attribute.map(str::trim) {
            Some("webcodecs") => Preference::WebCodecs,
            Some("wasm") => Preference::Wasm,
            _ => Preference::Auto,
        }
    }
}

/// A live decoder of either kind.
pub enum Backend {
    WebCodecs(WebCodecsDecoder),
    Wasm(WasmDecoder),
}

impl Backend {
    /// `webcodecs` or `wasm`, as `stats.decoder` reports it.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::WebCodecs(_) => "webcodecs",
            Backend::Wasm(_) => "wasm",
        }
    }

    /// The badge on the picture.
    pub fn label(&self) -> &'static str {
        match self {
            Backend::WebCodecs(_) => "WebCodecs",
            Backend::Wasm(_) => "OpenH264 · Wasm",
        }
    }

    pub fn configure(&mut self, config: &StreamConfig) -> Result<(), JsValue> {
        match self {
            Backend::WebCodecs(d) => d.configure(config),
            Backend::Wasm(d) => d.configure(config),
        }
    }

    pub fn config(&self) -> Option<&StreamConfig> {
        match self {
            Backend::WebCodecs(d) => d.config(),
            Backend::Wasm(d) => d.config(),
        }
    }

    pub fn is_broken(&self) -> bool {
        match self {
            Backend::WebCodecs(d) => d.is_broken(),
            Backend::Wasm(d) => d.is_broken(),
        }
    }

    pub fn decode(&mut self, header: &MediaHeader, payload: &Uint8Array) -> Result<Fed, JsValue> {
        match self {
            Backend::WebCodecs(d) => d.decode(header, payload),
            Backend::Wasm(d) => d.decode(header, payload),
        }
    }
}
