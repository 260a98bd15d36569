//! The PTZ client against the validating simulator's PTZ head
//! (`sightline_testkit::onvif`, compiled in by path as in `events.rs`): moves
//! scaled into the camera's spaces, the `Timeout`, presets, status, click to
//! centre, and each quirk policy against the simulator behaving that way.

#[path = "../../testkit/src/onvif/mod.rs"]
#[allow(dead_code)]
mod sim_source;

use std::sync::Arc;
use std::time::Duration;

use sightline_onvif::ptz::{Detected, Quirks, StopStyle, Vector, FOV_SPACE};
use sightline_onvif::{Camera, ClientError, PtzCamera, PtzSetup};
use sim_source::{OnvifSim, OnvifSimConfig, PtzSimConfig};

async fn sim(ptz: PtzSimConfig) -> OnvifSim {
    OnvifSim::start(OnvifSimConfig {
        ptz: Some(ptz),
        ..OnvifSimConfig::default()
    })
    .await
    .expect("the simulator starts")
}

async fn connect(sim: &OnvifSim, quirks: Option<Quirks>) -> PtzCamera {
    let camera = Arc::new(Camera::new(&sim.device_url(), "onvif", "secret").unwrap());
    PtzCamera::connect(
        camera,
        &PtzSetup {
            profile: None,
            quirks,
        },
    )
    .await
    .expect("connects")
}

fn right(pan: f32) -> Vector {
    Vector {
        pan,
        tilt: 0.0,
        zoom: 0.0,
    }
}

#[tokio::test]
async fn moves_are_scaled_timed_and_stopped() {
    let sim = sim(PtzSimConfig {
        velocity_range: 8.0,
        ..PtzSimConfig::default()
    })
    .await;
    let ptz = connect(&sim, None).await;
    assert_eq!(ptz.profile().token, sim_source::PTZ_PROFILE);
    assert!(ptz.options().fov().is_some());
    assert_eq!(
        ptz.continuous_move(right(0.5), Duration::from_secs(1))
            .await
            .unwrap(),
        None
    );
    assert!(sim.ptz_moving());
    let sent = sim.ptz_commands();
    let last = sent.last().unwrap();
    assert_eq!(last.operation, "ContinuousMove");
    // Half speed in a ±8 space is 4; the Timeout goes with it.
    assert_eq!(last.vector, Some((4.0, 0.0, 0.0)));
    assert_eq!(last.timeout, Some(Duration::from_secs(1)));
    assert_eq!(ptz.stop().await.unwrap(), None);
    assert!(!sim.ptz_moving());
    let stopped_at = sim.ptz_position().unwrap();
    assert!(stopped_at.0 > 0.0, "it moved right first: {stopped_at:?}");
    let status = ptz.status().await.unwrap();
    assert!(!status.moving());
    assert!((status.position.pan.unwrap() - stopped_at.0).abs() < 0.01);
    // Nothing moves after the stop.
    assert_eq!(sim.ptz_position().unwrap(), stopped_at);
}

#[tokio::test]
async fn presets_home_and_absolute() {
    let sim = sim(PtzSimConfig::default()).await;
    let ptz = connect(&sim, None).await;
    let presets = ptz.presets().await.unwrap();
    assert_eq!(presets.len(), 1);
    assert_eq!(
        (presets[0].token.as_str(), presets[0].name.as_str()),
        ("1", "Gate")
    );
    ptz.absolute_move(Some((-0.5, 0.5)), Some(0.25))
        .await
        .unwrap();
    assert_eq!(sim.ptz_position(), Some((-0.5, 0.5, 0.25)));
    // An axis left out is left alone.
    ptz.absolute_move(None, Some(0.75)).await.unwrap();
    assert_eq!(sim.ptz_position(), Some((-0.5, 0.5, 0.75)));
    ptz.absolute_move(Some((0.25, -0.25)), None).await.unwrap();
    assert_eq!(sim.ptz_position(), Some((0.25, -0.25, 0.75)));
    let token = ptz.set_preset("Door & <hall>", None).await.unwrap();
    ptz.goto_preset("1").await.unwrap();
    assert_eq!(sim.ptz_position(), Some((0.5, 0.25, 0.0)));
    ptz.goto_preset(&token).await.unwrap();
    assert_eq!(sim.ptz_position(), Some((0.25, -0.25, 0.75)));
    let names: Vec<String> = ptz
        .presets()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["Gate", "Door & <hall>"]);
    ptz.remove_preset(&token).await.unwrap();
    // The camera's own words come back for an unknown preset.
    let error = ptz.goto_preset(&token).await.unwrap_err();
    assert!(error.is_fault(), "{error}");
    assert!(error.to_string().contains("no preset"), "{error}");
    ptz.goto_home().await.unwrap();
    assert_eq!(sim.ptz_position(), Some((0.0, 0.0, 0.0)));
}

#[tokio::test]
async fn click_to_centre_uses_the_field_of_view_space() {
    let sim = sim(PtzSimConfig::default()).await;
    let ptz = connect(&sim, None).await;
    // A click at the right edge, halfway down: x = 1 in the FOV space.
    ptz.relative_move(right(1.0), true).await.unwrap();
    let last = sim.ptz_commands().pop().unwrap();
    assert_eq!(last.space.as_deref(), Some(FOV_SPACE));
    assert!(last.accepted);
    // Half the field of view at zoom 0 (the simulator's 0.2 of the range).
    let (pan, tilt, _) = sim.ptz_position().unwrap();
    assert!((pan - 0.2).abs() < 1e-4 && tilt == 0.0, "{pan} {tilt}");
    // A camera without the FOV space: refused here, nothing sent.
    let no_fov = self::sim(PtzSimConfig {
        fov: false,
        ..PtzSimConfig::default()
    })
    .await;
    let ptz = connect(&no_fov, None).await;
    let error = ptz.relative_move(right(1.0), true).await.unwrap_err();
    assert!(matches!(error, ClientError::NoFieldOfView), "{error}");
    assert!(no_fov
        .ptz_commands()
        .iter()
        .all(|c| c.operation != "RelativeMove"));
}

#[tokio::test]
async fn a_camera_without_stop_is_stopped_with_a_zero_velocity() {
    let sim = sim(PtzSimConfig {
        no_stop: true,
        ..PtzSimConfig::default()
    })
    .await;
    let ptz = connect(&sim, None).await;
    ptz.continuous_move(right(1.0), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(ptz.stop().await.unwrap(), Some(Detected::NoStop));
    assert!(!sim.ptz_moving());
    assert_eq!(ptz.quirks().stop, StopStyle::ZeroVelocity);
    // From then on, straight to the zero velocity.
    ptz.continuous_move(right(1.0), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(ptz.stop().await.unwrap(), None);
    let ops: Vec<(String, bool)> = sim
        .ptz_commands()
        .into_iter()
        .map(|c| (c.operation, c.accepted))
        .collect();
    let ops: Vec<(&str, bool)> = ops.iter().map(|(o, a)| (o.as_str(), *a)).collect();
    assert_eq!(
        ops,
        [
            ("GetConfigurationOptions", true),
            ("ContinuousMove", true),
            ("Stop", false),
            ("ContinuousMove", true),
            ("ContinuousMove", true),
            ("ContinuousMove", true),
        ]
    );
    assert_eq!(
        sim.ptz_commands().last().unwrap().vector,
        Some((0.0, 0.0, 0.0))
    );
    assert!(!sim.ptz_moving());
}

#[tokio::test]
async fn a_camera_that_refuses_timeouts_gets_moves_without() {
    let sim = sim(PtzSimConfig {
        rejects_timeout: true,
        ..PtzSimConfig::default()
    })
    .await;
    let ptz = connect(&sim, None).await;
    assert_eq!(
        ptz.continuous_move(right(0.5), Duration::from_secs(1))
            .await
            .unwrap(),
        Some(Detected::NoTimeout)
    );
    assert!(sim.ptz_moving());
    assert!(!ptz.quirks().move_timeout);
    ptz.continuous_move(right(0.25), Duration::from_secs(1))
        .await
        .unwrap();
    let moves: Vec<(Option<Duration>, bool)> = sim
        .ptz_commands()
        .into_iter()
        .filter(|c| c.operation == "ContinuousMove")
        .map(|c| (c.timeout, c.accepted))
        .collect();
    assert_eq!(
        moves,
        [
            (Some(Duration::from_secs(1)), false),
            (None, true),
            (None, true)
        ]
    );
    ptz.stop().await.unwrap();
    assert!(!sim.ptz_moving());
}

#[tokio::test]
async fn stop_needs_both_axes_and_pinned_policies_are_kept() {
    let sim = sim(PtzSimConfig {
        stop_needs_both: true,
        ..PtzSimConfig::default()
    })
    .await;
    // The default says both axes: accepted.
    let ptz = connect(&sim, None).await;
    ptz.continuous_move(right(1.0), Duration::from_secs(1))
        .await
        .unwrap();
    ptz.stop().await.unwrap();
    assert!(!sim.ptz_moving());
    // Pinned to the plain Stop, it is refused and not second-guessed.
    let plain = connect(
        &sim,
        Some(Quirks {
            stop: StopStyle::Plain,
            move_timeout: true,
        }),
    )
    .await;
    plain
        .continuous_move(right(1.0), Duration::from_secs(1))
        .await
        .unwrap();
    let error = plain.stop().await.unwrap_err();
    assert!(error.to_string().contains("PanTilt and Zoom"), "{error}");
    assert!(sim.ptz_moving());
    assert_eq!(plain.quirks().stop, StopStyle::Plain);
    // Pinned to the zero velocity: no Stop is ever sent.
    let zero = connect(
        &sim,
        Some(Quirks {
            stop: StopStyle::ZeroVelocity,
            move_timeout: false,
        }),
    )
    .await;
    let before = sim.ptz_commands().len();
    zero.stop().await.unwrap();
    assert!(!sim.ptz_moving());
    let after = sim.ptz_commands();
    assert_eq!(after.len(), before + 1, "only the zero-velocity move");
    assert_eq!(after.last().unwrap().operation, "ContinuousMove");
    assert_eq!(after.last().unwrap().timeout, None);
}

#[tokio::test]
async fn no_ptz_and_wrong_passwords_are_said_clearly() {
    let fixed = OnvifSim::start(OnvifSimConfig::default()).await.unwrap();
    let camera = Arc::new(Camera::new(&fixed.device_url(), "onvif", "secret").unwrap());
    let error = PtzCamera::connect(camera, &PtzSetup::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClientError::NoService { service: "media" }),
        "{error}"
    );
    let sim = sim(PtzSimConfig::default()).await;
    let camera = Arc::new(Camera::new(&sim.device_url(), "onvif", "wrong").unwrap());
    let error = PtzCamera::connect(camera, &PtzSetup::default())
        .await
        .unwrap_err();
    assert!(error.is_not_authorized(), "{error}");
    let camera = Arc::new(Camera::new(&sim.device_url(), "onvif", "secret").unwrap());
    let error = PtzCamera::connect(
        camera,
        &PtzSetup {
            profile: Some("sub".into()),
            quirks: None,
        },
    )
    .await
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("no media profile \"sub\" with a PTZ configuration"),
        "{error}"
    );
}
