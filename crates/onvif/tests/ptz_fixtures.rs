//! The PTZ parsers and builders against replies written in the style of real
//! cameras (Hikvision's presets with numeric tokens and no positions, Dahua's
//! default namespaces with the field-of-view space next to the generic one
//! and a ±8 velocity range, old firmware's one-word MoveStatus) and a Stop
//! that is not implemented.

use std::time::Duration;

use sightline_onvif::ptz::{
    self, detect_quirk, Detected, MoveStatus, PtzOptions, Range, Refused, StopStyle, Vector,
    FOV_SPACE,
};
use sightline_onvif::Error;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn dahua() -> PtzOptions {
    ptz::parse_configuration_options(&fixture("dahua_configuration_options.xml")).unwrap()
}

#[test]
fn hikvision_profiles_name_their_ptz_configuration() {
    let profiles = ptz::parse_get_profiles(&fixture("hikvision_get_profiles.xml")).unwrap();
    assert_eq!(profiles.len(), 3);
    let main = &profiles[0];
    assert_eq!(
        (main.token.as_str(), main.name.as_str()),
        ("Profile_1", "mainStream")
    );
    let config = main.ptz.as_ref().expect("PTZ on the main profile");
    assert_eq!(config.token, "PTZToken");
    assert_eq!(config.node_token.as_deref(), Some("PTZNODETOKEN"));
    assert_eq!(config.default_timeout, Some(Duration::from_secs(60)));
    assert!(profiles[2].ptz.is_none());
}

#[test]
fn dahua_options_with_the_fov_space_and_a_wide_velocity_range() {
    let options = dahua();
    assert!(options.continuous() && options.relative() && options.absolute() && options.zoom());
    let fov = options.fov().expect("the FOV space");
    assert_eq!(fov.uri, FOV_SPACE);
    // INF bounds read as the generic ±1.
    assert_eq!(fov.x, Range::GENERIC);
    assert_eq!(options.continuous_pan_tilt[0].x.max, 8.0);
    assert_eq!(
        options.timeout,
        Some((Duration::from_secs(1), Duration::from_secs(10)))
    );
    assert_eq!(
        options.move_timeout(Duration::from_millis(500)),
        Duration::from_secs(1)
    );
    // Half speed right is 4 in its ±8 space; the Timeout is clamped to its minimum.
    let request = ptz::continuous_move(
        None,
        "Profile_1",
        &options,
        Vector {
            pan: 0.5,
            tilt: -0.25,
            zoom: 0.0,
        },
        Some(options.move_timeout(Duration::from_millis(500))),
    );
    assert_eq!(request.action, ptz::action::CONTINUOUS_MOVE);
    assert!(
        request
            .body
            .contains(r#"<tt:PanTilt x="4" y="-2"/><tt:Zoom x="0"/>"#),
        "{}",
        request.body
    );
    assert!(request.body.contains("<tptz:Timeout>PT1S</tptz:Timeout>"));
    // Click to centre: a click at the right edge's middle is x = 1 in the FOV space.
    let click = ptz::relative_move(
        None,
        "Profile_1",
        &options,
        Vector {
            pan: 1.0,
            tilt: 0.0,
            zoom: 0.0,
        },
        true,
    );
    assert!(
        click
            .body
            .contains(&format!(r#"<tt:PanTilt x="1" y="0" space="{FOV_SPACE}"/>"#)),
        "{}",
        click.body
    );
    assert!(!click.body.contains("<tt:Zoom"), "no zoom asked, none sent");
}

#[test]
fn stop_in_each_style() {
    let options = dahua();
    let both = ptz::stop(None, "P", &options, StopStyle::BothAxes);
    assert_eq!(both.action, ptz::action::STOP);
    assert!(both
        .body
        .contains("<tptz:Stop><tptz:ProfileToken>P</tptz:ProfileToken><tptz:PanTilt>true</tptz:PanTilt><tptz:Zoom>true</tptz:Zoom></tptz:Stop>"));
    let plain = ptz::stop(None, "P", &options, StopStyle::Plain);
    assert!(plain
        .body
        .contains("<tptz:Stop><tptz:ProfileToken>P</tptz:ProfileToken></tptz:Stop>"));
    let zero = ptz::stop(None, "P", &options, StopStyle::ZeroVelocity);
    assert_eq!(zero.action, ptz::action::CONTINUOUS_MOVE);
    assert!(zero
        .body
        .contains(r#"<tt:PanTilt x="0" y="0"/><tt:Zoom x="0"/>"#));
    assert!(!zero.body.contains("Timeout"));
}

#[test]
fn a_stop_that_is_not_implemented_is_a_known_quirk() {
    let Err(Error::Fault(fault)) =
        ptz::parse_ack(&fixture("fault_stop_not_implemented.xml"), "StopResponse")
    else {
        panic!("a fault");
    };
    assert_eq!(detect_quirk(&fault, Refused::Stop), Some(Detected::NoStop));
}

#[test]
fn hikvision_presets_with_numeric_tokens_and_odd_names() {
    let presets = ptz::parse_get_presets(&fixture("hikvision_get_presets.xml")).unwrap();
    let listed: Vec<(&str, &str)> = presets
        .iter()
        .map(|p| (p.token.as_str(), p.name.as_str()))
        .collect();
    // Unnamed presets are named by token; one without a token is skipped.
    assert_eq!(
        listed,
        [("1", "Preset 1"), ("4", "service & gate"), ("5", "5")]
    );
    // Names and tokens are escaped on the way back.
    let set = ptz::set_preset(None, "P", "a <b> & \"c\"", Some("4"));
    assert!(set.body.contains(
        "<tptz:PresetName>a &lt;b&gt; &amp; &quot;c&quot;</tptz:PresetName><tptz:PresetToken>4</tptz:PresetToken>"
    ), "{}", set.body);
}

#[test]
fn old_firmware_status_with_one_move_status() {
    let status = ptz::parse_get_status(&fixture("old_firmware_get_status.xml"), &dahua()).unwrap();
    assert_eq!(status.position.pan, Some(-0.5));
    assert_eq!(status.position.tilt, Some(0.25));
    assert_eq!(status.position.zoom, Some(0.75));
    assert_eq!(status.pan_tilt, Some(MoveStatus::Moving));
    assert_eq!(status.zoom, Some(MoveStatus::Moving));
    assert!(status.moving());
}

#[test]
fn every_request_is_well_formed_soap() {
    let options = dahua();
    let v = Vector {
        pan: -1.0,
        tilt: 1.0,
        zoom: 0.5,
    };
    let token = sightline_onvif::UsernameToken::new(
        "op&r",
        "pw",
        &[1; 16],
        sightline_onvif::Timestamp::parse("2026-01-01T00:00:00Z").unwrap(),
    );
    let t = Some(&token);
    for request in [
        ptz::get_profiles(t),
        ptz::get_configuration_options(t, "PTZ<1>"),
        ptz::continuous_move(t, "P&1", &options, v, None),
        ptz::stop(t, "P", &options, StopStyle::BothAxes),
        ptz::relative_move(t, "P", &options, v, false),
        ptz::absolute_move(t, "P", &options, Some((v.pan, v.tilt)), Some(v.zoom)),
        ptz::goto_preset(t, "P", "1"),
        ptz::get_presets(t, "P"),
        ptz::set_preset(t, "P", "x", None),
        ptz::remove_preset(t, "P", "1"),
        ptz::goto_home_position(t, "P"),
        ptz::get_status(t, "P"),
    ] {
        let mut reader = quick_xml::Reader::from_str(&request.body);
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("{}: {e}\n{}", request.action, request.body),
            }
        }
        assert!(
            request.body.contains("<wsse:Security"),
            "{}",
            request.action
        );
    }
}
