//! `cargo xtask fuzz [SECONDS]`: every cargo-fuzz target in `fuzz/` for
//! SECONDS each (default 60), on the machine's stable toolchain
//! (`RUSTC_BOOTSTRAP=1` lets cargo-fuzz pass its `-Z` flags; no sanitizer is
//! needed: the code under test has no `unsafe`). Seeds the corpora with valid
//! inputs (a signed ticket, real control messages, a real frame) so libFuzzer
//! mutates around what the relay really parses, and prints executions and
//! crashes per target. A crash leaves its input in `fuzz/artifacts/TARGET/`:
//! fix the bug, and keep the input as a unit test beside the code.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::Context as _;

use crate::{cargo, output, run, say};

/// The targets, in `fuzz/Cargo.toml`.
pub const TARGETS: [&str; 5] = [
    "client_message",
    "server_message",
    "media_header",
    "ticket",
    "config",
];

/// The fuzz targets' fixed key and clock (see `fuzz/fuzz_targets/ticket.rs`).
const TICKET_KEY: [u8; 32] = [7; 32];
const TICKET_NOW: i64 = 1_800_000_000;

/// Installs cargo-fuzz if missing, seeds, runs each target; the markdown table.
pub fn fuzz(root: &Path, seconds: u64) -> anyhow::Result<String> {
    if output(cargo().args(["fuzz", "--version"])).is_none() {
        say("cargo-fuzz: missing — installing from crates.io (a few minutes)");
        run(cargo().args(["install", "--locked", "cargo-fuzz"]))?;
    }
    let fuzz = root.join("fuzz");
    seed(&fuzz)?;
    let mut table = String::from(
        "| target | seconds | executions | executions/s | crashes |\n| --- | --- | --- | --- | --- |\n",
    );
    for target in TARGETS {
        say(&format!("fuzzing {target} for {seconds} s"));
        let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(&fuzz)
            .env("RUSTC_BOOTSTRAP", "1")
            .args([
                "fuzz",
                "run",
                target,
                "--sanitizer",
                "none",
                "--release",
                "--",
            ])
            .arg(format!("-max_total_time={seconds}"))
            .arg("-print_final_stats=1")
            .stdout(Stdio::inherit())
            .stderr(Stdio::piped())
            .output()
            .with_context(|| format!("cannot run cargo fuzz for {target}"))?;
        let log = String::from_utf8_lossy(&out.stderr);
        let stat = |name: &str| {
            log.lines()
                .find_map(|l| l.strip_prefix(&format!("stat::{name}:")))
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let executions = stat("number_of_executed_units");
        let crashed = !out.status.success();
        if crashed {
            eprintln!("{log}");
        }
        table.push_str(&format!(
            "| {target} | {seconds} | {} | {} | {} |\n",
            executions.map_or("?".into(), |n| n.to_string()),
            executions.map_or("?".into(), |n| (n / seconds.max(1)).to_string()),
            if crashed {
                format!("**yes**: see fuzz/artifacts/{target}/")
            } else {
                "0".into()
            },
        ));
    }
    Ok(table)
}

/// Valid inputs for each target's corpus.
fn seed(fuzz: &Path) -> anyhow::Result<()> {
    use sightline_wire::{ClientMessage, ServerMessage, Ticket, PROTOCOL_VERSION};
    let write = |target: &str, name: &str, bytes: &[u8]| -> anyhow::Result<()> {
        let dir = fuzz.join("corpus").join(target);
        std::fs::create_dir_all(&dir)?;
        Ok(std::fs::write(dir.join(name), bytes)?)
    };
    let claims = sightline_ticket::Claims::new(
        "user:alice",
        vec!["front-door".into(), "yard".into()],
        "https://shop.example",
        TICKET_NOW - 10,
        [1; 16],
    );
    let ticket = sightline_ticket::sign("k1", &TICKET_KEY, &claims)?;
    write("ticket", "valid", ticket.as_bytes())?;
    let hello = ClientMessage::Hello {
        protocol: PROTOCOL_VERSION,
        client: Some("seed".into()),
        ticket: Some(Ticket(ticket)),
    };
    write("client_message", "hello", hello.to_json().as_bytes())?;
    let subscribe = ClientMessage::Subscribe {
        id: 1,
        camera: "front-door".into(),
        stream: sightline_wire::Stream::Sub,
    };
    write(
        "client_message",
        "subscribe",
        subscribe.to_json().as_bytes(),
    )?;
    let error = sightline_wire::ErrorCode::UnknownCamera;
    let server = ServerMessage::Error {
        code: error,
        message: "no camera \"x\"".into(),
        request: Some(3),
    };
    write("server_message", "error", server.to_json().as_bytes())?;
    let frame = sightline_wire::video_frame(2, true, 40_000, 1, &[0, 0, 0, 1, 0x65, 0x88]);
    write("media_header", "keyframe", &frame)?;
    let config = "listen = \"0.0.0.0:8080\"\n\n[[camera]]\nid = \"door\"\nurl = \"rtsp://u:p@10.0.0.5/stream1\"\n\n[auth]\nembed_origins = [\"https://shop.example\"]\ntrusted_proxies = [\"10.0.0.0/8\"]\n\n[demo]\ncameras = 2\nsize = \"640x360\"\n";
    write("config", "example", config.as_bytes())?;
    Ok(())
}
