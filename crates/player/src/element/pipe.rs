//! One of the camera's streams on its way to the canvas: its subscription on
//! the page's connection, its decoder, its fast start (`join.rs`) and what
//! was learnt of WebCodecs for it.
//!
//! An element has one pipe; two while it switches between main stream and
//! substream: the new one decodes its fast start unseen while the old one
//! keeps painting, and takes over at its first picture
//! ([`Player::take_picture`]), so a switch never shows a blank or a frozen
//! picture. Pictures of a pipe that is neither are dropped.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use js_sys::Uint8Array;
use sightline_wire::{CameraState, ErrorCode, MediaHeader, PtzState, Stream, StreamConfig};
use wasm_bindgen::prelude::*;
use web_sys::VideoFrame;

use super::{Player, WASM_RESTART_MS};
use crate::backend::{Decoder, Kind, Preference};
use crate::codec::{self, Choice, Codec};
use crate::connection::{ChannelSink, Connection};
use crate::decoder::{Fed, WebCodecsDecoder};
use crate::fallback::{PixelFormat, WasmDecoder, WorkerFrame};
use crate::gl;
use crate::join::Join;
use crate::now_ms;
use crate::state::PlayerState;

pub(super) struct Pipe {
    pub(super) stream: Stream,
    player: Weak<Player>,
    me: Weak<Pipe>,
    /// The connection and attachment while receiving.
    link: RefCell<Option<(Rc<Connection>, u32)>>,
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
    /// The Wasm decoder's newest picture, painted at the next animation frame.
    /// With the time it came from the worker, on the page's clock.
    next_picture: RefCell<Option<(WorkerFrame, f64)>>,
    /// Pictures this pipe painted.
    painted: Cell<u32>,
    /// A long fast-start burst is being decoded: the decoder may favour
    /// throughput until the live edge (`decoder.rs`).
    catching_up: Cell<bool>,
    /// Inside `start`'s attach (which may configure this pipe at once, and
    /// that may let go of it again): a stop then is carried out after it.
    starting: Cell<bool>,
    stopped_while_starting: Cell<bool>,
}

/// A burst of at least this many frames (a second at 30 fps) is caught up
/// for throughput.
const CATCH_UP_BURST: u32 = 30;

impl Pipe {
    pub(super) fn new(stream: Stream, player: Weak<Player>) -> Rc<Pipe> {
        Rc::new_cyclic(|me| Pipe {
            stream,
            player,
            me: me.clone(),
            link: RefCell::new(None),
            decoder: RefCell::new(None),
            webcodecs_failed: Cell::new(false),
            webcodecs_refused: Cell::new(false),
            webcodecs_verdict: Cell::new(None),
            joining: RefCell::new(Join::default()),
            wasm_made_at: Cell::new(f64::NEG_INFINITY),
            unplayable: RefCell::new(None),
            config: RefCell::new(None),
            next_picture: RefCell::new(None),
            painted: Cell::new(0),
            catching_up: Cell::new(false),
            starting: Cell::new(false),
            stopped_while_starting: Cell::new(false),
        })
    }

    /// Starts receiving `camera`'s stream from `conn`.
    pub(super) fn start(&self, conn: &Rc<Connection>, camera: &str) {
        let me: Weak<dyn ChannelSink> = self.me.clone();
        self.starting.set(true);
        self.stopped_while_starting.set(false);
        let id = conn.attach(camera, self.stream, me);
        self.starting.set(false);
        if self.stopped_while_starting.get() {
            // Let go of while attaching (the element chose again when this
            // stream's config came): detach now, or it would stay subscribed.
            conn.detach(id);
            return;
        }
        *self.link.borrow_mut() = Some((conn.clone(), id));
    }

    /// Stops receiving and frees the decoder; what was learnt of this
    /// stream's decoding stays (a paused element resumes with it).
    pub(super) fn stop(&self) {
        if self.starting.get() {
            self.stopped_while_starting.set(true);
        }
        if let Some((conn, id)) = self.link.borrow_mut().take() {
            conn.detach(id);
        }
        self.decoder.borrow_mut().take();
        self.config.borrow_mut().take();
        // A Wasm picture on its way to the screen stays off it.
        self.next_picture.borrow_mut().take();
    }

    pub(super) fn receiving(&self) -> bool {
        self.link.borrow().is_some()
    }

    pub(super) fn connection(&self) -> Option<Rc<Connection>> {
        self.link.borrow().as_ref().map(|(conn, _)| conn.clone())
    }

    pub(super) fn decoder_kind(&self) -> Option<Kind> {
        self.decoder.borrow().as_ref().map(|d| d.kind())
    }

    pub(super) fn decoder_label(&self) -> Option<String> {
        self.decoder.borrow().as_ref().map(|d| d.label().to_owned())
    }

    /// Pictures it painted.
    pub(super) fn painted(&self) -> u32 {
        self.painted.get()
    }

    pub(super) fn codec(&self) -> Option<String> {
        self.config.borrow().as_ref().map(|c| c.codec.clone())
    }

    /// What the tile says while this stream cannot be played here.
    pub(super) fn unplayable_message(&self) -> Option<String> {
        self.unplayable.borrow().as_ref().map(|(_, m)| m.clone())
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
            if self.painted.get() == 0 {
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
            decoder.set_catching_up(self.catching_up.get());
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
            let label = decoder.label();
            *self.decoder.borrow_mut() = Some(decoder);
            self.joining.borrow_mut().restart(now_ms());
            if let Some(player) = self.player.upgrade() {
                player.decoder_made(self, label);
            }
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
    /// answer, H.264 is tried optimistically (in `auto`, an error before
    /// the first picture switches too).
    fn check_webcodecs_support(&self, config: &StreamConfig) {
        let wasm_only = self.preference() == Preference::Wasm;
        if wasm_only || self.webcodecs_refused.get() || !WebCodecsDecoder::available() {
            return;
        }
        let me = self.me.clone();
        let config = config.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let supported = WebCodecsDecoder::supports(&config).await;
            let Some(pipe) = me.upgrade() else {
                return;
            };
            if pipe.config.borrow().as_ref() != Some(&config) {
                return; // another stream by now: its own check answers
            }
            pipe.webcodecs_verdict.set(Some(supported));
            if supported {
                if pipe.decoder.borrow().is_none() {
                    if let Err(e) = pipe.ensure_decoder() {
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
            pipe.webcodecs_refused.set(true);
            if pipe.decoder_kind() == Some(Kind::WebCodecs) {
                pipe.decoder.borrow_mut().take();
                if let Err(e) = pipe.ensure_decoder() {
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

    /// The `decoder` attribute.
    fn preference(&self) -> Preference {
        let attribute = self
            .player
            .upgrade()
            .and_then(|p| p.host.get_attribute("decoder"));
        Preference::parse(attribute.as_deref())
    }

    /// The `decoder` attribute, as `codec::choose` takes it.
    fn forced(&self) -> codec::Forced {
        match self.preference() {
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

    /// Neither decoder plays `codec` here: the player says so, or plays
    /// the camera's other stream.
    fn cannot_play(&self, codec: &str) {
        let message = codec::unplayable_message(codec, self.forced());
        let entry = Some((codec.to_owned(), message.clone()));
        let told = *self.unplayable.borrow() == entry;
        *self.unplayable.borrow_mut() = entry;
        if let Some(player) = self.player.upgrade() {
            player.cannot_play(self, &message, told);
        }
    }

    /// A new decoder: WebCodecs, or the Wasm worker for `config`'s codec.
    fn new_decoder(
        &self,
        webcodecs: bool,
        config: &StreamConfig,
    ) -> Result<Box<dyn Decoder>, JsValue> {
        let player = self.player.clone();
        let on_error = move |message: String| {
            web_sys::console::warn_1(&format!("Sightline decoder: {message}").into());
            if let Some(player) = player.upgrade() {
                player.decoder_failed(&message);
            }
        };
        let me = self.me.clone();
        if webcodecs {
            let on_frame = move |frame: VideoFrame| {
                let pipe = me.upgrade();
                let player = pipe.as_ref().and_then(|p| p.player.upgrade());
                let (Some(pipe), Some(player)) = (pipe, player) else {
                    return frame.close();
                };
                if !pipe.paints(frame.timestamp() as i64) || !player.take_picture(&pipe) {
                    return frame.close();
                }
                let output_at = now_ms();
                let timestamp = Some(frame.timestamp() as i64);
                let painted = player.view.renderer.paint(frame);
                pipe.painted.set(pipe.painted.get() + 1);
                player.on_painted(painted, "canvas2d", timestamp, output_at);
            };
            Ok(Box::new(WebCodecsDecoder::new(on_frame, on_error)?))
        } else {
            let renderer = self
                .player
                .upgrade()
                .and_then(|p| p.host.get_attribute("renderer"));
            let gl = gl::shared(gl::Painting::parse(renderer.as_deref()));
            let format = if gl.is_some() {
                PixelFormat::I420
            } else {
                PixelFormat::Rgba
            };
            let on_frame = move |frame: WorkerFrame| {
                if let Some(pipe) = me.upgrade() {
                    pipe.paint_at_next_refresh(frame, gl.clone());
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
            if let Some(player) = self.player.upgrade() {
                player.stats.borrow_mut().superseded += 1;
            }
            return; // a paint is already scheduled
        }
        let me = self.me.clone();
        let paint = Closure::once_into_js(move || {
            let Some(pipe) = me.upgrade() else { return };
            let Some(player) = pipe.player.upgrade() else {
                return;
            };
            let Some((frame, output_at)) = pipe.next_picture.borrow_mut().take() else {
                return;
            };
            if !player.take_picture(&pipe) {
                return;
            }
            let (w, h) = (frame.width, frame.height);
            let renderer = &player.view.renderer;
            let (painted, how) = match (&gl, frame.format) {
                (Some(gl), PixelFormat::I420) => {
                    (renderer.paint_i420(gl, w, h, &frame.pixels), "webgl")
                }
                _ => (renderer.paint_rgba(w, h, &frame.pixels), "canvas2d"),
            };
            pipe.painted.set(pipe.painted.get() + 1);
            player.on_painted(painted, how, Some(frame.timestamp_us), output_at);
        });
        if let Some(window) = web_sys::window() {
            let _ = window.request_animation_frame(paint.unchecked_ref());
        }
    }

    /// Whether to paint the picture of `timestamp_us` just decoded: not while
    /// catching up through a fast-start burst (`join.rs`), counted then.
    fn paints(&self, timestamp_us: i64) -> bool {
        let (paint, live) = {
            let mut joining = self.joining.borrow_mut();
            (joining.paint(timestamp_us, now_ms()), joining.is_live())
        };
        if live && self.catching_up.get() {
            // (Pictures come out in callbacks of their own, never while
            // the decoder is being fed: the borrow is free.)
            if let Ok(mut decoder) = self.decoder.try_borrow_mut() {
                self.catching_up.set(false);
                if let Some(decoder) = decoder.as_mut() {
                    decoder.set_catching_up(false);
                }
            }
        }
        if !paint {
            if let Some(player) = self.player.upgrade() {
                player.stats.borrow_mut().caught_up += 1;
            }
        }
        paint
    }

    /// The element, while this pipe is the one it shows (not one being
    /// switched to): the camera's news is told to the element once.
    fn shown_by(&self) -> Option<Rc<Player>> {
        let player = self.player.upgrade()?;
        player.is_current(self).then_some(player)
    }
}

impl ChannelSink for Pipe {
    fn on_subscribed(&self, burst: u32) {
        self.joining.borrow_mut().subscribed(burst, now_ms());
        let catching_up = burst >= CATCH_UP_BURST;
        self.catching_up.set(catching_up);
        if let Some(decoder) = self.decoder.borrow_mut().as_mut() {
            decoder.set_catching_up(catching_up);
        }
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
            if let Some(player) = self.shown_by() {
                player.set_state(PlayerState::Connecting);
            }
        }
        if let Some(player) = self.player.upgrade() {
            player.stream_config(self.stream, config);
        }
        self.check_webcodecs_support(config);
        if let Err(e) = self.ensure_decoder() {
            web_sys::console::warn_2(&"Sightline: cannot configure the decoder".into(), &e);
            if let Some(player) = self.player.upgrade() {
                player.stats.borrow_mut().decode_errors += 1;
            }
        }
    }

    fn on_frame(&self, header: &MediaHeader, payload: &Uint8Array) {
        if let Some(player) = self.player.upgrade() {
            player.arrived(self, header, payload.length() as usize);
        }
        let burst_arriving = {
            let mut joining = self.joining.borrow_mut();
            joining.arrived(header.timestamp_us);
            joining.burst_arriving()
        };
        if let Err(e) = self.ensure_decoder() {
            web_sys::console::warn_2(&"Sightline: decoder unavailable".into(), &e);
            return;
        }
        let fed = match self.decoder.borrow_mut().as_mut() {
            Some(decoder) => decoder.decode(header, payload, burst_arriving),
            None => Ok(Fed::Skipped),
        };
        let Some(player) = self.player.upgrade() else {
            return;
        };
        match fed {
            Ok(Fed::Decoding) => {}
            Ok(Fed::Skipped) => player.stats.borrow_mut().skipped += 1,
            Err(e) => {
                web_sys::console::warn_2(&"Sightline: decode failed".into(), &e);
                player.stats.borrow_mut().decode_errors += 1;
            }
        }
    }

    // The element's state follows the stream it shows: a tile playing the
    // substream is live while the main stream is down.
    fn on_camera(&self, status: &CameraState) {
        if let Some(player) = self.shown_by() {
            if self.stream == Stream::Main {
                player.on_camera(status);
            }
            player.retarget();
        }
    }

    fn on_substream(&self, status: &CameraState) {
        if let Some(player) = self.shown_by() {
            if self.stream == Stream::Sub {
                player.on_camera(status);
            }
            player.retarget();
        }
    }

    fn on_refused(&self, code: &str, message: &str) {
        if let Some(player) = self.shown_by() {
            let code = Some(code).filter(|c| !c.is_empty());
            player.fire_error_with_code("relay", code, message);
        }
    }

    fn on_ticket_failed(&self, message: &str) {
        if let Some(player) = self.shown_by() {
            player.fire_error("ticket", message);
        }
    }

    fn on_link_lost(&self) {
        if let Some(player) = self.shown_by() {
            player.on_link_lost();
        }
    }

    fn on_ptz(&self, state: &PtzState) {
        if let Some(player) = self.shown_by() {
            player.on_ptz(state);
        }
    }

    fn on_audio_config(&self, config: &sightline_wire::AudioConfig) {
        if let Some(player) = self.player.upgrade() {
            player.heard_of_audio(config);
        }
    }

    fn on_ptz_error(&self, code: ErrorCode, message: &str) {
        if let Some(player) = self.shown_by() {
            player.on_ptz_error(code, message);
        }
    }
}
