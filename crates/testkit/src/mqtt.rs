//! Debian's Mosquitto, the MQTT broker of the alerts' MQTT tests, and
//! `mosquitto_sub`, an MQTT client that shares no code with the relay's.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context as _};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// A Mosquitto broker on loopback, anonymous, no persistence. Killed when dropped.
pub struct Mosquitto {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Mosquitto {
    /// Starts a broker on a free port.
    pub async fn start() -> anyhow::Result<Mosquitto> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        Mosquitto::start_on(port, tempfile::tempdir()?).await
    }

    async fn start_on(port: u16, dir: tempfile::TempDir) -> anyhow::Result<Mosquitto> {
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\nlog_dest stderr\npersistence false\n"),
        )?;
        let mut cmd = Command::new("/usr/sbin/mosquitto");
        cmd.arg("-c").arg(&conf);
        let child = crate::rtsp::start_until_logged(cmd, " running", "mosquitto").await?;
        Ok(Mosquitto { child, port, dir })
    }

    /// `mqtt://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Stops the broker and starts a new one on the same port: a broker
    /// restart (retained messages are gone: no persistence).
    pub async fn restart(mut self) -> anyhow::Result<Mosquitto> {
        self.child.kill().await?;
        let (port, dir) = (self.port, self.dir);
        Mosquitto::start_on(port, dir).await
    }
}

/// `mosquitto_sub -v` on some topics: each message as `topic payload`.
pub struct Subscriber {
    _child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    /// Messages read but not yet waited for, oldest first: the broker
    /// delivers retained messages subscription by subscription, so the
    /// order across topics is not the order they were published in.
    backlog: std::collections::VecDeque<(String, String)>,
}

impl Subscriber {
    pub async fn start(broker: &Mosquitto, topics: &[&str]) -> anyhow::Result<Subscriber> {
        let mut cmd = Command::new("/usr/bin/mosquitto_sub");
        cmd.args([
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port.to_string(),
            "-v",
            "-q",
            "1",
        ]);
        for topic in topics {
            cmd.args(["-t", topic]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting mosquitto_sub (cargo xtask test installs it)")?;
        let lines = BufReader::new(child.stdout.take().context("no stdout")?).lines();
        Ok(Subscriber {
            _child: child,
            lines,
            backlog: Default::default(),
        })
    }

    /// Waits up to `within` for a message on `topic` whose payload `pred`
    /// accepts, and returns the payload. Messages of that topic before it
    /// are passed over (their order is kept); other topics' wait their turn.
    pub async fn wait(
        &mut self,
        within: Duration,
        topic: &str,
        pred: impl Fn(&str) -> bool,
    ) -> anyhow::Result<String> {
        if let Some(i) = self.backlog.iter().position(|(t, p)| t == topic && pred(p)) {
            let (_, payload) = self.backlog.remove(i).unwrap_or_default();
            let mut n = 0;
            self.backlog.retain(|(t, _)| {
                n += 1;
                n > i || t != topic
            });
            return Ok(payload);
        }
        self.backlog.retain(|(t, _)| t != topic);
        let found = tokio::time::timeout(within, async {
            while let Some(line) = self.lines.next_line().await? {
                let Some((t, payload)) = line.split_once(' ') else {
                    continue;
                };
                if t == topic {
                    if pred(payload) {
                        return anyhow::Ok(payload.to_owned());
                    }
                } else if self.backlog.len() < 1000 {
                    self.backlog.push_back((t.to_owned(), payload.to_owned()));
                }
            }
            bail!("mosquitto_sub ended")
        })
        .await;
        match found {
            Ok(r) => r,
            Err(_) => bail!(
                "no such message on {topic} within {within:?}; other topics: {:?}",
                self.backlog.iter().take(20).collect::<Vec<_>>()
            ),
        }
    }
}
