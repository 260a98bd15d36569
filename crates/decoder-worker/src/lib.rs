//! The fallback decoder's Web Worker: OpenH264 compiled to wasm32, fetched and
//! started by the player only in browsers without (working) WebCodecs, so the
//! rest never download it. Built by trunk as a worker (`data-type="worker"`).
//!
//! - [`rgba`]: I420 → RGBA with the BT.709 matrix (pure, host-tested).
//! - `worker` (wasm): the message loop, generic over the decoder
//!   (`PictureDecoder`): OpenH264 here (feature `openh264`, on by default: this
//!   crate's worker binary), H.265 in `crates/hevc-worker`. The protocol, both
//!   ways plain objects:
//!   - in  `{type: "configure", description: Uint8Array, format: "i420" | "rgba"}`
//!     (the avcC/hvcC record; I420 for the player's WebGL, RGBA where it has none);
//!     `{type: "decode", data: ArrayBuffer, timestamp}` (length-prefixed access unit, transferred);
//!   - out `{type: "ready"}` once loaded (the player holds messages until then);
//!     `{type: "frame", format, width, height, pixels: ArrayBuffer, timestamp}` (transferred);
//!     `{type: "decoded"}` after each access unit (the player counts its queue with it);
//!     `{type: "error", message}`.

pub mod rgba;

#[cfg(target_arch = "wasm32")]
pub mod worker;

#[cfg(all(target_arch = "wasm32", feature = "openh264"))]
mod h264;
