//! The real relay, started in this process on a loopback port, and a static
//! site of another origin for pages that embed the player.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::bail;
use sightline_relay::{CameraConfig, DemoOptions, Relay, RelayConfig, Source};

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
pub fn relay_config(cameras: Vec<(&str, Source)>) -> anyhow::Result<RelayConfig> {
    Ok(RelayConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        www: Some(www_dir()?),
        cameras: cameras
            .into_iter()
            .map(|(id, source)| CameraConfig {
                id: id.into(),
                name: format!("Camera {id}"),
                source,
            })
            .collect(),
    })
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
