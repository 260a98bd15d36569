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
use sightline_relay::config::{CameraConfig, Source};
use sightline_relay::demo::DemoOptions;
use sightline_relay::{Relay, RelayConfig};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub mod flip;
pub mod procs;

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
    start_relay_with(
        cameras
            .into_iter()
            .map(|(id, options)| (id, Source::Demo(options)))
            .collect(),
    )
    .await
}

/// Starts the relay on 127.0.0.1:0 with the given cameras of any source.
pub async fn start_relay_with(cameras: Vec<(&str, Source)>) -> anyhow::Result<Relay> {
    Relay::start(relay_config(cameras)?).await
}

/// The relay's configuration for these cameras, serving the web app, on
/// 127.0.0.1:0 (a test that restarts a relay sets `listen` to the first one's address).
pub fn relay_config(cameras: Vec<(&str, Source)>) -> anyhow::Result<RelayConfig> {
    Ok(RelayConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        www: Some(www_dir()?),
        cameras: cameras
            .into_iter()
            .map(|(id, source)| CameraConfig {
                id: id.into(),
                name: format!("Camera {id}"),
                source,
            })
            .collect(),
    })
}

/// `n` small demo cameras `cam-1` … `cam-n` (each its own scene): grids on a 2-core machine.
pub fn small_demo_cameras(n: usize) -> Vec<(String, DemoOptions)> {
    (1..=n)
        .map(|i| {
            let options = DemoOptions {
                width: 320,
                height: 180,
                fps: 15,
                keyframe_every: 30,
                bitrate_bps: 300_000,
                ..DemoOptions::default()
            };
            (format!("cam-{i}"), options)
        })
        .collect()
}

/// A static web site on another port (so another origin than the relay), for
/// pages that embed the player from the relay. Stops when dropped.
pub struct Site {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Site {
    pub async fn serve(dir: PathBuf) -> anyhow::Result<Site> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new().fallback_service(tower_http::services::ServeDir::new(dir));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Site { addr, task })
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.task.abort();
    }
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

    /// Runs an async script: the page calls the last argument with its result.
    pub async fn run(&self, script: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        Ok(self.client.execute_async(script, args).await?)
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

/// GStreamer's RTSP server (`tests/rtsp_server.py`, Debian packages) on loopback:
/// mounts `/baseline-tcp`, `/baseline-udp`, `/high-tcp`, `/high-udp`, `/noise`,
/// `/switch`, `/flip` and, with `--clip`, `/clip`. Killed when dropped.
pub struct RtspServer {
    child: Child,
    pub port: u16,
    /// What the server printed after "READY" (the `/flip` mount's FLIP lines).
    said: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// How many lines of the server's output `RtspServer` keeps.
const KEEP_LINES: usize = 10_000;

impl RtspServer {
    /// Starts the server on `port` (0: a free one); with `auth`, it requires that
    /// user and password (digest).
    pub async fn start(port: u16, auth: Option<(&str, &str)>) -> anyhow::Result<RtspServer> {
        let port = port.to_string();
        let mut args = vec!["--port", port.as_str()];
        if let Some((user, password)) = auth {
            args.extend(["--user", user, "--password", password]);
        }
        RtspServer::start_with(&args).await
    }

    /// Starts the server with these command-line arguments (see its `--help`).
    pub async fn start_with(args: &[&str]) -> anyhow::Result<RtspServer> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/rtsp_server.py");
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(script).args(args);
        let (child, port, mut lines) = start_until_ready(cmd, "the GStreamer RTSP server")
            .await
            .context("cargo xtask test installs the GStreamer RTSP server")?;
        // Keep reading, so the server never writes into a closed pipe.
        let said = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let keep = said.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut said = keep.lock().unwrap_or_else(|e| e.into_inner());
                if said.len() < KEEP_LINES {
                    said.push(line);
                }
            }
        });
        Ok(RtspServer { child, port, said })
    }

    /// The lines the server printed since it was ready.
    pub fn said(&self) -> Vec<String> {
        self.said.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The URL of one mount.
    pub fn url(&self, mount: &str) -> url::Url {
        url::Url::parse(&format!("rtsp://127.0.0.1:{}/{mount}", self.port)).expect("a valid URL")
    }

    /// Freezes (`STOP`) or thaws (`CONT`) the server: its sockets stay open but
    /// nothing moves, like a hung camera.
    pub async fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let pid = self.child.id().context("the RTSP server has exited")?;
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .await?;
        anyhow::ensure!(status.success(), "kill -{signal} {pid} failed");
        Ok(())
    }

    /// Kills the server at once (SIGKILL), as a camera losing power would vanish.
    pub async fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }
}

/// A server's stdout, line by line.
pub type OutputLines = tokio::io::Lines<BufReader<tokio::process::ChildStdout>>;

/// Starts a server that prints `READY <port>` on stdout once it listens, and
/// waits (30 s at most) for that line. Returns the server (killed when
/// dropped), its port, and the rest of its output, which the caller must keep
/// reading so the server never writes into a closed pipe.
pub async fn start_until_ready(
    mut cmd: Command,
    what: &str,
) -> anyhow::Result<(Child, u16, OutputLines)> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {what}"))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let port = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(port) = line.strip_prefix("READY ") {
                return Ok(port.trim().parse::<u16>()?);
            }
        }
        bail!("{what} exited before it was ready")
    })
    .await
    .with_context(|| format!("{what} did not start within 30 s"))??;
    Ok((child, port, lines))
}

/// GET over plain HTTP on loopback; the body as text. Fails on a non-200 status.
pub async fn http_get(url: &str) -> anyhow::Result<String> {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::client::legacy::Client;
    let client: Client<HttpConnector, Empty<hyper::body::Bytes>> =
        Client::builder(hyper_util::rt::TokioExecutor::new()).build(HttpConnector::new());
    let response = client.get(url.parse()?).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    let text = String::from_utf8_lossy(&body).into_owned();
    anyhow::ensure!(status.is_success(), "GET {url}: {status}: {text}");
    Ok(text)
}

/// (median, min, max) of a benchmark's runs; `v` must not be empty.
pub fn median_min_max(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// The value of one sample in Prometheus text, e.g. `metric(&text, "sightline_camera_frames_total", "cam")`.
pub fn metric(text: &str, name: &str, camera: &str) -> Option<f64> {
    sample(text, &format!("{name}{{camera=\"{camera}\"}}"))
}

/// The value of the sample `name` (with its labels, if any) in Prometheus text.
pub fn sample(text: &str, name: &str) -> Option<f64> {
    let prefix = format!("{name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
}

/// A plain WebSocket client of the relay, speaking the wire protocol: what the
/// tests use to watch camera status and count frames without a browser.
pub struct RelayClient {
    socket: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
}

/// What a [`RelayClient`] received.
#[derive(Debug)]
pub enum Received {
    Control(sightline_wire::ServerMessage),
    Frame(sightline_wire::MediaHeader),
}

impl RelayClient {
    /// Connects and says hello. `recv_buffer` shrinks the socket's receive buffer
    /// (a viewer on a slow link fills it at once).
    pub async fn connect(
        relay: SocketAddr,
        recv_buffer: Option<u32>,
    ) -> anyhow::Result<RelayClient> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size)?;
        }
        let stream = socket.connect(relay).await?;
        let (socket, _) =
            tokio_tungstenite::client_async(format!("ws://{relay}/ws"), stream).await?;
        let mut client = RelayClient { socket };
        client
            .send(&sightline_wire::ClientMessage::Hello {
                protocol: sightline_wire::PROTOCOL_VERSION,
                client: Some("sightline-e2e".into()),
            })
            .await?;
        Ok(client)
    }

    pub async fn send(&mut self, msg: &sightline_wire::ClientMessage) -> anyhow::Result<()> {
        use futures_util::SinkExt;
        self.socket
            .send(tokio_tungstenite::tungstenite::Message::text(msg.to_json()))
            .await?;
        Ok(())
    }

    pub async fn subscribe(&mut self, camera: &str) -> anyhow::Result<()> {
        self.send(&sightline_wire::ClientMessage::Subscribe {
            id: 1,
            camera: camera.into(),
        })
        .await
    }

    /// The next control message or frame.
    pub async fn next(&mut self) -> anyhow::Result<Received> {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        loop {
            match self
                .socket
                .next()
                .await
                .context("the relay closed the socket")??
            {
                Message::Text(text) => {
                    return Ok(Received::Control(sightline_wire::ServerMessage::parse(
                        &text,
                    )?))
                }
                Message::Binary(data) => {
                    return Ok(Received::Frame(
                        sightline_wire::MediaHeader::parse(&data)?.0,
                    ))
                }
                _ => continue,
            }
        }
    }

    /// Waits up to `within` for a status of `camera` (from `welcome` or
    /// `camera_status`) that `pred` accepts, and returns it.
    pub async fn wait_status(
        &mut self,
        camera: &str,
        within: Duration,
        pred: impl Fn(&sightline_wire::CameraState) -> bool,
    ) -> anyhow::Result<sightline_wire::CameraState> {
        use sightline_wire::ServerMessage;
        let mut last = None;
        let found = tokio::time::timeout(within, async {
            loop {
                let status = match self.next().await? {
                    Received::Control(ServerMessage::Welcome { cameras, .. }) => cameras
                        .into_iter()
                        .find(|c| c.id == camera)
                        .map(|c| c.status),
                    Received::Control(ServerMessage::CameraStatus { camera: c, status })
                        if c == camera =>
                    {
                        Some(status)
                    }
                    _ => None,
                };
                if let Some(status) = status {
                    if pred(&status) {
                        return anyhow::Ok(status);
                    }
                    last = Some(status);
                }
            }
        })
        .await;
        match found {
            Ok(status) => status,
            Err(_) => bail!("{camera}: no such status within {within:?}; last seen {last:?}"),
        }
    }
}

/// Checks `probe` every 100 ms until it returns `Some` or `within` passes: for
/// conditions that have no event to await (a counter in `/metrics`).
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = probe().await? {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("{what}: not within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// This process's resident memory in bytes (the relay runs in-process).
pub fn rss_bytes() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .context("no VmRSS")?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kb * 1024)
}
