//! Relays cooperating through NATS (issue 17), against Debian's real
//! nats-server with JetStream: camera ownership leases, and a camera pulled
//! by one relay played on another.
//!
//! Each test starts its own server (a few ms; tests restart or stop it) and
//! keeps leases through `sightline_cluster::Cluster`, the glue the relay
//! uses. No sleeps: every wait is for a duty change, with a bound far above
//! what the rule needs, so a broken rule fails rather than waits forever.

use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use sightline_cluster::{Cluster, ClusterConfig, Duty};
use sightline_relay::Source;
use sightline_testkit::nats::NatsServer;
use sightline_testkit::{bare_config, tiny_demo, Received, RelayClient};
use sightline_wire::{CameraState, FrameFlags, MediaHeader};
use tokio::sync::watch;

fn config(nats: &NatsServer, node: &str, lease_seconds: u64) -> ClusterConfig {
    toml::from_str(&format!(
        "nats = \"{}\"\nnode = \"{node}\"\nlease_seconds = {lease_seconds}",
        nats.url()
    ))
    .expect("a valid [cluster] table")
}

/// Waits until the duty is `want`; returns when it became so.
async fn until(duty: &mut watch::Receiver<Duty>, want: Duty, within: Duration) -> Instant {
    let reached = tokio::time::timeout(within, duty.wait_for(|d| *d == want))
        .await
        .map(|r| r.is_ok());
    match reached {
        Ok(true) => {}
        Ok(false) => panic!("the lease task ended"),
        Err(_) => panic!("duty not {want:?} within {within:?}: {:?}", *duty.borrow()),
    }
    Instant::now()
}

/// The lease bucket's entry for a camera, as another NATS client reads it:
/// (owner node, revision).
async fn owner(nats: &NatsServer, camera: &str) -> Option<(String, u64)> {
    let client = async_nats::connect(nats.url()).await.expect("connects");
    let js = async_nats::jetstream::new(client);
    let kv = js.get_key_value("sightline-leases").await.ok()?;
    let entry = kv.entry(camera).await.ok()??;
    (entry.operation == async_nats::jetstream::kv::Operation::Put).then(|| {
        (
            String::from_utf8_lossy(&entry.value).into_owned(),
            entry.revision,
        )
    })
}

#[tokio::test]
async fn one_node_owns_a_camera_and_another_takes_over_when_it_is_cut_off() {
    let nats = NatsServer::start().await.unwrap();
    let a = Cluster::connect(&config(&nats, "a", 3)).await.unwrap();
    let lease_a = a.keep("hall");
    let mut duty_a = lease_a.duty();
    until(&mut duty_a, Duty::Own, Duration::from_secs(20)).await;
    let b = Cluster::connect(&config(&nats, "b", 3)).await.unwrap();
    let lease_b = b.keep("hall");
    let mut duty_b = lease_b.duty();
    until(&mut duty_b, Duty::Follow, Duration::from_secs(20)).await;
    assert_eq!(*duty_a.borrow(), Duty::Own);
    assert_eq!(owner(&nats, "hall").await.map(|o| o.0), Some("a".into()));

    // A loses NATS (its connection closed for good): it must stop owning
    // before B starts, and B must take over within a few leases.
    a.client().drain().await.unwrap();
    let gave_up = until(&mut duty_a, Duty::Starting, Duration::from_secs(20)).await;
    let took_over = until(&mut duty_b, Duty::Own, Duration::from_secs(30)).await;
    assert!(gave_up < took_over, "two owners at once");
    assert_eq!(owner(&nats, "hall").await.map(|o| o.0), Some("b".into()));
    // Cut off for a whole lease, A serves its own viewers from its own pull.
    until(&mut duty_a, Duty::Alone, Duration::from_secs(20)).await;
}

#[tokio::test]
async fn a_released_camera_is_taken_over_without_waiting_for_the_lease() {
    let nats = NatsServer::start().await.unwrap();
    // A long lease: B's retry comes a third of it (20 s) after it found
    // the camera held, and the key would expire only after 60 s.
    let a = Cluster::connect(&config(&nats, "a", 60)).await.unwrap();
    let lease_a = a.keep("gate.north");
    until(&mut lease_a.duty(), Duty::Own, Duration::from_secs(20)).await;
    let b = Cluster::connect(&config(&nats, "b", 60)).await.unwrap();
    let lease_b = b.keep("gate.north");
    let mut duty_b = lease_b.duty();
    until(&mut duty_b, Duty::Follow, Duration::from_secs(20)).await;
    // The key is the camera's one token ('.' is not a level).
    assert_eq!(
        owner(&nats, "gate=north").await.map(|o| o.0),
        Some("a".into())
    );

    let released = Instant::now();
    lease_a.release().await;
    let took_over = until(&mut duty_b, Duty::Own, Duration::from_secs(10)).await;
    assert!(took_over - released < Duration::from_secs(10));
    assert_eq!(
        owner(&nats, "gate=north").await.map(|o| o.0),
        Some("b".into())
    );
}

#[tokio::test]
async fn a_nats_restart_keeps_the_owner_and_its_lease() {
    let mut nats = NatsServer::start().await.unwrap();
    let a = Cluster::connect(&config(&nats, "a", 3)).await.unwrap();
    let b = Cluster::connect(&config(&nats, "b", 3)).await.unwrap();
    let lease_a = a.keep("yard");
    let mut duty_a = lease_a.duty();
    until(&mut duty_a, Duty::Own, Duration::from_secs(20)).await;
    let lease_b = b.keep("yard");
    let mut duty_b = lease_b.duty();
    until(&mut duty_b, Duty::Follow, Duration::from_secs(20)).await;
    let (_, before) = owner(&nats, "yard").await.expect("a lease entry");

    nats.start_again().await.unwrap();
    // The store survived: A goes on renewing the same key (a revision
    // written after the restart), and B still follows.
    let client = async_nats::connect(nats.url()).await.unwrap();
    let kv = async_nats::jetstream::new(client)
        .get_key_value("sightline-leases")
        .await
        .unwrap();
    let mut changes = kv.watch_with_history("yard").await.unwrap();
    let renewed = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(entry) = changes.next().await {
            let entry = entry.expect("watching the lease");
            if entry.revision > before {
                return String::from_utf8_lossy(&entry.value).into_owned();
            }
        }
        panic!("the watch ended")
    })
    .await
    .expect("no renewal after the restart");
    assert_eq!(renewed, "a");
    assert_eq!(*duty_b.borrow(), Duty::Follow);
    until(&mut duty_a, Duty::Own, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn nats_down_at_start_then_up() {
    let mut nats = NatsServer::start().await.unwrap();
    nats.stop().await.unwrap();
    // Starting does not wait for NATS.
    let a = tokio::time::timeout(
        Duration::from_secs(5),
        Cluster::connect(&config(&nats, "a", 3)),
    )
    .await
    .expect("connect returns while NATS is down")
    .unwrap();
    let lease = a.keep("porch");
    let mut duty = lease.duty();
    // No answer for a lease: the camera is pulled for local viewers.
    until(&mut duty, Duty::Alone, Duration::from_secs(20)).await;
    nats.start_again().await.unwrap();
    until(&mut duty, Duty::Own, Duration::from_secs(30)).await;
}

/// A relay of the cluster with one demo camera `cam` (1 s GOP).
async fn relay_node(nats: &NatsServer, node: &str) -> sightline_relay::Relay {
    let mut config = bare_config(vec![("cam", Source::Demo(tiny_demo()))]);
    config.cluster = Some(config_for(nats, node, 3));
    sightline_relay::Relay::start(config)
        .await
        .expect("the relay starts")
}

fn config_for(nats: &NatsServer, node: &str, lease: u64) -> ClusterConfig {
    config(nats, node, lease)
}

/// Waits until the lease of `camera` names `node`.
async fn until_owner(nats: &NatsServer, camera: &str, node: &str) {
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        let kv = loop {
            // The bucket exists once a node has kept a lease.
            if let Ok(kv) = js.get_key_value("sightline-leases").await {
                break kv;
            }
            tokio::task::yield_now().await;
        };
        let mut changes = kv.watch_with_history(camera).await.unwrap();
        while let Some(entry) = changes.next().await {
            let entry = entry.unwrap();
            if entry.value.as_ref() == node.as_bytes() {
                return;
            }
        }
    })
    .await;
    assert!(found.is_ok(), "{node} never owned {camera}");
}

/// `n` frames of the subscribed camera, with increasing timestamps.
async fn frames(client: &mut RelayClient, n: usize) -> Vec<MediaHeader> {
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), async {
        while got.len() < n {
            if let Received::Frame(header, _) = client.next().await.unwrap() {
                got.push(header);
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("only {} frames within 30 s", got.len()));
    got
}

#[tokio::test]
async fn a_camera_pulled_by_one_relay_plays_on_another_only_while_watched() {
    let nats = NatsServer::start().await.unwrap();
    let a = relay_node(&nats, "a").await;
    until_owner(&nats, "cam", "a").await;
    let b = relay_node(&nats, "b").await;

    // B lists the camera with the status its owner writes.
    let mut viewer = RelayClient::connect(b.local_addr(), None).await.unwrap();
    viewer
        .wait_status("cam", Duration::from_secs(30), |s| {
            *s == CameraState::Online
        })
        .await
        .expect("B shows the camera online");
    // Nobody watches on B: B asks NATS for none of its video.
    let video = "sightline.cam.cam.video";
    nats.until_subscribed("sightline-b", video, false, Duration::from_secs(1))
        .await
        .unwrap();

    viewer.subscribe("cam").await.unwrap();
    nats.until_subscribed("sightline-b", video, true, Duration::from_secs(10))
        .await
        .unwrap();
    let got = frames(&mut viewer, 12).await;
    assert!(got.iter().any(|h| h.flags.contains(FrameFlags::KEYFRAME)));
    assert!(
        got.windows(2)
            .all(|w| w[0].timestamp_us < w[1].timestamp_us),
        "timestamps out of order: {:?}",
        got.iter().map(|h| h.timestamp_us).collect::<Vec<_>>()
    );

    // The viewer leaves: B stops receiving the camera.
    drop(viewer);
    nats.until_subscribed("sightline-b", video, false, Duration::from_secs(10))
        .await
        .unwrap();

    // A stops (it lets go of its cameras): B pulls the camera itself, and
    // its viewers play on.
    let mut viewer = RelayClient::connect(b.local_addr(), None).await.unwrap();
    viewer.hello().await.unwrap();
    viewer.subscribe("cam").await.unwrap();
    frames(&mut viewer, 3).await;
    a.shutdown().await.unwrap();
    until_owner(&nats, "cam", "b").await;
    let after = frames(&mut viewer, 10).await;
    assert!(after.iter().any(|h| h.flags.contains(FrameFlags::KEYFRAME)));
    b.shutdown().await.unwrap();
}
