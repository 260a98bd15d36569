//! Parsers for the replies to [`crate::requests`], and SOAP faults.
//!
//! Matching is on namespace URI and local name: Hikvision writes `tev:`, Axis
//! `tev:`/`wsnt:` with extra vendor elements, Dahua and others `ns2:`… or a
//! default namespace. Unknown elements are skipped; a fault in any reply comes
//! back as [`Error::Fault`]; XML that is not well-formed is [`Error::Malformed`].

use crate::ns;
use crate::xml::{self, Element};
use crate::{Error, Fault, Timestamp};

/// Where a subscription lives: the URL to send PullMessages/Renew/Unsubscribe
/// to, and reference parameters to echo as SOAP headers (Axis and Bosch use
/// them to tell subscriptions apart), each a standalone XML fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointReference {
    pub address: String,
    pub reference_parameters: Vec<String>,
}

/// The answer to CreatePullPointSubscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub reference: EndpointReference,
    /// The camera's clock when it answered (another clock-offset sample).
    pub current_time: Option<Timestamp>,
    /// When the camera will drop the subscription unless renewed, in its clock.
    pub termination_time: Option<Timestamp>,
}

/// What happened to the property an event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyOperation {
    /// Its current state, sent on subscribing (and by some cameras periodically).
    Initialized,
    Changed,
    /// The source went away (a rule deleted, a channel disabled).
    Deleted,
}

/// One `wsnt:NotificationMessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The topic with ONVIF's namespace written `tns1:` whatever prefix the
    /// camera used (`tns1:RuleEngine/CellMotionDetector/Motion`); other topics as
    /// sent, see `topic_namespace`.
    pub topic: String,
    /// The namespace the topic's prefix is bound to, when it is.
    pub topic_namespace: Option<String>,
    /// `tt:Message/@UtcTime`, in the camera's clock.
    pub utc_time: Option<Timestamp>,
    pub operation: Option<PropertyOperation>,
    /// `Source` simple items (which video source, which rule), in order.
    pub source: Vec<(String, String)>,
    /// `Key` simple items, rare.
    pub key: Vec<(String, String)>,
    /// `Data` simple items (`IsMotion=true`, `State=false`, …), in order.
    pub data: Vec<(String, String)>,
}

impl Notification {
    pub fn data_value(&self, name: &str) -> Option<&str> {
        self.data
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The answer to PullMessages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullMessages {
    pub current_time: Option<Timestamp>,
    pub termination_time: Option<Timestamp>,
    pub messages: Vec<Notification>,
}

/// One entry of GetServicesResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The service's WSDL namespace, e.g. [`ns::TEV`] for events.
    pub namespace: String,
    /// Where to send its requests, as the camera reported it.
    pub xaddr: String,
    /// (major, minor), when given.
    pub version: Option<(u32, u32)>,
}

/// The service addresses GetCapabilities reports (those Sightline uses).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub device: Option<String>,
    pub events: Option<String>,
    pub media: Option<String>,
    pub ptz: Option<String>,
}

/// The SOAP body's first element, or the fault it carries.
pub(crate) fn body(text: &str, expected: &'static str) -> Result<Element, Error> {
    let root = xml::parse(text)?;
    let env = [ns::SOAP12, ns::SOAP11]
        .into_iter()
        .find(|env| root.is(env, "Envelope"))
        .ok_or(Error::Unexpected { expected })?;
    let body = root
        .child(env, "Body")
        .ok_or(Error::Unexpected { expected })?;
    if let Some(fault) = body.child(env, "Fault") {
        return Err(Error::Fault(parse_fault(fault)));
    }
    body.children
        .first()
        .cloned()
        .ok_or(Error::Unexpected { expected })
}

/// A QName-valued text with well-known namespaces written by their usual prefix.
fn qname_text(e: &Element) -> String {
    let text = e.trimmed_text();
    let local = text.split_once(':').map_or(text, |(_, l)| l);
    match e.text_ns.as_deref() {
        Some(ns::TER) => format!("ter:{local}"),
        Some(ns::TNS1) => format!("tns1:{local}"),
        Some(ns::WSSE) => format!("wsse:{local}"),
        Some(ns::SOAP12 | ns::SOAP11) => local.to_owned(),
        _ => text.to_owned(),
    }
}

fn parse_fault(fault: &Element) -> Fault {
    // SOAP 1.2: Code/Value, Code/Subcode/Value (nested), Reason/Text.
    if let Some(code) = fault.child_local("Code") {
        let mut subcodes = Vec::new();
        let mut at = code.child_local("Subcode");
        while let Some(sub) = at {
            if let Some(value) = sub.child_local("Value") {
                subcodes.push(qname_text(value));
            }
            at = sub.child_local("Subcode");
        }
        let reason = fault
            .child_local("Reason")
            .and_then(|r| r.child_local("Text"))
            .map(|t| t.trimmed_text().to_owned())
            .unwrap_or_default();
        return Fault {
            code: code
                .child_local("Value")
                .map(qname_text)
                .unwrap_or_default(),
            subcodes,
            reason,
        };
    }
    // SOAP 1.1: faultcode, faultstring (unqualified).
    Fault {
        code: fault
            .child_local("faultcode")
            .map(qname_text)
            .unwrap_or_default(),
        subcodes: Vec::new(),
        reason: fault
            .child_local("faultstring")
            .map(|t| t.trimmed_text().to_owned())
            .unwrap_or_default(),
    }
}

fn time_of(e: Option<&Element>) -> Result<Option<Timestamp>, Error> {
    e.map(|e| Timestamp::parse(e.trimmed_text())).transpose()
}

fn number(e: &Element, local: &str, what: &'static str) -> Result<u32, Error> {
    let child = e.child(ns::TT, local).ok_or(Error::Missing { what })?;
    child.trimmed_text().parse().map_err(|_| Error::Invalid {
        what,
        value: child.text.clone(),
    })
}

/// GetSystemDateAndTimeResponse → the camera's UTC clock, to the second.
pub fn parse_system_date_and_time(xml: &str) -> Result<Timestamp, Error> {
    let response = body(xml, "GetSystemDateAndTimeResponse")?;
    if !response.is(ns::TDS, "GetSystemDateAndTimeResponse") {
        return Err(Error::Unexpected {
            expected: "GetSystemDateAndTimeResponse",
        });
    }
    let utc = response
        .path(&[(ns::TDS, "SystemDateAndTime"), (ns::TT, "UTCDateTime")])
        .ok_or(Error::Missing {
            what: "SystemDateAndTime/UTCDateTime (the camera gave no UTC time; set its time zone and NTP)",
        })?;
    let date = utc.child(ns::TT, "Date").ok_or(Error::Missing {
        what: "UTCDateTime/Date",
    })?;
    let time = utc.child(ns::TT, "Time").ok_or(Error::Missing {
        what: "UTCDateTime/Time",
    })?;
    let year = number(date, "Year", "Date/Year")?;
    let month = number(date, "Month", "Date/Month")?;
    let day = number(date, "Day", "Date/Day")?;
    let hour = number(time, "Hour", "Time/Hour")?;
    let minute = number(time, "Minute", "Time/Minute")?;
    let second = number(time, "Second", "Time/Second")?;
    Timestamp::from_utc(i64::from(year), month, day, hour, minute, second).ok_or_else(|| {
        Error::Invalid {
            what: "UTCDateTime",
            value: format!("{year}-{month}-{day} {hour}:{minute}:{second}"),
        }
    })
}

/// GetServicesResponse → the services, in the order sent. Entries without a
/// namespace or address are skipped (seen as empty placeholders on NVRs).
pub fn parse_get_services(xml: &str) -> Result<Vec<Service>, Error> {
    let response = body(xml, "GetServicesResponse")?;
    if !response.is(ns::TDS, "GetServicesResponse") {
        return Err(Error::Unexpected {
            expected: "GetServicesResponse",
        });
    }
    Ok(response
        .children_named(ns::TDS, "Service")
        .filter_map(|service| {
            let text = |local| {
                service
                    .child(ns::TDS, local)
                    .map(|e| e.trimmed_text().to_owned())
                    .filter(|t| !t.is_empty())
            };
            let version = service.child(ns::TDS, "Version").and_then(|v| {
                let n = |local| v.child(ns::TT, local)?.trimmed_text().parse().ok();
                Some((n("Major")?, n("Minor")?))
            });
            Some(Service {
                namespace: text("Namespace")?,
                xaddr: text("XAddr")?,
                version,
            })
        })
        .collect())
}

/// GetCapabilitiesResponse → the service addresses it names.
pub fn parse_get_capabilities(xml: &str) -> Result<Capabilities, Error> {
    let response = body(xml, "GetCapabilitiesResponse")?;
    if !response.is(ns::TDS, "GetCapabilitiesResponse") {
        return Err(Error::Unexpected {
            expected: "GetCapabilitiesResponse",
        });
    }
    let capabilities = response
        .child(ns::TDS, "Capabilities")
        .ok_or(Error::Missing {
            what: "GetCapabilitiesResponse/Capabilities",
        })?;
    let xaddr = |local| {
        capabilities
            .path(&[(ns::TT, local), (ns::TT, "XAddr")])
            .map(|e| e.trimmed_text().to_owned())
            .filter(|t| !t.is_empty())
    };
    Ok(Capabilities {
        device: xaddr("Device"),
        events: xaddr("Events"),
        media: xaddr("Media"),
        ptz: xaddr("PTZ"),
    })
}

/// CreatePullPointSubscriptionResponse → where to pull from, and until when.
pub fn parse_create_pull_point_subscription(xml: &str) -> Result<Subscription, Error> {
    let response = body(xml, "CreatePullPointSubscriptionResponse")?;
    if !response.is(ns::TEV, "CreatePullPointSubscriptionResponse") {
        return Err(Error::Unexpected {
            expected: "CreatePullPointSubscriptionResponse",
        });
    }
    let reference = response
        .child(ns::TEV, "SubscriptionReference")
        .ok_or(Error::Missing {
            what: "SubscriptionReference",
        })?;
    let address = reference
        .child(ns::WSA, "Address")
        .map(|a| a.trimmed_text().to_owned())
        .filter(|a| !a.is_empty())
        .ok_or(Error::Missing {
            what: "SubscriptionReference/Address",
        })?;
    let reference_parameters = reference
        .child(ns::WSA, "ReferenceParameters")
        .map(|p| p.children.iter().map(Element::to_xml).collect())
        .unwrap_or_default();
    Ok(Subscription {
        reference: EndpointReference {
            address,
            reference_parameters,
        },
        current_time: time_of(response.child(ns::WSNT, "CurrentTime"))?,
        termination_time: time_of(response.child(ns::WSNT, "TerminationTime"))?,
    })
}

fn simple_items(e: Option<&Element>) -> Vec<(String, String)> {
    e.map(|e| {
        e.children_named(ns::TT, "SimpleItem")
            .filter_map(|item| {
                Some((
                    item.attr("Name")?.to_owned(),
                    item.attr("Value")?.to_owned(),
                ))
            })
            .collect()
    })
    .unwrap_or_default()
}

fn parse_notification(message: &Element) -> Result<Notification, Error> {
    let topic = message.child(ns::WSNT, "Topic").ok_or(Error::Missing {
        what: "NotificationMessage/Topic",
    })?;
    // wsnt:Message wraps tt:Message.
    let inner = message
        .path(&[(ns::WSNT, "Message"), (ns::TT, "Message")])
        .ok_or(Error::Missing {
            what: "NotificationMessage/Message/tt:Message",
        })?;
    let utc_time = inner.attr("UtcTime").map(Timestamp::parse).transpose()?;
    let operation = match inner.attr("PropertyOperation") {
        Some("Initialized") => Some(PropertyOperation::Initialized),
        Some("Changed") => Some(PropertyOperation::Changed),
        Some("Deleted") => Some(PropertyOperation::Deleted),
        _ => None,
    };
    Ok(Notification {
        topic: qname_text(topic),
        topic_namespace: topic.text_ns.clone(),
        utc_time,
        operation,
        source: simple_items(inner.child(ns::TT, "Source")),
        key: simple_items(inner.child(ns::TT, "Key")),
        data: simple_items(inner.child(ns::TT, "Data")),
    })
}

/// PullMessagesResponse → the events, in the order sent.
pub fn parse_pull_messages(xml: &str) -> Result<PullMessages, Error> {
    let response = body(xml, "PullMessagesResponse")?;
    if !response.is(ns::TEV, "PullMessagesResponse") {
        return Err(Error::Unexpected {
            expected: "PullMessagesResponse",
        });
    }
    Ok(PullMessages {
        current_time: time_of(response.child(ns::TEV, "CurrentTime"))?,
        termination_time: time_of(response.child(ns::TEV, "TerminationTime"))?,
        messages: response
            .children_named(ns::WSNT, "NotificationMessage")
            .map(parse_notification)
            .collect::<Result<_, _>>()?,
    })
}

/// RenewResponse → the new termination time (in the camera's clock).
pub fn parse_renew(xml: &str) -> Result<Timestamp, Error> {
    let response = body(xml, "RenewResponse")?;
    if !response.is(ns::WSNT, "RenewResponse") {
        return Err(Error::Unexpected {
            expected: "RenewResponse",
        });
    }
    time_of(response.child(ns::WSNT, "TerminationTime"))?.ok_or(Error::Missing {
        what: "RenewResponse/TerminationTime",
    })
}

/// UnsubscribeResponse (or any reply whose only news would be a fault).
pub fn parse_empty(xml: &str, expected: &'static str) -> Result<(), Error> {
    body(xml, expected).map(drop)
}
