//! An alert's snapshot and clip, written to the data directory's `alerts/`
//! folder as `<camera>/<yyyy-mm-dd>/<id>.jpg` and `<id>.mp4`.
//!
//! - **Snapshot**: the source's own JPEG (motion: the frame that confirmed
//!   it), else the newest frame of the camera's cached GOP decoded with
//!   OpenH264 on a blocking thread, at most 640 px wide
//!   ([`sightline_media::snapshot`]).
//! - **Clip**: the camera's pre-roll (≥ `pre_roll` s, kept by its feed,
//!   bounded in bytes) and then the live frames until `post_roll` s after the
//!   alert ends, at most `max_clip` s, muxed as received into an MP4
//!   ([`sightline_media::clip`], `avc1` for H.264 and `hvc1` for H.265
//!   cameras) on a blocking thread. The clip task reads the
//!   feed like a viewer: if the disk is slower than the camera it lags and
//!   skips to the next keyframe, like a slow viewer, and never holds frames
//!   back from anyone.
//!
//! Crash safety: each file is written under a temporary name, fsynced, and
//! renamed into place before the database records it; a crash in between
//! leaves a file no alert points at, which the next start's sweep deletes.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use sightline_h264::VideoParams;
use sightline_media::{
    ClipDecision, ClipError, ClipFrame, ClipOptions, ClipPolicy, ClipSchedule, ClipWriter, Pushed,
    SnapshotOptions,
};
use sightline_store::{MediaFile, MediaKind};
use sightline_wire::{AlertInfo, MediaHeader, HEADER_LEN};
use tokio::sync::{broadcast, mpsc, watch, Semaphore};

use super::decode::FrameDecoder;
use super::{lock, Alerts, AlertsConfig, CAMERA_OFFLINE};
use crate::hub::{Feed, Hub};

/// Frames waiting for a clip's writer thread (about 8 s at 30 fps).
const CLIP_QUEUE: usize = 256;
/// Snapshots decoded at once (each decodes up to a GOP: tens of ms of a core).
const SNAPSHOTS_AT_ONCE: usize = 2;
/// Clips recorded at once, whatever the number of alerts: each holds a
/// blocking thread for up to `max_clip`, and the blocking pool is shared
/// with the database. At most [`CLIPS_PER_CAMERA`] per camera: the next
/// alert often starts while the last clip records its post-roll (an intruder
/// every 8 s: 16 cameras would otherwise keep only 64 clips of 144 alerts),
/// but a storm of alerts must not start a storm of writers; a third alert
/// meanwhile is in one of those clips.
const CLIPS_AT_ONCE: usize = 32;
const CLIPS_PER_CAMERA: usize = 2;

/// What goes to a clip's writer thread.
enum ClipItem {
    Frame {
        data: Bytes,
        timestamp_us: i64,
        keyframe: bool,
    },
    /// Frames were missed: resume at the next keyframe.
    Gap,
    /// The alert ended; the newest frame then had this timestamp.
    Ended { at_us: i64 },
}

/// Starts and ends the recordings of alerts.
pub struct Recorder {
    hub: Arc<Hub>,
    dir: Option<PathBuf>,
    clips: bool,
    policy: ClipPolicy,
    /// Running clips: alert id → its camera and end signal.
    running: Mutex<HashMap<i64, (String, watch::Sender<bool>)>>,
    snapshots: Arc<Semaphore>,
    clip_slots: Arc<Semaphore>,
}

impl Recorder {
    pub fn new(hub: Arc<Hub>, dir: Option<PathBuf>, config: &AlertsConfig) -> Recorder {
        Recorder {
            hub,
            dir,
            clips: config.clips,
            policy: ClipPolicy {
                post_roll: Duration::from_secs(config.post_roll),
                max_length: Duration::from_secs(config.max_clip),
            },
            running: Mutex::default(),
            snapshots: Arc::new(Semaphore::new(SNAPSHOTS_AT_ONCE)),
            clip_slots: Arc::new(Semaphore::new(CLIPS_AT_ONCE)),
        }
    }

    /// Clips being written now.
    pub fn running(&self) -> usize {
        lock(&self.running).len()
    }

    /// An alert started: take its snapshot and start its clip.
    pub fn started(&self, alerts: &Arc<Alerts>, info: &AlertInfo, snapshot: Option<Vec<u8>>) {
        let Some(dir) = self.dir.clone() else {
            return;
        };
        let Some(feed) = self.hub.get(&info.camera) else {
            return;
        };
        let base = relative_base(info);
        let id = info.id;
        {
            let alerts = alerts.clone();
            let feed = feed.clone();
            let dir = dir.clone();
            let base = base.clone();
            let slots = self.snapshots.clone();
            tokio::spawn(async move {
                let jpeg = match snapshot {
                    Some(jpeg) => Some(jpeg),
                    None => {
                        // Busy decoding others: this alert goes without.
                        let Ok(permit) = slots.try_acquire_owned() else {
                            tracing::debug!(alert = id, "snapshots busy: none for this alert");
                            return;
                        };
                        let picture =
                            tokio::task::spawn_blocking(move || newest_picture(&feed)).await;
                        drop(permit);
                        picture.ok().flatten()
                    }
                };
                let Some(jpeg) = jpeg else {
                    return;
                };
                let relative = format!("{base}.jpg");
                let path = dir.join(&relative);
                match tokio::task::spawn_blocking(move || write_atomically(&path, &jpeg)).await {
                    Ok(Ok(bytes)) => {
                        let file = MediaFile {
                            path: relative,
                            bytes,
                        };
                        alerts.media_ready(id, MediaKind::Snapshot, file).await;
                    }
                    Ok(Err(e)) => tracing::warn!(alert = id, "cannot write the snapshot: {e:#}"),
                    Err(e) => tracing::warn!(alert = id, "cannot write the snapshot: {e:#}"),
                }
            });
        }
        // An offline camera has no video to record.
        if !self.clips || info.kind == CAMERA_OFFLINE {
            return;
        }
        let permit = {
            let mut running = lock(&self.running);
            let of_camera = running
                .values()
                .filter(|(camera, _)| *camera == info.camera)
                .count();
            if of_camera >= CLIPS_PER_CAMERA {
                tracing::debug!(
                    alert = id,
                    "{CLIPS_PER_CAMERA} clips of this camera are being recorded: none for this alert"
                );
                return;
            }
            let Ok(permit) = self.clip_slots.clone().try_acquire_owned() else {
                tracing::warn!(
                    alert = id,
                    "{CLIPS_AT_ONCE} clips are being recorded: none for this alert"
                );
                return;
            };
            let (ended, ended_rx) = watch::channel(false);
            running.insert(id, (info.camera.clone(), ended));
            (permit, ended_rx)
        };
        let (permit, ended_rx) = permit;
        let alerts = alerts.clone();
        let policy = self.policy;
        tokio::spawn(async move {
            let relative = format!("{base}.mp4");
            let path = dir.join(&relative);
            let result = record_clip(&feed, &path, policy, ended_rx).await;
            lock(&alerts.media.running).remove(&id);
            drop(permit);
            match result {
                Ok(Some(bytes)) => {
                    let file = MediaFile {
                        path: relative,
                        bytes,
                    };
                    alerts.media_ready(id, MediaKind::Clip, file).await;
                }
                Ok(None) => tracing::debug!(alert = id, "no video for a clip"),
                Err(e) => tracing::warn!(alert = id, "cannot record the clip: {e:#}"),
            }
        });
    }

    /// An alert ended: its clip runs on for the post-roll.
    pub fn ended(&self, info: &AlertInfo) {
        if let Some((_, ended)) = lock(&self.running).get(&info.id) {
            let _ = ended.send(true);
        }
    }
}

/// `front/2026-12-06/42`: the camera's folder, the day it started, the id.
fn relative_base(info: &AlertInfo) -> String {
    let day = time::OffsetDateTime::from_unix_timestamp(info.started_at_ms.div_euclid(1000))
        .map(|t| {
            let d = t.date();
            format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
        })
        .unwrap_or_else(|_| "undated".into());
    // Camera ids are plain ([A-Za-z0-9._-], checked at start), never `..`
    // alone: the store refuses `..` components anyway.
    format!("{}/{day}/{}", info.camera, info.id)
}

/// Writes `bytes` to `path` crash-safely: a temporary name, fsync, rename,
/// fsync of the folder. Returns the size.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<i64> {
    let tmp = temporary(path)?;
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    publish_file(&tmp, path)?;
    Ok(bytes.len() as i64)
}

/// `dir/.name.tmp`, creating `dir`.
fn temporary(path: &Path) -> std::io::Result<PathBuf> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("a media path has a folder"))?;
    crate::app::create_private_dir(dir)?;
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("a media path has a name"))?;
    Ok(dir.join(format!(".{}.tmp", name.to_string_lossy())))
}

fn publish_file(tmp: &Path, path: &Path) -> std::io::Result<()> {
    std::fs::rename(tmp, path)?;
    if let Some(dir) = path.parent() {
        // The rename itself must survive a power cut.
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The newest frame of the camera's cached GOP as a JPEG, decoding the GOP
/// from its keyframe (blocking: OpenH264).
pub fn newest_picture(feed: &Feed) -> Option<Vec<u8>> {
    let sub = feed.subscribe_internal();
    if sub.gop.is_empty() {
        return None;
    }
    let mut decoder = FrameDecoder::new().ok()?;
    let mut jpeg = None;
    let last = sub.gop.len() - 1;
    for (i, frame) in sub.gop.iter().enumerate() {
        let payload = frame.data.get(HEADER_LEN..)?;
        let timestamp_us = MediaHeader::parse(&frame.data).map_or(0, |(h, _)| h.timestamp_us);
        let encoded = decoder.decode(&frame.params.video, payload, timestamp_us, |picture| {
            // Only the newest picture is encoded; earlier ones only feed
            // the decoder's references.
            (i == last).then(|| sightline_media::encode_jpeg(picture, &SnapshotOptions::default()))
        });
        match encoded {
            Ok(Some(Some(Ok(j)))) => jpeg = Some(j.bytes),
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(camera = %feed.id, "snapshot decode: {e}");
                return None;
            }
        }
    }
    jpeg
}

/// Records one clip into `path`; `Ok(None)` when there was no video.
async fn record_clip(
    feed: &Arc<Feed>,
    path: &Path,
    policy: ClipPolicy,
    mut ended: watch::Receiver<bool>,
) -> anyhow::Result<Option<i64>> {
    let start = feed.clip_start();
    let Some(params) = start.params.clone() else {
        return Ok(None);
    };
    let (tx, rx) = mpsc::channel::<ClipItem>(CLIP_QUEUE);
    let tmp = temporary(path)?;
    let final_path = path.to_owned();
    // avc1 for H.264, hvc1 for H.265: the camera's own record either way.
    let record = match &params.video {
        VideoParams::H264(p) => Record::H264(p.avcc.clone()),
        VideoParams::H265(p) => Record::H265(p.hvcc.clone()),
    };
    let writer =
        tokio::task::spawn_blocking(move || write_clip(&tmp, &final_path, &record, policy, rx));
    let mut live = start.live;
    let mut newest_us = None;
    for frame in start.preroll {
        newest_us = Some(frame.timestamp_us);
        let item = ClipItem::Frame {
            data: frame.data.slice(HEADER_LEN.min(frame.data.len())..),
            timestamp_us: frame.timestamp_us,
            keyframe: frame.keyframe,
        };
        if tx.send(item).await.is_err() {
            break;
        }
    }
    // Wall-clock limits too: a camera that stops sending must not keep the
    // clip open (the frame-time rules in the writer never see a frame then).
    let started = tokio::time::Instant::now();
    let max = started + policy.max_length;
    let mut deadline = max;
    // The alert may have ended already (a short webhook alert).
    let mut end_seen = *ended.borrow_and_update();
    if end_seen {
        deadline = max.min(started + policy.post_roll);
        if let Some(at_us) = newest_us {
            let _ = tx.send(ClipItem::Ended { at_us }).await;
        }
    }
    loop {
        tokio::select! {
            frame = live.recv() => match frame {
                Ok(frame) => {
                    if !Arc::ptr_eq(&frame.params, &params) {
                        break; // new parameters: the clip ends here
                    }
                    let Ok((header, _)) = MediaHeader::parse(&frame.data) else { continue };
                    newest_us = Some(header.timestamp_us);
                    let item = ClipItem::Frame {
                        data: frame.data.slice(HEADER_LEN..),
                        timestamp_us: header.timestamp_us,
                        keyframe: frame.keyframe,
                    };
                    if tx.send(item).await.is_err() {
                        break; // the writer decided the clip is complete
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    if tx.send(ClipItem::Gap).await.is_err() {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            changed = ended.changed(), if !end_seen => {
                if changed.is_err() {
                    end_seen = true;
                } else if *ended.borrow_and_update() {
                    end_seen = true;
                    deadline = max.min(tokio::time::Instant::now() + policy.post_roll);
                    if let Some(at_us) = newest_us {
                        let _ = tx.send(ClipItem::Ended { at_us }).await;
                    }
                }
            }
            _ = tokio::time::sleep_until(deadline) => break,
        }
    }
    drop(tx);
    writer.await?
}

/// The decoder record a clip's sample entry carries.
enum Record {
    H264(Vec<u8>),
    H265(Vec<u8>),
}

/// The writer thread: muxes what arrives until the schedule says stop or the
/// sender goes; then fsyncs and renames into place.
fn write_clip(
    tmp: &Path,
    path: &Path,
    record: &Record,
    policy: ClipPolicy,
    mut rx: mpsc::Receiver<ClipItem>,
) -> anyhow::Result<Option<i64>> {
    let file = std::fs::File::create(tmp)?;
    let options = ClipOptions {
        creation_time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default(),
        ..ClipOptions::default()
    };
    let out = std::io::BufWriter::new(file);
    let (mut writer, record) = match record {
        Record::H264(avcc) => (ClipWriter::new(out, avcc, options)?, avcc),
        Record::H265(hvcc) => (ClipWriter::new_hevc(out, hvcc, options)?, hvcc),
    };
    let mut schedule: Option<ClipSchedule> = None;
    while let Some(item) = rx.blocking_recv() {
        match item {
            ClipItem::Frame {
                data,
                timestamp_us,
                keyframe,
            } => {
                let schedule =
                    schedule.get_or_insert_with(|| ClipSchedule::new(policy, timestamp_us));
                if let ClipDecision::Stop(_) = schedule.decide(timestamp_us) {
                    break;
                }
                let pushed = writer.push(ClipFrame {
                    record,
                    data: &data,
                    timestamp_us,
                    keyframe,
                });
                match pushed {
                    Ok(Pushed::ParamsChanged) => break,
                    Ok(_) => {}
                    // Nothing written; the clip resumes at the next keyframe.
                    Err(ClipError::BadAccessUnit(e)) => {
                        tracing::debug!("clip: skipping a malformed frame: {e}")
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            ClipItem::Gap => writer.resync(),
            ClipItem::Ended { at_us } => {
                if let Some(s) = schedule.as_mut() {
                    s.alert_ended(at_us);
                }
            }
        }
    }
    drop(rx);
    if writer.samples() == 0 {
        let _ = std::fs::remove_file(tmp);
        return Ok(None);
    }
    let (out, summary) = writer.finish()?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    drop(file);
    publish_file(tmp, path)?;
    tracing::debug!(
        samples = summary.samples,
        bytes = summary.bytes,
        "clip written"
    );
    Ok(Some(summary.bytes as i64))
}
