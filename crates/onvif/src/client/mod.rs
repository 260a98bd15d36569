//! The ONVIF client: [`Camera`] speaks to one camera over HTTP, and
//! [`run_events`] keeps a PullPoint subscription alive and turns its
//! notifications into motion starts and ends.
//!
//! Behind the `client` cargo feature (on by default): it needs tokio and hyper,
//! while the protocol core above needs neither, so fuzz targets and the Wasm
//! side can use the core alone with `default-features = false`.
//!
//! Two camera habits shape it:
//! - Clocks: cameras without NTP are often minutes off, and a WS-Security
//!   `Created` outside their window (a few seconds to a few minutes) is refused
//!   exactly like a wrong password. [`Camera::system_date_and_time`] measures the
//!   offset (GetSystemDateAndTime needs no authentication) and every token is
//!   written in the camera's time.
//! - Addresses: behind NAT or port forwarding, cameras report service addresses
//!   with their own LAN address (`http://192.168.1.64/onvif/Events`), which the
//!   relay may not reach. [`reachable_address`] swaps such a host for the one
//!   configured.
//!
//! ```no_run
//! use std::sync::Arc;
//! use sightline_onvif::{run_events, Camera, EventOptions, EventStatus, EventUpdate, StateChange};
//! # async fn relay() -> Result<(), sightline_onvif::ClientError> {
//! let camera = Arc::new(Camera::new("http://192.0.2.7/onvif/device_service", "onvif", "secret")?);
//! let (tx, mut rx) = tokio::sync::mpsc::channel(32);
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let events = tokio::spawn(async move {
//!     run_events(&camera, &EventOptions::default(), &tx, async { let _ = stopped.await; }).await
//! });
//! while let Some(update) = rx.recv().await {
//!     match update {
//!         EventUpdate::Change(StateChange::Started { topic, source, at }) => { /* alert start */ }
//!         EventUpdate::Change(StateChange::Ended { topic, source, at, timed_out }) => { /* end */ }
//!         EventUpdate::Status(EventStatus::Failed { message, .. }) => { /* camera status */ }
//!         EventUpdate::Status(EventStatus::Connected { .. }) => {}
//!     }
//! }
//! let _ = stop.send(()); // unsubscribes, then `events` ends
//! # Ok(()) }
//! ```

mod ptz;
mod subscriber;
mod transport;

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use hyper::Uri;

use crate::requests::{self, Request};
use crate::responses::{self, Capabilities, EndpointReference, Service};
use crate::{ns, ClockOffset, Error, PullMessages, Subscription, Timestamp, UsernameToken};

pub use ptz::{PtzCamera, PtzSetup};
pub use subscriber::{run_events, EventOptions, EventStatus, EventUpdate};

/// What went wrong talking to a camera, worded for the administrator who
/// configured it.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the ONVIF address {url:?} is not a valid http:// URL (it is usually http://CAMERA/onvif/device_service)")]
    InvalidUrl { url: String },
    #[error("the ONVIF address {url} uses https, which Sightline's ONVIF client does not support yet: use the camera's http:// address")]
    Https { url: String },
    #[error("cannot reach the camera at {url} ({reason}): check the ONVIF address and that the camera is on and reachable from the relay")]
    Unreachable { url: String, reason: String },
    #[error("the camera at {url} did not answer within {after:?}: it may be overloaded, or the address may lead elsewhere")]
    Timeout { url: String, after: Duration },
    #[error("wrong ONVIF user or password: the camera refused HTTP digest authentication at {url} (the ONVIF user is often separate from the camera's web login)")]
    HttpUnauthorized { url: String },
    #[error("the camera asks for an HTTP authentication Sightline cannot answer ({reason}); enable digest or WS-Security authentication for ONVIF on the camera")]
    HttpAuthScheme { reason: String },
    #[error("the camera answered HTTP {status} at {url}: check the ONVIF address (it is usually http://CAMERA/onvif/device_service)")]
    Http { url: String, status: u16 },
    #[error("the camera's reply from {url} is larger than {limit} bytes; capture it and report the camera model and firmware")]
    TooLarge { url: String, limit: usize },
    #[error("the camera lists no ONVIF events service: it may not support events, or ONVIF may be disabled in its settings")]
    NoEventsService,
    #[error("the camera lists no ONVIF {service} service: it has no PTZ, or ONVIF may be disabled in its settings")]
    NoService { service: &'static str },
    #[error("{}", match wanted {
        Some(w) => format!("the camera has no media profile {w:?} with a PTZ configuration: check `ptz_profile`, or leave it out to use the first"),
        None => "no media profile of the camera has a PTZ configuration: it has no PTZ, or PTZ is not set up on the camera".to_owned(),
    })]
    NoPtzProfile { wanted: Option<String> },
    #[error("the camera offers no field-of-view space for relative moves, so click to centre cannot work on it; use the arrows or presets")]
    NoFieldOfView,
    #[error(transparent)]
    Onvif(#[from] Error),
    #[error("internal error in the ONVIF client: {0}")]
    Internal(&'static str),
}

impl ClientError {
    /// The camera refused the credentials, or the `Created` time behind them.
    pub fn is_not_authorized(&self) -> bool {
        match self {
            ClientError::HttpUnauthorized { .. } => true,
            ClientError::Onvif(Error::Fault(fault)) => {
                fault.is_not_authorized() || fault.has_subcode("wsse:MessageExpired")
            }
            _ => false,
        }
    }

    /// The camera answered with a SOAP fault (it is there and speaks ONVIF).
    pub fn is_fault(&self) -> bool {
        matches!(self, ClientError::Onvif(Error::Fault(_)))
    }
}

/// A password that never reaches a log: `Debug` prints `<redacted>`.
#[derive(Clone)]
pub(crate) struct Password(String);

impl Password {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One ONVIF camera: its device service address and credentials, the measured
/// clock offset and the HTTP digest state. Methods take `&self`; share it
/// (`Arc<Camera>`) between the event loop and PTZ.
pub struct Camera {
    device_url: String,
    username: String,
    password: Password,
    transport: transport::Transport,
    request_timeout: Duration,
    offset: Mutex<Option<ClockOffset>>,
}

impl std::fmt::Debug for Camera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Camera")
            .field("device_url", &self.device_url)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("clock_offset", &self.clock_offset())
            .finish_non_exhaustive()
    }
}

/// How long one ordinary request may take, connection included.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

impl Camera {
    /// `device_url` is the device service (`http://HOST[:PORT]/onvif/device_service`);
    /// an empty `username` sends no credentials (cameras with ONVIF auth off).
    pub fn new(device_url: &str, username: &str, password: &str) -> Result<Camera, ClientError> {
        let uri: Uri = device_url.parse().map_err(|_| ClientError::InvalidUrl {
            url: device_url.to_owned(),
        })?;
        if uri.host().is_none() {
            return Err(ClientError::InvalidUrl {
                url: device_url.to_owned(),
            });
        }
        let password = Password(password.to_owned());
        Ok(Camera {
            device_url: device_url.to_owned(),
            username: username.to_owned(),
            transport: transport::Transport::new(
                username,
                password.clone(),
                DEFAULT_REQUEST_TIMEOUT,
            ),
            password,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            offset: Mutex::new(None),
        })
    }

    /// Sets the limit for one ordinary request (a long poll gets its own
    /// timeout on top).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Camera {
        self.request_timeout = timeout;
        self
    }

    pub fn device_url(&self) -> &str {
        &self.device_url
    }

    /// The last measured offset (`None` before [`Camera::system_date_and_time`]).
    pub fn clock_offset(&self) -> Option<ClockOffset> {
        self.offset.lock().ok().and_then(|o| *o)
    }

    /// Sets the offset tokens are written with (tests; a known-good value).
    pub fn set_clock_offset(&self, offset: ClockOffset) {
        if let Ok(mut o) = self.offset.lock() {
            *o = Some(offset);
        }
    }

    /// Whether the camera has asked for HTTP digest authentication.
    pub fn uses_http_digest(&self) -> bool {
        self.transport.uses_http_digest()
    }

    /// The WS-Security token for one request: a fresh 16-byte nonce, `Created`
    /// in the camera's clock (ours when it was never measured).
    fn token(&self) -> Result<Option<UsernameToken>, ClientError> {
        if self.username.is_empty() {
            return Ok(None);
        }
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce)
            .map_err(|_| ClientError::Internal("the system's random number generator failed"))?;
        let offset = self.clock_offset().unwrap_or_default();
        let created = offset.apply(local_now());
        Ok(Some(UsernameToken::new(
            &self.username,
            self.password.expose(),
            &nonce,
            created,
        )))
    }

    /// POSTs and parses; a SOAP fault is a fault whatever the HTTP status.
    async fn call<T>(
        &self,
        url: &str,
        request: Request,
        timeout: Duration,
        parse: impl FnOnce(&str) -> Result<T, Error>,
    ) -> Result<T, ClientError> {
        let reply = self.transport.post(url, &request, timeout).await?;
        let parsed = parse(&reply.body);
        if reply.status.is_success() {
            return Ok(parsed?);
        }
        match parsed {
            Err(Error::Fault(fault)) => Err(ClientError::Onvif(Error::Fault(fault))),
            _ => Err(ClientError::Http {
                url: url.to_owned(),
                status: reply.status.as_u16(),
            }),
        }
    }

    /// Asks the camera its time and stores the offset to ours.
    ///
    /// The reply carries whole seconds, truncated: the camera's clock read
    /// between T and T + 1 s, somewhere within the round trip. So the offset is
    /// taken against the midpoint of request and reply, plus 500 ms, which
    /// leaves an error of at most ±(500 ms + half the round trip).
    pub async fn system_date_and_time(&self) -> Result<ClockOffset, ClientError> {
        let sent = local_now();
        let camera = self
            .call(
                &self.device_url,
                requests::get_system_date_and_time(),
                self.request_timeout,
                responses::parse_system_date_and_time,
            )
            .await?;
        let received = local_now();
        let midpoint = Timestamp(sent.0 + (received.0 - sent.0) / 2);
        let offset = ClockOffset::from(Timestamp(camera.0 + 500), midpoint);
        self.set_clock_offset(offset);
        Ok(offset)
    }

    /// GetServices: every service the camera offers, addresses as reported.
    pub async fn services(&self) -> Result<Vec<Service>, ClientError> {
        let request = requests::get_services(self.token()?.as_ref());
        self.call(
            &self.device_url,
            request,
            self.request_timeout,
            responses::parse_get_services,
        )
        .await
    }

    /// GetCapabilities (category `All`), addresses as reported.
    pub async fn capabilities(&self) -> Result<Capabilities, ClientError> {
        let request = requests::get_capabilities(self.token()?.as_ref(), "All");
        self.call(
            &self.device_url,
            request,
            self.request_timeout,
            responses::parse_get_capabilities,
        )
        .await
    }

    /// The events service address, made reachable ([`reachable_address`]):
    /// GetServices first, GetCapabilities for firmware without it.
    pub async fn events_address(&self) -> Result<String, ClientError> {
        let from_services = match self.services().await {
            Ok(services) => services
                .into_iter()
                .find(|s| s.namespace == ns::TEV)
                .map(|s| s.xaddr),
            // The credentials are refused: GetCapabilities would be refused too.
            Err(e) if e.is_not_authorized() => return Err(e),
            // Older firmware: no GetServices (a fault, or HTTP 400/500).
            Err(ClientError::Onvif(Error::Fault(_)) | ClientError::Http { .. }) => None,
            Err(e) => return Err(e),
        };
        let address = match from_services {
            Some(address) => address,
            None => self
                .capabilities()
                .await?
                .events
                .ok_or(ClientError::NoEventsService)?,
        };
        Ok(reachable_address(&self.device_url, &address))
    }

    /// CreatePullPointSubscription at `events_address`, for `topics` (all
    /// events when empty); the subscription's address is made reachable.
    pub async fn create_pull_point_subscription(
        &self,
        events_address: &str,
        topics: &[&str],
        termination: Duration,
    ) -> Result<Subscription, ClientError> {
        let request = requests::create_pull_point_subscription(
            self.token()?.as_ref(),
            events_address,
            topics,
            termination,
        );
        let mut subscription = self
            .call(
                events_address,
                request,
                self.request_timeout,
                responses::parse_create_pull_point_subscription,
            )
            .await?;
        subscription.reference.address =
            reachable_address(&self.device_url, &subscription.reference.address);
        Ok(subscription)
    }

    /// PullMessages: waits up to `timeout` for at most `limit` messages.
    pub async fn pull_messages(
        &self,
        subscription: &EndpointReference,
        timeout: Duration,
        limit: u32,
    ) -> Result<PullMessages, ClientError> {
        let request = requests::pull_messages(self.token()?.as_ref(), subscription, timeout, limit);
        self.call(
            &subscription.address,
            request,
            timeout + self.request_timeout,
            responses::parse_pull_messages,
        )
        .await
    }

    /// Renew: the new termination time, in the camera's clock.
    pub async fn renew(
        &self,
        subscription: &EndpointReference,
        termination: Duration,
    ) -> Result<Timestamp, ClientError> {
        let request = requests::renew(self.token()?.as_ref(), subscription, termination);
        self.call(
            &subscription.address,
            request,
            self.request_timeout,
            responses::parse_renew,
        )
        .await
    }

    /// Unsubscribe: frees the camera's subscription slot now.
    pub async fn unsubscribe(&self, subscription: &EndpointReference) -> Result<(), ClientError> {
        let request = requests::unsubscribe(self.token()?.as_ref(), subscription);
        self.call(
            &subscription.address,
            request,
            self.request_timeout,
            |xml| responses::parse_empty(xml, "UnsubscribeResponse"),
        )
        .await
    }
}

/// Our clock.
pub(crate) fn local_now() -> Timestamp {
    Timestamp::from_system_time(SystemTime::now())
}

/// An address the camera reported, made reachable from the relay.
///
/// When its host is an IP literal only meaningful inside the camera's network
/// (private, CGNAT, loopback, link-local, unspecified; IPv6 unique-local or
/// link-local; `localhost`) and differs from the configured host, the scheme,
/// host and port are replaced by the configured ones and the path kept: behind
/// NAT or port forwarding the camera knows only its LAN address (and its
/// internal port), and the configured address is the one known to work. A
/// public address or a host name is trusted as reported.
pub fn reachable_address(device_url: &str, reported: &str) -> String {
    let (Ok(configured), Ok(reported_uri)) = (device_url.parse::<Uri>(), reported.parse::<Uri>())
    else {
        return reported.to_owned();
    };
    let (Some(configured_authority), Some(reported_host)) =
        (configured.authority(), reported_uri.host())
    else {
        return reported.to_owned();
    };
    if configured.host() == Some(reported_host) || !is_local_only(reported_host) {
        return reported.to_owned();
    }
    let scheme = configured.scheme_str().unwrap_or("http");
    let path = reported_uri.path_and_query().map_or("/", |p| p.as_str());
    format!("{scheme}://{configured_authority}{path}")
}

fn is_local_only(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    match literal.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            let [a, b, ..] = ip.octets();
            ip.is_private()
                || ip.is_loopback()
                || ip.is_link_local()
                || ip.is_unspecified()
                || (a == 100 && (64..128).contains(&b))
        }
        Ok(IpAddr::V6(ip)) => {
            let first = ip.segments()[0];
            ip.is_loopback()
                || ip.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nat_addresses_are_rewritten() {
        let device = "http://cam.example.net:8081/onvif/device_service";
        assert_eq!(
            reachable_address(device, "http://192.168.1.64/onvif/Events"),
            "http://cam.example.net:8081/onvif/Events"
        );
        assert_eq!(
            reachable_address(device, "http://10.0.0.7:80/onvif/sub?id=3"),
            "http://cam.example.net:8081/onvif/sub?id=3"
        );
        assert_eq!(
            reachable_address(device, "http://[fe80::1]/onvif/Events"),
            "http://cam.example.net:8081/onvif/Events"
        );
        assert_eq!(
            reachable_address(device, "http://100.70.1.2/x"),
            "http://cam.example.net:8081/x"
        );
        // Public addresses and names are trusted.
        for kept in [
            "http://203.0.113.5/onvif/Events",
            "http://events.example.net/onvif/Events",
            "http://100.128.0.1/x",
        ] {
            assert_eq!(reachable_address(device, kept), kept);
        }
        // Same host: kept, its port included.
        let lan = "http://192.168.1.64/onvif/device_service";
        assert_eq!(
            reachable_address(lan, "http://192.168.1.64:8000/onvif/Events"),
            "http://192.168.1.64:8000/onvif/Events"
        );
        // Garbage is passed through, for the request to report.
        assert_eq!(reachable_address(device, "not a url"), "not a url");
    }

    #[test]
    fn the_password_is_never_printed() {
        let camera = Camera::new("http://192.0.2.1/onvif/device_service", "admin", "hunter2")
            .expect("valid address");
        let printed = format!("{camera:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("admin"), "{printed}");
        assert!(Camera::new("not a url", "a", "b").is_err());
    }
}
