//! One camera's PTZ controller: a task that owns the camera's [`Rules`]
//! (lease, dead-man, coalescing), sends their commands through the
//! [`Driver`] one at a time, and publishes what sessions show
//! ([`Snapshot`], on a `watch`: every session subscribed to the camera sees
//! each change).
//!
//! Nothing here waits on the camera inline: a command's SOAP round trip
//! runs as a future beside the task's inputs, so a slow camera never delays
//! a Stop decision (the dead-man deadline fires on time and the Stop goes
//! as soon as the camera has answered the command before it) and requests
//! keep being coalesced (the latest velocity wins) while one is out.
//! Requests reach the task through a bounded queue and are answered on the
//! asker's own notice channel, never blocking the task either.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use sightline_onvif::{Camera, ClientError, PtzCamera, PtzSetup};
use sightline_wire::{PtzAction, PtzFeatures, PtzPosition, PtzPreset, PtzState};
use tokio::sync::{mpsc, watch};

use super::driver::{backoff, Driver, DriverError};
use super::head::VirtualHead;
use super::rules::{
    Command, Operator, Refusal, Request, Rules, StopReason, Target, Vector, Velocity,
};
use crate::error::{Error, ErrorKind};

/// A socket, as the controller tells them apart.
pub type SessionId = u64;

/// Requests waiting for the task; a client flooding it is told to slow down.
const INPUTS: usize = 64;
/// How long a PTZ request to the camera may take: a hung camera must not
/// hold the next Stop for the client's default 10 s.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// Position polls while the camera moves (or just moved), and otherwise.
const POLL_MOVING: Duration = Duration::from_millis(500);
const POLL_IDLE: Duration = Duration::from_secs(5);
/// How long after a positioning command the camera counts as moving.
const SETTLE: Duration = Duration::from_secs(5);
/// Presets are read again this often while someone watches (they can be
/// changed on the camera's own page too).
const PRESETS_EVERY: Duration = Duration::from_secs(60);
/// Longest preset name or token taken from a client.
pub const MAX_PRESET_LEN: usize = 64;

/// What the PTZ looks like now, for sessions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// What the camera offers; `None` while not connected.
    pub features: Option<PtzFeatures>,
    pub holder: Option<(SessionId, String)>,
    /// When the holder's lease lapses (as of the last change published).
    pub lease_until: Option<Instant>,
    pub moving: bool,
    pub presets: Vec<PtzPreset>,
    pub position: Option<PtzPosition>,
}

impl Snapshot {
    /// As session `me` sees it (`may_control`: its caller may steer).
    pub fn to_wire(&self, me: SessionId, may_control: bool) -> PtzState {
        let now = Instant::now();
        PtzState {
            holder: self.holder.as_ref().map(|(_, user)| user.clone()),
            yours: self.holder.as_ref().is_some_and(|(s, _)| *s == me),
            lease_ms: self
                .lease_until
                .map(|t| t.saturating_duration_since(now).as_millis() as u64),
            features: self.features.clone().map(|f| PtzFeatures {
                control: may_control,
                ..f
            }),
            moving: self.moving,
            presets: self.presets.clone(),
            position: self.position,
        }
    }
}

/// What a `ptz` message asks, checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Ask {
    Rules(Request),
    /// An absolute move where an axis left out stays where it is.
    Absolute {
        pan: Option<f32>,
        tilt: Option<f32>,
        zoom: Option<f32>,
    },
}

impl Ask {
    /// A wire action, checked: numbers clamped to their ranges, preset
    /// names and tokens of sane size without control characters.
    pub fn from_wire(action: PtzAction) -> Result<Ask, Error> {
        let signed = |v: f64| (v as f32).clamp(-1.0, 1.0);
        let unit = |v: f64| (v as f32).clamp(0.0, 1.0);
        let vector = |pan, tilt, zoom| Vector {
            pan: signed(pan),
            tilt: signed(tilt),
            zoom: signed(zoom),
        };
        Ok(Ask::Rules(match action {
            PtzAction::Move { pan, tilt, zoom } => Request::Move(Velocity {
                pan: signed(pan),
                tilt: signed(tilt),
                zoom: signed(zoom),
            }),
            PtzAction::Stop {} => Request::Stop,
            PtzAction::Relative {
                pan,
                tilt,
                zoom,
                fov,
            } => Request::Relative {
                vector: vector(pan, tilt, zoom),
                fov,
            },
            PtzAction::Absolute { pan, tilt, zoom } => {
                return Ok(Ask::Absolute {
                    pan: pan.map(signed),
                    tilt: tilt.map(signed),
                    zoom: zoom.map(unit),
                })
            }
            PtzAction::GotoPreset { preset } => Request::GotoPreset(text("preset", preset)?),
            PtzAction::SetPreset { name, preset } => {
                let name = text("name", name.trim().to_owned())?;
                let token = preset.map(|p| text("preset", p)).transpose()?;
                Request::SetPreset { name, token }
            }
            PtzAction::RemovePreset { preset } => Request::RemovePreset(text("preset", preset)?),
            PtzAction::Home {} => Request::Home,
            PtzAction::Take {} => Request::Take,
            PtzAction::Release {} => Request::Release,
        }))
    }
}

impl Ask {
    /// Back to the wire's words (to hand on to another relay, which checks
    /// them again with [`Ask::from_wire`]).
    pub fn to_wire(&self) -> PtzAction {
        let f = f64::from;
        match self {
            Ask::Absolute { pan, tilt, zoom } => PtzAction::Absolute {
                pan: pan.map(f),
                tilt: tilt.map(f),
                zoom: zoom.map(f),
            },
            Ask::Rules(request) => match request {
                Request::Move(v) => PtzAction::Move {
                    pan: f(v.pan),
                    tilt: f(v.tilt),
                    zoom: f(v.zoom),
                },
                Request::Stop => PtzAction::Stop {},
                Request::Relative { vector, fov } => PtzAction::Relative {
                    pan: f(vector.pan),
                    tilt: f(vector.tilt),
                    zoom: f(vector.zoom),
                    fov: *fov,
                },
                Request::Absolute(target) => PtzAction::Absolute {
                    pan: target.pan_tilt.map(|(p, _)| f(p)),
                    tilt: target.pan_tilt.map(|(_, t)| f(t)),
                    zoom: target.zoom.map(f),
                },
                Request::GotoPreset(preset) => PtzAction::GotoPreset {
                    preset: preset.clone(),
                },
                Request::SetPreset { name, token } => PtzAction::SetPreset {
                    name: name.clone(),
                    preset: token.clone(),
                },
                Request::RemovePreset(preset) => PtzAction::RemovePreset {
                    preset: preset.clone(),
                },
                Request::Home => PtzAction::Home {},
                Request::Take => PtzAction::Take {},
                Request::Release => PtzAction::Release {},
            },
        }
    }
}

/// A preset's name or token as a client gave it: what goes into the
/// camera's XML (escaped there) and onto every operator's screen.
fn text(what: &str, value: String) -> Result<String, Error> {
    if value.is_empty() || value.chars().count() > MAX_PRESET_LEN {
        return Err(Error::new(
            ErrorKind::BadRequest,
            format!("a preset {what} is 1 to {MAX_PRESET_LEN} characters"),
        ));
    }
    if value.chars().any(|c| c.is_control() || invisible(c)) {
        return Err(Error::new(
            ErrorKind::BadRequest,
            format!("a preset {what} cannot hold control or invisible formatting characters"),
        ));
    }
    Ok(value)
}

/// Format characters that change how text around them shows (bidi
/// overrides, zero-width ones): a preset name must read as what it is.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}'
        | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
}

/// An error for one request of one socket.
#[derive(Debug)]
pub struct Notice {
    pub camera: String,
    pub request: u32,
    pub error: Error,
}

/// Who asked, and where to tell them it failed.
#[derive(Debug, Clone)]
pub struct Asker {
    pub request: u32,
    pub notices: mpsc::Sender<Notice>,
}

/// What sessions hand a controller.
pub(crate) enum Input {
    Ask {
        who: Operator<SessionId>,
        ask: Ask,
        asker: Asker,
    },
    Gone(SessionId),
    /// A session started watching: read position and presets now.
    Watched,
}

/// The other end of a controller whose work is done elsewhere (the
/// camera's owner in a cluster, `cluster/ptz.rs`): what sessions ask comes
/// out of `inputs`; what they show goes into `state`.
pub(crate) struct Backend {
    pub inputs: mpsc::Receiver<Input>,
    pub state: watch::Sender<Arc<Snapshot>>,
}

/// How to reach the camera's PTZ.
pub enum Connect {
    Onvif {
        camera: Box<Camera>,
        setup: PtzSetup,
        /// `ptz = true`: missing PTZ is an error worth retrying; else
        /// (detected) a camera without PTZ is simply one without.
        required: bool,
    },
    Virtual(Arc<VirtualHead>),
}

/// What a controller has done, for `/metrics`.
#[derive(Debug, Default)]
pub struct PtzStats {
    /// Stops decided, by [`StopReason::ALL`]'s order.
    pub stops: [AtomicU64; 4],
    /// Commands sent to the camera, and those it refused or never answered.
    pub commands: AtomicU64,
    pub failures: AtomicU64,
}

/// The handle sessions use.
pub struct Controller {
    pub camera: String,
    pub stats: Arc<PtzStats>,
    inputs: mpsc::Sender<Input>,
    state: watch::Receiver<Arc<Snapshot>>,
    /// The task, for shutdown to wait for its last Stop.
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Controller {
    /// Starts the camera's controller task (until `shutdown`).
    pub fn spawn(
        camera: String,
        connect: Connect,
        lease: Duration,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<Controller> {
        Controller::spawn_counting(camera, connect, lease, shutdown, Arc::default())
    }

    /// [`Controller::spawn`], counting into `stats` (a cluster's owner
    /// counts where `/metrics` reads: its sessions' controller).
    pub fn spawn_counting(
        camera: String,
        connect: Connect,
        lease: Duration,
        shutdown: watch::Receiver<bool>,
        stats: Arc<PtzStats>,
    ) -> Arc<Controller> {
        let (inputs, rx) = mpsc::channel(INPUTS);
        let (state_tx, state) = watch::channel(Arc::new(Snapshot::default()));
        let task = Task {
            lease_slack: lease / 6,
            stats: stats.clone(),
            camera: camera.clone(),
            rules: Rules::new(true).with_lease(lease),
            state: state_tx,
            published: Snapshot::default(),
            presets: Vec::new(),
            position: None,
            settle_until: None,
            asker: None,
            flight: None,
        };
        let task = tokio::spawn(task.run(connect, rx, shutdown));
        Arc::new(Controller {
            camera,
            stats,
            inputs,
            state,
            task: std::sync::Mutex::new(Some(task)),
        })
    }

    /// A controller for sessions whose requests `Backend` carries elsewhere
    /// (sessions use it like any other).
    pub(crate) fn remote(camera: String) -> (Arc<Controller>, Backend) {
        let (inputs, rx) = mpsc::channel(INPUTS);
        let (state_tx, state) = watch::channel(Arc::new(Snapshot::default()));
        let controller = Arc::new(Controller {
            camera,
            stats: Arc::new(PtzStats::default()),
            inputs,
            state,
            task: std::sync::Mutex::new(None),
        });
        (
            controller,
            Backend {
                inputs: rx,
                state: state_tx,
            },
        )
    }

    /// Every change of what sessions show, the current one first. The
    /// controller reads the camera's position and presets only while
    /// someone watches; this wakes it to start.
    pub fn state(&self) -> watch::Receiver<Arc<Snapshot>> {
        let state = self.state.clone();
        let _ = self.inputs.try_send(Input::Watched);
        state
    }

    /// What the camera offers, once connected.
    pub fn features(&self) -> Option<PtzFeatures> {
        self.state.borrow().features.clone()
    }

    /// Hands a request to the task. Refusals and the camera's errors come
    /// back on `asker.notices`.
    pub fn ask(&self, who: Operator<SessionId>, ask: Ask, asker: Asker) -> Result<(), Error> {
        self.inputs
            .try_send(Input::Ask { who, ask, asker })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => Error::new(
                    ErrorKind::RateLimited,
                    "too many PTZ requests at once: renew a held move every 250 ms, no faster",
                ),
                mpsc::error::TrySendError::Closed(_) => {
                    Error::new(ErrorKind::Unavailable, "the relay is shutting down")
                }
            })
    }

    /// Waits for the task to end (after shutdown: its last Stop sent).
    pub async fn join(&self) {
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// `session` closed or unsubscribed: a move it holds stops now. Waits
    /// for room in the queue: this one must not be lost.
    pub async fn gone(&self, session: SessionId) {
        let _ = self.inputs.send(Input::Gone(session)).await;
    }
}

struct Task {
    /// See [`Task::publish`].
    lease_slack: Duration,
    camera: String,
    stats: Arc<PtzStats>,
    rules: Rules<SessionId>,
    state: watch::Sender<Arc<Snapshot>>,
    published: Snapshot,
    presets: Vec<PtzPreset>,
    position: Option<PtzPosition>,
    /// A positioning command was acknowledged: the camera glides until then.
    settle_until: Option<Instant>,
    /// Who asked for what is pending (told if the camera refuses it), and
    /// whether they asked for a Stop.
    asker: Option<(Asker, bool)>,
    /// Who asked for the command at the camera.
    flight: Option<Asker>,
}

/// Connected: the driver and the presets read right away (so the first
/// state sessions see lists them).
type Connecting = BoxFuture<'static, Result<(Driver, Vec<PtzPreset>), ClientError>>;
type Running = BoxFuture<'static, (Command, Result<bool, DriverError>)>;
type Polling = BoxFuture<'static, (Option<PtzPosition>, Option<Vec<PtzPreset>>)>;

/// Waits for an optional future; never, without one.
async fn maybe<T>(f: &mut Option<BoxFuture<'static, T>>) -> T {
    match f.as_mut() {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

async fn maybe_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

impl Task {
    async fn run(
        mut self,
        connect: Connect,
        mut inputs: mpsc::Receiver<Input>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let camera = self.camera.clone();
        let (onvif, head) = match connect {
            Connect::Onvif {
                camera,
                setup,
                required,
            } => (
                Some((
                    Arc::new((*camera).with_request_timeout(REQUEST_TIMEOUT)),
                    setup,
                    required,
                )),
                None,
            ),
            Connect::Virtual(head) => (None, Some(head)),
        };
        let connect_once = || -> Connecting {
            let onvif = onvif.clone();
            let head = head.clone();
            async move {
                let driver = match (onvif, head) {
                    (Some((camera, setup, _)), _) => {
                        Driver::Onvif(Box::new(PtzCamera::connect(camera, &setup).await?))
                    }
                    (None, Some(head)) => Driver::Virtual(head),
                    (None, None) => return std::future::pending().await,
                };
                let presets = driver.presets().await.unwrap_or_else(|e| {
                    tracing::info!("PTZ: cannot read the presets yet: {e}");
                    Vec::new()
                });
                Ok((driver, presets))
            }
            .boxed()
        };
        let required = onvif.as_ref().is_none_or(|(_, _, r)| *r);
        let mut driver: Option<Arc<Driver>> = None;
        let mut connecting: Option<Connecting> = Some(connect_once());
        let mut retry_at: Option<Instant> = None;
        let mut failures = 0u32;
        // Why the PTZ is not there, for requests meanwhile.
        let mut missing = "the relay is still connecting to it".to_owned();
        let mut running: Option<Running> = None;
        // A Stop sent beside a slow command (see `Rules::urgent_stop`).
        let mut urgent: Option<BoxFuture<'static, Result<bool, DriverError>>> = None;
        // A fresh position is wanted as soon as the poll in flight is done.
        let mut poll_soon = false;
        let mut polling: Option<Polling> = None;
        let mut next_poll = Instant::now();
        let mut presets_at = Instant::now() + PRESETS_EVERY;
        let mut want_presets = false;
        loop {
            let now = Instant::now();
            self.rules.tick(now);
            for reason in self.rules.take_stops() {
                if let Some(i) = StopReason::ALL.iter().position(|r| *r == reason) {
                    self.stats.stops[i].fetch_add(1, Ordering::Relaxed);
                }
                tracing::debug!(camera = %camera, reason = reason.name(), "PTZ: stop");
            }
            if let (Some(d), None) = (&driver, &running) {
                if let Some(command) = self.rules.next_command(now) {
                    // Who asked goes with the command: a refusal is theirs
                    // to hear. A Stop the rules decided (silence, a socket
                    // gone) was nobody's request.
                    self.flight = match self.asker.take() {
                        Some((asker, asked_stop)) if asked_stop || command != Command::Stop => {
                            Some(asker)
                        }
                        _ => None,
                    };
                    self.stats.commands.fetch_add(1, Ordering::Relaxed);
                    let d = d.clone();
                    running = Some(
                        async move {
                            let result = d.execute(&command).await;
                            (command, result)
                        }
                        .boxed(),
                    );
                }
            }
            if let (Some(d), Some(_), None) = (&driver, &running, &urgent) {
                if self.rules.urgent_stop(now) {
                    self.stats.commands.fetch_add(1, Ordering::Relaxed);
                    let d = d.clone();
                    urgent = Some(async move { d.execute(&Command::Stop).await }.boxed());
                }
            }
            let watched = self.state.receiver_count() > 1;
            if let (Some(d), None, true) = (&driver, &polling, watched && now >= next_poll) {
                let d = d.clone();
                poll_soon = false;
                let read_presets = want_presets || now >= presets_at;
                if read_presets {
                    presets_at = now + PRESETS_EVERY;
                    want_presets = false;
                }
                polling = Some(
                    async move {
                        let position = d.position().await.ok().flatten();
                        let presets = if read_presets {
                            match d.presets().await {
                                Ok(p) => Some(p),
                                Err(e) => {
                                    tracing::debug!("PTZ: cannot read the presets: {e}");
                                    None
                                }
                            }
                        } else {
                            None
                        };
                        (position, presets)
                    }
                    .boxed(),
                );
            }
            self.publish(driver.as_deref(), now);
            let poll_in = if self.rules.is_moving() || self.settle_until.is_some_and(|t| t > now) {
                POLL_MOVING
            } else {
                POLL_IDLE
            };
            let poll_at = (watched && driver.is_some() && polling.is_none())
                .then_some(next_poll.max(now).min(now + poll_in));
            let wake = [self.rules.next_wakeup(), retry_at, poll_at]
                .into_iter()
                .flatten()
                .min();
            tokio::select! {
                input = inputs.recv() => match input {
                    Some(Input::Ask { who, ask, asker }) => {
                        self.on_ask(driver.is_some(), &missing, who, ask, asker, Instant::now());
                    }
                    Some(Input::Gone(session)) => self.rules.gone(&session, Instant::now()),
                    Some(Input::Watched) => {
                        // The first watcher since nobody did: fresh news.
                        if !watched {
                            next_poll = Instant::now();
                            poll_soon = true;
                        }
                    }
                    None => break,
                },
                result = maybe(&mut connecting) => {
                    connecting = None;
                    match result {
                        Ok((d, presets)) => {
                            tracing::info!(camera = %camera, features = ?d.features(), "PTZ ready");
                            self.rules.set_move_timeout(d.move_timeout());
                            driver = Some(Arc::new(d));
                            failures = 0;
                            self.presets = presets;
                            presets_at = Instant::now() + PRESETS_EVERY;
                            next_poll = Instant::now();
                        }
                        Err(e @ (ClientError::NoService { .. } | ClientError::NoPtzProfile { .. }))
                            if !required =>
                        {
                            tracing::info!(camera = %camera, "no PTZ: {e}");
                            missing = "it has no PTZ the relay can drive".to_owned();
                        }
                        Err(e) => {
                            failures += 1;
                            let wait = backoff(failures - 1);
                            if failures.is_power_of_two() {
                                tracing::warn!(camera = %camera, failures, "PTZ: cannot connect, trying again in {wait:?}: {e:#}");
                            }
                            missing = "the relay cannot reach its PTZ (its log says why)".to_owned();
                            retry_at = Some(Instant::now() + wait);
                        }
                    }
                }
                (command, result) = maybe(&mut running) => {
                    running = None;
                    let now = Instant::now();
                    match self.on_answer(&command, result, now) {
                        Answer::Presets => {
                            want_presets = true;
                            next_poll = now;
                            poll_soon = true;
                        }
                        Answer::Moved => {
                            next_poll = now;
                            poll_soon = true;
                        }
                        Answer::Other => {}
                    }
                    if let Some(d) = &driver {
                        // A quirk learnt from this answer (a refused Timeout).
                        self.rules.set_move_timeout(d.move_timeout());
                    }
                }
                result = maybe(&mut urgent) => {
                    urgent = None;
                    if let Err(e) = &result {
                        self.stats.failures.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(camera = %camera, "PTZ: Stop failed, sending it again: {}", e.detail());
                    }
                    self.rules.urgent_answered(result.is_ok(), Instant::now());
                }
                (position, presets) = maybe(&mut polling) => {
                    polling = None;
                    next_poll = if poll_soon {
                        Instant::now()
                    } else {
                        Instant::now() + poll_in
                    };
                    if position.is_some() {
                        self.position = position;
                    }
                    if let Some(presets) = presets {
                        self.presets = presets;
                    }
                }
                _ = maybe_until(wake) => {
                    if retry_at.is_some_and(|t| t <= Instant::now()) {
                        retry_at = None;
                        connecting = Some(connect_once());
                    }
                }
                _ = shutdown.changed() => break,
            }
        }
        // Going away: a camera we may have set moving is stopped first.
        if self.rules.stop_owed() || self.rules.may_be_moving() {
            if let Some(d) = &driver {
                if let Some(f) = running.take() {
                    let _ = tokio::time::timeout(REQUEST_TIMEOUT, f).await;
                }
                if let Some(f) = urgent.take() {
                    let _ = tokio::time::timeout(REQUEST_TIMEOUT, f).await;
                }
                match tokio::time::timeout(REQUEST_TIMEOUT, d.execute(&Command::Stop)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        tracing::warn!(camera = %camera, "PTZ: the last Stop failed: {e}")
                    }
                    Err(_) => tracing::warn!(camera = %camera, "PTZ: the last Stop timed out"),
                }
            }
        }
    }

    fn on_ask(
        &mut self,
        connected: bool,
        missing: &str,
        who: Operator<SessionId>,
        ask: Ask,
        asker: Asker,
        now: Instant,
    ) {
        if !connected {
            let message = format!("camera {:?} cannot be steered now: {missing}", self.camera);
            return self.tell(&asker, Error::new(ErrorKind::Unavailable, message));
        }
        let request = match ask {
            Ask::Rules(request) => request,
            Ask::Absolute { pan, tilt, zoom } => {
                // Pan and tilt travel together in ONVIF: one given alone
                // takes the other from where the camera last said it was.
                let at = self.position;
                let known = |v: Option<f64>| v.map(|v| v as f32);
                let pan_tilt = match (pan, tilt) {
                    (Some(p), Some(t)) => Some((p, t)),
                    (None, None) => None,
                    (Some(p), None) if known(at.and_then(|a| a.tilt)).is_some() => {
                        Some((p, known(at.and_then(|a| a.tilt)).unwrap_or_default()))
                    }
                    (None, Some(t)) if known(at.and_then(|a| a.pan)).is_some() => {
                        Some((known(at.and_then(|a| a.pan)).unwrap_or_default(), t))
                    }
                    _ => {
                        let message =
                            "this camera does not say where it points: give pan and tilt together";
                        return self.tell(&asker, Error::new(ErrorKind::BadRequest, message));
                    }
                };
                Request::Absolute(Target { pan_tilt, zoom })
            }
        };
        let asked_stop = match &request {
            Request::Stop | Request::Release => true,
            Request::Move(v) => v.clamped().is_zero(),
            _ => false,
        };
        match self.rules.request(&who, request, now) {
            Ok(()) => self.asker = Some((asker, asked_stop)),
            Err(Refusal::HeldBy { user, may_take }) => {
                let then = if may_take {
                    "; as an admin you may take it"
                } else {
                    "; it passes once their lease lapses (after a pause in their commands), or an admin may take it"
                };
                let message = format!(
                    "control of camera {:?} is held by {user}{then}",
                    self.camera
                );
                self.tell(&asker, Error::new(ErrorKind::Conflict, message));
            }
        }
    }

    fn on_answer(
        &mut self,
        command: &Command,
        result: Result<bool, DriverError>,
        now: Instant,
    ) -> Answer {
        let flight = self.flight.take();
        match result {
            Ok(presets_changed) => {
                self.rules.answered(true, now);
                if presets_changed {
                    return Answer::Presets;
                }
                match command {
                    Command::Relative { .. }
                    | Command::Absolute(_)
                    | Command::GotoPreset(_)
                    | Command::Home => {
                        self.settle_until = Some(now + SETTLE);
                        Answer::Moved
                    }
                    Command::Move(_) | Command::Stop => Answer::Moved,
                    _ => Answer::Other,
                }
            }
            Err(e) => {
                self.stats.failures.fetch_add(1, Ordering::Relaxed);
                self.rules.answered(false, now);
                let detail = e.detail();
                if *command == Command::Stop {
                    tracing::warn!(camera = %self.camera, "PTZ: Stop failed, sending it again: {detail}");
                } else {
                    tracing::info!(camera = %self.camera, ?command, "PTZ: {detail}");
                }
                if let Some(asker) = flight {
                    let kind = match e {
                        DriverError::Refused(_) => ErrorKind::CameraRefused,
                        DriverError::Failed(_) => ErrorKind::Unavailable,
                    };
                    let message = format!("camera {:?}: {e}", self.camera);
                    self.tell(&asker, Error::new(kind, message));
                }
                Answer::Other
            }
        }
    }

    /// Tells one socket its request failed (dropped if its queue is full:
    /// a client that reads nothing cannot slow the controller).
    fn tell(&self, asker: &Asker, error: Error) {
        let _ = asker.notices.try_send(Notice {
            camera: self.camera.clone(),
            request: asker.request,
            error,
        });
    }

    /// Publishes what changed. The lease's end moves with every renewal (4
    /// a second while a move is held): that alone is published only when
    /// it moved by more than a sixth of the lease, so watchers are not
    /// flooded and a countdown shown from `lease_ms` is never far off.
    fn publish(&mut self, driver: Option<&Driver>, now: Instant) {
        let holder = self
            .rules
            .holder(now)
            .map(|h| ((h.session, h.user.clone()), h.until));
        let next = Snapshot {
            features: driver.map(Driver::features),
            holder: holder.as_ref().map(|(h, _)| h.clone()),
            lease_until: holder.map(|(_, until)| until),
            moving: self.rules.is_moving(),
            presets: self.presets.clone(),
            position: self.position,
        };
        let lease_moved = match (next.lease_until, self.published.lease_until) {
            (Some(new), Some(old)) => new.saturating_duration_since(old) > self.lease_slack,
            (new, old) => new.is_some() != old.is_some(),
        };
        let others_changed = Snapshot {
            lease_until: self.published.lease_until,
            ..next.clone()
        } != self.published;
        if lease_moved || others_changed {
            self.published = next.clone();
            self.state.send_replace(Arc::new(next));
        }
    }
}

/// What an answered command calls for.
enum Answer {
    /// The presets changed: read them again.
    Presets,
    /// The camera moves: read where it points soon.
    Moved,
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_actions_are_checked_and_clamped() {
        let ask = Ask::from_wire(PtzAction::Move {
            pan: 1e39,
            tilt: -3.0,
            zoom: 0.25,
        })
        .unwrap();
        assert_eq!(
            ask,
            Ask::Rules(Request::Move(Velocity {
                pan: 1.0,
                tilt: -1.0,
                zoom: 0.25
            }))
        );
        let ask = Ask::from_wire(PtzAction::Absolute {
            pan: None,
            tilt: Some(2.0),
            zoom: Some(-1.0),
        })
        .unwrap();
        assert_eq!(
            ask,
            Ask::Absolute {
                pan: None,
                tilt: Some(1.0),
                zoom: Some(0.0)
            }
        );
        let name = |name: &str| {
            Ask::from_wire(PtzAction::SetPreset {
                name: name.into(),
                preset: None,
            })
        };
        assert!(name("  Gate  ").is_ok_and(|a| a
            == Ask::Rules(Request::SetPreset {
                name: "Gate".into(),
                token: None
            })));
        for bad in [
            "",
            "   ",
            "a\nb",
            "\u{1b}[31m",
            &"x".repeat(65),
            "Gate\u{202e}1",
            "a\u{200b}b",
        ] {
            let e = name(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BadRequest, "{bad:?}");
        }
        assert!(name(&"é".repeat(64)).is_ok(), "64 characters, not bytes");
        let e = Ask::from_wire(PtzAction::GotoPreset {
            preset: "1\u{0}".into(),
        })
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadRequest);
    }

    fn operator(session: SessionId, user: &str, admin: bool) -> Operator<SessionId> {
        Operator {
            session,
            user: user.into(),
            admin,
        }
    }

    /// A controller of a virtual head, and a notice channel.
    async fn virtual_controller() -> (
        Arc<Controller>,
        Arc<VirtualHead>,
        mpsc::Receiver<Notice>,
        Asker,
        watch::Sender<bool>,
    ) {
        let head = Arc::new(VirtualHead::default());
        let (stop, shutdown) = watch::channel(false);
        let controller = Controller::spawn(
            "demo".into(),
            Connect::Virtual(head.clone()),
            Duration::from_secs(30),
            shutdown,
        );
        let mut state = controller.state();
        state
            .wait_for(|s| s.features.is_some())
            .await
            .expect("connected");
        let (tx, rx) = mpsc::channel(8);
        let asker = Asker {
            request: 1,
            notices: tx,
        };
        (controller, head, rx, asker, stop)
    }

    #[tokio::test]
    async fn a_move_nobody_renews_stops_the_head() {
        let (controller, head, _notices, asker, _stop) = virtual_controller().await;
        let mut state = controller.state();
        let move_right = Ask::Rules(Request::Move(Velocity {
            pan: 1.0,
            tilt: 0.0,
            zoom: 0.0,
        }));
        let sent = Instant::now();
        controller
            .ask(operator(1, "olga", false), move_right, asker)
            .unwrap();
        state.wait_for(|s| s.moving).await.unwrap();
        state.wait_for(|s| !s.moving).await.unwrap();
        let after = sent.elapsed();
        assert!(
            after >= super::super::rules::DEAD_MAN,
            "stopped after {after:?}, before the dead-man deadline"
        );
        // The Stop goes to the head right after the decision (the head has
        // no event to await: look until it stands, for a second at most).
        for _ in 0..200 {
            if !head.moving(Instant::now()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let stopped_at = head.view(Instant::now());
        // Pan runs at 0.5 a second: stopped by the relay near 0.3, by the
        // head's own 1 s Timeout at 0.5.
        assert!(
            stopped_at.pan > 0.0 && stopped_at.pan < 0.45,
            "stopped at {stopped_at:?}"
        );
        // Stopped for good: its Timeout would have let it run for 1 s.
        let later = Instant::now() + Duration::from_secs(2);
        assert_eq!(head.view(later), stopped_at);
    }

    #[tokio::test]
    async fn a_second_operator_is_told_who_holds_control() {
        let (controller, _head, mut notices, asker, _stop) = virtual_controller().await;
        let mut state = controller.state();
        controller
            .ask(
                operator(1, "olga", false),
                Ask::Rules(Request::Home),
                asker.clone(),
            )
            .unwrap();
        state
            .wait_for(|s| s.holder.as_ref().is_some_and(|(_, u)| u == "olga"))
            .await
            .unwrap();
        controller
            .ask(
                operator(2, "oscar", false),
                Ask::Rules(Request::Home),
                Asker {
                    request: 9,
                    ..asker.clone()
                },
            )
            .unwrap();
        let notice = notices.recv().await.unwrap();
        assert_eq!(notice.request, 9);
        assert_eq!(notice.error.kind(), ErrorKind::Conflict);
        assert!(notice.error.message().contains("held by olga"));
        // An unknown preset: the head's refusal, to whoever asked.
        controller
            .ask(
                operator(1, "olga", false),
                Ask::Rules(Request::GotoPreset("nope".into())),
                Asker {
                    request: 10,
                    ..asker
                },
            )
            .unwrap();
        let notice = notices.recv().await.unwrap();
        assert_eq!(notice.request, 10);
        assert_eq!(notice.error.kind(), ErrorKind::CameraRefused);
        assert!(
            notice.error.message().contains("no preset"),
            "{}",
            notice.error.message()
        );
    }
}
