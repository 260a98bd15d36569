//! The app and the element as their users meet them, in real headless Chromium
//! against the real relay: the camera grid, the kiosk surviving a relay
//! restart, `snapshot()`, the `error` event, a page of another origin
//! embedding the player, and tiles that stop receiving while nobody sees them.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::Context as _;
use fantoccini::Locator;
use serde_json::{json, Value};
use sightline_relay::DemoOptions;
use sightline_relay::Relay;
use sightline_relay::Source;
use sightline_testkit::{
    eventually, http_get, metric, relay_config, sample, small_demo_cameras, www_dir, Browser, Site,
    ALL_LIVE, SWITCH_HELPERS, WAIT_LIVE,
};
use tokio::sync::Mutex;

/// One at a time: each runs encoders and a browser on a 2-core machine.
static SERIAL: Mutex<()> = Mutex::const_new(());

async fn metrics(relay: &Relay) -> anyhow::Result<String> {
    http_get(&format!("http://{}/metrics", relay.local_addr())).await
}

fn demo_sources(cameras: &[(String, DemoOptions)]) -> Vec<(&str, Source)> {
    cameras
        .iter()
        .map(|(id, options)| (id.as_str(), Source::Demo(options.clone())))
        .collect()
}

/// Starts a relay with `cameras` and a browser, runs `test` with them, then
/// closes both, whatever the outcome.
async fn with_app(
    cameras: Vec<(&str, Source)>,
    test: impl AsyncFnOnce(&Relay, &Browser) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let relay = sightline_testkit::start_relay_with(cameras).await?;
    sightline_testkit::with_browser(relay, test).await
}

/// Checks the result of [`ALL_LIVE`]: every player live and painting, none in error.
fn all_painting(all: &Value, expect: usize) -> anyhow::Result<&Vec<Value>> {
    let players = all
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("no players: {all}"))?;
    anyhow::ensure!(
        players.len() == expect,
        "{} players, not {expect}",
        players.len()
    );
    for p in players {
        anyhow::ensure!(p["live"] == json!(true), "not live: {p}");
        anyhow::ensure!(
            p["paintedIn1s"].as_u64().unwrap_or(0) > 0,
            "painted nothing in 1 s: {p}"
        );
        anyhow::ensure!(p["stats"]["decodeErrors"] == json!(0), "{p}");
    }
    Ok(players)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_cameras_in_a_grid_all_paint_over_one_socket() {
    let _serial = SERIAL.lock().await;
    let cameras = small_demo_cameras(16);
    with_app(demo_sources(&cameras), async |relay, browser| {
        browser
            .open(&format!("http://{}/", relay.local_addr()))
            .await?;
        let all = browser.run(ALL_LIVE, vec![json!(30_000)]).await?;
        let players = all_painting(&all, 16)?;
        let shown: BTreeSet<&str> = players
            .iter()
            .filter_map(|p| p["camera"].as_str())
            .collect();
        anyhow::ensure!(shown.len() == 16, "16 different cameras: {shown:?}");
        for p in players {
            anyhow::ensure!(
                p["stats"]["sockets"] == json!(1),
                "the page holds {} sockets",
                p["stats"]["sockets"]
            );
        }
        // The relay's side of the same fact.
        let text = metrics(relay).await?;
        anyhow::ensure!(
            sample(&text, "sightline_websocket_sessions") == Some(1.0),
            "the relay counts {:?} sessions",
            sample(&text, "sightline_websocket_sessions")
        );
        // The auto layout: 16 tiles in this window are 4 columns.
        let cols = browser
            .run(
                r#"arguments[0](document.getElementById("grid").style.getPropertyValue("--cols"));"#,
                vec![],
            )
            .await?;
        anyhow::ensure!(cols == json!("4"), "columns: {cols}");
        browser.save_screenshot("grid.png").await?;

        // A click on a tile focuses it: it alone is shown, with controls, and
        // the others let go of their streams; Back returns to the grid.
        browser
            .client
            .find(Locator::Css(r#"figure[data-camera="cam-6"] cam-player"#))
            .await?
            .click()
            .await?;
        let focused = browser.run(FOCUSED, vec![json!(10_000)]).await?;
        println!("focused: {focused}");
        anyhow::ensure!(focused["settled"] == json!(true), "{focused}");
        anyhow::ensure!(focused["shown"] == json!(["cam-6"]), "{focused}");
        anyhow::ensure!(focused["controls"] == json!(["cam-6"]), "{focused}");
        anyhow::ensure!(
            focused["search"] == json!("?camera=cam-6"),
            "the address names the camera: {focused}"
        );
        browser.client.back().await?;
        let all = browser.run(ALL_LIVE, vec![json!(30_000)]).await?;
        all_painting(&all, 16)?;
        Ok(())
    })
    .await
    .expect("the grid plays 16 cameras over one socket");
}

/// In the grid page, after a click on a tile: resolves once every hidden
/// tile's player has stopped receiving, with what is shown. Args: ms.
const FOCUSED: &str = r##"
const [ms, done] = arguments;
const t0 = performance.now();
(function look() {
  const tiles = [...document.querySelectorAll("#grid .tile")];
  const shown = tiles.filter((t) => !t.hidden).map((t) => t.dataset.camera);
  const controls = tiles.filter((t) => t.querySelector("cam-player").controls).map((t) => t.dataset.camera);
  const receiving = tiles.filter((t) => t.querySelector("cam-player").getStats().receiving)
    .map((t) => t.dataset.camera);
  const settled = shown.length === 1 && receiving.length === 1 && receiving[0] === shown[0];
  if (settled || performance.now() - t0 > ms) {
    return done({ settled, shown, controls, receiving, search: location.search });
  }
  setTimeout(look, 50);
})();
"##;

/// In the kiosk page: records each tile losing the relay, then resolves once
/// every tile has gone `reconnecting`. Args: ms.
const KIOSK_LOST: &str = r#"
const [ms, done] = arguments;
const players = [...document.querySelectorAll("cam-player")];
window.sameDocument = 42;
window.lost = players.map((p) => p.state === "reconnecting");
players.forEach((p, i) => p.addEventListener("statechange", (e) => {
  if (e.detail.state === "reconnecting") window.lost[i] = true;
}));
const check = () => window.lost.every(Boolean) && done({ lost: true });
players.forEach((p) => p.addEventListener("statechange", check));
check();
setTimeout(() => done({ lost: false, states: players.map((p) => p.state) }), ms);
"#;

/// In the kiosk page: resolves with how long it took every tile to be live
/// again (from the call), or with the states after `ms`. Args: ms.
const KIOSK_BACK: &str = r#"
const [ms, done] = arguments;
const players = [...document.querySelectorAll("cam-player")];
const t0 = performance.now();
const back = players.map((p) => (p.state === "live" ? 0 : null));
const check = () => back.every((t) => t !== null) &&
  done({ back: true, ms: Math.max(...back), sameDocument: window.sameDocument });
players.forEach((p, i) => p.addEventListener("statechange", (e) => {
  if (e.detail.state === "live" && back[i] === null) { back[i] = performance.now() - t0; check(); }
}));
check();
setTimeout(() => done({ back: false, states: players.map((p) => p.state), sameDocument: window.sameDocument }), ms);
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kiosk_is_live_again_within_5_s_of_a_relay_restart_without_a_reload() {
    let _serial = SERIAL.lock().await;
    let cameras = small_demo_cameras(4);
    let config = relay_config(demo_sources(&cameras)).expect("config");
    let relay = Relay::start(config.clone()).await.expect("relay starts");
    let addr = relay.local_addr();
    let browser = Browser::launch(&[]).await.expect("browser starts");
    let mut relay = Some(relay);
    let result = async {
        browser
            .open(&format!(
                "http://{addr}/kiosk?cams=cam-1,cam-2,cam-3,cam-4&layout=2x2"
            ))
            .await?;
        let all = browser.run(ALL_LIVE, vec![json!(30_000)]).await?;
        all_painting(&all, 4)?;
        // The relay goes away under the page…
        let lost = async { browser.run(KIOSK_LOST, vec![json!(15_000)]).await };
        let stop = async {
            if let Some(relay) = relay.take() {
                relay.shutdown().await?;
            }
            anyhow::Ok(())
        };
        let (lost, stopped) = tokio::join!(lost, stop);
        stopped?;
        let lost = lost?;
        anyhow::ensure!(lost["lost"] == json!(true), "tiles did not notice: {lost}");
        // …and comes back on the same address.
        let mut again = config.clone();
        again.listen = addr;
        relay = Some(Relay::start(again).await?);
        let back = browser.run(KIOSK_BACK, vec![json!(15_000)]).await?;
        println!("kiosk after the relay restart: {back}");
        anyhow::ensure!(
            back["back"] == json!(true),
            "not every tile came back: {back}"
        );
        anyhow::ensure!(
            back["sameDocument"] == json!(42),
            "the page reloaded: {back}"
        );
        let ms = back["ms"].as_f64().unwrap_or(f64::MAX);
        anyhow::ensure!(ms <= 5_000.0, "live again after {ms:.0} ms, not within 5 s");
        Ok(())
    }
    .await;
    let _ = browser.close().await;
    if let Some(relay) = relay {
        relay.shutdown().await.expect("clean shutdown");
    }
    result.expect("the kiosk survives a relay restart");
}

/// In the page: a snapshot, and the canvas's pixels read in the same task (so
/// the same picture), compared pixel by pixel. Args: none.
const SNAPSHOT: &str = r#"
const done = arguments[0];
const el = document.querySelector("cam-player");
const canvas = el.shadowRoot.querySelector("canvas");
const promise = el.snapshot();
const shown = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
promise.then(async (blob) => {
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  const copy = document.createElement("canvas");
  copy.width = bitmap.width;
  copy.height = bitmap.height;
  const ctx = copy.getContext("2d");
  ctx.drawImage(bitmap, 0, 0);
  const got = ctx.getImageData(0, 0, copy.width, copy.height).data;
  let differing = 0;
  for (let i = 0; i < got.length; i++) if (got[i] !== shown[i]) differing++;
  done({ type: blob.type, width: bitmap.width, height: bitmap.height, differing,
         bytes: got.length, shownBytes: shown.length, stats: el.getStats() });
}, (e) => done({ error: String(e) }));
"#;

/// In the page: turns the stats box on through the `stats` property, waits for
/// it to show the stream's size at a frame rate above 0, then turns it off.
/// Args: ms.
const STATS_BOX: &str = r#"
const [ms, done] = arguments;
const el = document.querySelector("cam-player");
const box = el.shadowRoot.querySelector(".stats");
el.stats = true;
const t0 = performance.now();
(function look() {
  const on = { attribute: el.hasAttribute("stats"), shown: getComputedStyle(box).display !== "none",
               text: box.textContent };
  const ready = on.shown && /640×360 +[0-9.]*[1-9][0-9.]* fps/.test(on.text);
  if (!ready && performance.now() - t0 < ms) return setTimeout(look, 100);
  el.stats = false;
  done({ ready, on, offShown: getComputedStyle(box).display !== "none", offAttribute: el.hasAttribute("stats") });
})();
"#;

/// In the page: a new element for a camera the relay does not have; resolves
/// with its `error` event and state. Args: none.
const UNKNOWN_CAMERA: &str = r#"
const done = arguments[0];
const el = document.createElement("cam-player");
el.addEventListener("error", (e) => done({ detail: e.detail, state: el.state }));
el.camera = "no-such-camera";
document.querySelector("main").append(el);
setTimeout(() => done({ timeout: true, state: el.state }), 10000);
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_is_the_picture_at_the_streams_size_and_bad_cameras_are_errors() {
    let _serial = SERIAL.lock().await;
    let options = DemoOptions {
        width: 640,
        height: 360,
        ..DemoOptions::default()
    };
    with_app(
        vec![("demo", Source::Demo(options))],
        async |relay, browser| {
            one_camera_playing(relay, browser).await?;
            let shot = browser.run(SNAPSHOT, vec![]).await?;
            anyhow::ensure!(shot["type"] == json!("image/png"), "{shot}");
            anyhow::ensure!(
                (shot["width"].as_u64(), shot["height"].as_u64()) == (Some(640), Some(360)),
                "snapshot is {}x{}, the stream 640x360",
                shot["width"],
                shot["height"]
            );
            anyhow::ensure!(shot["bytes"] == shot["shownBytes"], "{shot}");
            anyhow::ensure!(
                shot["differing"] == json!(0),
                "{} of {} bytes differ from the canvas",
                shot["differing"],
                shot["bytes"]
            );

            let stats = browser.run(STATS_BOX, vec![json!(5_000)]).await?;
            println!("stats box: {stats}");
            anyhow::ensure!(stats["ready"] == json!(true), "{stats}");
            // Live figures, not the fast-start burst: about the source's 30 fps.
            let fps: f64 = stats["on"]["text"]
                .as_str()
                .and_then(|t| t.split("  ").nth(1))
                .and_then(|f| f.trim_end_matches(" fps").parse().ok())
                .unwrap_or(f64::NAN);
            anyhow::ensure!((15.0..=45.0).contains(&fps), "{fps} fps: {stats}");
            anyhow::ensure!(stats["on"]["attribute"] == json!(true), "{stats}");
            anyhow::ensure!(
                stats["on"]["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("WebCodecs") && t.contains("latency")),
                "{stats}"
            );
            anyhow::ensure!(
                stats["offShown"] == json!(false) && stats["offAttribute"] == json!(false),
                "{stats}"
            );

            let refused = browser.run(UNKNOWN_CAMERA, vec![]).await?;
            println!("unknown camera: {refused}");
            anyhow::ensure!(refused["detail"]["source"] == json!("relay"), "{refused}");
            anyhow::ensure!(
                refused["detail"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("no-such-camera")),
                "{refused}"
            );
            anyhow::ensure!(refused["state"] == json!("offline"), "{refused}");
            Ok(())
        },
    )
    .await
    .expect("snapshot and error event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_another_origin_embeds_the_player_with_one_script_tag() {
    let _serial = SERIAL.lock().await;
    let options = DemoOptions {
        width: 640,
        height: 360,
        ..DemoOptions::default()
    };
    with_app(
        vec![("demo", Source::Demo(options))],
        async |relay, browser| {
            let site = Site::serve(www_dir()?.join("examples")).await?;
            let relay_url = format!("http://127.0.0.1:{}", relay.local_addr().port());
            // `localhost` and `127.0.0.1` are different origins (both secure contexts).
            let page = format!(
                "http://localhost:{}/embed.html?relay={relay_url}",
                site.addr.port()
            );
            // A file on disk (origin `null`) works too, as README says.
            let file = format!(
                "file://{}/embed.html?relay={relay_url}",
                www_dir()?.join("examples").display()
            );
            for (page, decoder) in [
                (page.as_str(), "webcodecs"),
                (page.as_str(), "wasm"),
                (file.as_str(), "webcodecs"),
            ] {
                browser
                    .client
                    .goto(&format!("{page}&decoder={decoder}"))
                    .await?;
                let origin = browser
                    .run("arguments[0](location.origin);", vec![])
                    .await?;
                anyhow::ensure!(
                    origin.as_str() != Some(relay_url.as_str()),
                    "the page must be of another origin than the relay: {origin}"
                );
                let live = browser
                    .run(WAIT_LIVE, vec![json!("cam-player"), json!(20_000)])
                    .await?;
                println!("embedded in {page} ({decoder}): {live}");
                anyhow::ensure!(live["live"] == json!(true), "{decoder}: {live}");
                anyhow::ensure!(live["stats"]["decoder"] == json!(decoder), "{live}");
            }
            Ok(())
        },
    )
    .await
    .expect("the embedded player plays");
}

/// In the page: scrolls the tile out of view (`away`) or back. Args: away.
const SCROLL: &str = r#"
const [away, done] = arguments;
if (away && !document.getElementById("spacer")) {
  const spacer = document.createElement("div");
  spacer.id = "spacer";
  spacer.style.height = "4000px";
  document.body.append(spacer);
}
window.scrollTo(0, away ? document.body.scrollHeight : 0);
done(true);
"#;

/// In the page: resolves once the player's `receiving` is `want` (and, when
/// receiving, it has painted 5 new frames), with the tab's visibility. Args: want, ms.
const RECEIVING: &str = r#"
const [want, ms, done] = arguments;
const el = document.querySelector("cam-player");
const p0 = el.getStats().framesPainted;
const t0 = performance.now();
(function look() {
  const s = el.getStats();
  const settled = s.receiving === want && (!want || s.framesPainted >= p0 + 5);
  if (settled || performance.now() - t0 > ms) return done({ settled, hidden: document.hidden, stats: s });
  setTimeout(look, 50);
})();
"#;

/// Opens the app with the relay's one camera and waits until it plays.
async fn one_camera_playing(relay: &Relay, browser: &Browser) -> anyhow::Result<()> {
    browser
        .open(&format!("http://{}/", relay.local_addr()))
        .await?;
    let live = browser
        .run(WAIT_LIVE, vec![json!("cam-player"), json!(20_000)])
        .await?;
    anyhow::ensure!(live["live"] == json!(true), "{live}");
    Ok(())
}

/// Waits until the relay has no viewer of `cam-1` left.
async fn relay_lets_go(relay: &Relay) -> anyhow::Result<()> {
    eventually(
        Duration::from_secs(5),
        "the relay drops the viewer",
        || async {
            let text = metrics(relay).await?;
            Ok((metric(&text, "sightline_camera_viewers", "cam-1") == Some(0.0)).then_some(()))
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tile_scrolled_out_of_view_stops_receiving_and_resumes_when_back() {
    let _serial = SERIAL.lock().await;
    with_app(
        demo_sources(&small_demo_cameras(1)),
        async |relay, browser| {
            one_camera_playing(relay, browser).await?;
            let counter = |text: &str, name: &str| metric(text, name, "cam-1").unwrap_or(-1.0);

            browser.run(SCROLL, vec![json!(true)]).await?;
            let away = browser
                .run(RECEIVING, vec![json!(false), json!(5_000)])
                .await?;
            anyhow::ensure!(away["settled"] == json!(true), "still receiving: {away}");
            // The relay lets go of the viewer…
            relay_lets_go(relay).await?;
            // …and over a window in which the camera keeps producing, sends it nothing.
            let before = metrics(relay).await?;
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let after = metrics(relay).await?;
            let produced = counter(&after, "sightline_camera_frames_total")
                - counter(&before, "sightline_camera_frames_total");
            let sent = counter(&after, "sightline_camera_frames_sent_total")
                - counter(&before, "sightline_camera_frames_sent_total");
            println!("out of view for 1.5 s: camera produced {produced} frames, relay sent {sent}");
            anyhow::ensure!(
                produced >= 10.0,
                "the camera must keep producing: {produced}"
            );
            anyhow::ensure!(sent == 0.0, "{sent} frames sent to a tile nobody sees");

            browser.run(SCROLL, vec![json!(false)]).await?;
            let back = browser
                .run(RECEIVING, vec![json!(true), json!(10_000)])
                .await?;
            anyhow::ensure!(back["settled"] == json!(true), "did not resume: {back}");
            anyhow::ensure!(back["stats"]["pauses"] == json!(1), "{back}");
            anyhow::ensure!(back["stats"]["decodeErrors"] == json!(0), "{back}");
            let resumed = metrics(relay).await?;
            anyhow::ensure!(
                counter(&resumed, "sightline_camera_frames_sent_total")
                    > counter(&after, "sightline_camera_frames_sent_total"),
                "the relay sends again"
            );
            Ok(())
        },
    )
    .await
    .expect("an unseen tile costs nothing and comes back");
}

/// In the kiosk page: watches every tile's painted count on each animation
/// frame until the watchdog has restarted a tile, then reports how long each
/// tile had been without a new picture. Args: ms.
const WATCHDOG: &str = r#"
const [ms, done] = arguments;
const players = [...document.querySelectorAll("cam-player")];
const last = players.map(() => ({ painted: -1, at: performance.now() }));
const t0 = performance.now();
(function look() {
  const now = performance.now();
  const restarts = Number(document.documentElement.dataset.watchdogRestarts || 0);
  if (restarts > 0 || now - t0 > ms) {
    return done({ restarts, quietMs: Object.fromEntries(players.map((p, i) => [p.camera, now - last[i].at])) });
  }
  players.forEach((p, i) => {
    const painted = p.getStats().framesPainted;
    if (painted !== last[i].painted) last[i] = { painted, at: now };
  });
  requestAnimationFrame(look);
})();
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kiosk_watchdog_restarts_a_tile_that_stopped_painting() {
    let _serial = SERIAL.lock().await;
    let mut cameras = small_demo_cameras(1);
    let (_, healthy) = cameras[0].clone();
    // Online, but no picture after 3 s: a hung camera the relay cannot tell.
    let hung = DemoOptions {
        fault: Some(sightline_relay::Fault::StallAfter(45)),
        ..healthy
    };
    cameras.push(("hung".into(), hung));
    with_app(demo_sources(&cameras), async |relay, browser| {
        browser
            .open(&format!(
                "http://{}/kiosk?cams=cam-1,hung",
                relay.local_addr()
            ))
            .await?;
        let all = browser.run(ALL_LIVE, vec![json!(20_000)]).await?;
        all_painting(&all, 2)?;
        let seen = browser.run(WATCHDOG, vec![json!(30_000)]).await?;
        println!("watchdog: {seen}");
        anyhow::ensure!(seen["restarts"] == json!(1), "one tile restarted: {seen}");
        let quiet = |camera: &str| seen["quietMs"][camera].as_f64().unwrap_or(f64::NAN);
        // Never before 10 s without a picture; the watchdog looks once a
        // second, so up to 11 s, plus timer slack on a loaded machine.
        anyhow::ensure!(
            (9_900.0..=13_000.0).contains(&quiet("hung")),
            "the hung tile was restarted after {:.0} ms without a picture",
            quiet("hung")
        );
        anyhow::ensure!(
            quiet("cam-1") < 1_000.0,
            "the healthy tile kept painting: {seen}"
        );
        Ok(())
    })
    .await
    .expect("the watchdog heals a stuck tile");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hidden_tab_stops_receiving_and_resumes_when_shown() {
    let _serial = SERIAL.lock().await;
    with_app(
        demo_sources(&small_demo_cameras(1)),
        async |relay, browser| {
            one_camera_playing(relay, browser).await?;
            browser.client.minimize_window().await?;
            let hidden = browser
                .run(RECEIVING, vec![json!(false), json!(5_000)])
                .await?;
            println!("minimized: {hidden}");
            anyhow::ensure!(
                hidden["hidden"] == json!(true),
                "the tab is not hidden: {hidden}"
            );
            anyhow::ensure!(
                hidden["settled"] == json!(true),
                "still receiving: {hidden}"
            );
            relay_lets_go(relay).await?;
            browser.client.maximize_window().await?;
            let shown = browser
                .run(RECEIVING, vec![json!(true), json!(10_000)])
                .await?;
            println!("shown again: {shown}");
            anyhow::ensure!(shown["hidden"] == json!(false), "{shown}");
            anyhow::ensure!(shown["settled"] == json!(true), "did not resume: {shown}");
            Ok(())
        },
    )
    .await
    .expect("a hidden tab costs nothing and comes back");
}

/// In the kiosk page: resolves once the page shows `camera` live and every
/// other tile is hidden and not receiving. Args: camera, ms.
const KIOSK_SHOWS: &str = r#"
const [camera, ms, done] = arguments;
const t0 = performance.now();
(function look() {
  const players = [...document.querySelectorAll("cam-player")];
  const shown = players.filter((p) => !p.hidden).map((p) => p.camera);
  const receiving = players.filter((p) => p.getStats().receiving).map((p) => p.camera);
  const live = players.find((p) => p.camera === camera)?.state === "live";
  const settled = shown.length === 1 && shown[0] === camera && live &&
    receiving.length === 1 && receiving[0] === camera;
  if (settled || performance.now() - t0 > ms) return done({ settled, shown, receiving, ms: performance.now() - t0 });
  setTimeout(look, 50);
})();
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kiosk_rotates_pages_of_cameras() {
    let _serial = SERIAL.lock().await;
    let cameras = small_demo_cameras(2);
    with_app(demo_sources(&cameras), async |relay, browser| {
        // One cell, two cameras, a new page every 5 s.
        browser
            .open(&format!(
                "http://{}/kiosk?cams=cam-1,cam-2&layout=1x1&rotate=5",
                relay.local_addr()
            ))
            .await?;
        for camera in ["cam-1", "cam-2", "cam-1"] {
            let seen = browser
                .run(KIOSK_SHOWS, vec![json!(camera), json!(10_000)])
                .await?;
            println!("kiosk page: {seen}");
            anyhow::ensure!(
                seen["settled"] == json!(true),
                "{camera} not shown alone: {seen}"
            );
        }
        Ok(())
    })
    .await
    .expect("the kiosk rotates");
}

/// Accounts in the app: the grid sends a stranger to the sign-in page; a
/// viewer granted camera `a` signs in and sees `a` alone, playing; names with
/// HTML in them are shown as text; sign-out ends the session; the first
/// start's one-time link signs the admin in with no form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_shows_the_granted_cameras_and_nothing_else() {
    let _serial = SERIAL.lock().await;
    let cameras = small_demo_cameras(2);
    let mut config = relay_config(demo_sources(&cameras)).expect("config");
    // A camera name that would run script if any page used it as HTML.
    config.cameras[1].name = r#"<img src=x onerror="window.pwned=1">Yard"#.into();
    let (config, data) = sightline_testkit::secured(config).expect("data directory");
    let relay = Relay::start(config).await.expect("relay starts");
    let link = relay.first_run_link().expect("first start").to_owned();
    let store = sightline_store::Store::open(&data.path().join("sightline.db")).unwrap();
    store
        .add_user(
            "alice",
            sightline_store::Role::Viewer,
            &sightline_store::CameraGrant::parse("cam-1").unwrap(),
            "correct horse battery",
        )
        .unwrap();
    let browser = Browser::launch(&[]).await.expect("browser");
    let result = async {
        let base = format!("http://{}", relay.local_addr());
        browser.goto(&format!("{base}/")).await?;
        browser.wait_page("login", "ready").await?;
        let client = browser.client();
        let url = client.current_url().await?;
        anyhow::ensure!(url.path() == "/login", "not sent to sign in: {url}");
        client
            .find(Locator::Css("#user"))
            .await?
            .send_keys("alice")
            .await?;
        client
            .find(Locator::Css("#password"))
            .await?
            .send_keys("correct horse battery")
            .await?;
        browser.save_screenshot("login.png").await?;
        client.find(Locator::Css("#sign-in")).await?.click().await?;
        browser.wait_app().await?;
        let whoami = client.find(Locator::Css("#whoami")).await?.text().await?;
        anyhow::ensure!(whoami == "alice · viewer", "{whoami:?}");
        let all = browser.run(ALL_LIVE, vec![json!(30_000)]).await?;
        let players = all_painting(&all, 1)?;
        anyhow::ensure!(players[0]["camera"] == json!("cam-1"), "{all}");

        client
            .find(Locator::Css("#sign-out"))
            .await?
            .click()
            .await?;
        browser.wait_page("login", "ready").await?;

        // The admin's one-time link: straight into the app, both cameras.
        browser.goto(&link).await?;
        browser.wait_app().await?;
        let url = client.current_url().await?;
        anyhow::ensure!(
            url.fragment().is_none(),
            "the token stays in the address bar: {url}"
        );
        let whoami = client.find(Locator::Css("#whoami")).await?.text().await?;
        anyhow::ensure!(whoami == "admin · admin", "{whoami:?}");
        let all = browser.run(ALL_LIVE, vec![json!(30_000)]).await?;
        all_painting(&all, 2)?;
        let captions = browser
            .run(
                "const done = arguments[0]; done({pwned: window.pwned ?? null, \
                 imgs: document.querySelectorAll('figcaption img').length, \
                 text: [...document.querySelectorAll('figcaption')].map((c) => c.textContent)});",
                vec![],
            )
            .await?;
        anyhow::ensure!(captions["pwned"].is_null(), "script ran: {captions}");
        anyhow::ensure!(captions["imgs"] == json!(0), "{captions}");
        anyhow::ensure!(
            captions["text"].to_string().contains("onerror"),
            "the name is shown as text: {captions}"
        );
        anyhow::Ok(())
    }
    .await;
    let _ = browser.close().await;
    relay.shutdown().await.expect("relay shuts down");
    result.expect("sign-in flow");
}

/// A page of another origin embeds a camera with a ticket from its own
/// backend (`getTicket`), as README shows: it plays, and after its ticket has
/// expired and the relay went away and came back, the player fetches a fresh
/// ticket by itself and plays on, without a reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embed_of_another_origin_plays_with_get_ticket_across_a_ticket_expiry() {
    let _serial = SERIAL.lock().await;
    let site_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site_origin = format!(
        "http://localhost:{}",
        site_listener.local_addr().unwrap().port()
    );
    let cameras = small_demo_cameras(2);
    let (mut config, data) =
        sightline_testkit::secured(relay_config(demo_sources(&cameras)).unwrap()).unwrap();
    config.auth.embed_origins = vec![site_origin.clone()];
    let relay = Relay::start(config.clone()).await.expect("relay starts");
    let addr = relay.local_addr();
    let store = sightline_store::Store::open(&data.path().join("sightline.db")).unwrap();
    let admin = store.user_by_name("admin").unwrap().unwrap();
    let (_, key) = store
        .create_api_key(
            "shop backend",
            sightline_store::Role::Viewer,
            &sightline_store::CameraGrant::parse("cam-1").unwrap(),
            admin.id,
            sightline_store::unix_now(),
        )
        .unwrap();
    // The shop: its page, and its backend's ticket endpoint (the README's
    // example backend, in Rust): a 2-second ticket for camera cam-1.
    let page = format!(
        r#"<!doctype html><meta charset="utf-8">
<script type="module" src="http://127.0.0.1:{port}/cam-player.js"></script>
<cam-player camera="cam-1" relay="http://127.0.0.1:{port}"></cam-player>
<script>
  window.sameDocument = 42;
  window.tickets = 0;
  document.querySelector("cam-player").getTicket = async () => {{
    window.tickets += 1;
    const answer = await fetch("/ticket");
    if (!answer.ok) throw new Error(`the shop's backend answered ${{answer.status}}`);
    return answer.text();
  }};
</script>"#,
        port = addr.port()
    );
    let backend_key = key.expose().to_owned();
    let audience = site_origin.clone();
    let shop = axum::Router::new()
        .route(
            "/embed.html",
            axum::routing::get(move || async move { axum::response::Html(page) }),
        )
        .route(
            "/ticket",
            axum::routing::get(move || {
                let (key, audience) = (backend_key.clone(), audience.clone());
                async move {
                    let body = json!({"cameras": ["cam-1"], "audience": audience, "ttl": 2});
                    let answer = sightline_testkit::http_request(
                        "POST",
                        &format!("http://{addr}/api/tickets"),
                        &[
                            ("content-type", "application/json"),
                            ("authorization", &format!("Bearer {key}")),
                        ],
                        &body.to_string(),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                    answer.json()["ticket"]
                        .as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("no ticket: {answer:?}"))
                }
            }),
        );
    let site = tokio::spawn(async move {
        let _ = axum::serve(site_listener, shop).await;
    });
    let browser = Browser::launch(&[]).await.expect("browser");
    let mut relay = Some(relay);
    let result = async {
        browser.goto(&format!("{site_origin}/embed.html")).await?;
        let live = browser
            .run(WAIT_LIVE, vec![json!("cam-player"), json!(20_000)])
            .await?;
        anyhow::ensure!(live["live"] == json!(true), "{live}");
        // Let the ticket expire (a time, not an event), then take the relay
        // away and bring it back: the player must get a fresh ticket.
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        if let Some(relay) = relay.take() {
            relay.shutdown().await?;
        }
        let mut again = config.clone();
        again.listen = addr;
        relay = Some(Relay::start(again).await?);
        let back = browser.run(KIOSK_BACK, vec![json!(20_000)]).await?;
        anyhow::ensure!(back["back"] == json!(true), "did not play again: {back}");
        anyhow::ensure!(
            back["sameDocument"] == json!(42),
            "the page reloaded: {back}"
        );
        let tickets = browser.run("arguments[0](window.tickets);", vec![]).await?;
        anyhow::ensure!(
            tickets.as_u64() >= Some(2),
            "getTicket called {tickets} times"
        );
        Ok(())
    }
    .await;
    let _ = browser.close().await;
    site.abort();
    if let Some(relay) = relay {
        relay.shutdown().await.expect("clean shutdown");
    }
    result.expect("the embed plays across a ticket expiry");
}

/// The admin page's main flows in Chromium: add a user (password shown once),
/// create a kiosk device, open its link on "the kiosk" (this browser), which
/// plays its camera; revoking the device blanks the kiosk within seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_page_adds_users_keys_and_kiosk_devices_revokes_and_rotates_and_revoking_blanks_the_kiosk(
) {
    let _serial = SERIAL.lock().await;
    let cameras = small_demo_cameras(2);
    let (config, data) =
        sightline_testkit::secured(relay_config(demo_sources(&cameras)).unwrap()).unwrap();
    let relay = Relay::start(config).await.expect("relay starts");
    let link = relay.first_run_link().unwrap().to_owned();
    let store = sightline_store::Store::open(&data.path().join("sightline.db")).unwrap();
    let browser = Browser::launch(&[]).await.expect("browser");
    let result = async {
        let base = format!("http://{}", relay.local_addr());
        browser.goto(&link).await?;
        browser.wait_app().await?;
        // A share link someone made, for the admin to revoke.
        let admin = store.user_by_name("admin")?.context("admin")?;
        let now = sightline_store::unix_now();
        let (share, _) = store.create_share("cam-1", admin.id, now, now + 3600)?;
        let signing_keys = store.signing_keys()?.len();
        browser.goto(&format!("{base}/admin")).await?;
        browser.wait_page("app", "admin-ready").await?;
        let client = browser.client();
        let css = |s: &'static str| Locator::Css(s);
        // Confirmations are answered yes, and remembered to check what they said.
        browser
            .run(
                "window.confirm = (m) => { window.confirmed = m; return true; }; arguments[0]();",
                vec![],
            )
            .await?;
        let confirmed = || async {
            let said = browser
                .run("arguments[0](window.confirmed);", vec![])
                .await?;
            anyhow::Ok(said.as_str().unwrap_or_default().to_owned())
        };
        client
            .find(css("#new-user-name"))
            .await?
            .send_keys("carol")
            .await?;
        client
            .find(css("#new-user-cameras"))
            .await?
            .send_keys("cam-2")
            .await?;
        client
            .find(css("#add-user button[type=submit]"))
            .await?
            .click()
            .await?;
        let secret = eventually_text(&browser, "#secret-value").await?;
        anyhow::ensure!(secret.len() >= 16, "a generated password: {secret:?}");
        let carol = store.verify_login("carol", &secret)?;
        anyhow::ensure!(carol.is_some(), "the shown password is carol's");
        client.find(css("#secret-done")).await?.click().await?;

        client
            .find(css("#new-device-name"))
            .await?
            .send_keys("lobby")
            .await?;
        client
            .find(css("#new-device-cameras"))
            .await?
            .send_keys("cam-1")
            .await?;
        client
            .find(css("#add-device button[type=submit]"))
            .await?
            .click()
            .await?;
        let kiosk = eventually_text(&browser, "#secret-value").await?;
        anyhow::ensure!(kiosk.contains("/kiosk#device=sld_"), "{kiosk:?}");
        client.find(css("#secret-done")).await?.click().await?;

        // An API key for a shop's backend: viewing cam-2 only.
        client
            .find(css("#new-key-name"))
            .await?
            .send_keys("shop")
            .await?;
        client
            .find(css("#new-key-role option[value=viewer]"))
            .await?
            .click()
            .await?;
        client
            .find(css("#new-key-cameras"))
            .await?
            .send_keys("cam-2")
            .await?;
        client
            .find(css("#add-key button[type=submit]"))
            .await?
            .click()
            .await?;
        let token = eventually_text(&browser, "#secret-value").await?;
        let key = store
            .api_key_by_token(&token, sightline_store::unix_now())?
            .context("the shown token is the key's")?;
        anyhow::ensure!(
            key.role == sightline_store::Role::Viewer && key.cameras.to_string() == "cam-2",
            "{key:?}"
        );
        client.find(css("#secret-done")).await?.click().await?;
        let revoke_key = format!("#keys tr[data-key='{}'] button[data-action=revoke]", key.id);
        client
            .find(Locator::Css(&revoke_key))
            .await?
            .click()
            .await?;
        eventually_text(&browser, "#keys tr.revoked").await?;
        anyhow::ensure!(confirmed().await?.contains("\"shop\""));
        anyhow::ensure!(store
            .api_key_by_token(&token, sightline_store::unix_now())?
            .is_none());

        // The share link, revoked by the admin.
        let revoke_share = format!(
            "#shares tr[data-share='{}'] button[data-action=revoke]",
            share.id
        );
        client
            .find(Locator::Css(&revoke_share))
            .await?
            .click()
            .await?;
        eventually_text(&browser, "#shares tr.revoked").await?;
        anyhow::ensure!(confirmed().await?.contains("cam-1"));
        let revoked = store.shares(None)?.into_iter().find(|s| s.id == share.id);
        anyhow::ensure!(
            revoked.is_some_and(|s| s.revoked_at.is_some()),
            "the share is revoked"
        );

        // A new signing key.
        client
            .find(css("#rotate-signing-key"))
            .await?
            .click()
            .await?;
        let said = eventually_text(&browser, "#signing-keys-status").await?;
        anyhow::ensure!(said.contains("new signing key"), "{said}");
        anyhow::ensure!(store.signing_keys()?.len() == signing_keys + 1);
        browser
            .run("window.scrollTo(0, 0); arguments[0]();", vec![])
            .await?;
        browser.save_screenshot("admin.png").await?;

        // The kiosk: signed out of the admin session first, so only the
        // device's token can make it play.
        client.delete_all_cookies().await?;
        browser.goto(&kiosk).await?;
        browser.wait_app().await?;
        let all = browser.run(ALL_LIVE, vec![json!(30_000)]).await?;
        let players = all_painting(&all, 1)?;
        anyhow::ensure!(players[0]["camera"] == json!("cam-1"), "{all}");
        let device = store
            .devices()?
            .into_iter()
            .find(|d| d.name == "lobby")
            .context("the device is stored")?;
        store.revoke_device(device.id, sightline_store::unix_now())?;
        browser.wait_page("app", "revoked").await?;
        Ok(())
    }
    .await;
    let _ = browser.close().await;
    relay.shutdown().await.expect("clean shutdown");
    result.expect("admin flows");
}

/// The text of `selector` once it is not empty (10 s at most).
async fn eventually_text(browser: &Browser, selector: &str) -> anyhow::Result<String> {
    let script = format!(
        "const done = arguments[0]; const t0 = Date.now(); \
         (function poll() {{ const el = document.querySelector({selector:?}); \
         const text = el ? (el.value || el.textContent || '').trim() : ''; \
         if (text) return done(text); if (Date.now() - t0 > 10000) return done(null); \
         requestAnimationFrame(poll); }})();"
    );
    let text = browser.run(&script, vec![]).await?;
    text.as_str()
        .map(str::to_owned)
        .with_context(|| format!("{selector} stayed empty"))
}

#[tokio::test]
async fn pages_get_the_apps_icon_instead_of_a_404() {
    let relay = sightline_testkit::start_relay_with(vec![])
        .await
        .expect("relay");
    let answer = sightline_testkit::http_request(
        "GET",
        &format!("http://{}/favicon.ico", relay.local_addr()),
        &[],
        "",
    )
    .await
    .expect("an answer");
    let kind = answer
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    relay.shutdown().await.expect("clean shutdown");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(kind.contains("icon"), "{kind}");
    assert!(answer.bytes.starts_with(&[0, 0, 1, 0]), "an ICO file");
}

/// JS: waits until every tile's state is the one in `want` (camera → state)
/// and the summary reads `text`; resolves with what was seen. Args: want, text, ms.
const TILE_STATES: &str = r#"
const [want, text, ms, done] = arguments;
const t0 = performance.now();
(function look() {
  const states = Object.fromEntries([...document.querySelectorAll("cam-player")].map((p) => [p.camera, p.state]));
  const summary = document.getElementById("summary").textContent;
  const ok = Object.entries(want).every(([c, s]) => states[c] === s) && summary === text;
  if (ok || performance.now() - t0 > ms) return done({ ok, states, summary });
  requestAnimationFrame(look);
})();
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_tiles_show_their_cameras_real_state_and_the_summary_counts_cameras() {
    let _serial = SERIAL.lock().await;
    let demo = small_demo_cameras(2);
    let mut cameras = demo_sources(&demo);
    // A camera nobody can reach: offline within its first attempt.
    let dead = Source::Rtsp(sightline_relay::RtspSource {
        url: "rtsp://127.0.0.1:9/nothing".parse().expect("url"),
        username: None,
        password: None,
        transport: sightline_relay::Transport::Tcp,
    });
    cameras.push(("dead", dead));
    with_app(cameras, async |relay, browser| {
        // Focused on the first camera: the second is paused out of view (it
        // never received anything), the dead one is offline.
        let first = &demo[0].0;
        let second = &demo[1].0;
        browser
            .open(&format!("http://{}/?camera={first}", relay.local_addr()))
            .await?;
        let want = json!({ first: "live", second: "paused", "dead": "offline" });
        let seen = browser
            .run(
                TILE_STATES,
                vec![
                    want,
                    json!("3 cameras · 2 online · 1 offline"),
                    json!(20_000),
                ],
            )
            .await?;
        println!("focused: {seen}");
        anyhow::ensure!(seen["ok"] == json!(true), "focused: {seen}");
        // Back to the grid: the paused tile plays; nothing else changes.
        browser
            .client()
            .find(Locator::Id("back"))
            .await?
            .click()
            .await?;
        let want = json!({ first: "live", second: "live", "dead": "offline" });
        let seen = browser
            .run(
                TILE_STATES,
                vec![
                    want,
                    json!("3 cameras · 2 online · 1 offline"),
                    json!(20_000),
                ],
            )
            .await?;
        println!("grid: {seen}");
        anyhow::ensure!(seen["ok"] == json!(true), "grid: {seen}");
        Ok(())
    })
    .await
    .expect("paused tiles tell the truth");
}

/// JS: the app's grid of two cameras with substreams: both tiles play the
/// substream; a click focuses the first, which switches to the main stream;
/// Back returns it to the grid and the substream. For each step: the tile's
/// stats and width, blanks seen and states other than `live`.
const GRID_FOCUS_BACK: &str = r#"
const [done] = arguments;
(async () => {
  const tiles = [...document.querySelectorAll("cam-player")];
  const onSub = (t) => { const s = t.getStats(); return t.state === "live" && s.stream === "sub" && !s.switching && s.framesPainted >= 10; };
  await until(() => tiles.length === 2 && tiles.every(onSub), 30000);
  const el = tiles[0];
  const out = { grid: tiles.map((t) => ({ stream: t.getStats().stream, width: t.getBoundingClientRect().width })) };
  const step = async (name, act, stream) => {
    const w = watch(el);
    act();
    await until(settled(el, stream, 10), 20000);
    w.on = false;
    out[name] = { stats: el.getStats(), blank: w.blank, states: w.states, width: el.getBoundingClientRect().width };
  };
  await step("focused", () => el.click(), "main");
  await step("back", () => document.getElementById("back").click(), "sub");
  done(out);
})().catch((e) => done({ error: String(e), stats: [...document.querySelectorAll("cam-player")].map((t) => t.getStats()) }));
"#;

/// The app's grid → focus → grid with cameras that have a substream (demo
/// cameras at 1280x720 encode a 640x360 one): tiles play the substream, the
/// focused camera its main stream, and each switch happens without a blank
/// picture and without leaving `live` (the old stream paints until the new
/// one's first live picture).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn focusing_a_tile_switches_it_from_substream_to_main_stream_without_a_blank() {
    let _serial = SERIAL.lock().await;
    let options = DemoOptions {
        fps: 15,
        keyframe_every: 30,
        bitrate_bps: 1_500_000,
        substream: true,
        ..DemoOptions::default()
    };
    let cameras: Vec<(String, DemoOptions)> = ["cam-1", "cam-2"]
        .iter()
        .map(|id| (id.to_string(), options.clone()))
        .collect();
    with_app(demo_sources(&cameras), async |relay, browser| {
        // Tiles under the substream's width (two side by side, 590 px), so
        // that Back brings the substream back (the rule's hysteresis keeps
        // the main stream down to 1x the substream's width).
        browser.client().set_window_size(1200, 700).await?;
        browser
            .open(&format!("http://{}/", relay.local_addr()))
            .await?;
        browser.wait_app().await?;
        let script = format!("{SWITCH_HELPERS}{GRID_FOCUS_BACK}");
        let seen = browser.run(&script, vec![]).await?;
        println!("grid → focus → grid: {seen}");
        anyhow::ensure!(seen["error"].is_null(), "{seen}");
        for tile in seen["grid"].as_array().into_iter().flatten() {
            anyhow::ensure!(
                tile["stream"] == json!("sub"),
                "a grid tile on its main stream: {seen}"
            );
            anyhow::ensure!(
                tile["width"].as_f64().is_some_and(|w| w < 640.0),
                "tiles too wide for the test: {seen}"
            );
        }
        for (step, stream, width) in [("focused", "main", 1280), ("back", "sub", 640)] {
            let s = &seen[step];
            anyhow::ensure!(s["blank"] == json!(0), "{step}: a blank picture: {seen}");
            anyhow::ensure!(s["states"] == json!([]), "{step}: left `live`: {seen}");
            anyhow::ensure!(s["stats"]["stream"] == json!(stream), "{step}: {seen}");
            anyhow::ensure!(s["stats"]["width"] == json!(width), "{step}: {seen}");
        }
        anyhow::ensure!(
            seen["focused"]["stats"]["streamSwitches"] == json!(1),
            "{seen}"
        );
        anyhow::ensure!(
            seen["back"]["stats"]["streamSwitches"] == json!(2),
            "{seen}"
        );
        Ok(())
    })
    .await
    .expect("grid → focus → grid");
}
