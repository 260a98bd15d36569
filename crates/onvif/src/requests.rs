//! SOAP 1.2 requests for the device clock and the PullPoint event service.
//!
//! Each builder returns a [`Request`]: the envelope and the SOAP action, which
//! SOAP 1.2 over HTTP carries in the `Content-Type` (`action="…"`); the same
//! action is also written as a WS-Addressing `Action` header, with `To`, because
//! a PullPoint subscription is addressed by its own URL (and reference
//! parameters, echoed as headers) returned by CreatePullPointSubscription.
//! Prefixes sent are the conventional ones (`s`, `wsa`, `wsnt`, `tev`, `tds`, `tt`,
//! `trt`, `tptz`).

use std::time::Duration;

use crate::ns;
use crate::responses::EndpointReference;
use crate::time::xsd_duration;
use crate::xml::escape;
use crate::UsernameToken;

/// ONVIF's topic-expression dialect for a set of concrete topics joined by `|`.
pub const CONCRETE_SET: &str = "http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet";

/// Topic prefixes the filter declares: ONVIF's and Axis's vendor topics.
const TOPIC_NAMESPACES: &[(&str, &str)] = &[
    ("tns1", ns::TNS1),
    ("tnsaxis", "http://www.axis.com/2009/event/topics"),
];

/// The default topics for motion: the rule-engine cell detector (Hikvision,
/// Dahua, Axis, most others) and the video-source alarm (Axis and older firmware).
pub const MOTION_TOPICS: &[&str] = &[
    "tns1:RuleEngine/CellMotionDetector/Motion",
    "tns1:VideoSource/MotionAlarm",
];

pub mod action {
    pub const GET_SYSTEM_DATE_AND_TIME: &str =
        "http://www.onvif.org/ver10/device/wsdl/GetSystemDateAndTime";
    pub const GET_SERVICES: &str = "http://www.onvif.org/ver10/device/wsdl/GetServices";
    pub const GET_CAPABILITIES: &str = "http://www.onvif.org/ver10/device/wsdl/GetCapabilities";
    pub const CREATE_PULL_POINT_SUBSCRIPTION: &str =
        "http://www.onvif.org/ver10/events/wsdl/EventPortType/CreatePullPointSubscriptionRequest";
    pub const PULL_MESSAGES: &str =
        "http://www.onvif.org/ver10/events/wsdl/PullPointSubscription/PullMessagesRequest";
    pub const RENEW: &str = "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/RenewRequest";
    pub const UNSUBSCRIBE: &str =
        "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/UnsubscribeRequest";
}

/// A request ready to POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub action: &'static str,
    pub body: String,
}

impl Request {
    /// The HTTP `Content-Type` SOAP 1.2 wants, action included.
    pub fn content_type(&self) -> String {
        format!(
            "application/soap+xml; charset=utf-8; action=\"{}\"",
            self.action
        )
    }
}

pub(crate) fn envelope(action: &'static str, headers: &[String], body: &str) -> Request {
    let body = format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<s:Envelope xmlns:s="{s}" xmlns:wsa="{wsa}" xmlns:wsnt="{wsnt}" xmlns:tev="{tev}" xmlns:tds="{tds}" xmlns:tt="{tt}" xmlns:trt="{trt}" xmlns:tptz="{tptz}">"#,
            "<s:Header>{headers}</s:Header>",
            "<s:Body>{body}</s:Body>",
            "</s:Envelope>"
        ),
        s = ns::SOAP12,
        wsa = ns::WSA,
        wsnt = ns::WSNT,
        tev = ns::TEV,
        tds = ns::TDS,
        tt = ns::TT,
        trt = ns::TRT,
        tptz = ns::TPTZ,
        headers = headers.concat(),
        body = body,
    );
    Request { action, body }
}

fn addressing(action: &str, to: &str, reference: Option<&EndpointReference>) -> Vec<String> {
    let mut headers = vec![
        format!(r#"<wsa:Action s:mustUnderstand="true">{action}</wsa:Action>"#),
        format!(r#"<wsa:To s:mustUnderstand="true">{}</wsa:To>"#, escape(to)),
    ];
    if let Some(reference) = reference {
        headers.extend(reference.reference_parameters.iter().cloned());
    }
    headers
}

pub(crate) fn security(token: Option<&UsernameToken>) -> Option<String> {
    token.map(UsernameToken::header_xml)
}

/// GetSystemDateAndTime: unauthenticated by the spec, so it works before the
/// clock offset (and so a valid `Created`) is known.
pub fn get_system_date_and_time() -> Request {
    envelope(
        action::GET_SYSTEM_DATE_AND_TIME,
        &[],
        "<tds:GetSystemDateAndTime/>",
    )
}

/// GetServices (ONVIF 2.0 and later): every service's namespace and address,
/// capabilities left out. Cameras differ on whether it needs authentication, so
/// the token goes with it when there is one.
pub fn get_services(token: Option<&UsernameToken>) -> Request {
    let headers: Vec<String> = security(token).into_iter().collect();
    envelope(
        action::GET_SERVICES,
        &headers,
        "<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>",
    )
}

/// GetCapabilities for one category (`"Events"`, `"PTZ"`, `"All"`): the older
/// way to find a service's address, for firmware without GetServices.
pub fn get_capabilities(token: Option<&UsernameToken>, category: &str) -> Request {
    let headers: Vec<String> = security(token).into_iter().collect();
    envelope(
        action::GET_CAPABILITIES,
        &headers,
        &format!(
            "<tds:GetCapabilities><tds:Category>{}</tds:Category></tds:GetCapabilities>",
            escape(category)
        ),
    )
}

/// CreatePullPointSubscription, sent to the event service address (from
/// GetCapabilities/GetServices). `topics` (e.g. [`MOTION_TOPICS`]) filter what the
/// camera sends, `tns1:` and `tnsaxis:` prefixes declared; empty means every
/// event. The subscription expires after `initial_termination` unless renewed.
pub fn create_pull_point_subscription(
    token: Option<&UsernameToken>,
    events_address: &str,
    topics: &[&str],
    initial_termination: Duration,
) -> Request {
    let mut headers = addressing(action::CREATE_PULL_POINT_SUBSCRIPTION, events_address, None);
    headers.extend(security(token));
    let filter = if topics.is_empty() {
        String::new()
    } else {
        let declarations: String = TOPIC_NAMESPACES
            .iter()
            .map(|(prefix, uri)| format!(r#" xmlns:{prefix}="{uri}""#))
            .collect();
        format!(
            r#"<tev:Filter><wsnt:TopicExpression Dialect="{CONCRETE_SET}"{declarations}>{}</wsnt:TopicExpression></tev:Filter>"#,
            escape(&topics.join("|"))
        )
    };
    let body = format!(
        "<tev:CreatePullPointSubscription>{filter}<tev:InitialTerminationTime>{}</tev:InitialTerminationTime></tev:CreatePullPointSubscription>",
        xsd_duration(initial_termination)
    );
    envelope(action::CREATE_PULL_POINT_SUBSCRIPTION, &headers, &body)
}

/// PullMessages: a long poll of up to `timeout` for at most `limit` messages,
/// sent to the subscription's own address.
pub fn pull_messages(
    token: Option<&UsernameToken>,
    subscription: &EndpointReference,
    timeout: Duration,
    limit: u32,
) -> Request {
    let mut headers = addressing(
        action::PULL_MESSAGES,
        &subscription.address,
        Some(subscription),
    );
    headers.extend(security(token));
    let body = format!(
        "<tev:PullMessages><tev:Timeout>{}</tev:Timeout><tev:MessageLimit>{limit}</tev:MessageLimit></tev:PullMessages>",
        xsd_duration(timeout)
    );
    envelope(action::PULL_MESSAGES, &headers, &body)
}

/// Renew: push the subscription's end `termination` from now.
pub fn renew(
    token: Option<&UsernameToken>,
    subscription: &EndpointReference,
    termination: Duration,
) -> Request {
    let mut headers = addressing(action::RENEW, &subscription.address, Some(subscription));
    headers.extend(security(token));
    let body = format!(
        "<wsnt:Renew><wsnt:TerminationTime>{}</wsnt:TerminationTime></wsnt:Renew>",
        xsd_duration(termination)
    );
    envelope(action::RENEW, &headers, &body)
}

/// Unsubscribe: end the subscription now rather than leave it to expire
/// (cameras allow only a few at once).
pub fn unsubscribe(token: Option<&UsernameToken>, subscription: &EndpointReference) -> Request {
    let mut headers = addressing(
        action::UNSUBSCRIBE,
        &subscription.address,
        Some(subscription),
    );
    headers.extend(security(token));
    envelope(action::UNSUBSCRIBE, &headers, "<wsnt:Unsubscribe/>")
}
