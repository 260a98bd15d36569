//! The relay's lifecycle: start the camera sources and the listener, shut
//! everything down gracefully.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{RelayConfig, Source};
use crate::http::{self, AppState};
use crate::hub::Hub;
use crate::ingest::demo::DemoCamera;
use crate::ingest::rtsp;

/// A running relay.
pub struct Relay {
    addr: SocketAddr,
    hub: Arc<Hub>,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    demo_cameras: Vec<DemoCamera>,
    rtsp_cameras: Vec<JoinHandle<()>>,
}

impl Relay {
    /// Binds the listen address, starts the cameras and serves.
    pub async fn start(config: RelayConfig) -> anyhow::Result<Relay> {
        let mut hub = Hub::default();
        let mut sources = Vec::new();
        for camera in &config.cameras {
            sources.push((
                hub.add_camera(&camera.id, &camera.name)?,
                camera.source.clone(),
            ));
        }
        let hub = Arc::new(hub);
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut demo_cameras = Vec::new();
        let mut rtsp_cameras = Vec::new();
        for (feed, source) in sources {
            match source {
                Source::Demo(options) => demo_cameras
                    .push(DemoCamera::start(feed, options).context("starting a demo camera")?),
                Source::Rtsp(rtsp) => {
                    rtsp_cameras.push(rtsp::spawn(feed, rtsp, shutdown_rx.clone()));
                }
                Source::Replay(options) => demo_cameras
                    .push(DemoCamera::replay(feed, options).context("starting a replay camera")?),
            }
        }
        let app = http::router(
            AppState {
                hub: hub.clone(),
                shutdown: shutdown_rx.clone(),
            },
            config.www,
        );
        let mut stop = shutdown_rx;
        let server = tokio::spawn(
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stop.changed().await;
            })
            .into_future(),
        );
        Ok(Relay {
            addr,
            hub,
            shutdown,
            server,
            demo_cameras,
            rtsp_cameras,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Closes every session, stops the cameras and waits for the server to end.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.server.await??;
        for camera in self.rtsp_cameras {
            camera.await?;
        }
        let cameras = self.demo_cameras;
        tokio::task::spawn_blocking(move || drop(cameras)).await?;
        Ok(())
    }
}
