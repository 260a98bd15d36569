//! `CamPlayerCore`: the Rust side of the `<cam-player>` element. The JS class in
//! `www/cam-player.js` creates one per element and forwards its lifecycle
//! (connected, disconnected, attribute changed, credentials changed) and its
//! methods; this owns the subscription (only while the element can be seen:
//! `visibility.rs`) through its [`pipe::Pipe`] (stream, decoder), the state,
//! the stats and the `statechange`, `error` and `alert` events. What is
//! shown lives in `view.rs`.
//!
//! Streams: a camera with a substream plays the one `streams.rs` chooses
//! (the `stream` attribute, the element's size, the decoder, what is online),
//! chosen again when any of those changes. A switch subscribes the other
//! stream beside the one playing; the old stream keeps painting until the
//! new one has its first live picture, and is let go then: no blank, no
//! frozen picture while the new stream's fast start decodes.
//!
//! Alerts: from the moment it is in a document until it leaves, seen or not,
//! the element hears its camera's alerts from its connection (which then
//! opens, even before the element can be seen: an alert on a camera nobody
//! is looking at is the one that matters). Each `alert` message fires an
//! `alert` event (`detail` = the alert, as the relay's JSON, plus `event`:
//! `active`, `start`, `update`, `end` or `ack`); with the `alerts` attribute
//! the tile is outlined, coloured by severity, with the label of its most
//! severe active alert, until it ends. `activeAlerts` lists them.
//!
//! Credentials: the element's `getTicket` property (a function returning a
//! ticket or a Promise of one, asked at every (re)connect) wins over its
//! `ticket` attribute; with neither the relay goes by the page's session
//! cookie. The element uses the page's connection for its relay and those
//! credentials (`credentials.rs`), and changing either moves it to the
//! matching one, which connects with them.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use js_sys::{Function, Object, Promise, Reflect};
use sightline_wire::{
    AlertEvent, AlertInfo, CameraState, ErrorCode, MediaHeader, PtzAction, PtzState, ServerMessage,
    Stream, StreamConfig,
};
use wasm_bindgen::prelude::*;
use web_sys::{CustomEvent, CustomEventInit, HtmlElement};

use crate::alerts::{self, Applied};
use crate::assets;
use crate::backend::{Kind, Preference};
use crate::connection::{self, Connection, Credentials, Member, WatchSink};
use crate::meter::Meter;
use crate::now_ms;
use crate::ptz::Velocity;
use crate::ptz_controls::PtzControls;
use crate::relay_url::websocket_urls;
use crate::state::PlayerState;
use crate::streams::{self, Inputs, Wanted};
use crate::view::View;
use crate::visibility::Visibility;

mod pipe;
mod sound;

use pipe::Pipe;

/// A Wasm decoder whose worker died is replaced at most this often.
const WASM_RESTART_MS: f64 = 2000.0;

/// A picture painted less than this behind the relay's receipt of its frame
/// is live (`timeToLiveMs`).
const LIVE_MS: f64 = 100.0;

/// Counters a page (and the tests) can read through `element.getStats()`.
#[derive(Debug, Default)]
struct Stats {
    received: u32,
    painted: u32,
    skipped: u32,
    /// Wasm pictures decoded but replaced by a newer one before the screen's
    /// next refresh (painting is slower than the stream on this device).
    superseded: u32,
    decode_errors: u32,
    width: u32,
    height: u32,
    /// `performance.now()` when the element (re)started.
    started_at: f64,
    time_to_first_frame_ms: Option<f64>,
    /// Start → the first picture painted less than [`LIVE_MS`] behind the
    /// relay's receipt of its frame.
    time_to_live_ms: Option<f64>,
    /// Decoded but not painted: behind the live edge during a fast start (`join.rs`).
    caught_up: u32,
    /// The decoder's latest complaint, for `stats.lastError`.
    last_error: Option<String>,
    /// How the latest picture was painted: `canvas2d` or `webgl`.
    renderer: Option<&'static str>,
    /// Times the element stopped receiving because nobody could see it.
    pauses: u32,
    /// Switches between main stream and substream.
    switches: u32,
    /// Pictures of the old stream painted while the new one started.
    painted_while_switching: u32,
    meter: Meter,
    /// `performance.now()` of the stats box's last update.
    shown_at: f64,
}

struct Player {
    host: HtmlElement,
    view: View,
    visibility: Visibility,
    /// The stream shown: receiving while the element can be seen; kept
    /// while paused (with what was learnt of decoding it) until `restart`.
    pipe: RefCell<Option<Rc<Pipe>>>,
    /// The stream being switched to, until its first picture.
    incoming: RefCell<Option<Rc<Pipe>>>,
    /// Streams whose codec this browser cannot play: main, sub.
    unplayable: Cell<[bool; 2]>,
    /// A stream of this camera needed the Wasm decoder here: the
    /// substream is preferred from then on (kept across switches, so that
    /// an H.265 main stream in Wasm beside an H.264 substream in WebCodecs
    /// does not make the choice go back and forth).
    needed_wasm: Cell<bool>,
    /// The substream's picture width, once seen.
    sub_width: Cell<Option<u32>>,
    /// Where this element hears its camera's alerts: the connection, the
    /// watch's id and the camera (while in a document).
    alert_watch: RefCell<Option<(Rc<Connection>, u32, String)>>,
    /// The connection whose credentials this element uses, from its first
    /// subscription until it leaves the document or changes relay or
    /// credentials (kept while paused out of view).
    member: RefCell<Option<Member>>,
    /// Between `connected` and `disconnected`.
    in_document: Cell<bool>,
    /// The `stats` attribute is set: keep the stats box up to date.
    stats_shown: Cell<bool>,
    state: RefCell<PlayerState>,
    stats: RefCell<Stats>,
    /// The PTZ controls and `ptzMove`'s hold (while in a document with a camera).
    ptz: RefCell<Option<Rc<PtzControls>>>,
    /// Sound (`sound.rs`): muted (the default), this element's id at the
    /// page's speaker, the camera's audio if it has any, where this element
    /// listens to it, whether the browser waits for a click to play it.
    muted: Cell<bool>,
    sound_id: u64,
    camera_audio: RefCell<Option<sightline_wire::AudioConfig>>,
    audio_listen: RefCell<Option<(Rc<Connection>, u32)>>,
    /// Audio frames this element received (it gets none while muted).
    audio_frames: Cell<u32>,
    sound_blocked: Cell<bool>,
    _on_sound: Closure<dyn FnMut(web_sys::Event)>,
    me: Weak<Player>,
}

/// The Rust half of one `<cam-player>`.
#[wasm_bindgen]
pub struct CamPlayerCore {
    player: Rc<Player>,
}

#[wasm_bindgen]
impl CamPlayerCore {
    /// Builds the element's shadow DOM.
    #[wasm_bindgen(constructor)]
    pub fn new(host: HtmlElement) -> Result<CamPlayerCore, JsValue> {
        let view = View::new(host.clone())?;
        let player = Rc::new_cyclic(|me: &Weak<Player>| {
            let visibility = Visibility::new(
                host.clone(),
                {
                    let me = me.clone();
                    move || {
                        if let Some(player) = me.upgrade() {
                            player.follow_visibility();
                        }
                    }
                },
                {
                    let me = me.clone();
                    move || {
                        if let Some(player) = me.upgrade() {
                            player.retarget();
                        }
                    }
                },
            );
            // The sound button: its click is the gesture that lets sound
            // play, and is no click on the tile (the app focuses a tile on click).
            let on_sound = Closure::<dyn FnMut(web_sys::Event)>::new({
                let me = me.clone();
                move |event: web_sys::Event| {
                    event.stop_propagation();
                    if let Some(player) = me.upgrade() {
                        player.sound_clicked();
                    }
                }
            });
            Player {
                host,
                view,
                visibility,
                pipe: RefCell::new(None),
                incoming: RefCell::new(None),
                unplayable: Cell::new([false; 2]),
                needed_wasm: Cell::new(false),
                sub_width: Cell::new(None),
                alert_watch: RefCell::new(None),
                member: RefCell::new(None),
                in_document: Cell::new(false),
                stats_shown: Cell::new(false),
                state: RefCell::new(PlayerState::Connecting),
                stats: RefCell::new(Stats::default()),
                ptz: RefCell::new(None),
                muted: Cell::new(true),
                sound_id: crate::audio::speaker::next_id(),
                camera_audio: RefCell::new(None),
                audio_listen: RefCell::new(None),
                audio_frames: Cell::new(0),
                sound_blocked: Cell::new(false),
                _on_sound: on_sound,
                me: me.clone(),
            }
        });
        player
            .view
            .find(".sound")?
            .set_onclick(Some(player._on_sound.as_ref().unchecked_ref()));
        Ok(CamPlayerCore { player })
    }

    /// The element entered a document: start, and subscribe once it can be seen.
    pub fn connected(&self) {
        self.player.in_document.set(true);
        self.player.visibility.start();
        self.player.restart();
        self.attribute_changed("muted");
    }

    /// The element left the document: unsubscribe and free the decoder.
    pub fn disconnected(&self) {
        self.player.in_document.set(false);
        // A move this element held stops before it unsubscribes.
        let controls = self.player.ptz.take();
        drop(controls);
        self.player.visibility.stop();
        self.player.unsubscribe();
        self.player.forget_audio(true);
        self.player.unwatch_alerts();
        let left = self.player.member.take();
        drop(left);
    }

    /// An observed attribute changed.
    #[wasm_bindgen(js_name = attributeChanged)]
    pub fn attribute_changed(&self, name: &str) {
        match name {
            "camera" | "relay" | "ticket" | "decoder" | "renderer"
                if self.player.in_document.get() =>
            {
                self.player.restart()
            }
            "stats" => self.player.update_stats_box(true),
            "stream" => self.player.retarget(),
            "ptz" => {
                if let Some(controls) = self.player.ptz.borrow().as_ref() {
                    controls.attribute_changed();
                }
            }
            "alerts" => self.player.draw_alerts(false),
            // `muted="false"` asks for sound; any other value, or none, mutes.
            "muted" if self.player.in_document.get() => {
                let muted = self.player.host.get_attribute("muted").as_deref() != Some("false");
                self.player.set_muted(muted);
            }
            // `fit` and `controls` are CSS on the host's attributes.
            _ => {}
        }
    }

    /// The `getTicket` property changed: start again with the new credentials.
    #[wasm_bindgen(js_name = credentialsChanged)]
    pub fn credentials_changed(&self) {
        if self.player.in_document.get() {
            self.player.restart();
        }
    }

    /// Whether the element is muted (it starts so).
    #[wasm_bindgen(getter)]
    pub fn muted(&self) -> bool {
        self.player.muted.get()
    }

    /// Mutes, or unmutes (and takes the page's sound from another element).
    #[wasm_bindgen(js_name = setMuted)]
    pub fn set_muted(&self, muted: bool) {
        self.player.set_muted(muted);
    }

    /// The current state: `connecting`, `live`, `reconnecting` or `offline`.
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        self.player.state.borrow().name().to_owned()
    }

    /// The camera's active alerts (most severe first, then newest), as the
    /// relay's JSON objects.
    #[wasm_bindgen(js_name = activeAlerts)]
    pub fn active_alerts(&self) -> js_sys::Array {
        let list = js_sys::Array::new();
        if let Some((conn, _, camera)) = self.player.alert_watch.borrow().as_ref() {
            for alert in conn.active_alerts(camera) {
                list.push(&alert_object(None, alert));
            }
        }
        list
    }

    /// Starts (or changes) a move at these speeds (−1..1 each; pan right,
    /// tilt up, zoom in positive) until `ptzStop`: the element renews it
    /// while it lasts, and stops it when the element is hidden or removed.
    /// False (and nothing held for later) while the element receives
    /// nothing: hidden, out of view, not connected.
    #[wasm_bindgen(js_name = ptzMove)]
    pub fn ptz_move(&self, pan: f64, tilt: f64, zoom: f64) -> bool {
        let hidden = web_sys::window()
            .and_then(|w| w.document())
            .is_some_and(|d| d.hidden());
        let receiving = self.player.connection().is_some_and(|conn| conn.is_up());
        if hidden || !receiving {
            return false;
        }
        match self.player.ptz.borrow().as_ref() {
            Some(controls) => {
                controls.api_move(Velocity { pan, tilt, zoom });
                true
            }
            None => false,
        }
    }

    /// Stops whatever `ptzMove` or the controls hold.
    #[wasm_bindgen(js_name = ptzStop)]
    pub fn ptz_stop(&self) {
        if let Some(controls) = self.player.ptz.borrow().as_ref() {
            controls.release_all();
        }
    }

    /// Goes to a preset by name (or token); false when there is none such
    /// or the relay cannot be reached.
    #[wasm_bindgen(js_name = gotoPreset)]
    pub fn goto_preset(&self, name: &str) -> bool {
        self.player
            .ptz
            .borrow()
            .as_ref()
            .is_some_and(|c| c.goto_preset(name))
    }

    /// Saves the current position as a preset named `name`.
    #[wasm_bindgen(js_name = savePreset)]
    pub fn save_preset(&self, name: &str) -> bool {
        let name = name.trim().to_owned();
        !name.is_empty()
            && self
                .player
                .ptz
                .borrow()
                .as_ref()
                .is_some_and(|c| c.act(PtzAction::SetPreset { name, preset: None }))
    }

    /// The camera's PTZ state (as in the `ptzstate` event), or null.
    #[wasm_bindgen(getter, js_name = ptzState)]
    pub fn ptz_state(&self) -> JsValue {
        let state = self.player.ptz.borrow().as_ref().and_then(|c| c.state());
        let camera = self.player.host.get_attribute("camera").unwrap_or_default();
        state.map_or(JsValue::NULL, |s| ptz_object(&camera, s))
    }

    /// A snapshot of the counters, as a plain object.
    #[wasm_bindgen(js_name = getStats)]
    pub fn get_stats(&self) -> Result<Object, JsValue> {
        self.player.stats_object()
    }

    /// The picture shown now as an image Blob at the stream's resolution
    /// (`image/png` unless `mime` says otherwise; `quality` for lossy types).
    pub fn snapshot(&self, mime: Option<String>, quality: Option<f64>) -> Promise {
        let mime = mime.unwrap_or_else(|| "image/png".into());
        if self.player.stats.borrow().painted == 0 {
            return Promise::reject(&js_sys::Error::new("no picture yet").into());
        }
        self.player
            .view
            .snapshot(&mime, quality)
            .unwrap_or_else(|e| Promise::reject(&e))
    }

    /// Starts again now: resubscribes and, if the relay has been silent (a
    /// dead link the browser has not noticed), reopens the socket at once
    /// instead of waiting for the next retry.
    pub fn reconnect(&self) {
        if let Some(conn) = self.player.connection() {
            conn.revive();
        }
        if self.player.in_document.get() {
            self.player.restart();
        }
    }
}

impl Player {
    /// (Re)starts from scratch: new counters, `connecting`, a new subscription.
    fn restart(&self) {
        self.unsubscribe();
        self.forget_audio(false);
        self.unwatch_alerts();
        // Other relay or credentials: leave the old connection (subscribing
        // joins the new one; while out of view, nothing holds it open).
        let target = self.target().ok();
        let stale = self.member.borrow().as_ref().is_some_and(|member| {
            target
                .as_ref()
                .is_none_or(|(url, credentials)| !member.connection().is_for(url, credentials))
        });
        if stale {
            let left = self.member.take();
            drop(left);
        }
        // Another camera (or decoder choice): what was learnt of decoding
        // the old one goes with its pipe.
        self.pipe.borrow_mut().take();
        self.unplayable.set([false; 2]);
        self.needed_wasm.set(false);
        self.sub_width.set(None);
        {
            let mut stats = self.stats.borrow_mut();
            *stats = Stats::default();
            stats.started_at = now_ms();
        }
        self.set_state(PlayerState::Connecting);
        self.update_stats_box(true);
        self.watch_alerts();
        self.start_ptz();
        self.follow_visibility();
    }

    /// Fresh PTZ controls for the camera (the old ones, if any, let go).
    fn start_ptz(&self) {
        let old = self.ptz.take();
        drop(old);
        let has_camera = self
            .host
            .get_attribute("camera")
            .is_some_and(|c| !c.is_empty());
        if !(has_camera && self.in_document.get()) {
            return;
        }
        let me = self.me.clone();
        // The camera these controls were made for: a Stop sent while the
        // `camera` attribute changes goes to the camera that was moving.
        let camera = self.host.get_attribute("camera").unwrap_or_default();
        let send = move |action: PtzAction| -> bool {
            let Some(player) = me.upgrade() else {
                return false;
            };
            player
                .connection()
                .is_some_and(|conn| conn.ptz(&camera, action))
        };
        match PtzControls::new(self.host.clone(), &self.view, send) {
            Ok(controls) => *self.ptz.borrow_mut() = Some(controls),
            Err(e) => web_sys::console::warn_2(&"Sightline: no PTZ controls".into(), &e),
        }
    }

    /// Hears the camera's alerts from the connection for its relay and
    /// credentials (opening it), seen or not; draws the outline.
    fn watch_alerts(&self) {
        let camera = self.host.get_attribute("camera").filter(|c| !c.is_empty());
        let (Some(camera), Ok((url, credentials)), true) =
            (camera, self.target(), self.in_document.get())
        else {
            // `subscribe` says what is wrong with the attributes.
            return self.draw_alerts(false);
        };
        let conn = connection::connection_for(&url, credentials);
        self.join(&conn);
        let me: Weak<dyn WatchSink> = self.me.clone();
        let id = conn.watch_alerts(&camera, me);
        if !self.in_document.get() {
            // An `alert` listener took the element out of the document.
            conn.unwatch_alerts(id);
            return;
        }
        *self.alert_watch.borrow_mut() = Some((conn, id, camera));
        self.draw_alerts(false);
    }

    fn unwatch_alerts(&self) {
        if let Some((conn, id, _)) = self.alert_watch.borrow_mut().take() {
            conn.unwatch_alerts(id);
        }
        self.draw_alerts(false);
    }

    /// The outline, from the connection's active alerts for this camera:
    /// shown only with the `alerts` attribute; `ring` pulses it. The host's
    /// `alerting` attribute names the outline's severity (for the page's CSS).
    fn draw_alerts(&self, ring: bool) {
        let outline = if self.host.has_attribute("alerts") {
            self.alert_watch
                .borrow()
                .as_ref()
                .and_then(|(conn, _, camera)| {
                    let active = conn.active_alerts(camera);
                    alerts::outline(&active.iter().collect::<Vec<_>>())
                })
        } else {
            None
        };
        self.view.show_alert(outline.as_ref(), ring);
        let _ = match &outline {
            Some(o) => self.host.set_attribute("alerting", o.severity),
            None => self.host.remove_attribute("alerting"),
        };
    }

    /// Counts this element as a user of `conn`'s credentials (see [`Member`]).
    fn join(&self, conn: &Rc<Connection>) {
        let joined = self
            .member
            .borrow()
            .as_ref()
            .is_some_and(|member| Rc::ptr_eq(member.connection(), conn));
        if !joined {
            let left = self.member.replace(Some(conn.join()));
            drop(left);
        }
    }

    /// Subscribed exactly while the element is in a document and can be seen.
    fn follow_visibility(&self) {
        let want = self.in_document.get() && self.visibility.visible();
        let have = self.receiving();
        if want && !have {
            self.subscribe();
        } else if !want && have {
            self.unsubscribe();
            if self.in_document.get() {
                self.stats.borrow_mut().pauses += 1;
            }
        }
        if !want {
            self.show_paused();
        }
    }

    /// Out of view: the camera's real state as the connection last heard it
    /// (`paused` when online), not whatever the picture was doing.
    fn show_paused(&self) {
        if !self.in_document.get() {
            return;
        }
        let status = self
            .alert_watch
            .borrow()
            .as_ref()
            .map(|(conn, _, camera)| (conn.is_up(), conn.status(camera)));
        match status {
            Some((true, Some(status))) => self.set_state(PlayerState::paused(&status)),
            // The socket is down: nothing is known of the camera now.
            Some((false, _)) => self.set_state(PlayerState::Reconnecting(None)),
            _ => {}
        }
    }

    /// The relay's WebSocket URL and the credentials to use there, from the
    /// attributes and `getTicket`.
    fn target(&self) -> Result<(String, Credentials), String> {
        let relay = self
            .host
            .get_attribute("relay")
            .filter(|r| !r.trim().is_empty())
            .or_else(assets::default_relay);
        let url = match relay.as_deref().map(websocket_urls) {
            Some(result) => result?,
            None => return Err("no relay URL".into()),
        };
        let get_ticket = Reflect::get(&self.host, &"getTicket".into())
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok());
        let ticket = self.host.get_attribute("ticket");
        Ok((url, Credentials::choose(ticket.as_deref(), get_ticket)))
    }

    fn subscribe(&self) {
        let Some(camera) = self.camera() else {
            return self.fail("config", "no camera attribute");
        };
        let (url, credentials) = match self.target() {
            Ok(target) => target,
            Err(e) => return self.fail("config", &e),
        };
        let conn = connection::connection_for(&url, credentials);
        self.join(&conn);
        let current = self.pipe.borrow().as_ref().map(|p| p.stream);
        let stream = self.want(&conn, &camera, current);
        // The pipe of before a pause, if it is still the stream to play.
        let kept = self.pipe.borrow().clone().filter(|p| p.stream == stream);
        let pipe = kept.unwrap_or_else(|| Pipe::new(stream, self.me.clone()));
        *self.pipe.borrow_mut() = Some(pipe.clone());
        pipe.start(&conn, &camera);
        self.follow_audio();
        // Back from a pause while the link is down: not live any more.
        if !conn.is_up() && *self.state.borrow() == PlayerState::Live {
            self.set_state(PlayerState::Reconnecting(None));
        }
    }

    /// Stops receiving; the last picture stays on the canvas.
    fn unsubscribe(&self) {
        self.stop_listening();
        // What the controls hold stops first (the relay would stop it on
        // the unsubscribe anyway, when this was the socket's last viewer).
        let controls = self.ptz.borrow().clone();
        if let Some(controls) = controls {
            controls.release_all();
        }
        let incoming = self.incoming.borrow_mut().take();
        if let Some(incoming) = incoming {
            incoming.stop();
        }
        let pipe = self.pipe.borrow().clone();
        if let Some(pipe) = pipe {
            pipe.stop();
        }
        self.follow_audio();
        self.stats.borrow_mut().meter.restart();
    }

    fn camera(&self) -> Option<String> {
        self.host.get_attribute("camera").filter(|c| !c.is_empty())
    }

    /// Receiving (in a document, seen).
    fn receiving(&self) -> bool {
        self.pipe.borrow().as_ref().is_some_and(|p| p.receiving())
    }

    /// The connection this element receives from.
    fn connection(&self) -> Option<Rc<Connection>> {
        self.pipe.borrow().as_ref().and_then(|p| p.connection())
    }

    /// Whether `pipe` is the one shown.
    fn is_current(&self, pipe: &Pipe) -> bool {
        self.pipe
            .borrow()
            .as_ref()
            .is_some_and(|p| std::ptr::eq(&**p, pipe))
    }

    /// The stream to play now (`streams.rs`).
    fn want(&self, conn: &Connection, camera: &str, current: Option<Stream>) -> Stream {
        let sub = conn.substream(camera);
        let wasm = Preference::parse(self.host.get_attribute("decoder").as_deref())
            == Preference::Wasm
            || self.needed_wasm.get();
        let unplayable = match self.unplayable.get() {
            [true, false] => Some(Stream::Main),
            [false, true] => Some(Stream::Sub),
            _ => None,
        };
        let window = web_sys::window();
        let ratio = window.as_ref().map_or(1.0, |w| w.device_pixel_ratio());
        let css_width = self.host.get_bounding_client_rect().width();
        streams::choose(&Inputs {
            wanted: Wanted::parse(self.host.get_attribute("stream").as_deref()),
            has_sub: sub.is_some(),
            main_online: conn.status(camera) == Some(CameraState::Online),
            sub_online: sub == Some(CameraState::Online),
            unplayable,
            wasm,
            shown_width: streams::shown_width(css_width, ratio),
            sub_width: self.sub_width.get(),
            current,
        })
    }

    /// Chooses the stream again (size, attribute, decoder or a stream's
    /// state changed) and starts switching if it is another.
    fn retarget(&self) {
        let Some(current) = self.pipe.borrow().clone().filter(|p| p.receiving()) else {
            return;
        };
        let (Some(conn), Some(camera)) = (current.connection(), self.camera()) else {
            return;
        };
        // Hidden (`display: none`): its size says nothing; it pauses anyway.
        if self.host.get_bounding_client_rect().width() <= 0.0 {
            return;
        }
        // Neither stream plays here: stay, saying why.
        if self.unplayable.get() == [true, true] {
            return;
        }
        let want = self.want(&conn, &camera, Some(current.stream));
        let incoming = self.incoming.borrow().as_ref().map(|p| p.stream);
        if want == current.stream {
            // Back before the switch completed: the new stream is let go.
            if let Some(old) = self.incoming.borrow_mut().take() {
                old.stop();
            }
            return;
        }
        if incoming == Some(want) {
            return;
        }
        let pipe = Pipe::new(want, self.me.clone());
        if current.painted() == 0 {
            // Nothing of the current stream painted yet (the stream was
            // chosen before the relay said there is a substream): nothing
            // to keep painting, so no switch, a plain change.
            if let Some(old) = self.incoming.borrow_mut().take() {
                old.stop();
            }
            current.stop();
            *self.pipe.borrow_mut() = Some(pipe.clone());
            pipe.start(&conn, &camera);
            return;
        }
        // In place before it starts: attaching may configure it at once,
        // and that chooses again.
        let replaced = self.incoming.borrow_mut().replace(pipe.clone());
        if let Some(old) = replaced {
            old.stop();
        }
        pipe.start(&conn, &camera);
    }

    /// A picture of `pipe` is ready: whether to paint it. The stream being
    /// switched to takes over at its first picture, and the old one is let go.
    fn take_picture(&self, pipe: &Pipe) -> bool {
        if self.is_current(pipe) {
            if self.incoming.borrow().is_some() {
                self.stats.borrow_mut().painted_while_switching += 1;
            }
            return true;
        }
        let is_incoming = self
            .incoming
            .borrow()
            .as_ref()
            .is_some_and(|p| std::ptr::eq(&**p, pipe));
        if !is_incoming {
            return false;
        }
        let incoming = self.incoming.borrow_mut().take();
        let old = self.pipe.replace(incoming);
        if let Some(old) = old {
            old.stop();
        }
        {
            let mut stats = self.stats.borrow_mut();
            stats.switches += 1;
            // Its latency and rates are of the other stream.
            stats.meter.restart();
        }
        if let Some(label) = pipe.decoder_label() {
            self.view.show_decoder(&label);
        }
        if matches!(*self.state.borrow(), PlayerState::Unsupported(_)) {
            // The other stream could not be played here; this one can.
            self.set_state(PlayerState::Connecting);
        }
        // The state follows the stream shown now (the other may be down).
        if let Some(status) = self.stream_status(pipe.stream) {
            self.on_camera(&status);
        }
        true
    }

    /// The state of the camera's `stream`, as the connection last heard it.
    fn stream_status(&self, stream: Stream) -> Option<CameraState> {
        let conn = self.connection()?;
        let camera = self.camera()?;
        match stream {
            Stream::Main => conn.status(&camera),
            Stream::Sub => conn.substream(&camera),
        }
    }

    /// `pipe` has a new decoder.
    fn decoder_made(&self, pipe: &Pipe, label: &str) {
        if self.is_current(pipe) {
            self.view.show_decoder(label);
            if pipe.decoder_kind() == Some(Kind::Wasm) && !self.needed_wasm.replace(true) {
                // Wasm decodes a fraction as fast: the substream may suit better.
                self.retarget();
            }
        }
    }

    /// A decoder's complaint: counted, and an `error` event (not twice in a row).
    fn decoder_failed(&self, message: &str) {
        let repeated = {
            let mut stats = self.stats.borrow_mut();
            stats.decode_errors += 1;
            let repeated = stats.last_error.as_deref() == Some(message);
            stats.last_error = Some(message.to_owned());
            repeated
        };
        if !repeated {
            self.fire_error("decoder", message);
        }
    }

    /// Neither decoder plays `pipe`'s codec here. The stream being switched
    /// to gives way; the one shown says which codec and what to do (instead
    /// of "Connecting…" for ever) and fires `error` (`code:
    /// "unsupported_codec"`, once per stream), and the camera's other
    /// stream, if it has one, is tried.
    fn cannot_play(&self, pipe: &Pipe, message: &str, told: bool) {
        let mut unplayable = self.unplayable.get();
        unplayable[usize::from(pipe.stream == Stream::Sub)] = true;
        self.unplayable.set(unplayable);
        if !self.is_current(pipe) {
            web_sys::console::info_1(
                &format!("Sightline: {message}; keeping the other stream").into(),
            );
            if let Some(old) = self.incoming.borrow_mut().take() {
                old.stop();
            }
            return;
        }
        self.set_state(PlayerState::Unsupported(message.to_owned()));
        if !told {
            self.fire_error_with_code("decoder", Some("unsupported_codec"), message);
        }
        self.retarget();
    }

    /// A stream's decoder parameters: the substream's size is what the
    /// choice of stream compares the element's size with.
    fn stream_config(&self, stream: Stream, config: &StreamConfig) {
        if stream == Stream::Sub && self.sub_width.get() != Some(config.coded_width) {
            self.sub_width.set(Some(config.coded_width));
            self.retarget();
        }
    }

    /// A frame of `pipe` arrived: counted; the meter follows the stream shown.
    fn arrived(&self, pipe: &Pipe, header: &MediaHeader, bytes: usize) {
        let mut stats = self.stats.borrow_mut();
        stats.received += 1;
        if self.is_current(pipe) {
            stats
                .meter
                .arrived(header.timestamp_us, bytes, header.received_us, now_ms());
        }
    }

    /// Goes offline for a reason the page must fix, and says so in an `error` event.
    fn fail(&self, source: &str, message: &str) {
        self.set_state(PlayerState::Offline(message.to_owned()));
        self.fire_error(source, message);
    }

    /// Counts a painted picture (or reports a failed paint) and goes live.
    /// A picture was painted (or failed to be); `output_at`: when it came
    /// out of the decoder, on the page's clock.
    fn on_painted(
        &self,
        painted: Result<(u32, u32), JsValue>,
        how: &'static str,
        timestamp_us: Option<i64>,
        output_at: f64,
    ) {
        let (w, h) = match painted {
            Ok(size) => size,
            Err(e) => return web_sys::console::warn_2(&"Sightline: paint failed".into(), &e),
        };
        let first = {
            let mut stats = self.stats.borrow_mut();
            stats.renderer = Some(how);
            stats.painted += 1;
            (stats.width, stats.height) = (w, h);
            if stats.time_to_first_frame_ms.is_none() {
                stats.time_to_first_frame_ms = Some(now_ms() - stats.started_at);
            }
            let now = now_ms();
            let latency = stats
                .meter
                .painted(timestamp_us, now, js_sys::Date::now() * 1000.0);
            if stats.time_to_live_ms.is_none() && latency.is_some_and(|l| l < LIVE_MS) {
                stats.time_to_live_ms = Some(now - stats.started_at);
            }
            stats.meter.paint_took(now - output_at);
            stats.painted == 1
        };
        // A picture means live when waiting for one; not when the relay said
        // the camera is gone (frames still in flight are painted, but the
        // state waits for the camera to be back).
        let waiting = matches!(
            *self.state.borrow(),
            PlayerState::Connecting | PlayerState::Reconnecting(None)
        );
        if first || waiting {
            self.set_state(PlayerState::Live);
        }
        self.update_stats_box(false);
    }

    /// Refreshes the stats box, at most once a second unless `now`.
    fn update_stats_box(&self, now: bool) {
        if now {
            self.stats_shown.set(self.host.has_attribute("stats"));
        }
        if !self.stats_shown.get() {
            return;
        }
        let text = {
            let mut stats = self.stats.borrow_mut();
            let t = now_ms();
            if !now && t - stats.shown_at < 1000.0 {
                return;
            }
            stats.shown_at = t;
            stats.meter.roll(t);
            let f = stats.meter.figures();
            let decoder = self
                .pipe
                .borrow()
                .as_ref()
                .and_then(|p| p.decoder_kind())
                .map_or("—", |k| k.label());
            let ms = |v: Option<f64>| v.map_or("—".to_owned(), |v| format!("{v:.0} ms"));
            format!(
                "{}×{}  {:.1} fps  {:.2} Mbit/s\nlatency {} (decode {}, paint {})\n{decoder}",
                stats.width,
                stats.height,
                f.fps,
                f.bitrate_bps / 1e6,
                ms(f.relay_to_paint_ms),
                ms(f.arrival_to_paint_ms),
                ms(f.output_to_paint_ms),
            )
        };
        self.view.show_stats(&text);
    }

    fn set_state(&self, state: PlayerState) {
        if *self.state.borrow() == state {
            return;
        }
        self.view.show_overlay(state.overlay_text().as_deref());
        let _ = self.host.set_attribute("state", state.name());
        let detail = Object::new();
        let _ = Reflect::set(&detail, &"state".into(), &state.name().into());
        if let Some(reason) = state.reason() {
            let _ = Reflect::set(&detail, &"reason".into(), &reason.into());
        }
        *self.state.borrow_mut() = state;
        self.dispatch("statechange", &detail, true);
    }

    /// An `error` event: `detail = {source, message}`; `source` is `relay`
    /// (it refused the request or the socket), `ticket` (`getTicket` failed),
    /// `decoder` or `config` (the element's attributes).
    fn fire_error(&self, source: &str, message: &str) {
        self.fire_error_with_code(source, None, message);
    }

    /// An `error` event; `code` (the relay's error code) goes in `detail.code`.
    fn fire_error_with_code(&self, source: &str, code: Option<&str>, message: &str) {
        let detail = Object::new();
        let _ = Reflect::set(&detail, &"source".into(), &source.into());
        if let Some(code) = code {
            let _ = Reflect::set(&detail, &"code".into(), &code.into());
        }
        let _ = Reflect::set(&detail, &"message".into(), &message.into());
        self.dispatch("error", &detail, false);
    }

    fn dispatch(&self, name: &str, detail: &Object, bubbles: bool) {
        self.dispatch_value(name, detail, bubbles);
    }

    fn dispatch_value(&self, name: &str, detail: &JsValue, bubbles: bool) {
        let init = CustomEventInit::new();
        init.set_detail(detail);
        init.set_bubbles(bubbles);
        init.set_composed(bubbles);
        if let Ok(event) = CustomEvent::new_with_event_init_dict(name, &init) {
            let _ = self.host.dispatch_event(&event);
        }
    }

    fn stats_object(&self) -> Result<Object, JsValue> {
        let s = self.stats.borrow();
        let f = s.meter.figures();
        let o = Object::new();
        let set = |k: &str, v: JsValue| Reflect::set(&o, &k.into(), &v);
        let opt = |v: Option<f64>| v.map_or(JsValue::NULL, JsValue::from);
        set("framesReceived", s.received.into())?;
        set("framesPainted", s.painted.into())?;
        set("framesSkipped", s.skipped.into())?;
        set("framesSuperseded", s.superseded.into())?;
        set("decodeErrors", s.decode_errors.into())?;
        set("width", s.width.into())?;
        set("height", s.height.into())?;
        set("timeToFirstFrameMs", opt(s.time_to_first_frame_ms))?;
        set("timeToLiveMs", opt(s.time_to_live_ms))?;
        set("framesCaughtUp", s.caught_up.into())?;
        set("fps", f.fps.into())?;
        set("bitrateBps", f.bitrate_bps.into())?;
        set("latencyMs", opt(f.relay_to_paint_ms))?;
        set("decodeLatencyMs", opt(f.arrival_to_paint_ms))?;
        set("paintMs", opt(f.output_to_paint_ms))?;
        let percentiles = s.meter.arrival_to_paint_percentiles();
        set("decodeLatencyP50Ms", opt(percentiles.map(|p| p.0)))?;
        set("decodeLatencyP99Ms", opt(percentiles.map(|p| p.1)))?;
        let pipe = self.pipe.borrow().clone();
        let decoder = pipe
            .as_ref()
            .and_then(|p| p.decoder_kind())
            .map(|k| k.name());
        set("decoder", decoder.map_or(JsValue::NULL, JsValue::from))?;
        let codec = pipe.as_ref().and_then(|p| p.codec());
        set("codec", codec.map_or(JsValue::NULL, JsValue::from))?;
        let stream = pipe.as_ref().map(|p| p.stream.name());
        set("stream", stream.map_or(JsValue::NULL, JsValue::from))?;
        set("switching", self.incoming.borrow().is_some().into())?;
        set("streamSwitches", s.switches.into())?;
        set("paintedWhileSwitching", s.painted_while_switching.into())?;
        set("state", self.state.borrow().name().into())?;
        set("renderer", s.renderer.map_or(JsValue::NULL, JsValue::from))?;
        set(
            "lastError",
            s.last_error.as_deref().map_or(JsValue::NULL, JsValue::from),
        )?;
        set("receiving", self.receiving().into())?;
        set("pauses", s.pauses.into())?;
        set("muted", self.muted.get().into())?;
        set("audio", self.audio_stats()?)?;
        set("sockets", (connection::open_sockets() as u32).into())?;
        Ok(o)
    }
}

/// The camera's news, told by the pipe shown (`pipe.rs`).
impl Player {
    fn on_camera(&self, status: &CameraState) {
        // Back from a pause with a picture on the canvas: live again at once
        // (the next frames follow within a fast start), as before the pause.
        let painting = match *self.state.borrow() {
            PlayerState::Live => true,
            PlayerState::Paused => self.stats.borrow().painted > 0,
            _ => false,
        };
        let unplayable = self
            .pipe
            .borrow()
            .as_ref()
            .and_then(|p| p.unplayable_message());
        match unplayable {
            // Online, but nothing to paint with: keep saying why.
            Some(message) if *status == CameraState::Online => {
                self.set_state(PlayerState::Unsupported(message))
            }
            _ => self.set_state(PlayerState::from_camera(status, painting)),
        }
    }

    fn on_link_lost(&self) {
        self.set_state(PlayerState::Reconnecting(None));
        let controls = self.ptz.borrow().clone();
        if let Some(controls) = controls {
            controls.link_lost();
        }
    }

    fn on_ptz(&self, state: &PtzState) {
        let controls = self.ptz.borrow().clone();
        if let Some(controls) = controls {
            controls.update(state);
        }
        let camera = self.host.get_attribute("camera").unwrap_or_default();
        self.dispatch_value("ptzstate", &ptz_object(&camera, state.clone()), false);
    }

    fn on_ptz_error(&self, code: ErrorCode, message: &str) {
        let controls = self.ptz.borrow().clone();
        if let Some(controls) = controls {
            controls.show_message(message);
            // Refused for who we are, not for what we asked: renewing would
            // only be refused again, five times a second.
            if matches!(
                code,
                ErrorCode::Conflict | ErrorCode::Forbidden | ErrorCode::NotSubscribed
            ) {
                controls.drop_hold();
            }
        }
        let code = serde_name(&code);
        self.fire_error_with_code("ptz", code.as_deref(), message);
    }
}

/// A wire enum's JSON name (`camera_refused`).
fn serde_name(code: &ErrorCode) -> Option<String> {
    let json = js_sys::JSON::parse(
        &ServerMessage::Error {
            code: *code,
            message: String::new(),
            request: None,
        }
        .to_json(),
    )
    .ok()?;
    Reflect::get(&json, &"code".into()).ok()?.as_string()
}

/// A PTZ state as the relay's JSON object, with `camera`.
fn ptz_object(camera: &str, state: PtzState) -> JsValue {
    let json = ServerMessage::PtzState {
        camera: camera.to_owned(),
        state,
    }
    .to_json();
    let Ok(message) = js_sys::JSON::parse(&json) else {
        return JsValue::NULL;
    };
    let object = Reflect::get(&message, &"state".into()).unwrap_or(JsValue::NULL);
    let _ = Reflect::set(&object, &"camera".into(), &camera.into());
    object
}

impl WatchSink for Player {
    fn on_alert(&self, event: AlertEvent, alert: &AlertInfo, applied: Applied) {
        // The outline first: an `alert` listener sees it (and `activeAlerts`) as it is now.
        if applied.changed || applied.ring {
            self.draw_alerts(applied.ring);
        }
        let detail = alert_object(Some(event), alert.clone());
        self.dispatch_value("alert", &detail, true);
    }

    fn on_alerts_reset(&self) {
        self.draw_alerts(false);
    }

    fn on_watch_lost(&self) {
        if !self.receiving() && self.in_document.get() {
            self.set_state(PlayerState::Reconnecting(None));
        }
    }

    fn on_status(&self, status: &CameraState) {
        // While subscribed, `on_camera` says it (with what is painted).
        let paused = !self.receiving() && self.in_document.get() && !self.visibility.visible();
        if paused {
            self.set_state(PlayerState::paused(status));
        }
    }
}

/// An alert as the relay's JSON object (what `GET /api/alerts` gives too),
/// with `event` when it comes from a message.
fn alert_object(event: Option<AlertEvent>, alert: AlertInfo) -> JsValue {
    let json = ServerMessage::Alert {
        event: event.unwrap_or(AlertEvent::Active),
        alert,
    }
    .to_json();
    let Ok(message) = js_sys::JSON::parse(&json) else {
        return JsValue::NULL;
    };
    let object = Reflect::get(&message, &"alert".into()).unwrap_or(JsValue::NULL);
    if let Some(event) = event {
        let _ = Reflect::set(&object, &"event".into(), &alerts::event_name(event).into());
    }
    object
}
