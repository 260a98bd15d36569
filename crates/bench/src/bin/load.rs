//! `sightline-load`: N viewers of one camera, for `cargo xtask bench`.
//!
//! `--url ws://HOST:PORT/ws` speaks the relay's protocol (hello, subscribe);
//! `--url tcp://HOST:PORT` reads the floor's length-prefixed frames. Every
//! viewer reads as fast as it can. After `--warmup` seconds every viewer counts
//! for `--seconds`; then one JSON line goes to stdout: viewers connected,
//! frames and bytes received, frames missed (gaps in the timestamps) and
//! flagged as discontinuities, and latency (relay receive → viewer receive)
//! percentiles in µs. The clocks agree: everything runs on this machine.
//!
//! For a relay with accounts, `SIGHTLINE_TICKET` holds a ticket every viewer
//! sends in `hello` (an environment variable, not an argument: a ticket is a
//! credential, and arguments are visible to every user in `ps`).

use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use sightline_bench::{now_us, raise_file_limit, Tally};
use sightline_wire::{ClientMessage, MediaHeader, Ticket, PROTOCOL_VERSION};
use tokio::io::AsyncReadExt;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser)]
struct Args {
    /// `ws://HOST:PORT/ws` (the relay) or `tcp://HOST:PORT` (the floor).
    #[arg(long)]
    url: url::Url,
    /// The camera to watch (relay only).
    #[arg(long, default_value = "clip")]
    camera: String,
    #[arg(long, default_value_t = 1)]
    viewers: usize,
    /// The stream's frame rate (to tell a gap).
    #[arg(long, default_value_t = 30)]
    fps: u32,
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
}

/// When counting starts and ends.
#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    raise_file_limit();
    let args = Args::parse();
    let opened = Instant::now();
    let window = Window {
        start: opened + Duration::from_secs_f64(args.warmup),
        end: opened + Duration::from_secs_f64(args.warmup + args.seconds),
    };
    let ticket = std::env::var("SIGHTLINE_TICKET").ok().map(Ticket);
    let mut viewers = Vec::with_capacity(args.viewers);
    for _ in 0..args.viewers {
        let url = args.url.clone();
        let ticket = ticket.clone();
        let camera = args.camera.clone();
        let fps = args.fps;
        viewers.push(tokio::spawn(async move {
            let mut tally = Tally::new(fps);
            let watched = match url.scheme() {
                "ws" => watch_relay(&url, &camera, ticket, window, &mut tally).await,
                "tcp" => watch_floor(&url, window, &mut tally).await,
                other => Err(anyhow::anyhow!("unknown scheme {other}")),
            };
            (watched, tally)
        }));
    }
    let mut total = Tally::new(args.fps);
    let (mut connected, mut failures) = (0usize, Vec::new());
    for viewer in viewers {
        let (watched, tally) = viewer.await?;
        match watched {
            Ok(()) => connected += 1,
            Err(e) => failures.push(format!("{e:#}")),
        }
        total.merge(&tally);
    }
    failures.dedup();
    let q = |p: f64| total.latency.value_at_quantile(p);
    println!(
        "{}",
        serde_json::json!({
            "viewers": args.viewers,
            "connected": connected,
            "failures": failures.iter().take(3).collect::<Vec<_>>(),
            "seconds": args.seconds,
            "frames": total.frames,
            "bytes": total.bytes,
            "missed": total.missed,
            "discontinuities": total.discontinuities,
            "p50_us": q(0.5),
            "p99_us": q(0.99),
            "max_us": total.latency.max(),
        })
    );
    Ok(())
}

/// One relay viewer: hello, subscribe, then every binary frame until the window ends.
async fn watch_relay(
    url: &url::Url,
    camera: &str,
    ticket: Option<Ticket>,
    window: Window,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .context("connecting")?;
    for msg in [
        ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
            client: Some("sightline-load".into()),
            ticket,
        },
        ClientMessage::Subscribe {
            id: 1,
            camera: camera.to_owned(),
            stream: Default::default(),
        },
    ] {
        socket.send(Message::text(msg.to_json())).await?;
    }
    loop {
        let next = tokio::time::timeout_at(window.end, socket.next()).await;
        let Ok(msg) = next else {
            // The window is over. A viewer that saw nothing (its subscribe
            // refused, say) did not connect.
            anyhow::ensure!(tally.frames > 0, "no frame in the window");
            return Ok(());
        };
        match msg.context("the relay closed the socket")?? {
            Message::Binary(data) => {
                let now = now_us();
                let (header, _) = MediaHeader::parse(&data)?;
                tally.frame(&header, data.len(), now, Instant::now() >= window.start);
            }
            Message::Close(_) => anyhow::bail!("the relay closed the socket"),
            _ => {}
        }
    }
}

/// One floor viewer: length-prefixed frames until the window ends.
async fn watch_floor(url: &url::Url, window: Window, tally: &mut Tally) -> anyhow::Result<()> {
    let host = url.host_str().context("no host")?;
    let port = url.port().context("no port")?;
    let mut socket = tokio::net::TcpStream::connect((host, port)).await?;
    let mut buffer = Vec::new();
    loop {
        let read = async {
            let len = socket.read_u32().await? as usize;
            buffer.resize(len, 0);
            socket.read_exact(&mut buffer).await?;
            anyhow::Ok(())
        };
        match tokio::time::timeout_at(window.end, read).await {
            Err(_) => return Ok(()),
            Ok(read) => read?,
        }
        let now = now_us();
        let (header, _) = MediaHeader::parse(&buffer)?;
        tally.frame(&header, buffer.len(), now, Instant::now() >= window.start);
    }
}
