//! The fallback decoder: OpenH264 compiled to Wasm (`crates/decoder-worker`)
//! or, for H.265, rust_h265 (`crates/hevc-worker`), running in a Web Worker.
//! A worker's script and Wasm are fetched when the first fallback decoder for
//! its codec is made (see `assets.rs` for how), so browsers that use
//! WebCodecs never download them, and H.264 pages never download H.265's.
//!
//! Same live rule as the WebCodecs decoder (`live.rs`), with the access units
//! sent to the worker and not yet decoded as its queue.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Array, ArrayBuffer, Object, Reflect, Uint8Array};
use sightline_wire::{FrameFlags, MediaHeader, StreamConfig};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{MessageEvent, Worker};

use crate::assets;
use crate::backend::{Decoder, Kind};
use crate::codec::Codec;
use crate::decoder::Fed;
use crate::live::{Admit, LiveGate};

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
    /// The access unit's timestamp, as sent.
    pub timestamp_us: i64,
}

/// A message for the worker and the buffer it hands over.
type Message = (JsValue, Option<ArrayBuffer>);
type Handler = Closure<dyn FnMut(MessageEvent)>;

/// The worker and what talks to it, shared with the task that starts it.
struct Link {
    /// None until the bootstrap (`assets::worker_bootstrap`) has resolved.
    worker: RefCell<Option<Worker>>,
    /// Messages posted before the worker has loaded its Wasm would be lost:
    /// they wait here until it says `ready` (None from then on).
    pending: RefCell<Option<Vec<Message>>>,
    on_message: RefCell<Option<Handler>>,
    /// Access units sent and not yet decoded.
    in_flight: Cell<u32>,
    /// Pictures the worker has put out.
    pictures: Cell<u64>,
    /// The decoder was dropped: a worker that starts late must not.
    closed: Cell<bool>,
    /// The worker died (a trap in the decoder: out of memory, a bug): the
    /// player makes a new one.
    dead: Cell<bool>,
}

impl Link {
    fn send(&self, msg: JsValue, transfer: Option<ArrayBuffer>) -> Result<(), JsValue> {
        if let Some(queue) = self.pending.borrow_mut().as_mut() {
            queue.push((msg, transfer));
            return Ok(());
        }
        match self.worker.borrow().as_ref() {
            Some(worker) => post(worker, &msg, transfer.as_ref()),
            None => Ok(()),
        }
    }

    /// The worker said `ready`: deliver what waited.
    fn ready(&self) {
        let waiting = self.pending.borrow_mut().take().unwrap_or_default();
        if let Some(worker) = self.worker.borrow().as_ref() {
            for (msg, transfer) in waiting {
                let _ = post(worker, &msg, transfer.as_ref());
            }
        }
    }
}

pub struct WasmDecoder {
    link: Rc<Link>,
    codec: Codec,
    format: PixelFormat,
    config: Option<StreamConfig>,
    gate: LiveGate,
    /// `link.pictures` when decoding last (re)started at a keyframe.
    pictures_at_key: u64,
}

impl WasmDecoder {
    /// Starts the worker for `codec` (asynchronously: the first one on a page
    /// downloads it). `on_frame` gets every picture, `on_error` every error.
    pub fn new(
        codec: Codec,
        format: PixelFormat,
        mut on_frame: impl FnMut(WorkerFrame) + 'static,
        on_error: impl FnMut(String) + 'static,
    ) -> Result<WasmDecoder, JsValue> {
        let on_error = Rc::new(RefCell::new(on_error));
        let link = Rc::new(Link {
            worker: RefCell::new(None),
            pending: RefCell::new(Some(Vec::new())),
            on_message: RefCell::new(None),
            in_flight: Cell::new(0),
            pictures: Cell::new(0),
            closed: Cell::new(false),
            dead: Cell::new(false),
        });
        // A trap in the worker's Wasm ends its script with an uncaught error.
        let on_worker_error = Closure::<dyn FnMut(web_sys::ErrorEvent)>::new({
            let link = Rc::downgrade(&link);
            let on_error = on_error.clone();
            move |event: web_sys::ErrorEvent| {
                event.prevent_default();
                if let Some(link) = link.upgrade() {
                    link.dead.set(true);
                }
                (on_error.borrow_mut())(format!("the Wasm decoder stopped: {}", event.message()));
            }
        });
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
            let link = Rc::downgrade(&link);
            let on_error = on_error.clone();
            move |event: MessageEvent| {
                let Some(link) = link.upgrade() else {
                    return;
                };
                let msg = event.data();
                let get = |k: &str| Reflect::get(&msg, &k.into()).unwrap_or(JsValue::UNDEFINED);
                match get("type").as_string().as_deref() {
                    Some("frame") => {
                        link.pictures.set(link.pictures.get() + 1);
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
                                timestamp_us: get("timestamp").as_f64().unwrap_or(0.0) as i64,
                            });
                        }
                    }
                    Some("decoded") => link.in_flight.set(link.in_flight.get().saturating_sub(1)),
                    Some("ready") => link.ready(),
                    Some("error") => {
                        (on_error.borrow_mut())(get("message").as_string().unwrap_or_default());
                    }
                    _ => {}
                }
            }
        });
        *link.on_message.borrow_mut() = Some(on_message);
        let starting = link.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let started = async {
                let stem = match codec {
                    Codec::H265 => "sightline-hevc-worker",
                    _ => "sightline-decoder-worker",
                };
                let url = JsFuture::from(assets::worker_bootstrap(stem)).await?;
                let url = url.as_string().ok_or("no worker URL")?;
                if starting.closed.get() {
                    return Ok(());
                }
                let worker = Worker::new(&url)?;
                if let Some(handler) = starting.on_message.borrow().as_ref() {
                    worker.set_onmessage(Some(handler.as_ref().unchecked_ref()));
                }
                worker.set_onerror(Some(on_worker_error.as_ref().unchecked_ref()));
                // Lives with the worker (the decoder terminates it when dropped).
                on_worker_error.forget();
                *starting.worker.borrow_mut() = Some(worker);
                Ok::<_, JsValue>(())
            };
            if let Err(e) = started.await {
                let message = e
                    .dyn_ref::<js_sys::Error>()
                    .map(|e| String::from(e.message()))
                    .or_else(|| e.as_string())
                    .unwrap_or_else(|| format!("{e:?}"));
                (on_error.borrow_mut())(format!("cannot start the Wasm decoder: {message}"));
            }
        });
        Ok(WasmDecoder {
            link,
            codec,
            format,
            config: None,
            gate: LiveGate::default(),
            pictures_at_key: 0,
        })
    }

    pub fn queue_size(&self) -> u32 {
        self.link.in_flight.get()
    }

    fn send(&self, msg: JsValue, transfer: Option<ArrayBuffer>) -> Result<(), JsValue> {
        self.link.send(msg, transfer)
    }
}

impl Decoder for WasmDecoder {
    fn kind(&self) -> Kind {
        Kind::Wasm
    }

    fn label(&self) -> &'static str {
        match self.codec {
            Codec::H265 => "H.265 · Wasm",
            _ => "OpenH264 · Wasm",
        }
    }

    /// (Re)configures for a stream; decoding resumes at its next keyframe.
    fn configure(&mut self, config: &StreamConfig) -> Result<(), JsValue> {
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

    fn config(&self) -> Option<&StreamConfig> {
        self.config.as_ref()
    }

    /// Only when the worker died: a damaged access unit is recovered from at
    /// the next keyframe, and a configuration the decoder refuses stays
    /// refused until the stream's next `config` (a new worker would only
    /// refuse it again).
    fn is_broken(&self) -> bool {
        self.link.dead.get()
    }

    /// Sends one access unit to the worker (a copy of it, transferred).
    fn decode(
        &mut self,
        header: &MediaHeader,
        payload: &Uint8Array,
        burst_arriving: bool,
    ) -> Result<Fed, JsValue> {
        if self.config.is_none() {
            return Ok(Fed::Skipped);
        }
        let keyframe = header.flags.contains(FrameFlags::KEYFRAME);
        let discontinuity = header.flags.contains(FrameFlags::DISCONTINUITY);
        let queued = self.link.in_flight.get();
        let started = self.link.pictures.get() > self.pictures_at_key;
        match self.gate.admit(
            keyframe,
            discontinuity,
            queued,
            queued == 0,
            started,
            burst_arriving,
        ) {
            Admit::Skip => return Ok(Fed::Skipped),
            Admit::Decode { restart: true } => self.pictures_at_key = self.link.pictures.get(),
            Admit::Decode { restart: false } => {}
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
        self.link.in_flight.set(queued + 1);
        Ok(Fed::Decoding)
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
        self.link.closed.set(true);
        if let Some(worker) = self.link.worker.borrow_mut().take() {
            worker.set_onmessage(None);
            worker.terminate();
        }
    }
}
