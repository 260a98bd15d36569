//! Benchmark (not a test; `cargo xtask bench audio` runs it): a camera's
//! sound in headless Chromium, per codec and decoder (G.711 A-law through
//! WebCodecs and through the player's own table, AAC through WebCodecs and
//! through symphonia in the fallback worker),
//! from GStreamer's RTSP server (`/alaw`, `/aac`: H.264 video with a tone):
//!
//! - audio latency: the relay's receipt of an audio frame → its sound leaving
//!   the speakers (the page, decoding, the jitter buffer, the sound card's
//!   own `baseLatency + outputLatency`), `getStats().audio.latencyMs`;
//! - video latency: the relay's receipt → painted (`getStats().latencyMs`);
//! - audio − video: how much later the sound of a moment plays than its
//!   picture shows, counted from the relay's receipt of each (the camera's
//!   own packetization before that is not seen);
//! - the jitter buffer's lead (`bufferMs`) and the chunks that were late.
//!
//! Each run is a fresh browser (autoplay allowed, so `muted = false` plays at
//! once), sampled every 200 ms for 8 s once 20 chunks have played; the run's
//! figure is the median of its samples. 5 runs each, printed as markdown
//! rows (`ROW|`) for xtask's table.

use anyhow::Context as _;
use serde_json::json;
use sightline_relay::{RtspSource, Source, Transport};
use sightline_testkit::{median_min_max, start_relay_with, Browser, RtspServer, WAIT_LIVE};

const RUNS: usize = 5;

/// JS: unmutes the player `selector`, waits for 20 chunks to play, then samples its
/// audio and video latency every 200 ms for 8 s. Resolves with the samples.
const SAMPLE: &str = r#"
const [selector, done] = arguments;
const el = document.querySelector(selector);
el.muted = false;
const samples = [];
const t0 = performance.now();
const timer = setInterval(() => {
  const s = el.getStats();
  const a = s.audio;
  if (performance.now() - t0 > 30000) { clearInterval(timer); return done({ error: "no sound", stats: s }); }
  if (!a || a.chunksPlayed < 20) return;
  samples.push({ audio: a.latencyMs, video: s.latencyMs, buffer: a.bufferMs, late: a.late,
                 decoder: a.decoder, level: a.pageLevel });
  if (samples.length >= 40) { clearInterval(timer); done({ samples }); }
}, 200);
"#;

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

/// One run: medians of (audio latency, video latency, audio − video, buffer), and the late chunks.
async fn run_once(
    relay: &sightline_relay::Relay,
    camera: &str,
    decoder: &str,
) -> anyhow::Result<[f64; 5]> {
    let browser = Browser::launch(&["--autoplay-policy=no-user-gesture-required"]).await?;
    let result = async {
        browser
            .open(&format!(
                "http://{}/?camera={camera}&decoder={decoder}",
                relay.local_addr()
            ))
            .await?;
        // (The app shows every camera; this one is focused.)
        let selector = format!("cam-player[camera={camera}]");
        let live = browser
            .run(WAIT_LIVE, vec![json!(selector), json!(20_000)])
            .await?;
        anyhow::ensure!(live["live"] == json!(true), "{live}");
        let seen = browser.run(SAMPLE, vec![json!(selector)]).await?;
        let samples = seen["samples"]
            .as_array()
            .with_context(|| format!("{seen}"))?;
        let last = samples.last().context("no samples")?;
        anyhow::ensure!(last["decoder"] == json!(decoder), "{last}");
        anyhow::ensure!(
            last["level"].as_f64().unwrap_or(0.0) > 0.01,
            "silent: {last}"
        );
        let get = |k: &str| -> Vec<f64> { samples.iter().filter_map(|s| s[k].as_f64()).collect() };
        let offset: Vec<f64> = samples
            .iter()
            .filter_map(|s| Some(s["audio"].as_f64()? - s["video"].as_f64()?))
            .collect();
        Ok([
            median(get("audio")),
            median(get("video")),
            median(offset),
            median(get("buffer")),
            last["late"].as_f64().unwrap_or(f64::NAN),
        ])
    }
    .await;
    let _ = browser.close().await;
    result
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let server = RtspServer::start(0, None).await?;
    let camera = |mount: &str| {
        Source::Rtsp(RtspSource {
            url: server.url(mount),
            username: None,
            password: None,
            transport: Transport::Tcp,
        })
    };
    let relay = start_relay_with(vec![("alaw", camera("alaw")), ("aac", camera("aac"))]).await?;
    let result = async {
        for (camera, codec, decoder) in [
            ("alaw", "G.711 A-law 8 kHz", "webcodecs"),
            ("alaw", "G.711 A-law 8 kHz", "wasm"),
            ("aac", "AAC-LC 48 kHz", "webcodecs"),
            ("aac", "AAC-LC 48 kHz", "wasm"),
        ] {
            let mut runs = Vec::new();
            for _ in 0..RUNS {
                runs.push(
                    run_once(&relay, camera, decoder)
                        .await
                        .with_context(|| format!("{codec} with {decoder}"))?,
                );
            }
            let column = |i: usize| median_min_max(runs.iter().map(|r| r[i]).collect::<Vec<f64>>());
            for (i, what) in [
                (0, "audio latency (relay → speaker)"),
                (1, "video latency (relay → painted), same page"),
                (2, "audio − video"),
                (3, "jitter buffer"),
            ] {
                let (m, lo, hi) = column(i);
                println!("ROW| {what}, {codec} | {decoder} | {m:.1} ms | {lo:.1} | {hi:.1} |");
            }
            let (m, lo, hi) = column(4);
            println!("ROW| late audio chunks per run (about 12 s), {codec} | {decoder} | {m:.0} | {lo:.0} | {hi:.0} |");
        }
        Ok(())
    }
    .await;
    relay.shutdown().await?;
    result
}
