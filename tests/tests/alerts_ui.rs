//! Alerts as an operator meets them, in real headless Chromium against the
//! real relay: the demo's intruder lights its tile and appears in the panel
//! with a snapshot that loads, the outline goes when it ends, its clip plays
//! in a plain `<video>`; a webhook's alert appears (its label shown as text,
//! never as HTML), is acknowledged from the panel, and a click on it shows
//! the camera; snooze silences one camera and not another; a viewer never
//! sees the alerts of a camera they may not watch; the kiosk brings an
//! alerting camera full screen and goes back.
//!
//! `tests/alerts.rs` checks the same alerts at the protocol and API level.

use std::time::Duration;

use anyhow::Context as _;
use fantoccini::Locator;
use serde_json::{json, Value};
use sightline_relay::config::demo_motion;
use sightline_relay::{CameraConfig, DemoOptions, Relay, RelayConfig, Source};
use sightline_testkit::{http_request, relay_config, with_browser, Answer, Browser, ALL_LIVE};
use tokio::sync::Mutex;

/// One at a time: each runs encoders and a browser on a 2-core machine.
static SERIAL: Mutex<()> = Mutex::const_new(());

/// How long a page may take to show what the relay did (generous: a shared
/// 2-core machine; under the browser's 60 s script timeout).
const WITHIN_MS: u64 = 40_000;
const PASSWORD: &str = "correct horse battery";

fn small() -> DemoOptions {
    DemoOptions {
        width: 320,
        height: 180,
        fps: 15,
        keyframe_every: 15,
        bitrate_bps: 300_000,
        ..DemoOptions::default()
    }
}

fn demo(id: &str) -> CameraConfig {
    CameraConfig::new(id, format!("Camera {id}"), Source::Demo(small()))
}

/// A demo camera whose intruder comes only when asked, watched by motion
/// detection (the doorway zone, the rest masked).
fn intruder_camera(id: &str) -> CameraConfig {
    let mut camera = CameraConfig::new(
        id,
        format!("Camera {id}"),
        Source::Demo(DemoOptions {
            intruder_every: Some(Duration::from_secs(3600)),
            ..small()
        }),
    );
    let mut motion = demo_motion();
    motion.detector.cooldown_secs = 1.0;
    camera.motion = Some(motion);
    camera
}

/// The relay serving the app, with `cameras` and a data directory (alert
/// history, snapshots, clips), accounts off unless `adjust` turns them on.
async fn start(
    cameras: Vec<CameraConfig>,
    adjust: impl FnOnce(&mut RelayConfig),
) -> anyhow::Result<(Relay, tempfile::TempDir)> {
    let data = tempfile::Builder::new()
        .prefix("sightline-alerts-ui-")
        .tempdir()?;
    let mut config = relay_config(vec![])?;
    config.cameras = cameras;
    config.data = Some(data.path().to_owned());
    adjust(&mut config);
    Ok((Relay::start(config).await?, data))
}

fn base(relay: &Relay) -> String {
    format!("http://{}", relay.local_addr())
}

/// A webhook alert, as a doorbell would raise it (`headers`: a key when
/// accounts are on).
async fn raise(
    relay: &Relay,
    camera: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> anyhow::Result<Answer> {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    let answer = http_request(
        "POST",
        &format!("{}/api/cameras/{camera}/alerts", base(relay)),
        &all,
        &body.to_string(),
    )
    .await?;
    anyhow::ensure!(answer.status == 202, "webhook refused: {answer:?}");
    Ok(answer)
}

/// Polls the page every 50 ms until `check` (the body of a JS function)
/// returns something truthy, and returns that; fails with `what` and what
/// `explain` (another function body) says about the page after [`WITHIN_MS`].
async fn wait_for(
    browser: &Browser,
    what: &str,
    check: &str,
    explain: &str,
) -> anyhow::Result<Value> {
    let script = format!(
        r##"
const done = arguments[0];
const t0 = performance.now();
const check = () => {{ {check} }};
const explain = () => {{ {explain} }};
(function poll() {{
  let seen = null;
  try {{ seen = check(); }} catch (e) {{ seen = null; }}
  if (seen) return done({{ ok: seen }});
  if (performance.now() - t0 > {WITHIN_MS}) {{
    let why = null;
    try {{ why = explain(); }} catch (e) {{ why = String(e); }}
    return done({{ timeout: why }});
  }}
  setTimeout(poll, 50);
}})();
"##
    );
    let seen = browser.run(&script, vec![]).await?;
    match seen.get("ok") {
        Some(value) => Ok(value.clone()),
        None => anyhow::bail!("{what}: not within {WITHIN_MS} ms: {}", seen["timeout"]),
    }
}

/// Runs `body` (a JS function body) in the page and returns its value.
async fn page(browser: &Browser, body: &str) -> anyhow::Result<Value> {
    let script = format!("const done = arguments[0]; done((() => {{ {body} }})());");
    browser.run(&script, vec![]).await
}

/// JS: what the panel and the tiles show, for failure messages.
const EXPLAIN: &str = r##"
const tiles = [...document.querySelectorAll("#grid cam-player")].map((p) => ({
  camera: p.camera, state: p.state, alerts: p.alerts, alerting: p.getAttribute("alerting"),
  label: p.shadowRoot?.querySelector(".alert-label")?.textContent, active: p.activeAlerts,
}));
const items = [...document.querySelectorAll("#alerts-list li")].map((li) => ({
  id: li.dataset.alertId, camera: li.dataset.camera, active: li.dataset.active, hidden: li.hidden,
  text: li.textContent, thumb: li.querySelector("img")?.naturalWidth ?? null,
}));
const panel = document.getElementById("alerts-panel");
return { tiles, items, rings: panel?.dataset.rings ?? null, error: document.getElementById("alerts-error")?.textContent };
"##;

/// JS: the panel's (first) item matching this `data-*` selector part, e.g.
/// `[data-camera="door"]`.
fn item(selector: &str) -> String {
    format!(r##"document.querySelector('#alerts-list li{selector}')"##)
}

/// JS: the tile's player of `camera`.
fn tile(camera: &str) -> String {
    format!(r##"document.querySelector('#grid figure[data-camera="{camera}"] cam-player')"##)
}

async fn click(browser: &Browser, selector: &str) -> anyhow::Result<()> {
    browser
        .client()
        .find(Locator::Css(selector))
        .await
        .with_context(|| format!("no {selector}"))?
        .click()
        .await
        .with_context(|| format!("clicking {selector}"))?;
    Ok(())
}

/// Waits until every tile the page shows is live: the socket is welcomed
/// (alerts raised from now on arrive as `start`), and motion detection has
/// seen the still scene.
async fn all_live(browser: &Browser, expect: usize) -> anyhow::Result<()> {
    let all = browser.run(ALL_LIVE, vec![json!(30_000)]).await?;
    let players = all.as_array().context("players")?;
    anyhow::ensure!(players.len() == expect, "{all}");
    anyhow::ensure!(
        players.iter().all(|p| p["live"] == json!(true)),
        "not all live: {all}"
    );
    Ok(())
}

/// (a) and (b): the intruder walks into the doorway; the tile is outlined
/// with "Motion: doorway", the panel lists the alert as active with its
/// snapshot (the image loaded), the other camera stays dark; when it ends
/// the outline goes; its clip plays in a `<video>` at the stream's size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_intruder_outlines_the_tile_and_lists_the_alert_with_its_snapshot_and_a_clip_that_plays(
) {
    let _serial = SERIAL.lock().await;
    let (relay, _data) = start(vec![intruder_camera("door"), demo("yard")], |c| {
        c.alerts.post_roll = 1;
    })
    .await
    .expect("relay starts");
    with_browser(relay, async |relay, browser| {
        browser.open(&format!("{}/?alerts", base(relay))).await?;
        all_live(browser, 2).await?;
        // Something earlier in the list: a doorbell on yard, over at once.
        raise(relay, "yard", &[], json!({"kind": "doorbell", "label": "Doorbell", "message": "Front gate"}))
            .await?;
        raise(relay, "yard", &[], json!({"kind": "doorbell", "end": true})).await?;
        wait_for(
            browser,
            "yard's doorbell, over",
            &format!(
                r##"const li = {li}; const img = li?.querySelector("img.alert-thumb");
                return li?.dataset.active === "false" && img?.complete && img.naturalWidth > 0
                  && !{yard}.hasAttribute("alerting");"##,
                li = item(r##"[data-camera="yard"]"##),
                yard = tile("yard"),
            ),
            EXPLAIN,
        )
        .await?;
        anyhow::ensure!(relay.intrude("door"), "door is a demo camera");

        let door = tile("door");
        let li = item(r##"[data-camera="door"]"##);
        let lit = wait_for(
            browser,
            "the alert in the panel with its snapshot, the tile outlined",
            &format!(
                r##"const li = {li}; const img = li?.querySelector("img.alert-thumb");
                const p = {door};
                if (!li || li.dataset.active !== "true" || !img?.complete || !(img.naturalWidth > 0)) return null;
                if (p.getAttribute("alerting") !== "warning" || p.shadowRoot.querySelector(".alert").hidden) return null;
                return {{ id: Number(li.dataset.alertId), text: li.textContent, thumb: [img.naturalWidth, img.naturalHeight],
                  label: p.shadowRoot.querySelector(".alert-label").textContent,
                  active: p.activeAlerts.map((a) => a.label),
                  yard: {yard}.getAttribute("alerting"), rings: document.getElementById("alerts-panel").dataset.rings }};"##,
                yard = tile("yard"),
            ),
            EXPLAIN,
        )
        .await?;
        println!("lit: {lit}");
        anyhow::ensure!(lit["label"] == json!("Motion: doorway"), "{lit}");
        anyhow::ensure!(lit["active"] == json!(["Motion: doorway"]), "{lit}");
        let text = lit["text"].as_str().unwrap_or_default();
        for part in ["Motion: doorway", "Camera door", "Active", "Zones: doorway"] {
            anyhow::ensure!(text.contains(part), "{part:?} not in the item: {lit}");
        }
        anyhow::ensure!(lit["thumb"][0] == json!(320), "the snapshot is the picture: {lit}");
        anyhow::ensure!(lit["yard"].is_null(), "the other tile is not outlined: {lit}");
        anyhow::ensure!(lit["rings"] == json!("2"), "the doorbell and the intruder rang: {lit}");
        let id = lit["id"].as_i64().context("an id")?;
        browser.save_screenshot("alerts.png").await?;

        // It ends (cooldown 1 s after the walk): the outline goes, the item says how long.
        let ended = wait_for(
            browser,
            "the outline gone when the alert ends",
            &format!(
                r##"const li = {li}; const p = {door};
                if (li.dataset.active !== "false" || p.hasAttribute("alerting")) return null;
                if (!p.shadowRoot.querySelector(".alert").hidden || p.activeAlerts.length) return null;
                return {{ text: li.textContent }};"##
            ),
            EXPLAIN,
        )
        .await?;
        anyhow::ensure!(
            ended["text"].as_str().unwrap_or_default().contains("Lasted"),
            "{ended}"
        );

        // The clip, once written: it plays in a plain <video>.
        let play = format!(r##"#alerts-list li[data-alert-id="{id}"] button.alert-play"##);
        wait_for(
            browser,
            "the clip's Play button",
            &format!("return document.querySelector({play:?});"),
            EXPLAIN,
        )
        .await?;
        click(browser, &play).await?;
        let played = wait_for(
            browser,
            "the clip playing",
            &format!(
                r##"const v = document.querySelector('#alerts-list li[data-alert-id="{id}"] video');
                if (!v || v.readyState < 2) return null;
                window.clipStart ??= v.currentTime;
                if (!(v.currentTime > window.clipStart + 0.5)) return null;
                return {{ readyState: v.readyState, width: v.videoWidth, height: v.videoHeight,
                  currentTime: v.currentTime, duration: v.duration, error: v.error?.message ?? null }};"##
            ),
            r##"const v = document.querySelector("#alerts-list video");
            return v && { readyState: v.readyState, currentTime: v.currentTime, paused: v.paused,
              error: v.error && v.error.message, networkState: v.networkState, src: v.currentSrc };"##,
        )
        .await?;
        println!("clip: {played}");
        anyhow::ensure!(played["width"] == json!(320), "{played}");
        anyhow::ensure!(played["height"] == json!(180), "{played}");
        anyhow::ensure!(played["duration"].as_f64().unwrap_or(0.0) >= 5.0, "{played}");
        Ok(())
    })
    .await
    .expect("the intruder's alert in the browser");
}

/// (c): a webhook's alert appears in the panel and outlines its tile; its
/// label and message, HTML from outside, are shown as text; "Acknowledge"
/// shows who acknowledged it, and the relay has it; a click on the item
/// shows that camera live, focused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_alert_appears_is_acknowledged_from_the_panel_and_opens_its_camera() {
    let _serial = SERIAL.lock().await;
    let (relay, _data) = start(vec![demo("gate"), demo("yard")], |c| {
        c.alerts.webhook_hold = 120;
    })
    .await
    .expect("relay starts");
    with_browser(relay, async |relay, browser| {
        browser.open(&format!("{}/?alerts", base(relay))).await?;
        all_live(browser, 2).await?;
        raise(
            relay,
            "gate",
            &[],
            json!({"kind": "doorbell", "severity": "critical",
                   "label": "<img src=x onerror=\"window.pwned=1\">Doorbell",
                   "message": "<b>ring</b> at the gate"}),
        )
        .await?;
        let gate = tile("gate");
        let li = item(r##"[data-camera="gate"]"##);
        let shown = wait_for(
            browser,
            "the webhook's alert in the panel and on the tile",
            &format!(
                r##"const li = {li}; const p = {gate};
                if (!li || li.dataset.severity !== "critical" || p.getAttribute("alerting") !== "critical") return null;
                return {{ id: Number(li.dataset.alertId), label: li.querySelector(".alert-label").textContent,
                  message: li.querySelector(".alert-message").textContent,
                  tile: p.shadowRoot.querySelector(".alert-label").textContent,
                  imgs: li.querySelectorAll(".alert-text img, .alert-text b").length
                    + p.shadowRoot.querySelectorAll(".alert img").length,
                  pwned: window.pwned ?? null }};"##
            ),
            EXPLAIN,
        )
        .await?;
        println!("webhook: {shown}");
        let label = r##"<img src=x onerror="window.pwned=1">Doorbell"##;
        anyhow::ensure!(shown["label"] == json!(label), "{shown}");
        anyhow::ensure!(shown["tile"] == json!(label), "{shown}");
        anyhow::ensure!(shown["message"] == json!("<b>ring</b> at the gate"), "{shown}");
        anyhow::ensure!(shown["imgs"] == json!(0), "HTML from a webhook became elements: {shown}");
        anyhow::ensure!(shown["pwned"].is_null(), "script ran: {shown}");
        let id = shown["id"].as_i64().context("an id")?;

        click(browser, r##"#alerts-list li[data-camera="gate"] button.alert-ack"##).await?;
        let acked = wait_for(
            browser,
            "who acknowledged it",
            &format!(
                r##"const a = {li}.querySelector(".alert-acked");
                return a && !{li}.querySelector(".alert-ack") && a.textContent;"##
            ),
            EXPLAIN,
        )
        .await?;
        // Without accounts the relay names the caller "anyone".
        anyhow::ensure!(
            acked.as_str().unwrap_or_default().starts_with("Acknowledged by anyone"),
            "{acked}"
        );
        let stored = http_request("GET", &format!("{}/api/alerts/{id}", base(relay)), &[], "")
            .await?
            .json();
        anyhow::ensure!(stored["acked_by"] == json!("anyone"), "{stored}");

        // A click on the item: that camera, live and focused.
        click(browser, r##"#alerts-list li[data-camera="gate"] button.alert-open"##).await?;
        let focused = wait_for(
            browser,
            "the camera focused",
            r##"const grid = document.getElementById("grid");
            const shown = [...grid.children].filter((t) => !t.hidden).map((t) => t.dataset.camera);
            const p = grid.querySelector('figure[data-camera="gate"] cam-player');
            return grid.dataset.focus === "gate" && p.state === "live" && p.getStats().receiving
              && { shown, search: location.search };"##,
            EXPLAIN,
        )
        .await?;
        anyhow::ensure!(focused["shown"] == json!(["gate"]), "{focused}");
        anyhow::ensure!(
            focused["search"].as_str().unwrap_or_default().contains("camera=gate"),
            "{focused}"
        );
        Ok(())
    })
    .await
    .expect("a webhook alert in the panel");
}

/// (d): a camera snoozed from the panel lists its alerts but neither
/// outlines its tile nor rings (count, beep, notification while the tab is
/// hidden), while another camera's alert still does; the snooze outlives a reload (localStorage), and Resume
/// brings the outline back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snooze_silences_one_camera_and_not_the_others() {
    let _serial = SERIAL.lock().await;
    let (relay, _data) = start(vec![demo("gate"), demo("yard")], |c| {
        c.alerts.webhook_hold = 120;
    })
    .await
    .expect("relay starts");
    with_browser(relay, async |relay, browser| {
        browser.open(&format!("{}/?alerts", base(relay))).await?;
        all_live(browser, 2).await?;
        // Sound on (a click: a user's gesture may start audio); it beeps once to say so.
        click(browser, "#alerts-sound").await?;
        raise(relay, "yard", &[], json!({"kind": "first"})).await?;
        let yard = tile("yard");
        let gate = tile("gate");
        let first = wait_for(
            browser,
            "yard's first alert, ringing",
            &format!(
                r##"const li = {li}; const panel = document.getElementById("alerts-panel");
                return li && {yard}.getAttribute("alerting") === "warning" && panel.dataset.rings === "1"
                  && {{ beeps: panel.dataset.beeps ?? null }};"##,
                li = item(r##"[data-kind="webhook:first"]"##)
            ),
            EXPLAIN,
        )
        .await?;
        anyhow::ensure!(first["beeps"] == json!("2"), "the test beep and the alert's: {first}");

        let menu = browser
            .client()
            .find(Locator::Css(
                r##"#alerts-list li[data-kind="webhook:first"] select.alert-snooze"##,
            ))
            .await?;
        menu.select_by_value("hour").await?;
        wait_for(
            browser,
            "yard snoozed: no outline",
            &format!(
                r##"const p = {yard};
                return !p.alerts && !p.hasAttribute("alerting") && p.shadowRoot.querySelector(".alert").hidden
                  && document.querySelector('#alerts-snoozed li[data-camera="yard"]')
                  && JSON.parse(localStorage.getItem("sightline.alerts.snooze")).yard > Date.now() + 3500e3;"##
            ),
            EXPLAIN,
        )
        .await?;

        // From now on the tab is "hidden" and notifications allowed: a
        // stand-in for the browser's Notification records what would show.
        page(
            browser,
            r##"window.notes = [];
            window.Notification = class {
              static permission = "granted";
              constructor(title, options) { window.notes.push({ title, body: options?.body ?? "" }); }
              addEventListener() {}
              close() {}
            };
            Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
            return true;"##,
        )
        .await?;
        // A second yard alert, then one on gate: by the time gate's is shown,
        // yard's (sent before it on the same socket) has been handled.
        raise(relay, "yard", &[], json!({"kind": "second"})).await?;
        raise(relay, "gate", &[], json!({"kind": "other"})).await?;
        let after = wait_for(
            browser,
            "gate's alert ringing and outlined",
            &format!(
                r##"const li = {li}; const panel = document.getElementById("alerts-panel");
                return li && {gate}.getAttribute("alerting") === "warning" && {{
                  rings: panel.dataset.rings, beeps: panel.dataset.beeps,
                  second: Boolean({second}), yard: {yard}.getAttribute("alerting"), notes: window.notes,
                  yardActive: {yard}.activeAlerts.length }};"##,
                li = item(r##"[data-kind="webhook:other"]"##),
                second = item(r##"[data-kind="webhook:second"]"##),
            ),
            EXPLAIN,
        )
        .await?;
        println!("after snooze: {after}");
        anyhow::ensure!(after["second"] == json!(true), "still listed: {after}");
        anyhow::ensure!(after["yard"].is_null(), "a snoozed tile is not outlined: {after}");
        anyhow::ensure!(after["yardActive"] == json!(2), "it knows of both: {after}");
        anyhow::ensure!(after["rings"] == json!("2"), "only gate's rang: {after}");
        anyhow::ensure!(after["beeps"] == json!("3"), "only gate's beeped: {after}");
        anyhow::ensure!(
            after["notes"] == json!([{"title": "Camera gate: other", "body": ""}]),
            "only gate's was notified: {after}"
        );

        // Kept across a reload.
        browser.open(&format!("{}/?alerts", base(relay))).await?;
        let kept = page(
            browser,
            &format!(
                "return {{ yard: {yard}.alerts, gate: {gate}.alerts, \
                 snoozed: Boolean(document.querySelector('#alerts-snoozed li[data-camera=\"yard\"]')) }};"
            ),
        )
        .await?;
        anyhow::ensure!(
            kept == json!({"yard": false, "gate": true, "snoozed": true}),
            "{kept}"
        );
        click(browser, r##"#alerts-snoozed li[data-camera="yard"] button"##).await?;
        wait_for(
            browser,
            "yard outlined again after Resume",
            &format!(r##"return {yard}.alerts && {yard}.getAttribute("alerting") === "warning";"##),
            EXPLAIN,
        )
        .await?;
        Ok(())
    })
    .await
    .expect("snooze");
}

/// (e): with accounts on, a viewer granted camera `a` only: an alert on `b`
/// raised first, then one on `a`; once `a`'s is shown, `b`'s never was —
/// neither live nor in the history loaded after both existed — and the
/// viewer's acknowledgement names them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_never_sees_the_alerts_of_a_camera_they_may_not_watch() {
    let _serial = SERIAL.lock().await;
    let (relay, data) = start(vec![demo("a"), demo("b")], |c| {
        c.auth = sightline_relay::AuthConfig::default();
        c.alerts.webhook_hold = 120;
    })
    .await
    .expect("relay starts");
    let store = sightline_store::Store::open(&data.path().join("sightline.db")).unwrap();
    let grant = |c: &str| sightline_store::CameraGrant::parse(c).unwrap();
    store
        .add_user("va", sightline_store::Role::Viewer, &grant("a"), PASSWORD)
        .unwrap();
    let boss = store
        .add_user(
            "boss",
            sightline_store::Role::Admin,
            &sightline_store::CameraGrant::All,
            PASSWORD,
        )
        .unwrap();
    let (_, key) = store
        .create_api_key(
            "doorbells",
            sightline_store::Role::Operator,
            &sightline_store::CameraGrant::All,
            boss.id,
            sightline_store::unix_now(),
        )
        .unwrap();
    let bearer = format!("Bearer {}", key.expose());
    with_browser(relay, async |relay, browser| {
        browser.goto(&format!("{}/?alerts", base(relay))).await?;
        browser.wait_page("login", "ready").await?;
        let client = browser.client();
        client.find(Locator::Css("#user")).await?.send_keys("va").await?;
        client
            .find(Locator::Css("#password"))
            .await?
            .send_keys(PASSWORD)
            .await?;
        click(browser, "#sign-in").await?;
        browser.wait_app().await?;
        all_live(browser, 1).await?;

        let auth = [("authorization", bearer.as_str())];
        raise(relay, "b", &auth, json!({"kind": "secret", "label": "B only"})).await?;
        raise(relay, "a", &auth, json!({"kind": "ring", "label": "A ring"})).await?;
        let only_a = |what: &'static str| {
            format!(
                r##"const items = [...document.querySelectorAll("#alerts-list li")];
                const panel = document.getElementById("alerts-panel");
                if (!items.some((li) => li.dataset.camera === "a") || panel.dataset.history !== "loaded") return null;
                return {{ what: {what:?}, cameras: items.map((li) => li.dataset.camera),
                  text: items.map((li) => li.textContent).join(" | "),
                  options: [...document.querySelectorAll("#alerts-camera option")].map((o) => o.value),
                  rings: panel.dataset.rings }};"##
            )
        };
        let live = wait_for(browser, "a's alert", &only_a("live"), EXPLAIN).await?;
        println!("viewer, live: {live}");
        anyhow::ensure!(live["cameras"] == json!(["a"]), "{live}");
        anyhow::ensure!(!live["text"].as_str().unwrap_or_default().contains("B only"), "{live}");
        anyhow::ensure!(live["options"] == json!(["", "a"]), "{live}");
        anyhow::ensure!(live["rings"] == json!("1"), "{live}");

        // The history, asked now that both exist.
        browser.open(&format!("{}/?alerts", base(relay))).await?;
        let history = wait_for(browser, "the history", &only_a("history"), EXPLAIN).await?;
        println!("viewer, history: {history}");
        anyhow::ensure!(history["cameras"] == json!(["a"]), "{history}");

        click(browser, r##"#alerts-list li[data-camera="a"] button.alert-ack"##).await?;
        let acked = wait_for(
            browser,
            "acknowledged by the viewer",
            r##"return document.querySelector('#alerts-list li[data-camera="a"] .alert-acked')?.textContent;"##,
            EXPLAIN,
        )
        .await?;
        anyhow::ensure!(
            acked.as_str().unwrap_or_default().starts_with("Acknowledged by va"),
            "{acked}"
        );
        Ok(())
    })
    .await
    .expect("alerts follow the grant");
    drop(data);
}

/// The kiosk with `alerts=focus`: a camera whose alert starts takes the
/// whole screen (even one on a page not shown), then the wall comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kiosk_brings_an_alerting_camera_full_screen_then_back() {
    let _serial = SERIAL.lock().await;
    let (relay, _data) = start(vec![demo("gate"), demo("yard"), demo("hall")], |_| {})
        .await
        .expect("relay starts");
    with_browser(relay, async |relay, browser| {
        browser
            .open(&format!(
                "{}/kiosk?cams=gate,yard,hall&layout=2x1&rotate=3600&alerts=focus&alerts_secs=3",
                base(relay)
            ))
            .await?;
        all_live(browser, 2).await?;
        let shown = r##"return [...document.querySelectorAll("#wall cam-player")].filter((p) => !p.hidden).map((p) => p.camera);"##;
        anyhow::ensure!(page(browser, shown).await? == json!(["gate", "yard"]));
        // hall is on the page not shown.
        raise(relay, "hall", &[], json!({"kind": "door"})).await?;
        let focused = wait_for(
            browser,
            "hall full screen",
            r##"const shown = [...document.querySelectorAll("#wall cam-player")].filter((p) => !p.hidden);
            return document.documentElement.dataset.alertFocus === "hall" && shown.length === 1
              && shown[0].state === "live" && shown[0].getAttribute("alerting") === "warning"
              && getComputedStyle(document.getElementById("wall")).getPropertyValue("--cols").trim();"##,
            r##"return { focus: document.documentElement.dataset.alertFocus ?? null };"##,
        )
        .await?;
        anyhow::ensure!(focused == json!("1"), "one column: {focused}");
        wait_for(
            browser,
            "the wall back after alerts_secs",
            r##"const shown = [...document.querySelectorAll("#wall cam-player")].filter((p) => !p.hidden).map((p) => p.camera);
            return !document.documentElement.dataset.alertFocus && shown.join() === "gate,yard";"##,
            r##"return { focus: document.documentElement.dataset.alertFocus ?? null };"##,
        )
        .await?;
        Ok(())
    })
    .await
    .expect("kiosk alert focus");
}
