//! Tickets on the relay: minting them (`POST /api/tickets`, for a signed-in
//! user, an API key's backend, a kiosk device or a share link) and turning
//! one presented in `hello` back into a [`Caller`].
//!
//! A ticket's rights are never more than its issuer's *now*: at every check
//! the issuer (`sub`) is looked up again — a removed user, a revoked key,
//! device or share link, or a revoked signing key ends the ticket and the
//! sockets it opened (see [`Auth::still_valid`](super::Auth::still_valid)).
//! Verification is one HMAC-SHA256 and two indexed SQLite reads, done once
//! per socket, never per frame.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use sightline_store::{CameraGrant, Role, Store, StoreError};
use sightline_ticket::{Claims, TicketRole, DEFAULT_TTL_SECS, MAX_TTL_SECS};

use super::origin;
use super::{Auth, Caller, Via};
use crate::error::{Error, ErrorKind};
use crate::http::{AppState, JsonBody};

/// A ticket's issuer as the database has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Issuer {
    /// For logs and `welcome`: a user's name, `device:lobby`, `share:12`, `key:3`.
    pub name: String,
    pub role: Role,
    pub cameras: CameraGrant,
}

/// What a ticket's issuer (`sub`) may grant now; `None` if it is gone or
/// revoked. A user is named `user:ID:GENERATION`, so that a new password,
/// role or camera list (or the user removed and a namesake added) ends the
/// tickets minted before.
pub(crate) fn issuer(store: &Store, sub: &str, now: i64) -> Result<Option<Issuer>, StoreError> {
    let Some((kind, id)) = sub.split_once(':') else {
        return Ok(None);
    };
    let number = || id.parse::<i64>().ok();
    let issuer = |name: String, role, cameras| Issuer {
        name,
        role,
        cameras,
    };
    Ok(match kind {
        "user" => {
            let Some((id, generation)) = id.split_once(':') else {
                return Ok(None);
            };
            let (Ok(id), Ok(generation)) = (id.parse::<i64>(), generation.parse::<i64>()) else {
                return Ok(None);
            };
            store
                .user(id)?
                .filter(|u| u.generation == generation)
                .map(|u| issuer(u.name, u.role, u.cameras))
        }
        "key" => store
            .api_keys()?
            .into_iter()
            .find(|k| Some(k.id) == number() && k.revoked_at.is_none())
            .map(|k| issuer(format!("key:{}", k.name), k.role, k.cameras)),
        "device" => store
            .devices()?
            .into_iter()
            .find(|d| Some(d.id) == number() && d.revoked_at.is_none())
            .map(|d| issuer(format!("device:{}", d.name), Role::Viewer, d.cameras)),
        "share" => {
            let share = store
                .shares(None)?
                .into_iter()
                .find(|s| Some(s.id) == number() && s.revoked_at.is_none() && s.expires_at > now);
            match share {
                Some(share) => {
                    // The link is worth what its creator may still see.
                    let creator_sees = store
                        .user(share.created_by)?
                        .is_some_and(|u| u.cameras.allows(&share.camera));
                    let name = format!("share:{}", share.id);
                    creator_sees
                        .then(|| CameraGrant::only([share.camera]).ok())
                        .flatten()
                        .map(|cameras| issuer(name, Role::Viewer, cameras))
                }
                None => None,
            }
        }
        _ => None,
    })
}

fn role_of(role: TicketRole) -> Role {
    match role {
        TicketRole::View => Role::Viewer,
        TicketRole::Operate => Role::Operator,
    }
}

fn grant_of(cameras: &[String]) -> Option<CameraGrant> {
    match cameras {
        [all] if all == "*" => Some(CameraGrant::All),
        ids => CameraGrant::only(ids.iter().cloned()).ok(),
    }
}

/// What a verified ticket gives now: its claims, capped by its issuer's
/// rights; `None` if its key or its issuer was revoked.
pub(crate) fn ticket_rights(
    store: &Store,
    kid: &str,
    claims: &Claims,
    now: i64,
) -> Result<Option<Issuer>, StoreError> {
    if store.signing_key_by_id(kid)?.is_none() {
        return Ok(None);
    }
    claims_rights(store, claims, now)
}

/// [`ticket_rights`] for a ticket whose signing key was just read to verify it.
fn claims_rights(store: &Store, claims: &Claims, now: i64) -> Result<Option<Issuer>, StoreError> {
    let Some(issuer) = issuer(store, &claims.sub, now)? else {
        return Ok(None);
    };
    let Some(cameras) = grant_of(&claims.cameras) else {
        return Ok(None);
    };
    Ok(Some(Issuer {
        name: issuer.name,
        role: role_of(claims.role).min(issuer.role),
        cameras: cameras.intersect(&issuer.cameras),
    }))
}

impl Auth {
    /// The caller a ticket in `hello` stands for. `origin` is the page's
    /// (normalised), `None` for a client that sent no `Origin`.
    pub async fn ticket_caller(&self, ticket: &str, origin: Option<&str>) -> Result<Caller, Error> {
        let refuse = |why: String| Error::new(ErrorKind::Unauthenticated, why);
        if !self.enabled() {
            return Ok(Caller::open());
        }
        let kid = sightline_ticket::kid_of(ticket)
            .map_err(|e| refuse(format!("the ticket is not valid: {e}")))?
            .to_owned();
        let key = self
            .db(move |s| s.signing_key_by_id(&kid))
            .await?
            .ok_or_else(|| {
                refuse("the ticket's signing key is unknown or revoked: get a fresh ticket".into())
            })?;
        let now = sightline_store::unix_now();
        let claims = sightline_ticket::verify(ticket, &key.secret, now, origin)
            .map_err(|e| refuse(format!("the ticket is not valid: {e}")))?;
        let claims = Arc::new(claims);
        let checked = claims.clone();
        let rights = self
            .db(move |s| claims_rights(s, &checked, now))
            .await?
            .ok_or_else(|| {
                refuse(
                    "the ticket was revoked (its issuer no longer exists, changed, or was revoked)"
                        .into(),
                )
            })?;
        Ok(Caller {
            name: rights.name,
            role: rights.role,
            cameras: rights.cameras,
            via: Via::Ticket {
                kid: key.kid,
                claims,
            },
        })
    }
}

/// `POST /api/tickets`'s body; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    /// `"*"` or camera ids; default: all the caller may see.
    #[serde(default)]
    cameras: Option<CameraGrant>,
    /// `view` (default) or `operate`.
    #[serde(default)]
    role: Option<TicketRole>,
    /// The origin of the page that will use it; default: the relay's own.
    #[serde(default)]
    audience: Option<String>,
    /// Seconds; default 300, at most 3600.
    #[serde(default)]
    ttl: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct Minted {
    pub ticket: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub cameras: CameraGrant,
    pub role: TicketRole,
}

/// `POST /api/tickets`: a ticket for the caller — a signed-in user (with the
/// CSRF token), or `Authorization: Bearer` with an API key (a web
/// developer's backend), a kiosk device's token or a share link's token.
pub async fn mint(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Extension(caller): Extension<Caller>,
    JsonBody(request): JsonBody<MintRequest>,
) -> Result<Json<Minted>, Error> {
    let auth = state.auth.clone();
    let bad = |why: String| Error::new(ErrorKind::BadRequest, why);
    let sub = match &caller.via {
        Via::Session {
            user_id,
            generation,
            ..
        } => format!("user:{user_id}:{generation}"),
        Via::Bearer { sub } => sub.clone(),
        _ => {
            return Err(Error::new(
                ErrorKind::Forbidden,
                "tickets are minted for a signed-in user or a bearer token",
            ))
        }
    };
    let ttl = request.ttl.unwrap_or(DEFAULT_TTL_SECS);
    let role = request.role.unwrap_or_default();
    if role_of(role) > caller.role {
        return Err(Error::new(
            ErrorKind::Forbidden,
            format!(
                "{} may not mint tickets with the {role:?} role",
                caller.name
            ),
        ));
    }
    let cameras = match &request.cameras {
        Some(asked) => asked.intersect(&caller.cameras),
        None => caller.cameras.clone(),
    };
    if cameras.is_empty() {
        return Err(Error::new(
            ErrorKind::Forbidden,
            "none of the asked cameras may be seen by this caller",
        ));
    }
    let own = origin::own(
        auth.tls,
        headers.get(header::HOST).and_then(|h| h.to_str().ok()),
    );
    let audience = match request.audience.as_deref() {
        None => own
            .clone()
            .ok_or_else(|| bad("no Host header: say the audience".into()))?,
        Some("*") if matches!(&caller.via, Via::Bearer { sub } if sub.starts_with("key:")) => {
            "*".to_owned()
        }
        Some(asked) => {
            let asked = origin::normalize(asked).map_err(|why| bad(format!("audience: {why}")))?;
            if own.as_deref() != Some(asked.as_str()) && !auth.config.embed_origins.contains(&asked)
            {
                return Err(bad(format!(
                    "audience {asked} is neither the relay's origin nor one of [auth] embed_origins: pages there could not use the ticket"
                )));
            }
            asked
        }
    };
    let now = sightline_store::unix_now();
    let claims = new_claims(sub.clone(), &cameras, role, audience.clone(), ttl, now)?;
    // A copy of the cluster's accounts signs with the managing relay's
    // key and never makes one of its own (it would be unknown elsewhere).
    let key = match auth.accounts_copy_of() {
        None => auth.db(move |s| s.signing_key(now)).await?,
        Some(node) => {
            let node = node.to_owned();
            auth.db(|s| s.current_signing_key()).await?.ok_or_else(|| {
                Error::new(
                    ErrorKind::Unavailable,
                    format!("this relay has no ticket signing key yet: it copies the cluster's accounts from relay {node:?}, which has not published them (is it running, and connected to NATS?)"),
                )
            })?
        }
    };
    let ticket =
        sightline_ticket::sign(&key.kid, &key.secret, &claims).map_err(|e| bad(e.to_string()))?;
    let detail = format!(
        "cameras {}; role {role:?}; audience {audience}; ttl {ttl} s; jti {}",
        serde_json::to_string(&cameras).unwrap_or_default(),
        claims.jti
    );
    super::api::audit_detail(
        &state,
        Some(sub),
        "ticket.mint",
        None,
        Some(detail),
        auth.client_ip(peer, &headers),
    )
    .await;
    Ok(Json(Minted {
        ticket,
        expires_at: claims.exp,
        cameras,
        role,
    }))
}

/// The claims of a new ticket from `sub` (its issuer, see [`issuer`]) for
/// `cameras` (already capped by the issuer's rights), with a fresh random
/// `jti`, living `ttl` seconds (1 to [`MAX_TTL_SECS`]). Used by
/// `POST /api/tickets` and by `sightline-relay user ticket`.
pub fn new_claims(
    sub: String,
    cameras: &CameraGrant,
    role: TicketRole,
    audience: String,
    ttl: i64,
    now: i64,
) -> Result<Claims, Error> {
    if !(1..=MAX_TTL_SECS).contains(&ttl) {
        return Err(Error::new(
            ErrorKind::BadRequest,
            format!("ttl must be from 1 to {MAX_TTL_SECS} seconds"),
        ));
    }
    let ids = match cameras {
        CameraGrant::All => vec!["*".to_owned()],
        CameraGrant::Only(ids) => ids.iter().cloned().collect(),
    };
    let nonce = sightline_store::secret::random_bytes::<16>().map_err(Error::from)?;
    Ok(Claims::new(sub, ids, audience, now, nonce)
        .with_role(role)
        .with_ttl(ttl))
}
