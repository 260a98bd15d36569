//! Camera events over ONVIF (the zero-CPU path): a PullPoint subscription
//! per camera with an `onvif` address ([`sightline_onvif::run_events`]:
//! clock offset, renew, resubscribe with backoff, the debounce of a camera
//! that never says "end"), each state turned into an alert of kind
//! `onvif:<topic>`, one per topic and source (a camera with two motion
//! rules raises two).

use std::sync::Arc;

use sightline_onvif::{run_events, EventOptions, EventStatus, EventUpdate, StateChange};
use tokio::sync::{mpsc, watch};

use super::{check_kind, Alerts, Change, Signal};
use crate::config::OnvifSource;

/// Updates waiting for this task; the subscriber waits when it is full.
const UPDATES: usize = 32;

/// Follows camera `camera`'s events until shutdown.
pub async fn run(
    alerts: Arc<Alerts>,
    camera: String,
    source: OnvifSource,
    // Its frames relayed from another relay of the cluster: that relay
    // raises the camera's alerts.
    feed: Option<Arc<crate::hub::Feed>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let device = match source.camera() {
        Ok(device) => device,
        Err(e) => {
            tracing::error!(%camera, "ONVIF events off: {e}");
            return;
        }
    };
    let mut options = EventOptions::default();
    for topic in &source.topics {
        if !options.topics.contains(topic) {
            options.topics.push(topic.clone());
        }
    }
    let (tx, mut rx) = mpsc::channel(UPDATES);
    let mut stop = shutdown.clone();
    let subscriber = tokio::spawn(async move {
        run_events(&device, &options, &tx, async move {
            let _ = stop.changed().await;
        })
        .await;
    });
    loop {
        let update = tokio::select! {
            update = rx.recv() => match update {
                Some(update) => update,
                None => break,
            },
            _ = shutdown.changed() => break,
        };
        match update {
            EventUpdate::Change(StateChange::Started { topic, source, .. }) => {
                if feed.as_ref().is_some_and(|f| f.is_relayed()) {
                    continue;
                }
                let kind = format!("onvif:{topic}");
                if let Err(why) = check_kind(&kind) {
                    tracing::debug!(%camera, "ONVIF event ignored: {why}");
                    continue;
                }
                alerts
                    .send(Signal {
                        camera: camera.clone(),
                        key: key(&topic, &source),
                        change: Change::Start {
                            kind,
                            label: None,
                            message: None,
                            severity: None,
                            zones: Vec::new(),
                            score: 0.0,
                            area: 0.0,
                            hold: None,
                            snapshot: None,
                        },
                    })
                    .await;
            }
            EventUpdate::Change(StateChange::Ended { topic, source, .. }) => {
                alerts
                    .send(Signal {
                        camera: camera.clone(),
                        key: key(&topic, &source),
                        change: Change::End,
                    })
                    .await;
            }
            EventUpdate::Status(EventStatus::Connected { clock_offset, .. }) => {
                tracing::info!(%camera, ?clock_offset, "ONVIF events: subscribed");
            }
            EventUpdate::Status(EventStatus::Failed {
                message, failures, ..
            }) => {
                // Every failure of a run of them would flood the log.
                if failures.is_power_of_two() {
                    tracing::warn!(%camera, failures, "ONVIF events: {message}");
                }
            }
        }
    }
    let _ = subscriber.await;
}

/// One alert per topic and source; a camera's source text is cut short (a
/// reply may be large, and the key is kept while the alert lasts).
fn key(topic: &str, source: &str) -> String {
    let source: String = source.chars().take(200).collect();
    format!("onvif:{topic}:{source}")
}
