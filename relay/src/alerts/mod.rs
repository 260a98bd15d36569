//! Alerts: one engine between the sources that notice something and everyone
//! who must be told.
//!
//! ```text
//! motion (decoded frames, off the async threads) ─┐
//! ONVIF events (PullPoint)  ──────────────────────┤  Signal   ┌─▶ SQLite history (+ snapshot, clip files)
//! webhooks (POST /api/cameras/{id}/alerts) ───────┼─────────▶ engine ─┼─▶ every socket allowed to see the camera
//! camera health (offline > offline_alert_after) ──┘  (bounded) └─▶ MQTT
//! ```
//!
//! Sources call [`Alerts::signal`], which never waits: the queue is bounded
//! ([`SIGNAL_QUEUE`]) and a full queue drops the signal and counts it (it
//! takes a storm of thousands of alerts in a second to fill it; the engine
//! writes one alert in about 5 ms, most of it SQLite's fsync). The engine is
//! one task: it turns signals into alert rows (start, update, end), keeps the
//! set of active alerts for sockets that open later, and broadcasts every
//! change on a bounded ring ([`LIVE_QUEUE`]); a session that falls behind is
//! closed (the player reconnects and is sent the active set afresh) rather
//! than queueing without end. The relay's own sources wait for room in the
//! queue ([`Alerts::send`]: an "end" is never lost); webhooks, which a caller
//! could flood, are refused when it is full ([`Alerts::signal`]).
//!
//! Every alert has a camera, and every path to it — the socket, the history
//! API, its snapshot and clip — checks the caller's grant for that camera on
//! every request.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::Deserialize;
use sightline_store::{Alert, MediaFile, MediaKind, NewAlert, Severity, Store, StoreError};
use sightline_wire::{AlertEvent, AlertInfo, AlertSeverity};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;

use crate::error::{Error, ErrorKind};

pub(crate) mod api;
mod decode;
pub mod health;
pub mod media;
pub mod motion;
pub mod mqtt;
pub mod onvif;

/// Signals waiting for the engine. Sources never wait for room.
pub const SIGNAL_QUEUE: usize = 1024;
/// Alert changes a session may fall behind by before it is re-sent the
/// active set instead.
pub const LIVE_QUEUE: usize = 256;
/// The alerts folder inside the data directory (snapshots and clips).
pub const MEDIA_DIR: &str = "alerts";
/// How often retention (days, disk budget) is enforced.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);
/// How often held alerts (webhooks without `end`) are checked for expiry.
const HOLD_TICK: Duration = Duration::from_millis(250);

/// `[alerts]` in the config file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// Alerts (and their files) older than this many days are deleted.
    pub retention_days: u32,
    /// Snapshots and clips together stay under this many bytes; the oldest
    /// files go first (the alerts themselves stay until `retention_days`).
    pub disk_budget: u64,
    /// A camera offline for longer than this (seconds) raises `camera_offline`.
    pub offline_alert_after: u64,
    /// Record a clip for each alert.
    pub clips: bool,
    /// Seconds of video before the alert a clip starts with (at least).
    pub pre_roll: u64,
    /// Seconds of video after the alert ends.
    pub post_roll: u64,
    /// The longest clip, in seconds.
    pub max_clip: u64,
    /// Seconds a webhook alert without `end` stays active (each new call for
    /// the same label extends it).
    pub webhook_hold: u64,
    /// Severity per kind: an exact kind (`webhook:doorbell`) or a prefix
    /// ending in `:` (`onvif:`). Defaults: `camera_offline` critical, the rest
    /// warning.
    pub severity: BTreeMap<String, AlertSeverity>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            retention_days: 30,
            disk_budget: 2 << 30,
            offline_alert_after: 30,
            clips: true,
            pre_roll: 3,
            post_roll: 5,
            max_clip: 60,
            webhook_hold: 10,
            severity: BTreeMap::new(),
        }
    }
}

impl AlertsConfig {
    /// The severity of a kind: the exact entry, else the longest prefix
    /// entry, else the built-in default.
    pub fn severity_of(&self, kind: &str) -> AlertSeverity {
        if let Some(s) = self.severity.get(kind) {
            return *s;
        }
        let prefix = self
            .severity
            .iter()
            .filter(|(k, _)| k.ends_with(':') && kind.starts_with(k.as_str()))
            .max_by_key(|(k, _)| k.len());
        match prefix {
            Some((_, s)) => *s,
            None if kind == CAMERA_OFFLINE => AlertSeverity::Critical,
            None => AlertSeverity::Warning,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.retention_days == 0 {
            return Err("retention_days must be at least 1".into());
        }
        if self.max_clip == 0 || self.max_clip > 600 {
            return Err("max_clip must be from 1 to 600 seconds".into());
        }
        if self.pre_roll > 30 || self.post_roll > 60 {
            return Err("pre_roll is at most 30 s and post_roll at most 60 s".into());
        }
        if self.offline_alert_after == 0 || self.offline_alert_after > 86_400 {
            return Err("offline_alert_after must be from 1 to 86400 seconds".into());
        }
        if self.webhook_hold == 0 || self.webhook_hold > 3600 {
            return Err("webhook_hold must be from 1 to 3600 seconds".into());
        }
        for kind in self.severity.keys() {
            check_kind(kind)?;
        }
        Ok(())
    }
}

/// The kind of the camera-health alert.
pub const CAMERA_OFFLINE: &str = "camera_offline";
/// The kind of the relay's own motion alerts.
pub const MOTION: &str = "motion";

/// A kind is 1 to 128 printable characters without spaces.
pub fn check_kind(kind: &str) -> Result<(), String> {
    if kind.is_empty() || kind.len() > 128 || !kind.chars().all(|c| c.is_ascii_graphic()) {
        return Err(format!(
            "{kind:?} is not an alert kind: 1 to 128 printable ASCII characters, no spaces"
        ));
    }
    Ok(())
}

/// What a source says about one camera. `key` tells a source's separate
/// alerts apart on one camera (an ONVIF topic and its source, a webhook's
/// label); a `Start` for a key that is already active updates it.
#[derive(Debug, Clone)]
pub struct Signal {
    pub camera: String,
    pub key: String,
    pub change: Change,
}

#[derive(Debug, Clone)]
pub enum Change {
    Start {
        kind: String,
        /// `None`: said by the kind and zones ("Motion: door").
        label: Option<String>,
        message: Option<String>,
        /// `None`: the configured severity of `kind`.
        severity: Option<AlertSeverity>,
        zones: Vec<String>,
        score: f64,
        area: f64,
        /// Ends by itself this long after the last `Start`/`Update` unless
        /// renewed (sources that never say "end").
        hold: Option<Duration>,
        /// A JPEG of the frame that triggered it, when the source has one;
        /// else the engine decodes the newest frame.
        snapshot: Option<Vec<u8>>,
    },
    Update {
        zones: Vec<String>,
        score: f64,
        area: f64,
    },
    End,
}

/// One change, as every socket receives it.
#[derive(Debug, Clone)]
pub struct AlertChange {
    pub event: AlertEvent,
    pub alert: AlertInfo,
}

/// An open alert in the engine.
struct Open {
    id: i64,
    hold: Option<Duration>,
    expires: Option<Instant>,
}

/// The alert service: shared by the sources, the sessions and the API.
pub struct Alerts {
    pub config: AlertsConfig,
    store: Arc<Store>,
    /// The data directory's `alerts/` folder; `None`: no snapshots or clips
    /// (a relay without a data directory, tests and benchmarks only).
    media_dir: Option<PathBuf>,
    signals: mpsc::Sender<Signal>,
    live: broadcast::Sender<Arc<AlertChange>>,
    active: Mutex<BTreeMap<i64, AlertInfo>>,
    /// Signals dropped because the queue was full.
    pub dropped: AtomicU64,
    media: media::Recorder,
    /// Changes of this relay's alerts (and acknowledgements made here) for
    /// the other relays of a cluster (`cluster/alerts.rs`), once connected.
    cluster_out: std::sync::OnceLock<mpsc::Sender<Arc<AlertChange>>>,
    /// Alerts this start ended (left open by a crash), for the cluster.
    ended_at_start: Mutex<Vec<AlertInfo>>,
    /// Changes not sent to the cluster because its queue was full.
    pub cluster_dropped: AtomicU64,
    /// The cluster, once joined: where copies' snapshots and clips are.
    cluster: std::sync::OnceLock<sightline_cluster::Cluster>,
    /// Set once the engine has stopped (its last Ends told).
    engine_stopped: watch::Sender<bool>,
}

/// Changes waiting to go to the cluster: a NATS outage this many alert
/// changes long loses the rest (counted, logged).
pub const CLUSTER_QUEUE: usize = 1024;

impl std::fmt::Debug for Alerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerts").finish_non_exhaustive()
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub fn severity_to_store(s: AlertSeverity) -> Severity {
    match s {
        AlertSeverity::Info => Severity::Info,
        AlertSeverity::Warning => Severity::Warning,
        AlertSeverity::Critical => Severity::Critical,
    }
}

fn severity_to_wire(s: Severity) -> AlertSeverity {
    match s {
        Severity::Info => AlertSeverity::Info,
        Severity::Warning => AlertSeverity::Warning,
        Severity::Critical => AlertSeverity::Critical,
    }
}

/// A stored alert as the wire shows it.
pub fn info(alert: &Alert) -> AlertInfo {
    AlertInfo {
        id: alert.id,
        camera: alert.camera.clone(),
        kind: alert.kind.clone(),
        severity: severity_to_wire(alert.severity),
        label: alert
            .label
            .clone()
            .unwrap_or_else(|| default_label(&alert.kind, &alert.zones)),
        message: alert.message.clone(),
        started_at_ms: alert.started_at_ms,
        ended_at_ms: alert.ended_at_ms,
        zones: alert.zones.clone(),
        score: alert.score,
        area: alert.area,
        acked_by: alert.acked_by.clone(),
        acked_at_ms: alert.acked_at,
        // A copy's files are on its relay, fetched from there on request.
        snapshot: alert.snapshot.is_some() || alert.origin.as_ref().is_some_and(|o| o.snapshot),
        clip: alert.clip.is_some() || alert.origin.as_ref().is_some_and(|o| o.clip),
    }
}

/// "Motion: door, yard", "Camera offline", "CellMotionDetector/Motion".
pub fn default_label(kind: &str, zones: &[String]) -> String {
    match kind {
        MOTION if zones.is_empty() => "Motion".into(),
        MOTION => format!("Motion: {}", zones.join(", ")),
        CAMERA_OFFLINE => "Camera offline".into(),
        _ => match kind.split_once(':') {
            Some(("onvif", topic)) => topic
                .split('/')
                .rev()
                .take(2)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("/"),
            Some((_, label)) => label.to_owned(),
            None => kind.to_owned(),
        },
    }
}

impl Alerts {
    /// Starts the engine and its retention task. `data`: the data directory
    /// (snapshots and clips go to its `alerts/` folder).
    pub fn start(
        config: AlertsConfig,
        store: Arc<Store>,
        data: Option<&Path>,
        hub: Arc<crate::hub::Hub>,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<Arc<Alerts>> {
        let media_dir = match data {
            Some(dir) => {
                let dir = dir.join(MEDIA_DIR);
                crate::app::create_private_dir(&dir).map_err(|e| {
                    anyhow::anyhow!("cannot create the alerts folder {}: {e}", dir.display())
                })?;
                Some(dir)
            }
            None => None,
        };
        // Alerts left open by a crash or a kill: they ended when the relay did.
        let now = now_ms();
        let mut ended_at_start = Vec::new();
        for alert in store.open_alerts()? {
            ended_at_start.push(info(&store.end_alert(alert.id, now)?));
        }
        // Other relays' alerts still open: active until their relay ends them.
        let copied: BTreeMap<i64, AlertInfo> = store
            .open_copied_alerts()?
            .iter()
            .map(|a| (a.id, info(a)))
            .collect();
        let (signals, rx) = mpsc::channel(SIGNAL_QUEUE);
        let alerts = Arc::new(Alerts {
            media: media::Recorder::new(hub, media_dir.clone(), &config),
            config,
            store,
            media_dir,
            signals,
            live: broadcast::channel(LIVE_QUEUE).0,
            active: Mutex::new(copied),
            dropped: AtomicU64::new(0),
            cluster_out: std::sync::OnceLock::new(),
            ended_at_start: Mutex::new(ended_at_start),
            cluster_dropped: AtomicU64::new(0),
            cluster: std::sync::OnceLock::new(),
            engine_stopped: watch::channel(false).0,
        });
        // Before anything records: leftovers of a crash (a file written but
        // not recorded, a record of a file that never made it) go now.
        if let Err(e) = alerts.enforce_retention(true) {
            tracing::warn!("alert retention at start failed: {e:#}");
        }
        tokio::spawn(alerts.clone().engine(rx, shutdown.clone()));
        tokio::spawn(alerts.clone().housekeeping(shutdown));
        Ok(alerts)
    }

    /// Hands a signal to the engine without waiting; false (and counted) when
    /// the queue is full.
    pub fn signal(&self, signal: Signal) -> bool {
        match self.signals.try_send(signal) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(s)) => {
                let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(camera = %s.camera, dropped = n, "alert queue full: a signal was dropped");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Hands a signal to the engine, waiting for room: for the relay's own
    /// sources (motion, ONVIF, health), whose "end" must never be lost — an
    /// alert that never ends would stay on screens and keep MQTT at ON.
    /// Only webhooks, which a caller could flood, use [`Alerts::signal`].
    pub async fn send(&self, signal: Signal) -> bool {
        self.signals.send(signal).await.is_ok()
    }

    /// [`Alerts::send`] from a blocking thread (the motion decoder).
    pub fn blocking_send(&self, signal: Signal) -> bool {
        self.signals.blocking_send(signal).is_ok()
    }

    /// Every change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<AlertChange>> {
        self.live.subscribe()
    }

    /// The alerts active now, oldest first.
    pub fn active(&self) -> Vec<AlertInfo> {
        lock(&self.active).values().cloned().collect()
    }

    /// The database (the API reads history from it).
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Where snapshot and clip files are, if anywhere.
    pub fn media_dir(&self) -> Option<&Path> {
        self.media_dir.as_deref()
    }

    pub(crate) async fn db<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(Error::internal)?
            .map_err(Error::from)
    }

    /// From now on, this relay's alert changes (and acknowledgements made
    /// here) also go to the returned queue, for the cluster; the alerts this
    /// start ended come first. Once only: `None` after the first call.
    pub fn to_cluster(&self) -> Option<mpsc::Receiver<Arc<AlertChange>>> {
        let (tx, rx) = mpsc::channel(CLUSTER_QUEUE);
        self.cluster_out.set(tx.clone()).ok()?;
        for alert in std::mem::take(&mut *lock(&self.ended_at_start)) {
            let _ = tx.try_send(Arc::new(AlertChange {
                event: AlertEvent::End,
                alert,
            }));
        }
        Some(rx)
    }

    /// Becomes `true` once the engine has stopped, its last changes told.
    pub(crate) fn engine_stopped(&self) -> watch::Receiver<bool> {
        self.engine_stopped.subscribe()
    }

    /// The cluster this relay joined (copies' files are fetched through it).
    pub fn join_cluster(&self, cluster: sightline_cluster::Cluster) {
        let _ = self.cluster.set(cluster);
    }

    pub(crate) fn cluster(&self) -> Option<&sightline_cluster::Cluster> {
        self.cluster.get()
    }

    /// Another relay's alert (its copy here, `alert.id` local) changed:
    /// told to this relay's sockets, not sent back to the cluster.
    pub(crate) fn publish_copied(&self, event: AlertEvent, alert: AlertInfo) {
        self.show(event, alert);
    }

    fn publish(&self, event: AlertEvent, alert: AlertInfo) {
        let change = self.show(event, alert);
        if let Some(out) = self.cluster_out.get() {
            if out.try_send(change).is_err() {
                let n = self.cluster_dropped.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(dropped = n, "the cluster's alert queue is full (NATS away?): a change was not sent to the other relays");
            }
        }
    }

    /// Updates the active set and tells this relay's sockets.
    fn show(&self, event: AlertEvent, alert: AlertInfo) -> Arc<AlertChange> {
        {
            let mut active = lock(&self.active);
            if alert.ended_at_ms.is_some() {
                active.remove(&alert.id);
            } else if matches!(event, AlertEvent::Start | AlertEvent::Active)
                || active.contains_key(&alert.id)
            {
                // A late update (a snapshot written after the alert ended)
                // must not bring an ended alert back.
                active.insert(alert.id, alert.clone());
            }
        }
        let change = Arc::new(AlertChange { event, alert });
        let _nobody_listening = self.live.send(change.clone());
        change
    }

    /// Acknowledges alert `id` as `user`. The caller checked the grant.
    pub async fn ack(&self, id: i64, user: String) -> Result<AlertInfo, Error> {
        self.ack_at(id, user, now_ms()).await
    }

    /// Acknowledges alert `id` as `user` at `at` (Unix ms): also for an
    /// acknowledgement made on another relay of the cluster.
    pub(crate) async fn ack_at(&self, id: i64, user: String, at: i64) -> Result<AlertInfo, Error> {
        let (fresh, alert) = self
            .db(move |s| {
                let fresh = s.ack_alert(id, &user, at)?;
                Ok((fresh, s.alert(id)?))
            })
            .await?;
        let alert = alert.ok_or_else(|| Error::new(ErrorKind::NotFound, "no such alert"))?;
        let info = info(&alert);
        if fresh {
            self.publish(AlertEvent::Ack, info.clone());
        }
        Ok(info)
    }

    /// A snapshot or clip file was written for alert `id` (at `path`, inside
    /// the media folder): records it and tells everyone.
    pub(crate) async fn media_ready(&self, id: i64, kind: MediaKind, file: MediaFile) {
        let recorded = file.clone();
        let result = self
            .db(move |s| {
                let old = s.set_alert_media(id, kind, &recorded)?;
                Ok((old, s.alert(id)?))
            })
            .await;
        match result {
            Ok((old, Some(alert))) => {
                if let Some(old) = old {
                    self.remove_file(&old);
                }
                self.publish(AlertEvent::Update, info(&alert));
            }
            Ok((_, None)) => self.remove_file(&file),
            Err(e) if e.kind() == ErrorKind::NotFound => self.remove_file(&file),
            Err(e) => {
                tracing::warn!(alert = id, "cannot record the alert's {kind}: {e:#}");
                self.remove_file(&file);
            }
        }
    }

    fn remove_file(&self, file: &MediaFile) {
        if let Some(path) = self.media_path(file) {
            if let Err(e) = std::fs::remove_file(&path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(path = %path.display(), "cannot delete an alert file: {e}");
                }
            }
        }
    }

    /// Where a recorded file is on disk (the store never holds `..` or `/…`).
    pub fn media_path(&self, file: &MediaFile) -> Option<PathBuf> {
        let dir = self.media_dir.as_ref()?;
        let relative = Path::new(&file.path);
        let plain = relative
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        plain.then(|| dir.join(relative))
    }

    async fn engine(
        self: Arc<Self>,
        mut rx: mpsc::Receiver<Signal>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut open: HashMap<(String, String), Open> = HashMap::new();
        let mut tick = tokio::time::interval(HOLD_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                signal = rx.recv() => match signal {
                    Some(signal) => self.on_signal(&mut open, signal).await,
                    None => return,
                },
                _ = tick.tick() => {
                    let now = Instant::now();
                    let expired: Vec<(String, String)> = open
                        .iter()
                        .filter(|(_, o)| o.expires.is_some_and(|at| at <= now))
                        .map(|(k, _)| k.clone())
                        .collect();
                    for (camera, key) in expired {
                        self.on_signal(&mut open, Signal { camera, key, change: Change::End }).await;
                    }
                }
                _ = shutdown.changed() => {
                    // End what is open: the history must not show alerts
                    // that last forever after a clean stop.
                    let now = now_ms();
                    let ids: Vec<i64> = open.values().map(|o| o.id).collect();
                    let ended = self.db(move |s| {
                        ids.into_iter().map(|id| s.end_alert(id, now)).collect::<Result<Vec<_>, _>>()
                    }).await;
                    // Told like any end: screens, MQTT, the other relays.
                    for alert in ended.unwrap_or_default() {
                        self.publish(AlertEvent::End, info(&alert));
                    }
                    self.engine_stopped.send_replace(true);
                    return;
                }
            }
        }
    }

    async fn on_signal(
        self: &Arc<Self>,
        open: &mut HashMap<(String, String), Open>,
        signal: Signal,
    ) {
        let Signal {
            camera,
            key,
            change,
        } = signal;
        let slot = (camera.clone(), key);
        let result = match change {
            Change::Start {
                kind,
                label,
                message,
                severity,
                zones,
                score,
                area,
                hold,
                snapshot,
            } => {
                if let Some(o) = open.get_mut(&slot) {
                    o.expires = o.hold.map(|h| Instant::now() + h);
                    let id = o.id;
                    self.update(id, zones, score, area).await
                } else {
                    let new = NewAlert {
                        camera: camera.clone(),
                        severity: severity_to_store(
                            severity.unwrap_or_else(|| self.config.severity_of(&kind)),
                        ),
                        kind,
                        started_at_ms: now_ms(),
                        zones,
                        score,
                        area,
                        label,
                        message,
                    };
                    match self.db(move |s| s.insert_alert(&new)).await {
                        Ok(alert) => {
                            open.insert(
                                slot,
                                Open {
                                    id: alert.id,
                                    hold,
                                    expires: hold.map(|h| Instant::now() + h),
                                },
                            );
                            tracing::info!(camera = %alert.camera, kind = %alert.kind, id = alert.id, "alert started");
                            let info = info(&alert);
                            self.publish(AlertEvent::Start, info.clone());
                            self.media.started(self, &info, snapshot);
                            Ok(())
                        }
                        Err(e) => Err(e),
                    }
                }
            }
            Change::Update { zones, score, area } => match open.get_mut(&slot) {
                Some(o) => {
                    o.expires = o.hold.map(|h| Instant::now() + h);
                    let id = o.id;
                    self.update(id, zones, score, area).await
                }
                None => Ok(()),
            },
            Change::End => match open.remove(&slot) {
                Some(o) => {
                    let at = now_ms();
                    match self.db(move |s| s.end_alert(o.id, at)).await {
                        Ok(alert) => {
                            tracing::info!(camera = %alert.camera, kind = %alert.kind, id = alert.id, "alert ended");
                            let info = info(&alert);
                            self.media.ended(&info);
                            self.publish(AlertEvent::End, info);
                            Ok(())
                        }
                        Err(e) => {
                            // Ended here whatever the database says: no
                            // screen may keep it forever.
                            lock(&self.active).remove(&o.id);
                            Err(e)
                        }
                    }
                }
                None => Ok(()),
            },
        };
        if let Err(e) = result {
            tracing::warn!(%camera, "cannot record an alert: {e:#}");
        }
    }

    async fn update(
        &self,
        id: i64,
        zones: Vec<String>,
        score: f64,
        area: f64,
    ) -> Result<(), Error> {
        let before = lock(&self.active).get(&id).cloned();
        let alert = self
            .db(move |s| s.update_alert(id, &zones, score, area))
            .await?;
        let info = info(&alert);
        // Only a change worth showing goes out (a held alert renewed with
        // the same facts is silent).
        let changed = before
            .is_none_or(|b| b.zones != info.zones || b.score != info.score || b.area != info.area);
        if changed {
            self.publish(AlertEvent::Update, info);
        }
        Ok(())
    }

    /// At start, then every [`RETENTION_EVERY`]: leftovers of a crash, old
    /// alerts, the disk budget.
    async fn housekeeping(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(RETENTION_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is now: `start` just did it.
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            let this = self.clone();
            let done = tokio::task::spawn_blocking(move || this.enforce_retention(false)).await;
            match done {
                Ok(Ok((old, trimmed))) => tracing::debug!(old, trimmed, "alert retention enforced"),
                Ok(Err(e)) => tracing::warn!("alert retention failed: {e:#}"),
                Err(e) => tracing::warn!("alert retention failed: {e:#}"),
            }
        }
    }

    /// Deletes alerts older than the retention and files beyond the disk
    /// budget; with `sweep`, also files no alert points at (a crash between
    /// writing a file and recording it) and records pointing at missing files.
    pub fn enforce_retention(&self, sweep: bool) -> Result<(usize, usize), StoreError> {
        let keep_ms = i64::from(self.config.retention_days) * 86_400_000;
        let old = self.store.delete_alerts_before(now_ms() - keep_ms)?;
        let budget = i64::try_from(self.config.disk_budget).unwrap_or(i64::MAX);
        let trimmed = self.store.trim_alert_media(budget)?;
        for file in old.iter().chain(&trimmed) {
            self.remove_file(file);
        }
        if sweep {
            self.sweep()?;
        }
        Ok((old.len(), trimmed.len()))
    }

    fn sweep(&self) -> Result<(), StoreError> {
        let Some(dir) = &self.media_dir else {
            return Ok(());
        };
        let recorded = self.store.alert_media_files()?;
        let mut known = std::collections::HashSet::new();
        for (id, kind, file) in recorded {
            match self.media_path(&file) {
                Some(path) if path.is_file() => {
                    known.insert(path);
                }
                _ => {
                    tracing::warn!(
                        alert = id,
                        "the alert's {kind} file is missing: forgetting it"
                    );
                    self.store.clear_alert_media(id, kind)?;
                }
            }
        }
        let mut stack = vec![dir.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                match entry.file_type() {
                    Ok(t) if t.is_dir() => stack.push(path),
                    Ok(t) if t.is_file() && !known.contains(&path) => {
                        tracing::info!(path = %path.display(), "deleting an alert file no alert points at (left by a crash)");
                        let _ = std::fs::remove_file(&path);
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_exact_then_prefix_then_default() {
        let mut config = AlertsConfig::default();
        assert_eq!(config.severity_of("motion"), AlertSeverity::Warning);
        assert_eq!(config.severity_of(CAMERA_OFFLINE), AlertSeverity::Critical);
        config.severity.insert("onvif:".into(), AlertSeverity::Info);
        config
            .severity
            .insert("onvif:tns1:".into(), AlertSeverity::Critical);
        config
            .severity
            .insert("webhook:doorbell".into(), AlertSeverity::Critical);
        assert_eq!(
            config.severity_of("onvif:tnsaxis:CameraApplicationPlatform/X"),
            AlertSeverity::Info
        );
        assert_eq!(
            config.severity_of("onvif:tns1:VideoSource/MotionAlarm"),
            AlertSeverity::Critical
        );
        assert_eq!(
            config.severity_of("webhook:doorbell"),
            AlertSeverity::Critical
        );
        assert_eq!(
            config.severity_of("webhook:doorbell2"),
            AlertSeverity::Warning
        );
    }

    #[test]
    fn labels_say_what_happened() {
        assert_eq!(default_label("motion", &[]), "Motion");
        assert_eq!(
            default_label("motion", &["door".into(), "yard".into()]),
            "Motion: door, yard"
        );
        assert_eq!(default_label(CAMERA_OFFLINE, &[]), "Camera offline");
        assert_eq!(
            default_label("onvif:tns1:RuleEngine/CellMotionDetector/Motion", &[]),
            "CellMotionDetector/Motion"
        );
        assert_eq!(default_label("webhook:doorbell", &[]), "doorbell");
    }

    #[test]
    fn kinds_are_plain() {
        assert!(check_kind("webhook:doorbell").is_ok());
        assert!(check_kind("").is_err());
        assert!(check_kind("a b").is_err());
        assert!(check_kind(&"x".repeat(129)).is_err());
    }
}
