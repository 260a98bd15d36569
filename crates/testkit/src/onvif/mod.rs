//! A validating ONVIF camera for tests: device service, PullPoint events and
//! the checks a strict camera makes on what it receives.
//!
//! Written from the specifications (ONVIF Core, WS-Security UsernameToken
//! Profile, RFC 7616), sharing no code with `sightline-onvif`: its own XML walk
//! (quick-xml, strict), its own SHA-1 digest check, its own dates (the `time`
//! crate). What it refuses, and how:
//! - not well-formed XML, not a SOAP 1.2 envelope, a `Content-Type` that is not
//!   `application/soap+xml` with an `action` matching the body (and the
//!   `wsa:Action` header when there is one), an operation sent to the wrong
//!   service: HTTP 400 with a SOAP fault;
//! - a missing or wrong UsernameToken digest, a nonce seen before, or a
//!   `Created` more than [`OnvifSimConfig::created_window`] (default 5 s) off the
//!   simulator's own clock, which [`OnvifSimConfig::clock_offset_secs`] shifts:
//!   `ter:NotAuthorized`, HTTP 400 by default (as ONVIF Core says for sender
//!   faults; [`OnvifSimConfig::auth_fault_status`] for the cameras that send 401).
//!   5 s is the tightest window seen on real cameras (Hikvision's; Axis and
//!   others allow minutes): strict enough that a clock offset not applied, or
//!   applied the wrong way, fails;
//! - with [`OnvifSimConfig::http_digest`], a request without a valid HTTP Digest
//!   `Authorization` (checked field by field, nonce count rising): HTTP 401 and a
//!   challenge, `stale=true` after [`OnvifSim::expire_http_nonces`].
//!
//! Every request is recorded ([`OnvifSim::requests`]), with what became of it,
//! and [`OnvifSim::wait_for`] awaits a condition on them without polling.
//!
//! With [`OnvifSimConfig::ptz`], a media service (GetProfiles) and a PTZ head
//! ([`ptz`]): position = ∫ velocity dt within limits, presets, every command
//! recorded with its time, and the quirks of real cameras on demand.

mod ptz;

// Unused by some of the test crates that compile this file in by path.
#[allow(unused_imports)]
pub use ptz::{
    PtzCommand, PtzSimConfig, CONFIGURATION as PTZ_CONFIGURATION, PROFILE as PTZ_PROFILE,
};

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::bail;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const WSA: &str = "http://www.w3.org/2005/08/addressing";
const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
const PASSWORD_DIGEST: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest";
const TDS: &str = "http://www.onvif.org/ver10/device/wsdl";
const TEV: &str = "http://www.onvif.org/ver10/events/wsdl";
const WSNT: &str = "http://docs.oasis-open.org/wsn/b-2";
const TNS1: &str = "http://www.onvif.org/ver10/topics";

/// Operations: (namespace, local name, SOAP action, service path).
const OPERATIONS: &[(&str, &str, &str, Service)] = &[
    (
        TDS,
        "GetSystemDateAndTime",
        "http://www.onvif.org/ver10/device/wsdl/GetSystemDateAndTime",
        Service::Device,
    ),
    (
        TDS,
        "GetServices",
        "http://www.onvif.org/ver10/device/wsdl/GetServices",
        Service::Device,
    ),
    (
        TDS,
        "GetCapabilities",
        "http://www.onvif.org/ver10/device/wsdl/GetCapabilities",
        Service::Device,
    ),
    (
        TEV,
        "CreatePullPointSubscription",
        "http://www.onvif.org/ver10/events/wsdl/EventPortType/CreatePullPointSubscriptionRequest",
        Service::Events,
    ),
    (
        TEV,
        "PullMessages",
        "http://www.onvif.org/ver10/events/wsdl/PullPointSubscription/PullMessagesRequest",
        Service::Subscription,
    ),
    (
        WSNT,
        "Renew",
        "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/RenewRequest",
        Service::Subscription,
    ),
    (
        WSNT,
        "Unsubscribe",
        "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/UnsubscribeRequest",
        Service::Subscription,
    ),
    (
        ptz::TRT,
        "GetProfiles",
        "http://www.onvif.org/ver10/media/wsdl/GetProfiles",
        Service::Media,
    ),
    (
        ptz::TPTZ,
        "GetConfigurationOptions",
        "http://www.onvif.org/ver20/ptz/wsdl/GetConfigurationOptions",
        Service::Ptz,
    ),
    (
        ptz::TPTZ,
        "ContinuousMove",
        "http://www.onvif.org/ver20/ptz/wsdl/ContinuousMove",
        Service::Ptz,
    ),
    (
        ptz::TPTZ,
        "Stop",
        "http://www.onvif.org/ver20/ptz/wsdl/Stop",
        Service::Ptz,
    ),
    (
        ptz::TPTZ,
        "RelativeMove",
        "http://www.onvif.org/ver20/ptz/wsdl/RelativeMove",
        Service::Ptz,
    ),
    (
        ptz::TPTZ,
        "AbsoluteMove",
        "http://www.onvif.org/ver20/ptz/wsdl/AbsoluteMove",
        Service::Ptz,
    ),
    (
        ptz::TPTZ,
        "GotoPreset",
        "http://www.onvif.org/ver20/ptz/wsdl/GotoPreset",
        Service::Ptz,
    ),
    (
        ptz::TPTZ,
        "GetPresets",
        "http://www.onvif.org/ver20/ptz/wsdl/GetPresets",
        Service::Ptz,
    ),
    (
        ptz::TPTZ,
        "SetPreset",
        "http://www.onvif.org/ver20/ptz/wsdl/SetPreset",
        Service::Ptz,
    ),
    (
        ptz::TPTZ,
        "RemovePreset",
        "http://www.onvif.org/ver20/ptz/wsdl/RemovePreset",
        Service::Ptz,
    ),
    (
        ptz::TPTZ,
        "GotoHomePosition",
        "http://www.onvif.org/ver20/ptz/wsdl/GotoHomePosition",
        Service::Ptz,
    ),
    (
        ptz::TPTZ,
        "GetStatus",
        "http://www.onvif.org/ver20/ptz/wsdl/GetStatus",
        Service::Ptz,
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    Device,
    Events,
    Subscription,
    Media,
    Ptz,
}

/// HTTP Digest algorithms the simulator can demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    Md5,
    Sha256,
}

/// How the simulated camera behaves.
#[derive(Debug, Clone)]
pub struct OnvifSimConfig {
    pub username: String,
    pub password: String,
    /// How far the camera's clock is ahead of the real one, in seconds
    /// (negative: behind).
    pub clock_offset_secs: i64,
    /// How far `Created` may be from the camera's clock.
    pub created_window: Duration,
    /// HTTP status of a `ter:NotAuthorized` fault (400 or 401).
    pub auth_fault_status: StatusCode,
    /// Demand HTTP Digest on every request (GetSystemDateAndTime included, as
    /// such cameras do).
    pub http_digest: Option<DigestAlgorithm>,
    /// The longest subscription it grants, whatever is asked.
    pub max_termination: Duration,
    /// Whether PullMessages extends the subscription by the time last granted.
    pub extend_on_pull: bool,
    /// Whether GetServices exists (older firmware: only GetCapabilities).
    pub get_services: bool,
    /// The host:port its service addresses name (a camera behind NAT names its
    /// LAN address); `None`: the address it listens on.
    pub advertise: Option<String>,
    /// A PTZ head, and how it behaves; `None`: a fixed camera (its profiles
    /// have no PTZ configuration, and no PTZ service is listed).
    pub ptz: Option<PtzSimConfig>,
}

impl Default for OnvifSimConfig {
    fn default() -> OnvifSimConfig {
        OnvifSimConfig {
            username: "onvif".into(),
            password: "secret".into(),
            clock_offset_secs: 0,
            created_window: Duration::from_secs(5),
            auth_fault_status: StatusCode::BAD_REQUEST,
            http_digest: None,
            max_termination: Duration::from_secs(3600),
            extend_on_pull: false,
            get_services: true,
            advertise: None,
            ptz: None,
        }
    }
}

/// ONVIF's `PropertyOperation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyOperation {
    Initialized,
    Changed,
    Deleted,
}

/// An event to deliver to the subscriptions whose filter admits its topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimEvent {
    /// With the `tns1:` prefix, e.g. `tns1:RuleEngine/CellMotionDetector/Motion`.
    pub topic: String,
    pub source: Vec<(String, String)>,
    pub operation: PropertyOperation,
    /// The data item's name (`IsMotion`, `State`) and its boolean value.
    pub data_name: String,
    pub state: bool,
}

impl SimEvent {
    /// Cell motion on video source configuration `vsc1`, as Hikvision sends it.
    pub fn cell_motion(state: bool) -> SimEvent {
        SimEvent {
            topic: "tns1:RuleEngine/CellMotionDetector/Motion".into(),
            source: vec![
                ("VideoSourceConfigurationToken".into(), "vsc1".into()),
                ("VideoAnalyticsConfigurationToken".into(), "vac1".into()),
                ("Rule".into(), "MyMotionDetectorRule".into()),
            ],
            operation: PropertyOperation::Changed,
            data_name: "IsMotion".into(),
            state,
        }
    }
}

/// What became of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Answered with a SOAP fault: its subcode and why.
    Fault {
        subcode: String,
        detail: String,
    },
    /// Answered 401 with an HTTP Digest challenge.
    HttpChallenge {
        stale: bool,
    },
}

/// One request received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The operation's local name (`PullMessages`), or `?` when unreadable.
    pub operation: String,
    pub path: String,
    pub at: Instant,
    pub outcome: Outcome,
    /// The topic filter of a CreatePullPointSubscription, as sent.
    pub topic_filter: Option<String>,
}

impl Recorded {
    pub fn is(&self, operation: &str) -> bool {
        self.operation == operation
    }
    pub fn ok(&self) -> bool {
        self.outcome == Outcome::Ok
    }
}

struct Subscription {
    /// Topics from its filter; empty: all.
    topics: Vec<String>,
    expires: Instant,
    granted: Duration,
    queue: VecDeque<SimEvent>,
}

struct HttpNonce {
    stale: bool,
    last_nc: u32,
}

struct Inner {
    config: OnvifSimConfig,
    seen_nonces: VecDeque<(Instant, String)>,
    seen_set: HashSet<String>,
    subscriptions: HashMap<u64, Subscription>,
    next_subscription: u64,
    http_nonces: HashMap<String, HttpNonce>,
    records: Vec<Recorded>,
    ptz: Option<ptz::PtzHead>,
}

struct Shared {
    inner: Mutex<Inner>,
    /// Woken on injected events and dropped subscriptions.
    wake: Notify,
    recorded: watch::Sender<usize>,
    addr: SocketAddr,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running simulated camera on `127.0.0.1:0`; stops when dropped.
pub struct OnvifSim {
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for OnvifSim {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Events queued per subscription at most; the oldest go first.
const QUEUE: usize = 64;

impl OnvifSim {
    pub async fn start(config: OnvifSimConfig) -> anyhow::Result<OnvifSim> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let head = config.ptz.clone().map(ptz::PtzHead::new);
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                ptz: head,
                config,
                seen_nonces: VecDeque::new(),
                seen_set: HashSet::new(),
                subscriptions: HashMap::new(),
                next_subscription: 1,
                http_nonces: HashMap::new(),
                records: Vec::new(),
            }),
            wake: Notify::new(),
            recorded: watch::channel(0).0,
            addr,
        });
        let router = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(OnvifSim { shared, server })
    }

    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// `http://127.0.0.1:PORT/onvif/device_service`.
    pub fn device_url(&self) -> String {
        format!("http://{}/onvif/device_service", self.shared.addr)
    }

    /// A PTZ camera that behaves (the default simulator with a head).
    pub async fn start_ptz() -> anyhow::Result<OnvifSim> {
        OnvifSim::start(OnvifSimConfig {
            ptz: Some(PtzSimConfig::default()),
            ..OnvifSimConfig::default()
        })
        .await
    }

    /// The user and password it takes now.
    pub fn credentials(&self) -> (String, String) {
        let inner = self.shared.lock();
        (inner.config.username.clone(), inner.config.password.clone())
    }

    pub fn set_password(&self, password: &str) {
        self.shared.lock().config.password = password.to_owned();
    }

    pub fn set_clock_offset_secs(&self, offset: i64) {
        self.shared.lock().config.clock_offset_secs = offset;
    }

    /// Forgets every subscription, as a rebooted camera does: their next
    /// PullMessages, Renew or Unsubscribe gets a fault.
    pub fn drop_subscriptions(&self) {
        self.shared.lock().subscriptions.clear();
        self.shared.wake.notify_waiters();
    }

    /// Active subscriptions.
    pub fn subscriptions(&self) -> usize {
        let mut inner = self.shared.lock();
        let now = Instant::now();
        inner.subscriptions.retain(|_, s| s.expires > now);
        inner.subscriptions.len()
    }

    /// Queues `event` for every subscription whose filter admits it; returns
    /// how many.
    pub fn inject(&self, event: SimEvent) -> usize {
        let mut inner = self.shared.lock();
        let mut delivered = 0;
        for sub in inner.subscriptions.values_mut() {
            if sub.topics.is_empty() || sub.topics.contains(&event.topic) {
                if sub.queue.len() == QUEUE {
                    sub.queue.pop_front();
                }
                sub.queue.push_back(event.clone());
                delivered += 1;
            }
        }
        drop(inner);
        self.shared.wake.notify_waiters();
        delivered
    }

    /// Where the PTZ head points: pan, tilt (−1..1), zoom (0..1).
    pub fn ptz_position(&self) -> Option<(f32, f32, f32)> {
        self.shared.lock().ptz.as_mut().map(ptz::PtzHead::position)
    }

    /// Whether the head is moving now.
    pub fn ptz_moving(&self) -> bool {
        self.shared
            .lock()
            .ptz
            .as_mut()
            .is_some_and(ptz::PtzHead::moving)
    }

    /// Every PTZ command so far, in order, with what became of it.
    pub fn ptz_commands(&self) -> Vec<PtzCommand> {
        self.shared
            .lock()
            .ptz
            .as_ref()
            .map(|h| h.log.clone())
            .unwrap_or_default()
    }

    /// Changes how the PTZ head behaves (its quirks) from now on.
    pub fn set_ptz(&self, change: impl FnOnce(&mut PtzSimConfig)) {
        if let Some(head) = self.shared.lock().ptz.as_mut() {
            change(&mut head.config);
        }
    }

    /// Marks every HTTP Digest nonce issued so far stale.
    pub fn expire_http_nonces(&self) {
        for nonce in self.shared.lock().http_nonces.values_mut() {
            nonce.stale = true;
        }
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().records.clone()
    }

    /// Waits until `done` holds for the requests so far; fails after `within`.
    pub async fn wait_for(
        &self,
        within: Duration,
        what: &str,
        mut done: impl FnMut(&[Recorded]) -> bool,
    ) -> anyhow::Result<Vec<Recorded>> {
        let mut changes = self.shared.recorded.subscribe();
        let deadline = Instant::now() + within;
        loop {
            {
                let inner = self.shared.lock();
                if done(&inner.records) {
                    return Ok(inner.records.clone());
                }
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => bail!("{what}: the simulator stopped"),
                Err(_) => {
                    let ops: Vec<String> = self
                        .requests()
                        .iter()
                        .map(|r| format!("{} {:?}", r.operation, r.outcome))
                        .collect();
                    bail!("{what}: not within {within:?}; requests: {ops:#?}")
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Requests

/// A parsed element: resolved namespace, local name, attributes, text, children.
#[derive(Debug, Default)]
struct Node {
    ns: Option<String>,
    local: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn child(&self, ns: &str, local: &str) -> Option<&Node> {
        self.children
            .iter()
            .find(|c| c.local == local && c.ns.as_deref() == Some(ns))
    }
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    fn text(&self) -> &str {
        self.text.trim()
    }
}

/// Parses strictly: well-formed, every prefix declared, no DTD.
fn parse_xml(body: &[u8]) -> Result<Node, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Node> = Vec::new();
    let mut root = None;
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(|e| e.to_string())?;
        let ns = match ns {
            ResolveResult::Bound(ns) => Some(ns.as_ref().to_owned()),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(p) => return Err(format!("undeclared prefix {p}")),
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if root.is_some() {
                    return Err("content after the root element".into());
                }
                let mut node = Node {
                    ns,
                    local: e.local_name().as_ref().to_owned(),
                    ..Node::default()
                };
                for attr in e.attributes() {
                    let attr = attr.map_err(|e| e.to_string())?;
                    let (ans, local) = reader.resolver().resolve_attribute(attr.key);
                    if let ResolveResult::Unknown(p) = ans {
                        return Err(format!("undeclared attribute prefix {p}"));
                    }
                    let value = attr
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|e| e.to_string())?;
                    node.attrs
                        .push((local.as_ref().to_owned(), value.into_owned()));
                }
                if matches!(event, Event::Empty(_)) {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(node),
                        None => root = Some(node),
                    }
                } else {
                    stack.push(node);
                }
            }
            Event::End(_) => {
                let node = stack.pop().ok_or("unbalanced end tag")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => {
                let t = t.xml10_content();
                match stack.last_mut() {
                    Some(node) => node.text.push_str(&t),
                    None if t.trim().is_empty() => {}
                    None => return Err("text outside the root element".into()),
                }
            }
            Event::GeneralRef(r) => {
                let ch = match r.resolve_char_ref().map_err(|e| e.to_string())? {
                    Some(c) => c.to_string(),
                    None => match r.as_ref() {
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "amp" => "&".into(),
                        "apos" => "'".into(),
                        "quot" => "\"".into(),
                        other => return Err(format!("unknown entity &{other};")),
                    },
                };
                if let Some(node) = stack.last_mut() {
                    node.text.push_str(&ch);
                }
            }
            Event::CData(c) => {
                if let Some(node) = stack.last_mut() {
                    node.text.push_str(&c.into_inner());
                }
            }
            Event::DocType(_) => return Err("a DTD".into()),
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err("unclosed elements at the end".into());
    }
    root.ok_or_else(|| "no root element".into())
}

/// A refusal: HTTP status, SOAP fault code, subcode and reason.
struct Refusal {
    status: StatusCode,
    code: &'static str,
    subcode: &'static str,
    detail: String,
}

fn refuse(status: StatusCode, subcode: &'static str, detail: impl Into<String>) -> Refusal {
    Refusal {
        status,
        code: "Sender",
        subcode,
        detail: detail.into(),
    }
}

fn soap(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            "application/soap+xml; charset=utf-8",
        )],
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="{SOAP12}" xmlns:ter="http://www.onvif.org/ver10/error" xmlns:tds="{TDS}" xmlns:tev="{TEV}" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:wsnt="{WSNT}" xmlns:wsa="{WSA}" xmlns:tns1="{TNS1}" xmlns:trt="{}" xmlns:tptz="{}"><env:Body>{body}</env:Body></env:Envelope>"#,
            ptz::TRT,
            ptz::TPTZ
        ),
    )
        .into_response()
}

fn fault_response(refusal: &Refusal) -> Response {
    soap(
        refusal.status,
        format!(
            "<env:Fault><env:Code><env:Value>env:{}</env:Value><env:Subcode><env:Value>{}</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang=\"en\">{}</env:Text></env:Reason></env:Fault>",
            refusal.code,
            refusal.subcode,
            escape(&refusal.detail)
        ),
    )
}

fn escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

fn xsd(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `PTnS`, `PTnM`, `PTnH`, `PnD`… and combinations, whole seconds.
fn parse_duration(text: &str) -> Option<Duration> {
    let rest = text.trim().strip_prefix('P')?;
    let (date, time) = rest.split_once('T').unwrap_or((rest, ""));
    let mut seconds = 0f64;
    for (part, units) in [
        (date, &[('D', 86_400.0)][..]),
        (time, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)][..]),
    ] {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
            } else {
                let (_, factor) = units.iter().find(|(u, _)| *u == c)?;
                seconds += number.parse::<f64>().ok()? * factor;
                number.clear();
            }
        }
        if !number.is_empty() {
            return None;
        }
    }
    Some(Duration::from_secs_f64(seconds))
}

/// The requested termination: a duration, or an instant in the camera's clock.
fn parse_termination(text: &str, camera_now: OffsetDateTime) -> Option<Duration> {
    if let Some(d) = parse_duration(text) {
        return Some(d);
    }
    let at = OffsetDateTime::parse(text.trim(), &Rfc3339).ok()?;
    Some(Duration::try_from(at - camera_now).unwrap_or(Duration::ZERO))
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let mut record = Recorded {
        operation: "?".into(),
        path: path.clone(),
        at: Instant::now(),
        outcome: Outcome::Ok,
        topic_filter: None,
    };
    let response = match serve(&shared, &method, &uri, &headers, &body, &mut record).await {
        Ok(response) => response,
        Err(Answer::Refused(refusal)) => {
            record.outcome = Outcome::Fault {
                subcode: refusal.subcode.into(),
                detail: refusal.detail.clone(),
            };
            fault_response(&refusal)
        }
        Err(Answer::Challenge { stale }) => {
            record.outcome = Outcome::HttpChallenge { stale };
            challenge(&shared, stale)
        }
    };
    shared.lock().records.push(record);
    shared.recorded.send_modify(|n| *n += 1);
    response
}

enum Answer {
    Refused(Refusal),
    Challenge { stale: bool },
}

impl From<Refusal> for Answer {
    fn from(r: Refusal) -> Answer {
        Answer::Refused(r)
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("getrandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn challenge(shared: &Shared, stale: bool) -> Response {
    let mut inner = shared.lock();
    let algorithm = match inner.config.http_digest {
        Some(DigestAlgorithm::Sha256) => "SHA-256",
        _ => "MD5",
    };
    let nonce = random_hex(16);
    inner.http_nonces.insert(
        nonce.clone(),
        HttpNonce {
            stale: false,
            last_nc: 0,
        },
    );
    let value = format!(
        r#"Digest realm="sightline-onvif-sim", qop="auth", algorithm={algorithm}, nonce="{nonce}", opaque="0p4que"{}"#,
        if stale { ", stale=true" } else { "" }
    );
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, value)],
        "",
    )
        .into_response()
}

/// `Digest k=v, k="v", …` → map (no escapes inside quotes, as clients send).
fn digest_fields(value: &str) -> Option<HashMap<String, String>> {
    let rest = value.trim().strip_prefix("Digest ")?;
    let mut fields = HashMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while matches!(chars.peek(), Some(' ' | ',')) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
        if key.is_empty() {
            break;
        }
        let value: String = if chars.peek() == Some(&'"') {
            chars.next();
            let v = chars.by_ref().take_while(|&c| c != '"').collect();
            v
        } else {
            chars.by_ref().take_while(|&c| c != ',').collect()
        };
        fields.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    Some(fields)
}

fn hex_hash(algorithm: DigestAlgorithm, data: &str) -> String {
    let bytes: Vec<u8> = match algorithm {
        DigestAlgorithm::Md5 => {
            use md5::Digest as _;
            md5::Md5::digest(data.as_bytes()).to_vec()
        }
        DigestAlgorithm::Sha256 => {
            use sha2::Digest as _;
            sha2::Sha256::digest(data.as_bytes()).to_vec()
        }
    };
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks HTTP Digest, when demanded.
fn check_http_digest(shared: &Shared, uri: &Uri, headers: &HeaderMap) -> Result<(), Answer> {
    let mut inner = shared.lock();
    let Some(algorithm) = inner.config.http_digest else {
        return Ok(());
    };
    let Some(fields) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(digest_fields)
    else {
        return Err(Answer::Challenge { stale: false });
    };
    let field = |k: &str| fields.get(k).map(String::as_str).unwrap_or("");
    let expected_algorithm = match algorithm {
        DigestAlgorithm::Md5 => "MD5",
        DigestAlgorithm::Sha256 => "SHA-256",
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let nc = u32::from_str_radix(field("nc"), 16).unwrap_or(0);
    let username = inner.config.username.clone();
    let password = inner.config.password.clone();
    let Some(nonce) = inner.http_nonces.get_mut(field("nonce")) else {
        return Err(Answer::Challenge { stale: false });
    };
    if nonce.stale {
        return Err(Answer::Challenge { stale: true });
    }
    let well_formed = field("username") == username
        && field("realm") == "sightline-onvif-sim"
        && field("uri") == path
        && field("qop") == "auth"
        && field("opaque") == "0p4que"
        && (field("algorithm").is_empty() && algorithm == DigestAlgorithm::Md5
            || field("algorithm") == expected_algorithm)
        && !field("cnonce").is_empty()
        && nc > nonce.last_nc;
    let ha1 = hex_hash(
        algorithm,
        &format!("{username}:sightline-onvif-sim:{password}"),
    );
    let ha2 = hex_hash(algorithm, &format!("POST:{path}"));
    let response = hex_hash(
        algorithm,
        &format!(
            "{ha1}:{}:{}:{}:auth:{ha2}",
            field("nonce"),
            field("nc"),
            field("cnonce")
        ),
    );
    if !well_formed || field("response") != response {
        return Err(Answer::Challenge { stale: false });
    }
    nonce.last_nc = nc;
    Ok(())
}

/// Checks the WS-Security UsernameToken against the camera's password and clock.
fn check_token(shared: &Shared, header: Option<&Node>) -> Result<(), Refusal> {
    let status = shared.lock().config.auth_fault_status;
    let not_authorized = |detail: String| Refusal {
        status,
        code: "Sender",
        subcode: "ter:NotAuthorized",
        detail,
    };
    let token = header
        .and_then(|h| h.child(WSSE, "Security"))
        .and_then(|s| s.child(WSSE, "UsernameToken"))
        .ok_or_else(|| not_authorized("no WS-Security UsernameToken".into()))?;
    let field = |local: &str, ns: &str| {
        token
            .child(ns, local)
            .ok_or_else(|| not_authorized(format!("UsernameToken without {local}")))
    };
    let username = field("Username", WSSE)?.text();
    let password = field("Password", WSSE)?;
    let nonce_b64 = field("Nonce", WSSE)?.text();
    let created_text = field("Created", WSU)?.text();
    if password.attr("Type") != Some(PASSWORD_DIGEST) {
        return Err(not_authorized(format!(
            "Password Type is {:?}, not PasswordDigest",
            password.attr("Type")
        )));
    }
    let nonce = BASE64
        .decode(nonce_b64)
        .map_err(|_| not_authorized(format!("Nonce {nonce_b64:?} is not base64")))?;
    if nonce.is_empty() {
        return Err(not_authorized("empty Nonce".into()));
    }
    let created = OffsetDateTime::parse(created_text, &Rfc3339)
        .map_err(|e| not_authorized(format!("Created {created_text:?}: {e}")))?;
    let mut inner = shared.lock();
    let camera_now =
        OffsetDateTime::now_utc() + time::Duration::seconds(inner.config.clock_offset_secs);
    let off = (created - camera_now).abs();
    if off > inner.config.created_window {
        return Err(not_authorized(format!(
            "stale Created: {created_text} is {:.1} s off the camera's clock {}",
            off.as_seconds_f64(),
            xsd(camera_now)
        )));
    }
    if username != inner.config.username {
        return Err(not_authorized(format!("unknown user {username:?}")));
    }
    use sha1::Digest as _;
    let mut sha = sha1::Sha1::new();
    sha.update(&nonce);
    sha.update(created_text.as_bytes());
    sha.update(inner.config.password.as_bytes());
    if BASE64.encode(sha.finalize()) != password.text() {
        return Err(not_authorized("wrong password digest".into()));
    }
    // Replay: a nonce is remembered for twice the window.
    let now = Instant::now();
    let keep = inner.config.created_window * 2;
    while let Some((at, old)) = inner.seen_nonces.front().cloned() {
        if now.duration_since(at) <= keep {
            break;
        }
        inner.seen_nonces.pop_front();
        inner.seen_set.remove(&old);
    }
    if !inner.seen_set.insert(nonce_b64.to_owned()) {
        return Err(not_authorized(format!("replayed Nonce {nonce_b64}")));
    }
    inner.seen_nonces.push_back((now, nonce_b64.to_owned()));
    Ok(())
}

async fn serve(
    shared: &Arc<Shared>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    record: &mut Recorded,
) -> Result<Response, Answer> {
    let bad = StatusCode::BAD_REQUEST;
    if method != Method::POST {
        return Err(refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "ter:InvalidArgVal",
            "not a POST",
        )
        .into());
    }
    // Which operation, before authentication, for the record.
    let envelope = parse_xml(body);
    let operation_node = envelope
        .as_ref()
        .ok()
        .and_then(|e| e.child(SOAP12, "Body").and_then(|b| b.children.first()));
    if let Some(op) = operation_node {
        record.operation = op.local.clone();
    }
    check_http_digest(shared, uri, headers)?;

    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/soap+xml") {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "ter:InvalidArgVal",
            format!("Content-Type {content_type:?} is not application/soap+xml"),
        )
        .into());
    }
    let action = content_type
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("action="))
        .map(|a| a.trim_matches('"'))
        .next();
    let envelope = envelope.map_err(|e| refuse(bad, "ter:WellFormed", e))?;
    if envelope.ns.as_deref() == Some(SOAP11) {
        return Err(Refusal {
            status: bad,
            code: "VersionMismatch",
            subcode: "ter:VersionMismatch",
            detail: "SOAP 1.1; ONVIF wants SOAP 1.2".into(),
        }
        .into());
    }
    if envelope.ns.as_deref() != Some(SOAP12) || envelope.local != "Envelope" {
        return Err(refuse(bad, "ter:WellFormed", "not a SOAP 1.2 Envelope").into());
    }
    let header = envelope.child(SOAP12, "Header");
    let body_node = envelope
        .child(SOAP12, "Body")
        .ok_or_else(|| refuse(bad, "ter:WellFormed", "no Body"))?;
    if body_node.children.len() != 1 {
        return Err(refuse(bad, "ter:WellFormed", "the Body must hold one operation").into());
    }
    let op = &body_node.children[0];
    let Some(&(_, name, expected_action, service)) = OPERATIONS
        .iter()
        .find(|(ns, local, _, _)| op.ns.as_deref() == Some(*ns) && op.local == *local)
    else {
        return Err(refuse(
            bad,
            "ter:ActionNotSupported",
            format!("unknown operation {{{:?}}}{}", op.ns, op.local),
        )
        .into());
    };
    if action != Some(expected_action) {
        return Err(refuse(
            bad,
            "ter:ActionNotSupported",
            format!("Content-Type action {action:?} is not {expected_action}"),
        )
        .into());
    }
    if let Some(wsa_action) = header.and_then(|h| h.child(WSA, "Action")) {
        if wsa_action.text() != expected_action {
            return Err(refuse(
                bad,
                "ter:ActionNotSupported",
                format!(
                    "wsa:Action {:?} is not {expected_action}",
                    wsa_action.text()
                ),
            )
            .into());
        }
    }
    let subscription_id = path_subscription(uri.path());
    let at_service = match uri.path() {
        "/onvif/device_service" => Some(Service::Device),
        "/onvif/events" => Some(Service::Events),
        "/onvif/media" => Some(Service::Media),
        "/onvif/ptz" => Some(Service::Ptz),
        _ if subscription_id.is_some() => Some(Service::Subscription),
        _ => None,
    };
    if at_service != Some(service) {
        return Err(refuse(
            bad,
            "ter:ActionNotSupported",
            format!("{name} sent to {}, which is not its service", uri.path()),
        )
        .into());
    }
    if name != "GetSystemDateAndTime" {
        check_token(shared, header)?;
    }
    if name == "GetServices" && !shared.lock().config.get_services {
        return Err(refuse(
            bad,
            "ter:ActionNotSupported",
            "no GetServices on this firmware",
        )
        .into());
    }

    let (camera_now, base, ptz_services, ptz_capabilities) = {
        let inner = shared.lock();
        let base = inner
            .config
            .advertise
            .clone()
            .unwrap_or_else(|| shared.addr.to_string());
        let base = format!("http://{base}");
        let (services, capabilities) = match &inner.ptz {
            Some(head) => (head.services(&base), head.capabilities(&base)),
            None => (String::new(), String::new()),
        };
        (
            OffsetDateTime::now_utc() + time::Duration::seconds(inner.config.clock_offset_secs),
            base,
            services,
            capabilities,
        )
    };
    let text_of = |local: &str| {
        op.children
            .iter()
            .find(|c| c.local == local)
            .map(|c| c.text().to_owned())
    };
    let ok = StatusCode::OK;
    match name {
        "GetSystemDateAndTime" => Ok(soap(
            ok,
            format!(
                "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone><tt:UTCDateTime><tt:Time><tt:Hour>{}</tt:Hour><tt:Minute>{}</tt:Minute><tt:Second>{}</tt:Second></tt:Time><tt:Date><tt:Year>{}</tt:Year><tt:Month>{}</tt:Month><tt:Day>{}</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>",
                camera_now.hour(),
                camera_now.minute(),
                camera_now.second(),
                camera_now.year(),
                u8::from(camera_now.month()),
                camera_now.day()
            ),
        )),
        "GetServices" => Ok(soap(
            ok,
            format!(
                "<tds:GetServicesResponse><tds:Service><tds:Namespace>{TDS}</tds:Namespace><tds:XAddr>{base}/onvif/device_service</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service><tds:Service><tds:Namespace>{TEV}</tds:Namespace><tds:XAddr>{base}/onvif/events</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>{ptz_services}</tds:GetServicesResponse>"
            ),
        )),
        "GetCapabilities" => Ok(soap(
            ok,
            format!(
                "<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Device><tt:XAddr>{base}/onvif/device_service</tt:XAddr></tt:Device><tt:Events><tt:XAddr>{base}/onvif/events</tt:XAddr><tt:WSSubscriptionPolicySupport>false</tt:WSSubscriptionPolicySupport><tt:WSPullPointSupport>true</tt:WSPullPointSupport><tt:WSPausableSubscriptionManagerInterfaceSupport>false</tt:WSPausableSubscriptionManagerInterfaceSupport></tt:Events>{ptz_capabilities}</tds:Capabilities></tds:GetCapabilitiesResponse>"
            ),
        )),
        "CreatePullPointSubscription" => {
            let filter = op
                .child(TEV, "Filter")
                .and_then(|f| f.child(WSNT, "TopicExpression"));
            if let Some(f) = filter {
                if f.attr("Dialect")
                    != Some("http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet")
                {
                    return Err(refuse(bad, "ter:InvalidArgVal", "unknown topic dialect").into());
                }
            }
            record.topic_filter = filter.map(|f| f.text().to_owned());
            let topics: Vec<String> = filter
                .map(|f| {
                    f.text()
                        .split('|')
                        .map(|t| t.trim().to_owned())
                        .filter(|t| !t.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            let requested = match text_of("InitialTerminationTime") {
                Some(t) => parse_termination(&t, camera_now).ok_or_else(|| {
                    refuse(bad, "ter:InvalidArgVal", format!("InitialTerminationTime {t:?}"))
                })?,
                None => Duration::from_secs(60),
            };
            let mut inner = shared.lock();
            let granted = requested.min(inner.config.max_termination);
            let id = inner.next_subscription;
            inner.next_subscription += 1;
            inner.subscriptions.insert(
                id,
                Subscription {
                    topics,
                    expires: Instant::now() + granted,
                    granted,
                    queue: VecDeque::new(),
                },
            );
            Ok(soap(
                ok,
                format!(
                    "<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference><wsa:Address>{base}/onvif/subscription/{id}</wsa:Address></tev:SubscriptionReference><wsnt:CurrentTime>{}</wsnt:CurrentTime><wsnt:TerminationTime>{}</wsnt:TerminationTime></tev:CreatePullPointSubscriptionResponse>",
                    xsd(camera_now),
                    xsd(camera_now + granted)
                ),
            ))
        }
        "PullMessages" => {
            let id = subscription_id.unwrap_or(0);
            let timeout = text_of("Timeout")
                .as_deref()
                .and_then(parse_duration)
                .ok_or_else(|| refuse(bad, "ter:InvalidArgVal", "PullMessages without a valid Timeout"))?;
            let limit: usize = text_of("MessageLimit")
                .and_then(|l| l.parse().ok())
                .filter(|&l| l > 0)
                .ok_or_else(|| refuse(bad, "ter:InvalidArgVal", "PullMessages without a valid MessageLimit"))?;
            let deadline = Instant::now() + timeout;
            let messages = loop {
                let woken = shared.wake.notified();
                let mut woken = std::pin::pin!(woken);
                woken.as_mut().enable();
                {
                    let mut inner = shared.lock();
                    let sub = live_subscription(&mut inner, id)?;
                    if !sub.queue.is_empty() || Instant::now() >= deadline {
                        let n = sub.queue.len().min(limit);
                        break sub.queue.drain(..n).collect::<Vec<_>>();
                    }
                }
                let _ = tokio::time::timeout_at(deadline, woken).await;
            };
            let (end, now) = {
                let mut inner = shared.lock();
                let extend = inner.config.extend_on_pull;
                let offset = time::Duration::seconds(inner.config.clock_offset_secs);
                let sub = live_subscription(&mut inner, id)?;
                if extend {
                    sub.expires = Instant::now() + sub.granted;
                }
                let now = OffsetDateTime::now_utc() + offset;
                let left = sub.expires.saturating_duration_since(Instant::now());
                (now + left, now)
            };
            let notes: String = messages.iter().map(|m| notification(m, now)).collect();
            Ok(soap(
                ok,
                format!(
                    "<tev:PullMessagesResponse><tev:CurrentTime>{}</tev:CurrentTime><tev:TerminationTime>{}</tev:TerminationTime>{notes}</tev:PullMessagesResponse>",
                    xsd(now),
                    xsd(end)
                ),
            ))
        }
        "Renew" => {
            let id = subscription_id.unwrap_or(0);
            let requested = text_of("TerminationTime")
                .and_then(|t| parse_termination(&t, camera_now))
                .ok_or_else(|| refuse(bad, "ter:InvalidArgVal", "Renew without a valid TerminationTime"))?;
            let mut inner = shared.lock();
            let max = inner.config.max_termination;
            let sub = live_subscription(&mut inner, id)?;
            let granted = requested.min(max);
            sub.expires = Instant::now() + granted;
            sub.granted = granted;
            Ok(soap(
                ok,
                format!(
                    "<wsnt:RenewResponse><wsnt:TerminationTime>{}</wsnt:TerminationTime><wsnt:CurrentTime>{}</wsnt:CurrentTime></wsnt:RenewResponse>",
                    xsd(camera_now + granted),
                    xsd(camera_now)
                ),
            ))
        }
        "GetProfiles" => Ok(soap(ok, ptz::profiles(shared.lock().ptz.is_some()))),
        _ if service == Service::Ptz => {
            let (answer, slow) = {
                let mut inner = shared.lock();
                let Some(head) = inner.ptz.as_mut() else {
                    return Err(refuse(bad, "ter:ActionNotSupported", "this camera has no PTZ").into());
                };
                let slow = head.config.slow.filter(|(op, _)| *op == name).map(|(_, d)| d);
                (ptz::serve(head, name, op), slow)
            };
            if let Some(delay) = slow {
                tokio::time::sleep(delay).await;
            }
            Ok(soap(ok, answer?))
        }
        "Unsubscribe" => {
            let id = subscription_id.unwrap_or(0);
            let mut inner = shared.lock();
            live_subscription(&mut inner, id)?;
            inner.subscriptions.remove(&id);
            Ok(soap(ok, "<wsnt:UnsubscribeResponse/>".into()))
        }
        _ => Err(refuse(bad, "ter:ActionNotSupported", name).into()),
    }
}

fn path_subscription(path: &str) -> Option<u64> {
    path.strip_prefix("/onvif/subscription/")?.parse().ok()
}

fn live_subscription(inner: &mut Inner, id: u64) -> Result<&mut Subscription, Refusal> {
    let now = Instant::now();
    inner.subscriptions.retain(|_, s| s.expires > now);
    inner.subscriptions.get_mut(&id).ok_or_else(|| {
        refuse(
            StatusCode::BAD_REQUEST,
            "ter:InvalidArgVal",
            format!("subscription {id} does not exist (expired, unsubscribed or dropped)"),
        )
    })
}

fn notification(event: &SimEvent, now: OffsetDateTime) -> String {
    let items = |items: &[(String, String)]| -> String {
        items
            .iter()
            .map(|(n, v)| {
                format!(
                    r#"<tt:SimpleItem Name="{}" Value="{}"/>"#,
                    escape(n),
                    escape(v)
                )
            })
            .collect()
    };
    let operation = match event.operation {
        PropertyOperation::Initialized => "Initialized",
        PropertyOperation::Changed => "Changed",
        PropertyOperation::Deleted => "Deleted",
    };
    format!(
        r#"<wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">{}</wsnt:Topic><wsnt:Message><tt:Message UtcTime="{}" PropertyOperation="{operation}"><tt:Source>{}</tt:Source><tt:Data>{}</tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>"#,
        escape(&event.topic),
        xsd(now),
        items(&event.source),
        items(&[(event.data_name.clone(), event.state.to_string())]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_fields() {
        assert_eq!(parse_duration("PT10S"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("PT1M30S"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("P1DT1H"), Some(Duration::from_secs(90_000)));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("PT10"), None);
        let f = digest_fields(r#"Digest username="a", nc=00000001, uri="/x?y=1,2""#).unwrap();
        assert_eq!(f["username"], "a");
        assert_eq!(f["nc"], "00000001");
        assert_eq!(f["uri"], "/x?y=1,2");
    }

    #[test]
    fn strict_xml() {
        assert!(parse_xml(b"<a><b></a>").is_err());
        assert!(parse_xml(b"<p:a/>").is_err());
        assert!(parse_xml(b"<a/><b/>").is_err());
        assert!(parse_xml(b"<!DOCTYPE a><a/>").is_err());
        let n = parse_xml(br#"<a xmlns="urn:x" k="&lt;"><b>t&amp;</b></a>"#).unwrap();
        assert_eq!(n.ns.as_deref(), Some("urn:x"));
        assert_eq!(n.attr("k"), Some("<"));
        assert_eq!(n.children[0].text, "t&");
    }
}
