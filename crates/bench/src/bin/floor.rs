//! `sightline-floor`: the floor the relay's fan-out is measured against in
//! `cargo xtask bench`. A minimal tokio program that writes the same frames as
//! the relay (header + access unit, stamped when sent out) to every connected
//! plain TCP socket, each frame behind a 4-byte big-endian length: no
//! WebSocket, no protocol, no per-viewer state but a ring receiver. Prints
//! `LISTENING ADDR` once it accepts connections; runs until killed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use clap::Parser;
use sightline_bench::{clip_frames, raise_file_limit, stamp, RING_FRAMES};
use tokio::io::AsyncWriteExt;
use tokio::sync::broadcast;
use tokio::time::Instant;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The clip (H.264, Annex B) to loop.
    #[arg(long)]
    clip: PathBuf,
    #[arg(long, default_value_t = 30)]
    fps: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    raise_file_limit();
    let args = Args::parse();
    let frames = clip_frames(&args.clip)?;
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("LISTENING {}", listener.local_addr()?);
    // The same bound as the relay's per-camera ring.
    let (ring, _) = broadcast::channel::<Bytes>(RING_FRAMES);
    let accepting = ring.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket.set_nodelay(true);
            let mut frames = accepting.subscribe();
            tokio::spawn(async move {
                loop {
                    match frames.recv().await {
                        Ok(frame) => {
                            if socket.write_all(&frame).await.is_err() {
                                return;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                }
            });
        }
    });
    let period = Duration::from_secs(1) / args.fps.max(1);
    let started = Instant::now();
    for (n, frame) in frames.iter().cycle().enumerate() {
        let data = stamp(frame, n as i64 * period.as_micros() as i64);
        let mut framed = BytesMut::with_capacity(4 + data.len());
        framed.put_u32(data.len() as u32);
        framed.put_slice(&data);
        let _no_viewers_is_fine = ring.send(framed.freeze());
        tokio::time::sleep_until(started + period * (n as u32 + 1)).await;
    }
    Ok(())
}
