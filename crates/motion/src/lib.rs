//! Motion detection on greyscale frames: frames in, regions and events out.
//!
//! The relay decodes a camera's stream, hands the luma (Y) plane of the
//! frames [`Detector::due`] asks for to [`Detector::process`], and turns the
//! [`MotionEvent`]s into alerts. This crate does no I/O and reads no clock
//! (timestamps come with the frames), so every rule below is tested here on
//! synthetic frames, without a relay, a camera or a browser.
//!
//! # What happens to a frame
//!
//! 1. **Shrink** to the analysis size (the longer side to
//!    [`MotionConfig::analysis_size`], 320 by default; a 1080p frame becomes
//!    320×180), each pixel the mean of the block it covers. Analysis then
//!    costs the same whatever the camera's resolution, and the averaging
//!    removes most sensor noise for free. Only the shrinking reads the full
//!    frame; see *Cost* below.
//! 2. **Whole-picture checks.** The median difference to the background says
//!    how much the whole picture got brighter or darker. A shift above
//!    [`MotionConfig::brightness_jump`] (lights switched on, the IR filter
//!    flipping), or more than [`MotionConfig::whole_frame_area`] of the picture
//!    changed at once (the camera moved), is not motion: the detector
//!    **recalibrates** (the background becomes this frame, and detection
//!    pauses for [`MotionConfig::settle_frames`] while exposure settles). So
//!    does [`Detector::recalibrate`], which the relay calls during PTZ moves.
//! 3. **Changed pixels:** `|frame − background − shift|` above the threshold
//!    of the pixel's zone ([`threshold_for`] its sensitivity). Taking the
//!    median shift out first means a gradual brightness drift, or the camera's
//!    exposure reacting to a bright object, changes no pixel.
//! 4. **Regions:** the changed pixels are dilated (3×3,
//!    [`MotionConfig::dilate`] times) so that the fragments of one object
//!    join, then grouped into connected regions (breadth first, no
//!    recursion); regions with fewer changed pixels than
//!    [`MotionConfig::min_area`] (rain, insects) are dropped.
//! 5. **Zones:** a zone counts when the changed pixels of the kept regions
//!    inside it, above *its* threshold, reach its minimum area. Zones and masks
//!    are polygons in 0..1 coordinates, rasterised once per frame size into a
//!    per-pixel map (pixel centres inside, even-odd rule); masked pixels are
//!    out of every zone and of the whole-picture checks. With no zone
//!    configured, the unmasked picture is one zone named [`FRAME_ZONE`].
//! 6. **Background:** a running average, `background += alpha × (frame −
//!    background)` ([`MotionConfig::alpha`]), so what stays (a parked car)
//!    becomes background and what drifts is followed. It learns 4 times more
//!    slowly under changed pixels, so that a passing object leaves no ghost
//!    trail behind it (numbers in the source, `FOREGROUND_SLOWDOWN`).
//! 7. **Time:** motion in [`MotionConfig::confirm_frames`] analysed frames in a
//!    row starts an event ([`MotionEvent::Start`]; a flash is shorter); a new
//!    zone or a peak half as large again reports an [`MotionEvent::Update`];
//!    [`MotionConfig::cooldown_secs`] without motion ends it
//!    ([`MotionEvent::End`]). A frame of another size (the camera changed
//!    resolution) or a timestamp going back (the stream restarted) ends a
//!    running event and starts afresh.
//!
//! # Cost
//!
//! Per analysed frame, release build, median of 300 frames (textured scene,
//! sensor noise, a walking object, two zones), on a 2-core AMD EPYC VM with
//! other builds running; `cargo run --release -p sightline-motion --example
//! cost` measures it again:
//!
//! | camera frame | per analysed frame | at 5 fps |
//! | --- | --- | --- |
//! | 1920×1080 | 1.4 ms | 0.7 % of a core |
//! | 1280×720 | 0.9 ms | 0.45 % of a core |
//! | 640×360 | 0.7 ms | 0.35 % of a core |
//! | 320×180 (no shrinking) | 0.5 ms | 0.25 % of a core |
//!
//! The last row is the analysis proper, the same for every camera once the
//! frame is shrunk to 320×180; shrinking adds under half a nanosecond per input
//! pixel (0.9 ms at 1080p). Against the alerts budget (3 % of a core per
//! camera at 360p, 10 % at 720p, decoding included), detection is a rounding
//! error: decoding every frame, which H.264 requires even when only one in six
//! is analysed, is the cost to watch.
//!
//! # Memory
//!
//! All buffers are sized by the analysis picture and allocated once per
//! input frame size: 19 bytes per analysed pixel (the background is `f32`),
//! 1.1 MB at 320×180, plus 4 bytes per input column for shrinking (7.5 KB at
//! 1080p). Nothing grows with time or with motion: at most [`MAX_REGIONS`]
//! regions are kept per frame, and events allocate only their zone names and
//! boxes.
//!
//! # What it does not do
//!
//! - Decode: the caller hands over the luma plane of decoded frames.
//! - Tell people from shadows, trees or headlights: it sees change, not
//!   objects. Masks, zones, sensitivity and minimum area are the tools.
//! - Track objects across frames, or follow a moving camera: a PTZ move
//!   recalibrates; detection resumes once the view holds still.
//!
//! # Example
//!
//! ```
//! use sightline_motion::{Detector, LumaFrame, MotionConfig, MotionEvent, Zone};
//!
//! let config = MotionConfig {
//!     zones: vec![Zone::new("door", vec![[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]])],
//!     ..MotionConfig::default()
//! };
//! let mut detector = Detector::new(config)?;
//!
//! let (w, h) = (640, 360);
//! let mut events = Vec::new();
//! for i in 0..60u64 {
//!     let at_us = i * 200_000; // 5 fps
//!     let mut y_plane = vec![90u8; w * h];
//!     if (10..20).contains(&i) {
//!         // Someone crosses the left half.
//!         let x0 = 20 + i as usize * 8;
//!         for row in y_plane.chunks_exact_mut(w).skip(100).take(120) {
//!             row[x0..x0 + 40].fill(220);
//!         }
//!     }
//!     let frame = LumaFrame::new(w as u32, h as u32, w, &y_plane)?;
//!     if detector.due(at_us) {
//!         events.extend(detector.process(&frame, at_us).event);
//!     }
//! }
//! assert!(matches!(&events[0], MotionEvent::Start { zones, .. } if zones == &["door"]));
//! assert!(matches!(events.last(), Some(MotionEvent::End { .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod config;
mod detector;
mod frame;
mod ops;

#[cfg(test)]
mod tests;

pub use config::{
    threshold_for, ConfigError, Mask, MotionConfig, Zone, FRAME_ZONE, MAX_POINTS, MAX_ZONES,
};
pub use detector::{Analysis, Detector, MotionEvent, Recalibration, Region, Status, MAX_REGIONS};
pub use frame::{FrameError, LumaFrame, MAX_DIMENSION};
