//! What one analysed frame costs, per input resolution:
//! `cargo run --release -p sightline-motion --example cost`.
//!
//! Frames are a textured scene with sensor noise and a walking object, so every
//! stage (shrinking, regions, zones) does real work. Frame generation is not
//! timed. The median frame is reported: a busy machine preempts some frames.

use std::time::{Duration, Instant};

use sightline_motion::{Detector, LumaFrame, MotionConfig, Zone};

fn main() {
    let frames = 300;
    for (w, h) in [(1920usize, 1080usize), (1280, 720), (640, 360), (320, 180)] {
        let config = MotionConfig {
            zones: vec![
                Zone::new("left", vec![[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]),
                Zone::new(
                    "right",
                    vec![[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]],
                ),
            ],
            ..MotionConfig::default()
        };
        let mut detector = Detector::new(config).expect("a valid config");
        let mut seed = 0x1234_5678_9abc_def1u64;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let scene: Vec<u8> = (0..w * h)
            .map(|i| (40 + ((i % w) / 16 * 7 + (i / w) / 16 * 13) % 100) as u8)
            .collect();
        let mut times = Vec::with_capacity(frames);
        let mut events = 0;
        for i in 0..frames {
            let mut frame = scene.clone();
            for p in frame.iter_mut() {
                *p = p.wrapping_add((rand() % 9) as u8).wrapping_sub(4);
            }
            let (ow, oh) = (w / 12, h / 4);
            let x = (i * w / 200) % (w - ow);
            for row in frame.chunks_exact_mut(w).skip(h / 2).take(oh) {
                row[x..x + ow].fill(230);
            }
            let luma = LumaFrame::new(w as u32, h as u32, w, &frame).expect("a whole plane");
            let start = Instant::now();
            let analysis = detector.process(&luma, i as u64 * 200_000);
            times.push(start.elapsed());
            events += usize::from(analysis.event.is_some());
        }
        times.sort_unstable();
        let per_frame: Duration = times[frames / 2];
        println!(
            "{w}x{h}: {:.0} µs per analysed frame (median) ({:.2} % of a core at 5 fps), {events} events",
            per_frame.as_secs_f64() * 1e6,
            per_frame.as_secs_f64() * 5.0 * 100.0,
        );
    }
}
