//! ONVIF PTZ, pure: the requests of the PTZ service (ver20) and the media
//! service's GetProfiles (ver10, where the PTZ configuration is tied to a
//! profile), the parsers of their replies, and the camera quirks as named
//! policies ([`Quirks`]).
//!
//! Speeds and vectors come in Sightline's terms (−1..1 each axis; 0..1 zoom
//! position) and are scaled into the spaces the camera declares in
//! GetConfigurationOptions ([`PtzOptions`]), so a camera whose velocity
//! space is −100..100 or whose zoom is 1..30 gets what the operator meant.
//!
//! Quirks seen on real cameras (each a policy, detected where the camera's
//! fault says so, and overridable in config):
//! - **Stop not implemented** (some Reolink/Amcrest/older firmware answer
//!   `ter:ActionNotSupported` or "not implemented"): stop with a
//!   zero-velocity ContinuousMove ([`StopStyle::ZeroVelocity`]).
//! - **`Timeout` rejected** on ContinuousMove (`ter:InvalidArgVal` or
//!   `ter:TimeoutNotSupported`, some Dahua/Hikvision OEM firmware): omit it
//!   ([`Quirks::move_timeout`] false); the relay's own dead-man stop
//!   remains.
//! - **Stop needs both axes** (firmware that faults, or stops nothing, when
//!   `PanTilt`/`Zoom` are absent): [`StopStyle::BothAxes`], the default,
//!   always says `true` for both, which every camera accepts;
//!   [`StopStyle::Plain`] omits them for firmware that chokes on them.

use std::time::Duration;

use crate::requests::{envelope, security, Request};
use crate::responses::body;
use crate::time::parse_xsd_duration;
use crate::xml::{escape, Element};
use crate::{ns, xsd_duration, Error, Fault, Timestamp, UsernameToken};

pub mod action {
    pub const GET_PROFILES: &str = "http://www.onvif.org/ver10/media/wsdl/GetProfiles";
    pub const GET_CONFIGURATION_OPTIONS: &str =
        "http://www.onvif.org/ver20/ptz/wsdl/GetConfigurationOptions";
    pub const CONTINUOUS_MOVE: &str = "http://www.onvif.org/ver20/ptz/wsdl/ContinuousMove";
    pub const STOP: &str = "http://www.onvif.org/ver20/ptz/wsdl/Stop";
    pub const RELATIVE_MOVE: &str = "http://www.onvif.org/ver20/ptz/wsdl/RelativeMove";
    pub const ABSOLUTE_MOVE: &str = "http://www.onvif.org/ver20/ptz/wsdl/AbsoluteMove";
    pub const GOTO_PRESET: &str = "http://www.onvif.org/ver20/ptz/wsdl/GotoPreset";
    pub const GET_PRESETS: &str = "http://www.onvif.org/ver20/ptz/wsdl/GetPresets";
    pub const SET_PRESET: &str = "http://www.onvif.org/ver20/ptz/wsdl/SetPreset";
    pub const REMOVE_PRESET: &str = "http://www.onvif.org/ver20/ptz/wsdl/RemovePreset";
    pub const GOTO_HOME_POSITION: &str = "http://www.onvif.org/ver20/ptz/wsdl/GotoHomePosition";
    pub const GET_STATUS: &str = "http://www.onvif.org/ver20/ptz/wsdl/GetStatus";
}

/// ONVIF's field-of-view translation space: a relative pan/tilt where ±1 is
/// the picture's edge (click to centre).
pub const FOV_SPACE: &str = "http://www.onvif.org/ver10/tptz/PanTiltSpaces/TranslationSpaceFov";

/// A closed range a camera declares for one axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub min: f32,
    pub max: f32,
}

impl Range {
    pub const GENERIC: Range = Range {
        min: -1.0,
        max: 1.0,
    };
    pub const UNIT: Range = Range { min: 0.0, max: 1.0 };

    /// A signed amount (−1..1) scaled into this range: positive toward `max`,
    /// negative toward `min` (0 stays 0 in any range that includes 0), or
    /// mapped linearly onto the range when it does not include 0.
    pub fn scale_signed(self, v: f32) -> f32 {
        let v = if v.is_nan() { 0.0 } else { v.clamp(-1.0, 1.0) };
        if self.min <= 0.0 && self.max >= 0.0 {
            if v >= 0.0 {
                v * self.max
            } else {
                -v * self.min
            }
        } else {
            self.min + (v + 1.0) / 2.0 * (self.max - self.min)
        }
    }

    /// A fraction (0..1) mapped linearly onto this range.
    pub fn scale_unit(self, v: f32) -> f32 {
        let v = if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) };
        self.min + v * (self.max - self.min)
    }

    /// A value in this range back to −1..1 (the inverse of [`Range::scale_signed`]).
    pub fn to_signed(self, x: f32) -> f32 {
        if self.min <= 0.0 && self.max >= 0.0 {
            if x > 0.0 && self.max > 0.0 {
                x / self.max
            } else if x < 0.0 && self.min < 0.0 {
                -x / self.min
            } else {
                0.0
            }
        } else if self.max > self.min {
            (x - self.min) / (self.max - self.min) * 2.0 - 1.0
        } else {
            0.0
        }
        .clamp(-1.0, 1.0)
    }

    /// A value in this range back to 0..1.
    pub fn to_unit(self, x: f32) -> f32 {
        if self.max > self.min {
            ((x - self.min) / (self.max - self.min)).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

/// A declared space: its URI and ranges (`y` absent for one-axis spaces).
#[derive(Debug, Clone, PartialEq)]
pub struct Space {
    pub uri: String,
    pub x: Range,
    pub y: Option<Range>,
}

/// A media profile and its PTZ configuration, if it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub token: String,
    pub name: String,
    pub ptz: Option<PtzConfiguration>,
}

/// A profile's PTZ configuration (the parts Sightline uses).
#[derive(Debug, Clone, PartialEq)]
pub struct PtzConfiguration {
    pub token: String,
    pub node_token: Option<String>,
    pub default_timeout: Option<Duration>,
}

/// What GetConfigurationOptions says the camera can do.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PtzOptions {
    pub absolute_pan_tilt: Vec<Space>,
    pub absolute_zoom: Vec<Space>,
    pub relative_pan_tilt: Vec<Space>,
    pub relative_zoom: Vec<Space>,
    pub continuous_pan_tilt: Vec<Space>,
    pub continuous_zoom: Vec<Space>,
    pub pan_tilt_speed: Vec<Space>,
    pub zoom_speed: Vec<Space>,
    /// The `Timeout` range a ContinuousMove may carry, when declared.
    pub timeout: Option<(Duration, Duration)>,
}

impl PtzOptions {
    /// Continuous pan/tilt is offered.
    pub fn continuous(&self) -> bool {
        !self.continuous_pan_tilt.is_empty() || !self.continuous_zoom.is_empty()
    }

    pub fn relative(&self) -> bool {
        !self.relative_pan_tilt.is_empty()
    }

    /// The field-of-view translation space (click to centre), when offered.
    pub fn fov(&self) -> Option<&Space> {
        self.relative_pan_tilt.iter().find(|s| s.uri == FOV_SPACE)
    }

    pub fn absolute(&self) -> bool {
        !self.absolute_pan_tilt.is_empty() || !self.absolute_zoom.is_empty()
    }

    pub fn zoom(&self) -> bool {
        !self.continuous_zoom.is_empty() || !self.absolute_zoom.is_empty()
    }

    /// The camera declared its spaces (else moves use the generic ones).
    pub fn spaces_known(&self) -> bool {
        !(self.absolute_pan_tilt.is_empty()
            && self.absolute_zoom.is_empty()
            && self.relative_pan_tilt.is_empty()
            && self.relative_zoom.is_empty()
            && self.continuous_pan_tilt.is_empty()
            && self.continuous_zoom.is_empty())
    }

    /// The generic (first declared non-FOV) relative pan/tilt space.
    fn relative_generic(&self) -> Option<&Space> {
        self.relative_pan_tilt.iter().find(|s| s.uri != FOV_SPACE)
    }

    /// The `Timeout` to send with a continuous move wanting `wanted`: within
    /// the declared range.
    pub fn move_timeout(&self, wanted: Duration) -> Duration {
        match self.timeout {
            Some((min, max)) if min <= max => wanted.clamp(min, max),
            _ => wanted,
        }
    }
}

/// Pan/tilt (−1..1 each) and zoom, as Sightline speaks of them.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Vector {
    pub pan: f32,
    pub tilt: f32,
    pub zoom: f32,
}

/// Where the camera points, in Sightline's terms: pan and tilt −1..1 across
/// the absolute space, zoom 0..1.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Position {
    pub pan: Option<f32>,
    pub tilt: Option<f32>,
    pub zoom: Option<f32>,
}

/// A preset as the camera lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    pub token: String,
    pub name: String,
}

/// `MoveStatus` of one axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveStatus {
    Idle,
    Moving,
    Unknown,
}

/// GetStatus's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub position: Position,
    pub pan_tilt: Option<MoveStatus>,
    pub zoom: Option<MoveStatus>,
    pub error: Option<String>,
    pub utc_time: Option<Timestamp>,
}

impl Status {
    pub fn moving(&self) -> bool {
        self.pan_tilt == Some(MoveStatus::Moving) || self.zoom == Some(MoveStatus::Moving)
    }
}

/// How Stop is said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StopStyle {
    /// `Stop` with `PanTilt` and `Zoom` both `true` (works everywhere we know).
    #[default]
    BothAxes,
    /// `Stop` with neither (the spec's "stop everything").
    Plain,
    /// No Stop at all: a ContinuousMove of zero velocity.
    ZeroVelocity,
}

impl StopStyle {
    pub fn name(self) -> &'static str {
        match self {
            StopStyle::BothAxes => "both_axes",
            StopStyle::Plain => "plain",
            StopStyle::ZeroVelocity => "zero_velocity",
        }
    }

    pub fn from_name(name: &str) -> Option<StopStyle> {
        [
            StopStyle::BothAxes,
            StopStyle::Plain,
            StopStyle::ZeroVelocity,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }
}

/// A camera's quirks, as policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quirks {
    pub stop: StopStyle,
    /// ContinuousMove carries a `Timeout` (cameras that reject it: false).
    pub move_timeout: bool,
}

impl Default for Quirks {
    fn default() -> Quirks {
        Quirks {
            stop: StopStyle::BothAxes,
            move_timeout: true,
        }
    }
}

/// What a refused command says about the camera: the quirk to switch to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    /// Stop is not implemented: stop with a zero velocity.
    NoStop,
    /// The `Timeout` of ContinuousMove was refused: omit it.
    NoTimeout,
}

/// Reads a fault to a command as a known quirk, if it is one (`refused`:
/// which command). Narrow on purpose: a quirk learnt wrongly degrades the
/// camera (a move without its `Timeout` loses the camera's own safety net),
/// so a credentials fault is never one, "Stop not implemented" needs the
/// ActionNotSupported subcode or those words, and a refused `Timeout` needs
/// TimeoutNotSupported, or an invalid argument that names the timeout.
pub fn detect_quirk(fault: &Fault, refused: Refused) -> Option<Detected> {
    if fault.is_not_authorized() || fault.has_subcode("wsse:MessageExpired") {
        return None;
    }
    let reason = fault.reason.to_ascii_lowercase();
    match refused {
        Refused::Stop
            if fault.has_subcode("ter:ActionNotSupported")
                || reason.contains("not implemented")
                || reason.contains("action not supported") =>
        {
            Some(Detected::NoStop)
        }
        Refused::MoveWithTimeout
            if fault.has_subcode("ter:TimeoutNotSupported")
                || (fault.has_subcode("ter:InvalidArgVal") && reason.contains("timeout")) =>
        {
            Some(Detected::NoTimeout)
        }
        _ => None,
    }
}

/// Which command a camera refused, for [`detect_quirk`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Stop,
    MoveWithTimeout,
}

fn request(action: &'static str, token: Option<&UsernameToken>, body: &str) -> Request {
    let headers: Vec<String> = security(token).into_iter().collect();
    envelope(action, &headers, body)
}

fn profile(token: &str) -> String {
    format!("<tptz:ProfileToken>{}</tptz:ProfileToken>", escape(token))
}

fn pan_tilt(element: &str, x: f32, y: f32, space: Option<&str>) -> String {
    let space = space.map_or(String::new(), |s| format!(r#" space="{}""#, escape(s)));
    format!(r#"<tt:{element} x="{}" y="{}"{space}/>"#, num(x), num(y))
}

fn zoom(x: f32, space: Option<&str>) -> String {
    let space = space.map_or(String::new(), |s| format!(r#" space="{}""#, escape(s)));
    format!(r#"<tt:Zoom x="{}"{space}/>"#, num(x))
}

/// A number as `xs:float` text: no exponent, no `-0`, at most 4 decimals.
fn num(v: f32) -> String {
    let v = if v.is_finite() { v } else { 0.0 };
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    match s {
        "-0" | "" => "0".to_owned(),
        s => s.to_owned(),
    }
}

/// GetProfiles (media service): the profiles and their PTZ configurations.
pub fn get_profiles(token: Option<&UsernameToken>) -> Request {
    request(action::GET_PROFILES, token, "<trt:GetProfiles/>")
}

/// GetConfigurationOptions for a PTZ configuration.
pub fn get_configuration_options(token: Option<&UsernameToken>, configuration: &str) -> Request {
    request(
        action::GET_CONFIGURATION_OPTIONS,
        token,
        &format!(
            "<tptz:GetConfigurationOptions><tptz:ConfigurationToken>{}</tptz:ConfigurationToken></tptz:GetConfigurationOptions>",
            escape(configuration)
        ),
    )
}

/// ContinuousMove at `velocity` (−1..1 each, scaled into the camera's
/// spaces), with `timeout` when given. Axes the camera lacks are left out.
pub fn continuous_move(
    token: Option<&UsernameToken>,
    profile_token: &str,
    options: &PtzOptions,
    velocity: Vector,
    timeout: Option<Duration>,
) -> Request {
    let mut parts = String::new();
    if let Some(space) = options.continuous_pan_tilt.first() {
        parts.push_str(&pan_tilt(
            "PanTilt",
            space.x.scale_signed(velocity.pan),
            space
                .y
                .unwrap_or(Range::GENERIC)
                .scale_signed(velocity.tilt),
            None,
        ));
    } else if !options.spaces_known() {
        // Options unknown: the generic space.
        parts.push_str(&pan_tilt("PanTilt", velocity.pan, velocity.tilt, None));
    }
    if let Some(space) = options.continuous_zoom.first() {
        parts.push_str(&zoom(space.x.scale_signed(velocity.zoom), None));
    } else if !options.spaces_known() {
        parts.push_str(&zoom(velocity.zoom, None));
    }
    let timeout = timeout.map_or(String::new(), |t| {
        format!("<tptz:Timeout>{}</tptz:Timeout>", xsd_duration_ms(t))
    });
    request(
        action::CONTINUOUS_MOVE,
        token,
        &format!(
            "<tptz:ContinuousMove>{}<tptz:Velocity>{parts}</tptz:Velocity>{timeout}</tptz:ContinuousMove>",
            profile(profile_token)
        ),
    )
}

/// An `xsd:duration` with milliseconds when it has any (`PT0.5S`).
fn xsd_duration_ms(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        xsd_duration(d)
    } else {
        format!("PT{}S", num(d.as_secs_f32()))
    }
}

/// Stop, as `style` says (for [`StopStyle::ZeroVelocity`], a ContinuousMove
/// of zero velocity without a Timeout).
pub fn stop(
    token: Option<&UsernameToken>,
    profile_token: &str,
    options: &PtzOptions,
    style: StopStyle,
) -> Request {
    let axes = match style {
        StopStyle::BothAxes => "<tptz:PanTilt>true</tptz:PanTilt><tptz:Zoom>true</tptz:Zoom>",
        StopStyle::Plain => "",
        StopStyle::ZeroVelocity => {
            return continuous_move(token, profile_token, options, Vector::default(), None)
        }
    };
    request(
        action::STOP,
        token,
        &format!("<tptz:Stop>{}{axes}</tptz:Stop>", profile(profile_token)),
    )
}

/// RelativeMove by `by`: with `fov`, pan/tilt in the field-of-view space
/// (±1: the picture's edge; where the camera offers it, else the generic
/// translation space), zoom in the relative zoom space.
pub fn relative_move(
    token: Option<&UsernameToken>,
    profile_token: &str,
    options: &PtzOptions,
    by: Vector,
    fov: bool,
) -> Request {
    let mut parts = String::new();
    // (`PtzCamera` refuses `fov` without the camera's FOV space.)
    let space = if fov {
        options.fov().or(options.relative_generic())
    } else {
        options.relative_generic()
    };
    match space {
        Some(space) => parts.push_str(&pan_tilt(
            "PanTilt",
            space.x.scale_signed(by.pan),
            space.y.unwrap_or(Range::GENERIC).scale_signed(by.tilt),
            Some(&space.uri),
        )),
        None => parts.push_str(&pan_tilt("PanTilt", by.pan, by.tilt, None)),
    }
    if by.zoom != 0.0 {
        let x = options
            .relative_zoom
            .first()
            .map_or(by.zoom, |s| s.x.scale_signed(by.zoom));
        parts.push_str(&zoom(x, None));
    }
    request(
        action::RELATIVE_MOVE,
        token,
        &format!(
            "<tptz:RelativeMove>{}<tptz:Translation>{parts}</tptz:Translation></tptz:RelativeMove>",
            profile(profile_token)
        ),
    )
}

/// AbsoluteMove to `to`: pan/tilt −1..1 across the absolute space, zoom 0..1.
pub fn absolute_move(
    token: Option<&UsernameToken>,
    profile_token: &str,
    options: &PtzOptions,
    pan_tilt_to: Option<(f32, f32)>,
    zoom_to: Option<f32>,
) -> Request {
    // An axis left out stays where it is (ONVIF lets PanTilt or Zoom be
    // absent): nothing is guessed from a position that may be stale.
    let mut parts = String::new();
    if let Some((pan, tilt)) = pan_tilt_to {
        let pt = options.absolute_pan_tilt.first();
        parts.push_str(&pan_tilt(
            "PanTilt",
            pt.map_or(Range::GENERIC, |s| s.x).scale_signed(pan),
            pt.and_then(|s| s.y)
                .unwrap_or(Range::GENERIC)
                .scale_signed(tilt),
            None,
        ));
    }
    if let Some(z) = zoom_to {
        if !options.absolute_zoom.is_empty() || !options.spaces_known() {
            let range = options.absolute_zoom.first().map_or(Range::UNIT, |s| s.x);
            parts.push_str(&zoom(range.scale_unit(z), None));
        }
    }
    request(
        action::ABSOLUTE_MOVE,
        token,
        &format!(
            "<tptz:AbsoluteMove>{}<tptz:Position>{parts}</tptz:Position></tptz:AbsoluteMove>",
            profile(profile_token)
        ),
    )
}

pub fn goto_preset(token: Option<&UsernameToken>, profile_token: &str, preset: &str) -> Request {
    request(
        action::GOTO_PRESET,
        token,
        &format!(
            "<tptz:GotoPreset>{}<tptz:PresetToken>{}</tptz:PresetToken></tptz:GotoPreset>",
            profile(profile_token),
            escape(preset)
        ),
    )
}

pub fn get_presets(token: Option<&UsernameToken>, profile_token: &str) -> Request {
    request(
        action::GET_PRESETS,
        token,
        &format!(
            "<tptz:GetPresets>{}</tptz:GetPresets>",
            profile(profile_token)
        ),
    )
}

/// SetPreset: saves the current position as `name`, over `preset` if given.
pub fn set_preset(
    token: Option<&UsernameToken>,
    profile_token: &str,
    name: &str,
    preset: Option<&str>,
) -> Request {
    let existing = preset.map_or(String::new(), |p| {
        format!("<tptz:PresetToken>{}</tptz:PresetToken>", escape(p))
    });
    request(
        action::SET_PRESET,
        token,
        &format!(
            "<tptz:SetPreset>{}<tptz:PresetName>{}</tptz:PresetName>{existing}</tptz:SetPreset>",
            profile(profile_token),
            escape(name)
        ),
    )
}

pub fn remove_preset(token: Option<&UsernameToken>, profile_token: &str, preset: &str) -> Request {
    request(
        action::REMOVE_PRESET,
        token,
        &format!(
            "<tptz:RemovePreset>{}<tptz:PresetToken>{}</tptz:PresetToken></tptz:RemovePreset>",
            profile(profile_token),
            escape(preset)
        ),
    )
}

pub fn goto_home_position(token: Option<&UsernameToken>, profile_token: &str) -> Request {
    request(
        action::GOTO_HOME_POSITION,
        token,
        &format!(
            "<tptz:GotoHomePosition>{}</tptz:GotoHomePosition>",
            profile(profile_token)
        ),
    )
}

pub fn get_status(token: Option<&UsernameToken>, profile_token: &str) -> Request {
    request(
        action::GET_STATUS,
        token,
        &format!(
            "<tptz:GetStatus>{}</tptz:GetStatus>",
            profile(profile_token)
        ),
    )
}

fn response(xml: &str, namespace: &str, local: &'static str) -> Result<Element, Error> {
    let response = body(xml, local)?;
    if !response.is(namespace, local) {
        return Err(Error::Unexpected { expected: local });
    }
    Ok(response)
}

fn float(text: &str, what: &'static str) -> Result<f32, Error> {
    text.trim()
        .parse::<f32>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| Error::Invalid {
            what,
            value: text.to_owned(),
        })
}

fn range(e: Option<&Element>) -> Result<Option<Range>, Error> {
    let Some(e) = e else {
        return Ok(None);
    };
    let bound = |local: &'static str| -> Result<f32, Error> {
        let b = e.child(ns::TT, local).ok_or(Error::Missing {
            what: "Range/Min or Max",
        })?;
        // `INF`/`-INF` (unbounded, proposed for the FOV space): the generic ±1.
        match b.trimmed_text() {
            "INF" => Ok(1.0),
            "-INF" => Ok(-1.0),
            text => float(text, "a range bound"),
        }
    };
    Ok(Some(Range {
        min: bound("Min")?,
        max: bound("Max")?,
    }))
}

fn spaces(parent: &Element, local: &str) -> Result<Vec<Space>, Error> {
    parent
        .children_named(ns::TT, local)
        .map(|s| {
            Ok(Space {
                uri: s
                    .child(ns::TT, "URI")
                    .map(|u| u.trimmed_text().to_owned())
                    .unwrap_or_default(),
                x: range(s.child(ns::TT, "XRange"))?.unwrap_or(Range::GENERIC),
                y: range(s.child(ns::TT, "YRange"))?,
            })
        })
        .collect()
}

/// GetProfilesResponse → the profiles, in order.
pub fn parse_get_profiles(xml: &str) -> Result<Vec<Profile>, Error> {
    let response = response(xml, ns::TRT, "GetProfilesResponse")?;
    Ok(response
        .children_named(ns::TRT, "Profiles")
        .filter_map(|p| {
            let token = p.attr("token")?.to_owned();
            let name = p
                .child(ns::TT, "Name")
                .map(|n| n.trimmed_text().to_owned())
                .unwrap_or_default();
            let ptz = p.child(ns::TT, "PTZConfiguration").and_then(|c| {
                Some(PtzConfiguration {
                    token: c.attr("token")?.to_owned(),
                    node_token: c
                        .child(ns::TT, "NodeToken")
                        .map(|n| n.trimmed_text().to_owned()),
                    default_timeout: c
                        .child(ns::TT, "DefaultPTZTimeout")
                        .and_then(|t| parse_xsd_duration(&t.text)),
                })
            });
            Some(Profile { token, name, ptz })
        })
        .collect())
}

/// GetConfigurationOptionsResponse → the spaces and the timeout range.
pub fn parse_configuration_options(xml: &str) -> Result<PtzOptions, Error> {
    let response = response(xml, ns::TPTZ, "GetConfigurationOptionsResponse")?;
    let options = response
        .child(ns::TPTZ, "PTZConfigurationOptions")
        .ok_or(Error::Missing {
            what: "PTZConfigurationOptions",
        })?;
    let timeout = options.child(ns::TT, "PTZTimeout").and_then(|t| {
        let d = |local| parse_xsd_duration(&t.child(ns::TT, local)?.text);
        Some((d("Min")?, d("Max")?))
    });
    let Some(s) = options.child(ns::TT, "Spaces") else {
        return Ok(PtzOptions {
            timeout,
            ..PtzOptions::default()
        });
    };
    Ok(PtzOptions {
        absolute_pan_tilt: spaces(s, "AbsolutePanTiltPositionSpace")?,
        absolute_zoom: spaces(s, "AbsoluteZoomPositionSpace")?,
        relative_pan_tilt: spaces(s, "RelativePanTiltTranslationSpace")?,
        relative_zoom: spaces(s, "RelativeZoomTranslationSpace")?,
        continuous_pan_tilt: spaces(s, "ContinuousPanTiltVelocitySpace")?,
        continuous_zoom: spaces(s, "ContinuousZoomVelocitySpace")?,
        pan_tilt_speed: spaces(s, "PanTiltSpeedSpace")?,
        zoom_speed: spaces(s, "ZoomSpeedSpace")?,
        timeout,
    })
}

/// GetPresetsResponse → the presets (a preset without a token is skipped; one
/// without a name is named by its token).
pub fn parse_get_presets(xml: &str) -> Result<Vec<Preset>, Error> {
    let response = response(xml, ns::TPTZ, "GetPresetsResponse")?;
    Ok(response
        .children_named(ns::TPTZ, "Preset")
        .filter_map(|p| {
            let token = p.attr("token")?.to_owned();
            let name = p
                .child(ns::TT, "Name")
                .map(|n| n.trimmed_text().to_owned())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| token.clone());
            Some(Preset { token, name })
        })
        .collect())
}

/// SetPresetResponse → the preset's token.
pub fn parse_set_preset(xml: &str) -> Result<String, Error> {
    let response = response(xml, ns::TPTZ, "SetPresetResponse")?;
    response
        .child(ns::TPTZ, "PresetToken")
        .map(|t| t.trimmed_text().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or(Error::Missing {
            what: "SetPresetResponse/PresetToken",
        })
}

/// A reply with nothing to read but must be the named response (or a fault).
pub fn parse_ack(xml: &str, local: &'static str) -> Result<(), Error> {
    response(xml, ns::TPTZ, local).map(drop)
}

/// GetStatusResponse → position (scaled back with `options`) and move state.
pub fn parse_get_status(xml: &str, options: &PtzOptions) -> Result<Status, Error> {
    let response = response(xml, ns::TPTZ, "GetStatusResponse")?;
    let status = response
        .child(ns::TPTZ, "PTZStatus")
        .ok_or(Error::Missing { what: "PTZStatus" })?;
    let mut position = Position::default();
    if let Some(p) = status.child(ns::TT, "Position") {
        if let Some(pt) = p.child(ns::TT, "PanTilt") {
            let space = options.absolute_pan_tilt.first();
            let (xr, yr) = (
                space.map_or(Range::GENERIC, |s| s.x),
                space.and_then(|s| s.y).unwrap_or(Range::GENERIC),
            );
            if let Some(x) = pt.attr("x") {
                position.pan = Some(xr.to_signed(float(x, "Position/PanTilt/@x")?));
            }
            if let Some(y) = pt.attr("y") {
                position.tilt = Some(yr.to_signed(float(y, "Position/PanTilt/@y")?));
            }
        }
        if let Some(z) = p.child(ns::TT, "Zoom").and_then(|z| z.attr("x")) {
            let range = options.absolute_zoom.first().map_or(Range::UNIT, |s| s.x);
            position.zoom = Some(range.to_unit(float(z, "Position/Zoom/@x")?));
        }
    }
    let read = |e: &Element| match e.trimmed_text() {
        "IDLE" => MoveStatus::Idle,
        "MOVING" => MoveStatus::Moving,
        _ => MoveStatus::Unknown,
    };
    // Per axis; some firmware writes one plain value for both.
    let move_status = |local| {
        let m = status.child(ns::TT, "MoveStatus")?;
        match m.child(ns::TT, local) {
            Some(axis) => Some(read(axis)),
            None if m.children.is_empty() && !m.trimmed_text().is_empty() => Some(read(m)),
            None => None,
        }
    };
    Ok(Status {
        position,
        pan_tilt: move_status("PanTilt"),
        zoom: move_status("Zoom"),
        error: status
            .child(ns::TT, "Error")
            .map(|e| e.trimmed_text().to_owned())
            .filter(|e| !e.is_empty()),
        utc_time: status
            .child(ns::TT, "UtcTime")
            .map(|t| Timestamp::parse(t.trimmed_text()))
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_plain_xs_floats() {
        assert_eq!(num(0.5), "0.5");
        assert_eq!(num(-0.0), "0");
        assert_eq!(num(1.0), "1");
        assert_eq!(num(-0.12345), "-0.1235");
        assert_eq!(num(f32::NAN), "0");
        assert_eq!(num(100.0), "100");
    }

    #[test]
    fn speeds_are_scaled_into_the_camera_ranges() {
        let r = Range {
            min: -100.0,
            max: 100.0,
        };
        assert_eq!(r.scale_signed(0.5), 50.0);
        assert_eq!(r.scale_signed(-1.0), -100.0);
        assert_eq!(r.scale_signed(7.0), 100.0);
        assert_eq!(r.scale_signed(f32::NAN), 0.0);
        let asym = Range {
            min: -0.5,
            max: 1.0,
        };
        assert_eq!(asym.scale_signed(-1.0), -0.5);
        let zoom = Range {
            min: 1.0,
            max: 30.0,
        };
        assert_eq!(zoom.scale_unit(0.5), 15.5);
        assert_eq!(zoom.to_unit(15.5), 0.5);
        assert_eq!(r.to_signed(-50.0), -0.5);
        // Ranges that include 0 keep 0 at 0 (a stop stays a stop).
        assert_eq!(Range::UNIT.scale_signed(0.0), 0.0);
        assert_eq!(Range::UNIT.scale_signed(-1.0), 0.0);
        assert_eq!(zoom.scale_signed(0.0), 15.5);
    }

    #[test]
    fn durations_keep_their_milliseconds() {
        assert_eq!(xsd_duration_ms(Duration::from_secs(1)), "PT1S");
        assert_eq!(xsd_duration_ms(Duration::from_millis(1500)), "PT1.5S");
    }

    #[test]
    fn quirks_are_read_from_faults() {
        let fault = |subcodes: &[&str], reason: &str| Fault {
            code: "Receiver".into(),
            subcodes: subcodes.iter().map(|s| s.to_string()).collect(),
            reason: reason.into(),
        };
        assert_eq!(
            detect_quirk(&fault(&["ter:ActionNotSupported"], ""), Refused::Stop),
            Some(Detected::NoStop)
        );
        assert_eq!(
            detect_quirk(&fault(&[], "Method not implemented"), Refused::Stop),
            Some(Detected::NoStop)
        );
        assert_eq!(
            detect_quirk(
                &fault(&["ter:InvalidArgVal"], "Invalid Timeout"),
                Refused::MoveWithTimeout
            ),
            Some(Detected::NoTimeout)
        );
        assert_eq!(
            detect_quirk(
                &fault(&["ter:TimeoutNotSupported"], ""),
                Refused::MoveWithTimeout
            ),
            Some(Detected::NoTimeout)
        );
        // A wrong password is no quirk.
        assert_eq!(
            detect_quirk(
                &fault(&["ter:NotAuthorized"], "Sender not authorized"),
                Refused::Stop
            ),
            None
        );
        assert_eq!(
            detect_quirk(
                &fault(&["ter:InvalidArgVal"], "bad velocity"),
                Refused::MoveWithTimeout
            ),
            None
        );
        // A busy camera's timeout, a missing zoom, a refused login: no quirks.
        assert_eq!(
            detect_quirk(&fault(&[], "Operation timeout"), Refused::MoveWithTimeout),
            None
        );
        assert_eq!(
            detect_quirk(
                &fault(&["ter:InvalidArgVal"], "Zoom not supported"),
                Refused::Stop
            ),
            None
        );
        assert_eq!(
            detect_quirk(
                &fault(
                    &["ter:NotAuthorized"],
                    "Action not implemented for this user"
                ),
                Refused::Stop
            ),
            None
        );
        assert_eq!(
            StopStyle::from_name("zero_velocity"),
            Some(StopStyle::ZeroVelocity)
        );
        assert_eq!(StopStyle::from_name("nope"), None);
    }
}
