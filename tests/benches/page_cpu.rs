//! Benchmark (not a test; `cargo xtask bench` runs it): the CPU a page with 16
//! tiles costs in headless Chromium: 720p30 with WebCodecs, and for context
//! 360p30 with each decoder (the Wasm decoder cannot keep up with 16 × 720p on
//! two cores).
//!
//! The relay replays one recorded clip (from `SIGHTLINE_BENCH_DIR`, made by
//! `cargo xtask bench` with ffmpeg) as 16 cameras, so the relay itself costs
//! almost nothing; the app's grid shows all 16. Chromium's CPU is the time its
//! whole process tree (browser, renderer, GPU and utility processes: every
//! descendant of chromedriver) spent, read from /proc over three 10 s windows
//! after the tiles are live. Printed as markdown rows for xtask's table, one
//! line each starting with `ROW|`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;
use sightline_relay::Relay;
use sightline_relay::ReplayOptions;
use sightline_relay::Source;
use sightline_testkit::procs::{tree_ticks, TICKS_PER_SECOND};
use sightline_testkit::{median_min_max, relay_config, Browser, ALL_LIVE};

const TILES: usize = 16;
const WINDOWS: usize = 3;
const WINDOW: Duration = Duration::from_secs(10);

/// Frames painted by all players so far.
const PAINTED: &str = r#"
arguments[0]([...document.querySelectorAll("cam-player")]
  .reduce((n, p) => n + p.getStats().framesPainted, 0));
"#;

async fn measure(clip: &Path, size: &str, decoder: &str) -> anyhow::Result<String> {
    let ids: Vec<String> = (1..=TILES).map(|i| format!("cam-{i}")).collect();
    let source = Source::Replay(ReplayOptions {
        path: clip.to_path_buf(),
        fps: 30,
    });
    let relay = Relay::start(relay_config(
        ids.iter().map(|id| (id.as_str(), source.clone())).collect(),
    )?)
    .await?;
    let browser = Browser::launch(&[]).await?;
    let result = async {
        browser
            .open(&format!("http://{}/?decoder={decoder}", relay.local_addr()))
            .await?;
        let all = browser.run(ALL_LIVE, vec![json!(60_000)]).await?;
        let live = all
            .as_array()
            .map_or(0, |a| a.iter().filter(|p| p["live"] == json!(true)).count());
        anyhow::ensure!(live == TILES, "only {live} of {TILES} tiles went live: {all}");
        let driver = browser.driver_pid().context("chromedriver has exited")?;
        let (mut cpu, mut fps) = (Vec::new(), Vec::new());
        for _ in 0..WINDOWS {
            let (t0, c0) = (Instant::now(), tree_ticks(driver, false)?);
            let p0 = browser.run(PAINTED, vec![]).await?.as_f64().unwrap_or(0.0);
            tokio::time::sleep(WINDOW).await;
            let p1 = browser.run(PAINTED, vec![]).await?.as_f64().unwrap_or(0.0);
            let (secs, c1) = (t0.elapsed().as_secs_f64(), tree_ticks(driver, false)?);
            cpu.push((c1 - c0) as f64 / TICKS_PER_SECOND / secs * 100.0);
            fps.push((p1 - p0) / secs);
        }
        let (c, cmin, cmax) = median_min_max(cpu);
        let (f, fmin, fmax) = median_min_max(fps);
        Ok(format!(
            "ROW| page CPU, {TILES} × {size} tiles (% of one core; 2 cores = 200 %) | {decoder} | {c:.0} % | {cmin:.0} | {cmax:.0} |\n\
             ROW| frames painted per second, {TILES} × {size} tiles (source: {}) | {decoder} | {f:.0} | {fmin:.0} | {fmax:.0} |",
            TILES * 30
        ))
    }
    .await;
    let _ = browser.close().await;
    relay.shutdown().await?;
    result
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::var_os("SIGHTLINE_BENCH_DIR")
        .map(PathBuf::from)
        .context("SIGHTLINE_BENCH_DIR: the benchmark clips (cargo xtask bench makes them)")?;
    for (clip, size, decoder) in [
        ("1280x720_high.h264", "720p30", "webcodecs"),
        ("640x360_high.h264", "360p30", "webcodecs"),
        ("640x360_high.h264", "360p30", "wasm"),
    ] {
        let rows = measure(&dir.join(clip), size, decoder).await?;
        println!("{rows}");
    }
    Ok(())
}
