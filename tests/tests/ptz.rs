//! PTZ from the protocol's side, against the real relay (accounts in a real
//! SQLite file) and the ONVIF simulator, which validates every request and
//! moves its head by the velocities it is sent: who may steer (the grant,
//! the operator role, one operator at a time, the lease passing, an admin
//! taking over), the dead-man stop (silence, a closed socket, unsubscribing,
//! a frozen operator process), presets, and refusals that say why.
//!
//! One relay and one simulated dome camera per test; the lease is 2 s here
//! (30 s in production) so that it can be watched lapsing.

use std::process::Stdio;
use std::time::Duration;

use sightline_relay::{CameraConfig, DemoOptions, Relay, Source};
use sightline_store::{CameraGrant, Role, Store};
use sightline_testkit::onvif::{OnvifSim, Recorded};
use sightline_testkit::{
    bare_config, http_request, sample, secured, sign_in, tiny_demo, RelayClient,
};
use sightline_wire::{ErrorCode, PtzAction, PtzState, ServerMessage};
use tokio::io::AsyncBufReadExt as _;
use tokio::time::Instant;

const PASSWORD: &str = "correct horse battery";
const CAMERA: &str = "dome";
const LEASE: Duration = Duration::from_secs(2);
/// How long a test waits for something that should happen at once.
const WITHIN: Duration = Duration::from_secs(10);
/// The bound: from the operator going away to Stop at the camera.
const STOP_WITHIN: Duration = Duration::from_secs(1);
/// The commands that move the head (not the reads: GetStatus, GetPresets).
const MOVES: &[&str] = &[
    "ContinuousMove",
    "Stop",
    "RelativeMove",
    "AbsoluteMove",
    "GotoPreset",
    "GotoHomePosition",
    "SetPreset",
    "RemovePreset",
];

struct Site {
    relay: Relay,
    sim: OnvifSim,
    _data: tempfile::TempDir,
}

impl Site {
    async fn start() -> Site {
        let sim = OnvifSim::start_ptz().await.expect("simulator");
        let mut camera = CameraConfig::new(CAMERA, "Dome", Source::Demo(tiny_demo()));
        camera.onvif = Some(sightline_testkit::onvif_source(&sim).expect("its address"));
        let mut config = bare_config(Vec::new());
        config.cameras = vec![camera];
        let (mut config, data) = secured(config).expect("data directory");
        config.ptz_lease = LEASE;
        let relay = Relay::start(config).await.expect("relay");
        let store = Store::open(&data.path().join("sightline.db")).expect("database");
        for (name, role, grant) in [
            ("vera", Role::Viewer, CAMERA),
            ("olga", Role::Operator, CAMERA),
            ("oscar", Role::Operator, CAMERA),
            ("otto", Role::Operator, "other"),
            ("ada", Role::Admin, "*"),
        ] {
            store
                .add_user(name, role, &CameraGrant::parse(grant).unwrap(), PASSWORD)
                .expect("user");
        }
        Site {
            relay,
            sim,
            _data: data,
        }
    }

    async fn cookie(&self, user: &str) -> String {
        sign_in(self.relay.local_addr(), user, PASSWORD)
            .await
            .expect("signed in")
            .0
    }

    /// `user`'s socket, subscribed to the dome once its PTZ is ready: the
    /// first `ptz_state` that lists features.
    async fn watching(&self, user: &str) -> (RelayClient, PtzState) {
        let cookie = self.cookie(user).await;
        let (mut client, _) = RelayClient::signed_in(self.relay.local_addr(), &cookie)
            .await
            .expect("welcomed");
        client.subscribe(CAMERA).await.unwrap();
        let state = client
            .wait_ptz_state(CAMERA, WITHIN, |s| s.features.is_some())
            .await
            .expect("the dome's PTZ state");
        (client, state)
    }

    /// The moving commands the camera received so far.
    fn moves(&self) -> Vec<Recorded> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| MOVES.contains(&r.operation.as_str()))
            .collect()
    }

    /// Waits for the `n`th (from 1) accepted `operation` and returns it.
    async fn nth(&self, operation: &str, n: usize) -> Recorded {
        let what = format!("{operation} #{n}");
        let records = self
            .sim
            .wait_for(WITHIN, &what, |r| {
                r.iter().filter(|r| r.is(operation) && r.ok()).count() >= n
            })
            .await
            .unwrap();
        records
            .into_iter()
            .filter(|r| r.is(operation) && r.ok())
            .nth(n - 1)
            .unwrap()
    }

    /// Stops the relay decided for `reason` (`/metrics`, read as an admin).
    async fn stops(&self, reason: &str) -> f64 {
        let cookie = self.cookie("ada").await;
        let answer = http_request(
            "GET",
            &format!("http://{}/metrics", self.relay.local_addr()),
            &[("cookie", &cookie)],
            "",
        )
        .await
        .expect("metrics");
        let name = format!("sightline_ptz_stops_total{{camera=\"{CAMERA}\",reason=\"{reason}\"}}");
        sample(&answer.body, &name).unwrap_or_else(|| panic!("no {name} in {answer:?}"))
    }

    fn count(&self, operation: &str) -> usize {
        self.sim
            .requests()
            .iter()
            .filter(|r| r.is(operation) && r.ok())
            .count()
    }
}

fn pan(speed: f64) -> PtzAction {
    PtzAction::Move {
        pan: speed,
        tilt: 0.0,
        zoom: 0.0,
    }
}

/// The next error on `client`, skipping states and frames.
async fn error(client: &mut RelayClient) -> (ErrorCode, String, Option<u32>) {
    loop {
        match client.next_control().await.expect("an answer") {
            ServerMessage::Error {
                code,
                message,
                request,
            } => return (code, message, request),
            _ => continue,
        }
    }
}

#[tokio::test]
async fn viewers_and_operators_without_the_grant_move_nothing() {
    let site = Site::start().await;
    let (mut vera, state) = site.watching("vera").await;
    let features = state.features.expect("features");
    assert!(!features.control, "a viewer is not offered control");
    assert!(features.continuous && features.presets, "{features:?}");
    for (id, action) in [
        (5, pan(0.5)),
        (6, PtzAction::Home {}),
        (7, PtzAction::Take {}),
    ] {
        vera.ptz(id, CAMERA, action).await.unwrap();
        let (code, message, request) = error(&mut vera).await;
        assert_eq!(
            (code, request),
            (ErrorCode::Forbidden, Some(id)),
            "{message}"
        );
    }
    // An operator whose grant does not cover the dome cannot even learn it
    // exists.
    let cookie = site.cookie("otto").await;
    let (mut otto, cameras) = RelayClient::signed_in(site.relay.local_addr(), &cookie)
        .await
        .unwrap();
    assert!(cameras.is_empty());
    otto.ptz(8, CAMERA, pan(0.5)).await.unwrap();
    assert_eq!(error(&mut otto).await.0, ErrorCode::UnknownCamera);
    // An operator must watch the camera to steer it (unsubscribing is what
    // stops what it moved).
    let cookie = site.cookie("olga").await;
    let (mut olga, cameras) = RelayClient::signed_in(site.relay.local_addr(), &cookie)
        .await
        .unwrap();
    let dome = cameras.iter().find(|c| c.id == CAMERA).expect("listed");
    assert!(dome.capabilities.ptz, "welcome says the dome has PTZ");
    assert!(dome.capabilities.ptz_features.as_ref().unwrap().control);
    olga.ptz(9, CAMERA, pan(0.5)).await.unwrap();
    assert_eq!(error(&mut olga).await.0, ErrorCode::NotSubscribed);
    // Bad input is refused by the relay, before the camera.
    olga.subscribe(CAMERA).await.unwrap();
    for (id, name) in [
        (10, "x".repeat(65)),
        (11, "bell\u{7}".into()),
        (12, "".into()),
    ] {
        let action = PtzAction::SetPreset { name, preset: None };
        olga.ptz(id, CAMERA, action).await.unwrap();
        let (code, message, request) = error(&mut olga).await;
        assert_eq!(
            (code, request),
            (ErrorCode::BadMessage, Some(id)),
            "{message}"
        );
    }
    let moves: Vec<String> = site.moves().iter().map(|r| r.operation.clone()).collect();
    assert!(moves.is_empty(), "nothing reaches the camera: {moves:?}");
}

#[tokio::test]
async fn one_operator_at_a_time_the_lease_passes_and_an_admin_takes_over() {
    let site = Site::start().await;
    let (mut olga, _) = site.watching("olga").await;
    let (mut oscar, _) = site.watching("oscar").await;
    olga.ptz(1, CAMERA, pan(0.5)).await.unwrap();
    site.nth("ContinuousMove", 1).await;
    let held = oscar
        .wait_ptz_state(CAMERA, WITHIN, |s| s.holder.as_deref() == Some("olga"))
        .await
        .unwrap();
    assert!(!held.yours && held.moving, "{held:?}");
    // Oscar is refused, and nothing of his reaches the camera.
    oscar.ptz(2, CAMERA, pan(-0.5)).await.unwrap();
    let (code, message, _) = error(&mut oscar).await;
    assert_eq!(code, ErrorCode::Conflict);
    assert!(message.contains("held by olga"), "{message}");
    olga.ptz(3, CAMERA, PtzAction::Stop {}).await.unwrap();
    site.nth("Stop", 1).await;
    assert_eq!(site.count("ContinuousMove"), 1, "{:?}", site.moves());
    // Her lease lapses a while after her last command; then he may steer.
    let free = oscar
        .wait_ptz_state(CAMERA, WITHIN, |s| s.holder.is_none())
        .await
        .unwrap();
    assert!(!free.moving);
    oscar.ptz(4, CAMERA, pan(-0.5)).await.unwrap();
    site.nth("ContinuousMove", 2).await;
    oscar
        .wait_ptz_state(CAMERA, WITHIN, |s| {
            s.yours && s.holder.as_deref() == Some("oscar")
        })
        .await
        .unwrap();
    // An admin takes control at once, and the move oscar held stops.
    let (mut ada, _) = site.watching("ada").await;
    let stops = site.count("Stop");
    ada.ptz(5, CAMERA, PtzAction::Take {}).await.unwrap();
    ada.wait_ptz_state(CAMERA, WITHIN, |s| s.yours && !s.moving)
        .await
        .unwrap();
    site.nth("Stop", stops + 1).await;
    assert!(!site.sim.ptz_moving(), "the head stopped");
    assert_eq!(site.stops("taken_over").await, 1.0);
    oscar.ptz(6, CAMERA, pan(-0.5)).await.unwrap();
    let (code, message, _) = error(&mut oscar).await;
    assert_eq!(code, ErrorCode::Conflict);
    assert!(message.contains("held by ada"), "{message}");
}

/// Holds a pan on `client` until the camera has it, renewing `renewals`
/// times; returns when the last renewal was sent.
async fn hold(site: &Site, client: &mut RelayClient, renewals: u32) -> Instant {
    let before = site.count("ContinuousMove");
    client.ptz(100, CAMERA, pan(0.5)).await.unwrap();
    site.nth("ContinuousMove", before + 1).await;
    let mut last = Instant::now();
    for i in 0..renewals {
        tokio::time::sleep(Duration::from_millis(200)).await;
        client.ptz(101 + i, CAMERA, pan(0.5)).await.unwrap();
        last = Instant::now();
    }
    assert!(
        site.sim.ptz_moving(),
        "the head moves while the move is held"
    );
    last
}

/// Waits for the next accepted Stop after `stops` of them; how long after
/// `since` it reached the camera. The head must then stand still.
async fn stopped(site: &Site, stops: usize, since: Instant, case: &str) -> Duration {
    let stop = site.nth("Stop", stops + 1).await;
    let after = stop.at.saturating_duration_since(since);
    println!(
        "{case}: Stop reached the camera {} ms after",
        after.as_millis()
    );
    assert!(after <= STOP_WITHIN, "{case}: Stop after {after:?}");
    assert!(!site.sim.ptz_moving(), "{case}: the head still moves");
    after
}

#[tokio::test]
async fn a_held_move_stops_when_renewals_stop_the_socket_closes_or_it_unsubscribes() {
    let site = Site::start().await;
    // (1) The operator stops renewing (a page that lost its timer).
    let (mut olga, _) = site.watching("olga").await;
    let last = hold(&site, &mut olga, 3).await;
    stopped(&site, 0, last, "renewals stopped").await;
    assert_eq!(site.stops("silence").await, 1.0);
    // (2) The socket closes mid-move.
    let last = hold(&site, &mut olga, 2).await;
    let stops = site.count("Stop");
    drop(olga);
    let closed = Instant::now();
    assert!(closed.duration_since(last) < Duration::from_millis(300));
    stopped(&site, stops, closed, "socket closed").await;
    // Stopped because the socket went, not by the silence that followed.
    assert_eq!(site.stops("gone").await, 1.0);
    // (3) It unsubscribes mid-move.
    let (mut olga, _) = site.watching("olga").await;
    hold(&site, &mut olga, 1).await;
    let stops = site.count("Stop");
    olga.send(&sightline_wire::ClientMessage::Unsubscribe {
        id: 200,
        camera: CAMERA.into(),
        stream: Default::default(),
    })
    .await
    .unwrap();
    let left = Instant::now();
    stopped(&site, stops, left, "unsubscribed").await;
    assert_eq!(site.stops("gone").await, 2.0);
    assert_eq!(site.stops("silence").await, 1.0);
    // A renewal while the move is held never sends anything new to the
    // camera but the ONVIF Timeout refresh: the camera got one move per hold
    // (and at most a refresh each, every 500 ms).
    let moves = site.count("ContinuousMove");
    assert!((3..=8).contains(&moves), "{:?}", site.moves());
}

#[tokio::test]
async fn a_slow_camera_never_delays_a_stop() {
    let site = Site::start().await;
    // The camera takes 2 s to answer a move (it moves at once).
    site.sim
        .set_ptz(|c| c.slow = Some(("ContinuousMove", Duration::from_secs(2))));
    let (mut olga, _) = site.watching("olga").await;
    olga.ptz(1, CAMERA, pan(0.5)).await.unwrap();
    olga.wait_ptz_state(CAMERA, WITHIN, |s| s.moving)
        .await
        .unwrap();
    // She lets go while the camera still chews on the move (the simulator
    // records a request once it has answered it).
    olga.ptz(2, CAMERA, PtzAction::Stop {}).await.unwrap();
    let let_go = Instant::now();
    stopped(&site, 0, let_go, "stop beside a slow move").await;
    assert_eq!(
        site.count("ContinuousMove"),
        0,
        "the move is not answered yet"
    );
    // When the move's answer lands, the camera might have taken the two in
    // either order: it is stopped once more.
    site.nth("Stop", 2).await;
    assert!(!site.sim.ptz_moving());
}

#[tokio::test]
async fn a_frozen_operator_process_is_stopped_within_a_second() {
    let site = Site::start().await;
    let cookie = site.cookie("olga").await;
    let mut operator = tokio::process::Command::new(env!("CARGO_BIN_EXE_ptz-operator"))
        .arg(site.relay.local_addr().to_string())
        .arg(CAMERA)
        .env("SIGHTLINE_COOKIE", &cookie)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the operator process");
    let mut lines = tokio::io::BufReader::new(operator.stdout.take().unwrap()).lines();
    let said = tokio::time::timeout(WITHIN, lines.next_line())
        .await
        .expect("the operator starts")
        .unwrap();
    assert_eq!(said.as_deref(), Some("MOVING"));
    site.nth("ContinuousMove", 1).await;
    // Let it renew a few times, then freeze it: its socket stays open.
    let renewals = site.sim.requests().len();
    site.sim
        .wait_for(WITHIN, "a Timeout refresh while held", |r| {
            r.len() > renewals && r.iter().filter(|r| r.is("ContinuousMove")).count() >= 2
        })
        .await
        .unwrap();
    let pid = operator.id().expect("running").to_string();
    let frozen = std::process::Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .expect("kill -STOP");
    assert!(frozen.success());
    let at = Instant::now();
    stopped(&site, 0, at, "operator frozen").await;
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status();
    let _ = operator.wait().await;
}

#[tokio::test]
async fn presets_are_saved_recalled_and_removed_and_the_cameras_refusal_is_passed_on() {
    let site = Site::start().await;
    let (mut olga, _) = site.watching("olga").await;
    olga.ptz(1, CAMERA, pan(0.5)).await.unwrap();
    olga.ptz(2, CAMERA, PtzAction::Stop {}).await.unwrap();
    site.nth("Stop", 1).await;
    let (pan_at, _, _) = site.sim.ptz_position().unwrap();
    olga.ptz(
        3,
        CAMERA,
        PtzAction::SetPreset {
            name: "Loading bay".into(),
            preset: None,
        },
    )
    .await
    .unwrap();
    let saved = olga
        .wait_ptz_state(CAMERA, WITHIN, |s| {
            s.presets.iter().any(|p| p.name == "Loading bay")
        })
        .await
        .unwrap();
    let token = saved
        .presets
        .iter()
        .find(|p| p.name == "Loading bay")
        .unwrap()
        .preset
        .clone();
    olga.ptz(4, CAMERA, PtzAction::Home {}).await.unwrap();
    site.nth("GotoHomePosition", 1).await;
    olga.ptz(
        5,
        CAMERA,
        PtzAction::GotoPreset {
            preset: token.clone(),
        },
    )
    .await
    .unwrap();
    site.nth("GotoPreset", 1).await;
    let (back, _, _) = site.sim.ptz_position().unwrap();
    assert!((back - pan_at).abs() < 1e-3, "{back} vs {pan_at}");
    olga.ptz(
        6,
        CAMERA,
        PtzAction::RemovePreset {
            preset: token.clone(),
        },
    )
    .await
    .unwrap();
    olga.wait_ptz_state(CAMERA, WITHIN, |s| {
        s.presets.iter().all(|p| p.preset != token)
    })
    .await
    .unwrap();
    // The camera's own refusal, in its words, to the one who asked.
    olga.ptz(7, CAMERA, PtzAction::GotoPreset { preset: token })
        .await
        .unwrap();
    let (code, message, request) = error(&mut olga).await;
    assert_eq!((code, request), (ErrorCode::CameraRefused, Some(7)));
    assert!(message.contains("no preset"), "{message}");
}

#[tokio::test]
async fn the_demo_cameras_virtual_head_follows_the_operator() {
    // Without accounts everyone may steer (as an admin): the first run's demo.
    let small = DemoOptions {
        width: 160,
        height: 96,
        fps: 10,
        keyframe_every: 10,
        bitrate_bps: 100_000,
        ..DemoOptions::default()
    };
    let mut camera = CameraConfig::new("demo", "Demo", Source::Demo(small));
    camera.ptz.enabled = Some(true);
    let mut config = bare_config(Vec::new());
    config.cameras = vec![camera];
    let relay = Relay::start(config).await.expect("relay");
    let mut client = RelayClient::connect(relay.local_addr(), None)
        .await
        .unwrap();
    client.subscribe("demo").await.unwrap();
    let state = client
        .wait_ptz_state("demo", WITHIN, |s| s.features.is_some())
        .await
        .unwrap();
    let features = state.features.clone().unwrap();
    assert!(features.control && features.fov && features.absolute);
    assert!(state.presets.iter().any(|p| p.name == "Gate"), "{state:?}");
    // Hold a pan right for a while: the head's position follows.
    client.ptz(1, "demo", pan(1.0)).await.unwrap();
    for id in 2..5 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        client.ptz(id, "demo", pan(1.0)).await.unwrap();
    }
    client.ptz(5, "demo", PtzAction::Stop {}).await.unwrap();
    let moved = client
        .wait_ptz_state("demo", WITHIN, |s| {
            !s.moving
                && s.position
                    .is_some_and(|p| p.pan.is_some_and(|pan| pan > 0.2))
        })
        .await
        .unwrap();
    println!("after holding right: {:?}", moved.position);
    let gate = state.presets.iter().find(|p| p.name == "Gate").unwrap();
    client
        .ptz(
            6,
            "demo",
            PtzAction::GotoPreset {
                preset: gate.preset.clone(),
            },
        )
        .await
        .unwrap();
    client
        .wait_ptz_state("demo", WITHIN, |s| {
            s.position.is_some_and(|p| {
                let near = |v: Option<f64>, to: f64| v.is_some_and(|v| (v - to).abs() < 1e-3);
                near(p.pan, -0.8) && near(p.tilt, 0.5)
            })
        })
        .await
        .unwrap();
}
