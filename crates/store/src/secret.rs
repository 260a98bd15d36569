//! Random bearer tokens, their stored form, and a wrapper that keeps them out of logs.
//!
//! Session ids, sign-in tokens, API keys, device tokens and share links are bearer
//! credentials: whoever holds the string is let in. The database keeps only
//! [`hash`]es of them, so a copy of the file (a backup, a stolen disk, an SQL
//! injection elsewhere) lets nobody in, and neither does reading it over an admin's
//! shoulder. A plain, unsalted SHA-256 is enough here, unlike for passwords: the
//! tokens are 256 random bits from the OS, so there is no dictionary to try and
//! nothing to gain from a slow hash; a fast one keeps every request's lookup cheap.
//!
//! Looking a token up by its hash in an index is also why lookups need no
//! constant-time comparison: the timing of a B-tree search on SHA-256 digests tells
//! an attacker about digests, from which no token can be worked back. [`eq`] is for
//! the comparisons that are done on the values themselves (the CSRF token).

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::error::{Result, StoreError};

/// A secret string (a token, a key, a generated password) that will not print itself:
/// its `Debug` and `Display` show `…`. Call [`Secret::expose`] where the value is
/// really needed (a `Set-Cookie` header, the one-time print of a new key).
/// `==` compares in constant time ([`eq`]).
#[derive(Clone)]
pub struct Secret(String);

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Eq for Secret {}

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself. Named so that each use stands out in review.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The value itself, taking the wrapper apart.
    pub fn into_exposed(self) -> String {
        self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("…")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("…")
    }
}

/// `N` bytes from the operating system's random source.
pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Random(e.to_string()))?;
    Ok(bytes)
}

/// A new bearer token: 32 random bytes from the OS, base64url without padding
/// (43 characters, safe in cookies, URLs and headers).
pub fn token() -> Result<Secret> {
    Ok(Secret(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?)))
}

/// The form a token is stored and looked up in: SHA-256, lowercase hex.
pub fn hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Compares two byte strings in time that depends on their lengths only, not on
/// where they first differ (e.g. the CSRF header against the session's token).
pub fn eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}
