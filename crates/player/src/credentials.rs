//! Who a connection says it is (pure, host-tested).
//!
//! A page on the relay's own origin needs nothing: its session cookie goes with
//! the WebSocket's upgrade request. Pages of other origins (embeds), kiosks and
//! share links bring a signed ticket in `hello`, either fixed (the element's
//! `ticket` attribute) or asked for at every (re)connect (its `getTicket`
//! function, which wins). A ticket scopes what the socket may see, so elements
//! share a socket only when their credentials are the same: the same ticket
//! string, the same `getTicket` function object (identity), or none.
//!
//! Tickets are bearer credentials: `Debug` never shows one
//! ([`sightline_wire::Ticket`]'s does not), and none goes into a message here.

use sightline_wire::Ticket;

/// How a connection identifies itself in `hello`. `F` is the page's
/// `getTicket` function (`js_sys::Function` in the browser, whose `==` is
/// JavaScript's `===`: identity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials<F> {
    /// No ticket: the relay goes by the page's session cookie (or refuses).
    Cookie,
    /// The same ticket at every (re)connect.
    Ticket(Ticket),
    /// A function asked for a fresh ticket at every (re)connect.
    Source(F),
}

impl<F> Credentials<F> {
    /// The credentials of an element with this `ticket` attribute and this
    /// `getTicket` function: the function wins; an empty attribute is none.
    pub fn choose(ticket: Option<&str>, get_ticket: Option<F>) -> Self {
        if let Some(source) = get_ticket {
            return Credentials::Source(source);
        }
        match ticket.map(str::trim).filter(|t| !t.is_empty()) {
            Some(ticket) => Credentials::Ticket(Ticket(ticket.to_owned())),
            None => Credentials::Cookie,
        }
    }

    /// Whether a connection with these credentials closes once no element
    /// uses them any more. A connection without a ticket stays open for the
    /// page's lifetime, ready for the next element; one with a ticket stands
    /// for credentials a page replaces (a new ticket, a new `getTicket`), and
    /// left open it would reconnect forever with stale ones.
    pub fn close_when_unused(&self) -> bool {
        !matches!(self, Credentials::Cookie)
    }
}

/// The `error` message for a `getTicket` that threw or rejected; `reason` is
/// the error's own message.
pub fn fetch_failed(reason: Option<&str>) -> String {
    match reason.map(str::trim).filter(|r| !r.is_empty()) {
        Some(reason) => format!("getTicket failed: {reason}"),
        None => "getTicket failed".to_owned(),
    }
}

/// What `getTicket` resolved to (`None`: not a string), as a ticket. The
/// error says what was wrong, never what the value was (it may be a ticket
/// in the wrong wrapping).
pub fn accept_fetched(value: Option<String>) -> Result<Ticket, String> {
    match value {
        Some(ticket) if !ticket.trim().is_empty() => Ok(Ticket(ticket.trim().to_owned())),
        Some(_) => Err(fetch_failed(Some("it returned an empty ticket"))),
        None => Err(fetch_failed(Some(
            "it returned no string (expected a ticket, or a Promise of one)",
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type C = Credentials<u32>;

    #[test]
    fn get_ticket_wins_over_the_attribute() {
        assert_eq!(C::choose(Some("st1.a"), Some(7)), Credentials::Source(7));
        assert_eq!(C::choose(None, Some(7)), Credentials::Source(7));
    }

    #[test]
    fn the_attribute_is_a_ticket_unless_empty() {
        assert_eq!(
            C::choose(Some(" st1.a\n"), None),
            Credentials::Ticket(Ticket("st1.a".into()))
        );
        assert_eq!(C::choose(Some(""), None), Credentials::Cookie);
        assert_eq!(C::choose(Some("  "), None), Credentials::Cookie);
        assert_eq!(C::choose(None, None), Credentials::Cookie);
    }

    #[test]
    fn same_credentials_share_and_different_ones_do_not() {
        let a = C::choose(Some("st1.a"), None);
        assert_eq!(a, C::choose(Some("st1.a"), None));
        assert_ne!(a, C::choose(Some("st1.b"), None));
        assert_ne!(a, C::choose(None, None));
        assert_ne!(a, C::choose(Some("st1.a"), Some(1)));
        assert_eq!(C::choose(None, Some(1)), C::choose(Some("x"), Some(1)));
        assert_ne!(C::choose(None, Some(1)), C::choose(None, Some(2)));
    }

    #[test]
    fn only_ticket_connections_close_when_unused() {
        assert!(!C::Cookie.close_when_unused());
        assert!(C::choose(Some("st1.a"), None).close_when_unused());
        assert!(C::Source(1).close_when_unused());
    }

    #[test]
    fn debug_never_shows_a_ticket() {
        let shown = format!("{:?}", C::choose(Some("st1.secret"), None));
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn fetched_tickets_are_checked_without_being_echoed() {
        assert_eq!(
            accept_fetched(Some("st1.k.p.s".into())),
            Ok(Ticket("st1.k.p.s".into()))
        );
        let empty = accept_fetched(Some(" ".into())).unwrap_err();
        assert!(empty.starts_with("getTicket failed: "), "{empty}");
        let none = accept_fetched(None).unwrap_err();
        assert!(none.starts_with("getTicket failed: "), "{none}");
    }

    #[test]
    fn failures_say_why() {
        assert_eq!(fetch_failed(Some("HTTP 403")), "getTicket failed: HTTP 403");
        assert_eq!(fetch_failed(Some("")), "getTicket failed");
        assert_eq!(fetch_failed(None), "getTicket failed");
    }
}
