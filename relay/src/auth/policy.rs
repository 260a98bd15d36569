//! Deny by default: every route states what it needs in [`ROUTES`], and one
//! middleware ([`check`]) enforces it before any handler runs. A route that
//! is served but missing from the table is refused to everyone, so a new
//! route cannot be reachable by accident; the end-to-end suite walks the
//! table and knocks on every route anonymously.
//!
//! Also here, for every state-changing request: a JSON body (a cross-site
//! `<form>` cannot send one), an `Origin`, if any, that is the relay's own,
//! and — for the app's cookie sessions — the session's CSRF token in
//! `X-CSRF-Token`, compared in constant time.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::origin::{self, Source};
use super::{Caller, Via, CSRF_HEADER};
use crate::error::{Error, ErrorKind};
use crate::http::AppState;

/// What a route needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Anyone: pages and assets the sign-in needs, the sign-in itself, health.
    Public,
    /// The WebSocket: `Origin` checked here, who it is decided at `hello`
    /// (session cookie, or a ticket).
    WebSocket,
    /// Anyone signed in; what they then see is filtered by their camera grant.
    Signed,
    /// Admins only.
    Admin,
    /// Admins, or a scraper with `[auth] metrics_token`.
    Metrics,
    /// Like `Signed`, or `Authorization: Bearer` with an API key, a kiosk
    /// device's token or a share link's token: minting tickets, listing the
    /// cameras the token may see.
    SignedOrToken,
}

/// One route and its need.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub need: Need,
    /// It changes the accounts a cluster shares (users, keys, devices,
    /// share links, signing keys): refused on a relay that keeps a copy
    /// (`[cluster] accounts` names another node).
    pub writes_accounts: bool,
}

const fn route(method: &'static str, path: &'static str, need: Need) -> Route {
    Route {
        method,
        path,
        need,
        writes_accounts: false,
    }
}

/// A route that changes the shared accounts.
const fn accounts(method: &'static str, path: &'static str, need: Need) -> Route {
    Route {
        method,
        path,
        need,
        writes_accounts: true,
    }
}

/// Every route the relay serves besides the web app's static files.
pub const ROUTES: &[Route] = &[
    route("GET", "/ws", Need::WebSocket),
    route("GET", "/api/cameras", Need::SignedOrToken),
    // Webhooks in: an API key (or a session) with the operator role and the
    // camera in its grant, checked by the handler.
    route("POST", "/api/cameras/{id}/alerts", Need::SignedOrToken),
    // Each checks the grant for the alert's camera, on every request.
    route("GET", "/api/alerts", Need::Signed),
    route("GET", "/api/alerts/{id}", Need::Signed),
    route("GET", "/api/alerts/{id}/snapshot.jpg", Need::Signed),
    route("GET", "/api/alerts/{id}/clip.mp4", Need::Signed),
    route("POST", "/api/alerts/{id}/ack", Need::Signed),
    route("GET", "/api/me", Need::Signed),
    route("POST", "/api/login", Need::Public),
    route("POST", "/api/logout", Need::Signed),
    route("POST", "/api/tickets", Need::SignedOrToken),
    route("GET", "/api/users", Need::Admin),
    accounts("POST", "/api/users", Need::Admin),
    accounts("POST", "/api/users/{name}", Need::Admin),
    accounts("DELETE", "/api/users/{name}", Need::Admin),
    route("POST", "/api/users/{name}/link", Need::Admin),
    route("GET", "/api/keys", Need::Admin),
    accounts("POST", "/api/keys", Need::Admin),
    accounts("DELETE", "/api/keys/{id}", Need::Admin),
    route("GET", "/api/devices", Need::Admin),
    accounts("POST", "/api/devices", Need::Admin),
    accounts("DELETE", "/api/devices/{id}", Need::Admin),
    route("GET", "/api/signing-keys", Need::Admin),
    accounts("POST", "/api/signing-keys/rotate", Need::Admin),
    accounts("DELETE", "/api/signing-keys/{kid}", Need::Admin),
    route("GET", "/api/audit", Need::Admin),
    route("GET", "/api/shares", Need::Signed),
    accounts("POST", "/api/shares", Need::Signed),
    accounts("DELETE", "/api/shares/{id}", Need::Signed),
    route("GET", "/metrics", Need::Metrics),
    route("GET", "/healthz", Need::Public),
    route("GET", "/ca.crt", Need::Public),
    route("GET", "/ca", Need::Public),
    route("GET", "/login", Need::Public),
    route("GET", "/kiosk", Need::Public),
    route("GET", "/admin", Need::Public),
    route("GET", "/share", Need::Public),
];

/// The route `method path`, if the table has it (HEAD goes with GET).
pub fn route_of(method: &Method, path: &str) -> Option<&'static Route> {
    let method = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    ROUTES.iter().find(|r| r.method == method && r.path == path)
}

/// What a WebSocket message needs from the socket's caller, checked by the
/// session ([`check_message`]) before it acts. The match is exhaustive: a
/// new message cannot be added without saying what it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageNeed<'a> {
    /// Only before `welcome`: says who the socket is.
    Hello,
    /// The camera in the caller's grant.
    View(&'a str),
    /// The camera in the caller's grant and the operator role (or admin).
    Steer(&'a str),
}

/// The need of a client message.
pub fn message_need(message: &sightline_wire::ClientMessage) -> MessageNeed<'_> {
    use sightline_wire::ClientMessage;
    match message {
        ClientMessage::Hello { .. } => MessageNeed::Hello,
        ClientMessage::Subscribe { camera, .. }
        | ClientMessage::Unsubscribe { camera, .. }
        | ClientMessage::Audio { camera, .. } => MessageNeed::View(camera),
        ClientMessage::Ptz { camera, .. } => MessageNeed::Steer(camera),
    }
}

/// Refuses a message `caller` (none before `hello`) may not send. A camera
/// outside the grant is answered exactly like one that does not exist
/// (`exists`: whether the relay has it), so the refusal does not tell.
pub fn check_message(
    need: MessageNeed<'_>,
    caller: Option<&Caller>,
    exists: impl Fn(&str) -> bool,
) -> Result<(), Error> {
    let camera = match need {
        MessageNeed::Hello => return Ok(()),
        MessageNeed::View(camera) | MessageNeed::Steer(camera) => camera,
    };
    let Some(caller) = caller else {
        return Err(Error::new(ErrorKind::Unauthenticated, "say hello first"));
    };
    if !caller.may_view(camera) || !exists(camera) {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!("no camera {camera:?}"),
        ));
    }
    if matches!(need, MessageNeed::Steer(_)) {
        caller.require(sightline_store::Role::Operator)?;
    }
    Ok(())
}

/// What the WebSocket upgrade hands to the session: who the cookie says the
/// caller is (only for the relay's own pages), and the page's origin (a
/// ticket's audience is checked against it).
#[derive(Debug, Clone)]
pub struct WsAccess {
    pub caller: Option<Caller>,
    pub origin: Option<String>,
}

/// The middleware: refuses what the route's need does not allow, and hands
/// the [`Caller`] (or [`WsAccess`]) to the handler as a request extension.
pub async fn check(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    match admit(&state, peer, &mut request).await {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            tracing::info!(%peer, "refused: {refusal}");
            refusal.into_response()
        }
    }
}

/// The middleware on every request, routes and static files alike: while
/// accounts are off, only the `Host` names of [`super::hosts`] are answered
/// (DNS rebinding). With accounts on, a rebound page has no cookie and no
/// ticket, and any name is served (reverse proxies, DDNS names).
pub async fn check_host(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // HTTP/2 without TLS (h2c, which no browser speaks) names the host in
    // the request's authority instead of a `Host` header.
    let host = match request.headers().get(header::HOST) {
        Some(h) => Some(h.to_str().unwrap_or("")),
        None => request.uri().authority().map(|a| a.as_str()),
    };
    if state.auth.enabled() || state.auth.hosts.allows(host) {
        return next.run(request).await;
    }
    // The name is not echoed back: the page asking is not to be trusted.
    tracing::info!(host = ?host, "refused: a Host this relay does not answer to while accounts are off");
    Error::new(
        ErrorKind::WrongHost,
        "this relay runs without accounts ([auth] enabled = false) and answers only to its addresses, localhost and the names in [auth] hosts: open it by one of those, or add this name to [auth] hosts",
    )
    .into_response()
}

async fn admit(state: &AppState, _peer: SocketAddr, request: &mut Request) -> Result<(), Error> {
    let auth = &state.auth;
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let Some(&Route {
        need,
        writes_accounts,
        ..
    }) = route_of(request.method(), &path)
    else {
        if ROUTES.iter().any(|r| r.path == path) {
            tracing::debug!(path, method = %request.method(), "method not allowed");
            return Err(Error::new(
                ErrorKind::MethodNotAllowed,
                format!("{} is not a method of {path}", request.method()),
            ));
        }
        tracing::error!(path, method = %request.method(), "a route without an access rule was refused: add it to auth::policy::ROUTES");
        return Err(Error::new(
            ErrorKind::Forbidden,
            "this route declares no access rule, so nobody may use it",
        ));
    };
    let headers = request.headers();
    let own = origin::own(
        auth.tls,
        headers.get(header::HOST).and_then(|h| h.to_str().ok()),
    );
    // An Origin that is not text is nobody's own: treated like `null`.
    let origin_header = headers
        .get(header::ORIGIN)
        .map(|h| h.to_str().unwrap_or("null"));
    let source = origin::classify(origin_header, own.as_deref(), &auth.config.embed_origins);
    let changes_state = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if changes_state && auth.enabled() {
        if !is_json(headers) {
            return Err(Error::new(
                ErrorKind::BadRequest,
                "send a JSON body with Content-Type: application/json",
            ));
        }
        if !matches!(source, Source::Same | Source::Missing) {
            return Err(Error::new(
                ErrorKind::Forbidden,
                "cross-site request refused: only the relay's own pages may change anything",
            ));
        }
    }
    let caller = match need {
        Need::Public => None,
        Need::WebSocket => {
            let caller = match (&source, auth.enabled()) {
                // Also without accounts: else any web site a LAN user visits
                // could stream the cameras through their browser.
                (Source::Foreign, _) => {
                    return Err(Error::new(
                        ErrorKind::Forbidden,
                        "pages of this origin may not open the relay's WebSocket: an admin can add it to [auth] embed_origins",
                    ))
                }
                (_, false) => Some(Caller::open()),
                // The cookie speaks only for the relay's own pages; embeds
                // and clients without an Origin bring a ticket.
                (Source::Same, true) => auth.session_caller(headers).await?,
                (Source::Embed(_) | Source::Missing, true) => None,
            };
            let origin = match source {
                Source::Same => own,
                Source::Embed(origin) => Some(origin),
                _ => None,
            };
            request.extensions_mut().insert(WsAccess {
                caller: caller.clone(),
                origin,
            });
            caller
        }
        // Without accounts there is nobody to administer: refusing keeps
        // users made in an open window from surviving into a closed one.
        Need::Admin if !auth.enabled() => {
            return Err(Error::new(
                ErrorKind::Unavailable,
                "the relay runs without accounts ([auth] enabled = false): there is nothing to administer",
            ))
        }
        Need::Signed | Need::Admin | Need::Metrics | Need::SignedOrToken => {
            let session = auth.session_caller(headers).await?;
            let bearer = match (&session, need) {
                (None, Need::SignedOrToken) => auth.bearer_caller(headers).await?,
                _ => None,
            };
            let caller = match session.or(bearer) {
                Some(caller) => caller,
                None if need == Need::Metrics && has_metrics_token(headers, auth) => {
                    Caller::metrics_scraper()
                }
                None => {
                    return Err(Error::new(
                        ErrorKind::Unauthenticated,
                        "sign in first (the session is missing, expired or was ended)",
                    ))
                }
            };
            if matches!(need, Need::Admin | Need::Metrics) && !matches!(caller.via, Via::Metrics) {
                caller.require(sightline_store::Role::Admin)?;
            }
            if changes_state {
                check_csrf(&caller, headers)?;
            }
            Some(caller)
        }
    };
    // After the caller is known: an anonymous one learns nothing of the
    // cluster.
    if writes_accounts {
        if let Some(node) = auth.accounts_copy_of() {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "this relay keeps a read-only copy of the cluster's accounts: make the change on relay {node:?}, which manages them ([cluster] accounts)"
                ),
            ));
        }
    }
    if let Some(caller) = caller {
        tracing::Span::current().record("user", caller.name.as_str());
        request.extensions_mut().insert(caller);
    }
    Ok(())
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// A cookie session's state-changing request must echo its CSRF token.
fn check_csrf(caller: &Caller, headers: &HeaderMap) -> Result<(), Error> {
    let Via::Session { csrf, .. } = &caller.via else {
        return Ok(());
    };
    let sent = headers
        .get(CSRF_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if sightline_store::secret::eq(sent, csrf.expose().as_bytes()) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Forbidden,
            "missing or wrong CSRF token (X-CSRF-Token): reload the page",
        ))
    }
}

fn has_metrics_token(headers: &HeaderMap, auth: &super::Auth) -> bool {
    let Some(expected) = &auth.config.metrics_token else {
        return false;
    };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|sent| {
            sightline_store::secret::eq(sent.trim().as_bytes(), expected.expose().as_bytes())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_listed_once() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(!(a.method == b.method && a.path == b.path), "{a:?} twice");
            }
        }
        assert_eq!(
            route_of(&Method::HEAD, "/api/me").map(|r| r.need),
            Some(Need::Signed)
        );
        assert_eq!(
            route_of(&Method::POST, "/api/cameras").map(|r| r.need),
            None
        );
        assert_eq!(route_of(&Method::GET, "/nowhere").map(|r| r.need), None);
    }

    #[test]
    fn every_change_to_the_shared_accounts_is_marked() {
        // Sign-in links stay on the relay that made them (not shared).
        let tables = [
            "/api/users",
            "/api/keys",
            "/api/devices",
            "/api/signing-keys",
            "/api/shares",
        ];
        for r in ROUTES {
            let expected = tables.iter().any(|t| r.path.starts_with(t))
                && r.method != "GET"
                && !r.path.ends_with("/link");
            assert_eq!(r.writes_accounts, expected, "{r:?}");
        }
    }

    #[test]
    fn every_message_states_its_need_and_it_is_enforced() {
        use sightline_store::{CameraGrant, Role};
        use sightline_wire::{ClientMessage, PtzAction, PROTOCOL_VERSION};
        let caller = |role, grant: &str| Caller {
            name: "u".into(),
            role,
            cameras: CameraGrant::parse(grant).unwrap(),
            via: Via::Open,
        };
        let exists = |c: &str| c == "a" || c == "b";
        let messages = |camera: &str| {
            [
                ClientMessage::Subscribe {
                    id: 1,
                    camera: camera.into(),
                    stream: sightline_wire::Stream::Main,
                },
                ClientMessage::Subscribe {
                    id: 5,
                    camera: camera.into(),
                    stream: sightline_wire::Stream::Sub,
                },
                ClientMessage::Unsubscribe {
                    id: 2,
                    camera: camera.into(),
                    stream: sightline_wire::Stream::Sub,
                },
                ClientMessage::Audio {
                    id: 4,
                    camera: camera.into(),
                    on: true,
                },
                ClientMessage::Ptz {
                    id: 3,
                    camera: camera.into(),
                    action: PtzAction::Stop {},
                },
            ]
        };
        let code = |who: Option<&Caller>, m: &ClientMessage| {
            check_message(message_need(m), who, exists)
                .map_err(|e| (e.kind(), e.message().replace("zz", "b")))
        };
        let hello = ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
            client: None,
            ticket: None,
        };
        assert_eq!(code(None, &hello), Ok(()));
        let viewer = caller(Role::Viewer, "a");
        let operator = caller(Role::Operator, "a");
        for (a, (b, zz)) in messages("a")
            .iter()
            .zip(messages("b").iter().zip(messages("zz").iter()))
        {
            assert_eq!(
                code(None, a).unwrap_err().0,
                ErrorKind::Unauthenticated,
                "{a:?}"
            );
            // Outside the grant: exactly like a camera that does not exist.
            for who in [&viewer, &operator] {
                let refused = code(Some(who), b).unwrap_err();
                assert_eq!(refused.0, ErrorKind::NotFound, "{b:?}");
                assert_eq!(Err(refused), code(Some(who), zz));
            }
            let steer = matches!(message_need(a), MessageNeed::Steer(_));
            match code(Some(&viewer), a) {
                Err((ErrorKind::Forbidden, _)) => assert!(steer, "{a:?}"),
                Ok(()) => assert!(!steer, "{a:?}"),
                other => panic!("{a:?}: {other:?}"),
            }
            assert_eq!(code(Some(&operator), a), Ok(()), "{a:?}");
        }
    }

    #[test]
    fn json_is_json() {
        let mut headers = HeaderMap::new();
        assert!(!is_json(&headers));
        headers.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!is_json(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert!(is_json(&headers));
    }
}
