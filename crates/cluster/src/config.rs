//! `[cluster]` in the relay's config file.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// What a node does in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Pulls the cameras configured here (when it holds their lease) and
    /// serves viewers.
    #[default]
    Both,
    /// Pulls cameras and publishes them; serves no viewers of its own.
    Ingest,
    /// Serves viewers from the cluster; pulls no camera.
    Edge,
}

impl Role {
    /// Whether this node pulls cameras.
    pub fn ingests(self) -> bool {
        matches!(self, Role::Both | Role::Ingest)
    }

    /// Whether this node serves viewers.
    pub fn serves(self) -> bool {
        matches!(self, Role::Both | Role::Edge)
    }
}

/// The lease time when none is set: a dead owner's cameras are taken over
/// within about 4/3 of it (`lease.rs`), renewals cost one small write per
/// camera every 2 s.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(6);

/// `[cluster]`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// `nats://[user:password@]host:port`, or several (the client picks one
    /// and fails over to the others).
    pub nats: Servers,
    /// This node's name, unique in the cluster (letters, digits, '-', '_').
    pub node: String,
    #[serde(default)]
    pub role: Role,
    /// Camera ownership lease, seconds (default 6).
    pub lease_seconds: Option<u64>,
    /// A NATS credentials file (`.creds`: JWT and NKey seed).
    pub credentials: Option<PathBuf>,
    /// A token NATS wants instead.
    pub token: Option<String>,
    /// The CA that signed the NATS servers' certificates (`tls://` URLs, or
    /// servers that require TLS), when not a public one.
    pub tls_ca: Option<PathBuf>,
    /// A client certificate and its key, for servers that verify clients.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// The JetStream domain of the hub's servers, for a relay whose NATS
    /// server is a leaf node without JetStream (a remote site): its
    /// buckets are reached as `$JS.<domain>.API` across the leaf link.
    pub jetstream_domain: Option<String>,
    /// The node whose database holds the cluster's users, API keys, devices,
    /// share links and ticket signing keys: it publishes them, every other
    /// node keeps a read-only copy (`accounts.rs` in the relay). Unset: each
    /// relay has accounts of its own, as without a cluster.
    pub accounts: Option<String>,
}

/// Where a node's accounts come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accounts {
    /// Its own, as without a cluster.
    Own,
    /// This node manages the cluster's accounts and publishes them.
    Publish,
    /// A read-only copy of the node named here.
    CopyOf(String),
}

/// One NATS URL or several.
#[derive(Clone, Deserialize)]
#[serde(untagged)]
pub enum Servers {
    One(String),
    Many(Vec<String>),
}

impl Servers {
    pub fn urls(&self) -> Vec<&str> {
        match self {
            Servers::One(u) => vec![u.as_str()],
            Servers::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// What is wrong with a `[cluster]` table, said to whoever edits the file.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("nats: give at least one server URL, e.g. \"nats://127.0.0.1:4222\"")]
    NoServer,
    #[error("nats: {0:?} is not a URL of the form nats://host:port (or tls://, ws://, wss://)")]
    BadServer(String),
    #[error("node: a node name is 1 to 64 letters, digits, '-' or '_' ({0:?} is not)")]
    BadNode(String),
    #[error("lease_seconds: between 3 and 300 (a shorter lease fails over sooner but renews more often)")]
    BadLease,
    #[error("tls_cert and tls_key go together: give both or neither")]
    HalfClientCert,
    #[error("token and credentials: give one way to sign in to NATS, not both")]
    TwoSignIns,
    #[error("jetstream_domain: letters, digits, '-' and '_' ({0:?} is not)")]
    BadDomain(String),
    #[error("accounts: the name of the node that manages the accounts, 1 to 64 letters, digits, '-' or '_' ({0:?} is not)")]
    BadAccounts(String),
}

/// Whether `name` is a node name: 1 to 64 letters, digits, '-' or '_'
/// (one NATS subject token).
pub fn node_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

impl ClusterConfig {
    /// Checks what serde cannot.
    pub fn check(&self) -> Result<(), ConfigError> {
        let urls = self.nats.urls();
        if urls.is_empty() {
            return Err(ConfigError::NoServer);
        }
        for u in urls {
            let ok = url::Url::parse(u).is_ok_and(|url| {
                matches!(url.scheme(), "nats" | "tls" | "ws" | "wss") && url.host().is_some()
            });
            if !ok {
                return Err(ConfigError::BadServer(redact(u)));
            }
        }
        if !node_name_ok(&self.node) {
            return Err(ConfigError::BadNode(self.node.clone()));
        }
        if let Some(accounts) = self.accounts.as_ref().filter(|a| !node_name_ok(a)) {
            return Err(ConfigError::BadAccounts(accounts.clone()));
        }
        if self.lease_seconds.is_some_and(|s| !(3..=300).contains(&s)) {
            return Err(ConfigError::BadLease);
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::HalfClientCert);
        }
        if self.token.is_some() && self.credentials.is_some() {
            return Err(ConfigError::TwoSignIns);
        }
        if let Some(domain) = &self.jetstream_domain {
            let ok = !domain.is_empty()
                && domain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
            if !ok {
                return Err(ConfigError::BadDomain(domain.clone()));
            }
        }
        Ok(())
    }

    /// Where this node's accounts come from.
    pub fn accounts(&self) -> Accounts {
        match &self.accounts {
            None => Accounts::Own,
            Some(node) if *node == self.node => Accounts::Publish,
            Some(node) => Accounts::CopyOf(node.clone()),
        }
    }

    /// The ownership lease.
    pub fn lease(&self) -> Duration {
        self.lease_seconds
            .map_or(DEFAULT_LEASE, Duration::from_secs)
    }
}

/// A server URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("…"));
            }
            u.to_string()
        }
        Err(_) => "(not a URL)".into(),
    }
}

impl fmt::Debug for ClusterConfig {
    // URLs may hold passwords; the token is a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let urls: Vec<String> = self.nats.urls().into_iter().map(redact).collect();
        f.debug_struct("ClusterConfig")
            .field("nats", &urls)
            .field("node", &self.node)
            .field("role", &self.role)
            .field("lease", &self.lease())
            .field("credentials", &self.credentials)
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("tls_ca", &self.tls_ca)
            .field("jetstream_domain", &self.jetstream_domain)
            .field("accounts", &self.accounts)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> ClusterConfig {
        toml::from_str(toml_text).expect("parses")
    }

    #[test]
    fn a_minimal_table_is_a_node_that_does_both() {
        let c = parse("nats = \"nats://127.0.0.1:4222\"\nnode = \"a\"");
        assert_eq!(c.check(), Ok(()));
        assert_eq!(c.role, Role::Both);
        assert!(c.role.ingests() && c.role.serves());
        assert_eq!(c.lease(), DEFAULT_LEASE);
    }

    #[test]
    fn the_accounts_node_publishes_and_the_others_copy() {
        let table =
            |node: &str| format!("nats = \"nats://a:4222\"\nnode = \"{node}\"\naccounts = \"hq\"");
        assert_eq!(parse(&table("hq")).accounts(), Accounts::Publish);
        assert_eq!(
            parse(&table("edge")).accounts(),
            Accounts::CopyOf("hq".into())
        );
        assert_eq!(
            parse("nats = \"nats://a:4222\"\nnode = \"a\"").accounts(),
            Accounts::Own
        );
        let bad = parse("nats = \"nats://a:4222\"\nnode = \"a\"\naccounts = \"h q\"");
        assert_eq!(bad.check(), Err(ConfigError::BadAccounts("h q".into())));
    }

    #[test]
    fn several_servers_and_roles() {
        let c = parse(
            "nats = [\"nats://a:4222\", \"tls://b:4222\"]\nnode = \"edge-1\"\nrole = \"edge\"\nlease_seconds = 10",
        );
        assert_eq!(c.check(), Ok(()));
        assert_eq!(c.nats.urls().len(), 2);
        assert!(!c.role.ingests() && c.role.serves());
        assert_eq!(c.lease(), Duration::from_secs(10));
    }

    #[test]
    fn mistakes_are_named_and_passwords_never_shown() {
        let bad = parse("nats = \"http://u:secret@x:1\"\nnode = \"a\"");
        let err = bad.check().unwrap_err().to_string();
        assert!(err.contains("nats://host:port"), "{err}");
        assert!(!err.contains("secret"), "{err}");
        let c = parse("nats = \"nats://u:secret@x:1\"\nnode = \"a\"\ntoken = \"t0ken\"");
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("secret") && !shown.contains("t0ken"),
            "{shown}"
        );
        assert_eq!(
            parse("nats = \"nats://x:1\"\nnode = \"a b\"").check(),
            Err(ConfigError::BadNode("a b".into()))
        );
        assert_eq!(
            parse("nats = \"nats://x:1\"\nnode = \"a\"\nlease_seconds = 1").check(),
            Err(ConfigError::BadLease)
        );
        assert_eq!(
            parse("nats = []\nnode = \"a\"").check(),
            Err(ConfigError::NoServer)
        );
        assert!(toml::from_str::<ClusterConfig>(
            "nats = \"nats://x:1\"\nnode = \"a\"\nrole = \"boss\""
        )
        .is_err());
        assert!(toml::from_str::<ClusterConfig>(
            "nats = \"nats://x:1\"\nnode = \"a\"\nnod = \"b\""
        )
        .is_err());
    }
}
