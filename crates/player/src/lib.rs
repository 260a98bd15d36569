//! The Sightline player: Rust compiled to WebAssembly.
//!
//! - [`live`]: when a live player skips frames (pure, host-tested).
//! - [`relay_url`]: the relay attribute → WebSocket URL (pure).
//! - [`state`]: what the player shows: connecting, live, reconnecting, offline (pure).
//! - `connection` (wasm): one WebSocket per relay per page, shared by every element.
//! - `decoder` (wasm): WebCodecs `VideoDecoder`.
//! - `fallback` (wasm): OpenH264 in a Web Worker, for browsers without WebCodecs.
//! - `render` (wasm): draws decoded frames on a `<canvas>`.
//! - `gl` (wasm): the page's one WebGL context, YUV → RGB for the fallback's pictures.
//! - `element` (wasm): `CamPlayerCore`, the Rust side of `<cam-player>`; the thin JS
//!   class in `www/cam-player.js` hands its lifecycle to it.

pub mod live;
pub mod relay_url;
pub mod state;

#[cfg(target_arch = "wasm32")]
mod backend;
#[cfg(target_arch = "wasm32")]
mod connection;
#[cfg(target_arch = "wasm32")]
pub mod decoder;
#[cfg(target_arch = "wasm32")]
mod element;
#[cfg(target_arch = "wasm32")]
pub mod fallback;
#[cfg(target_arch = "wasm32")]
mod gl;
#[cfg(target_arch = "wasm32")]
pub mod render;

#[cfg(target_arch = "wasm32")]
pub use element::CamPlayerCore;

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}
