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

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl NatsServer {
    /// Starts a server on free ports.
    pub async fn start() -> anyhow::Result<NatsServer> {
        let mut server = NatsServer {
            child: None,
            port: free_port()?,
            monitor: free_port()?,
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

    /// `nats://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
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
