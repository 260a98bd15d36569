//! `sightline-relay user …`, the binary as an administrator runs it on a
//! server without a browser, against a database in a temporary directory.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use sightline_store::{unix_now, Role, Store};

fn relay(data: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sightline-relay"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the relay binary runs");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).expect("stdin written");
    }
    drop(input);
    child.wait_with_output().expect("the relay binary ends")
}

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

#[test]
fn users_are_added_changed_listed_and_removed_from_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let added = ok(relay(
        &data,
        &[
            "user",
            "add",
            "ann",
            "--role",
            "operator",
            "--cameras",
            "a,b",
        ],
        None,
    ));
    let password = added
        .lines()
        .find_map(|l| l.strip_prefix("password (shown once): "))
        .expect("a generated password is printed once");
    let store = Store::open(&data.join("sightline.db")).unwrap();
    let ann = store
        .verify_login("ann", password)
        .unwrap()
        .expect("it signs in");
    assert_eq!(ann.role, Role::Operator);

    ok(relay(
        &data,
        &["user", "set", "ann", "--role", "viewer", "--password-stdin"],
        Some("correct horse battery staple\n"),
    ));
    assert!(store.verify_login("ann", password).unwrap().is_none());
    let ann = store
        .verify_login("ann", "correct horse battery staple")
        .unwrap()
        .expect("the new password signs in");
    assert_eq!(ann.role, Role::Viewer);

    // A link for the address the relay would listen on, in its scheme.
    let link = ok(relay(
        &data,
        &[
            "--listen",
            "127.0.0.1:9443",
            "--tls",
            "self-signed",
            "user",
            "link",
            "ann",
        ],
        None,
    ));
    assert!(
        link.trim()
            .starts_with("https://127.0.0.1:9443/login#token="),
        "{link}"
    );
    let list = ok(relay(&data, &["user", "list"], None));
    assert!(list.contains("ann") && list.contains("viewer"), "{list}");
    assert!(!list.contains("correct horse"), "no secret in the list");

    let nothing = relay(&data, &["user", "set", "ann"], None);
    assert!(!nothing.status.success());
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("nothing to change"));

    ok(relay(&data, &["user", "remove", "ann"], None));
    assert!(store.user_by_name("ann").unwrap().is_none());
    assert!(!relay(&data, &["user", "remove", "ann"], None)
        .status
        .success());
}

#[test]
fn a_ticket_from_the_shell_is_signed_and_capped_by_the_users_grant() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(relay(
        &data,
        &["user", "add", "bo", "--cameras", "a", "--password-stdin"],
        Some("a long enough password\n"),
    ));
    let ticket = ok(relay(
        &data,
        &["user", "ticket", "bo", "--cameras", "a,b", "--ttl", "60"],
        None,
    ));
    let ticket = ticket.trim();
    let store = Store::open(&data.join("sightline.db")).unwrap();
    let now = unix_now();
    let claims = sightline_ticket::verify_with(ticket, now, None, |kid| {
        store.signing_key_by_id(kid).unwrap().map(|k| k.secret)
    })
    .expect("signed with the relay's key");
    assert_eq!(claims.cameras, ["a"], "b is not bo's to give");
    assert!(claims.exp - now <= 60);
    let bo = store.user_by_name("bo").unwrap().unwrap();
    assert_eq!(claims.sub, format!("user:{}:{}", bo.id, bo.generation));

    let none = relay(&data, &["user", "ticket", "bo", "--cameras", "b"], None);
    assert!(!none.status.success(), "no ticket for nothing");
    let long = relay(&data, &["user", "ticket", "bo", "--ttl", "3601"], None);
    assert!(!long.status.success(), "at most an hour");
    let anywhere = relay(&data, &["user", "ticket", "bo", "--audience", "*"], None);
    assert!(!anywhere.status.success(), "`*` is for API keys");
    let shop = ok(relay(
        &data,
        &[
            "user",
            "ticket",
            "bo",
            "--audience",
            "HTTPS://Shop.Example:443/",
        ],
        None,
    ));
    let claims = sightline_ticket::verify_with(shop.trim(), now, None, |kid| {
        store.signing_key_by_id(kid).unwrap().map(|k| k.secret)
    })
    .unwrap();
    assert_eq!(claims.aud, "https://shop.example", "normalised");
    let audit = store.audit_page(None, 10).unwrap();
    assert!(audit.iter().any(|e| e.entry.action == "ticket.mint"));
}
