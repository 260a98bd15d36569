//! `cargo xtask bench`, ingest: M cameras (1, 10, 50) pulled over RTSP from
//! GStreamer's RTSP server (`tests/rtsp_server.py`, mount `/clip`), each a
//! 720p30 stream of about 2 Mbit/s, with no viewers. The server plays a
//! recorded clip in real time (no encoding: 50 live x264 encoders would not fit
//! on two cores), and each camera is its own RTSP session and pipeline.
//!
//! For each M, 3 runs, each with a fresh server and relay: once every camera is
//! online and a 3 s warm-up has passed, the relay's CPU (from /proc) and the
//! frames and bytes it received (its `/metrics`) are read over a 10 s window.
//! A run where the cameras did not all stream in real time fails the benchmark
//! rather than report a cheap figure.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::procs::{cpu_ticks, median, rss_kb, start, TICKS_PER_SECOND};
use crate::{run, say};

const CAMERAS: &[usize] = &[1, 10, 50];
const RUNS: usize = 3;
const WARMUP: Duration = Duration::from_secs(3);
const WINDOW: Duration = Duration::from_secs(10);
/// How long all cameras may take to come online.
const ONLINE_WITHIN: Duration = Duration::from_secs(30);
/// The clip lasts longer than connecting, warming up and measuring (here, and
/// in the `peer` benchmark, which plays it to a browser for about 40 s).
const CLIP_SECONDS: u32 = 90;

struct Run {
    cpu_percent: f64,
    rss_mb: f64,
    server_cpu_percent: f64,
    fps_per_camera: f64,
    mbps_per_camera: f64,
}

/// The clip the RTSP server plays, made with ffmpeg once: 720p30 High, about
/// 2 Mbit/s (film-grain noise keeps x264 from compressing the test picture
/// far below that), a keyframe every 2 s, no B-frames, as cameras send.
pub fn clip(streams: &Path) -> anyhow::Result<PathBuf> {
    let file = streams.join(format!("1280x720_2mbps_{CLIP_SECONDS}s.mp4"));
    if !file.is_file() {
        say("making the ingest benchmark clip with ffmpeg");
        run(Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg("testsrc2=size=1280x720:rate=30")
            .args(["-t", &CLIP_SECONDS.to_string()])
            .args(["-vf", "noise=alls=10:allf=t", "-c:v", "libx264"])
            .args(["-preset", "veryfast", "-profile:v", "high", "-bf", "0"])
            .args(["-g", "60", "-b:v", "2M", "-maxrate", "2M", "-bufsize", "2M"])
            .args(["-pix_fmt", "yuv420p"])
            .arg(&file))?;
    }
    Ok(file)
}

/// The markdown table of the ingest benchmark.
pub fn table(root: &Path, clip: &Path) -> anyhow::Result<String> {
    let relay = root.join("target/release/sightline-relay");
    let mut out = String::from(
        "| cameras | relay CPU % | relay CPU % per camera | relay RSS MB | RTSP server CPU % | fps per camera | Mbit/s per camera |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for &m in CAMERAS {
        let mut runs = Vec::new();
        for i in 0..RUNS {
            say(&format!("ingest: {m} cameras, run {} of {RUNS}", i + 1));
            runs.push(measure(root, &relay, clip, m)?);
        }
        let med = |f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
        let cpu: Vec<f64> = runs.iter().map(|r| r.cpu_percent).collect();
        let (lo, hi) = (
            cpu.iter().copied().fold(f64::MAX, f64::min),
            cpu.iter().copied().fold(f64::MIN, f64::max),
        );
        out.push_str(&format!(
            "| {m} | {:.1} ({lo:.1}–{hi:.1}) | {:.3} | {:.0} | {:.0} | {:.1} | {:.2} |\n",
            med(|r| r.cpu_percent),
            med(|r| r.cpu_percent) / m as f64,
            med(|r| r.rss_mb),
            med(|r| r.server_cpu_percent),
            med(|r| r.fps_per_camera),
            med(|r| r.mbps_per_camera),
        ));
    }
    Ok(out)
}

fn measure(root: &Path, relay: &Path, clip: &Path, cameras: usize) -> anyhow::Result<Run> {
    let mut server = Command::new("/usr/bin/python3");
    server
        .arg(root.join("tests/rtsp_server.py"))
        .arg("--clip")
        .arg(clip);
    let (server, port) = start(server, "READY ")?;
    let config = root.join("target/bench/ingest.toml");
    let mut toml = crate::bench_relay_toml(root);
    for i in 1..=cameras {
        toml.push_str(&format!(
            "[[camera]]\nid = \"cam-{i}\"\nurl = \"rtsp://127.0.0.1:{port}/clip\"\n"
        ));
    }
    std::fs::write(&config, toml)?;
    let mut cmd = Command::new(relay);
    cmd.arg("--config")
        .arg(&config)
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn");
    let (relay, addr) = start(cmd, "Sightline is live: open http://")?;
    let addr = addr.trim_end_matches('/').to_owned();

    let deadline = Instant::now() + ONLINE_WITHIN;
    loop {
        let online = metrics(&addr)?.online;
        if online == cameras {
            break;
        }
        if Instant::now() > deadline {
            bail!("only {online} of {cameras} cameras came online within {ONLINE_WITHIN:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(WARMUP);
    let (rpid, spid) = (relay.0.id(), server.0.id());
    let (t0, c0, s0, m0) = (
        Instant::now(),
        cpu_ticks(rpid)?,
        cpu_ticks(spid)?,
        metrics(&addr)?,
    );
    std::thread::sleep(WINDOW);
    let (c1, s1, m1) = (cpu_ticks(rpid)?, cpu_ticks(spid)?, metrics(&addr)?);
    let secs = t0.elapsed().as_secs_f64();
    let rss_mb = rss_kb(rpid)? as f64 / 1024.0;
    anyhow::ensure!(
        m1.online == cameras,
        "{} of {cameras} cameras went offline during the window (did the clip end?)",
        cameras - m1.online
    );
    let fps_per_camera = (m1.frames - m0.frames) / secs / cameras as f64;
    anyhow::ensure!(
        fps_per_camera > 27.0,
        "the cameras streamed at {fps_per_camera:.1} fps, not in real time (30): the machine is overloaded"
    );
    Ok(Run {
        cpu_percent: (c1 - c0) as f64 / TICKS_PER_SECOND / secs * 100.0,
        rss_mb,
        server_cpu_percent: (s1 - s0) as f64 / TICKS_PER_SECOND / secs * 100.0,
        fps_per_camera,
        mbps_per_camera: (m1.bytes - m0.bytes) * 8.0 / 1e6 / secs / cameras as f64,
    })
}

/// What the benchmark reads from the relay's `/metrics`, summed over cameras.
struct Totals {
    online: usize,
    frames: f64,
    bytes: f64,
}

fn metrics(addr: &str) -> anyhow::Result<Totals> {
    let text = http_get(addr, "/metrics")?;
    let mut totals = Totals {
        online: 0,
        frames: 0.0,
        bytes: 0.0,
    };
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let value: f64 = value.parse().unwrap_or(0.0);
        let family = name.split('{').next().unwrap_or(name);
        match family {
            "sightline_camera_online" => totals.online += (value == 1.0) as usize,
            "sightline_camera_frames_total" => totals.frames += value,
            "sightline_camera_bytes_total" => totals.bytes += value,
            _ => {}
        }
    }
    Ok(totals)
}

/// One HTTP/1.0 GET on loopback (xtask keeps to std: no HTTP client to build).
fn http_get(addr: &str, path: &str) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .context("not an HTTP response")?;
    anyhow::ensure!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "GET {path}: {head}"
    );
    Ok(body.to_owned())
}
