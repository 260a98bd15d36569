//! Password hashing: Argon2id, stored as PHC strings.
//!
//! Why Argon2id: it is the password hash OWASP and RFC 9106 recommend, memory-hard
//! (a GPU or ASIC farm gains far less against it than against PBKDF2 or bcrypt), and
//! the `id` variant resists both side channels and time–memory trade-offs.
//!
//! Cost: the `argon2` crate's defaults, which are OWASP's minimum recommendation:
//! **m = 19 MiB (19 456 KiB), t = 2 passes, p = 1 lane**, Argon2id v0x13, a 16-byte
//! random salt, a 32-byte output. One [`hash`] (or [`verify`], or [`verify_dummy`])
//! took **about 17 ms** in a release build on the development machine (2-core
//! x86-64 Xeon VM; median of 30 runs 17.1 ms, range 16.9–28 ms), using 19 MiB of
//! memory while it runs. That is slow enough to make guessing expensive and fast
//! enough that a login is not noticeably slow. The relay runs it on a blocking
//! thread, never on the async workers, and should bound how many logins hash at
//! once (each holds 19 MiB). `cargo run --release -p sightline-store --example
//! hash_cost` measures it again.
//!
//! The parameters travel inside each PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`),
//! so raising them later only affects new hashes; old ones still verify.
//!
//! Timing: [`verify_dummy`] does the same work as a real verification, against a
//! fixed hash with the same parameters, so that a login with an unknown name takes
//! as long as one with a wrong password, and the response time does not tell which
//! user names exist.

use argon2::{Argon2, PasswordHash, PasswordHasher as _, PasswordVerifier as _};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::error::{Result, StoreError};
use crate::secret::{self, Secret};

/// The shortest password [`hash`] accepts, in characters.
pub const MIN_LEN: usize = 8;
/// The longest password [`hash`] accepts, in bytes: hashing cost grows with the
/// input, and nobody types more.
pub const MAX_LEN: usize = 1024;

/// A hash of a random, forgotten password, made with the default parameters
/// (a test checks they still are the defaults).
const DUMMY_PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$dt+m4vxuErno9yexqT/6lA$zpu3k5isYGIlx9t+4YvN/RyJYQFG0Cba0sIAP/WCuTc";

/// Checks a new password's length; the message is for the person choosing it.
pub fn check(password: &str) -> Result<()> {
    if password.chars().count() < MIN_LEN {
        return Err(StoreError::Invalid(format!(
            "the password is too short: use at least {MIN_LEN} characters"
        )));
    }
    if password.len() > MAX_LEN {
        return Err(StoreError::Invalid(format!(
            "the password is too long: use at most {MAX_LEN} bytes"
        )));
    }
    Ok(())
}

/// Hashes a password with Argon2id and a fresh random salt, as a PHC string.
/// Refuses passwords that [`check`] refuses.
pub fn hash(password: &str) -> Result<String> {
    check(password)?;
    let salt = secret::random_bytes::<16>()?;
    let phc: PasswordHash = Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|e| StoreError::Hash(e.to_string()))?;
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `phc`. A malformed `phc` matches
/// nothing (after the same amount of work, see [`verify_dummy`]).
pub fn verify(phc: &str, password: &str) -> bool {
    if password.len() > MAX_LEN {
        // The same work as a real check, so that the time taken does not
        // tell a known user (this path) from an unknown one (verify_dummy).
        verify_dummy(password.get(..MAX_LEN).unwrap_or(password));
        return false;
    }
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => {
            verify_dummy(password);
            false
        }
    }
}

/// Costs what a real [`verify`] costs and matches nothing: call it when there is no
/// user to check the password against.
pub fn verify_dummy(password: &str) {
    if let Ok(parsed) = PasswordHash::new(DUMMY_PHC) {
        let _ = Argon2::default().verify_password(password.as_bytes(), &parsed);
    }
}

/// A new random password of 20 URL-safe characters (120 bits), for accounts whose
/// password is generated and printed once.
pub fn generate() -> Result<Secret> {
    Ok(Secret::new(
        URL_SAFE_NO_PAD.encode(secret::random_bytes::<15>()?),
    ))
}

#[cfg(test)]
mod tests {
    use argon2::Params;

    use super::*;

    #[test]
    fn dummy_hash_has_the_default_cost() {
        let parsed = PasswordHash::new(DUMMY_PHC).expect("the dummy hash parses");
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        let params = Params::try_from(&parsed).expect("argon2 parameters");
        let default = Params::default();
        assert_eq!(params.m_cost(), default.m_cost());
        assert_eq!(params.t_cost(), default.t_cost());
        assert_eq!(params.p_cost(), default.p_cost());
    }

    #[test]
    fn hash_and_verify() {
        let phc = hash("correct horse").expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify(&phc, "correct horse"));
        assert!(!verify(&phc, "correct horsE"));
        assert!(!verify("not a phc string", "correct horse"));
        // Two hashes of one password differ: each has its own salt.
        assert_ne!(phc, hash("correct horse").expect("hash"));
    }

    #[test]
    fn lengths_are_checked() {
        assert!(matches!(hash("short"), Err(StoreError::Invalid(_))));
        assert!(matches!(
            hash(&"x".repeat(MAX_LEN + 1)),
            Err(StoreError::Invalid(_))
        ));
        assert!(check("12345678").is_ok());
    }

    #[test]
    fn generated_passwords() {
        let a = generate().expect("random");
        let b = generate().expect("random");
        assert_eq!(a.expose().len(), 20);
        assert!(a
            .expose()
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
        assert!(check(a.expose()).is_ok());
    }
}
