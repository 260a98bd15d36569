//! What an alert keeps of the video, as pure, host-testable pieces (no relay,
//! no async, no clock):
//!
//! - [`clip`]: an MP4 writer for H.264 as received (no re-encoding) that streams
//!   samples to any `Write + Seek` and keeps only the sample table in memory;
//!   muxing by `shiguredo_mp4` (why: see the module).
//! - [`preroll`]: the per-camera ring of recent frames a clip starts with,
//!   bounded in bytes, whole GOPs from a keyframe.
//! - [`lifecycle`]: when a clip stops (alert end + post-roll, length cap).
//! - [`snapshot`]: I420 or greyscale planes → a JPEG at most 640 px wide.
//!
//! How the relay strings them together, per alert:
//!
//! ```no_run
//! # use sightline_media::{clip::*, lifecycle::*, preroll::*};
//! # fn run(ring: &Preroll, avcc: &[u8], live: &mut dyn Iterator<Item = (PrerollFrame, Vec<u8>)>) -> Result<(), ClipError> {
//! let pre = ring.snapshot();
//! let Some(first) = pre.first() else { return Ok(()) }; // nothing yet: start at the next keyframe
//! let file = std::fs::File::create("clip.mp4.part")?;
//! let mut clip = ClipWriter::new(std::io::BufWriter::new(file), avcc, ClipOptions::default())?;
//! let mut schedule = ClipSchedule::new(ClipPolicy::default(), first.timestamp_us);
//! for f in &pre {
//!     clip.push(ClipFrame { record: avcc, data: &f.data, timestamp_us: f.timestamp_us, keyframe: f.keyframe })?;
//! }
//! if ring.truncated() {
//!     clip.resync();
//! }
//! for (f, frame_avcc) in live {
//!     // on alert end: schedule.alert_ended(newest_frame_ts)
//!     if let ClipDecision::Stop(_) = schedule.decide(f.timestamp_us) {
//!         break;
//!     }
//!     let frame = ClipFrame { record: &frame_avcc, data: &f.data, timestamp_us: f.timestamp_us, keyframe: f.keyframe };
//!     match clip.push(frame) {
//!         Ok(Pushed::ParamsChanged) => break,
//!         Ok(_) | Err(ClipError::BadAccessUnit(_)) => {}
//!         Err(e) => return Err(e),
//!     }
//! }
//! let (_file, summary) = clip.finish()?; // then rename clip.mp4.part → clip.mp4
//! # let _ = summary; Ok(()) }
//! ```

pub mod clip;
pub mod lifecycle;
pub mod preroll;
pub mod snapshot;

pub use clip::{ClipError, ClipFrame, ClipOptions, ClipSummary, ClipWriter, Pushed};
pub use lifecycle::{ClipDecision, ClipPolicy, ClipSchedule, StopReason};
pub use preroll::{Preroll, PrerollConfig, PrerollFrame};
pub use snapshot::{encode_jpeg, Grey, Jpeg, Picture, SnapshotError, SnapshotOptions, I420};
