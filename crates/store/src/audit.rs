//! The audit log: who did what to what, from where, and when.
//!
//! The caller writes the entries (it knows the actor and the peer address); the
//! store does not log its own calls. Entries must never hold a secret: name a key
//! or a session by its id, not its token. Ids only grow (`AUTOINCREMENT`), so
//! paging by id stays stable while entries are added or old ones pruned.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::Store;

/// The most entries [`Store::audit_page`] returns at once.
pub const MAX_AUDIT_PAGE: u32 = 1000;

/// An entry to write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Unix seconds.
    pub at: i64,
    /// Who: a user name, `cli`, `api-key:3`, `device:2`; `None` for the relay itself.
    pub actor: Option<String>,
    /// What, as a short dotted word: `user.add`, `login.fail`, `share.revoke`.
    pub action: String,
    /// To what: a user name, `share:12`, a camera id.
    pub target: Option<String>,
    /// Anything else worth keeping (never a secret).
    pub detail: Option<String>,
    /// From where: the client's address.
    pub peer: Option<String>,
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub id: i64,
    #[serde(flatten)]
    pub entry: AuditEntry,
}

impl Store {
    /// Appends an entry; returns its id.
    pub fn audit(&self, entry: &AuditEntry) -> Result<i64> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO audit (at, actor, action, target, detail, peer)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                entry.at,
                entry.actor,
                entry.action,
                entry.target,
                entry.detail,
                entry.peer
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Up to `limit` entries (at most [`MAX_AUDIT_PAGE`]), newest first, older than
    /// the entry `before_id` if given: pass the last id of one page to get the next.
    pub fn audit_page(&self, before_id: Option<i64>, limit: u32) -> Result<Vec<AuditRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, at, actor, action, target, detail, peer FROM audit
             WHERE ?1 IS NULL OR id < ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let records = stmt
            .query_map(params![before_id, limit.min(MAX_AUDIT_PAGE)], |row| {
                Ok(AuditRecord {
                    id: row.get(0)?,
                    entry: AuditEntry {
                        at: row.get(1)?,
                        actor: row.get(2)?,
                        action: row.get(3)?,
                        target: row.get(4)?,
                        detail: row.get(5)?,
                        peer: row.get(6)?,
                    },
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(records)
    }

    /// Deletes the entries written before `before` (Unix seconds); how many.
    pub fn prune_audit(&self, before: i64) -> Result<usize> {
        Ok(self
            .conn()
            .execute("DELETE FROM audit WHERE at < ?1", [before])?)
    }
}
