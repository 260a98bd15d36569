//! The Sightline wire protocol, shared by the relay and the player.
//!
//! One WebSocket carries two kinds of frames:
//! - text frames: JSON control messages tagged by `"type"` ([`control`]);
//! - binary frames: a fixed 24-byte [`media::MediaHeader`] followed by one H.264
//!   access unit as 4-byte length-prefixed NAL units, matching the avcC
//!   `description` sent in the stream's [`control::StreamConfig`].
//!
//! This crate does no I/O; it only encodes and decodes.

pub mod control;
pub mod media;

pub use control::{
    AlertEvent, AlertInfo, AlertSeverity, AudioConfig, CameraInfo, CameraState, Capabilities,
    ClientMessage, ErrorCode, PtzAction, PtzFeatures, PtzPosition, PtzPreset, PtzState,
    ServerMessage, Stream, StreamConfig, Ticket, WhoAmI,
};
pub use media::{audio_frame, video_frame, FrameFlags, FrameKind, MediaHeader, HEADER_LEN};

/// Version of the control protocol, exchanged in `hello`/`welcome`.
/// A relay and a player that disagree stop with [`ErrorCode::ProtocolMismatch`].
pub const PROTOCOL_VERSION: u32 = 1;

/// Everything that can be wrong with a message read off the wire.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("malformed control message: {0}")]
    BadJson(#[from] serde_json::Error),
    #[error("binary frame too short: {len} bytes, the header alone is {HEADER_LEN}")]
    TooShort { len: usize },
    #[error("binary frame version {got} is not supported (this build speaks version {expected})")]
    UnsupportedVersion { got: u8, expected: u8 },
    #[error("unknown binary frame kind {0}")]
    UnknownKind(u8),
}
