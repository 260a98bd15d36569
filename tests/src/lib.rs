//! Harness for the end-to-end suites: start the real relay on a loopback port,
//! drive Debian's Chromium through chromedriver (WebDriver, via fantoccini).
//!
//! The web app must be built first (`cargo xtask test` does it); its directory
//! is `SIGHTLINE_WWW` or `target/www` in the workspace.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context as _};
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use sightline_relay::config::DemoCameraConfig;
use sightline_relay::demo::DemoOptions;
use sightline_relay::{Relay, RelayConfig};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The built web app.
pub fn www_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::var_os("SIGHTLINE_WWW")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/www"));
    if !dir.join("index.html").is_file() {
        bail!(
            "the web app is not built at {} — run the tests with `cargo xtask test`, which builds it",
            dir.display()
        );
    }
    Ok(dir)
}

/// Starts the relay on 127.0.0.1:0 with the given demo cameras.
pub async fn start_relay(cameras: Vec<(&str, DemoOptions)>) -> anyhow::Result<Relay> {
    let config = RelayConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        www: Some(www_dir()?),
        demo_cameras: cameras
            .into_iter()
            .map(|(id, options)| DemoCameraConfig {
                id: id.into(),
                name: format!("Demo {id}"),
                options,
            })
            .collect(),
    };
    Relay::start(config).await
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
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut driver = Command::new(CHROMEDRIVER)
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

        let profile = std::env::temp_dir().join(format!("sightline-chromium-{port}"));
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

    /// Runs an async script: the page calls the last argument with its result.
    pub async fn run(&self, script: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        Ok(self.client.execute_async(script, args).await?)
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
const finish = () => done({ live: true, stats: el.stats });
if (el.state === "live") return finish();
el.addEventListener("statechange", (e) => { if (e.detail.state === "live") finish(); });
setTimeout(() => done({ timeout: true, stats: el.stats }), ms);
"#;
