//! Benchmark (not a test; `cargo xtask bench alerts` runs it): what alerts
//! cost and how fast they reach an operator, in release, against the real
//! relay on loopback with a real SQLite file and data directory.
//!
//! - **Scene change → alert painted**: four demo cameras (640×360, 15 fps)
//!   with motion detection on their doorway at 5 fps analysis; the intruder
//!   is sent across each. The scene changes when the demo camera draws the
//!   walk's first frame (it records the wall-clock time); the alert is
//!   painted at the first animation frame after the page's `<cam-player>`
//!   fires `alert` (`start`) — the outline is drawn in that frame. Both are
//!   `Date.now()`-style wall clocks on one machine. Measured with
//!   `confirm_frames` = 1, 2 and 3 (the default): motion must persist over
//!   that many analysed frames, so at 5 fps each one adds 200 ms.
//! - **Detector CPU per camera, decode included**: the motion threads' CPU
//!   time (`/proc/self/task/*/stat` of the threads named `motion-…`) while
//!   the relay replays a 30 fps clip with motion detection on and nobody
//!   watching, as % of one core: a camera-like scene (a still detailed
//!   picture, light sensor noise, one object walking across; 0.6, 1.5 and
//!   3 Mbit/s) at 360p, 720p, 1080p and 16 cameras at 360p and 720p, then the
//!   worst case, ffmpeg's `testsrc2` where everything moves (1, 2, 4 Mbit/s).
//!   Decoding every frame is nearly all of it (H.264 frames depend on the
//!   ones before): libavcodec needs about half of OpenH264's time here.
//! - **Alerts fanned out**: 100 sockets of users allowed to see the camera;
//!   1000 alerts (start, then end) raised as fast as the engine takes them.
//!   Every socket must receive all 2000 changes; alerts/s is 1000 over the
//!   time from the first raise to the last socket's last change (each start
//!   and end is committed to SQLite before it is sent).
//!
//! 3 runs each; printed as markdown rows (`ROW|…`) for xtask's table.
//! `SIGHTLINE_BENCH_ALERTS=latency,cpu,fanout` (any of them) runs only those.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;
use sightline_relay::alerts::{Change, Signal};
use sightline_relay::config::{demo_motion, MotionSettings};
use sightline_relay::{CameraConfig, DemoOptions, Relay, RelayConfig, ReplayOptions, Source};
use sightline_store::{AlertQuery, CameraGrant, MAX_ALERT_PAGE};
use sightline_testkit::{median_min_max, relay_config, Browser, RelayClient, ALL_LIVE};
use sightline_wire::AlertEvent;

const RUNS: usize = 3;
/// Cameras whose intruders are timed together in a round.
const CAMERAS: usize = 4;
/// Rounds per run: each sends every camera's intruder once.
const ROUNDS: usize = 4;
/// How long a CPU window lasts.
const WINDOW: Duration = Duration::from_secs(10);
const SOCKETS: usize = 100;
const ALERTS: usize = 1000;

fn data_dir() -> anyhow::Result<tempfile::TempDir> {
    Ok(tempfile::Builder::new()
        .prefix("sightline-bench-alerts-")
        .tempdir()?)
}

fn config_with(cameras: Vec<CameraConfig>, data: &Path) -> anyhow::Result<RelayConfig> {
    let mut config = relay_config(vec![])?;
    config.cameras = cameras;
    config.data = Some(data.to_owned());
    Ok(config)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Records, on the page, when each alert start was painted.
const LISTEN: &str = r#"
window.__painted = [];
window.addEventListener("alert", (e) => {
  if (e.detail.event !== "start") return;
  const camera = e.detail.camera;
  requestAnimationFrame(() => window.__painted.push({ camera, at: Date.now() }));
}, true);
arguments[0](true);
"#;

const TAKE: &str = r#"
const painted = window.__painted;
window.__painted = [];
arguments[0](painted);
"#;

/// One run of the latency part: `ROUNDS` rounds of every camera's intruder;
/// returns the samples in ms.
async fn latency_run(relay: &Relay, browser: &Browser, ids: &[String]) -> anyhow::Result<Vec<f64>> {
    let mut client = RelayClient::connect(relay.local_addr(), None).await?;
    client
        .welcome()
        .await?
        .map_err(|e| anyhow::anyhow!("refused: {e:?}"))?;
    let mut samples = Vec::new();
    for _ in 0..ROUNDS {
        let mut walked = Vec::new();
        for id in ids {
            let before = relay.intruder_walked_at_ms(id);
            anyhow::ensure!(relay.intrude(id), "no demo camera {id}");
            // Staggered so the cameras' analysis does not run in lockstep.
            tokio::time::sleep(Duration::from_millis(150)).await;
            walked.push(before);
        }
        // Every camera's alert has started and ended.
        let mut ended = std::collections::BTreeSet::new();
        while ended.len() < ids.len() {
            let (event, alert) = client.next_alert(Duration::from_secs(30)).await?;
            if event == AlertEvent::End && alert.kind == "motion" {
                ended.insert(alert.camera);
            }
        }
        let painted = browser.run(TAKE, vec![]).await?;
        let painted = painted.as_array().context("no paint record")?;
        for (id, before) in ids.iter().zip(&walked) {
            let walk = relay
                .intruder_walked_at_ms(id)
                .filter(|t| Some(*t) != *before)
                .with_context(|| format!("{id}: the intruder did not walk"))?;
            let at = painted
                .iter()
                .filter(|p| p["camera"] == json!(id))
                .filter_map(|p| p["at"].as_f64())
                .find(|&at| at >= walk as f64)
                .with_context(|| format!("{id}: no alert painted: {painted:?}"))?;
            samples.push(at - walk as f64);
        }
    }
    Ok(samples)
}

async fn latency(confirm: u32) -> anyhow::Result<String> {
    let ids: Vec<String> = (1..=CAMERAS).map(|i| format!("door-{i}")).collect();
    let cameras = ids
        .iter()
        .map(|id| {
            let mut camera = CameraConfig::new(
                id,
                id,
                Source::Demo(DemoOptions {
                    width: 640,
                    height: 360,
                    fps: 15,
                    keyframe_every: 30,
                    bitrate_bps: 600_000,
                    intruder_every: Some(Duration::from_secs(3600)),
                    ..DemoOptions::default()
                }),
            );
            let mut motion = demo_motion();
            motion.detector.cooldown_secs = 1.0;
            motion.detector.confirm_frames = confirm;
            camera.motion = Some(motion);
            camera
        })
        .collect();
    let data = data_dir()?;
    let relay = Relay::start(config_with(cameras, data.path())?).await?;
    let browser = Browser::launch(&[]).await?;
    let result = async {
        browser
            .open(&format!("http://{}/", relay.local_addr()))
            .await?;
        let all = browser.run(ALL_LIVE, vec![json!(30_000)]).await?;
        anyhow::ensure!(
            all.as_array()
                .is_some_and(|a| a.len() == CAMERAS && a.iter().all(|t| t["live"] == json!(true))),
            "the tiles did not go live: {all}"
        );
        browser.run(LISTEN, vec![]).await?;
        // A warm-up round (the detectors learn their background), not counted.
        latency_run(&relay, &browser, &ids[..1]).await?;
        let mut p50 = Vec::new();
        let mut p99 = Vec::new();
        let mut n = 0;
        for _ in 0..RUNS {
            let mut samples = latency_run(&relay, &browser, &ids).await?;
            samples.sort_by(f64::total_cmp);
            n += samples.len();
            p50.push(percentile(&samples, 0.5));
            p99.push(percentile(&samples, 0.99));
        }
        Ok((p50, p99, n))
    }
    .await;
    let _ = browser.close().await;
    relay.shutdown().await?;
    let (p50, p99, n) = result.with_context(|| format!("latency with confirm_frames {confirm}"))?;
    let row = |what: &str, (m, lo, hi): (f64, f64, f64)| {
        format!(
            "ROW| scene change → alert painted {what}, confirm_frames {confirm} ({n} alerts) | 5 fps analysis | {m:.0} ms | {lo:.0} | {hi:.0} |"
        )
    };
    Ok([
        row("p50", median_min_max(p50)),
        row("p99", median_min_max(p99)),
    ]
    .join("\n"))
}

/// CPU time (s) of this process's threads whose name starts with `prefix`.
fn threads_cpu(prefix: &str) -> anyhow::Result<f64> {
    // /proc counts in USER_HZ, 100 on every Linux architecture's ABI.
    let ticks = 100.0;
    let mut total = 0.0;
    for task in std::fs::read_dir("/proc/self/task")? {
        let task = task?.path();
        let Ok(comm) = std::fs::read_to_string(task.join("comm")) else {
            continue; // ended meanwhile
        };
        if !comm.starts_with(prefix) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(task.join("stat")) else {
            continue;
        };
        // Fields after the `(comm)`: state is the 3rd field; utime, stime the 14th, 15th.
        let rest = stat.rsplit_once(')').context("odd stat")?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let utime: f64 = f.get(11).context("no utime")?.parse()?;
        let stime: f64 = f.get(12).context("no stime")?.parse()?;
        total += (utime + stime) / ticks;
    }
    Ok(total)
}

/// % of one core the motion threads use with `count` cameras replaying `clip`.
async fn detector_cpu(clip: &Path, fps: u32, count: usize) -> anyhow::Result<(Vec<f64>, usize)> {
    let cameras = (1..=count)
        .map(|i| {
            let mut camera = CameraConfig::new(
                format!("c{i}"),
                format!("c{i}"),
                Source::Replay(ReplayOptions {
                    path: clip.to_owned(),
                    fps,
                }),
            );
            camera.motion = Some(MotionSettings {
                detector: Default::default(),
                detect_url: None,
            });
            camera
        })
        .collect();
    let data = data_dir()?;
    let relay = Relay::start(config_with(cameras, data.path())?).await?;
    let result = async {
        // The threads start with the streams; let them settle first.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mut percent = Vec::new();
        for _ in 0..RUNS {
            let (cpu0, t0) = (threads_cpu("motion-")?, Instant::now());
            tokio::time::sleep(WINDOW).await;
            let (cpu1, t1) = (threads_cpu("motion-")?, Instant::now());
            percent.push((cpu1 - cpu0) / (t1 - t0).as_secs_f64() * 100.0);
        }
        let grant = CameraGrant::All;
        let alerts = relay
            .alerts()
            .store()
            .alerts(&AlertQuery {
                limit: MAX_ALERT_PAGE,
                ..AlertQuery::new(&grant)
            })?
            .len();
        anyhow::Ok((percent, alerts))
    }
    .await;
    relay.shutdown().await?;
    result
}

async fn fanout() -> anyhow::Result<(f64, f64)> {
    let data = data_dir()?;
    let camera = CameraConfig::new(
        "cam",
        "Camera",
        Source::Demo(DemoOptions {
            width: 160,
            height: 96,
            fps: 5,
            ..DemoOptions::default()
        }),
    );
    let relay = Relay::start(config_with(vec![camera], data.path())?).await?;
    let result = async {
        let mut rates = Vec::new();
        for run in 0..RUNS {
            let mut sockets = Vec::new();
            for _ in 0..SOCKETS {
                let mut client = RelayClient::connect(relay.local_addr(), None).await?;
                client
                    .welcome()
                    .await?
                    .map_err(|e| anyhow::anyhow!("refused: {e:?}"))?;
                sockets.push(client);
            }
            let label = format!("bench{run}");
            let kind = format!("webhook:{label}");
            let mut readers = Vec::new();
            for mut client in sockets {
                let kind = kind.clone();
                readers.push(tokio::spawn(async move {
                    let mut seen = 0;
                    while seen < 2 * ALERTS {
                        let (event, alert) = client.next_alert(Duration::from_secs(60)).await?;
                        if alert.kind == kind
                            && matches!(event, AlertEvent::Start | AlertEvent::End)
                        {
                            seen += 1;
                        }
                    }
                    anyhow::Ok(Instant::now())
                }));
            }
            let alerts: Arc<_> = relay.alerts().clone();
            let started = Instant::now();
            for i in 0..ALERTS {
                let key = format!("{label}-{i}");
                let start = Signal {
                    camera: "cam".into(),
                    key: key.clone(),
                    change: Change::Start {
                        kind: kind.clone(),
                        label: Some(label.clone()),
                        message: None,
                        severity: None,
                        zones: vec![],
                        score: 0.0,
                        area: 0.0,
                        hold: None,
                        snapshot: None,
                    },
                };
                anyhow::ensure!(alerts.send(start).await, "the engine stopped");
                let end = Signal {
                    camera: "cam".into(),
                    key,
                    change: Change::End,
                };
                anyhow::ensure!(alerts.send(end).await, "the engine stopped");
            }
            let mut last = started;
            for reader in readers {
                last = last.max(reader.await??);
            }
            let secs = (last - started).as_secs_f64();
            rates.push(ALERTS as f64 / secs);
        }
        anyhow::Ok(rates)
    }
    .await;
    relay.shutdown().await?;
    let rates = result?;
    let (m, _, _) = median_min_max(rates);
    Ok((m, m * 2.0 * SOCKETS as f64))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::var_os("SIGHTLINE_BENCH_DIR")
        .map(PathBuf::from)
        .context("SIGHTLINE_BENCH_DIR: the benchmark clips (cargo xtask bench makes them)")?;
    let only = std::env::var("SIGHTLINE_BENCH_ALERTS").ok();
    let want = |part: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|p| p == part))
    };
    for confirm in [1, 2, 3].into_iter().filter(|_| want("latency")) {
        println!("{}", latency(confirm).await?);
    }
    for (clip, fps, size, count) in [
        (
            "scene_640x360.h264",
            15,
            "360p15 camera-like scene (a substream)",
            1,
        ),
        ("scene_640x360.h264", 30, "360p30 camera-like scene", 1),
        ("scene_1280x720.h264", 30, "720p30 camera-like scene", 1),
        ("scene_1920x1080.h264", 30, "1080p30 camera-like scene", 1),
        ("scene_640x360.h264", 15, "360p15 camera-like scene", 16),
        ("scene_640x360.h264", 30, "360p30 camera-like scene", 16),
        ("scene_1280x720.h264", 30, "720p30 camera-like scene", 16),
        ("640x360_high.h264", 30, "360p30 testsrc2 (all moving)", 1),
        ("1280x720_high.h264", 30, "720p30 testsrc2 (all moving)", 1),
        (
            "1920x1080_high.h264",
            30,
            "1080p30 testsrc2 (all moving)",
            1,
        ),
    ]
    .into_iter()
    .filter(|_| want("cpu"))
    {
        let (percent, alerts) = detector_cpu(&dir.join(clip), fps, count).await?;
        let (m, lo, hi) = median_min_max(percent);
        println!(
            "ROW| motion detection CPU (decode + detector), {count} × {size}, nobody watching ({alerts} alerts) | 5 fps analysis | {m:.1} % of a core | {lo:.1} | {hi:.1} |"
        );
    }
    if !want("fanout") {
        return Ok(());
    }
    let (alerts, messages) = fanout().await?;
    println!(
        "ROW| alerts fanned out to {SOCKETS} sockets (start + end each, committed to SQLite) | — | {alerts:.0} alerts/s ({messages:.0} messages/s) | | |"
    );
    Ok(())
}
