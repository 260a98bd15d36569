//! `CamPlayerCore`: the Rust side of the `<cam-player>` element. The JS class in
//! `www/cam-player.js` creates one per element and forwards its lifecycle
//! (connected, disconnected, attribute changed, credentials changed) and its
//! methods; this owns the subscription (only while the element can be seen:
//! `visibility.rs`), the decoder, the state, the stats and the `statechange`,
//! `error` and `alert` events. What is shown lives in `view.rs`.
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

use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use sightline_wire::{
    AlertEvent, AlertInfo, CameraState, ErrorCode, MediaHeader, PtzAction, PtzState, ServerMessage,
    StreamConfig,
};
use wasm_bindgen::prelude::*;
use web_sys::{CustomEvent, CustomEventInit, HtmlElement, VideoFrame};

use crate::alerts::{self, Applied};
use crate::assets;
use crate::backend::{Decoder, Kind, Preference};
use crate::codec::{self, Choice, Codec};
use crate::connection::{self, ChannelSink, Connection, Credentials, Member, WatchSink};
use crate::decoder::{Fed, WebCodecsDecoder};
use crate::fallback::{PixelFormat, WasmDecoder, WorkerFrame};
use crate::gl;
use crate::join::Join;
use crate::meter::Meter;
use crate::now_ms;
use crate::ptz::Velocity;
use crate::ptz_controls::PtzControls;
use crate::relay_url::websocket_url;
use crate::state::PlayerState;
use crate::view::View;
use crate::visibility::Visibility;

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
    meter: Meter,
    /// `performance.now()` of the stats box's last update.
    shown_at: f64,
}

struct Player {
    host: HtmlElement,
    view: View,
    visibility: Visibility,
    decoder: RefCell<Option<Box<dyn Decoder>>>,
    /// WebCodecs failed on this stream before painting anything: `auto` uses Wasm.
    webcodecs_failed: Cell<bool>,
    /// WebCodecs says it cannot decode this stream (`isConfigSupported`, or
    /// `configure` threw `NotSupportedError`): also when the page forces it.
    webcodecs_refused: Cell<bool>,
    /// What `isConfigSupported` said of the current stream, once it answered.
    webcodecs_verdict: Cell<Option<bool>>,
    /// Which pictures of a fast-start burst are painted.
    joining: RefCell<Join>,
    /// When the last Wasm decoder was made (`performance.now()`).
    wasm_made_at: Cell<f64>,
    /// No decoder here plays this stream's codec: the codec and what the tile says.
    unplayable: RefCell<Option<(String, String)>>,
    config: RefCell<Option<StreamConfig>>,
    link: RefCell<Option<(Rc<Connection>, u32)>>,
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
    /// The Wasm decoder's newest picture, painted at the next animation frame.
    /// With the time it came from the worker, on the page's clock.
    next_picture: RefCell<Option<(WorkerFrame, f64)>>,
    /// The PTZ controls and `ptzMove`'s hold (while in a document with a camera).
    ptz: RefCell<Option<Rc<PtzControls>>>,
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
            let visibility = Visibility::new(host.clone(), {
                let me = me.clone();
                move || {
                    if let Some(player) = me.upgrade() {
                        player.follow_visibility();
                    }
                }
            });
            Player {
                host,
                view,
                visibility,
                decoder: RefCell::new(None),
                webcodecs_failed: Cell::new(false),
                webcodecs_refused: Cell::new(false),
                webcodecs_verdict: Cell::new(None),
                joining: RefCell::new(Join::default()),
                wasm_made_at: Cell::new(f64::NEG_INFINITY),
                unplayable: RefCell::new(None),
                config: RefCell::new(None),
                link: RefCell::new(None),
                alert_watch: RefCell::new(None),
                member: RefCell::new(None),
                in_document: Cell::new(false),
                stats_shown: Cell::new(false),
                state: RefCell::new(PlayerState::Connecting),
                stats: RefCell::new(Stats::default()),
                next_picture: RefCell::new(None),
                ptz: RefCell::new(None),
                me: me.clone(),
            }
        });
        Ok(CamPlayerCore { player })
    }

    /// The element entered a document: start, and subscribe once it can be seen.
    pub fn connected(&self) {
        self.player.in_document.set(true);
        self.player.visibility.start();
        self.player.restart();
    }

    /// The element left the document: unsubscribe and free the decoder.
    pub fn disconnected(&self) {
        self.player.in_document.set(false);
        // A move this element held stops before it unsubscribes.
        let controls = self.player.ptz.take();
        drop(controls);
        self.player.visibility.stop();
        self.player.unsubscribe();
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
            "ptz" => {
                if let Some(controls) = self.player.ptz.borrow().as_ref() {
                    controls.attribute_changed();
                }
            }
            "alerts" => self.player.draw_alerts(false),
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
        let receiving = self
            .player
            .link
            .borrow()
            .as_ref()
            .is_some_and(|(conn, _)| conn.is_up());
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
        if let Some((conn, _)) = self.player.link.borrow().as_ref() {
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
        self.next_picture.borrow_mut().take();
        self.unplayable.borrow_mut().take();
        // Another camera (or decoder choice): WebCodecs may well play it.
        self.webcodecs_failed.set(false);
        self.webcodecs_refused.set(false);
        self.webcodecs_verdict.set(None);
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
            let link = player.link.borrow();
            link.as_ref()
                .is_some_and(|(conn, _)| conn.ptz(&camera, action))
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
        let have = self.link.borrow().is_some();
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
        let url = match relay.as_deref().map(websocket_url) {
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
        let Some(camera) = self.host.get_attribute("camera").filter(|c| !c.is_empty()) else {
            return self.fail("config", "no camera attribute");
        };
        let (url, credentials) = match self.target() {
            Ok(target) => target,
            Err(e) => return self.fail("config", &e),
        };
        let conn = connection::connection_for(&url, credentials);
        self.join(&conn);
        let me: Weak<dyn ChannelSink> = self.me.clone();
        let id = conn.attach(&camera, me);
        // Back from a pause while the link is down: not live any more.
        if !conn.is_up() && *self.state.borrow() == PlayerState::Live {
            self.set_state(PlayerState::Reconnecting(None));
        }
        *self.link.borrow_mut() = Some((conn, id));
    }

    /// Stops receiving; the last picture stays on the canvas.
    fn unsubscribe(&self) {
        // What the controls hold stops first (the relay would stop it on
        // the unsubscribe anyway, when this was the socket's last viewer).
        let controls = self.ptz.borrow().clone();
        if let Some(controls) = controls {
            controls.release_all();
        }
        if let Some((conn, id)) = self.link.borrow_mut().take() {
            conn.detach(id);
        }
        self.decoder.borrow_mut().take();
        self.config.borrow_mut().take();
        // A Wasm picture on its way to the screen stays off it.
        self.next_picture.borrow_mut().take();
        self.stats.borrow_mut().meter.restart();
    }

    /// Goes offline for a reason the page must fix, and says so in an `error` event.
    fn fail(&self, source: &str, message: &str) {
        self.set_state(PlayerState::Offline(message.to_owned()));
        self.fire_error(source, message);
    }

    /// A decoder configured for the current stream, replacing a broken one.
    fn ensure_decoder(&self) -> Result<(), JsValue> {
        let Some(config) = self.config.borrow().clone() else {
            return Ok(());
        };
        let current = self
            .decoder
            .borrow()
            .as_ref()
            .map(|d| (d.kind(), d.is_broken()));
        if let Some((Kind::WebCodecs, true)) = current {
            // Broken before its first picture: in `auto`, that means this
            // browser's WebCodecs cannot play this stream; use Wasm from now on.
            if self.stats.borrow().painted == 0 {
                self.webcodecs_failed.set(true);
            }
        }
        // A Wasm worker that died is replaced, but not more than every 2 s
        // (one that dies at once would otherwise restart at every frame).
        if let Some((Kind::Wasm, true)) = current {
            if now_ms() - self.wasm_made_at.get() < WASM_RESTART_MS {
                return Ok(());
            }
        }
        if current.is_none_or(|(_, broken)| broken) {
            if self.awaiting_webcodecs_verdict(&config) {
                return Ok(()); // `check_webcodecs_support` calls again
            }
            let choice = self.choose(&config);
            if choice == Choice::Neither {
                self.cannot_play(&config.codec);
                return Ok(());
            }
            let mut decoder = self.new_decoder(choice == Choice::WebCodecs, &config)?;
            if let Err(e) = decoder.configure(&config) {
                if decoder.kind() == Kind::WebCodecs {
                    self.webcodecs_failed.set(true);
                    let name = e.dyn_ref::<web_sys::DomException>().map(|e| e.name());
                    if name.as_deref() == Some("NotSupportedError") {
                        self.webcodecs_refused.set(true);
                    }
                }
                return Err(e);
            }
            self.view.show_decoder(decoder.label());
            *self.decoder.borrow_mut() = Some(decoder);
            self.joining.borrow_mut().restart(now_ms());
        } else if let Some(decoder) = self.decoder.borrow_mut().as_mut() {
            if decoder.config() != Some(&config) {
                decoder.configure(&config)?;
            }
        }
        Ok(())
    }

    /// Asks WebCodecs whether it can decode this stream (`isConfigSupported`,
    /// asynchronous); if not, switches to the Wasm decoder (in `auto`) or
    /// says the stream cannot be played (`decoder="webcodecs"`). Until the
    /// answer, WebCodecs is tried optimistically (in `auto`, an error before
    /// the first picture switches too).
    fn check_webcodecs_support(&self, config: &StreamConfig) {
        let wasm_only =
            Preference::parse(self.host.get_attribute("decoder").as_deref()) == Preference::Wasm;
        if wasm_only || self.webcodecs_refused.get() || !WebCodecsDecoder::available() {
            return;
        }
        let me = self.me.clone();
        let config = config.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let supported = WebCodecsDecoder::supports(&config).await;
            let Some(player) = me.upgrade() else {
                return;
            };
            if player.config.borrow().as_ref() != Some(&config) {
                return; // another stream by now: its own check answers
            }
            player.webcodecs_verdict.set(Some(supported));
            if supported {
                if player.decoder.borrow().is_none() {
                    if let Err(e) = player.ensure_decoder() {
                        web_sys::console::warn_2(&"Sightline: no decoder".into(), &e);
                    }
                }
                return;
            }
            web_sys::console::info_1(
                &format!(
                    "Sightline: WebCodecs cannot decode {}; using the Wasm decoder",
                    config.codec
                )
                .into(),
            );
            player.webcodecs_refused.set(true);
            let on_webcodecs = player
                .decoder
                .borrow()
                .as_ref()
                .is_some_and(|d| d.kind() == Kind::WebCodecs);
            if on_webcodecs {
                player.decoder.borrow_mut().take();
                if let Err(e) = player.ensure_decoder() {
                    web_sys::console::warn_2(&"Sightline: no decoder".into(), &e);
                }
            }
        });
    }

    /// Whether to wait for WebCodecs' answer before making a decoder: in
    /// `auto`, H.264 is tried at once (WebCodecs nearly always plays it: the
    /// faster start), other codecs only once `isConfigSupported` said yes
    /// (H.265 often is not: a try would end in an error event).
    fn awaiting_webcodecs_verdict(&self, config: &StreamConfig) -> bool {
        self.forced().is_none()
            && Codec::of(&config.codec) != Codec::H264
            && WebCodecsDecoder::available()
            && !self.webcodecs_refused.get()
            && self.webcodecs_verdict.get().is_none()
    }

    /// The `decoder` attribute, as `codec::choose` takes it.
    fn forced(&self) -> codec::Forced {
        match Preference::parse(self.host.get_attribute("decoder").as_deref()) {
            Preference::WebCodecs => Some(true),
            Preference::Wasm => Some(false),
            Preference::Auto => None,
        }
    }

    /// The decoder for `config`'s stream, as the `decoder` attribute, this
    /// browser and the codec allow.
    fn choose(&self, config: &StreamConfig) -> Choice {
        let forced = self.forced();
        // A failure before the first picture moves `auto` to Wasm; a page
        // that wants WebCodecs alone gets new tries (it may have been a
        // passing error), unless WebCodecs said it cannot decode the stream.
        let failed = forced.is_none() && self.webcodecs_failed.get();
        let webcodecs = WebCodecsDecoder::available() && !self.webcodecs_refused.get() && !failed;
        codec::choose(forced, webcodecs, Codec::of(&config.codec))
    }

    /// Neither decoder plays `codec` here: the tile says which codec and
    /// what to do (instead of "Connecting…" for ever), and an `error` event
    /// (`code: "unsupported_codec"`) tells the page, once per stream.
    fn cannot_play(&self, codec: &str) {
        let message = codec::unplayable_message(codec, self.forced());
        let entry = Some((codec.to_owned(), message.clone()));
        let told = *self.unplayable.borrow() == entry;
        *self.unplayable.borrow_mut() = entry;
        self.set_state(PlayerState::Unsupported(message.clone()));
        if !told {
            self.fire_error_with_code("decoder", Some("unsupported_codec"), &message);
        }
    }

    /// A new decoder: WebCodecs, or the Wasm worker for `config`'s codec.
    fn new_decoder(
        &self,
        webcodecs: bool,
        config: &StreamConfig,
    ) -> Result<Box<dyn Decoder>, JsValue> {
        let me = self.me.clone();
        let on_error = move |message: String| {
            web_sys::console::warn_1(&format!("Sightline decoder: {message}").into());
            if let Some(player) = me.upgrade() {
                let repeated = {
                    let mut stats = player.stats.borrow_mut();
                    stats.decode_errors += 1;
                    let repeated = stats.last_error.as_deref() == Some(message.as_str());
                    stats.last_error = Some(message.clone());
                    repeated
                };
                if !repeated {
                    player.fire_error("decoder", &message);
                }
            }
        };
        let me = self.me.clone();
        if webcodecs {
            let on_frame = move |frame: VideoFrame| match me.upgrade() {
                Some(player) if !player.paints(frame.timestamp() as i64) => frame.close(),
                Some(player) => {
                    let output_at = now_ms();
                    let timestamp = Some(frame.timestamp() as i64);
                    let painted = player.view.renderer.paint(frame);
                    player.on_painted(painted, "canvas2d", timestamp, output_at);
                }
                None => frame.close(),
            };
            Ok(Box::new(WebCodecsDecoder::new(on_frame, on_error)?))
        } else {
            let gl = gl::shared(gl::Painting::parse(
                self.host.get_attribute("renderer").as_deref(),
            ));
            let format = if gl.is_some() {
                PixelFormat::I420
            } else {
                PixelFormat::Rgba
            };
            let on_frame = move |frame: WorkerFrame| {
                if let Some(player) = me.upgrade() {
                    player.paint_at_next_refresh(frame, gl.clone());
                }
            };
            let codec = Codec::of(&config.codec);
            self.wasm_made_at.set(now_ms());
            Ok(Box::new(WasmDecoder::new(
                codec, format, on_frame, on_error,
            )?))
        }
    }

    /// Keeps the Wasm decoder's newest picture and paints it at the screen's
    /// next refresh. Painting a picture from the worker (a texture upload, or
    /// `putImageData` without WebGL) can take longer than a frame interval on a
    /// slow device: painting each one as it arrived let the pictures queue up
    /// behind each other, seconds deep. Now a picture that a newer one replaces
    /// before the refresh is dropped, and the latency stays one paint deep.
    /// (WebCodecs pictures are painted as they come: `drawImage` of a
    /// `VideoFrame` is cheap, and waiting for the refresh would add latency.)
    fn paint_at_next_refresh(&self, frame: WorkerFrame, gl: Option<Rc<gl::YuvGl>>) {
        if !self.paints(frame.timestamp_us) {
            return;
        }
        let replaced = self
            .next_picture
            .borrow_mut()
            .replace((frame, now_ms()))
            .is_some();
        if replaced {
            self.stats.borrow_mut().superseded += 1;
            return; // a paint is already scheduled
        }
        let me = self.me.clone();
        let paint = Closure::once_into_js(move || {
            let Some(player) = me.upgrade() else { return };
            let Some((frame, output_at)) = player.next_picture.borrow_mut().take() else {
                return;
            };
            let (w, h) = (frame.width, frame.height);
            let renderer = &player.view.renderer;
            let (painted, how) = match (&gl, frame.format) {
                (Some(gl), PixelFormat::I420) => {
                    (renderer.paint_i420(gl, w, h, &frame.pixels), "webgl")
                }
                _ => (renderer.paint_rgba(w, h, &frame.pixels), "canvas2d"),
            };
            player.on_painted(painted, how, Some(frame.timestamp_us), output_at);
        });
        if let Some(window) = web_sys::window() {
            let _ = window.request_animation_frame(paint.unchecked_ref());
        }
    }

    /// Whether to paint the picture of `timestamp_us` just decoded: not while
    /// catching up through a fast-start burst (`join.rs`), counted then.
    fn paints(&self, timestamp_us: i64) -> bool {
        let paint = self.joining.borrow_mut().paint(timestamp_us, now_ms());
        if !paint {
            self.stats.borrow_mut().caught_up += 1;
        }
        paint
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
                .decoder
                .borrow()
                .as_ref()
                .map_or("—", |d| d.kind().label());
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
        let decoder = self.decoder.borrow().as_ref().map(|d| d.kind().name());
        set("decoder", decoder.map_or(JsValue::NULL, JsValue::from))?;
        let codec = self.config.borrow().as_ref().map(|c| c.codec.clone());
        set("codec", codec.map_or(JsValue::NULL, JsValue::from))?;
        set("state", self.state.borrow().name().into())?;
        set("renderer", s.renderer.map_or(JsValue::NULL, JsValue::from))?;
        set(
            "lastError",
            s.last_error.as_deref().map_or(JsValue::NULL, JsValue::from),
        )?;
        set("receiving", self.link.borrow().is_some().into())?;
        set("pauses", s.pauses.into())?;
        set("sockets", (connection::open_sockets() as u32).into())?;
        Ok(o)
    }
}

impl ChannelSink for Player {
    fn on_subscribed(&self, burst: u32) {
        self.joining.borrow_mut().subscribed(burst, now_ms());
    }

    fn on_config(&self, config: &StreamConfig) {
        let old = self.config.replace(Some(config.clone()));
        if old.is_none_or(|old| old.codec != config.codec) {
            // What WebCodecs said was of another stream.
            self.webcodecs_verdict.set(None);
            self.webcodecs_refused.set(false);
        }
        // Another codec than the one found unplayable: playable until found
        // not to be (the same one again, after a pause: said already).
        let other_codec = self
            .unplayable
            .borrow()
            .as_ref()
            .is_some_and(|(codec, _)| *codec != config.codec);
        if other_codec {
            self.unplayable.borrow_mut().take();
            self.set_state(PlayerState::Connecting);
        }
        self.check_webcodecs_support(config);
        if let Err(e) = self.ensure_decoder() {
            web_sys::console::warn_2(&"Sightline: cannot configure the decoder".into(), &e);
            self.stats.borrow_mut().decode_errors += 1;
        }
    }

    fn on_frame(&self, header: &MediaHeader, payload: &Uint8Array) {
        {
            let mut stats = self.stats.borrow_mut();
            stats.received += 1;
            stats.meter.arrived(
                header.timestamp_us,
                payload.length() as usize,
                header.received_us,
                now_ms(),
            );
        }
        self.joining.borrow_mut().arrived(header.timestamp_us);
        if let Err(e) = self.ensure_decoder() {
            web_sys::console::warn_2(&"Sightline: decoder unavailable".into(), &e);
            return;
        }
        let fed = match self.decoder.borrow_mut().as_mut() {
            Some(decoder) => decoder.decode(header, payload),
            None => Ok(Fed::Skipped),
        };
        match fed {
            Ok(Fed::Decoding) => {}
            Ok(Fed::Skipped) => self.stats.borrow_mut().skipped += 1,
            Err(e) => {
                web_sys::console::warn_2(&"Sightline: decode failed".into(), &e);
                self.stats.borrow_mut().decode_errors += 1;
            }
        }
    }

    fn on_camera(&self, status: &CameraState) {
        // Back from a pause with a picture on the canvas: live again at once
        // (the next frames follow within a fast start), as before the pause.
        let painting = match *self.state.borrow() {
            PlayerState::Live => true,
            PlayerState::Paused => self.stats.borrow().painted > 0,
            _ => false,
        };
        let unplayable = self.unplayable.borrow().clone();
        match unplayable {
            // Online, but nothing to paint with: keep saying why.
            Some((_, message)) if *status == CameraState::Online => {
                self.set_state(PlayerState::Unsupported(message))
            }
            _ => self.set_state(PlayerState::from_camera(status, painting)),
        }
    }

    fn on_refused(&self, code: &str, message: &str) {
        let code = Some(code).filter(|c| !c.is_empty());
        self.fire_error_with_code("relay", code, message);
    }

    fn on_ticket_failed(&self, message: &str) {
        self.fire_error("ticket", message);
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
        if self.link.borrow().is_none() && self.in_document.get() {
            self.set_state(PlayerState::Reconnecting(None));
        }
    }

    fn on_status(&self, status: &CameraState) {
        // While subscribed, `on_camera` says it (with what is painted).
        let paused =
            self.link.borrow().is_none() && self.in_document.get() && !self.visibility.visible();
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
