//! The AAC fallback decoder's Web Worker: `sightline-aac` (symphonia) behind
//! a message loop, built by trunk as a worker of its own. Pages fetch it only
//! to play an AAC camera in a browser without WebCodecs' `AudioDecoder`;
//! decoding off the page's thread keeps the picture smooth.
//!
//! Messages in: `{type: "configure", description, sampleRate, channels}`,
//! then `{type: "decode", data, timestamp}` per frame. Out: `{type: "ready"}`
//! once listening, `{type: "pcm", samples, sampleRate, timestamp}` per frame
//! (`samples`: a transferred `Float32Array`'s buffer, mono), and
//! `{type: "error", message}` (a damaged frame is one error; decoding goes
//! on with the next).

#[cfg(target_arch = "wasm32")]
mod worker {
    use std::cell::RefCell;

    use js_sys::{Float32Array, Reflect, Uint8Array};
    use sightline_aac::AacToPcm;
    // The H.264 worker's message helpers (its loop is for pictures).
    use sightline_decoder_worker::worker::{object, post};
    use wasm_bindgen::prelude::*;
    use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

    thread_local! {
        /// The decoder, or why the configuration was refused (said again
        /// for each frame, instead of "not configured").
        static DECODER: RefCell<Result<AacToPcm, String>> =
            RefCell::new(Err("decode before configure".into()));
    }

    fn get(msg: &JsValue, key: &str) -> Result<JsValue, JsValue> {
        Reflect::get(msg, &key.into())
    }

    fn handle(msg: &JsValue) -> Result<(), JsValue> {
        match get(msg, "type")?.as_string().as_deref() {
            Some("configure") => {
                let description = Uint8Array::new(&get(msg, "description")?).to_vec();
                let rate = get(msg, "sampleRate")?.as_f64().unwrap_or(0.0) as u32;
                let channels = get(msg, "channels")?.as_f64().unwrap_or(1.0) as u16;
                let decoder =
                    AacToPcm::new(&description, rate, channels).map_err(|e| e.to_string());
                let refused = decoder.as_ref().err().cloned();
                DECODER.with(|d| *d.borrow_mut() = decoder);
                refused.map_or(Ok(()), |e| Err(JsValue::from_str(&e)))
            }
            Some("decode") => {
                let data = Uint8Array::new(&get(msg, "data")?).to_vec();
                let timestamp = get(msg, "timestamp")?;
                let mut pcm = Vec::with_capacity(2048);
                let rate = DECODER.with(|d| match d.borrow_mut().as_mut() {
                    Ok(decoder) => decoder
                        .decode(&data, &mut pcm)
                        .map_err(|e| JsValue::from_str(&e.to_string())),
                    Err(why) => Err(JsValue::from_str(why)),
                })?;
                let samples = Float32Array::from(&pcm[..]);
                let out = object(&[
                    ("type", "pcm".into()),
                    ("samples", samples.buffer().into()),
                    ("sampleRate", rate.into()),
                    ("timestamp", timestamp),
                ])?;
                post(&out, Some(&samples.buffer()))
            }
            other => Err(JsValue::from_str(&format!("unknown message {other:?}"))),
        }
    }

    #[wasm_bindgen(start)]
    fn start() -> Result<(), JsValue> {
        let scope: DedicatedWorkerGlobalScope = js_sys::global().dyn_into()?;
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(|event: MessageEvent| {
            if let Err(e) = handle(&event.data()) {
                let message = e.as_string().unwrap_or_else(|| format!("{e:?}"));
                if let Ok(msg) = object(&[("type", "error".into()), ("message", message.into())]) {
                    let _ = post(&msg, None);
                }
            }
        });
        scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // The handler lives as long as the worker.
        on_message.forget();
        post(&object(&[("type", "ready".into())])?, None)
    }
}
