//! The client and the event loop against the validating simulator
//! (`sightline_testkit::onvif`), over real sockets on loopback. Waits are on the
//! update channel or the simulator's request log, never fixed sleeps.
//!
//! The simulator's source is compiled in by path rather than through the
//! `sightline-testkit` crate, which depends on the whole relay: this crate's
//! tests build in seconds, not minutes, and do not wait for the relay to build.

#[path = "../../testkit/src/onvif/mod.rs"]
#[allow(dead_code)]
mod sim_source;

use std::sync::Arc;
use std::time::Duration;

use sightline_onvif::requests::MOTION_TOPICS;
use sightline_onvif::{
    run_events, Camera, ClockOffset, EventOptions, EventStatus, EventUpdate, StateChange,
};
use sim_source::{DigestAlgorithm, OnvifSim, OnvifSimConfig, Outcome, Recorded, SimEvent};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

const MOTION: &str = "tns1:RuleEngine/CellMotionDetector/Motion";
const WAIT: Duration = Duration::from_secs(30);

fn options() -> EventOptions {
    EventOptions {
        pull_timeout: Duration::from_secs(2),
        retry_initial: Duration::from_millis(100),
        retry_max: Duration::from_secs(2),
        ..EventOptions::default()
    }
}

struct Running {
    updates: mpsc::Receiver<EventUpdate>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    fn start(camera: Camera, options: EventOptions) -> Running {
        let (tx, updates) = mpsc::channel(16);
        let (stop, stopped) = oneshot::channel::<()>();
        let camera = Arc::new(camera);
        let task = tokio::spawn(async move {
            run_events(&camera, &options, &tx, async {
                let _ = stopped.await;
            })
            .await;
        });
        Running {
            updates,
            stop: Some(stop),
            task,
        }
    }

    /// The next update `pick` accepts, skipping others; panics after [`WAIT`].
    async fn next<T>(&mut self, what: &str, mut pick: impl FnMut(&EventUpdate) -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.updates.recv()).await {
                Ok(Some(update)) => {
                    if let Some(t) = pick(&update) {
                        return t;
                    }
                }
                Ok(None) => panic!("{what}: the event loop ended"),
                Err(_) => panic!("{what}: nothing within {WAIT:?}"),
            }
        }
    }

    async fn connected(&mut self) -> (String, ClockOffset) {
        self.next("Connected", |u| match u {
            EventUpdate::Status(EventStatus::Connected {
                events_address,
                clock_offset,
            }) => Some((events_address.clone(), *clock_offset)),
            EventUpdate::Status(EventStatus::Failed { message, .. }) => {
                panic!("failed instead of connecting: {message}")
            }
            _ => None,
        })
        .await
    }

    async fn change(&mut self) -> StateChange {
        self.next("a state change", |u| match u {
            EventUpdate::Change(c) => Some(c.clone()),
            _ => None,
        })
        .await
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the loop stops on shutdown")
            .expect("the loop does not panic");
    }
}

async fn sim(config: OnvifSimConfig) -> OnvifSim {
    OnvifSim::start(config).await.expect("simulator starts")
}

fn camera(sim: &OnvifSim, password: &str) -> Camera {
    Camera::new(&sim.device_url(), "onvif", password).expect("valid address")
}

fn count(records: &[Recorded], operation: &str) -> usize {
    records.iter().filter(|r| r.is(operation)).count()
}

fn refusals(records: &[Recorded]) -> Vec<&Recorded> {
    records.iter().filter(|r| !r.ok()).collect()
}

#[tokio::test]
async fn motion_starts_and_ends_and_shutdown_unsubscribes() {
    let sim = sim(OnvifSimConfig::default()).await;
    let mut run = Running::start(camera(&sim, "secret"), options());
    let (address, _) = run.connected().await;
    assert_eq!(address, format!("http://{}/onvif/events", sim.addr()));

    // The topic filter reached the camera: other topics are not delivered.
    let mut input = SimEvent::cell_motion(true);
    input.topic = "tns1:Device/Trigger/DigitalInput".into();
    assert_eq!(sim.inject(input), 0);
    assert_eq!(sim.inject(SimEvent::cell_motion(true)), 1);
    match run.change().await {
        StateChange::Started { topic, source, .. } => {
            assert_eq!(topic, MOTION);
            assert!(
                source.contains("VideoSourceConfigurationToken=vsc1"),
                "{source}"
            );
        }
        other => panic!("expected a start, got {other:?}"),
    }
    sim.inject(SimEvent::cell_motion(false));
    assert!(matches!(
        run.change().await,
        StateChange::Ended { timed_out: false, ref topic, .. } if topic == MOTION
    ));

    run.stop().await;
    let records = sim
        .wait_for(WAIT, "Unsubscribe", |r| {
            r.iter().any(|r| r.is("Unsubscribe"))
        })
        .await
        .unwrap();
    assert_eq!(sim.subscriptions(), 0);
    assert!(refusals(&records).is_empty(), "{:#?}", refusals(&records));
    let create = records
        .iter()
        .find(|r| r.is("CreatePullPointSubscription"))
        .unwrap();
    assert_eq!(
        create.topic_filter.as_deref(),
        Some(&*MOTION_TOPICS.join("|"))
    );
}

#[tokio::test]
async fn renews_before_a_short_subscription_expires() {
    let sim = sim(OnvifSimConfig {
        max_termination: Duration::from_secs(4),
        ..OnvifSimConfig::default()
    })
    .await;
    let mut run = Running::start(camera(&sim, "secret"), options());
    run.connected().await;
    let records = sim
        .wait_for(WAIT, "three renewals", |r| {
            r.iter().filter(|r| r.is("Renew") && r.ok()).count() >= 3
        })
        .await
        .unwrap();
    // Outlived the 4 s it was granted three times over, on one subscription.
    assert_eq!(count(&records, "CreatePullPointSubscription"), 1);
    assert!(refusals(&records).is_empty(), "{:#?}", refusals(&records));
    sim.inject(SimEvent::cell_motion(true));
    assert!(matches!(run.change().await, StateChange::Started { .. }));
    run.stop().await;
}

#[tokio::test]
async fn a_camera_extending_on_pull_needs_no_renew() {
    let sim = sim(OnvifSimConfig {
        max_termination: Duration::from_secs(4),
        extend_on_pull: true,
        ..OnvifSimConfig::default()
    })
    .await;
    let mut run = Running::start(camera(&sim, "secret"), options());
    run.connected().await;
    // Five pulls of ≥ 1 s outlast the 4 s granted at subscribe.
    let records = sim
        .wait_for(WAIT, "five pulls", |r| {
            r.iter().filter(|r| r.is("PullMessages") && r.ok()).count() >= 5
        })
        .await
        .unwrap();
    let first = records.iter().find(|r| r.is("PullMessages")).unwrap().at;
    let last = records
        .iter()
        .rev()
        .find(|r| r.is("PullMessages"))
        .unwrap()
        .at;
    assert!(last - first >= Duration::from_secs(4), "{:?}", last - first);
    assert_eq!(count(&records, "Renew"), 0);
    assert_eq!(count(&records, "CreatePullPointSubscription"), 1);
    run.stop().await;
}

#[tokio::test]
async fn a_dropped_subscription_is_replaced() {
    let sim = sim(OnvifSimConfig::default()).await;
    let mut run = Running::start(camera(&sim, "secret"), options());
    run.connected().await;
    sim.drop_subscriptions();
    let message = run
        .next("Failed", |u| match u {
            EventUpdate::Status(EventStatus::Failed { message, .. }) => Some(message.clone()),
            _ => None,
        })
        .await;
    assert!(message.contains("does not exist"), "{message}");
    run.connected().await;
    assert_eq!(sim.subscriptions(), 1);
    sim.inject(SimEvent::cell_motion(true));
    assert!(matches!(run.change().await, StateChange::Started { .. }));
    assert_eq!(count(&sim.requests(), "CreatePullPointSubscription"), 2);
    run.stop().await;
}

#[tokio::test]
async fn a_clock_ten_minutes_off_is_compensated() {
    for minutes in [10, -10] {
        let sim = sim(OnvifSimConfig {
            clock_offset_secs: minutes * 60,
            ..OnvifSimConfig::default()
        })
        .await;
        let mut run = Running::start(camera(&sim, "secret"), options());
        let (_, offset) = run.connected().await;
        let expected = minutes * 60_000;
        assert!(
            (offset.millis - expected).abs() < 2_000,
            "measured {offset:?}, expected {expected} ms"
        );
        sim.inject(SimEvent::cell_motion(true));
        assert!(matches!(run.change().await, StateChange::Started { .. }));
        run.stop().await;
        assert!(refusals(&sim.requests()).is_empty());
    }
}

#[tokio::test]
async fn without_the_offset_the_camera_refuses() {
    let sim = sim(OnvifSimConfig {
        clock_offset_secs: 600,
        ..OnvifSimConfig::default()
    })
    .await;
    let camera = camera(&sim, "secret");
    camera.set_clock_offset(ClockOffset::default());
    let error = camera.events_address().await.unwrap_err();
    assert!(error.is_not_authorized(), "{error}");
    let records = sim.requests();
    let Outcome::Fault { subcode, detail } = &records[0].outcome else {
        panic!("{records:?}");
    };
    assert_eq!(subcode, "ter:NotAuthorized");
    assert!(detail.starts_with("stale Created"), "{detail}");
    // Measured, it works.
    let offset = camera.system_date_and_time().await.unwrap();
    assert!((offset.millis - 600_000).abs() < 2_000, "{offset:?}");
    camera.events_address().await.unwrap();
}

#[tokio::test]
async fn a_wrong_password_is_reported_and_retried_with_backoff() {
    let sim = sim(OnvifSimConfig::default()).await;
    let mut options = options();
    options.retry_initial = Duration::from_millis(200);
    let mut run = Running::start(camera(&sim, "wrong"), options);
    let mut failures = Vec::new();
    while failures.len() < 3 {
        let failure = run
            .next("Failed", |u| match u {
                EventUpdate::Status(EventStatus::Failed {
                    message,
                    not_authorized,
                    retry_in,
                    failures,
                }) => Some((message.clone(), *not_authorized, *retry_in, *failures)),
                EventUpdate::Status(EventStatus::Connected { .. }) => panic!("connected"),
                _ => None,
            })
            .await;
        failures.push((Instant::now(), failure));
    }
    for (i, (_, (message, not_authorized, _, count))) in failures.iter().enumerate() {
        assert!(
            message.starts_with("wrong ONVIF user or password"),
            "{message}"
        );
        assert!(*not_authorized);
        assert_eq!(*count as usize, i + 1);
    }
    // Backoff: the delays double, and the loop honours them.
    let delays: Vec<Duration> = failures.iter().map(|(_, f)| f.2).collect();
    assert!(delays[1] > delays[0] && delays[2] > delays[1], "{delays:?}");
    for pair in failures.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(
            gap >= pair[0].1 .2.mul_f64(0.9),
            "{gap:?} < {:?}",
            pair[0].1 .2
        );
    }
    // One refusal per attempt plus one immediate retry with a fresh clock at
    // first: no tight loop.
    let records = sim.requests();
    let refused = records.iter().filter(|r| !r.ok()).count();
    assert!(
        refused <= 5,
        "{refused} refusals for 3 failures: {records:#?}"
    );
    let clocks = count(&records, "GetSystemDateAndTime");
    assert!(clocks == refused || clocks == refused + 1, "{records:#?}");

    // The administrator fixes the camera's password: it recovers by itself.
    sim.set_password("wrong");
    run.connected().await;
    run.stop().await;
}

#[tokio::test]
async fn http_digest_cameras_work_and_stale_nonces_are_renewed() {
    for algorithm in [DigestAlgorithm::Md5, DigestAlgorithm::Sha256] {
        let sim = sim(OnvifSimConfig {
            http_digest: Some(algorithm),
            ..OnvifSimConfig::default()
        })
        .await;
        let camera = camera(&sim, "secret");
        let camera = Arc::new(camera);
        let offset = camera.system_date_and_time().await.unwrap();
        assert!(offset.millis.abs() < 2_000);
        assert!(camera.uses_http_digest());
        let address = camera.events_address().await.unwrap();
        let sub = camera
            .create_pull_point_subscription(&address, MOTION_TOPICS, Duration::from_secs(60))
            .await
            .unwrap();
        // The challenge is remembered: one 401 in all.
        let challenges = |r: &[Recorded]| {
            r.iter()
                .filter(|r| matches!(r.outcome, Outcome::HttpChallenge { .. }))
                .count()
        };
        assert_eq!(challenges(&sim.requests()), 1, "{algorithm:?}");
        sim.expire_http_nonces();
        sim.inject(SimEvent::cell_motion(true));
        let pulled = camera
            .pull_messages(&sub.reference, Duration::from_secs(5), 10)
            .await
            .unwrap();
        assert_eq!(pulled.messages.len(), 1);
        let records = sim.requests();
        assert!(records
            .iter()
            .any(|r| r.outcome == Outcome::HttpChallenge { stale: true }));
        assert_eq!(challenges(&records), 2);
        camera.unsubscribe(&sub.reference).await.unwrap();
    }
}

#[tokio::test]
async fn http_digest_with_a_wrong_password_is_named() {
    let sim = sim(OnvifSimConfig {
        http_digest: Some(DigestAlgorithm::Md5),
        ..OnvifSimConfig::default()
    })
    .await;
    let error = camera(&sim, "wrong")
        .system_date_and_time()
        .await
        .unwrap_err();
    assert!(error.is_not_authorized(), "{error}");
    assert!(
        error
            .to_string()
            .starts_with("wrong ONVIF user or password"),
        "{error}"
    );
    // Challenged, answered once, refused: two requests, no loop.
    assert_eq!(sim.requests().len(), 2);
}

#[tokio::test]
async fn motion_never_ended_by_the_camera_ends_by_itself() {
    let sim = sim(OnvifSimConfig::default()).await;
    let options = EventOptions {
        pull_timeout: Duration::from_secs(1),
        max_active: Duration::from_secs(2),
        ..options()
    };
    let mut run = Running::start(camera(&sim, "secret"), options);
    run.connected().await;
    sim.inject(SimEvent::cell_motion(true));
    let started = run.change().await;
    let StateChange::Started { at: start, .. } = started else {
        panic!("{started:?}");
    };
    match run.change().await {
        StateChange::Ended { timed_out, at, .. } => {
            assert!(timed_out);
            assert!(at.0 - start.0 >= 2_000, "ended after {} ms", at.0 - start.0);
        }
        other => panic!("{other:?}"),
    }
    run.stop().await;
}

#[tokio::test]
async fn old_firmware_behind_nat() {
    // No GetServices, and service addresses naming the camera's LAN address.
    let sim = sim(OnvifSimConfig {
        get_services: false,
        advertise: Some("192.168.77.7:80".into()),
        ..OnvifSimConfig::default()
    })
    .await;
    let mut run = Running::start(camera(&sim, "secret"), options());
    let (address, _) = run.connected().await;
    assert_eq!(address, format!("http://{}/onvif/events", sim.addr()));
    sim.inject(SimEvent::cell_motion(true));
    assert!(matches!(run.change().await, StateChange::Started { .. }));
    run.stop().await;
    let records = sim.requests();
    assert!(records.iter().any(|r| r.is("GetCapabilities") && r.ok()));
    assert!(records.iter().any(|r| r.is("Unsubscribe") && r.ok()));
}
