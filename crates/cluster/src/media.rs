//! A camera's media on NATS (pure, host-tested): what one message on a
//! camera's video subject carries.
//!
//! - A frame: the payload is the relay's binary WebSocket message as is
//!   (media header + access unit), so the owner publishes the very `Bytes`
//!   its viewers get, without a copy; the sequence number rides in a header.
//! - The decoder parameters (SPS/PPS, and VPS for H.265) before the first
//!   frame and whenever they change: on the same subject as the frames,
//!   because NATS keeps one publisher's order on one subject, not across
//!   subjects — a follower never decodes a frame with stale parameters.
//! - The end of a GOP answer (fast start across nodes: the owner sends its
//!   cached GOP to the asker's inbox, then this).

use async_nats::HeaderMap;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Header: the message's kind.
pub const KIND: &str = "Sl-Kind";
/// Header: the frame's sequence number (per camera stream and epoch).
pub const SEQ: &str = "Sl-Seq";
/// Header: the publisher's run of numbers (new at each start of publishing).
pub const EPOCH: &str = "Sl-Epoch";

/// The parameter sets a stream decodes with, as NAL units (headers included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamSets {
    /// `h264` or `h265`.
    pub codec: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vps: Option<Vec<u8>>,
    pub sps: Vec<u8>,
    pub pps: Vec<u8>,
}

/// One message of a camera's media.
#[derive(Debug, Clone, PartialEq)]
pub enum Media {
    Params(ParamSets),
    /// `data`: the WebSocket message (header + payload).
    Frame {
        epoch: u64,
        seq: u64,
        data: Bytes,
    },
    /// The GOP answer is complete.
    End,
}

/// Why a message is not media.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MediaError {
    #[error("no {KIND} header")]
    NoKind,
    #[error("unknown kind {0:?}")]
    UnknownKind(String),
    #[error("a frame without valid {EPOCH} and {SEQ} headers")]
    NoSeq,
    #[error("parameters that do not parse: {0}")]
    BadParams(String),
}

impl Media {
    /// The headers and payload to publish.
    pub fn to_message(&self) -> (HeaderMap, Bytes) {
        let mut headers = HeaderMap::new();
        let payload = match self {
            Media::Params(p) => {
                headers.insert(KIND, "params");
                // Serializing plain data cannot fail.
                Bytes::from(serde_json::to_vec(p).unwrap_or_default())
            }
            Media::Frame { epoch, seq, data } => {
                headers.insert(KIND, "frame");
                headers.insert(EPOCH, async_nats::HeaderValue::from(*epoch));
                headers.insert(SEQ, async_nats::HeaderValue::from(*seq));
                data.clone()
            }
            Media::End => {
                headers.insert(KIND, "end");
                Bytes::new()
            }
        };
        (headers, payload)
    }

    /// Reads a received message.
    pub fn from_message(headers: Option<&HeaderMap>, payload: Bytes) -> Result<Media, MediaError> {
        let headers = headers.ok_or(MediaError::NoKind)?;
        let kind = headers.get(KIND).ok_or(MediaError::NoKind)?.as_str();
        match kind {
            "frame" => {
                let number = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.as_str().parse::<u64>().ok())
                        .ok_or(MediaError::NoSeq)
                };
                Ok(Media::Frame {
                    epoch: number(EPOCH)?,
                    seq: number(SEQ)?,
                    data: payload,
                })
            }
            "params" => serde_json::from_slice(&payload)
                .map(Media::Params)
                .map_err(|e| MediaError::BadParams(e.to_string())),
            "end" => Ok(Media::End),
            other => Err(MediaError::UnknownKind(other.chars().take(32).collect())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(m: Media) -> Media {
        let (headers, payload) = m.to_message();
        Media::from_message(Some(&headers), payload).expect("reads back")
    }

    #[test]
    fn every_kind_reads_back() {
        let frame = Media::Frame {
            epoch: 7,
            seq: 42,
            data: Bytes::from_static(b"\x01\x00header+payload"),
        };
        assert_eq!(round_trip(frame.clone()), frame);
        let params = Media::Params(ParamSets {
            codec: "h265".into(),
            vps: Some(vec![0x40, 1]),
            sps: vec![0x42, 1],
            pps: vec![0x44, 1],
        });
        assert_eq!(round_trip(params.clone()), params);
        assert_eq!(round_trip(Media::End), Media::End);
    }

    #[test]
    fn a_frame_publishes_the_same_bytes() {
        let data = Bytes::from(vec![7u8; 1000]);
        let (_, payload) = Media::Frame {
            epoch: 1,
            seq: 1,
            data: data.clone(),
        }
        .to_message();
        assert_eq!(payload.as_ptr(), data.as_ptr());
    }

    #[test]
    fn what_is_not_media_is_named() {
        assert_eq!(
            Media::from_message(None, Bytes::new()),
            Err(MediaError::NoKind)
        );
        let mut h = HeaderMap::new();
        h.insert(KIND, "frame");
        assert_eq!(
            Media::from_message(Some(&h), Bytes::new()),
            Err(MediaError::NoSeq)
        );
        h.insert(EPOCH, "1");
        h.insert(SEQ, "x");
        assert_eq!(
            Media::from_message(Some(&h), Bytes::new()),
            Err(MediaError::NoSeq)
        );
        let mut h = HeaderMap::new();
        h.insert(KIND, "params");
        assert!(matches!(
            Media::from_message(Some(&h), Bytes::from_static(b"{")),
            Err(MediaError::BadParams(_))
        ));
        h.insert(KIND, "video");
        assert_eq!(
            Media::from_message(Some(&h), Bytes::new()),
            Err(MediaError::UnknownKind("video".into()))
        );
    }
}
