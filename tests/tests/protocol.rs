//! The `/ws` protocol against the real relay on a loopback port, spoken by the
//! suites' protocol client (`sightline_testkit::RelayClient`): handshake,
//! subscribe → config → keyframe first, and clear errors for bad input
//! without losing the socket.

use std::net::SocketAddr;
use std::time::Duration;

use sightline_relay::{AuthConfig, CameraConfig, DemoOptions, Relay, RelayConfig, Source};
use sightline_testkit::{Received, RelayClient};
use sightline_wire::{
    ClientMessage, ErrorCode, FrameFlags, FrameKind, MediaHeader, ServerMessage, PROTOCOL_VERSION,
};
use tokio_tungstenite::tungstenite::Message;

async fn relay() -> Relay {
    let config = RelayConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        www: None,
        cameras: vec![CameraConfig {
            id: "demo".into(),
            name: "Demo".into(),
            substream: None,
            motion: None,
            onvif: None,
            ptz: Default::default(),
            // Small and with frequent keyframes: the protocol is under test, not the encoder.
            source: Source::Demo(DemoOptions {
                width: 320,
                height: 180,
                keyframe_every: 10,
                bitrate_bps: 300_000,
                ..DemoOptions::default()
            }),
        }],
        // The protocol itself is under test here; tests/tests/auth.rs has who may speak it.
        data: None,
        auth: AuthConfig::disabled(),
        tls: None,
        alerts: Default::default(),
        mqtt: None,
        ptz_lease: sightline_relay::ptz::rules::LEASE,
        cluster: None,
    };
    Relay::start(config).await.expect("relay starts")
}

/// A client that said hello and was welcomed with the one demo camera.
async fn welcomed(relay: &Relay) -> RelayClient {
    let mut client = RelayClient::open(relay.local_addr(), None)
        .await
        .expect("WebSocket connects");
    let cameras = client.hello().await.expect("welcome");
    assert_eq!(cameras.len(), 1);
    assert_eq!(cameras[0].id, "demo");
    client
}

/// The next frame's header, skipping control messages.
async fn next_frame(client: &mut RelayClient) -> MediaHeader {
    loop {
        if let Received::Frame(header, _) = client.next().await.expect("frames") {
            return header;
        }
    }
}

#[tokio::test]
async fn subscribe_gets_config_then_a_keyframe_then_live_frames() {
    let relay = relay().await;
    let mut ws = welcomed(&relay).await;
    ws.subscribe_as(7, "demo").await.unwrap();
    // The config comes with `subscribed` or, if the camera had not produced its
    // parameters yet, as a `config` message; either way before any frame.
    let mut channel = None;
    let mut configured = false;
    let mut frames: Vec<MediaHeader> = Vec::new();
    while frames.len() < 40 {
        match ws.next().await.expect("the socket stays open") {
            Received::Control(msg) => match msg {
                ServerMessage::Subscribed {
                    id,
                    camera,
                    channel: c,
                    config,
                    ..
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
            Received::Frame(header, payload) => {
                assert!(configured, "a frame came before the codec config");
                assert_eq!(Some(header.channel), channel);
                assert_eq!(header.kind, FrameKind::Video);
                assert!(!payload.is_empty());
                frames.push(header);
            }
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
    let mut ws = RelayClient::open(relay.local_addr(), None).await.unwrap();

    // Before hello: anything else is refused, politely.
    ws.subscribe_as(1, "demo").await.unwrap();
    let error = ws.expect_error().await.expect("subscribe before hello");
    assert_eq!(error.code, ErrorCode::BadMessage);
    assert!(error.message.contains("hello"), "{error:?}");
    ws.hello().await.expect("welcome after the refusal");

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
        ws.send_raw(input).await.expect("send");
        let error = ws.expect_error().await.expect(what);
        assert_eq!(error.code, ErrorCode::BadMessage, "{what}");
        assert!(!error.message.is_empty(), "{what}: the error says why");
    }

    ws.subscribe_as(2, "nope").await.unwrap();
    let error = ws.expect_error().await.expect("unknown camera");
    assert_eq!(
        (error.code, error.request),
        (ErrorCode::UnknownCamera, Some(2))
    );
    assert!(error.message.contains("nope"), "{error:?}");

    let camera = "demo".into();
    ws.send(&ClientMessage::Unsubscribe {
        id: 3,
        camera,
        stream: Default::default(),
    })
    .await
    .unwrap();
    let error = ws.expect_error().await.expect("unsubscribe unsubscribed");
    assert_eq!(
        (error.code, error.request),
        (ErrorCode::NotSubscribed, Some(3))
    );

    // After all that, the same socket still plays.
    ws.subscribe_as(4, "demo").await.unwrap();
    let header = next_frame(&mut ws).await;
    assert!(header.flags.contains(FrameFlags::KEYFRAME));
    relay.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_client_of_another_protocol_version_is_told_and_closed() {
    let relay = relay().await;
    let mut ws = RelayClient::open(relay.local_addr(), None).await.unwrap();
    ws.send_hello(PROTOCOL_VERSION + 1).await.unwrap();
    let error = ws.expect_error().await.expect("hello from the future");
    assert_eq!(error.code, ErrorCode::ProtocolMismatch);
    assert!(error.message.contains("protocol"), "{error:?}");
    match ws.next_message().await.expect("a close") {
        Some(Message::Close(_)) => {}
        other => panic!("expected the relay to close, got {other:?}"),
    }
    // Everyone else is still served.
    welcomed(&relay).await;
    relay.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn an_idle_socket_is_pinged_so_proxies_keep_it() {
    let relay = relay().await;
    let mut ws = welcomed(&relay).await;
    // Nothing subscribed: only the relay's keep-alive can arrive. Proxies
    // commonly close sockets idle for 30 s or more.
    let started = tokio::time::Instant::now();
    let ping = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match ws.next_message().await {
                Ok(Some(Message::Ping(_))) => return true,
                Ok(Some(_)) => continue,
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
    let mut flooder = welcomed(&relay).await;
    let mut other = welcomed(&relay).await;
    // Far more than any control message (the relay takes 64 KiB at most).
    let huge = format!(
        "{{\"type\":\"subscribe\",\"id\":1,\"camera\":\"{}\"}}",
        "x".repeat(1 << 20)
    );
    let _ = flooder.send_raw(Message::text(huge)).await;
    // The relay drops that socket instead of buffering the megabyte, saying
    // why: 1009, "message too big"…
    let (code, reason) = flooder
        .expect_close_frame()
        .await
        .expect("the relay closes a socket that sent 1 MiB with a close frame");
    assert_eq!(code, 1009, "{reason}");
    assert!(reason.contains("64 KiB"), "{reason}");
    // …and serves everyone else as before.
    other.subscribe_as(2, "demo").await.unwrap();
    next_frame(&mut other).await;
    relay.shutdown().await.expect("clean shutdown");
}
