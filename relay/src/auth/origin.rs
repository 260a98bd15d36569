//! Origins (RFC 6454) as the WebSocket and state-changing requests check them:
//! the relay's own origin is the scheme it serves plus the `Host` the browser
//! asked for, and an `Origin` header is compared with it after both are
//! normalised (lower-case host, default port dropped) — so `http://LOCALHOST:80`
//! and `http://localhost` are one origin, and `http://h:8080`, `https://h:8080`
//! and `http://h:8081` are three.
//!
//! Pure: strings in, verdict out; tested here.

use url::Url;

/// `scheme://host[:port]` of an origin or URL, normalised; refuses anything
/// that is not an `http(s)` origin (a path, a query, user info, `null`).
pub fn normalize(text: &str) -> Result<String, &'static str> {
    let url = Url::parse(text).map_err(|_| "not a URL like https://example.com:8443")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("an origin is http:// or https://");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("an origin has a host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("an origin has no user name or password");
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err("an origin is only scheme, host and port: no path, query or fragment");
    }
    Ok(url.origin().ascii_serialization())
}

/// The relay's own origin as the browser sees it: the scheme it serves on
/// and the request's `Host` header. `None` for a missing or unusable `Host`.
pub fn own(tls: bool, host: Option<&str>) -> Option<String> {
    let host = host?.trim();
    if host.is_empty() || host.contains(['/', '@', '?', '#', '\\']) {
        return None;
    }
    let scheme = if tls { "https" } else { "http" };
    normalize(&format!("{scheme}://{host}")).ok()
}

/// Where a request says it comes from, relative to the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The relay's own pages.
    Same,
    /// A page of an origin listed in `[auth] embed_origins` (the value, normalised).
    Embed(String),
    /// Any other origin, `null` included (sandboxed frames, `file:` pages).
    Foreign,
    /// No `Origin` header: not a browser, or a browser's same-origin GET.
    Missing,
}

/// Classifies an `Origin` header.
pub fn classify(origin: Option<&str>, own: Option<&str>, embed: &[String]) -> Source {
    let Some(origin) = origin else {
        return Source::Missing;
    };
    let Ok(origin) = normalize(origin.trim()) else {
        // `null` (sandboxed frames, `file:` pages) is welcome only where
        // every origin is.
        if embed.iter().any(|e| e == "*") {
            return Source::Embed(origin.trim().to_owned());
        }
        return Source::Foreign;
    };
    if own.is_some_and(|own| own == origin) {
        Source::Same
    } else if embed.contains(&origin) || embed.iter().any(|e| e == "*") {
        Source::Embed(origin)
    } else {
        Source::Foreign
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised() {
        assert_eq!(
            normalize("http://LOCALHOST:80").unwrap(),
            "http://localhost"
        );
        assert_eq!(
            normalize("https://h.example:443/").unwrap(),
            "https://h.example"
        );
        assert_eq!(
            normalize("https://h.example:8443").unwrap(),
            "https://h.example:8443"
        );
        assert_eq!(normalize("http://[::1]:8080").unwrap(), "http://[::1]:8080");
        for bad in [
            "null",
            "file:///etc",
            "https://h.example/path",
            "https://u:p@h.example",
            "https://h.example?x",
            "ws://h.example",
            "",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn own_origin_follows_scheme_and_host() {
        assert_eq!(
            own(false, Some("127.0.0.1:8080")).as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(
            own(true, Some("cam.lan:443")).as_deref(),
            Some("https://cam.lan")
        );
        assert_eq!(own(false, None), None);
        assert_eq!(own(false, Some("evil.com/x")), None);
        assert_eq!(own(false, Some("a@b")), None);
    }

    #[test]
    fn hijacking_attempts_are_foreign() {
        let own = Some("http://relay.lan:8080");
        let embed = vec!["https://shop.example".to_owned()];
        let class = |o| classify(Some(o), own, &embed);
        assert_eq!(class("http://relay.lan:8080"), Source::Same);
        assert_eq!(class("http://RELAY.lan:8080"), Source::Same);
        assert_eq!(
            class("https://shop.example"),
            Source::Embed("https://shop.example".into())
        );
        // Another port, another scheme, another host, null, garbage: foreign.
        for foreign in [
            "http://relay.lan:8081",
            "https://relay.lan:8080",
            "http://relay.lan",
            "http://relay.lan.evil.com:8080",
            "null",
            "http://shop.example",
            "not an origin",
        ] {
            assert_eq!(class(foreign), Source::Foreign, "{foreign}");
        }
        assert_eq!(classify(None, own, &embed), Source::Missing);
        // `*`: every page may try (with a ticket, when accounts are on).
        let any = vec!["*".to_owned()];
        assert_eq!(
            classify(Some("http://a.example"), own, &any),
            Source::Embed("http://a.example".into())
        );
        assert_eq!(
            classify(Some("null"), own, &any),
            Source::Embed("null".into())
        );
        // Without a usable Host, nothing is the relay's own.
        assert_eq!(
            classify(Some("http://relay.lan:8080"), None, &[]),
            Source::Foreign
        );
    }
}
