//! The relay's own certificate authority for `--tls self-signed`: made once
//! in the data directory (`tls/ca.pem`, `tls/ca.key`), kept across starts so
//! that a device told once to trust it keeps trusting the relay, and the
//! leaf certificate it issues for the relay's names (`tls/leaf.pem`,
//! `tls/leaf.key`), issued again when the names change or it nears its end.
//!
//! Keys are ECDSA P-256 (every browser and phone takes them); the CA may sign
//! end-entity certificates only (path length 0); the leaf lasts 397 days,
//! under Apple's 825-day limit for certificates of user-trusted roots and
//! the 398 days Chromium holds public ones to.

use crate::app::create_private_dir;
use std::collections::BTreeSet;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData as _, SanType, SerialNumber,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer as _, GeneralName, X509Certificate};

use super::names::TlsName;
use super::{fingerprint, io_reason};

/// The CA's certificate in the data directory's `tls/`: what devices trust.
pub const CA_CERT: &str = "ca.pem";
/// The CA's private key (0600).
pub const CA_KEY: &str = "ca.key";
/// The relay's certificate, issued by the CA.
pub const LEAF_CERT: &str = "leaf.pem";
/// Its private key (0600).
pub const LEAF_KEY: &str = "leaf.key";

const CA_DAYS: i64 = 3650;
const LEAF_DAYS: i64 = 397;
/// A leaf closer than this to its end is issued again (at start, or by the
/// relay's daily check).
pub const RENEW_WITHIN_DAYS: i64 = 30;

/// The local CA, loaded or made.
pub struct LocalCa {
    dir: PathBuf,
    cert_pem: String,
    cert_der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for LocalCa {
    // The key stays out of every log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCa")
            .field("dir", &self.dir)
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

/// A certificate and its key, in PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"…")
            .finish()
    }
}

/// What [`LocalCa::leaf`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeafStatus {
    /// The leaf on disk was still right.
    Kept,
    /// A new leaf was issued, and why.
    Issued(String),
}

impl LocalCa {
    /// Loads the CA from `dir` (the data directory's `tls/`), or makes one
    /// there if there is none. `true` when it was made now.
    pub fn open(dir: &Path) -> anyhow::Result<(LocalCa, bool)> {
        create_private_dir(dir)
            .with_context(|| format!("cannot create the TLS directory {}", dir.display()))?;
        let cert_path = dir.join(CA_CERT);
        let key_path = dir.join(CA_KEY);
        match (cert_path.exists(), key_path.exists()) {
            (true, true) => Ok((Self::load(dir)?, false)),
            (true, false) => bail!(
                "the local CA's certificate {} is there but its key {} is not: restore the key, \
                 or delete {} to make a new CA (devices that trusted the old one must then trust the new one)",
                cert_path.display(),
                key_path.display(),
                cert_path.display()
            ),
            // A key alone: a first start that stopped halfway. No device can
            // trust a CA whose certificate was never written: make a new one.
            (false, _) => Ok((Self::create(dir)?, true)),
        }
    }

    fn load(dir: &Path) -> anyhow::Result<LocalCa> {
        let cert_path = dir.join(CA_CERT);
        let key_path = dir.join(CA_KEY);
        let cert_pem = read_text(&cert_path, "the local CA's certificate")?;
        let key_pem = read_text(&key_path, "the local CA's key")?;
        let key = KeyPair::from_pem(&key_pem).map_err(|_| {
            anyhow::anyhow!(
                "the local CA's key {} is not a private key in PEM",
                key_path.display()
            )
        })?;
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|_| {
                anyhow::anyhow!(
                    "the local CA's certificate {} is not a certificate in PEM",
                    cert_path.display()
                )
            })?
            .to_vec();
        let (_, x509) = X509Certificate::from_der(&cert_der).map_err(|_| {
            anyhow::anyhow!(
                "the local CA's certificate {} is not a valid X.509 certificate",
                cert_path.display()
            )
        })?;
        if x509.public_key().raw != key.subject_public_key_info().as_slice() {
            bail!(
                "the local CA's key {} does not belong to its certificate {}",
                key_path.display(),
                cert_path.display()
            );
        }
        let issuer = Issuer::from_ca_cert_der(&CertificateDer::from(cert_der.as_slice()), key)
            .with_context(|| format!("the local CA's certificate {}", cert_path.display()))?;
        Ok(LocalCa {
            dir: dir.to_owned(),
            cert_pem,
            cert_der,
            issuer,
        })
    }

    fn create(dir: &Path) -> anyhow::Result<LocalCa> {
        let key = KeyPair::generate().context("generating the local CA's key")?;
        let now = OffsetDateTime::now_utc();
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        // Unique per CA (a random tag): two CAs of one name confuse certificate stores.
        let tag = hex(&random_bytes::<4>()?);
        dn.push(
            DnType::CommonName,
            format!("Sightline local CA {} {tag}", short(&host)),
        );
        dn.push(DnType::OrganizationName, "Sightline");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.serial_number = Some(serial()?);
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(CA_DAYS);
        let cert = params
            .self_signed(&key)
            .context("making the local CA's certificate")?;
        // The key first: a certificate on disk is one devices may trust.
        write_file(&dir.join(CA_KEY), key.serialize_pem().as_bytes(), 0o600)?;
        write_file(&dir.join(CA_CERT), cert.pem().as_bytes(), 0o644)?;
        Ok(LocalCa {
            dir: dir.to_owned(),
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA's certificate (PEM): what `/ca.crt` serves.
    pub fn certificate_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA's certificate (DER).
    pub fn certificate_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// SHA-256 of the CA's certificate, `AB:CD:…`: what a device shows before
    /// it trusts it.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.cert_der)
    }

    /// The CA's name (its subject's common name).
    pub fn name(&self) -> String {
        X509Certificate::from_der(&self.cert_der)
            .ok()
            .and_then(|(_, x509)| {
                x509.subject()
                    .iter_common_name()
                    .next()
                    .and_then(|cn| cn.as_str().ok().map(str::to_owned))
            })
            .unwrap_or_else(|| "Sightline local CA".into())
    }

    /// A new leaf certificate for `names`, valid from yesterday for 397 days.
    pub fn issue(&self, names: &[TlsName]) -> anyhow::Result<Issued> {
        self.issue_at(names, OffsetDateTime::now_utc())
    }

    /// [`issue`](Self::issue) as if it were `now`.
    pub fn issue_at(&self, names: &[TlsName], now: OffsetDateTime) -> anyhow::Result<Issued> {
        anyhow::ensure!(!names.is_empty(), "a certificate needs at least one name");
        let key = KeyPair::generate().context("generating a TLS key")?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, names[0].to_string());
        params.distinguished_name = dn;
        params.subject_alt_names = names
            .iter()
            .map(|name| match name {
                TlsName::Dns(dns) => Ok(SanType::DnsName(dns.clone().try_into()?)),
                TlsName::Ip(ip) => Ok(SanType::IpAddress(*ip)),
            })
            .collect::<Result<_, rcgen::Error>>()
            .context("the certificate's names")?;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(serial()?);
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(LEAF_DAYS);
        let cert = params
            .signed_by(&key, &self.issuer)
            .context("issuing the TLS certificate")?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// The leaf for `names`: the one on disk if it is this CA's, for exactly
    /// these names, with its key, and not near its end; else a new one,
    /// written to disk.
    pub fn leaf(
        &self,
        names: &[TlsName],
        now: OffsetDateTime,
    ) -> anyhow::Result<(Issued, LeafStatus)> {
        let cert_path = self.dir.join(LEAF_CERT);
        let key_path = self.dir.join(LEAF_KEY);
        let on_disk = match (
            std::fs::read_to_string(&cert_path),
            std::fs::read_to_string(&key_path),
        ) {
            (Ok(cert_pem), Ok(key_pem)) => Some(Issued { cert_pem, key_pem }),
            _ => None,
        };
        let why = match &on_disk {
            None => "there was none".to_owned(),
            Some(issued) => match self.check_leaf(issued, names, now) {
                Ok(()) => return Ok((on_disk.expect("checked"), LeafStatus::Kept)),
                Err(why) => why,
            },
        };
        let issued = self.issue_at(names, now)?;
        write_file(&key_path, issued.key_pem.as_bytes(), 0o600)?;
        write_file(&cert_path, issued.cert_pem.as_bytes(), 0o644)?;
        Ok((issued, LeafStatus::Issued(why)))
    }

    /// Why `leaf` will not do, if it will not.
    fn check_leaf(
        &self,
        leaf: &Issued,
        names: &[TlsName],
        now: OffsetDateTime,
    ) -> Result<(), String> {
        let der = CertificateDer::from_pem_slice(leaf.cert_pem.as_bytes())
            .map_err(|_| "the one on disk is not PEM".to_owned())?;
        let (_, x509) = X509Certificate::from_der(&der)
            .map_err(|_| "the one on disk is not a valid certificate".to_owned())?;
        let (_, ca) = X509Certificate::from_der(&self.cert_der)
            .map_err(|_| "the CA's certificate does not parse".to_owned())?;
        if x509.verify_signature(Some(ca.public_key())).is_err() {
            return Err("the one on disk was issued by another CA".into());
        }
        let key = KeyPair::from_pem(&leaf.key_pem)
            .map_err(|_| "the key on disk is not a private key".to_owned())?;
        if x509.public_key().raw != key.subject_public_key_info().as_slice() {
            return Err("the key on disk does not belong to it".into());
        }
        let have: BTreeSet<TlsName> = certificate_names(&x509).into_iter().collect();
        let want: BTreeSet<TlsName> = names.iter().cloned().collect();
        if have != want {
            let list = |set: Vec<&TlsName>| {
                set.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let added = list(want.difference(&have).collect());
            let removed = list(have.difference(&want).collect());
            return Err(match (added.is_empty(), removed.is_empty()) {
                (false, true) => format!("names were added: {added}"),
                (true, false) => format!("names were removed: {removed}"),
                _ => format!("the names changed: added {added}; removed {removed}"),
            });
        }
        let left = x509.validity().not_after.timestamp() - now.unix_timestamp();
        if left < RENEW_WITHIN_DAYS * 86_400 {
            return Err(format!(
                "the one on disk ends in {} days",
                (left / 86_400).max(0)
            ));
        }
        Ok(())
    }
}

/// The DNS names and IP addresses of a certificate's subject alternative names.
pub(super) fn certificate_names(x509: &X509Certificate<'_>) -> Vec<TlsName> {
    let Ok(Some(san)) = x509.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(TlsName::Dns(dns.to_ascii_lowercase())),
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => Some(TlsName::Ip(IpAddr::from(<[u8; 4]>::try_from(*bytes).ok()?))),
                16 => Some(TlsName::Ip(IpAddr::from(
                    <[u8; 16]>::try_from(*bytes).ok()?,
                ))),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// The host name's first label, for the CA's name.
fn short(host: &str) -> &str {
    let first = host.split('.').next().unwrap_or_default();
    if first.is_empty() || first.len() > 40 {
        "relay"
    } else {
        first
    }
}

fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the system's random number generator failed"))?;
    Ok(bytes)
}

/// A random positive 128-bit serial number.
fn serial() -> anyhow::Result<SerialNumber> {
    let mut bytes = random_bytes::<16>()?;
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn read_text(path: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {what} {}: {}", path.display(), io_reason(&e)))
}

/// Writes `path` whole or not at all (a temporary file renamed over it),
/// created with `mode`: a key is never readable by others, not even briefly.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
        #[cfg(not(unix))]
        let _ = mode;
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow::anyhow!("cannot write {}: {}", path.display(), io_reason(&e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<TlsName> {
        list.iter().map(|n| TlsName::parse(n).unwrap()).collect()
    }

    #[test]
    fn the_ca_is_made_once_and_the_leaf_follows_the_names() {
        let data = tempfile::tempdir().unwrap();
        let dir = data.path().join("tls");
        let now = OffsetDateTime::now_utc();
        let (ca, created) = LocalCa::open(&dir).unwrap();
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir), 0o700);
            assert_eq!(mode(&dir.join(CA_KEY)), 0o600);
        }
        let first = names(&["cams.example.lan", "localhost", "192.168.1.20"]);
        let (leaf, status) = ca.leaf(&first, now).unwrap();
        assert_eq!(status, LeafStatus::Issued("there was none".into()));
        assert!(
            !format!("{leaf:?}").contains("PRIVATE"),
            "Debug hides the key"
        );

        // Second start: the same CA, the same leaf.
        let (again, created) = LocalCa::open(&dir).unwrap();
        assert!(!created);
        assert_eq!(again.certificate_pem(), ca.certificate_pem());
        assert_eq!(again.fingerprint(), ca.fingerprint());
        let (kept, status) = again.leaf(&first, now).unwrap();
        assert_eq!(status, LeafStatus::Kept);
        assert_eq!(kept, leaf);

        // Names changed: a new leaf from the same CA.
        let second = names(&["cams.example.lan", "localhost", "192.168.1.21"]);
        let (renamed, status) = again.leaf(&second, now).unwrap();
        assert_eq!(
            status,
            LeafStatus::Issued(
                "the names changed: added 192.168.1.21; removed 192.168.1.20".into()
            )
        );
        assert_ne!(renamed, leaf);
        let der = CertificateDer::from_pem_slice(renamed.cert_pem.as_bytes()).unwrap();
        let (_, x509) = X509Certificate::from_der(&der).unwrap();
        let (_, ca_x509) = X509Certificate::from_der(ca.certificate_der()).unwrap();
        x509.verify_signature(Some(ca_x509.public_key()))
            .expect("signed by the CA");
        assert_eq!(x509.issuer(), ca_x509.subject());
        assert!(ca_x509.is_ca() && !x509.is_ca());
        let mut got = certificate_names(&x509);
        got.sort();
        let mut want = second.clone();
        want.sort();
        assert_eq!(got, want);

        // Near its end: issued again.
        let later = now + Duration::days(LEAF_DAYS - RENEW_WITHIN_DAYS + 1);
        let (_, status) = again.leaf(&second, later).unwrap();
        assert!(
            matches!(&status, LeafStatus::Issued(why) if why.contains("ends in")),
            "{status:?}"
        );
    }

    #[test]
    fn a_leaf_of_another_ca_is_replaced() {
        let data = tempfile::tempdir().unwrap();
        let dir = data.path().join("tls");
        let now = OffsetDateTime::now_utc();
        let (ca, _) = LocalCa::open(&dir).unwrap();
        let list = names(&["localhost"]);
        ca.leaf(&list, now).unwrap();
        // The CA is made anew (its files removed): the old leaf must go.
        std::fs::remove_file(dir.join(CA_CERT)).unwrap();
        std::fs::remove_file(dir.join(CA_KEY)).unwrap();
        let (other, created) = LocalCa::open(&dir).unwrap();
        assert!(created);
        assert_ne!(other.fingerprint(), ca.fingerprint());
        let (_, status) = other.leaf(&list, now).unwrap();
        assert_eq!(
            status,
            LeafStatus::Issued("the one on disk was issued by another CA".into())
        );
    }

    #[test]
    fn a_ca_without_its_key_is_an_error_that_says_what_to_do() {
        let data = tempfile::tempdir().unwrap();
        let dir = data.path().join("tls");
        LocalCa::open(&dir).unwrap();
        std::fs::remove_file(dir.join(CA_KEY)).unwrap();
        let message = LocalCa::open(&dir).unwrap_err().to_string();
        assert!(
            message.contains("ca.key") && message.contains("restore"),
            "{message}"
        );
    }
}
