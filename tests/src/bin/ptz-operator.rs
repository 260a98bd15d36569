//! A PTZ operator in a process of its own, for the dead-man test that
//! freezes it (`SIGSTOP`): its socket stays open and the kernel keeps
//! acknowledging, but nothing more comes from it — a hung browser tab.
//!
//! `ptz-operator RELAY_ADDR CAMERA`, the session cookie in
//! `SIGHTLINE_COOKIE`. Subscribes, then holds a pan to the right, renewing
//! it every 200 ms; prints `MOVING` once the first move is sent.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use sightline_testkit::RelayClient;
use sightline_wire::PtzAction;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let relay: SocketAddr = args.next().context("the relay's address")?.parse()?;
    let camera = args.next().context("the camera")?;
    let cookie = std::env::var("SIGHTLINE_COOKIE").context("SIGHTLINE_COOKIE")?;
    let (mut client, _) = RelayClient::signed_in(relay, &cookie).await?;
    client.subscribe(&camera).await?;
    let right = PtzAction::Move {
        pan: 0.5,
        tilt: 0.0,
        zoom: 0.0,
    };
    for id in 10.. {
        client.ptz(id, &camera, right.clone()).await?;
        if id == 10 {
            println!("MOVING");
        }
        // Reads (and drops) what comes meanwhile, as a page would.
        let next = tokio::time::Instant::now() + Duration::from_millis(200);
        while let Ok(received) = tokio::time::timeout_at(next, client.next()).await {
            received?;
        }
    }
    Ok(())
}
