//! Keeping the served certificate current without a restart: the operator's
//! files are watched (inotify and the like, through `notify`, on the files'
//! directories — which also sees a symlink swapped, as certbot and Kubernetes
//! do — and checked once a minute besides, for file systems that send no
//! events) and swapped in when they change and load; the self-signed leaf is
//! issued again before it ends.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use notify::Watcher as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::ca::{LeafStatus, LocalCa};
use super::names::TlsName;
use super::{files, server_config, CertificateInfo, Loaded, TlsStatus};

/// A change is acted on once the files have been quiet this long (a renewal
/// writes two files, often in several steps).
const SETTLE: Duration = Duration::from_millis(200);
/// Checked this often even without an event.
const POLL: Duration = Duration::from_secs(60);
/// How often the self-signed leaf's age is checked.
const RENEW_CHECK: Duration = Duration::from_secs(12 * 3600);

/// Watches `cert` and `key` until shutdown; each change that loads is served
/// from the next handshake on.
pub(super) fn watch_files(
    cert: PathBuf,
    key: PathBuf,
    mut serving: [u8; 32],
    rustls: RustlsConfig,
    status: watch::Sender<TlsStatus>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            let _ = events_tx.send(());
        }
    });
    let watcher = match watcher {
        Ok(mut watcher) => {
            let mut dirs: Vec<PathBuf> = [&cert, &key].iter().map(|p| parent(p)).collect();
            dirs.dedup();
            for dir in &dirs {
                if let Err(e) = watcher.watch(dir, notify::RecursiveMode::NonRecursive) {
                    tracing::warn!(
                        "cannot watch {} for a renewed certificate ({e}): checking it every minute instead",
                        dir.display()
                    );
                }
            }
            Some(watcher)
        }
        Err(e) => {
            tracing::warn!("cannot watch the TLS files ({e}): checking them every minute instead");
            None
        }
    };
    tokio::spawn(async move {
        let _watcher = watcher;
        let mut poll = tokio::time::interval(POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        poll.tick().await;
        // The files that last failed to load, and why: not reported again until they change.
        let mut refused: Option<[u8; 32]> = None;
        let mut last_error: Option<String> = None;
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                Some(()) = events.recv() => {
                    // Let the writer finish: wait for a quiet moment.
                    while let Ok(Some(())) = tokio::time::timeout(SETTLE, events.recv()).await {}
                }
                _ = poll.tick() => {}
            }
            let (cert, key) = (cert.clone(), key.clone());
            let attempt = tokio::task::spawn_blocking(move || {
                let (cert_bytes, key_bytes) = match files::read(&cert, &key) {
                    Ok(bytes) => bytes,
                    Err(why) => return Attempt::Refused(why, None),
                };
                let digest = files::digest(&cert_bytes, &key_bytes);
                if digest == serving || Some(digest) == refused {
                    return Attempt::Unchanged;
                }
                match files::parse(&cert, &key, &cert_bytes, &key_bytes) {
                    Ok(loaded) => Attempt::Loaded(loaded),
                    Err(why) => Attempt::Refused(why, Some(digest)),
                }
            });
            match attempt.await {
                Ok(Attempt::Unchanged) => {}
                Ok(Attempt::Loaded(loaded)) => {
                    serving = loaded.digest;
                    (refused, last_error) = (None, None);
                    swap(&rustls, &status, loaded, "the certificate files changed");
                }
                Ok(Attempt::Refused(why, digest)) => {
                    refused = digest;
                    if last_error.as_ref() != Some(&why) {
                        tracing::warn!("{why}; still serving the previous certificate");
                        last_error = Some(why.clone());
                        status.send_modify(|s| s.last_error = Some(why));
                    }
                }
                Err(e) => tracing::warn!("reloading the TLS certificate failed: {e}"),
            }
        }
    })
}

/// One look at the files.
enum Attempt {
    /// What is served, or what was refused already.
    Unchanged,
    Loaded(Loaded),
    /// Why not, and what the files held (if they could be read).
    Refused(String, Option<[u8; 32]>),
}

/// The directory of a file (`.` for a bare name).
fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Serves `loaded` from the next handshake on.
fn swap(rustls: &RustlsConfig, status: &watch::Sender<TlsStatus>, loaded: Loaded, why: &str) {
    rustls.reload_from_config(loaded.config);
    tracing::info!(
        "TLS: {why}: now serving the certificate for {} (valid until {}, SHA-256 {})",
        loaded.info.names.join(", "),
        loaded.info.valid_until(),
        loaded.info.sha256
    );
    status.send_modify(|s| {
        s.certificate = loaded.info;
        s.reloads += 1;
        s.last_error = None;
    });
}

/// Opens (or makes) the local CA in `dir` and the leaf for `names`.
pub(super) fn self_signed(dir: &Path, names: &[TlsName]) -> anyhow::Result<(LocalCa, Loaded)> {
    let (ca, created) = LocalCa::open(dir)?;
    if created {
        tracing::info!(
            "TLS: made a local CA in {} ({}; SHA-256 {}): devices trust it once, from the page /ca",
            dir.display(),
            ca.name(),
            ca.fingerprint()
        );
    }
    let loaded = leaf(&ca, names)?;
    Ok((ca, loaded))
}

/// The CA's leaf for `names` (issued again if need be), loaded.
fn leaf(ca: &LocalCa, names: &[TlsName]) -> anyhow::Result<Loaded> {
    let (issued, status) = ca.leaf(names, time::OffsetDateTime::now_utc())?;
    if let LeafStatus::Issued(why) = &status {
        tracing::info!("TLS: issued a new certificate ({why})");
    }
    let chain = vec![CertificateDer::from_pem_slice(issued.cert_pem.as_bytes())?];
    let info = CertificateInfo::from_der(&chain[0])
        .ok_or_else(|| anyhow::anyhow!("the issued certificate does not parse"))?;
    let key = PrivateKeyDer::from_pem_slice(issued.key_pem.as_bytes())?;
    let config = server_config(chain, key)?;
    Ok(Loaded {
        config: std::sync::Arc::new(config),
        info,
        digest: files::digest(issued.cert_pem.as_bytes(), issued.key_pem.as_bytes()),
    })
}

/// Issues the leaf again before it ends, while the relay runs for months.
pub(super) fn renew_self_signed(
    ca: LocalCa,
    names: Vec<TlsName>,
    rustls: RustlsConfig,
    status: watch::Sender<TlsStatus>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let ca = std::sync::Arc::new(ca);
    tokio::spawn(async move {
        let mut check = tokio::time::interval(RENEW_CHECK);
        check.tick().await;
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = check.tick() => {}
            }
            let (ca, names) = (ca.clone(), names.clone());
            match tokio::task::spawn_blocking(move || leaf(&ca, &names)).await {
                Ok(Ok(loaded)) if loaded.info != status.borrow().certificate => {
                    swap(&rustls, &status, loaded, "the certificate neared its end");
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::warn!("cannot renew the TLS certificate: {e:#}");
                    status.send_modify(|s| s.last_error = Some(format!("{e:#}")));
                }
                Err(e) => tracing::warn!("renewing the TLS certificate failed: {e}"),
            }
        }
    })
}
