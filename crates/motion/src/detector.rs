//! The detector: per-camera state, one call per analysed frame.

use crate::config::{threshold_for, ConfigError, MotionConfig, MAX_ZONES};
use crate::frame::LumaFrame;
use crate::ops::{analysis_dims, dilate, rasterise, regions, Shrink};

/// Most regions reported for one frame, largest first.
pub const MAX_REGIONS: usize = 16;

/// How much slower the background learns where a pixel changed. With a plain
/// running average, an object's own brightness leaks into the background
/// while it passes and leaves a trail behind it: a 40 px square walking
/// 8 px per frame over a dark background (a 210-level difference) leaves a
/// ghost of 47 levels that stays above the default threshold for 9 frames.
/// Learning 4 times slower under it caps the ghost at 13 levels; an object
/// that stops is still absorbed, with a time constant of 80 analysed frames
/// (16 s at 5 fps) instead of 20.
const FOREGROUND_SLOWDOWN: f32 = 4.0;

/// A changed region of one frame: its bounding box in 0..1 coordinates (from
/// the top left corner, as zones are written) and its changed area.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    /// Left edge, a fraction of the picture's width.
    pub x: f32,
    /// Top edge, a fraction of the picture's height.
    pub y: f32,
    /// A fraction of the picture's width.
    pub width: f32,
    /// A fraction of the picture's height.
    pub height: f32,
    /// Changed pixels in the region, a fraction of the whole picture.
    pub area: f32,
}

/// What a motion event reports. `started_us` is the timestamp of the first
/// frame with motion (not of the frame that confirmed it), and `at_us` that of
/// the frame that caused this event; both are the caller's timestamps.
///
/// `zones` are the names of every zone touched since the event started, in
/// config order. `score` is the largest fraction of one of those zones seen
/// changed in one frame, and `area` the largest fraction of the picture seen
/// changed in one frame (both peaks since the start, from 0 to 1).
#[derive(Debug, Clone, PartialEq)]
pub enum MotionEvent {
    /// Motion lasted [`MotionConfig::confirm_frames`] analysed frames.
    Start {
        /// The first frame with motion.
        started_us: u64,
        /// The frame that confirmed it (take the snapshot from this one).
        at_us: u64,
        /// Zones touched so far.
        zones: Vec<String>,
        /// Peak fraction of a zone changed.
        score: f32,
        /// Peak fraction of the picture changed.
        area: f32,
        /// This frame's regions, largest first.
        boxes: Vec<Region>,
    },
    /// A running event grew: a new zone joined it, or its peak area grew by
    /// half since last reported.
    Update {
        /// As in `Start`.
        started_us: u64,
        /// The frame that grew it.
        at_us: u64,
        /// Zones touched so far.
        zones: Vec<String>,
        /// Peak fraction of a zone changed.
        score: f32,
        /// Peak fraction of the picture changed.
        area: f32,
        /// This frame's regions, largest first.
        boxes: Vec<Region>,
    },
    /// No motion for [`MotionConfig::cooldown_secs`], or the stream changed
    /// (size, timestamps going back), or [`Detector::finish`] was called.
    End {
        /// As in `Start`.
        started_us: u64,
        /// The frame that ended it.
        at_us: u64,
        /// From the first to the last frame with motion.
        duration_us: u64,
        /// Every zone the event touched.
        zones: Vec<String>,
        /// Peak fraction of a zone changed.
        score: f32,
        /// Peak fraction of the picture changed.
        area: f32,
    },
}

impl MotionEvent {
    /// The zones the event touched so far.
    pub fn zones(&self) -> &[String] {
        match self {
            MotionEvent::Start { zones, .. }
            | MotionEvent::Update { zones, .. }
            | MotionEvent::End { zones, .. } => zones,
        }
    }

    /// The timestamp of the event's first frame with motion.
    pub fn started_us(&self) -> u64 {
        match self {
            MotionEvent::Start { started_us, .. }
            | MotionEvent::Update { started_us, .. }
            | MotionEvent::End { started_us, .. } => *started_us,
        }
    }
}

/// What the detector made of one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Status {
    /// The first frame at this size (or after timestamps went back): it became
    /// the background.
    Learning,
    /// Relearning the background after [`Status::Learning`] or a
    /// recalibration ([`MotionConfig::settle_frames`]); nothing detected.
    Settling,
    /// The picture changed as a whole: the background was reset to this frame
    /// and detection pauses for [`MotionConfig::settle_frames`].
    Recalibrated(Recalibration),
    /// Analysed; no zone had enough motion.
    Still,
    /// Analysed; at least one zone had enough motion.
    Motion,
}

/// Why the detector recalibrated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Recalibration {
    /// [`Detector::recalibrate`] was called (a PTZ move, say).
    Requested,
    /// The whole picture got brighter or darker by `shift` levels (the median
    /// change), more than [`MotionConfig::brightness_jump`].
    Brightness {
        /// Median change against the background, −255..255.
        shift: i16,
    },
    /// This fraction of the unmasked picture changed, more than
    /// [`MotionConfig::whole_frame_area`].
    WholeFrame {
        /// Fraction of the unmasked picture changed.
        changed: f32,
    },
}

/// The result of [`Detector::process`].
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis<'a> {
    /// An event that starts, grows or ends with this frame.
    pub event: Option<MotionEvent>,
    /// What was done with the frame.
    pub status: Status,
    /// Fraction of the unmasked picture that differs from the background by
    /// more than the camera's threshold, in or out of zones: for tuning
    /// [`MotionConfig::whole_frame_area`]. 0 when the frame was not compared.
    pub changed: f32,
    /// Fraction of the picture in this frame's reported regions.
    pub area: f32,
    /// This frame's regions (at least [`MotionConfig::min_area`], in zones),
    /// largest first, at most [`MAX_REGIONS`].
    pub regions: &'a [Region],
}

/// Motion detection for one camera: feed it the frames to analyse (see
/// [`Detector::due`]), in timestamp order, and act on the events it returns.
#[derive(Debug)]
pub struct Detector {
    config: MotionConfig,
    /// Per zone (or for the implicit zone), the changed-pixel threshold.
    thresholds: Vec<u8>,
    /// The camera's threshold, for the whole-frame check.
    base_threshold: u8,
    cooldown_us: u64,
    interval_us: u64,
    /// Between analyses while a streak awaits confirmation.
    confirm_interval_us: u64,
    /// Buffers for the current frame size; `None` before the first frame.
    plan: Option<Plan>,
    recalibrate: bool,
    /// The next frame starts afresh (after [`Detector::finish`]).
    fresh: bool,
    /// Analysed frames left that only relearn the background.
    settle: u32,
    streak: Peaks,
    active: Option<Active>,
    last_at_us: Option<u64>,
    next_due_us: Option<u64>,
    regions: Vec<Region>,
}

/// Motion so far, of a streak not yet confirmed or of a running event.
#[derive(Debug, Clone, Copy, Default)]
struct Peaks {
    frames: u32,
    started_us: u64,
    zones: u32,
    score: f32,
    area: f32,
}

impl Peaks {
    fn add(&mut self, at_us: u64, seen: &Seen) {
        if self.frames == 0 {
            self.started_us = at_us;
        }
        self.frames = self.frames.saturating_add(1);
        self.zones |= seen.zones;
        self.score = self.score.max(seen.score);
        self.area = self.area.max(seen.area);
    }
}

#[derive(Debug, Clone, Copy)]
struct Active {
    peaks: Peaks,
    last_motion_us: u64,
    /// The area last reported (Start or Update).
    reported_area: f32,
}

/// One analysed frame's motion.
#[derive(Debug, Clone, Copy)]
struct Seen {
    zones: u32,
    score: f32,
    area: f32,
}

/// Everything sized by the analysed picture, allocated once per frame size.
#[derive(Debug)]
struct Plan {
    /// The input frame size this plan is for.
    source: (u32, u32),
    width: usize,
    shrink: Shrink,
    /// The current frame, shrunk.
    frame: Vec<u8>,
    /// The running-average background.
    background: Vec<f32>,
    /// |frame − background − brightness shift| per pixel, clamped to 255.
    diff: Vec<u8>,
    /// 1 where a pixel changed by more than its threshold.
    changed: Vec<u8>,
    /// `changed`, dilated; consumed by region finding.
    grown: Vec<u8>,
    scratch: Vec<u8>,
    /// Per pixel, the zones it is in (bit z for zone z); 0 when masked.
    zones: Vec<u32>,
    /// Per pixel, the lowest threshold of its zones; 255 (never) outside every
    /// zone or under a mask.
    threshold: Vec<u8>,
    masked: Vec<bool>,
    unmasked: u32,
    /// Pixels per zone.
    zone_pixels: Vec<u32>,
    /// Changed pixels a zone needs to count.
    zone_min: Vec<u32>,
    /// Changed pixels a region needs to count.
    region_min: u32,
    /// Region finding's work list.
    queue: Vec<u32>,
    /// Changed pixels per zone in this frame's regions.
    zone_counts: Vec<u32>,
}

impl Plan {
    fn new(config: &MotionConfig, thresholds: &[u8], source: (u32, u32)) -> Plan {
        let (width, height) = analysis_dims(source.0, source.1, config.analysis_size);
        let n = width * height;
        let zone_count = config.zone_count();

        let mut zones = vec![0u32; n];
        let mut crossings = Vec::new();
        if config.zones.is_empty() {
            zones.fill(1);
        }
        for (z, zone) in config.zones.iter().enumerate() {
            rasterise(&zone.points, width, height, &mut crossings, |i| {
                zones[i] |= 1 << z
            });
        }
        let mut masked = vec![false; n];
        for mask in &config.masks {
            rasterise(&mask.points, width, height, &mut crossings, |i| {
                masked[i] = true
            });
        }
        let mut zone_pixels = vec![0u32; zone_count];
        let mut threshold = vec![u8::MAX; n];
        for ((pixel_zones, pixel_threshold), &m) in
            zones.iter_mut().zip(&mut threshold).zip(&masked)
        {
            if m {
                *pixel_zones = 0;
            }
            let mut bits = *pixel_zones;
            while bits != 0 {
                let z = bits.trailing_zeros() as usize;
                zone_pixels[z] += 1;
                *pixel_threshold = (*pixel_threshold).min(thresholds[z]);
                bits &= bits - 1;
            }
        }
        let pixels = |fraction: f32| ((f64::from(fraction) * n as f64).ceil() as u32).max(1);
        Plan {
            source,
            width,
            shrink: Shrink::new(source.0 as usize, source.1 as usize, width, height),
            frame: vec![0; n],
            background: vec![0.0; n],
            diff: vec![0; n],
            changed: vec![0; n],
            grown: vec![0; n],
            scratch: vec![0; n],
            zones,
            threshold,
            unmasked: masked.iter().filter(|&&m| !m).count() as u32,
            masked,
            zone_pixels,
            zone_min: (0..zone_count)
                .map(|z| pixels(config.zone_min_area(z)))
                .collect(),
            region_min: pixels(config.min_area),
            queue: Vec::with_capacity(n),
            zone_counts: vec![0; zone_count],
        }
    }

    fn reset_background(&mut self) {
        for (b, &f) in self.background.iter_mut().zip(&self.frame) {
            *b = f32::from(f);
        }
    }

    /// The running average, slower where the frame changed: see
    /// [`FOREGROUND_SLOWDOWN`].
    fn learn(&mut self, alpha: f32) {
        let slow = alpha / FOREGROUND_SLOWDOWN;
        for ((b, &f), &c) in self
            .background
            .iter_mut()
            .zip(&self.frame)
            .zip(&self.changed)
        {
            let rate = if c == 0 { alpha } else { slow };
            *b += rate * (f32::from(f) - *b);
        }
    }

    /// The median of frame − background over the unmasked pixels: how much
    /// the whole picture got brighter (or darker), robust to anything
    /// covering less than half of it.
    /// One pixel in four is enough for a median (14 400 at 320×180), and
    /// a quarter of the cost.
    fn brightness_shift(&self) -> i16 {
        let step = if self.unmasked >= 4096 { 4 } else { 1 };
        let mut histogram = [0u32; 511];
        let mut samples = 0u32;
        let pixels = self.frame.iter().zip(&self.background).zip(&self.masked);
        for ((&f, &b), &m) in pixels.step_by(step) {
            if !m {
                histogram[(i32::from(f) - (b + 0.5) as i32 + 255) as usize] += 1;
                samples += 1;
            }
        }
        let half = samples.div_ceil(2);
        let mut seen = 0;
        for (i, &count) in histogram.iter().enumerate() {
            seen += count;
            if seen >= half {
                return i as i16 - 255;
            }
        }
        0
    }
}

impl Detector {
    /// A detector for one camera; refuses an invalid config (see
    /// [`MotionConfig::validate`]).
    pub fn new(config: MotionConfig) -> Result<Detector, ConfigError> {
        config.validate()?;
        let thresholds = (0..config.zone_count())
            .map(|z| config.zone_threshold(z))
            .collect();
        Ok(Detector {
            thresholds,
            base_threshold: threshold_for(config.sensitivity),
            cooldown_us: (f64::from(config.cooldown_secs) * 1e6).round() as u64,
            interval_us: (1e6 / f64::from(config.fps)).round() as u64,
            // At or below `fps`, confirming frames come on the schedule.
            confirm_interval_us: (1e6 / f64::from(config.confirm_fps.max(config.fps))).round()
                as u64,
            plan: None,
            recalibrate: false,
            fresh: true,
            settle: 0,
            streak: Peaks::default(),
            active: None,
            last_at_us: None,
            next_due_us: None,
            regions: Vec::with_capacity(MAX_REGIONS),
            config,
        })
    }

    /// The config it runs with.
    pub fn config(&self) -> &MotionConfig {
        &self.config
    }

    /// Whether a frame at `at_us` is due for analysis at
    /// [`MotionConfig::fps`]. Frames that are not can be skipped without
    /// converting them. Analysis times keep to the rate on average: from a
    /// 30 fps camera at 5 fps, every sixth frame.
    /// While motion seen in a frame awaits confirmation, frames are due at
    /// [`MotionConfig::confirm_fps`] instead.
    pub fn due(&self, at_us: u64) -> bool {
        self.on_schedule(at_us) || self.confirming_due(at_us)
    }

    fn on_schedule(&self, at_us: u64) -> bool {
        self.next_due_us.is_none_or(|due| at_us >= due)
    }

    /// A streak is under way (not yet an event) and the last analysis was
    /// about a confirmation interval ago (¾ of it: camera timestamps are
    /// rounded, and 66 667 µs must not miss the frame 66 666 µs later).
    fn confirming_due(&self, at_us: u64) -> bool {
        self.confirm_interval_us < self.interval_us
            && self.active.is_none()
            && self.streak.frames > 0
            && self
                .last_at_us
                .is_some_and(|last| at_us >= last.saturating_add(self.confirm_interval_us * 3 / 4))
    }

    /// Whether an event is running (started, not yet ended).
    pub fn is_active(&self) -> bool {
        self.active.is_some()
    }

    /// The size frames are analysed at, once a frame was seen.
    pub fn analysis_size(&self) -> Option<(usize, usize)> {
        self.plan
            .as_ref()
            .map(|p| (p.width, p.frame.len() / p.width))
    }

    /// Resets the background to the next frame and pauses detection for
    /// [`MotionConfig::settle_frames`] after it. Call it while the camera
    /// moves (PTZ), and on anything else that changes the whole picture on
    /// purpose; calling it on every frame of a move keeps detection paused
    /// until the move is over.
    pub fn recalibrate(&mut self) {
        self.recalibrate = true;
    }

    /// Ends the running event, if any, at `at_us`: the camera went away, or
    /// detection was turned off. The next frame starts afresh.
    pub fn finish(&mut self, at_us: u64) -> Option<MotionEvent> {
        self.streak = Peaks::default();
        self.fresh = true;
        self.end(at_us)
    }

    /// Analyses one frame taken at `at_us` (microseconds, any origin, not
    /// going back). A frame of another size than the previous one, or a
    /// timestamp earlier than the previous one, starts afresh (ending a
    /// running event), as after a camera reconnects or changes resolution.
    #[must_use = "the analysis may carry an event"]
    pub fn process(&mut self, frame: &LumaFrame<'_>, at_us: u64) -> Analysis<'_> {
        // A confirming frame between scheduled ones neither moves the
        // schedule nor teaches the background (alpha is per scheduled frame).
        let confirming = !self.on_schedule(at_us) && self.confirming_due(at_us);
        if !confirming {
            self.next_due_us = Some(match self.next_due_us {
                Some(due) if (due..due.saturating_add(self.interval_us)).contains(&at_us) => {
                    due + self.interval_us
                }
                _ => at_us.saturating_add(self.interval_us),
            });
        }
        self.regions.clear();
        let source = (frame.width(), frame.height());
        let went_back = self.last_at_us.is_some_and(|last| at_us < last);
        let resized = self.plan.as_ref().is_none_or(|p| p.source != source);
        if std::mem::take(&mut self.fresh) || went_back || resized {
            let event = self.end(self.last_at_us.unwrap_or(at_us));
            self.last_at_us = Some(at_us);
            self.streak = Peaks::default();
            // Reuse the buffers only when the size is the same.
            let mut plan = match self.plan.take() {
                Some(plan) if plan.source == source => plan,
                _ => Plan::new(&self.config, &self.thresholds, source),
            };
            plan.shrink.run(frame, &mut plan.frame);
            plan.reset_background();
            self.plan = Some(plan);
            self.recalibrate = false;
            self.settle = self.config.settle_frames;
            return self.analysis(event, Status::Learning, 0.0, 0.0);
        }
        self.last_at_us = Some(at_us);
        let plan = self
            .plan
            .as_mut()
            .expect("not resized, so there is a plan for this size");
        plan.shrink.run(frame, &mut plan.frame);

        let (status, changed, seen) = if std::mem::take(&mut self.recalibrate) {
            plan.reset_background();
            self.settle = self.config.settle_frames;
            (Status::Recalibrated(Recalibration::Requested), 0.0, None)
        } else if self.settle > 0 {
            plan.reset_background();
            self.settle -= 1;
            (Status::Settling, 0.0, None)
        } else {
            let (outcome, changed) = compare(
                plan,
                &self.config,
                &self.thresholds,
                self.base_threshold,
                &mut self.regions,
            );
            match outcome {
                Outcome::Recalibrate(why) => {
                    plan.reset_background();
                    self.settle = self.config.settle_frames;
                    (Status::Recalibrated(why), changed, None)
                }
                Outcome::Compared(seen) => {
                    if !confirming {
                        plan.learn(self.config.alpha);
                    }
                    let status = if seen.is_some() {
                        Status::Motion
                    } else {
                        Status::Still
                    };
                    (status, changed, seen)
                }
            }
        };
        let area = seen.map_or(0.0, |s| s.area);
        let event = self.step(at_us, seen);
        self.analysis(event, status, changed, area)
    }

    fn analysis(
        &self,
        event: Option<MotionEvent>,
        status: Status,
        changed: f32,
        area: f32,
    ) -> Analysis<'_> {
        Analysis {
            event,
            status,
            changed,
            area,
            regions: &self.regions,
        }
    }

    /// The temporal rules: a streak of `confirm_frames` starts an event,
    /// `cooldown` without motion ends it.
    fn step(&mut self, at_us: u64, seen: Option<Seen>) -> Option<MotionEvent> {
        let Some(seen) = seen else {
            self.streak = Peaks::default();
            let quiet = self
                .active
                .is_some_and(|a| at_us.saturating_sub(a.last_motion_us) >= self.cooldown_us);
            return if quiet { self.end(at_us) } else { None };
        };
        if let Some(active) = &mut self.active {
            let new_zones = seen.zones & !active.peaks.zones != 0;
            active.peaks.add(at_us, &seen);
            active.last_motion_us = at_us;
            let grew = active.peaks.area >= active.reported_area * 1.5;
            if !(new_zones || grew) {
                return None;
            }
            active.reported_area = active.peaks.area;
            let peaks = active.peaks;
            return Some(MotionEvent::Update {
                started_us: peaks.started_us,
                at_us,
                zones: self.zone_names(peaks.zones),
                score: peaks.score,
                area: peaks.area,
                boxes: self.regions.clone(),
            });
        }
        self.streak.add(at_us, &seen);
        if self.streak.frames < self.config.confirm_frames {
            return None;
        }
        let peaks = std::mem::take(&mut self.streak);
        self.active = Some(Active {
            peaks,
            last_motion_us: at_us,
            reported_area: peaks.area,
        });
        Some(MotionEvent::Start {
            started_us: peaks.started_us,
            at_us,
            zones: self.zone_names(peaks.zones),
            score: peaks.score,
            area: peaks.area,
            boxes: self.regions.clone(),
        })
    }

    fn end(&mut self, at_us: u64) -> Option<MotionEvent> {
        let active = self.active.take()?;
        let peaks = active.peaks;
        Some(MotionEvent::End {
            started_us: peaks.started_us,
            at_us,
            duration_us: active.last_motion_us.saturating_sub(peaks.started_us),
            zones: self.zone_names(peaks.zones),
            score: peaks.score,
            area: peaks.area,
        })
    }

    fn zone_names(&self, bits: u32) -> Vec<String> {
        (0..self.config.zone_count())
            .filter(|&z| bits & (1 << z) != 0)
            .map(|z| self.config.zone_name(z).to_owned())
            .collect()
    }
}

enum Outcome {
    Recalibrate(Recalibration),
    Compared(Option<Seen>),
}

/// Compares the shrunk frame with the background: the whole-frame checks,
/// then changed pixels, regions and zones. Fills `out` with the regions.
fn compare(
    plan: &mut Plan,
    config: &MotionConfig,
    thresholds: &[u8],
    base_threshold: u8,
    out: &mut Vec<Region>,
) -> (Outcome, f32) {
    if plan.unmasked == 0 {
        return (Outcome::Compared(None), 0.0);
    }
    let shift = plan.brightness_shift();
    if shift.unsigned_abs() > u16::from(config.brightness_jump) {
        return (
            Outcome::Recalibrate(Recalibration::Brightness { shift }),
            0.0,
        );
    }

    let offset = f32::from(shift);
    // Simple loops, one job each: the compiler vectorises them.
    for ((d, &f), &b) in plan.diff.iter_mut().zip(&plan.frame).zip(&plan.background) {
        *d = (f32::from(f) - offset - b).abs().min(255.0) as u8;
    }
    for ((c, &d), &t) in plan.changed.iter_mut().zip(&plan.diff).zip(&plan.threshold) {
        *c = u8::from(d > t);
    }
    let changed = plan
        .diff
        .iter()
        .zip(&plan.masked)
        .filter(|&(&d, &m)| d > base_threshold && !m)
        .count();
    let changed = changed as f32 / plan.unmasked as f32;
    if changed > config.whole_frame_area {
        return (
            Outcome::Recalibrate(Recalibration::WholeFrame { changed }),
            changed,
        );
    }

    plan.grown.copy_from_slice(&plan.changed);
    dilate(
        &mut plan.grown,
        &mut plan.scratch,
        plan.width,
        config.dilate,
    );
    let n = plan.frame.len();
    let (width, height) = (plan.width, n / plan.width);
    plan.zone_counts.fill(0);
    let mut total = 0u32;
    let Plan {
        grown,
        queue,
        changed: changed_px,
        diff,
        zones,
        zone_counts,
        region_min,
        ..
    } = plan;
    let mut local = [0u32; MAX_ZONES];
    regions(grown, width, config.connectivity == 8, queue, |pixels| {
        let mut count = 0u32;
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        let mut touched = 0u32;
        for &i in pixels {
            let i = i as usize;
            if changed_px[i] == 0 {
                continue;
            }
            count += 1;
            let (x, y) = (i % width, i / width);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            let mut bits = zones[i];
            while bits != 0 {
                let z = bits.trailing_zeros() as usize;
                if diff[i] > thresholds[z] {
                    if touched & (1 << z) == 0 {
                        local[z] = 0;
                        touched |= 1 << z;
                    }
                    local[z] += 1;
                }
                bits &= bits - 1;
            }
        }
        if count < *region_min {
            return;
        }
        total += count;
        let mut bits = touched;
        while bits != 0 {
            let z = bits.trailing_zeros() as usize;
            zone_counts[z] += local[z];
            bits &= bits - 1;
        }
        let region = Region {
            x: x0 as f32 / width as f32,
            y: y0 as f32 / height as f32,
            width: (x1 + 1 - x0) as f32 / width as f32,
            height: (y1 + 1 - y0) as f32 / height as f32,
            area: count as f32 / n as f32,
        };
        keep_largest(out, region);
    });
    out.sort_unstable_by(|a, b| b.area.total_cmp(&a.area));

    let mut hit = 0u32;
    let mut score = 0f32;
    for (z, (&count, &min)) in plan.zone_counts.iter().zip(&plan.zone_min).enumerate() {
        if count >= min {
            hit |= 1 << z;
            score = score.max(count as f32 / plan.zone_pixels[z].max(1) as f32);
        }
    }
    let seen = (hit != 0).then_some(Seen {
        zones: hit,
        score,
        area: total as f32 / n as f32,
    });
    (Outcome::Compared(seen), changed)
}

/// Adds `region` to `out`, keeping only the [`MAX_REGIONS`] largest.
fn keep_largest(out: &mut Vec<Region>, region: Region) {
    if out.len() < MAX_REGIONS {
        out.push(region);
        return;
    }
    if let Some(smallest) = out
        .iter_mut()
        .min_by(|a, b| a.area.total_cmp(&b.area))
        .filter(|s| s.area < region.area)
    {
        *smallest = region;
    }
}
