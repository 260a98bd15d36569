//! The sign-in API: `POST /api/login` (password, or a one-time sign-in link's
//! token), `POST /api/logout`, `GET /api/me` (who am I, and the CSRF token the
//! page sends back on every change).
//!
//! A login costs one Argon2id verification (~17 ms of a core, release build),
//! run off the async threads, at most two at once; an unknown user name costs
//! the same as a wrong password, so the answer's timing does not tell which.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use sightline_store::{AuditEntry, CameraGrant, Role, Secret, User};

use super::{Caller, Via};
use crate::error::{Error, ErrorKind};
use crate::http::{AppState, JsonBody};

/// `POST /api/login`'s body: a password, or a sign-in link's token.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    token: Option<String>,
}

/// `GET /api/me` (and a successful login).
#[derive(Debug, Serialize)]
pub struct Me {
    /// Whether the relay checks who is calling at all.
    pub auth: bool,
    pub user: Option<MeUser>,
    /// Echo it in `X-CSRF-Token` on every state-changing request.
    pub csrf: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct MeUser {
    pub name: String,
    pub role: Role,
    pub cameras: CameraGrant,
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<Response, Error> {
    let auth = state.auth.clone();
    if !auth.enabled() {
        return Ok(Json(me_of(&Caller::open())).into_response());
    }
    let client = auth.client_ip(peer, &headers);
    auth.login_attempt(client)?;
    let now = sightline_store::unix_now();
    let (user, how) = match body {
        LoginRequest {
            user: Some(name),
            password: Some(password),
            token: None,
        } => {
            let attempted = name.clone();
            let user = auth
                .db_hashing(move |s| s.verify_login(&name, &password))
                .await?;
            match user {
                Some(user) => (user, "password"),
                None => {
                    // Only a name that could be a user's: a password typed
                    // in the wrong field, or a megabyte of junk, stays out.
                    let target = if sightline_store::check_user_name(&attempted).is_ok() {
                        attempted
                    } else {
                        "(not a user name)".to_owned()
                    };
                    audit(&state, None, "login.fail", Some(target), client).await;
                    return Err(Error::new(
                        ErrorKind::Unauthenticated,
                        "wrong user name or password",
                    ));
                }
            }
        }
        LoginRequest {
            user: None,
            password: None,
            token: Some(token),
        } => match auth.db(move |s| s.redeem_signin_token(&token, now)).await? {
            Some(user) => (user, "sign-in link"),
            None => {
                audit(
                    &state,
                    None,
                    "login.fail",
                    Some("sign-in link".into()),
                    client,
                )
                .await;
                return Err(Error::new(
                    ErrorKind::Unauthenticated,
                    "this sign-in link was already used or has expired: sign in with your password, or ask an admin for a new link",
                ));
            }
        },
        _ => {
            return Err(Error::new(
                ErrorKind::BadRequest,
                "send {\"user\", \"password\"} or {\"token\"}",
            ))
        }
    };
    let ttl = auth.config.session_secs;
    let user_id = user.id;
    let session = auth
        .db(move |s| s.create_session(user_id, now, ttl))
        .await?;
    tracing::info!(user = %user.name, %client, "signed in with a {how}");
    audit(
        &state,
        Some(user.name.clone()),
        "login.ok",
        Some(how.into()),
        client,
    )
    .await;
    let caller = caller_of(user, session.token.clone(), session.csrf);
    let mut response = Json(me_of(&caller)).into_response();
    let cookie = auth.session_cookie(&session.token, ttl);
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie.parse().map_err(Error::internal)?);
    Ok(response)
}

pub async fn logout(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Extension(caller): Extension<Caller>,
) -> Result<Response, Error> {
    let auth = state.auth.clone();
    if let Via::Session { token, .. } = &caller.via {
        let token = token.clone();
        auth.db(move |s| s.delete_session(token.expose())).await?;
        audit(
            &state,
            Some(caller.name.clone()),
            "logout",
            None,
            auth.client_ip(peer, &headers),
        )
        .await;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        auth.clear_cookie().parse().map_err(Error::internal)?,
    );
    Ok(response)
}

pub async fn me(Extension(caller): Extension<Caller>) -> Json<Me> {
    Json(me_of(&caller))
}

fn caller_of(user: User, token: Secret, csrf: Secret) -> Caller {
    Caller {
        name: user.name,
        role: user.role,
        cameras: user.cameras,
        via: Via::Session {
            user_id: user.id,
            generation: user.generation,
            token,
            csrf,
        },
    }
}

fn me_of(caller: &Caller) -> Me {
    match &caller.via {
        Via::Open => Me {
            auth: false,
            user: None,
            csrf: None,
        },
        via => Me {
            auth: true,
            user: Some(MeUser {
                name: caller.name.clone(),
                role: caller.role,
                cameras: caller.cameras.clone(),
            }),
            csrf: match via {
                Via::Session { csrf, .. } => Some(csrf.expose().to_owned()),
                _ => None,
            },
        },
    }
}

/// Appends to the audit log; a failure to write it is logged, not fatal.
pub async fn audit(
    state: &AppState,
    actor: Option<String>,
    action: &str,
    target: Option<String>,
    peer: std::net::IpAddr,
) {
    audit_detail(state, actor, action, target, None, peer).await
}

/// [`audit`] with a detail (never a secret).
pub async fn audit_detail(
    state: &AppState,
    actor: Option<String>,
    action: &str,
    target: Option<String>,
    detail: Option<String>,
    peer: std::net::IpAddr,
) {
    let entry = AuditEntry {
        at: sightline_store::unix_now(),
        actor,
        action: action.to_owned(),
        target,
        detail,
        peer: Some(peer.to_string()),
    };
    if let Err(e) = state.auth.db(move |s| s.audit(&entry)).await {
        tracing::warn!("cannot write the audit log: {e:#}");
    }
}
