//! The parsers and builders against replies written in the style of real cameras
//! (Hikvision, Axis, Dahua: different prefixes, default namespaces, extra
//! elements), a fault and malformed XML, all under `tests/fixtures/`.

use std::time::Duration;

use sightline_onvif::requests::{self, action, MOTION_TOPICS};
use sightline_onvif::{
    ns, parse_create_pull_point_subscription, parse_get_capabilities, parse_get_services,
    parse_pull_messages, parse_renew, parse_system_date_and_time, ClockOffset, Error, EventState,
    PropertyOperation, StateChange, Timestamp, UsernameToken,
};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const MOTION: &str = "tns1:RuleEngine/CellMotionDetector/Motion";

#[test]
fn a_camera_ten_minutes_ahead() {
    let camera =
        parse_system_date_and_time(&fixture("hikvision_system_date_and_time.xml")).unwrap();
    assert_eq!(camera, Timestamp::parse("2024-05-01T12:10:00Z").unwrap());
    // Our clock says 12:00:00.400 when the answer arrives.
    let local = Timestamp::parse("2024-05-01T12:00:00.400Z").unwrap();
    let offset = ClockOffset::from(camera, local);
    assert_eq!(offset.millis, 599_600);
    // Three seconds later, Created is written in the camera's clock.
    let later = Timestamp(local.0 + 3_000);
    let token = UsernameToken::new("onvif", "secret", &[7; 16], offset.apply(later));
    assert_eq!(token.created, "2024-05-01T12:10:03Z");
}

#[test]
fn hikvision_subscription_and_motion() {
    let sub =
        parse_create_pull_point_subscription(&fixture("hikvision_create_pull_point.xml")).unwrap();
    assert_eq!(
        sub.reference.address,
        "http://192.0.2.10/onvif/Events/PullSubManager_2024-05-01T12:10:00Z_0"
    );
    assert!(sub.reference.reference_parameters.is_empty());
    assert_eq!(
        sub.current_time,
        Some(Timestamp::parse("2024-05-01T12:10:00Z").unwrap())
    );
    assert_eq!(
        sub.termination_time,
        Some(Timestamp::parse("2024-05-01T12:11:00Z").unwrap())
    );

    let pulled = parse_pull_messages(&fixture("hikvision_pull_messages.xml")).unwrap();
    assert_eq!(
        pulled.termination_time,
        Some(Timestamp::parse("2024-05-01T12:11:05Z").unwrap())
    );
    assert_eq!(pulled.messages.len(), 2);
    let cell = &pulled.messages[0];
    assert_eq!(cell.topic, MOTION);
    assert_eq!(cell.operation, Some(PropertyOperation::Changed));
    assert_eq!(
        cell.utc_time,
        Some(Timestamp::parse("2024-05-01T12:10:04Z").unwrap())
    );
    assert_eq!(cell.source.len(), 3);
    assert_eq!(
        cell.source[2],
        ("Rule".into(), "MyMotionDetectorRule".into())
    );
    assert_eq!(cell.data_value("IsMotion"), Some("true"));
    assert_eq!(pulled.messages[1].topic, "tns1:VideoSource/MotionAlarm");

    let mut state = EventState::default();
    let now = Timestamp::from_unix_seconds(100);
    let started: Vec<_> = pulled
        .messages
        .iter()
        .filter_map(|n| state.apply(n, now))
        .collect();
    assert_eq!(started.len(), 2);
    assert!(matches!(&started[0], StateChange::Started { topic, .. } if topic == MOTION));
}

#[test]
fn axis_reference_parameters_are_echoed() {
    let sub = parse_create_pull_point_subscription(&fixture("axis_create_pull_point.xml")).unwrap();
    assert_eq!(sub.reference.address, "http://192.0.2.20/onvif/services");
    assert_eq!(
        sub.reference.reference_parameters,
        vec![
            r#"<n0:SubscriptionId xmlns:n0="http://www.axis.com/2009/event">7</n0:SubscriptionId>"#
        ]
    );
    let pull = requests::pull_messages(None, &sub.reference, Duration::from_secs(10), 16);
    assert!(pull
        .body
        .contains("<wsa:To s:mustUnderstand=\"true\">http://192.0.2.20/onvif/services</wsa:To>"));
    assert!(pull
        .body
        .contains("SubscriptionId xmlns:n0=\"http://www.axis.com/2009/event\">7<"));
    assert!(pull
        .body
        .contains("<tev:Timeout>PT10S</tev:Timeout><tev:MessageLimit>16</tev:MessageLimit>"));
}

#[test]
fn axis_messages_with_vendor_topics() {
    let pulled = parse_pull_messages(&fixture("axis_pull_messages.xml")).unwrap();
    assert_eq!(pulled.messages.len(), 2);
    let alarm = &pulled.messages[0];
    assert_eq!(alarm.topic, "tns1:VideoSource/MotionAlarm");
    assert_eq!(alarm.operation, Some(PropertyOperation::Initialized));
    assert_eq!(
        alarm.utc_time,
        Some(Timestamp::parse("2024-05-01T12:00:09.123Z").unwrap())
    );
    assert_eq!(alarm.data_value("State"), Some("0"));
    let vmd = &pulled.messages[1];
    assert_eq!(
        vmd.topic,
        "tnsaxis:CameraApplicationPlatform/VMD/Camera1Profile1"
    );
    assert_eq!(
        vmd.topic_namespace.as_deref(),
        Some("http://www.axis.com/2009/event/topics")
    );
    let mut state = EventState::default();
    assert_eq!(state.apply(alarm, Timestamp(0)), None);
    assert!(state.apply(vmd, Timestamp(0)).is_some());
}

#[test]
fn dahua_default_namespace_and_other_prefixes() {
    let pulled = parse_pull_messages(&fixture("dahua_pull_messages.xml")).unwrap();
    // Zone-less times, read as UTC.
    assert_eq!(
        pulled.current_time,
        Some(Timestamp::parse("2024-05-01T12:00:20Z").unwrap())
    );
    let n = &pulled.messages[0];
    // `tns:` bound to ONVIF's topic namespace is normalised to `tns1:`.
    assert_eq!(n.topic, MOTION);
    assert_eq!(n.data_value("IsMotion"), Some("false"));
}

#[test]
fn renew() {
    assert_eq!(
        parse_renew(&fixture("renew_response.xml")).unwrap(),
        Timestamp::parse("2024-05-01T12:12:05Z").unwrap()
    );
}

#[test]
fn wrong_password_is_a_fault_naming_the_cause() {
    for parse in [
        |x: &str| parse_pull_messages(x).map(drop),
        |x: &str| parse_renew(x).map(drop),
        |x: &str| parse_create_pull_point_subscription(x).map(drop),
    ] {
        let Err(Error::Fault(fault)) = parse(&fixture("fault_not_authorized.xml")) else {
            panic!("not a fault");
        };
        assert_eq!(fault.code, "Sender");
        assert_eq!(fault.subcodes, vec!["ter:NotAuthorized".to_string()]);
        assert_eq!(fault.reason, "Sender not Authorized");
        assert!(fault.is_not_authorized());
        let message = Error::Fault(fault).to_string();
        assert!(
            message.contains("the camera refused the credentials"),
            "{message}"
        );
        assert!(message.contains("ter:NotAuthorized"), "{message}");
        assert!(message.contains("password"), "{message}");
    }
}

#[test]
fn malformed_replies_are_errors() {
    for name in ["malformed_truncated.xml", "malformed_undeclared_prefix.xml"] {
        let err = parse_pull_messages(&fixture(name)).unwrap_err();
        assert!(matches!(err, Error::Malformed(_)), "{name}: {err}");
    }
    // Well-formed but not SOAP: a login page from a wrong URL.
    let err = parse_pull_messages("<html><body>Login</body></html>").unwrap_err();
    assert!(matches!(err, Error::Unexpected { .. }), "{err}");
    assert!(err.to_string().contains("check the ONVIF address"));
    // The wrong answer.
    let err = parse_pull_messages(&fixture("renew_response.xml")).unwrap_err();
    assert!(matches!(err, Error::Unexpected { .. }), "{err}");
}

#[test]
fn requests_are_well_formed_and_namespaced() {
    let token = UsernameToken::new("onvif", "secret", &[1; 16], Timestamp(0));
    let sub = sightline_onvif::responses::EndpointReference {
        address: "http://cam/sub?id=1&x=2".into(),
        reference_parameters: vec![],
    };
    let all = [
        requests::get_system_date_and_time(),
        requests::create_pull_point_subscription(
            Some(&token),
            "http://cam/onvif/event_service",
            MOTION_TOPICS,
            Duration::from_secs(60),
        ),
        requests::pull_messages(Some(&token), &sub, Duration::from_secs(5), 10),
        requests::renew(Some(&token), &sub, Duration::from_secs(60)),
        requests::unsubscribe(Some(&token), &sub),
        requests::get_services(Some(&token)),
        requests::get_capabilities(Some(&token), "Events"),
    ];
    let actions = [
        action::GET_SYSTEM_DATE_AND_TIME,
        action::CREATE_PULL_POINT_SUBSCRIPTION,
        action::PULL_MESSAGES,
        action::RENEW,
        action::UNSUBSCRIBE,
        action::GET_SERVICES,
        action::GET_CAPABILITIES,
    ];
    for (request, expected) in all.iter().zip(actions) {
        assert_eq!(request.action, expected);
        assert!(request
            .content_type()
            .ends_with(&format!("action=\"{expected}\"")));
        // Well-formed, every prefix declared: read back by a namespace-aware parser.
        let mut reader = quick_xml::NsReader::from_str(&request.body);
        loop {
            match reader.read_resolved_event() {
                Ok((quick_xml::name::ResolveResult::Unknown(p), _)) => {
                    panic!("undeclared prefix {p} in {}", request.body)
                }
                Ok((_, quick_xml::events::Event::Eof)) => break,
                Ok(_) => {}
                Err(e) => panic!("{e} in {}", request.body),
            }
        }
    }
    let create = &all[1].body;
    assert!(create.contains(
        "tns1:RuleEngine/CellMotionDetector/Motion|tns1:VideoSource/MotionAlarm</wsnt:TopicExpression>"
    ));
    assert!(create.contains("xmlns:tns1=\"http://www.onvif.org/ver10/topics\""));
    assert!(create.contains("<tev:InitialTerminationTime>PT60S</tev:InitialTerminationTime>"));
    assert!(create.contains("<wsse:Username>onvif</wsse:Username>"));
    assert!(all[2]
        .body
        .contains("<wsa:To s:mustUnderstand=\"true\">http://cam/sub?id=1&amp;x=2</wsa:To>"));
    assert!(all[3]
        .body
        .contains("<wsnt:TerminationTime>PT60S</wsnt:TerminationTime>"));
    assert!(!all[0].body.contains("wsse:Security"));
}

#[test]
fn services_name_the_events_address() {
    let services = parse_get_services(&fixture("hikvision_get_services.xml")).unwrap();
    // The empty placeholder entry is skipped.
    assert_eq!(services.len(), 4);
    let events = services.iter().find(|s| s.namespace == ns::TEV).unwrap();
    assert_eq!(events.xaddr, "http://192.168.1.64/onvif/Events");
    assert_eq!(events.version, Some((17, 12)));
    assert_eq!(services[3].namespace, "http://www.onvif.org/ver20/ptz/wsdl");
}

#[test]
fn capabilities_with_a_default_namespace() {
    let caps = parse_get_capabilities(&fixture("axis_get_capabilities.xml")).unwrap();
    assert_eq!(
        caps.events.as_deref(),
        Some("http://10.0.0.20/onvif/services")
    );
    assert_eq!(caps.media, None);
    assert_eq!(caps.ptz, None);
    // GetServices on firmware without it: a fault the client falls back on.
    let Err(Error::Fault(fault)) = parse_get_services(&fixture("fault_action_not_supported.xml"))
    else {
        panic!("not a fault");
    };
    assert!(fault.has_subcode("ter:ActionNotSupported"));
    // The wrong answer is not read as capabilities.
    assert!(matches!(
        parse_get_capabilities(&fixture("hikvision_get_services.xml")),
        Err(Error::Unexpected { .. })
    ));
}
