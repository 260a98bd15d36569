//! A viewer's WebSocket connection: the HTTP upgrade, reading what the viewer
//! sends, and writing what the relay sends.
//!
//! Reading is tungstenite's: framing, unmasking, size limits, and the replies
//! the protocol requires (pong, the close echo). Writing is done here, and this
//! is why the module exists: a frame goes out as its 2–10 byte header
//! (formatted by tungstenite's `FrameHeader`) and the payload, in one vectored
//! write straight from the `Bytes` that every viewer of the camera shares.
//! tungstenite copies each payload into its own write buffer first; at 1000
//! viewers that copy was the relay's largest cost after the kernel's own
//! (perf: user-space memmove 10.8 % of its CPU), and no WebSocket crate writes
//! from a shared buffer.
//!
//! The replies tungstenite makes while reading are caught in a small buffer
//! (`Inbound::replies`) and written by the same writer between whole frames,
//! so the two streams of bytes never interleave.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};

use axum::response::{IntoResponse, Response};
use bytes::{Buf, Bytes};
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

use crate::error::{Error, ErrorKind};

pub use tokio_tungstenite::tungstenite::{Error as ReadError, Message};

/// What a viewer sends is small JSON. tungstenite zero-fills its read buffer
/// before every read attempt, and a session polls for input each time it sends
/// a frame: the default 128 KiB made that zeroing half of the relay's CPU at
/// 1000 viewers (perf), so the buffer is small.
pub const READ_BUFFER: usize = 4 * 1024;
/// The largest message a viewer may send (tungstenite's default, 64 MB, would
/// let one peer make the relay buffer that much).
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Replies tungstenite may queue between two writes. A control frame is at most
/// 127 bytes and the session writes replies after every message it reads, so
/// this is reached only if something is badly wrong; the socket then fails.
const MAX_REPLIES: usize = 16 * 1024;

/// Answers a WebSocket upgrade request (RFC 6455 §4.2): the `101` response to
/// return, and the connection to come once it is sent. A request that is not a
/// valid upgrade is refused with a `400` (or `426` for another protocol
/// version) saying why.
pub fn accept(request: &mut Request<Body>) -> Result<(Response, Pending), Error> {
    let refuse = |kind: ErrorKind, why: &'static str| Error::new(kind, why);
    let headers = request.headers();
    if request.method() != Method::GET {
        return Err(refuse(
            ErrorKind::MethodNotAllowed,
            "a WebSocket upgrade is a GET",
        ));
    }
    if !has_token(headers, header::CONNECTION, "upgrade")
        || !has_token(headers, header::UPGRADE, "websocket")
    {
        return Err(refuse(
            ErrorKind::BadRequest,
            "this is the relay's WebSocket: connect with `Connection: upgrade` and `Upgrade: websocket`",
        ));
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION) != Some(&HeaderValue::from_static("13")) {
        return Err(refuse(
            ErrorKind::UpgradeRequired,
            "the relay speaks WebSocket version 13",
        ));
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return Err(refuse(
            ErrorKind::BadRequest,
            "Sec-WebSocket-Key is missing",
        ));
    };
    let accept = derive_accept_key(key.as_bytes());
    let Some(on_upgrade) = request.extensions_mut().remove::<OnUpgrade>() else {
        return Err(refuse(
            ErrorKind::BadRequest,
            "this connection cannot be upgraded",
        ));
    };
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let out = response.headers_mut();
    out.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    out.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        out.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    Ok((response, Pending { on_upgrade }))
}

/// Whether a comma-separated header holds `token` (case-insensitive).
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// An accepted upgrade whose `101` has not been sent yet.
pub struct Pending {
    on_upgrade: OnUpgrade,
}

impl Pending {
    /// Waits for the upgrade to complete and takes the connection over.
    pub async fn open(self) -> Result<Socket, hyper::Error> {
        let upgraded = self.on_upgrade.await?;
        // The listener's TCP stream, when the relay serves plain TCP (always,
        // today): its halves are independent, with no lock between reader and
        // writer. Anything else works through a generic split.
        let (read, write, read_ahead, direct): (Reader, Writer, Bytes, bool) =
            match hyper_util::server::conn::auto::upgrade::downcast::<TokioIo<TcpStream>>(upgraded)
            {
                Ok(parts) => {
                    let (read, write) = parts.io.into_inner().into_split();
                    (Box::new(read), Box::new(write), parts.read_buf, true)
                }
                Err(upgraded) => {
                    let (read, write) = tokio::io::split(TokioIo::new(upgraded));
                    (Box::new(read), Box::new(write), Bytes::new(), false)
                }
            };
        Ok(Socket::new(read, write, read_ahead, direct).await)
    }
}

type Reader = Box<dyn AsyncRead + Send + Unpin>;
type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// One open WebSocket, server side.
///
/// Reading runs in a task of its own, which hands each message over (with the
/// protocol's replies to it) through a small queue. The session that owns the
/// socket then waits on that queue, not on the connection: it polls its input
/// every time it sends a frame, and a queue is far cheaper to poll than a
/// socket through tungstenite (which zero-fills its read buffer each time).
pub struct Socket {
    incoming: mpsc::Receiver<Incoming>,
    reader: tokio::task::JoinHandle<()>,
    /// Replies handed over with the last messages, not yet written.
    replies: Vec<u8>,
    out: Writer,
    /// Writes to the TCP stream itself; read only by the tests, which check
    /// that the relay takes the stream over rather than going through hyper.
    #[cfg_attr(not(test), allow(dead_code))]
    direct: bool,
}

/// A message from the viewer, and the bytes tungstenite wrote in reply.
type Incoming = (Result<Message, ReadError>, Vec<u8>);

/// Messages read ahead of the session, at most.
const INCOMING_QUEUE: usize = 8;

impl Drop for Socket {
    fn drop(&mut self) {
        // The reader may be parked on a peer that sends nothing.
        self.reader.abort();
    }
}

impl Socket {
    /// `read_ahead`: bytes already read from `read` past the HTTP request.
    async fn new(read: Reader, out: Writer, read_ahead: Bytes, direct: bool) -> Socket {
        let config = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER)
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        let inbound = Inbound {
            read,
            replies: Vec::new(),
        };
        let inbound = WebSocketStream::from_partially_read(
            inbound,
            read_ahead.to_vec(),
            Role::Server,
            Some(config),
        )
        .await;
        let (tx, incoming) = mpsc::channel(INCOMING_QUEUE);
        Socket {
            incoming,
            reader: tokio::spawn(read_messages(inbound, tx)),
            replies: Vec::new(),
            out,
            direct,
        }
    }

    /// A server-side socket over a plain TCP connection whose handshake is done.
    #[cfg(test)]
    pub async fn from_tcp(stream: TcpStream) -> Socket {
        let (read, write) = stream.into_split();
        Socket::new(Box::new(read), Box::new(write), Bytes::new(), true).await
    }

    /// Whether the socket writes to the TCP stream itself (rather than through
    /// hyper's generic upgraded connection).
    #[cfg(test)]
    pub fn is_direct(&self) -> bool {
        self.direct
    }

    /// The next message from the viewer; `None` once the socket is closed.
    /// Cancel-safe. Pings and a close are answered by [`Socket::write_replies`],
    /// which every send does first.
    pub async fn recv(&mut self) -> Option<Result<Message, ReadError>> {
        let (message, replies) = self.incoming.recv().await?;
        if self.replies.len() + replies.len() > MAX_REPLIES {
            return Some(Err(ReadError::Io(io::Error::other(
                "protocol replies to the viewer are piling up unwritten",
            ))));
        }
        self.replies.extend_from_slice(&replies);
        Some(message)
    }

    /// Writes what the protocol requires in answer to what was read (pong, the
    /// close echo). Call it when [`Socket::recv`] returns a ping or a close.
    pub async fn write_replies(&mut self) -> io::Result<()> {
        if self.replies.is_empty() {
            return Ok(());
        }
        let replies = std::mem::take(&mut self.replies);
        self.out.write_all(&replies).await
    }

    pub async fn send_binary(&mut self, payload: Bytes) -> io::Result<()> {
        self.write_frame(OpCode::Data(Data::Binary), payload).await
    }

    pub async fn send_text(&mut self, text: String) -> io::Result<()> {
        self.write_frame(OpCode::Data(Data::Text), Bytes::from(text))
            .await
    }

    pub async fn ping(&mut self) -> io::Result<()> {
        self.write_frame(OpCode::Control(Control::Ping), Bytes::new())
            .await
    }

    /// Sends a close frame with `code` and `reason` (at most 123 bytes) and ends
    /// the connection's write side.
    pub async fn close(&mut self, code: u16, reason: &str) -> io::Result<()> {
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(&reason.as_bytes()[..reason.len().min(123)]);
        self.write_frame(OpCode::Control(Control::Close), payload.into())
            .await?;
        self.out.shutdown().await
    }

    /// After [`Socket::close`]: waits until the peer closes its side, its
    /// input read and dropped, however large (the caller bounds the wait).
    pub async fn drain_until_closed(&mut self) {
        while self.incoming.recv().await.is_some() {}
    }

    /// One whole, unfragmented frame: header and payload in one vectored write.
    async fn write_frame(&mut self, opcode: OpCode, payload: Bytes) -> io::Result<()> {
        self.write_replies().await?;
        let header = FrameHeader {
            opcode,
            ..FrameHeader::default()
        };
        let mut bytes = [0u8; 10];
        let mut cursor = io::Cursor::new(&mut bytes[..]);
        header
            .format(payload.len() as u64, &mut cursor)
            .map_err(io::Error::other)?;
        let len = cursor.position() as usize;
        let mut frame = (&bytes[..len]).chain(payload);
        self.out.write_all_buf(&mut frame).await
    }
}

/// The reader task: reads messages until the connection ends or the socket is
/// dropped, handing each over with the replies tungstenite made to it.
async fn read_messages(mut inbound: WebSocketStream<Inbound>, tx: mpsc::Sender<Incoming>) {
    loop {
        let message = tokio::select! {
            message = inbound.next() => message,
            _ = tx.closed() => return,
        };
        let Some(message) = message else { return };
        let failed = message.is_err();
        // tungstenite holds a reply (pong, close echo) until its next read or
        // flush; the flush hands it to `Inbound::replies`.
        if matches!(message, Ok(Message::Ping(_) | Message::Close(_))) {
            let _closed_is_fine = inbound.flush().await;
        }
        let too_big = matches!(message, Err(ReadError::Capacity(_)));
        let replies = std::mem::take(&mut inbound.get_mut().replies);
        if tx.send((message, replies)).await.is_err() {
            return;
        }
        if too_big {
            // The rest of the message is on its way: read it into nothing
            // (never buffered) until the peer closes, while the session
            // sends the close frame (see `Socket::drain_until_closed`).
            let _ = tokio::io::copy(&mut inbound.get_mut().read, &mut tokio::io::sink()).await;
            return;
        }
        if failed {
            return;
        }
    }
}

/// What tungstenite reads from and "writes" to: the connection's read half,
/// and a buffer for its replies, which [`Socket`] writes out.
struct Inbound {
    read: Reader,
    replies: Vec<u8>,
}

impl AsyncRead for Inbound {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.read).poll_read(cx, buf)
    }
}

impl AsyncWrite for Inbound {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.replies.len() + buf.len() > MAX_REPLIES {
            return Poll::Ready(Err(io::Error::other(
                "protocol replies to the viewer are piling up unwritten",
            )));
        }
        self.replies.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A real TCP pair: the relay's side as a `Socket`, the viewer's a
    /// tokio-tungstenite client (a different implementation reading our frames).
    async fn pair() -> (Socket, WebSocketStream<TcpStream>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(TcpStream::connect(addr));
        let (server, _) = listener.accept().await.unwrap();
        let client = client.await.unwrap().unwrap();
        let client = WebSocketStream::from_raw_socket(
            client,
            Role::Client,
            Some(WebSocketConfig::default()),
        )
        .await;
        (Socket::from_tcp(server).await, client)
    }

    #[tokio::test]
    async fn frames_of_every_length_format_arrive_whole() {
        let (mut socket, mut client) = pair().await;
        // 7-bit, 16-bit and 64-bit payload lengths, and their edges.
        let sizes = [0usize, 1, 125, 126, 1000, 65535, 65536, 300_000];
        for &size in &sizes {
            let payload: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
            socket.send_binary(Bytes::from(payload)).await.unwrap();
        }
        socket.send_text("{\"type\":\"x\"}".into()).await.unwrap();
        for &size in &sizes {
            match client.next().await.unwrap().unwrap() {
                Message::Binary(data) => {
                    assert_eq!(data.len(), size);
                    assert!(data
                        .iter()
                        .enumerate()
                        .all(|(i, &b)| b == (i * 31 % 251) as u8));
                }
                other => panic!("expected binary of {size}, got {other:?}"),
            }
        }
        assert_eq!(
            client.next().await.unwrap().unwrap(),
            Message::text("{\"type\":\"x\"}")
        );
    }

    #[tokio::test]
    async fn pings_are_answered_and_a_close_is_echoed() {
        let (mut socket, mut client) = pair().await;
        client
            .send(Message::Ping(Bytes::from_static(b"hi")))
            .await
            .unwrap();
        client.send(Message::text("after")).await.unwrap();
        assert!(matches!(socket.recv().await, Some(Ok(Message::Ping(_)))));
        socket.write_replies().await.unwrap();
        socket
            .send_binary(Bytes::from_static(b"frame"))
            .await
            .unwrap();
        assert_eq!(
            client.next().await.unwrap().unwrap(),
            Message::Pong(Bytes::from_static(b"hi"))
        );
        assert_eq!(
            client.next().await.unwrap().unwrap(),
            Message::Binary(Bytes::from_static(b"frame"))
        );
        assert_eq!(
            socket.recv().await.unwrap().unwrap(),
            Message::text("after")
        );

        client.close(None).await.unwrap();
        assert!(matches!(socket.recv().await, Some(Ok(Message::Close(_)))));
        socket.write_replies().await.unwrap();
        // The client's close handshake completes: it sees the echo.
        let echo = client.next().await;
        assert!(matches!(echo, Some(Ok(Message::Close(_)))), "{echo:?}");
    }

    #[tokio::test]
    async fn close_sends_code_and_reason() {
        let (mut socket, mut client) = pair().await;
        socket.close(1001, "relay shutting down").await.unwrap();
        match client.next().await.unwrap().unwrap() {
            Message::Close(Some(frame)) => {
                assert_eq!(u16::from(frame.code), 1001);
                assert_eq!(frame.reason.as_str(), "relay shutting down");
            }
            other => panic!("expected a close frame, got {other:?}"),
        }
    }

    /// Through axum's server, as the relay runs it: a plain GET is refused with
    /// a reason, a real upgrade gets a socket that writes to the TCP stream
    /// itself, and the handshake's `Sec-WebSocket-Accept` satisfies the client.
    #[tokio::test]
    async fn upgrades_through_axum_and_takes_the_tcp_stream_over() {
        use std::net::SocketAddr;
        use tokio::io::AsyncReadExt;
        let (direct_tx, mut direct_rx) = tokio::sync::mpsc::channel(1);
        let app = axum::Router::new().route(
            "/ws",
            axum::routing::get(move |mut request: Request<Body>| {
                let direct_tx = direct_tx.clone();
                async move {
                    match accept(&mut request) {
                        Ok((response, pending)) => {
                            tokio::spawn(async move {
                                let mut socket = pending.open().await.unwrap();
                                let _ = direct_tx.send(socket.is_direct()).await;
                                socket.send_text("hello".into()).await.unwrap();
                            });
                            response
                        }
                        Err(refusal) => refusal.into_response(),
                    }
                }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
        });

        let mut plain = TcpStream::connect(addr).await.unwrap();
        plain
            .write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        plain.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        assert!(answer.contains("Upgrade: websocket"), "{answer}");

        let (mut client, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
            .await
            .unwrap();
        assert_eq!(direct_rx.recv().await, Some(true));
        assert_eq!(
            client.next().await.unwrap().unwrap(),
            Message::text("hello")
        );
    }
}
