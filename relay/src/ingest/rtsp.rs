//! RTSP ingest: one supervisor task per camera. It connects with `retina`
//! (DESCRIBE, SETUP of the H.264 or H.265 video stream, PLAY), turns each demuxed access
//! unit into a hub frame, and on any failure reports a clear reason, waits
//! (exponential backoff with jitter, capped at 30 s) and tries again, forever.
//!
//! Status published to viewers: `connecting` (first attempt), `online` (frames
//! flowing), `reconnecting` (was streaming, lost it), `offline` (an attempt
//! failed: unreachable, unauthorized, no H.264 or H.265, …).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use retina::client::{
    Credentials, PlayOptions, Session, SessionOptions, SetupOptions, TcpTransportOptions,
    Transport as RetinaTransport, UdpTransportOptions,
};
use retina::codec::{CodecItem, FrameFormat, ParametersRef, VideoFrame};
use sightline_backoff::Backoff;
use sightline_h264::{HevcParams, StreamParams, VideoParams};
use sightline_wire::{AudioConfig, CameraState};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::{RtspSource, Transport};
use crate::hub::{AccessUnit, Feed};

/// DESCRIBE + SETUP + PLAY must finish within this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A camera that sends no video for this long is treated as gone (retina itself
/// notices a frozen server only after about a minute).
const NO_VIDEO_TIMEOUT: Duration = Duration::from_secs(8);
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// Why a session ended. The `Display` text is what viewers see as the reason
/// (one line); retina's own error, which carries the connection's context on
/// further lines, is kept as the source and logged with the whole chain.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("unauthorized (check the camera's username and password)")]
    Unauthorized(#[source] retina::Error),
    #[error("the camera refused: RTSP {code}")]
    Refused {
        code: u16,
        #[source]
        source: retina::Error,
    },
    #[error("{first_line}")]
    Rtsp {
        first_line: String,
        #[source]
        source: retina::Error,
    },
    #[error("no answer from the camera within {0:?}")]
    ConnectTimeout(Duration),
    #[error("the camera offers no H.264 or H.265 video (streams: {0}); set its video codec to H.264 or H.265")]
    NoSupportedVideo(String),
    #[error("invalid {codec} parameters from the camera: {detail}")]
    BadParameters { codec: &'static str, detail: String },
    #[error("no video for {0:?}")]
    NoVideo(Duration),
    #[error("the camera ended the stream")]
    Ended,
}

impl From<retina::Error> for IngestError {
    fn from(e: retina::Error) -> IngestError {
        match e.status_code() {
            Some(401) => IngestError::Unauthorized(e),
            Some(code) => IngestError::Refused { code, source: e },
            // retina's messages carry connection context on further lines; the
            // first says what happened.
            None => IngestError::Rtsp {
                first_line: e.to_string().lines().next().unwrap_or("").to_owned(),
                source: e,
            },
        }
    }
}

/// Starts the supervisor for one camera; it runs until `shutdown` turns true.
pub fn spawn(
    feed: Arc<Feed>,
    source: RtspSource,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(supervise(feed, source, shutdown))
}

async fn supervise(feed: Arc<Feed>, source: RtspSource, mut shutdown: watch::Receiver<bool>) {
    let mut backoff = Backoff::new(RETRY_FIRST, RETRY_MAX);
    feed.set_status(CameraState::Connecting);
    loop {
        let mut streamed = false;
        feed.stats.attempt();
        let end = tokio::select! {
            end = session(&feed, &source, &mut streamed) => end,
            _ = shutdown.changed() => return,
        };
        feed.end_of_stream();
        let reason = end.to_string();
        if streamed {
            backoff.reset();
            feed.stats.reconnect();
            feed.set_status(CameraState::Reconnecting {
                reason: reason.clone(),
            });
        } else {
            feed.set_status(CameraState::Offline {
                reason: reason.clone(),
            });
        }
        let delay = backoff.next_delay(rand_unit());
        tracing::warn!(
            camera = %feed.id,
            url = %source.url,
            "{:#}; retrying in {:.1} s",
            anyhow::Error::new(end),
            delay.as_secs_f64()
        );
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// One RTSP session, from DESCRIBE to its end (it always ends in an error:
/// a camera stream has no natural end). Sets `streamed` once frames flow.
async fn session(feed: &Feed, source: &RtspSource, streamed: &mut bool) -> IngestError {
    match run_session(feed, source, streamed).await {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

async fn run_session(
    feed: &Feed,
    source: &RtspSource,
    streamed: &mut bool,
) -> Result<std::convert::Infallible, IngestError> {
    let started = Instant::now();
    let (mut demuxed, video, audio) = tokio::time::timeout(CONNECT_TIMEOUT, connect(source))
        .await
        .map_err(|_| IngestError::ConnectTimeout(CONNECT_TIMEOUT))??;
    let audio = audio.and_then(|stream| {
        let config = audio_config(&demuxed.streams()[stream])?;
        Some((stream, config))
    });
    if let Some((_, config)) = &audio {
        tracing::info!(camera = %feed.id, codec = %config.codec, rate = config.sample_rate, "forwarding the camera's audio");
    }
    feed.set_audio(audio.as_ref().map(|(_, config)| config.clone()));
    let audio = audio.map(|(stream, _)| stream);
    let h265 = demuxed.streams()[video]
        .encoding_name()
        .eq_ignore_ascii_case("h265");
    let mut waiting_for_keyframe = true;
    let mut dropping_rasl = false;
    let mut deadline = Instant::now() + NO_VIDEO_TIMEOUT;
    loop {
        let item = match tokio::time::timeout_at(deadline, demuxed.next()).await {
            Err(_) => return Err(IngestError::NoVideo(NO_VIDEO_TIMEOUT)),
            Ok(None) => return Err(IngestError::Ended),
            Ok(Some(item)) => item?,
        };
        let frame = match item {
            CodecItem::VideoFrame(frame) => frame,
            CodecItem::AudioFrame(frame) if Some(frame.stream_id()) == audio => {
                let ts = frame.timestamp();
                let timestamp_us = (i128::from(ts.elapsed()) * 1_000_000
                    / i128::from(ts.clock_rate().get())) as i64;
                feed.publish_audio(timestamp_us, frame.data());
                continue;
            }
            _ => continue,
        };
        if frame.stream_id() != video {
            continue;
        }
        deadline = Instant::now() + NO_VIDEO_TIMEOUT;
        if frame.has_new_parameters() || feed.params().is_none() {
            update_params(feed, &demuxed.streams()[video])?;
        }
        // Decoding can only start at a keyframe, and after lost packets the
        // references are broken until the next one.
        let keyframe = is_keyframe(&frame, h265);
        if frame.loss() > 0 && !keyframe {
            if !waiting_for_keyframe {
                tracing::debug!(camera = %feed.id, lost = frame.loss(), "packet loss; waiting for a keyframe");
            }
            waiting_for_keyframe = true;
        }
        if waiting_for_keyframe && !keyframe {
            continue;
        }
        if waiting_for_keyframe {
            // Resuming at an H.265 CRA (after loss): its RASL pictures
            // reference what was lost. Viewers' decoders go on, so they are
            // not sent (an IDR has none).
            dropping_rasl = h265 && !frame.is_random_access_point();
        } else if dropping_rasl {
            let nals =
                sightline_h264::nal::length_prefixed_units(frame.data()).filter_map(Result::ok);
            if sightline_h264::hevc::is_rasl(nals) {
                continue;
            }
            dropping_rasl = false;
        }
        waiting_for_keyframe = false;
        publish(feed, frame, keyframe);
        if !*streamed {
            *streamed = true;
            let elapsed = started.elapsed();
            feed.stats.connected_in(elapsed);
            feed.set_status(CameraState::Online);
            let codec = feed
                .params()
                .map(|p| p.wire.codec.clone())
                .unwrap_or_default();
            tracing::info!(
                camera = %feed.id,
                url = %source.url,
                transport = %source.transport,
                %codec,
                "camera online; first frame {} ms after connecting",
                elapsed.as_millis()
            );
        }
    }
}

/// DESCRIBE, SETUP of the first H.264 video stream (or else the first
/// H.265 one: more browsers decode H.264) and of the first audio stream
/// browsers decode (G.711, AAC) if any, PLAY. The video and audio streams' indexes.
async fn connect(
    source: &RtspSource,
) -> Result<(retina::client::Demuxed, usize, Option<usize>), IngestError> {
    let creds = source.username.as_ref().map(|username| Credentials {
        username: username.clone(),
        password: source.password.clone().unwrap_or_default(),
    });
    let options = SessionOptions::default()
        .creds(creds)
        .user_agent(format!("Sightline/{}", env!("CARGO_PKG_VERSION")));
    let mut session = Session::describe(source.url.clone(), options).await?;
    let streams = session.streams();
    let video_of = |codec: &str| {
        streams
            .iter()
            .position(|s| s.media() == "video" && s.encoding_name().eq_ignore_ascii_case(codec))
    };
    let Some(video) = video_of("h264").or_else(|| video_of("h265")) else {
        let offered: Vec<String> = streams
            .iter()
            .map(|s| format!("{}/{}", s.media(), s.encoding_name()))
            .collect();
        return Err(IngestError::NoSupportedVideo(offered.join(", ")));
    };
    // MP4 framing: 4-byte length-prefixed NAL units without in-band parameter
    // sets, and the avcC/hvcC record as extra data — exactly what WebCodecs
    // takes; raw AAC with its AudioSpecificConfig likewise.
    let setup = || {
        let transport = match source.transport {
            Transport::Tcp => RetinaTransport::Tcp(TcpTransportOptions::default()),
            Transport::Udp => RetinaTransport::Udp(UdpTransportOptions::default()),
        };
        SetupOptions::default()
            .transport(transport)
            .frame_format(FrameFormat::MP4)
    };
    session.setup(video, setup()).await?;
    let audio = session.streams().iter().position(|s| {
        s.media() == "audio"
            && AUDIO_ENCODINGS.contains(&s.encoding_name().to_ascii_lowercase().as_str())
    });
    // Audio is a bonus: a camera whose audio cannot be set up still streams video.
    let audio = match audio {
        Some(stream) => match session.setup(stream, setup()).await {
            Ok(()) => Some(stream),
            Err(e) => {
                tracing::warn!(url = %source.url, "the camera's audio cannot be set up; video only: {e:#}");
                None
            }
        },
        None => None,
    };
    let playing = session.play(PlayOptions::default()).await?;
    Ok((playing.demuxed()?, video, audio))
}

/// RTP encodings (lower case) whose audio is forwarded: those retina
/// depacketizes and WebCodecs' `AudioDecoder` decodes.
const AUDIO_ENCODINGS: &[&str] = &["pcma", "pcmu", "mpeg4-generic"];

/// The wire's audio config of a set-up audio stream, once retina knows its
/// parameters (`None` otherwise: nothing is forwarded).
fn audio_config(stream: &retina::client::Stream) -> Option<AudioConfig> {
    let Some(ParametersRef::Audio(params)) = stream.parameters() else {
        return None;
    };
    let codec = match stream.encoding_name().to_ascii_lowercase().as_str() {
        "pcma" => "alaw".to_owned(),
        "pcmu" => "ulaw".to_owned(),
        _ => params.rfc6381_codec()?.to_owned(),
    };
    Some(AudioConfig {
        codec,
        sample_rate: params.clock_rate(),
        channels: params.channels().get(),
        description: params.extra_data().to_vec(),
    })
}

fn update_params(feed: &Feed, stream: &retina::client::Stream) -> Result<(), IngestError> {
    let Some(ParametersRef::Video(video)) = stream.parameters() else {
        return Ok(()); // not known yet (no SPS/PPS in the SDP); they come with the frames
    };
    let h265 = stream.encoding_name().eq_ignore_ascii_case("h265");
    let params: VideoParams = if h265 {
        HevcParams::from_hvcc(video.extra_data())
            .map(VideoParams::from)
            .map_err(|e| ("H.265", e))
    } else {
        StreamParams::from_avcc(video.extra_data())
            .map(VideoParams::from)
            .map_err(|e| ("H.264", e))
    }
    .map_err(|(codec, e)| IngestError::BadParameters {
        codec,
        detail: e.to_string(),
    })?;
    let (width, height) = params.size();
    if feed.set_params(params) {
        tracing::info!(camera = %feed.id, codec = video.rfc6381_codec(), "stream parameters: {width}x{height}");
    }
    Ok(())
}

/// Whether decoding can start at `frame`. retina says so for H.264 IDR and
/// H.265 IDR pictures; an H.265 CRA or BLA picture (the keyframes of x265's
/// default open GOP, and of cameras that use it) is one too: decoders start
/// there, dropping the leading pictures that reference the GOP before.
fn is_keyframe(frame: &VideoFrame, h265: bool) -> bool {
    if frame.is_random_access_point() {
        return true;
    }
    h265 && sightline_h264::hevc::is_irap(
        sightline_h264::nal::length_prefixed_units(frame.data()).filter_map(Result::ok),
    )
}

fn publish(feed: &Feed, frame: VideoFrame, keyframe: bool) {
    let ts = frame.timestamp();
    let timestamp_us =
        (i128::from(ts.elapsed()) * 1_000_000 / i128::from(ts.clock_rate().get())) as i64;
    feed.publish(AccessUnit {
        payload: frame.into_data(),
        keyframe,
        timestamp_us,
    });
}

/// A number in [0, 1) for backoff jitter; it need not be good randomness, only
/// differ between cameras and attempts.
fn rand_unit() -> f64 {
    use std::hash::{BuildHasher, RandomState};
    let h = RandomState::new().hash_one(std::time::SystemTime::now());
    (h >> 11) as f64 / (1u64 << 53) as f64
}
