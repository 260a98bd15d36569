//! HTTPS: what makes the page a secure context for a LAN viewer, and so lets
//! the player use WebCodecs (the browser's hardware decoder) instead of the
//! Wasm fallback.
//!
//! - `--tls-cert/--tls-key`: the operator's PEM files ([`files`]), watched
//!   and re-read when they change ([`reload`]): a renewed certificate is
//!   served from the next connection on, with no restart. A bad new file is
//!   refused with the reason logged, and the previous certificate stays.
//! - `--tls self-signed`: the relay's own CA, made once in the data directory,
//!   and a certificate it issues for `names` ([`ca`], [`names`]); `/ca.crt`
//!   serves the CA and `/ca` explains how to trust it ([`page`]).
//! - `--http-redirect ADDR`: plain HTTP there sends browsers to HTTPS ([`redirect`]).
//!
//! rustls with the `ring` provider (passed explicitly: no process-wide
//! default to install or to clash with); HTTP/2 and HTTP/1.1 by ALPN. Key
//! material is never logged: errors name files, never their contents.

use std::io;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum_server::tls_rustls::RustlsConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use sha2::{Digest as _, Sha256};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use x509_parser::prelude::{FromDer as _, X509Certificate};

use crate::config::{TlsCertificate, TlsConfig};

pub mod ca;
mod files;
pub mod names;
mod page;
mod redirect;
mod reload;

pub use names::TlsName;
pub(crate) use page::{ca_certificate, ca_page, CaDownload};
pub(crate) use redirect::serve_redirect;

/// The directory of the data directory that holds the local CA and its leaf.
pub const TLS_DIR: &str = "tls";

/// rustls's `ring` provider: every TLS config of the relay uses it.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server config for this chain and key: TLS 1.3 and 1.2, HTTP/2 and
/// HTTP/1.1 (the WebSocket's upgrade) by ALPN. Fails if the key is not the
/// certificate's.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, rustls::Error> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// SHA-256 of a certificate (DER), `AB:CD:…`, as browsers and phones show it.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The certificate the relay serves, as far as anyone may know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// [`fingerprint`] of the leaf.
    pub sha256: String,
    /// The serial number, hex bytes separated by `:`.
    pub serial: String,
    /// Its DNS names and addresses.
    pub names: Vec<String>,
    /// The end of its validity (Unix seconds).
    pub not_after: i64,
}

impl CertificateInfo {
    /// Reads a leaf certificate (DER).
    pub fn from_der(der: &[u8]) -> Option<CertificateInfo> {
        let (_, x509) = X509Certificate::from_der(der).ok()?;
        Some(CertificateInfo {
            sha256: fingerprint(der),
            serial: x509.raw_serial_as_string(),
            names: ca::certificate_names(&x509)
                .iter()
                .map(ToString::to_string)
                .collect(),
            not_after: x509.validity().not_after.timestamp(),
        })
    }

    /// `2027-05-01`: the last day it is valid.
    pub fn valid_until(&self) -> String {
        time::OffsetDateTime::from_unix_timestamp(self.not_after)
            .map(|t| t.date().to_string())
            .unwrap_or_else(|_| "?".into())
    }
}

/// What a TLS listener serves now, and how its reloads went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsStatus {
    pub certificate: CertificateInfo,
    /// Certificates loaded since the start (0: still the first).
    pub reloads: u64,
    /// Why the last attempt to load a changed file failed, until one succeeds.
    pub last_error: Option<String>,
}

/// The relay's TLS at run time.
pub(crate) struct Tls {
    /// What the acceptor serves; swapped in place on reload.
    pub rustls: RustlsConfig,
    pub status: watch::Receiver<TlsStatus>,
    /// The local CA, for `/ca.crt` (self-signed only).
    pub ca: Option<Arc<CaDownload>>,
    /// Watches the files (or the leaf's age) until shutdown.
    pub task: JoinHandle<()>,
}

/// Loads (or makes) the certificate and starts watching it.
pub(crate) async fn start(
    config: &TlsConfig,
    data: Option<&Path>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<Tls> {
    match &config.certificate {
        TlsCertificate::Files { cert, key } => {
            let (cert, key) = (cert.clone(), key.clone());
            let loaded = {
                let (cert, key) = (cert.clone(), key.clone());
                tokio::task::spawn_blocking(move || files::load(&cert, &key)).await?
            }
            .map_err(anyhow::Error::msg)?;
            tracing::info!(
                "TLS: serving the certificate {} for {} (valid until {}, SHA-256 {})",
                cert.display(),
                loaded.info.names.join(", "),
                loaded.info.valid_until(),
                loaded.info.sha256
            );
            let rustls = RustlsConfig::from_config(loaded.config.clone());
            let (status_tx, status) = watch::channel(TlsStatus {
                certificate: loaded.info.clone(),
                reloads: 0,
                last_error: None,
            });
            let task = reload::watch_files(
                cert,
                key,
                loaded.digest,
                rustls.clone(),
                status_tx,
                shutdown,
            );
            Ok(Tls {
                rustls,
                status,
                ca: None,
                task,
            })
        }
        TlsCertificate::SelfSigned { names } => {
            let data = data
                .context("--tls self-signed keeps its CA in the data directory: give --data DIR")?;
            let dir = data.join(TLS_DIR);
            let names = if names.is_empty() {
                names::default_names()
            } else {
                names.clone()
            };
            let (ca, loaded) = {
                let names = names.clone();
                tokio::task::spawn_blocking(move || reload::self_signed(&dir, &names)).await??
            };
            let rustls = RustlsConfig::from_config(loaded.config.clone());
            let download = Arc::new(CaDownload {
                pem: ca.certificate_pem().to_owned(),
                fingerprint: ca.fingerprint(),
                name: ca.name(),
            });
            let (status_tx, status) = watch::channel(TlsStatus {
                certificate: loaded.info.clone(),
                reloads: 0,
                last_error: None,
            });
            let task = reload::renew_self_signed(ca, names, rustls.clone(), status_tx, shutdown);
            Ok(Tls {
                rustls,
                status,
                ca: Some(download),
                task,
            })
        }
    }
}

/// A loaded certificate, ready to serve.
pub(crate) struct Loaded {
    pub config: Arc<ServerConfig>,
    pub info: CertificateInfo,
    /// SHA-256 of the files as read (to notice a change).
    pub digest: [u8; 32],
}

/// HTTP/2 carries the host in the request's `:authority`, not in a `Host`
/// header; the relay's origin checks read `Host`. This puts it there.
pub(crate) async fn host_from_authority(mut request: Request) -> Request {
    if !request.headers().contains_key(header::HOST) {
        let host = request
            .uri()
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok());
        if let Some(host) = host {
            request.headers_mut().insert(header::HOST, host);
        }
    }
    request
}

/// An I/O error as an operator reads it: "permission denied", "no such file".
pub(crate) fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        io::ErrorKind::IsADirectory => "it is a directory".into(),
        _ => {
            let text = e.to_string();
            let text = match text.find(" (os error") {
                Some(at) => text[..at].to_owned(),
                None => text,
            };
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_http2_request_gets_its_host_header_from_the_authority() {
        let request = Request::builder()
            .uri("https://cams.example.lan:8443/api/me")
            .body(axum::body::Body::empty())
            .unwrap();
        let request = host_from_authority(request).await;
        assert_eq!(request.headers()[header::HOST], "cams.example.lan:8443");
        // An HTTP/1.1 request's own Host header is left as it is.
        let request = Request::builder()
            .uri("/api/me")
            .header(header::HOST, "other:1")
            .body(axum::body::Body::empty())
            .unwrap();
        let request = host_from_authority(request).await;
        assert_eq!(request.headers()[header::HOST], "other:1");
    }

    #[test]
    fn io_errors_read_as_sentences() {
        let denied = io::Error::from_raw_os_error(13);
        assert_eq!(io_reason(&denied), "permission denied");
        assert_eq!(
            io_reason(&io::Error::from(io::ErrorKind::NotFound)),
            "no such file"
        );
    }
}
