//! The decoder seam: the [`Decoder`] trait every backend implements (WebCodecs
//! in `decoder.rs`, the OpenH264-Wasm worker in `fallback.rs`), and the
//! element's `decoder` attribute (`auto`, `webcodecs`, `wasm`) that picks one.

use js_sys::Uint8Array;
use sightline_wire::{MediaHeader, StreamConfig};
use wasm_bindgen::JsValue;

use crate::decoder::Fed;

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

/// Which backend a [`Decoder`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    WebCodecs,
    Wasm,
}

impl Kind {
    /// `webcodecs` or `wasm`, as `stats.decoder` reports it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::WebCodecs => "webcodecs",
            Kind::Wasm => "wasm",
        }
    }

    /// The badge on the picture.
    pub fn label(self) -> &'static str {
        match self {
            Kind::WebCodecs => "WebCodecs",
            Kind::Wasm => "OpenH264 · Wasm",
        }
    }
}

/// A live H.264 decoder: fed access units as they arrive, it hands decoded
/// pictures to the callbacks it was made with, and skips to the next keyframe
/// rather than drift (`live.rs`).
pub trait Decoder {
    fn kind(&self) -> Kind;
    /// The badge on the picture.
    fn label(&self) -> &'static str {
        self.kind().label()
    }
    /// (Re)configures for a stream; decoding resumes at its next keyframe.
    fn configure(&mut self, config: &StreamConfig) -> Result<(), JsValue>;
    /// The configuration in use.
    fn config(&self) -> Option<&StreamConfig>;
    /// True once the decoder cannot go on and must be replaced.
    fn is_broken(&self) -> bool;
    /// Feeds one access unit (`payload` may view the socket's buffer);
    /// `burst_arriving`: more of the relay's fast-start burst is to come.
    fn decode(
        &mut self,
        header: &MediaHeader,
        payload: &Uint8Array,
        burst_arriving: bool,
    ) -> Result<Fed, JsValue>;
    /// A fast-start burst is being caught up (`true`) or the live edge was
    /// reached (`false`): a decoder that trades latency for throughput may
    /// switch at its next keyframe.
    fn set_catching_up(&mut self, _catching_up: bool) {}
}
