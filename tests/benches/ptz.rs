//! Benchmark (not a test; `cargo xtask bench ptz` runs it): how fast PTZ
//! reacts, in release, against the real relay on loopback, in headless
//! Chromium with real key events (WebDriver input actions).
//!
//! - **Key down → ContinuousMove at the camera**, and **key up → Stop**: the
//!   app's focused camera behind the ONVIF simulator; the page notes when
//!   each key event reached the player (`performance.timeOrigin + now()`),
//!   the simulator when each request arrived (an `Instant` turned into wall
//!   time). One machine, one clock.
//! - **Socket killed → Stop** and **operator frozen → Stop**: an operator in
//!   a process of its own (`ptz-operator`) holds a pan; it is killed
//!   (`SIGKILL`: the kernel closes its socket) or frozen (`SIGSTOP`: the
//!   socket stays open, renewals stop, the relay's 600 ms dead-man rule acts).
//! - **Key down → first moved picture painted** on the demo camera (its
//!   picture is a window the virtual head pans): the page compares a row of
//!   the canvas with the row at key down at every animation frame; the first
//!   that differs is the first moved picture (30 fps camera: a frame every
//!   33 ms, included).
//!
//! 3 runs of 15 presses (10 kills, 10 freezes); p50 and p99 per run, the
//! median of the runs with min–max; printed as markdown rows (`ROW|…`).

use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fantoccini::key::Key;
use serde_json::json;
use sightline_relay::{DemoOptions, Relay, Source};
use sightline_testkit::onvif::{OnvifSim, Recorded};
use sightline_testkit::{median_min_max, relay_config, Browser, WAIT_LIVE};
use tokio::io::AsyncBufReadExt as _;

const RUNS: usize = 3;
const PRESSES: usize = 15;
const KILLS: usize = 10;
const WITHIN: Duration = Duration::from_secs(10);

/// Notes, on the page, when each key event reached the player, and for the
/// demo when the picture first changed after a key down. Args: selector.
const LISTEN: &str = r#"
const [selector, done] = arguments;
const p = document.querySelector(selector);
window.__keys = [];
window.__moved = [];
const wall = () => performance.timeOrigin + performance.now();
p.addEventListener("keydown", (e) => {
  if (e.repeat) return;
  const t0 = wall();
  window.__keys.push({ type: "down", at: t0 });
  const c = p.shadowRoot.querySelector("canvas");
  const ctx = c.getContext("2d");
  const row = () => ctx.getImageData(0, Math.floor(c.height * 0.45), c.width, 1).data;
  const base = row();
  (function check() {
    const now = row();
    let diff = 0;
    for (let i = 0; i < now.length; i += 4) diff += Math.abs(now[i] - base[i]);
    if (diff / (now.length / 4) > 2) return window.__moved.push(wall() - t0);
    if (wall() - t0 > 3000) return window.__moved.push(null);
    requestAnimationFrame(check);
  })();
}, true);
p.addEventListener("keyup", () => window.__keys.push({ type: "up", at: wall() }), true);
p.focus();
done(document.activeElement === p);
"#;

fn wall_ms(at: tokio::time::Instant) -> f64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
        * 1000.0;
    now - at.elapsed().as_secs_f64() * 1000.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn p50_p99(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (percentile(&v, 0.5), percentile(&v, 0.99))
}

async fn focused(browser: &Browser, relay: &Relay, camera: &str) -> anyhow::Result<String> {
    let selector = format!("cam-player[camera={camera}]");
    browser
        .open(&format!("http://{}/?camera={camera}", relay.local_addr()))
        .await?;
    let live = browser
        .run(WAIT_LIVE, vec![json!(selector), json!(20_000)])
        .await?;
    anyhow::ensure!(live["live"] == json!(true), "{live}");
    let ready = browser
        .run(
            "const [s, done] = arguments; const p = document.querySelector(s); const t0 = Date.now(); \
             (function poll() { if (p.hasAttribute('ptz-control')) return done(true); \
             if (Date.now() - t0 > 15000) return done(false); requestAnimationFrame(poll); })();",
            vec![json!(selector)],
        )
        .await?;
    anyhow::ensure!(ready == json!(true), "no PTZ controls on {camera}");
    let focused = browser.run(LISTEN, vec![json!(selector)]).await?;
    anyhow::ensure!(focused == json!(true), "the player did not take focus");
    Ok(selector)
}

/// The accepted requests named `op` that arrived after `after` (wall ms).
fn arrivals(records: &[Recorded], op: &str, after: f64) -> Vec<f64> {
    records
        .iter()
        .filter(|r| r.is(op) && r.ok())
        .map(|r| wall_ms(r.at))
        .filter(|&t| t >= after)
        .collect()
}

/// Key down → ContinuousMove, key up → Stop, on the simulator's camera.
async fn keys_to_camera(
    browser: &Browser,
    relay: &Relay,
    sim: &OnvifSim,
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    focused(browser, relay, "dome").await?;
    let (mut down, mut up) = (Vec::new(), Vec::new());
    for i in 0..PRESSES {
        let key = if i % 2 == 0 { Key::Right } else { Key::Left };
        let stops = sim.requests().iter().filter(|r| r.is("Stop")).count();
        browser
            .hold_key(key.into(), Duration::from_millis(300))
            .await?;
        let records = sim
            .wait_for(WITHIN, "the Stop", |r| {
                r.iter().filter(|r| r.is("Stop")).count() > stops
            })
            .await?;
        let keys = browser
            .run("arguments[0](window.__keys.splice(0));", vec![])
            .await?;
        let at = |kind: &str| {
            keys.as_array()
                .and_then(|k| k.iter().find(|k| k["type"] == json!(kind)))
                .and_then(|k| k["at"].as_f64())
        };
        let (Some(d), Some(u)) = (at("down"), at("up")) else {
            anyhow::bail!("the page saw no key events: {keys}");
        };
        let moved = arrivals(&records, "ContinuousMove", d - 50.0);
        let stopped = arrivals(&records, "Stop", u - 50.0);
        let (Some(m), Some(s)) = (
            moved.iter().copied().reduce(f64::min),
            stopped.iter().copied().reduce(f64::min),
        ) else {
            anyhow::bail!("no move or stop after the keys");
        };
        down.push(m - d);
        up.push(s - u);
    }
    Ok((down, up))
}

/// Key down → first moved picture painted, on the demo's virtual head.
async fn keys_to_picture(browser: &Browser, relay: &Relay) -> anyhow::Result<Vec<f64>> {
    let selector = focused(browser, relay, "demo").await?;
    let mut moved = Vec::new();
    for i in 0..PRESSES {
        let key = if i % 2 == 0 { Key::Right } else { Key::Left };
        browser
            .hold_key(key.into(), Duration::from_millis(300))
            .await?;
        // Wait for the head to stand still before the next press.
        let still = browser
            .run(
                "const [s, done] = arguments; const p = document.querySelector(s); const t0 = Date.now(); \
                 (function poll() { const st = p.ptzState; if (st && !st.moving && window.__moved.length > 0) return done(true); \
                 if (Date.now() - t0 > 10000) return done(false); requestAnimationFrame(poll); })();",
                vec![json!(selector)],
            )
            .await?;
        anyhow::ensure!(still == json!(true), "the demo head did not stop");
        let got = browser
            .run("arguments[0](window.__moved.splice(0));", vec![])
            .await?;
        match got
            .as_array()
            .and_then(|a| a.first())
            .and_then(|v| v.as_f64())
        {
            Some(ms) => moved.push(ms),
            None => anyhow::bail!("the picture did not move after key down: {got}"),
        }
    }
    Ok(moved)
}

/// An operator process holding a pan, then killed or frozen: Stop's delay.
async fn operator_gone(relay: &Relay, sim: &OnvifSim, signal: &str) -> anyhow::Result<Vec<f64>> {
    let mut delays = Vec::new();
    for _ in 0..KILLS {
        let moves = sim
            .requests()
            .iter()
            .filter(|r| r.is("ContinuousMove"))
            .count();
        let stops = sim.requests().iter().filter(|r| r.is("Stop")).count();
        let mut operator = tokio::process::Command::new(env!("CARGO_BIN_EXE_ptz-operator"))
            .arg(relay.local_addr().to_string())
            .arg("dome")
            .env("SIGHTLINE_COOKIE", "none=none")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let mut lines = tokio::io::BufReader::new(operator.stdout.take().expect("piped")).lines();
        tokio::time::timeout(WITHIN, lines.next_line()).await??;
        sim.wait_for(WITHIN, "the held move", |r| {
            r.iter().filter(|r| r.is("ContinuousMove")).count() > moves
        })
        .await?;
        let pid = operator.id().expect("running").to_string();
        let at = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64() * 1000.0;
        std::process::Command::new("kill")
            .args([signal, &pid])
            .status()?;
        let records = sim
            .wait_for(WITHIN, "the Stop", |r| {
                r.iter().filter(|r| r.is("Stop")).count() > stops
            })
            .await?;
        let stop = arrivals(&records, "Stop", at - 1000.0)
            .into_iter()
            .reduce(f64::max)
            .unwrap_or(f64::NAN);
        delays.push(stop - at);
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status();
        let _ = operator.wait().await;
    }
    Ok(delays)
}

fn rows(what: &str, goal: &str, runs: &[(f64, f64)]) {
    let (m50, lo50, hi50) = median_min_max(runs.iter().map(|r| r.0).collect());
    let (m99, lo99, hi99) = median_min_max(runs.iter().map(|r| r.1).collect());
    println!("ROW| {what}, p50 | {goal} | {m50:.1} ms | {lo50:.1} | {hi50:.1} |");
    println!("ROW| {what}, p99 | | {m99:.1} ms | {lo99:.1} | {hi99:.1} |");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sim = OnvifSim::start_ptz().await?;
    let picture = DemoOptions {
        width: 640,
        height: 360,
        fps: 30,
        keyframe_every: 30,
        bitrate_bps: 1_000_000,
        ..DemoOptions::default()
    };
    let small = DemoOptions {
        width: 320,
        height: 180,
        fps: 15,
        keyframe_every: 15,
        bitrate_bps: 200_000,
        ..DemoOptions::default()
    };
    let mut config = relay_config(vec![
        ("demo", Source::Demo(picture)),
        ("dome", Source::Demo(small)),
    ])?;
    config.cameras[0].ptz.enabled = Some(true);
    config.cameras[1].onvif = Some(sightline_testkit::onvif_source(&sim)?);
    let relay = Relay::start(config).await?;
    let (mut down, mut up, mut killed, mut frozen, mut picture) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..RUNS {
        let browser = Browser::launch(&[]).await?;
        let result = async {
            let (d, u) = keys_to_camera(&browser, &relay, &sim).await?;
            let p = keys_to_picture(&browser, &relay).await?;
            anyhow::Ok((d, u, p))
        }
        .await;
        let _ = browser.close().await;
        let (d, u, p) = result?;
        let k = operator_gone(&relay, &sim, "-KILL").await?;
        let f = operator_gone(&relay, &sim, "-STOP").await?;
        eprintln!(
            "run {run}: key down → move {:?}, key up → stop {:?}, killed → stop {:?}, frozen → stop {:?}, key down → picture {:?}",
            p50_p99(d.clone()),
            p50_p99(u.clone()),
            p50_p99(k.clone()),
            p50_p99(f.clone()),
            p50_p99(p.clone())
        );
        down.push(p50_p99(d));
        up.push(p50_p99(u));
        killed.push(p50_p99(k));
        frozen.push(p50_p99(f));
        picture.push(p50_p99(p));
    }
    rows(
        "PTZ: key down in Chromium → ContinuousMove at the ONVIF simulator",
        "loopback; goal p50 < 30 ms",
        &down,
    );
    rows("PTZ: key up → Stop at the camera", "loopback", &up);
    rows(
        "PTZ: operator's process killed (socket closed) → Stop at the camera",
        "goal < 700 ms",
        &killed,
    );
    rows(
        "PTZ: operator's process frozen (socket open, renewals stop) → Stop",
        "600 ms dead-man rule",
        &frozen,
    );
    rows(
        "PTZ: key down → first moved picture painted (demo, virtual head, 640×360 30 fps)",
        "goal p50 < 150 ms",
        &picture,
    );
    relay.shutdown().await?;
    Ok(())
}
