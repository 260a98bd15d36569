//! Benchmark tools for `cargo xtask bench`, each a binary of its own so that the
//! load runs in another process than what it measures:
//!
//! - `sightline-load` (`bin/load.rs`): N viewers of one camera, over the
//!   relay's WebSocket or the floor's plain TCP; prints what they received, how
//!   late (relay receive time in the frame header → viewer receive time) and
//!   what they missed, as one JSON line.
//! - `sightline-floor` (`bin/floor.rs`): the floor to compare the relay with, a
//!   minimal tokio program that writes the same frames to N plain TCP sockets.
//!
//! This module: the frames both serve ([`clip_frames`]), the viewer's
//! bookkeeping ([`Tally`]) and the clock.

use std::path::Path;

use anyhow::Context as _;
use bytes::Bytes;
use sightline_h264::clip::access_units;
use sightline_h264::nal::{self, types};
use sightline_wire::{video_frame, FrameFlags, MediaHeader};

/// The relay's clock, which stamps the frames' receive time.
pub use sightline_wire::media::now_us;

/// The floor's per-camera ring: as many frames as the relay's
/// (`sightline_relay::hub::VIEWER_QUEUE_FRAMES`; a test keeps them equal), so
/// both hold a slow viewer to the same bound.
pub const RING_FRAMES: usize = 64;

/// One access unit of a clip as the relay sends it, minus the header: the
/// length-prefixed NAL units without parameter sets.
pub struct ClipFrame {
    pub payload: Bytes,
    pub keyframe: bool,
}

/// The clip's access units in the relay's payload form.
pub fn clip_frames(path: &Path) -> anyhow::Result<Vec<ClipFrame>> {
    let stream =
        std::fs::read(path).with_context(|| format!("cannot read the clip {}", path.display()))?;
    let frames: Vec<ClipFrame> = access_units(&stream)
        .into_iter()
        .map(|au| {
            let mut payload = Vec::with_capacity(au.annex_b.len());
            for unit in nal::annex_b_units(&au.annex_b) {
                if !matches!(
                    nal::nal_type(unit),
                    Some(types::SPS | types::PPS | types::AUD)
                ) {
                    nal::push_length_prefixed(&mut payload, unit);
                }
            }
            ClipFrame {
                payload: payload.into(),
                keyframe: au.keyframe,
            }
        })
        .collect();
    anyhow::ensure!(!frames.is_empty(), "{}: no pictures", path.display());
    Ok(frames)
}

/// A complete binary frame, header first, stamped now: built by the wire
/// crate's code, as the relay's are, so the floor sends exactly what the relay does.
pub fn stamp(frame: &ClipFrame, timestamp_us: i64) -> Bytes {
    Bytes::from(video_frame(
        0,
        frame.keyframe,
        timestamp_us,
        now_us(),
        &frame.payload,
    ))
}

/// What one viewer saw during the measuring window.
pub struct Tally {
    /// Latency (relay receive → here), µs.
    pub latency: hdrhistogram::Histogram<u64>,
    pub frames: u64,
    pub bytes: u64,
    /// Frames that never arrived (gaps in the timestamps).
    pub missed: u64,
    /// Frames flagged as following a gap (the relay made the viewer skip).
    pub discontinuities: u64,
    last_timestamp: Option<i64>,
    period_us: i64,
}

impl Tally {
    pub fn new(fps: u32) -> Tally {
        Tally {
            // 1 µs to 60 s, 3 significant digits.
            latency: hdrhistogram::Histogram::new_with_bounds(1, 60_000_000, 3)
                .expect("valid histogram bounds"),
            frames: 0,
            bytes: 0,
            missed: 0,
            discontinuities: 0,
            last_timestamp: None,
            period_us: 1_000_000 / i64::from(fps.max(1)),
        }
    }

    /// One frame received at `now_us`; `count` false during the warm-up (the
    /// timestamps are followed all the same, so the first counted frame is no gap).
    pub fn frame(&mut self, header: &MediaHeader, len: usize, now_us: u64, count: bool) {
        if count {
            self.frames += 1;
            self.bytes += len as u64;
            let _ = self
                .latency
                .record(now_us.saturating_sub(header.received_us).max(1));
            if header.flags.contains(FrameFlags::DISCONTINUITY) {
                self.discontinuities += 1;
            }
            if let Some(last) = self.last_timestamp {
                let step = header.timestamp_us - last;
                // Half a period of slack for rounding in the timestamps.
                let missing = (step + self.period_us / 2) / self.period_us - 1;
                self.missed += missing.max(0) as u64;
            }
        }
        self.last_timestamp = Some(header.timestamp_us);
    }

    pub fn merge(&mut self, other: &Tally) {
        let _ = self.latency.add(&other.latency);
        self.frames += other.frames;
        self.bytes += other.bytes;
        self.missed += other.missed;
        self.discontinuities += other.discontinuities;
    }
}

/// Lets this process hold as many sockets as the system allows (a default soft
/// limit of 1024 is too few for 1000 viewers).
pub fn raise_file_limit() {
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("cannot raise the open-file limit: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_wire::FrameKind;

    fn header(ts: i64, flags: FrameFlags) -> MediaHeader {
        MediaHeader {
            kind: FrameKind::Video,
            channel: 0,
            flags,
            timestamp_us: ts,
            received_us: 1_000,
        }
    }

    #[test]
    fn the_floor_rings_like_the_relay() {
        assert_eq!(RING_FRAMES, sightline_relay::hub::VIEWER_QUEUE_FRAMES);
    }

    #[test]
    fn gaps_and_latency_are_counted_only_while_measuring() {
        let mut t = Tally::new(30);
        let p = 33_333;
        t.frame(&header(0, FrameFlags::default()), 10, 2_000, false);
        t.frame(&header(p, FrameFlags::default()), 10, 3_000, true);
        // Two frames missing, then a keyframe after the relay's skip.
        t.frame(&header(4 * p, FrameFlags::DISCONTINUITY), 10, 4_000, true);
        assert_eq!(
            (t.frames, t.bytes, t.missed, t.discontinuities),
            (2, 20, 2, 1)
        );
        assert_eq!(t.latency.len(), 2);
        assert!((1_990..=2_010).contains(&t.latency.value_at_quantile(0.5)));
    }

    #[test]
    fn the_fixture_becomes_relay_payloads() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../h264/tests/fixtures/high_640x360.h264");
        let frames = clip_frames(&path).unwrap();
        assert_eq!(frames.len(), 10);
        assert!(frames[0].keyframe);
        let units: Vec<_> = nal::length_prefixed_units(&frames[0].payload)
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(units
            .iter()
            .all(|u| !matches!(nal::nal_type(u), Some(types::SPS | types::PPS))));
        let data = stamp(&frames[0], 7);
        let (h, body) = MediaHeader::parse(&data).unwrap();
        assert_eq!((h.timestamp_us, body.len()), (7, frames[0].payload.len()));
    }
}
