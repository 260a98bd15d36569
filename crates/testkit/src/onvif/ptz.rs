//! The simulated camera's PTZ head and its media profiles: a position that
//! is the integral of the commanded velocity over time, within limits; a
//! `Timeout` that ends a continuous move; presets; and each command recorded
//! with its time ([`super::OnvifSim::ptz_commands`]). It checks what it
//! receives as a strict camera does (the profile token, velocities inside the
//! declared space, a valid `Timeout` within the declared range, known preset
//! tokens) and can behave like the quirky cameras the client must cope with
//! ([`PtzSimConfig`]).

use std::time::Duration;

use axum::http::StatusCode;
use tokio::time::Instant;

use super::{escape, parse_duration, refuse, Node, Refusal};

pub(super) const TPTZ: &str = "http://www.onvif.org/ver20/ptz/wsdl";
pub(super) const TRT: &str = "http://www.onvif.org/ver10/media/wsdl";
const TT: &str = "http://www.onvif.org/ver10/schema";
pub const PROFILE: &str = "profile_1";
pub const CONFIGURATION: &str = "ptz_1";
const FOV_SPACE: &str = "http://www.onvif.org/ver10/tptz/PanTiltSpaces/TranslationSpaceFov";
const GENERIC_TRANSLATION: &str =
    "http://www.onvif.org/ver10/tptz/PanTiltSpaces/TranslationGenericSpace";

/// How the simulated PTZ head behaves.
#[derive(Debug, Clone)]
pub struct PtzSimConfig {
    /// Stop is not implemented (`ter:ActionNotSupported`, "Action Not
    /// Implemented"): only a zero-velocity ContinuousMove stops it.
    pub no_stop: bool,
    /// A ContinuousMove with a `Timeout` is refused (`ter:InvalidArgVal`).
    pub rejects_timeout: bool,
    /// A Stop without both `PanTilt` and `Zoom` set to `true` is refused.
    pub stop_needs_both: bool,
    /// Offers the field-of-view translation space (click to centre).
    pub fov: bool,
    /// The continuous velocity space: ±this on each axis.
    pub velocity_range: f32,
    /// The `Timeout` range it declares (and enforces).
    pub timeout_range: (Duration, Duration),
    /// Generic position units per second at full speed.
    pub speed: f32,
    /// Answers this operation only this long after doing it (a busy
    /// camera); other requests are served meanwhile.
    pub slow: Option<(&'static str, Duration)>,
}

impl Default for PtzSimConfig {
    fn default() -> PtzSimConfig {
        PtzSimConfig {
            no_stop: false,
            rejects_timeout: false,
            stop_needs_both: false,
            fov: true,
            velocity_range: 1.0,
            timeout_range: (Duration::from_millis(500), Duration::from_secs(60)),
            speed: 0.5,
            slow: None,
        }
    }
}

/// A PTZ command the head received and accepted or refused.
#[derive(Debug, Clone, PartialEq)]
pub struct PtzCommand {
    pub operation: String,
    pub at: Instant,
    /// ContinuousMove's velocity (in the camera's space), or a relative or
    /// absolute move's vector.
    pub vector: Option<(f32, f32, f32)>,
    /// A RelativeMove's space URI.
    pub space: Option<String>,
    pub timeout: Option<Duration>,
    pub preset: Option<String>,
    pub accepted: bool,
}

#[derive(Debug, Clone)]
struct Preset {
    token: String,
    name: String,
    at: (f32, f32, f32),
}

/// The head: position in the generic spaces (pan, tilt −1..1; zoom 0..1).
#[derive(Debug)]
pub(super) struct PtzHead {
    pub config: PtzSimConfig,
    position: (f32, f32, f32),
    /// Generic velocity (−1..1 each) since `since`, until `until`.
    velocity: (f32, f32, f32),
    since: Instant,
    until: Option<Instant>,
    presets: Vec<Preset>,
    next_preset: u32,
    pub log: Vec<PtzCommand>,
}

impl PtzHead {
    pub fn new(config: PtzSimConfig) -> PtzHead {
        PtzHead {
            config,
            position: (0.0, 0.0, 0.0),
            velocity: (0.0, 0.0, 0.0),
            since: Instant::now(),
            until: None,
            presets: vec![Preset {
                token: "1".into(),
                name: "Gate".into(),
                at: (0.5, 0.25, 0.0),
            }],
            next_preset: 2,
            log: Vec::new(),
        }
    }

    /// Integrates the velocity up to `now` (or the Timeout's end).
    fn advance(&mut self, now: Instant) {
        let end = self.until.map_or(now, |u| u.min(now));
        let dt = end.saturating_duration_since(self.since).as_secs_f32();
        let s = self.config.speed;
        let (p, t, z) = self.position;
        self.position = (
            (p + self.velocity.0 * s * dt).clamp(-1.0, 1.0),
            (t + self.velocity.1 * s * dt).clamp(-1.0, 1.0),
            (z + self.velocity.2 * s * dt).clamp(0.0, 1.0),
        );
        self.since = now;
        if self.until.is_some_and(|u| u <= now) {
            self.velocity = (0.0, 0.0, 0.0);
            self.until = None;
        }
    }

    /// Where it points now.
    pub fn position(&mut self) -> (f32, f32, f32) {
        self.advance(Instant::now());
        self.position
    }

    pub fn moving(&mut self) -> bool {
        self.advance(Instant::now());
        self.velocity != (0.0, 0.0, 0.0)
    }

    pub fn services(&self, base: &str) -> String {
        format!(
            "<tds:Service><tds:Namespace>{TRT}</tds:Namespace><tds:XAddr>{base}/onvif/media</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service><tds:Service><tds:Namespace>{TPTZ}</tds:Namespace><tds:XAddr>{base}/onvif/ptz</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>"
        )
    }

    pub fn capabilities(&self, base: &str) -> String {
        format!(
            "<tt:Media><tt:XAddr>{base}/onvif/media</tt:XAddr></tt:Media><tt:PTZ><tt:XAddr>{base}/onvif/ptz</tt:XAddr></tt:PTZ>"
        )
    }
}

/// GetProfiles: a main profile with the PTZ configuration, a sub profile
/// without (`ptz`: whether the camera has a head at all).
pub(super) fn profiles(ptz: bool) -> String {
    let config = if ptz {
        format!(
            "<tt:PTZConfiguration token=\"{CONFIGURATION}\"><tt:Name>PTZ</tt:Name><tt:UseCount>1</tt:UseCount><tt:NodeToken>node_1</tt:NodeToken><tt:DefaultPTZTimeout>PT5S</tt:DefaultPTZTimeout></tt:PTZConfiguration>"
        )
    } else {
        String::new()
    };
    format!(
        "<trt:GetProfilesResponse><trt:Profiles token=\"{PROFILE}\" fixed=\"true\"><tt:Name>main</tt:Name>{config}</trt:Profiles><trt:Profiles token=\"profile_2\" fixed=\"true\"><tt:Name>sub</tt:Name></trt:Profiles></trt:GetProfilesResponse>"
    )
}

fn bad(subcode: &'static str, detail: impl Into<String>) -> Refusal {
    refuse(StatusCode::BAD_REQUEST, subcode, detail)
}

fn child<'a>(node: &'a Node, ns: &str, local: &str) -> Option<&'a Node> {
    node.child(ns, local)
}

fn number(node: &Node, attr: &str, what: &str) -> Result<f32, Refusal> {
    let text = node
        .attr(attr)
        .ok_or_else(|| bad("ter:InvalidArgVal", format!("{what} without {attr}")))?;
    text.parse::<f32>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            bad(
                "ter:InvalidArgVal",
                format!("{what}/@{attr} {text:?} is no number"),
            )
        })
}

/// (x, y) of a `PanTilt` and x of a `Zoom`, each optional.
type Parts = (Option<(f32, f32)>, Option<f32>);

/// The `PanTilt` and `Zoom` inside `parent`; anything else is refused.
fn vector(parent: &Node, what: &str) -> Result<Parts, Refusal> {
    for c in &parent.children {
        if c.ns.as_deref() != Some(TT) || !matches!(c.local.as_str(), "PanTilt" | "Zoom") {
            return Err(bad(
                "ter:InvalidArgVal",
                format!("unexpected {} in {what}", c.local),
            ));
        }
    }
    let pan_tilt = child(parent, TT, "PanTilt")
        .map(|pt| Ok::<_, Refusal>((number(pt, "x", what)?, number(pt, "y", what)?)))
        .transpose()?;
    let zoom = child(parent, TT, "Zoom")
        .map(|z| number(z, "x", what))
        .transpose()?;
    Ok((pan_tilt, zoom))
}

fn text_of<'a>(op: &'a Node, local: &str) -> Option<&'a str> {
    child(op, TPTZ, local).map(Node::text)
}

/// Serves one PTZ operation (already authenticated, on the PTZ service).
pub(super) fn serve(head: &mut PtzHead, name: &str, op: &Node) -> Result<String, Refusal> {
    let now = Instant::now();
    head.advance(now);
    let mut command = PtzCommand {
        operation: name.to_owned(),
        at: now,
        vector: None,
        space: None,
        timeout: None,
        preset: None,
        accepted: false,
    };
    let result = operation(head, name, op, now, &mut command);
    command.accepted = result.is_ok();
    head.log.push(command);
    result
}

fn operation(
    head: &mut PtzHead,
    name: &str,
    op: &Node,
    now: Instant,
    command: &mut PtzCommand,
) -> Result<String, Refusal> {
    if name == "GetConfigurationOptions" {
        let token = text_of(op, "ConfigurationToken").unwrap_or("");
        if token != CONFIGURATION {
            return Err(bad(
                "ter:NoConfig",
                format!("no PTZ configuration {token:?}"),
            ));
        }
        return Ok(options(&head.config));
    }
    let profile = text_of(op, "ProfileToken").unwrap_or("");
    if profile != PROFILE {
        return Err(bad(
            "ter:NoProfile",
            format!("no profile {profile:?} with PTZ (the PTZ profile is {PROFILE})"),
        ));
    }
    let c = head.config.clone();
    match name {
        "ContinuousMove" => {
            let velocity = child(op, TPTZ, "Velocity")
                .ok_or_else(|| bad("ter:InvalidArgVal", "ContinuousMove without Velocity"))?;
            let (pt, z) = vector(velocity, "Velocity")?;
            let r = c.velocity_range;
            let (x, y) = pt.unwrap_or((0.0, 0.0));
            let z = z.unwrap_or(0.0);
            command.vector = Some((x, y, z));
            if [x, y, z].iter().any(|v| v.abs() > r) {
                return Err(bad(
                    "ter:InvalidVelocity",
                    format!("velocity ({x}, {y}, {z}) outside ±{r}"),
                ));
            }
            let timeout = match text_of(op, "Timeout") {
                Some(t) => {
                    let d = parse_duration(t)
                        .ok_or_else(|| bad("ter:InvalidArgVal", format!("Timeout {t:?}")))?;
                    command.timeout = Some(d);
                    if c.rejects_timeout {
                        return Err(bad("ter:InvalidArgVal", "Timeout is not supported"));
                    }
                    if d < c.timeout_range.0 || d > c.timeout_range.1 {
                        return Err(bad(
                            "ter:TimeoutNotSupported",
                            format!("Timeout {t} outside {:?}", c.timeout_range),
                        ));
                    }
                    Some(d)
                }
                None => None,
            };
            command.timeout = timeout;
            // An axis left out keeps its motion.
            let (vx, vy) = pt.map_or((head.velocity.0, head.velocity.1), |(x, y)| (x / r, y / r));
            let vz = child(velocity, TT, "Zoom").map_or(head.velocity.2, |_| z / r);
            head.velocity = (vx, vy, vz);
            head.until = timeout.map(|t| now + t);
            Ok("<tptz:ContinuousMoveResponse/>".into())
        }
        "Stop" => {
            if c.no_stop {
                return Err(Refusal {
                    status: StatusCode::BAD_REQUEST,
                    code: "Receiver",
                    subcode: "ter:ActionNotSupported",
                    detail: "Action Not Implemented".into(),
                });
            }
            let flag = |local: &str| match text_of(op, local) {
                None => Ok(None),
                Some("true") => Ok(Some(true)),
                Some("false") => Ok(Some(false)),
                Some(other) => Err(bad("ter:InvalidArgVal", format!("{local} {other:?}"))),
            };
            let (pt, z) = (flag("PanTilt")?, flag("Zoom")?);
            if c.stop_needs_both && (pt != Some(true) || z != Some(true)) {
                return Err(bad(
                    "ter:InvalidArgVal",
                    "this camera wants PanTilt and Zoom both true",
                ));
            }
            if pt.unwrap_or(true) {
                head.velocity.0 = 0.0;
                head.velocity.1 = 0.0;
            }
            if z.unwrap_or(true) {
                head.velocity.2 = 0.0;
            }
            Ok("<tptz:StopResponse/>".into())
        }
        "RelativeMove" => {
            let translation = child(op, TPTZ, "Translation")
                .ok_or_else(|| bad("ter:InvalidArgVal", "RelativeMove without Translation"))?;
            let space = child(translation, TT, "PanTilt")
                .and_then(|pt| pt.attr("space"))
                .unwrap_or(GENERIC_TRANSLATION)
                .to_owned();
            if space != GENERIC_TRANSLATION && !(space == FOV_SPACE && c.fov) {
                return Err(bad("ter:SpaceNotSupported", format!("space {space}")));
            }
            let (pt, z) = vector(translation, "Translation")?;
            let (x, y) = pt.unwrap_or((0.0, 0.0));
            command.vector = Some((x, y, z.unwrap_or(0.0)));
            command.space = Some(space.clone());
            // In the FOV space ±1 is the picture's edge: half the field of
            // view, which narrows as it zooms (0.4 of the range wide at zoom 0).
            let scale = if space == FOV_SPACE {
                0.2 * (1.0 - 0.8 * head.position.2)
            } else {
                1.0
            };
            let (p, t, zz) = head.position;
            head.position = (
                (p + x * scale).clamp(-1.0, 1.0),
                (t + y * scale).clamp(-1.0, 1.0),
                (zz + z.unwrap_or(0.0)).clamp(0.0, 1.0),
            );
            head.velocity = (0.0, 0.0, 0.0);
            Ok("<tptz:RelativeMoveResponse/>".into())
        }
        "AbsoluteMove" => {
            let position = child(op, TPTZ, "Position")
                .ok_or_else(|| bad("ter:InvalidArgVal", "AbsoluteMove without Position"))?;
            let (pt, z) = vector(position, "Position")?;
            let (x, y) = pt.unwrap_or((head.position.0, head.position.1));
            let z = z.unwrap_or(head.position.2);
            command.vector = Some((x, y, z));
            if x.abs() > 1.0 || y.abs() > 1.0 || !(0.0..=1.0).contains(&z) {
                return Err(bad("ter:InvalidPosition", format!("({x}, {y}, {z})")));
            }
            head.position = (x, y, z);
            head.velocity = (0.0, 0.0, 0.0);
            Ok("<tptz:AbsoluteMoveResponse/>".into())
        }
        "GotoPreset" | "RemovePreset" => {
            let token = text_of(op, "PresetToken").unwrap_or("").to_owned();
            command.preset = Some(token.clone());
            let i = head
                .presets
                .iter()
                .position(|p| p.token == token)
                .ok_or_else(|| bad("ter:NoToken", format!("no preset {token:?}")))?;
            if name == "GotoPreset" {
                head.position = head.presets[i].at;
                head.velocity = (0.0, 0.0, 0.0);
                Ok("<tptz:GotoPresetResponse/>".into())
            } else {
                head.presets.remove(i);
                Ok("<tptz:RemovePresetResponse/>".into())
            }
        }
        "GetPresets" => Ok(format!(
            "<tptz:GetPresetsResponse>{}</tptz:GetPresetsResponse>",
            head.presets
                .iter()
                .map(|p| format!(
                    "<tptz:Preset token=\"{}\"><tt:Name>{}</tt:Name><tt:PTZPosition><tt:PanTilt x=\"{}\" y=\"{}\"/><tt:Zoom x=\"{}\"/></tt:PTZPosition></tptz:Preset>",
                    escape(&p.token),
                    escape(&p.name),
                    p.at.0,
                    p.at.1,
                    p.at.2
                ))
                .collect::<String>()
        )),
        "SetPreset" => {
            let name = text_of(op, "PresetName")
                .filter(|n| !n.is_empty())
                .ok_or_else(|| bad("ter:InvalidArgVal", "SetPreset without PresetName"))?
                .to_owned();
            if name.chars().count() > 64 {
                return Err(bad("ter:InvalidPresetName", "a name over 64 characters"));
            }
            let at = head.position;
            let token = match text_of(op, "PresetToken") {
                Some(token) => {
                    let p = head
                        .presets
                        .iter_mut()
                        .find(|p| p.token == token)
                        .ok_or_else(|| bad("ter:NoToken", format!("no preset {token:?}")))?;
                    p.name = name;
                    p.at = at;
                    p.token.clone()
                }
                None => {
                    if head.presets.iter().any(|p| p.name == name) {
                        return Err(bad("ter:PresetExist", format!("a preset named {name:?}")));
                    }
                    let token = head.next_preset.to_string();
                    head.next_preset += 1;
                    head.presets.push(Preset {
                        token: token.clone(),
                        name,
                        at,
                    });
                    token
                }
            };
            command.preset = Some(token.clone());
            Ok(format!(
                "<tptz:SetPresetResponse><tptz:PresetToken>{}</tptz:PresetToken></tptz:SetPresetResponse>",
                escape(&token)
            ))
        }
        "GotoHomePosition" => {
            head.position = (0.0, 0.0, 0.0);
            head.velocity = (0.0, 0.0, 0.0);
            Ok("<tptz:GotoHomePositionResponse/>".into())
        }
        "GetStatus" => {
            let (p, t, z) = head.position;
            let moving = |m: bool| if m { "MOVING" } else { "IDLE" };
            Ok(format!(
                "<tptz:GetStatusResponse><tptz:PTZStatus><tt:Position><tt:PanTilt x=\"{p}\" y=\"{t}\"/><tt:Zoom x=\"{z}\"/></tt:Position><tt:MoveStatus><tt:PanTilt>{}</tt:PanTilt><tt:Zoom>{}</tt:Zoom></tt:MoveStatus><tt:UtcTime>{}</tt:UtcTime></tptz:PTZStatus></tptz:GetStatusResponse>",
                moving(head.velocity.0 != 0.0 || head.velocity.1 != 0.0),
                moving(head.velocity.2 != 0.0),
                super::xsd(time::OffsetDateTime::now_utc())
            ))
        }
        _ => Err(bad("ter:ActionNotSupported", name.to_owned())),
    }
}

fn options(c: &PtzSimConfig) -> String {
    let range = |min: f32, max: f32| {
        format!("<tt:XRange><tt:Min>{min}</tt:Min><tt:Max>{max}</tt:Max></tt:XRange>")
    };
    let range2 = |min: f32, max: f32| {
        format!(
            "{}<tt:YRange><tt:Min>{min}</tt:Min><tt:Max>{max}</tt:Max></tt:YRange>",
            range(min, max)
        )
    };
    let fov = if c.fov {
        format!("<tt:RelativePanTiltTranslationSpace><tt:URI>{FOV_SPACE}</tt:URI>{}</tt:RelativePanTiltTranslationSpace>", range2(-1.0, 1.0))
    } else {
        String::new()
    };
    let r = c.velocity_range;
    let secs = |d: Duration| {
        let s = d.as_secs_f32();
        format!("PT{s}S")
    };
    format!(
        "<tptz:GetConfigurationOptionsResponse><tptz:PTZConfigurationOptions><tt:Spaces><tt:AbsolutePanTiltPositionSpace><tt:URI>http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace</tt:URI>{}</tt:AbsolutePanTiltPositionSpace><tt:AbsoluteZoomPositionSpace><tt:URI>http://www.onvif.org/ver10/tptz/ZoomSpaces/PositionGenericSpace</tt:URI>{}</tt:AbsoluteZoomPositionSpace><tt:RelativePanTiltTranslationSpace><tt:URI>{GENERIC_TRANSLATION}</tt:URI>{}</tt:RelativePanTiltTranslationSpace>{fov}<tt:ContinuousPanTiltVelocitySpace><tt:URI>http://www.onvif.org/ver10/tptz/PanTiltSpaces/VelocityGenericSpace</tt:URI>{}</tt:ContinuousPanTiltVelocitySpace><tt:ContinuousZoomVelocitySpace><tt:URI>http://www.onvif.org/ver10/tptz/ZoomSpaces/VelocityGenericSpace</tt:URI>{}</tt:ContinuousZoomVelocitySpace></tt:Spaces><tt:PTZTimeout><tt:Min>{}</tt:Min><tt:Max>{}</tt:Max></tt:PTZTimeout></tptz:PTZConfigurationOptions></tptz:GetConfigurationOptionsResponse>",
        range2(-1.0, 1.0),
        range(0.0, 1.0),
        range2(-1.0, 1.0),
        range2(-r, r),
        range(-r, r),
        secs(c.timeout_range.0),
        secs(c.timeout_range.1),
    )
}
