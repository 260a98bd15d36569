//! The cluster's accounts (`[cluster] accounts = "<node>"`): so that a
//! user signs in on any relay, and a ticket minted on one is accepted by
//! all (issue 17).
//!
//! **How:** the named node's SQLite database stays the one place where
//! accounts are changed (admin page, API, CLI). Whenever its accounts
//! change ([`Store::accounts_version`], moved by SQLite triggers, so the
//! CLI's changes count) it publishes all of them as one value in the
//! JetStream key-value bucket `sightline-accounts`; every other node
//! watches that key and applies each value to its own database in one
//! transaction ([`Store::import_accounts`]). Tickets are then verified
//! where they arrive, from the local file, as before: no request to
//! another node at connect time, and a copy keeps working while the
//! managing node (or NATS) is down, with the accounts as last copied.
//!
//! **Why one value in a bucket, not one database:** SQLite is one file on
//! one machine; a shared network database would be a new server to run
//! and a new way for every relay to stop. JetStream already holds the
//! leases, is replicated when NATS is clustered, and its watch gives a new
//! node the current value at once. **Why one writer:** see
//! `sightline_store::replica`. **Why the whole set each time:** a copy is
//! always consistent (no half-applied change), and accounts change a few
//! times a day; the value is about 400 bytes a user, so NATS's default
//! 1 MiB `max_payload` holds about 2,500 users (checked: a larger value is
//! refused with a message naming the fix).
//!
//! **Trust:** the value holds password hashes and the ticket signing keys;
//! whoever may read `$KV.sightline-accounts.>` on NATS can mint tickets
//! (README, Scaling out: NATS permissions).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use sightline_cluster::subjects::{ACCOUNTS_BUCKET, ACCOUNTS_KEY};
use sightline_cluster::Cluster;
use sightline_store::{Accounts, Store};
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use super::NATS_WITHIN;

/// How often the managing node looks at its accounts' version.
const POLL: Duration = Duration::from_secs(1);
/// How long a copy waits for the accounts before it says it has none.
const SILENCE: Duration = Duration::from_secs(30);
/// How often it makes sure the bucket still holds the value (a NATS
/// store lost and started empty).
const CHECK_EVERY: Duration = Duration::from_secs(30);

/// What goes in the bucket: who published it, and the accounts.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Published {
    node: String,
    accounts: Accounts,
}

/// The managing node: publishes its accounts whenever they change, until
/// `shutdown`.
pub async fn publish(cluster: Cluster, store: Arc<Store>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The version and revision last published, and when the bucket was
    // last checked.
    let mut published: Option<(i64, u64)> = None;
    let mut checked = tokio::time::Instant::now();
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let version = {
            let store = store.clone();
            match tokio::task::spawn_blocking(move || store.accounts_version()).await {
                Ok(Ok(v)) => v,
                Ok(Err(e)) => {
                    warn!("accounts: cannot read their version: {e:#}");
                    continue;
                }
                Err(e) => {
                    warn!("accounts: {e:#}");
                    continue;
                }
            }
        };
        if let Some((v, revision)) = published {
            if v == version {
                if checked.elapsed() < CHECK_EVERY {
                    continue;
                }
                checked = tokio::time::Instant::now();
                // Still there? The bucket's last sequence, not the value:
                // with one key, it is the value's revision.
                let there = tokio::time::timeout(NATS_WITHIN, async {
                    let bucket = cluster.accounts().await.ok()?;
                    Some(bucket.status().await.ok()?.info.state.last_sequence)
                })
                .await
                .ok()
                .flatten();
                if there == Some(revision) {
                    continue;
                }
            }
        }
        match put(&cluster, &store).await {
            Ok((version, revision, summary, bytes)) => {
                published = Some((version, revision));
                checked = tokio::time::Instant::now();
                failing = false;
                info!(bytes, "accounts published: {summary}");
            }
            Err(e) => {
                // Said once per outage, then quietly retried every second.
                if !failing {
                    warn!("accounts: cannot publish them (retrying): {e:#}");
                }
                failing = true;
                cluster.forget_bucket(ACCOUNTS_BUCKET).await;
            }
        }
    }
}

/// Exports the accounts and writes them to the bucket: the accounts'
/// version exported, the bucket's revision, a summary for the log, and the
/// value's size.
async fn put(cluster: &Cluster, store: &Arc<Store>) -> anyhow::Result<(i64, u64, String, usize)> {
    let store = store.clone();
    let (version, accounts) = tokio::task::spawn_blocking(move || {
        // A current signing key first (the last one may just have been
        // revoked): copies sign with it and never make one of their own.
        // Making one moves the version: read after it, so that it is not
        // published twice.
        store.signing_key(sightline_store::unix_now())?;
        anyhow::Ok((store.accounts_version()?, store.export_accounts()?))
    })
    .await??;
    let summary = accounts.summary();
    let value = serde_json::to_vec(&Published {
        node: cluster.node().to_owned(),
        accounts,
    })?;
    let limit = cluster.max_payload();
    if limit > 0 && value.len() > limit.saturating_sub(1024) {
        anyhow::bail!(
            "the accounts take {} bytes, more than the NATS server's max_payload ({limit} bytes) allows: raise max_payload in nats-server's config (README, Scaling out)",
            value.len()
        );
    }
    let bytes = value.len();
    let revision = tokio::time::timeout(NATS_WITHIN, async {
        let bucket = cluster.accounts().await.map_err(|e| anyhow::anyhow!(e))?;
        anyhow::Ok(bucket.put(ACCOUNTS_KEY, value.into()).await?)
    })
    .await
    .map_err(|_| anyhow::anyhow!("NATS did not answer"))??;
    Ok((version, revision, summary, bytes))
}

/// Every other node: applies each value `from` publishes to its own
/// database, until `shutdown`.
pub async fn copy(
    cluster: Cluster,
    store: Arc<Store>,
    from: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut said_waiting = false;
    // Said once if nothing comes: a typo in `accounts`, or that relay down.
    let mut silence = Some(tokio::time::Instant::now() + SILENCE);
    loop {
        let watching = tokio::time::timeout(NATS_WITHIN, async {
            let bucket = cluster.accounts().await.map_err(|e| anyhow::anyhow!(e))?;
            anyhow::Ok(bucket.watch_with_history(ACCOUNTS_KEY).await?)
        })
        .await
        .map_err(|_| anyhow::anyhow!("NATS did not answer"))
        .and_then(|r| r);
        let mut changes = match watching {
            Ok(changes) => changes,
            Err(e) => {
                if !said_waiting {
                    warn!(
                        from,
                        "accounts: cannot watch for them yet (retrying): {e:#}"
                    );
                    said_waiting = true;
                }
                cluster.forget_bucket(ACCOUNTS_BUCKET).await;
                tokio::select! {
                    _ = tokio::time::sleep(POLL) => continue,
                    _ = shutdown.changed() => return,
                }
            }
        };
        said_waiting = false;
        loop {
            let change = tokio::select! {
                c = changes.next() => c,
                _ = tokio::time::sleep_until(silence.unwrap_or_else(tokio::time::Instant::now)), if silence.is_some() => {
                    warn!(from, "accounts: none published yet by relay {from:?} ([cluster] accounts): is it running, with [cluster] accounts = {from:?} too? Until then this relay has no accounts of the cluster");
                    silence = None;
                    continue;
                }
                _ = shutdown.changed() => return,
            };
            if matches!(change, Some(Ok(_))) {
                silence = None;
            }
            match change {
                Some(Ok(entry)) if entry.operation == async_nats::jetstream::kv::Operation::Put => {
                    apply(&store, &from, &entry.value).await;
                }
                // Deleted or purged: the copy stays as it was.
                Some(Ok(_)) => warn!(
                    from,
                    "accounts: the published accounts were deleted from NATS; keeping the copy"
                ),
                Some(Err(e)) => {
                    debug!("accounts: watch: {e:#}");
                    break;
                }
                None => break,
            }
        }
        // The watch ended (NATS away): again after a pause.
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Applies one published value, if it is well-formed and from `from`.
async fn apply(store: &Arc<Store>, from: &str, value: &[u8]) {
    let published: Published = match serde_json::from_slice(value) {
        Ok(p) => p,
        Err(e) => {
            error!(from, "accounts: the published value is not a set of accounts this relay understands (are all relays the same version?): {e}");
            return;
        }
    };
    if published.node != from {
        error!(
            from,
            publisher = published.node,
            "accounts: they were published by another node than the one [cluster] accounts names: give every relay the same [cluster] accounts; not copied"
        );
        return;
    }
    let summary = published.accounts.summary();
    let store = store.clone();
    let done =
        tokio::task::spawn_blocking(move || store.import_accounts(&published.accounts)).await;
    match done {
        Ok(Ok(done)) if done.changed > 0 => info!(
            from,
            changed = done.changed,
            sessions_ended = done.sessions_ended,
            "accounts copied: {summary}"
        ),
        Ok(Ok(_)) => debug!(from, "accounts: the copy was up to date"),
        Ok(Err(e)) => error!(from, "accounts: not copied: {e:#}"),
        Err(e) => error!(from, "accounts: not copied: {e:#}"),
    }
}
