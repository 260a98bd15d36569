//! H.264 decoding with the browser's WebCodecs `VideoDecoder` (hardware where it
//! can), live rather than buffered: see `live.rs` for when frames are skipped.
//!
//! Configured with `optimizeForLatency` (a picture out as soon as its access
//! unit is in), except while a long fast-start burst is caught up: without
//! the flag Chromium's software decoder works on several pictures at once,
//! and a 1080p30 camera joined 9 s into a 10 s GOP was live after 1.7 s
//! instead of 3.1 s (median of 5, `cargo xtask bench player`). The decoder is
//! configured for latency again at the first keyframe after the live edge.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::Uint8Array;
use sightline_wire::{FrameFlags, MediaHeader, StreamConfig};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::backend::{Decoder, Kind};
use crate::live::{Admit, LiveGate};
use web_sys::{
    CodecState, EncodedVideoChunk, EncodedVideoChunkInit, EncodedVideoChunkType,
    HardwareAcceleration, VideoDecoder, VideoDecoderConfig, VideoDecoderInit, VideoFrame,
};

/// What happened to one access unit handed to [`WebCodecsDecoder::decode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fed {
    Decoding,
    /// Dropped: waiting for a keyframe (start, after an error, discontinuity, or falling behind).
    Skipped,
}

/// A `VideoDecoder` plus the live-playback rules around it.
pub struct WebCodecsDecoder {
    decoder: VideoDecoder,
    config: Option<StreamConfig>,
    gate: LiveGate,
    /// Frames the decoder has output so far, and the count when decoding last
    /// (re)started at a keyframe: the burst is over once the queue is empty and
    /// at least one frame came out since then.
    frames_out: Rc<Cell<u64>>,
    frames_out_at_key: u64,
    _output: Closure<dyn FnMut(VideoFrame)>,
    _error: Closure<dyn FnMut(JsValue)>,
    failed: Rc<RefCell<Option<String>>>,
    /// Asked to decode for throughput (a burst being caught up).
    catching_up: bool,
    /// How the decoder is configured now (`catching_up` at the last configure).
    configured_catching_up: bool,
}

impl WebCodecsDecoder {
    /// Whether this browser has WebCodecs' `VideoDecoder` at all (it needs a secure context).
    pub fn available() -> bool {
        let global = js_sys::global();
        js_sys::Reflect::has(&global, &"VideoDecoder".into()).unwrap_or(false)
    }

    /// A decoder that hands every decoded frame to `on_frame` (which must close it)
    /// and every error to `on_error`.
    pub fn new(
        mut on_frame: impl FnMut(VideoFrame) + 'static,
        mut on_error: impl FnMut(String) + 'static,
    ) -> Result<WebCodecsDecoder, JsValue> {
        let failed = Rc::new(RefCell::new(None));
        let frames_out = Rc::new(Cell::new(0));
        let output = Closure::<dyn FnMut(VideoFrame)>::new({
            let frames_out = frames_out.clone();
            move |frame: VideoFrame| {
                frames_out.set(frames_out.get() + 1);
                on_frame(frame);
            }
        });
        let error = Closure::<dyn FnMut(JsValue)>::new({
            let failed = failed.clone();
            move |e: JsValue| {
                let message = e
                    .dyn_ref::<js_sys::Error>()
                    .map(|e| String::from(e.message()))
                    .unwrap_or_else(|| format!("{e:?}"));
                *failed.borrow_mut() = Some(message.clone());
                on_error(message);
            }
        });
        let init = VideoDecoderInit::new(
            error.as_ref().unchecked_ref(),
            output.as_ref().unchecked_ref(),
        );
        Ok(WebCodecsDecoder {
            decoder: VideoDecoder::new(&init)?,
            config: None,
            gate: LiveGate::default(),
            frames_out,
            frames_out_at_key: 0,
            _output: output,
            _error: error,
            failed,
            catching_up: false,
            configured_catching_up: false,
        })
    }

    /// Whether this browser's WebCodecs says it can decode `config`
    /// (`VideoDecoder.isConfigSupported`); false where WebCodecs is missing.
    pub async fn supports(config: &StreamConfig) -> bool {
        if !WebCodecsDecoder::available() {
            return false;
        }
        let support = JsFuture::from(VideoDecoder::is_config_supported(&decoder_config(
            config, true,
        )))
        .await;
        support
            .ok()
            .and_then(|s| js_sys::Reflect::get(&s, &"supported".into()).ok())
            .and_then(|s| s.as_bool())
            .unwrap_or(false)
    }

    /// Resolves once every access unit fed so far has been output (end of a stream).
    pub fn flush(&self) -> js_sys::Promise<js_sys::Undefined> {
        self.decoder.flush()
    }

    /// Frames queued inside the decoder.
    pub fn queue_size(&self) -> u32 {
        self.decoder.decode_queue_size()
    }
}

impl Decoder for WebCodecsDecoder {
    fn kind(&self) -> Kind {
        Kind::WebCodecs
    }

    /// (Re)configures for a stream; decoding resumes at its next keyframe.
    fn configure(&mut self, config: &StreamConfig) -> Result<(), JsValue> {
        let cfg = decoder_config(config, !self.catching_up);
        if self.decoder.state() == CodecState::Closed {
            return Err(JsValue::from_str("decoder is closed after an error"));
        }
        self.decoder.configure(&cfg)?;
        self.configured_catching_up = self.catching_up;
        self.config = Some(config.clone());
        self.gate.restart();
        Ok(())
    }

    /// The configuration in use.
    fn config(&self) -> Option<&StreamConfig> {
        self.config.as_ref()
    }

    /// True once the browser reported an error; the decoder must be replaced.
    fn is_broken(&self) -> bool {
        self.failed.borrow().is_some() || self.decoder.state() == CodecState::Closed
    }

    /// Feeds one access unit.
    fn decode(
        &mut self,
        header: &MediaHeader,
        payload: &Uint8Array,
        burst_arriving: bool,
    ) -> Result<Fed, JsValue> {
        if self.config.is_none() || self.decoder.state() != CodecState::Configured {
            return Ok(Fed::Skipped);
        }
        let keyframe = header.flags.contains(FrameFlags::KEYFRAME);
        let queued = self.decoder.decode_queue_size();
        let started = self.frames_out.get() > self.frames_out_at_key;
        let drained = queued == 0 && started;
        let discontinuity = header.flags.contains(FrameFlags::DISCONTINUITY);
        match self.gate.admit(
            keyframe,
            discontinuity,
            queued,
            drained,
            started,
            burst_arriving,
        ) {
            Admit::Skip => return Ok(Fed::Skipped),
            Admit::Decode { restart: true } => self.frames_out_at_key = self.frames_out.get(),
            Admit::Decode { restart: false } => {}
        }
        if keyframe && self.catching_up != self.configured_catching_up {
            // Decoding may start anew here: the other mode from this picture on.
            if let Some(config) = &self.config {
                self.decoder
                    .configure(&decoder_config(config, !self.catching_up))?;
                self.configured_catching_up = self.catching_up;
            }
        }
        let kind = if keyframe {
            EncodedVideoChunkType::Key
        } else {
            EncodedVideoChunkType::Delta
        };
        let init = EncodedVideoChunkInit::new(payload, 0, kind);
        init.set_timestamp_f64(header.timestamp_us as f64);
        self.decoder.decode(&EncodedVideoChunk::new(&init)?)?;
        Ok(Fed::Decoding)
    }

    fn set_catching_up(&mut self, catching_up: bool) {
        self.catching_up = catching_up;
    }
}

/// `VideoDecoder.configure`'s argument for a stream; `latency`: `optimizeForLatency`.
fn decoder_config(config: &StreamConfig, latency: bool) -> VideoDecoderConfig {
    let cfg = VideoDecoderConfig::new(&config.codec);
    cfg.set_description_u8_array(&Uint8Array::from(&config.description[..]));
    cfg.set_coded_width(config.coded_width);
    cfg.set_coded_height(config.coded_height);
    cfg.set_optimize_for_latency(latency);
    cfg.set_hardware_acceleration(HardwareAcceleration::NoPreference);
    cfg
}

impl Drop for WebCodecsDecoder {
    fn drop(&mut self) {
        if self.decoder.state() != CodecState::Closed {
            let _ = self.decoder.close();
        }
    }
}
