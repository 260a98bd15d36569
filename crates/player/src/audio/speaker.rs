//! The page's one speaker: one `AudioContext` for every `<cam-player>`, and
//! the sound of the one element that holds it (unmuting another takes it).
//!
//! An audio frame goes: WebCodecs' `AudioDecoder` (or, where there is none
//! or with `decoder="wasm"`: for G.711 the table in `g711.rs`, for AAC
//! symphonia's decoder in a worker of its own, `crates/aac-worker`, fetched
//! only then) → mono samples at the camera's rate → `resample.rs` → one `AudioBuffer` at the sound card's rate,
//! started where `schedule.rs` places it → the element's gain → the analyser
//! (`getStats().audio.level`) → the speakers. Decoding is off the frame
//! path: audio frames come only while the element is unmuted.
//!
//! Browsers keep a context made without a user gesture suspended. Unmuting
//! by a click resumes it at once; unmuting by script (`muted = false`,
//! `muted="false"`) waits for the page's next click or key, and
//! `getStats().audio.blocked` says so meanwhile.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use js_sys::{Float32Array, Reflect};
use sightline_wire::{AudioConfig, MediaHeader};
use wasm_bindgen::prelude::*;
use web_sys::{
    AnalyserNode, AudioContext, AudioContextState, AudioData, AudioDataCopyToOptions, AudioDecoder,
    AudioDecoderConfig, AudioDecoderInit, AudioSampleFormat, CodecState, EncodedAudioChunk,
    EncodedAudioChunkInit, EncodedAudioChunkType, GainNode,
};

use super::g711::Law;
use super::resample::Resampler;
use super::schedule::{Place, Schedule};

thread_local! {
    static SPEAKER: RefCell<Option<Rc<Speaker>>> = const { RefCell::new(None) };
}

/// Tells an element it lost the sound to another.
pub(crate) type Lost = Box<dyn Fn()>;

/// Receipt times of recent frames, to match a decoded chunk (by its
/// timestamp) with when the relay received it: the latency figure.
const RECEIPTS_KEPT: usize = 32;

/// Sample rates and channel counts taken from a camera (anything else is
/// refused: a bogus 1 Hz would make a 20 ms packet millions of samples).
const RATES: std::ops::RangeInclusive<u32> = 4000..=192_000;
const CHANNELS: std::ops::RangeInclusive<u16> = 1..=8;

/// A WebCodecs decoder that fails is made anew this many times in a row
/// (a damaged frame), then given up on until the next configuration.
const WEBCODECS_RETRIES: u32 = 3;

/// What `getStats().audio` says of the element that has the sound.
#[derive(Debug, Default, Clone)]
pub(crate) struct AudioStats {
    /// `webcodecs` or `wasm` (the G.711 table).
    pub decoder: &'static str,
    pub chunks_played: u32,
    /// The relay's receipt of the latest chunk played → the moment it
    /// leaves the speakers (network, decoding, the jitter buffer, the
    /// sound card's own latency), ms.
    pub latency_ms: Option<f64>,
    pub lead_ms: f64,
    pub late: u32,
    pub dropped: u32,
    /// The context waits for a user gesture (unmuted by script).
    pub blocked: bool,
    pub error: Option<String>,
}

/// What the page's speaker plays now: RMS (0..1; exactly 0 when nothing
/// plays) and the loudest frequency.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Level {
    pub rms: f64,
    pub peak_hz: Option<f64>,
}

enum Decode {
    WebCodecs {
        decoder: AudioDecoder,
        failed: Rc<RefCell<Option<String>>>,
        _output: Closure<dyn FnMut(AudioData)>,
        _error: Closure<dyn FnMut(JsValue)>,
    },
    Table(Law),
    /// AAC in the fallback worker.
    Worker(AacWorker),
    /// Nothing here can decode it: why.
    Cannot(String),
}

/// Frames held while the AAC worker starts (its download and compilation):
/// half a second of 48 kHz AAC; older ones are dropped.
const WORKER_QUEUE: usize = 24;

/// The worker's message handler, kept as long as the worker.
type OnMessage = Rc<RefCell<Option<Closure<dyn FnMut(web_sys::MessageEvent)>>>>;

/// The AAC fallback worker of one track: started on demand, fed once it says
/// it is ready, terminated with the track.
struct AacWorker {
    worker: Rc<RefCell<Option<web_sys::Worker>>>,
    ready: Rc<Cell<bool>>,
    queue: Rc<RefCell<VecDeque<(js_sys::Uint8Array, f64)>>>,
    /// The track is gone: a worker that comes up after that is not kept.
    dropped: Rc<Cell<bool>>,
    _on_message: OnMessage,
    _on_error: OnError,
}

/// The worker's error handler (its script or Wasm did not load, or it died).
type OnError = Rc<RefCell<Option<Closure<dyn FnMut(web_sys::ErrorEvent)>>>>;

impl AacWorker {
    fn start(config: &AudioConfig, speaker: Weak<Speaker>) -> AacWorker {
        let me = AacWorker {
            worker: Rc::new(RefCell::new(None)),
            ready: Rc::new(Cell::new(false)),
            queue: Rc::new(RefCell::new(VecDeque::new())),
            dropped: Rc::new(Cell::new(false)),
            _on_message: Rc::new(RefCell::new(None)),
            _on_error: Rc::new(RefCell::new(None)),
        };
        let (worker, ready, queue, dropped, handler, error_handler) = (
            me.worker.clone(),
            me.ready.clone(),
            me.queue.clone(),
            me.dropped.clone(),
            me._on_message.clone(),
            me._on_error.clone(),
        );
        let config = config.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let made = async {
                let url = wasm_bindgen_futures::JsFuture::from(crate::assets::worker_bootstrap(
                    "sightline-aac-worker",
                ))
                .await?
                .as_string()
                .ok_or("no worker URL")?;
                if dropped.get() {
                    return Ok(());
                }
                let w = web_sys::Worker::new(&url)?;
                let on_error = {
                    let speaker = speaker.clone();
                    Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(
                        move |event: web_sys::ErrorEvent| {
                            if let Some(speaker) = speaker.upgrade() {
                                speaker.track_error(format!(
                                    "the AAC decoder's worker failed: {}",
                                    event.message()
                                ));
                            }
                        },
                    )
                };
                w.set_onerror(Some(on_error.as_ref().unchecked_ref()));
                *error_handler.borrow_mut() = Some(on_error);
                let on_message = {
                    let (w, ready, queue) = (w.clone(), ready.clone(), queue.clone());
                    let speaker = speaker.clone();
                    Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
                        move |event: web_sys::MessageEvent| {
                            let data = event.data();
                            let kind = Reflect::get(&data, &"type".into())
                                .ok()
                                .and_then(|t| t.as_string())
                                .unwrap_or_default();
                            match kind.as_str() {
                                "ready" => {
                                    let _ = post_configure(&w, &config);
                                    ready.set(true);
                                    for (frame, timestamp) in queue.borrow_mut().drain(..) {
                                        let _ = post_frame(&w, &frame, timestamp);
                                    }
                                }
                                "pcm" => {
                                    let samples = Reflect::get(&data, &"samples".into())
                                        .map(|b| Float32Array::new(&b).to_vec())
                                        .unwrap_or_default();
                                    let number = |k: &str| {
                                        Reflect::get(&data, &k.into())
                                            .ok()
                                            .and_then(|v| v.as_f64())
                                            .unwrap_or(0.0)
                                    };
                                    if let Some(speaker) = speaker.upgrade() {
                                        speaker.output(
                                            &samples,
                                            number("sampleRate") as u32,
                                            number("timestamp") as i64,
                                        );
                                    }
                                }
                                _ => {
                                    let message = Reflect::get(&data, &"message".into())
                                        .ok()
                                        .and_then(|m| m.as_string())
                                        .unwrap_or_else(|| "the AAC worker failed".into());
                                    if let Some(speaker) = speaker.upgrade() {
                                        speaker.track_error(message);
                                    }
                                }
                            }
                        },
                    )
                };
                w.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
                *handler.borrow_mut() = Some(on_message);
                *worker.borrow_mut() = Some(w);
                Ok::<(), JsValue>(())
            }
            .await;
            if let Err(e) = made {
                web_sys::console::warn_2(&"Sightline: the AAC decoder did not start".into(), &e);
                if let Some(speaker) = speaker.upgrade() {
                    speaker.track_error(format!("the AAC decoder did not start: {e:?}"));
                }
            }
        });
        me
    }

    fn decode(&self, payload: &js_sys::Uint8Array, timestamp_us: i64) {
        // The payload views the socket's buffer: a copy of its own.
        let frame = js_sys::Uint8Array::new_with_length(payload.length());
        frame.set(payload, 0);
        let timestamp = timestamp_us as f64;
        match self.worker.borrow().as_ref() {
            Some(w) if self.ready.get() => {
                let _ = post_frame(w, &frame, timestamp);
            }
            _ => {
                let mut queue = self.queue.borrow_mut();
                if queue.len() == WORKER_QUEUE {
                    queue.pop_front();
                }
                queue.push_back((frame, timestamp));
            }
        }
    }
}

impl Drop for AacWorker {
    fn drop(&mut self) {
        self.dropped.set(true);
        if let Some(w) = self.worker.borrow_mut().take() {
            // Messages already queued must not reach the freed closures.
            w.set_onmessage(None);
            w.set_onerror(None);
            w.terminate();
        }
    }
}

fn post_configure(w: &web_sys::Worker, config: &AudioConfig) -> Result<(), JsValue> {
    let msg = js_sys::Object::new();
    Reflect::set(&msg, &"type".into(), &"configure".into())?;
    let description = js_sys::Uint8Array::from(&config.description[..]);
    Reflect::set(&msg, &"description".into(), &description)?;
    Reflect::set(&msg, &"sampleRate".into(), &config.sample_rate.into())?;
    Reflect::set(&msg, &"channels".into(), &config.channels.into())?;
    w.post_message(&msg)
}

fn post_frame(
    w: &web_sys::Worker,
    frame: &js_sys::Uint8Array,
    timestamp: f64,
) -> Result<(), JsValue> {
    let msg = js_sys::Object::new();
    Reflect::set(&msg, &"type".into(), &"decode".into())?;
    let buffer = frame.buffer();
    Reflect::set(&msg, &"data".into(), &buffer)?;
    Reflect::set(&msg, &"timestamp".into(), &timestamp.into())?;
    w.post_message_with_transfer(&msg, &js_sys::Array::of1(&buffer))
}

/// The sound of the element holding the speaker.
struct Track {
    config: AudioConfig,
    /// Made for `decoder="wasm"` (G.711 by the table even with WebCodecs).
    wasm: bool,
    decode: Decode,
    /// WebCodecs failures since its last output.
    failures: u32,
    gain: GainNode,
    resampler: Resampler,
    schedule: Schedule,
    receipts: VecDeque<(i64, u64)>,
    stats: AudioStats,
}

pub(crate) struct Speaker {
    ctx: AudioContext,
    analyser: AnalyserNode,
    /// The element holding the sound (0: none).
    owner: Cell<u64>,
    lost: RefCell<Option<Lost>>,
    track: RefCell<Option<Track>>,
    /// Resumes a context the browser kept suspended at the page's next gesture.
    _unlock: Closure<dyn FnMut()>,
    me: Weak<Speaker>,
}

/// A fresh id for an element (ids are never reused in a page).
pub(crate) fn next_id() -> u64 {
    thread_local!(static NEXT: Cell<u64> = const { Cell::new(1) });
    NEXT.with(|n| {
        let id = n.get();
        n.set(id + 1);
        id
    })
}

/// The speaker, if some element was ever unmuted.
pub(crate) fn existing() -> Option<Rc<Speaker>> {
    SPEAKER.with(|s| s.borrow().clone())
}

/// The speaker, made now if need be (best inside a user gesture).
pub(crate) fn get() -> Result<Rc<Speaker>, JsValue> {
    if let Some(speaker) = existing() {
        return Ok(speaker);
    }
    let ctx = AudioContext::new()?;
    let analyser = ctx.create_analyser()?;
    analyser.set_fft_size(2048);
    analyser.connect_with_audio_node(&ctx.destination())?;
    let unlock = {
        let ctx = ctx.clone();
        Closure::<dyn FnMut()>::new(move || {
            if ctx.state() == AudioContextState::Suspended {
                let _ = ctx.resume();
            }
        })
    };
    if let Some(document) = web_sys::window().and_then(|w| w.document()) {
        // (What browsers count as a gesture that may start sound: a touch's
        // `pointerdown` is not, its `pointerup`, `touchend` and `click` are.)
        for event in ["pointerup", "touchend", "click", "keydown"] {
            let _ = document.add_event_listener_with_callback_and_bool(
                event,
                unlock.as_ref().unchecked_ref(),
                true,
            );
        }
    }
    let speaker = Rc::new_cyclic(|me| Speaker {
        ctx,
        analyser,
        owner: Cell::new(0),
        lost: RefCell::new(None),
        track: RefCell::new(None),
        _unlock: unlock,
        me: me.clone(),
    });
    SPEAKER.with(|s| *s.borrow_mut() = Some(speaker.clone()));
    Ok(speaker)
}

impl Speaker {
    /// Element `id` takes the sound; the one that had it is told by its `lost`.
    pub fn claim(&self, id: u64, lost: Lost) {
        if self.owner.get() != id {
            self.stop_track();
            self.owner.set(id);
            let previous = self.lost.replace(Some(lost));
            if let Some(previous) = previous {
                previous();
            }
        } else {
            *self.lost.borrow_mut() = Some(lost);
        }
        if self.blocked() {
            self.resume();
        }
    }

    /// Element `id` lets the sound go (muted, paused, removed).
    pub fn release(&self, id: u64) {
        if self.owner.get() == id {
            self.owner.set(0);
            self.lost.borrow_mut().take();
            self.stop_track();
        }
    }

    /// The browser keeps the sound suspended until a user gesture.
    pub fn blocked(&self) -> bool {
        self.ctx.state() != AudioContextState::Running
    }

    /// Asks the browser to let the sound play (inside a gesture, it does).
    pub fn resume(&self) {
        let _ = self.ctx.resume();
    }

    /// Element `id` starts listening (again): the next chunk begins a new
    /// run of the jitter buffer, not a late one, and the resampler has no
    /// old sample to join it to.
    pub fn restart(&self, id: u64) {
        if !self.holds(id) {
            return;
        }
        if let Some(track) = self.track.borrow_mut().as_mut() {
            track.schedule.stop();
            let (from, to) = track.resampler.rates();
            track.resampler = Resampler::new(from, to);
        }
    }

    /// Whether element `id` holds the sound.
    pub fn holds(&self, id: u64) -> bool {
        self.owner.get() == id
    }

    fn stop_track(&self) {
        if let Some(track) = self.track.borrow_mut().take() {
            // What is scheduled stops now, not in a buffer's time.
            let _ = track.gain.disconnect();
            if let Decode::WebCodecs { decoder, .. } = &track.decode {
                if decoder.state() != CodecState::Closed {
                    let _ = decoder.close();
                }
            }
        }
    }

    /// The camera's audio as the relay describes it, for element `id`;
    /// `wasm`: decode G.711 with the table even where WebCodecs could.
    fn configure(&self, id: u64, config: &AudioConfig, wasm: bool) {
        if !self.holds(id) {
            return;
        }
        let same = self
            .track
            .borrow()
            .as_ref()
            .is_some_and(|t| t.config == *config && t.wasm == wasm);
        if same {
            return;
        }
        self.stop_track();
        let track = match self.new_track(config, wasm) {
            Ok(track) => track,
            Err(e) => {
                web_sys::console::warn_2(&"Sightline: audio unavailable".into(), &e);
                return;
            }
        };
        *self.track.borrow_mut() = Some(track);
    }

    fn new_track(&self, config: &AudioConfig, wasm: bool) -> Result<Track, JsValue> {
        let gain = self.ctx.create_gain()?;
        gain.connect_with_audio_node(&self.analyser)?;
        let rate = self.ctx.sample_rate() as u32;
        let law = Law::of_codec(&config.codec);
        let has_webcodecs = web_sys::window()
            .is_some_and(|w| Reflect::has(&w, &"AudioDecoder".into()).unwrap_or(false));
        let sane = RATES.contains(&config.sample_rate) && CHANNELS.contains(&config.channels);
        let decode = match (law, has_webcodecs && !wasm) {
            _ if !sane => Decode::Cannot(format!(
                "the camera's audio says {} Hz, {} channels: not played",
                config.sample_rate, config.channels
            )),
            (_, true) => self
                .webcodecs(config)
                .unwrap_or_else(|e| self.fallback(config, &format!("{e:?}"))),
            (_, false) => self.fallback(config, "no WebCodecs AudioDecoder here"),
        };
        let mut stats = AudioStats {
            decoder: match decode {
                Decode::WebCodecs { .. } => "webcodecs",
                Decode::Table(_) | Decode::Worker(_) => "wasm",
                Decode::Cannot(_) => "none",
            },
            ..AudioStats::default()
        };
        if let Decode::Cannot(why) = &decode {
            stats.error = Some(why.clone());
        }
        Ok(Track {
            config: config.clone(),
            wasm,
            decode,
            failures: 0,
            gain,
            resampler: Resampler::new(config.sample_rate.max(1), rate),
            schedule: Schedule::new(rate),
            receipts: VecDeque::with_capacity(RECEIPTS_KEPT),
            stats,
        })
    }

    /// Decoding without WebCodecs (there is none, it refused the codec, or
    /// `decoder="wasm"`): G.711 by the table, AAC in the fallback worker.
    fn fallback(&self, config: &AudioConfig, why: &str) -> Decode {
        match Law::of_codec(&config.codec) {
            Some(law) => Decode::Table(law),
            None if config.codec.starts_with("mp4a.40.") => {
                Decode::Worker(AacWorker::start(config, self.me.clone()))
            }
            None => Decode::Cannot(format!(
                "this browser cannot decode {} audio: {why}",
                config.codec
            )),
        }
    }

    fn webcodecs(&self, config: &AudioConfig) -> Result<Decode, JsValue> {
        let failed = Rc::new(RefCell::new(None));
        let me = self.me.clone();
        let output = Closure::<dyn FnMut(AudioData)>::new(move |data: AudioData| {
            if let Some(speaker) = me.upgrade() {
                speaker.decoded(&data);
            }
            data.close();
        });
        let error = {
            let failed = failed.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
                let message = Reflect::get(&e, &"message".into())
                    .ok()
                    .and_then(|m| m.as_string())
                    .unwrap_or_else(|| format!("{e:?}"));
                *failed.borrow_mut() = Some(message);
            })
        };
        let decoder = AudioDecoder::new(&AudioDecoderInit::new(
            error.as_ref().unchecked_ref(),
            output.as_ref().unchecked_ref(),
        ))?;
        let cfg = AudioDecoderConfig::new(
            &config.codec,
            u32::from(config.channels),
            config.sample_rate,
        );
        if !config.description.is_empty() {
            cfg.set_description_u8_array(&js_sys::Uint8Array::from(&config.description[..]));
        }
        decoder.configure(&cfg)?;
        Ok(Decode::WebCodecs {
            decoder,
            failed,
            _output: output,
            _error: error,
        })
    }

    /// One audio frame for element `id`, described by `config` (see
    /// [`Speaker::configure`] for `wasm`).
    pub fn play(
        &self,
        id: u64,
        header: &MediaHeader,
        payload: &js_sys::Uint8Array,
        config: &AudioConfig,
        wasm: bool,
    ) {
        if !self.holds(id) {
            return;
        }
        self.configure(id, config, wasm);
        let mut samples = None;
        {
            let mut guard = self.track.borrow_mut();
            let Some(track) = guard.as_mut() else {
                return;
            };
            if track.receipts.len() == RECEIPTS_KEPT {
                track.receipts.pop_front();
            }
            track
                .receipts
                .push_back((header.timestamp_us, header.received_us));
            // WebCodecs refused (asynchronously): G.711 goes on with the table.
            let refused = match &track.decode {
                Decode::WebCodecs { failed, .. } => failed.borrow_mut().take(),
                _ => None,
            };
            if let Some(why) = refused {
                web_sys::console::warn_1(&format!("Sightline: AudioDecoder: {why}").into());
                track.failures += 1;
                let again = (track.failures <= WEBCODECS_RETRIES)
                    .then(|| self.webcodecs(&track.config).ok())
                    .flatten();
                track.decode = match again {
                    Some(decode) => decode,
                    None => self.fallback(&track.config, &why),
                };
                track.stats.decoder = match track.decode {
                    Decode::WebCodecs { .. } => "webcodecs",
                    Decode::Table(_) | Decode::Worker(_) => "wasm",
                    Decode::Cannot(_) => "none",
                };
                track.stats.error = Some(why);
            }
            match &track.decode {
                Decode::WebCodecs { decoder, .. } => {
                    if decoder.state() == CodecState::Configured {
                        let init = EncodedAudioChunkInit::new_with_u8_array(
                            payload,
                            0,
                            EncodedAudioChunkType::Key,
                        );
                        init.set_timestamp_f64(header.timestamp_us as f64);
                        let fed = EncodedAudioChunk::new(&init).and_then(|c| decoder.decode(&c));
                        if let Err(e) = fed {
                            track.stats.error = Some(format!("{e:?}"));
                        }
                    }
                }
                Decode::Table(law) => {
                    let mut pcm = Vec::with_capacity(payload.length() as usize);
                    law.decode(&payload.to_vec(), &mut pcm);
                    // Interleaved channels → mono.
                    let channels = usize::from(track.config.channels.max(1));
                    if channels > 1 {
                        pcm = pcm
                            .chunks(channels)
                            .map(|c| c.iter().sum::<f32>() / channels as f32)
                            .collect();
                    }
                    samples = Some((pcm, track.config.sample_rate));
                }
                Decode::Worker(worker) => worker.decode(payload, header.timestamp_us),
                Decode::Cannot(_) => {}
            }
        }
        if let Some((pcm, rate)) = samples {
            self.output(&pcm, rate, header.timestamp_us);
        }
    }

    /// A chunk out of WebCodecs: mono, then on.
    fn decoded(&self, data: &AudioData) {
        let frames = data.number_of_frames();
        let channels = data.number_of_channels().max(1);
        let mut mono = vec![0f32; frames as usize];
        let plane = Float32Array::new_with_length(frames);
        for c in 0..channels {
            let options = AudioDataCopyToOptions::new(c);
            options.set_format(AudioSampleFormat::F32Planar);
            if data.copy_to_with_buffer_source(&plane, &options).is_err() {
                return;
            }
            for (m, s) in mono.iter_mut().zip(plane.to_vec()) {
                *m += s / channels as f32;
            }
        }
        if let Some(track) = self.track.borrow_mut().as_mut() {
            track.failures = 0;
        }
        // The decoder's own rate (AAC with SBR doubles the stream's).
        let rate = data.sample_rate() as u32;
        self.output(&mono, rate, data.timestamp() as i64);
    }

    /// Mono samples at `rate` Hz, decoded from the frame of `timestamp_us`.
    fn output(&self, samples: &[f32], rate: u32, timestamp_us: i64) {
        let mut guard = self.track.borrow_mut();
        let Some(track) = guard.as_mut() else {
            return;
        };
        if !RATES.contains(&rate) {
            return;
        }
        let card = self.ctx.sample_rate() as u32;
        if track.resampler.rates() != (rate, card) {
            track.resampler = Resampler::new(rate, card);
        }
        let running = self.ctx.state() == AudioContextState::Running;
        track.stats.blocked = !running;
        if !running {
            // Nothing plays: the next chunk after the gesture starts a run.
            track.schedule.stop();
            return;
        }
        let mut out = Vec::with_capacity(samples.len() * 6 + 8);
        track.resampler.push(samples, &mut out);
        if out.is_empty() {
            return;
        }
        let rate = f64::from(self.ctx.sample_rate());
        let now = (self.ctx.current_time() * rate) as u64;
        let at = match track.schedule.place(now, out.len() as u64) {
            Place::At(at) => at,
            Place::Drop => {
                track.stats.dropped = track.schedule.dropped;
                return;
            }
        };
        let started = (|| -> Result<(), JsValue> {
            let buffer = self.ctx.create_buffer(1, out.len() as u32, rate as f32)?;
            buffer.copy_to_channel(&out, 0)?;
            let source = self.ctx.create_buffer_source()?;
            source.set_buffer(Some(&buffer));
            source.connect_with_audio_node(&track.gain)?;
            source.start_with_when(at as f64 / rate)
        })();
        if let Err(e) = started {
            track.stats.error = Some(format!("{e:?}"));
            return;
        }
        let stats = &mut track.stats;
        stats.chunks_played += 1;
        stats.late = track.schedule.late;
        stats.dropped = track.schedule.dropped;
        stats.lead_ms = track.schedule.lead_ms();
        // Relay receipt → leaving the speakers: until now (wall clocks), the
        // lead, and the sound card's own latency.
        let received = track
            .receipts
            .iter()
            .rev()
            .find(|(t, _)| *t == timestamp_us)
            .map(|&(_, r)| r);
        if let Some(received_us) = received {
            let ahead_ms = (at as f64 / rate - self.ctx.current_time()) * 1000.0;
            let output_ms = ["baseLatency", "outputLatency"]
                .iter()
                .filter_map(|k| Reflect::get(&self.ctx, &(*k).into()).ok()?.as_f64())
                .sum::<f64>()
                * 1000.0;
            let since_receipt_ms = js_sys::Date::now() - received_us as f64 / 1000.0;
            stats.latency_ms = Some(since_receipt_ms + ahead_ms + output_ms);
        }
    }

    /// The track's decoder complained (a damaged frame): said in its stats.
    fn track_error(&self, message: String) {
        if let Some(track) = self.track.borrow_mut().as_mut() {
            track.stats.error = Some(message);
        }
    }

    /// `getStats().audio` for element `id`, if it holds the sound.
    pub fn stats(&self, id: u64) -> Option<AudioStats> {
        if !self.holds(id) {
            return None;
        }
        let mut stats = self.track.borrow().as_ref()?.stats.clone();
        stats.blocked = self.blocked();
        Some(stats)
    }

    /// What comes out of the page's speaker now (the analyser's last 2048
    /// samples), whichever element plays.
    pub fn level(&self) -> Level {
        let n = self.analyser.fft_size() as usize;
        let mut wave = vec![0f32; n];
        self.analyser.get_float_time_domain_data(&mut wave);
        let rms = (wave.iter().map(|s| f64::from(s * s)).sum::<f64>() / n as f64).sqrt();
        let mut peak_hz = None;
        if rms > 1e-4 {
            let mut bins = vec![0f32; self.analyser.frequency_bin_count() as usize];
            self.analyser.get_float_frequency_data(&mut bins);
            let loudest = bins
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i);
            let rate = f64::from(self.ctx.sample_rate());
            peak_hz = loudest.map(|i| i as f64 * rate / n as f64);
        }
        Level { rms, peak_hz }
    }
}
