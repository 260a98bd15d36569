//! The worker's message loop, whatever the decoder: configure it from the
//! stream's record (avcC or hvcC), decode each access unit, post the pictures
//! back (the buffers are transferred, not copied). Each worker binary
//! (OpenH264's here, H.265's in `crates/hevc-worker`) starts it with its own
//! [`PictureDecoder`].

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, ArrayBuffer, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::rgba::i420_to_rgba;

/// A decoder a worker runs.
pub trait PictureDecoder: Sized + 'static {
    /// A decoder for the stream `description` (its avcC/hvcC record) describes.
    fn configure(description: &[u8]) -> Result<Self, String>;
    /// Decodes one length-prefixed access unit stamped `timestamp` and hands
    /// each picture it completes to `emit`: width, height, packed I420, and
    /// its timestamp.
    fn decode(
        &mut self,
        au: &[u8],
        timestamp: f64,
        emit: &mut dyn FnMut(Emitted<'_>),
    ) -> Result<(), String>;
}

/// One picture a [`PictureDecoder`] completed.
pub struct Emitted<'a> {
    pub width: u32,
    pub height: u32,
    pub i420: &'a [u8],
    pub timestamp: f64,
}

struct State<D> {
    decoder: Option<D>,
    /// Post RGBA (for Canvas 2D) instead of I420 (for the player's WebGL).
    rgba: bool,
    /// The RGBA picture, reused: its copy goes to the page, it stays here.
    rgba_buffer: Vec<u8>,
}

/// Runs the worker's message loop with decoder `D`; call it from the worker's
/// start function.
pub fn run<D: PictureDecoder>() -> Result<(), JsValue> {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().dyn_into()?;
    let state = Rc::new(RefCell::new(State::<D> {
        decoder: None,
        rgba: false,
        rgba_buffer: Vec::new(),
    }));
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        if let Err(e) = handle(&mut state.borrow_mut(), &event.data()) {
            post_error(&e.as_string().unwrap_or_else(|| format!("{e:?}")));
        }
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    on_message.forget();
    // Messages sent before this point were lost; the player holds them until now.
    post(&object(&[("type", "ready".into())])?, None)
}

fn get(msg: &JsValue, key: &str) -> Result<JsValue, JsValue> {
    Reflect::get(msg, &key.into())
}

fn handle<D: PictureDecoder>(state: &mut State<D>, msg: &JsValue) -> Result<(), JsValue> {
    let kind = get(msg, "type")?.as_string().unwrap_or_default();
    match kind.as_str() {
        "configure" => {
            let description = Uint8Array::new(&get(msg, "description")?).to_vec();
            state.rgba = get(msg, "format")?.as_string().as_deref() == Some("rgba");
            state.decoder = Some(D::configure(&description).map_err(|e| JsValue::from_str(&e))?);
            Ok(())
        }
        "decode" => {
            let data = Uint8Array::new(&get(msg, "data")?).to_vec();
            let timestamp = get(msg, "timestamp")?.as_f64().unwrap_or(0.0);
            let State {
                decoder,
                rgba,
                rgba_buffer,
            } = state;
            let mut posted = Ok(());
            let decoded = match decoder.as_mut() {
                Some(decoder) => decoder.decode(&data, timestamp, &mut |picture| {
                    if posted.is_ok() {
                        posted = post_frame(*rgba, rgba_buffer, &picture);
                    }
                }),
                None => Err("decode before configure".into()),
            };
            post(&object(&[("type", "decoded".into())])?, None)?;
            decoded.map_err(|e| JsValue::from_str(&e))?;
            posted
        }
        other => Err(JsValue::from_str(&format!("unknown message {other:?}"))),
    }
}

fn post_frame(rgba: bool, rgba_buffer: &mut Vec<u8>, p: &Emitted<'_>) -> Result<(), JsValue> {
    let (format, buffer) = if rgba {
        i420_to_rgba(p.width as usize, p.height as usize, p.i420, rgba_buffer);
        ("rgba", Uint8Array::from(&rgba_buffer[..]).buffer())
    } else {
        ("i420", Uint8Array::from(p.i420).buffer())
    };
    let msg = object(&[
        ("type", "frame".into()),
        ("format", format.into()),
        ("width", p.width.into()),
        ("height", p.height.into()),
        ("pixels", buffer.clone().into()),
        ("timestamp", p.timestamp.into()),
    ])?;
    post(&msg, Some(&buffer))
}

fn post_error(message: &str) {
    if let Ok(msg) = object(&[("type", "error".into()), ("message", message.into())]) {
        let _ = post(&msg, None);
    }
}

/// Posts `msg` to the page, moving `transfer` (not copying it).
pub fn post(msg: &JsValue, transfer: Option<&ArrayBuffer>) -> Result<(), JsValue> {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().dyn_into()?;
    match transfer {
        Some(buffer) => scope.post_message_with_transfer(msg, &Array::of1(buffer)),
        None => scope.post_message(msg),
    }
}

/// A plain object with these fields (a message).
pub fn object(fields: &[(&str, JsValue)]) -> Result<JsValue, JsValue> {
    let o = Object::new();
    for (k, v) in fields {
        Reflect::set(&o, &(*k).into(), v)?;
    }
    Ok(o.into())
}
