//! RTSP ingest end to end, against GStreamer's RTSP server (a real server nobody
//! here wrote) on loopback: video through the relay to headless Chromium over
//! TCP and UDP, baseline and high profile; wrong password; a server killed and
//! restarted under a playing page; a viewer that stops reading; and the
//! relay's `/metrics` and `/api/cameras` along the way.

use std::time::Duration;

use anyhow::Context as _;
use fantoccini::actions::{InputSource, MouseActions, PointerAction};
use serde_json::{json, Value};
use sightline_relay::Relay;
use sightline_relay::{RtspSource, Source, Transport};
use sightline_testkit::{
    eventually, http_get, metric, rss_bytes, start_relay_with, Browser, Received, RelayClient,
    RtspServer, ALL_LIVE, SWITCH_HELPERS, WAIT_LIVE,
};
use sightline_wire::{CameraState, ClientMessage, FrameFlags, ServerMessage};
use tokio::sync::Mutex;

/// One suite at a time: each runs x264 and a browser on a 2-core machine.
static SERIAL: Mutex<()> = Mutex::const_new(());

fn rtsp(
    server: &RtspServer,
    mount: &str,
    transport: Transport,
    login: Option<(&str, &str)>,
) -> Source {
    Source::Rtsp(RtspSource {
        url: server.url(mount),
        username: login.map(|(u, _)| u.to_owned()),
        password: login.map(|(_, p)| p.to_owned()),
        transport,
    })
}

/// A WebSocket viewer of `camera`, returned once the relay reports it online.
async fn watch_online(relay: &Relay, camera: &str) -> RelayClient {
    let mut client = RelayClient::connect(relay.local_addr(), None)
        .await
        .expect("ws");
    client.subscribe(camera).await.expect("subscribe");
    client
        .wait_status(camera, Duration::from_secs(15), |s| {
            *s == CameraState::Online
        })
        .await
        .expect("the camera goes online");
    client
}

async fn metrics(relay: &Relay) -> anyhow::Result<String> {
    http_get(&format!("http://{}/metrics", relay.local_addr())).await
}

async fn cameras(relay: &Relay) -> anyhow::Result<Value> {
    let text = http_get(&format!("http://{}/api/cameras", relay.local_addr())).await?;
    Ok(serde_json::from_str(&text)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_reaches_the_browser_over_tcp_and_udp_in_baseline_and_high() {
    let _serial = SERIAL.lock().await;
    let server = RtspServer::start(0, None).await.expect("RTSP server");
    let mounts = ["baseline-tcp", "baseline-udp", "high-tcp", "high-udp"];
    let sources = mounts
        .iter()
        .map(|&m| {
            let transport = if m.ends_with("udp") {
                Transport::Udp
            } else {
                Transport::Tcp
            };
            (m, rtsp(&server, m, transport, None))
        })
        .collect();
    let relay = start_relay_with(sources).await.expect("relay");
    let browser = Browser::launch(&[]).await.expect("browser");
    let result = async {
        browser
            .open(&format!("http://{}/", relay.local_addr()))
            .await?;
        // The app's grid shows every camera the relay has.
        let players = browser.run(ALL_LIVE, vec![json!(20_000)]).await?;
        println!("players: {players}");
        let shown: Vec<&str> = players
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["camera"].as_str())
            .collect();
        anyhow::ensure!(shown == mounts, "the grid shows {shown:?}");
        for p in players.as_array().into_iter().flatten() {
            let id = p["camera"].as_str().unwrap_or("?");
            let s = &p["stats"];
            anyhow::ensure!(p["live"] == json!(true), "{id} never went live: {p}");
            anyhow::ensure!(s["decoder"] == json!("webcodecs"), "{id}: {s}");
            anyhow::ensure!(s["decodeErrors"] == json!(0), "{id}: decode errors: {s}");
            anyhow::ensure!(
                (s["width"].as_u64(), s["height"].as_u64()) == (Some(640), Some(360)),
                "{id}: size: {s}"
            );
            // Baseline is profile_idc 66 (0x42), High 100 (0x64).
            let codec = s["codec"].as_str().unwrap_or("");
            let want = if id.starts_with("baseline") {
                "avc1.42"
            } else {
                "avc1.64"
            };
            anyhow::ensure!(
                codec.starts_with(want),
                "{id}: codec {codec}, expected {want}…"
            );
            let painted = p["paintedIn1s"].as_f64().unwrap_or(0.0);
            anyhow::ensure!(
                painted >= 15.0,
                "{id}: only {painted} frames painted in 1 s"
            );
        }
        let listed = cameras(&relay).await?;
        for c in listed.as_array().into_iter().flatten() {
            anyhow::ensure!(c["status"]["state"] == json!("online"), "/api/cameras: {c}");
            anyhow::ensure!(
                !c.to_string().contains("rtsp://"),
                "camera URLs stay in the relay: {c}"
            );
        }
        let text = metrics(&relay).await?;
        for m in mounts {
            let fps = metric(&text, "sightline_camera_fps", m).unwrap_or(0.0);
            anyhow::ensure!(fps > 10.0, "{m}: fps {fps} in /metrics");
            anyhow::ensure!(
                metric(&text, "sightline_camera_viewers", m) == Some(1.0),
                "{m}: viewers\n{text}"
            );
            anyhow::ensure!(
                metric(&text, "sightline_camera_online", m) == Some(1.0),
                "{m}: online"
            );
            let connect = metric(&text, "sightline_camera_connect_to_first_frame_seconds", m);
            println!(
                "{m}: connect to first frame {:.0} ms",
                connect.unwrap_or(f64::NAN) * 1000.0
            );
        }
        Ok(())
    }
    .await;
    let _ = browser.close().await;
    relay.shutdown().await.expect("clean shutdown");
    result.expect("every mount plays in the browser");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_reported_and_retried_while_others_play() {
    let _serial = SERIAL.lock().await;
    let server = RtspServer::start(0, Some(("admin", "right")))
        .await
        .expect("RTSP server");
    let relay = start_relay_with(vec![
        (
            "locked",
            rtsp(
                &server,
                "baseline-tcp",
                Transport::Tcp,
                Some(("admin", "wrong")),
            ),
        ),
        (
            "open",
            rtsp(
                &server,
                "baseline-tcp",
                Transport::Tcp,
                Some(("admin", "right")),
            ),
        ),
    ])
    .await
    .expect("relay");
    let mut client = RelayClient::connect(relay.local_addr(), None)
        .await
        .expect("ws");
    client.subscribe("locked").await.expect("subscribe");
    let status = client
        .wait_status("locked", Duration::from_secs(15), |s| {
            matches!(s, CameraState::Offline { .. })
        })
        .await
        .expect("the camera goes offline");
    let CameraState::Offline { reason } = status else {
        unreachable!()
    };
    assert!(
        reason.contains("unauthorized"),
        "a clear reason, got {reason:?}"
    );

    // It keeps trying (with backoff: 0.5 s, 1 s, 2 s …), and the other camera,
    // on the same server with the right password, plays meanwhile.
    let attempts = eventually(Duration::from_secs(15), "three attempts", || async {
        let text = metrics(&relay).await?;
        Ok(
            metric(&text, "sightline_camera_connect_attempts_total", "locked")
                .filter(|&n| n >= 3.0),
        )
    })
    .await
    .expect("retries");
    println!("attempts so far: {attempts}");
    // The right password plays.
    watch_online(&relay, "open").await;
    let listed = cameras(&relay).await.expect("/api/cameras");
    let locked = &listed[0];
    assert_eq!(locked["status"]["state"], json!("offline"), "{listed}");
    assert!(
        !listed.to_string().contains("right") && !listed.to_string().contains("wrong"),
        "credentials never leave the relay: {listed}"
    );
    relay.shutdown().await.expect("clean shutdown");
}

/// In the page: resolves when the player has reached `state` (looking first in
/// `window.states`, the history this test records), or with the state it is in
/// after `ms`. Args: selector, state, ms.
const WAIT_STATE: &str = r#"
const [selector, want, ms, done] = arguments;
const el = document.querySelector(selector);
const seen = (window.states || []).find((s) => s.split(":")[0] === want);
if (seen) return done({ reached: true, state: seen });
el.addEventListener("statechange", (e) => {
  if (e.detail.state === want) done({ reached: true, state: e.detail.state, reason: e.detail.reason ?? null });
});
setTimeout(() => done({ reached: false, state: el.state }), ms);
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_that_dies_and_returns_resumes_in_the_same_page() {
    let _serial = SERIAL.lock().await;
    let server = RtspServer::start(0, None).await.expect("RTSP server");
    let port = server.port;
    let relay = start_relay_with(vec![(
        "cam",
        rtsp(&server, "high-tcp", Transport::Tcp, None),
    )])
    .await
    .expect("relay");
    let browser = Browser::launch(&[]).await.expect("browser");
    let mut server = Some(server);
    let result = async {
        browser.open(&format!("http://{}/?camera=cam", relay.local_addr()))
            .await?;
        let live = browser
            .run(WAIT_LIVE, vec![json!("cam-player"), json!(20_000)])
            .await?;
        anyhow::ensure!(live["live"] == json!(true), "first play: {live}");
        browser
            .run(
                r#"window.sameDocument = 42;
                   window.states = [];
                   document.querySelector("cam-player").addEventListener("statechange",
                     (e) => window.states.push(e.detail.state + (e.detail.reason ? ": " + e.detail.reason : "")));
                   arguments[0](true);"#,
                vec![],
            )
            .await?;

        if let Some(server) = server.take() {
            server.kill().await?;
        }
        let lost = browser
            .run(
                WAIT_STATE,
                vec![json!("cam-player"), json!("reconnecting"), json!(15_000)],
            )
            .await?;
        let states = browser.run("arguments[0](window.states);", vec![]).await?;
        anyhow::ensure!(
            lost["reached"] == json!(true),
            "viewers see reconnecting: {lost}, states {states}"
        );
        println!("camera lost: {lost}");
        // Stay down until a retry has failed, so the restart is found by the
        // backoff loop, not by luck of timing.
        let refused = browser
            .run(
                WAIT_STATE,
                vec![json!("cam-player"), json!("offline"), json!(15_000)],
            )
            .await?;
        anyhow::ensure!(refused["reached"] == json!(true), "a failed retry: {refused}");

        server = Some(RtspServer::start(port, None).await?);
        let back = browser
            .run(WAIT_LIVE, vec![json!("cam-player"), json!(40_000)])
            .await?;
        anyhow::ensure!(back["live"] == json!(true), "video resumes: {back}");
        let same = browser
            .run("arguments[0](window.sameDocument);", vec![])
            .await?;
        anyhow::ensure!(same == json!(42), "the page was reloaded");
        anyhow::ensure!(back["stats"]["decodeErrors"] == json!(0), "{back}");
        let states = browser.run("arguments[0](window.states);", vec![]).await?;
        println!("states the page went through: {states}");

        let text = metrics(&relay).await?;
        let reconnects = metric(&text, "sightline_camera_reconnects_total", "cam").unwrap_or(0.0);
        anyhow::ensure!(reconnects >= 1.0, "/metrics counts the reconnect:\n{text}");
        anyhow::ensure!(
            metric(&text, "sightline_camera_online", "cam") == Some(1.0),
            "online again"
        );
        Ok(())
    }
    .await;
    let _ = browser.close().await;
    relay.shutdown().await.expect("clean shutdown");
    drop(server);
    result.expect("the page recovers by itself");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_that_stops_reading_costs_no_memory_and_slows_nobody() {
    let _serial = SERIAL.lock().await;
    let server = RtspServer::start(0, None).await.expect("RTSP server");
    // Incompressible noise at ~12 Mbit/s: a stalled viewer would pile up 15 MB in 10 s.
    let relay = start_relay_with(vec![(
        "noise",
        rtsp(&server, "noise", Transport::Tcp, None),
    )])
    .await
    .expect("relay");
    let mut fast = watch_online(&relay, "noise").await;
    // The slow viewer: a tiny receive buffer, and it reads nothing for 10 s.
    let mut slow = RelayClient::connect(relay.local_addr(), Some(4096))
        .await
        .expect("ws");
    slow.subscribe("noise").await.expect("subscribe");

    // Warm up until the fast viewer has seen a couple of keyframes. Memory is
    // read right after a keyframe, at both ends of the stall, so the relay's
    // GOP cache holds about one frame each time and its size is no noise.
    next_keyframe(&mut fast, 2).await;
    let m0 = metrics(&relay).await.expect("metrics");
    let rss0 = rss_bytes().expect("rss");
    let window = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut fast_frames = 0u64;
    let mut fast_discontinuities = 0;
    while tokio::time::Instant::now() < window {
        match tokio::time::timeout_at(window, fast.next()).await {
            Ok(Ok(Received::Frame(h, _))) => {
                fast_frames += 1;
                fast_discontinuities += usize::from(h.flags.contains(FrameFlags::DISCONTINUITY));
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("fast viewer: {e}"),
            Err(_) => break,
        }
    }
    let m1 = metrics(&relay).await.expect("metrics");
    fast_frames += next_keyframe(&mut fast, 1).await;
    let rss1 = rss_bytes().expect("rss");
    let m2 = metrics(&relay).await.expect("metrics");
    let delta = |a: &str, b: &str, name: &str| {
        metric(b, name, "noise").unwrap_or(0.0) - metric(a, name, "noise").unwrap_or(0.0)
    };
    let published = delta(&m0, &m2, "sightline_camera_frames_total");
    let bytes = delta(&m0, &m1, "sightline_camera_bytes_total");
    let growth = rss1 as f64 - rss0 as f64;
    println!(
        "10 s stall: camera sent {published} frames, {:.1} MB; fast viewer got {fast_frames}; \
         relay RSS {:+.2} MB",
        bytes / 1e6,
        growth / 1e6
    );
    assert!(
        bytes > 5e6,
        "the camera must push real volume for this test to mean anything"
    );
    assert!(
        fast_frames as f64 >= published - 2.0,
        "the fast viewer keeps full rate: {fast_frames} of {published}"
    );
    assert_eq!(fast_discontinuities, 0, "the fast viewer never skips");
    // Kernel socket buffers can take up to ~4 MB of the stall; an unbounded queue
    // in the relay would hold the rest, well over half.
    assert!(
        growth < bytes / 2.0,
        "RSS grew {growth} bytes while {bytes} were sent"
    );

    // The slow viewer reads again: after what sat in the socket buffers, it
    // resumes at a keyframe flagged as a discontinuity.
    let resumed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Received::Frame(h, _) = slow.next().await? {
                if h.flags.contains(FrameFlags::DISCONTINUITY) {
                    return anyhow::Ok(h);
                }
            }
        }
    })
    .await
    .expect("the slow viewer resumes")
    .expect("frames");
    assert!(
        resumed.flags.contains(FrameFlags::KEYFRAME),
        "it resumes at a keyframe"
    );
    let m3 = metrics(&relay).await.expect("metrics");
    let dropped = metric(&m3, "sightline_camera_dropped_frames_total", "noise").unwrap_or(0.0);
    println!("frames dropped for the slow viewer: {dropped}");
    assert!(
        dropped > 0.0,
        "/metrics counts the frames the slow viewer skipped:\n{m3}"
    );
    relay.shutdown().await.expect("clean shutdown");
}

/// Reads frames until `n` keyframes have arrived; returns how many frames that was.
async fn next_keyframe(client: &mut RelayClient, n: usize) -> u64 {
    let (mut frames, mut keyframes) = (0, 0);
    while keyframes < n {
        if let Received::Frame(h, _) = client.next().await.expect("frames") {
            frames += 1;
            keyframes += usize::from(h.flags.contains(FrameFlags::KEYFRAME));
        }
    }
    frames
}

/// In the page: watches `el.getStats()` on every animation frame until the picture
/// has had both sizes and painted after the change, or `ms` pass. Args: ms.
const WATCH_SIZES: &str = r#"
const [ms, done] = arguments;
const el = document.querySelector("cam-player");
const sizes = [];
let paintedAtChange = null;
const started = performance.now();
(function look() {
  const s = el.getStats();
  const size = s.width + "x" + s.height;
  if (s.width && sizes[sizes.length - 1] !== size) {
    sizes.push(size);
    paintedAtChange = s.framesPainted;
  }
  const settled = sizes.length >= 2 && s.framesPainted >= paintedAtChange + 15;
  if (settled || performance.now() - started > ms) return done({ sizes, stats: s });
  requestAnimationFrame(look);
})();
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_resolution_mid_stream_reaches_the_player_without_a_reload() {
    let _serial = SERIAL.lock().await;
    let server = RtspServer::start(0, None).await.expect("RTSP server");
    let relay = start_relay_with(vec![(
        "switch",
        rtsp(&server, "switch", Transport::Tcp, None),
    )])
    .await
    .expect("relay");
    let browser = Browser::launch(&[]).await.expect("browser");
    let result = async {
        // The relay side: a `config` message per size, on the same subscription.
        let mut client = RelayClient::connect(relay.local_addr(), None).await?;
        client.subscribe("switch").await?;
        let mut sizes = Vec::new();
        tokio::time::timeout(Duration::from_secs(15), async {
            while sizes.len() < 2 {
                let config = match client.next().await? {
                    Received::Control(ServerMessage::Subscribed {
                        config: Some(c), ..
                    })
                    | Received::Control(ServerMessage::Config { config: c, .. }) => c,
                    _ => continue,
                };
                let size = (config.coded_width, config.coded_height);
                if sizes.last() != Some(&size) {
                    sizes.push(size);
                }
            }
            anyhow::Ok(())
        })
        .await
        .map_err(|_| anyhow::anyhow!("one config only: {sizes:?}"))??;
        anyhow::ensure!(
            sizes.contains(&(640, 360)) && sizes.contains(&(480, 272)),
            "{sizes:?}"
        );

        // The player: reconfigures its decoder and keeps painting.
        browser
            .open(&format!("http://{}/?camera=switch", relay.local_addr()))
            .await?;
        let live = browser
            .run(WAIT_LIVE, vec![json!("cam-player"), json!(20_000)])
            .await?;
        anyhow::ensure!(live["live"] == json!(true), "{live}");
        browser
            .run("window.sameDocument = 42; arguments[0](true);", vec![])
            .await?;
        let seen = browser.run(WATCH_SIZES, vec![json!(15_000)]).await?;
        println!("sizes the player painted: {seen}");
        let painted: Vec<&str> = seen["sizes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        anyhow::ensure!(painted.len() >= 2, "the player never changed size: {seen}");
        anyhow::ensure!(seen["stats"]["decodeErrors"] == json!(0), "{seen}");
        anyhow::ensure!(seen["stats"]["state"] == json!("live"), "{seen}");
        let same = browser
            .run("arguments[0](window.sameDocument);", vec![])
            .await?;
        anyhow::ensure!(same == json!(42), "the page was reloaded");
        Ok(())
    }
    .await;
    let _ = browser.close().await;
    relay.shutdown().await.expect("clean shutdown");
    result.expect("the new parameters reach the player");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_camera_is_noticed_and_reconnected() {
    let _serial = SERIAL.lock().await;
    let server = RtspServer::start(0, None).await.expect("RTSP server");
    let relay = start_relay_with(vec![(
        "cam",
        rtsp(&server, "baseline-tcp", Transport::Tcp, None),
    )])
    .await
    .expect("relay");
    let mut client = watch_online(&relay, "cam").await;
    // A page whose tile is paused (out of view): welcomed, never subscribed.
    // It is told of the camera's changes too (the grid counts cameras online).
    let mut paused = RelayClient::connect(relay.local_addr(), None)
        .await
        .expect("ws");
    paused
        .wait_status("cam", Duration::from_secs(5), |s| *s == CameraState::Online)
        .await
        .expect("welcome says online");
    // A hung camera: the connection stays open, nothing arrives. retina alone
    // would notice after about a minute; the relay's own timeout is 8 s.
    server.signal("STOP").await.expect("freeze");
    let is_lost = |s: &CameraState| matches!(s, CameraState::Reconnecting { .. });
    let lost = client
        .wait_status("cam", Duration::from_secs(15), is_lost)
        .await;
    let lost_unwatched = paused
        .wait_status("cam", Duration::from_secs(5), is_lost)
        .await;
    server.signal("CONT").await.expect("thaw");
    let lost = lost.expect("the frozen camera is noticed");
    println!("frozen camera: {lost:?}");
    assert!(format!("{lost:?}").contains("no video"), "{lost:?}");
    lost_unwatched.expect("a socket that does not watch the camera is told too");
    client
        .wait_status("cam", Duration::from_secs(30), |s| {
            *s == CameraState::Online
        })
        .await
        .expect("back online once the camera answers again");
    paused
        .wait_status("cam", Duration::from_secs(5), |s| *s == CameraState::Online)
        .await
        .expect("…and of its return");
    relay.shutdown().await.expect("clean shutdown");
}

/// GStreamer's RTSP server, a relay with one camera per `(id, mount)` (over
/// TCP) and a browser; runs `test` with them, then closes all of them
/// whatever the outcome.
async fn with_cameras(
    cameras: &[(&str, &str)],
    test: impl AsyncFnOnce(&Relay, &Browser) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let server = RtspServer::start(0, None).await?;
    let sources = cameras
        .iter()
        .map(|&(id, mount)| (id, rtsp(&server, mount, Transport::Tcp, None)))
        .collect();
    let relay = start_relay_with(sources).await?;
    sightline_testkit::with_browser(relay, test).await
}

/// JS: a `<cam-player>` for `camera` with the `decoder` attribute `decoder`,
/// made here so its `error` events are heard from the start; resolves once
/// it is `live` (and has painted 10 pictures) or `unsupported` (or after
/// `ms`) with its state, overlay, errors, stats, and whether this browser's
/// WebCodecs says it decodes the stream's codec. Args: camera, decoder, ms.
const PLAY_OR_SAY_WHY: &str = r#"
const [camera, decoder, ms, done] = arguments;
window.said = [];
for (const k of ["warn", "info", "error", "log"]) { const f = console[k]; console[k] = (...a) => { window.said.push(k + ": " + a.map(String).join(" ")); f(...a); }; }
customElements.whenDefined("cam-player").then(() => {
  const el = document.createElement("cam-player");
  el.camera = camera;
  el.setAttribute("decoder", decoder);
  el.style.cssText = "display:block;width:640px;height:360px";
  const errors = [];
  el.addEventListener("error", (e) => errors.push(e.detail));
  document.body.prepend(el);
  const t0 = performance.now();
  const finish = async () => {
    const stats = el.getStats();
    let supported = null;
    if (stats.codec && window.VideoDecoder) {
      supported = (await VideoDecoder.isConfigSupported({ codec: stats.codec })).supported;
    }
    const overlay = el.shadowRoot.querySelector(".overlay");
    done({ state: el.state, overlay: overlay.hidden ? "" : overlay.textContent, errors, stats, supported, said: window.said.slice(0, 20) });
  };
  (function look() {
    const painted = el.state === "live" && el.getStats().framesPainted >= 10;
    if (painted || el.state === "unsupported" || performance.now() - t0 > ms) return finish();
    requestAnimationFrame(look);
  })();
});
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h265_camera_reaches_viewers_with_its_hvcc_and_plays_in_the_browser() {
    let _serial = SERIAL.lock().await;
    with_cameras(&[("h265", "h265")], async |relay, browser| {
        // On the wire: the hvcC record and an `hvc1.` codec string, then
        // frames from an IRAP picture on.
        let mut client = watch_online(relay, "h265").await;
        let mut config = None;
        let mut frames = Vec::new();
        while frames.len() < 30 {
            match client.next().await? {
                Received::Control(ServerMessage::Subscribed { config: c, .. }) => {
                    config = c.or(config)
                }
                Received::Control(ServerMessage::Config { config: c, .. }) => config = Some(c),
                Received::Control(_) => {}
                Received::Frame(header, payload) => {
                    anyhow::ensure!(config.is_some(), "a frame before the config");
                    frames.push((header.flags.contains(FrameFlags::KEYFRAME), payload));
                }
            }
        }
        let config = config.expect("a config");
        println!(
            "H.265 config: {} {}x{}",
            config.codec, config.coded_width, config.coded_height
        );
        anyhow::ensure!(
            config.codec.starts_with("hvc1.1."),
            "Main profile: {}",
            config.codec
        );
        anyhow::ensure!((config.coded_width, config.coded_height) == (640, 360));
        let params = sightline_h264::HevcParams::from_hvcc(&config.description)?;
        anyhow::ensure!(params.codec_string() == config.codec);
        anyhow::ensure!(frames[0].0, "the first frame is a keyframe (IRAP)");
        let units = sightline_h264::nal::length_prefixed_units(&frames[0].1)
            .collect::<Result<Vec<_>, _>>()?;
        anyhow::ensure!(
            sightline_h264::hevc::is_irap(&units),
            "IRAP NAL units in the keyframe"
        );

        // In the browser: WebCodecs where it decodes H.265, else the Wasm
        // H.265 decoder (rust_h265).
        browser
            .open(&format!("http://{}/", relay.local_addr()))
            .await?;
        let seen = browser
            .run(
                PLAY_OR_SAY_WHY,
                vec![json!("h265"), json!("auto"), json!(30_000)],
            )
            .await?;
        println!("H.265 in Chromium: {seen}");
        let expected = if seen["supported"] == json!(true) {
            "webcodecs"
        } else {
            anyhow::ensure!(seen["supported"] == json!(false), "asked WebCodecs: {seen}");
            "wasm"
        };
        anyhow::ensure!(seen["state"] == json!("live"), "{seen}");
        anyhow::ensure!(seen["stats"]["decoder"] == json!(expected), "{seen}");
        anyhow::ensure!(seen["stats"]["decodeErrors"] == json!(0), "{seen}");
        anyhow::ensure!(
            (
                seen["stats"]["width"].as_u64(),
                seen["stats"]["height"].as_u64()
            ) == (Some(640), Some(360)),
            "{seen}"
        );
        // Where WebCodecs cannot and the page allows it alone, the tile says
        // so: which codec and what to do, instead of spinning.
        if expected == "wasm" {
            browser
                .open(&format!("http://{}/", relay.local_addr()))
                .await?;
            let seen = browser
                .run(
                    PLAY_OR_SAY_WHY,
                    vec![json!("h265"), json!("webcodecs"), json!(20_000)],
                )
                .await?;
            println!("H.265 with WebCodecs forced: {seen}");
            anyhow::ensure!(seen["state"] == json!("unsupported"), "{seen}");
            let overlay = seen["overlay"].as_str().unwrap_or("");
            anyhow::ensure!(
                overlay.contains("cannot decode H.265") && overlay.contains(&config.codec),
                "the tile names the codec: {overlay:?}"
            );
            anyhow::ensure!(
                overlay.contains("decoder=\"auto\""),
                "and what to do: {overlay:?}"
            );
            let errors = seen["errors"].as_array().cloned().unwrap_or_default();
            anyhow::ensure!(
                errors
                    .iter()
                    .filter(|e| e["code"] == json!("unsupported_codec"))
                    .count()
                    == 1,
                "one unsupported_codec error event: {errors:?}"
            );
        }
        Ok(())
    })
    .await
    .expect("H.265 end to end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_with_a_10_s_gop_starts_live_without_replaying_its_gop_on_screen() {
    let _serial = SERIAL.lock().await;
    with_cameras(&[("gop10", "gop10")], async |relay, browser| {
        // The relay started at the camera's first keyframe; 120 frames later
        // (4 s, well before the next) its fast-start cache holds them all.
        let mut client = watch_online(relay, "gop10").await;
        let mut frames = 0;
        while frames < 120 {
            if let Received::Frame(..) = client.next().await? {
                frames += 1;
            }
        }
        // Both decoders (the Wasm one later in the same GOP: a longer burst).
        for decoder in ["webcodecs", "wasm"] {
            browser
                .open(&format!("http://{}/?camera=gop10&decoder={decoder}", relay.local_addr()))
                .await?;
            let seen = browser
                .run(WAIT_LIVE, vec![json!("cam-player"), json!(20_000)])
                .await?;
            anyhow::ensure!(seen["live"] == json!(true), "{seen}");
            // Let the first pictures at the live edge come (the one under 100 ms
            // behind the relay sets timeToLiveMs).
            let stats = browser
                .run(
                    r#"const [done] = arguments; const el = document.querySelector("cam-player");
                       const t0 = performance.now();
                       (function look() {
                         const s = el.getStats();
                         if (s.timeToLiveMs != null || performance.now() - t0 > 10000) return done(s);
                         requestAnimationFrame(look);
                       })();"#,
                    vec![],
                )
                .await?;
            println!("{decoder} joined a 10 s GOP at 120+ frames: {stats}");
            let caught_up = stats["framesCaughtUp"].as_u64().unwrap_or(0);
            anyhow::ensure!(
                caught_up >= 110,
                "the burst's pictures were decoded without being painted: {stats}"
            );
            // …all of it: not cut short to wait for the next keyframe, seconds away.
            anyhow::ensure!(stats["framesSkipped"] == json!(0), "{stats}");
            let first = stats["timeToFirstFrameMs"].as_f64().unwrap_or(f64::NAN);
            let live = stats["timeToLiveMs"].as_f64().unwrap_or(f64::NAN);
            anyhow::ensure!(
                live >= first,
                "live at once or after the first picture: {stats}"
            );
            anyhow::ensure!(stats["decodeErrors"] == json!(0), "{stats}");
            anyhow::ensure!(stats["decoder"] == json!(decoder), "{stats}");
        }
        Ok(())
    })
    .await
    .expect("a long GOP starts live");
}

/// JS: for `ms`, each time the player paints a new picture, the grey level
/// at the centre of its canvas (the `/bframes` camera's frame counter).
const GREY_LEVELS: &str = r#"
const [ms, done] = arguments;
const el = document.querySelector("cam-player");
const canvas = el.shadowRoot.querySelector("canvas");
const levels = [];
let last = -1;
const t0 = performance.now();
(function look() {
  const painted = el.getStats().framesPainted;
  if (el.state === "live" && painted !== last) {
    last = painted;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    levels.push(ctx.getImageData(canvas.width >> 1, canvas.height >> 1, 1, 1).data[0]);
  }
  if (performance.now() - t0 > ms) return done({ levels, stats: el.getStats() });
  requestAnimationFrame(look);
})();
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_with_b_frames_is_painted_in_order() {
    let _serial = SERIAL.lock().await;
    with_cameras(&[("bframes", "bframes")], async |relay, browser| {
        browser
            .open(&format!("http://{}/?camera=bframes", relay.local_addr()))
            .await?;
        let live = browser
            .run(WAIT_LIVE, vec![json!("cam-player"), json!(20_000)])
            .await?;
        anyhow::ensure!(live["live"] == json!(true), "{live}");
        let seen = browser.run(GREY_LEVELS, vec![json!(3_000)]).await?;
        let levels: Vec<i64> = seen["levels"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_i64)
            .collect();
        println!(
            "B-frames: {} pictures read, levels {levels:?}",
            levels.len()
        );
        anyhow::ensure!(levels.len() >= 45, "too few pictures painted: {seen}");
        // Each picture is 4 levels brighter than the one before it (a few
        // levels of compression error aside), wrapping at 256: a step back
        // is a picture shown out of order.
        let backwards: Vec<(i64, i64)> = levels
            .windows(2)
            .map(|w| (w[0], w[1]))
            .filter(|&(a, b)| (b - a).rem_euclid(256) >= 128)
            .collect();
        anyhow::ensure!(backwards.is_empty(), "pictures out of order: {backwards:?}");
        anyhow::ensure!(seen["stats"]["decodeErrors"] == json!(0), "{seen}");
        Ok(())
    })
    .await
    .expect("B-frames in order");
}

/// Reads `client` until `video` video frames have come: their count, the
/// sizes of the audio frames on the way, and the audio configs.
async fn count_frames(
    client: &mut RelayClient,
    video: usize,
) -> anyhow::Result<(usize, Vec<usize>, Vec<sightline_wire::AudioConfig>)> {
    let (mut videos, mut audios, mut configs) = (0, Vec::new(), Vec::new());
    while videos < video {
        match client.next().await? {
            Received::Frame(h, payload) if h.kind == sightline_wire::FrameKind::Audio => {
                anyhow::ensure!(h.flags.contains(FrameFlags::KEYFRAME), "{h:?}");
                audios.push(payload.len());
            }
            Received::Frame(..) => videos += 1,
            Received::Control(ServerMessage::AudioConfig { config, .. }) => configs.push(config),
            Received::Control(_) => {}
        }
    }
    Ok((videos, audios, configs))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cameras_audio_reaches_only_the_sockets_that_turn_it_on() {
    let _serial = SERIAL.lock().await;
    let server = RtspServer::start(0, None).await.expect("RTSP server");
    let relay = start_relay_with(vec![
        ("alaw", rtsp(&server, "alaw", Transport::Tcp, None)),
        ("aac", rtsp(&server, "aac", Transport::Tcp, None)),
        ("mute", rtsp(&server, "baseline-tcp", Transport::Tcp, None)),
    ])
    .await
    .expect("relay");
    let result = async {
        for (camera, codec, rate) in [("alaw", "alaw", 8000), ("aac", "mp4a.40.2", 48_000)] {
            let mut client = watch_online(&relay, camera).await;
            // Subscribed: told of the audio, sent none.
            let (_, audio, configs) = count_frames(&mut client, 30).await?;
            anyhow::ensure!(audio.is_empty(), "{camera}: audio nobody asked for");
            // (Told when subscribing, or when the camera came online.)
            client
                .send(&ClientMessage::Audio {
                    id: 9,
                    camera: camera.into(),
                    on: true,
                })
                .await?;
            let (_, audio, more) = count_frames(&mut client, 60).await?;
            let config = configs
                .into_iter()
                .chain(more)
                .last()
                .context("an audio_config")?;
            println!(
                "{camera}: {config:?}, {} audio frames with 60 video frames",
                audio.len()
            );
            anyhow::ensure!(
                config.codec == codec && config.sample_rate == rate,
                "{config:?}"
            );
            anyhow::ensure!(config.channels == 1, "{config:?}");
            anyhow::ensure!(
                (codec == "alaw") == config.description.is_empty(),
                "AAC comes with its AudioSpecificConfig: {config:?}"
            );
            // 2 s of video: about 2 s of audio frames (20 ms G.711 packets,
            // 1024-sample AAC frames), none empty.
            anyhow::ensure!(audio.len() >= 40, "{camera}: {} audio frames", audio.len());
            anyhow::ensure!(audio.iter().all(|&n| n > 0));
            // Off again: after what was in flight, none.
            client
                .send(&ClientMessage::Audio {
                    id: 10,
                    camera: camera.into(),
                    on: false,
                })
                .await?;
            count_frames(&mut client, 10).await?;
            let (_, audio, _) = count_frames(&mut client, 30).await?;
            anyhow::ensure!(audio.is_empty(), "{camera}: audio after turning it off");
        }
        // A camera without audio: no config, no audio, no error; video as ever.
        let mut client = watch_online(&relay, "mute").await;
        client
            .send(&ClientMessage::Audio {
                id: 11,
                camera: "mute".into(),
                on: true,
            })
            .await?;
        let (video, audio, configs) = count_frames(&mut client, 30).await?;
        anyhow::ensure!(video == 30 && audio.is_empty() && configs.is_empty());
        // Audio of a camera not subscribed: refused, saying why.
        client
            .send(&ClientMessage::Audio {
                id: 12,
                camera: "alaw".into(),
                on: true,
            })
            .await?;
        let refused = client.expect_error().await?;
        anyhow::ensure!(
            refused.code == sightline_wire::ErrorCode::NotSubscribed,
            "{refused:?}"
        );
        anyhow::ensure!(refused.request == Some(12), "{refused:?}");
        Ok(())
    }
    .await;
    relay.shutdown().await.expect("clean shutdown");
    result.expect("audio on demand");
}

/// JS: polls the player `selector` at each screen refresh until `cond`
/// (an expression of `a`, its `getStats().audio`, and `el`) holds or `ms`
/// pass; resolves with whether it held, the audio stats, `muted`, the
/// `volumechange` events counted since the first call, the video's latency
/// and the page's URL. Args: selector, cond, ms.
const AUDIO_UNTIL: &str = r#"
const [selector, cond, ms, done] = arguments;
const el = document.querySelector(selector);
if (!el) return done({ ok: false, error: "no " + selector });
if (el.volumeChanges === undefined) {
  el.volumeChanges = 0;
  el.addEventListener("volumechange", () => el.volumeChanges++);
}
const test = new Function("a", "el", "return " + cond);
const t0 = performance.now();
(function look() {
  const s = el.getStats();
  const a = s.audio;
  const ok = !!(a && test(a, el));
  if (ok || performance.now() - t0 > ms) {
    return done({ ok, audio: a, muted: el.muted, volumeChanges: el.volumeChanges,
                  videoLatencyMs: s.latencyMs, url: location.href });
  }
  requestAnimationFrame(look);
})();
"#;

/// Clicks the sound button of the player `selector` with WebDriver's
/// pointer (a real click: the gesture that lets a page make sound).
async fn click_sound(browser: &Browser, selector: &str) -> anyhow::Result<()> {
    let at = browser
        .run(
            &format!(
                r#"const el = document.querySelector({selector:?});
                   const b = el.shadowRoot.querySelector(".sound");
                   const r = el.getBoundingClientRect(), s = b.getBoundingClientRect();
                   arguments[0]({{ hidden: b.hidden,
                     x: s.x + s.width / 2 - (r.x + r.width / 2),
                     y: s.y + s.height / 2 - (r.y + r.height / 2) }});"#
            ),
            vec![],
        )
        .await?;
    anyhow::ensure!(
        at["hidden"] == json!(false),
        "no sound button on {selector}: {at}"
    );
    let element = browser
        .client()
        .find(fantoccini::Locator::Css(selector))
        .await?;
    let click = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element,
            duration: None,
            x: at["x"].as_f64().unwrap_or(0.0).round(),
            y: at["y"].as_f64().unwrap_or(0.0).round(),
        })
        .then(PointerAction::Down { button: 0 })
        .then(PointerAction::Up { button: 0 });
    browser.client().perform_actions(click).await?;
    browser.client().release_actions().await?;
    Ok(())
}

async fn audio_until(
    browser: &Browser,
    selector: &str,
    cond: &str,
    what: &str,
) -> anyhow::Result<Value> {
    let seen = browser
        .run(
            AUDIO_UNTIL,
            vec![json!(selector), json!(cond), json!(20_000)],
        )
        .await?;
    println!("{what}: {seen}");
    anyhow::ensure!(seen["ok"] == json!(true), "{what}: {seen}");
    Ok(seen)
}

/// The 440 Hz tone of GStreamer's `/alaw` and `/aac` cameras (the
/// analyser's bins are 23 Hz wide at 48 kHz).
const TONE: &str = "a.chunksPlayed > 0 && Math.abs(a.pagePeakHz - 440) < 35 && a.pageLevel > 0.01";

/// JS: while the player `playing` plays 25 more chunks, how many audio
/// frames reach the player `muted` (a muted element must get none).
/// Args: playing, muted.
const NONE_WHILE_MUTED: &str = r#"
const [playing, muted, done] = arguments;
const p = document.querySelector(playing), m = document.querySelector(muted);
const from = p.getStats().audio.chunksPlayed, before = m.getStats().audio.framesReceived;
const t0 = performance.now();
(function look() {
  const played = p.getStats().audio.chunksPlayed - from;
  if (played >= 25 || performance.now() - t0 > 20000) {
    return done({ played, reached: m.getStats().audio.framesReceived - before });
  }
  requestAnimationFrame(look);
})();
"#;

/// JS: whether the page fetched the AAC fallback worker (its script: the
/// worker fetches its Wasm itself, which the page's timeline does not list).
const AAC_WORKER_FETCHED: &str = r#"
arguments[0](performance.getEntriesByType("resource").some((e) => e.name.includes("sightline-aac-worker.js")));
"#;

/// A G.711 and an AAC camera in the app's grid: muted at first (the relay
/// sends no audio); a click on a tile's sound button plays its camera's
/// tone (read back from the page's analyser: level and frequency), without
/// focusing the tile; unmuting the other tile mutes the first; muting
/// silences the page. Then with `decoder=wasm`, G.711 through the player's
/// own table and AAC through symphonia in the fallback worker instead of
/// WebCodecs: GStreamer's encoders against our decoders, so a wrong table or
/// a broken worker would not give a 440 Hz tone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cameras_audio_plays_in_the_page_after_a_click_one_camera_at_a_time() {
    let _serial = SERIAL.lock().await;
    with_cameras(&[("alaw", "alaw"), ("aac", "aac")], async |relay, browser| {
        let (alaw, aac) = ("cam-player[camera=alaw]", "cam-player[camera=aac]");
        browser.open(&format!("http://{}/", relay.local_addr())).await?;
        let all = browser.run(ALL_LIVE, vec![json!(30_000)]).await?;
        anyhow::ensure!(
            all.as_array().is_some_and(|a| a.len() == 2 && a.iter().all(|p| p["live"] == json!(true))),
            "{all}"
        );
        // Known to have audio, muted, and sent none.
        for tile in [alaw, aac] {
            audio_until(browser, tile, "el.muted && a.framesReceived === 0 && a.pageLevel === 0", "muted at first").await?;
        }
        let grid = browser.run("arguments[0](location.href)", vec![]).await?;

        click_sound(browser, alaw).await?;
        let g711 = audio_until(
            browser,
            alaw,
            &format!("!el.muted && a.codec === 'alaw' && a.decoder === 'webcodecs' && !a.blocked && {TONE}"),
            "A-law through WebCodecs",
        )
        .await?;
        anyhow::ensure!(g711["url"] == grid, "the click focused the tile: {g711}");
        anyhow::ensure!(g711["volumeChanges"] == json!(1), "{g711}");
        // Latency figures are filled in (the benchmark reports them).
        audio_until(browser, alaw, "a.latencyMs > 0 && a.chunksPlayed > 10", "A-law latency").await?;

        // The other tile takes the sound.
        click_sound(browser, aac).await?;
        audio_until(
            browser,
            aac,
            &format!("!el.muted && a.codec === 'mp4a.40.2' && a.decoder === 'webcodecs' && {TONE}"),
            "AAC through WebCodecs",
        )
        .await?;
        let first = audio_until(browser, alaw, "el.muted", "the first tile muted").await?;
        anyhow::ensure!(first["volumeChanges"] == json!(2), "{first}");
        // The muted tile gets no audio at all (the relay stopped sending it).
        let quiet = browser.run(NONE_WHILE_MUTED, vec![json!(aac), json!(alaw)]).await?;
        println!("while the other plays: {quiet}");
        anyhow::ensure!(
            quiet["played"].as_u64() >= Some(25) && quiet["reached"] == json!(0),
            "audio reached a muted tile: {quiet}"
        );
        // WebCodecs decoded the AAC: the fallback worker was not even fetched.
        let fetched = browser.run(AAC_WORKER_FETCHED, vec![]).await?;
        anyhow::ensure!(fetched == json!(false), "the AAC worker was fetched");

        // Muted again: the page falls silent.
        click_sound(browser, aac).await?;
        audio_until(browser, aac, "el.muted && a.pageLevel === 0", "silence after muting").await?;

        // G.711 by the player's own table, AAC by symphonia in its worker
        // (fetched only now).
        for (camera, what) in [(alaw, "A-law through the Wasm table"), (aac, "AAC through the Wasm worker")] {
            let id = camera.trim_start_matches("cam-player[camera=").trim_end_matches(']');
            browser
                .open(&format!("http://{}/?camera={id}&decoder=wasm", relay.local_addr()))
                .await?;
            let live = browser.run(WAIT_LIVE, vec![json!(camera), json!(20_000)]).await?;
            anyhow::ensure!(live["live"] == json!(true), "{live}");
            audio_until(browser, camera, "el.muted", "known to have audio").await?;
            click_sound(browser, camera).await?;
            audio_until(
                browser,
                camera,
                &format!("!el.muted && a.decoder === 'wasm' && a.error === null && {TONE}"),
                what,
            )
            .await?;
            let fetched = browser.run(AAC_WORKER_FETCHED, vec![]).await?;
            anyhow::ensure!(fetched == json!(camera == aac), "{what}: AAC worker fetched: {fetched}");
        }
        browser.save_screenshot("audio.png").await?;
        Ok(())
    })
    .await
    .expect("audio in the page");
}

/// Frames per channel until `total` video frames came (control messages
/// are kept, in order).
async fn frames_by_channel(
    client: &mut RelayClient,
    total: usize,
) -> anyhow::Result<(std::collections::BTreeMap<u16, usize>, Vec<ServerMessage>)> {
    let (mut counts, mut controls) = (std::collections::BTreeMap::new(), Vec::new());
    let mut seen = 0;
    while seen < total {
        match client.next().await? {
            Received::Frame(h, _) if h.kind == sightline_wire::FrameKind::Video => {
                *counts.entry(h.channel).or_insert(0) += 1;
                seen += 1;
            }
            Received::Frame(..) => {}
            Received::Control(msg) => controls.push(msg),
        }
    }
    Ok((counts, controls))
}

/// A camera with a substream (GStreamer's /high-tcp at 640x360 and /sub at
/// 320x180) and one without: a socket receives either stream or both, each
/// on its own channel, and is told each one's state; `sub` of a camera
/// without one is its main stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_substream_is_a_second_stream_of_the_same_camera() {
    use sightline_wire::Stream;
    let _serial = SERIAL.lock().await;
    let server = RtspServer::start(0, None).await.expect("RTSP server");
    let mut config = sightline_testkit::relay::relay_config(vec![
        ("door", rtsp(&server, "high-tcp", Transport::Tcp, None)),
        ("plain", rtsp(&server, "baseline-tcp", Transport::Tcp, None)),
    ])
    .expect("config");
    let Source::Rtsp(sub) = rtsp(&server, "sub", Transport::Tcp, None) else {
        unreachable!()
    };
    config.cameras[0].substream = Some(sub);
    let relay = Relay::start(config).await.expect("relay");
    let result = async {
        let mut client = RelayClient::open(relay.local_addr(), None).await?;
        let cameras = client.hello().await?;
        let door = cameras.iter().find(|c| c.id == "door").context("door")?;
        anyhow::ensure!(door.substream.is_some(), "{door:?}");
        let plain = cameras.iter().find(|c| c.id == "plain").context("plain")?;
        anyhow::ensure!(plain.substream.is_none(), "{plain:?}");

        // Every socket hears of both streams' states, watched or not.
        let mut watcher = RelayClient::open(relay.local_addr(), None).await?;
        let welcome = watcher.hello().await?;
        let door = welcome.iter().find(|c| c.id == "door").context("door")?;
        let mut online = [
            door.status == CameraState::Online,
            door.substream == Some(CameraState::Online),
        ];
        tokio::time::timeout(Duration::from_secs(15), async {
            while online != [true, true] {
                if let ServerMessage::CameraStatus {
                    camera,
                    stream,
                    status,
                } = watcher.next_control().await?
                {
                    if camera == "door" {
                        online[usize::from(stream == Stream::Sub)] = status == CameraState::Online;
                    }
                }
            }
            anyhow::Ok(())
        })
        .await
        .context("both streams go online")??;
        client.subscribe_stream(1, "door", Stream::Sub).await?;
        let (sub_channel, config) = client.expect_subscribed_stream(1, Stream::Sub).await?;
        let (counts, _) = frames_by_channel(&mut client, 20).await?;
        anyhow::ensure!(counts.keys().eq([&sub_channel]), "{counts:?}");
        let config = config.context("the substream's config")?;
        anyhow::ensure!(
            (config.coded_width, config.coded_height) == (320, 180),
            "{config:?}"
        );

        // Both at once (a player switching): two channels.
        client.subscribe_stream(2, "door", Stream::Main).await?;
        let (main_channel, _) = client.expect_subscribed_stream(2, Stream::Main).await?;
        anyhow::ensure!(main_channel != sub_channel);
        let (counts, _) = frames_by_channel(&mut client, 60).await?;
        anyhow::ensure!(
            counts.get(&main_channel) > Some(&10) && counts.get(&sub_channel) > Some(&10),
            "{counts:?}"
        );

        // The substream let go: the main stream alone, after what was in flight.
        client
            .send(&ClientMessage::Unsubscribe {
                id: 3,
                camera: "door".into(),
                stream: Stream::Sub,
            })
            .await?;
        loop {
            match client.next().await? {
                Received::Control(ServerMessage::Unsubscribed {
                    id: 3,
                    stream: Stream::Sub,
                    channel,
                    ..
                }) if channel == sub_channel => break,
                Received::Control(ServerMessage::Error { message, .. }) => {
                    anyhow::bail!("unsubscribe refused: {message}")
                }
                _ => {}
            }
        }
        let (counts, _) = frames_by_channel(&mut client, 30).await?;
        anyhow::ensure!(counts.keys().eq([&main_channel]), "{counts:?}");

        // No substream: `sub` is the main stream, and says so.
        client.subscribe_stream(4, "plain", Stream::Sub).await?;
        let (channel, _) = client.expect_subscribed_stream(4, Stream::Main).await?;
        anyhow::ensure!(channel != main_channel && channel != sub_channel);
        drop(client);

        // A small player (a grid tile) plays the substream; grown (focused,
        // full screen) it switches to the main stream, and back when it
        // shrinks, each time without a blank picture or leaving `live`.
        let browser = Browser::launch(&[]).await?;
        let seen = async {
            browser
                .open(&format!("http://{}/", relay.local_addr()))
                .await?;
            browser.wait_app().await?;
            // The app's own tiles stop receiving: only the players under test play.
            browser
                .run(
                    "document.querySelector('main').hidden = true; arguments[0]();",
                    vec![],
                )
                .await?;
            let script = format!("{SWITCH_HELPERS}{SIZE_SWITCHES}");
            let grid = browser.run(&script, vec![json!("door")]).await?;
            println!("small → large → small: {grid}");
            let script = format!("{SWITCH_HELPERS}{PINNED_SWITCH}");
            let wasm = browser.run(&script, vec![json!("door")]).await?;
            println!("Wasm, stream=\"main\": {wasm}");
            anyhow::Ok((grid, wasm))
        }
        .await;
        let _ = browser.close().await;
        let (grid, wasm) = seen?;
        anyhow::ensure!(grid["error"].is_null(), "{grid}");
        for step in ["tile", "focused", "back"] {
            anyhow::ensure!(grid[step]["blank"] == json!(0), "a blank picture: {grid}");
            anyhow::ensure!(
                grid[step]["states"] == json!([]),
                "left `live` while switching: {grid}"
            );
        }
        let expect = [
            ("tile", "sub", 320, 0),
            ("focused", "main", 640, 1),
            ("back", "sub", 320, 2),
        ];
        for (step, stream, width, switches) in expect {
            let stats = &grid[step]["stats"];
            anyhow::ensure!(stats["stream"] == json!(stream), "{step}: {grid}");
            anyhow::ensure!(stats["width"] == json!(width), "{step}: {grid}");
            anyhow::ensure!(stats["streamSwitches"] == json!(switches), "{step}: {grid}");
        }
        // Wasm prefers the substream; `stream="main"` switches, and the
        // substream paints on while the main stream's fast start decodes.
        anyhow::ensure!(wasm["error"].is_null(), "{wasm}");
        anyhow::ensure!(wasm["before"]["stream"] == json!("sub"), "{wasm}");
        anyhow::ensure!(wasm["before"]["decoder"] == json!("wasm"), "{wasm}");
        anyhow::ensure!(wasm["after"]["stream"] == json!("main"), "{wasm}");
        anyhow::ensure!(wasm["after"]["width"] == json!(640), "{wasm}");
        anyhow::ensure!(wasm["blank"] == json!(0), "{wasm}");
        anyhow::ensure!(
            wasm["after"]["paintedWhileSwitching"].as_u64() >= Some(1),
            "the old stream painted on during the switch: {wasm}"
        );
        Ok(())
    }
    .await;
    relay.shutdown().await.expect("clean shutdown");
    result.expect("substreams");
}

/// JS: a small `<cam-player>` of `camera` (a grid tile: it plays the
/// substream) grows (focused, full screen: the main stream) and shrinks
/// again (the substream). For each step: its stats, blanks seen and states
/// other than `live`. Args: camera.
const SIZE_SWITCHES: &str = r#"
const [camera, done] = arguments;
const el = document.createElement("cam-player");
(async () => {
  el.camera = camera;
  el.style.cssText = "display:block;width:240px;height:135px";
  document.body.prepend(el);
  const out = {};
  await until(() => el.state === "live" && el.getStats().framesPainted >= 10, 20000);
  let w = watch(el);
  await until(settled(el, "sub", 10), 20000);
  w.on = false;
  out.tile = { stats: el.getStats(), blank: w.blank, states: w.states };
  for (const [step, width, stream] of [["focused", 1280, "main"], ["back", 240, "sub"]]) {
    w = watch(el);
    el.style.width = `${width}px`;
    el.style.height = `${width * 9 / 16}px`;
    await until(settled(el, stream, 10), 20000);
    w.on = false;
    out[step] = { stats: el.getStats(), blank: w.blank, states: w.states };
  }
  el.remove();
  done(out);
})().catch((e) => done({ error: String(e), stats: el.getStats() }));
"#;

/// JS: a large `<cam-player decoder="wasm">` of `camera` (it plays the
/// substream), then `stream="main"`: stats before and after, blanks seen
/// during the switch. Args: camera.
const PINNED_SWITCH: &str = r#"
const [camera, done] = arguments;
(async () => {
  const el = document.createElement("cam-player");
  el.camera = camera;
  el.decoder = "wasm";
  el.style.cssText = "display:block;width:1280px;height:720px";
  document.body.prepend(el);
  await until(() => el.state === "live" && el.getStats().framesPainted >= 10, 20000);
  const before = el.getStats();
  const w = watch(el);
  el.stream = "main";
  await until(settled(el, "main", 5), 20000);
  w.on = false;
  done({ before, after: el.getStats(), blank: w.blank, states: w.states });
})().catch((e) => done({ error: String(e) }));
"#;

/// An alert on an H.265 camera (a webhook, on GStreamer's x265 `/h265`
/// camera) comes with a snapshot (the relay decodes H.265 now) and a clip:
/// an MP4 whose one track is `hvc1` carrying the camera's hvcC, with its
/// samples. Decoding such a clip is checked in `crates/media`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h265_cameras_alert_has_a_snapshot_and_an_hvc1_clip() {
    let _serial = SERIAL.lock().await;
    let server = RtspServer::start(0, None).await.expect("RTSP server");
    let data = tempfile::tempdir().expect("temp dir");
    let mut config =
        sightline_testkit::bare_config(vec![("h265", rtsp(&server, "h265", Transport::Tcp, None))]);
    config.data = Some(data.path().to_owned());
    config.alerts.webhook_hold = 1;
    let relay = Relay::start(config).await.expect("relay");
    let result = async {
        let mut client = watch_online(&relay, "h265").await;
        // A second of video first: the clip's pre-roll has a keyframe.
        let mut frames = 0;
        while frames < 30 {
            if let Received::Frame(..) = client.next().await? {
                frames += 1;
            }
        }
        let raised = sightline_testkit::http_request(
            "POST",
            &format!("http://{}/api/cameras/h265/alerts", relay.local_addr()),
            &[("content-type", "application/json")],
            r#"{"kind": "doorbell"}"#,
        )
        .await?;
        anyhow::ensure!(raised.status == 202, "{raised:?}");
        // It ends by itself (webhook_hold 1 s); then the clip is written.
        let alert = client
            .wait_alert(Duration::from_secs(30), |_, a| a.clip)
            .await?;
        anyhow::ensure!(alert.snapshot, "no snapshot: {alert:?}");
        let jpeg = sightline_testkit::http_request(
            "GET",
            &format!(
                "http://{}/api/alerts/{}/snapshot.jpg",
                relay.local_addr(),
                alert.id
            ),
            &[],
            "",
        )
        .await?;
        anyhow::ensure!(jpeg.status == 200, "{}", jpeg.status);
        anyhow::ensure!(jpeg.bytes.starts_with(&[0xff, 0xd8]), "not a JPEG");
        let clip = sightline_testkit::http_request(
            "GET",
            &format!(
                "http://{}/api/alerts/{}/clip.mp4",
                relay.local_addr(),
                alert.id
            ),
            &[],
            "",
        )
        .await?;
        anyhow::ensure!(clip.status == 200, "{}", clip.status);
        let bytes = clip.bytes;
        anyhow::ensure!(
            bytes.windows(4).any(|w| w == b"hvc1"),
            "no hvc1 sample entry"
        );
        anyhow::ensure!(bytes.windows(4).any(|w| w == b"hvcC"), "no hvcC");
        let size = bytes.len() as u64;
        let mut reader = mp4::Mp4Reader::read_header(std::io::Cursor::new(bytes), size)?;
        let (&id, _) = reader.tracks().iter().next().context("a track")?;
        let samples = reader.sample_count(id)?;
        let first = reader.read_sample(id, 1)?.context("a first sample")?;
        println!("H.265 clip: {samples} samples, {size} bytes");
        anyhow::ensure!(samples >= 30, "{samples} samples");
        anyhow::ensure!(first.is_sync, "the clip starts at a keyframe");
        Ok(())
    }
    .await;
    relay.shutdown().await.expect("clean shutdown");
    result.expect("an H.265 alert's clip");
}
