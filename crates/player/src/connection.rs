//! One WebSocket per relay per page, shared by every `<cam-player>` on it.
//!
//! The connection says hello, subscribes once per camera whatever the number of
//! elements showing it, routes binary frames by channel to those elements, and
//! reconnects forever with backoff, resubscribing when it is back.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::time::Duration;

use js_sys::{ArrayBuffer, Uint8Array};
use sightline_wire::{
    CameraState, ClientMessage, ErrorCode, MediaHeader, ServerMessage, StreamConfig, HEADER_LEN,
    PROTOCOL_VERSION,
};
use wasm_bindgen::prelude::*;
use web_sys::{BinaryType, MessageEvent, WebSocket};

use sightline_backoff::Backoff;

use crate::now_ms;

/// What an element receives from the connection.
pub trait ChannelSink {
    /// New decoder parameters; frames after this decode with them.
    fn on_config(&self, config: &StreamConfig);
    /// One access unit. `payload` views the received buffer (no copy).
    fn on_frame(&self, header: &MediaHeader, payload: &Uint8Array);
    /// The camera's state as the relay reports it.
    fn on_camera(&self, status: &CameraState);
    /// The relay refused this sink's request (unknown camera, protocol version).
    fn on_refused(&self, message: &str);
    /// The socket is down and being retried.
    fn on_link_lost(&self);
}

struct Attachment {
    id: u32,
    camera: String,
    sink: Weak<dyn ChannelSink>,
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
    url: String,
    socket: RefCell<Option<Socket>>,
    welcomed: Cell<bool>,
    attachments: RefCell<Vec<Attachment>>,
    /// channel → camera, from `subscribed`.
    channels: RefCell<HashMap<u16, String>>,
    /// Last known status per camera, for elements that attach later.
    statuses: RefCell<HashMap<String, CameraState>>,
    /// Current decoder parameters per subscribed camera, for elements that attach
    /// later (they start at the stream's next keyframe).
    configs: RefCell<HashMap<String, StreamConfig>>,
    /// Subscribe requests not answered yet: request id → camera.
    pending: RefCell<HashMap<u32, String>>,
    next_id: Cell<u32>,
    backoff: RefCell<Backoff>,
    /// The pending reconnect: its timer (to cancel it) and callback.
    retry: RefCell<Option<Retry>>,
    /// `performance.now()` of the latest message from the relay.
    last_message_ms: Cell<f64>,
}

/// A socket this long without a message while cameras are watched is taken
/// for dead by [`Connection::revive`] (the relay sends frames or, for an idle
/// camera, nothing: so only a caller that expected frames may ask).
const SILENT_MS: f64 = 10_000.0;

/// First reconnect delay, and the longest: a player keeps trying forever, this often.
const RECONNECT_FIRST: Duration = Duration::from_millis(250);
const RECONNECT_MAX: Duration = Duration::from_secs(10);

thread_local! {
    static CONNECTIONS: RefCell<HashMap<String, Rc<Connection>>> = RefCell::new(HashMap::new());
}

/// The page's connection to the relay at `url` (a `ws:`/`wss:` URL), opened on first use.
pub fn connection_for(url: &str) -> Rc<Connection> {
    CONNECTIONS.with(|all| {
        all.borrow_mut()
            .entry(url.to_owned())
            .or_insert_with(|| {
                let conn = Rc::new(Connection {
                    url: url.to_owned(),
                    socket: RefCell::new(None),
                    welcomed: Cell::new(false),
                    attachments: RefCell::new(Vec::new()),
                    channels: RefCell::new(HashMap::new()),
                    statuses: RefCell::new(HashMap::new()),
                    configs: RefCell::new(HashMap::new()),
                    pending: RefCell::new(HashMap::new()),
                    next_id: Cell::new(1),
                    backoff: RefCell::new(Backoff::new(RECONNECT_FIRST, RECONNECT_MAX)),
                    retry: RefCell::new(None),
                    last_message_ms: Cell::new(now_ms()),
                });
                conn.open();
                conn
            })
            .clone()
    })
}

/// How many sockets the page holds open (for tests and diagnostics).
pub fn open_sockets() -> usize {
    CONNECTIONS.with(|all| {
        all.borrow()
            .values()
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
    /// Shows `camera` to `sink` until [`Connection::detach`] with the returned id.
    pub fn attach(&self, camera: &str, sink: Weak<dyn ChannelSink>) -> u32 {
        let id = self.take_id();
        let first = !self.attachments.borrow().iter().any(|a| a.camera == camera);
        self.attachments.borrow_mut().push(Attachment {
            id,
            camera: camera.to_owned(),
            sink: sink.clone(),
        });
        if let Some(sink) = sink.upgrade() {
            if let Some(status) = self.statuses.borrow().get(camera) {
                sink.on_camera(status);
            }
            if let Some(config) = self.configs.borrow().get(camera) {
                sink.on_config(config);
            }
        }
        if first && self.welcomed.get() {
            self.subscribe(camera.to_owned());
        }
        id
    }

    /// Whether the socket is open and the relay has welcomed it.
    pub fn is_up(&self) -> bool {
        self.welcomed.get()
    }

    /// Stops showing a camera to one sink; unsubscribes when nobody watches it.
    pub fn detach(&self, id: u32) {
        let camera = {
            let mut attachments = self.attachments.borrow_mut();
            let Some(at) = attachments.iter().position(|a| a.id == id) else {
                return;
            };
            attachments.remove(at).camera
        };
        let still_watched = self.attachments.borrow().iter().any(|a| a.camera == camera);
        if !still_watched && self.welcomed.get() {
            self.configs.borrow_mut().remove(&camera);
            let id = self.take_id();
            self.send(&ClientMessage::Unsubscribe { id, camera });
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

    fn subscribe(&self, camera: String) {
        let id = self.take_id();
        self.pending.borrow_mut().insert(id, camera.clone());
        self.send(&ClientMessage::Subscribe { id, camera });
    }

    fn take_id(&self) -> u32 {
        let id = self.next_id.get();
        self.next_id.set(id.wrapping_add(1));
        id
    }

    fn open(self: &Rc<Self>) {
        // (The retry closure that may be running this stays in place: dropping
        // a closure while it runs is not allowed; the next retry replaces it.)
        self.last_message_ms.set(now_ms());
        let ws = match WebSocket::new(&self.url) {
            Ok(ws) => ws,
            Err(e) => {
                web_sys::console::error_2(&"Sightline: cannot open".into(), &e);
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
                    conn.send(&ClientMessage::Hello {
                        protocol: PROTOCOL_VERSION,
                        client: Some("sightline-player".into()),
                    });
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

    fn on_closed(self: &Rc<Self>) {
        self.welcomed.set(false);
        self.channels.borrow_mut().clear();
        self.configs.borrow_mut().clear();
        self.pending.borrow_mut().clear();
        if let Some(old) = self.socket.borrow_mut().take() {
            old.ws.set_onopen(None);
            old.ws.set_onmessage(None);
            old.ws.set_onclose(None);
        }
        for sink in self.sinks(|_| true) {
            sink.on_link_lost();
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
        let Some(camera) = self.channels.borrow().get(&header.channel).cloned() else {
            return; // a frame still in flight after unsubscribe
        };
        let payload = Uint8Array::new_with_byte_offset(buffer, HEADER_LEN as u32);
        for sink in self.sinks(|a| a.camera == camera) {
            sink.on_frame(&header, &payload);
        }
    }

    fn on_control(&self, msg: ServerMessage) {
        match msg {
            ServerMessage::Welcome { cameras, .. } => {
                self.welcomed.set(true);
                self.backoff.borrow_mut().reset();
                for info in cameras {
                    self.set_status(&info.id, info.status);
                }
                let mut cameras: Vec<String> = self
                    .attachments
                    .borrow()
                    .iter()
                    .map(|a| a.camera.clone())
                    .collect();
                cameras.sort();
                cameras.dedup();
                for camera in cameras {
                    self.subscribe(camera);
                }
            }
            ServerMessage::Subscribed {
                id,
                camera,
                channel,
                config,
            } => {
                self.pending.borrow_mut().remove(&id);
                self.channels.borrow_mut().insert(channel, camera.clone());
                if let Some(config) = config {
                    self.set_config(camera, config);
                }
            }
            ServerMessage::Config { channel, config } => {
                let camera = self.channels.borrow().get(&channel).cloned();
                if let Some(camera) = camera {
                    self.set_config(camera, config);
                }
            }
            ServerMessage::Unsubscribed { channel, .. } => {
                self.channels.borrow_mut().remove(&channel);
            }
            ServerMessage::CameraStatus { camera, status } => self.set_status(&camera, status),
            ServerMessage::Error {
                code,
                message,
                request,
            } => {
                web_sys::console::warn_1(&format!("Sightline relay: {code:?}: {message}").into());
                let refused = request.and_then(|id| self.pending.borrow_mut().remove(&id));
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
                            sink.on_refused(&message);
                        }
                    }
                    (ErrorCode::ProtocolMismatch, _) => {
                        for sink in self.sinks(|_| true) {
                            sink.on_refused(&message);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn set_config(&self, camera: String, config: StreamConfig) {
        for sink in self.sinks(|a| a.camera == camera) {
            sink.on_config(&config);
        }
        self.configs.borrow_mut().insert(camera, config);
    }

    fn set_status(&self, camera: &str, status: CameraState) {
        self.statuses
            .borrow_mut()
            .insert(camera.to_owned(), status.clone());
        for sink in self.sinks(|a| a.camera == camera) {
            sink.on_camera(&status);
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
