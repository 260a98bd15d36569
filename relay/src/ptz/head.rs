//! The demo camera's virtual PTZ head, pure: where it points (pan and tilt
//! −1..1 across its range, zoom 0..1) as the integral of the commanded
//! velocity, with limits, positioning moves that glide to their target,
//! presets and a move `Timeout` like a real camera's. The demo encoder reads
//! [`VirtualHead::view`] for every frame and shows that window of a larger
//! scene (see `ingest/demo/scene.rs`), so `cargo xtask run` shows PTZ
//! working with no camera, and tests can watch the picture move.
//!
//! Speeds: at velocity 1 pan sweeps its whole range (−1..1) in 4 s and zoom
//! goes from wide to 4× in 2 s: slow enough to follow by eye, fast enough
//! that a test sees the picture shift within a few frames.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::rules::{Vector, Velocity};

/// Range units per second at velocity 1 (pan and tilt).
const PAN_SPEED: f32 = 0.5;
/// Zoom units (0..1) per second at velocity 1.
const ZOOM_SPEED: f32 = 0.5;
/// Range units per second of a positioning move (preset, home, absolute).
const GLIDE: f32 = 1.0;
/// Magnification at full zoom.
pub const MAX_MAGNIFICATION: f32 = 4.0;
/// Presets the head keeps at most (a real camera has a fixed number too).
pub const MAX_PRESETS: usize = 64;

/// Where the head points.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct View {
    pub pan: f32,
    pub tilt: f32,
    pub zoom: f32,
}

impl View {
    /// The share of the world's width (and height) the picture shows: half
    /// of it wide open, an eighth at full zoom.
    pub fn window(self) -> f32 {
        0.5 / (1.0 + (MAX_MAGNIFICATION - 1.0) * self.zoom)
    }

    /// The window's centre in the world, 0..1 each way (pan right: x grows;
    /// tilt up: y shrinks, rows counting down).
    pub fn centre(self) -> (f32, f32) {
        let half = self.window() / 2.0;
        (
            0.5 + self.pan * (0.5 - half),
            0.5 - self.tilt * (0.5 - half),
        )
    }

    fn clamped(self) -> View {
        let c = |v: f32, lo: f32| if v.is_nan() { 0.0 } else { v.clamp(lo, 1.0) };
        View {
            pan: c(self.pan, -1.0),
            tilt: c(self.tilt, -1.0),
            zoom: c(self.zoom, 0.0),
        }
    }
}

/// Why the head refused a command (as a camera's fault would say it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("no preset {0:?}")]
    NoPreset(String),
    #[error("all {MAX_PRESETS} presets are in use: remove one first")]
    PresetsFull,
}

#[derive(Debug)]
struct State {
    at: View,
    /// When `at` was last brought up to date.
    at_time: Instant,
    velocity: Velocity,
    /// The continuous move's end (its `Timeout`), if it has one.
    until: Option<Instant>,
    /// A positioning move's destination.
    target: Option<View>,
    presets: Vec<(String, String, View)>,
    next_token: u32,
    home: View,
}

impl State {
    fn advance(&mut self, now: Instant) {
        let end = match self.until {
            Some(until) => now.min(until),
            None => now,
        };
        let dt = end.saturating_duration_since(self.at_time).as_secs_f32();
        if let Some(target) = self.target {
            let step = |from: f32, to: f32| {
                let d = to - from;
                if d.abs() <= GLIDE * dt {
                    to
                } else {
                    from + GLIDE * dt * d.signum()
                }
            };
            self.at = View {
                pan: step(self.at.pan, target.pan),
                tilt: step(self.at.tilt, target.tilt),
                zoom: step(self.at.zoom, target.zoom),
            };
            if self.at == target {
                self.target = None;
            }
        } else {
            self.at = View {
                pan: self.at.pan + self.velocity.pan * PAN_SPEED * dt,
                tilt: self.at.tilt + self.velocity.tilt * PAN_SPEED * dt,
                zoom: self.at.zoom + self.velocity.zoom * ZOOM_SPEED * dt,
            }
            .clamped();
        }
        if self.until.is_some_and(|until| until <= now) {
            self.velocity = Velocity::default();
            self.until = None;
        }
        self.at_time = now.max(self.at_time);
    }

    fn glide_to(&mut self, target: View) {
        self.velocity = Velocity::default();
        self.until = None;
        self.target = Some(target.clamped());
    }
}

/// A virtual PTZ head, shared by the encoder thread and the PTZ controller.
#[derive(Debug)]
pub struct VirtualHead {
    state: Mutex<State>,
}

impl Default for VirtualHead {
    fn default() -> Self {
        VirtualHead::new(Instant::now())
    }
}

impl VirtualHead {
    /// A head at home (centre, wide) with two presets, as of `now`.
    pub fn new(now: Instant) -> VirtualHead {
        let preset = |token: &str, name: &str, pan, tilt, zoom| {
            (token.to_owned(), name.to_owned(), View { pan, tilt, zoom })
        };
        VirtualHead {
            state: Mutex::new(State {
                at: View::default(),
                at_time: now,
                velocity: Velocity::default(),
                until: None,
                target: None,
                presets: vec![
                    preset("1", "Gate", -0.8, 0.5, 0.5),
                    preset("2", "Yard", 0.7, -0.6, 0.3),
                ],
                next_token: 3,
                home: View::default(),
            }),
        }
    }

    fn with<T>(&self, now: Instant, f: impl FnOnce(&mut State) -> T) -> T {
        // A poisoned lock only means a panic elsewhere mid-update; the state
        // is plain numbers, still usable.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.advance(now);
        f(&mut state)
    }

    /// Where it points at `now`.
    pub fn view(&self, now: Instant) -> View {
        self.with(now, |s| s.at)
    }

    /// A continuous move is going (or a positioning move gliding).
    pub fn moving(&self, now: Instant) -> bool {
        self.with(now, |s| !s.velocity.is_zero() || s.target.is_some())
    }

    /// ContinuousMove: `velocity` (−1..1 each) until `timeout`, if given.
    pub fn continuous(&self, velocity: Velocity, timeout: Option<Duration>, now: Instant) {
        self.with(now, |s| {
            s.target = None;
            s.velocity = velocity.clamped();
            s.until = timeout.map(|t| now + t);
        })
    }

    pub fn stop(&self, now: Instant) {
        self.with(now, |s| {
            s.velocity = Velocity::default();
            s.until = None;
            s.target = None;
        })
    }

    /// RelativeMove by `by`; `fov`: pan/tilt in fractions of the picture
    /// (±1: its edge), zoom always in range units.
    pub fn relative(&self, by: Vector, fov: bool, now: Instant) {
        self.with(now, |s| {
            let from = s.target.unwrap_or(s.at);
            let (pan, tilt) = if fov {
                // The picture's half width in pan units at this zoom.
                let half = from.window() / 2.0;
                let per_pan = (0.5 - half).max(f32::EPSILON);
                (by.pan * half / per_pan, by.tilt * half / per_pan)
            } else {
                (by.pan, by.tilt)
            };
            s.glide_to(View {
                pan: from.pan + pan,
                tilt: from.tilt + tilt,
                zoom: from.zoom + by.zoom,
            });
        })
    }

    /// AbsoluteMove; an axis not given stays.
    pub fn absolute(&self, pan: Option<f32>, tilt: Option<f32>, zoom: Option<f32>, now: Instant) {
        self.with(now, |s| {
            let from = s.at;
            s.glide_to(View {
                pan: pan.unwrap_or(from.pan),
                tilt: tilt.unwrap_or(from.tilt),
                zoom: zoom.unwrap_or(from.zoom),
            });
        })
    }

    pub fn home(&self, now: Instant) {
        self.with(now, |s| {
            let home = s.home;
            s.glide_to(home)
        })
    }

    pub fn goto_preset(&self, token: &str, now: Instant) -> Result<(), HeadError> {
        self.with(now, |s| {
            let view = s
                .presets
                .iter()
                .find(|(t, _, _)| t == token)
                .map(|(_, _, v)| *v)
                .ok_or_else(|| HeadError::NoPreset(token.to_owned()))?;
            s.glide_to(view);
            Ok(())
        })
    }

    /// Saves where it points as `name` (over `token` if given): the token.
    pub fn set_preset(
        &self,
        name: &str,
        token: Option<&str>,
        now: Instant,
    ) -> Result<String, HeadError> {
        self.with(now, |s| {
            let at = s.at;
            if let Some(token) = token {
                let preset = s
                    .presets
                    .iter_mut()
                    .find(|(t, _, _)| t == token)
                    .ok_or_else(|| HeadError::NoPreset(token.to_owned()))?;
                preset.1 = name.to_owned();
                preset.2 = at;
                return Ok(token.to_owned());
            }
            if s.presets.len() >= MAX_PRESETS {
                return Err(HeadError::PresetsFull);
            }
            let token = s.next_token.to_string();
            s.next_token += 1;
            s.presets.push((token.clone(), name.to_owned(), at));
            Ok(token)
        })
    }

    pub fn remove_preset(&self, token: &str, now: Instant) -> Result<(), HeadError> {
        self.with(now, |s| {
            let before = s.presets.len();
            s.presets.retain(|(t, _, _)| t != token);
            if s.presets.len() == before {
                return Err(HeadError::NoPreset(token.to_owned()));
            }
            Ok(())
        })
    }

    /// (token, name) of each preset.
    pub fn presets(&self) -> Vec<(String, String)> {
        self.with(Instant::now(), |s| {
            s.presets
                .iter()
                .map(|(t, n, _)| (t.clone(), n.clone()))
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn right(pan: f32) -> Velocity {
        Velocity {
            pan,
            tilt: 0.0,
            zoom: 0.0,
        }
    }

    #[test]
    fn position_is_the_integral_of_velocity_within_limits() {
        let t0 = Instant::now();
        let head = VirtualHead::new(t0);
        head.continuous(right(1.0), None, t0);
        let v = head.view(t0 + 1000 * MS);
        assert!((v.pan - 0.5).abs() < 1e-4, "{v:?}");
        head.continuous(right(-0.5), None, t0 + 1000 * MS);
        let v = head.view(t0 + 2000 * MS);
        assert!((v.pan - 0.25).abs() < 1e-4, "{v:?}");
        // Held long enough, it stops at the end of its range.
        head.continuous(right(1.0), None, t0 + 2000 * MS);
        assert_eq!(head.view(t0 + 60_000 * MS).pan, 1.0);
        // Zoom stays within 0..1.
        head.continuous(
            Velocity {
                zoom: -1.0,
                ..Velocity::default()
            },
            None,
            t0 + 60_000 * MS,
        );
        assert_eq!(head.view(t0 + 70_000 * MS).zoom, 0.0);
    }

    #[test]
    fn a_move_ends_at_its_timeout_and_at_stop() {
        let t0 = Instant::now();
        let head = VirtualHead::new(t0);
        head.continuous(right(1.0), Some(1000 * MS), t0);
        assert!(head.moving(t0 + 999 * MS));
        let at_timeout = head.view(t0 + 5000 * MS);
        assert!((at_timeout.pan - 0.5).abs() < 1e-4, "{at_timeout:?}");
        assert!(!head.moving(t0 + 5000 * MS));

        head.continuous(right(1.0), None, t0 + 5000 * MS);
        head.stop(t0 + 5200 * MS);
        let stopped = head.view(t0 + 5200 * MS);
        assert_eq!(head.view(t0 + 9000 * MS), stopped);
        assert!(!head.moving(t0 + 9000 * MS));
    }

    #[test]
    fn presets_are_saved_recalled_renamed_and_removed() {
        let t0 = Instant::now();
        let head = VirtualHead::new(t0);
        head.continuous(right(1.0), None, t0);
        head.stop(t0 + 600 * MS);
        let saved = head.view(t0 + 600 * MS);
        let token = head.set_preset("Door", None, t0 + 600 * MS).unwrap();
        head.home(t0 + 700 * MS);
        assert_eq!(head.view(t0 + 5000 * MS), View::default());
        head.goto_preset(&token, t0 + 5000 * MS).unwrap();
        assert!(head.moving(t0 + 5000 * MS), "it glides there");
        assert_eq!(head.view(t0 + 9000 * MS), saved);
        head.set_preset("Front door", Some(&token), t0 + 9000 * MS)
            .unwrap();
        assert!(head
            .presets()
            .contains(&(token.clone(), "Front door".to_owned())));
        head.remove_preset(&token, t0 + 9000 * MS).unwrap();
        assert_eq!(
            head.goto_preset(&token, t0 + 9000 * MS),
            Err(HeadError::NoPreset(token.clone()))
        );
        assert!(head.remove_preset("nope", t0).is_err());
    }

    #[test]
    fn a_click_at_the_edge_moves_the_view_by_half_a_picture() {
        let t0 = Instant::now();
        let head = VirtualHead::new(t0);
        let before = head.view(t0);
        head.relative(
            Vector {
                pan: 1.0,
                tilt: 0.0,
                zoom: 0.0,
            },
            true,
            t0,
        );
        let after = head.view(t0 + 10_000 * MS);
        let (x0, _) = before.centre();
        let (x1, _) = after.centre();
        // The picture's right edge is now its centre.
        assert!(
            ((x1 - x0) - before.window() / 2.0).abs() < 1e-4,
            "{x0} → {x1}"
        );
    }

    #[test]
    fn the_window_stays_inside_the_world() {
        for pan in [-1.0, 0.0, 1.0] {
            for zoom in [0.0, 0.5, 1.0] {
                let v = View {
                    pan,
                    tilt: -pan,
                    zoom,
                };
                let (x, y) = v.centre();
                let half = v.window() / 2.0;
                assert!(x - half >= -1e-6 && x + half <= 1.0 + 1e-6, "{v:?}");
                assert!(y - half >= -1e-6 && y + half <= 1.0 + 1e-6, "{v:?}");
            }
        }
    }
}
