//! The one error type of the store.
//!
//! Messages are written for whoever has to act on them: the operator running the
//! CLI, or an admin in the web page. None of them ever contains a password, a token
//! or a key: only names, ids and what to do.

use std::path::PathBuf;

/// `Result` with [`StoreError`] as the error.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite could not open (or create) the database file.
    #[error(
        "cannot open the database {}: {source}; check that its folder exists and that the relay's user may write there",
        path.display()
    )]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    /// The database file could not be created with owner-only permissions.
    #[error("cannot create the database file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Any other SQLite failure (a locked file past the busy timeout, a full disk, …).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),

    /// The named thing does not exist, e.g. `user "bob"`.
    #[error("{0} not found")]
    NotFound(String),

    /// The change clashes with what is there, e.g. a user name that is taken.
    #[error("{0}")]
    Conflict(String),

    /// The input is not acceptable: a bad name, camera list, expiry, password length.
    #[error("{0}")]
    Invalid(String),

    /// The caller may not do this to that object (e.g. revoke someone else's share).
    #[error("{0}")]
    Forbidden(String),

    /// The change would leave the relay without an admin.
    #[error(
        "this is the last admin: make another user admin first, so that someone can still administer the relay"
    )]
    LastAdmin,

    /// The file was written by a newer build, whose schema this one does not know.
    #[error(
        "the database was written by a newer Sightline (schema version {found}; this relay knows up to {known}): upgrade the relay, or restore a backup made by this version"
    )]
    TooNew { found: i64, known: i64 },

    /// Argon2 refused to hash (it does so only for out-of-range inputs or parameters).
    #[error("password hashing failed: {0}")]
    Hash(String),

    /// The operating system's random source failed; no secret can be made without it.
    #[error("the operating system's random number source failed: {0}")]
    Random(String),

    /// A stored value is not one this build could have written.
    #[error(
        "the database holds an unexpected value ({0}); it may have been edited by hand or be damaged: restore a backup"
    )]
    Corrupt(String),
}
