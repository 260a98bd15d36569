//! The rules of one camera's PTZ, pure: who holds control (the lease), how
//! long a continuous move may last without the operator renewing it (the
//! dead-man rule), and which command goes to the camera next (coalesced:
//! the latest velocity wins, nothing queues behind a slow camera; a Stop is
//! retried until the camera acknowledges it). Time comes in as `Instant`s and
//! the I/O (the camera's SOAP calls, the sockets) lives in `controller.rs`,
//! so every rule is tested here on a made-up clock.
//!
//! Why these numbers: operators' clients renew a held move every
//! [`RENEW_EVERY`] (250 ms); the relay stops the camera after [`DEAD_MAN`]
//! (600 ms) of silence, so two lost renewals are tolerated and a dead
//! client's camera stops well within the 1 s the issue allows. Each move
//! also carries an ONVIF `Timeout` of [`MOVE_TIMEOUT`] (where the camera
//! takes one) and is re-sent at half of it while held: if the relay itself
//! dies, the camera stops by itself within a second.

use std::time::{Duration, Instant};

/// How long control stays with an operator after their last command.
pub const LEASE: Duration = Duration::from_secs(30);
/// How often a client renews a held continuous move.
pub const RENEW_EVERY: Duration = Duration::from_millis(250);
/// Silence after which a continuous move is stopped.
pub const DEAD_MAN: Duration = Duration::from_millis(600);
/// The ONVIF `Timeout` sent with each continuous move (cameras that take one).
pub const MOVE_TIMEOUT: Duration = Duration::from_secs(1);
/// First wait before a failed Stop is sent again; doubles up to [`STOP_RETRY_MAX`].
pub const STOP_RETRY: Duration = Duration::from_millis(100);
pub const STOP_RETRY_MAX: Duration = Duration::from_secs(2);

/// Pan, tilt and zoom speeds, each in −1..1 (the camera's generic speed
/// space; scaled to its own range when sent).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Velocity {
    pub pan: f32,
    pub tilt: f32,
    pub zoom: f32,
}

impl Velocity {
    /// Clamped to −1..1; NaN becomes 0 (a peer's numbers are not trusted).
    pub fn clamped(self) -> Velocity {
        let c = |v: f32| if v.is_nan() { 0.0 } else { v.clamp(-1.0, 1.0) };
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

/// A pan/tilt/zoom vector for relative and absolute moves, −1..1 each
/// (relative: a fraction of the range, or of the field of view when `fov`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Vector {
    pub pan: f32,
    pub tilt: f32,
    pub zoom: f32,
}

/// Where an absolute move goes: pan/tilt −1..1 across the range, zoom
/// 0..1; an axis left out stays where it is.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Target {
    pub pan_tilt: Option<(f32, f32)>,
    pub zoom: Option<f32>,
}

/// What an operator asks.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Start (or renew, or change) a continuous move.
    Move(Velocity),
    Stop,
    /// Move by `vector`; `fov`: in the field-of-view space (click to centre).
    Relative {
        vector: Vector,
        fov: bool,
    },
    Absolute(Target),
    GotoPreset(String),
    /// Save the current position under `name` (replacing `token` if given).
    SetPreset {
        name: String,
        token: Option<String>,
    },
    RemovePreset(String),
    Home,
    /// Take control (admins from anyone; operators once the lease lapsed).
    Take,
    /// Give control back.
    Release,
}

/// A command for the camera, the next one [`Rules::next_command`] gives.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Move(Velocity),
    Stop,
    Relative { vector: Vector, fov: bool },
    Absolute(Target),
    GotoPreset(String),
    SetPreset { name: String, token: Option<String> },
    RemovePreset(String),
    Home,
}

/// Who asks: their socket, user name and whether they may override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator<S> {
    pub session: S,
    pub user: String,
    pub admin: bool,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Someone else holds control; `may_take`: the asker (an admin) could take it.
    HeldBy { user: String, may_take: bool },
}

/// The lease as sessions see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder<S> {
    pub session: S,
    pub user: String,
    /// When it lapses unless renewed by a command.
    pub until: Instant,
}

/// Why a stop was decided (for logs and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    Asked,
    /// Renewals stopped for [`DEAD_MAN`].
    Silence,
    /// The holder's socket closed, or it unsubscribed from the camera.
    Gone,
    /// Another operator took control mid-move.
    TakenOver,
}

impl StopReason {
    pub const ALL: [StopReason; 4] = [
        StopReason::Asked,
        StopReason::Silence,
        StopReason::Gone,
        StopReason::TakenOver,
    ];

    /// The metric label.
    pub fn name(self) -> &'static str {
        match self {
            StopReason::Asked => "asked",
            StopReason::Silence => "silence",
            StopReason::Gone => "gone",
            StopReason::TakenOver => "taken_over",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Motion {
    Idle,
    /// A continuous move held by the lease holder, renewed at `renewed`.
    Moving {
        velocity: Velocity,
        renewed: Instant,
    },
}

/// One camera's PTZ state.
#[derive(Debug)]
pub struct Rules<S> {
    holder: Option<Holder<S>>,
    motion: Motion,
    /// A Stop is owed to the camera, to be sent at this time (now, or a
    /// failed one's retry). It goes before anything pending.
    stop_at: Option<Instant>,
    stop_retry: Duration,
    /// The next other command to send (coalesced: a newer one replaces it).
    pending: Option<Command>,
    /// A command is at the camera; nothing else goes until it answers
    /// (but an urgent Stop).
    in_flight: Option<Command>,
    /// A Stop sent beside the command in flight ([`Rules::urgent_stop`]):
    /// a Stop never waits for a slow camera's answer to a move.
    urgent: bool,
    /// When a continuous move was last sent (re-sent before its Timeout ends).
    move_sent: Option<Instant>,
    /// Whether the camera takes a Timeout with moves (else no refresh needed).
    move_timeout: bool,
    /// A continuous move went to the camera and nothing has ended it since
    /// (an acknowledged Stop, or a positioning command that replaced it):
    /// whatever else happens, a Stop is owed before this is forgotten.
    move_live: bool,
    /// How long control stays with an operator after their last command.
    lease: Duration,
    pub last_stop: Option<StopReason>,
    /// Stops decided since [`Rules::take_stops`] last asked (for metrics).
    decided: Vec<StopReason>,
}

impl<S: Clone + PartialEq> Rules<S> {
    /// `move_timeout`: the camera accepts a `Timeout` on ContinuousMove (then
    /// held moves are re-sent before it ends).
    pub fn new(move_timeout: bool) -> Rules<S> {
        Rules {
            holder: None,
            motion: Motion::Idle,
            stop_at: None,
            stop_retry: STOP_RETRY,
            pending: None,
            in_flight: None,
            urgent: false,
            move_sent: None,
            move_timeout,
            move_live: false,
            lease: LEASE,
            last_stop: None,
            decided: Vec::new(),
        }
    }

    /// Control lasts `lease` after the holder's last command ([`LEASE`] by default).
    pub fn with_lease(mut self, lease: Duration) -> Rules<S> {
        self.lease = lease;
        self
    }

    /// Whether moves carry a `Timeout` (learnt when a camera refuses one:
    /// then a held move is no longer re-sent before it ends).
    pub fn set_move_timeout(&mut self, move_timeout: bool) {
        self.move_timeout = move_timeout;
    }

    /// The current holder, if their lease has not lapsed at `now`.
    pub fn holder(&self, now: Instant) -> Option<&Holder<S>> {
        self.holder.as_ref().filter(|h| h.until > now)
    }

    pub fn is_moving(&self) -> bool {
        matches!(self.motion, Motion::Moving { .. })
    }

    /// The camera may be moving by a continuous move of ours (held, or sent
    /// and not yet ended by an acknowledged Stop or positioning).
    pub fn may_be_moving(&self) -> bool {
        self.is_moving() || self.move_live
    }

    /// An operator's request at `now`: refused when someone else holds
    /// control, else applied (the lease renewed).
    pub fn request(
        &mut self,
        who: &Operator<S>,
        request: Request,
        now: Instant,
    ) -> Result<(), Refusal> {
        let current = self.holder(now).cloned();
        if let Some(h) = &current {
            let other_user = h.session != who.session && h.user != who.user;
            if other_user && !(request == Request::Take && who.admin) {
                return Err(Refusal::HeldBy {
                    user: h.user.clone(),
                    may_take: who.admin,
                });
            }
        }
        // Control changes hands (an admin's take, the same user on another
        // socket, a lapsed lease): a move the old socket held is not the new
        // one's to keep.
        let changes_hands = self
            .holder
            .as_ref()
            .is_some_and(|h| h.session != who.session);
        if changes_hands && self.may_be_moving() {
            self.stop(StopReason::TakenOver, now);
        }
        if request == Request::Release {
            if self.may_be_moving() {
                self.stop(StopReason::Asked, now);
            }
            self.holder = None;
            return Ok(());
        }
        self.holder = Some(Holder {
            session: who.session.clone(),
            user: who.user.clone(),
            until: now + self.lease,
        });
        match request {
            Request::Move(v) => {
                let v = v.clamped();
                if v.is_zero() {
                    self.stop(StopReason::Asked, now);
                    return Ok(());
                }
                let same = matches!(self.motion, Motion::Moving { velocity, .. } if velocity == v);
                self.motion = Motion::Moving {
                    velocity: v,
                    renewed: now,
                };
                // A renewal of the same velocity sends nothing (unless the
                // Timeout needs refreshing, see `tick`). A new velocity
                // replaces whatever was not sent yet, a Stop included: the
                // holder's latest decision wins.
                if !same {
                    self.stop_at = None;
                    self.pending = Some(Command::Move(v));
                }
            }
            Request::Stop => self.stop(StopReason::Asked, now),
            Request::Relative { vector, fov } => self.position(Command::Relative { vector, fov }),
            Request::Absolute(v) => self.position(Command::Absolute(v)),
            Request::GotoPreset(t) => self.position(Command::GotoPreset(t)),
            Request::Home => self.position(Command::Home),
            // Saving or removing a preset leaves a move going: the
            // dead-man rule keeps watching it.
            Request::SetPreset { name, token } => {
                self.pending = Some(Command::SetPreset { name, token })
            }
            Request::RemovePreset(t) => self.pending = Some(Command::RemovePreset(t)),
            Request::Take | Request::Release => {}
        }
        Ok(())
    }

    /// A positioning command: it replaces a continuous move in progress (the
    /// camera replaces one movement with the next); a Stop already owed
    /// still goes first, and one is owed if the camera refuses this one
    /// while a move of ours may be going (see [`Rules::answered`]).
    fn position(&mut self, command: Command) {
        self.motion = Motion::Idle;
        self.move_sent = None;
        self.pending = Some(command);
    }

    fn stop(&mut self, reason: StopReason, now: Instant) {
        self.motion = Motion::Idle;
        self.move_sent = None;
        self.pending = None;
        self.stop_at = Some(now);
        self.stop_retry = STOP_RETRY;
        self.last_stop = Some(reason);
        if self.decided.len() < 16 {
            self.decided.push(reason);
        }
    }

    /// `session` closed its socket or unsubscribed from this camera: a move it
    /// held stops at once and it loses control.
    pub fn gone(&mut self, session: &S, now: Instant) {
        if self.holder.as_ref().is_some_and(|h| h.session == *session) {
            if self.may_be_moving() {
                self.stop(StopReason::Gone, now);
            }
            self.holder = None;
        }
    }

    /// Time went by: the dead-man rule, the Timeout refresh and lapsed leases.
    /// Returns true when what sessions see changed (a stop, a lapsed lease).
    pub fn tick(&mut self, now: Instant) -> bool {
        let mut changed = false;
        if let Motion::Moving { renewed, .. } = self.motion {
            if now.saturating_duration_since(renewed) >= DEAD_MAN {
                self.stop(StopReason::Silence, now);
                changed = true;
            }
        }
        if let Motion::Moving { velocity, .. } = self.motion {
            let stale = self
                .move_sent
                .is_some_and(|sent| now.saturating_duration_since(sent) >= MOVE_TIMEOUT / 2);
            if self.move_timeout && stale && self.pending.is_none() && self.in_flight.is_none() {
                self.pending = Some(Command::Move(velocity));
            }
        }
        if self.holder.as_ref().is_some_and(|h| h.until <= now) {
            self.holder = None;
            changed = true;
        }
        changed
    }

    /// The command to send now, if any: none while one is at the camera; an
    /// owed Stop first, and nothing else while it waits for its retry.
    pub fn next_command(&mut self, now: Instant) -> Option<Command> {
        if self.in_flight.is_some() {
            return None;
        }
        let command = match self.stop_at {
            Some(at) if at <= now => {
                self.stop_at = None;
                Command::Stop
            }
            Some(_) => return None,
            None => self.pending.take()?,
        };
        if matches!(command, Command::Move(_)) {
            self.move_sent = Some(now);
            self.move_live = true;
        }
        self.in_flight = Some(command.clone());
        Some(command)
    }

    /// A Stop is due while another command is at the camera: true when it
    /// should go now, beside it, as an urgent Stop (answered through
    /// [`Rules::urgent_answered`]).
    pub fn urgent_stop(&mut self, now: Instant) -> bool {
        let busy = matches!(&self.in_flight, Some(c) if *c != Command::Stop);
        if busy && !self.urgent && self.stop_at.is_some_and(|at| at <= now) {
            self.stop_at = None;
            self.urgent = true;
            return true;
        }
        false
    }

    /// The camera answered the urgent Stop.
    pub fn urgent_answered(&mut self, ok: bool, now: Instant) {
        self.urgent = false;
        if ok {
            self.stop_retry = STOP_RETRY;
            // The command still in flight may start something again when it
            // lands: `answered` owes another Stop then.
            if self.in_flight.is_none() {
                self.move_live = false;
            }
        } else if self.stop_at.is_none() && !matches!(self.pending, Some(Command::Move(_))) {
            self.stop_at = Some(now + self.stop_retry);
            self.stop_retry = (self.stop_retry * 2).min(STOP_RETRY_MAX);
        }
    }

    /// The camera answered the command in flight (`ok`: it acknowledged it).
    pub fn answered(&mut self, ok: bool, now: Instant) {
        let Some(command) = self.in_flight.take() else {
            return;
        };
        let positions = matches!(
            command,
            Command::Relative { .. }
                | Command::Absolute(_)
                | Command::GotoPreset(_)
                | Command::Home
        );
        match command {
            Command::Stop if ok => {
                self.stop_retry = STOP_RETRY;
                // Nothing was sent while the Stop was out: no move of ours
                // is going.
                self.move_live = false;
            }
            Command::Stop => {
                // Again later, unless the holder has moved on to a new move
                // (or a newer Stop is owed already).
                let superseded = matches!(self.pending, Some(Command::Move(_)));
                if !superseded && self.stop_at.is_none() {
                    self.stop_at = Some(now + self.stop_retry);
                    self.stop_retry = (self.stop_retry * 2).min(STOP_RETRY_MAX);
                }
            }
            // A move landed that nobody holds any more (a Stop was decided,
            // and may even have been acknowledged, while it was out): the
            // camera may be moving by it, so stop it again.
            Command::Move(_)
                if ok
                    && !self.is_moving()
                    && self.stop_at.is_none()
                    && !matches!(self.pending, Some(Command::Move(_))) =>
            {
                let positioning = matches!(
                    self.pending,
                    Some(
                        Command::Relative { .. }
                            | Command::Absolute(_)
                            | Command::GotoPreset(_)
                            | Command::Home
                    )
                );
                if !positioning {
                    self.stop_at = Some(now);
                    self.stop_retry = STOP_RETRY;
                }
            }
            // A refused move may leave the previous one going. With a newer
            // move waiting, that one replaces it (and the dead-man rule keeps
            // watching it); else stop. A renewal sends the move again.
            Command::Move(_) if !ok => {
                self.move_sent = None;
                if !matches!(self.pending, Some(Command::Move(_))) {
                    self.motion = Motion::Idle;
                    if self.stop_at.is_none() {
                        self.stop_at = Some(now);
                        self.stop_retry = STOP_RETRY;
                    }
                }
            }
            // The camera replaced the move with this positioning.
            _ if positions && ok && !matches!(self.pending, Some(Command::Move(_))) => {
                self.move_live = false;
            }
            _ if positions && ok => {}
            // Refused: a move of ours may still be going.
            _ if positions && self.move_live && self.stop_at.is_none() && !self.is_moving() => {
                self.stop_at = Some(now);
                self.stop_retry = STOP_RETRY;
            }
            _ => {}
        }
    }

    /// The stops decided since the last call, with why.
    pub fn take_stops(&mut self) -> Vec<StopReason> {
        std::mem::take(&mut self.decided)
    }

    /// A Stop has been decided and not yet acknowledged.
    pub fn stop_owed(&self) -> bool {
        self.stop_at.is_some() || matches!(self.in_flight, Some(Command::Stop))
    }

    /// When [`Rules::tick`] or [`Rules::next_command`] next has work: the
    /// dead-man deadline, the Timeout refresh, a Stop retry, the lease's end.
    pub fn next_wakeup(&self) -> Option<Instant> {
        let mut times = Vec::new();
        if let Motion::Moving { renewed, .. } = self.motion {
            times.push(renewed + DEAD_MAN);
            // While a command is at the camera the refresh waits for its
            // answer (which wakes the controller anyway): a time already
            // past would only spin it.
            if self.move_timeout && self.in_flight.is_none() {
                if let Some(sent) = self.move_sent {
                    times.push(sent + MOVE_TIMEOUT / 2);
                }
            }
        }
        // A Stop's time, unless a Stop is already at the camera (its answer
        // wakes the controller anyway: a time already past would spin it).
        let stop_out = matches!(self.in_flight, Some(Command::Stop)) || self.urgent;
        if !stop_out {
            if let Some(at) = self.stop_at {
                times.push(at);
            }
        }
        if let Some(h) = &self.holder {
            times.push(h.until);
        }
        times.into_iter().min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(session: u32, user: &str) -> Operator<u32> {
        Operator {
            session,
            user: user.into(),
            admin: false,
        }
    }

    fn admin(session: u32, user: &str) -> Operator<u32> {
        Operator {
            admin: true,
            ..op(session, user)
        }
    }

    fn right() -> Velocity {
        Velocity {
            pan: 0.5,
            tilt: 0.0,
            zoom: 0.0,
        }
    }

    /// Sends what is pending and says the camera acknowledged it.
    fn drain(rules: &mut Rules<u32>, now: Instant) -> Vec<Command> {
        let mut sent = Vec::new();
        while let Some(c) = rules.next_command(now) {
            sent.push(c);
            rules.answered(true, now);
        }
        sent
    }

    #[test]
    fn a_held_move_stops_when_renewals_stop() {
        let t0 = Instant::now();
        let mut r = Rules::new(false);
        let alice = op(1, "alice");
        r.request(&alice, Request::Move(right()), t0).unwrap();
        assert_eq!(drain(&mut r, t0), vec![Command::Move(right())]);
        // Renewed every 250 ms: nothing more is sent, it keeps moving.
        for i in 1..=8 {
            let t = t0 + RENEW_EVERY * i;
            r.tick(t);
            r.request(&alice, Request::Move(right()), t).unwrap();
            assert!(drain(&mut r, t).is_empty(), "renewal {i}");
            assert!(r.is_moving());
        }
        let last = t0 + RENEW_EVERY * 8;
        assert_eq!(r.next_wakeup(), Some(last + DEAD_MAN));
        // Silence: just under the limit nothing happens, at it a Stop.
        assert!(!r.tick(last + DEAD_MAN - Duration::from_millis(1)));
        assert!(r.tick(last + DEAD_MAN));
        assert_eq!(drain(&mut r, last + DEAD_MAN), vec![Command::Stop]);
        assert_eq!(r.last_stop, Some(StopReason::Silence));
        assert!(!r.is_moving() && !r.stop_owed());
    }

    #[test]
    fn the_holder_leaving_stops_the_camera_and_frees_control() {
        let t0 = Instant::now();
        let mut r = Rules::new(false);
        r.request(&op(1, "alice"), Request::Move(right()), t0)
            .unwrap();
        drain(&mut r, t0);
        // Someone else leaving changes nothing.
        r.gone(&2, t0);
        assert!(r.is_moving());
        r.gone(&1, t0);
        assert_eq!(drain(&mut r, t0), vec![Command::Stop]);
        assert_eq!(r.last_stop, Some(StopReason::Gone));
        assert!(r.holder(t0).is_none());
    }

    #[test]
    fn a_stop_does_not_wait_for_a_slow_cameras_answer_to_a_move() {
        let t0 = Instant::now();
        let mut r = Rules::new(false);
        let alice = op(1, "alice");
        r.request(&alice, Request::Move(right()), t0).unwrap();
        assert_eq!(r.next_command(t0), Some(Command::Move(right())));
        // The camera is slow to answer; the operator lets go.
        let t1 = t0 + Duration::from_millis(100);
        r.request(&alice, Request::Stop, t1).unwrap();
        assert_eq!(r.next_command(t1), None, "one command at a time…");
        assert!(r.urgent_stop(t1), "…but a Stop goes beside it");
        assert!(!r.urgent_stop(t1), "once");
        assert_eq!(
            r.next_wakeup(),
            Some(t1 + LEASE),
            "no past wakeup while it is out"
        );
        // The Stop is acknowledged first, then the move lands: the camera
        // may have taken them in either order, so it is stopped again.
        r.urgent_answered(true, t1);
        r.answered(true, t1 + Duration::from_millis(500));
        assert_eq!(
            drain(&mut r, t1 + Duration::from_millis(500)),
            vec![Command::Stop]
        );
        assert!(!r.stop_owed() && !r.may_be_moving());
    }

    #[test]
    fn a_failed_urgent_stop_is_retried() {
        let t0 = Instant::now();
        let mut r = Rules::new(false);
        let alice = op(1, "alice");
        r.request(&alice, Request::Move(right()), t0).unwrap();
        r.next_command(t0);
        r.gone(&1, t0);
        assert!(r.urgent_stop(t0));
        r.urgent_answered(false, t0);
        assert!(r.stop_owed());
        // The move answers; the retry is due after its wait.
        r.answered(true, t0);
        assert_eq!(r.next_command(t0), None);
        let at = r.next_wakeup().unwrap();
        assert_eq!(at, t0 + STOP_RETRY);
        assert_eq!(r.next_command(at), Some(Command::Stop));
    }

    #[test]
    fn a_failed_stop_is_retried_with_backoff_until_acknowledged() {
        let t0 = Instant::now();
        let mut r = Rules::new(false);
        let alice = op(1, "alice");
        r.request(&alice, Request::Move(right()), t0).unwrap();
        drain(&mut r, t0);
        r.request(&alice, Request::Stop, t0).unwrap();
        let mut t = t0;
        let mut waits = Vec::new();
        for _ in 0..6 {
            assert_eq!(r.next_command(t), Some(Command::Stop));
            r.answered(false, t);
            assert!(r.stop_owed());
            let at = r.next_wakeup().expect("a retry is due");
            assert_eq!(r.next_command(at - Duration::from_millis(1)), None);
            waits.push(at - t);
            t = at;
        }
        assert_eq!(
            waits,
            [100, 200, 400, 800, 1600, 2000].map(Duration::from_millis)
        );
        assert_eq!(r.next_command(t), Some(Command::Stop));
        r.answered(true, t);
        assert!(!r.stop_owed());
        assert_eq!(r.next_command(t + STOP_RETRY_MAX), None);
    }

    #[test]
    fn the_latest_velocity_wins_and_nothing_queues_behind_a_slow_camera() {
        let t0 = Instant::now();
        let mut r = Rules::new(false);
        let alice = op(1, "alice");
        r.request(&alice, Request::Move(right()), t0).unwrap();
        assert_eq!(r.next_command(t0), Some(Command::Move(right())));
        // The camera is slow: three changes arrive meanwhile, nothing is sent.
        for pan in [0.1, 0.2, 0.3] {
            let v = Velocity { pan, ..right() };
            r.request(&alice, Request::Move(v), t0).unwrap();
            assert_eq!(r.next_command(t0), None);
        }
        r.answered(true, t0);
        // Only the latest goes.
        let latest = Velocity {
            pan: 0.3,
            ..right()
        };
        assert_eq!(drain(&mut r, t0), vec![Command::Move(latest)]);
        // A stop replaces a move that has not gone yet.
        r.request(&alice, Request::Move(right()), t0).unwrap();
        r.request(&alice, Request::Stop, t0).unwrap();
        assert_eq!(drain(&mut r, t0), vec![Command::Stop]);
        // A zero velocity is a stop; out-of-range and NaN speeds are clamped.
        r.request(&alice, Request::Move(Velocity::default()), t0)
            .unwrap();
        assert_eq!(drain(&mut r, t0), vec![Command::Stop]);
        let wild = Velocity {
            pan: 7.0,
            tilt: f32::NAN,
            zoom: -3.0,
        };
        r.request(&alice, Request::Move(wild), t0).unwrap();
        assert_eq!(
            drain(&mut r, t0),
            vec![Command::Move(Velocity {
                pan: 1.0,
                tilt: 0.0,
                zoom: -1.0
            })]
        );
    }

    #[test]
    fn held_moves_are_resent_before_the_camera_timeout_ends() {
        let t0 = Instant::now();
        let mut r = Rules::new(true);
        let alice = op(1, "alice");
        r.request(&alice, Request::Move(right()), t0).unwrap();
        assert_eq!(drain(&mut r, t0).len(), 1);
        let mut resent = 0;
        for i in 1..=8 {
            let t = t0 + RENEW_EVERY * i;
            r.request(&alice, Request::Move(right()), t).unwrap();
            r.tick(t);
            resent += drain(&mut r, t).len();
        }
        // 2 s of holding with a 1 s Timeout: re-sent every 500 ms.
        assert_eq!(resent, 4);
    }

    #[test]
    fn one_operator_at_a_time_until_the_lease_lapses_or_an_admin_takes_it() {
        let t0 = Instant::now();
        let mut r = Rules::new(false);
        let (alice, bob, carol) = (op(1, "alice"), op(2, "bob"), admin(3, "carol"));
        r.request(&alice, Request::GotoPreset("1".into()), t0)
            .unwrap();
        assert_eq!(
            r.request(&bob, Request::Move(right()), t0),
            Err(Refusal::HeldBy {
                user: "alice".into(),
                may_take: false
            })
        );
        assert_eq!(
            r.request(&bob, Request::Take, t0),
            Err(Refusal::HeldBy {
                user: "alice".into(),
                may_take: false
            })
        );
        // An admin must take explicitly; a move alone is refused.
        assert_eq!(
            r.request(&carol, Request::Move(right()), t0),
            Err(Refusal::HeldBy {
                user: "alice".into(),
                may_take: true
            })
        );
        // Alice's commands renew her lease.
        let t1 = t0 + LEASE - Duration::from_secs(1);
        r.request(&alice, Request::Move(right()), t1).unwrap();
        drain(&mut r, t1);
        assert_eq!(r.holder(t1).map(|h| h.until), Some(t1 + LEASE));
        // Carol takes over mid-move: alice's move stops.
        r.request(&carol, Request::Take, t1).unwrap();
        assert_eq!(drain(&mut r, t1), vec![Command::Stop]);
        assert_eq!(r.last_stop, Some(StopReason::TakenOver));
        assert_eq!(r.holder(t1).map(|h| h.user.as_str()), Some("carol"));
        assert!(r.request(&alice, Request::Move(right()), t1).is_err());
        // Carol's lease lapses: bob may move (no take needed), and the
        // lapse is reported by tick.
        let t2 = t1 + LEASE;
        assert!(r.tick(t2));
        r.request(&bob, Request::Move(right()), t2).unwrap();
        assert_eq!(r.holder(t2).map(|h| h.user.as_str()), Some("bob"));
        // Release: control is free and the move stops (the move not yet
        // sent is dropped: the Stop replaces it).
        r.request(&bob, Request::Release, t2).unwrap();
        assert!(r.holder(t2).is_none());
        assert_eq!(drain(&mut r, t2), vec![Command::Stop]);
    }

    #[test]
    fn the_same_user_on_another_socket_continues_but_does_not_inherit_a_move() {
        let t0 = Instant::now();
        let mut r = Rules::new(false);
        r.request(&op(1, "alice"), Request::Move(right()), t0)
            .unwrap();
        drain(&mut r, t0);
        r.request(&op(2, "alice"), Request::GotoPreset("2".into()), t0)
            .unwrap();
        assert_eq!(
            drain(&mut r, t0),
            vec![Command::Stop, Command::GotoPreset("2".into())]
        );
        // The first socket closing no longer affects the camera.
        r.gone(&1, t0);
        assert_eq!(r.holder(t0).map(|h| h.session), Some(2));
    }

    #[test]
    fn a_refused_move_leaves_the_camera_stopped() {
        let t0 = Instant::now();
        let mut r = Rules::new(false);
        let alice = op(1, "alice");
        r.request(&alice, Request::Move(right()), t0).unwrap();
        drain(&mut r, t0);
        let faster = Velocity {
            pan: 1.0,
            ..right()
        };
        r.request(&alice, Request::Move(faster), t0).unwrap();
        assert_eq!(r.next_command(t0), Some(Command::Move(faster)));
        r.answered(false, t0);
        assert!(r.stop_owed());
        assert_eq!(drain(&mut r, t0), vec![Command::Stop]);
        // The next renewal tries the move again.
        r.request(&alice, Request::Move(faster), t0).unwrap();
        assert_eq!(drain(&mut r, t0), vec![Command::Move(faster)]);
    }

    #[test]
    fn saving_a_preset_mid_move_keeps_the_dead_man_rule() {
        let t0 = Instant::now();
        let mut r = Rules::new(false);
        let alice = op(1, "alice");
        r.request(&alice, Request::Move(right()), t0).unwrap();
        drain(&mut r, t0);
        r.request(
            &alice,
            Request::SetPreset {
                name: "x".into(),
                token: None,
            },
            t0,
        )
        .unwrap();
        drain(&mut r, t0);
        assert!(r.is_moving());
        r.gone(&1, t0);
        assert_eq!(drain(&mut r, t0), vec![Command::Stop]);
    }

    #[test]
    fn a_refused_positioning_mid_move_owes_a_stop() {
        let t0 = Instant::now();
        let mut r = Rules::new(false);
        let alice = op(1, "alice");
        r.request(&alice, Request::Move(right()), t0).unwrap();
        drain(&mut r, t0);
        r.request(&alice, Request::GotoPreset("gone".into()), t0)
            .unwrap();
        assert_eq!(r.next_command(t0), Some(Command::GotoPreset("gone".into())));
        r.answered(false, t0);
        assert!(r.stop_owed());
        assert_eq!(drain(&mut r, t0), vec![Command::Stop]);
        // Acknowledged positioning ends the move: leaving owes nothing.
        r.request(&alice, Request::Move(right()), t0).unwrap();
        drain(&mut r, t0);
        r.request(&alice, Request::Home, t0).unwrap();
        drain(&mut r, t0);
        r.gone(&1, t0);
        assert!(drain(&mut r, t0).is_empty());
    }

    #[test]
    fn a_newer_move_after_a_refused_one_is_still_watched() {
        let t0 = Instant::now();
        let mut r = Rules::new(true);
        let alice = op(1, "alice");
        r.request(&alice, Request::Move(right()), t0).unwrap();
        assert_eq!(r.next_command(t0), Some(Command::Move(right())));
        let faster = Velocity {
            pan: 1.0,
            ..right()
        };
        r.request(&alice, Request::Move(faster), t0).unwrap();
        r.answered(false, t0);
        assert_eq!(drain(&mut r, t0), vec![Command::Move(faster)]);
        assert!(r.is_moving());
        // The client dies: the dead-man rule stops it.
        assert!(r.tick(t0 + DEAD_MAN));
        assert_eq!(drain(&mut r, t0 + DEAD_MAN), vec![Command::Stop]);
        // A move slow to be answered: the wake-up is the dead-man deadline,
        // not the Timeout refresh already due (which would spin the loop).
        let t1 = t0 + DEAD_MAN;
        r.request(&alice, Request::Move(right()), t1).unwrap();
        assert_eq!(r.next_command(t1), Some(Command::Move(right())));
        assert_eq!(r.next_wakeup(), Some(t1 + DEAD_MAN));
    }

    #[test]
    fn a_positioning_command_replaces_a_continuous_move() {
        let t0 = Instant::now();
        let mut r = Rules::new(false);
        let alice = op(1, "alice");
        r.request(&alice, Request::Move(right()), t0).unwrap();
        drain(&mut r, t0);
        r.request(&alice, Request::Home, t0).unwrap();
        assert!(!r.is_moving());
        assert_eq!(drain(&mut r, t0), vec![Command::Home]);
        // No dead-man stop later: nothing continuous is going.
        assert!(!r.tick(t0 + DEAD_MAN * 2));
        assert!(drain(&mut r, t0 + DEAD_MAN * 2).is_empty());
    }
}
