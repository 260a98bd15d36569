//! Benchmark (not a test; `cargo xtask bench` runs it): what a viewer of one
//! camera gets in headless Chromium, per decoder (WebCodecs, OpenH264-Wasm) and
//! size (720p30, 1080p30 High, about 2 and 4 Mbit/s):
//!
//! - time to first frame: the element's start (socket opened, subscribed) →
//!   first picture painted, as `getStats().timeToFirstFrameMs` reports it. Each
//!   run is a fresh browser, so the Wasm decoder's download is included.
//! - player latency: access unit arrived at the page → its picture painted,
//!   p50 and p99 over the last 300 pictures (`decodeLatencyP50Ms`/`P99Ms`),
//!   read after 11 s of playback (the first second, with the fast-start
//!   burst, is not counted by the player), and painting's share of it
//!   (`paintMs`: out of the decoder → painted).
//!
//! - time to live, joining a 1080p30 camera whose keyframes come every 2 s
//!   and every 10 s, 90 % of the way into its GOP (the fast-start burst is
//!   then 54 and 270 frames): the element's start → first picture painted,
//!   and → first picture less than 100 ms behind the relay's receipt
//!   (`timeToLiveMs`); the goal is time to live ≤ 1.5 × time to first frame
//!   with WebCodecs at 10 s. A fresh relay per run puts the join at the same
//!   point of the GOP.
//!
//! The relay replays a recorded clip (from `SIGHTLINE_BENCH_DIR`, made by
//! `cargo xtask bench` with ffmpeg) as the one camera. 5 runs each; printed as
//! markdown rows for xtask's table, one line each starting with `ROW|`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde_json::json;
use sightline_relay::Relay;
use sightline_relay::ReplayOptions;
use sightline_relay::Source;
use sightline_testkit::{median_min_max, relay_config, Browser, Received, RelayClient, ALL_LIVE};

const RUNS: usize = 5;
/// Playback before the latency percentiles are read: the player's 300-picture
/// record (10 s at 30 fps) plus the second it leaves out.
const PLAYBACK: Duration = Duration::from_secs(11);

/// One run: (time to first frame, latency p50, latency p99, fps, painting's
/// share of the latency), all ms but fps.
async fn run_once(relay: &Relay, decoder: &str) -> anyhow::Result<[f64; 5]> {
    let browser = Browser::launch(&[]).await?;
    let result = async {
        browser
            .open(&format!("http://{}/?decoder={decoder}", relay.local_addr()))
            .await?;
        let all = browser.run(ALL_LIVE, vec![json!(30_000)]).await?;
        let tile = all.get(0).context("no tile")?;
        anyhow::ensure!(
            tile["live"] == json!(true),
            "the tile did not go live: {all}"
        );
        let first = tile["stats"]["timeToFirstFrameMs"]
            .as_f64()
            .context("no time to first frame")?;
        tokio::time::sleep(PLAYBACK).await;
        let stats = browser
            .run(
                r#"arguments[0](document.querySelector("cam-player").getStats());"#,
                vec![],
            )
            .await?;
        anyhow::ensure!(
            stats["decoder"] == json!(decoder),
            "asked for {decoder}, played with {}",
            stats["decoder"]
        );
        let get = |k: &str| {
            stats[k]
                .as_f64()
                .with_context(|| format!("no {k}: {stats}"))
        };
        Ok([
            first,
            get("decodeLatencyP50Ms")?,
            get("decodeLatencyP99Ms")?,
            get("fps")?,
            get("paintMs")?,
        ])
    }
    .await;
    let _ = browser.close().await;
    result
}

async fn measure(clip: &Path, size: &str, decoder: &str) -> anyhow::Result<String> {
    let source = Source::Replay(ReplayOptions {
        path: clip.to_path_buf(),
        fps: 30,
    });
    let relay = Relay::start(relay_config(vec![("cam", source)])?).await?;
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        match run_once(&relay, decoder).await {
            Ok(run) => runs.push(run),
            Err(e) => {
                relay.shutdown().await?;
                return Err(e.context(format!("{size} with {decoder}")));
            }
        }
    }
    relay.shutdown().await?;
    let column = |i: usize| median_min_max(runs.iter().map(|r| r[i]).collect::<Vec<f64>>());
    let row = |what: &str, unit: &str, (m, lo, hi): (f64, f64, f64)| {
        format!("ROW| {what}, {size} | {decoder} | {m:.1}{unit} | {lo:.1} | {hi:.1} |")
    };
    Ok([
        row(
            "time to first frame (element start → first paint)",
            " ms",
            column(0),
        ),
        row("player latency p50 (arrival → painted)", " ms", column(1)),
        row("player latency p99 (arrival → painted)", " ms", column(2)),
        row("frames painted per second (source 30)", "", column(3)),
        row(
            "of the latency, painting (out of the decoder → painted, mean)",
            " ms",
            column(4),
        ),
    ]
    .join("\n"))
}

/// How long a join may take to go live before the run says it did not.
const LIVE_WITHIN_MS: u32 = 20_000;

/// One join: (time to first frame, time to live — NaN if not within
/// [`LIVE_WITHIN_MS`] —, pictures decoded unpainted), ms but the last.
async fn join_once(clip: &Path, gop_frames: usize, decoder: &str) -> anyhow::Result<[f64; 3]> {
    let source = Source::Replay(ReplayOptions {
        path: clip.to_path_buf(),
        fps: 30,
    });
    let relay = Relay::start(relay_config(vec![("cam", source)])?).await?;
    let browser = Browser::launch(&[]).await?;
    let result = async {
        // The replay starts at the clip's first keyframe: 90 % of a GOP later.
        let mut client = RelayClient::connect(relay.local_addr(), None).await?;
        client.subscribe("cam").await?;
        let mut frames = 0;
        while frames < gop_frames * 9 / 10 {
            if let Received::Frame(..) = client.next().await? {
                frames += 1;
            }
        }
        browser
            .open(&format!("http://{}/?decoder={decoder}", relay.local_addr()))
            .await?;
        let stats = browser
            .run(
                r#"const [ms, done] = arguments;
                   customElements.whenDefined("cam-player").then(() => {
                     const el = document.querySelector("cam-player");
                     const t0 = performance.now();
                     (function look() {
                       const s = el && el.getStats();
                       if ((s && s.timeToLiveMs != null) || performance.now() - t0 > ms) return done(s);
                       requestAnimationFrame(look);
                     })();
                   });"#,
                vec![json!(LIVE_WITHIN_MS)],
            )
            .await?;
        anyhow::ensure!(stats["decoder"] == json!(decoder), "{stats}");
        let get = |k: &str| {
            stats[k]
                .as_f64()
                .with_context(|| format!("no {k}: {stats}"))
        };
        Ok([
            get("timeToFirstFrameMs")?,
            stats["timeToLiveMs"].as_f64().unwrap_or(f64::NAN),
            get("framesCaughtUp")?,
        ])
    }
    .await;
    let _ = browser.close().await;
    relay.shutdown().await?;
    result
}

async fn measure_join(
    clip: &Path,
    gop: &str,
    gop_frames: usize,
    decoder: &str,
) -> anyhow::Result<String> {
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        runs.push(
            join_once(clip, gop_frames, decoder)
                .await
                .with_context(|| format!("joining a {gop} GOP with {decoder}"))?,
        );
    }
    let column = |i: usize| median_min_max(runs.iter().map(|r| r[i]).collect::<Vec<f64>>());
    let row = |what: &str, unit: &str, (m, lo, hi): (f64, f64, f64)| {
        format!("ROW| {what}, 1080p30, {gop} GOP, joined 90 % in | {decoder} | {m:.1}{unit} | {lo:.1} | {hi:.1} |")
    };
    let live: Vec<&[f64; 3]> = runs.iter().filter(|r| r[1].is_finite()).collect();
    let mut rows = vec![row("time to first frame", " ms", column(0))];
    if live.len() == runs.len() {
        let ratio = median_min_max(live.iter().map(|r| r[1] / r[0]).collect::<Vec<f64>>());
        rows.push(row(
            "time to live (first picture < 100 ms behind)",
            " ms",
            column(1),
        ));
        rows.push(row("time to live ÷ time to first frame", "", ratio));
    } else {
        rows.push(format!(
            "ROW| time to live, 1080p30, {gop} GOP, joined 90 % in | {decoder} | not live within {} s in {} of {} runs (the decoder is slower than the stream) | | |",
            LIVE_WITHIN_MS / 1000,
            runs.len() - live.len(),
            runs.len()
        ));
    }
    rows.push(row("burst pictures decoded, not painted", "", column(2)));
    Ok(rows.join("\n"))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::var_os("SIGHTLINE_BENCH_DIR")
        .map(PathBuf::from)
        .context("SIGHTLINE_BENCH_DIR: the benchmark clips (cargo xtask bench makes them)")?;
    // SIGHTLINE_BENCH_PLAYER=join: only the time-to-live joins.
    let only_join = std::env::var("SIGHTLINE_BENCH_PLAYER").is_ok_and(|v| v == "join");
    for (clip, size) in [
        ("1280x720_high.h264", "720p30"),
        ("1920x1080_high.h264", "1080p30"),
    ]
    .into_iter()
    .filter(|_| !only_join)
    {
        for decoder in ["webcodecs", "wasm"] {
            let rows = measure(&dir.join(clip), size, decoder).await?;
            println!("{rows}");
        }
    }
    for (clip, gop, frames) in [
        ("1920x1080_gop2.h264", "2 s", 60),
        ("1920x1080_gop10.h264", "10 s", 300),
    ] {
        for decoder in ["webcodecs", "wasm"] {
            let rows = measure_join(&dir.join(clip), gop, frames, decoder).await?;
            println!("{rows}");
        }
    }
    Ok(())
}
