//! The operator's certificate and key files (`--tls-cert/--tls-key`): read,
//! checked and turned into a rustls config, with errors that say which file
//! and what to do — never what the file holds.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject as _};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest as _, Sha256};

use super::{io_reason, server_config, CertificateInfo, Loaded};

/// Reads both files.
pub(super) fn read(cert: &Path, key: &Path) -> Result<(Vec<u8>, Vec<u8>), String> {
    let cert_bytes = std::fs::read(cert).map_err(|e| {
        format!(
            "cannot read the TLS certificate {}: {}",
            cert.display(),
            io_reason(&e)
        )
    })?;
    let key_bytes = std::fs::read(key).map_err(|e| {
        format!(
            "cannot read the TLS key {}: {}",
            key.display(),
            io_reason(&e)
        )
    })?;
    Ok((cert_bytes, key_bytes))
}

/// What the two files held, to tell whether they changed.
pub(super) fn digest(cert: &[u8], key: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update((cert.len() as u64).to_le_bytes());
    hash.update(cert);
    hash.update(key);
    hash.finalize().into()
}

/// Reads and checks both files.
pub(super) fn load(cert: &Path, key: &Path) -> Result<Loaded, String> {
    let (cert_bytes, key_bytes) = read(cert, key)?;
    warn_if_others_may_read(key);
    parse(cert, key, &cert_bytes, &key_bytes)
}

/// Turns the files' bytes into a server config.
pub(super) fn parse(
    cert: &Path,
    key: &Path,
    cert_bytes: &[u8],
    key_bytes: &[u8],
) -> Result<Loaded, String> {
    let chain = CertificateDer::pem_slice_iter(cert_bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| match e {
            pem::Error::NoItemsFound => no_certificate(cert),
            _ => format!(
                "the TLS certificate {} is not valid PEM (it must hold -----BEGIN CERTIFICATE----- blocks, the server's first)",
                cert.display()
            ),
        })?;
    if chain.is_empty() {
        return Err(no_certificate(cert));
    }
    let info = CertificateInfo::from_der(&chain[0]).ok_or_else(|| {
        format!(
            "the TLS certificate {}: its first certificate is not a valid X.509 certificate",
            cert.display()
        )
    })?;
    let private_key = PrivateKeyDer::from_pem_slice(key_bytes).map_err(|e| {
        let encrypted = key_bytes
            .windows(b"ENCRYPTED".len())
            .any(|w| w == b"ENCRYPTED");
        if encrypted {
            format!(
                "the TLS key {} is encrypted: give the relay the key unencrypted \
                 (`openssl pkey -in KEY -out KEY.plain`), readable by the relay's user alone",
                key.display()
            )
        } else if matches!(e, pem::Error::NoItemsFound) {
            format!(
                "the TLS key {} holds no private key (PEM: -----BEGIN PRIVATE KEY-----, \
                 RSA PRIVATE KEY or EC PRIVATE KEY)",
                key.display()
            )
        } else {
            format!("the TLS key {} is not valid PEM", key.display())
        }
    })?;
    let config = server_config(chain, private_key).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => format!(
            "the TLS key {} does not belong to the certificate {} (they were not made together)",
            key.display(),
            cert.display()
        ),
        _ => format!(
            "the TLS key {} is of a kind the relay cannot use (RSA, ECDSA P-256 or P-384, \
             or Ed25519 work)",
            key.display()
        ),
    })?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if info.not_after < now {
        tracing::error!(
            "the TLS certificate {} expired on {}: browsers refuse it — renew it (the relay reloads it when the file changes)",
            cert.display(),
            info.valid_until()
        );
    } else if info.not_after - now < 14 * 86_400 {
        tracing::warn!(
            "the TLS certificate {} expires on {}: renew it (the relay reloads it when the file changes)",
            cert.display(),
            info.valid_until()
        );
    }
    Ok(Loaded {
        config: Arc::new(config),
        info,
        digest: digest(cert_bytes, key_bytes),
    })
}

fn no_certificate(cert: &Path) -> String {
    format!(
        "the TLS certificate {} holds no certificate (PEM: -----BEGIN CERTIFICATE-----)",
        cert.display()
    )
}

/// A key anyone on the machine may read is a key anyone may have copied.
fn warn_if_others_may_read(key: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = std::fs::metadata(key) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o004 != 0 {
                tracing::warn!(
                    "the TLS key {} can be read by every user of this machine (mode {mode:o}): `chmod 600` it",
                    key.display()
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = key;
}

#[cfg(test)]
mod tests {
    use super::super::ca::LocalCa;
    use super::super::names::TlsName;
    use super::*;

    #[test]
    fn files_load_and_every_mistake_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let (ca, _) = LocalCa::open(&dir.path().join("ca")).unwrap();
        let localhost = [TlsName::parse("localhost").unwrap()];
        let one = ca.issue(&localhost).unwrap();
        let two = ca.issue(&localhost).unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let cert = write("cert.pem", &one.cert_pem);
        let key = write("key.pem", &one.key_pem);
        let loaded = load(&cert, &key).expect("a matching pair loads");
        assert_eq!(loaded.info.names, ["localhost"]);
        assert_eq!(loaded.config.alpn_protocols[1], b"http/1.1");

        let err = |cert: &Path, key: &Path| match load(cert, key) {
            Ok(_) => panic!("{} and {} should not load", cert.display(), key.display()),
            Err(message) => message,
        };
        let missing = dir.path().join("nope.pem");
        assert_eq!(
            err(&cert, &missing),
            format!(
                "cannot read the TLS key {}: no such file",
                missing.display()
            )
        );
        let other_key = write("other.key", &two.key_pem);
        assert!(err(&cert, &other_key).contains("does not belong to the certificate"));
        let empty = write("empty.pem", "nothing here\n");
        assert!(err(&empty, &key).contains("holds no certificate"));
        assert!(err(&cert, &empty).contains("holds no private key"));
        let encrypted = write(
            "enc.key",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
        );
        assert!(err(&cert, &encrypted).contains("is encrypted"));
        // No message ever carries the key itself.
        for message in [err(&cert, &other_key), err(&cert, &encrypted)] {
            assert!(!message.contains("MII"), "{message}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            // Root reads anything: the check means something only for other users.
            let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
                s.lines()
                    .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
            });
            if !root {
                std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o000)).unwrap();
                assert_eq!(
                    err(&cert, &key),
                    format!(
                        "cannot read the TLS key {}: permission denied",
                        key.display()
                    )
                );
            }
        }
    }
}
