//! A camera's video between relays: the owner publishes each frame on the
//! camera's subject and answers GOP requests; a follower receives them into
//! its own feed only while one of its viewers watches (NATS forwards
//! nothing nobody subscribed to).
//!
//! Each relay keeps its own feed per camera: a follower's viewers are
//! served by the same fan-out, GOP cache and slow-viewer rules as a camera
//! pulled here. The owner publishes the `Bytes` its viewers get (no copy);
//! a follower copies each access unit once into its feed (its channel
//! number is its own; the receive time stays the owner's, so latency
//! figures count the hop).

use std::sync::Arc;
use std::time::Duration;

use async_nats::Client;
use bytes::Bytes;
use futures_util::StreamExt as _;
use sightline_cluster::media::{Media, ParamSets};
use sightline_cluster::sequence::{Sequence, Verdict};
use sightline_h264::{HevcParams, StreamParams, VideoParams};
use sightline_wire::{FrameFlags, MediaHeader, Stream};
use tokio::sync::{broadcast, watch};
use tracing::{debug, warn};

use crate::hub::{AccessUnit, Feed, Frame, Params, MAX_GOP_FRAMES, VIEWER_QUEUE_FRAMES};

/// The subject of a camera stream's media.
pub fn video_subject(camera: &str, stream: Stream) -> String {
    sightline_cluster::subjects::camera_subject(camera, video_kind(stream))
}

/// The subject its owner answers GOP requests on.
pub fn gop_subject(camera: &str, stream: Stream) -> String {
    sightline_cluster::subjects::camera_subject(camera, gop_kind(stream))
}

fn video_kind(stream: Stream) -> &'static str {
    match stream {
        Stream::Main => "video",
        Stream::Sub => "video.sub",
    }
}

fn gop_kind(stream: Stream) -> &'static str {
    match stream {
        Stream::Main => "gop",
        Stream::Sub => "gop.sub",
    }
}

/// The parameter sets of `params`, to send.
pub fn param_sets(params: &Params) -> ParamSets {
    match &params.video {
        VideoParams::H264(p) => ParamSets {
            codec: "h264".into(),
            vps: None,
            sps: p.sps.clone(),
            pps: p.pps.clone(),
        },
        VideoParams::H265(p) => ParamSets {
            codec: "h265".into(),
            vps: Some(p.vps.clone()),
            sps: p.sps.clone(),
            pps: p.pps.clone(),
        },
    }
}

/// The parameters of received sets.
pub fn video_params(sets: &ParamSets) -> Result<VideoParams, String> {
    match (sets.codec.as_str(), &sets.vps) {
        ("h264", _) => StreamParams::new(&sets.sps, &sets.pps)
            .map(VideoParams::from)
            .map_err(|e| e.to_string()),
        ("h265", Some(vps)) => HevcParams::new(vps, &sets.sps, &sets.pps)
            .map(VideoParams::from)
            .map_err(|e| e.to_string()),
        (codec, _) => Err(format!("no parameters for codec {codec:?}")),
    }
}

/// The largest frame that crosses: the server's `max_payload` counts the
/// headers too, and a message over it costs the whole connection.
fn largest_frame(client: &Client) -> usize {
    client.server_info().max_payload.saturating_sub(1024)
}

/// How long one publish may wait for the client (its queue is full while
/// NATS reconnects): dropped after that, never holding the camera back.
const SEND_WITHIN: Duration = Duration::from_millis(500);

/// The owner's side: publishes `feed` until `stop`.
pub async fn publish(client: Client, feed: Arc<Feed>, mut stop: watch::Receiver<bool>) {
    let subject = video_subject(&feed.id, feed.stream);
    let subscribed = tokio::time::timeout(
        SEND_WITHIN,
        client.subscribe(gop_subject(&feed.id, feed.stream)),
    )
    .await;
    let Ok(Ok(mut requests)) = subscribed else {
        warn!(camera = %feed.id, "cannot answer GOP requests (NATS away?); not publishing");
        return;
    };
    let mut sub = feed.subscribe_internal();
    // This run of numbers: followers start afresh when it changes.
    let epoch = sightline_wire::media::now_us();
    let mut seq: u64 = 0;
    // The GOP as followers get it on request, with its sequence numbers.
    let mut gop: Vec<(u64, Frame)> = Vec::new();
    for frame in std::mem::take(&mut sub.gop) {
        seq += 1;
        gop.push((seq, frame));
    }
    let mut params = sub.params.clone();
    // Followers that listen already get the parameters with the first frame.
    let mut params_sent = false;
    let largest = largest_frame(&client);
    let mut too_big_said = false;
    let mut answering: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        tokio::select! {
            frame = sub.live.recv() => match frame {
                Ok(frame) => {
                    seq += 1;
                    let new_params = params.as_ref().is_none_or(|p| !Arc::ptr_eq(p, &frame.params));
                    if new_params {
                        params = Some(frame.params.clone());
                        gop.clear();
                    }
                    if frame.keyframe {
                        gop.clear();
                    }
                    if (frame.keyframe || !gop.is_empty()) && gop.len() < MAX_GOP_FRAMES {
                        gop.push((seq, frame.clone()));
                    }
                    if client.connection_state() != async_nats::connection::State::Connected {
                        // Nobody hears it now: followers see the gap later.
                        params_sent = false;
                        continue;
                    }
                    // The parameters before every keyframe too: a follower
                    // that missed them (or its GOP answer) can start there.
                    if new_params || frame.keyframe || !params_sent {
                        params_sent = send(&client, &subject, &Media::Params(param_sets(&frame.params))).await;
                    }
                    if frame.data.len() > largest {
                        // Skipped: the followers see a gap and wait for the next keyframe.
                        if !std::mem::replace(&mut too_big_said, true) {
                            warn!(camera = %feed.id, bytes = frame.data.len(),
                                "a frame is larger than the NATS server's max_payload; raise it (README, Scaling out)");
                        }
                        continue;
                    }
                    send(&client, &subject, &Media::Frame { epoch, seq, data: frame.data }).await;
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    // NATS was slower than the camera: followers see the gap.
                    seq += missed;
                    gop.clear();
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            request = requests.next() => {
                let Some(request) = request else { return };
                // Answers go to an asker's inbox only (never into another
                // camera's subject), one at a time: an asker that comes
                // while one is answered goes live without a GOP.
                let Some(reply) = request.reply.filter(|r| r.starts_with("_INBOX.")) else { continue };
                if answering.as_ref().is_some_and(|a| !a.is_finished()) {
                    continue;
                }
                let answer = (params.clone(), gop.clone());
                let client = client.clone();
                answering = Some(tokio::spawn(async move {
                    let (params, gop) = answer;
                    if let Some(p) = &params {
                        send(&client, &reply, &Media::Params(param_sets(p))).await;
                    }
                    for (n, frame) in gop {
                        if frame.data.len() <= largest {
                            send(&client, &reply, &Media::Frame { epoch, seq: n, data: frame.data }).await;
                        }
                    }
                    send(&client, &reply, &Media::End).await;
                }));
            }
            _ = stop.changed() => break,
        }
    }
    if let Some(answer) = answering {
        answer.abort();
    }
}

/// Publishes one message; false if it could not be (within [`SEND_WITHIN`]).
async fn send(client: &Client, subject: &str, media: &Media) -> bool {
    let (headers, payload) = media.to_message();
    let sent = tokio::time::timeout(
        SEND_WITHIN,
        client.publish_with_headers(subject.to_owned(), headers, payload),
    )
    .await;
    match sent {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            debug!("publish on {subject}: {e:#}");
            false
        }
        Err(_) => false,
    }
}

/// How long a follower waits for the owner's GOP before going on live.
const GOP_ANSWER_WITHIN: Duration = Duration::from_secs(3);
/// How long taking a GOP may wait for viewers to read it, in all.
const PACING_AT_MOST: Duration = Duration::from_secs(2);
/// How often a follower checks whether anyone still watches.
const WATCHED_CHECK: Duration = Duration::from_secs(1);

/// A follower's side: receives `feed` from its owner while it is watched,
/// until `stop`.
pub async fn follow(client: Client, feed: Arc<Feed>, mut stop: watch::Receiver<bool>) {
    let subject = video_subject(&feed.id, feed.stream);
    loop {
        tokio::select! {
            _ = feed.until_watched() => {}
            _ = stop.changed() => return,
        }
        let subscribed = tokio::time::timeout(SEND_WITHIN, client.subscribe(subject.clone())).await;
        let mut live = match subscribed {
            Ok(Ok(s)) => s,
            failed => {
                debug!(camera = %feed.id, "subscribe: {:?}", failed.map(|r| r.err()));
                tokio::select! {
                    _ = tokio::time::sleep(WATCHED_CHECK) => continue,
                    _ = stop.changed() => return,
                }
            }
        };
        let mut receiver = Receiver {
            feed: feed.clone(),
            seq: Sequence::new(),
            pacing: None,
        };
        // Fast start: the owner's GOP first, then what came live after it.
        if let Err(e) = receiver.gop(&client).await {
            debug!(camera = %feed.id, "no GOP from the owner: {e}");
        }
        let mut check = tokio::time::interval(WATCHED_CHECK);
        let stopped = loop {
            tokio::select! {
                message = live.next() => match message {
                    Some(m) => {
                        receiver.take(m.headers.as_ref(), m.payload).await;
                    }
                    None => break false,
                },
                _ = check.tick() => if feed.viewers() == 0 { break false },
                _ = stop.changed() => break true,
            }
        };
        drop(live);
        // What the next viewer gets comes afresh from the owner.
        feed.end_of_stream();
        if stopped {
            return;
        }
    }
}

/// Frames from the owner into the feed.
struct Receiver {
    feed: Arc<Feed>,
    /// Live frames that came in the GOP already are dropped as repeats.
    seq: Sequence,
    /// While a GOP answer is taken: until when it may wait for viewers.
    pacing: Option<tokio::time::Instant>,
}

impl Receiver {
    async fn gop(&mut self, client: &Client) -> Result<(), String> {
        let inbox = client.new_inbox();
        let mut answer = tokio::time::timeout(SEND_WITHIN, client.subscribe(inbox.clone()))
            .await
            .map_err(|_| "NATS is away".to_owned())?
            .map_err(|e| e.to_string())?;
        tokio::time::timeout(
            SEND_WITHIN,
            client.publish_with_reply(
                gop_subject(&self.feed.id, self.feed.stream),
                inbox,
                Bytes::new(),
            ),
        )
        .await
        .map_err(|_| "NATS is away".to_owned())?
        .map_err(|e| e.to_string())?;
        self.pacing = Some(tokio::time::Instant::now() + PACING_AT_MOST);
        let answered = tokio::time::timeout(GOP_ANSWER_WITHIN, async {
            while let Some(m) = answer.next().await {
                if self.take(m.headers.as_ref(), m.payload).await {
                    return;
                }
            }
        })
        .await
        .map_err(|_| "no answer".to_owned());
        self.pacing = None;
        answered
    }

    /// Takes one message; true at the end of a GOP answer.
    async fn take(&mut self, headers: Option<&async_nats::HeaderMap>, payload: Bytes) -> bool {
        match Media::from_message(headers, payload) {
            Ok(Media::Params(sets)) => match video_params(&sets) {
                Ok(video) => {
                    self.feed.set_params(video);
                }
                Err(e) => warn!(camera = %self.feed.id, "parameters from the owner: {e}"),
            },
            Ok(Media::Frame { epoch, seq, data }) => {
                let Ok((header, payload)) = MediaHeader::parse(&data) else {
                    return false;
                };
                let keyframe = header.flags.contains(FrameFlags::KEYFRAME);
                match self.seq.arrived(epoch, seq, keyframe) {
                    Verdict::Drop => return false,
                    Verdict::Forward | Verdict::ForwardAfterGap => {}
                }
                self.pace().await;
                self.feed.publish_received(
                    AccessUnit {
                        payload: payload.to_vec(),
                        keyframe,
                        timestamp_us: header.timestamp_us,
                    },
                    header.received_us,
                );
            }
            Ok(Media::End) => return true,
            Err(e) => debug!(camera = %self.feed.id, "not media: {e}"),
        }
        false
    }

    /// A GOP arrives at once, faster than viewers read it: publishing it
    /// into the ring in one go would make every viewer lag past it. While a
    /// GOP is taken, waits while the ring is nearly full, for at most
    /// [`PACING_AT_MOST`] in all (a viewer that reads nothing lags as usual).
    /// Live frames come at the camera's pace and never wait.
    async fn pace(&self) {
        let Some(until) = self.pacing else { return };
        while self.feed.backlog() >= VIEWER_QUEUE_FRAMES - 8 && tokio::time::Instant::now() < until
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
