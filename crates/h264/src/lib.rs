//! H.264 helpers both the relay and the player need.
//!
//! - [`nal`]: NAL unit framing — Annex B (start codes) and length-prefixed (AVCC) —
//!   and conversion between them.
//! - [`sps`]: what a sequence parameter set says: picture size and the WebCodecs
//!   codec string `avc1.PPCCLL`. Bit-level parsing is delegated to `h264-reader`.
//! - [`clip`]: a recorded Annex B stream cut into access units (replay cameras, benchmarks).
//! - [`avcc`]: building the AVCDecoderConfigurationRecord that WebCodecs takes as
//!   `description`, and [`avcc::StreamParams`] which ties SPS, PPS and record together.
//! - [`hevc`]: the same for H.265 — VPS/SPS/PPS → size, `hvc1.…` codec string
//!   and the hvcC record ([`hevc::HevcParams`]).
//! - [`VideoParams`]: either, for code that carries a stream's parameters
//!   whatever its codec.

pub mod avcc;
pub mod clip;
pub mod hevc;
pub mod nal;
pub mod sps;

pub use avcc::StreamParams;
pub use hevc::HevcParams;
pub use sps::SpsInfo;

/// A video stream's parameters, whichever codec it uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoParams {
    H264(StreamParams),
    H265(HevcParams),
}

impl From<StreamParams> for VideoParams {
    fn from(p: StreamParams) -> VideoParams {
        VideoParams::H264(p)
    }
}

impl From<HevcParams> for VideoParams {
    fn from(p: HevcParams) -> VideoParams {
        VideoParams::H265(p)
    }
}

impl VideoParams {
    /// The RFC 6381 codec string (`avc1.…` or `hvc1.…`).
    pub fn codec_string(&self) -> String {
        match self {
            VideoParams::H264(p) => p.codec_string(),
            VideoParams::H265(p) => p.codec_string(),
        }
    }

    /// The picture size after cropping.
    pub fn size(&self) -> (u32, u32) {
        match self {
            VideoParams::H264(p) => (p.info.width, p.info.height),
            VideoParams::H265(p) => (p.info.width, p.info.height),
        }
    }

    /// The decoder configuration record (avcC or hvcC): WebCodecs' `description`.
    pub fn record(&self) -> &[u8] {
        match self {
            VideoParams::H264(p) => &p.avcc,
            VideoParams::H265(p) => &p.hvcc,
        }
    }

    /// The H.264 parameters, for what only H.264 can do here (the relay's
    /// OpenH264 decoder: motion detection, snapshots).
    pub fn h264(&self) -> Option<&StreamParams> {
        match self {
            VideoParams::H264(p) => Some(p),
            VideoParams::H265(_) => None,
        }
    }

    /// `H.264` or `H.265`, for messages.
    pub fn codec_name(&self) -> &'static str {
        match self {
            VideoParams::H264(_) => "H.264",
            VideoParams::H265(_) => "H.265",
        }
    }
}

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
