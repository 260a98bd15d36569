//! GStreamer's RTSP server (`tests/rtsp_server.py`), a real camera stand-in,
//! and the start-up handshake every helper server of the suites shares.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context as _};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// GStreamer's RTSP server (`tests/rtsp_server.py`, Debian packages) on loopback:
/// mounts `/baseline-tcp`, `/baseline-udp`, `/high-tcp`, `/high-udp`, `/noise`,
/// `/switch`, `/flip`, `/h265`, `/gop10`, `/bframes`, `/alaw`, `/aac` and,
/// with `--clip`, `/clip`. Killed when dropped.
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
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/rtsp_server.py");
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

/// Starts a server that logs on stderr (`cmd`'s stdout is discarded: it is
/// block-buffered into a pipe) and returns once a line contains `marker`;
/// the rest of its log is read and dropped, so it never writes into a
/// closed pipe. `what` names it in errors.
pub async fn start_until_logged(
    mut cmd: Command,
    marker: &str,
    what: &str,
) -> anyhow::Result<Child> {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {what} (cargo xtask test installs it)"))?;
    let mut lines = BufReader::new(child.stderr.take().context("no stderr")?).lines();
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            if line.contains(marker) {
                return Ok(());
            }
        }
        bail!("{what} exited before it was ready (its port taken?)")
    })
    .await
    .with_context(|| format!("{what} did not start within 30 s"))??;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(child)
}

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
