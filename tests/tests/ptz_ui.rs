//! PTZ in real headless Chromium against the real relay: the app's focused
//! camera shows the controls; on the demo camera (its picture is a window on
//! a larger scene that the virtual head pans), holding the right arrow key
//! pans the picture right (its pixels shift left), letting go stops it (the
//! pixels stand still), and a saved preset brings the picture back; on a
//! camera behind the ONVIF simulator, a click near the picture's right edge
//! sends a RelativeMove in the field-of-view space toward it.
//!
//! Keys and clicks are WebDriver input actions (real key and pointer events
//! through the browser), not events made up by a script.

use std::time::Duration;

use fantoccini::actions::{InputSource, KeyAction, KeyActions, MouseActions, PointerAction};
use fantoccini::key::Key;
use serde_json::{json, Value};
use sightline_relay::{DemoOptions, Source};
use sightline_testkit::onvif::OnvifSim;
use sightline_testkit::{relay_config, Browser, WAIT_LIVE};

/// JS: resolves once `test(player)` holds (checked at every animation
/// frame), or with null after `ms`. Args: selector, the test's body (on
/// `p`), ms.
const UNTIL: &str = r#"
const [selector, body, ms, done] = arguments;
const p = document.querySelector(selector);
const test = new Function("p", "return (" + body + ");");
const t0 = performance.now();
(function poll() {
  let ok = false;
  try { ok = test(p); } catch (e) {}
  if (ok) return done(true);
  if (performance.now() - t0 > ms) return done(null);
  requestAnimationFrame(poll);
})();
"#;

/// JS: once `frames` more pictures are painted, the luma of the row at
/// `y` (fraction of the height) of the player's canvas. Args: selector,
/// frames, y.
const ROW: &str = r#"
const [selector, frames, y, done] = arguments;
const p = document.querySelector(selector);
const from = p.getStats().framesPainted;
(function wait() {
  if (p.getStats().framesPainted < from + frames) return requestAnimationFrame(wait);
  const c = p.shadowRoot.querySelector("canvas");
  const d = c.getContext("2d").getImageData(0, Math.floor(c.height * y), c.width, 1).data;
  const row = [];
  for (let i = 0; i < d.length; i += 4) row.push(Math.round(0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2]));
  done(row);
})();
"#;

/// The shift `s` (pixels, within a third of the width) for which `b[x]` is
/// most like `a[x + s]`, and the mean difference there and at 0.
fn shift(a: &[i64], b: &[i64]) -> (i64, f64, f64) {
    let w = a.len().min(b.len()) as i64;
    let diff = |s: i64| {
        let (mut sum, mut n) = (0i64, 0i64);
        for x in 0..w {
            let xa = x + s;
            if (0..w).contains(&xa) {
                sum += (a[xa as usize] - b[x as usize]).abs();
                n += 1;
            }
        }
        sum as f64 / n.max(1) as f64
    };
    let best = (-w / 3..=w / 3)
        .map(|s| (s, diff(s)))
        .min_by(|x, y| x.1.total_cmp(&y.1))
        .unwrap_or((0, f64::NAN));
    (best.0, best.1, diff(0))
}

async fn until(browser: &Browser, selector: &str, body: &str, what: &str) -> anyhow::Result<()> {
    let ok = browser
        .run(UNTIL, vec![json!(selector), json!(body), json!(15_000)])
        .await?;
    anyhow::ensure!(ok == json!(true), "{what}: not within 15 s ({body})");
    Ok(())
}

async fn row(browser: &Browser, selector: &str, frames: u32) -> anyhow::Result<Vec<i64>> {
    let row = browser
        .run(ROW, vec![json!(selector), json!(frames), json!(0.45)])
        .await?;
    let row: Vec<i64> = row
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    anyhow::ensure!(row.len() >= 100, "no picture row: {row:?}");
    Ok(row)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ptz_in_the_browser_pans_stops_recalls_presets_and_centres_on_a_click() {
    let sim = OnvifSim::start_ptz().await.expect("simulator");
    let picture = DemoOptions {
        width: 640,
        height: 360,
        fps: 15,
        keyframe_every: 15,
        bitrate_bps: 800_000,
        ..DemoOptions::default()
    };
    let mut config = relay_config(vec![
        ("demo", Source::Demo(picture.clone())),
        ("dome", Source::Demo(picture)),
    ])
    .expect("config");
    config.cameras[0].ptz.enabled = Some(true);
    config.cameras[1].onvif = Some(sightline_testkit::onvif_source(&sim).expect("its address"));
    let relay = sightline_relay::Relay::start(config).await.expect("relay");
    let browser = Browser::launch(&[]).await.expect("browser");
    let result = async {
        // The demo camera, focused: its PTZ controls show (no accounts here:
        // everyone may steer).
        let demo = "cam-player[camera=demo]";
        browser
            .open(&format!("http://{}/?camera=demo", relay.local_addr()))
            .await?;
        let live = browser.run(WAIT_LIVE, vec![json!(demo), json!(20_000)]).await?;
        anyhow::ensure!(live["live"] == json!(true), "{live}");
        until(&browser, demo, "p.hasAttribute('ptz-control') && p.ptzState.presets.length > 0", "controls").await?;
        browser
            .run(
                &format!("document.querySelector({demo:?}).focus(); arguments[0](true);"),
                vec![],
            )
            .await?;

        // Holding → the picture pans right: what was at x + s is now at x.
        let before = row(&browser, demo, 3).await?;
        browser
            .hold_key(Key::Right.into(), Duration::from_millis(1200))
            .await?;
        until(&browser, demo, "!p.ptzState.moving", "the move ends").await?;
        let after = row(&browser, demo, 8).await?;
        let (s, err, _) = shift(&before, &after);
        println!("held → right for 1.2 s: picture shifted by {s} px (mean difference {err:.1})");
        anyhow::ensure!(s >= 20, "the picture did not pan right: shift {s}");

        // Let go → it stands still.
        let a = row(&browser, demo, 2).await?;
        let b = row(&browser, demo, 15).await?;
        let (s, err, at0) = shift(&a, &b);
        println!("after letting go: shift {s} px over 15 frames (difference {at0:.1})");
        anyhow::ensure!(s == 0 && at0 < 3.0, "the picture still moves: shift {s}, {err:.1}");

        // A preset saved here brings the picture back after moving away.
        browser
            .run(&format!("document.querySelector({demo:?}).savePreset('Here'); arguments[0](true);"), vec![])
            .await?;
        until(&browser, demo, "p.ptzState.presets.some((x) => x.name === 'Here')", "saved").await?;
        let saved = row(&browser, demo, 2).await?;
        let at = browser
            .run(&format!("arguments[0](document.querySelector({demo:?}).ptzState.position);"), vec![])
            .await?;
        let (pan, tilt) = (at["pan"].as_f64().unwrap_or(f64::NAN), at["tilt"].as_f64().unwrap_or(f64::NAN));
        anyhow::ensure!(pan > 0.05, "the preset is where the first hold went: {at}");
        browser
            .run(&format!("document.querySelector({demo:?}).ptzMove({{pan: -1, tilt: 0.5}}); arguments[0](true);"), vec![])
            .await?;
        until(&browser, demo, "p.ptzState.moving", "moving away").await?;
        until(
            &browser,
            demo,
            "p.ptzState.position && p.ptzState.position.pan < -0.05",
            "moved away",
        )
        .await?;
        browser
            .run(&format!("document.querySelector({demo:?}).ptzStop(); arguments[0](true);"), vec![])
            .await?;
        until(&browser, demo, "!p.ptzState.moving", "stopped").await?;
        let away = row(&browser, demo, 5).await?;
        anyhow::ensure!(shift(&saved, &away).2 > 3.0, "the picture did not move away");
        // The preset's number key (presets are listed in the camera's order).
        let index = browser
            .run(&format!("arguments[0](document.querySelector({demo:?}).ptzState.presets.findIndex((x) => x.name === 'Here'));"), vec![])
            .await?
            .as_i64()
            .unwrap_or(-1);
        anyhow::ensure!((0..9).contains(&index), "preset index {index}");
        let digit = char::from(b'1' + index as u8);
        browser.hold_key(digit, Duration::from_millis(50)).await?;
        // The head glides there; the position settles where it was saved.
        let settled = format!(
            "p.ptzState.position && Math.abs(p.ptzState.position.pan - {pan}) < 1e-3 && Math.abs(p.ptzState.position.tilt - {tilt}) < 1e-3"
        );
        until(&browser, demo, &settled, "back at the preset").await?;
        let back = row(&browser, demo, 8).await?;
        let (s, _, at0) = shift(&saved, &back);
        println!("preset recalled: shift {s} px, difference {at0:.1}");
        anyhow::ensure!(s == 0 && at0 < 3.0, "the preset's picture did not come back: {s}, {at0:.1}");
        browser.save_screenshot("ptz.png").await?;

        // Leaving the camera (Escape: back to the grid, no PTZ controls)
        // while the arrow key is still down stops the camera; the key's
        // release never comes to a player that lost its controls.
        browser
            .run(
                &format!("document.querySelector({demo:?}).focus(); arguments[0](true);"),
                vec![],
            )
            .await?;
        let down = KeyActions::new("keyboard".into()).then(KeyAction::Down {
            value: Key::Right.into(),
        });
        browser.client().perform_actions(down).await?;
        until(&browser, demo, "p.ptzState.moving", "moving while the key is down").await?;
        let held = KeyActions::new("keyboard".into())
            .then(KeyAction::Down {
                value: Key::Escape.into(),
            })
            .then(KeyAction::Up {
                value: Key::Escape.into(),
            })
            .pause(Duration::from_millis(1000));
        browser.client().perform_actions(held).await?;
        let after = browser
            .run(
                &format!("const p = document.querySelector({demo:?}); arguments[0]({{moving: p.ptzState.moving, ptz: p.ptz}});"),
                vec![],
            )
            .await?;
        browser.client().release_actions().await?;
        println!("Escape mid-hold: {after}");
        anyhow::ensure!(
            after == json!({"moving": false, "ptz": false}),
            "still moving after leaving the camera: {after}"
        );

        // The dome (ONVIF simulator): a click near the right edge centres
        // there with a RelativeMove in the field-of-view space.
        let dome = "cam-player[camera=dome]";
        browser
            .open(&format!("http://{}/?camera=dome", relay.local_addr()))
            .await?;
        let live = browser.run(WAIT_LIVE, vec![json!(dome), json!(20_000)]).await?;
        anyhow::ensure!(live["live"] == json!(true), "{live}");
        until(&browser, dome, "p.hasAttribute('ptz-control')", "dome controls").await?;
        let element = browser
            .client()
            .find(fantoccini::Locator::Css(dome))
            .await?;
        let width = browser
            .run(&format!("arguments[0](document.querySelector({dome:?}).getBoundingClientRect().width);"), vec![])
            .await?
            .as_f64()
            .unwrap_or(0.0);
        let click = MouseActions::new("mouse".into())
            .then(PointerAction::MoveToElement {
                element,
                duration: None,
                x: (width * 0.4).round(),
                y: 0.0,
            })
            .then(PointerAction::Down { button: 0 })
            .then(PointerAction::Up { button: 0 });
        browser.client().perform_actions(click).await?;
        sim.wait_for(Duration::from_secs(10), "a RelativeMove", |r| {
            r.iter().any(|r| r.is("RelativeMove"))
        })
        .await?;
        let relative = sim
            .ptz_commands()
            .into_iter()
            .find(|c| c.operation == "RelativeMove")
            .expect("recorded");
        println!("click at 90% across: {relative:?}");
        anyhow::ensure!(
            relative.space.as_deref().is_some_and(|s| s.ends_with("TranslationSpaceFov")),
            "{relative:?}"
        );
        let (x, y, _) = relative.vector.unwrap_or_default();
        anyhow::ensure!((0.7..=0.9).contains(&x) && y.abs() < 0.1, "{relative:?}");
        Ok(())
    }
    .await;
    let _ = browser.close().await;
    relay.shutdown().await.expect("clean shutdown");
    result.expect("PTZ in the browser");
}
