//! Per-camera counters ([`FeedStats`], updated on the hot path with atomics) and
//! their rendering as Prometheus/OpenMetrics text for `GET /metrics`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use sightline_wire::CameraState;

use crate::hub::Hub;

/// The window over which `fps` and `bitrate` are measured.
const RATE_WINDOW: Duration = Duration::from_secs(5);

/// What one camera's feed has done since the relay started.
#[derive(Debug, Default)]
pub struct FeedStats {
    frames: AtomicU64,
    bytes: AtomicU64,
    reconnects: AtomicU64,
    attempts: AtomicU64,
    dropped: AtomicU64,
    /// Frames handed to viewers' sockets, summed over viewers.
    sent: AtomicU64,
    /// Connect (DESCRIBE sent) to first frame published, of the latest session, in µs.
    connect_to_first_frame_us: AtomicU64,
    /// (when, payload bytes) of the frames inside [`RATE_WINDOW`].
    recent: Mutex<VecDeque<(Instant, u32)>>,
}

impl FeedStats {
    /// A frame was published.
    pub fn frame(&self, payload_bytes: usize) {
        self.frames.fetch_add(1, Ordering::Relaxed);
        self.bytes
            .fetch_add(payload_bytes as u64, Ordering::Relaxed);
        let now = Instant::now();
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        prune(&mut recent, now);
        recent.push_back((now, u32::try_from(payload_bytes).unwrap_or(u32::MAX)));
    }

    /// The source lost its camera after streaming and is reconnecting.
    pub fn reconnect(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    /// The source starts a connection attempt.
    pub fn attempt(&self) {
        self.attempts.fetch_add(1, Ordering::Relaxed);
    }

    /// A viewer fell behind and these frames were not sent to it.
    pub fn dropped(&self, frames: u64) {
        self.dropped.fetch_add(frames, Ordering::Relaxed);
    }

    /// One frame was handed to one viewer's socket.
    pub fn sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    pub fn frames_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    pub fn connected_in(&self, elapsed: Duration) {
        self.connect_to_first_frame_us
            .store(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }

    pub fn dropped_frames(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Frames per second and bits per second over the last [`RATE_WINDOW`].
    pub fn rates(&self) -> (f64, f64) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        prune(&mut recent, Instant::now());
        let secs = RATE_WINDOW.as_secs_f64();
        let bytes: u64 = recent.iter().map(|&(_, b)| u64::from(b)).sum();
        (recent.len() as f64 / secs, bytes as f64 * 8.0 / secs)
    }
}

fn prune(recent: &mut VecDeque<(Instant, u32)>, now: Instant) {
    while recent
        .front()
        .is_some_and(|&(t, _)| now.duration_since(t) > RATE_WINDOW)
    {
        recent.pop_front();
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CameraLabel {
    camera: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StopLabel {
    camera: String,
    reason: &'static str,
}

/// The whole relay as OpenMetrics text (which Prometheus scrapes natively).
pub fn render(hub: &Hub, ptz: &crate::ptz::Ptz) -> String {
    let mut root = <Registry>::with_prefix("sightline");
    let sessions = Gauge::<i64>::default();
    root.register(
        "websocket_sessions",
        "WebSocket sessions open now (one per page, however many players it shows)",
        sessions.clone(),
    );
    sessions.set(hub.sessions() as i64);
    let counter = |registry: &mut Registry, name: &str, help: &str| {
        let family = Family::<CameraLabel, Counter>::default();
        registry.register(name, help, family.clone());
        family
    };
    let gauge = |registry: &mut Registry, name: &str, help: &str| {
        let family = Family::<CameraLabel, Gauge<f64, AtomicU64>>::default();
        registry.register(name, help, family.clone());
        family
    };
    // Main streams as `sightline_camera_*`, substreams as `sightline_substream_*`
    // (same names after the prefix, same `camera` label): a substream is
    // pulled, counted and watched on its own, and sums by camera stay those
    // of the cameras' main streams.
    for (prefix, main) in [("camera", true), ("substream", false)] {
        let feeds: Vec<_> = hub
            .all_feeds()
            .into_iter()
            .filter(|f| f.stream.is_main() == main)
            .collect();
        if !main && feeds.is_empty() {
            continue;
        }
        let registry = root.sub_registry_with_prefix(prefix);
        let frames = counter(registry, "frames", "Frames received from the camera");
        let bytes = counter(registry, "bytes", "Video payload bytes received");
        let reconnects = counter(
            registry,
            "reconnects",
            "Times the camera dropped after streaming and was reconnected",
        );
        let attempts = counter(
            registry,
            "connect_attempts",
            "Connection attempts to the camera (failed ones are retried with backoff)",
        );
        let dropped = counter(
            registry,
            "dropped_frames",
            "Frames not sent to viewers that fell behind (they skip to the next keyframe)",
        );
        let sent = counter(
            registry,
            "frames_sent",
            "Frames sent to viewers, summed over viewers (a paused or hidden player gets none)",
        );
        let fps = gauge(registry, "fps", "Frames per second over the last 5 s");
        let bitrate = gauge(registry, "bitrate_bps", "Bits per second over the last 5 s");
        let viewers = gauge(registry, "viewers", "WebSocket viewers subscribed");
        let online = gauge(registry, "online", "1 when the camera is streaming");
        let connect = gauge(
            registry,
            "connect_to_first_frame_seconds",
            "Time from connecting to the first frame, latest session",
        );
        for feed in feeds {
            let label = CameraLabel {
                camera: feed.id.clone(),
            };
            let s = &feed.stats;
            frames.get_or_create(&label).inc_by(s.frames());
            bytes
                .get_or_create(&label)
                .inc_by(s.bytes.load(Ordering::Relaxed));
            reconnects.get_or_create(&label).inc_by(s.reconnects());
            attempts
                .get_or_create(&label)
                .inc_by(s.attempts.load(Ordering::Relaxed));
            dropped.get_or_create(&label).inc_by(s.dropped_frames());
            sent.get_or_create(&label).inc_by(s.frames_sent());
            let (f, b) = s.rates();
            fps.get_or_create(&label).set(f);
            bitrate.get_or_create(&label).set(b);
            viewers.get_or_create(&label).set(feed.viewers() as f64);
            let is_online = matches!(feed.status(), CameraState::Online);
            online
                .get_or_create(&label)
                .set(if is_online { 1.0 } else { 0.0 });
            let us = s.connect_to_first_frame_us.load(Ordering::Relaxed);
            connect.get_or_create(&label).set(us as f64 / 1e6);
        }
    }
    let registry = root.sub_registry_with_prefix("ptz");
    let stops = Family::<StopLabel, Counter>::default();
    registry.register(
        "stops",
        "Stops decided: asked by the operator, silence (renewals stopped), gone (socket closed or unsubscribed), taken_over",
        stops.clone(),
    );
    let commands = counter(registry, "commands", "PTZ commands sent to the camera");
    let failures = counter(
        registry,
        "failures",
        "PTZ commands the camera refused or did not answer (a failed Stop is retried)",
    );
    for controller in ptz.controllers() {
        let s = &controller.stats;
        for (i, reason) in crate::ptz::rules::StopReason::ALL.iter().enumerate() {
            stops
                .get_or_create(&StopLabel {
                    camera: controller.camera.clone(),
                    reason: reason.name(),
                })
                .inc_by(s.stops[i].load(Ordering::Relaxed));
        }
        let label = CameraLabel {
            camera: controller.camera.clone(),
        };
        commands
            .get_or_create(&label)
            .inc_by(s.commands.load(Ordering::Relaxed));
        failures
            .get_or_create(&label)
            .inc_by(s.failures.load(Ordering::Relaxed));
    }
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &root);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_cover_the_recent_window() {
        let stats = FeedStats::default();
        for _ in 0..50 {
            stats.frame(1000);
        }
        let (fps, bps) = stats.rates();
        assert_eq!(fps, 10.0);
        assert_eq!(bps, 50.0 * 1000.0 * 8.0 / 5.0);
        assert_eq!(stats.frames(), 50);
    }

    #[test]
    fn render_names_every_camera() {
        let hub = Hub::default();
        let feed = hub.add_camera("door", "Door").unwrap();
        feed.stats.frame(100);
        feed.stats.reconnect();
        feed.stats.dropped(7);
        feed.stats.sent();
        let text = render(&hub, &crate::ptz::Ptz::default());
        for line in [
            "sightline_camera_frames_total{camera=\"door\"} 1",
            "sightline_camera_bytes_total{camera=\"door\"} 100",
            "sightline_camera_reconnects_total{camera=\"door\"} 1",
            "sightline_camera_dropped_frames_total{camera=\"door\"} 7",
            "sightline_camera_frames_sent_total{camera=\"door\"} 1",
            "sightline_camera_viewers{camera=\"door\"} 0",
            "sightline_camera_online{camera=\"door\"} 0",
            "sightline_websocket_sessions 0",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }

    /// A substream's series are `sightline_substream_*`; the camera's stay
    /// its main stream's (sums by camera are not doubled by substreams).
    #[test]
    fn a_substream_is_its_own_series() {
        let hub = Hub::default();
        let main = hub.add_camera("door", "Door").unwrap();
        let sub = hub.add_substream("door").unwrap();
        main.stats.frame(1000);
        for _ in 0..3 {
            sub.stats.frame(100);
        }
        let text = render(&hub, &crate::ptz::Ptz::default());
        for line in [
            "sightline_camera_frames_total{camera=\"door\"} 1",
            "sightline_camera_bytes_total{camera=\"door\"} 1000",
            "sightline_substream_frames_total{camera=\"door\"} 3",
            "sightline_substream_bytes_total{camera=\"door\"} 300",
            "sightline_substream_viewers{camera=\"door\"} 0",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }
}
