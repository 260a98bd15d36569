//! OpenH264's H.264 decoder, compiled to wasm32 by `build.rs`, behind a small
//! safe API: [`Decoder`] takes the stream's avcC record and length-prefixed
//! access units (what the relay sends) and returns I420 pictures.
//!
//! - `decoder`: the safe wrapper over OpenH264's C API.
//! - `shim`: the libc functions the C++ code calls (allocation over the Rust
//!   allocator, string helpers, logging that goes nowhere), and OpenH264's thread
//!   library as single-threaded no-ops.
//!
//! On targets other than wasm32 the crate is empty: native code uses the
//! `openh264` crate.

#[cfg(target_arch = "wasm32")]
mod decoder;
#[cfg(target_arch = "wasm32")]
mod shim;

#[cfg(target_arch = "wasm32")]
pub use decoder::{DecodeError, Decoder, Picture};
