//! Signed, short-lived access tickets for the relay's WebSocket.
//!
//! # Why tickets
//!
//! A browser cannot put an `Authorization` header on a WebSocket handshake, and
//! cookies would tie the relay to the embedding site's domain. So the site's
//! backend, which knows who the user is, asks the relay for a ticket (with an
//! API key), and the page passes it in the socket's first message (`hello`) —
//! never in a URL, which would end up in proxy logs and browser history. A
//! ticket is short-lived (minutes, [`MAX_TTL_SECS`] at most) and scoped
//! (cameras, role, origin), so a leaked one is worth little.
//!
//! # Format
//!
//! `st1.<kid>.<payload>.<sig>`, where `payload` is the base64url (no padding)
//! of the [`Claims`] as JSON, and `sig` is the base64url (no padding) of
//! HMAC-SHA256(key, `"st1.<kid>.<payload>"`). Every character is URL-safe, so a
//! ticket goes into a query string as is.
//!
//! - `st1` versions the format: a future `st2` cannot be confused with it, and
//!   the version is covered by the signature.
//! - `kid` names the key, so keys can be rotated: the relay keeps old and new
//!   keys side by side and picks one with [`kid_of`] or [`verify_with`].
//! - HMAC rather than public-key signatures: the signer and the relay are run
//!   by the same operator, and a shared 32-byte key is simple to configure.
//!
//! # What is checked, in which order, and why
//!
//! [`verify`] checks the length and the shape, then the signature (in constant
//! time), and only then decodes and parses the claims: bytes nobody signed
//! never reach the JSON parser, and nothing is allocated for them. Then it
//! checks the lifetime, the expiry, the issue time (allowing
//! [`CLOCK_SKEW_SECS`] of clock drift between signer and relay) and the
//! audience.
//!
//! The caller supplies the time and the key: this crate does no I/O and reads
//! no clock, so it builds for `wasm32-unknown-unknown` and its tests are
//! deterministic. Likewise the randomness for [`Claims::jti`] comes from the
//! caller ([`Claims::new`] takes a nonce).
//!
//! # What it does not do
//!
//! - Encrypt: anyone holding a ticket can read its claims. Put nothing secret
//!   in them.
//! - Revoke: tickets expire on their own; a relay that must cut one off sooner
//!   keeps its own deny list keyed by [`Claims::sub`] (or [`Claims::jti`]).
//! - Prevent replay within the lifetime: a ticket is a bearer token until it
//!   expires. The audience check stops other web sites from using a leaked
//!   ticket from a browser; it cannot stop a non-browser client, which sends no
//!   `Origin` (or any `Origin` it likes).
//!
//! # Example
//!
//! ```
//! use sightline_ticket::{sign, verify_with, Claims, TicketRole};
//!
//! // The key the backend and the relay share, under the key id "k1".
//! let key = [7u8; 32];
//! let now = 1_700_000_000; // unix seconds, from the caller's clock
//!
//! // Backend: mint a ticket for Alice, for one camera, for pages on one origin.
//! // The nonce must come from a CSPRNG; a constant is only fine in an example.
//! let claims = Claims::new(
//!     "user:alice",
//!     vec!["front-door".to_owned()],
//!     "https://shop.example:8443",
//!     now,
//!     [0x5a; 16],
//! )
//! .with_role(TicketRole::Operate);
//! let ticket = sign("k1", &key, &claims)?;
//!
//! // Relay: check it against the `Origin` header of the WebSocket handshake.
//! let claims = verify_with(&ticket, now + 5, Some("https://shop.example:8443"), |kid| {
//!     (kid == "k1").then_some(key)
//! })?;
//! assert!(claims.allows_camera("front-door"));
//! assert!(!claims.allows_camera("back-yard"));
//!
//! // Later, the same ticket has expired.
//! let err = verify_with(&ticket, now + 3_600, None, |_| Some(key)).unwrap_err();
//! assert!(err.is_expired());
//! # Ok::<(), sightline_ticket::TicketError>(())
//! ```

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

#[cfg(test)]
mod tests;

/// Lifetime [`Claims::new`] gives a ticket: long enough to load a page and
/// connect, short enough that a ticket copied out of a log is stale.
pub const DEFAULT_TTL_SECS: i64 = 300;

/// Longest lifetime (`exp - iat`) a ticket may have. [`sign`] refuses longer,
/// and [`verify`] refuses tickets that claim longer, whoever signed them.
pub const MAX_TTL_SECS: i64 = 3600;

/// How far in the future `iat` may be, to allow for the signer's clock running
/// ahead of the relay's.
pub const CLOCK_SKEW_SECS: i64 = 30;

/// Longest ticket accepted, in bytes. Checked before anything else, so an
/// oversized string costs nothing to refuse.
pub const MAX_TICKET_LEN: usize = 4096;

/// Longest key id, in characters.
pub const MAX_KID_LEN: usize = 32;

/// The format version, first part of every ticket.
const VERSION: &str = "st1";

/// HMAC-SHA256 tag length, and the length of its base64url (no padding) text.
const TAG_LEN: usize = 32;
const TAG_B64_LEN: usize = 43;

const MAX_SUB_LEN: usize = 256;
const MAX_CAMERA_ID_LEN: usize = 128;
const MAX_AUD_LEN: usize = 512;
const MAX_JTI_LEN: usize = 64;

type HmacSha256 = Hmac<Sha256>;

/// What a ticket lets its bearer do on the relay's WebSocket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TicketRole {
    /// Watch the listed cameras.
    #[default]
    View,
    /// Watch and control the listed cameras.
    Operate,
}

/// What a ticket says. Signed, but not encrypted: anyone holding the ticket
/// can read these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// Who the ticket acts for, as `kind:id`: `"user:alice"`, `"device:3"`,
    /// `"share:12"`, `"key:2"`. Used for revocation and in logs.
    pub sub: String,
    /// What the bearer may do; `"view"` when absent.
    #[serde(default)]
    pub role: TicketRole,
    /// Camera ids the ticket opens, or exactly `["*"]` for all of them.
    pub cameras: Vec<String>,
    /// The origin of the pages allowed to use the ticket, as
    /// `scheme://host[:port]` (e.g. `"https://shop.example:8443"`), or `"*"`
    /// for any.
    pub aud: String,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Expires at, unix seconds; the ticket is refused from this second on.
    pub exp: i64,
    /// A random id in hex, to follow one ticket through the logs.
    pub jti: String,
}

impl Claims {
    /// Claims for `sub`, valid from `now` for [`DEFAULT_TTL_SECS`], with the
    /// [`TicketRole::View`] role. `nonce` becomes [`Claims::jti`]: fill it from
    /// a cryptographically secure generator.
    pub fn new(
        sub: impl Into<String>,
        cameras: Vec<String>,
        aud: impl Into<String>,
        now: i64,
        nonce: [u8; 16],
    ) -> Claims {
        Claims {
            sub: sub.into(),
            role: TicketRole::View,
            cameras,
            aud: aud.into(),
            iat: now,
            exp: now.saturating_add(DEFAULT_TTL_SECS),
            jti: hex(&nonce),
        }
    }

    /// The same claims with another role.
    #[must_use]
    pub fn with_role(mut self, role: TicketRole) -> Claims {
        self.role = role;
        self
    }

    /// The same claims, expiring `ttl_secs` after `iat`. [`sign`] refuses a
    /// lifetime outside `1..=MAX_TTL_SECS`.
    #[must_use]
    pub fn with_ttl(mut self, ttl_secs: i64) -> Claims {
        self.exp = self.iat.saturating_add(ttl_secs);
        self
    }

    /// Whether the ticket opens camera `id`: `cameras` lists it, or is exactly
    /// `["*"]`.
    pub fn allows_camera(&self, id: &str) -> bool {
        match self.cameras.as_slice() {
            [only] if only == "*" => true,
            cameras => cameras.iter().any(|c| c == id),
        }
    }

    /// Checks what does not depend on the time. [`sign`] refuses claims that
    /// fail it, and [`verify`] refuses them too, whoever signed them. The
    /// reason names the field, for whoever wrote the signer.
    fn check_fields(&self) -> Result<(), String> {
        if self.sub.is_empty() || self.sub.len() > MAX_SUB_LEN || has_control(&self.sub) {
            return Err(format!(
                "`sub` must be 1 to {MAX_SUB_LEN} bytes without control characters, \
                 such as \"user:alice\""
            ));
        }
        if self.cameras.is_empty() {
            return Err("`cameras` is empty: list camera ids, or use [\"*\"] for all".to_owned());
        }
        if self.cameras.len() > 1 && self.cameras.iter().any(|c| c == "*") {
            return Err(
                "`cameras` mixes \"*\" with camera ids: use exactly [\"*\"] for all cameras"
                    .to_owned(),
            );
        }
        if self
            .cameras
            .iter()
            .any(|c| c.is_empty() || c.len() > MAX_CAMERA_ID_LEN || has_control(c))
        {
            return Err(format!(
                "each camera id in `cameras` must be 1 to {MAX_CAMERA_ID_LEN} bytes \
                 without control characters"
            ));
        }
        check_audience(&self.aud)?;
        if self.jti.is_empty()
            || self.jti.len() > MAX_JTI_LEN
            || !self.jti.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(format!(
                "`jti` must be 1 to {MAX_JTI_LEN} hex digits (Claims::new makes one from a nonce)"
            ));
        }
        Ok(())
    }

    /// `exp - iat` when it is within `1..=MAX_TTL_SECS`.
    fn lifetime_ok(&self) -> bool {
        self.exp
            .checked_sub(self.iat)
            .is_some_and(|ttl| (1..=MAX_TTL_SECS).contains(&ttl))
    }
}

/// Why a ticket was refused, or could not be signed. The messages are meant
/// for the web developer or operator who has to fix it; none of them repeats
/// the ticket or a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// The string is not shaped like a ticket; the reason says which part.
    #[error(
        "malformed ticket: {0}; pass the ticket exactly as your backend returned it \
         (st1.<kid>.<payload>.<signature>)"
    )]
    Malformed(&'static str),
    /// Longer than [`MAX_TICKET_LEN`].
    #[error(
        "the ticket is longer than {MAX_TICKET_LEN} bytes: it is not a Sightline ticket, \
         or something appended to it"
    )]
    TooLong,
    /// The key lookup given to [`verify_with`] had no key for this key id.
    #[error(
        "the ticket was signed with key id `{kid}`, which this relay does not have: \
         the relay's ticket keys and the signer's are out of sync"
    )]
    UnknownKey {
        /// The ticket's key id (not secret: it only names a key).
        kid: String,
    },
    /// The signature does not match: the ticket was altered, or signed with
    /// another key.
    #[error(
        "the ticket's signature does not match: it was altered, or signed with a \
         different key than the one this relay holds for its key id"
    )]
    BadSignature,
    /// `exp` is past.
    #[error("the ticket expired: fetch a fresh one from your backend just before connecting")]
    Expired,
    /// `iat` is more than [`CLOCK_SKEW_SECS`] ahead of the relay's clock.
    #[error(
        "the ticket is not valid yet (issued more than {CLOCK_SKEW_SECS} s in the future): \
         the signer's clock is ahead of the relay's; synchronise both with NTP"
    )]
    NotYetValid,
    /// `exp - iat` is not within `1..=MAX_TTL_SECS`.
    #[error(
        "the ticket's lifetime (exp - iat) is not between 1 and {MAX_TTL_SECS} seconds: \
         the signer must issue short-lived tickets"
    )]
    Lifetime,
    /// The page's origin is not the ticket's audience.
    #[error(
        "the ticket is for pages served from `{expected}`, and this page has another \
         origin: ask your backend for a ticket whose audience is this page's origin \
         (scheme://host[:port], no path)"
    )]
    WrongAudience {
        /// The ticket's audience (not secret: anyone holding the ticket can
        /// read it).
        expected: String,
    },
    /// The signature is valid but the claims cannot be used: the signer and
    /// this relay disagree on the format. Only a key holder can cause this.
    #[error(
        "the ticket is correctly signed but its claims are unusable ({0}): \
         the signer does not produce the claims this relay expects"
    )]
    BadClaims(String),
    /// [`sign`] refused its arguments.
    #[error("cannot sign this ticket: {0}")]
    Invalid(String),
}

impl TicketError {
    /// Whether the ticket merely expired: the client should fetch a fresh one
    /// and retry, rather than report an error.
    pub fn is_expired(&self) -> bool {
        matches!(self, TicketError::Expired)
    }
}

/// Signs `claims` with `key`, naming it `kid`.
///
/// Refuses (with [`TicketError::Invalid`]) a bad key id, a lifetime outside
/// `1..=MAX_TTL_SECS`, empty `cameras`, an audience that is neither `"*"` nor
/// an origin, and anything else [`verify`] would refuse regardless of the
/// time, including a ticket longer than [`MAX_TICKET_LEN`].
pub fn sign(kid: &str, key: &[u8; 32], claims: &Claims) -> Result<String, TicketError> {
    if !is_valid_kid(kid) {
        return Err(TicketError::Invalid(format!(
            "the key id must be 1 to {MAX_KID_LEN} characters from A-Z a-z 0-9 _ - \
             (it has {} bytes)",
            kid.len()
        )));
    }
    if !claims.lifetime_ok() {
        return Err(TicketError::Invalid(format!(
            "the lifetime (exp - iat) must be 1 to {MAX_TTL_SECS} seconds"
        )));
    }
    claims.check_fields().map_err(TicketError::Invalid)?;
    let json = serde_json::to_vec(claims)
        .map_err(|e| TicketError::Invalid(format!("the claims cannot be written as JSON: {e}")))?;

    let mut ticket = String::with_capacity(
        VERSION.len() + kid.len() + json.len().div_ceil(3) * 4 + TAG_B64_LEN + 3,
    );
    ticket.push_str(VERSION);
    ticket.push('.');
    ticket.push_str(kid);
    ticket.push('.');
    URL_SAFE_NO_PAD.encode_string(&json, &mut ticket);
    let tag = mac(key, ticket.as_bytes()).finalize().into_bytes();
    ticket.push('.');
    URL_SAFE_NO_PAD.encode_string(tag.as_slice(), &mut ticket);

    if ticket.len() > MAX_TICKET_LEN {
        return Err(TicketError::Invalid(format!(
            "the ticket would be {} bytes, over the {MAX_TICKET_LEN}-byte limit: \
             list fewer cameras (or [\"*\"]) or shorten `sub`",
            ticket.len()
        )));
    }
    Ok(ticket)
}

/// The key id of `ticket`, to look up the key that checks it. Only the length
/// and the shape are checked: the ticket is not yet trusted.
pub fn kid_of(ticket: &str) -> Result<&str, TicketError> {
    split(ticket).map(|parts| parts.kid)
}

/// Checks `ticket` against `key` at time `now` (unix seconds), and returns its
/// claims.
///
/// `origin` is the `Origin` header of the WebSocket handshake. When present it
/// must equal the ticket's audience (ignoring ASCII case), unless the audience
/// is `"*"`. When absent (a non-browser client) the audience is not checked:
/// only browsers are bound by it, since any other client can send any
/// `Origin` it likes.
///
/// The caller still has to check the camera ([`Claims::allows_camera`]), the
/// role, and its own deny list.
pub fn verify(
    ticket: &str,
    key: &[u8; 32],
    now: i64,
    origin: Option<&str>,
) -> Result<Claims, TicketError> {
    let parts = split(ticket)?;
    check(&parts, key, now, origin)
}

/// Like [`verify`], with the key found by `lookup` from the ticket's key id;
/// [`TicketError::UnknownKey`] when it finds none.
pub fn verify_with(
    ticket: &str,
    now: i64,
    origin: Option<&str>,
    lookup: impl FnOnce(&str) -> Option<[u8; 32]>,
) -> Result<Claims, TicketError> {
    let parts = split(ticket)?;
    let key = lookup(parts.kid).ok_or_else(|| TicketError::UnknownKey {
        kid: parts.kid.to_owned(),
    })?;
    check(&parts, &key, now, origin)
}

/// A ticket cut at its dots. Every part has been checked for its alphabet and
/// length, nothing more.
struct Parts<'a> {
    kid: &'a str,
    payload: &'a str,
    sig: &'a str,
    /// `st1.<kid>.<payload>`: what the signature covers.
    signed: &'a str,
}

fn split(ticket: &str) -> Result<Parts<'_>, TicketError> {
    if ticket.len() > MAX_TICKET_LEN {
        return Err(TicketError::TooLong);
    }
    if ticket.is_empty() {
        return Err(TicketError::Malformed("the ticket is empty"));
    }
    let Some(rest) = ticket
        .strip_prefix(VERSION)
        .and_then(|rest| rest.strip_prefix('.'))
    else {
        return Err(TicketError::Malformed(
            "it does not start with `st1.`, so it is not a Sightline ticket of this version",
        ));
    };
    let mut it = rest.split('.');
    let (Some(kid), Some(payload), Some(sig), None) = (it.next(), it.next(), it.next(), it.next())
    else {
        return Err(TicketError::Malformed(
            "a ticket has exactly four parts separated by dots",
        ));
    };
    if !is_valid_kid(kid) {
        return Err(TicketError::Malformed(
            "the key id (second part) must be 1 to 32 characters from A-Z a-z 0-9 _ -",
        ));
    }
    if payload.is_empty() || !payload.bytes().all(is_base64url) {
        return Err(TicketError::Malformed(
            "the payload (third part) is not base64url",
        ));
    }
    if sig.len() != TAG_B64_LEN || !sig.bytes().all(is_base64url) {
        return Err(TicketError::Malformed(
            "the signature (fourth part) is not 43 characters of base64url",
        ));
    }
    let signed = &ticket[..ticket.len() - sig.len() - 1];
    Ok(Parts {
        kid,
        payload,
        sig,
        signed,
    })
}

fn check(
    parts: &Parts<'_>,
    key: &[u8; 32],
    now: i64,
    origin: Option<&str>,
) -> Result<Claims, TicketError> {
    // The signature first, and nothing but a stack buffer before it. The
    // decoder refuses non-canonical text (stray low bits in the last
    // character), so no two signature strings stand for the same tag.
    let mut tag = [0u8; TAG_LEN];
    match URL_SAFE_NO_PAD.decode_slice(parts.sig, &mut tag) {
        Ok(TAG_LEN) => {}
        _ => {
            return Err(TicketError::Malformed(
                "the signature (fourth part) is not base64url",
            ))
        }
    }
    // `verify_slice` compares in constant time.
    mac(key, parts.signed.as_bytes())
        .verify_slice(&tag)
        .map_err(|_| TicketError::BadSignature)?;

    // From here on, the bytes come from a key holder.
    let json = URL_SAFE_NO_PAD
        .decode(parts.payload)
        .map_err(|_| TicketError::BadClaims("the payload is not canonical base64url".to_owned()))?;
    let claims: Claims =
        serde_json::from_slice(&json).map_err(|e| TicketError::BadClaims(e.to_string()))?;
    claims.check_fields().map_err(TicketError::BadClaims)?;

    // The lifetime before the expiry: a signer that issues tickets with a bad
    // lifetime should hear so, not be told to fetch a fresh (equally bad) one.
    if !claims.lifetime_ok() {
        return Err(TicketError::Lifetime);
    }
    if claims.exp <= now {
        return Err(TicketError::Expired);
    }
    if claims.iat > now.saturating_add(CLOCK_SKEW_SECS) {
        return Err(TicketError::NotYetValid);
    }
    if let Some(origin) = origin {
        // Origins have no path, and browsers send scheme and host in lower
        // case, so comparing the whole string without ASCII case is enough.
        if claims.aud != "*" && !claims.aud.eq_ignore_ascii_case(origin) {
            return Err(TicketError::WrongAudience {
                expected: claims.aud,
            });
        }
    }
    Ok(claims)
}

/// HMAC-SHA256 keyed with `key`, having absorbed `data`.
fn mac(key: &[u8; 32], data: &[u8]) -> HmacSha256 {
    // HMAC (RFC 2104) pads a key shorter than the hash's 64-byte block with
    // zeros, so this is exactly HMAC with the 32-byte key, and, unlike
    // `new_from_slice`, it cannot fail.
    let mut block = [0u8; 64];
    block[..key.len()].copy_from_slice(key);
    let mut mac = HmacSha256::new(&block.into());
    mac.update(data);
    mac
}

fn is_valid_kid(kid: &str) -> bool {
    (1..=MAX_KID_LEN).contains(&kid.len()) && kid.bytes().all(is_base64url)
}

/// `[A-Za-z0-9_-]`: the base64url alphabet, also the key id's.
fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// `"*"`, or an origin as browsers send it in `Origin`: `scheme://host[:port]`,
/// with no path, query, fragment or user info.
fn check_audience(aud: &str) -> Result<(), String> {
    if aud == "*" {
        return Ok(());
    }
    let origin_like = aud.len() <= MAX_AUD_LEN
        && aud.split_once("://").is_some_and(|(scheme, host)| {
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
                && !host.is_empty()
                && !host.chars().any(|c| {
                    c.is_whitespace() || c.is_control() || matches!(c, '/' | '?' | '#' | '@')
                })
        });
    if origin_like {
        Ok(())
    } else {
        Err(format!(
            "`aud` must be \"*\" or an origin as browsers send it, scheme://host[:port] with \
             no path or trailing slash, such as \"https://shop.example:8443\" \
             (at most {MAX_AUD_LEN} bytes)"
        ))
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}
