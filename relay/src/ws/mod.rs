//! The WebSocket: the upgrade ([`upgrade`]), then one [`session`] per page
//! over a [`socket`] whose frames are written without copying.

pub mod session;
pub mod socket;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;

use tracing::Instrument as _;

use crate::auth::policy::WsAccess;
use crate::http::AppState;

/// `GET /ws`: checks the upgrade request and hands the connection to a session.
pub(crate) async fn upgrade(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    State(state): State<AppState>,
    Extension(access): Extension<WsAccess>,
    mut request: Request,
) -> Response {
    let (response, pending) = match socket::accept(&mut request) {
        Ok(accepted) => accepted,
        Err(refusal) => {
            tracing::info!(%peer, "refused a WebSocket upgrade: {refusal}");
            return refusal.into_response();
        }
    };
    // Everything the session logs carries the peer, and the user once known.
    let span = tracing::info_span!("ws", %peer, user = tracing::field::Empty);
    if let Some(caller) = &access.caller {
        span.record("user", caller.name.as_str());
    }
    tokio::spawn(
        async move {
            match pending.open().await {
                Ok(socket) => session::run(socket, state, peer, access).await,
                Err(e) => tracing::info!("WebSocket upgrade failed: {e}"),
            }
        }
        .instrument(span),
    );
    response
}
