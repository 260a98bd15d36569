//! The detector on synthetic frame sequences: what must alert, what must not.
//!
//! Scenes are generated here, deterministically: a background of 16×16 blocks
//! of random grey (so that a camera pan changes most of the picture), objects
//! drawn as rectangles, noise from a tiny PRNG. Frames come every 200 ms (the
//! default 5 fps), so 5 frames are a second.

use proptest::prelude::*;

use crate::*;

const FRAME_US: u64 = 200_000;
const W: usize = 640;
const H: usize = 360;

/// xorshift64*: deterministic noise without a dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `-amp..=amp`.
    fn within(&mut self, amp: i32) -> i32 {
        (self.next() >> 33) as i32 % (2 * amp + 1) - amp
    }
}

/// A still picture: 16×16 blocks of grey from 30 to 150.
fn scene(w: usize, h: usize, seed: u64) -> Vec<u8> {
    blocks(w, h, seed, 30, 150)
}

/// 16×16 blocks of grey from `lo` to `hi`.
fn blocks(w: usize, h: usize, seed: u64, lo: u8, hi: u8) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let bw = w.div_ceil(16);
    let blocks: Vec<u8> = (0..bw * h.div_ceil(16))
        .map(|_| lo + (rng.next() % (u64::from(hi - lo) + 1)) as u8)
        .collect();
    (0..w * h)
        .map(|i| blocks[(i / w / 16) * bw + (i % w) / 16])
        .collect()
}

/// Fills a rectangle (clipped to the picture).
fn rect(frame: &mut [u8], w: usize, x: usize, y: usize, rw: usize, rh: usize, value: u8) {
    let h = frame.len() / w;
    for row in frame
        .chunks_exact_mut(w)
        .skip(y)
        .take(rh.min(h.saturating_sub(y)))
    {
        let end = (x + rw).min(w);
        if x < end {
            row[x..end].fill(value);
        }
    }
}

/// Adds `delta` to every pixel, saturating.
fn shift(frame: &mut [u8], delta: i32) {
    for p in frame {
        *p = (i32::from(*p) + delta).clamp(0, 255) as u8;
    }
}

/// Adds uniform noise of ±`amp` to every pixel.
fn noise(frame: &mut [u8], rng: &mut Rng, amp: i32) {
    for p in frame {
        *p = (i32::from(*p) + rng.within(amp)).clamp(0, 255) as u8;
    }
}

/// A 40×40 (at 640×360) bright square walking right 8 pixels per frame,
/// starting at `x`, on row `y`; scaled for other sizes.
fn walker(frame: &mut [u8], w: usize, step: usize, x: usize, y: usize, value: u8) {
    let k = w / W;
    rect(frame, w, (x + step * 8) * k, y * k, 40 * k, 40 * k, value);
}

fn zone(name: &str, points: &[[f32; 2]]) -> Zone {
    Zone::new(name, points.to_vec())
}

const LEFT: [[f32; 2]; 4] = [[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]];
const RIGHT: [[f32; 2]; 4] = [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]];

/// Feeds frames 200 ms apart and records what came out.
struct Run {
    detector: Detector,
    at_us: u64,
    events: Vec<(u64, MotionEvent)>,
    statuses: Vec<Status>,
}

impl Run {
    fn new(config: MotionConfig) -> Run {
        Run {
            detector: Detector::new(config).expect("a valid config"),
            at_us: 1_000_000,
            events: Vec::new(),
            statuses: Vec::new(),
        }
    }

    fn feed_sized(&mut self, w: usize, frame: &[u8]) -> Status {
        let luma = LumaFrame::new(w as u32, (frame.len() / w) as u32, w, frame).unwrap();
        let analysis = self.detector.process(&luma, self.at_us);
        let status = analysis.status;
        if let Some(event) = analysis.event {
            self.events.push((self.at_us, event));
        }
        self.statuses.push(status);
        self.at_us += FRAME_US;
        status
    }

    fn feed(&mut self, frame: &[u8]) -> Status {
        self.feed_sized(W, frame)
    }

    /// `n` frames of `frame`.
    fn hold(&mut self, frame: &[u8], n: usize) {
        for _ in 0..n {
            self.feed(frame);
        }
    }

    fn starts(&self) -> Vec<&MotionEvent> {
        self.events
            .iter()
            .map(|(_, e)| e)
            .filter(|e| matches!(e, MotionEvent::Start { .. }))
            .collect()
    }

    fn assert_quiet(&self, what: &str) {
        assert!(self.events.is_empty(), "{what}: {:#?}", self.events);
    }
}

fn with_zones(zones: Vec<Zone>) -> MotionConfig {
    MotionConfig {
        zones,
        ..MotionConfig::default()
    }
}

#[test]
fn still_scene_raises_nothing() {
    let mut run = Run::new(MotionConfig::default());
    let bg = scene(W, H, 1);
    run.hold(&bg, 100);
    run.assert_quiet("a still scene");
    assert_eq!(run.statuses[0], Status::Learning);
    assert!(run.statuses[1..4].iter().all(|s| *s == Status::Settling));
    assert!(run.statuses[4..].iter().all(|s| *s == Status::Still));
}

#[test]
fn an_object_moving_in_a_zone_starts_one_event_then_ends_it() {
    let mut run = Run::new(with_zones(vec![zone("door", &LEFT)]));
    let bg = scene(W, H, 2);
    run.hold(&bg, 10);
    let first_motion = run.at_us;
    for step in 0..15 {
        let mut frame = bg.clone();
        walker(&mut frame, W, step, 60, 150, 240);
        run.feed(&frame);
    }
    let last_motion = run.at_us - FRAME_US;
    run.hold(&bg, 60);

    let events: Vec<&MotionEvent> = run.events.iter().map(|(_, e)| e).collect();
    assert_eq!(events.len(), 2, "{events:#?}");
    let MotionEvent::Start {
        started_us,
        at_us,
        zones,
        score,
        area,
        boxes,
    } = events[0]
    else {
        panic!("first event is not a start: {events:#?}");
    };
    assert_eq!(zones, &["door"]);
    assert_eq!(*started_us, first_motion);
    assert_eq!(
        *at_us,
        first_motion + 2 * FRAME_US,
        "confirmed on the third frame"
    );
    // The square is 1/144 of the picture, 1/72 of the zone.
    assert!((0.006..0.012).contains(area), "area {area}");
    assert!((0.012..0.024).contains(score), "score {score}");
    // Its box: third frame, x from 60 + 16 = 76 px (0.119), y 150 px (0.417).
    let b = boxes[0];
    assert!((b.x - 76.0 / 640.0).abs() < 0.01, "{b:?}");
    assert!((b.y - 150.0 / 360.0).abs() < 0.01, "{b:?}");
    assert!((b.height - 40.0 / 360.0).abs() < 0.01, "{b:?}");

    let MotionEvent::End {
        at_us,
        duration_us,
        zones,
        ..
    } = events[1]
    else {
        panic!("second event is not an end: {events:#?}");
    };
    assert_eq!(zones, &["door"]);
    // The trail the square leaves in the background fades within a few frames.
    assert!(*duration_us >= last_motion - first_motion);
    assert!(*duration_us <= last_motion - first_motion + 5 * FRAME_US);
    let cooldown = 5_000_000;
    assert_eq!(*at_us, first_motion + duration_us + cooldown);
}

#[test]
fn the_same_motion_outside_every_zone_raises_nothing() {
    let mut run = Run::new(with_zones(vec![zone("yard", &RIGHT)]));
    let bg = scene(W, H, 3);
    run.hold(&bg, 10);
    for step in 0..15 {
        let mut frame = bg.clone();
        walker(&mut frame, W, step, 60, 150, 240);
        run.feed(&frame);
    }
    run.hold(&bg, 40);
    run.assert_quiet("motion outside the zones");
    assert!(run.statuses.iter().all(|s| *s != Status::Motion));
}

#[test]
fn motion_under_a_mask_raises_nothing() {
    let mut config = MotionConfig::default();
    config.masks.push(Mask::new(LEFT.to_vec()));
    let mut run = Run::new(config);
    let bg = scene(W, H, 4);
    run.hold(&bg, 10);
    for step in 0..15 {
        let mut frame = bg.clone();
        walker(&mut frame, W, step, 60, 150, 240);
        run.feed(&frame);
    }
    run.hold(&bg, 40);
    run.assert_quiet("motion under a mask");

    // A mask wins over a zone that covers the same pixels.
    let all = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]];
    let mut config = with_zones(vec![zone("all", &all)]);
    config.masks.push(Mask::new(LEFT.to_vec()));
    let mut run = Run::new(config);
    run.hold(&bg, 10);
    for step in 0..15 {
        let mut frame = bg.clone();
        walker(&mut frame, W, step, 60, 150, 240);
        run.feed(&frame);
    }
    run.assert_quiet("motion under a mask inside a zone");
}

#[test]
fn lights_switched_on_or_off_recalibrate_and_detection_resumes() {
    for delta in [80, -80] {
        let mut run = Run::new(MotionConfig::default());
        let dark = scene(W, H, 5);
        run.hold(&dark, 10);
        let mut lit = dark.clone();
        shift(&mut lit, delta);
        let status = run.feed(&lit);
        assert!(
            matches!(status, Status::Recalibrated(Recalibration::Brightness { shift }) if shift == delta as i16 || (delta < 0 && shift < -30)),
            "{delta}: {status:?}"
        );
        run.hold(&lit, 30);
        run.assert_quiet("lights switched");

        // Someone walks in afterwards: seen.
        for step in 0..10 {
            let mut frame = lit.clone();
            walker(
                &mut frame,
                W,
                step,
                60,
                150,
                if delta > 0 { 250 } else { 200 },
            );
            run.feed(&frame);
        }
        assert_eq!(run.starts().len(), 1, "{delta}: {:#?}", run.events);
    }
}

#[test]
fn a_camera_pan_recalibrates_instead_of_alerting() {
    let mut run = Run::new(MotionConfig::default());
    // A contrasted view: most blocks differ from their neighbours by more
    // than the threshold.
    let wide = blocks(W + 400, H, 6, 0, 255);
    let view = |pan: usize| -> Vec<u8> {
        wide.chunks_exact(W + 400)
            .flat_map(|row| row[pan..pan + W].iter().copied())
            .collect()
    };
    run.hold(&view(0), 10);
    // The camera pans 40 pixels per frame, unannounced.
    for pan in (0..=400).step_by(40) {
        run.feed(&view(pan));
    }
    run.hold(&view(400), 20);
    run.assert_quiet("a camera pan");
    assert!(run.statuses.iter().any(|s| matches!(
        s,
        Status::Recalibrated(Recalibration::WholeFrame { changed }) if *changed > 0.5
    )));
}

#[test]
fn recalibrate_pauses_detection_while_asked() {
    let mut run = Run::new(MotionConfig::default());
    let bg = scene(W, H, 7);
    run.hold(&bg, 10);
    // A PTZ move the relay knows about: it asks for recalibration each frame,
    // and here something moves meanwhile, which must be ignored too.
    for step in 0..10 {
        run.detector.recalibrate();
        let mut frame = bg.clone();
        walker(&mut frame, W, step, 60, 150, 240);
        let status = run.feed(&frame);
        assert_eq!(status, Status::Recalibrated(Recalibration::Requested));
    }
    run.hold(&bg, 20);
    run.assert_quiet("motion during a requested recalibration");
    for step in 0..10 {
        let mut frame = bg.clone();
        walker(&mut frame, W, step, 60, 150, 240);
        run.feed(&frame);
    }
    assert_eq!(run.starts().len(), 1);
}

#[test]
fn sensor_noise_raises_nothing() {
    // At 640x360 the shrinking averages 2x2 pixels; at 320x180 nothing does.
    for (w, h) in [(W, H), (320, 180)] {
        let mut run = Run::new(MotionConfig::default());
        let bg = scene(w, h, 8);
        let mut rng = Rng::new(8);
        for _ in 0..150 {
            let mut frame = bg.clone();
            noise(&mut frame, &mut rng, 6);
            run.feed_sized(w, &frame);
        }
        run.assert_quiet("sensor noise");
        assert!(run.statuses[4..].iter().all(|s| *s == Status::Still));
    }
}

#[test]
fn slow_drift_raises_nothing() {
    for delta in [1, -1] {
        let mut run = Run::new(MotionConfig::default());
        let mut frame = scene(W, H, 9);
        if delta < 0 {
            shift(&mut frame, 100);
        }
        for _ in 0..100 {
            run.feed(&frame);
            shift(&mut frame, delta);
        }
        run.assert_quiet("slow drift");
        // The running average follows: no recalibration either.
        assert!(
            run.statuses[4..].iter().all(|s| *s == Status::Still),
            "{delta}"
        );
    }
}

#[test]
fn a_flash_shorter_than_confirm_frames_raises_nothing() {
    let mut run = Run::new(MotionConfig::default());
    let bg = scene(W, H, 10);
    run.hold(&bg, 10);
    for frames in [1, 2] {
        for step in 0..frames {
            let mut frame = bg.clone();
            walker(&mut frame, W, step, 60, 150, 240);
            assert_eq!(run.feed(&frame), Status::Motion);
        }
        run.hold(&bg, 10);
    }
    // A whole-picture flash (lightning) is a recalibration.
    let mut flash = bg.clone();
    shift(&mut flash, 120);
    run.feed(&flash);
    run.hold(&bg, 10);
    run.assert_quiet("a flash");
}

#[test]
fn a_resolution_change_starts_afresh_without_alerting() {
    let mut run = Run::new(MotionConfig::default());
    let small = scene(W, H, 11);
    run.hold(&small, 10);
    // The same view at 1280x720: each pixel doubled.
    let big: Vec<u8> = (0..4 * W * H)
        .map(|i| small[(i / (2 * W) / 2) * W + (i % (2 * W)) / 2])
        .collect();
    assert_eq!(run.feed_sized(2 * W, &big), Status::Learning);
    for _ in 0..10 {
        run.feed_sized(2 * W, &big);
    }
    // And to another aspect ratio, with a different picture.
    let other = scene(704, 576, 12);
    assert_eq!(run.feed_sized(704, &other), Status::Learning);
    for _ in 0..10 {
        run.feed_sized(704, &other);
    }
    run.assert_quiet("resolution changes");
    assert_eq!(run.detector.analysis_size(), Some((320, 262)));
}

#[test]
fn a_resolution_change_ends_a_running_event() {
    let mut run = Run::new(MotionConfig::default());
    let bg = scene(W, H, 13);
    run.hold(&bg, 10);
    for step in 0..5 {
        let mut frame = bg.clone();
        walker(&mut frame, W, step, 60, 150, 240);
        run.feed(&frame);
    }
    assert!(run.detector.is_active());
    let last = run.at_us - FRAME_US;
    run.feed_sized(320, &scene(320, 180, 13));
    assert!(!run.detector.is_active());
    let (_, end) = run.events.last().unwrap();
    assert!(
        matches!(end, MotionEvent::End { at_us, .. } if *at_us == last),
        "{end:?}"
    );
}

#[test]
fn each_zone_has_its_own_sensitivity() {
    let config = with_zones(vec![
        zone("porch", &LEFT).with_sensitivity(90),
        zone("street", &RIGHT).with_sensitivity(10),
    ]);
    // On a flat grey picture, a faint object: 25 levels brighter.
    let bg = vec![100u8; W * H];
    let faint = |x: usize| {
        let mut run = Run::new(config.clone());
        run.hold(&bg, 10);
        for step in 0..10 {
            let mut frame = bg.clone();
            walker(&mut frame, W, step, x, 150, 125);
            run.feed(&frame);
        }
        run.hold(&bg, 40);
        run.events
    };
    let porch = faint(60);
    assert!(
        matches!(&porch[0].1, MotionEvent::Start { zones, .. } if zones == &["porch"]),
        "{porch:#?}"
    );
    assert_eq!(porch.len(), 2, "{porch:#?}");
    let street = faint(380);
    assert!(street.is_empty(), "{street:#?}");

    // A contrasted object is seen in the street.
    let mut run = Run::new(config);
    run.hold(&bg, 10);
    for step in 0..10 {
        let mut frame = bg.clone();
        walker(&mut frame, W, step, 380, 150, 200);
        run.feed(&frame);
    }
    assert!(
        matches!(run.starts()[..], [MotionEvent::Start { zones, .. }] if zones == &["street"]),
        "{:#?}",
        run.events
    );
}

#[test]
fn an_event_reports_zones_as_they_join() {
    let config = with_zones(vec![zone("left", &LEFT), zone("right", &RIGHT)]);
    let mut run = Run::new(config);
    let bg = scene(W, H, 14);
    run.hold(&bg, 10);
    // From x = 200 to past 320 (the middle) at 8 px per frame.
    for step in 0..30 {
        let mut frame = bg.clone();
        walker(&mut frame, W, step, 200, 150, 240);
        run.feed(&frame);
    }
    run.hold(&bg, 40);
    let events: Vec<&MotionEvent> = run.events.iter().map(|(_, e)| e).collect();
    assert!(matches!(events[0], MotionEvent::Start { zones, .. } if zones == &["left"]));
    assert!(
        events[1..events.len() - 1]
            .iter()
            .any(|e| matches!(e, MotionEvent::Update { zones, .. } if zones == &["left", "right"])),
        "{events:#?}"
    );
    assert!(matches!(
        events.last(),
        Some(MotionEvent::End { zones, .. }) if zones == &["left", "right"]
    ));
    assert_eq!(run.starts().len(), 1);
}

#[test]
fn an_object_touching_a_zone_counts_only_with_enough_of_it_inside() {
    let mut config = with_zones(vec![zone("door", &LEFT)]);
    // A zone needing 1 % of the picture (576 analysed pixels): the 40x40
    // square (400 analysed pixels) is not enough.
    config.zones[0].min_area = Some(0.01);
    let mut run = Run::new(config);
    let bg = scene(W, H, 15);
    run.hold(&bg, 10);
    for step in 0..10 {
        let mut frame = bg.clone();
        walker(&mut frame, W, step, 60, 150, 240);
        run.feed(&frame);
    }
    run.assert_quiet("too little of the zone");
}

#[test]
fn finish_ends_a_running_event_and_starts_afresh() {
    let mut run = Run::new(MotionConfig::default());
    let bg = scene(W, H, 16);
    run.hold(&bg, 10);
    for step in 0..5 {
        let mut frame = bg.clone();
        walker(&mut frame, W, step, 60, 150, 240);
        run.feed(&frame);
    }
    let end = run.detector.finish(run.at_us);
    assert!(matches!(end, Some(MotionEvent::End { .. })), "{end:?}");
    assert_eq!(run.detector.finish(run.at_us), None);
    assert_eq!(run.feed(&bg), Status::Learning);
}

#[test]
fn timestamps_going_back_start_afresh() {
    let mut run = Run::new(MotionConfig::default());
    let bg = scene(W, H, 17);
    run.hold(&bg, 10);
    run.at_us = 0;
    assert_eq!(run.feed(&bg), Status::Learning);
}

#[test]
fn due_keeps_to_the_analysis_rate() {
    let mut detector = Detector::new(MotionConfig::default()).unwrap();
    let data = vec![0u8; 64 * 36];
    let frame = LumaFrame::new(64, 36, 64, &data).unwrap();
    // A 30 fps camera (33 333 µs apart, with rounding), for 3 s.
    let mut analysed = Vec::new();
    for i in 0..90u64 {
        let at = i * 1_000_000 / 30;
        if detector.due(at) {
            let _ = detector.process(&frame, at);
            analysed.push(i);
        }
    }
    assert_eq!(analysed.len(), 15, "{analysed:?}");
    assert!(
        analysed.windows(2).all(|w| w[1] - w[0] == 6),
        "{analysed:?}"
    );
}

#[test]
fn motion_is_confirmed_at_the_faster_rate() {
    // A 30 fps camera: a still scene for 2 s, then an object that stays.
    let frame_at = |i: u64| i * 1_000_000 / 30;
    let bg = scene(W, H, 5);
    let mut with_object = bg.clone();
    rect(&mut with_object, W, 300, 150, 60, 60, 250);
    let start_frame = |config: MotionConfig| {
        let mut detector = Detector::new(config).unwrap();
        let mut analysed = Vec::new();
        for i in 0..150u64 {
            let picture = if i < 60 { &bg } else { &with_object };
            let luma = LumaFrame::new(W as u32, H as u32, W, picture).unwrap();
            if detector.due(frame_at(i)) {
                analysed.push(i);
                let event = detector.process(&luma, frame_at(i)).event;
                if matches!(event, Some(MotionEvent::Start { .. })) {
                    return (i, analysed);
                }
            }
        }
        panic!("no start: analysed {analysed:?}");
    };
    // At 15 fps the two confirming frames come 2 camera frames apart.
    let (fast, analysed) = start_frame(MotionConfig::default());
    assert_eq!(fast, 60 + 4, "{analysed:?}");
    // Without it (confirm_fps = fps) they wait for the 5 fps schedule.
    let (slow, analysed) = start_frame(MotionConfig {
        confirm_fps: 5.0,
        ..MotionConfig::default()
    });
    assert_eq!(slow, 60 + 12, "{analysed:?}");
    // A config of an older relay with fps above the default confirm_fps
    // still loads (and confirms at its own rate).
    assert!(Detector::new(MotionConfig {
        fps: 20.0,
        ..MotionConfig::default()
    })
    .is_ok());
    // Still scenes are analysed at 5 fps only (see the test above); a
    // confirmation that fails goes back to it.
    let mut detector = Detector::new(MotionConfig::default()).unwrap();
    let mut analysed = Vec::new();
    for i in 0..90u64 {
        // One frame with the object (a flash), the rest still.
        let picture = if i == 60 { &with_object } else { &bg };
        let luma = LumaFrame::new(W as u32, H as u32, W, picture).unwrap();
        if detector.due(frame_at(i)) {
            analysed.push(i);
            assert!(detector.process(&luma, frame_at(i)).event.is_none());
        }
    }
    assert_eq!(
        analysed,
        [0, 6, 12, 18, 24, 30, 36, 42, 48, 54, 60, 62, 66, 72, 78, 84],
        "one confirming frame after the flash at 60, then the schedule"
    );
}

#[test]
fn frames_with_bad_geometry_are_refused() {
    let data = [0u8; 100];
    let err = LumaFrame::new(10, 10, 9, &data).unwrap_err();
    assert!(err
        .to_string()
        .contains("stride (9) is smaller than its width (10)"));
    let err = LumaFrame::new(10, 11, 10, &data).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the frame's buffer holds 100 bytes, but a 10x11 plane with stride 10 needs at least \
         110: pass the luma (Y) plane, not another one"
    );
    assert!(matches!(
        LumaFrame::new(0, 10, 10, &data),
        Err(FrameError::Size { .. })
    ));
    // The last row needs no padding.
    assert!(LumaFrame::new(8, 10, 10, &data[..98]).is_ok());
}

#[test]
fn sensitivity_maps_to_thresholds() {
    let t: Vec<u8> = [1, 25, 50, 75, 100].map(threshold_for).to_vec();
    assert_eq!(t, [51, 41, 30, 19, 8]);
}

#[test]
fn config_errors_name_what_to_fix() {
    let check = |config: MotionConfig, expected: &str| {
        let err = config.validate().unwrap_err();
        assert_eq!(err.to_string(), expected);
        assert_eq!(Detector::new(config).unwrap_err(), err);
    };
    let tri = || vec![[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]];
    check(
        with_zones(vec![zone("door", &[[0.1, 0.1], [0.2, 0.2]])]),
        "zone \"door\": a polygon needs at least 3 points, it has 2",
    );
    check(
        with_zones(vec![zone("door", &[[0.1, 0.1], [1.2, 0.5], [0.5, 0.9]])]),
        "zone \"door\", point 2 [1.2, 0.5]: coordinates go from 0 to 1, as fractions of the \
         picture's width and height from its top left corner ([1, 1] is the bottom right)",
    );
    check(
        with_zones(vec![zone("door", &[[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]])]),
        "zone \"door\": its points enclose no area (are they all on one line?)",
    );
    check(
        with_zones(vec![Zone::new("door", tri()).with_sensitivity(0)]),
        "zone \"door\": sensitivity 0 is out of range: use 1 (least sensitive) to 100 (most \
         sensitive), or leave it out for the camera's",
    );
    check(
        with_zones(vec![Zone::new("door", tri()), Zone::new("door", tri())]),
        "two zones are named \"door\": give each zone its own name, alerts report zones by name",
    );
    check(
        with_zones(vec![Zone::new(" ", tri())]),
        "zone 1 has no name: give every zone a name, alerts report zones by name",
    );
    let mut too_many: Vec<Zone> = (0..33).map(|i| Zone::new(format!("z{i}"), tri())).collect();
    check(
        with_zones(too_many.clone()),
        "33 zones: a camera may have at most 32",
    );
    too_many.truncate(32);
    assert!(with_zones(too_many).validate().is_ok());
    let mut big = Zone::new("door", tri());
    big.min_area = Some(0.0);
    check(
        with_zones(vec![big]),
        "zone \"door\": min_area 0 is out of range: it is a fraction of the picture, above 0 and \
         at most 1 (0.001 is a 46×46 pixel object at 1080p)",
    );
    let mut config = MotionConfig::default();
    config
        .masks
        .push(Mask::new(vec![[0.0, 0.0], [0.5, -0.1], [0.5, 0.5]]));
    check(
        config.clone(),
        "mask 1, point 2 [0.5, -0.1]: coordinates go from 0 to 1, as fractions of the picture's \
         width and height from its top left corner ([1, 1] is the bottom right)",
    );
    config.masks[0].name = Some("clock".into());
    config.masks[0].points.truncate(1);
    check(
        config,
        "mask \"clock\": a polygon needs at least 3 points, it has 1",
    );
    check(
        MotionConfig {
            sensitivity: 0,
            ..MotionConfig::default()
        },
        "motion setting `sensitivity` = 0 is out of range: from 1 (least sensitive) to 100 \
         (most sensitive)",
    );
    check(
        MotionConfig {
            alpha: f32::NAN,
            ..MotionConfig::default()
        },
        "motion setting `alpha` = NaN is out of range: from 0.001 (slow) to 1 (the background \
         is the previous frame)",
    );
    check(
        MotionConfig {
            connectivity: 6,
            ..MotionConfig::default()
        },
        "motion setting `connectivity` = 6 is out of range: 4 or 8",
    );
    check(
        MotionConfig {
            min_area: 2.0,
            ..MotionConfig::default()
        },
        "motion setting `min_area` = 2 is out of range: a fraction of the picture above 0 and \
         at most 1 (0.001 is a 46×46 pixel object at 1080p)",
    );
    assert!(MotionConfig::default().validate().is_ok());
}

#[test]
fn config_reads_from_toml() {
    let config: MotionConfig = toml::from_str(
        r#"
        fps = 4
        sensitivity = 60
        cooldown_secs = 10

        [[zone]]
        name = "door"
        points = [[0.1, 0.2], [0.4, 0.2], [0.4, 0.9], [0.1, 0.9]]
        sensitivity = 80

        [[mask]]
        name = "clock"
        points = [[0.8, 0.0], [1.0, 0.0], [1.0, 0.08], [0.8, 0.08]]
        "#,
    )
    .unwrap();
    config.validate().unwrap();
    assert_eq!(config.fps, 4.0);
    assert_eq!(config.zones[0].sensitivity, Some(80));
    assert_eq!(config.zones[0].min_area, None);
    assert_eq!(config.masks[0].name.as_deref(), Some("clock"));
    assert_eq!(config.alpha, MotionConfig::default().alpha);

    let err = toml::from_str::<MotionConfig>("sensitivty = 60").unwrap_err();
    assert!(
        err.to_string().contains("unknown field `sensitivty`"),
        "{err}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Any still scene, with any noise up to ±8 levels and any drift up to a
    /// level per frame either way, raises nothing.
    #[test]
    fn still_noisy_drifting_scenes_raise_nothing(
        seed in any::<u64>(),
        amp in 0..=8i32,
        drift in -1..=1i32,
        sensitivity in 1..=80u8,
    ) {
        let (w, h) = (320, 180);
        let mut run = Run::new(MotionConfig { sensitivity, ..MotionConfig::default() });
        let mut bg = scene(w, h, seed);
        if drift < 0 {
            shift(&mut bg, 60);
        }
        let mut rng = Rng::new(seed ^ 0xA5);
        for _ in 0..60 {
            let mut frame = bg.clone();
            noise(&mut frame, &mut rng, amp);
            run.feed_sized(w, &frame);
            shift(&mut bg, drift);
        }
        prop_assert!(run.events.is_empty(), "{:#?}", run.events);
    }
}
