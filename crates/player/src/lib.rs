//! The Sightline player: Rust compiled to WebAssembly.
//!
//! - [`audio`]: camera audio: G.711 by table, resampling, the jitter
//!   buffer (pure, host-tested), and the page's one speaker (wasm).
//! - [`alerts`]: the active alerts a connection knows of, keyed by id, and a
//!   tile's outline (pure, host-tested).
//! - [`credentials`]: how a connection identifies itself (no ticket, the
//!   `ticket` attribute, the `getTicket` function) and which elements share a
//!   socket (pure, host-tested).
//! - [`live`]: when a live player skips frames (pure, host-tested).
//! - [`meter`]: fps, bitrate and latency over one-second windows (pure).
//! - [`ptz`]: the PTZ controls' rules: held inputs → one velocity, renewals,
//!   one Stop on release, keys, click to centre (pure, host-tested).
//! - `assets` (wasm): where the player's files are (the relay that served
//!   `cam-player.js`), the default relay, the fallback worker's bootstrap.
//! - [`relay_url`]: the relay attribute → WebSocket URL (pure).
//! - [`state`]: what the player shows: connecting, live, reconnecting, offline (pure).
//! - [`streams`]: main stream or substream, by the `stream` attribute, size
//!   on screen, decoder and what is online (pure, host-tested).
//! - `connection` (wasm): one WebSocket per relay and credentials per page,
//!   shared by every element with those; says `hello` (with a ticket when it
//!   has one).
//! - `backend` (wasm): the `Decoder` trait both decoders implement, and the `decoder` attribute.
//! - `decoder` (wasm): WebCodecs `VideoDecoder`.
//! - `fallback` (wasm): OpenH264 in a Web Worker, for browsers without WebCodecs.
//! - `render` (wasm): draws decoded frames on a `<canvas>`.
//! - `view` (wasm): the element's shadow DOM: canvas, overlay, badge, stats box,
//!   controls, snapshots, the alert outline.
//! - `ptz_controls` (wasm): the PTZ pad, presets and hands on the picture of
//!   `<cam-player ptz>`, fed to [`ptz::Hold`].
//! - `visibility` (wasm): whether an element can be seen (on screen, visible tab).
//! - `gl` (wasm): the page's one WebGL context, YUV → RGB for the fallback's pictures.
//! - `element` (wasm): `CamPlayerCore`, the Rust side of `<cam-player>`; the thin JS
//!   class in `www/cam-player.js` loads this module and hands its lifecycle to it.
//!   Its `pipe` is one stream's subscription and decoder: two while switching
//!   between main stream and substream.

pub mod alerts;
pub mod audio;
pub mod codec;
pub mod credentials;
pub mod join;
pub mod live;
pub mod meter;
pub mod ptz;
pub mod relay_url;
pub mod state;
pub mod streams;

#[cfg(target_arch = "wasm32")]
mod assets;
#[cfg(target_arch = "wasm32")]
pub mod backend;
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
mod ptz_controls;
#[cfg(target_arch = "wasm32")]
pub mod render;
#[cfg(target_arch = "wasm32")]
mod view;
#[cfg(target_arch = "wasm32")]
mod visibility;

#[cfg(target_arch = "wasm32")]
pub use element::CamPlayerCore;

/// The page's monotonic clock (`performance.now()`), in ms.
#[cfg(target_arch = "wasm32")]
fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}
