//! Debian's headless Chromium driven through chromedriver (WebDriver, via
//! fantoccini), and the scripts the suites run in pages.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context as _};
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Runs `test` with a fresh browser, then closes it and the relay, whatever
/// the outcome: the test's own failure first; a relay that does not shut
/// down cleanly fails too.
pub async fn with_browser(
    relay: sightline_relay::Relay,
    test: impl AsyncFnOnce(&sightline_relay::Relay, &Browser) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let browser = Browser::launch(&[]).await?;
    let result = test(&relay, &browser).await;
    let _ = browser.close().await;
    let shutdown = relay.shutdown().await;
    result?;
    shutdown.map_err(|e| e.context("the relay did not shut down cleanly"))
}

/// Headless Chromium driven over WebDriver. Dropping it kills chromedriver (and its browser).
pub struct Browser {
    pub client: Client,
    driver: Child,
}

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

impl Browser {
    /// Starts chromedriver on a free port and opens a fresh headless browser.
    /// `extra_args` are added to Chromium's command line.
    pub async fn launch(extra_args: &[&str]) -> anyhow::Result<Browser> {
        Browser::launch_in(extra_args, None).await
    }

    /// [`Browser::launch`] with chromedriver and Chromium run with `HOME` set
    /// to `home`: on Linux Chromium reads the certificates it trusts besides
    /// its own root store from `$HOME/.pki/nssdb`, so a test can make it trust
    /// a CA of its own (`certutil`, Debian's libnss3-tools) without touching
    /// the machine's.
    pub async fn launch_with_home(
        extra_args: &[&str],
        home: &std::path::Path,
    ) -> anyhow::Result<Browser> {
        Browser::launch_in(extra_args, Some(home)).await
    }

    async fn launch_in(
        extra_args: &[&str],
        home: Option<&std::path::Path>,
    ) -> anyhow::Result<Browser> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut driver = Command::new(CHROMEDRIVER);
        if let Some(home) = home {
            driver.env("HOME", home);
        }
        let mut driver = driver
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {CHROMEDRIVER} (cargo xtask installs it)"))?;
        // chromedriver says when it listens; wait for that line, not for a timer.
        let stdout = driver.stdout.take().context("chromedriver stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let ready = async {
            while let Some(line) = lines.next_line().await? {
                if line.contains("started successfully") {
                    return Ok(());
                }
            }
            bail!("chromedriver exited before it was ready")
        };
        tokio::time::timeout(Duration::from_secs(30), ready)
            .await
            .context("chromedriver did not start within 30 s")??;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let profile = home
            .map(std::path::Path::to_owned)
            .unwrap_or_else(std::env::temp_dir)
            .join(format!("sightline-chromium-{port}"));
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--window-size=1320,900".into(),
            format!("--user-data-dir={}", profile.display()),
        ];
        args.extend(extra_args.iter().map(|a| a.to_string()));
        let caps = json!({
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps.as_object().cloned().unwrap_or_default())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .context("connecting to chromedriver")?;
        client
            .update_timeouts(TimeoutConfiguration::new(
                Some(Duration::from_secs(60)),
                Some(Duration::from_secs(60)),
                None,
            ))
            .await?;
        Ok(Browser { client, driver })
    }

    /// Opens a page of the app (grid, kiosk) and waits until its script has
    /// built the page (it sets `data-app="ready"` on `<html>`).
    pub async fn open(&self, url: &str) -> anyhow::Result<()> {
        self.client.goto(url).await?;
        let ready = self.run(WAIT_APP, vec![json!(20_000)]).await?;
        anyhow::ensure!(
            ready == json!(true),
            "{url}: the app did not start: {ready}"
        );
        Ok(())
    }

    /// Navigates without waiting for anything but the load.
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        Ok(self.client.goto(url).await?)
    }

    /// Waits until the page at hand is the app, built (after redirects and
    /// sign-in pages have done their part).
    pub async fn wait_app(&self) -> anyhow::Result<()> {
        self.wait_page("app", "ready").await
    }

    /// Waits (20 s at most, polling the page every 100 ms: the page may
    /// navigate in between) until `<html data-NAME="VALUE">`.
    pub async fn wait_page(&self, name: &str, value: &str) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let script = format!("return document.documentElement.dataset[{name:?}] ?? null;");
            if let Ok(seen) = self.client.execute(&script, vec![]).await {
                if seen == json!(value) {
                    return Ok(());
                }
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "no data-{name}={value:?} within 20 s; at {:?}",
                self.client.current_url().await.map(|u| u.to_string())
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The WebDriver session, for forms and clicks.
    pub fn client(&self) -> &fantoccini::Client {
        &self.client
    }

    /// Runs an async script: the page calls the last argument with its result.
    pub async fn run(&self, script: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        Ok(self.client.execute_async(script, args).await?)
    }

    /// Saves what the browser shows as `target/e2e/NAME` (the README's
    /// pictures come from there).
    pub async fn save_screenshot(&self, name: &str) -> anyhow::Result<()> {
        let shot = self.client.screenshot().await?;
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../target/e2e")
            .join(name);
        std::fs::create_dir_all(path.parent().context("a parent")?)?;
        std::fs::write(&path, shot)?;
        println!("screenshot: {}", path.display());
        Ok(())
    }

    /// Holds `key` down for `held` and lets go, through WebDriver input
    /// actions (real key events, to whatever has focus).
    pub async fn hold_key(&self, key: char, held: Duration) -> anyhow::Result<()> {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .pause(held)
            .then(KeyAction::Up { value: key });
        self.client.perform_actions(keys).await?;
        Ok(())
    }

    /// chromedriver's process id: Chromium's processes are its descendants.
    pub fn driver_pid(&self) -> Option<u32> {
        self.driver.id()
    }

    /// Closes the session and the browser.
    pub async fn close(mut self) -> anyhow::Result<()> {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill().await;
        Ok(())
    }
}

/// JS: resolves with the element's stats once it paints (`statechange` → `live`),
/// or with `{timeout: stats}` after `ms`. Args: selector, ms.
pub const WAIT_LIVE: &str = r#"
const [selector, ms, done] = arguments;
const el = document.querySelector(selector);
if (!el) return done({ error: "no element " + selector });
customElements.whenDefined("cam-player").then(() => {
  const finish = () => done({ live: true, stats: el.getStats() });
  if (el.state === "live") return finish();
  el.addEventListener("statechange", (e) => { if (e.detail.state === "live") finish(); });
  setTimeout(() => done({ timeout: true, stats: el.getStats() }), ms);
});
"#;

/// JS: waits for every `<cam-player>` the page shows (not inside a hidden
/// element) to be live, then counts the frames each paints in 1 s. Resolves
/// with `[{camera, live, paintedIn1s, stats}]`. Args: ms.
pub const ALL_LIVE: &str = r#"
const [ms, done] = arguments;
customElements.whenDefined("cam-player").then(() => {
  const players = [...document.querySelectorAll("cam-player")].filter((p) => !p.closest("[hidden]"));
  const live = (el) => new Promise((resolve) => {
    if (el.state === "live") return resolve(true);
    el.addEventListener("statechange", (e) => { if (e.detail.state === "live") resolve(true); });
    setTimeout(() => resolve(false), ms);
  });
  Promise.all(players.map(live)).then((oks) => {
    const before = players.map((p) => p.getStats().framesPainted);
    setTimeout(() => done(players.map((p, i) => ({
      camera: p.camera, live: oks[i], paintedIn1s: p.getStats().framesPainted - before[i], stats: p.getStats(),
    }))), 1000);
  });
});
"#;

/// JS: resolves true once the app page has built itself, false after `ms`. Args: ms.
const WAIT_APP: &str = r#"
const [ms, done] = arguments;
if (document.documentElement.dataset.app === "ready") return done(true);
addEventListener("sightline:ready", () => done(true));
setTimeout(() => done(false), ms);
"#;

/// JS shared by the switching scripts: `watch(el)` samples the middle of
/// the element's canvas at every screen refresh (a canvas that was cleared
/// and not painted has alpha 0: a blank) and records states other than
/// `live`; `until(pred, ms)` resolves when `pred()` holds.
pub const SWITCH_HELPERS: &str = r#"
const watch = (el) => {
  const canvas = el.shadowRoot.querySelector("canvas");
  const probe = document.createElement("canvas");
  probe.width = probe.height = 1;
  const ctx = probe.getContext("2d", { willReadFrequently: true });
  const w = { blank: 0, states: [], on: true };
  el.addEventListener("statechange", (e) => { if (e.detail.state !== "live") w.states.push(e.detail.state); });
  (function look() {
    if (!w.on) return;
    ctx.clearRect(0, 0, 1, 1);
    if (canvas.width > 0) ctx.drawImage(canvas, canvas.width >> 1, canvas.height >> 1, 1, 1, 0, 0, 1, 1);
    if (ctx.getImageData(0, 0, 1, 1).data[3] === 0) w.blank += 1;
    requestAnimationFrame(look);
  })();
  return w;
};
const until = (pred, ms) => new Promise((resolve, reject) => {
  const t0 = performance.now();
  (function poll() {
    if (pred()) return resolve();
    if (performance.now() - t0 > ms) return reject(new Error("timed out"));
    requestAnimationFrame(poll);
  })();
});
const settled = (el, stream, more) => {
  const from = el.getStats().framesPainted;
  return () => { const s = el.getStats(); return s.stream === stream && !s.switching && s.framesPainted >= from + more; };
};
"#;
