//! A recorded camera: an H.264 elementary stream in Annex B (what
//! `ffmpeg … -f h264 clip.h264` writes) replayed in a loop at a fixed frame
//! rate, published like any camera. Nothing is encoded, so many cameras of
//! real-size video cost almost nothing: benchmarks and load tests use it, and
//! it shows the relay a clip of a real scene.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sightline_h264::clip::access_units;
use sightline_wire::CameraState;

use super::{pace, publish};
use crate::hub::Feed;

/// Which clip, and how fast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayOptions {
    pub path: PathBuf,
    pub fps: u32,
}

/// Replays the clip into `feed` until `stop`.
pub fn run(feed: &Feed, o: &ReplayOptions, stop: &AtomicBool) -> anyhow::Result<()> {
    let stream = std::fs::read(&o.path)
        .with_context(|| format!("cannot read the clip {}", o.path.display()))?;
    let frames = access_units(&stream);
    anyhow::ensure!(
        frames.first().is_some_and(|f| f.keyframe),
        "{}: no IDR picture in the clip (is it H.264 in Annex B?)",
        o.path.display()
    );
    let period = Duration::from_secs(1) / o.fps.max(1);
    let started = Instant::now();
    let mut n: u64 = 0;
    for frame in frames.iter().cycle() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        publish(
            feed,
            &frame.annex_b,
            frame.keyframe,
            n * 1_000_000 / o.fps.max(1) as u64,
            None,
        )?;
        if n == 0 {
            feed.set_status(CameraState::Online);
            tracing::info!(camera = %feed.id, "replaying {} ({} frames) at {} fps", o.path.display(), frames.len(), o.fps);
        }
        n += 1;
        pace(started, period, n);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &[u8] =
        include_bytes!("../../../../crates/h264/tests/fixtures/high_640x360.h264");

    #[test]
    fn a_clip_is_replayed_into_the_hub() {
        let path =
            std::env::temp_dir().join(format!("sightline-replay-{}.h264", std::process::id()));
        std::fs::write(&path, FIXTURE).unwrap();
        let hub = crate::hub::Hub::default();
        let feed = hub.add_camera("clip", "Clip").unwrap();
        let mut sub = feed.subscribe();
        let camera = super::super::DemoCamera::replay(
            feed.clone(),
            ReplayOptions {
                path: path.clone(),
                fps: 100,
            },
        )
        .unwrap();
        // Two loops: the wrap starts again at the first IDR.
        let mut frames = Vec::new();
        while frames.len() < 20 {
            frames.push(sub.live.blocking_recv().unwrap());
        }
        drop(camera);
        let _ = std::fs::remove_file(&path);
        let keys: Vec<usize> = (0..20).filter(|&i| frames[i].keyframe).collect();
        assert_eq!(keys, [0, 5, 10, 15]);
        let timestamps: Vec<i64> = frames
            .iter()
            .map(|f| {
                sightline_wire::MediaHeader::parse(&f.data)
                    .unwrap()
                    .0
                    .timestamp_us
            })
            .collect();
        assert!(
            timestamps.windows(2).all(|w| w[1] > w[0]),
            "timestamps go on across the wrap: {timestamps:?}"
        );
        let params = feed.params().unwrap();
        assert_eq!(
            (params.wire.coded_width, params.wire.coded_height),
            (640, 360)
        );
        assert_eq!(feed.status(), CameraState::Online);
    }

    #[test]
    fn a_file_that_is_not_h264_is_refused_with_a_reason() {
        let path =
            std::env::temp_dir().join(format!("sightline-replay-bad-{}.h264", std::process::id()));
        std::fs::write(&path, b"not video at all").unwrap();
        let hub = crate::hub::Hub::default();
        let feed = hub.add_camera("clip", "Clip").unwrap();
        let err = run(
            &feed,
            &ReplayOptions {
                path: path.clone(),
                fps: 30,
            },
            &AtomicBool::new(false),
        )
        .unwrap_err();
        let _ = std::fs::remove_file(&path);
        assert!(err.to_string().contains("no IDR"), "{err}");
    }
}
