//! The worker's message loop: configure a decoder from the avcC record, decode
//! each access unit, post RGBA frames back (the buffers are transferred, not copied).

use std::cell::RefCell;

use js_sys::{Array, ArrayBuffer, Object, Reflect, Uint8Array};
use sightline_openh264_wasm::Decoder;
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::rgba::i420_to_rgba;

thread_local! {
    static DECODER: RefCell<Option<Decoder>> = const { RefCell::new(None) };
    /// Post RGBA (for Canvas 2D) instead of I420 (for the player's WebGL).
    static RGBA: RefCell<bool> = const { RefCell::new(false) };
    /// The RGBA picture, reused: its copy goes to the page, it stays here.
    static RGBA_BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

#[wasm_bindgen(start)]
fn start() -> Result<(), JsValue> {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().dyn_into()?;
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(|event: MessageEvent| {
        if let Err(e) = handle(&event.data()) {
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

fn handle(msg: &JsValue) -> Result<(), JsValue> {
    let kind = get(msg, "type")?.as_string().unwrap_or_default();
    match kind.as_str() {
        "configure" => {
            let description = Uint8Array::new(&get(msg, "description")?).to_vec();
            let rgba = get(msg, "format")?.as_string().as_deref() == Some("rgba");
            RGBA.with(|r| *r.borrow_mut() = rgba);
            let decoder =
                Decoder::new(&description).map_err(|e| JsValue::from_str(&e.to_string()))?;
            DECODER.with(|d| *d.borrow_mut() = Some(decoder));
            Ok(())
        }
        "decode" => {
            let data = Uint8Array::new(&get(msg, "data")?).to_vec();
            let timestamp = get(msg, "timestamp")?;
            let picture = DECODER.with(|d| match d.borrow_mut().as_mut() {
                Some(decoder) => decoder
                    .decode(&data)
                    .map_err(|e| JsValue::from_str(&e.to_string())),
                None => Err(JsValue::from_str("decode before configure")),
            });
            let result = picture.and_then(|picture| match picture {
                Some(p) => post_frame(p.width, p.height, &p.data, &timestamp),
                None => Ok(()),
            });
            post(&object(&[("type", "decoded".into())])?, None)?;
            result
        }
        other => Err(JsValue::from_str(&format!("unknown message {other:?}"))),
    }
}

fn post_frame(width: u32, height: u32, i420: &[u8], timestamp: &JsValue) -> Result<(), JsValue> {
    let (format, buffer) = if RGBA.with(|r| *r.borrow()) {
        let buffer = RGBA_BUFFER.with(|b| {
            let mut rgba = b.borrow_mut();
            i420_to_rgba(width as usize, height as usize, i420, &mut rgba);
            Uint8Array::from(&rgba[..]).buffer()
        });
        ("rgba", buffer)
    } else {
        ("i420", Uint8Array::from(i420).buffer())
    };
    let msg = object(&[
        ("type", "frame".into()),
        ("format", format.into()),
        ("width", width.into()),
        ("height", height.into()),
        ("pixels", buffer.clone().into()),
        ("timestamp", timestamp.clone()),
    ])?;
    post(&msg, Some(&buffer))
}

fn post_error(message: &str) {
    if let Ok(msg) = object(&[("type", "error".into()), ("message", message.into())]) {
        let _ = post(&msg, None);
    }
}

fn post(msg: &JsValue, transfer: Option<&ArrayBuffer>) -> Result<(), JsValue> {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().dyn_into()?;
    match transfer {
        Some(buffer) => scope.post_message_with_transfer(msg, &Array::of1(buffer)),
        None => scope.post_message(msg),
    }
}

fn object(fields: &[(&str, JsValue)]) -> Result<JsValue, JsValue> {
    let o = Object::new();
    for (k, v) in fields {
        Reflect::set(&o, &(*k).into(), v)?;
    }
    Ok(o.into())
}
