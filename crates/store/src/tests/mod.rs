//! Tests of the store through its public API, plus raw looks at the database where
//! the point is what is (not) stored.

mod alert_copies;
mod alerts;
mod audit;
mod credentials;
mod migrations;
mod no_raw_tokens;
mod replica;
mod revision;
mod sessions;
mod shares;
mod signing;
mod users;

use rusqlite::types::ValueRef;

use crate::{CameraGrant, Role, Store, User};

/// A fixed "now" (2023-11-14), so that no test depends on the clock.
const NOW: i64 = 1_700_000_000;
const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

fn store() -> Store {
    Store::open_in_memory().expect("in-memory store")
}

fn grant(text: &str) -> CameraGrant {
    CameraGrant::parse(text).expect("grant")
}

fn add(store: &Store, name: &str, role: Role, cameras: &str) -> User {
    store
        .add_user(name, role, &grant(cameras), &format!("{name}-password"))
        .expect("add user")
}

fn admin(store: &Store) -> User {
    add(store, "admin", Role::Admin, "*")
}

fn count(store: &Store, sql: &str) -> i64 {
    store
        .conn()
        .query_row(sql, [], |row| row.get(0))
        .expect("count")
}

/// Every value of every column of every table, as text (blobs decoded lossily).
fn every_stored_value(store: &Store) -> Vec<(String, String)> {
    let conn = store.conn();
    let mut tables = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
        .expect("tables");
    let tables: Vec<String> = tables
        .query_map([], |row| row.get(0))
        .expect("tables")
        .collect::<Result<_, _>>()
        .expect("tables");
    assert!(tables.len() >= 9, "{tables:?}");
    let mut values = Vec::new();
    for table in tables {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM \"{table}\""))
            .expect("select");
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).expect("rows");
        while let Some(row) = rows.next().expect("row") {
            for i in 0..columns {
                let text = match row.get_ref(i).expect("value") {
                    ValueRef::Text(t) | ValueRef::Blob(t) => {
                        String::from_utf8_lossy(t).into_owned()
                    }
                    ValueRef::Integer(n) => n.to_string(),
                    ValueRef::Real(x) => x.to_string(),
                    ValueRef::Null => continue,
                };
                values.push((table.clone(), text));
            }
        }
    }
    values
}
