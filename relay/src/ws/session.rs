//! One WebSocket session: the handshake, control messages from the player, and
//! the per-viewer end of the fan-out (lag → skip to the next keyframe).
//!
//! A session is one task. It multiplexes every camera the player subscribed to
//! onto the socket; a slow socket slows only this task, whose ring receivers then
//! lag (see `hub.rs`) — memory stays bounded and other viewers are unaffected.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self, Stream, StreamExt};
use sightline_wire::{ClientMessage, FrameFlags, MediaHeader, ServerMessage, PROTOCOL_VERSION};
use tokio::sync::watch;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::{BroadcastStream, WatchStream};
use tokio_stream::StreamMap;

use super::socket::{Message, ReadError, Socket};
use crate::error::{Error, ErrorKind};
use crate::hub::{Feed, Frame, Hub, Params};

/// How long a new socket may take to say `hello`.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Keeps idle proxies from closing the socket.
const PING_INTERVAL: Duration = Duration::from_secs(20);
/// A viewer whose socket accepts nothing for this long is gone; close it.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a session's last words (a close frame) may take to go out.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

type FrameStream = Pin<Box<dyn Stream<Item = Result<Frame, BroadcastStreamRecvError>> + Send>>;

/// Why a session ended, for the log.
#[derive(Debug, thiserror::Error)]
enum End {
    #[error("viewer closed the socket")]
    Closed,
    #[error("reading from the viewer: {0}")]
    Read(#[from] ReadError),
    #[error("cannot write to the viewer: {0}")]
    Write(#[from] std::io::Error),
    #[error("viewer accepted nothing for {0:?}")]
    Stalled(Duration),
    #[error("{0}")]
    Refused(String),
    #[error("relay shutting down")]
    Shutdown,
}

/// What a session writes to its socket.
enum Out {
    Text(String),
    Binary(Bytes),
    Ping,
    /// Only what the protocol owes the viewer (a pong).
    Replies,
}

/// This viewer's state for one subscribed camera.
struct Viewer {
    feed: Arc<Feed>,
    /// The parameters this viewer's decoder was last given.
    params: Option<Arc<Params>>,
    /// Fell behind: drop frames until the next keyframe.
    skipping: bool,
}

/// Runs one session to its end.
pub async fn run(socket: Socket, hub: Arc<Hub>, peer: SocketAddr, shutdown: watch::Receiver<bool>) {
    let _open = hub.session_opened();
    let mut session = Session {
        hub,
        socket,
        viewers: HashMap::new(),
        frames: StreamMap::new(),
        statuses: StreamMap::new(),
        dropped: 0,
    };
    let end = session.serve(shutdown).await;
    let dropped = session.dropped;
    match &end {
        End::Closed | End::Shutdown => tracing::debug!(%peer, dropped, "session ended: {end}"),
        _ => tracing::info!(%peer, dropped, "session ended: {end}"),
    }
    let reason = match end {
        End::Shutdown => Some("relay shutting down"),
        End::Refused(_) => Some("protocol error"),
        _ => None,
    };
    let bye = async {
        match reason {
            Some(reason) => session.socket.close(1001, reason).await,
            // Answers the viewer's own close, if that is how it ended.
            None => session.socket.write_replies().await,
        }
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, bye).await;
}

struct Session {
    hub: Arc<Hub>,
    socket: Socket,
    viewers: HashMap<u16, Viewer>,
    frames: StreamMap<u16, FrameStream>,
    statuses: StreamMap<u16, WatchStream<sightline_wire::CameraState>>,
    /// Frames this viewer missed by falling behind (logged when the session ends).
    dropped: u64,
}

impl Session {
    async fn serve(&mut self, mut shutdown: watch::Receiver<bool>) -> End {
        match tokio::time::timeout(HELLO_TIMEOUT, self.handshake()).await {
            Ok(Ok(())) => {}
            Ok(Err(end)) => return end,
            Err(_) => return End::Refused(format!("no hello within {HELLO_TIMEOUT:?}")),
        }
        let mut ping = tokio::time::interval(PING_INTERVAL);
        ping.reset();
        // Made once: a new `changed()` on every turn of the loop (every frame)
        // would register and unregister a waiter each time.
        let shutdown = shutdown.changed();
        tokio::pin!(shutdown);
        loop {
            let step = tokio::select! {
                msg = self.socket.recv() => match msg {
                    None => Err(End::Closed),
                    Some(Err(e)) => Err(End::Read(e)),
                    Some(Ok(msg)) => self.on_message(msg).await,
                },
                Some((channel, item)) = self.frames.next(), if !self.frames.is_empty() => {
                    self.on_frame(channel, item).await
                }
                Some((channel, status)) = self.statuses.next(), if !self.statuses.is_empty() => {
                    match self.viewers.get(&channel) {
                        Some(v) => {
                            let camera = v.feed.id.clone();
                            self.send_json(&ServerMessage::CameraStatus { camera, status }).await
                        }
                        None => Ok(()),
                    }
                }
                _ = ping.tick() => self.send(Out::Ping).await,
                _ = &mut shutdown => Err(End::Shutdown),
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    /// Waits for `hello`, checks the version, answers `welcome`.
    async fn handshake(&mut self) -> Result<(), End> {
        loop {
            let text = match self.socket.recv().await {
                None => return Err(End::Closed),
                Some(Err(e)) => return Err(End::Read(e)),
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(_))) => return Err(End::Closed),
                Some(Ok(_)) => continue,
            };
            match ClientMessage::parse(&text) {
                Ok(ClientMessage::Hello { protocol, .. }) if protocol == PROTOCOL_VERSION => {
                    let cameras = self.hub.cameras();
                    return self
                        .send_json(&ServerMessage::Welcome {
                            protocol: PROTOCOL_VERSION,
                            cameras,
                        })
                        .await;
                }
                Ok(ClientMessage::Hello { protocol, .. }) => {
                    let message = format!(
                        "this relay speaks protocol {PROTOCOL_VERSION}, the client {protocol}; reload the page or update the player"
                    );
                    self.send_error(
                        Error::new(ErrorKind::ProtocolMismatch, message.clone()),
                        None,
                    )
                    .await?;
                    return Err(End::Refused(message));
                }
                Ok(_) => {
                    self.send_error(Error::new(ErrorKind::BadRequest, "say hello first"), None)
                        .await?
                }
                Err(e) => {
                    self.send_error(Error::new(ErrorKind::BadRequest, e.to_string()), None)
                        .await?
                }
            }
        }
    }

    async fn on_message(&mut self, msg: Message) -> Result<(), End> {
        let text = match msg {
            Message::Text(text) => text,
            Message::Close(_) => return Err(End::Closed),
            Message::Binary(_) => {
                return self
                    .send_error(
                        Error::new(ErrorKind::BadRequest, "the relay takes no binary frames"),
                        None,
                    )
                    .await
            }
            Message::Ping(_) => return self.send(Out::Replies).await,
            Message::Pong(_) | Message::Frame(_) => return Ok(()),
        };
        let request = match ClientMessage::parse(&text) {
            Ok(request) => request,
            Err(e) => {
                tracing::debug!("bad control message: {e}");
                return self
                    .send_error(Error::new(ErrorKind::BadRequest, e.to_string()), None)
                    .await;
            }
        };
        match request {
            ClientMessage::Hello { .. } => {
                self.send_error(
                    Error::new(ErrorKind::BadRequest, "hello was already said"),
                    None,
                )
                .await
            }
            ClientMessage::Subscribe { id, camera } => self.subscribe(id, camera).await,
            ClientMessage::Unsubscribe { id, camera } => self.unsubscribe(id, camera).await,
        }
    }

    async fn subscribe(&mut self, id: u32, camera: String) -> Result<(), End> {
        let Some(feed) = self.hub.get(&camera).cloned() else {
            let message = format!("no camera {camera:?}");
            return self
                .send_error(Error::new(ErrorKind::NotFound, message), Some(id))
                .await;
        };
        let channel = feed.channel;
        if let Some(viewer) = self.viewers.get(&channel) {
            // Already subscribed on this socket: answer again, keep the one stream.
            let config = viewer.params.as_ref().map(|p| p.wire.clone());
            return self
                .send_json(&ServerMessage::Subscribed {
                    id,
                    camera,
                    channel,
                    config,
                })
                .await;
        }
        let sub = feed.subscribe();
        let config = sub.params.as_ref().map(|p| p.wire.clone());
        let frames =
            stream::iter(sub.gop.into_iter().map(Ok)).chain(BroadcastStream::new(sub.live));
        self.frames.insert(channel, Box::pin(frames));
        self.statuses
            .insert(channel, WatchStream::from_changes(sub.status));
        let status = feed.status();
        self.viewers.insert(
            channel,
            Viewer {
                feed,
                params: sub.params,
                skipping: false,
            },
        );
        self.send_json(&ServerMessage::Subscribed {
            id,
            camera: camera.clone(),
            channel,
            config,
        })
        .await?;
        // The status now: `welcome` may be old news (the player may have
        // stopped watching for a while); changes follow from the watch stream.
        self.send_json(&ServerMessage::CameraStatus { camera, status })
            .await
    }

    async fn unsubscribe(&mut self, id: u32, camera: String) -> Result<(), End> {
        let channel = self
            .viewers
            .iter()
            .find(|(_, v)| v.feed.id == camera)
            .map(|(&c, _)| c);
        let Some(channel) = channel else {
            let message = format!("not subscribed to {camera:?}");
            return self
                .send_error(Error::new(ErrorKind::NotSubscribed, message), Some(id))
                .await;
        };
        self.viewers.remove(&channel);
        self.frames.remove(&channel);
        self.statuses.remove(&channel);
        self.send_json(&ServerMessage::Unsubscribed {
            id,
            camera,
            channel,
        })
        .await
    }

    /// The per-viewer end of the fan-out.
    async fn on_frame(
        &mut self,
        channel: u16,
        item: Result<Frame, BroadcastStreamRecvError>,
    ) -> Result<(), End> {
        let Some(viewer) = self.viewers.get_mut(&channel) else {
            return Ok(());
        };
        let frame = match item {
            Ok(frame) => frame,
            Err(BroadcastStreamRecvError::Lagged(missed)) => {
                if !viewer.skipping {
                    tracing::debug!(camera = %viewer.feed.id, missed, "viewer fell behind; skipping to the next keyframe");
                }
                viewer.skipping = true;
                viewer.feed.stats.dropped(missed);
                self.dropped += missed;
                return Ok(());
            }
        };
        if viewer.skipping && !frame.keyframe {
            viewer.feed.stats.dropped(1);
            self.dropped += 1;
            return Ok(());
        }
        let data = if std::mem::take(&mut viewer.skipping) {
            // The only copy of a payload the relay makes: one keyframe, for one
            // viewer, once per fall-behind, to flag the discontinuity.
            let mut copy = frame.data.to_vec();
            let _ = MediaHeader::add_flags_in_place(&mut copy, FrameFlags::DISCONTINUITY);
            Bytes::from(copy)
        } else {
            frame.data
        };
        viewer.feed.stats.sent();
        let new_params = match &viewer.params {
            Some(sent) => !Arc::ptr_eq(sent, &frame.params),
            None => true,
        };
        if new_params {
            viewer.params = Some(frame.params.clone());
            let config = frame.params.wire.clone();
            self.send_json(&ServerMessage::Config { channel, config })
                .await?;
        }
        self.send(Out::Binary(data)).await
    }

    /// Tells the viewer what went wrong with its request `request`.
    async fn send_error(&mut self, error: Error, request: Option<u32>) -> Result<(), End> {
        self.send_json(&error.to_wire(request)).await
    }

    async fn send_json(&mut self, msg: &ServerMessage) -> Result<(), End> {
        self.send(Out::Text(msg.to_json())).await
    }

    async fn send(&mut self, out: Out) -> Result<(), End> {
        let socket = &mut self.socket;
        let write = async move {
            match out {
                Out::Text(text) => socket.send_text(text).await,
                Out::Binary(data) => socket.send_binary(data).await,
                Out::Ping => socket.ping().await,
                Out::Replies => socket.write_replies().await,
            }
        };
        match tokio::time::timeout(SEND_TIMEOUT, write).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(End::Stalled(SEND_TIMEOUT)),
        }
    }
}
