//! Decoding a camera's H.264 on the relay, for motion detection and
//! snapshots: OpenH264 (the `openh264` crate, already linked for the demo
//! camera), on blocking threads only.
//!
//! Frames arrive as the feeds carry them (4-byte length-prefixed NAL units,
//! parameter sets apart); OpenH264 wants Annex B with the SPS and PPS before
//! the first picture, so each frame's prefixes become start codes (same
//! length) and the parameter sets go in whenever they change.

use openh264::decoder::Decoder;
use openh264::formats::YUVSource as _;
use sightline_h264::StreamParams;
use sightline_media::{Picture, I420};

/// A decoder that follows a feed's parameters.
pub struct FrameDecoder {
    decoder: Decoder,
    /// The parameters given to the decoder last.
    params: Option<(Vec<u8>, Vec<u8>)>,
    annex_b: Vec<u8>,
}

/// Why a frame did not decode; the caller skips to the next keyframe.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("OpenH264 cannot start: {0}")]
    Start(String),
    #[error("the frame is not length-prefixed H.264: {0}")]
    Framing(String),
    #[error("OpenH264 refused the frame: {0}")]
    Decode(String),
}

impl FrameDecoder {
    pub fn new() -> Result<FrameDecoder, DecodeError> {
        Ok(FrameDecoder {
            decoder: Decoder::new().map_err(|e| DecodeError::Start(e.to_string()))?,
            params: None,
            annex_b: Vec::new(),
        })
    }

    /// Decodes one access unit; calls `picture` with the picture it yields,
    /// if any (a decoder may hold one back).
    pub fn decode<R>(
        &mut self,
        params: &StreamParams,
        payload: &[u8],
        picture: impl FnOnce(Picture<'_>) -> R,
    ) -> Result<Option<R>, DecodeError> {
        self.annex_b.clear();
        let fresh = self
            .params
            .as_ref()
            .is_none_or(|(sps, pps)| *sps != params.sps || *pps != params.pps);
        if fresh {
            for nal in [&params.sps, &params.pps] {
                self.annex_b.extend_from_slice(&[0, 0, 0, 1]);
                self.annex_b.extend_from_slice(nal);
            }
            self.params = Some((params.sps.clone(), params.pps.clone()));
        }
        let frame = sightline_h264::nal::length_prefixed_to_annex_b(payload)
            .map_err(|e| DecodeError::Framing(e.to_string()))?;
        self.annex_b.extend_from_slice(&frame);
        let decoded = self
            .decoder
            .decode(&self.annex_b)
            .map_err(|e| DecodeError::Decode(e.to_string()))?;
        Ok(decoded.map(|yuv| {
            let (width, height) = yuv.dimensions();
            let (y_stride, u_stride, v_stride) = yuv.strides();
            picture(Picture::I420(I420 {
                width: width as u32,
                height: height as u32,
                y: yuv.y(),
                u: yuv.u(),
                v: yuv.v(),
                y_stride,
                u_stride,
                v_stride,
            }))
        }))
    }
}
