//! The NATS glue around the pure rules: one connection per node, and a task
//! per camera keeping its ownership lease (`lease.rs`) in the JetStream
//! key-value bucket [`LEASES_BUCKET`](crate::subjects::LEASES_BUCKET).
//!
//! The connection is made in the background and remade forever (the
//! client's own reconnect): a relay started while NATS is down starts at
//! once, says so, and joins the cluster when NATS comes up. What each camera
//! should do meanwhile is its lease's [`Duty`], published on a `watch`
//! channel the relay follows.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, kv};
use async_nats::{ConnectOptions, ServerAddr};
use bytes::Bytes;
use futures_util::StreamExt as _;
use tokio::sync::{oneshot, watch, Mutex};
use tracing::{debug, info, warn};

use crate::config::{redact, ClusterConfig};
use crate::lease::{Attempt, Duty, Lease, Outcome};
use crate::subjects::{token, ACCOUNTS_BUCKET, DIRECTORY_BUCKET, LEASES_BUCKET};

/// What stops a node from joining a cluster, said to whoever configures it.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("[cluster] nats: {url} is not a NATS server URL: {source}")]
    Url {
        url: String,
        #[source]
        source: async_nats::Error,
    },
    #[error("[cluster] credentials: cannot read {path}")]
    Credentials {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot connect to NATS")]
    Connect(#[from] async_nats::ConnectError),
}

/// Messages one subscription may hold (see [`Cluster::connect`]).
const SUBSCRIPTION_CAPACITY: usize = 1024;

/// This node's membership of the cluster.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    client: async_nats::Client,
    js: jetstream::Context,
    node: String,
    /// What this process writes in the keys it holds: the node's name and
    /// an id of this process — two relays given the same name by mistake
    /// never take each other's key for their own.
    holder: String,
    lease: Duration,
    buckets: Mutex<HashMap<&'static str, kv::Store>>,
}

impl Cluster {
    /// Starts connecting to NATS (in the background: NATS may be down now)
    /// as `config` says. Fails only on what retrying cannot fix.
    pub async fn connect(config: &ClusterConfig) -> Result<Cluster, ClusterError> {
        let mut servers = Vec::new();
        for url in config.nats.urls() {
            let addr = url.parse::<ServerAddr>().map_err(|e| ClusterError::Url {
                url: redact(url),
                source: e.into(),
            })?;
            servers.push(addr);
        }
        let mut options = ConnectOptions::new();
        if let Some(path) = &config.credentials {
            options = options.credentials_file(path).await.map_err(|source| {
                ClusterError::Credentials {
                    path: path.display().to_string(),
                    source,
                }
            })?;
        }
        if let Some(token) = &config.token {
            options = options.token(token.clone());
        }
        if let Some(ca) = &config.tls_ca {
            options = options.add_root_certificates(ca.clone());
        }
        if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        let shown: Vec<String> = config.nats.urls().into_iter().map(redact).collect();
        let node = config.node.clone();
        let client = options
            .name(format!("sightline-{}", config.node))
            .retry_on_initial_connect()
            // A subscription holds at most this many messages (about 30 s
            // of a 30 fps camera) for a follower that falls behind; beyond
            // it NATS drops, the follower sees a gap and skips to a keyframe.
            .subscription_capacity(SUBSCRIPTION_CAPACITY)
            .connection_timeout(Duration::from_secs(2))
            .event_callback(move |event| {
                let (node, shown) = (node.clone(), shown.clone());
                async move {
                    match event {
                        async_nats::Event::Connected => {
                            info!(node, servers = ?shown, "connected to NATS")
                        }
                        async_nats::Event::Disconnected => warn!(
                            node,
                            servers = ?shown,
                            "lost NATS; reconnecting (cameras this node owns are \
                             kept for a lease, then served to local viewers only)"
                        ),
                        other => debug!(node, "NATS: {other}"),
                    }
                }
            })
            .connect(servers)
            .await?;
        let js = match &config.jetstream_domain {
            Some(domain) => jetstream::with_domain(client.clone(), domain),
            None => jetstream::new(client.clone()),
        };
        Ok(Cluster {
            inner: Arc::new(Inner {
                client,
                js,
                node: config.node.clone(),
                holder: format!("{} {}", config.node, process_id()),
                lease: config.lease(),
                buckets: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The NATS connection (media, requests).
    pub fn client(&self) -> &async_nats::Client {
        &self.inner.client
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.inner.node
    }

    /// The ownership lease.
    pub fn lease(&self) -> Duration {
        self.inner.lease
    }

    /// The camera directory bucket (`directory.rs`), made on first use.
    pub async fn directory(&self) -> Result<kv::Store, async_nats::Error> {
        self.inner
            .bucket(
                DIRECTORY_BUCKET,
                "every camera, its owner and status",
                crate::directory::max_age(self.inner.lease),
            )
            .await
    }

    /// The accounts bucket (the relay's `cluster/accounts.rs`), made on
    /// first use; its one entry never expires.
    pub async fn accounts(&self) -> Result<kv::Store, async_nats::Error> {
        self.inner
            .bucket(ACCOUNTS_BUCKET, "the cluster's accounts", Duration::ZERO)
            .await
    }

    /// Forgets a bucket's handle after an error (its stream may have been
    /// lost with a NATS server's store): found or made again on next use.
    pub async fn forget_bucket(&self, name: &str) {
        self.inner.forget(name).await;
    }

    /// JetStream, in the cluster's domain.
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.inner.js
    }

    /// The largest message the NATS server takes, in bytes (what it said
    /// when this node last connected; 1 MiB by default).
    pub fn max_payload(&self) -> usize {
        self.inner.client.server_info().max_payload
    }

    /// Starts keeping the ownership lease of `camera` (a camera this node
    /// can pull). Its duty follows on the handle; dropping the handle (or
    /// [`LeaseHandle::release`]) hands the camera to another node at once.
    pub fn keep(&self, camera: &str) -> LeaseHandle {
        let (duty_tx, duty) = watch::channel(Duty::Starting);
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(keep(
            self.inner.clone(),
            camera.to_owned(),
            duty_tx,
            stopped,
        ));
        LeaseHandle {
            duty,
            stop: Some(stop),
            task: Some(task),
        }
    }
}

impl Inner {
    /// The leases bucket, made on first use (entries expire after a lease).
    async fn leases(&self) -> Result<kv::Store, async_nats::Error> {
        self.bucket(LEASES_BUCKET, "which node pulls each camera", self.lease)
            .await
    }

    /// Key-value bucket `name`, made on first use; its entries expire
    /// `max_age` after they were last written.
    async fn bucket(
        &self,
        name: &'static str,
        description: &str,
        max_age: Duration,
    ) -> Result<kv::Store, async_nats::Error> {
        let mut buckets = self.buckets.lock().await;
        if let Some(s) = buckets.get(name) {
            return Ok(s.clone());
        }
        let made = match self.js.get_key_value(name).await {
            Ok(s) => s,
            Err(_) => {
                // The bucket's stream made by hand, as the KV convention has
                // it: the client's `create_key_value` first reads account
                // fields that nats-server 2.9 (Debian's) does not send.
                self.js
                    .get_or_create_stream(jetstream::stream::Config {
                        name: format!("KV_{name}"),
                        description: Some(format!("Sightline: {description}")),
                        subjects: vec![format!("$KV.{name}.>")],
                        max_messages_per_subject: 1,
                        max_age,
                        duplicate_window: max_age.min(Duration::from_secs(120)),
                        storage: jetstream::stream::StorageType::File,
                        discard: jetstream::stream::DiscardPolicy::New,
                        allow_rollup: true,
                        deny_delete: true,
                        allow_direct: true,
                        num_replicas: 1,
                        ..Default::default()
                    })
                    .await?;
                self.js.get_key_value(name).await?
            }
        };
        if name == LEASES_BUCKET {
            // Its entries must expire after this node's lease, or an owner
            // would count on a key already gone (or, with no expiry, a dead
            // owner's cameras would never move). Checked before the handle
            // is cached, under the lock: nobody uses an unchecked one.
            let age = made.status().await?.max_age();
            if age != self.lease {
                return Err(format!(
                    "the NATS bucket {LEASES_BUCKET} keeps leases {age:?}, this relay's \
                     [cluster] lease_seconds is {:?}: give every relay the same \
                     lease_seconds (and delete the bucket, `nats kv del {LEASES_BUCKET}`, \
                     to change it)",
                    self.lease
                )
                .into());
            }
        }
        buckets.insert(name, made.clone());
        Ok(made)
    }

    /// Forgets a bucket's handle (its stream may have been lost with a
    /// NATS server's store): found or made again on next use.
    async fn forget(&self, name: &str) {
        self.buckets.lock().await.remove(name);
    }

    /// Makes one request about `key`'s lease.
    async fn attempt(&self, key: &str, attempt: Attempt) -> Outcome {
        let store = match self.leases().await {
            Ok(s) => s,
            Err(e) => {
                warn!("camera leases unavailable: {e:#}");
                return Outcome::Unreachable;
            }
        };
        let me = Bytes::from(self.holder.clone());
        let outcome = match attempt {
            Attempt::Create => match store.create(key, me.clone()).await {
                Ok(revision) => Outcome::Written(revision),
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Outcome::Held,
                Err(e) => {
                    debug!("lease {key}: create: {e:#}");
                    Outcome::Unreachable
                }
            },
            Attempt::Renew(revision) => match store.update(key, me.clone(), revision).await {
                Ok(revision) => Outcome::Written(revision),
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => Outcome::Held,
                Err(e) => {
                    debug!("lease {key}: renew: {e:#}");
                    Outcome::Unreachable
                }
            },
        };
        match outcome {
            // Held, but perhaps by this node: a write of ours that timed out
            // here landed on the server. Renewed at once at its revision
            // (its time on the server is not known here; this one's is
            // no earlier than the request's).
            Outcome::Held => match store.entry(key).await {
                Ok(Some(entry)) if entry.operation == kv::Operation::Put && entry.value == me => {
                    match store.update(key, me, entry.revision).await {
                        Ok(revision) => Outcome::Written(revision),
                        Err(_) => Outcome::Held,
                    }
                }
                _ => Outcome::Held,
            },
            Outcome::Unreachable => {
                self.forget(LEASES_BUCKET).await;
                Outcome::Unreachable
            }
            written => written,
        }
    }
}

/// The lease of one camera, kept by a task; its duty on a `watch` channel.
pub struct LeaseHandle {
    duty: watch::Receiver<Duty>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl LeaseHandle {
    /// What this node should do with the camera, as it changes.
    pub fn duty(&self) -> watch::Receiver<Duty> {
        self.duty.clone()
    }

    /// Stops keeping the lease and gives the camera up (deletes its key if
    /// this node holds it, so another node takes it without waiting for
    /// the lease to run out).
    pub async fn release(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for LeaseHandle {
    fn drop(&mut self) {
        // The task releases on its own when told; not awaited here.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// An id of this process, different from any other relay's: its pid and
/// start time.
fn process_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos}", std::process::id())
}

/// How long giving a camera up may take on the way out.
const RELEASE_WITHIN: Duration = Duration::from_secs(1);

async fn keep(
    inner: Arc<Inner>,
    camera: String,
    duty_tx: watch::Sender<Duty>,
    mut stop: oneshot::Receiver<()>,
) {
    let key = token(&camera);
    let mut lease = Lease::new(inner.lease, Instant::now());
    // The key's changes, to take it at once when its owner gives it up.
    let mut changes: Option<kv::Watch> = None;
    loop {
        if Instant::now() >= lease.next_at() {
            let sent = Instant::now();
            let attempt = lease.attempt(sent);
            // Bounded: a hanging renewal must not keep an owner past its grace.
            let outcome =
                tokio::time::timeout(lease.request_within(sent), inner.attempt(&key, attempt))
                    .await
                    .unwrap_or(Outcome::Unreachable);
            lease.settle(sent, outcome, Instant::now());
        }
        if duty_follows(&lease) && changes.is_none() {
            // Made before the duty is told: a release from now on is seen
            // (and with its history, one that came just before).
            changes = watch_key(&inner, &key).await;
        } else if !duty_follows(&lease) {
            changes = None;
        }
        let now = Instant::now();
        let duty = lease.duty(now);
        let changed = duty_tx.send_if_modified(|d| std::mem::replace(d, duty) != duty);
        if changed {
            info!(camera, node = inner.node, "camera duty: {}", describe(duty));
        }
        let wake = match lease.duty_changes_at(now) {
            Some(at) => lease.next_at().min(at),
            None => lease.next_at(),
        };
        tokio::select! {
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {}
            _ = &mut stop => break,
            change = next_change(&mut changes) => match change {
                Some(Ok(entry)) if entry.operation != kv::Operation::Put => {
                    lease.released(Instant::now());
                }
                Some(Ok(_)) => {}
                // The watch ended (NATS went away): made again when following.
                _ => changes = None,
            },
        }
    }
    if let Some(revision) = lease.held_revision() {
        let gone = tokio::time::timeout(RELEASE_WITHIN, async {
            let store = inner.leases().await?;
            store
                .delete_expect_revision(&key, Some(revision))
                .await
                .map_err(async_nats::Error::from)
        })
        .await;
        match gone {
            Ok(Ok(())) => info!(camera, node = inner.node, "camera released"),
            Ok(Err(e)) => debug!(camera, "release: {e:#}"),
            Err(_) => debug!(camera, "release: no answer"),
        }
    }
}

fn duty_follows(lease: &Lease) -> bool {
    lease.duty(Instant::now()) == Duty::Follow
}

/// How long making a watch may take (NATS may be away).
const WATCH_WITHIN: Duration = Duration::from_secs(1);

async fn watch_key(inner: &Inner, key: &str) -> Option<kv::Watch> {
    tokio::time::timeout(WATCH_WITHIN, async {
        let store = inner.leases().await.ok()?;
        store.watch_with_history(key).await.ok()
    })
    .await
    .ok()
    .flatten()
}

async fn next_change(
    changes: &mut Option<kv::Watch>,
) -> Option<Result<kv::Entry, kv::WatcherError>> {
    match changes {
        Some(w) => w.next().await,
        None => std::future::pending().await,
    }
}

fn describe(duty: Duty) -> &'static str {
    match duty {
        Duty::Starting => "waiting for NATS",
        Duty::Own => "this node pulls it and publishes it to the cluster",
        Duty::Follow => "another node pulls it",
        Duty::Alone => "NATS unreachable: pulled here for local viewers only",
    }
}
