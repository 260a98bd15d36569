use super::*;
use crate::{
    Alert, AlertQuery, MediaFile, MediaKind, NewAlert, Severity, StoreError, MAX_ALERT_PAGE,
    MAX_ALERT_ZONES, SCHEMA_VERSION,
};

/// A fixed "now" in milliseconds.
const NOW_MS: i64 = NOW * 1000;

fn new_alert(camera: &str, kind: &str, started_at_ms: i64) -> NewAlert {
    NewAlert {
        camera: camera.into(),
        kind: kind.into(),
        severity: Severity::Warning,
        started_at_ms,
        zones: Vec::new(),
        score: 0.0,
        area: 0.0,
        label: None,
        message: None,
    }
}

fn insert(store: &Store, camera: &str, kind: &str, started_at_ms: i64) -> Alert {
    store
        .insert_alert(&new_alert(camera, kind, started_at_ms))
        .expect("insert alert")
}

fn file(path: &str, bytes: i64) -> MediaFile {
    MediaFile {
        path: path.into(),
        bytes,
    }
}

fn zones(names: &[&str]) -> Vec<String> {
    names.iter().map(|&z| z.to_owned()).collect()
}

fn ids(alerts: &[Alert]) -> Vec<i64> {
    alerts.iter().map(|a| a.id).collect()
}

fn invalid_message<T: std::fmt::Debug>(result: crate::Result<T>) -> String {
    match result {
        Err(StoreError::Invalid(message)) => message,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn an_alert_starts_grows_ends_and_is_acknowledged_once() {
    let store = store();
    let started = store
        .insert_alert(&NewAlert {
            zones: zones(&["porch", "drive", "porch"]),
            score: 0.4,
            area: 0.1,
            label: Some("person".into()),
            message: Some("someone at the door".into()),
            severity: Severity::Critical,
            ..new_alert("front", "motion", NOW_MS)
        })
        .expect("insert");
    assert_eq!(started.camera, "front");
    assert_eq!(started.kind, "motion");
    assert_eq!(started.severity, Severity::Critical);
    assert_eq!(started.started_at_ms, NOW_MS);
    assert_eq!(started.ended_at_ms, None);
    assert_eq!(started.zones, ["drive", "porch"], "sorted, no duplicates");
    assert_eq!((started.score, started.area), (0.4, 0.1));
    assert_eq!(started.label.as_deref(), Some("person"));
    assert_eq!(started.message.as_deref(), Some("someone at the door"));
    assert_eq!((started.acked_by.clone(), started.acked_at), (None, None));
    assert_eq!(
        (started.snapshot.clone(), started.clip.clone()),
        (None, None)
    );
    assert_eq!(store.alert(started.id).expect("get"), Some(started.clone()));
    assert_eq!(store.alert(started.id + 1).expect("get"), None);

    // Peaks only grow; zones are a union.
    let updated = store
        .update_alert(started.id, &zones(&["yard"]), 0.9, 0.05)
        .expect("update");
    assert_eq!(updated.zones, ["drive", "porch", "yard"]);
    assert_eq!((updated.score, updated.area), (0.9, 0.1));
    let updated = store
        .update_alert(started.id, &[], 0.2, 0.3)
        .expect("update");
    assert_eq!(updated.zones, ["drive", "porch", "yard"]);
    assert_eq!((updated.score, updated.area), (0.9, 0.3));
    assert_eq!(store.alert(started.id).expect("get"), Some(updated));

    // The first end stays.
    let ended = store.end_alert(started.id, NOW_MS + 5000).expect("end");
    assert_eq!(ended.ended_at_ms, Some(NOW_MS + 5000));
    let again = store.end_alert(started.id, NOW_MS + 9000).expect("again");
    assert_eq!(again.ended_at_ms, Some(NOW_MS + 5000));
    // An end before the start (the clock stepped back) is taken as the start.
    let other = insert(&store, "front", "motion", NOW_MS);
    let other = store.end_alert(other.id, NOW_MS - 1000).expect("end");
    assert_eq!(other.ended_at_ms, Some(NOW_MS));

    // The first acknowledgement stays.
    assert!(store
        .ack_alert(started.id, "alice", NOW_MS + 6000)
        .expect("ack"));
    assert!(!store
        .ack_alert(started.id, "bob", NOW_MS + 7000)
        .expect("again"));
    assert!(!store.ack_alert(999, "bob", NOW_MS).expect("unknown"));
    let acked = store.alert(started.id).expect("get").expect("there");
    assert_eq!(acked.acked_by.as_deref(), Some("alice"));
    assert_eq!(acked.acked_at, Some(NOW_MS + 6000));

    for result in [
        store.update_alert(999, &[], 0.0, 0.0),
        store.end_alert(999, NOW_MS),
    ] {
        assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");
    }
    // Nothing here takes access away.
    assert_eq!(store.revision().expect("revision"), 0);
}

#[test]
fn alerts_in_json() {
    let store = store();
    let alert = store
        .insert_alert(&NewAlert {
            zones: zones(&["porch"]),
            ..new_alert("front", "onvif:tns1:VideoSource/MotionAlarm", NOW_MS)
        })
        .expect("insert");
    store
        .set_alert_media(alert.id, MediaKind::Snapshot, &file("front/1.jpg", 10))
        .expect("snapshot");
    let alert = store.alert(alert.id).expect("get").expect("there");
    let json = serde_json::to_value(&alert).expect("json");
    assert_eq!(json["severity"], "warning");
    assert_eq!(json["zones"], serde_json::json!(["porch"]));
    assert_eq!(json["snapshot"]["path"], "front/1.jpg");
    assert_eq!(json["clip"], serde_json::Value::Null);
    let back: Alert = serde_json::from_value(json).expect("back");
    assert_eq!(back, alert);

    for severity in Severity::ALL {
        let json = serde_json::to_string(&severity).expect("json");
        assert_eq!(json, format!("\"{severity}\""));
        assert_eq!(
            severity.to_string().parse::<Severity>().expect("parses"),
            severity
        );
    }
    assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Critical);
    assert!("Critical".parse::<Severity>().is_err());
    // A webhook's body: zones, peaks, label and message may be left out.
    let webhook: NewAlert = serde_json::from_str(
        r#"{"camera":"door","kind":"webhook:ring","severity":"info","started_at_ms":1}"#,
    )
    .expect("minimal");
    assert_eq!(webhook.zones, Vec::<String>::new());
    assert_eq!(webhook.label, None);
}

#[test]
fn pages_go_back_in_time_and_are_capped() {
    let store = store();
    let mut inserted = Vec::new();
    for i in 0..(i64::from(MAX_ALERT_PAGE) + 25) {
        inserted.push(insert(&store, "front", "motion", NOW_MS + i).id);
    }
    let all = grant("*");
    let mut query = AlertQuery::new(&all);
    query.limit = u32::MAX;
    let page = store.alerts(&query).expect("page");
    assert_eq!(page.len(), MAX_ALERT_PAGE as usize);
    assert_eq!(page[0].id, *inserted.last().expect("some"), "newest first");

    query.limit = 100;
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    loop {
        let page = store.alerts(&query).expect("page");
        if page.is_empty() {
            break;
        }
        sizes.push(page.len());
        query.before = page.last().map(|a| a.id);
        seen.extend(ids(&page));
    }
    assert_eq!(sizes, [100, 100, 25]);
    let mut newest_first = inserted.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);

    query.before = None;
    query.limit = 0;
    assert!(store.alerts(&query).expect("zero").is_empty());
}

#[test]
fn a_page_never_holds_a_camera_outside_the_grant() {
    let store = store();
    for i in 0..30 {
        let camera = if i % 3 == 0 { "a" } else { "b" };
        insert(&store, camera, "motion", NOW_MS + i);
    }
    let only_a = grant("a");
    let mut query = AlertQuery::new(&only_a);
    query.limit = 4;
    let mut pages = 0;
    let mut seen = 0;
    loop {
        let page = store.alerts(&query).expect("page");
        if page.is_empty() {
            break;
        }
        // Full pages: the grant is in SQL, not applied to a page after the fact.
        assert!(page.len() == 4 || page.len() == 10 % 4, "{}", page.len());
        assert!(page.iter().all(|a| a.camera == "a"), "{page:?}");
        pages += 1;
        seen += page.len();
        query.before = page.last().map(|a| a.id);
    }
    assert_eq!((pages, seen), (3, 10));

    // With the camera filter: its own camera, and never another.
    let mut query = AlertQuery::new(&only_a);
    query.camera = Some("a");
    assert_eq!(store.alerts(&query).expect("a").len(), 10);
    query.camera = Some("b");
    assert!(store.alerts(&query).expect("b").is_empty());

    // No grant, no alerts; every camera with all.
    let none = CameraGrant::none();
    assert!(store
        .alerts(&AlertQuery::new(&none))
        .expect("none")
        .is_empty());
    let all = grant("*");
    let mut query = AlertQuery::new(&all);
    query.camera = Some("b");
    query.limit = MAX_ALERT_PAGE;
    let page = store.alerts(&query).expect("b");
    assert_eq!(page.len(), 20);
    assert!(page.iter().all(|a| a.camera == "b"));
    let ab = grant("a,b,c");
    assert_eq!(
        store
            .alerts(&AlertQuery {
                limit: MAX_ALERT_PAGE,
                ..AlertQuery::new(&ab)
            })
            .expect("both")
            .len(),
        30
    );
}

#[test]
fn alerts_filter_by_kind_exactly_or_by_prefix() {
    let store = store();
    let motion = insert(&store, "front", "motion", NOW_MS).id;
    let cell = insert(
        &store,
        "front",
        "onvif:tns1:RuleEngine/CellMotionDetector/Motion",
        NOW_MS + 1,
    )
    .id;
    let alarm = insert(
        &store,
        "front",
        "onvif:tns1:VideoSource/MotionAlarm",
        NOW_MS + 2,
    )
    .id;
    let ring = insert(&store, "front", "webhook:ring", NOW_MS + 3).id;
    // Wildcards of LIKE mean nothing here.
    let odd = insert(&store, "front", "x%_:y", NOW_MS + 4).id;
    let all = grant("*");
    let with_kind = |kind: &str| {
        ids(&store
            .alerts(&AlertQuery {
                kind: Some(kind),
                ..AlertQuery::new(&all)
            })
            .expect("query"))
    };
    assert_eq!(with_kind("motion"), [motion]);
    assert_eq!(with_kind("onvif:"), [alarm, cell]);
    assert_eq!(with_kind("onvif:tns1:"), [alarm, cell]);
    assert_eq!(with_kind("webhook:"), [ring]);
    assert_eq!(with_kind("webhook"), Vec::<i64>::new(), "exact without ':'");
    assert_eq!(with_kind("onvif"), Vec::<i64>::new());
    assert_eq!(with_kind("x%_:"), [odd]);
    assert_eq!(with_kind("%:"), Vec::<i64>::new());
}

#[test]
fn alerts_filter_by_start_time() {
    let store = store();
    let first = insert(&store, "front", "motion", NOW_MS).id;
    let second = insert(&store, "front", "motion", NOW_MS + 1000).id;
    let third = insert(&store, "back", "motion", NOW_MS + 2000).id;
    let all = grant("*");
    let between = |since_ms: Option<i64>, until_ms: Option<i64>| {
        ids(&store
            .alerts(&AlertQuery {
                since_ms,
                until_ms,
                ..AlertQuery::new(&all)
            })
            .expect("query"))
    };
    assert_eq!(between(None, None), [third, second, first]);
    assert_eq!(
        between(Some(NOW_MS + 1000), None),
        [third, second],
        "since is inclusive"
    );
    assert_eq!(
        between(None, Some(NOW_MS + 1000)),
        [first],
        "until is exclusive"
    );
    assert_eq!(between(Some(NOW_MS + 1), Some(NOW_MS + 2000)), [second]);
    assert_eq!(between(Some(NOW_MS + 3000), None), Vec::<i64>::new());
    // Together with a camera and a page.
    let only_front = grant("front");
    let page = store
        .alerts(&AlertQuery {
            since_ms: Some(NOW_MS),
            before: Some(second),
            ..AlertQuery::new(&only_front)
        })
        .expect("query");
    assert_eq!(ids(&page), [first]);
}

#[test]
fn media_is_set_listed_and_cleared() {
    let store = store();
    let one = insert(&store, "front", "motion", NOW_MS);
    let two = insert(&store, "back", "motion", NOW_MS + 1);
    assert!(store.alert_media_files().expect("none").is_empty());

    assert_eq!(
        store
            .set_alert_media(one.id, MediaKind::Snapshot, &file("front/1.jpg", 100))
            .expect("snapshot"),
        None
    );
    store
        .set_alert_media(one.id, MediaKind::Clip, &file("front/1.mp4", 5000))
        .expect("clip");
    store
        .set_alert_media(two.id, MediaKind::Clip, &file("back/2.mp4", 7000))
        .expect("clip");
    let alert = store.alert(one.id).expect("get").expect("there");
    assert_eq!(alert.snapshot, Some(file("front/1.jpg", 100)));
    assert_eq!(alert.clip, Some(file("front/1.mp4", 5000)));
    assert_eq!(
        store.alert_media_files().expect("list"),
        [
            (one.id, MediaKind::Snapshot, file("front/1.jpg", 100)),
            (one.id, MediaKind::Clip, file("front/1.mp4", 5000)),
            (two.id, MediaKind::Clip, file("back/2.mp4", 7000)),
        ]
    );

    // Replacing returns the file no longer named; the same name is not returned.
    assert_eq!(
        store
            .set_alert_media(one.id, MediaKind::Snapshot, &file("front/1b.jpg", 120))
            .expect("replace"),
        Some(file("front/1.jpg", 100))
    );
    assert_eq!(
        store
            .set_alert_media(one.id, MediaKind::Snapshot, &file("front/1b.jpg", 130))
            .expect("same name"),
        None
    );

    // The sweep drops a reference to a missing file.
    assert_eq!(
        store
            .clear_alert_media(one.id, MediaKind::Clip)
            .expect("clear"),
        Some(file("front/1.mp4", 5000))
    );
    assert_eq!(
        store
            .clear_alert_media(one.id, MediaKind::Clip)
            .expect("again"),
        None
    );
    assert_eq!(
        store.alert_media_files().expect("list"),
        [
            (one.id, MediaKind::Snapshot, file("front/1b.jpg", 130)),
            (two.id, MediaKind::Clip, file("back/2.mp4", 7000)),
        ]
    );

    // An alert that is gone: the caller deletes the file it just wrote.
    assert!(matches!(
        store.set_alert_media(999, MediaKind::Clip, &file("x.mp4", 1)),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.clear_alert_media(999, MediaKind::Clip),
        Err(StoreError::NotFound(_))
    ));
    // A path that could leave the alerts folder is refused.
    for bad in [
        "",
        "/etc/passwd",
        "../up.jpg",
        "front/../../up.jpg",
        "front//1.jpg",
        "./1.jpg",
        "front/",
        "front\\1.jpg",
        "a\nb.jpg",
    ] {
        let message =
            invalid_message(store.set_alert_media(one.id, MediaKind::Clip, &file(bad, 1)));
        assert!(
            message.contains("relative to the alerts folder"),
            "{message}"
        );
    }
    let message =
        invalid_message(store.set_alert_media(one.id, MediaKind::Clip, &file("ok.mp4", -1)));
    assert!(message.contains("negative"), "{message}");
    assert_eq!(store.alert_media_files().expect("list").len(), 2);
}

#[test]
fn retention_by_date_returns_exactly_the_files_of_deleted_alerts() {
    let store = store();
    let old = insert(&store, "front", "motion", NOW_MS - 10 * DAY * 1000);
    let old_bare = insert(&store, "front", "motion", NOW_MS - 9 * DAY * 1000);
    let old_open = insert(&store, "back", "camera_offline", NOW_MS - 8 * DAY * 1000);
    let recent = insert(&store, "front", "motion", NOW_MS - DAY * 1000);
    for alert in [&old, &old_bare, &recent] {
        store
            .end_alert(alert.id, alert.started_at_ms + 1000)
            .expect("end");
    }
    store
        .set_alert_media(old.id, MediaKind::Snapshot, &file("old.jpg", 10))
        .expect("media");
    store
        .set_alert_media(old.id, MediaKind::Clip, &file("old.mp4", 20))
        .expect("media");
    store
        .set_alert_media(old_open.id, MediaKind::Snapshot, &file("open.jpg", 30))
        .expect("media");
    store
        .set_alert_media(recent.id, MediaKind::Clip, &file("recent.mp4", 40))
        .expect("media");

    let cutoff = NOW_MS - 7 * DAY * 1000;
    let mut files = store.delete_alerts_before(cutoff).expect("retention");
    files.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(files, [file("old.jpg", 10), file("old.mp4", 20)]);
    assert_eq!(store.alert(old.id).expect("get"), None);
    assert_eq!(store.alert(old_bare.id).expect("get"), None);
    // An alert still open is kept until it ends.
    assert!(store.alert(old_open.id).expect("get").is_some());
    assert!(store.alert(recent.id).expect("get").is_some());
    assert!(store
        .delete_alerts_before(cutoff)
        .expect("again")
        .is_empty());
    store.end_alert(old_open.id, NOW_MS).expect("end");
    assert_eq!(
        store.delete_alerts_before(cutoff).expect("now ended"),
        [file("open.jpg", 30)]
    );
    let all = grant("*");
    assert_eq!(
        ids(&store.alerts(&AlertQuery::new(&all)).expect("left")),
        [recent.id]
    );
    // Ids are not reused after a deletion.
    let next = insert(&store, "front", "motion", NOW_MS);
    assert!(next.id > old_open.id && next.id > recent.id);
}

#[test]
fn trimming_to_a_budget_drops_the_oldest_files_and_keeps_the_alerts() {
    let store = store();
    let mut alerts = Vec::new();
    // Inserted out of order: the oldest by start goes first, not the lowest id.
    for (i, start) in [(0, 3), (1, 1), (2, 2), (3, 4)] {
        let alert = insert(&store, "front", "motion", NOW_MS + start * 1000);
        store
            .set_alert_media(
                alert.id,
                MediaKind::Snapshot,
                &file(&format!("{i}.jpg"), 10),
            )
            .expect("snapshot");
        store
            .set_alert_media(alert.id, MediaKind::Clip, &file(&format!("{i}.mp4"), 90))
            .expect("clip");
        alerts.push(alert);
    }
    let bare = insert(&store, "front", "motion", NOW_MS);
    // 400 bytes in all.
    assert!(store.trim_alert_media(400).expect("within").is_empty());
    assert!(store
        .trim_alert_media(1_000_000)
        .expect("within")
        .is_empty());

    // 399 → the oldest alert's two files go (400 - 100 = 300).
    assert_eq!(
        store.trim_alert_media(399).expect("trim"),
        [file("1.jpg", 10), file("1.mp4", 90)]
    );
    // 150 → the next two oldest go (300 → 200 → 100).
    assert_eq!(
        store.trim_alert_media(150).expect("trim"),
        [
            file("2.jpg", 10),
            file("2.mp4", 90),
            file("0.jpg", 10),
            file("0.mp4", 90)
        ]
    );
    let left: Vec<String> = store
        .alert_media_files()
        .expect("list")
        .into_iter()
        .map(|(_, _, f)| f.path)
        .collect();
    assert_eq!(left, ["3.jpg", "3.mp4"]);
    // Every alert is still in the history.
    for alert in alerts.iter().chain([&bare]) {
        assert!(store.alert(alert.id).expect("get").is_some());
    }
    let trimmed = store.alert(alerts[1].id).expect("get").expect("there");
    assert_eq!((trimmed.snapshot, trimmed.clip), (None, None));
    // A budget of nothing drops everything.
    assert_eq!(store.trim_alert_media(0).expect("trim").len(), 2);
    assert!(store.alert_media_files().expect("list").is_empty());
    assert_eq!(count(&store, "SELECT count(*) FROM alerts"), 5);
}

#[test]
fn open_alerts_survive_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sightline.db");
    let (open, ended) = {
        let store = Store::open(&path).expect("open");
        let open = insert(&store, "front", "motion", NOW_MS);
        let ended = insert(&store, "back", "motion", NOW_MS + 1);
        store.end_alert(ended.id, NOW_MS + 2).expect("end");
        store
            .set_alert_media(open.id, MediaKind::Snapshot, &file("front/1.jpg", 10))
            .expect("snapshot");
        // Dropped without ending `open`: as after a crash.
        (open.id, ended.id)
    };
    let store = Store::open(&path).expect("reopen");
    let still_open = store.open_alerts().expect("open alerts");
    assert_eq!(ids(&still_open), [open]);
    assert_eq!(still_open[0].snapshot, Some(file("front/1.jpg", 10)));
    // The relay ends them at start-up.
    store.end_alert(open, NOW_MS + 60_000).expect("end");
    assert!(store.open_alerts().expect("open alerts").is_empty());
    let all = grant("*");
    assert_eq!(
        ids(&store.alerts(&AlertQuery::new(&all)).expect("history")),
        [ended, open]
    );
}

#[test]
fn a_version_2_database_gets_the_alert_history() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sightline.db");
    {
        // A database as version 2 left it, with a user and a key.
        let raw = rusqlite::Connection::open(&path).expect("raw open");
        for script in &crate::migrations::MIGRATIONS[0..2] {
            raw.execute_batch(script).expect("old version");
        }
        raw.execute_batch(
            "PRAGMA user_version = 2;
             INSERT INTO users (name, role, cameras, password_hash, created_at)
                 VALUES ('boss', 'admin', '*', 'x', 1);
             INSERT INTO api_keys (name, token_hash, created_by, created_at, role, cameras)
                 VALUES ('hook', 'h', 1, 1, 'viewer', 'door');",
        )
        .expect("old rows");
    }
    let store = Store::open(&path).expect("migrates");
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    assert!(store.user_by_name("boss").expect("read").is_some());
    assert_eq!(store.api_keys().expect("keys").len(), 1);
    let alert = insert(&store, "door", "webhook:ring", NOW_MS);
    assert_eq!(store.alert(alert.id).expect("get"), Some(alert));
    for index in [
        "alerts_by_camera",
        "alerts_by_start",
        "alerts_open",
        "alerts_with_media",
    ] {
        assert_eq!(
            count(
                &store,
                &format!(
                    "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = '{index}'"
                )
            ),
            1,
            "{index}"
        );
    }
    drop(store);
    // And opening it again changes nothing.
    let store = Store::open(&path).expect("reopen");
    assert_eq!(store.open_alerts().expect("open").len(), 1);
}

#[test]
fn the_table_is_strict() {
    let store = store();
    let alert = insert(&store, "front", "motion", NOW_MS);
    let conn = store.conn();
    for sql in [
        "UPDATE alerts SET started_at_ms = 'soon' WHERE id = ?1",
        "UPDATE alerts SET severity = 'panic' WHERE id = ?1",
        "UPDATE alerts SET snapshot_path = 'x.jpg' WHERE id = ?1",
        "UPDATE alerts SET acked_by = 'alice' WHERE id = ?1",
    ] {
        assert!(conn.execute(sql, [alert.id]).is_err(), "{sql}");
    }
}

#[test]
fn invalid_alerts_are_refused_with_a_reason() {
    let store = store();
    let cases: Vec<(NewAlert, &str)> = vec![
        (new_alert("", "motion", NOW_MS), "camera id"),
        (new_alert(&"c".repeat(65), "motion", NOW_MS), "1 to 64"),
        (new_alert(" front", "motion", NOW_MS), "spaces"),
        (new_alert("a,b", "motion", NOW_MS), "commas"),
        (new_alert("front", "", NOW_MS), "kind must be 1 to 128"),
        (new_alert("front", &"k".repeat(129), NOW_MS), "1 to 128"),
        (new_alert("front", "mo\ntion", NOW_MS), "control characters"),
        (
            NewAlert {
                label: Some("l".repeat(1025)),
                ..new_alert("front", "motion", NOW_MS)
            },
            "label may be at most 1024",
        ),
        (
            NewAlert {
                message: Some("m".repeat(1025)),
                ..new_alert("front", "motion", NOW_MS)
            },
            "message may be at most 1024",
        ),
        (
            NewAlert {
                zones: (0..=MAX_ALERT_ZONES).map(|i| format!("z{i}")).collect(),
                ..new_alert("front", "motion", NOW_MS)
            },
            "at most 32 zones",
        ),
        (
            NewAlert {
                zones: zones(&["porch", ""]),
                ..new_alert("front", "motion", NOW_MS)
            },
            "zone name",
        ),
        (
            NewAlert {
                zones: zones(&["a\nb"]),
                ..new_alert("front", "motion", NOW_MS)
            },
            "zone name may not contain control characters",
        ),
        (
            NewAlert {
                score: f64::NAN,
                ..new_alert("front", "motion", NOW_MS)
            },
            "score must be a finite number",
        ),
        (
            NewAlert {
                area: -0.5,
                ..new_alert("front", "motion", NOW_MS)
            },
            "area must be a finite number",
        ),
    ];
    for (alert, expected) in cases {
        let message = invalid_message(store.insert_alert(&alert));
        assert!(message.contains(expected), "{message:?} lacks {expected:?}");
    }
    // At the limits, all is well.
    store
        .insert_alert(&NewAlert {
            zones: (0..MAX_ALERT_ZONES).map(|i| format!("z{i}")).collect(),
            label: Some("l".repeat(1024)),
            message: Some("m".repeat(1024)),
            ..new_alert(&"c".repeat(64), &"k".repeat(128), NOW_MS)
        })
        .expect("at the limits");
    assert_eq!(count(&store, "SELECT count(*) FROM alerts"), 1);

    // Updates are checked too, also the union of zones.
    let alert = insert(&store, "front", "motion", NOW_MS);
    let half: Vec<String> = (0..20).map(|i| format!("a{i}")).collect();
    let other: Vec<String> = (0..20).map(|i| format!("b{i}")).collect();
    store
        .update_alert(alert.id, &half, 0.0, 0.0)
        .expect("20 zones");
    let message = invalid_message(store.update_alert(alert.id, &other, 0.0, 0.0));
    assert!(message.contains("at most 32 zones"), "{message}");
    let message = invalid_message(store.update_alert(alert.id, &[], f64::INFINITY, 0.0));
    assert!(message.contains("score"), "{message}");
    let message = invalid_message(store.ack_alert(alert.id, "", NOW_MS));
    assert!(message.contains("who acknowledges"), "{message}");
    // The refused update changed nothing.
    let mut sorted = half;
    sorted.sort();
    assert_eq!(
        store.alert(alert.id).expect("get").expect("there").zones,
        sorted
    );
}
