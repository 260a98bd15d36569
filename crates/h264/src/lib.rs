//! H.264 helpers both the relay and the player need.
//!
//! - [`nal`]: NAL unit framing — Annex B (start codes) and length-prefixed (AVCC) —
//!   and conversion between them.
//! - [`sps`]: what a sequence parameter set says: picture size and the WebCodecs
//!   codec string `avc1.PPCCLL`. Bit-level parsing is delegated to `h264-reader`.
//! - [`clip`]: a recorded Annex B stream cut into access units (replay cameras, benchmarks).
//! - [`avcc`]: building the AVCDecoderConfigurationRecord that WebCodecs takes as
//!   `description`, and [`avcc::StreamParams`] which ties SPS, PPS and record together.

pub mod avcc;
pub mod clip;
pub mod nal;
pub mod sps;

pub use avcc::StreamParams;
pub use sps::SpsInfo;

/// Errors from malformed H.264 input.
#[derive(Debug, thiserror::Error)]
pub enum H264Error {
    #[error("truncated length-prefixed NAL unit: {needed} bytes announced, {available} left")]
    Truncated { needed: usize, available: usize },
    #[error("empty NAL unit")]
    EmptyNal,
    #[error("expected NAL unit type {expected}, got {got}")]
    WrongNalType { expected: u8, got: u8 },
    #[error("invalid SPS: {0}")]
    BadSps(String),
    #[error("invalid avcC record: {0}")]
    BadAvcc(String),
    #[error("parameter set too large for avcC: {0} bytes")]
    TooLarge(usize),
}
