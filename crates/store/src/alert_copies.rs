//! Copies of alerts raised on other relays of a cluster (issue 17): each
//! relay keeps in its own history the alerts of every camera of the
//! cluster, so that any relay answers the history API and pushes them live.
//!
//! A copy is found by the relay that raised it and its id there; locally it
//! has an id of its own like any alert, so paging, grants and retention
//! work unchanged. The relay that raised an alert is its authority for
//! everything but two facts a copy may learn first from elsewhere: the
//! first end and the first acknowledgement stay, wherever they were made.
//!
//! Where a relay stands in the stream it copies from is a [`Store::cursor`],
//! written in the same transaction as the copy it read, so that a restart
//! resumes exactly after the last alert applied.

use rusqlite::{params, OptionalExtension as _};

use crate::alerts::{
    alert_from_row, check_new_alert, check_text, existing, join_zones, ALERT_COLUMNS,
    MAX_ACTOR_CHARS,
};
use crate::error::{Result, StoreError};
use crate::{Alert, NewAlert, Store};

/// An alert as the relay that raised it (or a relay that acknowledged it)
/// describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct CopiedAlert {
    /// The relay that raised it: a node name.
    pub node: String,
    /// Its database there ([`Store::instance`]).
    pub instance: String,
    /// Its id there.
    pub id: i64,
    /// What it is.
    pub alert: NewAlert,
    pub ended_at_ms: Option<i64>,
    pub acked_by: Option<String>,
    pub acked_at: Option<i64>,
    /// Its relay has recorded a snapshot, a clip (once said, kept: a later
    /// word of a relay that has not heard yet does not take it back).
    pub snapshot: bool,
    pub clip: bool,
}

fn check_copy(copy: &CopiedAlert) -> Result<String> {
    let node_ok = !copy.node.is_empty()
        && copy.node.len() <= 64
        && copy
            .node
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if !node_ok {
        return Err(StoreError::Invalid(format!(
            "{:?} is not a node name",
            copy.node
        )));
    }
    let instance_ok = !copy.instance.is_empty()
        && copy.instance.len() <= 32
        && copy.instance.bytes().all(|b| b.is_ascii_hexdigit());
    if !instance_ok {
        return Err(StoreError::Invalid(format!(
            "{:?} is not a database instance",
            copy.instance
        )));
    }
    if let Some(by) = &copy.acked_by {
        check_text("who acknowledges an alert", by, MAX_ACTOR_CHARS)?;
    }
    if copy.acked_by.is_some() != copy.acked_at.is_some() {
        return Err(StoreError::Invalid(
            "an acknowledgement names who and when, or neither".into(),
        ));
    }
    Ok(join_zones(&check_new_alert(&copy.alert)?))
}

impl Store {
    /// Records `copy` (or brings the copy already here up to date) and moves
    /// cursor `cursor.0` to `cursor.1`, in one transaction. Returns the alert
    /// as stored here, and whether anything changed.
    pub fn copy_alert(&self, copy: &CopiedAlert, cursor: (&str, u64)) -> Result<(Alert, bool)> {
        let zones = check_copy(copy)?;
        let position = i64::try_from(cursor.1)
            .map_err(|_| StoreError::Invalid("a stream position beyond 2^63".into()))?;
        let media = i64::from(copy.snapshot) | (i64::from(copy.clip) << 1);
        self.write(|tx| {
            let a = &copy.alert;
            let found: Option<i64> = tx
                .query_row(
                    "SELECT id FROM alerts
                     WHERE origin_node = ?1 AND origin_instance = ?2 AND origin_id = ?3",
                    params![copy.node, copy.instance, copy.id],
                    |row| row.get(0),
                )
                .optional()?;
            let (id, changed) = match found {
                Some(id) if existing(tx, id)?.camera != a.camera => {
                    return Err(StoreError::Invalid(format!(
                        "alert {} of relay {:?} is of another camera",
                        copy.id, copy.node
                    )));
                }
                Some(id) => {
                    let changed = tx.execute(
                        "UPDATE alerts SET camera = ?2, kind = ?3, severity = ?4,
                            started_at_ms = ?5, zones = ?6, score = ?7, area = ?8, label = ?9,
                            message = ?10,
                            ended_at_ms = coalesce(ended_at_ms, max(?5, ?11)),
                            acked_by = coalesce(acked_by, ?12),
                            acked_at = CASE WHEN acked_by IS NULL THEN ?13 ELSE acked_at END,
                            remote_media = remote_media | ?14
                         WHERE id = ?1 AND (camera, kind, severity, started_at_ms, zones, score,
                                area, label, message) IS NOT (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                            OR id = ?1 AND ended_at_ms IS NULL AND ?11 IS NOT NULL
                            OR id = ?1 AND acked_by IS NULL AND ?12 IS NOT NULL
                            OR id = ?1 AND remote_media | ?14 != remote_media",
                        params![
                            id,
                            a.camera,
                            a.kind,
                            a.severity,
                            a.started_at_ms,
                            zones,
                            a.score,
                            a.area,
                            a.label,
                            a.message,
                            copy.ended_at_ms,
                            copy.acked_by,
                            copy.acked_at,
                            media,
                        ],
                    )?;
                    (id, changed > 0)
                }
                None => {
                    tx.execute(
                        "INSERT INTO alerts (camera, kind, severity, started_at_ms, zones, score,
                            area, label, message, ended_at_ms, acked_by, acked_at, origin_node,
                            origin_id, remote_media, origin_instance)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, max(?4, ?10), ?11, ?12, ?13,
                            ?14, ?15, ?16)",
                        params![
                            a.camera,
                            a.kind,
                            a.severity,
                            a.started_at_ms,
                            zones,
                            a.score,
                            a.area,
                            a.label,
                            a.message,
                            copy.ended_at_ms,
                            copy.acked_by,
                            copy.acked_at,
                            copy.node,
                            copy.id,
                            media,
                            copy.instance,
                        ],
                    )?;
                    (tx.last_insert_rowid(), true)
                }
            };
            set_cursor(tx, cursor.0, position)?;
            Ok((existing(tx, id)?, changed))
        })
    }

    /// The copy of relay `node`'s alert `id` (of database `instance`).
    pub fn copied_alert(&self, node: &str, instance: &str, id: i64) -> Result<Option<Alert>> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                &format!(
                    "SELECT {ALERT_COLUMNS} FROM alerts
                     WHERE origin_node = ?1 AND origin_instance = ?2 AND origin_id = ?3"
                ),
                params![node, instance, id],
                alert_from_row,
            )
            .optional()?)
    }

    /// This database's instance: random, made with it. Alert ids restart
    /// with a new database (or one in memory); a copy is known by its
    /// relay, that relay's instance and its id there.
    pub fn instance(&self) -> Result<String> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM instance WHERE id = 1", [], |row| {
                row.get(0)
            })?)
    }

    /// Copies that have not ended, oldest first: active on this relay's
    /// screens after a restart, until their relay ends them.
    pub fn open_copied_alerts(&self) -> Result<Vec<Alert>> {
        self.open_alerts_where("origin_node IS NOT NULL")
    }

    /// How far this relay has read stream `name` (`None`: not at all).
    pub fn cursor(&self, name: &str) -> Result<Option<u64>> {
        let position: Option<i64> = self
            .conn()
            .query_row(
                "SELECT position FROM cursors WHERE name = ?1",
                [name],
                |row| row.get(0),
            )
            .optional()?;
        Ok(position.and_then(|p| u64::try_from(p).ok()))
    }

    /// Moves cursor `name` to `position` (for what was read and skipped).
    pub fn set_cursor(&self, name: &str, position: u64) -> Result<()> {
        let position = i64::try_from(position)
            .map_err(|_| StoreError::Invalid("a stream position beyond 2^63".into()))?;
        self.write(|tx| set_cursor(tx, name, position))
    }
}

fn set_cursor(tx: &rusqlite::Transaction<'_>, name: &str, position: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO cursors (name, position) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET position = excluded.position",
        params![name, position],
    )?;
    Ok(())
}
