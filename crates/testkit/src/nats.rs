//! Debian's nats-server for the cluster tests, from a config file it is
//! given: a hub with JetStream (its store in a temporary directory) that
//! takes leaf connections, or a leaf node of it (a remote site's server),
//! on free loopback ports; stopped, started again on the same port with the
//! same store (a NATS restart), or killed.

use std::time::Duration;

use anyhow::bail;
use tokio::process::{Child, Command};

/// The hub's JetStream domain: how clients of a leaf node reach its
/// JetStream (`$JS.<domain>.API`) across the link.
pub const DOMAIN: &str = "hub";

/// A nats-server on loopback: a hub with JetStream that takes leaf
/// connections, or a leaf node of one. Killed when dropped.
pub struct NatsServer {
    child: Option<Child>,
    pub port: u16,
    /// The monitoring port (`/connz`, `/leafz`).
    pub monitor: u16,
    dir: tempfile::TempDir,
    /// Where a hub takes leaf connections; for a leaf, the hub's.
    leaf_port: u16,
    /// A leaf node of the hub at `leaf_port` (no JetStream of its own:
    /// its clients use the hub's).
    is_leaf: bool,
    max_payload: Option<u32>,
}

/// Three free ports, held together while chosen so they differ.
fn free_ports() -> anyhow::Result<[u16; 3]> {
    let listeners = [
        std::net::TcpListener::bind("127.0.0.1:0")?,
        std::net::TcpListener::bind("127.0.0.1:0")?,
        std::net::TcpListener::bind("127.0.0.1:0")?,
    ];
    let mut ports = [0; 3];
    for (port, l) in ports.iter_mut().zip(&listeners) {
        *port = l.local_addr()?.port();
    }
    Ok(ports)
}

impl NatsServer {
    /// Starts a hub on free ports: JetStream on, leaf connections taken.
    pub async fn start() -> anyhow::Result<NatsServer> {
        NatsServer::start_with_max_payload(None).await
    }

    /// [`NatsServer::start`] with the server's `max_payload` (bytes) set:
    /// small, to make what is cut into pieces come in several.
    pub async fn start_with_max_payload(max_payload: Option<u32>) -> anyhow::Result<NatsServer> {
        let [port, monitor, leaf_port] = free_ports()?;
        let mut server = NatsServer {
            child: None,
            port,
            monitor,
            dir: tempfile::tempdir()?,
            leaf_port,
            is_leaf: false,
            max_payload,
        };
        server.run().await?;
        Ok(server)
    }

    /// Starts a leaf node of `hub` (a remote site's server) and waits until
    /// its connection to the hub is up.
    pub async fn start_leaf(hub: &NatsServer) -> anyhow::Result<NatsServer> {
        let [port, monitor, _] = free_ports()?;
        let mut server = NatsServer {
            child: None,
            port,
            monitor,
            dir: tempfile::tempdir()?,
            leaf_port: hub.leaf_port,
            is_leaf: true,
            max_payload: None,
        };
        server.run().await?;
        // The server announces the link in its log and on /leafz: asked
        // every 50 ms.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let leafz: serde_json::Value = serde_json::from_str(
                &crate::http_get(&format!("http://127.0.0.1:{monitor}/leafz")).await?,
            )?;
            if leafz["leafs"].as_array().is_some_and(|l| !l.is_empty()) {
                return Ok(server);
            }
            if tokio::time::Instant::now() > deadline {
                bail!("the leaf node did not connect to its hub within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn run(&mut self) -> anyhow::Result<()> {
        let port = self.port;
        let conf = self.dir.path().join("nats.conf");
        let mut text = format!(
            "listen: \"127.0.0.1:{port}\"\nhttp: \"127.0.0.1:{}\"\n",
            self.monitor
        );
        if let Some(bytes) = self.max_payload {
            text.push_str(&format!("max_payload: {bytes}\n"));
        }
        if self.is_leaf {
            text.push_str(&format!(
                "leafnodes {{ remotes: [ {{ url: \"nats-leaf://127.0.0.1:{}\" }} ] }}\n",
                self.leaf_port
            ));
        } else {
            text.push_str(&format!(
                "jetstream {{ store_dir: {:?}, domain: {DOMAIN} }}\nleafnodes {{ listen: \"127.0.0.1:{}\" }}\n",
                self.dir.path().join("js"),
                self.leaf_port
            ));
        }
        std::fs::write(&conf, text)?;
        let mut cmd = Command::new("/usr/sbin/nats-server");
        cmd.arg("-c").arg(&conf);
        let child = crate::rtsp::start_until_logged(cmd, "Server is ready", "nats-server").await?;
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

    /// On a leaf node: the subjects the hub's side asked it for (what may
    /// cross the link towards the hub), from `/leafz?subs=1`.
    pub async fn leaf_interest(&self) -> anyhow::Result<Vec<String>> {
        let leafz: serde_json::Value = serde_json::from_str(
            &crate::http_get(&format!("http://127.0.0.1:{}/leafz?subs=1", self.monitor)).await?,
        )?;
        let mut subjects = Vec::new();
        for leaf in leafz["leafs"].as_array().into_iter().flatten() {
            for s in leaf["subscriptions_list"].as_array().into_iter().flatten() {
                subjects.extend(s.as_str().map(str::to_owned));
            }
        }
        Ok(subjects)
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
