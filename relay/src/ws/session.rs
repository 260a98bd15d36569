//! One WebSocket session: the handshake, control messages from the player, and
//! the per-viewer end of the fan-out (lag → skip to the next keyframe).
//!
//! A session is one task. It multiplexes every camera the player subscribed to
//! onto the socket; a slow socket slows only this task, whose ring receivers then
//! lag (see `hub.rs`) — memory stays bounded and other viewers are unaffected.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self, Stream, StreamExt};
use sightline_wire::{
    AlertEvent, AudioConfig, ClientMessage, FrameFlags, MediaHeader, PtzAction, ServerMessage,
    Stream as Which, Ticket, WhoAmI, PROTOCOL_VERSION,
};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::{BroadcastStream, WatchStream};
use tokio_stream::StreamMap;

use super::socket::{Message, ReadError, Socket};
use crate::alerts::{AlertChange, Alerts};
use crate::auth::policy::{self, WsAccess};
use crate::auth::{Auth, Caller, Via};
use crate::error::{Error, ErrorKind};
use crate::http::{visible_cameras, AppState};
use crate::hub::{AudioPacket, Feed, Frame, Hub, Params, StatusChange};
use crate::ptz::controller::{Ask, Asker, Notice, Snapshot};
use crate::ptz::rules::Operator;
use crate::ptz::{Ptz, SessionId};

/// How long a new socket may take to say `hello`.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Keeps idle proxies from closing the socket.
const PING_INTERVAL: Duration = Duration::from_secs(20);
/// A viewer whose socket accepts nothing for this long is gone; close it.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a socket's access is re-checked even if nothing changed.
const RECHECK_INTERVAL: Duration = Duration::from_secs(30);
/// A socket whose access cannot be checked (the database unreadable) is
/// given the benefit of the doubt this long — a busy or briefly locked
/// database must not drop every viewer — and is then closed: access that
/// cannot be confirmed is not kept forever.
const RECHECK_GRACE: Duration = Duration::from_secs(120);
/// How long a session's last words (a close frame) may take to go out.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// The reason of the close (1009) for a message over [`super::socket::MAX_MESSAGE`].
const TOO_BIG: &str = "message too big: the relay takes messages of at most 64 KiB";

/// PTZ errors waiting for this socket (a refusal, the camera's fault).
const PTZ_NOTICES: usize = 16;
/// `ptz` messages a socket may send: this many a second, in bursts of
/// [`PTZ_BURST`]. A held move is renewed 5 times a second; a client that
/// sends far more is refused rather than filling the camera's queue.
const PTZ_RATE: f64 = 20.0;
const PTZ_BURST: f64 = 40.0;

/// Tells sockets apart for the PTZ lease.
static NEXT_SESSION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

type FrameStream = Pin<Box<dyn Stream<Item = Result<Frame, BroadcastStreamRecvError>> + Send>>;

/// Why a session ended, for the log.
#[derive(Debug, thiserror::Error)]
enum End {
    #[error("viewer closed the socket")]
    Closed,
    #[error("reading from the viewer: {0}")]
    Read(#[from] ReadError),
    #[error("cannot write to the viewer: {0}")]
    Write(#[from] std::io::Error),
    #[error("viewer accepted nothing for {0:?}")]
    Stalled(Duration),
    #[error("{0}")]
    Refused(String),
    #[error("relay shutting down")]
    Shutdown,
    #[error("access revoked")]
    Revoked,
    #[error("fell behind the alerts")]
    AlertsLagged,
}

/// What a session writes to its socket.
enum Out {
    Text(String),
    Binary(Bytes),
    Ping,
    /// Only what the protocol owes the viewer (a pong).
    Replies,
}

/// This viewer's state for one subscribed camera.
struct Viewer {
    feed: Arc<Feed>,
    /// The parameters this viewer's decoder was last given.
    params: Option<Arc<Params>>,
    /// Fell behind: drop frames until the next keyframe.
    skipping: bool,
    /// The audio config this socket was last told for the camera.
    audio_told: Option<Arc<AudioConfig>>,
    /// The viewer's decoder starts at the next keyframe (subscribed, or
    /// skipped to it after falling behind).
    starting: bool,
    /// Decoding (re)started at an H.265 CRA: its RASL pictures, which
    /// reference frames this viewer never got, are not sent.
    dropping_rasl: bool,
}

/// Runs one session to its end.
pub async fn run(socket: Socket, state: AppState, peer: SocketAddr, access: WsAccess) {
    let AppState {
        hub,
        auth,
        alerts,
        ptz,
        shutdown,
    } = state;
    let _open = hub.session_opened();
    let (notices_tx, notices) = mpsc::channel(PTZ_NOTICES);
    let status_changes = hub.subscribe_statuses();
    let mut session = Session {
        id: NEXT_SESSION.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        hub,
        ptz,
        ptz_states: StreamMap::new(),
        notices_tx,
        notices,
        ptz_used: Default::default(),
        ptz_tokens: (PTZ_BURST, tokio::time::Instant::now()),
        revision: auth.watch(),
        auth,
        access,
        caller: None,
        socket,
        viewers: HashMap::new(),
        frames: StreamMap::new(),
        audio_frames: StreamMap::new(),
        status_changes,
        alert_changes: alerts.subscribe(),
        alerts,
        dropped: 0,
        unchecked_since: None,
    };
    let end = session.serve(shutdown).await;
    // A camera this socket was steering stops now (the dead-man rule's
    // "socket closed"), before anything else is said.
    session.leave_ptz().await;
    let dropped = session.dropped;
    match &end {
        End::Closed | End::Shutdown => tracing::debug!(%peer, dropped, "session ended: {end}"),
        _ => tracing::info!(%peer, dropped, "session ended: {end}"),
    }
    let reason = match end {
        End::Shutdown => Some((1001, "relay shutting down")),
        End::Refused(_) => Some((1002, "protocol error")),
        // Policy violation: the client should sign in again or get a new ticket.
        End::Revoked => Some((1008, "access revoked")),
        // The player reconnects and is sent the active alerts afresh: what
        // it missed may include ends, which a re-sent active set cannot say.
        End::AlertsLagged => Some((1013, "fell behind the alerts: reconnect")),
        End::Read(ReadError::Capacity(_)) => Some((1009, TOO_BIG)),
        _ => None,
    };
    // The rest of an oversized message is still coming: read and drop it
    // until the peer closes, or the kernel would answer it with a reset that
    // can destroy the close frame before the peer reads it.
    let linger = reason.is_some_and(|(code, _)| code == 1009);
    let bye = async {
        match reason {
            Some((code, reason)) if linger => {
                session.socket.close(code, reason).await?;
                session.socket.drain_until_closed().await;
                Ok(())
            }
            Some((code, reason)) => session.socket.close(code, reason).await,
            // Answers the viewer's own close, if that is how it ended.
            None => session.socket.write_replies().await,
        }
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, bye).await;
}

struct Session {
    /// This socket, for the PTZ lease.
    id: SessionId,
    hub: Arc<Hub>,
    ptz: Arc<Ptz>,
    /// PTZ state of subscribed cameras that have PTZ, by channel.
    ptz_states: StreamMap<u16, WatchStream<Arc<Snapshot>>>,
    notices_tx: mpsc::Sender<Notice>,
    notices: mpsc::Receiver<Notice>,
    /// Cameras this socket sent `ptz` for: told when it leaves them.
    ptz_used: std::collections::HashSet<String>,
    /// The `ptz` rate limit's tokens, as of when.
    ptz_tokens: (f64, tokio::time::Instant),
    auth: Arc<Auth>,
    /// What the upgrade request proved (cookie, origin).
    access: WsAccess,
    /// Who this socket belongs to, from `hello` on.
    caller: Option<Caller>,
    /// Moves when access may have been taken away somewhere.
    revision: watch::Receiver<i64>,
    socket: Socket,
    viewers: HashMap<u16, Viewer>,
    frames: StreamMap<u16, FrameStream>,
    /// Audio of the subscribed cameras whose audio this socket turned on.
    audio_frames: StreamMap<u16, BroadcastStream<AudioPacket>>,
    /// Every camera's status changes (subscribed when the session began, so
    /// none between `welcome`'s reading and the first change is lost); those
    /// of cameras this caller may see go out, watched or not: a paused tile
    /// shows its camera's real state, and the page counts cameras online
    /// without subscribing to them.
    status_changes: broadcast::Receiver<Arc<StatusChange>>,
    alerts: Arc<Alerts>,
    /// Every alert change; only those of cameras this caller may see go out.
    alert_changes: broadcast::Receiver<Arc<AlertChange>>,
    /// Frames this viewer missed by falling behind (logged when the session ends).
    dropped: u64,
    /// Since when re-checks of this socket's access have failed.
    unchecked_since: Option<tokio::time::Instant>,
}

impl Session {
    async fn serve(&mut self, mut shutdown: watch::Receiver<bool>) -> End {
        match tokio::time::timeout(HELLO_TIMEOUT, self.handshake()).await {
            Ok(Ok(())) => {}
            Ok(Err(end)) => return end,
            Err(_) => return End::Refused(format!("no hello within {HELLO_TIMEOUT:?}")),
        }
        // A ticket's socket ends when the ticket does; the player comes back
        // with a fresh one (fast start: a fraction of a second).
        let ticket_end = self.ticket_end();
        let expired =
            tokio::time::sleep_until(ticket_end.unwrap_or_else(|| {
                tokio::time::Instant::now() + Duration::from_secs(86_400 * 365)
            }));
        tokio::pin!(expired);
        let mut ping = tokio::time::interval(PING_INTERVAL);
        ping.reset();
        // Besides every revision change: what expires by itself (a share
        // link, a session) is caught within this.
        let mut recheck = tokio::time::interval(RECHECK_INTERVAL);
        recheck.reset();
        // Made once: a new `changed()` on every turn of the loop (every frame)
        // would register and unregister a waiter each time.
        let shutdown = shutdown.changed();
        tokio::pin!(shutdown);
        loop {
            let step = tokio::select! {
                msg = self.socket.recv() => match msg {
                    None => Err(End::Closed),
                    Some(Err(e)) => Err(End::Read(e)),
                    Some(Ok(msg)) => self.on_message(msg).await,
                },
                Some((channel, item)) = self.frames.next(), if !self.frames.is_empty() => {
                    self.on_frame(channel, item).await
                }
                Some((channel, item)) = self.audio_frames.next(), if !self.audio_frames.is_empty() => {
                    self.on_audio(channel, item).await
                }
                change = self.status_changes.recv(), if self.caller.is_some() => {
                    self.on_status(change).await
                }
                change = self.alert_changes.recv() => self.on_alert(change).await,
                Some((channel, state)) = self.ptz_states.next(), if !self.ptz_states.is_empty() => {
                    self.on_ptz_state(channel, state).await
                }
                Some(notice) = self.notices.recv() => {
                    self.send_error(notice.error, Some(notice.request)).await
                }
                _ = ping.tick() => self.send(Out::Ping).await,
                Ok(()) = self.revision.changed(), if self.auth.enabled() => self.recheck().await,
                _ = recheck.tick(), if self.auth.enabled() => self.recheck().await,
                _ = &mut expired, if ticket_end.is_some() => {
                    let message = "the ticket expired: reconnect with a fresh one";
                    match self.send_error(Error::new(ErrorKind::Unauthenticated, message), None).await {
                        Ok(()) => Err(End::Revoked),
                        Err(end) => Err(end),
                    }
                }
                _ = &mut shutdown => Err(End::Shutdown),
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    /// Waits for `hello`, checks the version, answers `welcome`.
    async fn handshake(&mut self) -> Result<(), End> {
        loop {
            let text = match self.socket.recv().await {
                None => return Err(End::Closed),
                Some(Err(e)) => return Err(End::Read(e)),
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(_))) => return Err(End::Closed),
                Some(Ok(_)) => continue,
            };
            match ClientMessage::parse(&text) {
                Ok(ClientMessage::Hello {
                    protocol, ticket, ..
                }) if protocol == PROTOCOL_VERSION => {
                    let caller = match self.authenticate(ticket).await {
                        Ok(caller) => caller,
                        Err(refusal) => {
                            let message = refusal.message().to_owned();
                            self.send_error(refusal, None).await?;
                            return Err(End::Refused(message));
                        }
                    };
                    tracing::Span::current().record("user", caller.name.as_str());
                    let cameras = visible_cameras(&self.hub, &self.ptz, &caller);
                    let user = self.auth.enabled().then(|| WhoAmI {
                        name: caller.name.clone(),
                        role: caller.role.to_string(),
                    });
                    self.caller = Some(caller);
                    self.send_json(&ServerMessage::Welcome {
                        protocol: PROTOCOL_VERSION,
                        user,
                        cameras,
                    })
                    .await?;
                    // Changes from here on are in `alert_changes` (subscribed
                    // when the session began): an alert may arrive twice, as
                    // active and as a change; players key them by id.
                    return self.send_active_alerts().await;
                }
                Ok(ClientMessage::Hello { protocol, .. }) => {
                    let message = format!(
                        "this relay speaks protocol {PROTOCOL_VERSION}, the client {protocol}; reload the page or update the player"
                    );
                    self.send_error(
                        Error::new(ErrorKind::ProtocolMismatch, message.clone()),
                        None,
                    )
                    .await?;
                    return Err(End::Refused(message));
                }
                Ok(_) => {
                    self.send_error(Error::new(ErrorKind::BadRequest, "say hello first"), None)
                        .await?
                }
                Err(e) => {
                    self.send_error(Error::new(ErrorKind::BadRequest, e.to_string()), None)
                        .await?
                }
            }
        }
    }

    /// Who says `hello`: the ticket's bearer, else the page's signed-in user.
    async fn authenticate(&mut self, ticket: Option<Ticket>) -> Result<Caller, Error> {
        if let Some(ticket) = ticket {
            return self
                .auth
                .ticket_caller(&ticket.0, self.access.origin.as_deref())
                .await;
        }
        self.access.caller.clone().ok_or_else(|| {
            Error::new(
                ErrorKind::Unauthenticated,
                "who is this? Sign in on the relay's page, or pass a ticket in hello (embeds, kiosks, share links)",
            )
        })
    }

    /// When this socket's ticket expires, if it came with one.
    fn ticket_end(&self) -> Option<tokio::time::Instant> {
        let Some(Caller {
            via: Via::Ticket { claims, .. },
            ..
        }) = &self.caller
        else {
            return None;
        };
        let left = claims
            .exp
            .saturating_sub(sightline_store::unix_now())
            .max(0);
        Some(tokio::time::Instant::now() + Duration::from_secs(left.unsigned_abs()))
    }

    /// Access may have been taken away: ends the session if this caller's was.
    async fn recheck(&mut self) -> Result<(), End> {
        let Some(caller) = &self.caller else {
            return Ok(());
        };
        match self.auth.still_valid(caller).await {
            Ok(true) => {
                self.unchecked_since = None;
                Ok(())
            }
            Ok(false) => {
                tracing::info!("access revoked: closing the socket");
                let message = "your access was revoked or changed: sign in again";
                self.send_error(Error::new(ErrorKind::Unauthenticated, message), None)
                    .await?;
                Err(End::Revoked)
            }
            Err(e) => {
                let since = *self
                    .unchecked_since
                    .get_or_insert_with(tokio::time::Instant::now);
                tracing::warn!(
                    "cannot re-check this socket's access (failing for {:?}): {e:#}",
                    since.elapsed()
                );
                if since.elapsed() < RECHECK_GRACE {
                    return Ok(());
                }
                let message = "the relay cannot confirm your access (its database is unavailable): try again shortly";
                self.send_error(Error::new(ErrorKind::Unavailable, message), None)
                    .await?;
                Err(End::Revoked)
            }
        }
    }

    /// A camera's new status, if this caller may see it; after falling
    /// behind, every visible camera's status now.
    async fn on_status(
        &mut self,
        change: Result<Arc<StatusChange>, broadcast::error::RecvError>,
    ) -> Result<(), End> {
        match change {
            Ok(change) if self.may_view(&change.camera) => {
                let online = change.status == sightline_wire::CameraState::Online;
                self.send_json(&ServerMessage::CameraStatus {
                    camera: change.camera.clone(),
                    stream: change.stream,
                    status: change.status.clone(),
                })
                .await?;
                // A stream that connected may have brought audio: its viewers learn of it.
                if online {
                    let channel = self.hub.stream(&change.camera, change.stream);
                    if let Some(channel) = channel.map(|f| f.channel) {
                        self.tell_audio(channel).await?;
                    }
                }
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(broadcast::error::RecvError::Lagged(_)) => {
                let feeds: Vec<Arc<Feed>> = self.hub.all_feeds();
                for feed in feeds {
                    if self.may_view(&feed.id) {
                        self.send_json(&ServerMessage::CameraStatus {
                            camera: feed.id.clone(),
                            stream: feed.stream,
                            status: feed.status(),
                        })
                        .await?;
                    }
                }
                Ok(())
            }
            Err(broadcast::error::RecvError::Closed) => Ok(()),
        }
    }

    /// The alerts active now on cameras this caller may see.
    async fn send_active_alerts(&mut self) -> Result<(), End> {
        for alert in self.alerts.active() {
            if self.may_view(&alert.camera) {
                self.send_json(&ServerMessage::Alert {
                    event: AlertEvent::Active,
                    alert,
                })
                .await?;
            }
        }
        Ok(())
    }

    fn may_view(&self, camera: &str) -> bool {
        self.caller.as_ref().is_some_and(|c| c.may_view(camera))
    }

    async fn on_alert(
        &mut self,
        change: Result<Arc<AlertChange>, broadcast::error::RecvError>,
    ) -> Result<(), End> {
        match change {
            Ok(change) if self.may_view(&change.alert.camera) => {
                self.send_json(&ServerMessage::Alert {
                    event: change.event,
                    alert: change.alert.clone(),
                })
                .await
            }
            Ok(_) => Ok(()),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::info!(
                    missed,
                    "alert changes missed: closing so the player starts afresh"
                );
                Err(End::AlertsLagged)
            }
            Err(broadcast::error::RecvError::Closed) => Err(End::Shutdown),
        }
    }

    async fn on_message(&mut self, msg: Message) -> Result<(), End> {
        let text = match msg {
            Message::Text(text) => text,
            Message::Close(_) => return Err(End::Closed),
            Message::Binary(_) => {
                return self
                    .send_error(
                        Error::new(ErrorKind::BadRequest, "the relay takes no binary frames"),
                        None,
                    )
                    .await
            }
            Message::Ping(_) => return self.send(Out::Replies).await,
            Message::Pong(_) | Message::Frame(_) => return Ok(()),
        };
        let request = match ClientMessage::parse(&text) {
            Ok(request) => request,
            Err(e) => {
                tracing::debug!("bad control message: {e}");
                return self
                    .send_error(Error::new(ErrorKind::BadRequest, e.to_string()), None)
                    .await;
            }
        };
        // What the message needs, checked here for every message (the
        // policy's table is exhaustive); the handlers below act.
        let checked = policy::check_message(
            policy::message_need(&request),
            self.caller.as_ref(),
            |camera| self.hub.get(camera).is_some(),
        );
        if let Err(e) = checked {
            let id = match &request {
                ClientMessage::Subscribe { id, .. }
                | ClientMessage::Unsubscribe { id, .. }
                | ClientMessage::Audio { id, .. }
                | ClientMessage::Ptz { id, .. } => Some(*id),
                ClientMessage::Hello { .. } => None,
            };
            return self.send_error(e, id).await;
        }
        match request {
            ClientMessage::Hello { .. } => {
                self.send_error(
                    Error::new(ErrorKind::BadRequest, "hello was already said"),
                    None,
                )
                .await
            }
            ClientMessage::Subscribe { id, camera, stream } => {
                self.subscribe(id, camera, stream).await
            }
            ClientMessage::Unsubscribe { id, camera, stream } => {
                self.unsubscribe(id, camera, stream).await
            }
            ClientMessage::Audio { id, camera, on } => self.audio(id, camera, on).await,
            ClientMessage::Ptz { id, camera, action } => self.ptz(id, camera, action).await,
        }
    }

    /// `ptz` (its grant and role checked by the policy already): needs the
    /// camera subscribed on this socket (so that unsubscribing and closing
    /// stop what it moved). Refusals by the controller and the camera's
    /// faults come back on `notices`.
    async fn ptz(&mut self, id: u32, camera: String, action: PtzAction) -> Result<(), End> {
        let Some(caller) = &self.caller else {
            let e = Error::new(ErrorKind::Unauthenticated, "say hello first");
            return self.send_error(e, Some(id)).await;
        };
        let who = Operator {
            session: self.id,
            user: caller.name.clone(),
            admin: caller.role == sightline_store::Role::Admin,
        };
        let Some(controller) = self.ptz.get(&camera) else {
            let message = format!("camera {camera:?} has no PTZ the relay can drive");
            return self
                .send_error(Error::new(ErrorKind::Unavailable, message), Some(id))
                .await;
        };
        if !self.viewers.values().any(|v| v.feed.id == camera) {
            let message =
                format!("subscribe to {camera:?} first: PTZ steers a camera you are watching");
            return self
                .send_error(Error::new(ErrorKind::NotSubscribed, message), Some(id))
                .await;
        }
        let (tokens, at) = self.ptz_tokens;
        let now = tokio::time::Instant::now();
        let tokens = (tokens + (now - at).as_secs_f64() * PTZ_RATE).min(PTZ_BURST);
        // Stopping is never refused for going too fast.
        let stops = matches!(action, PtzAction::Stop {} | PtzAction::Release {});
        if tokens < 1.0 && !stops {
            self.ptz_tokens = (tokens, now);
            let message = "too many PTZ messages: renew a held move every 200 ms, no faster";
            return self
                .send_error(Error::new(ErrorKind::RateLimited, message), Some(id))
                .await;
        }
        self.ptz_tokens = ((tokens - 1.0).max(0.0), now);
        self.ptz_used.insert(camera.clone());
        let asker = Asker {
            request: id,
            notices: self.notices_tx.clone(),
        };
        let asked = Ask::from_wire(action).and_then(|ask| controller.ask(who, ask, asker));
        match asked {
            Ok(()) => Ok(()),
            Err(e) => self.send_error(e, Some(id)).await,
        }
    }

    /// A PTZ camera's state changed (or was just subscribed).
    async fn on_ptz_state(&mut self, channel: u16, state: Arc<Snapshot>) -> Result<(), End> {
        let Some(viewer) = self.viewers.get(&channel) else {
            return Ok(());
        };
        if state.features.is_none() {
            // Not connected to the camera's PTZ yet: nothing to show.
            return Ok(());
        }
        let camera = viewer.feed.id.clone();
        let may_steer = self.caller.as_ref().is_some_and(Caller::may_steer);
        let state = state.to_wire(self.id, may_steer);
        self.send_json(&ServerMessage::PtzState { camera, state })
            .await
    }

    /// This socket is done with `camera`'s PTZ: a move it held stops.
    async fn leave_camera_ptz(&mut self, camera: &str) {
        if !self.ptz_used.remove(camera) {
            return;
        }
        if let Some(controller) = self.ptz.get(camera) {
            controller.gone(self.id).await;
        }
    }

    /// The socket is closing: every camera it may have been steering.
    async fn leave_ptz(&mut self) {
        let cameras: Vec<String> = self.ptz_used.iter().cloned().collect();
        for camera in cameras {
            self.leave_camera_ptz(&camera).await;
        }
    }

    async fn subscribe(&mut self, id: u32, camera: String, stream: Which) -> Result<(), End> {
        // The policy checked the grant; this one re-reads it so that the
        // handler refuses on its own too (defence in depth): a camera this
        // caller may not see answers exactly like one that does not exist.
        let allowed = self.caller.as_ref().is_some_and(|c| c.may_view(&camera));
        let Some(feed) = self.hub.stream(&camera, stream).filter(|_| allowed) else {
            let message = format!("no camera {camera:?}");
            return self
                .send_error(Error::new(ErrorKind::NotFound, message), Some(id))
                .await;
        };
        let channel = feed.channel;
        if let Some(viewer) = self.viewers.get(&channel) {
            // Already subscribed on this socket: answer again, keep the one stream.
            let config = viewer.params.as_ref().map(|p| p.wire.clone());
            return self
                .send_json(&ServerMessage::Subscribed {
                    id,
                    camera,
                    stream: feed.stream,
                    channel,
                    config,
                    burst: 0,
                })
                .await;
        }
        let sub = feed.subscribe();
        let config = sub.params.as_ref().map(|p| p.wire.clone());
        let burst = u32::try_from(sub.gop.len()).unwrap_or(u32::MAX);
        let frames =
            stream::iter(sub.gop.into_iter().map(Ok)).chain(BroadcastStream::new(sub.live));
        self.frames.insert(channel, Box::pin(frames));
        let has_ptz_state = self.ptz_channel(&camera).is_some();
        if let (Some(controller), false) = (self.ptz.get(&camera), has_ptz_state) {
            // The state now, then every change (once a camera, whichever
            // of its streams this socket receives).
            self.ptz_states
                .insert(channel, WatchStream::new(controller.state()));
        }
        let status = self.hub.get(&camera).map(|main| main.status());
        let served = feed.stream;
        let stream_status = feed.status();
        self.viewers.insert(
            channel,
            Viewer {
                feed,
                params: sub.params,
                skipping: false,
                audio_told: None,
                starting: true,
                dropping_rasl: false,
            },
        );
        self.send_json(&ServerMessage::Subscribed {
            id,
            camera: camera.clone(),
            stream: served,
            channel,
            config,
            burst,
        })
        .await?;
        // The status now: `welcome` may be old news (the player may have
        // stopped watching for a while); changes follow from `statuses`.
        if let Some(status) = status {
            self.send_json(&ServerMessage::CameraStatus {
                camera: camera.clone(),
                stream: Which::Main,
                status,
            })
            .await?;
        }
        if served == Which::Sub {
            self.send_json(&ServerMessage::CameraStatus {
                camera: camera.clone(),
                stream: Which::Sub,
                status: stream_status,
            })
            .await?;
        }
        self.tell_audio(channel).await
    }

    /// The channel `camera`'s PTZ state goes out on, if it is subscribed
    /// and has PTZ.
    fn ptz_channel(&self, camera: &str) -> Option<u16> {
        self.viewers
            .iter()
            .find(|(channel, v)| v.feed.id == camera && self.ptz_states.contains_key(channel))
            .map(|(&channel, _)| channel)
    }

    /// The channel of the viewer of `camera` whose audio this socket gets:
    /// the main stream's while it is subscribed, else the substream's.
    fn audio_channel(&self, camera: &str) -> Option<u16> {
        self.viewers
            .iter()
            .filter(|(_, v)| v.feed.id == camera)
            .min_by_key(|(_, v)| !v.feed.stream.is_main())
            .map(|(&channel, _)| channel)
    }

    /// Sends `audio_config` for the viewer on `channel` if its stream has
    /// audio this socket was not told of yet.
    async fn tell_audio(&mut self, channel: u16) -> Result<(), End> {
        let Some(viewer) = self.viewers.get_mut(&channel) else {
            return Ok(());
        };
        let Some(config) = viewer.feed.audio() else {
            return Ok(());
        };
        if viewer
            .audio_told
            .as_ref()
            .is_some_and(|told| Arc::ptr_eq(told, &config))
        {
            return Ok(());
        }
        viewer.audio_told = Some(config.clone());
        let config = (*config).clone();
        self.send_json(&ServerMessage::AudioConfig { channel, config })
            .await
    }

    /// `audio`: turns a subscribed camera's audio on or off for this socket.
    async fn audio(&mut self, id: u32, camera: String, on: bool) -> Result<(), End> {
        let Some(channel) = self.audio_channel(&camera) else {
            let message =
                format!("not subscribed to {camera:?}: subscribe before turning its audio on");
            return self
                .send_error(Error::new(ErrorKind::NotSubscribed, message), Some(id))
                .await;
        };
        // Whichever of the camera's streams had it on stops.
        let channels: Vec<u16> = self
            .viewers
            .iter()
            .filter(|(&c, v)| v.feed.id == camera && (!on || c != channel))
            .map(|(&c, _)| c)
            .collect();
        for c in channels {
            self.audio_frames.remove(&c);
        }
        if !on {
            return Ok(());
        }
        if !self.audio_frames.contains_key(&channel) {
            if let Some(viewer) = self.viewers.get(&channel) {
                self.audio_frames
                    .insert(channel, BroadcastStream::new(viewer.feed.subscribe_audio()));
            }
        }
        self.tell_audio(channel).await
    }

    /// The per-listener end of the audio fan-out: the config when it
    /// changed, then the frame (a listener that fell behind just misses some).
    async fn on_audio(
        &mut self,
        channel: u16,
        item: Result<AudioPacket, BroadcastStreamRecvError>,
    ) -> Result<(), End> {
        let packet = match item {
            Ok(packet) => packet,
            Err(BroadcastStreamRecvError::Lagged(missed)) => {
                tracing::debug!(channel, missed, "audio listener fell behind");
                return Ok(());
            }
        };
        let Some(viewer) = self.viewers.get(&channel) else {
            return Ok(());
        };
        let told = viewer
            .audio_told
            .as_ref()
            .is_some_and(|told| Arc::ptr_eq(told, &packet.config));
        if !told {
            self.tell_audio(channel).await?;
        }
        self.send(Out::Binary(packet.data)).await
    }

    async fn unsubscribe(&mut self, id: u32, camera: String, stream: Which) -> Result<(), End> {
        let served = self.hub.stream(&camera, stream).map(|f| f.stream);
        let channel = self
            .viewers
            .iter()
            .find(|(_, v)| v.feed.id == camera && Some(v.feed.stream) == served)
            .map(|(&c, _)| c);
        let Some(channel) = channel else {
            let message = format!("not subscribed to {camera:?} ({})", stream.name());
            return self
                .send_error(Error::new(ErrorKind::NotSubscribed, message), Some(id))
                .await;
        };
        self.viewers.remove(&channel);
        self.frames.remove(&channel);
        let had_audio = self.audio_frames.remove(&channel).is_some();
        let other = self
            .viewers
            .iter()
            .find(|(_, v)| v.feed.id == camera)
            .map(|(&c, v)| (c, v.feed.clone()));
        match other {
            // The camera's other stream stays: its PTZ state, and its audio
            // if this socket listened, go on there.
            Some((other, feed)) => {
                if let Some(states) = self.ptz_states.remove(&channel) {
                    self.ptz_states.insert(other, states);
                }
                if had_audio && !self.audio_frames.contains_key(&other) {
                    self.audio_frames
                        .insert(other, BroadcastStream::new(feed.subscribe_audio()));
                    self.tell_audio(other).await?;
                }
            }
            None => {
                self.ptz_states.remove(&channel);
                self.leave_camera_ptz(&camera).await;
            }
        }
        self.send_json(&ServerMessage::Unsubscribed {
            id,
            camera,
            stream: served.unwrap_or(stream),
            channel,
        })
        .await
    }

    /// The per-viewer end of the fan-out.
    async fn on_frame(
        &mut self,
        channel: u16,
        item: Result<Frame, BroadcastStreamRecvError>,
    ) -> Result<(), End> {
        let Some(viewer) = self.viewers.get_mut(&channel) else {
            return Ok(());
        };
        let frame = match item {
            Ok(frame) => frame,
            Err(BroadcastStreamRecvError::Lagged(missed)) => {
                if !viewer.skipping {
                    tracing::debug!(camera = %viewer.feed.id, missed, "viewer fell behind; skipping to the next keyframe");
                }
                viewer.skipping = true;
                viewer.feed.stats.dropped(missed);
                self.dropped += missed;
                return Ok(());
            }
        };
        if viewer.skipping && !frame.keyframe {
            viewer.feed.stats.dropped(1);
            self.dropped += 1;
            return Ok(());
        }
        let resumed = viewer.skipping;
        if frame.keyframe && (resumed || std::mem::take(&mut viewer.starting)) {
            viewer.dropping_rasl =
                is_h265(&frame) && !sightline_h264::hevc::is_idr(frame_nals(&frame.data));
        } else if viewer.dropping_rasl {
            if sightline_h264::hevc::is_rasl(frame_nals(&frame.data)) {
                viewer.feed.stats.dropped(1);
                self.dropped += 1;
                return Ok(());
            }
            viewer.dropping_rasl = false;
        }
        let data = if std::mem::take(&mut viewer.skipping) {
            // The only copy of a payload the relay makes: one keyframe, for one
            // viewer, once per fall-behind, to flag the discontinuity.
            let mut copy = frame.data.to_vec();
            let _ = MediaHeader::add_flags_in_place(&mut copy, FrameFlags::DISCONTINUITY);
            Bytes::from(copy)
        } else {
            frame.data
        };
        viewer.feed.stats.sent();
        let new_params = match &viewer.params {
            Some(sent) => !Arc::ptr_eq(sent, &frame.params),
            None => true,
        };
        if new_params {
            viewer.params = Some(frame.params.clone());
            let config = frame.params.wire.clone();
            self.send_json(&ServerMessage::Config { channel, config })
                .await?;
        }
        self.send(Out::Binary(data)).await
    }

    /// Tells the viewer what went wrong with its request `request`.
    async fn send_error(&mut self, error: Error, request: Option<u32>) -> Result<(), End> {
        self.send_json(&error.to_wire(request)).await
    }

    async fn send_json(&mut self, msg: &ServerMessage) -> Result<(), End> {
        self.send(Out::Text(msg.to_json())).await
    }

    async fn send(&mut self, out: Out) -> Result<(), End> {
        let socket = &mut self.socket;
        let write = async move {
            match out {
                Out::Text(text) => socket.send_text(text).await,
                Out::Binary(data) => socket.send_binary(data).await,
                Out::Ping => socket.ping().await,
                Out::Replies => socket.write_replies().await,
            }
        };
        match tokio::time::timeout(SEND_TIMEOUT, write).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(End::Stalled(SEND_TIMEOUT)),
        }
    }
}

/// Whether a frame is H.265.
fn is_h265(frame: &Frame) -> bool {
    matches!(frame.params.video, sightline_h264::VideoParams::H265(_))
}

/// The NAL units of a frame as sent (header, then length-prefixed units).
fn frame_nals(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let payload = data.get(sightline_wire::HEADER_LEN..).unwrap_or_default();
    sightline_h264::nal::length_prefixed_units(payload).filter_map(Result::ok)
}
