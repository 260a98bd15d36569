//! The walking skeleton end to end: demo camera → relay → WebSocket → Wasm
//! player → canvas, in real headless Chromium against the real relay.
//!
//! One check, [`check_demo_plays`], states everything "the demo plays" means;
//! it must pass on the real stream and must fail when the relay's payload or
//! codec configuration is damaged (the fault-injection tests), so it cannot
//! pass by accident.

use serde_json::{json, Value};
use sightline_relay::{DemoOptions, Fault, Relay};
use sightline_testkit::{start_relay, Browser, WAIT_LIVE};
use tokio::sync::Mutex;

/// The suites run one at a time: each encodes 720p30 and decodes it in a browser,
/// and two at once on a 2-core machine would measure each other.
static SERIAL: Mutex<()> = Mutex::const_new(());

/// BT.709 75% colour bars of the demo scene in RGB, left to right.
const BARS_RGB: [[i64; 3]; 8] = [
    [191, 191, 191],
    [191, 191, 0],
    [0, 191, 191],
    [0, 191, 0],
    [191, 0, 191],
    [191, 0, 0],
    [0, 0, 191],
    [0, 0, 0],
];
const COLOUR_TOLERANCE: i64 = 40;
/// What the fallback decoder's files (worker script and Wasm) have in their names.
const FALLBACK_FILES: &str = "sightline-decoder-worker";

/// In the page (once live): sample the bars, hash the picture, count frames
/// painted over a 2 s window, hash again. The window opens after a 1 s pre-roll
/// so the tail of the fast-start burst (decoded faster than real time) does not
/// inflate the frame rate. Args: none.
const MEASURE: &str = r#"
const done = arguments[arguments.length - 1];
setTimeout(measure, 1000);
function measure() {
const el = document.querySelector("cam-player");
const canvas = el.shadowRoot.querySelector("canvas");
const ctx = canvas.getContext("2d");
const w = canvas.width, h = canvas.height;
const bars = [];
for (let i = 0; i < 8; i++) {
  const d = ctx.getImageData(Math.floor(i * w / 8 + w / 16), Math.floor(h / 16), 1, 1).data;
  bars.push([d[0], d[1], d[2]]);
}
const hash = () => {
  const d = ctx.getImageData(0, Math.floor(h / 8), w, h - Math.floor(h / 8)).data;
  let x = 2166136261;
  for (let i = 0; i < d.length; i += 7) x = Math.imul(x ^ d[i], 16777619);
  return x >>> 0;
};
const before = hash();
const p0 = el.getStats().framesPainted, r0 = el.getStats().framesReceived;
const t0 = performance.now();
setTimeout(() => {
  const s = el.getStats();
  const resources = performance.getEntriesByType("resource").map((e) => e.name);
  done({ bars, before, after: hash(), painted: s.framesPainted - p0, received: s.framesReceived - r0,
         seconds: (performance.now() - t0) / 1000, stats: s, width: w, height: h, resources });
}, 2000);
}
"#;

/// What one run measured.
#[derive(Debug)]
struct Report {
    time_to_first_frame_ms: f64,
    frames_per_second: f64,
    /// Frames that arrived over the same window, per second (the source's pace).
    received_per_second: f64,
    /// PNG of the page once playing.
    screenshot: Vec<u8>,
}

/// Opens the page and checks everything "the demo camera plays" means.
/// `decoder` is the page's `?decoder=` (None: auto), `expect` the decoder that
/// must end up in use.
async fn check_demo_plays(
    fault: Option<Fault>,
    decoder: Option<&str>,
    expect: &str,
) -> Result<Report, String> {
    check_demo_plays_at(fault, decoder, expect, (1280, 720), None).await
}

/// [`check_demo_plays`] with the demo camera at `size`, and the page's
/// `?renderer=` (None: auto).
async fn check_demo_plays_at(
    fault: Option<Fault>,
    decoder: Option<&str>,
    expect: &str,
    (width, height): (usize, usize),
    renderer: Option<&str>,
) -> Result<Report, String> {
    let options = DemoOptions {
        fault,
        width,
        height,
        ..DemoOptions::default()
    };
    let relay = start_relay(vec![("demo", options)])
        .await
        .map_err(|e| e.to_string())?;
    let browser = Browser::launch(&[]).await.map_err(|e| e.to_string())?;
    let mut url = format!("http://{}/?", relay.local_addr());
    if let Some(d) = decoder {
        url.push_str(&format!("decoder={d}&"));
    }
    if let Some(r) = renderer {
        url.push_str(&format!("renderer={r}&"));
    }
    let result = async {
        browser.open(&url).await.map_err(|e| e.to_string())?;
        let live = browser
            .run(WAIT_LIVE, vec![json!("cam-player"), json!(15_000)])
            .await
            .map_err(|e| e.to_string())?;
        if live["live"] != json!(true) {
            return Err(format!("never went live: {live}"));
        }
        let at_live = &live["stats"];
        // Fast start: the cached GOP is decoded, not skipped while waiting for a keyframe.
        if at_live["framesSkipped"] != json!(0) {
            return Err(format!("frames skipped during fast start: {at_live}"));
        }
        let m: Value = browser
            .run(MEASURE, vec![])
            .await
            .map_err(|e| e.to_string())?;
        let stats = &m["stats"];
        println!("measured: {m}");
        if (m["width"].as_u64(), m["height"].as_u64()) != (Some(width as u64), Some(height as u64))
        {
            return Err(format!(
                "canvas is {}x{}, not {width}x{height}",
                m["width"], m["height"]
            ));
        }
        if stats["decoder"] != json!(expect) {
            return Err(format!(
                "decoder in use is {}, not {expect}",
                stats["decoder"]
            ));
        }
        // WebCodecs frames are drawn with Canvas 2D. The fallback's I420 goes
        // through the page's WebGL renderer (BT.709 in the shader) where WebGL
        // runs on a GPU or the page asks for WebGL; otherwise the worker
        // converts to RGBA for Canvas 2D (BT.709 in Rust). The test browser
        // runs with --disable-gpu: its WebGL is always software (SwiftShader).
        let renderer = match (expect, renderer) {
            ("wasm", Some(asked)) => asked,
            _ => "canvas2d",
        };
        if stats["renderer"] != json!(renderer) {
            return Err(format!(
                "painted with {}, not {renderer}",
                stats["renderer"]
            ));
        }
        // The fallback decoder is downloaded only when it is used: a WebCodecs
        // page must not fetch it, a Wasm page must (which also shows that this
        // probe of the browser's resource list sees it).
        let fetched_fallback = m["resources"]
            .as_array()
            .ok_or("no resource list")?
            .iter()
            .any(|r| r.as_str().is_some_and(|r| r.contains(FALLBACK_FILES)));
        if fetched_fallback != (expect == "wasm") {
            return Err(format!(
                "decoder {expect}, yet the fallback was{} downloaded: {}",
                if fetched_fallback { "" } else { " not" },
                m["resources"]
            ));
        }
        // Painting's share of arrival → painted: a time, and no more than the whole.
        match (stats["paintMs"].as_f64(), stats["decodeLatencyMs"].as_f64()) {
            (Some(paint), Some(all)) if (0.0..=all + 1.0).contains(&paint) => {}
            _ => return Err(format!("paintMs is not a part of decodeLatencyMs: {stats}")),
        }
        if stats["decodeErrors"] != json!(0) {
            return Err(format!("{} decode errors", stats["decodeErrors"]));
        }
        for (i, (got, want)) in m["bars"]
            .as_array()
            .ok_or("no bars sampled")?
            .iter()
            .zip(BARS_RGB)
            .enumerate()
        {
            let got: Vec<i64> = (0..3).map(|c| got[c].as_i64().unwrap_or(-999)).collect();
            if got
                .iter()
                .zip(want)
                .any(|(g, w)| (g - w).abs() > COLOUR_TOLERANCE)
            {
                return Err(format!(
                    "colour bar {i} is {got:?}, expected about {want:?}"
                ));
            }
        }
        if m["before"] == m["after"] {
            return Err("the picture did not change over 2 s".into());
        }
        let painted = m["painted"].as_f64().unwrap_or(0.0);
        if painted < 20.0 {
            return Err(format!("only {painted} frames painted in 2 s"));
        }
        let screenshot = browser
            .client
            .screenshot()
            .await
            .map_err(|e| e.to_string())?;
        Ok(Report {
            screenshot,
            time_to_first_frame_ms: stats["timeToFirstFrameMs"].as_f64().unwrap_or(f64::NAN),
            frames_per_second: painted / m["seconds"].as_f64().unwrap_or(2.0),
            received_per_second: m["received"].as_f64().unwrap_or(0.0)
                / m["seconds"].as_f64().unwrap_or(2.0),
        })
    }
    .await;
    let _ = browser.close().await;
    relay.shutdown().await.map_err(|e| e.to_string())?;
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_camera_plays_live_with_webcodecs() {
    let _serial = SERIAL.lock().await;
    let report = check_demo_plays(None, None, "webcodecs")
        .await
        .expect("the demo camera plays");
    println!(
        "time to first frame: {:.0} ms; frames painted per second: {:.1} (received: {:.1})",
        report.time_to_first_frame_ms, report.frames_per_second, report.received_per_second
    );
    let shot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e/demo.png");
    std::fs::create_dir_all(shot.parent().expect("has a parent")).expect("target/e2e");
    std::fs::write(&shot, &report.screenshot).expect("screenshot written");
    println!("screenshot: {}", shot.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_camera_plays_with_the_wasm_decoder() {
    let _serial = SERIAL.lock().await;
    // 640x360: in headless Chromium the demo's encoder, OpenH264-Wasm and
    // SwiftShader's software WebGL all share two CPU cores; at 720p the encoder
    // itself is starved and the frame rate measures the machine, not the player.
    let report = check_demo_plays_at(None, Some("wasm"), "wasm", (640, 360), None)
        .await
        .expect("the demo camera plays through OpenH264-Wasm");
    println!(
        "wasm decoder: time to first frame: {:.0} ms; frames painted per second: {:.1} (received: {:.1})",
        report.time_to_first_frame_ms, report.frames_per_second, report.received_per_second
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wasm_decoder_paints_through_webgl_when_asked() {
    let _serial = SERIAL.lock().await;
    // This machine has no GPU, so `auto` paints with Canvas 2D (the test
    // above); `renderer=webgl` takes software WebGL, which keeps the shader
    // (and its colours) checked here too.
    check_demo_plays_at(None, Some("wasm"), "wasm", (640, 360), Some("webgl"))
        .await
        .expect("the demo camera plays through OpenH264-Wasm and WebGL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wasm_check_notices_a_corrupted_payload() {
    let _serial = SERIAL.lock().await;
    let failure = check_demo_plays_at(
        Some(Fault::CorruptPayload),
        Some("wasm"),
        "wasm",
        (640, 360),
        None,
    )
    .await
    .expect_err("a corrupted payload must fail the check");
    println!("wasm decoder, corrupted payload detected: {failure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_notices_a_corrupted_payload() {
    let _serial = SERIAL.lock().await;
    let failure = check_demo_plays(Some(Fault::CorruptPayload), None, "webcodecs")
        .await
        .expect_err("a corrupted payload must fail the check");
    println!("corrupted payload detected: {failure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_notices_a_corrupted_codec_config() {
    let _serial = SERIAL.lock().await;
    let failure = check_demo_plays(Some(Fault::CorruptConfig), None, "webcodecs")
        .await
        .expect_err("a corrupted codec configuration must fail the check");
    println!("corrupted config detected: {failure}");
    // `auto` did not stop at WebCodecs refusing the configuration: it went on
    // to the Wasm decoder (which cannot play a broken stream either).
    assert!(
        failure.contains(r#""decoder":"wasm""#),
        "auto should have fallen back to the Wasm decoder: {failure}"
    );
}

/// A second element on a camera the page already watches: it shares the socket
/// and the subscription, gets the decoder config from the connection, and plays
/// from the stream's next keyframe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_element_on_the_same_camera_shares_the_socket_and_plays() {
    let _serial = SERIAL.lock().await;
    let relay = start_relay(vec![("demo", DemoOptions::default())])
        .await
        .expect("relay starts");
    let browser = Browser::launch(&[]).await.expect("browser starts");
    let url = format!("http://{}/", relay.local_addr());
    let result = async {
        browser.open(&url).await?;
        let first = browser
            .run(WAIT_LIVE, vec![json!("cam-player"), json!(15_000)])
            .await?;
        anyhow::ensure!(first["live"] == json!(true), "first element: {first}");
        browser
            .run(
                r#"const done = arguments[0];
                   const el = document.createElement("cam-player");
                   el.id = "second";
                   el.setAttribute("camera", "demo");
                   document.querySelector("main").append(el);
                   done(true);"#,
                vec![],
            )
            .await?;
        // The demo's keyframe interval is 2 s; 15 s is generous.
        let second = browser
            .run(WAIT_LIVE, vec![json!("#second"), json!(15_000)])
            .await?;
        anyhow::ensure!(second["live"] == json!(true), "second element: {second}");
        anyhow::ensure!(
            second["stats"]["sockets"] == json!(1),
            "two elements, one relay: one socket, got {}",
            second["stats"]["sockets"]
        );
        anyhow::ensure!(second["stats"]["decodeErrors"] == json!(0), "{second}");
        Ok(())
    }
    .await;
    let _ = browser.close().await;
    relay.shutdown().await.expect("clean shutdown");
    result.expect("the second element plays on the shared socket");
}

/// A page served over plain HTTP from an address that is not loopback (here a
/// made-up host name Chromium resolves to the relay): not a secure context, so
/// no WebCodecs. The `auto` player picks the Wasm decoder by itself and plays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_webcodecs_auto_chooses_wasm() {
    let _serial = SERIAL.lock().await;
    // Accounts are off here: the relay answers this name only when told to.
    let mut config = sightline_testkit::relay_config(vec![(
        "demo",
        sightline_relay::Source::Demo(DemoOptions::default()),
    )])
    .expect("config");
    config.auth.hosts = vec!["cameras.sightline.test".into()];
    let relay = Relay::start(config).await.expect("relay starts");
    let browser = Browser::launch(&["--host-resolver-rules=MAP cameras.sightline.test 127.0.0.1"])
        .await
        .expect("browser starts");
    let result = async {
        let port = relay.local_addr().port();
        browser
            .open(&format!("http://cameras.sightline.test:{port}/"))
            .await?;
        let secure = browser
            .run("arguments[0](window.isSecureContext);", vec![])
            .await?;
        anyhow::ensure!(
            secure == json!(false),
            "the page must not be a secure context"
        );
        let has = browser
            .run("arguments[0](typeof VideoDecoder);", vec![])
            .await?;
        anyhow::ensure!(has == json!("undefined"), "VideoDecoder is {has}");
        let live = browser
            .run(WAIT_LIVE, vec![json!("cam-player"), json!(20_000)])
            .await?;
        anyhow::ensure!(live["live"] == json!(true), "{live}");
        anyhow::ensure!(live["stats"]["decoder"] == json!("wasm"), "{live}");
        Ok(())
    }
    .await;
    let _ = browser.close().await;
    relay.shutdown().await.expect("clean shutdown");
    result.expect("auto falls back to the Wasm decoder");
}
