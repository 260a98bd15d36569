//! This crate's own worker binary: OpenH264 (wasm32) in the message loop.

use sightline_openh264_wasm::Decoder;
use wasm_bindgen::prelude::*;

use crate::worker::{self, Emitted, PictureDecoder};

impl PictureDecoder for Decoder {
    fn configure(description: &[u8]) -> Result<Self, String> {
        Decoder::new(description).map_err(|e| e.to_string())
    }

    fn decode(
        &mut self,
        au: &[u8],
        timestamp: f64,
        emit: &mut dyn FnMut(Emitted<'_>),
    ) -> Result<(), String> {
        // OpenH264 puts out at most one picture per access unit, in display
        // order for the streams cameras send: it carries the unit's timestamp.
        if let Some(p) = Decoder::decode(self, au).map_err(|e| e.to_string())? {
            emit(Emitted {
                width: p.width,
                height: p.height,
                i420: &p.data,
                timestamp,
            });
        }
        Ok(())
    }
}

#[wasm_bindgen(start)]
fn start() -> Result<(), JsValue> {
    worker::run::<Decoder>()
}
