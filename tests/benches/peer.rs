//! Benchmark (not a test; `cargo xtask bench peer` runs it): Sightline side by
//! side with a peer, the npm package rtsp-relay (ffmpeg transcodes the camera
//! to MPEG-1, JSMpeg decodes it in the page), on the same camera: GStreamer's
//! RTSP server (`tests/rtsp_server.py`), pulled over RTSP/TCP by both.
//!
//! - CPU: one 720p30 camera of 2 Mbit/s (the recorded `/clip`, also the ingest
//!   benchmark's) and one viewer in headless Chromium: the server's CPU (the
//!   relay's; for the peer node and the ffmpeg it spawns), the browser's whole
//!   process tree, and the pictures painted per second, over three 10 s windows.
//! - Time to first frame, each run a fresh browser: connecting → first picture
//!   painted (`getStats().timeToFirstFrameMs`; for JSMpeg, player created →
//!   its first `onVideoDecode`, which it calls right after rendering). The
//!   Sightline relay pulls its cameras all the time; rtsp-relay starts ffmpeg
//!   for a camera's first viewer, so the peer has two rows: a viewer joining
//!   while another watches, and the first viewer.
//! - Latency, camera → screen: the `/flip` camera turns white and black in turn,
//!   and the server prints the time each new colour leaves the source; the
//!   page notes when the centre of the picture changes colour (Sightline:
//!   checked at every animation frame; JSMpeg: as it renders). Both clocks are
//!   the machine's wall clock. It includes up to one frame (33 ms) of the
//!   source's own wait, the same for both.
//!
//! Needs `SIGHTLINE_BENCH_DIR` (holding the 720p clip, made by xtask) and
//! `SIGHTLINE_PEER_MODULES` (rtsp-relay, express and JSMpeg from npm, which
//! xtask installs into target/bench/peer). Printed as markdown rows for
//! xtask's table, one line each starting with `ROW|`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::StreamExt as _;
use serde_json::{json, Value};
use sightline_relay::Relay;
use sightline_relay::{RtspSource, Source, Transport};
use sightline_testkit::flip::{self, Colour};
use sightline_testkit::procs::{children_named, ticks, tree_ticks, TICKS_PER_SECOND};
use sightline_testkit::{
    eventually, median_min_max, relay_config, start_until_ready, Browser, RtspServer, ALL_LIVE,
};
use tokio::process::{Child, Command};

const RUNS: usize = 5;
const WINDOWS: usize = 3;
const WINDOW: Duration = Duration::from_secs(10);
const WARMUP: Duration = Duration::from_secs(3);
/// How long the latency probe watches the flipping picture.
const WATCH: Duration = Duration::from_secs(40);
/// Each colour shows this long: many pictures, so no viewer misses one.
const FLIP_MS: u64 = 3000;
/// How long a first picture may take before the run fails.
const FIRST_FRAME_WITHIN_MS: u64 = 30_000;

/// One system under test, as one viewer sees it.
#[derive(Clone, Copy, PartialEq)]
enum System {
    Sightline(&'static str),
    RtspRelay,
}

impl System {
    fn name(self) -> String {
        match self {
            System::Sightline(decoder) => format!("Sightline ({decoder})"),
            System::RtspRelay => "rtsp-relay 1.9.0 (ffmpeg → MPEG-1, JSMpeg)".to_owned(),
        }
    }
}

/// The server side of a system, serving one camera.
enum Server {
    /// The relay, and the decoder its page asks for.
    Sightline(Relay, &'static str),
    RtspRelay(Peer),
}

impl Server {
    async fn start(system: System, camera: url::Url) -> anyhow::Result<Server> {
        Ok(match system {
            System::Sightline(decoder) => {
                let source = Source::Rtsp(RtspSource {
                    url: camera,
                    username: None,
                    password: None,
                    transport: Transport::Tcp,
                });
                let relay = Relay::start(relay_config(vec![("cam", source)])?).await?;
                Server::Sightline(relay, decoder)
            }
            System::RtspRelay => Server::RtspRelay(Peer::start(&camera).await?),
        })
    }

    /// The page a viewer opens.
    fn page(&self) -> String {
        match self {
            Server::Sightline(relay, decoder) => {
                format!("http://{}/?decoder={decoder}", relay.local_addr())
            }
            Server::RtspRelay(peer) => format!("http://{}/", peer.addr),
        }
    }

    /// CPU ticks the server has spent so far.
    fn ticks(&self) -> anyhow::Result<u64> {
        match self {
            // In this process; the rest of it (the WebDriver client) idles meanwhile.
            Server::Sightline(..) => ticks(std::process::id()),
            Server::RtspRelay(peer) => tree_ticks(peer.pid()?, true),
        }
    }

    async fn stop(self) -> anyhow::Result<()> {
        match self {
            Server::Sightline(relay, _) => relay.shutdown().await,
            Server::RtspRelay(mut peer) => {
                // ffmpeg is node's child: it must not outlive the benchmark.
                let ffmpeg = children_named(peer.pid()?, "ffmpeg")?;
                peer.child.kill().await?;
                for pid in ffmpeg {
                    let _ = std::process::Command::new("kill")
                        .arg(pid.to_string())
                        .status();
                }
                Ok(())
            }
        }
    }
}

/// The peer: `tests/benches/peer/server.js` (express + rtsp-relay) under node.
struct Peer {
    child: Child,
    addr: String,
}

impl Peer {
    async fn start(camera: &url::Url) -> anyhow::Result<Peer> {
        let modules = std::env::var_os("SIGHTLINE_PEER_MODULES").context(
            "SIGHTLINE_PEER_MODULES: rtsp-relay's node_modules (cargo xtask bench installs it)",
        )?;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/peer/server.js");
        let mut cmd = Command::new("node");
        cmd.arg(script)
            .arg(modules)
            .arg(camera.as_str())
            .env("FFMPEG_BIN", "/usr/bin/ffmpeg");
        let (child, port, mut lines) = start_until_ready(cmd, "the rtsp-relay server (node)")
            .await
            .context("cargo xtask bench installs node and rtsp-relay")?;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Peer {
            child,
            addr: format!("127.0.0.1:{port}"),
        })
    }

    fn pid(&self) -> anyhow::Result<u32> {
        self.child.id().context("the rtsp-relay server has exited")
    }

    /// A viewer without a browser that keeps the camera's ffmpeg running;
    /// returns once MPEG-TS is flowing.
    async fn keep_streaming(&self) -> anyhow::Result<tokio::task::JoinHandle<()>> {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/stream", self.addr))
            .await
            .context("connecting to rtsp-relay")?;
        let (flowing_tx, flowing_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut ws = ws;
            let mut bytes = 0;
            let mut flowing = Some(flowing_tx);
            while let Some(Ok(msg)) = ws.next().await {
                bytes += msg.len();
                // More than the 8-byte header: ffmpeg is up and sending.
                if bytes > 64 * 1024 {
                    if let Some(tx) = flowing.take() {
                        let _ = tx.send(());
                    }
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(30), flowing_rx)
            .await
            .context("rtsp-relay sent no stream within 30 s")?
            .context("rtsp-relay closed the stream")?;
        Ok(task)
    }

    /// Waits until rtsp-relay has stopped ffmpeg (it does when the last viewer leaves).
    async fn wait_idle(&self) -> anyhow::Result<()> {
        let pid = self.pid()?;
        eventually(
            Duration::from_secs(10),
            "rtsp-relay stops ffmpeg",
            || async { Ok(children_named(pid, "ffmpeg")?.is_empty().then_some(())) },
        )
        .await
    }
}

/// JS: resolves with JSMpeg's time to first frame once it painted, or null.
const PEER_FIRST_FRAME: &str = r#"
const [ms, done] = arguments;
window.peer.firstFrame.then(done);
setTimeout(() => done(null), ms);
"#;

/// JS: pictures painted so far.
const PAINTED: &str = r#"
const done = arguments[0];
const el = document.querySelector("cam-player");
done(el ? el.getStats().framesPainted : window.peer.painted);
"#;

/// JS for Sightline's page: at every animation frame, note when the centre of
/// the tile's picture changes between white and black (as `window.peer` does
/// for JSMpeg).
const SIGHTLINE_WATCH_COLOUR: &str = r#"
const done = arguments[0];
const canvas = document.querySelector("cam-player").shadowRoot.querySelector("canvas");
const ctx = canvas.getContext("2d");
window.peer = { colour: null, changes: [] };
(function tick() {
  if (canvas.width > 0) {
    const v = ctx.getImageData(canvas.width >> 1, canvas.height >> 1, 1, 1).data[0];
    const colour = v > 200 ? "white" : v < 50 ? "black" : null;
    if (colour && colour !== window.peer.colour) {
      window.peer.colour = colour;
      window.peer.changes.push([performance.timeOrigin + performance.now(), colour]);
    }
  }
  requestAnimationFrame(tick);
})();
done(true);
"#;

/// Opens the system's page in `browser` and returns its time to first frame.
async fn open_and_wait(browser: &Browser, server: &Server, system: System) -> anyhow::Result<f64> {
    let page = server.page();
    match system {
        System::Sightline(decoder) => {
            browser.open(&page).await?;
            let all = browser
                .run(ALL_LIVE, vec![json!(FIRST_FRAME_WITHIN_MS)])
                .await?;
            let tile = all.get(0).context("no tile")?;
            anyhow::ensure!(
                tile["live"] == json!(true),
                "the tile did not go live: {all}"
            );
            anyhow::ensure!(
                tile["stats"]["decoder"] == json!(decoder),
                "asked for {decoder}, played with {}",
                tile["stats"]["decoder"]
            );
            tile["stats"]["timeToFirstFrameMs"]
                .as_f64()
                .context("no time to first frame")
        }
        System::RtspRelay => {
            browser.client.goto(&page).await?;
            let first = browser
                .run(PEER_FIRST_FRAME, vec![json!(FIRST_FRAME_WITHIN_MS)])
                .await?;
            first.as_f64().with_context(|| {
                format!("JSMpeg painted nothing within {FIRST_FRAME_WITHIN_MS} ms")
            })
        }
    }
}

/// Runs `f` with a fresh browser, closing it whatever happens.
async fn with_browser<T>(
    f: impl for<'a> AsyncFnOnce(&'a Browser) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let browser = Browser::launch(&[]).await?;
    let result = f(&browser).await;
    let _ = browser.close().await;
    result
}

/// (server CPU %, browser CPU %, painted fps) per window, one viewer.
async fn cpu(rtsp: &RtspServer, system: System) -> anyhow::Result<Vec<[f64; 3]>> {
    let server = Server::start(system, rtsp.url("clip")).await?;
    let result = with_browser(async |browser| {
        open_and_wait(browser, &server, system).await?;
        tokio::time::sleep(WARMUP).await;
        let driver = browser.driver_pid().context("chromedriver has exited")?;
        let painted = async || -> anyhow::Result<f64> {
            Ok(browser.run(PAINTED, vec![]).await?.as_f64().unwrap_or(0.0))
        };
        let mut windows = Vec::new();
        for _ in 0..WINDOWS {
            let (t0, s0, b0, p0) = (
                Instant::now(),
                server.ticks()?,
                tree_ticks(driver, false)?,
                painted().await?,
            );
            tokio::time::sleep(WINDOW).await;
            let (s1, b1, p1) = (
                server.ticks()?,
                tree_ticks(driver, false)?,
                painted().await?,
            );
            let secs = t0.elapsed().as_secs_f64();
            let percent = |ticks: u64| ticks as f64 / TICKS_PER_SECOND / secs * 100.0;
            windows.push([percent(s1 - s0), percent(b1 - b0), (p1 - p0) / secs]);
        }
        Ok(windows)
    })
    .await;
    server.stop().await?;
    result
}

/// Times to first frame over fresh browsers. For the peer, `joining` keeps
/// another viewer on the camera; without it each run is the camera's first viewer.
async fn first_frames(
    rtsp: &RtspServer,
    system: System,
    joining: bool,
) -> anyhow::Result<Vec<f64>> {
    let server = Server::start(system, rtsp.url("clip")).await?;
    let result = async {
        let keep = match (&server, joining) {
            (Server::RtspRelay(peer), true) => Some(peer.keep_streaming().await?),
            _ => None,
        };
        let mut times = Vec::new();
        for _ in 0..RUNS {
            if let (Server::RtspRelay(peer), false) = (&server, joining) {
                peer.wait_idle().await?;
            }
            times.push(with_browser(async |b| open_and_wait(b, &server, system).await).await?);
        }
        if let Some(task) = keep {
            task.abort();
        }
        Ok(times)
    }
    .await;
    server.stop().await?;
    result
}

/// Camera → screen latencies, ms: each colour change the page saw, against
/// the moment that colour left the camera's source.
async fn latencies(system: System, picture: (u32, u32, u32)) -> anyhow::Result<Vec<f64>> {
    let (width, height, kbps) = picture;
    let args = [
        "--width".to_owned(),
        width.to_string(),
        "--height".into(),
        height.to_string(),
        "--kbps".into(),
        kbps.to_string(),
        "--flip-ms".into(),
        FLIP_MS.to_string(),
    ];
    let rtsp = RtspServer::start_with(&args.iter().map(String::as_str).collect::<Vec<_>>()).await?;
    let server = Server::start(system, rtsp.url("flip")).await?;
    let result = with_browser(async |browser| {
        open_and_wait(browser, &server, system).await?;
        if let System::Sightline(_) = system {
            browser.run(SIGHTLINE_WATCH_COLOUR, vec![]).await?;
        }
        tokio::time::sleep(WATCH).await;
        let changes = browser
            .run("arguments[0](window.peer.changes);", vec![])
            .await?;
        pair(&rtsp.said(), &changes)
    })
    .await;
    server.stop().await?;
    result
}

/// Camera → screen latencies (`sightline_testkit::flip`), at least 5 of them.
fn pair(said: &[String], changes: &Value) -> anyhow::Result<Vec<f64>> {
    let flips = flip::flips(said);
    let changes = changes
        .as_array()
        .context("no colour changes")?
        .iter()
        .map(|c| Some((c[0].as_f64()?, Colour::parse(c[1].as_str()?)?)))
        .collect::<Option<Vec<_>>>()
        .with_context(|| format!("odd colour changes: {changes}"))?;
    let out = flip::latencies(&flips, &changes)
        .map_err(|e| anyhow::anyhow!("{e}; flips {flips:?}, changes {changes:?}"))?;
    anyhow::ensure!(
        out.len() >= 5,
        "only {} colour changes seen in {WATCH:?} ({} flips)",
        out.len(),
        flips.len()
    );
    Ok(out)
}

fn row(what: &str, system: System, unit: &str, values: Vec<f64>) -> String {
    let (m, lo, hi) = median_min_max(values);
    let row = format!(
        "ROW| {what} | {} | {m:.1}{unit} | {lo:.1} | {hi:.1} |",
        system.name()
    );
    eprintln!("{row}"); // progress: stdout is read when the benchmark ends
    row
}

async fn measure(clip: &Path, system: System) -> anyhow::Result<Vec<String>> {
    let clip = clip.to_str().context("the clip's path is not UTF-8")?;
    let rtsp = RtspServer::start_with(&["--clip", clip]).await?;
    let windows = cpu(&rtsp, system).await?;
    let column = |i: usize| windows.iter().map(|w| w[i]).collect::<Vec<f64>>();
    let mut rows = vec![
        row(
            "peer: server CPU %, one 720p30 2 Mbit/s camera, one viewer",
            system,
            " %",
            column(0),
        ),
        row(
            "peer: browser CPU % (whole Chromium), one viewer",
            system,
            " %",
            column(1),
        ),
        row(
            "peer: pictures painted per second (source 30)",
            system,
            "",
            column(2),
        ),
    ];
    match system {
        System::Sightline(_) => rows.push(row(
            "peer: time to first frame (connect → first paint)",
            system,
            " ms",
            first_frames(&rtsp, system, true).await?,
        )),
        System::RtspRelay => {
            rows.push(row(
                "peer: time to first frame, viewer joining a watched camera",
                system,
                " ms",
                first_frames(&rtsp, system, true).await?,
            ));
            rows.push(row(
                "peer: time to first frame, the camera's first viewer (ffmpeg starts)",
                system,
                " ms",
                first_frames(&rtsp, system, false).await?,
            ));
        }
    }
    drop(rtsp);
    for (size, picture) in [("720p30", (1280, 720, 2000)), ("360p30", (640, 360, 1000))] {
        rows.push(row(
            &format!("peer: latency camera → screen (flip picture, {size})"),
            system,
            " ms",
            latencies(system, picture).await?,
        ));
    }
    Ok(rows)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::var_os("SIGHTLINE_BENCH_DIR")
        .map(PathBuf::from)
        .context("SIGHTLINE_BENCH_DIR: the benchmark clips (cargo xtask bench makes them)")?;
    let clip = dir.join("1280x720_2mbps_90s.mp4");
    // SIGHTLINE_PEER_SYSTEMS=webcodecs,wasm,rtsp-relay picks some (all by default).
    let only = std::env::var("SIGHTLINE_PEER_SYSTEMS").unwrap_or_default();
    for (key, system) in [
        ("webcodecs", System::Sightline("webcodecs")),
        ("wasm", System::Sightline("wasm")),
        ("rtsp-relay", System::RtspRelay),
    ] {
        if !only.is_empty() && !only.split(',').any(|k| k.trim() == key) {
            continue;
        }
        let rows = measure(&clip, system)
            .await
            .with_context(|| system.name())?;
        for row in rows {
            println!("{row}");
        }
    }
    Ok(())
}
