//! Debian's nats-server for the cluster tests: JetStream on, its store in a
//! temporary directory, on free loopback ports; stopped, started again on
//! the same port with the same store (a NATS restart), or killed.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context as _};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A nats-server with JetStream on loopback. Killed when dropped.
pub struct NatsServer {
    child: Option<Child>,
    pub port: u16,
    /// The monitoring port (`/connz`, `/subsz`).
    pub monitor: u16,
    dir: tempfile::TempDir,
}

/// Two free ports, held together while chosen so they differ.
fn free_ports() -> anyhow::Result<(u16, u16)> {
    let a = std::net::TcpListener::bind("127.0.0.1:0")?;
    let b = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok((a.local_addr()?.port(), b.local_addr()?.port()))
}

impl NatsServer {
    /// Starts a server on free ports.
    pub async fn start() -> anyhow::Result<NatsServer> {
        let (port, monitor) = free_ports()?;
        let mut server = NatsServer {
            child: None,
            port,
            monitor,
            dir: tempfile::tempdir()?,
        };
        server.run().await?;
        Ok(server)
    }

    async fn run(&mut self) -> anyhow::Result<()> {
        let port = self.port;
        let mut child = Command::new("/usr/sbin/nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .args(["-m", &self.monitor.to_string(), "-js", "-sd"])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting nats-server (cargo xtask test installs it)")?;
        let mut lines = BufReader::new(child.stderr.take().context("no stderr")?).lines();
        tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if line.contains("Server is ready") {
                    return Ok(());
                }
            }
            bail!("nats-server exited before it was ready (port {port} taken?)")
        })
        .await
        .context("nats-server did not start within 30 s")??;
        // Keep reading so it never writes into a closed pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child = Some(child);
        Ok(())
    }

    /// The server's process id (0 while stopped).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().and_then(|c| c.id()).unwrap_or(0)
    }

    /// `nats://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The subjects the client connection named `name` subscribes to now
    /// (from the server's monitoring endpoint `/connz?subs=1`).
    pub async fn subscriptions(&self, name: &str) -> anyhow::Result<Vec<String>> {
        let text = crate::http_get(&format!(
            "http://127.0.0.1:{}/connz?subs=1&limit=1024",
            self.monitor
        ))
        .await?;
        let connz: serde_json::Value = serde_json::from_str(&text)?;
        let mut subjects = Vec::new();
        for conn in connz["connections"].as_array().into_iter().flatten() {
            if conn["name"] == name {
                for s in conn["subscriptions_list"].as_array().into_iter().flatten() {
                    subjects.extend(s.as_str().map(str::to_owned));
                }
            }
        }
        Ok(subjects)
    }

    /// Waits up to `within` until connection `name` does (`true`) or does
    /// not (`false`) subscribe to `subject`. The server announces no such
    /// change to an ordinary client: its monitoring endpoint is asked every
    /// 50 ms.
    pub async fn until_subscribed(
        &self,
        name: &str,
        subject: &str,
        subscribed: bool,
        within: Duration,
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let now = self.subscriptions(name).await?;
            if now.iter().any(|s| s == subject) == subscribed {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("{name} subscribes to {now:?}, after {within:?} still (not) to {subject}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the server (its clients see the connection drop).
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        Ok(())
    }

    /// Starts it again on the same port with the same JetStream store.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        self.stop().await?;
        self.run().await
    }
}
