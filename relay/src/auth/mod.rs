//! Who is calling, and what they may do.
//!
//! - [`Caller`]: a signed-in user (session cookie), the holder of a ticket
//!   (embeds, kiosks, share links), or — with `[auth] enabled = false` —
//!   anyone, as everything was before accounts.
//! - [`policy`]: every route's need, checked by one middleware before any
//!   handler runs; a route missing from the table is refused (deny by default).
//! - [`api`]: `/api/login`, `/api/logout`, `/api/me`.
//! - [`origin`], [`limit`]: the pure rules (origins; login attempts per address).
//!
//! Nothing here runs per frame: a socket is authenticated once, at `hello`, and
//! re-checked only when the database's revision moves (see [`Auth::watch`]).

pub mod admin;
pub mod api;
pub mod hosts;
pub mod limit;
pub mod origin;
pub mod policy;
pub mod tickets;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::http::{header, HeaderMap};
use sightline_store::{CameraGrant, Role, Secret, Store, StoreError};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use crate::config::AuthConfig;
use crate::error::{Error, ErrorKind};
use limit::LoginLimiter;

/// The session cookie's name over plain HTTP.
pub const COOKIE: &str = "sightline_session";
/// Its name under TLS: `__Host-` makes the browser insist on Secure, Path=/
/// and no Domain, so no other host or plain-HTTP page can plant one.
pub const COOKIE_TLS: &str = "__Host-sightline_session";
/// The header that carries the session's CSRF token on state-changing requests.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Argon2id verifications running at once: each takes ~19 MiB and ~17 ms of
/// one core, so two keep a 2-core relay serving video during a login storm.
const HASHING_AT_ONCE: usize = 2;
/// Every this many polls (an hour), expired sessions, links and shares are
/// deleted and audit entries older than [`AUDIT_KEEP_SECS`] pruned.
const HOUSEKEEPING_EVERY: u64 = 3600;
/// How long the audit log keeps an entry: a year.
pub const AUDIT_KEEP_SECS: i64 = 365 * 86_400;
/// How often the database's revision is polled for revocations (also those
/// made by `sightline-relay user …` in another process).
pub const REVISION_POLL: Duration = Duration::from_secs(1);

/// Who a request or socket belongs to.
#[derive(Debug, Clone)]
pub struct Caller {
    /// For logs, the audit log and `welcome`: a user name, `ticket:…`.
    pub name: String,
    pub role: Role,
    pub cameras: CameraGrant,
    pub via: Via,
}

/// How the caller proved who they are.
#[derive(Debug, Clone)]
pub enum Via {
    /// Auth is disabled: everyone may do everything.
    Open,
    /// The app's session cookie.
    Session {
        user_id: i64,
        /// The user's generation when the session was checked: tickets
        /// minted from it die when the password, role or cameras change.
        generation: i64,
        token: Secret,
        csrf: Secret,
    },
    /// A metrics scraper with `[auth] metrics_token`: `/metrics` only.
    Metrics,
    /// A ticket presented in `hello` (its claims, never the ticket itself).
    Ticket {
        kid: String,
        claims: Arc<sightline_ticket::Claims>,
    },
    /// `Authorization: Bearer` with an API key, a kiosk device's or a share
    /// link's token: good for minting tickets only. `sub` is the issuer a
    /// ticket will name (`key:3`, `device:2`, `share:12`).
    Bearer { sub: String },
}

impl Caller {
    /// Anyone, when auth is disabled.
    pub fn open() -> Caller {
        Caller {
            name: "anyone".into(),
            role: Role::Admin,
            cameras: CameraGrant::All,
            via: Via::Open,
        }
    }

    /// A scraper of `/metrics` (the only route that takes the metrics token).
    pub fn metrics_scraper() -> Caller {
        Caller {
            name: "metrics-scraper".into(),
            role: Role::Viewer,
            cameras: CameraGrant::none(),
            via: Via::Metrics,
        }
    }

    pub fn may_view(&self, camera: &str) -> bool {
        self.cameras.allows(camera)
    }

    /// The role that may steer PTZ cameras (in the grant): operators and admins.
    pub fn may_steer(&self) -> bool {
        self.role.allows(Role::Operator)
    }

    /// Refuses a caller whose role is below `needed`.
    pub fn require(&self, needed: Role) -> Result<(), Error> {
        if self.role.allows(needed) {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::Forbidden,
                format!(
                    "this needs the {needed} role; {} is {}",
                    self.name, self.role
                ),
            ))
        }
    }
}

/// The relay's authentication state, shared by every request and socket.
pub struct Auth {
    pub config: AuthConfig,
    store: Option<Arc<Store>>,
    /// Served over TLS (cookie name and flags, the own origin's scheme).
    pub tls: bool,
    /// The names answered to while auth is off (DNS rebinding).
    pub hosts: hosts::AllowedHosts,
    limiter: Mutex<LoginLimiter>,
    hashing: Arc<Semaphore>,
    revision: watch::Receiver<i64>,
    /// The node whose accounts this relay copies (`[cluster] accounts`).
    accounts_copy_of: Option<String>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("enabled", &self.config.enabled)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// `store` is required when auth is enabled. The returned task polls the
    /// revision until `shutdown`. `certificate_names`: the DNS names of the
    /// relay's own certificate, answered to like `[auth] hosts`.
    /// `accounts_copy_of`: the node whose accounts this relay copies (it
    /// then refuses to change them).
    pub fn new(
        config: AuthConfig,
        store: Option<Arc<Store>>,
        tls: bool,
        certificate_names: &[String],
        accounts_copy_of: Option<String>,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<Arc<Auth>> {
        if config.enabled && store.is_none() {
            anyhow::bail!("auth is enabled but the relay has no database (no data directory)");
        }
        let (revision_tx, revision) = watch::channel(0);
        if let Some(store) = store.clone() {
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(REVISION_POLL);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut polls: u64 = 0;
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = shutdown.changed() => return,
                    }
                    polls += 1;
                    if polls % HOUSEKEEPING_EVERY == 1 {
                        let store = store.clone();
                        let swept = tokio::task::spawn_blocking(move || {
                            let now = sightline_store::unix_now();
                            Ok::<_, StoreError>((
                                store.purge_expired(now)?,
                                store.prune_audit(now - AUDIT_KEEP_SECS)?,
                            ))
                        })
                        .await;
                        match swept {
                            Ok(Ok((expired, old))) => {
                                tracing::debug!(expired, old, "database housekeeping")
                            }
                            Ok(Err(e)) => tracing::warn!("database housekeeping failed: {e:#}"),
                            Err(e) => tracing::warn!("database housekeeping failed: {e:#}"),
                        }
                    }
                    let store = store.clone();
                    match tokio::task::spawn_blocking(move || store.revision()).await {
                        Ok(Ok(now)) => {
                            revision_tx
                                .send_if_modified(|seen| std::mem::replace(seen, now) != now);
                        }
                        Ok(Err(e)) => tracing::warn!("cannot read the database's revision: {e:#}"),
                        Err(e) => tracing::warn!("revision poll failed: {e:#}"),
                    }
                }
            });
        }
        let machine = gethostname::gethostname().to_string_lossy().into_owned();
        Ok(Arc::new(Auth {
            hosts: hosts::AllowedHosts::new(&config.hosts, &machine, certificate_names),
            config,
            store,
            tls,
            limiter: Mutex::default(),
            hashing: Arc::new(Semaphore::new(HASHING_AT_ONCE)),
            revision,
            accounts_copy_of,
        }))
    }

    /// The node whose accounts this relay keeps a read-only copy of, if
    /// any (`[cluster] accounts` names another node).
    pub fn accounts_copy_of(&self) -> Option<&str> {
        self.accounts_copy_of.as_deref()
    }

    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    /// Changes whenever something that can take access away was written.
    pub fn watch(&self) -> watch::Receiver<i64> {
        self.revision.clone()
    }

    /// Runs `f` on the database off the async threads.
    pub async fn db<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.store.clone().ok_or_else(|| {
            Error::new(ErrorKind::Unavailable, "the relay runs without a database")
        })?;
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(Error::internal)?
            .map_err(Error::from)
    }

    /// Like [`Auth::db`], for Argon2 work: at most [`HASHING_AT_ONCE`] at a time.
    pub async fn db_hashing<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        // The permit goes with the work onto its thread: a client that hangs
        // up does not free it while Argon2 still runs.
        let permit: OwnedSemaphorePermit = self
            .hashing
            .clone()
            .acquire_owned()
            .await
            .map_err(Error::internal)?;
        self.db(move |store| {
            let result = f(store);
            drop(permit);
            result
        })
        .await
    }

    /// One login attempt from `peer`.
    pub fn login_attempt(&self, peer: IpAddr) -> Result<(), Error> {
        let mut limiter = self.limiter.lock().unwrap_or_else(PoisonError::into_inner);
        limiter
            .attempt(peer, std::time::Instant::now())
            .map_err(|wait| {
                let secs = wait.as_secs() + 1;
                Error::new(
                    ErrorKind::RateLimited,
                    format!("too many sign-in attempts from your address: try again in {secs} s"),
                )
                .retry_after(secs)
            })
    }

    pub fn cookie_name(&self) -> &'static str {
        if self.tls {
            COOKIE_TLS
        } else {
            COOKIE
        }
    }

    /// `Set-Cookie` for a new session.
    pub fn session_cookie(&self, token: &Secret, max_age: i64) -> String {
        let secure = if self.tls { "; Secure" } else { "" };
        format!(
            "{}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
            self.cookie_name(),
            token.expose()
        )
    }

    /// `Set-Cookie` that removes the session cookie.
    pub fn clear_cookie(&self) -> String {
        self.session_cookie(&Secret::new(""), 0)
    }

    /// The caller named by the request's session cookie, if it is valid.
    pub async fn session_caller(&self, headers: &HeaderMap) -> Result<Option<Caller>, Error> {
        if !self.enabled() {
            return Ok(Some(Caller::open()));
        }
        let Some(token) = cookie(headers, self.cookie_name()) else {
            return Ok(None);
        };
        self.session_by_token(Secret::new(token)).await
    }

    async fn session_by_token(&self, token: Secret) -> Result<Option<Caller>, Error> {
        let now = sightline_store::unix_now();
        let lookup = token.clone();
        let Some(info) = self.db(move |s| s.session(lookup.expose(), now)).await? else {
            return Ok(None);
        };
        Ok(Some(Caller {
            name: info.user.name,
            role: info.user.role,
            cameras: info.user.cameras,
            via: Via::Session {
                user_id: info.user.id,
                generation: info.user.generation,
                token,
                csrf: info.csrf,
            },
        }))
    }

    /// The caller an `Authorization: Bearer` token stands for, if valid: an
    /// API key (`slk_…`), a kiosk device (`sld_…`) or a share link (`sls_…`).
    pub async fn bearer_caller(&self, headers: &HeaderMap) -> Result<Option<Caller>, Error> {
        let Some(token) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| Secret::new(t.trim()))
        else {
            return Ok(None);
        };
        let now = sightline_store::unix_now();
        self.db(move |s| {
            let token = token.expose();
            let caller = |sub: String, name: String, role, cameras| Caller {
                name,
                role,
                cameras,
                via: Via::Bearer { sub },
            };
            Ok(if token.starts_with(sightline_store::API_KEY_PREFIX) {
                s.api_key_by_token(token, now)?.map(|k| {
                    caller(
                        format!("key:{}", k.id),
                        format!("api-key:{}", k.name),
                        k.role,
                        k.cameras,
                    )
                })
            } else if token.starts_with(sightline_store::DEVICE_TOKEN_PREFIX) {
                s.device_by_token(token, now)?.map(|d| {
                    caller(
                        format!("device:{}", d.id),
                        format!("device:{}", d.name),
                        Role::Viewer,
                        d.cameras,
                    )
                })
            } else if token.starts_with(sightline_store::SHARE_TOKEN_PREFIX) {
                match s.share_by_token(token, now)? {
                    Some(share) => CameraGrant::only([share.camera.clone()])
                        .ok()
                        .map(|cameras| {
                            caller(
                                format!("share:{}", share.id),
                                format!("share:{}", share.id),
                                Role::Viewer,
                                cameras,
                            )
                        }),
                    None => None,
                }
            } else {
                None
            })
        })
        .await
    }

    /// Whether `caller` still may do what it could when it was authenticated
    /// (its session not ended, its user's role and cameras unchanged).
    pub async fn still_valid(&self, caller: &Caller) -> Result<bool, Error> {
        match &caller.via {
            Via::Open | Via::Metrics | Via::Bearer { .. } => Ok(true),
            Via::Ticket { kid, claims } => {
                let (kid, claims) = (kid.clone(), claims.clone());
                let now = sightline_store::unix_now();
                if claims.exp <= now {
                    return Ok(false);
                }
                let rights = self
                    .db(move |s| tickets::ticket_rights(s, &kid, &claims, now))
                    .await?;
                Ok(rights.is_some_and(|r| r.role == caller.role && r.cameras == caller.cameras))
            }
            Via::Session { token, .. } => Ok(match self.session_by_token(token.clone()).await? {
                Some(now) => now.role == caller.role && now.cameras == caller.cameras,
                None => false,
            }),
        }
    }

    /// The client's address: the peer's, or — when the peer is a trusted
    /// proxy — the last address in `X-Forwarded-For` that is not one.
    pub fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        client_ip(peer.ip(), headers, &self.config.trusted_proxies)
    }
}

fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Walk back from the nearest hop: each trusted proxy vouches for the one
    // before it; the first untrusted address is the client.
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

/// A cookie's value from the `Cookie` headers.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.7, 10.0.0.2"),
        );
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(
            client_ip(proxy, &headers, &trusted),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(stranger, &headers, &trusted), stranger);
        assert_eq!(client_ip(proxy, &headers, &[]), proxy);
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &trusted), proxy);
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; sightline_session=abc; b=2"),
        );
        assert_eq!(cookie(&headers, COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, COOKIE_TLS), None);
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("sightline_session="),
        );
        assert_eq!(cookie(&headers, COOKIE), Some("abc"));
    }
}
