//! The H.265 fallback decoder's Web Worker: `sightline-hevc` (rust_h265,
//! pure Rust) in the message loop of `crates/decoder-worker`, built by trunk
//! as a worker of its own (`data-type="worker"`). A separate download from
//! the H.264 fallback: pages fetch it only for an H.265 camera their
//! WebCodecs cannot decode.

#[cfg(target_arch = "wasm32")]
mod worker {
    use sightline_decoder_worker::worker::{self, Emitted, PictureDecoder};
    use sightline_hevc::HevcDecoder;
    use wasm_bindgen::prelude::*;

    struct Hevc(HevcDecoder);

    impl PictureDecoder for Hevc {
        fn configure(description: &[u8]) -> Result<Self, String> {
            HevcDecoder::new(description)
                .map(Hevc)
                .map_err(|e| e.to_string())
        }

        fn decode(
            &mut self,
            au: &[u8],
            timestamp: f64,
            emit: &mut dyn FnMut(Emitted<'_>),
        ) -> Result<(), String> {
            // Timestamps are whole microseconds (the wire's i64).
            let pictures = self
                .0
                .decode(au, timestamp as i64)
                .map_err(|e| e.to_string())?;
            for p in &pictures {
                emit(Emitted {
                    width: p.width,
                    height: p.height,
                    i420: &p.data,
                    timestamp: p.timestamp as f64,
                });
            }
            Ok(())
        }
    }

    #[wasm_bindgen(start)]
    fn start() -> Result<(), JsValue> {
        worker::run::<Hevc>()
    }
}
