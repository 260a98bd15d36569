//! The admin API behind `/admin` — users, API keys, kiosk devices, signing
//! keys, the audit log — and share links, which any signed-in user makes for
//! the cameras they may see. The policy table says who may call each route;
//! these handlers check what depends on the object (the camera of a share,
//! the creator of a share) and write every change to the audit log.
//!
//! Secrets (generated passwords, tokens, links) are in the answer to the
//! request that made them and nowhere else: the database keeps hashes.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use sightline_store::{
    ApiKey, AuditRecord, CameraGrant, Device, Role, Share, SigningKeyInfo, User, MAX_SHARE_SECS,
};

use super::{origin, Caller, Via};
use crate::error::{Error, ErrorKind};
use crate::http::{AppState, JsonBody};

/// Who is acting, from where, and the relay's origin as they reached it.
pub struct Actor {
    pub caller: Caller,
    pub ip: std::net::IpAddr,
    /// `http(s)://host[:port]` for links handed back.
    pub base: String,
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Actor, Error> {
        let caller = parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| Error::new(ErrorKind::Unauthenticated, "sign in first"))?;
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("no peer address")))?;
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok());
        let base = origin::own(state.auth.tls, host).unwrap_or_default();
        Ok(Actor {
            ip: state.auth.client_ip(peer, &parts.headers),
            caller,
            base,
        })
    }
}

impl Actor {
    async fn audit(&self, state: &AppState, action: &str, target: String, detail: Option<String>) {
        super::api::audit_detail(
            state,
            Some(self.caller.name.clone()),
            action,
            Some(target),
            detail,
            self.ip,
        )
        .await
    }

    fn user_id(&self) -> Result<i64, Error> {
        match &self.caller.via {
            Via::Session { user_id, .. } => Ok(*user_id),
            _ => Err(Error::new(
                ErrorKind::Forbidden,
                "this needs a signed-in user",
            )),
        }
    }
}

fn now() -> i64 {
    sightline_store::unix_now()
}

// ---- users ----------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    name: String,
    role: Role,
    cameras: CameraGrant,
    #[serde(default)]
    password: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    cameras: Option<CameraGrant>,
    #[serde(default)]
    password: Option<String>,
    /// Generate a new password (shown once in the answer).
    #[serde(default)]
    new_password: bool,
}

#[derive(Serialize)]
pub struct UserAnswer {
    user: User,
    /// Only when the relay generated it: shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<String>,
}

pub async fn users(State(state): State<AppState>) -> Result<Json<Vec<User>>, Error> {
    Ok(Json(state.auth.db(|s| s.users()).await?))
}

pub async fn add_user(
    State(state): State<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody<NewUser>,
) -> Result<Json<UserAnswer>, Error> {
    let (password, generated) = match body.password {
        Some(password) => (password, None),
        None => {
            let password = sightline_store::password::generate()?.into_exposed();
            (password.clone(), Some(password))
        }
    };
    let NewUser {
        name,
        role,
        cameras,
        ..
    } = body;
    let user = state
        .auth
        .db_hashing(move |s| s.add_user(&name, role, &cameras, &password))
        .await?;
    actor
        .audit(
            &state,
            "user.add",
            user.name.clone(),
            Some(format!("role {}", user.role)),
        )
        .await;
    Ok(Json(UserAnswer {
        user,
        password: generated,
    }))
}

pub async fn change_user(
    State(state): State<AppState>,
    actor: Actor,
    Path(name): Path<String>,
    JsonBody(change): JsonBody<UserChange>,
) -> Result<Json<UserAnswer>, Error> {
    let generated = if change.new_password {
        if change.password.is_some() {
            return Err(Error::new(
                ErrorKind::BadRequest,
                "give a password or ask for a new one, not both",
            ));
        }
        Some(sightline_store::password::generate()?.into_exposed())
    } else {
        None
    };
    let password = change.password.clone().or(generated.clone());
    let mut what = Vec::new();
    if let Some(role) = change.role {
        what.push(format!("role {role}"));
    }
    if change.cameras.is_some() {
        what.push("cameras".to_owned());
    }
    if password.is_some() {
        what.push("password".to_owned());
    }
    if what.is_empty() {
        return Err(Error::new(ErrorKind::BadRequest, "nothing to change"));
    }
    let target = name.clone();
    let user = state
        .auth
        .db_hashing(move |s| {
            if let Some(role) = change.role {
                s.set_role(&name, role)?;
            }
            if let Some(cameras) = &change.cameras {
                s.set_cameras(&name, cameras)?;
            }
            if let Some(password) = &password {
                s.set_password(&name, password)?;
            }
            s.user_by_name(&name)?
                .ok_or_else(|| sightline_store::StoreError::NotFound(format!("user {name:?}")))
        })
        .await?;
    actor
        .audit(&state, "user.change", target, Some(what.join(", ")))
        .await;
    Ok(Json(UserAnswer {
        user,
        password: generated,
    }))
}

pub async fn remove_user(
    State(state): State<AppState>,
    actor: Actor,
    Path(name): Path<String>,
) -> Result<StatusCode, Error> {
    let target = name.clone();
    state.auth.db(move |s| s.remove_user(&name)).await?;
    actor.audit(&state, "user.remove", target, None).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
pub struct Link {
    link: String,
}

/// How long a sign-in link made on the admin page works.
const LINK_SECS: i64 = 15 * 60;

pub async fn user_link(
    State(state): State<AppState>,
    actor: Actor,
    Path(name): Path<String>,
) -> Result<Json<Link>, Error> {
    let target = name.clone();
    let token = state
        .auth
        .db(move |s| {
            let user = s
                .user_by_name(&name)?
                .ok_or_else(|| sightline_store::StoreError::NotFound(format!("user {name:?}")))?;
            s.create_signin_token(user.id, now(), LINK_SECS)
        })
        .await?;
    actor.audit(&state, "user.link", target, None).await;
    Ok(Json(Link {
        link: crate::app::signin_link(&actor.base, token.expose()),
    }))
}

// ---- API keys -------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    name: String,
    /// The most its tickets may do: `viewer` (the default: least privilege)
    /// or `operator`.
    #[serde(default)]
    role: Option<Role>,
    /// The cameras its tickets may name, at most; default `*`.
    #[serde(default)]
    cameras: Option<CameraGrant>,
}

#[derive(Serialize)]
pub struct KeyAnswer {
    key: ApiKey,
    /// Shown once.
    token: String,
}

pub async fn keys(State(state): State<AppState>) -> Result<Json<Vec<ApiKey>>, Error> {
    Ok(Json(state.auth.db(|s| s.api_keys()).await?))
}

pub async fn add_key(
    State(state): State<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody<NewKey>,
) -> Result<Json<KeyAnswer>, Error> {
    let by = actor.user_id()?;
    let role = body.role.unwrap_or(Role::Viewer);
    let cameras = body.cameras.unwrap_or(CameraGrant::All);
    let (key, token) = state
        .auth
        .db(move |s| s.create_api_key(&body.name, role, &cameras, by, now()))
        .await?;
    actor
        .audit(
            &state,
            "key.add",
            format!("key:{}", key.id),
            Some(format!(
                "{}; role {}; cameras {}",
                key.name, key.role, key.cameras
            )),
        )
        .await;
    Ok(Json(KeyAnswer {
        key,
        token: token.into_exposed(),
    }))
}

pub async fn revoke_key(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> Result<StatusCode, Error> {
    revoked(
        state.auth.db(move |s| s.revoke_api_key(id, now())).await?,
        "API key",
    )?;
    actor
        .audit(&state, "key.revoke", format!("key:{id}"), None)
        .await;
    Ok(StatusCode::NO_CONTENT)
}

fn revoked(done: bool, what: &str) -> Result<(), Error> {
    if done {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::NotFound,
            format!("no such {what}, or it was revoked already"),
        ))
    }
}

// ---- kiosk devices --------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    name: String,
    cameras: CameraGrant,
}

#[derive(Serialize)]
pub struct DeviceAnswer {
    device: Device,
    /// Shown once.
    token: String,
    /// `…/kiosk#device=TOKEN`: open it on the kiosk.
    link: String,
}

pub async fn devices(State(state): State<AppState>) -> Result<Json<Vec<Device>>, Error> {
    Ok(Json(state.auth.db(|s| s.devices()).await?))
}

pub async fn add_device(
    State(state): State<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody<NewDevice>,
) -> Result<Json<DeviceAnswer>, Error> {
    let by = actor.user_id()?;
    let (device, token) = state
        .auth
        .db(move |s| s.create_device(&body.name, &body.cameras, by, now()))
        .await?;
    actor
        .audit(
            &state,
            "device.add",
            format!("device:{}", device.id),
            Some(device.name.clone()),
        )
        .await;
    let token = token.into_exposed();
    Ok(Json(DeviceAnswer {
        link: format!("{}/kiosk#device={token}", actor.base),
        device,
        token,
    }))
}

pub async fn revoke_device(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> Result<StatusCode, Error> {
    revoked(
        state.auth.db(move |s| s.revoke_device(id, now())).await?,
        "device",
    )?;
    actor
        .audit(&state, "device.revoke", format!("device:{id}"), None)
        .await;
    Ok(StatusCode::NO_CONTENT)
}

// ---- signing keys and the audit log ---------------------------------------

pub async fn signing_keys(
    State(state): State<AppState>,
) -> Result<Json<Vec<SigningKeyInfo>>, Error> {
    Ok(Json(state.auth.db(|s| s.signing_keys()).await?))
}

pub async fn rotate_signing_key(
    State(state): State<AppState>,
    actor: Actor,
) -> Result<StatusCode, Error> {
    let key = state.auth.db(|s| s.rotate_signing_key(now())).await?;
    actor
        .audit(&state, "signing-key.rotate", key.kid, None)
        .await;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn revoke_signing_key(
    State(state): State<AppState>,
    actor: Actor,
    Path(kid): Path<String>,
) -> Result<StatusCode, Error> {
    let target = kid.clone();
    revoked(
        state
            .auth
            .db(move |s| s.revoke_signing_key(&kid, now()))
            .await?,
        "signing key",
    )?;
    actor
        .audit(&state, "signing-key.revoke", target, None)
        .await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    #[serde(default)]
    before: Option<i64>,
    #[serde(default)]
    limit: Option<u32>,
}

pub async fn audit(
    State(state): State<AppState>,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditRecord>>, Error> {
    let limit = query.limit.unwrap_or(50);
    Ok(Json(
        state
            .auth
            .db(move |s| s.audit_page(query.before, limit))
            .await?,
    ))
}

// ---- share links ----------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewShare {
    camera: String,
    /// How long the link works, 1 to 168 hours.
    hours: i64,
}

#[derive(Serialize)]
pub struct ShareAnswer {
    share: Share,
    /// Shown once.
    token: String,
    /// `…/share#token=TOKEN`: send it to the guest.
    link: String,
}

/// Share links: the caller's own; an admin's answer has everybody's.
pub async fn shares(
    State(state): State<AppState>,
    actor: Actor,
) -> Result<Json<Vec<Share>>, Error> {
    let mine = if actor.caller.role.allows(Role::Admin) {
        None
    } else {
        Some(actor.user_id()?)
    };
    Ok(Json(state.auth.db(move |s| s.shares(mine)).await?))
}

pub async fn add_share(
    State(state): State<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody<NewShare>,
) -> Result<Json<ShareAnswer>, Error> {
    let by = actor.user_id()?;
    // A camera the caller may not see answers like one that does not exist.
    if !actor.caller.may_view(&body.camera) || state.hub.get(&body.camera).is_none() {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!("no camera {:?}", body.camera),
        ));
    }
    if !(1..=MAX_SHARE_SECS / 3600).contains(&body.hours) {
        return Err(Error::new(
            ErrorKind::BadRequest,
            "a share link lasts 1 to 168 hours (7 days)",
        ));
    }
    let at = now();
    let camera = body.camera.clone();
    let (share, token) = state
        .auth
        .db(move |s| s.create_share(&camera, by, at, at + body.hours * 3600))
        .await?;
    actor
        .audit(
            &state,
            "share.add",
            format!("share:{}", share.id),
            Some(format!("camera {}; {} h", share.camera, body.hours)),
        )
        .await;
    let token = token.into_exposed();
    Ok(Json(ShareAnswer {
        link: format!("{}/share#token={token}", actor.base),
        share,
        token,
    }))
}

pub async fn revoke_share(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> Result<StatusCode, Error> {
    let by = actor.user_id()?;
    let admin = actor.caller.role.allows(Role::Admin);
    revoked(
        state
            .auth
            .db(move |s| s.revoke_share(id, by, admin, now()))
            .await?,
        "share link",
    )?;
    actor
        .audit(&state, "share.revoke", format!("share:{id}"), None)
        .await;
    Ok(StatusCode::NO_CONTENT)
}
