//! Decoding a camera's video on the relay, for motion detection and
//! snapshots, on blocking threads only: H.264 with OpenH264 (the `openh264`
//! crate, already linked for the demo camera), H.265 with rust_h265 (pure
//! Rust, through `sightline-hevc`, the player's H.265 fallback built
//! natively; one thread, and in Wasm it does 54 pictures a second at 1080p
//! here, `cargo xtask bench decoders`: an H.265 camera's substream is still
//! the cheaper thing to analyse).
//!
//! Frames arrive as the feeds carry them (4-byte length-prefixed NAL units,
//! parameter sets apart); OpenH264 wants Annex B with the SPS and PPS before
//! the first picture, so each frame's prefixes become start codes (same
//! length) and the parameter sets go in whenever they change. The H.265
//! decoder is made from the stream's hvcC, anew when it changes.

use openh264::decoder::Decoder;
use openh264::formats::YUVSource as _;
use sightline_h264::{StreamParams, VideoParams};
use sightline_hevc::HevcDecoder;
use sightline_media::{Picture, I420};

/// A decoder that follows a feed's parameters (and codec).
pub struct FrameDecoder {
    decoder: Decoder,
    /// The parameters given to the decoder last.
    params: Option<(Vec<u8>, Vec<u8>)>,
    annex_b: Vec<u8>,
    /// The H.265 decoder and the hvcC it was made for.
    hevc: Option<(Vec<u8>, HevcDecoder)>,
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
    #[error("the H.265 decoder refused the frame: {0}")]
    Hevc(String),
}

impl FrameDecoder {
    pub fn new() -> Result<FrameDecoder, DecodeError> {
        Ok(FrameDecoder {
            decoder: Decoder::new().map_err(|e| DecodeError::Start(e.to_string()))?,
            params: None,
            annex_b: Vec::new(),
            hevc: None,
        })
    }

    /// Decodes one access unit of either codec; calls `picture` with the
    /// picture it yields, if any (a decoder may hold one back; of several,
    /// the newest).
    pub fn decode<R>(
        &mut self,
        params: &VideoParams,
        payload: &[u8],
        timestamp_us: i64,
        picture: impl FnOnce(Picture<'_>) -> R,
    ) -> Result<Option<R>, DecodeError> {
        match params {
            VideoParams::H264(p) => self.decode_h264(p, payload, picture),
            VideoParams::H265(p) => {
                let stale = self.hevc.as_ref().is_none_or(|(hvcc, _)| *hvcc != p.hvcc);
                if stale {
                    let decoder =
                        HevcDecoder::new(&p.hvcc).map_err(|e| DecodeError::Hevc(e.to_string()))?;
                    self.hevc = Some((p.hvcc.clone(), decoder));
                }
                let Some((_, decoder)) = self.hevc.as_mut() else {
                    return Ok(None);
                };
                let pictures = decoder
                    .decode(payload, timestamp_us)
                    .map_err(|e| DecodeError::Hevc(e.to_string()))?;
                Ok(pictures.last().map(|p| {
                    // Packed 8-bit I420, as sightline-hevc gives it.
                    let (w, h) = (p.width as usize, p.height as usize);
                    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
                    let (y, rest) = p.data.split_at((w * h).min(p.data.len()));
                    let (u, v) = rest.split_at((cw * ch).min(rest.len()));
                    picture(Picture::I420(I420 {
                        width: p.width,
                        height: p.height,
                        y,
                        u,
                        v,
                        y_stride: w,
                        u_stride: cw,
                        v_stride: cw,
                    }))
                }))
            }
        }
    }

    fn decode_h264<R>(
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

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_h264::clip::{access_units, hevc_access_units, ClipFrame};
    use sightline_h264::hevc::{self, HevcParams};
    use sightline_h264::nal::{self, types};

    fn length_prefixed(frame: &ClipFrame, keep: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let mut data = Vec::new();
        for unit in nal::annex_b_units(&frame.annex_b).filter(|u| keep(u)) {
            nal::push_length_prefixed(&mut data, unit);
        }
        data
    }

    /// Decodes `aus` and returns each picture's size and luma spread (a
    /// flat grey picture would say nothing was decoded).
    fn pictures(params: &VideoParams, aus: &[Vec<u8>]) -> Vec<(u32, u32, u8)> {
        let mut decoder = FrameDecoder::new().expect("decoder");
        let mut out = Vec::new();
        for (n, au) in aus.iter().enumerate() {
            let got = decoder
                .decode(params, au, n as i64 * 100_000, |p| {
                    let Picture::I420(p) = p else { return None };
                    assert_eq!(p.u.len(), p.u_stride * (p.height as usize).div_ceil(2));
                    let row = &p.y[..p.width as usize];
                    let spread = row.iter().max().unwrap_or(&0) - row.iter().min().unwrap_or(&0);
                    Some((p.width, p.height, spread))
                })
                .expect("decodes");
            out.extend(got.flatten());
        }
        out
    }

    /// An H.265 camera's frames (x265's fixture, parameter sets kept in
    /// band as cameras send them) decode to its pictures, for motion
    /// detection and snapshots like an H.264 camera's.
    #[test]
    fn h265_frames_decode_like_h264_ones() {
        let stream = include_bytes!("../../../crates/h264/tests/fixtures/main_640x360.h265");
        let find = |t| {
            nal::annex_b_units(stream)
                .find(|u| hevc::nal_type(u) == Some(t))
                .expect("fixture has it")
        };
        let params = HevcParams::new(
            find(hevc::types::VPS),
            find(hevc::types::SPS),
            find(hevc::types::PPS),
        )
        .expect("parses");
        let aus: Vec<Vec<u8>> = hevc_access_units(stream)
            .iter()
            .map(|f| length_prefixed(f, |_| true))
            .collect();
        let got = pictures(&VideoParams::H265(params), &aus);
        assert_eq!(got.len(), 10, "a picture per frame: {got:?}");
        assert!(
            got.iter()
                .all(|&(w, h, spread)| (w, h) == (640, 360) && spread > 50),
            "{got:?}"
        );

        // And H.264 as before (parameter sets given apart, as feeds carry
        // them; Baseline: OpenH264 decodes no B-frames).
        let stream = include_bytes!("../../../crates/h264/tests/fixtures/baseline_320x180.h264");
        let find = |t| {
            nal::annex_b_units(stream)
                .find(|u| nal::nal_type(u) == Some(t))
                .expect("fixture has it")
        };
        let params = StreamParams::new(find(types::SPS), find(types::PPS)).expect("parses");
        let aus: Vec<Vec<u8>> = access_units(stream)
            .iter()
            .map(|f| {
                length_prefixed(f, |u| {
                    !matches!(nal::nal_type(u), Some(types::SPS | types::PPS))
                })
            })
            .collect();
        let got = pictures(&VideoParams::H264(params), &aus);
        assert_eq!(got.len(), 10, "{got:?}");
        assert!(got.iter().all(|&(w, h, _)| (w, h) == (320, 180)));
    }
}
