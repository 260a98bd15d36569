//! The protocol core of Sightline's ONVIF client: what goes into a SOAP request
//! and what comes out of a reply, with no I/O, so every vendor quirk can be pinned
//! down by a test on captured or hand-written XML (`tests/fixtures/`).
//!
//! What is here (issue 14, camera events):
//! - [`UsernameToken`]: the WS-Security `PasswordDigest` every ONVIF camera takes;
//!   the caller supplies the nonce bytes and the instant (pure: no RNG, no clock).
//! - [`ClockOffset`] from [`parse_system_date_and_time`]: cameras' clocks are often
//!   minutes off, and a stale `Created` is refused like a wrong password.
//! - Request builders for the device time and the PullPoint event service
//!   ([`requests`]) and parsers for their replies and SOAP faults ([`responses`]).
//! - [`EventState`]: which motion/alarm states are active, with the debounce a
//!   camera that never sends the "end" needs.
//!
//! - GetServices/GetCapabilities, to find the events service's address.
//!
//! And for PTZ (issue 15), [`ptz`]: GetProfiles, GetConfigurationOptions, the
//! moves, presets, home and status, with the camera quirks as named policies.
//!
//! With the `client` feature (default): [`client`], the HTTP transport (SOAP 1.2
//! over HTTP POST, with HTTP digest for the cameras that want it), [`Camera`] and
//! the PullPoint loop [`run_events`] (renew, resubscribe with backoff). Not here:
//! the relay's alert engine, which consumes [`EventUpdate`]s.
//!
//! Parsing matches on namespace URIs and local names, never on prefixes, and
//! skips elements it does not know; it rejects XML that is not well-formed.

#[cfg(feature = "client")]
pub mod client;
mod error;
pub mod events;
pub mod ptz;
pub mod requests;
pub mod responses;
mod security;
mod time;
mod xml;

#[cfg(feature = "client")]
pub use client::{
    reachable_address, run_events, Camera, ClientError, EventOptions, EventStatus, EventUpdate,
    PtzCamera, PtzSetup,
};
pub use error::{Error, Fault};
pub use events::{EventState, StateChange};
pub use responses::{
    parse_create_pull_point_subscription, parse_get_capabilities, parse_get_services,
    parse_pull_messages, parse_renew, parse_system_date_and_time, Capabilities, Notification,
    PropertyOperation, PullMessages, Service, Subscription,
};
pub use security::UsernameToken;
pub use time::{parse_xsd_duration, xsd_duration, ClockOffset, Timestamp};

/// The namespaces ONVIF messages use.
pub mod ns {
    /// SOAP 1.2 envelope (`s:`), what ONVIF requires.
    pub const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
    /// SOAP 1.1 envelope: accepted in replies from older firmware, never sent.
    pub const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
    pub const WSA: &str = "http://www.w3.org/2005/08/addressing";
    pub const WSNT: &str = "http://docs.oasis-open.org/wsn/b-2";
    pub const WSTOP: &str = "http://docs.oasis-open.org/wsn/t-1";
    pub const TEV: &str = "http://www.onvif.org/ver10/events/wsdl";
    pub const TDS: &str = "http://www.onvif.org/ver10/device/wsdl";
    /// The media service (profiles), `trt:`.
    pub const TRT: &str = "http://www.onvif.org/ver10/media/wsdl";
    /// The PTZ service, `tptz:`.
    pub const TPTZ: &str = "http://www.onvif.org/ver20/ptz/wsdl";
    pub const TT: &str = "http://www.onvif.org/ver10/schema";
    /// ONVIF's topic namespace, written `tns1:` by convention.
    pub const TNS1: &str = "http://www.onvif.org/ver10/topics";
    /// ONVIF's fault subcodes, written `ter:` by convention.
    pub const TER: &str = "http://www.onvif.org/ver10/error";
    pub const WSSE: &str =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
    pub const WSU: &str =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
}
