//! The real relay, started in this process on a loopback port, and a static
//! site of another origin for pages that embed the player.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::bail;
use sightline_relay::{AuthConfig, CameraConfig, DemoOptions, Relay, RelayConfig, Source};

/// The built web app.
pub fn www_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::var_os("SIGHTLINE_WWW")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/www"));
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
/// Without accounts (`[auth] enabled = false`, no database): the suites that use
/// it test video; `tests/tests/auth.rs` tests who may watch, with [`secured`].
pub fn relay_config(cameras: Vec<(&str, Source)>) -> anyhow::Result<RelayConfig> {
    let mut config = bare_config(cameras);
    config.www = Some(www_dir()?);
    // Pages of any origin may connect (the embedding example is served by
    // another origin), as `embed_origins = ["*"]` in a config file.
    config.auth.embed_origins = vec!["*".into()];
    Ok(config)
}

/// The relay with these cameras on 127.0.0.1:0, without the web app, accounts
/// or TLS: for suites that speak HTTP and the protocol only.
pub fn bare_config(cameras: Vec<(&str, Source)>) -> RelayConfig {
    RelayConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        www: None,
        cameras: cameras
            .into_iter()
            .map(|(id, source)| CameraConfig::new(id, format!("Camera {id}"), source))
            .collect(),
        data: None,
        auth: AuthConfig::disabled(),
        tls: None,
        alerts: Default::default(),
        mqtt: None,
        ptz_lease: sightline_relay::ptz::rules::LEASE,
        cluster: None,
    }
}

/// `config` with accounts on and a fresh data directory (removed when the
/// returned guard drops).
pub fn secured(mut config: RelayConfig) -> anyhow::Result<(RelayConfig, tempfile::TempDir)> {
    let data = tempfile::Builder::new()
        .prefix("sightline-data-")
        .tempdir()?;
    config.data = Some(data.path().to_owned());
    config.auth = AuthConfig::default();
    Ok((config, data))
}

/// Signs `user` in over HTTP (`POST /api/login`): the session cookie
/// (`name=value`) and its CSRF token.
pub async fn sign_in(
    relay: SocketAddr,
    user: &str,
    password: &str,
) -> anyhow::Result<(String, String)> {
    let body = serde_json::json!({ "user": user, "password": password }).to_string();
    let answer = crate::http_request(
        "POST",
        &format!("http://{relay}/api/login"),
        &[("content-type", "application/json")],
        &body,
    )
    .await?;
    anyhow::ensure!(answer.status == 200, "sign-in refused: {answer:?}");
    let cookie = answer
        .cookie()
        .ok_or_else(|| anyhow::anyhow!("no session cookie"))?;
    let csrf = answer.json()["csrf"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no CSRF token"))?
        .to_owned();
    Ok((cookie, csrf))
}

/// A relay camera's `onvif` for the simulator `sim`: its address and the
/// credentials it takes now. (Here, not in the simulator: `crates/onvif`'s
/// tests build the simulator without the relay.)
pub fn onvif_source(
    sim: &crate::onvif::OnvifSim,
) -> anyhow::Result<sightline_relay::config::OnvifSource> {
    let (username, password) = sim.credentials();
    Ok(sightline_relay::config::OnvifSource {
        url: sim.device_url().parse()?,
        username: Some(username),
        password: Some(password),
        topics: Vec::new(),
    })
}

/// A demo camera's picture for suites that test anything but video: 160×96
/// at 5 fps, a keyframe a second (a few kB/s to encode and send).
pub fn tiny_demo() -> DemoOptions {
    DemoOptions {
        width: 160,
        height: 96,
        fps: 5,
        keyframe_every: 5,
        bitrate_bps: 100_000,
        ..DemoOptions::default()
    }
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

/// What a TLS handshake with the relay showed.
pub struct TlsHandshake {
    /// The certificates the relay presented (DER), its own first.
    pub chain: Vec<Vec<u8>>,
    /// TCP connect to handshake done.
    pub took: std::time::Duration,
    /// The protocol agreed by ALPN (`h2`, `http/1.1`).
    pub alpn: Option<Vec<u8>>,
    pub stream: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
}

/// A TLS client (rustls, `ring`) that trusts `ca_pem` alone, offering `alpn`.
fn tls_connector(ca_pem: &str, alpn: &[&[u8]]) -> anyhow::Result<tokio_rustls::TlsConnector> {
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert?)?;
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(tokio_rustls::TlsConnector::from(std::sync::Arc::new(
        config,
    )))
}

/// Connects to `addr` over TLS as `server_name` (SNI and the name checked),
/// trusting only `ca_pem`, offering HTTP/2 and HTTP/1.1. Fails if the relay's
/// certificate does not verify.
pub async fn tls_handshake(
    addr: SocketAddr,
    server_name: &str,
    ca_pem: &str,
) -> anyhow::Result<TlsHandshake> {
    handshake(addr, server_name, ca_pem, &[b"h2", b"http/1.1"]).await
}

async fn handshake(
    addr: SocketAddr,
    server_name: &str,
    ca_pem: &str,
    alpn: &[&[u8]],
) -> anyhow::Result<TlsHandshake> {
    let connector = tls_connector(ca_pem, alpn)?;
    let name = rustls::pki_types::ServerName::try_from(server_name.to_owned())?;
    let started = std::time::Instant::now();
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let stream = connector.connect(name, tcp).await?;
    let took = started.elapsed();
    let (_, session) = stream.get_ref();
    let chain = session
        .peer_certificates()
        .unwrap_or_default()
        .iter()
        .map(|c| c.to_vec())
        .collect();
    let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
    Ok(TlsHandshake {
        chain,
        took,
        alpn,
        stream,
    })
}

/// Any request over HTTPS (HTTP/1.1) to `addr` as `server_name`, trusting
/// only `ca_pem`; any status is an answer (the caller checks it).
pub async fn https_request(
    addr: SocketAddr,
    server_name: &str,
    ca_pem: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> anyhow::Result<crate::Answer> {
    use http_body_util::{BodyExt, Full};
    let tls = handshake(addr, server_name, ca_pem, &[b"http/1.1"]).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls.stream)).await?;
    let driver = tokio::spawn(connection);
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(
            hyper::header::HOST,
            format!("{server_name}:{}", addr.port()),
        )
        .body(Full::new(hyper::body::Bytes::from(body.to_owned())))?;
    for (name, value) in headers {
        request.headers_mut().append(
            hyper::header::HeaderName::from_bytes(name.as_bytes())?,
            value.parse()?,
        );
    }
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await?.to_bytes();
    driver.abort();
    Ok(crate::Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        bytes: body,
    })
}

/// The first certificate of a PEM text, DER (what a TLS handshake shows).
pub fn pem_certificate(pem: &str) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject as _;
    rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .map(|c| c.to_vec())
        .unwrap_or_default()
}
