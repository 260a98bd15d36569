//! Camera health: a camera that stays away longer than `offline_alert_after`
//! raises `camera_offline`, which ends when its video is back.
//!
//! Brief drops (a camera's RTSP session renewed, a Wi-Fi hiccup: usually
//! reconnected within a few seconds) raise nothing; that is what the delay is
//! for. A camera that never came up since the relay started counts too.

use std::sync::Arc;
use std::time::Duration;

use sightline_wire::CameraState;
use tokio::sync::watch;

use super::{Alerts, Change, Signal, CAMERA_OFFLINE};
use crate::hub::Feed;

/// Watches one camera until shutdown.
pub async fn watch_camera(
    alerts: Arc<Alerts>,
    feed: Arc<Feed>,
    after: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut status = feed.subscribe_status();
    let mut raised = false;
    // Since when the camera has had no video (its state may change many
    // times meanwhile: reconnecting, offline with another reason…).
    let mut away_since = Some(tokio::time::Instant::now());
    loop {
        // A camera another relay of the cluster pulls is that relay's to report.
        let online =
            matches!(*status.borrow_and_update(), CameraState::Online) || feed.is_relayed();
        if online {
            away_since = None;
            if raised {
                raised = false;
                alerts.send(signal(&feed, Change::End)).await;
            }
        } else if away_since.is_none() {
            away_since = Some(tokio::time::Instant::now());
        }
        let deadline = away_since.filter(|_| !raised).map(|since| since + after);
        let wait_for_change = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                // Nothing to time: wait for the next change.
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            changed = status.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = wait_for_change => {
                if feed.is_relayed() {
                    // Another relay pulls it now: that relay reports it.
                    away_since = None;
                    continue;
                }
                raised = true;
                let reason = match feed.status() {
                    CameraState::Offline { reason } | CameraState::Reconnecting { reason } => Some(reason),
                    _ => None,
                };
                let secs = after.as_secs();
                alerts.send(signal(&feed, Change::Start {
                    kind: CAMERA_OFFLINE.into(),
                    label: None,
                    message: Some(match reason {
                        Some(reason) => format!("no video for more than {secs} s: {reason}"),
                        None => format!("no video for more than {secs} s"),
                    }),
                    severity: None,
                    zones: Vec::new(),
                    score: 0.0,
                    area: 0.0,
                    hold: None,
                    snapshot: None,
                })).await;
            }
            _ = shutdown.changed() => return,
        }
    }
}

fn signal(feed: &Feed, change: Change) -> Signal {
    Signal {
        camera: feed.id.clone(),
        key: CAMERA_OFFLINE.into(),
        change,
    }
}
