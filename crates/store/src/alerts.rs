//! The alert history: one row per alert (motion, an ONVIF event, a webhook, a camera
//! gone offline), from its start to its end, with who acknowledged it and the
//! snapshot and clip files recorded for it.
//!
//! **Times are Unix milliseconds** here (`*_ms`, and [`Alert::acked_at`]), unlike
//! the rest of the store: alerts are ordered and shown to the tenth of a second.
//!
//! **Grants in SQL.** [`Store::alerts`] takes the caller's [`CameraGrant`] and puts
//! it in the query, so a page never holds an alert of a camera outside it (and its
//! size does not give away how many were filtered out). Fetching one alert by id
//! ([`Store::alert`]) does not: the caller checks the alert's camera, on every
//! request.
//!
//! **Files.** Snapshots and clips live in the data directory's alerts folder; a row
//! names them by a path relative to it ([`MediaFile`]). The relay writes a file to a
//! temporary name, syncs it, renames it, and only then calls
//! [`Store::set_alert_media`], so a row never names a file that was not completely
//! written. A crash can leave the opposite (a file no row names, or a row naming a
//! file lost with the disk's cache): at start-up the relay compares
//! [`Store::alert_media_files`] with the folder, drops the references to missing
//! files ([`Store::clear_alert_media`]) and deletes the files no row names. Calls
//! that forget files ([`Store::delete_alerts_before`], [`Store::trim_alert_media`],
//! a replaced or cleared file) return them: the caller deletes them *after* the
//! transaction, so a crash in between leaves only unnamed files for the sweep.
//!
//! Ids only grow (`AUTOINCREMENT`): paging by id stays stable while alerts are added
//! and old ones deleted, and an id is never reused for another camera's alert.
//! Nothing here bumps [`Store::revision`]: alerts take no access away.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, Value, ValueRef};
use rusqlite::{params, params_from_iter, Row, Transaction};
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::model::CameraGrant;
use crate::{optional, Store};

/// The most alerts [`Store::alerts`] returns at once.
pub const MAX_ALERT_PAGE: u32 = 200;

/// The page size of [`AlertQuery::new`].
pub const DEFAULT_ALERT_PAGE: u32 = 50;

/// The most zones one alert may name.
pub const MAX_ALERT_ZONES: usize = 32;

const MAX_CAMERA_CHARS: usize = 64;
const MAX_KIND_CHARS: usize = 128;
const MAX_TEXT_CHARS: usize = 1024;
const MAX_ZONE_CHARS: usize = 64;
pub(crate) const MAX_ACTOR_CHARS: usize = 64;
const MAX_PATH_CHARS: usize = 255;

/// How serious an alert is, in increasing order: `Info < Warning < Critical`.
/// Written `info`, `warning`, `critical` (in the database and JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Critical];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Severity> {
        Severity::ALL
            .into_iter()
            .find(|severity| severity.as_str() == s)
            .ok_or_else(|| {
                StoreError::Invalid(format!(
                    "unknown severity {s:?}: use info, warning or critical"
                ))
            })
    }
}

impl ToSql for Severity {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Severity {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Severity> {
        value
            .as_str()?
            .parse()
            .map_err(|e: StoreError| FromSqlError::Other(Box::new(e)))
    }
}

/// Which file of an alert: its snapshot (JPEG) or its clip (MP4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Snapshot,
    Clip,
}

impl MediaKind {
    /// Both kinds.
    pub const ALL: [MediaKind; 2] = [MediaKind::Snapshot, MediaKind::Clip];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Snapshot => "snapshot",
            MediaKind::Clip => "clip",
        }
    }

    /// The columns holding this kind's path and size. Constants only: safe to
    /// format into SQL.
    fn columns(self) -> (&'static str, &'static str) {
        match self {
            MediaKind::Snapshot => ("snapshot_path", "snapshot_bytes"),
            MediaKind::Clip => ("clip_path", "clip_bytes"),
        }
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A file recorded for an alert.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MediaFile {
    /// Relative to the data directory's alerts folder, `/`-separated, e.g.
    /// `front/2023-11-14/12.jpg`: never absolute, never `..`.
    pub path: String,
    /// Its size, for the disk budget ([`Store::trim_alert_media`]).
    pub bytes: i64,
}

/// An alert as it starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAlert {
    /// The camera's id: 1 to 64 characters.
    pub camera: String,
    /// `motion`, `onvif:<topic>`, `webhook:<label>`, `camera_offline`: 1 to 128
    /// characters.
    pub kind: String,
    pub severity: Severity,
    /// Unix milliseconds.
    pub started_at_ms: i64,
    /// The zones it touched (at most [`MAX_ALERT_ZONES`], each 1 to 64 characters);
    /// stored sorted, without duplicates.
    #[serde(default)]
    pub zones: Vec<String>,
    /// Peak score (the detector's, or 0); finite and not negative.
    #[serde(default)]
    pub score: f64,
    /// Peak area, as a fraction of the frame (or 0); finite and not negative.
    #[serde(default)]
    pub area: f64,
    /// A short text to show on the tile (at most 1024 characters).
    #[serde(default)]
    pub label: Option<String>,
    /// A longer description (at most 1024 characters).
    #[serde(default)]
    pub message: Option<String>,
}

/// An alert as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: i64,
    pub camera: String,
    pub kind: String,
    pub severity: Severity,
    /// Unix milliseconds.
    pub started_at_ms: i64,
    /// Unix milliseconds; `None` while it lasts.
    pub ended_at_ms: Option<i64>,
    /// Every zone it touched so far, sorted.
    pub zones: Vec<String>,
    /// The highest score so far.
    pub score: f64,
    /// The largest area so far.
    pub area: f64,
    pub label: Option<String>,
    pub message: Option<String>,
    /// Who acknowledged it (a user name, or whatever the caller passed).
    pub acked_by: Option<String>,
    /// When, in Unix milliseconds.
    pub acked_at: Option<i64>,
    pub snapshot: Option<MediaFile>,
    pub clip: Option<MediaFile>,
    /// For a copy of another relay's alert (`alert_copies.rs`): the relay
    /// it was raised on, its id there, and whether that relay has its
    /// snapshot and clip (they stay there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

/// Where a copied alert comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub node: String,
    /// That relay's database ([`Store::instance`]).
    pub instance: String,
    pub id: i64,
    pub snapshot: bool,
    pub clip: bool,
}

impl Alert {
    /// Its files: the snapshot and the clip, those it has.
    pub fn media(&self) -> impl Iterator<Item = (MediaKind, &MediaFile)> {
        [
            (MediaKind::Snapshot, self.snapshot.as_ref()),
            (MediaKind::Clip, self.clip.as_ref()),
        ]
        .into_iter()
        .filter_map(|(kind, file)| file.map(|file| (kind, file)))
    }
}

/// What [`Store::alerts`] returns: the caller's grant, filters, and a page.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertQuery<'a> {
    /// The cameras the caller may see: nothing else is ever returned.
    pub cameras: &'a CameraGrant,
    /// Only this camera.
    pub camera: Option<&'a str>,
    /// Only this kind; a kind ending with `:` (e.g. `onvif:`) is a prefix.
    pub kind: Option<&'a str>,
    /// Only alerts that started at or after this time (Unix milliseconds).
    pub since_ms: Option<i64>,
    /// Only alerts that started before this time (Unix milliseconds).
    pub until_ms: Option<i64>,
    /// Only alerts older than this one: pass the last id of a page for the next.
    pub before: Option<i64>,
    /// At most this many (capped at [`MAX_ALERT_PAGE`]).
    pub limit: u32,
}

impl<'a> AlertQuery<'a> {
    /// The newest [`DEFAULT_ALERT_PAGE`] alerts the grant covers, unfiltered.
    pub fn new(cameras: &'a CameraGrant) -> AlertQuery<'a> {
        AlertQuery {
            cameras,
            camera: None,
            kind: None,
            since_ms: None,
            until_ms: None,
            before: None,
            limit: DEFAULT_ALERT_PAGE,
        }
    }
}

pub(crate) const ALERT_COLUMNS: &str =
    "id, camera, kind, severity, started_at_ms, ended_at_ms, zones, \
     score, area, label, message, acked_by, acked_at, \
     snapshot_path, snapshot_bytes, clip_path, clip_bytes, origin_node, origin_id, remote_media, origin_instance";

pub(crate) fn alert_from_row(row: &Row<'_>) -> rusqlite::Result<Alert> {
    Ok(Alert {
        id: row.get(0)?,
        camera: row.get(1)?,
        kind: row.get(2)?,
        severity: row.get(3)?,
        started_at_ms: row.get(4)?,
        ended_at_ms: row.get(5)?,
        zones: split_zones(&row.get::<_, String>(6)?),
        score: row.get(7)?,
        area: row.get(8)?,
        label: row.get(9)?,
        message: row.get(10)?,
        acked_by: row.get(11)?,
        acked_at: row.get(12)?,
        snapshot: media_from_row(row, 13)?,
        clip: media_from_row(row, 15)?,
        origin: {
            let node: Option<String> = row.get(17)?;
            let id: Option<i64> = row.get(18)?;
            let media: i64 = row.get(19)?;
            let instance: Option<String> = row.get(20)?;
            node.zip(id).map(|(node, id)| Origin {
                node,
                instance: instance.unwrap_or_default(),
                id,
                snapshot: media & 1 != 0,
                clip: media & 2 != 0,
            })
        },
    })
}

fn media_from_row(row: &Row<'_>, at: usize) -> rusqlite::Result<Option<MediaFile>> {
    let path: Option<String> = row.get(at)?;
    let bytes: Option<i64> = row.get(at + 1)?;
    Ok(path
        .zip(bytes)
        .map(|(path, bytes)| MediaFile { path, bytes }))
}

/// Zones are stored as one text, one name a line (names hold no control
/// characters); no zones is the empty text.
pub(crate) fn join_zones(zones: &BTreeSet<String>) -> String {
    zones
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("\n")
}

fn split_zones(text: &str) -> Vec<String> {
    if text.is_empty() {
        Vec::new()
    } else {
        text.split('\n').map(str::to_owned).collect()
    }
}

fn alert_by_id(tx: &rusqlite::Connection, id: i64) -> Result<Option<Alert>> {
    optional(tx.query_row(
        &format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?1"),
        [id],
        alert_from_row,
    ))
}

pub(crate) fn existing(tx: &rusqlite::Connection, id: i64) -> Result<Alert> {
    alert_by_id(tx, id)?.ok_or_else(|| StoreError::NotFound(format!("alert #{id}")))
}

pub(crate) fn check_text(what: &str, text: &str, max: usize) -> Result<()> {
    if text.trim().is_empty() || text.chars().count() > max {
        return Err(StoreError::Invalid(format!(
            "{what} must be 1 to {max} characters"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "{what} may not contain control characters"
        )));
    }
    Ok(())
}

fn check_camera(camera: &str) -> Result<()> {
    if camera.is_empty()
        || camera.chars().count() > MAX_CAMERA_CHARS
        || camera.trim() != camera
        || camera == "*"
        || camera.contains(',')
        || camera.chars().any(char::is_control)
    {
        return Err(StoreError::Invalid(format!(
            "{camera:?} is not a valid camera id for an alert: 1 to {MAX_CAMERA_CHARS} characters, no commas, no control characters, no spaces around it"
        )));
    }
    Ok(())
}

fn check_optional_text(what: &str, text: Option<&str>) -> Result<()> {
    match text {
        Some(text) if text.chars().count() > MAX_TEXT_CHARS => Err(StoreError::Invalid(format!(
            "an alert's {what} may be at most {MAX_TEXT_CHARS} characters"
        ))),
        _ => Ok(()),
    }
}

fn check_peak(what: &str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "an alert's {what} must be a finite number, 0 or more (got {value})"
        )))
    }
}

/// Checks zone names and returns them as a sorted set.
fn check_zones(zones: &[String]) -> Result<BTreeSet<String>> {
    for zone in zones {
        check_text("a zone name", zone, MAX_ZONE_CHARS)?;
    }
    let set: BTreeSet<String> = zones.iter().cloned().collect();
    check_zone_count(set.len())?;
    Ok(set)
}

fn check_zone_count(count: usize) -> Result<()> {
    if count > MAX_ALERT_ZONES {
        return Err(StoreError::Invalid(format!(
            "an alert may name at most {MAX_ALERT_ZONES} zones (got {count}): merge or rename zones"
        )));
    }
    Ok(())
}

pub(crate) fn check_new_alert(alert: &NewAlert) -> Result<BTreeSet<String>> {
    check_camera(&alert.camera)?;
    check_text("an alert's kind", &alert.kind, MAX_KIND_CHARS)?;
    check_optional_text("label", alert.label.as_deref())?;
    check_optional_text("message", alert.message.as_deref())?;
    check_peak("score", alert.score)?;
    check_peak("area", alert.area)?;
    check_zones(&alert.zones)
}

/// Checks a media path: relative to the alerts folder, `/`-separated, no empty,
/// `.` or `..` parts, no backslashes or control characters.
fn check_media(file: &MediaFile) -> Result<()> {
    let path = &file.path;
    let ok = !path.is_empty()
        && path.chars().count() <= MAX_PATH_CHARS
        && !path.contains('\\')
        && !path.chars().any(char::is_control)
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if !ok {
        return Err(StoreError::Invalid(format!(
            "{path:?} is not a valid alert file path: give a path relative to the alerts folder (at most {MAX_PATH_CHARS} characters, / between folders, no . or .. parts)"
        )));
    }
    if file.bytes < 0 {
        return Err(StoreError::Invalid(format!(
            "an alert file's size cannot be negative (got {} for {path:?})",
            file.bytes
        )));
    }
    Ok(())
}

/// Sets one media column pair of an alert to `file` (or clears it with `None`);
/// returns what it named before.
fn replace_media(
    tx: &Transaction<'_>,
    id: i64,
    kind: MediaKind,
    file: Option<&MediaFile>,
) -> Result<Option<MediaFile>> {
    let alert = existing(tx, id)?;
    let old = match kind {
        MediaKind::Snapshot => alert.snapshot,
        MediaKind::Clip => alert.clip,
    };
    let (path_col, bytes_col) = kind.columns();
    tx.execute(
        &format!("UPDATE alerts SET {path_col} = ?1, {bytes_col} = ?2 WHERE id = ?3"),
        params![file.map(|f| f.path.as_str()), file.map(|f| f.bytes), id],
    )?;
    Ok(old)
}

impl Store {
    /// Records a new alert; returns it with its id.
    pub fn insert_alert(&self, alert: &NewAlert) -> Result<Alert> {
        let zones = check_new_alert(alert)?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO alerts (camera, kind, severity, started_at_ms, zones, score, area,
                                     label, message)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    alert.camera,
                    alert.kind,
                    alert.severity,
                    alert.started_at_ms,
                    join_zones(&zones),
                    alert.score,
                    alert.area,
                    alert.label,
                    alert.message,
                ],
            )?;
            existing(tx, tx.last_insert_rowid())
        })
    }

    /// Adds what an alert has seen since: its zones become the union of the old and
    /// `zones`, its score and area the larger of the old and the new (peaks only
    /// grow). Returns the alert as it now is; [`StoreError::NotFound`] if it is gone.
    pub fn update_alert(&self, id: i64, zones: &[String], score: f64, area: f64) -> Result<Alert> {
        let zones = check_zones(zones)?;
        check_peak("score", score)?;
        check_peak("area", area)?;
        self.write(|tx| {
            let alert = existing(tx, id)?;
            let mut all: BTreeSet<String> = alert.zones.into_iter().collect();
            all.extend(zones);
            check_zone_count(all.len())?;
            tx.execute(
                "UPDATE alerts SET zones = ?1, score = max(score, ?2), area = max(area, ?3)
                 WHERE id = ?4",
                params![join_zones(&all), score, area, id],
            )?;
            existing(tx, id)
        })
    }

    /// Ends an alert at `ended_at_ms` (an end before its start is taken as its
    /// start, should the clock have stepped back). Idempotent: an alert that has
    /// ended keeps its first end. Returns the alert as it now is;
    /// [`StoreError::NotFound`] if it is gone.
    pub fn end_alert(&self, id: i64, ended_at_ms: i64) -> Result<Alert> {
        self.write(|tx| {
            tx.execute(
                "UPDATE alerts SET ended_at_ms = max(started_at_ms, ?1)
                 WHERE id = ?2 AND ended_at_ms IS NULL",
                [ended_at_ms, id],
            )?;
            existing(tx, id)
        })
    }

    /// Acknowledges an alert for `by_user` at `at_ms` (Unix milliseconds). `true` if
    /// this call acknowledged it; `false` if it was acknowledged already (the first
    /// acknowledgement stays) or there is no such alert. Whether the user may see
    /// its camera, and has the role for it, is the caller's check.
    pub fn ack_alert(&self, id: i64, by_user: &str, at_ms: i64) -> Result<bool> {
        check_text("who acknowledges an alert", by_user, MAX_ACTOR_CHARS)?;
        let changed = self.conn().execute(
            "UPDATE alerts SET acked_by = ?1, acked_at = ?2 WHERE id = ?3 AND acked_by IS NULL",
            params![by_user, at_ms, id],
        )?;
        Ok(changed > 0)
    }

    /// One alert, whatever its camera: the caller checks its grant covers
    /// `alert.camera` before showing it or its files.
    pub fn alert(&self, id: i64) -> Result<Option<Alert>> {
        alert_by_id(&self.conn(), id)
    }

    /// A page of alerts, newest (highest id) first, within the query's grant and
    /// filters; see [`AlertQuery`].
    pub fn alerts(&self, query: &AlertQuery<'_>) -> Result<Vec<Alert>> {
        let mut conditions: Vec<String> = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        // The grant, in SQL: never filtered afterwards.
        if let CameraGrant::Only(ids) = query.cameras {
            let marks = vec!["?"; ids.len()].join(", ");
            conditions.push(format!("camera IN ({marks})"));
            values.extend(ids.iter().cloned().map(Value::Text));
        }
        if let Some(camera) = query.camera {
            conditions.push("camera = ?".into());
            values.push(Value::Text(camera.to_owned()));
        }
        match query.kind {
            Some(prefix) if prefix.ends_with(':') => {
                // substr and length both count characters; no LIKE wildcards.
                conditions.push("substr(kind, 1, length(?)) = ?".into());
                values.push(Value::Text(prefix.to_owned()));
                values.push(Value::Text(prefix.to_owned()));
            }
            Some(kind) => {
                conditions.push("kind = ?".into());
                values.push(Value::Text(kind.to_owned()));
            }
            None => {}
        }
        if let Some(since) = query.since_ms {
            conditions.push("started_at_ms >= ?".into());
            values.push(Value::Integer(since));
        }
        if let Some(until) = query.until_ms {
            conditions.push("started_at_ms < ?".into());
            values.push(Value::Integer(until));
        }
        if let Some(before) = query.before {
            conditions.push("id < ?".into());
            values.push(Value::Integer(before));
        }
        values.push(Value::Integer(i64::from(query.limit.min(MAX_ALERT_PAGE))));
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts {filter} ORDER BY id DESC LIMIT ?"
        ))?;
        let alerts = stmt
            .query_map(params_from_iter(values), alert_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(alerts)
    }

    /// The alerts raised here that have not ended, oldest first: after a crash,
    /// the relay ends them at start-up. (Copies of other relays' alerts end
    /// when their relay says so: [`Store::open_copied_alerts`].)
    pub fn open_alerts(&self) -> Result<Vec<Alert>> {
        self.open_alerts_where("origin_node IS NULL")
    }

    /// The alerts that have not ended and meet `condition` (SQL written
    /// here, never a caller's input), oldest first.
    pub(crate) fn open_alerts_where(&self, condition: &str) -> Result<Vec<Alert>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts
             WHERE ended_at_ms IS NULL AND {condition} ORDER BY id"
        ))?;
        let alerts = stmt
            .query_map([], alert_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(alerts)
    }

    /// Names `file` as the alert's snapshot or clip. Call it only once the file is
    /// completely on disk (written to a temporary name, synced, renamed). Returns
    /// the file it named before, if another one, for the caller to delete;
    /// [`StoreError::NotFound`] if the alert is gone (delete the new file then).
    pub fn set_alert_media(
        &self,
        id: i64,
        kind: MediaKind,
        file: &MediaFile,
    ) -> Result<Option<MediaFile>> {
        check_media(file)?;
        let old = self.write(|tx| replace_media(tx, id, kind, Some(file)))?;
        Ok(old.filter(|old| old.path != file.path))
    }

    /// Forgets the alert's snapshot or clip (e.g. its file is missing); returns the
    /// file it named. [`StoreError::NotFound`] if the alert is gone.
    pub fn clear_alert_media(&self, id: i64, kind: MediaKind) -> Result<Option<MediaFile>> {
        self.write(|tx| replace_media(tx, id, kind, None))
    }

    /// Every file a row names, with its alert and kind, oldest alert first: for the
    /// start-up sweep.
    pub fn alert_media_files(&self) -> Result<Vec<(i64, MediaKind, MediaFile)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts
             WHERE snapshot_path IS NOT NULL OR clip_path IS NOT NULL ORDER BY id"
        ))?;
        let alerts: Vec<Alert> = stmt
            .query_map([], alert_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(alerts
            .iter()
            .flat_map(|alert| {
                alert
                    .media()
                    .map(|(kind, file)| (alert.id, kind, file.clone()))
            })
            .collect())
    }

    /// Retention by age: deletes the alerts that started before `started_before_ms`
    /// and have ended (an alert still open is kept until it ends), in one
    /// transaction. Returns their files, for the caller to delete once this returns.
    pub fn delete_alerts_before(&self, started_before_ms: i64) -> Result<Vec<MediaFile>> {
        self.write(|tx| {
            let files = {
                let mut stmt = tx.prepare(
                    "SELECT snapshot_path, snapshot_bytes, clip_path, clip_bytes FROM alerts
                     WHERE started_at_ms < ?1 AND ended_at_ms IS NOT NULL
                       AND (snapshot_path IS NOT NULL OR clip_path IS NOT NULL)
                     ORDER BY id",
                )?;
                let rows = stmt.query_map([started_before_ms], |row| {
                    Ok([media_from_row(row, 0)?, media_from_row(row, 2)?])
                })?;
                let mut files = Vec::new();
                for row in rows {
                    files.extend(row?.into_iter().flatten());
                }
                files
            };
            tx.execute(
                "DELETE FROM alerts WHERE started_at_ms < ?1 AND ended_at_ms IS NOT NULL",
                [started_before_ms],
            )?;
            Ok(files)
        })
    }

    /// Retention by disk space: while the files the rows name add up to more than
    /// `budget_bytes`, forgets the files of the alert that started first (both its
    /// snapshot and clip), in one transaction. The alerts stay in the history. Returns
    /// the forgotten files, for the caller to delete once this returns.
    pub fn trim_alert_media(&self, budget_bytes: i64) -> Result<Vec<MediaFile>> {
        self.write(|tx| {
            let mut total: i64 = tx.query_row(
                "SELECT coalesce(sum(coalesce(snapshot_bytes, 0) + coalesce(clip_bytes, 0)), 0)
                 FROM alerts WHERE snapshot_path IS NOT NULL OR clip_path IS NOT NULL",
                [],
                |row| row.get(0),
            )?;
            let mut dropped = Vec::new();
            if total <= budget_bytes {
                return Ok(dropped);
            }
            let mut trimmed = Vec::new();
            {
                let mut stmt = tx.prepare(
                    "SELECT id, snapshot_path, snapshot_bytes, clip_path, clip_bytes FROM alerts
                     WHERE snapshot_path IS NOT NULL OR clip_path IS NOT NULL
                     ORDER BY started_at_ms, id",
                )?;
                let mut rows = stmt.query([])?;
                while total > budget_bytes {
                    let Some(row) = rows.next()? else { break };
                    trimmed.push(row.get::<_, i64>(0)?);
                    for file in [media_from_row(row, 1)?, media_from_row(row, 3)?]
                        .into_iter()
                        .flatten()
                    {
                        total -= file.bytes;
                        dropped.push(file);
                    }
                }
            }
            let mut clear = tx.prepare(
                "UPDATE alerts SET snapshot_path = NULL, snapshot_bytes = NULL,
                                   clip_path = NULL, clip_bytes = NULL
                 WHERE id = ?1",
            )?;
            for id in trimmed {
                clear.execute([id])?;
            }
            Ok(dropped)
        })
    }
}
