//! Motion detection by the relay: a camera's stream decoded (OpenH264) and
//! analysed ([`sightline_motion::Detector`]) on a thread of its own.
//!
//! The fan-out never waits for it. An async task reads the feed like a
//! viewer (not counted as one) and hands frames to the thread through a
//! bounded queue ([`DECODE_QUEUE`]); when the thread falls behind the queue
//! fills, and the task drops frames until the next keyframe (H.264 cannot
//! resume anywhere else), so memory stays at the queue's size whatever the
//! camera sends. Decoding every frame is the cost (the detector needs
//! 0.5–1.4 ms per analysed frame, see `sightline-motion`): 1080p cameras
//! should give a `detect_url` substream.

use std::sync::Arc;

use sightline_media::{encode_jpeg, Picture, SnapshotOptions};
use sightline_motion::{Detector, LumaFrame, MotionConfig, MotionEvent, FRAME_ZONE};
use sightline_wire::{MediaHeader, HEADER_LEN};
use tokio::sync::{broadcast, mpsc, watch};

use super::decode::FrameDecoder;
use super::{Alerts, Change, Signal, MOTION};
use crate::hub::{Feed, Frame};

/// Frames waiting for the decoder thread: about a second at 30 fps.
pub const DECODE_QUEUE: usize = 32;

enum Work {
    Frame {
        frame: Frame,
        /// Frames were dropped before this one: resume at a keyframe.
        after_gap: bool,
    },
    /// The camera stopped sending: a running event ends now (it would
    /// otherwise last until the camera is back).
    Finish,
}

/// Analyses `feed` (the camera's stream, or its `detect_url` substream) for
/// camera `camera` until shutdown.
pub async fn run(
    alerts: Arc<Alerts>,
    camera: String,
    feed: Arc<Feed>,
    config: MotionConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let detector = match Detector::new(config) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(%camera, "motion detection off: {e}");
            return;
        }
    };
    let (tx, rx) = mpsc::channel::<Work>(DECODE_QUEUE);
    let worker = {
        let alerts = alerts.clone();
        let camera = camera.clone();
        std::thread::Builder::new()
            .name(format!("motion-{camera}"))
            .spawn(move || analyse(rx, detector, &alerts, &camera))
    };
    let worker = match worker {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(%camera, "motion detection off: cannot start its thread: {e}");
            return;
        }
    };
    let mut sub = feed.subscribe_internal();
    let mut gap = false;
    let mut skipping = false;
    let hand_over = |frame: Frame, gap: &mut bool, skipping: &mut bool| {
        if feed.is_relayed() {
            // Another relay of the cluster pulls this camera and raises its
            // alerts; start at a keyframe if this relay takes over.
            *gap = true;
            *skipping = true;
            return;
        }
        if *skipping && !frame.keyframe {
            return;
        }
        *skipping = false;
        match tx.try_send(Work::Frame {
            frame,
            after_gap: std::mem::take(gap),
        }) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                *gap = true;
                *skipping = true;
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    };
    for frame in std::mem::take(&mut sub.gop) {
        hand_over(frame, &mut gap, &mut skipping);
    }
    let mut status = feed.subscribe_status();
    loop {
        tokio::select! {
            changed = status.changed() => {
                if changed.is_err() {
                    break;
                }
                let online = matches!(*status.borrow_and_update(), sightline_wire::CameraState::Online);
                if !online && tx.send(Work::Finish).await.is_err() {
                    break;
                }
            }
            frame = sub.live.recv() => match frame {
                Ok(frame) => hand_over(frame, &mut gap, &mut skipping),
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    gap = true;
                    skipping = true;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = shutdown.changed() => break,
        }
    }
    drop(tx);
    let _ = tokio::task::spawn_blocking(move || worker.join()).await;
}

/// The thread: decode every frame, analyse those the detector asks for.
fn analyse(mut rx: mpsc::Receiver<Work>, mut detector: Detector, alerts: &Alerts, camera: &str) {
    let mut decoder = match FrameDecoder::new() {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(%camera, "motion detection off: {e}");
            return;
        }
    };
    let mut waiting_for_keyframe = true;
    let mut newest_us = 0u64;
    while let Some(work) = rx.blocking_recv() {
        let (frame, after_gap) = match work {
            Work::Frame { frame, after_gap } => (frame, after_gap),
            Work::Finish => {
                if let Some(event) = detector.finish(newest_us) {
                    alerts.blocking_send(signal(camera, event, None));
                }
                waiting_for_keyframe = true;
                continue;
            }
        };
        if after_gap {
            waiting_for_keyframe = true;
        }
        if waiting_for_keyframe && !frame.keyframe {
            continue;
        }
        waiting_for_keyframe = false;
        let Ok((header, _)) = MediaHeader::parse(&frame.data) else {
            continue;
        };
        let at_us = u64::try_from(header.timestamp_us).unwrap_or(0);
        newest_us = at_us;
        let due = detector.due(at_us);
        let Some(payload) = frame.data.get(HEADER_LEN..) else {
            continue;
        };
        let decoded = decoder.decode(
            &frame.params.video,
            payload,
            header.timestamp_us,
            |picture| {
                if !due {
                    return None;
                }
                let Picture::I420(p) = picture else {
                    return None;
                };
                let luma = LumaFrame::new(p.width, p.height, p.y_stride, p.y).ok()?;
                let event = detector.process(&luma, at_us).event?;
                // The snapshot is the frame that confirmed the motion.
                let snapshot = match &event {
                    MotionEvent::Start { .. } => encode_jpeg(picture, &SnapshotOptions::default())
                        .ok()
                        .map(|j| j.bytes),
                    _ => None,
                };
                Some((event, snapshot))
            },
        );
        match decoded {
            Ok(Some(Some((event, snapshot)))) => {
                alerts.blocking_send(signal(camera, event, snapshot))
            }
            Ok(_) => true,
            Err(e) => {
                tracing::debug!(%camera, "motion: {e}; waiting for the next keyframe");
                waiting_for_keyframe = true;
                true
            }
        };
    }
    if let Some(event) = detector.finish(newest_us) {
        alerts.blocking_send(signal(camera, event, None));
    }
}

fn zones(zones: &[String]) -> Vec<String> {
    // The implicit whole-picture zone is no zone to name.
    zones.iter().filter(|z| *z != FRAME_ZONE).cloned().collect()
}

fn signal(camera: &str, event: MotionEvent, snapshot: Option<Vec<u8>>) -> Signal {
    let change = match event {
        MotionEvent::Start {
            zones: z,
            score,
            area,
            ..
        } => {
            let zones = zones(&z);
            Change::Start {
                kind: MOTION.into(),
                label: None,
                message: None,
                severity: None,
                zones,
                score: f64::from(score),
                area: f64::from(area),
                hold: None,
                snapshot,
            }
        }
        MotionEvent::Update {
            zones: z,
            score,
            area,
            ..
        } => Change::Update {
            zones: zones(&z),
            score: f64::from(score),
            area: f64::from(area),
        },
        MotionEvent::End { .. } => Change::End,
    };
    Signal {
        camera: camera.to_owned(),
        key: MOTION.into(),
        change,
    }
}
