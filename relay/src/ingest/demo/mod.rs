//! The built-in demo camera: a synthetic moving scene (see [`scene`]) encoded to
//! H.264 with OpenH264 in real time, published into the hub like any camera.
//! It needs no network and no camera, so the first run shows live video, and
//! tests have a source whose picture they know. Its sibling [`replay`] plays a
//! recorded clip instead, encoding nothing.

pub mod font;
pub mod replay;
pub mod scene;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod,
    RateControlMode, UsageType, VuiConfig,
};
use openh264::formats::YUVSlices;
use openh264::OpenH264API;
use sightline_h264::nal::{self, types};
use sightline_h264::StreamParams;
use sightline_wire::CameraState;

use crate::hub::{AccessUnit, Feed};
use crate::ptz::head::VirtualHead;
use scene::{Scene, World};

/// How a demo camera is set up.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub width: usize,
    pub height: usize,
    pub fps: u32,
    /// Frames between keyframes.
    pub keyframe_every: u32,
    pub bitrate_bps: u32,
    /// Deliberate damage, for tests that must prove they notice it. Never set in production.
    pub fault: Option<Fault>,
    /// Draw a doorway panel (see [`scene::DOORWAY`]) that an intruder walks
    /// across this often (and whenever [`DemoCamera::intrude`] is called):
    /// motion alerts with no camera at all.
    pub intruder_every: Option<Duration>,
    /// A virtual PTZ head: the picture is its window on a larger, still
    /// scene ([`scene::World`]) that pans and zooms as it is steered.
    pub head: Option<Arc<VirtualHead>>,
    /// Also encode a substream at half the width and height (a quarter of
    /// the bitrate) from the same pictures, as cameras do: the relay
    /// publishes it as the camera's substream. Needs sizes divisible by 4.
    pub substream: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            width: 1280,
            height: 720,
            fps: 30,
            keyframe_every: 60,
            bitrate_bps: 2_500_000,
            fault: None,
            intruder_every: None,
            head: None,
            substream: false,
        }
    }
}

/// Damage a test can ask the demo camera to do to its own output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Flip bits inside every slice's data.
    CorruptPayload,
    /// Announce a codec configuration that does not match the stream.
    CorruptConfig,
    /// Publish this many frames, then none while still saying `online`: a
    /// camera (or encoder) that hangs without dropping the connection.
    StallAfter(u64),
}

/// A running demo or replay camera; stops when dropped.
pub struct DemoCamera {
    /// The camera's id.
    pub id: String,
    stop: Arc<AtomicBool>,
    intruder: Arc<Intruder>,
    thread: Option<JoinHandle<()>>,
}

/// The intruder's switches: asked to walk, and when the last walk began.
#[derive(Debug, Default)]
struct Intruder {
    requested: AtomicBool,
    /// Unix time (ms) the first frame of the last walk was drawn; 0: none yet.
    walked_at_ms: AtomicI64,
}

impl DemoCamera {
    /// Starts encoding into `feed` (and its substream into `sub`, with
    /// [`DemoOptions::substream`]) on a thread of its own (encoding is CPU
    /// work that must not stall the async runtime).
    pub fn start(
        feed: Arc<Feed>,
        sub: Option<Arc<Feed>>,
        options: DemoOptions,
    ) -> std::io::Result<DemoCamera> {
        let intruder = Arc::new(Intruder::default());
        let trigger = intruder.clone();
        let mut camera = DemoCamera::spawn(feed, "demo encoder", move |feed, stop| {
            let ran = run(feed, sub.as_deref(), &options, stop, &trigger);
            if let (Err(e), Some(sub)) = (&ran, &sub) {
                sub.set_status(CameraState::Offline {
                    reason: format!("demo encoder failed: {e}"),
                });
            }
            ran
        })?;
        camera.intruder = intruder;
        Ok(camera)
    }

    /// Sends the intruder across the doorway now (if the camera draws one):
    /// motion on demand, for tests and demonstrations.
    pub fn intrude(&self) {
        self.intruder.requested.store(true, Ordering::Relaxed);
    }

    /// When the last walk's first frame was drawn (Unix ms): the moment the
    /// scene changed, for measuring how long an alert takes to show.
    pub fn intruder_walked_at_ms(&self) -> Option<i64> {
        Some(self.intruder.walked_at_ms.load(Ordering::Relaxed)).filter(|&t| t > 0)
    }

    /// Starts replaying a recorded clip into `feed` (see [`replay`]).
    pub fn replay(feed: Arc<Feed>, options: replay::ReplayOptions) -> std::io::Result<DemoCamera> {
        DemoCamera::spawn(feed, "replay", move |feed, stop| {
            replay::run(feed, &options, stop)
        })
    }

    /// Runs `body` on a thread named after the camera until `stop` is set; a
    /// failure takes the camera offline with the reason.
    fn spawn(
        feed: Arc<Feed>,
        what: &'static str,
        body: impl FnOnce(&Feed, &AtomicBool) -> anyhow::Result<()> + Send + 'static,
    ) -> std::io::Result<DemoCamera> {
        let stop = Arc::new(AtomicBool::new(false));
        let id = feed.id.clone();
        let thread = std::thread::Builder::new()
            .name(format!("demo-{}", feed.id))
            .spawn({
                let stop = stop.clone();
                move || {
                    if let Err(e) = body(&feed, &stop) {
                        tracing::error!(camera = %feed.id, "{what} stopped: {e:#}");
                        feed.set_status(CameraState::Offline {
                            reason: format!("{what} failed: {e}"),
                        });
                    }
                }
            })?;
        Ok(DemoCamera {
            id,
            stop,
            intruder: Arc::default(),
            thread: Some(thread),
        })
    }
}

/// `plane` (`width` × `height`, both even) at half the width and height
/// into `out`: each pixel the mean of a 2×2 block.
fn halve(plane: &[u8], width: usize, height: usize, out: &mut Vec<u8>) {
    out.clear();
    for row in plane.chunks_exact(width * 2).take(height / 2) {
        let (top, bottom) = row.split_at(width);
        out.extend(
            top.chunks_exact(2)
                .zip(bottom.chunks_exact(2))
                .map(|(a, b)| {
                    let sum = u16::from(a[0]) + u16::from(a[1]) + u16::from(b[0]) + u16::from(b[1]);
                    ((sum + 2) / 4) as u8
                }),
        );
    }
}

/// Sleeps until frame `n` is due, paced against `started` so that the time
/// spent producing frames does not accumulate as drift.
fn pace(started: Instant, period: Duration, n: u64) {
    let next = started + period * n as u32;
    if let Some(wait) = next.checked_duration_since(Instant::now()) {
        std::thread::sleep(wait);
    }
}

impl Drop for DemoCamera {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How long the intruder takes to cross the doorway.
const INTRUDER_WALK: Duration = Duration::from_secs(4);

/// The substream's encoder and its half-size picture.
struct SubEncoder<'a> {
    feed: &'a Feed,
    encoder: Encoder,
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
    annex_b: Vec<u8>,
}

fn run(
    feed: &Feed,
    sub_feed: Option<&Feed>,
    o: &DemoOptions,
    stop: &AtomicBool,
    intruder: &Intruder,
) -> anyhow::Result<()> {
    let config = |bitrate_bps: u32| {
        EncoderConfig::new()
            .usage_type(UsageType::CameraVideoRealTime)
            .rate_control_mode(RateControlMode::Bitrate)
            .bitrate(BitRate::from_bps(bitrate_bps))
            .max_frame_rate(FrameRate::from_hz(o.fps as f32))
            .intra_frame_period(IntraFramePeriod::from_num_frames(o.keyframe_every))
            .complexity(Complexity::Low)
            .skip_frames(false)
            .vui(VuiConfig::bt709())
    };
    let mut encoder = Encoder::with_api_config(OpenH264API::from_source(), config(o.bitrate_bps))?;
    let mut sub = match sub_feed {
        Some(feed) if o.width.is_multiple_of(4) && o.height.is_multiple_of(4) => Some(SubEncoder {
            feed,
            encoder: Encoder::with_api_config(
                OpenH264API::from_source(),
                config(o.bitrate_bps / 4),
            )?,
            y: Vec::new(),
            u: Vec::new(),
            v: Vec::new(),
            annex_b: Vec::new(),
        }),
        Some(feed) => {
            let reason = format!(
                "a demo substream needs a size divisible by 4, not {}x{}",
                o.width, o.height
            );
            tracing::warn!(camera = %feed.id, "{reason}");
            feed.set_status(CameraState::Offline { reason });
            None
        }
        None => None,
    };
    let mut scene = Scene::new(o.width, o.height, (feed.channel as u8).wrapping_mul(37));
    let world = o.head.as_ref().map(|_| World::new(o.width, o.height));
    let period = Duration::from_secs(1) / o.fps;
    let started = Instant::now();
    let mut annex_b = Vec::new();
    let mut n: u64 = 0;
    let frames = |d: Duration| (d.as_secs_f64() * f64::from(o.fps)).round().max(1.0) as u64;
    let walk = frames(INTRUDER_WALK);
    let every = o.intruder_every.map(frames);
    // The frame the current walk began at.
    let mut walk_from: Option<u64> = None;
    while !stop.load(Ordering::Relaxed) {
        if matches!(o.fault, Some(Fault::StallAfter(frames)) if n >= frames) {
            // Hung: nothing more, but the status stays `online`.
            std::thread::sleep(period);
            continue;
        }
        let intruder = match every {
            Some(every) => {
                // The first walk starts after one period: a fresh page
                // shows the empty doorway first.
                if intruder.requested.swap(false, Ordering::Relaxed)
                    || (n > 0 && n.is_multiple_of(every))
                {
                    walk_from = Some(n);
                    intruder
                        .walked_at_ms
                        .store(crate::alerts::now_ms(), Ordering::Relaxed);
                }
                match walk_from {
                    Some(from) if n - from < walk => Some((n - from) as f32 / walk as f32),
                    _ => None,
                }
            }
            None => None,
        };
        match (&o.head, &world) {
            (Some(head), Some(world)) => {
                scene.draw_view(world, head.view(Instant::now()), &clock_text())
            }
            _ => scene.draw(n, &clock_text()),
        }
        if every.is_some() {
            scene.draw_doorway(intruder);
        }
        let yuv = YUVSlices::new(
            (&scene.y, &scene.u, &scene.v),
            (o.width, o.height),
            (o.width, o.width / 2, o.width / 2),
        );
        let key_due = n.is_multiple_of(o.keyframe_every as u64);
        if key_due {
            encoder.force_intra_frame();
        }
        let bitstream = encoder.encode(&yuv)?;
        let keyframe = bitstream.frame_type() == FrameType::IDR;
        annex_b.clear();
        bitstream.write_vec(&mut annex_b);
        let timestamp_us = n * 1_000_000 / o.fps as u64;
        publish(feed, &annex_b, keyframe, timestamp_us, o.fault)?;
        if n == 0 {
            feed.set_status(CameraState::Online);
            tracing::info!(camera = %feed.id, "demo camera live: {}x{} at {} fps", o.width, o.height, o.fps);
        }
        if let Some(s) = &mut sub {
            let (w, h) = (o.width / 2, o.height / 2);
            halve(&scene.y, o.width, o.height, &mut s.y);
            halve(&scene.u, o.width / 2, o.height / 2, &mut s.u);
            halve(&scene.v, o.width / 2, o.height / 2, &mut s.v);
            let yuv = YUVSlices::new((&s.y, &s.u, &s.v), (w, h), (w, w / 2, w / 2));
            if key_due {
                s.encoder.force_intra_frame();
            }
            let bitstream = s.encoder.encode(&yuv)?;
            let keyframe = bitstream.frame_type() == FrameType::IDR;
            s.annex_b.clear();
            bitstream.write_vec(&mut s.annex_b);
            publish(s.feed, &s.annex_b, keyframe, timestamp_us, None)?;
            if n == 0 {
                s.feed.set_status(CameraState::Online);
            }
        }
        n += 1;
        pace(started, period, n);
    }
    Ok(())
}

/// Splits one encoded picture into parameter sets (→ feed params) and the access
/// unit (→ published), applying a test fault if asked.
fn publish(
    feed: &Feed,
    annex_b: &[u8],
    keyframe: bool,
    timestamp_us: u64,
    fault: Option<Fault>,
) -> anyhow::Result<()> {
    let (mut sps, mut pps) = (None, None);
    let mut payload = Vec::with_capacity(annex_b.len() + 16);
    for unit in nal::annex_b_units(annex_b) {
        match nal::nal_type(unit) {
            Some(types::SPS) => sps = Some(unit),
            Some(types::PPS) => pps = Some(unit),
            Some(types::AUD) => {}
            _ => {
                let start = payload.len();
                nal::push_length_prefixed(&mut payload, unit);
                if fault == Some(Fault::CorruptPayload) {
                    // Keep the NAL and slice headers; garble the macroblock data.
                    for b in payload[start + 4..].iter_mut().skip(8).step_by(7) {
                        *b ^= 0x5a;
                    }
                }
            }
        }
    }
    if let (Some(sps), Some(pps)) = (sps, pps) {
        let mut params = StreamParams::new(sps, pps)?;
        if fault == Some(Fault::CorruptConfig) {
            // A description whose SPS announces another profile and size than the stream has.
            params.avcc[1] = 0x64;
            for b in params.avcc.iter_mut().skip(9).take(4) {
                *b ^= 0xff;
            }
        }
        feed.set_params(params);
    }
    if !payload.is_empty() {
        feed.publish(AccessUnit {
            payload,
            keyframe,
            timestamp_us: timestamp_us as i64,
        });
    }
    Ok(())
}

/// `HH:MM:SS.mmm` UTC.
fn clock_text() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60,
        now.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Hub;

    #[test]
    fn demo_publishes_decodable_params_and_keyframes() {
        let hub = Hub::default();
        let feed = hub.add_camera("demo", "Demo").unwrap();
        let mut sub = feed.subscribe();
        let options = DemoOptions {
            width: 320,
            height: 180,
            fps: 30,
            keyframe_every: 10,
            ..DemoOptions::default()
        };
        let camera = DemoCamera::start(feed.clone(), None, options).unwrap();
        let mut keyframes = 0;
        let mut frames = 0;
        while frames < 21 {
            match sub.live.blocking_recv() {
                Ok(frame) => {
                    frames += 1;
                    keyframes += frame.keyframe as usize;
                }
                Err(e) => panic!("{e}"),
            }
        }
        drop(camera);
        assert!(keyframes >= 2, "keyframes every 10 frames, saw {keyframes}");
        let params = feed.params().unwrap();
        assert_eq!(
            (params.wire.coded_width, params.wire.coded_height),
            (320, 180)
        );
        assert!(params.wire.codec.starts_with("avc1."));
        assert_eq!(feed.status(), CameraState::Online);
    }

    #[test]
    fn a_substream_is_the_same_picture_at_half_the_size() {
        let hub = Hub::default();
        let feed = hub.add_camera("demo", "Demo").unwrap();
        let sub_feed = hub.add_substream("demo").unwrap();
        let mut sub = sub_feed.subscribe();
        let options = DemoOptions {
            width: 320,
            height: 180,
            keyframe_every: 10,
            substream: true,
            ..DemoOptions::default()
        };
        let camera = DemoCamera::start(feed.clone(), Some(sub_feed.clone()), options).unwrap();
        let mut keyframes = 0;
        for _ in 0..21 {
            keyframes += sub.live.blocking_recv().unwrap().keyframe as usize;
        }
        drop(camera);
        assert!(
            keyframes >= 2,
            "keyframes with the main stream's, saw {keyframes}"
        );
        let params = sub_feed.params().unwrap();
        assert_eq!(
            (params.wire.coded_width, params.wire.coded_height),
            (160, 90)
        );
        assert_eq!(sub_feed.status(), CameraState::Online);
        assert_eq!(feed.params().unwrap().wire.coded_width, 320);
    }

    #[test]
    fn halving_averages_each_two_by_two_block() {
        let plane = [0, 4, 10, 10, 8, 4, 10, 11, 1, 1, 1, 1, 1, 1, 1, 1];
        let mut out = Vec::new();
        halve(&plane, 4, 4, &mut out);
        assert_eq!(out, [4, 10, 1, 1]);
    }
}
