//! One WebSocket per relay and credentials per page, shared by every
//! `<cam-player>` on it with those credentials (`credentials.rs`: none, the
//! same `ticket`, or the same `getTicket` function).
//!
//! The connection says hello (with a ticket when it has a source of one: for
//! `getTicket`, asked once the socket is open, at every (re)connect),
//! subscribes once per camera stream (main or substream) whatever the
//! number of elements showing it, routes binary frames by channel to those
//! elements, and reconnects forever
//! with backoff, resubscribing when it is back. A refusal (`unauthenticated`:
//! a bad or expired ticket, access revoked) or a failed `getTicket` is one
//! more failed connect: the elements fire `error`, and the next attempt asks
//! for a fresh ticket.
//!
//! Alerts: the relay sends every `alert` of a camera this socket may see,
//! whether or not it watches that camera's video (the active ones right after
//! `welcome`). The connection keeps them in one [`AlertBook`] and tells every
//! element that watches that camera's alerts ([`Connection::watch_alerts`]),
//! which elements do for as long as they are in the document, seen or not: a
//! tile out of view still learns of its camera's alerts (that is often the
//! point of an alert). At every `welcome` the book forgets its active set,
//! which the relay then sends anew: an alert that ended while the socket was
//! down does not stay lit.
//!
//! Audio: an element listens to its camera's audio only while unmuted
//! ([`Connection::listen_audio`]); the connection turns the camera's audio
//! on at the relay for as long as one element listens (again after every
//! resubscribe: the relay starts every subscription muted), and routes audio
//! frames to the listeners by camera. Every element of a camera hears of its
//! `audio_config` (it shows the unmute control only for a camera with audio).
//!
//! A connection without a ticket stays open once opened, for the page's
//! lifetime. One with a ticket closes a few seconds after the last element
//! using its credentials left the document or moved to other credentials.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::time::Duration;

use js_sys::{ArrayBuffer, Function, Promise, Reflect, Uint8Array};
use sightline_wire::{
    AlertEvent, AlertInfo, AudioConfig, CameraState, ClientMessage, ErrorCode, FrameKind,
    MediaHeader, PtzAction, PtzState, ServerMessage, Stream, StreamConfig, Ticket, HEADER_LEN,
    PROTOCOL_VERSION,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{BinaryType, MessageEvent, WebSocket};

use sightline_backoff::Backoff;

use crate::alerts::{AlertBook, Applied};
use crate::credentials;
use crate::now_ms;

/// An element's credentials; `Source` holds its `getTicket` function.
pub type Credentials = credentials::Credentials<Function>;

/// What an element receives from the connection.
pub trait ChannelSink {
    /// A new subscription: `burst` frames of the camera's GOP follow at once.
    fn on_subscribed(&self, _burst: u32) {}
    /// New decoder parameters; frames after this decode with them.
    fn on_config(&self, config: &StreamConfig);
    /// One access unit. `payload` views the received buffer (no copy).
    fn on_frame(&self, header: &MediaHeader, payload: &Uint8Array);
    /// The camera's state as the relay reports it.
    fn on_camera(&self, status: &CameraState);
    /// The state of the camera's substream (cameras that have one).
    fn on_substream(&self, _status: &CameraState) {}
    /// The relay refused this sink's request or the socket: `code` is the
    /// wire's error code (`unknown_camera`, `protocol_mismatch`,
    /// `unauthenticated`).
    fn on_refused(&self, code: &str, message: &str);
    /// `getTicket` threw or rejected (or gave no ticket); `message` says why
    /// (never a ticket). The connection retries with backoff.
    fn on_ticket_failed(&self, message: &str);
    /// The socket is down and being retried.
    fn on_link_lost(&self);
    /// The camera's PTZ state (sent on subscribing, then at each change).
    fn on_ptz(&self, _state: &PtzState) {}
    /// A `ptz` request of this camera's was refused (`code` as the wire's).
    fn on_ptz_error(&self, _code: ErrorCode, _message: &str) {}
    /// The camera has audio, described so (muted or not).
    fn on_audio_config(&self, _config: &AudioConfig) {}
}

/// An element that hears its camera's audio (while unmuted).
pub trait AudioSink {
    /// One audio frame (`payload` views the received buffer) and how to
    /// decode it: the `audio_config` of the stream it came on (a camera's
    /// main stream and substream may carry different codecs, and while a
    /// player switches, audio comes on either).
    fn on_audio(&self, header: &MediaHeader, payload: &Uint8Array, config: &AudioConfig);
}

struct AudioListener {
    id: u32,
    camera: String,
    sink: Weak<dyn AudioSink>,
}

/// What an element hears of its camera whether or not it receives the
/// video (while paused out of view too): alerts and the camera's status.
pub trait WatchSink {
    /// An `alert` message for this camera, once the book has taken it in
    /// (`applied` says what it changed). Also called with `active` for the
    /// alerts already going when the element starts watching.
    fn on_alert(&self, event: AlertEvent, alert: &AlertInfo, applied: Applied);
    /// The socket was welcomed again: the camera's active set was forgotten
    /// and is about to be sent anew. Redraw.
    fn on_alerts_reset(&self);
    /// The camera's state as the relay reports it (`welcome`, then every
    /// change); told at once when the element starts watching, if known.
    fn on_status(&self, status: &CameraState);
    /// The socket is down and being retried: no status is known.
    fn on_watch_lost(&self);
}

struct Attachment {
    id: u32,
    camera: String,
    stream: Stream,
    sink: Weak<dyn ChannelSink>,
}

struct AlertWatch {
    id: u32,
    camera: String,
    sink: Weak<dyn WatchSink>,
}

/// A reconnect timer's handle and the callback it runs.
type Retry = (i32, Closure<dyn FnMut()>);

/// Handlers kept alive for as long as their socket.
struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut()>,
}

pub struct Connection {
    /// The relay's WebSocket URL, or several relays' separated by spaces
    /// (a cluster): the socket opens to `relays[at]`.
    url: String,
    /// Which of them the next socket opens to; the next one after each close.
    at: Cell<usize>,
    credentials: Credentials,
    /// Elements in the document using this connection's credentials (whether
    /// subscribed or paused): see [`Member`].
    members: Cell<usize>,
    /// Counts the sockets opened: a ticket fetched for an earlier one is not sent.
    attempt: Cell<u32>,
    /// Closed for good (no element uses these credentials any more).
    shut: Cell<bool>,
    socket: RefCell<Option<Socket>>,
    welcomed: Cell<bool>,
    attachments: RefCell<Vec<Attachment>>,
    /// channel → camera and stream, from `subscribed`.
    channels: RefCell<HashMap<u16, (String, Stream)>>,
    /// Last known status per camera, for elements that attach later.
    statuses: RefCell<HashMap<String, CameraState>>,
    /// Last known status of each camera's substream (only cameras with one).
    substreams: RefCell<HashMap<String, CameraState>>,
    /// Current decoder parameters per subscribed stream, for elements that
    /// attach later (they start at the stream's next keyframe).
    configs: RefCell<HashMap<(String, Stream), StreamConfig>>,
    /// Subscribe requests not answered yet: request id → camera and stream.
    pending: RefCell<HashMap<u32, (String, Stream)>>,
    /// The latest PTZ state per subscribed camera with PTZ.
    ptz_states: RefCell<HashMap<String, PtzState>>,
    /// Recent `ptz` requests: id → camera, to route a refusal (bounded: a
    /// request that succeeds is never answered).
    ptz_requests: RefCell<std::collections::VecDeque<(u32, String)>>,
    next_id: Cell<u32>,
    backoff: RefCell<Backoff>,
    /// The pending reconnect: its timer (to cancel it) and callback.
    retry: RefCell<Option<Retry>>,
    /// `performance.now()` of the latest message from the relay.
    last_message_ms: Cell<f64>,
    /// The active alerts of every camera this socket may see.
    alerts: RefCell<AlertBook>,
    /// Elements told of their camera's alerts, seen or not.
    alert_watches: RefCell<Vec<AlertWatch>>,
    /// Elements hearing their camera's audio.
    audio_listeners: RefCell<Vec<AudioListener>>,
    /// The latest `audio_config` per subscribed stream.
    audio_configs: RefCell<HashMap<(String, Stream), AudioConfig>>,
}

/// A socket this long without a message while cameras are watched is taken
/// for dead by [`Connection::revive`] (the relay sends frames or, for an idle
/// camera, nothing: so only a caller that expected frames may ask).
const SILENT_MS: f64 = 10_000.0;

/// `ptz` requests remembered for routing a refusal (a held move sends five
/// a second; a refusal comes within a round trip).
const PTZ_REQUESTS_KEPT: usize = 64;

/// First reconnect delay, and the longest: a player keeps trying forever, this often.
const RECONNECT_FIRST: Duration = Duration::from_millis(250);
const RECONNECT_MAX: Duration = Duration::from_secs(10);

/// How long a connection with a ticket stays open after its last element left
/// (an element moved in the DOM, a framework re-rendering, comes back at once).
const UNUSED_CLOSE_MS: i32 = 5_000;

thread_local! {
    /// A page holds a handful at most: a list, searched by (URL, credentials).
    static CONNECTIONS: RefCell<Vec<Rc<Connection>>> = const { RefCell::new(Vec::new()) };
}

/// The page's connection to the relay at `url` (a `ws:`/`wss:` URL) with these
/// credentials, opened on first use.
pub fn connection_for(url: &str, credentials: Credentials) -> Rc<Connection> {
    let found = CONNECTIONS.with(|all| {
        all.borrow()
            .iter()
            .find(|c| c.url == url && c.credentials == credentials)
            .cloned()
    });
    if let Some(conn) = found {
        return conn;
    }
    let conn = Rc::new(Connection {
        url: url.to_owned(),
        at: Cell::new(0),
        credentials,
        members: Cell::new(0),
        attempt: Cell::new(0),
        shut: Cell::new(false),
        socket: RefCell::new(None),
        welcomed: Cell::new(false),
        attachments: RefCell::new(Vec::new()),
        channels: RefCell::new(HashMap::new()),
        statuses: RefCell::new(HashMap::new()),
        substreams: RefCell::new(HashMap::new()),
        configs: RefCell::new(HashMap::new()),
        pending: RefCell::new(HashMap::new()),
        ptz_states: RefCell::new(HashMap::new()),
        ptz_requests: RefCell::new(std::collections::VecDeque::new()),
        next_id: Cell::new(1),
        backoff: RefCell::new(Backoff::new(RECONNECT_FIRST, RECONNECT_MAX)),
        retry: RefCell::new(None),
        last_message_ms: Cell::new(now_ms()),
        alerts: RefCell::new(AlertBook::new()),
        alert_watches: RefCell::new(Vec::new()),
        audio_listeners: RefCell::new(Vec::new()),
        audio_configs: RefCell::new(HashMap::new()),
    });
    CONNECTIONS.with(|all| all.borrow_mut().push(conn.clone()));
    conn.open();
    conn
}

/// An element's use of a connection's credentials, from the first time it
/// subscribes until it leaves the document or changes credentials (or relay);
/// kept while it is paused out of view. Dropping the last one of a connection
/// with a ticket closes that connection [`UNUSED_CLOSE_MS`] later unless an
/// element joined again.
pub struct Member(Rc<Connection>);

impl Member {
    pub fn connection(&self) -> &Rc<Connection> {
        &self.0
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.0.leave();
    }
}

/// How many sockets the page holds open (for tests and diagnostics).
pub fn open_sockets() -> usize {
    CONNECTIONS.with(|all| {
        all.borrow()
            .iter()
            .filter(|c| {
                c.socket
                    .borrow()
                    .as_ref()
                    .is_some_and(|s| s.ws.ready_state() == WebSocket::OPEN)
            })
            .count()
    })
}

impl Connection {
    /// Whether this is the connection to `url` with `credentials`.
    pub fn is_for(&self, url: &str, credentials: &Credentials) -> bool {
        self.url == url && self.credentials == *credentials
    }

    /// Counts an element using this connection's credentials until the
    /// returned [`Member`] is dropped.
    pub fn join(self: &Rc<Self>) -> Member {
        self.members.set(self.members.get() + 1);
        Member(self.clone())
    }

    fn leave(self: &Rc<Self>) {
        let members = self.members.get().saturating_sub(1);
        self.members.set(members);
        if members > 0 || !self.credentials.close_when_unused() {
            return;
        }
        let weak = Rc::downgrade(self);
        let check = Closure::once_into_js(move || {
            if let Some(conn) = weak.upgrade() {
                if conn.members.get() == 0 {
                    conn.shut_down();
                }
            }
        });
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                check.unchecked_ref(),
                UNUSED_CLOSE_MS,
            );
        }
    }

    /// Closes the socket for good and forgets the connection: the next element
    /// with these credentials opens a new one.
    fn shut_down(&self) {
        self.shut.set(true);
        self.attempt.set(self.attempt.get().wrapping_add(1));
        self.cancel_retry();
        self.welcomed.set(false);
        if let Some(old) = self.socket.borrow_mut().take() {
            old.ws.set_onopen(None);
            old.ws.set_onmessage(None);
            old.ws.set_onclose(None);
            let _ = old.ws.close();
        }
        CONNECTIONS.with(|all| all.borrow_mut().retain(|c| !std::ptr::eq(&**c, self)));
    }

    /// Shows `camera`'s `stream` to `sink` until [`Connection::detach`] with
    /// the returned id.
    pub fn attach(&self, camera: &str, stream: Stream, sink: Weak<dyn ChannelSink>) -> u32 {
        let id = self.take_id();
        let first = !self
            .attachments
            .borrow()
            .iter()
            .any(|a| a.camera == camera && a.stream == stream);
        self.attachments.borrow_mut().push(Attachment {
            id,
            camera: camera.to_owned(),
            stream,
            sink: sink.clone(),
        });
        if let Some(sink) = sink.upgrade() {
            let status = self.statuses.borrow().get(camera).cloned();
            if let Some(status) = status {
                sink.on_camera(&status);
            }
            let sub_status = self.substreams.borrow().get(camera).cloned();
            if let Some(status) = sub_status {
                sink.on_substream(&status);
            }
            let ptz = self.ptz_states.borrow().get(camera).cloned();
            if let Some(state) = ptz {
                sink.on_ptz(&state);
            }
            let config = self
                .configs
                .borrow()
                .get(&(camera.to_owned(), stream))
                .cloned();
            if let Some(config) = config {
                sink.on_config(&config);
            }
            let audio = self
                .audio_configs
                .borrow()
                .iter()
                .find(|((c, _), _)| c == camera)
                .map(|(_, config)| config.clone());
            if let Some(audio) = audio {
                sink.on_audio_config(&audio);
            }
        }
        if first && self.welcomed.get() {
            self.subscribe(camera.to_owned(), stream);
        }
        id
    }

    /// The state of `camera`'s substream, if it has one (as last heard).
    pub fn substream(&self, camera: &str) -> Option<CameraState> {
        self.substreams.borrow().get(camera).cloned()
    }

    /// Sends `camera`'s audio to `sink` until [`Connection::unlisten_audio`]
    /// with the returned id. The element must have attached to the camera
    /// (the relay sends audio only with a subscription).
    pub fn listen_audio(&self, camera: &str, sink: Weak<dyn AudioSink>) -> u32 {
        let id = self.take_id();
        let first = !self.audio_wanted(camera);
        self.audio_listeners.borrow_mut().push(AudioListener {
            id,
            camera: camera.to_owned(),
            sink,
        });
        if first && self.asked_for(camera) {
            self.send_audio(camera, true);
        }
        id
    }

    /// Stops sending audio to one listener; off at the relay when it was the last.
    pub fn unlisten_audio(&self, id: u32) {
        let camera = {
            let mut listeners = self.audio_listeners.borrow_mut();
            let Some(at) = listeners.iter().position(|l| l.id == id) else {
                return;
            };
            listeners.remove(at).camera
        };
        if !self.audio_wanted(&camera) && self.asked_for(&camera) {
            self.send_audio(&camera, false);
        }
    }

    /// Some live element listens to `camera`'s audio.
    fn audio_wanted(&self, camera: &str) -> bool {
        let mut listeners = self.audio_listeners.borrow_mut();
        listeners.retain(|l| l.sink.strong_count() > 0);
        listeners.iter().any(|l| l.camera == camera)
    }

    /// Some stream of `camera` is subscribed on this socket, or asked for.
    fn asked_for(&self, camera: &str) -> bool {
        self.welcomed.get()
            && (self.channels.borrow().values().any(|(c, _)| c == camera)
                || self.pending.borrow().values().any(|(c, _)| c == camera))
    }

    fn send_audio(&self, camera: &str, on: bool) {
        let id = self.take_id();
        let camera = camera.to_owned();
        self.send(&ClientMessage::Audio { id, camera, on });
    }

    fn audio_sinks(&self, camera: &str) -> Vec<Rc<dyn AudioSink>> {
        self.audio_listeners
            .borrow()
            .iter()
            .filter(|l| l.camera == camera)
            .filter_map(|l| l.sink.upgrade())
            .collect()
    }

    /// Tells `sink` of `camera`'s alerts and status until
    /// [`Connection::unwatch_alerts`] with the returned id; the status and
    /// the alerts already active are told at once (as `active`, without ringing).
    pub fn watch_alerts(&self, camera: &str, sink: Weak<dyn WatchSink>) -> u32 {
        let id = self.take_id();
        self.alert_watches.borrow_mut().push(AlertWatch {
            id,
            camera: camera.to_owned(),
            sink: sink.clone(),
        });
        let active: Vec<AlertInfo> = self.active_alerts(camera);
        let status = self.statuses.borrow().get(camera).cloned();
        if let Some(sink) = sink.upgrade() {
            if let Some(status) = status {
                sink.on_status(&status);
            }
            let applied = Applied {
                changed: true,
                active: true,
                ring: false,
            };
            for alert in &active {
                sink.on_alert(AlertEvent::Active, alert, applied);
            }
        }
        id
    }

    /// Stops telling one sink of alerts.
    pub fn unwatch_alerts(&self, id: u32) {
        self.alert_watches.borrow_mut().retain(|w| w.id != id);
    }

    /// `camera`'s status as last heard (`welcome`, then changes).
    pub fn status(&self, camera: &str) -> Option<CameraState> {
        self.statuses.borrow().get(camera).cloned()
    }

    /// `camera`'s active alerts, the most severe first, then the newest.
    pub fn active_alerts(&self, camera: &str) -> Vec<AlertInfo> {
        self.alerts
            .borrow()
            .active(camera)
            .into_iter()
            .cloned()
            .collect()
    }

    /// Live sinks watching `camera`'s alerts (collected first: a sink may
    /// watch or unwatch while being called, a DOM listener run by it too).
    fn alert_sinks(&self, camera: &str) -> Vec<Rc<dyn WatchSink>> {
        self.alert_watches
            .borrow()
            .iter()
            .filter(|w| w.camera == camera)
            .filter_map(|w| w.sink.upgrade())
            .collect()
    }

    /// Sends a `ptz` request for `camera`; a refusal comes back to the
    /// camera's sinks ([`ChannelSink::on_ptz_error`]). False when the socket
    /// is not up (nothing was sent).
    pub fn ptz(&self, camera: &str, action: PtzAction) -> bool {
        if !self.welcomed.get() {
            return false;
        }
        let id = self.take_id();
        {
            let mut recent = self.ptz_requests.borrow_mut();
            if recent.len() >= PTZ_REQUESTS_KEPT {
                recent.pop_front();
            }
            recent.push_back((id, camera.to_owned()));
        }
        self.send(&ClientMessage::Ptz {
            id,
            camera: camera.to_owned(),
            action,
        });
        true
    }

    /// Whether the socket is open and the relay has welcomed it.
    pub fn is_up(&self) -> bool {
        self.welcomed.get()
    }

    /// Stops showing a camera's stream to one sink; unsubscribes when
    /// nobody watches it.
    pub fn detach(&self, id: u32) {
        let (camera, stream) = {
            let mut attachments = self.attachments.borrow_mut();
            let Some(at) = attachments.iter().position(|a| a.id == id) else {
                return;
            };
            let gone = attachments.remove(at);
            (gone.camera, gone.stream)
        };
        let (stream_watched, camera_watched) = {
            let mut attachments = self.attachments.borrow_mut();
            // (An element dropped without detaching watches nothing.)
            attachments.retain(|a| a.sink.strong_count() > 0);
            let of_camera = || attachments.iter().filter(|a| a.camera == camera);
            (
                of_camera().any(|a| a.stream == stream),
                of_camera().next().is_some(),
            )
        };
        let key = (camera.clone(), stream);
        // Subscribed, or asked: an element that changed its stream before
        // the socket's `welcome` subscribed it had nothing to let go.
        let subscribed = self.channels.borrow().values().any(|k| *k == key)
            || self.pending.borrow().values().any(|k| *k == key);
        if !stream_watched && self.welcomed.get() && subscribed {
            self.configs.borrow_mut().remove(&key);
            if !camera_watched {
                self.ptz_states.borrow_mut().remove(&camera);
            }
            let id = self.take_id();
            self.send(&ClientMessage::Unsubscribe { id, camera, stream });
        }
    }

    /// Reopens the socket now if it is down (skipping the backoff wait) or has
    /// been silent for [`SILENT_MS`]: a link that died without the browser
    /// noticing (a kiosk's network dropped and came back).
    pub fn revive(self: &Rc<Self>) {
        let silent = now_ms() - self.last_message_ms.get() >= SILENT_MS;
        let down = self.socket.borrow().is_none();
        if !(down || silent) {
            return;
        }
        self.backoff.borrow_mut().reset();
        if down {
            self.cancel_retry();
            self.open();
            return;
        }
        web_sys::console::info_1(&"Sightline: the relay went silent; reconnecting".into());
        if let Some(socket) = self.socket.borrow().as_ref() {
            let _ = socket.ws.close();
        }
        // The close event would come when the browser gives up on the dead
        // link, maybe minutes from now: go on as if it came (this drops the
        // socket's handlers and schedules the reopening).
        self.on_closed();
    }

    fn cancel_retry(&self) {
        if let Some((timer, _)) = self.retry.borrow_mut().take() {
            if let Some(window) = web_sys::window() {
                window.clear_timeout_with_handle(timer);
            }
        }
    }

    fn subscribe(&self, camera: String, stream: Stream) {
        let id = self.take_id();
        self.pending
            .borrow_mut()
            .insert(id, (camera.clone(), stream));
        let listened = self.audio_wanted(&camera);
        self.send(&ClientMessage::Subscribe {
            id,
            camera: camera.clone(),
            stream,
        });
        // Every subscription starts muted at the relay; `audio` after it
        // (in order on the socket) turns it on, on the camera's best stream.
        if listened {
            self.send_audio(&camera, true);
        }
    }

    fn take_id(&self) -> u32 {
        let id = self.next_id.get();
        self.next_id.set(id.wrapping_add(1));
        id
    }

    fn open(self: &Rc<Self>) {
        // (The retry closure that may be running this stays in place: dropping
        // a closure while it runs is not allowed; the next retry replaces it.)
        if self.shut.get() {
            return;
        }
        let attempt = self.attempt.get().wrapping_add(1);
        self.attempt.set(attempt);
        self.last_message_ms.set(now_ms());
        let relays: Vec<&str> = self.url.split(' ').collect();
        let url = relays[self.at.get() % relays.len()];
        let ws = match WebSocket::new(url) {
            Ok(ws) => ws,
            Err(e) => {
                web_sys::console::error_2(&"Sightline: cannot open".into(), &e);
                self.at.set(self.at.get().wrapping_add(1));
                self.schedule_retry();
                return;
            }
        };
        ws.set_binary_type(BinaryType::Arraybuffer);
        let weak = Rc::downgrade(self);
        let on_open = Closure::<dyn FnMut()>::new({
            let weak = weak.clone();
            move || {
                if let Some(conn) = weak.upgrade() {
                    conn.say_hello(attempt);
                }
            }
        });
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
            let weak = weak.clone();
            move |event: MessageEvent| {
                if let Some(conn) = weak.upgrade() {
                    conn.on_message(event);
                }
            }
        });
        let on_close = Closure::<dyn FnMut()>::new(move || {
            if let Some(conn) = weak.upgrade() {
                conn.on_closed();
            }
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // `error` is always followed by `close`; handling `close` alone retries once.
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        *self.socket.borrow_mut() = Some(Socket {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        });
    }

    /// The socket of `attempt` is open: `hello`, with a ticket if these
    /// credentials have one. A `getTicket` is asked now, and its ticket sent
    /// only if that socket is still the open one when it comes.
    fn say_hello(self: &Rc<Self>, attempt: u32) {
        let get_ticket = match &self.credentials {
            credentials::Credentials::Cookie => return self.send_hello(None),
            credentials::Credentials::Ticket(ticket) => {
                return self.send_hello(Some(ticket.clone()))
            }
            credentials::Credentials::Source(get_ticket) => get_ticket.clone(),
        };
        let weak = Rc::downgrade(self);
        wasm_bindgen_futures::spawn_local(async move {
            let fetched = fetch_ticket(&get_ticket).await;
            let Some(conn) = weak.upgrade() else { return };
            if !conn.is_current(attempt) {
                // The socket closed while the page fetched (its close already
                // scheduled the next attempt, which asks again), or the
                // connection was shut: the ticket goes unused.
                return;
            }
            match fetched {
                Ok(ticket) => conn.send_hello(Some(ticket)),
                Err(message) => conn.ticket_failed(&message),
            }
        });
    }

    /// Whether the socket of `attempt` is still this connection's, and open.
    fn is_current(&self, attempt: u32) -> bool {
        !self.shut.get()
            && self.attempt.get() == attempt
            && self
                .socket
                .borrow()
                .as_ref()
                .is_some_and(|s| s.ws.ready_state() == WebSocket::OPEN)
    }

    /// Sends `hello`; the ticket is dropped with the message once sent.
    fn send_hello(&self, ticket: Option<Ticket>) {
        self.send(&ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
            client: Some("sightline-player".into()),
            ticket,
        });
    }

    /// `getTicket` failed: a failed connect. The elements say why (`error`),
    /// the socket closes, and the next attempt comes after the usual backoff.
    fn ticket_failed(self: &Rc<Self>, message: &str) {
        web_sys::console::warn_1(&format!("Sightline: {message}").into());
        for sink in self.sinks(|_| true) {
            sink.on_ticket_failed(message);
        }
        if self.shut.get() {
            return; // an `error` listener moved the last element elsewhere
        }
        if let Some(socket) = self.socket.borrow().as_ref() {
            let _ = socket.ws.close();
        }
        self.on_closed();
    }

    fn on_closed(self: &Rc<Self>) {
        // With several relays, the next attempt goes to the next one: a
        // relay that is gone is not waited for.
        self.at.set(self.at.get().wrapping_add(1));
        self.welcomed.set(false);
        self.channels.borrow_mut().clear();
        self.configs.borrow_mut().clear();
        self.substreams.borrow_mut().clear();
        self.pending.borrow_mut().clear();
        self.ptz_states.borrow_mut().clear();
        if let Some(old) = self.socket.borrow_mut().take() {
            old.ws.set_onopen(None);
            old.ws.set_onmessage(None);
            old.ws.set_onclose(None);
        }
        // What the relay said of its cameras is stale until the next `welcome`.
        let watched: Vec<String> = self.statuses.borrow_mut().drain().map(|(c, _)| c).collect();
        for sink in self.sinks(|_| true) {
            sink.on_link_lost();
        }
        for camera in watched {
            for sink in self.alert_sinks(&camera) {
                sink.on_watch_lost();
            }
        }
        self.schedule_retry();
    }

    fn schedule_retry(self: &Rc<Self>) {
        let delay = self.backoff.borrow_mut().next_delay(js_sys::Math::random());
        let weak = Rc::downgrade(self);
        let retry = Closure::<dyn FnMut()>::new(move || {
            if let Some(conn) = weak.upgrade() {
                conn.open();
            }
        });
        let timer = web_sys::window().and_then(|window| {
            window
                .set_timeout_with_callback_and_timeout_and_arguments_0(
                    retry.as_ref().unchecked_ref(),
                    delay.as_millis() as i32,
                )
                .ok()
        });
        if let Some(timer) = timer {
            *self.retry.borrow_mut() = Some((timer, retry));
        }
    }

    fn on_message(&self, event: MessageEvent) {
        self.last_message_ms.set(now_ms());
        let data = event.data();
        if let Some(text) = data.as_string() {
            match ServerMessage::parse(&text) {
                Ok(msg) => self.on_control(msg),
                Err(e) => web_sys::console::warn_1(&format!("Sightline: {e}").into()),
            }
        } else if let Ok(buffer) = data.dyn_into::<ArrayBuffer>() {
            self.on_binary(&buffer);
        }
    }

    fn on_binary(&self, buffer: &ArrayBuffer) {
        let mut head = [0u8; HEADER_LEN];
        let len = buffer.byte_length() as usize;
        if len < HEADER_LEN {
            web_sys::console::warn_1(&format!("Sightline: binary frame of {len} bytes").into());
            return;
        }
        Uint8Array::new_with_byte_offset_and_length(buffer, 0, HEADER_LEN as u32)
            .copy_to(&mut head);
        let header = match MediaHeader::parse(&head) {
            Ok((header, _)) => header,
            Err(e) => {
                web_sys::console::warn_1(&format!("Sightline: {e}").into());
                return;
            }
        };
        let Some((camera, stream)) = self.channels.borrow().get(&header.channel).cloned() else {
            return; // a frame still in flight after unsubscribe
        };
        let payload = Uint8Array::new_with_byte_offset(buffer, HEADER_LEN as u32);
        if header.kind == FrameKind::Audio {
            let key = (camera, stream);
            let config = self.audio_configs.borrow().get(&key).cloned();
            // (The relay sends a stream's `audio_config` before its first frame.)
            if let Some(config) = config {
                for sink in self.audio_sinks(&key.0) {
                    sink.on_audio(&header, &payload, &config);
                }
            }
            return;
        }
        for sink in self.sinks(|a| a.camera == camera && a.stream == stream) {
            sink.on_frame(&header, &payload);
        }
    }

    fn on_control(&self, msg: ServerMessage) {
        match msg {
            ServerMessage::Welcome { cameras, .. } => {
                self.welcomed.set(true);
                // A new socket: the relay sends each camera's PTZ state anew
                // on subscribing; what a lease said on the old one is void.
                self.ptz_states.borrow_mut().clear();
                self.ptz_requests.borrow_mut().clear();
                self.backoff.borrow_mut().reset();
                // The relay sends the active alerts anew right after this.
                let had_alerts = self.alerts.borrow_mut().reset();
                for camera in had_alerts {
                    for sink in self.alert_sinks(&camera) {
                        sink.on_alerts_reset();
                    }
                }
                // Every camera's states first, then the elements told: an
                // element choosing its stream sees both streams' states.
                for info in &cameras {
                    self.statuses
                        .borrow_mut()
                        .insert(info.id.clone(), info.status.clone());
                    if let Some(status) = &info.substream {
                        self.substreams
                            .borrow_mut()
                            .insert(info.id.clone(), status.clone());
                    }
                }
                for info in cameras {
                    if let Some(status) = info.substream {
                        self.set_substream(&info.id, status);
                    }
                    self.set_status(&info.id, info.status);
                }
                // Attachments whose element is gone: nobody to subscribe for.
                self.attachments
                    .borrow_mut()
                    .retain(|a| a.sink.strong_count() > 0);
                let mut streams: Vec<(String, Stream)> = self
                    .attachments
                    .borrow()
                    .iter()
                    .map(|a| (a.camera.clone(), a.stream))
                    .collect();
                streams.sort_by(|a, b| (&a.0, a.1.is_main()).cmp(&(&b.0, b.1.is_main())));
                streams.dedup();
                // (An element told of its camera's substream above may have
                // changed stream, and that subscribed at once.) A substream
                // the relay no longer has is not asked for: its elements
                // move to the main stream when told the camera's state.
                streams.retain(|key| {
                    !self.pending.borrow().values().any(|k| k == key)
                        && (key.1.is_main() || self.substreams.borrow().contains_key(&key.0))
                });
                for (camera, stream) in streams {
                    self.subscribe(camera, stream);
                }
            }
            ServerMessage::Subscribed {
                id,
                camera,
                stream,
                channel,
                config,
                burst,
            } => {
                // The stream asked for: the relay serves the main stream for
                // `sub` of a camera without one (elements ask for `sub` only
                // of cameras that have one).
                let asked = self
                    .pending
                    .borrow_mut()
                    .remove(&id)
                    .map_or(stream, |(_, asked)| asked);
                let key = (camera, asked);
                // Told again right after this if the stream (still) has audio.
                self.audio_configs.borrow_mut().remove(&key);
                self.channels.borrow_mut().insert(channel, key.clone());
                for sink in self.sinks(|a| a.camera == key.0 && a.stream == key.1) {
                    sink.on_subscribed(burst);
                }
                if let Some(config) = config {
                    self.set_config(key, config);
                }
            }
            ServerMessage::Config { channel, config } => {
                let key = self.channels.borrow().get(&channel).cloned();
                if let Some(key) = key {
                    self.set_config(key, config);
                }
            }
            ServerMessage::Unsubscribed { channel, .. } => {
                if let Some(key) = self.channels.borrow_mut().remove(&channel) {
                    self.audio_configs.borrow_mut().remove(&key);
                }
            }
            ServerMessage::CameraStatus {
                camera,
                stream: Stream::Sub,
                status,
            } => self.set_substream(&camera, status),
            ServerMessage::CameraStatus {
                camera,
                stream: Stream::Main,
                status,
            } => self.set_status(&camera, status),
            ServerMessage::PtzState { camera, state } => {
                self.ptz_states
                    .borrow_mut()
                    .insert(camera.clone(), state.clone());
                for sink in self.sinks(|a| a.camera == camera) {
                    sink.on_ptz(&state);
                }
            }
            ServerMessage::Alert { event, alert } => {
                let applied = self.alerts.borrow_mut().apply(event, &alert);
                for sink in self.alert_sinks(&alert.camera) {
                    sink.on_alert(event, &alert, applied);
                }
            }
            ServerMessage::Error {
                code,
                message,
                request,
            } => {
                web_sys::console::warn_1(&format!("Sightline relay: {code:?}: {message}").into());
                let ptz_camera = request.and_then(|id| {
                    let mut recent = self.ptz_requests.borrow_mut();
                    let at = recent.iter().position(|(r, _)| *r == id)?;
                    recent.remove(at).map(|(_, camera)| camera)
                });
                if let Some(camera) = ptz_camera {
                    for sink in self.sinks(|a| a.camera == camera) {
                        sink.on_ptz_error(code, &message);
                    }
                    return;
                }
                let refused = request
                    .and_then(|id| self.pending.borrow_mut().remove(&id))
                    .map(|(camera, _)| camera);
                let name = match code {
                    ErrorCode::UnknownCamera => "unknown_camera",
                    ErrorCode::ProtocolMismatch => "protocol_mismatch",
                    ErrorCode::Unauthenticated => "unauthenticated",
                    _ => "",
                };
                match (code, refused) {
                    (ErrorCode::UnknownCamera, Some(camera)) => {
                        // The state first: an `error` listener sees `offline`.
                        self.set_status(
                            &camera,
                            CameraState::Offline {
                                reason: message.clone(),
                            },
                        );
                        for sink in self.sinks(|a| a.camera == camera) {
                            sink.on_refused(name, &message);
                        }
                    }
                    // Versions differ, or the relay does not know who this is
                    // (signed out, access revoked, a bad or expired ticket):
                    // every tile says why. The relay closes the socket; the
                    // reconnect (with backoff) asks `getTicket` again.
                    (ErrorCode::ProtocolMismatch | ErrorCode::Unauthenticated, _) => {
                        for sink in self.sinks(|_| true) {
                            sink.on_refused(name, &message);
                        }
                    }
                    _ => {}
                }
            }
            ServerMessage::AudioConfig { channel, config } => {
                let key = self.channels.borrow().get(&channel).cloned();
                if let Some(key) = key {
                    for sink in self.sinks(|a| a.camera == key.0) {
                        sink.on_audio_config(&config);
                    }
                    self.audio_configs.borrow_mut().insert(key, config);
                }
            }
        }
    }

    fn set_config(&self, key: (String, Stream), config: StreamConfig) {
        for sink in self.sinks(|a| a.camera == key.0 && a.stream == key.1) {
            sink.on_config(&config);
        }
        self.configs.borrow_mut().insert(key, config);
    }

    fn set_substream(&self, camera: &str, status: CameraState) {
        self.substreams
            .borrow_mut()
            .insert(camera.to_owned(), status.clone());
        for sink in self.sinks(|a| a.camera == camera) {
            sink.on_substream(&status);
        }
    }

    fn set_status(&self, camera: &str, status: CameraState) {
        self.statuses
            .borrow_mut()
            .insert(camera.to_owned(), status.clone());
        for sink in self.sinks(|a| a.camera == camera) {
            sink.on_camera(&status);
        }
        for sink in self.alert_sinks(camera) {
            sink.on_status(&status);
        }
    }

    /// Live sinks of the attachments matching `filter` (collected first, so a sink
    /// may attach or detach while being called).
    fn sinks(&self, filter: impl Fn(&Attachment) -> bool) -> Vec<Rc<dyn ChannelSink>> {
        self.attachments
            .borrow()
            .iter()
            .filter(|a| filter(a))
            .filter_map(|a| a.sink.upgrade())
            .collect()
    }

    fn send(&self, msg: &ClientMessage) {
        if let Some(socket) = self.socket.borrow().as_ref() {
            if let Err(e) = socket.ws.send_with_str(&msg.to_json()) {
                web_sys::console::warn_2(&"Sightline: send failed".into(), &e);
            }
        }
    }
}

/// Asks the page's `getTicket` (a ticket, or a Promise of one). The error is
/// the `error` event's message: what the function threw or rejected with.
async fn fetch_ticket(get_ticket: &Function) -> Result<Ticket, String> {
    let returned = get_ticket
        .call0(&JsValue::UNDEFINED)
        .map_err(|e| credentials::fetch_failed(reason(&e).as_deref()))?;
    let value = JsFuture::from(Promise::resolve(&returned))
        .await
        .map_err(|e| credentials::fetch_failed(reason(&e).as_deref()))?;
    credentials::accept_fetched(value.as_string())
}

/// What a thrown value says: an `Error`'s (or error-like object's) `message`,
/// or a thrown string.
fn reason(thrown: &JsValue) -> Option<String> {
    if let Some(text) = thrown.as_string() {
        return Some(text);
    }
    if thrown.is_object() {
        return Reflect::get(thrown, &"message".into())
            .ok()
            .and_then(|m| m.as_string());
    }
    None
}
