//! Where the WebSocket of a relay is, from what a page author writes in the
//! `relay` attribute (or the page's own origin).

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
    use super::websocket_url;

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
