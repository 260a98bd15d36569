//! The client against an ONVIF device written by someone else: the `oxvif`
//! crate's mock server (`mock-server` feature), so the client is not tested only
//! against a simulator built alongside it.
//!
//! Opt-in (`cargo test -p sightline-onvif --features interop-oxvif`): oxvif's
//! own HTTP client is reqwest with rustls on aws-lc-rs, which the workspace
//! keeps out of its default build.
//!
//! What oxvif 0.17's mock really does, as these tests pin down:
//! - it checks the UsernameToken digest against its users (`admin`/`admin`) but
//!   not `Created` freshness nor nonce reuse (a token an hour stale passes);
//! - its GetServices lists no events service, so the client falls back on
//!   GetCapabilities for the events address;
//! - CreatePullPointSubscription answers a `TerminationTime` equal to its
//!   `CurrentTime` (an already expired subscription, in ONVIF terms), and Renew
//!   does the same; Renew and Unsubscribe answer a fault unless opted in as
//!   acknowledgment-only;
//! - PullMessages never waits: each call returns one synthetic event,
//!   alternating `tns1:VideoSource/MotionAlarm` (`IsMotion` true, then false,
//!   …) and `tns1:RuleEngine/FieldDetector/ObjectsInside`, filtered by the
//!   subscription's topics;
//! - faults come with HTTP 200.
#![cfg(feature = "interop-oxvif")]

use std::time::Duration;

use oxvif::mock::{AckOnlyOperation, MockServer};
use sightline_onvif::requests::MOTION_TOPICS;
use sightline_onvif::{
    run_events, Camera, ClockOffset, EventOptions, EventStatus, EventUpdate, StateChange,
};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(30);

async fn mock() -> MockServer {
    MockServer::builder()
        .enforce_auth(true)
        .with_acknowledgment_only(AckOnlyOperation::EventsRenew)
        .with_acknowledgment_only(AckOnlyOperation::EventsUnsubscribe)
        .start()
        .await
        .expect("oxvif's mock server starts")
}

#[tokio::test]
async fn the_whole_pull_point_exchange() {
    let server = mock().await;
    let camera = Camera::new(server.device_url(), "admin", "admin").unwrap();
    let offset = camera.system_date_and_time().await.unwrap();
    assert!(offset.millis.abs() < 2_000, "{offset:?}");

    let services = camera.services().await.unwrap();
    assert!(!services.is_empty());
    assert!(services
        .iter()
        .all(|s| s.namespace != sightline_onvif::ns::TEV));
    let caps = camera.capabilities().await.unwrap();
    let events = camera.events_address().await.unwrap();
    assert_eq!(Some(&events), caps.events.as_ref());
    assert!(events.starts_with(server.base_url()), "{events}");

    let sub = camera
        .create_pull_point_subscription(&events, MOTION_TOPICS, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(sub.termination_time, sub.current_time);
    let mut seen = Vec::new();
    for _ in 0..4 {
        let pulled = camera
            .pull_messages(&sub.reference, Duration::from_secs(5), 10)
            .await
            .unwrap();
        for n in pulled.messages {
            seen.push((n.topic.clone(), n.data_value("IsMotion").map(str::to_owned)));
        }
    }
    assert!(!seen.is_empty());
    assert!(
        seen.iter()
            .all(|(t, _)| MOTION_TOPICS.contains(&t.as_str())),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|(_, v)| v.as_deref() == Some("true")),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|(_, v)| v.as_deref() == Some("false")),
        "{seen:?}"
    );

    camera
        .renew(&sub.reference, Duration::from_secs(60))
        .await
        .unwrap();
    camera.unsubscribe(&sub.reference).await.unwrap();
}

#[tokio::test]
async fn it_checks_the_password_but_not_the_clock() {
    let server = mock().await;
    let wrong = Camera::new(server.device_url(), "admin", "nimda").unwrap();
    let error = wrong.services().await.unwrap_err();
    assert!(error.is_not_authorized(), "{error}");

    let stale = Camera::new(server.device_url(), "admin", "admin").unwrap();
    stale.set_clock_offset(ClockOffset { millis: -3_600_000 });
    stale.services().await.unwrap();
}

#[tokio::test]
async fn the_event_loop_reports_motion_from_it() {
    let server = mock().await;
    let camera = Camera::new(server.device_url(), "admin", "admin").unwrap();
    let (tx, mut rx) = mpsc::channel(16);
    let options = EventOptions {
        pull_timeout: Duration::from_secs(2),
        retry_initial: Duration::from_millis(100),
        ..EventOptions::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        run_events(&camera, &options, &tx, async {
            let _ = stopped.await;
        })
        .await;
    });
    let mut started = false;
    let mut ended = false;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !(started && ended) {
        let update = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("motion start and end from oxvif")
            .expect("the loop runs");
        match update {
            EventUpdate::Change(StateChange::Started { topic, .. }) => {
                assert_eq!(topic, "tns1:VideoSource/MotionAlarm");
                started = true;
            }
            EventUpdate::Change(StateChange::Ended { timed_out, .. }) => {
                assert!(started);
                assert!(!timed_out);
                ended = true;
            }
            EventUpdate::Status(EventStatus::Failed { message, .. }) => {
                panic!("failed against oxvif: {message}")
            }
            EventUpdate::Status(EventStatus::Connected { .. }) => {}
        }
    }
    let _ = stop.send(());
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
}
