//! Which `Host` names the relay answers to while accounts are off: the guard
//! against DNS rebinding.
//!
//! A web page on `evil.example` can make its own name resolve to the relay's
//! LAN address (a DNS answer with a short TTL, then a second one). The
//! browser then sends that page's requests — WebSocket included — to the
//! relay, and every check that compares `Origin` with the relay's own origin
//! passes, because both say `evil.example`. With accounts on, that page gets
//! nothing: the browser holds no session cookie for `evil.example`, and it has
//! no ticket. With `[auth] enabled = false`, nothing else stands between it
//! and every camera, so the relay then answers only to names it knows: IP
//! literals (a rebinding attack needs a name), `localhost` and `*.localhost`
//! (RFC 6761: browsers resolve them to loopback themselves), this machine's
//! name (also under `.local`, `.lan`, `.home.arpa` and `.internal`), the
//! names of its self-signed certificate, and `[auth] hosts`. Anything else
//! gets 421 Misdirected Request and a sentence saying what to configure.
//!
//! This is what Jupyter (`allow_remote_access`), webpack's dev server
//! (`allowedHosts`) and Home Assistant do for the same reason.
//!
//! Pure: a `Host` header in, a verdict out; tested here.

use std::net::IpAddr;

/// Suffixes under which home routers and mDNS publish a machine's name.
const LOCAL_DOMAINS: &[&str] = &["local", "lan", "home.arpa", "internal"];

/// The names the relay answers to (lower case, no trailing dot).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    any: bool,
    names: Vec<String>,
    /// From `*.example.org`: `example.org`, matching its subdomains.
    suffixes: Vec<String>,
}

impl AllowedHosts {
    /// `configured` is `[auth] hosts` (`"*"`: any name; `"*.example.org"`:
    /// its subdomains); `machine` this machine's host name; `certificate`
    /// the DNS names of the relay's own certificate.
    pub fn new(configured: &[String], machine: &str, certificate: &[String]) -> AllowedHosts {
        let mut allowed = AllowedHosts::default();
        let machine = clean(machine);
        if !machine.is_empty() && !machine.contains('.') {
            for domain in LOCAL_DOMAINS {
                allowed.add(&format!("{machine}.{domain}"));
            }
        }
        allowed.add(&machine);
        for name in configured.iter().chain(certificate) {
            allowed.add(name);
        }
        allowed
    }

    fn add(&mut self, name: &str) {
        let name = clean(name);
        if name == "*" {
            self.any = true;
        } else if let Some(suffix) = name.strip_prefix("*.") {
            if !suffix.is_empty() && !self.suffixes.iter().any(|s| s == suffix) {
                self.suffixes.push(suffix.to_owned());
            }
        } else if !name.is_empty() && !self.names.contains(&name) {
            self.names.push(name);
        }
    }

    /// Whether a request with this `Host` header (`name`, `name:port`,
    /// `[v6]:port`) is for this relay. A request without one (HTTP/1.0, a
    /// tool) is not a browser's, so rebinding does not apply to it.
    pub fn allows(&self, host: Option<&str>) -> bool {
        let Some(host) = host else {
            return true;
        };
        if self.any {
            return true;
        }
        let Some(name) = name_of(host) else {
            return false;
        };
        if name.parse::<IpAddr>().is_ok() {
            return true;
        }
        name == "localhost"
            || name.ends_with(".localhost")
            || self.names.contains(&name)
            || self.suffixes.iter().any(|s| {
                name.strip_suffix(s.as_str())
                    .is_some_and(|l| l.ends_with('.'))
            })
    }
}

/// A `Host` header's name: lower case, no port, no brackets, no trailing dot.
fn name_of(host: &str) -> Option<String> {
    let authority: axum::http::uri::Authority = host.trim().parse().ok()?;
    if authority.as_str().contains('@') {
        return None;
    }
    let name = authority.host();
    let name = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    Some(clean(name))
}

fn clean(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_localhost_and_this_machine_are_allowed() {
        let hosts = AllowedHosts::new(&[], "NVR", &[]);
        for ok in [
            "127.0.0.1:8080",
            "192.168.1.20",
            "[::1]:8080",
            "[fe80::1]",
            "localhost:8080",
            "LOCALHOST.",
            "app.localhost",
            "nvr:8080",
            "nvr.local:8080",
            "nvr.lan",
            "nvr.home.arpa.",
            "nvr.internal",
        ] {
            assert!(hosts.allows(Some(ok)), "{ok}");
        }
        assert!(hosts.allows(None), "no Host: not a browser");
    }

    #[test]
    fn other_names_are_refused() {
        let hosts = AllowedHosts::new(&[], "nvr", &[]);
        for bad in [
            "evil.example",
            "evil.example:8080",
            "nvr.evil.example",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "xnvr.local",
            "user@nvr",
            "",
            "nvr/path",
        ] {
            assert!(!hosts.allows(Some(bad)), "{bad:?}");
        }
    }

    #[test]
    fn configured_names_wildcards_and_certificate_names_are_added() {
        let hosts = AllowedHosts::new(
            &["Cams.Example.com".into(), "*.site.example".into()],
            "nvr.corp.example",
            &["relay.lan".into()],
        );
        for ok in [
            "cams.example.com:443",
            "a.site.example",
            "b.a.site.example",
            "relay.lan",
            "nvr.corp.example",
        ] {
            assert!(hosts.allows(Some(ok)), "{ok}");
        }
        for bad in [
            "site.example",
            "evilsite.example",
            "example.com",
            "nvr.corp.example.local",
        ] {
            assert!(!hosts.allows(Some(bad)), "{bad}");
        }
        let any = AllowedHosts::new(&["*".into()], "nvr", &[]);
        assert!(any.allows(Some("anything.example")));
    }
}
