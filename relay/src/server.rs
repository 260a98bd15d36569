//! The HTTP side: routes (`/ws`, `/api/cameras`, `/metrics`, `/healthz`, the web
//! app with `/kiosk`; CORS for what pages of other origins load to embed the
//! player) and the relay's lifecycle — start the camera sources and the
//! listener, shut everything down gracefully.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower_http::cors::{Any, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

use crate::config::{RelayConfig, Source};
use crate::demo::DemoCamera;
use crate::hub::Hub;
use crate::{metrics, rtsp, socket, ws};

#[derive(Clone)]
struct AppState {
    hub: Arc<Hub>,
    shutdown: watch::Receiver<bool>,
}

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
        let app = router(
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

fn router(state: AppState, www: Option<PathBuf>) -> Router {
    // Pages of other origins embed `<cam-player>` with one script tag: they load
    // the player's script and Wasm from here and list the cameras, so those
    // answer any origin. What a page may then watch is the WebSocket's business.
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD]);
    let api = Router::new()
        .route("/ws", get(websocket))
        .route("/api/cameras", get(cameras).layer(cors.clone()))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }));
    let app = match www.filter(|dir| dir.join("index.html").is_file()) {
        Some(dir) => api.merge(
            Router::new()
                .route_service("/kiosk", ServeFile::new(dir.join("kiosk.html")))
                .fallback_service(ServeDir::new(dir))
                .layer(cors),
        ),
        None => api.fallback(player_missing),
    };
    app.with_state(state).layer(TraceLayer::new_for_http())
}

async fn websocket(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    State(state): State<AppState>,
    mut request: Request,
) -> Response {
    let (response, pending) = match socket::accept(&mut request) {
        Ok(accepted) => accepted,
        Err(refusal) => {
            tracing::info!(%peer, "refused a WebSocket upgrade: {}", refusal.why);
            return refusal.into_response();
        }
    };
    tokio::spawn(async move {
        match pending.open().await {
            Ok(socket) => ws::run(socket, state.hub, peer, state.shutdown).await,
            Err(e) => tracing::info!(%peer, "WebSocket upgrade failed: {e}"),
        }
    });
    response
}

async fn cameras(State(state): State<AppState>) -> Json<Vec<sightline_wire::CameraInfo>> {
    Json(state.hub.cameras())
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics::render(&state.hub),
    )
        .into_response()
}

async fn player_missing() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "The Sightline web player is not built or --www points elsewhere.\n\
         Run `cargo xtask run` from the source tree: it builds the player and starts the relay.\n",
    )
        .into_response()
}
