//! The binary media frame: a fixed 24-byte header, then one access unit.
//!
//! ```text
//! offset size  field
//!      0    1  version      (MEDIA_VERSION)
//!      1    1  kind         (1 = video access unit, 2 = audio frame)
//!      2    2  channel      u16 little-endian, from `subscribed`
//!      4    1  flags        bit 0 keyframe, bit 1 discontinuity
//!      5    3  reserved     zero
//!      8    8  timestamp    i64 LE, presentation time in microseconds
//!     16    8  received     u64 LE, relay wall clock at receipt, µs since the Unix epoch
//!     24    …  payload      video: 4-byte length-prefixed NAL units;
//!                           audio: one encoded frame as the codec's
//!                           `audio_config` says (raw AAC, G.711 bytes)
//! ```
//! Little-endian because both ends (x86/ARM hosts, wasm32) are, and JS's
//! `DataView` reads it directly.

use crate::WireError;

/// Version byte of the binary frame layout.
pub const MEDIA_VERSION: u8 = 1;
/// Length of the fixed header in bytes.
pub const HEADER_LEN: usize = 24;

/// What the payload of a binary frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    /// One H.264 or H.265 access unit, length-prefixed NAL units.
    Video = 1,
    /// One audio frame (only to sockets that turned the camera's audio on);
    /// its timestamp runs on the audio stream's own clock.
    Audio = 2,
}

/// Per-frame flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameFlags(pub u8);

impl FrameFlags {
    /// The access unit is an IDR picture: decoding can start here.
    pub const KEYFRAME: FrameFlags = FrameFlags(1);
    /// Frames before this one were dropped for this viewer (it fell behind):
    /// the decoder must not assume continuity.
    pub const DISCONTINUITY: FrameFlags = FrameFlags(2);

    pub fn contains(self, other: FrameFlags) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn with(self, other: FrameFlags) -> FrameFlags {
        FrameFlags(self.0 | other.0)
    }
}

/// The fixed header in front of every binary frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaHeader {
    pub kind: FrameKind,
    pub channel: u16,
    pub flags: FrameFlags,
    /// Presentation timestamp in microseconds.
    pub timestamp_us: i64,
    /// When the relay received the frame, µs since the Unix epoch (for latency measurement).
    pub received_us: u64,
}

impl MediaHeader {
    /// Encodes the header.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0] = MEDIA_VERSION;
        out[1] = self.kind as u8;
        out[2..4].copy_from_slice(&self.channel.to_le_bytes());
        out[4] = self.flags.0;
        out[8..16].copy_from_slice(&self.timestamp_us.to_le_bytes());
        out[16..24].copy_from_slice(&self.received_us.to_le_bytes());
        out
    }

    /// Decodes the header at the start of `frame` and returns it with the payload.
    pub fn parse(frame: &[u8]) -> Result<(MediaHeader, &[u8]), WireError> {
        if frame.len() < HEADER_LEN {
            return Err(WireError::TooShort { len: frame.len() });
        }
        if frame[0] != MEDIA_VERSION {
            return Err(WireError::UnsupportedVersion {
                got: frame[0],
                expected: MEDIA_VERSION,
            });
        }
        let kind = match frame[1] {
            1 => FrameKind::Video,
            2 => FrameKind::Audio,
            other => return Err(WireError::UnknownKind(other)),
        };
        let u64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&frame[at..at + 8]);
            u64::from_le_bytes(b)
        };
        let header = MediaHeader {
            kind,
            channel: u16::from_le_bytes([frame[2], frame[3]]),
            flags: FrameFlags(frame[4]),
            timestamp_us: u64_at(8) as i64,
            received_us: u64_at(16),
        };
        Ok((header, &frame[HEADER_LEN..]))
    }

    /// Adds `flags` to an already encoded frame in place (used to mark a
    /// discontinuity on one viewer's copy of a frame).
    pub fn add_flags_in_place(frame: &mut [u8], flags: FrameFlags) -> Result<(), WireError> {
        if frame.len() < HEADER_LEN {
            return Err(WireError::TooShort { len: frame.len() });
        }
        frame[4] |= flags.0;
        Ok(())
    }
}

/// One video access unit as the complete binary message viewers get: the
/// header (stamped with `received_us`) then the payload, in one buffer that
/// the relay shares among all viewers. The relay and the benchmark's floor
/// both build frames with this, so they send the very same bytes.
pub fn video_frame(
    channel: u16,
    keyframe: bool,
    timestamp_us: i64,
    received_us: u64,
    payload: &[u8],
) -> Vec<u8> {
    let flags = if keyframe {
        FrameFlags::KEYFRAME
    } else {
        FrameFlags::default()
    };
    frame(
        FrameKind::Video,
        channel,
        flags,
        timestamp_us,
        received_us,
        payload,
    )
}

/// A header and its payload, in one buffer.
fn frame(
    kind: FrameKind,
    channel: u16,
    flags: FrameFlags,
    timestamp_us: i64,
    received_us: u64,
    payload: &[u8],
) -> Vec<u8> {
    let header = MediaHeader {
        kind,
        channel,
        flags,
        timestamp_us,
        received_us,
    };
    let mut frame = Vec::with_capacity(HEADER_LEN + payload.len());
    frame.extend_from_slice(&header.to_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// One audio frame as the complete binary message audio listeners get
/// (every audio frame decodes on its own: flagged as a keyframe).
pub fn audio_frame(channel: u16, timestamp_us: i64, received_us: u64, payload: &[u8]) -> Vec<u8> {
    let flags = FrameFlags::KEYFRAME;
    frame(
        FrameKind::Audio,
        channel,
        flags,
        timestamp_us,
        received_us,
        payload,
    )
}

/// The clock `received_us` is read from: wall clock in microseconds since the
/// Unix epoch. The relay stamps frames with it and the benchmark's viewers
/// compare against it (same machine, same clock). Not on wasm32, which has no
/// clock of its own here (the player reads `Date.now()`).
#[cfg(not(target_arch = "wasm32"))]
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout_is_as_documented() {
        let h = MediaHeader {
            kind: FrameKind::Video,
            channel: 0x0102,
            flags: FrameFlags::KEYFRAME,
            timestamp_us: 0x1122334455667788,
            received_us: 0x0807060504030201,
        };
        let b = h.to_bytes();
        assert_eq!(
            b,
            [
                1, 1, 0x02, 0x01, 1, 0, 0, 0, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 1, 2,
                3, 4, 5, 6, 7, 8
            ]
        );
    }

    #[test]
    fn rejects_short_wrong_version_and_unknown_kind() {
        assert!(matches!(
            MediaHeader::parse(&[1; 23]),
            Err(WireError::TooShort { len: 23 })
        ));
        let mut b = [0u8; 24];
        b[0] = 9;
        assert!(matches!(
            MediaHeader::parse(&b),
            Err(WireError::UnsupportedVersion { got: 9, .. })
        ));
        b[0] = MEDIA_VERSION;
        b[1] = 7;
        assert!(matches!(
            MediaHeader::parse(&b),
            Err(WireError::UnknownKind(7))
        ));
    }

    #[test]
    fn an_audio_frame_is_its_own_kind_and_a_keyframe() {
        let frame = audio_frame(4, 20_000, 9, b"g711");
        let (h, payload) = MediaHeader::parse(&frame).unwrap();
        assert_eq!(h.kind, FrameKind::Audio);
        assert_eq!((h.channel, h.timestamp_us), (4, 20_000));
        assert!(h.flags.contains(FrameFlags::KEYFRAME));
        assert_eq!(payload, b"g711");
    }

    #[test]
    fn flags_can_be_added_in_place() {
        let h = MediaHeader {
            kind: FrameKind::Video,
            channel: 1,
            flags: FrameFlags::KEYFRAME,
            timestamp_us: 5,
            received_us: 6,
        };
        let mut b = h.to_bytes().to_vec();
        b.extend_from_slice(b"payload");
        MediaHeader::add_flags_in_place(&mut b, FrameFlags::DISCONTINUITY).unwrap();
        let (parsed, payload) = MediaHeader::parse(&b).unwrap();
        assert!(parsed.flags.contains(FrameFlags::KEYFRAME));
        assert!(parsed.flags.contains(FrameFlags::DISCONTINUITY));
        assert_eq!(payload, b"payload");
    }

    #[test]
    fn a_video_frame_is_its_header_then_the_payload() {
        let frame = video_frame(3, true, 7, 9, b"au");
        let (h, payload) = MediaHeader::parse(&frame).unwrap();
        assert_eq!((h.channel, h.timestamp_us, h.received_us), (3, 7, 9));
        assert!(h.flags.contains(FrameFlags::KEYFRAME));
        assert_eq!(payload, b"au");
        let (h, _) = MediaHeader::parse(&video_frame(3, false, 7, 9, b"")).unwrap();
        assert!(!h.flags.contains(FrameFlags::KEYFRAME));
    }

    proptest! {
        #[test]
        fn header_round_trips(channel: u16, flags: u8, ts: i64, rx: u64, payload in proptest::collection::vec(any::<u8>(), 0..256)) {
            let h = MediaHeader { kind: FrameKind::Video, channel, flags: FrameFlags(flags), timestamp_us: ts, received_us: rx };
            let mut frame = h.to_bytes().to_vec();
            frame.extend_from_slice(&payload);
            let (back, rest) = MediaHeader::parse(&frame).unwrap();
            prop_assert_eq!(back, h);
            prop_assert_eq!(rest, &payload[..]);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = MediaHeader::parse(&bytes);
        }
    }
}
