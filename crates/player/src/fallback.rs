//! The fallback decoder: OpenH264 compiled to Wasm, running in a Web Worker
//! (`crates/decoder-worker`). The worker script and its Wasm are fetched when
//! the first fallback decoder is made, so browsers that use WebCodecs never
//! download them.
//!
//! Same live rule as the WebCodecs decoder (`live.rs`), with the access units
//! sent to the worker and not yet decoded as its queue.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Array, ArrayBuffer, Object, Reflect, Uint8Array};
use sightline_wire::{FrameFlags, MediaHeader, StreamConfig};
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, Worker};

use crate::decoder::Fed;
use crate::live::{Admit, LiveGate};

/// The worker's loader, at the site root like trunk's other outputs (trunk
/// builds it from `www/index.html`), so pages at any path find it.
pub const WORKER_URL: &str = "/sightline-decoder-worker_loader.js";

/// How the worker hands pictures over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    /// Packed I420, for the page's WebGL renderer.
    I420,
    /// RGBA (converted in the worker), for Canvas 2D where WebGL is missing.
    Rgba,
}

/// A decoded picture from the worker.
pub struct WorkerFrame {
    pub format: PixelFormat,
    pub width: u32,
    pub height: u32,
    pub pixels: ArrayBuffer,
}

/// Messages posted before the worker has loaded its Wasm would be lost: they
/// wait here until it says `ready` (None from then on).
type Pending = Rc<RefCell<Option<Vec<(JsValue, Option<ArrayBuffer>)>>>>;

pub struct WasmDecoder {
    worker: Worker,
    pending: Pending,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    in_flight: Rc<Cell<u32>>,
    format: PixelFormat,
    config: Option<StreamConfig>,
    gate: LiveGate,
}

impl WasmDecoder {
    /// Starts the worker. `on_frame` gets every picture, `on_error` every error.
    pub fn new(
        format: PixelFormat,
        mut on_frame: impl FnMut(WorkerFrame) + 'static,
        mut on_error: impl FnMut(String) + 'static,
    ) -> Result<WasmDecoder, JsValue> {
        let worker = Worker::new(WORKER_URL)?;
        let in_flight = Rc::new(Cell::new(0u32));
        let pending: Pending = Rc::new(RefCell::new(Some(Vec::new())));
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
            let in_flight = in_flight.clone();
            let pending = pending.clone();
            let worker = worker.clone();
            move |event: MessageEvent| {
                let msg = event.data();
                let get = |k: &str| Reflect::get(&msg, &k.into()).unwrap_or(JsValue::UNDEFINED);
                match get("type").as_string().as_deref() {
                    Some("frame") => {
                        let width = get("width").as_f64().unwrap_or(0.0) as u32;
                        let height = get("height").as_f64().unwrap_or(0.0) as u32;
                        let format = match get("format").as_string().as_deref() {
                            Some("rgba") => PixelFormat::Rgba,
                            _ => PixelFormat::I420,
                        };
                        if let Ok(pixels) = get("pixels").dyn_into::<ArrayBuffer>() {
                            on_frame(WorkerFrame {
                                format,
                                width,
                                height,
                                pixels,
                            });
                        }
                    }
                    Some("decoded") => in_flight.set(in_flight.get().saturating_sub(1)),
                    Some("ready") => {
                        for (msg, transfer) in pending.borrow_mut().take().unwrap_or_default() {
                            let _ = post(&worker, &msg, transfer.as_ref());
                        }
                    }
                    Some("error") => {
                        on_error(get("message").as_string().unwrap_or_default());
                    }
                    _ => {}
                }
            }
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        Ok(WasmDecoder {
            worker,
            pending,
            _on_message: on_message,
            in_flight,
            format,
            config: None,
            gate: LiveGate::default(),
        })
    }

    /// (Re)configures for a stream; decoding resumes at its next keyframe.
    pub fn configure(&mut self, config: &StreamConfig) -> Result<(), JsValue> {
        let msg = Object::new();
        Reflect::set(&msg, &"type".into(), &"configure".into())?;
        Reflect::set(
            &msg,
            &"description".into(),
            &Uint8Array::from(&config.description[..]),
        )?;
        let format = match self.format {
            PixelFormat::I420 => "i420",
            PixelFormat::Rgba => "rgba",
        };
        Reflect::set(&msg, &"format".into(), &format.into())?;
        self.send(msg.into(), None)?;
        self.config = Some(config.clone());
        self.gate.restart();
        Ok(())
    }

    pub fn config(&self) -> Option<&StreamConfig> {
        self.config.as_ref()
    }

    /// Never: OpenH264 recovers from a damaged access unit at the next keyframe,
    /// and a configuration it refuses stays refused until the stream's next
    /// `config` (a new worker would only refuse it again, after a download).
    pub fn is_broken(&self) -> bool {
        false
    }

    pub fn queue_size(&self) -> u32 {
        self.in_flight.get()
    }

    /// Sends one access unit to the worker (a copy of it, transferred).
    pub fn decode(&mut self, header: &MediaHeader, payload: &Uint8Array) -> Result<Fed, JsValue> {
        if self.config.is_none() {
            return Ok(Fed::Skipped);
        }
        let keyframe = header.flags.contains(FrameFlags::KEYFRAME);
        let discontinuity = header.flags.contains(FrameFlags::DISCONTINUITY);
        let queued = self.in_flight.get();
        if self
            .gate
            .admit(keyframe, discontinuity, queued, queued == 0)
            == Admit::Skip
        {
            return Ok(Fed::Skipped);
        }
        // The payload views the socket's message buffer: copy it into its own
        // buffer, which is then moved (not copied again) to the worker.
        let data = Uint8Array::new_with_length(payload.length());
        data.set(payload, 0);
        let buffer = data.buffer();
        let msg = Object::new();
        Reflect::set(&msg, &"type".into(), &"decode".into())?;
        Reflect::set(&msg, &"data".into(), &buffer)?;
        Reflect::set(
            &msg,
            &"timestamp".into(),
            &(header.timestamp_us as f64).into(),
        )?;
        self.send(msg.into(), Some(buffer))?;
        self.in_flight.set(queued + 1);
        Ok(Fed::Decoding)
    }
}

impl WasmDecoder {
    fn send(&self, msg: JsValue, transfer: Option<ArrayBuffer>) -> Result<(), JsValue> {
        match self.pending.borrow_mut().as_mut() {
            Some(queue) => {
                queue.push((msg, transfer));
                Ok(())
            }
            None => post(&self.worker, &msg, transfer.as_ref()),
        }
    }
}

fn post(worker: &Worker, msg: &JsValue, transfer: Option<&ArrayBuffer>) -> Result<(), JsValue> {
    match transfer {
        Some(buffer) => worker.post_message_with_transfer(msg, &Array::of1(buffer)),
        None => worker.post_message(msg),
    }
}

impl Drop for WasmDecoder {
    fn drop(&mut self) {
        self.worker.set_onmessage(None);
        self.worker.terminate();
    }
}
