//! The one protocol client of the test suites: a plain WebSocket client of the
//! relay (tokio-tungstenite, an implementation the relay's writer does not
//! share), speaking the wire protocol (`sightline-wire`). The protocol suite
//! drives it message by message; the ingest suite watches camera status and
//! counts frames with it; all without a browser.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context as _};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use sightline_wire::{
    CameraInfo, CameraState, ClientMessage, ErrorCode, MediaHeader, ServerMessage, Stream,
    StreamConfig, WhoAmI, PROTOCOL_VERSION,
};
use tokio_tungstenite::tungstenite::Message;

/// Any single step that takes longer than this has hung.
pub const STEP: Duration = Duration::from_secs(10);

/// A WebSocket client of the relay.
pub struct RelayClient {
    socket: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
}

/// What a [`RelayClient`] received.
#[derive(Debug)]
pub enum Received {
    Control(ServerMessage),
    /// A binary frame: its header and its payload.
    Frame(MediaHeader, Bytes),
}

/// An `error` message from the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    pub code: ErrorCode,
    pub message: String,
    pub request: Option<u32>,
}

impl RelayClient {
    /// Opens the socket and says nothing yet. `recv_buffer` shrinks the
    /// socket's receive buffer (a viewer on a slow link fills it at once).
    pub async fn open(relay: SocketAddr, recv_buffer: Option<u32>) -> anyhow::Result<RelayClient> {
        RelayClient::open_with(relay, recv_buffer, &[]).await
    }

    /// Opens the socket with extra request headers (`Origin`, `Cookie`). A
    /// refused upgrade is an error carrying the HTTP status.
    pub async fn open_with(
        relay: SocketAddr,
        recv_buffer: Option<u32>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<RelayClient> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
        let socket = tokio::net::TcpSocket::new_v4()?;
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size)?;
        }
        let stream = socket.connect(relay).await?;
        let mut request = format!("ws://{relay}/ws").into_client_request()?;
        // `insert`: a `host` given here replaces the one made from the URL.
        for (name, value) in headers {
            request.headers_mut().insert(
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())?,
                value.parse()?,
            );
        }
        let (socket, _) = tokio_tungstenite::client_async(request, stream).await?;
        Ok(RelayClient { socket })
    }

    /// A socket from the relay's own page, signed in with `cookie` (see
    /// [`crate::relay::sign_in`]), welcomed: the cameras it may see.
    pub async fn signed_in(
        relay: SocketAddr,
        cookie: &str,
    ) -> anyhow::Result<(RelayClient, Vec<CameraInfo>)> {
        let origin = format!("http://{relay}");
        let mut client =
            RelayClient::open_with(relay, None, &[("origin", &origin), ("cookie", cookie)]).await?;
        client.send_hello(sightline_wire::PROTOCOL_VERSION).await?;
        match client.welcome().await? {
            Ok((_, cameras)) => Ok((client, cameras)),
            Err(e) => bail!("not welcomed: {e:?}"),
        }
    }

    /// Sends a `ptz` request.
    pub async fn ptz(
        &mut self,
        id: u32,
        camera: &str,
        action: sightline_wire::PtzAction,
    ) -> anyhow::Result<()> {
        self.send(&ClientMessage::Ptz {
            id,
            camera: camera.into(),
            action,
        })
        .await
    }

    /// Waits up to `within` for a `ptz_state` of `camera` that `pred`
    /// accepts, skipping everything else (an error fails the wait).
    pub async fn wait_ptz_state(
        &mut self,
        camera: &str,
        within: Duration,
        pred: impl Fn(&sightline_wire::PtzState) -> bool,
    ) -> anyhow::Result<sightline_wire::PtzState> {
        let mut last = None;
        let found = tokio::time::timeout(within, async {
            loop {
                match self.next().await? {
                    Received::Control(ServerMessage::PtzState { camera: c, state }) if c == camera => {
                        if pred(&state) {
                            return anyhow::Ok(state);
                        }
                        last = Some(state);
                    }
                    Received::Control(ServerMessage::Error { code, message, request }) => {
                        bail!("error {code:?} (request {request:?}) while waiting for a PTZ state: {message}")
                    }
                    _ => {}
                }
            }
        })
        .await;
        match found {
            Ok(state) => state,
            Err(_) => bail!("no such PTZ state of {camera} within {within:?}; the last: {last:?}"),
        }
    }

    /// Says hello with a ticket and returns the `welcome` (or the refusal).
    pub async fn hello_with_ticket(
        &mut self,
        ticket: &str,
    ) -> anyhow::Result<Result<(Option<WhoAmI>, Vec<CameraInfo>), WireError>> {
        self.send(&ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
            client: Some("sightline-testkit".into()),
            ticket: Some(sightline_wire::Ticket(ticket.into())),
        })
        .await?;
        self.welcome().await
    }

    /// The answer to `hello`: the welcome's user and cameras, or the error.
    pub async fn welcome(
        &mut self,
    ) -> anyhow::Result<Result<(Option<WhoAmI>, Vec<CameraInfo>), WireError>> {
        match self.next_control().await? {
            ServerMessage::Welcome { user, cameras, .. } => Ok(Ok((user, cameras))),
            ServerMessage::Error {
                code,
                message,
                request,
            } => Ok(Err(WireError {
                code,
                message,
                request,
            })),
            other => bail!("expected welcome, got {other:?}"),
        }
    }

    /// Opens the socket and says hello; the `welcome` is the next message.
    pub async fn connect(
        relay: SocketAddr,
        recv_buffer: Option<u32>,
    ) -> anyhow::Result<RelayClient> {
        let mut client = RelayClient::open(relay, recv_buffer).await?;
        client.send_hello(PROTOCOL_VERSION).await?;
        Ok(client)
    }

    /// Says hello with this protocol version.
    pub async fn send_hello(&mut self, protocol: u32) -> anyhow::Result<()> {
        self.send(&ClientMessage::Hello {
            protocol,
            client: Some("sightline-testkit".into()),
            ticket: None,
        })
        .await
    }

    /// Says hello and returns the cameras of the `welcome`.
    pub async fn hello(&mut self) -> anyhow::Result<Vec<CameraInfo>> {
        self.send_hello(PROTOCOL_VERSION).await?;
        match self.next_control().await? {
            ServerMessage::Welcome {
                protocol, cameras, ..
            } => {
                anyhow::ensure!(
                    protocol == PROTOCOL_VERSION,
                    "welcome of protocol {protocol}"
                );
                Ok(cameras)
            }
            other => bail!("expected welcome, got {other:?}"),
        }
    }

    pub async fn send(&mut self, msg: &ClientMessage) -> anyhow::Result<()> {
        self.send_raw(Message::text(msg.to_json())).await
    }

    /// Sends anything at all, well-formed or not.
    pub async fn send_raw(&mut self, msg: Message) -> anyhow::Result<()> {
        self.socket.send(msg).await?;
        Ok(())
    }

    /// Subscribes to `camera` with request id 1.
    pub async fn subscribe(&mut self, camera: &str) -> anyhow::Result<()> {
        self.subscribe_as(1, camera).await
    }

    pub async fn subscribe_as(&mut self, id: u32, camera: &str) -> anyhow::Result<()> {
        self.subscribe_stream(id, camera, sightline_wire::Stream::Main)
            .await
    }

    /// Subscribes to one of `camera`'s streams.
    pub async fn subscribe_stream(
        &mut self,
        id: u32,
        camera: &str,
        stream: sightline_wire::Stream,
    ) -> anyhow::Result<()> {
        self.send(&ClientMessage::Subscribe {
            id,
            camera: camera.into(),
            stream,
        })
        .await
    }

    /// The next WebSocket message of any kind (pings included: tungstenite
    /// answers them itself); `None` once the socket has ended. Waits as long
    /// as it takes: the caller bounds the wait.
    pub async fn next_message(&mut self) -> anyhow::Result<Option<Message>> {
        Ok(self.socket.next().await.transpose()?)
    }

    /// The next control message or frame; a close is an error.
    pub async fn next(&mut self) -> anyhow::Result<Received> {
        loop {
            match self.next_message().await? {
                None => bail!("the relay closed the socket"),
                Some(Message::Text(text)) => {
                    return Ok(Received::Control(ServerMessage::parse(&text)?))
                }
                Some(Message::Binary(data)) => {
                    let (header, _) = MediaHeader::parse(&data)?;
                    let payload = data.slice(sightline_wire::HEADER_LEN..);
                    return Ok(Received::Frame(header, payload));
                }
                Some(Message::Close(frame)) => bail!("the relay closed the socket: {frame:?}"),
                Some(_) => continue,
            }
        }
    }

    /// The next control message, skipping frames and `alert`s (a camera
    /// offline for long raises one in any suite; [`RelayClient::next_alert`]
    /// reads them); within [`STEP`].
    pub async fn next_control(&mut self) -> anyhow::Result<ServerMessage> {
        let next = async {
            loop {
                match self.next().await? {
                    Received::Control(ServerMessage::Alert { .. }) | Received::Frame(..) => {}
                    Received::Control(msg) => return anyhow::Ok(msg),
                }
            }
        };
        tokio::time::timeout(STEP, next)
            .await
            .with_context(|| format!("no control message within {STEP:?}"))?
    }

    /// The next `alert` message within `within`, skipping everything else.
    pub async fn next_alert(
        &mut self,
        within: Duration,
    ) -> anyhow::Result<(sightline_wire::AlertEvent, sightline_wire::AlertInfo)> {
        let next = async {
            loop {
                if let Received::Control(ServerMessage::Alert { event, alert }) =
                    self.next().await?
                {
                    return anyhow::Ok((event, alert));
                }
            }
        };
        tokio::time::timeout(within, next)
            .await
            .with_context(|| format!("no alert within {within:?}"))?
    }

    /// Waits up to `within` for an alert message that `pred` accepts.
    pub async fn wait_alert(
        &mut self,
        within: Duration,
        pred: impl Fn(sightline_wire::AlertEvent, &sightline_wire::AlertInfo) -> bool,
    ) -> anyhow::Result<sightline_wire::AlertInfo> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let (event, alert) = self
                .next_alert(left)
                .await
                .context("waiting for a particular alert")?;
            if pred(event, &alert) {
                return Ok(alert);
            }
        }
    }

    /// The `subscribed` answer for `camera`, skipping camera statuses (news
    /// of any camera may come at any time), configs and PTZ states.
    pub async fn expect_subscribed(&mut self, camera: &str) -> anyhow::Result<u16> {
        loop {
            match self.next_control().await? {
                ServerMessage::Subscribed {
                    camera: c, channel, ..
                } if c == camera => return Ok(channel),
                ServerMessage::CameraStatus { .. }
                | ServerMessage::Config { .. }
                | ServerMessage::PtzState { .. } => continue,
                other => bail!("expected subscribed to {camera}, got {other:?}"),
            }
        }
    }

    /// The answer to subscribe request `id`, which must serve `stream`: its
    /// channel and config (messages of other kinds before it are skipped).
    pub async fn expect_subscribed_stream(
        &mut self,
        id: u32,
        stream: Stream,
    ) -> anyhow::Result<(u16, Option<StreamConfig>)> {
        loop {
            match self.next_control().await? {
                ServerMessage::Subscribed {
                    id: i,
                    stream: s,
                    channel,
                    config,
                    ..
                } if i == id => {
                    anyhow::ensure!(s == stream, "request {id} served {s:?}, not {stream:?}");
                    return Ok((channel, config));
                }
                ServerMessage::Error {
                    message,
                    request: Some(i),
                    ..
                } if i == id => bail!("subscribe {id} refused: {message}"),
                _ => continue,
            }
        }
    }

    /// The next control message other than a camera status (news of any
    /// camera may come at any time), which must be an error.
    pub async fn expect_error(&mut self) -> anyhow::Result<WireError> {
        let next = loop {
            match self.next_control().await? {
                ServerMessage::CameraStatus { .. } => continue,
                other => break other,
            }
        };
        match next {
            ServerMessage::Error {
                code,
                message,
                request,
            } => Ok(WireError {
                code,
                message,
                request,
            }),
            other => bail!("expected an error, got {other:?}"),
        }
    }

    /// Waits (within [`STEP`]) until the relay ends the socket (a close
    /// frame, the end of the stream or a reset), skipping whatever comes before.
    pub async fn expect_closed(&mut self) -> anyhow::Result<()> {
        let closed = async {
            loop {
                match self.socket.next().await {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(_)) => continue,
                }
            }
        };
        tokio::time::timeout(STEP, closed)
            .await
            .with_context(|| format!("the relay kept the socket open for {STEP:?}"))
    }

    /// Waits (within [`STEP`]) for the relay's close frame, skipping whatever
    /// comes before; its code and reason. An end without one is an error.
    pub async fn expect_close_frame(&mut self) -> anyhow::Result<(u16, String)> {
        let closed = async {
            loop {
                match self.socket.next().await {
                    Some(Ok(Message::Close(Some(frame)))) => {
                        return Ok((u16::from(frame.code), frame.reason.to_string()))
                    }
                    Some(Ok(Message::Close(None))) => bail!("a close frame without a code"),
                    None => bail!("the socket ended without a close frame"),
                    Some(Err(e)) => bail!("the socket failed before a close frame: {e}"),
                    Some(Ok(_)) => continue,
                }
            }
        };
        tokio::time::timeout(STEP, closed)
            .await
            .with_context(|| format!("the relay kept the socket open for {STEP:?}"))?
    }

    /// Waits up to `within` for a status of `camera` (from `welcome` or
    /// `camera_status`) that `pred` accepts, and returns it.
    pub async fn wait_status(
        &mut self,
        camera: &str,
        within: Duration,
        pred: impl Fn(&CameraState) -> bool,
    ) -> anyhow::Result<CameraState> {
        self.wait_stream_status(camera, Stream::Main, within, pred)
            .await
    }

    /// Like [`RelayClient::wait_status`], for one of the camera's streams.
    pub async fn wait_stream_status(
        &mut self,
        camera: &str,
        stream: Stream,
        within: Duration,
        pred: impl Fn(&CameraState) -> bool,
    ) -> anyhow::Result<CameraState> {
        let mut last = None;
        let found = tokio::time::timeout(within, async {
            loop {
                let status = match self.next().await? {
                    Received::Control(ServerMessage::Welcome { cameras, .. }) => cameras
                        .into_iter()
                        .find(|c| c.id == camera)
                        .and_then(|c| match stream {
                            Stream::Main => Some(c.status),
                            Stream::Sub => c.substream,
                        }),
                    Received::Control(ServerMessage::CameraStatus {
                        camera: c,
                        stream: s,
                        status,
                    }) if c == camera && s == stream => Some(status),
                    _ => None,
                };
                if let Some(status) = status {
                    if pred(&status) {
                        return anyhow::Ok(status);
                    }
                    last = Some(status);
                }
            }
        })
        .await;
        match found {
            Ok(status) => status,
            Err(_) => bail!("{camera}: no such status within {within:?}; last seen {last:?}"),
        }
        .context("waiting for a camera status")
    }
}
