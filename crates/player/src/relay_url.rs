//! Where the WebSocket of a relay is, from what a page author writes in the
//! `relay` attribute (or the page's own origin). The attribute may list
//! several relays of a cluster (separated by spaces or commas): the player
//! connects to the first and, whenever the socket closes, tries the next.

/// The WebSocket URLs of a `relay` attribute that lists one relay or
/// several, joined by single spaces (the connection's key; it splits them).
pub fn websocket_urls(relays: &str) -> Result<String, String> {
    let urls = relays
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|r| !r.is_empty())
        .map(websocket_url)
        .collect::<Result<Vec<String>, String>>()?;
    if urls.is_empty() {
        return Err("no relay URL".into());
    }
    Ok(urls.join(" "))
}

/// `https://cams.example.com` → `wss://cams.example.com/ws`; `http://h:8080/` →
/// `ws://h:8080/ws`; a `ws(s)://…` URL is taken as it is (with `/ws` added when it has no path).
pub fn websocket_url(relay: &str) -> Result<String, String> {
    let relay = relay.trim().trim_end_matches('/');
    let (scheme, rest) = if let Some(rest) = relay.strip_prefix("https://") {
        ("wss://", rest)
    } else if let Some(rest) = relay.strip_prefix("http://") {
        ("ws://", rest)
    } else if let Some(rest) = relay.strip_prefix("wss://") {
        ("wss://", rest)
    } else if let Some(rest) = relay.strip_prefix("ws://") {
        ("ws://", rest)
    } else {
        return Err(format!(
            "relay {relay:?} is not an http(s):// or ws(s):// URL"
        ));
    };
    if rest.is_empty() {
        return Err(format!("relay {relay:?} names no host"));
    }
    if rest.contains('/') {
        Ok(format!("{scheme}{rest}"))
    } else {
        Ok(format!("{scheme}{rest}/ws"))
    }
}

#[cfg(test)]
mod tests {
    use super::{websocket_url, websocket_urls};

    #[test]
    fn a_list_of_relays_becomes_a_list_of_sockets() {
        assert_eq!(
            websocket_urls("https://a.example, http://b:8080/").unwrap(),
            "wss://a.example/ws ws://b:8080/ws"
        );
        assert_eq!(websocket_urls("  http://one  ").unwrap(), "ws://one/ws");
        assert!(websocket_urls(" , ").is_err());
        assert!(websocket_urls("http://a ftp://b").is_err());
    }

    #[test]
    fn maps_page_origins_to_the_socket() {
        assert_eq!(
            websocket_url("http://127.0.0.1:8080").unwrap(),
            "ws://127.0.0.1:8080/ws"
        );
        assert_eq!(
            websocket_url("https://cams.example.com/").unwrap(),
            "wss://cams.example.com/ws"
        );
        assert_eq!(
            websocket_url("wss://h/custom/ws").unwrap(),
            "wss://h/custom/ws"
        );
        assert_eq!(websocket_url("ws://h:1").unwrap(), "ws://h:1/ws");
    }

    #[test]
    fn rejects_what_is_no_url() {
        assert!(websocket_url("cams.example.com").is_err());
        assert!(websocket_url("http://").is_err());
        assert!(websocket_url("").is_err());
    }
}
