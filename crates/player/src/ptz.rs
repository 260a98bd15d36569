//! The PTZ controls' rules, pure (host-tested): what the operator's hands
//! hold — arrow keys, the pad's buttons, a drag on the picture, a call of
//! `ptzMove` — becomes one velocity; a held move is renewed every
//! [`RENEW_MS`] (the relay stops a camera whose move is not renewed for
//! 600 ms, so one late timer is not a stop); letting go sends one Stop.
//! Also here: keys (arrows, `+`/`-`, `1`–`9` for presets), click to centre
//! and the drag's speed.
//!
//! Why renew at 200 ms when the relay asks for 250: browsers run timers late
//! under load (a busy main thread, a throttled tab); 200 ms leaves two late
//! renewals before the relay's 600 ms dead-man stop.

/// How often a held move is sent again.
pub const RENEW_MS: f64 = 200.0;
/// A changed velocity (a drag moving on) goes at most this often: a drag
/// fires 60–120 pointer moves a second, and the relay takes 20 messages a
/// second from a socket. Starting and stopping are never held back.
pub const CHANGE_MS: f64 = 100.0;
/// Drag speeds are rounded to this step, so a steady hand sends nothing new.
const DRAG_STEP: f64 = 0.05;

/// Pan, tilt and zoom speeds, −1..1 each (pan right, tilt up, zoom in positive).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Velocity {
    pub pan: f64,
    pub tilt: f64,
    pub zoom: f64,
}

impl Velocity {
    fn clamped(self) -> Velocity {
        let c = |v: f64| {
            if v.is_finite() {
                v.clamp(-1.0, 1.0)
            } else {
                0.0
            }
        };
        Velocity {
            pan: c(self.pan),
            tilt: c(self.tilt),
            zoom: c(self.zoom),
        }
    }

    pub fn is_zero(self) -> bool {
        self.pan == 0.0 && self.tilt == 0.0 && self.zoom == 0.0
    }
}

/// Something that can be held down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Left,
    Right,
    Up,
    Down,
    ZoomIn,
    ZoomOut,
}

impl Direction {
    fn unit(self) -> Velocity {
        let (pan, tilt, zoom) = match self {
            Direction::Left => (-1.0, 0.0, 0.0),
            Direction::Right => (1.0, 0.0, 0.0),
            Direction::Up => (0.0, 1.0, 0.0),
            Direction::Down => (0.0, -1.0, 0.0),
            Direction::ZoomIn => (0.0, 0.0, 1.0),
            Direction::ZoomOut => (0.0, 0.0, -1.0),
        };
        Velocity { pan, tilt, zoom }
    }

    /// The pad's buttons are named after these (`data-dir`).
    pub fn parse(name: &str) -> Option<Direction> {
        Some(match name {
            "left" => Direction::Left,
            "right" => Direction::Right,
            "up" => Direction::Up,
            "down" => Direction::Down,
            "in" => Direction::ZoomIn,
            "out" => Direction::ZoomOut,
            _ => return None,
        })
    }
}

/// What holds a direction: a key (by its `KeyboardEvent.code`, so that its
/// release is found whatever the layout makes of it with Shift), a pad
/// button, the wheel. The same direction held by two of them lasts until
/// both let go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Key(String),
    Pad,
    Wheel,
}

/// What a key does while the player has focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Hold(Direction),
    /// The n-th preset (from 0) in the list.
    Preset(usize),
}

/// `KeyboardEvent.key` → what it does, if anything.
pub fn key(key: &str) -> Option<Key> {
    Some(match key {
        "ArrowLeft" => Key::Hold(Direction::Left),
        "ArrowRight" => Key::Hold(Direction::Right),
        "ArrowUp" => Key::Hold(Direction::Up),
        "ArrowDown" => Key::Hold(Direction::Down),
        "+" | "=" => Key::Hold(Direction::ZoomIn),
        "-" | "_" => Key::Hold(Direction::ZoomOut),
        k if k.len() == 1 => match k.as_bytes()[0] {
            b @ b'1'..=b'9' => Key::Preset(usize::from(b - b'1')),
            _ => return None,
        },
        _ => return None,
    })
}

/// A click at (`x`, `y`), fractions of the picture from its top left: the
/// relative move (in the field-of-view space) that centres that point.
pub fn centre(x: f64, y: f64) -> (f64, f64) {
    let x = x.clamp(0.0, 1.0);
    let y = y.clamp(0.0, 1.0);
    (2.0 * x - 1.0, 1.0 - 2.0 * y)
}

/// A drag by (`dx`, `dy`) fractions of the picture: full speed at a third of
/// it, scaled by the speed control. Dragging right pans right.
pub fn drag_velocity(dx: f64, dy: f64, speed: f64) -> Velocity {
    let step = |v: f64| (v / DRAG_STEP).round() * DRAG_STEP;
    let v = Velocity {
        pan: dx * 3.0 * speed,
        tilt: -dy * 3.0 * speed,
        zoom: 0.0,
    }
    .clamped();
    Velocity {
        pan: step(v.pan),
        tilt: step(v.tilt),
        zoom: 0.0,
    }
}

/// A drag shorter than this (fraction of the picture) is a click.
pub const CLICK_SLOP: f64 = 0.02;

/// What to send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Send {
    Move(Velocity),
    Stop,
}

/// What is held now, and what was last sent.
#[derive(Debug, Clone)]
pub struct Hold {
    /// The speed control, 0.1..1: scales keys and pad buttons.
    speed: f64,
    held: Vec<(Source, Direction)>,
    drag: Option<Velocity>,
    /// `ptzMove` from the page's script, until `ptzStop`.
    api: Option<Velocity>,
    /// The velocity last sent while moving, and when.
    sent: Option<(Velocity, f64)>,
}

impl Default for Hold {
    fn default() -> Self {
        Hold {
            speed: 0.5,
            held: Vec::new(),
            drag: None,
            api: None,
            sent: None,
        }
    }
}

impl Hold {
    pub fn speed(&self) -> f64 {
        self.speed
    }

    pub fn set_speed(&mut self, speed: f64) {
        if speed.is_finite() {
            self.speed = speed.clamp(0.1, 1.0);
        }
    }

    pub fn press(&mut self, source: Source, d: Direction) {
        if !self.held.contains(&(source.clone(), d)) {
            self.held.push((source, d));
        }
    }

    pub fn release(&mut self, source: &Source, d: Direction) {
        self.held.retain(|(s, h)| !(s == source && *h == d));
    }

    /// Lets go of what `source` holds (a key released, whatever it held).
    pub fn release_source(&mut self, source: &Source) {
        self.held.retain(|(s, _)| s != source);
    }

    /// Lets go of every key (a shortcut with Ctrl, Alt or Meta began: its
    /// keys' releases may never come).
    pub fn release_keys(&mut self) {
        self.held.retain(|(s, _)| !matches!(s, Source::Key(_)));
    }

    pub fn set_drag(&mut self, v: Option<Velocity>) {
        self.drag = v;
    }

    pub fn set_api(&mut self, v: Option<Velocity>) {
        self.api = v.map(Velocity::clamped);
    }

    /// Lets go of everything (pointer cancelled, focus lost, tab hidden).
    pub fn release_all(&mut self) {
        self.held.clear();
        self.drag = None;
        self.api = None;
    }

    /// The velocity of everything held together.
    pub fn velocity(&self) -> Velocity {
        let mut v = Velocity::default();
        let mut seen: Vec<Direction> = Vec::new();
        for (_, d) in &self.held {
            if seen.contains(d) {
                continue;
            }
            seen.push(*d);
            let u = d.unit();
            v.pan += u.pan * self.speed;
            v.tilt += u.tilt * self.speed;
            v.zoom += u.zoom * self.speed;
        }
        for extra in [self.drag, self.api].into_iter().flatten() {
            v.pan += extra.pan;
            v.tilt += extra.tilt;
            v.zoom += extra.zoom;
        }
        v.clamped()
    }

    /// Something is held (a timer should call [`Hold::poll`]).
    pub fn holding(&self) -> bool {
        !self.velocity().is_zero()
    }

    /// What to send at `now` (ms): the move when it changed or its renewal
    /// is due, one Stop when everything was let go; else nothing.
    pub fn poll(&mut self, now: f64) -> Option<Send> {
        let v = self.velocity();
        if v.is_zero() {
            return self.sent.take().map(|_| Send::Stop);
        }
        let due = match self.sent {
            Some((sent, at)) => (sent != v && now - at >= CHANGE_MS) || now - at >= RENEW_MS,
            None => true,
        };
        if due {
            self.sent = Some((v, now));
            return Some(Send::Move(v));
        }
        None
    }

    /// The connection dropped: what was sent is gone with it (the relay
    /// stopped the camera); a hold still going is sent afresh.
    pub fn forget_sent(&mut self) {
        self.sent = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_key_is_sent_at_once_renewed_and_stopped_once() {
        let mut h = Hold::default();
        assert_eq!(h.poll(0.0), None, "nothing held, nothing sent");
        let key = Source::Key("ArrowRight".into());
        h.press(key.clone(), Direction::Right);
        let right = Velocity {
            pan: 0.5,
            tilt: 0.0,
            zoom: 0.0,
        };
        assert_eq!(h.poll(0.0), Some(Send::Move(right)));
        assert_eq!(h.poll(100.0), None);
        assert_eq!(h.poll(199.0), None);
        assert_eq!(h.poll(200.0), Some(Send::Move(right)), "renewed");
        h.release_source(&key);
        assert_eq!(h.poll(250.0), Some(Send::Stop));
        assert_eq!(h.poll(300.0), None, "one Stop");
    }

    #[test]
    fn inputs_add_up_and_a_change_goes_soon() {
        let mut h = Hold::default();
        h.set_speed(1.0);
        h.press(Source::Pad, Direction::Right);
        h.press(Source::Key("ArrowUp".into()), Direction::Up);
        h.press(Source::Key("ArrowRight".into()), Direction::Right);
        let v = h.velocity();
        assert_eq!(
            (v.pan, v.tilt, v.zoom),
            (1.0, 1.0, 0.0),
            "right counts once"
        );
        assert!(matches!(h.poll(0.0), Some(Send::Move(_))));
        // The pad lets go; the key still holds right.
        h.release(&Source::Pad, Direction::Right);
        assert_eq!(h.velocity().pan, 1.0);
        h.press(Source::Key("ArrowLeft".into()), Direction::Left);
        assert_eq!(h.poll(10.0), None, "a change waits for CHANGE_MS");
        assert_eq!(
            h.poll(100.0),
            Some(Send::Move(Velocity {
                pan: 0.0,
                tilt: 1.0,
                zoom: 0.0
            })),
            "left and right cancel out"
        );
        h.release_keys();
        assert_eq!(h.poll(101.0), Some(Send::Stop), "a stop is never held back");
        h.set_api(Some(Velocity {
            pan: f64::NAN,
            tilt: 7.0,
            zoom: -0.25,
        }));
        assert_eq!(
            h.velocity(),
            Velocity {
                pan: 0.0,
                tilt: 1.0,
                zoom: -0.25
            }
        );
    }

    #[test]
    fn keys_clicks_and_drags() {
        assert_eq!(key("ArrowLeft"), Some(Key::Hold(Direction::Left)));
        assert_eq!(key("+"), Some(Key::Hold(Direction::ZoomIn)));
        assert_eq!(key("1"), Some(Key::Preset(0)));
        assert_eq!(key("9"), Some(Key::Preset(8)));
        assert_eq!(key("0"), None);
        assert_eq!(key("a"), None);
        assert_eq!(key("Enter"), None);
        assert_eq!(centre(0.5, 0.5), (0.0, 0.0));
        assert_eq!(centre(1.0, 0.0), (1.0, 1.0), "top right");
        assert_eq!(centre(0.25, 0.75), (-0.5, -0.5));
        let v = drag_velocity(0.1, -1.0, 0.5);
        assert!((v.pan - 0.15).abs() < 1e-9 && v.tilt == 1.0, "{v:?}");
        assert_eq!(
            drag_velocity(0.101, 0.0, 0.5),
            drag_velocity(0.099, 0.0, 0.5),
            "steps"
        );
        let mut h = Hold::default();
        h.set_speed(5.0);
        assert_eq!(h.speed(), 1.0);
        h.set_speed(f64::NAN);
        assert_eq!(h.speed(), 1.0);
    }

    #[test]
    fn after_a_reconnect_a_hold_is_sent_again() {
        let mut h = Hold::default();
        h.press(Source::Wheel, Direction::Down);
        assert!(h.poll(0.0).is_some());
        h.forget_sent();
        assert!(matches!(h.poll(50.0), Some(Send::Move(_))));
    }
}
