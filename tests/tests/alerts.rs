//! Alerts end to end over the protocol and the HTTP API: the demo's intruder
//! raising a motion alert with a snapshot and a clip, webhooks, camera
//! health, history across a restart, and who may see what.

use std::time::Duration;

use sightline_relay::config::demo_motion;
use sightline_relay::{CameraConfig, DemoOptions, Relay, RelayConfig, Source};
use sightline_store::{CameraGrant, Role, Store};
use sightline_testkit::{bare_config, http_request, secured, Answer, RelayClient};
use sightline_wire::{AlertEvent, AlertInfo, AlertSeverity};

const PASSWORD: &str = "correct horse battery";
/// Generous: a shared 2-core machine compiling other things.
const WITHIN: Duration = Duration::from_secs(30);

fn small() -> DemoOptions {
    DemoOptions {
        width: 320,
        height: 180,
        fps: 15,
        keyframe_every: 15,
        bitrate_bps: 300_000,
        ..DemoOptions::default()
    }
}

/// A demo camera whose intruder comes only when asked, watched by motion
/// detection (the doorway zone, the rest masked).
fn intruder_camera(id: &str) -> CameraConfig {
    let mut camera = CameraConfig::new(
        id,
        format!("Camera {id}"),
        Source::Demo(DemoOptions {
            intruder_every: Some(Duration::from_secs(3600)),
            ..small()
        }),
    );
    let mut motion = demo_motion();
    motion.detector.cooldown_secs = 1.0;
    camera.motion = Some(motion);
    camera
}

fn url(relay: &Relay, path: &str) -> String {
    format!("http://{}{path}", relay.local_addr())
}

async fn get(relay: &Relay, path: &str, headers: &[(&str, &str)]) -> Answer {
    http_request("GET", &url(relay, path), headers, "")
        .await
        .expect("answers")
}

async fn post(
    relay: &Relay,
    path: &str,
    headers: &[(&str, &str)],
    body: serde_json::Value,
) -> Answer {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    http_request("POST", &url(relay, path), &all, &body.to_string())
        .await
        .expect("answers")
}

/// A relay without accounts, with a data directory (alert files).
async fn open_relay(
    cameras: Vec<CameraConfig>,
    adjust: impl FnOnce(&mut RelayConfig),
) -> (Relay, tempfile::TempDir) {
    let data = tempfile::tempdir().expect("temp dir");
    let mut config = bare_config(vec![]);
    config.cameras = cameras;
    config.data = Some(data.path().to_owned());
    adjust(&mut config);
    (Relay::start(config).await.expect("relay starts"), data)
}

/// Subscribes to `camera` and waits until 3 s of its video went by: the
/// detector has learnt the still doorway (an intruder already there when it
/// starts would leave a ghost in its background).
async fn watch_until_learnt(client: &mut RelayClient, camera: &str) {
    client.subscribe(camera).await.unwrap();
    tokio::time::timeout(WITHIN, async {
        loop {
            if let sightline_testkit::Received::Frame(header, _) = client.next().await.unwrap() {
                if header.timestamp_us >= 3_000_000 {
                    return;
                }
            }
        }
    })
    .await
    .expect("3 s of video");
}

async fn welcomed(relay: &Relay) -> RelayClient {
    let mut client = RelayClient::connect(relay.local_addr(), None)
        .await
        .expect("socket");
    client.welcome().await.expect("answer").expect("welcome");
    client
}

#[tokio::test]
async fn the_intruder_raises_a_motion_alert_with_a_snapshot_and_a_clip() {
    let (relay, _data) = open_relay(vec![intruder_camera("door")], |c| {
        c.alerts.post_roll = 1;
    })
    .await;
    let mut client = welcomed(&relay).await;
    watch_until_learnt(&mut client, "door").await;
    assert!(relay.intrude("door"));
    let started = client
        .wait_alert(WITHIN, |e, _| e == AlertEvent::Start)
        .await
        .unwrap();
    assert_eq!(started.camera, "door");
    assert_eq!(started.kind, "motion");
    assert_eq!(started.zones, ["doorway"], "{started:?}");
    assert_eq!(started.label, "Motion: doorway");
    assert_eq!(started.severity, AlertSeverity::Warning);
    assert!(started.area > 0.0 && started.area < 0.2, "{started:?}");
    let id = started.id;

    // The snapshot: the frame that confirmed the motion, ≤ 640 px wide.
    client
        .wait_alert(WITHIN, |_, a| a.id == id && a.snapshot)
        .await
        .unwrap();
    let jpeg = get(&relay, &format!("/api/alerts/{id}/snapshot.jpg"), &[]).await;
    assert_eq!(jpeg.status, 200, "{jpeg:?}");
    assert_eq!(jpeg.headers["content-type"], "image/jpeg");
    assert_eq!(&jpeg.bytes[..3], [0xff, 0xd8, 0xff], "a JPEG");

    // It ends (cooldown 1 s after the 4 s walk), then the clip is ready.
    let ended = client
        .wait_alert(WITHIN, |e, a| e == AlertEvent::End && a.id == id)
        .await
        .unwrap();
    // The 4 s walk, then 1 s without motion (the cooldown).
    let lasted = ended.ended_at_ms.unwrap() - ended.started_at_ms;
    eprintln!("the alert lasted {lasted} ms");
    assert!(
        (2_000..12_000).contains(&lasted),
        "the alert lasted {lasted} ms"
    );
    client
        .wait_alert(WITHIN, |_, a| a.id == id && a.clip)
        .await
        .unwrap();
    let path = format!("/api/alerts/{id}/clip.mp4");
    let clip = get(&relay, &path, &[]).await;
    assert_eq!(clip.status, 200);
    assert_eq!(clip.headers["content-type"], "video/mp4");
    let size = clip.bytes.len() as u64;
    let reader = mp4::Mp4Reader::read_header(std::io::Cursor::new(clip.bytes.clone()), size)
        .expect("an MP4 another demuxer reads");
    let track = reader.tracks().values().next().expect("one track");
    assert_eq!(track.media_type().unwrap(), mp4::MediaType::H264);
    assert_eq!((track.width(), track.height()), (320, 180));
    // The pre-roll (≥ 3 s before the alert) + the walk + cooldown + post-roll.
    let seconds = track.duration().as_secs_f64();
    assert!((5.0..=60.0).contains(&seconds), "clip of {seconds} s");
    let first = reader.sample_count(track.track_id()).unwrap();
    assert!(
        first as f64 >= seconds * 14.0,
        "{first} samples for {seconds} s at 15 fps"
    );
    // `<video>` seeks with Range.
    let part = get(&relay, &path, &[("range", "bytes=0-99")]).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.bytes.len(), 100);
    assert_eq!(part.bytes[..], clip.bytes[..100]);

    // And the history has it all.
    let history = get(&relay, "/api/alerts?camera=door", &[]).await;
    assert_eq!(history.status, 200, "{history:?}");
    let alerts: Vec<AlertInfo> = serde_json::from_value(history.json()["alerts"].clone()).unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].snapshot && alerts[0].clip && alerts[0].ended_at_ms.is_some());
    relay.shutdown().await.unwrap();
}

#[tokio::test]
async fn webhooks_raise_hold_and_end_alerts_and_the_history_survives_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let config = |data: &std::path::Path| {
        let mut config = bare_config(vec![("gate", Source::Demo(small()))]);
        config.data = Some(data.to_owned());
        config.alerts.webhook_hold = 1;
        config
    };
    let relay = Relay::start(config(data.path())).await.unwrap();
    let mut client = welcomed(&relay).await;
    let raised = post(
        &relay,
        "/api/cameras/gate/alerts",
        &[],
        serde_json::json!({"kind": "doorbell", "label": "Doorbell", "severity": "critical", "message": "ring"}),
    )
    .await;
    assert_eq!(raised.status, 202, "{raised:?}");
    let alert = client
        .wait_alert(WITHIN, |e, _| e == AlertEvent::Start)
        .await
        .unwrap();
    assert_eq!(alert.kind, "webhook:doorbell");
    assert_eq!(alert.label, "Doorbell");
    assert_eq!(alert.severity, AlertSeverity::Critical);
    assert_eq!(alert.message.as_deref(), Some("ring"));
    // Never ended by its sender: it ends by itself after webhook_hold.
    client
        .wait_alert(WITHIN, |e, a| e == AlertEvent::End && a.id == alert.id)
        .await
        .unwrap();
    // One that is ended explicitly.
    post(
        &relay,
        "/api/cameras/gate/alerts",
        &[],
        serde_json::json!({"kind": "person"}),
    )
    .await;
    let person = client
        .wait_alert(WITHIN, |e, _| e == AlertEvent::Start)
        .await
        .unwrap();
    let ended = post(
        &relay,
        "/api/cameras/gate/alerts",
        &[],
        serde_json::json!({"kind": "person", "end": true}),
    )
    .await;
    assert_eq!(ended.status, 202);
    client
        .wait_alert(WITHIN, |e, a| e == AlertEvent::End && a.id == person.id)
        .await
        .unwrap();
    // Bad input is refused with a reason.
    for (body, why) in [
        (serde_json::json!({}), "kind"),
        (serde_json::json!({"kind": "a b"}), "kind"),
        (
            serde_json::json!({"kind": "x", "colour": "red"}),
            "unknown field",
        ),
        (
            serde_json::json!({"kind": "x", "message": "m".repeat(1025)}),
            "1024",
        ),
    ] {
        let answer = post(&relay, "/api/cameras/gate/alerts", &[], body).await;
        assert_eq!(answer.status, 400, "{answer:?}");
        assert!(answer.body.contains(why), "{answer:?}");
    }
    let unknown = post(
        &relay,
        "/api/cameras/nowhere/alerts",
        &[],
        serde_json::json!({"kind": "x"}),
    )
    .await;
    assert_eq!(unknown.status, 404);
    relay.shutdown().await.unwrap();

    // A new relay on the same data directory has the history.
    let relay = Relay::start(config(data.path())).await.unwrap();
    let history = get(&relay, "/api/alerts", &[]).await;
    let alerts: Vec<AlertInfo> = serde_json::from_value(history.json()["alerts"].clone()).unwrap();
    assert_eq!(
        alerts.iter().map(|a| a.kind.as_str()).collect::<Vec<_>>(),
        ["webhook:person", "webhook:doorbell"],
        "newest first"
    );
    assert!(alerts.iter().all(|a| a.ended_at_ms.is_some()));
    // Paging and filters.
    let page = get(&relay, "/api/alerts?limit=1", &[]).await.json();
    assert_eq!(page["alerts"].as_array().unwrap().len(), 1);
    let next = page["next"].as_i64().expect("a next page");
    let older = get(&relay, &format!("/api/alerts?limit=1&before={next}"), &[])
        .await
        .json();
    assert_eq!(older["alerts"][0]["kind"], "webhook:doorbell");
    let doorbells = get(&relay, "/api/alerts?kind=webhook:doorbell", &[])
        .await
        .json();
    assert_eq!(doorbells["alerts"].as_array().unwrap().len(), 1);
    let bad = get(&relay, "/api/alerts?limit=100000", &[]).await;
    assert_eq!(bad.status, 400);
    relay.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_camera_away_too_long_raises_camera_offline() {
    // Nothing listens on port 1: the camera never comes up.
    let camera = CameraConfig::new(
        "dead",
        "Dead camera",
        Source::Rtsp(sightline_relay::RtspSource {
            url: "rtsp://127.0.0.1:1/stream".parse().unwrap(),
            username: None,
            password: None,
            transport: sightline_relay::Transport::Tcp,
        }),
    );
    let (relay, _data) = open_relay(vec![camera], |c| c.alerts.offline_alert_after = 1).await;
    let mut client = welcomed(&relay).await;
    let alert = client
        .wait_alert(WITHIN, |e, _| e == AlertEvent::Start)
        .await
        .unwrap();
    assert_eq!(alert.kind, "camera_offline");
    assert_eq!(alert.severity, AlertSeverity::Critical);
    assert_eq!(alert.label, "Camera offline");
    assert!(alert
        .message
        .unwrap()
        .contains("no video for more than 1 s"));
    // A socket opened now is told it is active.
    let mut later = RelayClient::connect(relay.local_addr(), None)
        .await
        .unwrap();
    later.welcome().await.unwrap().unwrap();
    let (event, active) = later.next_alert(WITHIN).await.unwrap();
    assert_eq!((event, active.id), (AlertEvent::Active, alert.id));
    relay.shutdown().await.unwrap();
}

/// Who may see an alert: the grant for its camera, on every path.
#[tokio::test]
async fn alerts_of_a_camera_reach_only_those_allowed_to_see_it() {
    let (config, data) = secured(bare_config(vec![
        ("a", Source::Demo(small())),
        ("b", Source::Demo(small())),
    ]))
    .unwrap();
    let relay = Relay::start(config).await.unwrap();
    let store = Store::open(&data.path().join("sightline.db")).unwrap();
    let grant = |c: &str| CameraGrant::parse(c).unwrap();
    store
        .add_user("va", Role::Viewer, &grant("a"), PASSWORD)
        .unwrap();
    store
        .add_user("vb", Role::Viewer, &grant("b"), PASSWORD)
        .unwrap();
    let admin = store
        .add_user("boss", Role::Admin, &CameraGrant::All, PASSWORD)
        .unwrap();
    let now = sightline_store::unix_now();
    let (_, key_a) = store
        .create_api_key("doorbell-a", Role::Operator, &grant("a"), admin.id, now)
        .unwrap();
    let (_, key_b) = store
        .create_api_key("doorbell-b", Role::Operator, &grant("b"), admin.id, now)
        .unwrap();
    let (_, viewer_key) = store
        .create_api_key("reader", Role::Viewer, &grant("a"), admin.id, now)
        .unwrap();
    let (_, device) = store
        .create_device("hall", &grant("a"), admin.id, now)
        .unwrap();
    let origin = format!("http://{}", relay.local_addr());
    let session = |user: &'static str| {
        let relay = &relay;
        async move {
            let body = serde_json::json!({"user": user, "password": PASSWORD});
            let answer = post(relay, "/api/login", &[], body).await;
            assert_eq!(answer.status, 200, "{answer:?}");
            let csrf = answer.json()["csrf"].as_str().unwrap().to_owned();
            (answer.cookie().unwrap(), csrf)
        }
    };
    let (cookie_a, csrf_a) = session("va").await;
    let (cookie_b, csrf_b) = session("vb").await;
    let socket = |cookie: String| {
        let origin = origin.clone();
        let addr = relay.local_addr();
        async move {
            let mut client =
                RelayClient::open_with(addr, None, &[("origin", &origin), ("cookie", &cookie)])
                    .await
                    .unwrap();
            client
                .send_hello(sightline_wire::PROTOCOL_VERSION)
                .await
                .unwrap();
            client.welcome().await.unwrap().unwrap();
            client
        }
    };
    let mut watcher_a = socket(cookie_a.clone()).await;
    let mut watcher_b = socket(cookie_b.clone()).await;

    let bearer = |k: &sightline_store::Secret| format!("Bearer {}", k.expose());
    // Keys and tokens that may not raise an alert on `a`.
    for (token, status) in [
        (bearer(&viewer_key), 403), // a viewer key
        (bearer(&device), 403),     // a kiosk's token
        (bearer(&key_b), 404),      // another camera's key: `a` is unknown to it
    ] {
        let answer = post(
            &relay,
            "/api/cameras/a/alerts",
            &[("authorization", &token)],
            serde_json::json!({"kind": "ring"}),
        )
        .await;
        assert_eq!(answer.status, status, "{answer:?}");
    }
    let anonymous = post(
        &relay,
        "/api/cameras/a/alerts",
        &[],
        serde_json::json!({"kind": "ring"}),
    )
    .await;
    assert_eq!(anonymous.status, 401);

    let raised = post(
        &relay,
        "/api/cameras/a/alerts",
        &[("authorization", &bearer(&key_a))],
        serde_json::json!({"kind": "ring"}),
    )
    .await;
    assert_eq!(raised.status, 202, "{raised:?}");
    let alert = watcher_a
        .wait_alert(WITHIN, |e, _| e == AlertEvent::Start)
        .await
        .unwrap();
    assert_eq!(alert.camera, "a");
    // b's watcher: the first alert it hears of is b's own, raised after a's.
    post(
        &relay,
        "/api/cameras/b/alerts",
        &[("authorization", &bearer(&key_b))],
        serde_json::json!({"kind": "ring"}),
    )
    .await;
    let (_, first_for_b) = watcher_b.next_alert(WITHIN).await.unwrap();
    assert_eq!(
        first_for_b.camera, "b",
        "a viewer of b heard of an alert on a"
    );

    // The API: a's alert is "not found" for b's viewer on every path.
    let id = alert.id;
    let as_b = [("cookie", cookie_b.as_str())];
    for path in [
        format!("/api/alerts/{id}"),
        format!("/api/alerts/{id}/snapshot.jpg"),
        format!("/api/alerts/{id}/clip.mp4"),
    ] {
        let answer = get(&relay, &path, &as_b).await;
        assert_eq!(answer.status, 404, "{path}: {answer:?}");
    }
    let ack = post(
        &relay,
        &format!("/api/alerts/{id}/ack"),
        &[
            ("cookie", &cookie_b),
            ("x-csrf-token", &csrf_b),
            ("origin", &origin),
        ],
        serde_json::json!({}),
    )
    .await;
    assert_eq!(ack.status, 404, "{ack:?}");
    let list = get(&relay, "/api/alerts", &as_b).await.json();
    assert!(
        list["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["camera"] == "b"),
        "{list}"
    );
    let asked = get(&relay, "/api/alerts?camera=a", &as_b).await.json();
    assert_eq!(asked["alerts"].as_array().unwrap().len(), 0, "{asked}");

    // a's viewer sees and acknowledges it; every socket of a hears the ack.
    let as_a = [("cookie", cookie_a.as_str())];
    let one = get(&relay, &format!("/api/alerts/{id}"), &as_a).await;
    assert_eq!(one.status, 200);
    let ack = post(
        &relay,
        &format!("/api/alerts/{id}/ack"),
        &[
            ("cookie", &cookie_a),
            ("x-csrf-token", &csrf_a),
            ("origin", &origin),
        ],
        serde_json::json!({}),
    )
    .await;
    assert_eq!(ack.status, 200, "{ack:?}");
    assert_eq!(ack.json()["acked_by"], "va");
    let acked = watcher_a
        .wait_alert(WITHIN, |e, a| e == AlertEvent::Ack && a.id == id)
        .await
        .unwrap();
    assert_eq!(acked.acked_by.as_deref(), Some("va"));
    // Without the CSRF token an ack is refused.
    let forged = post(
        &relay,
        &format!("/api/alerts/{id}/ack"),
        &[("cookie", &cookie_a)],
        serde_json::json!({}),
    )
    .await;
    assert_eq!(forged.status, 403);
    relay.shutdown().await.unwrap();
}

#[tokio::test]
async fn mqtt_says_motion_on_then_off_with_discovery_and_comes_back_after_a_broker_restart() {
    use sightline_relay::alerts::mqtt::MqttConfig;
    use sightline_testkit::mqtt::{Mosquitto, Subscriber};
    let broker = Mosquitto::start().await.unwrap();
    let topics = ["sightline/#", "homeassistant/#"];
    let mut sub = Subscriber::start(&broker, &topics).await.unwrap();
    let mqtt = MqttConfig {
        url: broker.url(),
        prefix: "sightline".into(),
        discovery: true,
        discovery_prefix: "homeassistant".into(),
        client_id: Some("sightline-test".into()),
    };
    let (relay, _data) = open_relay(vec![intruder_camera("door")], |c| {
        c.mqtt = Some(mqtt.broker().unwrap());
    })
    .await;
    sub.wait(WITHIN, "sightline/status", |p| p == "online")
        .await
        .unwrap();
    let config = sub
        .wait(
            WITHIN,
            "homeassistant/binary_sensor/sightline_door/motion/config",
            |_| true,
        )
        .await
        .unwrap();
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(config["device_class"], "motion");
    assert_eq!(config["state_topic"], "sightline/door/motion");
    assert_eq!(config["availability_topic"], "sightline/status");
    sub.wait(WITHIN, "sightline/door/motion", |p| p == "OFF")
        .await
        .unwrap();

    let mut client = welcomed(&relay).await;
    watch_until_learnt(&mut client, "door").await;
    relay.intrude("door");
    // The alert as JSON, then the sensor's state.
    let started = sub
        .wait(WITHIN, "sightline/alerts", |p| {
            p.contains(r#""event":"start""#)
        })
        .await
        .unwrap();
    assert!(started.contains(r#""kind":"motion""#), "{started}");
    sub.wait(WITHIN, "sightline/door/motion", |p| p == "ON")
        .await
        .unwrap();
    sub.wait(WITHIN, "sightline/door/motion", |p| p == "OFF")
        .await
        .unwrap();

    // The broker restarts (forgetting everything): the relay reconnects by
    // itself and says again what a subscriber must know.
    drop(sub);
    let broker = broker.restart().await.unwrap();
    let mut sub = Subscriber::start(&broker, &topics).await.unwrap();
    sub.wait(WITHIN, "sightline/status", |p| p == "online")
        .await
        .unwrap();
    sub.wait(WITHIN, "sightline/door/motion", |p| p == "OFF")
        .await
        .unwrap();
    sub.wait(
        WITHIN,
        "homeassistant/binary_sensor/sightline_door/motion/config",
        |_| true,
    )
    .await
    .unwrap();
    // A clean stop says offline.
    relay.shutdown().await.unwrap();
    sub.wait(WITHIN, "sightline/status", |p| p == "offline")
        .await
        .unwrap();
}

#[tokio::test]
async fn onvif_motion_events_become_alerts_with_the_cameras_clock_off() {
    use sightline_testkit::onvif::{OnvifSim, OnvifSimConfig, SimEvent};
    // A camera whose clock is 10 minutes fast: the relay must measure it.
    let sim = OnvifSim::start(OnvifSimConfig {
        clock_offset_secs: 600,
        ..OnvifSimConfig::default()
    })
    .await
    .unwrap();
    let mut camera = CameraConfig::new("porch", "Porch", Source::Demo(small()));
    let mut source = sightline_testkit::onvif_source(&sim).unwrap();
    source.topics = vec!["tns1:RuleEngine/LineDetector/Crossed".into()];
    camera.onvif = Some(source);
    let (relay, _data) = open_relay(vec![camera], |_| {}).await;
    let mut client = welcomed(&relay).await;
    // Subscribed, with the configured topic added to the motion ones.
    let requests = sim
        .wait_for(WITHIN, "a PullPoint subscription", |r| {
            r.iter().any(|r| r.is("PullMessages") && r.ok())
        })
        .await
        .unwrap();
    assert!(requests
        .iter()
        .any(|r| r.is("CreatePullPointSubscription") && r.ok()));
    assert_eq!(sim.inject(SimEvent::cell_motion(true)), 1);
    let started = client
        .wait_alert(WITHIN, |e, _| e == AlertEvent::Start)
        .await
        .unwrap();
    assert_eq!(started.camera, "porch");
    assert_eq!(
        started.kind,
        "onvif:tns1:RuleEngine/CellMotionDetector/Motion"
    );
    assert_eq!(started.label, "CellMotionDetector/Motion");
    sim.inject(SimEvent::cell_motion(false));
    client
        .wait_alert(WITHIN, |e, a| e == AlertEvent::End && a.id == started.id)
        .await
        .unwrap();
    relay.shutdown().await.unwrap();
    // A clean stop unsubscribes.
    sim.wait_for(WITHIN, "Unsubscribe", |r| {
        r.iter().any(|r| r.is("Unsubscribe"))
    })
    .await
    .unwrap();
}
