//! The hub: one [`Feed`] per camera, the point where frames are fanned out.
//!
//! A camera source (demo, RTSP) calls [`Feed::set_params`] and [`Feed::publish`];
//! viewers call [`Feed::subscribe`]. Each published access unit becomes ONE
//! [`Bytes`] holding the complete binary WebSocket message (header + payload);
//! every viewer gets a clone of that pointer, never a copy of the payload.
//!
//! Fan-out uses a `tokio::sync::broadcast` ring per camera: publishing is O(1)
//! whatever the number of viewers, and memory is bounded by the ring's capacity
//! ([`VIEWER_QUEUE_FRAMES`]) however slow a viewer is. A viewer that falls more
//! than that behind is told it lagged; the session then drops its frames up to
//! the next keyframe and flags a discontinuity (see `ws.rs`).
//!
//! Fast start: the feed keeps the frames since the last keyframe (bounded by
//! [`MAX_GOP_FRAMES`]/[`MAX_GOP_BYTES`]); a new viewer gets them at once,
//! taken under the same lock as its ring subscription so nothing is missed or
//! repeated between the two.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use sightline_h264::VideoParams;
use sightline_media::{Preroll, PrerollConfig, PrerollFrame};
use sightline_wire::media::now_us;

use sightline_wire::{
    audio_frame, video_frame, AudioConfig, CameraInfo, CameraState, Capabilities, Stream,
    StreamConfig,
};
use tokio::sync::{broadcast, watch};

use metrics::FeedStats;

pub mod metrics;

/// How many frames a viewer may fall behind before it skips to the next keyframe
/// (about 2 s at 30 fps). A power of two: the broadcast ring rounds up to one.
pub const VIEWER_QUEUE_FRAMES: usize = 64;
/// Fast-start cache limits; a stream with longer GOPs starts at the next keyframe.
pub const MAX_GOP_FRAMES: usize = 600;
pub const MAX_GOP_BYTES: usize = 32 << 20;

/// Decoder parameters of a feed: the H.264 or H.265 facts and their wire form.
#[derive(Debug)]
pub struct Params {
    pub video: VideoParams,
    pub wire: StreamConfig,
}

impl Params {
    pub fn new(video: VideoParams) -> Params {
        let (coded_width, coded_height) = video.size();
        let wire = StreamConfig {
            codec: video.codec_string(),
            coded_width,
            coded_height,
            description: video.record().to_vec(),
        };
        Params { video, wire }
    }
}

/// One access unit as a source hands it to the hub.
pub struct AccessUnit {
    /// 4-byte length-prefixed NAL units, parameter sets removed.
    pub payload: Vec<u8>,
    pub keyframe: bool,
    pub timestamp_us: i64,
}

/// One frame as viewers receive it.
#[derive(Clone, Debug)]
pub struct Frame {
    /// The complete binary WebSocket message: header then payload.
    pub data: Bytes,
    pub keyframe: bool,
    /// The parameters this frame decodes with.
    pub params: Arc<Params>,
}

/// One audio frame as audio listeners receive it.
#[derive(Clone, Debug)]
pub struct AudioPacket {
    /// The complete binary WebSocket message: header then payload.
    pub data: Bytes,
    /// How it decodes.
    pub config: Arc<AudioConfig>,
}

/// Audio frames a listener may fall behind by before it misses some (about
/// 2.5 s of 20 ms frames). Audio has no keyframes: missed frames are a gap.
pub const AUDIO_QUEUE_FRAMES: usize = 128;

/// What a new viewer starts from.
pub struct Subscription {
    pub params: Option<Arc<Params>>,
    /// Frames since the last keyframe, oldest first (empty until a keyframe).
    pub gop: Vec<Frame>,
    /// Everything published after `gop`.
    pub live: broadcast::Receiver<Frame>,
}

struct FeedState {
    params: Option<Arc<Params>>,
    /// The camera's audio, while it sends some the browsers decode.
    audio: Option<Arc<AudioConfig>>,
    gop: Vec<Frame>,
    gop_bytes: usize,
    /// The last seconds of video, for alert clips (only when clips are on).
    preroll: Option<Preroll>,
}

/// What an alert clip starts from: the pre-roll, the parameters it decodes
/// with, and everything published after it.
pub struct ClipStart {
    pub preroll: Vec<PrerollFrame>,
    pub params: Option<Arc<Params>>,
    pub live: broadcast::Receiver<Frame>,
    _internal: InternalReader,
}

/// A subscription of the relay's own (motion, snapshots, clips): it is not
/// a viewer and is not counted as one.
pub struct InternalSubscription {
    pub sub: Subscription,
    _internal: InternalReader,
}

impl std::ops::Deref for InternalSubscription {
    type Target = Subscription;
    fn deref(&self) -> &Subscription {
        &self.sub
    }
}

impl std::ops::DerefMut for InternalSubscription {
    fn deref_mut(&mut self) -> &mut Subscription {
        &mut self.sub
    }
}

struct InternalReader(Arc<AtomicUsize>);

impl InternalReader {
    fn new(count: &Arc<AtomicUsize>) -> InternalReader {
        count.fetch_add(1, Ordering::Relaxed);
        InternalReader(count.clone())
    }
}

impl Drop for InternalReader {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One camera's stream inside the relay.
pub struct Feed {
    pub id: String,
    pub name: String,
    /// Which of the camera's streams this is.
    pub stream: Stream,
    /// The channel number this camera's binary frames carry, on every socket.
    pub channel: u16,
    pub capabilities: Capabilities,
    pub stats: FeedStats,
    state: Mutex<FeedState>,
    live: broadcast::Sender<Frame>,
    /// Audio frames, apart from video: only sockets that turned audio on
    /// receive them, and video viewers never wait behind them.
    audio: broadcast::Sender<AudioPacket>,
    status: watch::Sender<CameraState>,
    /// The hub's one channel of every camera's status changes (none for a
    /// feed outside the hub).
    changes: Option<broadcast::Sender<Arc<StatusChange>>>,
    /// Receivers of `live` that are the relay's own, not viewers.
    internal: Arc<AtomicUsize>,
    /// Woken when a viewer subscribes (a cluster follower starts receiving).
    watched: tokio::sync::Notify,
    /// The frames come from another relay of the cluster, not from a camera
    /// this relay pulls: alerts are the other relay's to raise.
    relayed: AtomicBool,
}

impl Feed {
    fn new(
        id: String,
        name: String,
        stream: Stream,
        channel: u16,
        changes: Option<broadcast::Sender<Arc<StatusChange>>>,
    ) -> Feed {
        Feed {
            id,
            name,
            stream,
            channel,
            capabilities: Capabilities::default(),
            stats: FeedStats::default(),
            state: Mutex::new(FeedState {
                params: None,
                audio: None,
                gop: Vec::new(),
                gop_bytes: 0,
                preroll: None,
            }),
            live: broadcast::channel(VIEWER_QUEUE_FRAMES).0,
            audio: broadcast::channel(AUDIO_QUEUE_FRAMES).0,
            status: watch::channel(CameraState::Connecting).0,
            changes,
            internal: Arc::default(),
            watched: tokio::sync::Notify::new(),
            relayed: AtomicBool::new(false),
        }
    }

    /// A feed outside the hub, nobody's to watch: a stream read only for
    /// motion detection (`detect_url`).
    pub fn standalone(id: &str, name: &str) -> Arc<Feed> {
        Arc::new(Feed::new(
            id.to_owned(),
            name.to_owned(),
            Stream::Main,
            0,
            None,
        ))
    }

    /// Keeps the last seconds of video for alert clips from now on.
    pub fn keep_preroll(&self, config: PrerollConfig) {
        self.lock().preroll = Some(Preroll::new(config));
    }

    /// Where an alert clip starts: the pre-roll (empty unless
    /// [`Feed::keep_preroll`]; else the cached GOP) and the live ring.
    pub fn clip_start(&self) -> ClipStart {
        let state = self.lock();
        let preroll = match &state.preroll {
            Some(p) => p.snapshot(),
            None => state
                .gop
                .iter()
                .filter_map(|f| {
                    let (header, _) = sightline_wire::MediaHeader::parse(&f.data).ok()?;
                    Some(PrerollFrame {
                        data: f.data.clone(),
                        timestamp_us: header.timestamp_us,
                        keyframe: f.keyframe,
                    })
                })
                .collect(),
        };
        ClipStart {
            preroll,
            params: state.params.clone(),
            live: self.live.subscribe(),
            _internal: InternalReader::new(&self.internal),
        }
    }

    /// Like [`Feed::subscribe`], for the relay's own readers.
    pub fn subscribe_internal(&self) -> InternalSubscription {
        let internal = InternalReader::new(&self.internal);
        InternalSubscription {
            sub: self.subscribe(),
            _internal: internal,
        }
    }

    fn lock(&self) -> MutexGuard<'_, FeedState> {
        // A panic while holding this lock cannot leave the state half-written in a
        // way that matters (worst case a GOP missing a frame), so keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Sets the decoder parameters for the frames published after this call.
    /// Returns true when they differ from the previous ones (a new `config` for viewers).
    pub fn set_params(&self, video: impl Into<VideoParams>) -> bool {
        let video = video.into();
        let mut state = self.lock();
        if state.params.as_ref().is_some_and(|p| p.video == video) {
            return false;
        }
        state.params = Some(Arc::new(Params::new(video)));
        // Frames cached under the old parameters cannot start a decoder with the new ones.
        state.gop.clear();
        state.gop_bytes = 0;
        if let Some(p) = state.preroll.as_mut() {
            p.clear();
        }
        true
    }

    /// The current parameters, if the source has produced any.
    pub fn params(&self) -> Option<Arc<Params>> {
        self.lock().params.clone()
    }

    /// The source's stream ended (the camera dropped): the cached GOP belongs to
    /// a stream that will not continue, so new viewers wait for the next one.
    pub fn end_of_stream(&self) {
        let mut state = self.lock();
        state.gop.clear();
        state.gop_bytes = 0;
        if let Some(p) = state.preroll.as_mut() {
            p.clear();
        }
    }

    /// Publishes one access unit to every viewer. Returns false (and drops the
    /// frame) when no parameters are known yet: nobody could decode it.
    pub fn publish(&self, au: AccessUnit) -> bool {
        self.publish_received(au, now_us())
    }

    /// Like [`Feed::publish`], for a frame another relay of the cluster
    /// received from the camera at `received_us`: viewers' latency figures
    /// then count from the camera's relay, the hop between relays included.
    pub fn publish_received(&self, au: AccessUnit, received_us: u64) -> bool {
        let mut state = self.lock();
        let Some(params) = state.params.clone() else {
            return false;
        };
        self.stats.frame(au.payload.len());
        let frame = Frame {
            data: Bytes::from(video_frame(
                self.channel,
                au.keyframe,
                au.timestamp_us,
                received_us,
                &au.payload,
            )),
            keyframe: au.keyframe,
            params,
        };
        if frame.keyframe {
            state.gop.clear();
            state.gop_bytes = 0;
        }
        let fits =
            state.gop.len() < MAX_GOP_FRAMES && state.gop_bytes + frame.data.len() <= MAX_GOP_BYTES;
        if fits && (frame.keyframe || !state.gop.is_empty()) {
            state.gop_bytes += frame.data.len();
            state.gop.push(frame.clone());
        } else if !fits {
            // Too long a GOP to cache: new viewers wait for the next keyframe.
            state.gop.clear();
            state.gop_bytes = 0;
        }
        if let Some(p) = state.preroll.as_mut() {
            // A pointer clone: the frame's bytes are shared with the viewers.
            p.push(PrerollFrame {
                data: frame.data.clone(),
                timestamp_us: au.timestamp_us,
                keyframe: frame.keyframe,
            });
        }
        // Sent under the lock so a concurrent subscribe sees the frame either in
        // its GOP copy or in its receiver, never both or neither.
        let _no_viewers_is_fine = self.live.send(frame);
        true
    }

    /// The camera's audio from now on (`None`: it has none the browsers
    /// decode). Returns true when it differs from before.
    pub fn set_audio(&self, config: Option<AudioConfig>) -> bool {
        let mut state = self.lock();
        if state.audio.as_deref() == config.as_ref() {
            return false;
        }
        state.audio = config.map(Arc::new);
        true
    }

    /// The camera's audio, if it has some.
    pub fn audio(&self) -> Option<Arc<AudioConfig>> {
        self.lock().audio.clone()
    }

    /// Publishes one audio frame to the audio listeners; false (dropped)
    /// without an audio config.
    pub fn publish_audio(&self, timestamp_us: i64, payload: &[u8]) -> bool {
        if self.audio.receiver_count() == 0 {
            return true; // nobody listens: not even a copy
        }
        let Some(config) = self.audio() else {
            return false;
        };
        let data = Bytes::from(audio_frame(self.channel, timestamp_us, now_us(), payload));
        let _no_listeners_is_fine = self.audio.send(AudioPacket { data, config });
        true
    }

    /// Audio frames from now on.
    pub fn subscribe_audio(&self) -> broadcast::Receiver<AudioPacket> {
        self.audio.subscribe()
    }

    /// Starts a viewer: current parameters, the cached GOP, and the live ring.
    pub fn subscribe(&self) -> Subscription {
        let sub = {
            let state = self.lock();
            Subscription {
                params: state.params.clone(),
                gop: state.gop.clone(),
                live: self.live.subscribe(),
            }
        };
        self.watched.notify_waiters();
        sub
    }

    /// Returns once the feed has a viewer (at once if it has one now).
    pub async fn until_watched(&self) {
        loop {
            let notified = self.watched.notified();
            if self.viewers() > 0 {
                return;
            }
            notified.await;
        }
    }

    /// Frames in the live ring that some receiver has not read yet.
    pub fn backlog(&self) -> usize {
        self.live.len()
    }

    /// Marks the frames as coming from another relay of the cluster.
    pub fn set_relayed(&self, relayed: bool) {
        self.relayed.store(relayed, Ordering::Relaxed);
    }

    /// Whether the frames come from another relay (no alerts raised here).
    pub fn is_relayed(&self) -> bool {
        self.relayed.load(Ordering::Relaxed)
    }

    /// Publishes the camera's state; viewers are told only when it changes.
    pub fn set_status(&self, status: CameraState) {
        let changed = self.status.send_if_modified(|current| {
            let changed = *current != status;
            *current = status.clone();
            changed
        });
        if let (true, Some(changes)) = (changed, &self.changes) {
            let change = StatusChange {
                camera: self.id.clone(),
                stream: self.stream,
                status,
            };
            // No session listening is fine.
            let _ = changes.send(Arc::new(change));
        }
    }

    /// The camera's state now and every change after.
    pub fn subscribe_status(&self) -> watch::Receiver<CameraState> {
        self.status.subscribe()
    }

    pub fn status(&self) -> CameraState {
        self.status.borrow().clone()
    }

    /// Viewers currently attached (the relay's own readers not counted).
    pub fn viewers(&self) -> usize {
        self.live
            .receiver_count()
            .saturating_sub(self.internal.load(Ordering::Relaxed))
    }
}

/// All cameras of this relay: those configured here, and (in a cluster)
/// those other relays pull, added as they are found.
pub struct Hub {
    cameras: std::sync::RwLock<Cameras>,
    /// Every camera's status changes, for every session: one receiver per
    /// socket, whatever the number of cameras (a watch per camera per socket
    /// would be polled on every frame the socket sends).
    status_changes: broadcast::Sender<Arc<StatusChange>>,
    /// WebSocket sessions open now (one per page, whatever its number of players).
    sessions: AtomicUsize,
}

#[derive(Default)]
struct Cameras {
    /// Main streams, in the order of the config (then in the order found).
    feeds: Vec<Arc<Feed>>,
    by_id: HashMap<String, usize>,
    /// Substreams, by camera.
    subs: HashMap<String, Arc<Feed>>,
    /// Channels given out so far (main streams and substreams).
    channels: usize,
}

/// A camera's new status.
#[derive(Debug)]
pub struct StatusChange {
    pub camera: String,
    pub stream: Stream,
    pub status: CameraState,
}

/// Status changes a session may fall behind by before it is sent every
/// camera's status afresh (they change seldom: this is a burst of hundreds).
const STATUS_QUEUE: usize = 256;

impl Default for Hub {
    fn default() -> Hub {
        Hub {
            cameras: std::sync::RwLock::new(Cameras::default()),
            status_changes: broadcast::channel(STATUS_QUEUE).0,
            sessions: AtomicUsize::new(0),
        }
    }
}

/// Counts one open session while it lives.
pub struct SessionGuard(Arc<Hub>);

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.0.sessions.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Errors adding a camera.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("two cameras have the id {0:?}")]
    DuplicateId(String),
    #[error("too many cameras (the wire protocol has 65536 channels)")]
    TooMany,
    #[error("no camera {0:?} to add a substream to")]
    NoCamera(String),
}

impl Hub {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Cameras> {
        // Every write leaves the lists whole (a push, an insert).
        self.cameras
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Cameras> {
        self.cameras
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Adds a camera and returns its feed, for the source to publish into.
    pub fn add_camera(&self, id: &str, name: &str) -> Result<Arc<Feed>, HubError> {
        let mut cameras = self.write();
        if cameras.by_id.contains_key(id) {
            return Err(HubError::DuplicateId(id.to_owned()));
        }
        let feed = self.new_feed(&mut cameras, id, name, Stream::Main)?;
        let at = cameras.feeds.len();
        cameras.by_id.insert(id.to_owned(), at);
        cameras.feeds.push(feed.clone());
        Ok(feed)
    }

    /// Adds camera `id`'s substream and returns its feed.
    pub fn add_substream(&self, id: &str) -> Result<Arc<Feed>, HubError> {
        let mut cameras = self.write();
        let Some(main) = cameras.by_id.get(id).map(|&i| cameras.feeds[i].clone()) else {
            return Err(HubError::NoCamera(id.to_owned()));
        };
        if cameras.subs.contains_key(id) {
            return Err(HubError::DuplicateId(id.to_owned()));
        }
        let name = format!("{} (substream)", main.name);
        let feed = self.new_feed(&mut cameras, id, &name, Stream::Sub)?;
        cameras.subs.insert(id.to_owned(), feed.clone());
        Ok(feed)
    }

    fn new_feed(
        &self,
        cameras: &mut Cameras,
        id: &str,
        name: &str,
        stream: Stream,
    ) -> Result<Arc<Feed>, HubError> {
        let channel = u16::try_from(cameras.channels).map_err(|_| HubError::TooMany)?;
        cameras.channels += 1;
        let changes = Some(self.status_changes.clone());
        Ok(Arc::new(Feed::new(
            id.to_owned(),
            name.to_owned(),
            stream,
            channel,
            changes,
        )))
    }

    /// Every camera's status changes from now on.
    pub fn subscribe_statuses(&self) -> broadcast::Receiver<Arc<StatusChange>> {
        self.status_changes.subscribe()
    }

    /// Camera `id`'s main stream.
    pub fn get(&self, id: &str) -> Option<Arc<Feed>> {
        let cameras = self.read();
        cameras.by_id.get(id).map(|&i| cameras.feeds[i].clone())
    }

    /// Camera `id`'s substream, if it has one.
    pub fn substream(&self, id: &str) -> Option<Arc<Feed>> {
        self.read().subs.get(id).cloned()
    }

    /// What `stream` of camera `id` plays: a camera without a substream
    /// plays its main stream for `sub`.
    pub fn stream(&self, id: &str, stream: Stream) -> Option<Arc<Feed>> {
        match stream {
            Stream::Sub => self.substream(id).or_else(|| self.get(id)),
            Stream::Main => self.get(id),
        }
    }

    /// The main streams, in the config's order.
    pub fn feeds(&self) -> Vec<Arc<Feed>> {
        self.read().feeds.clone()
    }

    /// Every stream: the main streams, then the substreams.
    pub fn all_feeds(&self) -> Vec<Arc<Feed>> {
        let cameras = self.read();
        cameras
            .feeds
            .iter()
            .chain(cameras.subs.values())
            .cloned()
            .collect()
    }

    pub fn cameras(&self) -> Vec<CameraInfo> {
        let cameras = self.read();
        cameras
            .feeds
            .iter()
            .map(|f| CameraInfo {
                id: f.id.clone(),
                name: f.name.clone(),
                status: f.status(),
                capabilities: f.capabilities.clone(),
                substream: cameras.subs.get(&f.id).map(|s| s.status()),
            })
            .collect()
    }

    /// A session opened; it counts until the guard is dropped.
    pub fn session_opened(self: &Arc<Self>) -> SessionGuard {
        self.sessions.fetch_add(1, Ordering::Relaxed);
        SessionGuard(self.clone())
    }

    pub fn sessions(&self) -> usize {
        self.sessions.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_h264::nal::{annex_b_units, nal_type, types};
    use sightline_wire::{FrameFlags, MediaHeader, HEADER_LEN};

    const FIXTURE: &[u8] = include_bytes!("../../../crates/h264/tests/fixtures/high_640x360.h264");

    fn feed() -> Arc<Feed> {
        let hub = Hub::default();
        let feed = hub.add_camera("cam", "Cam").unwrap();
        let find = |ty| {
            annex_b_units(FIXTURE)
                .find(|u| nal_type(u) == Some(ty))
                .unwrap()
        };
        feed.set_params(
            sightline_h264::StreamParams::new(find(types::SPS), find(types::PPS)).unwrap(),
        );
        feed
    }

    fn au(n: u8, keyframe: bool) -> AccessUnit {
        AccessUnit {
            payload: vec![0, 0, 0, 1, n],
            keyframe,
            timestamp_us: n as i64,
        }
    }

    fn payload(frame: &Frame) -> u8 {
        frame.data[HEADER_LEN + 4]
    }

    #[test]
    fn frames_before_params_are_dropped() {
        let hub = Hub::default();
        let feed = hub.add_camera("cam", "Cam").unwrap();
        assert!(!feed.publish(au(1, true)));
        assert!(feed.subscribe().gop.is_empty());
    }

    #[test]
    fn new_viewer_gets_gop_since_last_keyframe_then_live() {
        let feed = feed();
        feed.publish(au(1, false)); // before any keyframe: not cached
        feed.publish(au(2, true));
        feed.publish(au(3, false));
        feed.publish(au(4, true));
        feed.publish(au(5, false));
        let mut sub = feed.subscribe();
        assert_eq!(sub.gop.iter().map(payload).collect::<Vec<_>>(), [4, 5]);
        assert!(sub.gop[0].keyframe);
        feed.publish(au(6, false));
        assert_eq!(payload(&sub.live.try_recv().unwrap()), 6);
        assert!(sub.live.try_recv().is_err());
    }

    #[test]
    fn every_viewer_shares_one_buffer() {
        let feed = feed();
        let mut a = feed.subscribe();
        let mut b = feed.subscribe();
        feed.publish(au(1, true));
        let fa = a.live.try_recv().unwrap();
        let fb = b.live.try_recv().unwrap();
        assert_eq!(fa.data.as_ptr(), fb.data.as_ptr());
        assert_eq!(fa.data.as_ptr(), feed.subscribe().gop[0].data.as_ptr());
    }

    #[test]
    fn a_stalled_viewer_lags_instead_of_growing_memory() {
        let feed = feed();
        let mut slow = feed.subscribe();
        for n in 0..(VIEWER_QUEUE_FRAMES * 3) {
            feed.publish(au(n as u8, n % 30 == 0));
        }
        match slow.live.try_recv() {
            Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                assert_eq!(missed as usize, VIEWER_QUEUE_FRAMES * 2)
            }
            other => panic!("expected a lag, got {other:?}"),
        }
        // What is left is at most the ring's capacity.
        let mut left = 0;
        while slow.live.try_recv().is_ok() {
            left += 1;
        }
        assert_eq!(left, VIEWER_QUEUE_FRAMES);
    }

    #[test]
    fn header_names_channel_flags_and_time() {
        let feed = feed();
        feed.publish(au(7, true));
        let frame = feed.subscribe().gop.remove(0);
        let (header, body) = MediaHeader::parse(&frame.data).unwrap();
        assert_eq!(header.channel, feed.channel);
        assert!(header.flags.contains(FrameFlags::KEYFRAME));
        assert_eq!(header.timestamp_us, 7);
        assert!(header.received_us > 0);
        assert_eq!(body, [0, 0, 0, 1, 7]);
    }

    #[test]
    fn gop_cache_is_bounded() {
        let feed = feed();
        feed.publish(au(0, true));
        for n in 0..MAX_GOP_FRAMES {
            feed.publish(au(n as u8, false));
        }
        assert!(
            feed.subscribe().gop.is_empty(),
            "an over-long GOP is dropped"
        );
        feed.publish(au(1, true));
        assert_eq!(feed.subscribe().gop.len(), 1);
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let hub = Hub::default();
        hub.add_camera("a", "A").unwrap();
        assert!(hub.add_camera("a", "A again").is_err());
    }

    #[test]
    fn a_substream_has_its_own_channel_and_status() {
        let hub = Hub::default();
        let a = hub.add_camera("a", "A").unwrap();
        assert!(hub.add_substream("nope").is_err());
        let a_sub = hub.add_substream("a").unwrap();
        assert!(hub.add_substream("a").is_err(), "one substream per camera");
        let b = hub.add_camera("b", "B").unwrap();
        let channels = [a.channel, a_sub.channel, b.channel];
        assert_eq!(channels, [0, 1, 2], "every stream its own channel");
        assert_eq!(a_sub.stream, Stream::Sub);
        assert!(Arc::ptr_eq(&hub.stream("a", Stream::Sub).unwrap(), &a_sub));
        assert!(
            Arc::ptr_eq(&hub.stream("b", Stream::Sub).unwrap(), &b),
            "without a substream, `sub` plays the main stream"
        );
        let mut changes = hub.subscribe_statuses();
        a_sub.set_status(CameraState::Online);
        let change = changes.try_recv().unwrap();
        assert_eq!((change.camera.as_str(), change.stream), ("a", Stream::Sub));
        let cameras = hub.cameras();
        assert_eq!(cameras.len(), 2, "a substream is not a camera");
        assert_eq!(cameras[0].status, CameraState::Connecting);
        assert_eq!(cameras[0].substream, Some(CameraState::Online));
        assert_eq!(cameras[1].substream, None);
    }
}
