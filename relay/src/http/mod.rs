//! The HTTP side: the router and its routes — `/ws` (the upgrade, then `ws`),
//! the sign-in API, `/api/cameras`, `/metrics`, `/healthz`, and the web app
//! with `/login` and `/kiosk`. Every route's need is in
//! [`auth::policy::ROUTES`](crate::auth::policy::ROUTES), enforced by one
//! middleware; the web app's static files are public (they hold no data).

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use tokio::sync::watch;
use tower::Layer as _;
use tower_http::cors::{Any, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

use crate::alerts;
use crate::auth::{self, admin, Auth, Caller};
use crate::error::{Error, ErrorKind};
use crate::hub::{metrics, Hub};
use crate::ws;

/// What every handler may reach.
#[derive(Clone)]
pub(crate) struct AppState {
    pub hub: Arc<Hub>,
    pub auth: Arc<Auth>,
    pub alerts: Arc<crate::alerts::Alerts>,
    pub ptz: Arc<crate::ptz::Ptz>,
    pub shutdown: watch::Receiver<bool>,
}

pub(crate) fn router(state: AppState, www: Option<PathBuf>) -> Router {
    let www = www.filter(|dir| dir.join("index.html").is_file());
    let page = |name: &str| match &www {
        Some(dir) => get_service_file(dir.join(name)),
        None => get(player_missing),
    };
    // Every route here goes through the policy middleware (`route_layer`
    // wraps the routes added before it): its need is looked up in the table.
    let routes = Router::new()
        .route("/ws", get(ws::upgrade))
        .route("/api/cameras", get(cameras))
        .route("/api/cameras/{id}/alerts", post(alerts::api::webhook))
        .route("/api/alerts", get(alerts::api::list))
        .route("/api/alerts/{id}", get(alerts::api::one))
        .route("/api/alerts/{id}/snapshot.jpg", get(alerts::api::snapshot))
        .route("/api/alerts/{id}/clip.mp4", get(alerts::api::clip))
        .route("/api/alerts/{id}/ack", post(alerts::api::ack))
        .route("/api/me", get(auth::api::me))
        .route("/api/login", post(auth::api::login))
        .route("/api/logout", post(auth::api::logout))
        .route("/api/tickets", post(auth::tickets::mint))
        .route("/api/users", get(admin::users).post(admin::add_user))
        .route(
            "/api/users/{name}",
            post(admin::change_user).delete(admin::remove_user),
        )
        .route("/api/users/{name}/link", post(admin::user_link))
        .route("/api/keys", get(admin::keys).post(admin::add_key))
        .route("/api/keys/{id}", delete(admin::revoke_key))
        .route("/api/devices", get(admin::devices).post(admin::add_device))
        .route("/api/devices/{id}", delete(admin::revoke_device))
        .route("/api/signing-keys", get(admin::signing_keys))
        .route("/api/signing-keys/rotate", post(admin::rotate_signing_key))
        .route("/api/signing-keys/{kid}", delete(admin::revoke_signing_key))
        .route("/api/audit", get(admin::audit))
        .route("/api/shares", get(admin::shares).post(admin::add_share))
        .route("/api/shares/{id}", delete(admin::revoke_share))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/ca.crt", get(crate::tls::ca_certificate))
        .route("/ca", get(crate::tls::ca_page))
        .route("/login", page("login.html"))
        .route("/kiosk", page("kiosk.html"))
        .route("/admin", page("admin.html"))
        .route("/share", page("share.html"))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::policy::check,
        ));
    // Pages of other origins embed `<cam-player>` with one script tag: they
    // load the player's script and Wasm from here, so the static files answer
    // any origin. Nothing under /api/ does (cookies stay on the relay's pages).
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD]);
    let app = match www {
        Some(dir) => routes.fallback_service(cors.layer(ServeDir::new(dir))),
        None => routes.fallback(player_missing),
    };
    // A span per request: what was asked (the path only: a query string may
    // carry something secret) and, once the policy knows, by whom.
    let trace = TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.uri().path(),
            user = tracing::field::Empty,
        )
    });
    app.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::policy::check_host,
    ))
    .with_state(state)
    .layer(trace)
}

fn get_service_file(path: PathBuf) -> axum::routing::MethodRouter<AppState> {
    axum::routing::get_service(ServeFile::new(path))
}

/// A JSON request body whose refusal speaks like every other error.
pub(crate) struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Error> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(Error::new(ErrorKind::BadRequest, rejection.body_text())),
        }
    }
}

/// The cameras this caller may see.
async fn cameras(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Json<Vec<sightline_wire::CameraInfo>> {
    Json(visible_cameras(&state.hub, &state.ptz, &caller))
}

/// The hub's cameras filtered by the caller's grant, with what their PTZ
/// offers this caller.
pub(crate) fn visible_cameras(
    hub: &Hub,
    ptz: &crate::ptz::Ptz,
    caller: &Caller,
) -> Vec<sightline_wire::CameraInfo> {
    let mut cameras = hub.cameras();
    cameras.retain(|c| caller.may_view(&c.id));
    let may_steer = caller.may_steer();
    for camera in &mut cameras {
        if let Some(features) = ptz.get(&camera.id).and_then(|c| c.features()) {
            camera.capabilities.ptz = true;
            camera.capabilities.ptz_features = Some(sightline_wire::PtzFeatures {
                control: may_steer,
                ..features
            });
        }
    }
    cameras
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics::render(&state.hub, &state.ptz),
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
