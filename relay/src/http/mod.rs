//! The HTTP side: the router and its routes — `/ws` (the upgrade, then `ws`),
//! `/api/cameras`, `/metrics`, `/healthz`, and the web app with `/kiosk`;
//! CORS for what pages of other origins load to embed the player.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::sync::watch;
use tower_http::cors::{Any, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

use crate::error::{Error, ErrorKind};
use crate::hub::{metrics, Hub};
use crate::ws;

/// What every handler may reach.
#[derive(Clone)]
pub(crate) struct AppState {
    pub hub: Arc<Hub>,
    pub shutdown: watch::Receiver<bool>,
}

pub(crate) fn router(state: AppState, www: Option<PathBuf>) -> Router {
    // Pages of other origins embed `<cam-player>` with one script tag: they load
    // the player's script and Wasm from here and list the cameras, so those
    // answer any origin. What a page may then watch is the WebSocket's business.
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD]);
    let api = Router::new()
        .route("/ws", get(ws::upgrade))
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
    // A span per request: what was asked (the path only: a query string may
    // one day carry something secret) and, once known, by whom.
    let trace = TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.uri().path(),
            user = tracing::field::Empty,
        )
    });
    app.with_state(state).layer(trace)
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

async fn player_missing() -> Error {
    Error::new(
        ErrorKind::Unavailable,
        "The Sightline web player is not built or --www points elsewhere. \
         Run `cargo xtask run` from the source tree: it builds the player and starts the relay.",
    )
}
