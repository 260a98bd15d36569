//! The `/ws` protocol against the real relay on a loopback port, spoken by a
//! plain WebSocket client: handshake, subscribe → config → keyframe first, and
//! clear errors for bad input without losing the socket.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sightline_relay::config::{CameraConfig, Source};
use sightline_relay::demo::DemoOptions;
use sightline_relay::{Relay, RelayConfig};
use sightline_wire::{
    ClientMessage, ErrorCode, FrameFlags, FrameKind, MediaHeader, ServerMessage, PROTOCOL_VERSION,
};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Any single step that takes longer than this has hung.
const STEP: Duration = Duration::from_secs(10);

async fn relay() -> Relay {
    let config = RelayConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        www: None,
        cameras: vec![CameraConfig {
            id: "demo".into(),
            name: "Demo".into(),
            // Small and with frequent keyframes: the protocol is under test, not the encoder.
            source: Source::Demo(DemoOptions {
                width: 320,
                height: 180,
                keyframe_every: 10,
                bitrate_bps: 300_000,
                ..DemoOptions::default()
            }),
        }],
    };
    Relay::start(config).await.expect("relay starts")
}

async fn connect(relay: &Relay) -> Socket {
    let url = format!("ws://{}/ws", relay.local_addr());
    let (socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("WebSocket connects");
    socket
}

async fn send(socket: &mut Socket, msg: &ClientMessage) {
    socket
        .send(Message::text(msg.to_json()))
        .await
        .expect("send");
}

/// The next text or binary message (pings are answered by tungstenite itself).
async fn next(socket: &mut Socket) -> Message {
    loop {
        let msg = tokio::time::timeout(STEP, socket.next())
            .await
            .expect("the relay answers in time")
            .expect("the socket stays open")
            .expect("no socket error");
        match msg {
            Message::Ping(_) | Message::Pong(_) => continue,
            other => return other,
        }
    }
}

/// The next control message, skipping media frames.
async fn next_control(socket: &mut Socket) -> ServerMessage {
    loop {
        match next(socket).await {
            Message::Text(text) => return ServerMessage::parse(&text).expect("valid JSON"),
            Message::Binary(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

async fn subscribe(socket: &mut Socket, id: u32, camera: &str) {
    let camera = camera.into();
    send(socket, &ClientMessage::Subscribe { id, camera }).await;
}

/// The next control message, which must be an error: (code, message, request).
async fn expect_error(socket: &mut Socket, after: &str) -> (ErrorCode, String, Option<u32>) {
    match next_control(socket).await {
        ServerMessage::Error {
            code,
            message,
            request,
        } => (code, message, request),
        other => panic!("{after}: expected an error, got {other:?}"),
    }
}

async fn hello(socket: &mut Socket) {
    send(
        socket,
        &ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
            client: Some("ws test".into()),
        },
    )
    .await;
    match next_control(socket).await {
        ServerMessage::Welcome { protocol, cameras } => {
            assert_eq!(protocol, PROTOCOL_VERSION);
            assert_eq!(cameras.len(), 1);
            assert_eq!(cameras[0].id, "demo");
        }
        other => panic!("expected welcome, got {other:?}"),
    }
}

#[tokio::test]
async fn subscribe_gets_config_then_a_keyframe_then_live_frames() {
    let relay = relay().await;
    let mut ws = connect(&relay).await;
    hello(&mut ws).await;
    subscribe(&mut ws, 7, "demo").await;
    // The config comes with `subscribed` or, if the camera had not produced its
    // parameters yet, as a `config` message; either way before any frame.
    let mut channel = None;
    let mut configured = false;
    let mut frames: Vec<MediaHeader> = Vec::new();
    while frames.len() < 40 {
        match next(&mut ws).await {
            Message::Text(text) => match ServerMessage::parse(&text).expect("valid JSON") {
                ServerMessage::Subscribed {
                    id,
                    camera,
                    channel: c,
                    config,
                } => {
                    assert_eq!((id, camera.as_str()), (7, "demo"));
                    channel = Some(c);
                    configured |= config.is_some();
                }
                ServerMessage::Config { channel: c, config } => {
                    assert_eq!(Some(c), channel);
                    assert_eq!((config.coded_width, config.coded_height), (320, 180));
                    assert!(config.codec.starts_with("avc1."), "{}", config.codec);
                    configured = true;
                }
                ServerMessage::CameraStatus { .. } => {}
                other => panic!("unexpected {other:?}"),
            },
            Message::Binary(data) => {
                assert!(configured, "a frame came before the codec config");
                let (header, payload) = MediaHeader::parse(&data).expect("a valid media header");
                assert_eq!(Some(header.channel), channel);
                assert_eq!(header.kind, FrameKind::Video);
                assert!(!payload.is_empty());
                frames.push(header);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        frames[0].flags.contains(FrameFlags::KEYFRAME),
        "the first frame must be a keyframe (fast start from the GOP cache)"
    );
    assert!(
        frames
            .windows(2)
            .all(|w| w[1].timestamp_us > w[0].timestamp_us),
        "timestamps increase"
    );
    let keyframes = frames
        .iter()
        .filter(|h| h.flags.contains(FrameFlags::KEYFRAME))
        .count();
    assert!(
        keyframes >= 3,
        "a keyframe every 10 frames: {keyframes} in 40"
    );
    relay.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_the_socket_survives() {
    let relay = relay().await;
    let mut ws = connect(&relay).await;

    // Before hello: anything else is refused, politely.
    subscribe(&mut ws, 1, "demo").await;
    let (code, message, _) = expect_error(&mut ws, "subscribe before hello").await;
    assert_eq!(code, ErrorCode::BadMessage);
    assert!(message.contains("hello"), "{message}");
    hello(&mut ws).await;

    for (input, what) in [
        (Message::text("{not json"), "malformed JSON"),
        (
            Message::text(r#"{"type":"launch_missiles"}"#),
            "unknown type",
        ),
        (
            Message::text(r#"{"type":"subscribe","id":"x"}"#),
            "wrong field types",
        ),
        (Message::binary(vec![1, 2, 3]), "binary from the client"),
    ] {
        ws.send(input).await.expect("send");
        let (code, message, _) = expect_error(&mut ws, what).await;
        assert_eq!(code, ErrorCode::BadMessage, "{what}");
        assert!(!message.is_empty(), "{what}: the error says why");
    }

    subscribe(&mut ws, 2, "nope").await;
    let (code, message, request) = expect_error(&mut ws, "unknown camera").await;
    assert_eq!((code, request), (ErrorCode::UnknownCamera, Some(2)));
    assert!(message.contains("nope"), "{message}");

    let camera = "demo".into();
    send(&mut ws, &ClientMessage::Unsubscribe { id: 3, camera }).await;
    let (code, _, request) = expect_error(&mut ws, "unsubscribe unsubscribed").await;
    assert_eq!((code, request), (ErrorCode::NotSubscribed, Some(3)));

    // After all that, the same socket still plays.
    subscribe(&mut ws, 4, "demo").await;
    loop {
        if let Message::Binary(data) = next(&mut ws).await {
            let (header, _) = MediaHeader::parse(&data).expect("a valid media header");
            assert!(header.flags.contains(FrameFlags::KEYFRAME));
            break;
        }
    }
    relay.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_client_of_another_protocol_version_is_told_and_closed() {
    let relay = relay().await;
    let mut ws = connect(&relay).await;
    let hello = ClientMessage::Hello {
        protocol: PROTOCOL_VERSION + 1,
        client: None,
    };
    send(&mut ws, &hello).await;
    let (code, message, _) = expect_error(&mut ws, "hello from the future").await;
    assert_eq!(code, ErrorCode::ProtocolMismatch);
    assert!(message.contains("protocol"), "{message}");
    match next(&mut ws).await {
        Message::Close(_) => {}
        other => panic!("expected the relay to close, got {other:?}"),
    }
    // Everyone else is still served.
    let mut other = connect(&relay).await;
    self::hello(&mut other).await;
    relay.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn an_idle_socket_is_pinged_so_proxies_keep_it() {
    let relay = relay().await;
    let mut ws = connect(&relay).await;
    hello(&mut ws).await;
    // Nothing subscribed: only the relay's keep-alive can arrive. Proxies
    // commonly close sockets idle for 30 s or more.
    let started = tokio::time::Instant::now();
    let ping = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Ping(_))) => return true,
                Some(Ok(_)) => continue,
                _ => return false,
            }
        }
    })
    .await;
    assert_eq!(ping, Ok(true), "a ping within 30 s");
    println!("ping after {:?}", started.elapsed());
    relay.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn an_oversized_message_ends_only_that_socket() {
    let relay = relay().await;
    let mut flooder = connect(&relay).await;
    let mut other = connect(&relay).await;
    hello(&mut flooder).await;
    hello(&mut other).await;
    // Far more than any control message (the relay takes 64 KiB at most).
    let huge = format!(
        "{{\"type\":\"subscribe\",\"id\":1,\"camera\":\"{}\"}}",
        "x".repeat(1 << 20)
    );
    let _ = flooder.send(Message::text(huge)).await;
    // The relay drops that socket instead of buffering the megabyte…
    let ended = tokio::time::timeout(STEP, async {
        loop {
            match flooder.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the relay kept a socket that sent 1 MiB");
    // …and serves everyone else as before.
    subscribe(&mut other, 2, "demo").await;
    loop {
        if let Message::Binary(data) = next(&mut other).await {
            assert!(MediaHeader::parse(&data).is_ok());
            break;
        }
    }
    relay.shutdown().await.expect("clean shutdown");
}
