//! The player's H.265 fallback decoder, for browsers whose WebCodecs does not
//! decode H.265 (Firefox, Chromium without hardware HEVC, pages without
//! WebCodecs): [`rust_h265`], a pure-Rust decoder, behind the API the Wasm
//! worker speaks — the hvcC record in, length-prefixed access units in,
//! 8-bit I420 pictures out in display order with their timestamps.
//!
//! Byte-exact with FFmpeg's decoder on the committed x265 fixtures, natively
//! and compiled to wasm32 in headless Chromium (`tests/same_pictures.rs`).
//! Speed on this project's 2-core machine, natively: 720p about 86 and
//! 1080p about 35 pictures a second (FFmpeg, one thread: 57 at 1080p); the
//! Wasm build is slower (`cargo xtask bench decoders`), so big H.265 cameras
//! want a substream on devices that need this decoder.

use rust_h265::{parse_annex_b, parse_hvcc, DecodeLimits, Decoder, Frame, PixelData};
use sightline_h264::hevc::nal_type;

/// Why a stream cannot be decoded here.
#[derive(Debug, thiserror::Error)]
pub enum HevcError {
    #[error("invalid hvcC record: {0}")]
    BadRecord(String),
    #[error("H.265 decoding failed: {0}")]
    Decode(String),
    #[error("this H.265 stream is {0}, which the Wasm decoder does not play (4:2:0 only)")]
    Unsupported(String),
}

/// A decoded picture: packed 8-bit I420 (Y, then U, then V, each plane
/// `width` (or its half, rounded up) samples wide with no padding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
    /// The timestamp of the access unit it came from.
    pub timestamp: i64,
}

/// Timestamps waiting for their picture, at most (more than any camera's
/// reordering depth): one whose picture never comes is dropped, oldest first.
const MAX_PENDING: usize = 16;
/// The largest picture decoded: 4K UHD (a camera's stream; bigger ones would
/// only exhaust a phone's memory). rust_h265's own default is 35 MP.
const MAX_PICTURE_PIXELS: u64 = 4096 * 2304;
const MAX_PICTURE_MEMORY: u64 = 256 << 20;
/// An access unit delimiter NAL unit (type 35): fed after each access unit,
/// it tells the decoder the picture is complete (rust_h265 otherwise finishes
/// a picture only when the next one starts: one frame interval later).
const AUD: [u8; 3] = [35 << 1, 1, 0x50];

pub struct HevcDecoder {
    decoder: Decoder,
    /// Timestamps of the access units fed whose pictures have not come out,
    /// ascending. Pictures come out in display order, which is timestamp
    /// order: each takes the smallest.
    pending: Vec<i64>,
    /// An IRAP picture has been fed: the first one, if a CRA, has its RASL
    /// pictures dropped by the decoder (their references precede the
    /// stream), so their timestamps must not wait for a picture.
    seen_irap: bool,
    dropping_rasl: bool,
}

impl HevcDecoder {
    /// A decoder for the stream `hvcc` (its HEVCDecoderConfigurationRecord)
    /// describes; access units must use 4-byte NAL lengths.
    pub fn new(hvcc: &[u8]) -> Result<HevcDecoder, HevcError> {
        let [vps, sps, pps] = sightline_h264::hevc::parse_hvcc(hvcc)
            .map_err(|e| HevcError::BadRecord(e.to_string()))?;
        let mut decoder = Decoder::with_limits(DecodeLimits {
            max_picture_pixels: MAX_PICTURE_PIXELS,
            max_picture_memory_bytes: MAX_PICTURE_MEMORY,
        })
        .with_display_order();
        let mut headers = Vec::new();
        for set in [vps, sps, pps] {
            headers.extend_from_slice(&[0, 0, 0, 1]);
            headers.extend_from_slice(set);
        }
        for nal in parse_annex_b(&headers) {
            decoder
                .decode_nal(&nal)
                .map_err(|e| HevcError::BadRecord(format!("{e:?}")))?;
        }
        Ok(HevcDecoder {
            decoder,
            pending: Vec::new(),
            seen_irap: false,
            dropping_rasl: false,
        })
    }

    /// Decodes one access unit (4-byte length-prefixed NAL units); the
    /// pictures it completes, oldest first.
    pub fn decode(&mut self, au: &[u8], timestamp: i64) -> Result<Vec<Picture>, HevcError> {
        let nals = parse_hvcc(au, 4);
        let types: Vec<u8> = sightline_h264::nal::length_prefixed_units(au)
            .filter_map(Result::ok)
            .filter_map(nal_type)
            .collect();
        if let Some(&irap) = types.iter().find(|t| (16..=23).contains(*t)) {
            // BLA always, a CRA when it starts the stream: no RASL output.
            self.dropping_rasl = irap <= 18 || (irap == 21 && !self.seen_irap);
            self.seen_irap = true;
        }
        let rasl = types.iter().any(|&t| t == 8 || t == 9);
        let expects_picture = types.iter().any(|&t| t < 32) && !(rasl && self.dropping_rasl);
        if expects_picture {
            if self.pending.len() == MAX_PENDING {
                // The oldest timestamp's picture is not coming.
                self.pending.remove(0);
            }
            let at = self.pending.partition_point(|&t| t <= timestamp);
            self.pending.insert(at, timestamp);
        }
        let mut failed = None;
        for nal in nals {
            if let Err(e) = self.decoder.decode_nal(&nal) {
                failed.get_or_insert(format!("{e:?}"));
            }
        }
        for nal in parse_annex_b(&[&[0, 0, 0, 1][..], &AUD].concat()) {
            let _ = self.decoder.decode_nal(&nal);
        }
        let mut pictures = Vec::new();
        let mut unusable = None;
        while let Some(frame) = self.decoder.next_output() {
            match self.picture(frame) {
                Ok(p) => pictures.push(p),
                Err(e) => unusable = Some(e),
            }
        }
        if let Some(e) = unusable {
            return Err(e);
        }
        match failed {
            // A damaged access unit costs its own picture, not the stream:
            // its timestamp is not waiting for one.
            Some(e) if pictures.is_empty() => {
                if expects_picture {
                    if let Some(at) = self.pending.iter().position(|&t| t == timestamp) {
                        self.pending.remove(at);
                    }
                }
                Err(HevcError::Decode(e))
            }
            _ => Ok(pictures),
        }
    }

    /// Timestamps waiting for their picture (for tests: none once a
    /// stream is flushed, whatever the decoder dropped).
    pub fn waiting(&self) -> usize {
        self.pending.len()
    }

    /// The pictures still held for reordering (end of a stream).
    pub fn flush(&mut self) -> Result<Vec<Picture>, HevcError> {
        let mut pictures = Vec::new();
        if let Some(frame) = self.decoder.flush() {
            pictures.push(self.picture(frame)?);
        }
        while let Some(frame) = self.decoder.next_output() {
            pictures.push(self.picture(frame)?);
        }
        Ok(pictures)
    }

    fn picture(&mut self, frame: Frame) -> Result<Picture, HevcError> {
        if frame.chroma_format_idc != 1 {
            let format = match frame.chroma_format_idc {
                0 => "monochrome",
                2 => "4:2:2",
                _ => "4:4:4",
            };
            return Err(HevcError::Unsupported(format.into()));
        }
        let timestamp = if self.pending.is_empty() {
            0
        } else {
            self.pending.remove(0)
        };
        let (w, h) = (frame.width as usize, frame.height as usize);
        let chroma = w.div_ceil(2) * h.div_ceil(2);
        let mut data = Vec::with_capacity(w * h + 2 * chroma);
        for plane in [&frame.y, &frame.u, &frame.v] {
            match plane {
                PixelData::U8(samples) => data.extend_from_slice(samples),
                // Main 10: the renderers take 8 bits.
                PixelData::U16(samples) => {
                    let shift = u32::from(frame.bit_depth.saturating_sub(8));
                    data.extend(samples.iter().map(|&s| (s >> shift).min(255) as u8));
                }
            }
        }
        if data.len() != w * h + 2 * chroma {
            return Err(HevcError::Decode(format!(
                "a {w}x{h} picture of {} bytes",
                data.len()
            )));
        }
        Ok(Picture {
            width: frame.width,
            height: frame.height,
            data,
            timestamp,
        })
    }
}
