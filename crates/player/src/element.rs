//! `CamPlayerCore`: the Rust side of the `<cam-player>` element. The JS class in
//! `www/cam-player.js` creates one per element and forwards its lifecycle
//! (connected, disconnected, attribute changed); this owns the shadow DOM (canvas,
//! status overlay, decoder badge), the subscription, the decoder and the stats.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use js_sys::{Object, Reflect, Uint8Array};
use sightline_wire::{CameraState, MediaHeader, StreamConfig};
use wasm_bindgen::prelude::*;
use web_sys::{
    CustomEvent, CustomEventInit, HtmlCanvasElement, HtmlElement, ShadowRootInit, ShadowRootMode,
    VideoFrame,
};

use crate::backend::{Backend, Preference};
use crate::connection::{self, ChannelSink, Connection};
use crate::decoder::{Fed, WebCodecsDecoder};
use crate::fallback::{PixelFormat, WasmDecoder, WorkerFrame};
use crate::gl;
use crate::relay_url::websocket_url;
use crate::render::CanvasRenderer;
use crate::state::PlayerState;

const SHADOW_HTML: &str = r#"<style>
:host { display: block; position: relative; background: #000; aspect-ratio: 16 / 9; overflow: hidden; }
canvas { display: block; width: 100%; height: 100%; object-fit: contain; }
.overlay { position: absolute; inset: 0; display: flex; align-items: center; justify-content: center;
  padding: 1em; text-align: center; color: #eee; background: rgba(0, 0, 0, .55);
  font: 500 clamp(11px, 2.2cqw, 18px) system-ui, sans-serif; }
.overlay[hidden], .badge[hidden] { display: none; }
.badge { position: absolute; right: .5em; bottom: .5em; padding: .1em .4em; border-radius: .3em;
  color: #fff; background: rgba(0, 0, 0, .5); font: 11px ui-monospace, monospace; }
</style>
<canvas part="canvas"></canvas>
<div class="overlay" part="overlay">Connecting…</div>
<div class="badge" part="badge" hidden></div>"#;

/// Counters a page (and the tests) can read through `element.stats`.
#[derive(Debug, Default)]
struct Stats {
    received: u32,
    painted: u32,
    skipped: u32,
    decode_errors: u32,
    width: u32,
    height: u32,
    /// `performance.now()` when the element connected.
    started_at: f64,
    time_to_first_frame_ms: Option<f64>,
    /// The decoder's latest complaint, for `stats.lastError`.
    last_error: Option<String>,
    /// How the latest picture was painted: `canvas2d` or `webgl`.
    renderer: Option<&'static str>,
}

struct Player {
    host: HtmlElement,
    overlay: HtmlElement,
    badge: HtmlElement,
    renderer: CanvasRenderer,
    decoder: RefCell<Option<Backend>>,
    /// WebCodecs failed on this stream before painting anything: `auto` uses Wasm.
    webcodecs_failed: Cell<bool>,
    config: RefCell<Option<StreamConfig>>,
    link: RefCell<Option<(Rc<Connection>, u32)>>,
    /// Between `connected` and `disconnected`: attribute changes take effect at once.
    in_document: Cell<bool>,
    state: RefCell<PlayerState>,
    stats: RefCell<Stats>,
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
        let shadow = match host.shadow_root() {
            Some(shadow) => shadow,
            None => host.attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))?,
        };
        shadow.set_inner_html(SHADOW_HTML);
        let find = |selector: &str| -> Result<web_sys::Element, JsValue> {
            shadow
                .query_selector(selector)?
                .ok_or_else(|| JsValue::from_str("shadow DOM incomplete"))
        };
        let canvas: HtmlCanvasElement = find("canvas")?.dyn_into()?;
        let overlay: HtmlElement = find(".overlay")?.dyn_into()?;
        let badge: HtmlElement = find(".badge")?.dyn_into()?;
        let renderer = CanvasRenderer::new(canvas)?;
        let player = Rc::new_cyclic(|me| Player {
            host,
            overlay,
            badge,
            renderer,
            decoder: RefCell::new(None),
            webcodecs_failed: Cell::new(false),
            config: RefCell::new(None),
            link: RefCell::new(None),
            in_document: Cell::new(false),
            state: RefCell::new(PlayerState::Connecting),
            stats: RefCell::new(Stats::default()),
            me: me.clone(),
        });
        Ok(CamPlayerCore { player })
    }

    /// The element entered a document: subscribe.
    pub fn connected(&self) {
        self.player.in_document.set(true);
        self.player.start();
    }

    /// The element left the document: unsubscribe and free the decoder.
    pub fn disconnected(&self) {
        self.player.in_document.set(false);
        self.player.stop();
    }

    /// An observed attribute changed.
    #[wasm_bindgen(js_name = attributeChanged)]
    pub fn attribute_changed(&self, name: &str) {
        if matches!(name, "camera" | "relay" | "decoder") && self.player.in_document.get() {
            self.player.stop();
            self.player.start();
        }
    }

    /// The current state: `connecting`, `live`, `reconnecting` or `offline`.
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        self.player.state.borrow().name().to_owned()
    }

    /// A snapshot of the counters, as a plain object.
    pub fn stats(&self) -> Result<Object, JsValue> {
        self.player.stats_object()
    }
}

impl Player {
    fn start(&self) {
        let Some(camera) = self.host.get_attribute("camera").filter(|c| !c.is_empty()) else {
            self.set_state(PlayerState::Offline("no camera attribute".into()));
            return;
        };
        let relay = self
            .host
            .get_attribute("relay")
            .or_else(|| web_sys::window().and_then(|w| w.location().origin().ok()));
        let url = match relay.as_deref().map(websocket_url) {
            Some(Ok(url)) => url,
            Some(Err(e)) => return self.set_state(PlayerState::Offline(e)),
            None => return self.set_state(PlayerState::Offline("no relay URL".into())),
        };
        {
            let mut stats = self.stats.borrow_mut();
            *stats = Stats::default();
            stats.started_at = now_ms();
        }
        self.set_state(PlayerState::Connecting);
        let conn = connection::connection_for(&url);
        let me: Weak<dyn ChannelSink> = self.me.clone();
        let id = conn.attach(&camera, me);
        *self.link.borrow_mut() = Some((conn, id));
    }

    fn stop(&self) {
        if let Some((conn, id)) = self.link.borrow_mut().take() {
            conn.detach(id);
        }
        self.decoder.borrow_mut().take();
        self.config.borrow_mut().take();
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
            .map(|d| (d.name(), d.is_broken()));
        if let Some(("webcodecs", true)) = current {
            // Broken before its first picture: in `auto`, that means this
            // browser's WebCodecs cannot play this stream; use Wasm from now on.
            if self.stats.borrow().painted == 0 {
                self.webcodecs_failed.set(true);
            }
        }
        if current.is_none_or(|(_, broken)| broken) {
            let mut decoder = self.new_decoder()?;
            if let Err(e) = decoder.configure(&config) {
                if matches!(decoder, Backend::WebCodecs(_)) {
                    self.webcodecs_failed.set(true);
                }
                return Err(e);
            }
            self.badge.set_text_content(Some(decoder.label()));
            self.badge.set_hidden(false);
            *self.decoder.borrow_mut() = Some(decoder);
        } else if let Some(decoder) = self.decoder.borrow_mut().as_mut() {
            if decoder.config() != Some(&config) {
                decoder.configure(&config)?;
            }
        }
        Ok(())
    }

    /// In `auto`, asks WebCodecs whether it can decode this stream
    /// (`isConfigSupported`, asynchronous); if not, switches to the Wasm
    /// decoder. Until the answer, WebCodecs is tried optimistically (an error
    /// before the first picture switches too).
    fn check_webcodecs_support(&self, config: &StreamConfig) {
        let auto =
            Preference::parse(self.host.get_attribute("decoder").as_deref()) == Preference::Auto;
        if !auto || self.webcodecs_failed.get() || !WebCodecsDecoder::available() {
            return;
        }
        let me = self.me.clone();
        let config = config.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if WebCodecsDecoder::supports(&config).await {
                return;
            }
            let Some(player) = me.upgrade() else {
                return;
            };
            web_sys::console::info_1(
                &format!(
                    "Sightline: WebCodecs cannot decode {}; using the Wasm decoder",
                    config.codec
                )
                .into(),
            );
            player.webcodecs_failed.set(true);
            let on_webcodecs = matches!(*player.decoder.borrow(), Some(Backend::WebCodecs(_)));
            if on_webcodecs {
                player.decoder.borrow_mut().take();
                if let Err(e) = player.ensure_decoder() {
                    web_sys::console::warn_2(&"Sightline: no decoder".into(), &e);
                }
            }
        });
    }

    /// A new decoder of the kind the `decoder` attribute and this browser allow.
    fn new_decoder(&self) -> Result<Backend, JsValue> {
        let preference = Preference::parse(self.host.get_attribute("decoder").as_deref());
        let webcodecs = match preference {
            Preference::WebCodecs => true,
            Preference::Wasm => false,
            Preference::Auto => WebCodecsDecoder::available() && !self.webcodecs_failed.get(),
        };
        let me = self.me.clone();
        let on_error = move |message: String| {
            web_sys::console::warn_1(&format!("Sightline decoder: {message}").into());
            if let Some(player) = me.upgrade() {
                let mut stats = player.stats.borrow_mut();
                stats.decode_errors += 1;
                stats.last_error = Some(message);
            }
        };
        let me = self.me.clone();
        if webcodecs {
            let on_frame = move |frame: VideoFrame| match me.upgrade() {
                Some(player) => {
                    let painted = player.renderer.paint(frame);
                    player.on_painted(painted, "canvas2d");
                }
                None => frame.close(),
            };
            Ok(Backend::WebCodecs(WebCodecsDecoder::new(
                on_frame, on_error,
            )?))
        } else {
            let gl = gl::shared();
            let format = if gl.is_some() {
                PixelFormat::I420
            } else {
                PixelFormat::Rgba
            };
            let on_frame = move |frame: WorkerFrame| {
                if let Some(player) = me.upgrade() {
                    let (w, h) = (frame.width, frame.height);
                    let (painted, how) = match (&gl, frame.format) {
                        (Some(gl), PixelFormat::I420) => {
                            (player.renderer.paint_i420(gl, w, h, &frame.pixels), "webgl")
                        }
                        _ => (player.renderer.paint_rgba(w, h, &frame.pixels), "canvas2d"),
                    };
                    player.on_painted(painted, how);
                }
            };
            Ok(Backend::Wasm(WasmDecoder::new(format, on_frame, on_error)?))
        }
    }

    /// Counts a painted picture (or reports a failed paint) and goes live.
    fn on_painted(&self, painted: Result<(u32, u32), JsValue>, how: &'static str) {
        match painted {
            Ok((w, h)) => {
                let first = {
                    let mut stats = self.stats.borrow_mut();
                    stats.renderer = Some(how);
                    stats.painted += 1;
                    (stats.width, stats.height) = (w, h);
                    if stats.time_to_first_frame_ms.is_none() {
                        stats.time_to_first_frame_ms = Some(now_ms() - stats.started_at);
                    }
                    stats.painted == 1
                };
                // A picture means live when waiting for one; not when the relay
                // said the camera is gone (frames still in flight are painted,
                // but the state waits for the camera to be back).
                let waiting = matches!(
                    *self.state.borrow(),
                    PlayerState::Connecting | PlayerState::Reconnecting(None)
                );
                if first || waiting {
                    self.set_state(PlayerState::Live);
                }
            }
            Err(e) => web_sys::console::warn_2(&"Sightline: paint failed".into(), &e),
        }
    }

    fn set_state(&self, state: PlayerState) {
        if *self.state.borrow() == state {
            return;
        }
        match state.overlay_text() {
            Some(text) => {
                self.overlay.set_text_content(Some(&text));
                self.overlay.set_hidden(false);
            }
            None => self.overlay.set_hidden(true),
        }
        let _ = self.host.set_attribute("state", state.name());
        let detail = Object::new();
        let _ = Reflect::set(&detail, &"state".into(), &state.name().into());
        if let Some(reason) = state.reason() {
            let _ = Reflect::set(&detail, &"reason".into(), &reason.into());
        }
        *self.state.borrow_mut() = state;
        let init = CustomEventInit::new();
        init.set_detail(&detail);
        init.set_bubbles(true);
        init.set_composed(true);
        if let Ok(event) = CustomEvent::new_with_event_init_dict("statechange", &init) {
            let _ = self.host.dispatch_event(&event);
        }
    }

    fn stats_object(&self) -> Result<Object, JsValue> {
        let s = self.stats.borrow();
        let o = Object::new();
        let set = |k: &str, v: JsValue| Reflect::set(&o, &k.into(), &v);
        set("framesReceived", s.received.into())?;
        set("framesPainted", s.painted.into())?;
        set("framesSkipped", s.skipped.into())?;
        set("decodeErrors", s.decode_errors.into())?;
        set("width", s.width.into())?;
        set("height", s.height.into())?;
        set(
            "timeToFirstFrameMs",
            s.time_to_first_frame_ms
                .map_or(JsValue::NULL, JsValue::from),
        )?;
        let decoder = self.decoder.borrow().as_ref().map(Backend::name);
        set("decoder", decoder.map_or(JsValue::NULL, JsValue::from))?;
        let codec = self.config.borrow().as_ref().map(|c| c.codec.clone());
        set("codec", codec.map_or(JsValue::NULL, JsValue::from))?;
        set("state", self.state.borrow().name().into())?;
        set("renderer", s.renderer.map_or(JsValue::NULL, JsValue::from))?;
        set(
            "lastError",
            s.last_error.as_deref().map_or(JsValue::NULL, JsValue::from),
        )?;
        set("sockets", (connection::open_sockets() as u32).into())?;
        Ok(o)
    }
}

impl ChannelSink for Player {
    fn on_config(&self, config: &StreamConfig) {
        *self.config.borrow_mut() = Some(config.clone());
        self.check_webcodecs_support(config);
        if let Err(e) = self.ensure_decoder() {
            web_sys::console::warn_2(&"Sightline: cannot configure the decoder".into(), &e);
            self.stats.borrow_mut().decode_errors += 1;
        }
    }

    fn on_frame(&self, header: &MediaHeader, payload: &Uint8Array) {
        self.stats.borrow_mut().received += 1;
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
        let painting = *self.state.borrow() == PlayerState::Live;
        self.set_state(PlayerState::from_camera(status, painting));
    }

    fn on_link_lost(&self) {
        self.set_state(PlayerState::Reconnecting(None));
    }
}

fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}
