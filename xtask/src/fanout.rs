//! `cargo xtask bench`, relay fan-out: one 1080p30 camera (a clip the relay
//! replays) to N WebSocket viewers, and the floor (`sightline-floor`: the same
//! frames to N plain TCP sockets) in the same run, both loaded by
//! `sightline-load` in a process of its own. For each N and server, 3 runs; each
//! run measures the server's CPU (from /proc, over the load's 10 s window after
//! a 5 s warm-up), its resident memory at the end, and what the viewers saw,
//! and the load client's own CPU: it shares the 2 cores with the server, so its
//! share bounds what the latency figures can show.
//!
//! The relay runs twice per N: as the demo runs it (`[auth] enabled = false`)
//! and with accounts on, every viewer presenting a ticket in `hello` (minted
//! by `sightline-relay user ticket`): authentication happens at connect and
//! subscribe, never per frame, so the two must agree within the noise.
//!
//! `SIGHTLINE_FANOUT_VIEWERS=1000` (comma-separated) runs only those N, for
//! checking one change quickly; the default is the whole table.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::procs::{cpu_ticks, median, rss_kb, start, Server, TICKS_PER_SECOND};
use crate::say;

const VIEWERS: &[usize] = &[1, 10, 100, 500, 1000];
const RUNS: usize = 3;
const WARMUP_S: f64 = 5.0;
const WINDOW_S: f64 = 10.0;

/// One run against one server.
struct Run {
    cpu_percent: f64,
    rss_mb: f64,
    p50_ms: f64,
    p99_ms: f64,
    missed: f64,
    connected: u64,
    mbps_per_viewer: f64,
    load_cpu_percent: f64,
}

/// The markdown table of the fan-out benchmark.
pub fn table(root: &Path, clip: &Path) -> anyhow::Result<String> {
    let bin = root.join("target/release");
    let config = root.join("target/bench/fanout.toml");
    std::fs::write(
        &config,
        format!(
            "{}[[camera]]\nid = \"clip\"\nfile = {:?}\nfps = 30\n",
            crate::bench_relay_toml(root),
            clip.display().to_string()
        ),
    )?;
    let secured = root.join("target/bench/fanout-auth.toml");
    let data = root.join("target/bench/data-auth");
    std::fs::write(
        &secured,
        format!(
            "data = {:?}\n[auth]\nenabled = true\n\n[[camera]]\nid = \"clip\"\nfile = {:?}\nfps = 30\n",
            data.display().to_string(),
            clip.display().to_string()
        ),
    )?;
    bench_user(&bin, &data)?;
    let mut out = String::from(
        "| viewers | relay CPU % | relay with tickets CPU % | floor CPU % | relay / floor | relay RSS MB | relay latency p50 / p99 ms | with tickets p50 / p99 ms | floor latency p50 / p99 ms | frames missed, relay / tickets / floor | Mbit/s per viewer | load client CPU %, relay / floor runs |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    let viewers = viewer_counts(VIEWERS)?;
    for &n in &viewers {
        let (mut relay, mut tickets, mut floor) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..RUNS {
            say(&format!("fan-out: {n} viewers, run {} of {RUNS}", i + 1));
            relay.push(measure_relay(&bin, &config, n, None)?);
            let ticket = mint(&bin, &data)?;
            tickets.push(measure_relay(&bin, &secured, n, Some(&ticket))?);
            floor.push(measure_floor(&bin, clip, n)?);
        }
        for (name, runs) in [
            ("relay", &relay),
            ("relay with tickets", &tickets),
            ("floor", &floor),
        ] {
            if let Some(r) = runs.iter().find(|r| r.connected < n as u64) {
                bail!("{name}: only {} of {n} viewers connected", r.connected);
            }
        }
        let med = |runs: &[Run], f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
        let spread = |runs: &[Run], f: fn(&Run) -> f64| {
            let v: Vec<f64> = runs.iter().map(f).collect();
            let (lo, hi) = (
                v.iter().copied().fold(f64::MAX, f64::min),
                v.iter().copied().fold(f64::MIN, f64::max),
            );
            format!("{:.1} ({lo:.1}–{hi:.1})", median(v))
        };
        let (rc, fc) = (
            med(&relay, |r| r.cpu_percent),
            med(&floor, |r| r.cpu_percent),
        );
        out.push_str(&format!(
            "| {n} | {} | {} | {} | {:.2} | {:.0} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} / {:.1} | {:.0} / {:.0} / {:.0} | {:.2} | {:.0} / {:.0} |\n",
            spread(&relay, |r| r.cpu_percent),
            spread(&tickets, |r| r.cpu_percent),
            spread(&floor, |r| r.cpu_percent),
            rc / fc.max(0.01),
            med(&relay, |r| r.rss_mb),
            med(&relay, |r| r.p50_ms),
            med(&relay, |r| r.p99_ms),
            med(&tickets, |r| r.p50_ms),
            med(&tickets, |r| r.p99_ms),
            med(&floor, |r| r.p50_ms),
            med(&floor, |r| r.p99_ms),
            med(&relay, |r| r.missed),
            med(&tickets, |r| r.missed),
            med(&floor, |r| r.missed),
            med(&relay, |r| r.mbps_per_viewer),
            med(&relay, |r| r.load_cpu_percent),
            med(&floor, |r| r.load_cpu_percent),
        ));
    }
    Ok(out)
}

/// The viewer counts to run: `SIGHTLINE_FANOUT_VIEWERS` if set, else `default`.
fn viewer_counts(default: &[usize]) -> anyhow::Result<Vec<usize>> {
    match std::env::var("SIGHTLINE_FANOUT_VIEWERS") {
        Ok(list) => list
            .split(',')
            .map(|n| n.trim().parse())
            .collect::<Result<_, _>>()
            .context("SIGHTLINE_FANOUT_VIEWERS: a comma-separated list of viewer counts"),
        Err(_) => Ok(default.to_vec()),
    }
}

/// The viewer the ticket runs stand for: `bench`, allowed the clip only.
/// Created before the relay's first start, so that it prints no first-run
/// link (its stdout is not read after the ready line).
fn bench_user(bin: &Path, data: &Path) -> anyhow::Result<()> {
    let relay = || {
        let mut c = Command::new(bin.join("sightline-relay"));
        c.arg("--data").arg(data);
        c
    };
    let list = relay().args(["user", "list"]).output()?;
    anyhow::ensure!(list.status.success(), "sightline-relay user list failed");
    let exists = String::from_utf8_lossy(&list.stdout)
        .lines()
        .any(|l| l.split_whitespace().next() == Some("bench"));
    if !exists {
        let add = relay()
            .args([
                "user",
                "add",
                "bench",
                "--role",
                "viewer",
                "--cameras",
                "clip",
            ])
            .stdout(Stdio::null())
            .status()?;
        anyhow::ensure!(add.success(), "sightline-relay user add bench failed");
    }
    Ok(())
}

/// A fresh ticket for `bench` (an hour: a run takes 15 s).
fn mint(bin: &Path, data: &Path) -> anyhow::Result<String> {
    let out = Command::new(bin.join("sightline-relay"))
        .arg("--data")
        .arg(data)
        .args([
            "user",
            "ticket",
            "bench",
            "--cameras",
            "clip",
            "--ttl",
            "3600",
        ])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "sightline-relay user ticket failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

fn measure_relay(
    bin: &Path,
    config: &Path,
    viewers: usize,
    ticket: Option<&str>,
) -> anyhow::Result<Run> {
    let mut relay = Command::new(bin.join("sightline-relay"));
    relay
        .arg("--config")
        .arg(config)
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn");
    let (server, addr) = start(relay, "Sightline is live: open http://")?;
    let addr = addr.trim_end_matches('/');
    load(&server, &format!("ws://{addr}/ws"), bin, viewers, ticket)
}

fn measure_floor(bin: &Path, clip: &Path, viewers: usize) -> anyhow::Result<Run> {
    let mut floor = Command::new(bin.join("sightline-floor"));
    floor.arg("--clip").arg(clip);
    let (server, addr) = start(floor, "LISTENING ")?;
    load(&server, &format!("tcp://{addr}"), bin, viewers, None)
}

/// Runs the load against `url` and measures `server` meanwhile.
fn load(
    server: &Server,
    url: &str,
    bin: &Path,
    viewers: usize,
    ticket: Option<&str>,
) -> anyhow::Result<Run> {
    let pid = server.0.id();
    let mut load = Command::new(bin.join("sightline-load"));
    if let Some(ticket) = ticket {
        load.env("SIGHTLINE_TICKET", ticket);
    }
    let load = load
        .args(["--url", url, "--viewers", &viewers.to_string()])
        .args(["--warmup", &WARMUP_S.to_string()])
        .args(["--seconds", &WINDOW_S.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .context("starting sightline-load")?;
    // The load counts from WARMUP_S after its start for WINDOW_S: sample the
    // server's CPU over the same span.
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(WARMUP_S));
    let (t0, c0, l0) = (Instant::now(), cpu_ticks(pid)?, cpu_ticks(load.id())?);
    std::thread::sleep(
        (started + Duration::from_secs_f64(WARMUP_S + WINDOW_S))
            .saturating_duration_since(Instant::now()),
    );
    let (secs, c1, l1) = (
        t0.elapsed().as_secs_f64(),
        cpu_ticks(pid)?,
        cpu_ticks(load.id())?,
    );
    let rss_mb = rss_kb(pid)? as f64 / 1024.0;
    let out = load.wait_with_output()?;
    anyhow::ensure!(out.status.success(), "sightline-load failed");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "sightline-load said {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })?;
    let get = |k: &str| report[k].as_f64().unwrap_or(f64::NAN);
    Ok(Run {
        cpu_percent: (c1 - c0) as f64 / TICKS_PER_SECOND / secs * 100.0,
        rss_mb,
        p50_ms: get("p50_us") / 1000.0,
        p99_ms: get("p99_us") / 1000.0,
        missed: get("missed"),
        connected: report["connected"].as_u64().unwrap_or(0),
        mbps_per_viewer: get("bytes") * 8.0 / 1e6 / WINDOW_S / viewers as f64,
        load_cpu_percent: (l1 - l0) as f64 / TICKS_PER_SECOND / secs * 100.0,
    })
}

/// Viewer counts of the edge relay's fan-out.
const EDGE_VIEWERS: &[usize] = &[100, 500, 1000];

/// `cargo xtask bench cluster`, the edge relay's fan-out: the same camera
/// pulled by an ingest relay (`role = "ingest"`), through Debian's
/// nats-server, to an edge relay (`role = "edge"`, no camera of its own)
/// whose N viewers are the load. Three processes and the load share the 2
/// cores; the figures are the edge relay's, beside the single relay's of
/// the fan-out table. Latency is the ingest relay's receipt → the viewer's
/// (the NATS hop included).
pub fn edge_table(root: &Path, clip: &Path) -> anyhow::Result<String> {
    let bin = root.join("target/release");
    let dir = root.join("target/bench/cluster");
    let mut out = String::from(
        "| viewers of an edge relay | edge relay CPU % | edge relay RSS MB | latency p50 / p99 ms (ingest relay → viewer) | frames missed | Mbit/s per viewer | load client CPU % |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    let viewers = viewer_counts(EDGE_VIEWERS)?;
    for &n in &viewers {
        let mut runs = Vec::new();
        for i in 0..RUNS {
            say(&format!(
                "edge fan-out: {n} viewers, run {} of {RUNS}",
                i + 1
            ));
            runs.push(measure_edge(&bin, &dir, clip, n)?);
        }
        if let Some(r) = runs.iter().find(|r| r.connected < n as u64) {
            bail!("edge relay: only {} of {n} viewers connected", r.connected);
        }
        let spread = |f: fn(&Run) -> f64| {
            let v: Vec<f64> = runs.iter().map(f).collect();
            let (lo, hi) = (
                v.iter().copied().fold(f64::MAX, f64::min),
                v.iter().copied().fold(f64::MIN, f64::max),
            );
            format!("{:.1} ({lo:.1}–{hi:.1})", median(v))
        };
        let med = |f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
        out.push_str(&format!(
            "| {n} | {} | {:.0} | {:.1} / {:.1} | {:.0} | {:.2} | {:.0} |\n",
            spread(|r| r.cpu_percent),
            med(|r| r.rss_mb),
            med(|r| r.p50_ms),
            med(|r| r.p99_ms),
            med(|r| r.missed),
            med(|r| r.mbps_per_viewer),
            med(|r| r.load_cpu_percent),
        ));
    }
    Ok(out)
}

/// One edge run: a fresh nats-server, ingest relay and edge relay.
fn measure_edge(bin: &Path, dir: &Path, clip: &Path, viewers: usize) -> anyhow::Result<Run> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let nats = start_nats(port, &dir.join("js"))?;
    let relay_toml = |name: &str, role: &str, camera: &str| {
        format!(
            "data = {:?}\n[auth]\nenabled = false\n\n[cluster]\nnats = \"nats://127.0.0.1:{port}\"\nnode = \"{name}\"\nrole = \"{role}\"\n\n{camera}",
            dir.join(format!("data-{name}")).display().to_string()
        )
    };
    let ingest_conf = dir.join("ingest.toml");
    std::fs::write(
        &ingest_conf,
        relay_toml(
            "ingest",
            "ingest",
            &format!(
                "[[camera]]\nid = \"clip\"\nfile = {:?}\nfps = 30\n",
                clip.display().to_string()
            ),
        ),
    )?;
    let edge_conf = dir.join("edge.toml");
    std::fs::write(&edge_conf, relay_toml("edge", "edge", ""))?;
    let relay = |conf: &Path| {
        let mut c = Command::new(bin.join("sightline-relay"));
        c.arg("--config")
            .arg(conf)
            .args(["--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn");
        start(c, "Sightline is live: open http://")
    };
    let (_ingest, _) = relay(&ingest_conf)?;
    let (edge, addr) = relay(&edge_conf)?;
    let addr = addr.trim_end_matches('/').to_owned();
    // The edge finds the camera in the cluster's directory.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !http_get(&addr, "/api/cameras")?.contains("\"clip\"") {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the edge relay never listed the camera"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let run = load(&edge, &format!("ws://{addr}/ws"), bin, viewers, None);
    drop(nats);
    run
}

/// Debian's nats-server with JetStream on `port`, ready.
fn start_nats(port: u16, store: &Path) -> anyhow::Result<Server> {
    use std::io::BufRead as _;
    let mut child = Command::new("/usr/sbin/nats-server")
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(store)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting nats-server (cargo xtask test installs it)")?;
    let stderr = child.stderr.take().context("no stderr")?;
    let server = Server(child);
    let mut lines = std::io::BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        if line?.contains("Server is ready") {
            // Keep reading so it never writes into a closed pipe.
            std::thread::spawn(move || lines.for_each(drop));
            return Ok(server);
        }
    }
    bail!("nats-server exited before it was ready")
}

/// A plain HTTP/1.0 GET on loopback; the whole answer as text.
fn http_get(addr: &str, path: &str) -> anyhow::Result<String> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr)?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

/// Where the clip for the fan-out lives.
pub fn clip(streams: &Path) -> PathBuf {
    streams.join("1920x1080_high.h264")
}
