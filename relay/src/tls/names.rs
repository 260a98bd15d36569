//! The names a self-signed certificate is for: host names and IP addresses,
//! checked as a browser will (a name the certificate lacks is a certificate
//! error), and the default list — `localhost`, this machine's host name (and
//! `NAME.local`, its mDNS name on a LAN) and its addresses.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One subject alternative name: a DNS name (lower case, maybe `*.` first)
/// or an IP address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsName {
    Dns(String),
    Ip(IpAddr),
}

impl TlsName {
    /// `cams.example.lan`, `*.example.lan`, `192.168.1.5`, `::1` or `[::1]`.
    pub fn parse(text: &str) -> Result<TlsName, String> {
        let text = text.trim();
        let bare = text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(text);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(TlsName::Ip(ip));
        }
        let name = text.trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty() {
            return Err("empty".into());
        }
        if name.len() > 253 {
            return Err("longer than 253 characters".into());
        }
        let (wildcard, rest) = match name.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, name.as_str()),
        };
        for label in rest.split('.') {
            let ok = (1..=63).contains(&label.len())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !ok {
                return Err(
                    "a host name is labels of letters, digits and '-' separated by dots (a wildcard only as `*.` first), or an IP address"
                        .into(),
                );
            }
        }
        if wildcard && !rest.contains('.') {
            return Err("a wildcard needs at least two labels after it (`*.example.lan`)".into());
        }
        if rest.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return Err("looks like an IP address, but is not one".into());
        }
        Ok(TlsName::Dns(name))
    }
}

impl fmt::Display for TlsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsName::Dns(name) => f.write_str(name),
            TlsName::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// `localhost`, the host name and `HOST.local`, the loopback addresses and
/// every address of this machine's interfaces (IPv6 link-local ones left
/// out: browsers cannot open a URL with a zone).
pub fn default_names() -> Vec<TlsName> {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let addresses = match if_addrs::get_if_addrs() {
        Ok(interfaces) => interfaces.into_iter().map(|i| i.ip()).collect(),
        Err(e) => {
            tracing::warn!("cannot list this machine's addresses for the TLS certificate: {e}");
            Vec::new()
        }
    };
    default_names_for(&host, &addresses)
}

/// [`default_names`] for this host name and these addresses (pure, tested).
pub fn default_names_for(host: &str, addresses: &[IpAddr]) -> Vec<TlsName> {
    let mut names = vec![TlsName::Dns("localhost".into())];
    let mut push = |name: TlsName| {
        if !names.contains(&name) {
            names.push(name);
        }
    };
    if let Ok(TlsName::Dns(host)) = TlsName::parse(host) {
        if !host.starts_with("*.") {
            if !host.contains('.') {
                push(TlsName::Dns(format!("{host}.local")));
            }
            push(TlsName::Dns(host));
        }
    }
    push(TlsName::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    push(TlsName::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    for &ip in addresses {
        let link_local_v6 = matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80);
        if !ip.is_unspecified() && !ip.is_multicast() && !link_local_v6 {
            push(TlsName::Ip(ip));
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses_parse() {
        let dns = |s: &str| TlsName::Dns(s.into());
        assert_eq!(
            TlsName::parse("Cams.Example.LAN.").unwrap(),
            dns("cams.example.lan")
        );
        assert_eq!(
            TlsName::parse("*.example.lan").unwrap(),
            dns("*.example.lan")
        );
        assert_eq!(TlsName::parse("nvr").unwrap(), dns("nvr"));
        assert_eq!(
            TlsName::parse("192.168.1.5").unwrap(),
            TlsName::Ip("192.168.1.5".parse().unwrap())
        );
        assert_eq!(
            TlsName::parse("[fd00::5]").unwrap(),
            TlsName::Ip("fd00::5".parse().unwrap())
        );
        for bad in [
            "",
            "a..b",
            "-a.lan",
            "a_b.lan",
            "cams.lan:443",
            "https://cams.lan",
            "*.lan",
            "a.*.lan",
            "300.1.1.1",
            &"a".repeat(64),
        ] {
            assert!(TlsName::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(TlsName::parse("fd00::5").unwrap().to_string(), "fd00::5");
    }

    #[test]
    fn the_default_list_is_localhost_the_host_and_its_addresses() {
        let addresses: Vec<IpAddr> = ["127.0.0.1", "192.168.1.20", "fe80::1", "fd00::20", "::1"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        let names: Vec<String> = default_names_for("NVR", &addresses)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            names,
            [
                "localhost",
                "nvr.local",
                "nvr",
                "127.0.0.1",
                "::1",
                "192.168.1.20",
                "fd00::20"
            ]
        );
        // A fully qualified host name is not given `.local`; an unusable one is left out.
        let names = default_names_for("nvr.example.lan", &[]);
        assert_eq!(names[1], TlsName::Dns("nvr.example.lan".into()));
        assert_eq!(default_names_for("bad_name", &[]).len(), 3);
    }
}
