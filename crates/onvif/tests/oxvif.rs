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
//!
//! And for PTZ (its `PTZNode_1` behind `Profile_1`):
//! - GetServices lists the media and PTZ services (unlike events);
//! - ContinuousMove takes one step of velocity × 0.05 and ignores `Timeout`
//!   (no timer), Stop always succeeds, MoveStatus is always IDLE;
//! - RelativeMove ignores the space; SetPreset on an unknown token creates
//!   it and GotoPreset of one succeeds (a real camera faults): what these
//!   tests check is that the client's requests are understood and its
//!   parsers read oxvif's replies, the position changing as asked.
#![cfg(feature = "interop-oxvif")]

use std::time::Duration;

use oxvif::mock::{AckOnlyOperation, MockServer};
use sightline_onvif::requests::MOTION_TOPICS;
use std::sync::Arc;

use sightline_onvif::ptz::{Detected, StopStyle, Vector};
use sightline_onvif::{
    run_events, Camera, ClockOffset, EventOptions, EventStatus, EventUpdate, PtzCamera, PtzSetup,
    StateChange,
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

fn node(server: &MockServer) -> (f32, f32, f32) {
    let state = server.device().read();
    let c = &state.ptz.channels["PTZNode_1"];
    (c.pan, c.tilt, c.zoom)
}

#[tokio::test]
async fn ptz_moves_presets_and_status_against_oxvif() {
    let server = mock().await;
    let camera = Arc::new(Camera::new(server.device_url(), "admin", "admin").unwrap());
    let ptz = PtzCamera::connect(camera, &PtzSetup::default())
        .await
        .unwrap();
    assert_eq!(ptz.profile().token, "Profile_1");
    let options = ptz.options();
    assert!(options.continuous() && options.absolute() && options.relative() && options.zoom());
    assert_eq!(
        options.timeout,
        Some((Duration::from_secs(1), Duration::from_secs(60)))
    );

    ptz.continuous_move(
        Vector {
            pan: 1.0,
            tilt: 0.0,
            zoom: 0.0,
        },
        Duration::from_secs(1),
    )
    .await
    .unwrap();
    let (pan, _, _) = node(&server);
    assert!(pan > 0.0, "one step right: {pan}");
    assert_eq!(ptz.stop().await.unwrap(), None);

    ptz.absolute_move(Some((-0.5, 0.25)), Some(0.5))
        .await
        .unwrap();
    assert_eq!(node(&server), (-0.5, 0.25, 0.5));
    let status = ptz.status().await.unwrap();
    assert_eq!(status.position.pan, Some(-0.5));
    assert_eq!(status.position.zoom, Some(0.5));
    assert!(!status.moving());

    let names: Vec<String> = ptz
        .presets()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert!(names.contains(&"Door".to_owned()), "{names:?}");
    let token = ptz.set_preset("Loading bay", None).await.unwrap();
    ptz.goto_home().await.unwrap();
    assert_eq!(node(&server), (0.0, 0.0, 0.0));
    ptz.goto_preset(&token).await.unwrap();
    assert_eq!(node(&server), (-0.5, 0.25, 0.5));
    ptz.remove_preset(&token).await.unwrap();
    assert!(ptz
        .presets()
        .await
        .unwrap()
        .iter()
        .all(|p| p.token != token));

    ptz.relative_move(
        Vector {
            pan: 0.25,
            tilt: 0.0,
            zoom: 0.0,
        },
        false,
    )
    .await
    .unwrap();
    assert_eq!(node(&server).0, -0.25);
}

#[tokio::test]
async fn a_stop_oxvif_refuses_is_retried_as_a_zero_velocity() {
    let server = mock().await;
    let camera = Arc::new(Camera::new(server.device_url(), "admin", "admin").unwrap());
    let ptz = PtzCamera::connect(camera, &PtzSetup::default())
        .await
        .unwrap();
    server.inject_fault("ptz/wsdl/Stop", "env:Receiver", "Action Not Implemented");
    assert_eq!(ptz.stop().await.unwrap(), Some(Detected::NoStop));
    assert_eq!(ptz.quirks().stop, StopStyle::ZeroVelocity);
}

#[tokio::test]
async fn ptz_with_a_wrong_password_is_refused_by_oxvif() {
    let server = mock().await;
    let camera = Arc::new(Camera::new(server.device_url(), "admin", "nimda").unwrap());
    let error = PtzCamera::connect(camera, &PtzSetup::default())
        .await
        .unwrap_err();
    assert!(error.is_not_authorized(), "{error}");
}
