//! What a camera's `[camera.motion]` table says, its defaults, and the checks
//! that refuse a config the detector could not honour, naming the zone and the
//! point at fault.

use serde::{Deserialize, Serialize};

/// Most zones one camera may have. Each analysed pixel records the zones it
/// lies in as the bits of a `u32`.
pub const MAX_ZONES: usize = 32;

/// Most points one zone or mask polygon may have: rasterising is done once per
/// picture size, but there is no reason for a hand-written polygon to be long.
pub const MAX_POINTS: usize = 256;

/// The name of the implicit zone that covers the whole picture (minus the
/// masks) when no zone is configured.
pub const FRAME_ZONE: &str = "frame";

/// Motion detection settings for one camera. Every field has a default (see
/// [`MotionConfig::default`]), so an empty table is a working config: the whole
/// picture is one zone named [`FRAME_ZONE`].
///
/// Rates and counts are per *analysed* frame: at the default 5 fps,
/// `confirm_frames = 3` means motion seen for 0.6 s, and `alpha = 0.05` makes
/// the background forget a change with a time constant of 4 s.
///
/// In TOML, zones and masks are arrays of tables:
///
/// ```toml
/// sensitivity = 60
/// cooldown_secs = 10
///
/// [[zone]]
/// name = "door"
/// points = [[0.1, 0.2], [0.4, 0.2], [0.4, 0.9], [0.1, 0.9]]
/// sensitivity = 80
///
/// [[mask]]
/// name = "clock"
/// points = [[0.8, 0.0], [1.0, 0.0], [1.0, 0.08], [0.8, 0.08]]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MotionConfig {
    /// Frames analysed per second: see [`crate::Detector::due`]. Default 5.
    pub fps: f32,
    /// The longer side of the analysed picture, in pixels; frames are shrunk
    /// (averaging boxes of pixels) to fit, keeping their aspect ratio, and are
    /// never enlarged. Default 320 (a 1080p frame is analysed at 320×180).
    pub analysis_size: u32,
    /// How fast the background follows the picture, per analysed frame:
    /// `background += alpha × (frame − background)`. Larger forgets parked cars
    /// and moved chairs sooner but also absorbs slow walkers. Default 0.05.
    pub alpha: f32,
    /// Sensitivity from 1 (least) to 100 (most) of the implicit whole-picture
    /// zone, of every zone that sets none, and of the whole-frame change check.
    /// See [`threshold_for`] for the difference in brightness it stands for.
    /// Default 50.
    pub sensitivity: u8,
    /// The smallest changed region reported, as a fraction of the picture
    /// (0.001 is 58 pixels of 320×180, a 46×46 pixel object at 1080p).
    /// Smaller regions (insects, rain, leaves) are ignored. Default 0.001.
    pub min_area: f32,
    /// Times the changed-pixel mask is grown by one pixel (3×3 dilation)
    /// before regions are found, so the fragments of one object join up.
    /// Default 2.
    pub dilate: u32,
    /// Which neighbours join a region: 4 (sides) or 8 (sides and corners).
    /// Default 8.
    pub connectivity: u8,
    /// Analysed frames in a row with motion before an event starts (the
    /// later ones at `confirm_fps`: 3 frames span 133 ms at 15). A single
    /// corrupt frame or a camera flash is shorter. Default 3.
    pub confirm_frames: u32,
    /// Frames analysed per second while motion seen in one frame is being
    /// confirmed by the next ones (at or below `fps`: no faster than `fps`): at 5 fps alone three
    /// confirming frames would take 400 ms; at 15 fps they take 133 ms, so an
    /// alert shows about 270 ms sooner while the still scene costs no more.
    /// Confirming frames do not teach the background. Default 15.
    pub confirm_fps: f32,
    /// Seconds without motion before an event ends. Default 5.
    pub cooldown_secs: f32,
    /// Fraction of the unmasked picture that, when changed at once, means the
    /// picture changed rather than something in it (lights, IR switch, the
    /// camera moving): the detector recalibrates instead of alerting.
    /// Default 0.5.
    pub whole_frame_area: f32,
    /// A shift of the whole picture's brightness (the median difference to the
    /// background, in levels of 0..255) that means the lighting changed: the
    /// detector recalibrates instead of alerting. Default 30.
    pub brightness_jump: u8,
    /// Analysed frames after a recalibration that only relearn the background
    /// (cameras take a moment to settle exposure). Default 3.
    pub settle_frames: u32,
    /// Where motion counts. None: the whole picture, as one zone named
    /// [`FRAME_ZONE`].
    #[serde(rename = "zone")]
    pub zones: Vec<Zone>,
    /// Where motion never counts (a clock, a road, trees), whichever zone the
    /// pixels are in. Masked pixels are left out of the whole-frame checks too.
    #[serde(rename = "mask")]
    pub masks: Vec<Mask>,
}

impl Default for MotionConfig {
    fn default() -> Self {
        MotionConfig {
            fps: 5.0,
            analysis_size: 320,
            alpha: 0.05,
            sensitivity: 50,
            min_area: 0.001,
            dilate: 2,
            connectivity: 8,
            confirm_frames: 3,
            confirm_fps: 15.0,
            cooldown_secs: 5.0,
            whole_frame_area: 0.5,
            brightness_jump: 30,
            settle_frames: 3,
            zones: Vec::new(),
            masks: Vec::new(),
        }
    }
}

/// A named area where motion is reported. An event names the zones its
/// regions touched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    /// Reported in events; unique within a camera.
    pub name: String,
    /// The polygon's corners, `[x, y]`, fractions of the picture's width and
    /// height from its top left corner (so `[1, 1]` is the bottom right).
    pub points: Vec<[f32; 2]>,
    /// 1 (least) to 100 (most sensitive); default: the camera's
    /// [`MotionConfig::sensitivity`].
    #[serde(default)]
    pub sensitivity: Option<u8>,
    /// How much of the picture must change inside this zone for it to count,
    /// as a fraction of the picture (not of the zone); default: the camera's
    /// [`MotionConfig::min_area`].
    #[serde(default)]
    pub min_area: Option<f32>,
}

impl Zone {
    /// A zone with the camera's sensitivity and minimum area.
    pub fn new(name: impl Into<String>, points: Vec<[f32; 2]>) -> Zone {
        Zone {
            name: name.into(),
            points,
            sensitivity: None,
            min_area: None,
        }
    }

    /// The same zone with its own sensitivity (1 to 100).
    pub fn with_sensitivity(mut self, sensitivity: u8) -> Zone {
        self.sensitivity = Some(sensitivity);
        self
    }
}

/// An area excluded from detection entirely.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mask {
    /// Only used in error messages; optional.
    #[serde(default)]
    pub name: Option<String>,
    /// As [`Zone::points`].
    pub points: Vec<[f32; 2]>,
}

impl Mask {
    /// An unnamed mask.
    pub fn new(points: Vec<[f32; 2]>) -> Mask {
        Mask { name: None, points }
    }
}

/// The smallest brightness difference (in levels of 0..255, after the whole
/// picture's brightness shift is taken out) that a pixel must show against the
/// background to count as changed, for a sensitivity from 1 to 100:
/// `8 + (100 − sensitivity) × 0.44`, so 1 → 51, 25 → 41, 50 → 30, 75 → 19,
/// 100 → 8. Typical sensor noise is a few levels; 8 is as low as it is safe to
/// go. Out-of-range values are clamped.
pub fn threshold_for(sensitivity: u8) -> u8 {
    let s = u32::from(sensitivity.clamp(1, 100));
    (8 + (100 - s) * 44 / 100) as u8
}

/// Why a motion config was refused. The messages are for the person writing
/// the camera's `[camera.motion]` table.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A plain setting is outside the range the detector supports.
    #[error("motion setting `{field}` = {value} is out of range: {expected}")]
    Setting {
        /// The setting's name, as written in the config.
        field: &'static str,
        /// The value given.
        value: String,
        /// What would be accepted.
        expected: &'static str,
    },
    /// A polygon with fewer than 3 points.
    #[error("{shape}: a polygon needs at least 3 points, it has {got}")]
    TooFewPoints {
        /// `zone "door"` or `mask 2`.
        shape: String,
        /// How many points it has.
        got: usize,
    },
    /// A polygon with more than [`MAX_POINTS`] points.
    #[error("{shape}: a polygon may have at most {MAX_POINTS} points, it has {got}")]
    TooManyPoints {
        /// `zone "door"` or `mask 2`.
        shape: String,
        /// How many points it has.
        got: usize,
    },
    /// A point outside the picture.
    #[error(
        "{shape}, point {index} [{x}, {y}]: coordinates go from 0 to 1, as fractions of the \
         picture's width and height from its top left corner ([1, 1] is the bottom right)"
    )]
    PointOutside {
        /// `zone "door"` or `mask 2`.
        shape: String,
        /// 1-based, as a person counts.
        index: usize,
        /// The point's x.
        x: f32,
        /// The point's y.
        y: f32,
    },
    /// All of a polygon's points lie on one line (or on top of each other).
    #[error("{shape}: its points enclose no area (are they all on one line?)")]
    NoArea {
        /// `zone "door"` or `mask 2`.
        shape: String,
    },
    /// A zone without a name.
    #[error("zone {index} has no name: give every zone a name, alerts report zones by name")]
    ZoneName {
        /// 1-based, in the order written.
        index: usize,
    },
    /// Two zones share a name.
    #[error(
        "two zones are named \"{0}\": give each zone its own name, alerts report zones by name"
    )]
    DuplicateZone(String),
    /// More than [`MAX_ZONES`] zones.
    #[error("{0} zones: a camera may have at most {MAX_ZONES}")]
    TooManyZones(usize),
    /// A zone's sensitivity is outside 1..=100.
    #[error(
        "zone \"{zone}\": sensitivity {value} is out of range: use 1 (least sensitive) \
         to 100 (most sensitive), or leave it out for the camera's"
    )]
    ZoneSensitivity {
        /// The zone's name.
        zone: String,
        /// The value given.
        value: u8,
    },
    /// A zone's minimum area is not a fraction of the picture.
    #[error(
        "zone \"{zone}\": min_area {value} is out of range: it is a fraction of the picture, \
         above 0 and at most 1 (0.001 is a 46×46 pixel object at 1080p)"
    )]
    ZoneMinArea {
        /// The zone's name.
        zone: String,
        /// The value given.
        value: f32,
    },
}

impl MotionConfig {
    /// Checks every setting, zone and mask; the first problem found is
    /// returned. [`crate::Detector::new`] calls this.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_range(
            "fps",
            self.fps,
            0.1,
            30.0,
            "from 0.1 to 30 frames per second",
        )?;
        check_range(
            "confirm_fps",
            self.confirm_fps,
            0.1,
            60.0,
            "from 0.1 to 60 frames per second (at or below fps: no faster confirmation)",
        )?;
        if !(32..=1280).contains(&self.analysis_size) {
            return Err(setting(
                "analysis_size",
                self.analysis_size,
                "from 32 to 1280 pixels (320 is plenty for people and cars)",
            ));
        }
        check_range(
            "alpha",
            self.alpha,
            0.001,
            1.0,
            "from 0.001 (slow) to 1 (the background is the previous frame)",
        )?;
        if !(1..=100).contains(&self.sensitivity) {
            return Err(setting(
                "sensitivity",
                self.sensitivity,
                "from 1 (least sensitive) to 100 (most sensitive)",
            ));
        }
        check_area("min_area", self.min_area)?;
        if self.dilate > 8 {
            return Err(setting("dilate", self.dilate, "from 0 to 8 passes"));
        }
        if !matches!(self.connectivity, 4 | 8) {
            return Err(setting("connectivity", self.connectivity, "4 or 8"));
        }
        if !(1..=100).contains(&self.confirm_frames) {
            return Err(setting(
                "confirm_frames",
                self.confirm_frames,
                "from 1 to 100 analysed frames",
            ));
        }
        check_range(
            "cooldown_secs",
            self.cooldown_secs,
            0.0,
            3600.0,
            "from 0 to 3600 seconds",
        )?;
        check_range(
            "whole_frame_area",
            self.whole_frame_area,
            0.05,
            1.0,
            "a fraction of the picture from 0.05 to 1",
        )?;
        if self.brightness_jump == 0 {
            return Err(setting(
                "brightness_jump",
                self.brightness_jump,
                "from 1 to 255 levels",
            ));
        }
        if self.settle_frames > 100 {
            return Err(setting(
                "settle_frames",
                self.settle_frames,
                "from 0 to 100 analysed frames",
            ));
        }
        if self.zones.len() > MAX_ZONES {
            return Err(ConfigError::TooManyZones(self.zones.len()));
        }
        for (i, zone) in self.zones.iter().enumerate() {
            if zone.name.trim().is_empty() {
                return Err(ConfigError::ZoneName { index: i + 1 });
            }
            if self.zones[..i].iter().any(|z| z.name == zone.name) {
                return Err(ConfigError::DuplicateZone(zone.name.clone()));
            }
            check_polygon(&zone.points, || format!("zone \"{}\"", zone.name))?;
            if let Some(value) = zone.sensitivity.filter(|s| !(1..=100).contains(s)) {
                return Err(ConfigError::ZoneSensitivity {
                    zone: zone.name.clone(),
                    value,
                });
            }
            if let Some(value) = zone.min_area.filter(|a| !in_area_range(*a)) {
                return Err(ConfigError::ZoneMinArea {
                    zone: zone.name.clone(),
                    value,
                });
            }
        }
        for (i, mask) in self.masks.iter().enumerate() {
            check_polygon(&mask.points, || match &mask.name {
                Some(name) => format!("mask \"{name}\""),
                None => format!("mask {}", i + 1),
            })?;
        }
        Ok(())
    }

    /// The threshold of zone `zone` (an index into [`MotionConfig::zones`]).
    pub(crate) fn zone_threshold(&self, zone: usize) -> u8 {
        let s = self
            .zones
            .get(zone)
            .and_then(|z| z.sensitivity)
            .unwrap_or(self.sensitivity);
        threshold_for(s)
    }

    /// The minimum area of zone `zone`, a fraction of the picture.
    pub(crate) fn zone_min_area(&self, zone: usize) -> f32 {
        self.zones
            .get(zone)
            .and_then(|z| z.min_area)
            .unwrap_or(self.min_area)
    }

    /// The zones' names, or the implicit zone's.
    pub(crate) fn zone_name(&self, zone: usize) -> &str {
        self.zones.get(zone).map_or(FRAME_ZONE, |z| z.name.as_str())
    }

    /// How many zones the detector works with: the configured ones, or the
    /// implicit one.
    pub(crate) fn zone_count(&self) -> usize {
        self.zones.len().max(1)
    }
}

fn setting(field: &'static str, value: impl ToString, expected: &'static str) -> ConfigError {
    ConfigError::Setting {
        field,
        value: value.to_string(),
        expected,
    }
}

fn check_range(
    field: &'static str,
    value: f32,
    min: f32,
    max: f32,
    expected: &'static str,
) -> Result<(), ConfigError> {
    // `contains` is false for NaN, so NaN is refused too.
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(setting(field, value, expected))
    }
}

fn in_area_range(value: f32) -> bool {
    value > 0.0 && value <= 1.0
}

fn check_area(field: &'static str, value: f32) -> Result<(), ConfigError> {
    if in_area_range(value) {
        Ok(())
    } else {
        Err(setting(
            field,
            value,
            "a fraction of the picture above 0 and at most 1 (0.001 is a 46×46 pixel object at 1080p)",
        ))
    }
}

fn check_polygon(points: &[[f32; 2]], shape: impl Fn() -> String) -> Result<(), ConfigError> {
    if points.len() < 3 {
        return Err(ConfigError::TooFewPoints {
            shape: shape(),
            got: points.len(),
        });
    }
    if points.len() > MAX_POINTS {
        return Err(ConfigError::TooManyPoints {
            shape: shape(),
            got: points.len(),
        });
    }
    for (i, &[x, y]) in points.iter().enumerate() {
        if !(0.0..=1.0).contains(&x) || !(0.0..=1.0).contains(&y) {
            return Err(ConfigError::PointOutside {
                shape: shape(),
                index: i + 1,
                x,
                y,
            });
        }
    }
    // Some point off the line through the first two distinct points.
    let p0 = points[0];
    let spread = points
        .iter()
        .find(|p| (p[0] - p0[0]).abs() > 1e-6 || (p[1] - p0[1]).abs() > 1e-6)
        .is_some_and(|p1| {
            points.iter().any(|p| {
                let cross = f64::from(p1[0] - p0[0]) * f64::from(p[1] - p0[1])
                    - f64::from(p1[1] - p0[1]) * f64::from(p[0] - p0[0]);
                cross.abs() > 1e-9
            })
        });
    if !spread {
        return Err(ConfigError::NoArea { shape: shape() });
    }
    Ok(())
}
