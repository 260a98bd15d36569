//! `--http-redirect ADDR`: plain HTTP there answers every request with a
//! redirect to the same host, path and query over HTTPS on the relay's port.
//! It serves nothing else. 307, not 301/308: browsers do not remember it, so
//! turning TLS off later leaves no browser stuck on `https://`. No HSTS
//! either, for the same reason (and so that a device that does not trust
//! the local CA yet can still click through to `/ca`).

use std::future::IntoFuture as _;
use std::net::SocketAddr;

use anyhow::Context as _;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::{Error, ErrorKind};

/// Binds `addr` and serves redirects to HTTPS on `https_port` until shutdown.
pub(crate) async fn serve_redirect(
    addr: SocketAddr,
    https_port: u16,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<(SocketAddr, JoinHandle<std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (--http-redirect)"))?;
    let bound = listener.local_addr()?;
    let app = Router::new().fallback(move |headers: HeaderMap, uri: Uri| async move {
        redirect(&headers, &uri, https_port)
    });
    let task = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = shutdown.changed().await;
            })
            .into_future(),
    );
    Ok((bound, task))
}

fn redirect(headers: &HeaderMap, uri: &Uri, https_port: u16) -> Response {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    match location(host, https_port, path) {
        Some(location) => (
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, location)],
        )
            .into_response(),
        None => Error::new(
            ErrorKind::BadRequest,
            "this address only sends browsers to HTTPS, and the request named no valid host",
        )
        .into_response(),
    }
}

/// `https://HOST[:PORT]PATH` for a request's `Host` (its port replaced by
/// the HTTPS one; none for 443). `None` for a missing or malformed host.
fn location(host: Option<&str>, https_port: u16, path: &str) -> Option<String> {
    let host = host?.trim();
    let authority: axum::http::uri::Authority = host.parse().ok()?;
    if authority.as_str().contains('@') {
        return None;
    }
    let name = authority.host();
    if name.is_empty() {
        return None;
    }
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    let path = if path.starts_with('/') { path } else { "/" };
    Some(format!("https://{name}{port}{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_location_keeps_host_path_and_query_and_takes_the_https_port() {
        assert_eq!(
            location(Some("cams.lan:8080"), 8443, "/kiosk?cams=a,b").as_deref(),
            Some("https://cams.lan:8443/kiosk?cams=a,b")
        );
        assert_eq!(
            location(Some("cams.lan"), 443, "/").as_deref(),
            Some("https://cams.lan/")
        );
        assert_eq!(
            location(Some("[fd00::5]:80"), 8443, "/x").as_deref(),
            Some("https://[fd00::5]:8443/x")
        );
        assert_eq!(
            location(Some("192.168.1.5"), 8443, "/").as_deref(),
            Some("https://192.168.1.5:8443/")
        );
        for bad in [
            None,
            Some(""),
            Some("evil.example/x"),
            Some("u@evil.example"),
        ] {
            assert_eq!(location(bad, 443, "/"), None, "{bad:?}");
        }
    }
}
