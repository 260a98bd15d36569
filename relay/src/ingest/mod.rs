//! Where cameras' video comes from. Every source publishes into its camera's
//! [`Feed`](crate::hub::Feed) and reports its state there; none of them waits
//! on a viewer.
//!
//! - [`rtsp`]: IP cameras over RTSP (retina), one supervisor task each,
//!   reconnecting forever.
//! - [`demo`]: the built-in demo camera (a synthetic scene encoded with
//!   OpenH264 on a thread of its own) and [`demo::replay`], a recorded clip
//!   looped (benchmarks, trying the relay offline).

pub mod demo;
pub mod rtsp;
