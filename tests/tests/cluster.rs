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
use serde_json::json;
use sightline_cluster::{Cluster, ClusterConfig, Duty};
use sightline_relay::Source;
use sightline_testkit::nats::NatsServer;
use sightline_testkit::{
    bare_config, relay_config, tiny_demo, Browser, Received, RelayClient, ALL_LIVE,
};
use sightline_wire::{CameraState, FrameFlags, MediaHeader};
use tokio::sync::watch;

fn config(nats: &NatsServer, node: &str, lease_seconds: u64) -> ClusterConfig {
    config_role(nats, node, lease_seconds, "both")
}

fn config_role(nats: &NatsServer, node: &str, lease_seconds: u64, role: &str) -> ClusterConfig {
    toml::from_str(&format!(
        "nats = \"{}\"\nnode = \"{node}\"\nlease_seconds = {lease_seconds}\nrole = \"{role}\"",
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

/// The node named in a lease key's value (`node process-id`).
fn holder_node(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    text.split(' ').next().unwrap_or_default().to_owned()
}

/// The lease bucket's entry for a camera, as another NATS client reads it:
/// (owner node, revision).
async fn owner(nats: &NatsServer, camera: &str) -> Option<(String, u64)> {
    let client = async_nats::connect(nats.url()).await.expect("connects");
    let js = async_nats::jetstream::new(client);
    let kv = js.get_key_value("sightline-leases").await.ok()?;
    let entry = kv.entry(camera).await.ok()??;
    (entry.operation == async_nats::jetstream::kv::Operation::Put)
        .then(|| (holder_node(&entry.value), entry.revision))
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
    // Both watched at once, so each time is when it happened.
    let (gave_up, took_over) = tokio::join!(
        until(&mut duty_a, Duty::Starting, Duration::from_secs(20)),
        until(&mut duty_b, Duty::Own, Duration::from_secs(30)),
    );
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
                return holder_node(&entry.value);
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

/// A relay of the cluster with camera `cam`.
async fn relay_node(nats: &NatsServer, node: &str, source: Source) -> sightline_relay::Relay {
    let mut relay = bare_config(vec![("cam", source)]);
    relay.cluster = Some(config(nats, node, 3));
    sightline_relay::Relay::start(relay)
        .await
        .expect("the relay starts")
}

/// An RTSP camera nobody answers for (a closed port): what a relay shows of
/// it while another relay owns it can only have come through NATS.
fn unreachable_camera() -> Source {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    Source::Rtsp(sightline_relay::RtspSource {
        url: format!("rtsp://127.0.0.1:{port}/nothing").parse().unwrap(),
        username: None,
        password: None,
        transport: sightline_relay::Transport::Tcp,
    })
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
            // Asked again shortly: nothing tells of the change.
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let mut changes = kv.watch_with_history(camera).await.unwrap();
        while let Some(entry) = changes.next().await {
            let entry = entry.unwrap();
            if holder_node(&entry.value) == node {
                return;
            }
        }
    })
    .await;
    assert!(found.is_ok(), "{node} never owned {camera}");
}

/// Waits until a new socket's `welcome` at `relay` lists `camera`.
async fn until_listed(relay: &sightline_relay::Relay, camera: &str) {
    let listed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let mut client = RelayClient::open(relay.local_addr(), None).await.unwrap();
            if client.hello().await.unwrap().iter().any(|c| c.id == camera) {
                return;
            }
            // Asked again shortly: nothing tells a socket of a new camera.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        listed.is_ok(),
        "{} never listed {camera}",
        relay.local_addr()
    );
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
    let a = relay_node(&nats, "a", Source::Demo(tiny_demo())).await;
    until_owner(&nats, "cam", "a").await;
    // B has the camera too, at an address it cannot reach: all it shows of
    // it while A owns it comes from A.
    let b = relay_node(&nats, "b", unreachable_camera()).await;

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

    // A stops (it lets go of its cameras): B takes the camera and pulls it
    // itself — here it cannot, and says so.
    let mut viewer = RelayClient::open(b.local_addr(), None).await.unwrap();
    viewer.hello().await.unwrap();
    a.shutdown().await.unwrap();
    until_owner(&nats, "cam", "b").await;
    viewer
        .wait_status("cam", Duration::from_secs(30), |s| {
            matches!(s, CameraState::Offline { .. })
        })
        .await
        .expect("B reports its own pull");
    b.shutdown().await.unwrap();
}

/// A relay of the cluster with these demo cameras, the web app, and a role.
async fn node_with(
    nats: &NatsServer,
    node: &str,
    role: &str,
    cameras: &[&str],
) -> sightline_relay::Relay {
    let sources = cameras
        .iter()
        .map(|id| (*id, Source::Demo(tiny_demo())))
        .collect();
    let mut config = relay_config(sources).expect("the web app is built");
    config.cluster = Some(config_role(nats, node, 3, role));
    sightline_relay::Relay::start(config)
        .await
        .expect("the relay starts")
}

#[tokio::test]
async fn an_edge_relay_lists_and_plays_every_camera_of_the_cluster() {
    let nats = NatsServer::start().await.unwrap();
    let a = node_with(&nats, "a", "both", &["cam-a"]).await;
    let b = node_with(&nats, "b", "ingest", &["cam-b"]).await;
    // An entry no relay would write (not a camera id): never listed.
    until_owner(&nats, "cam-a", "a").await;
    {
        let client = async_nats::connect(nats.url()).await.unwrap();
        let js = async_nats::jetstream::new(client);
        // The bucket exists once an owner wrote its first entry.
        let kv = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                if let Ok(kv) = js.get_key_value("sightline-cameras").await {
                    if kv.get("cam-a").await.is_ok_and(|v| v.is_some()) {
                        return kv;
                    }
                }
                // Asked again shortly: nothing tells of the change.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("A's directory entry");
        kv.put(
            "not/an/id",
            r#"{"node":"x","name":"x","status":{"state":"online"}}"#.into(),
        )
        .await
        .unwrap();
    }
    let edge = node_with(&nats, "edge", "edge", &[]).await;

    // The edge has no camera of its own: it finds both in the directory.
    let listed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let mut client = RelayClient::connect(edge.local_addr(), None).await.unwrap();
            let cameras = match client.welcome().await.unwrap() {
                Ok((_, cameras)) => cameras,
                Err(e) => panic!("{e:?}"),
            };
            if cameras.len() == 2 {
                return cameras;
            }
            // Each node writes its entry at once: a new socket sees it soon.
            // Asked again shortly: nothing tells of the change.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the edge lists both cameras");
    let ids: std::collections::BTreeSet<&str> = listed.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["cam-a", "cam-b"].into());

    // Headless Chromium on the edge: the grid plays both.
    let browser = Browser::launch(&[]).await.unwrap();
    let played = async {
        browser
            .open(&format!("http://{}/", edge.local_addr()))
            .await?;
        let all = browser.run(ALL_LIVE, vec![json!(30_000)]).await?;
        let tiles = all.as_array().cloned().unwrap_or_default();
        anyhow::ensure!(tiles.len() == 2, "two tiles: {all}");
        for tile in &tiles {
            anyhow::ensure!(tile["live"] == json!(true), "not live: {tile}");
            anyhow::ensure!(
                tile["paintedIn1s"].as_u64() > Some(0),
                "not painting: {tile}"
            );
        }
        // Both cameras cross to the edge now, each from its owner.
        for video in ["sightline.cam.cam-a.video", "sightline.cam.cam-b.video"] {
            nats.until_subscribed("sightline-edge", video, true, Duration::from_secs(10))
                .await?;
        }
        anyhow::Ok(())
    }
    .await;
    let _ = browser.close().await;
    played.unwrap();
    // By now the edge has read the whole directory: still only the two.
    let mut client = RelayClient::open(edge.local_addr(), None).await.unwrap();
    let ids: Vec<String> = client
        .hello()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    edge.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
    a.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_remote_sites_camera_plays_through_a_leaf_node_and_only_while_watched() {
    // The hub (with JetStream) here; the remote site's server is its leaf
    // node, without JetStream: its relays use the hub's buckets through it.
    let hub = NatsServer::start().await.unwrap();
    let site = NatsServer::start_leaf(&hub).await.unwrap();
    let far = {
        let mut relay = bare_config(vec![("far", Source::Demo(tiny_demo()))]);
        let mut cluster = config(&site, "far-site", 3);
        cluster.jetstream_domain = Some(sightline_testkit::nats::DOMAIN.into());
        relay.cluster = Some(cluster);
        sightline_relay::Relay::start(relay).await.unwrap()
    };
    let near = {
        let mut relay = bare_config(vec![]);
        let mut cluster = config_role(&hub, "near", 3, "edge");
        cluster.jetstream_domain = Some(sightline_testkit::nats::DOMAIN.into());
        relay.cluster = Some(cluster);
        sightline_relay::Relay::start(relay).await.unwrap()
    };
    // The near relay lists the far camera (the directory crosses the link).
    until_listed(&near, "far").await;

    let video = "sightline.cam.far.video";
    let crosses = |subscribed: bool| {
        let site = &site;
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                let interest = site.leaf_interest().await.unwrap();
                if interest.iter().any(|s| s == video) == subscribed {
                    return;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the hub's interest across the link: {interest:?}"
                );
                // /leafz is polled: the server tells ordinary clients nothing.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    // Unwatched: the hub side never asked for the far camera's video.
    crosses(false).await;
    let mut viewer = RelayClient::open(near.local_addr(), None).await.unwrap();
    viewer.hello().await.unwrap();
    viewer.subscribe("far").await.unwrap();
    crosses(true).await;
    let got = frames(&mut viewer, 8).await;
    assert!(got.iter().any(|h| h.flags.contains(FrameFlags::KEYFRAME)));
    drop(viewer);
    crosses(false).await;
    near.shutdown().await.unwrap();
    far.shutdown().await.unwrap();
}

#[tokio::test]
async fn after_a_nats_restart_a_followed_camera_plays_on_without_restarting_relays() {
    let mut nats = NatsServer::start().await.unwrap();
    let a = relay_node(&nats, "a", Source::Demo(tiny_demo())).await;
    until_owner(&nats, "cam", "a").await;
    // B has the camera (at an address it cannot reach) but never pulls it.
    let b = {
        let mut relay = bare_config(vec![("cam", unreachable_camera())]);
        relay.cluster = Some(config_role(&nats, "b", 3, "edge"));
        sightline_relay::Relay::start(relay).await.unwrap()
    };
    let mut viewer = RelayClient::open(b.local_addr(), None).await.unwrap();
    viewer.hello().await.unwrap();
    viewer.subscribe("cam").await.unwrap();
    frames(&mut viewer, 5).await;

    nats.start_again().await.unwrap();
    // Frames the owner received after the restart reach B's viewer: the
    // relays reconnected, B's subscription and A's lease came back.
    let restarted_us = sightline_wire::media::now_us();
    let after = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Received::Frame(header, _) = viewer.next().await.unwrap() {
                if header.received_us > restarted_us {
                    return header;
                }
            }
        }
    })
    .await
    .expect("no frame through NATS after its restart");
    assert!(after.received_us > restarted_us);
    let owner = owner(&nats, "cam").await.map(|o| o.0);
    assert_eq!(owner.as_deref(), Some("a"), "A kept the camera");
    b.shutdown().await.unwrap();
    a.shutdown().await.unwrap();
}

/// JS: notes every state the first `<cam-player>` goes through from now on
/// (in `window.__states`). No args.
const NOTE_STATES: &str = r#"
const done = arguments[0];
const el = document.querySelector("cam-player");
window.__states = [];
el.addEventListener("statechange", (e) => window.__states.push(e.detail.state));
done(true);
"#;

/// JS: resolves once the noted states went away from `live` and back, with
/// the states and the element's stats; or after `ms`. Args: ms.
const LIVE_AGAIN: &str = r#"
const [ms, done] = arguments;
const el = document.querySelector("cam-player");
const t0 = performance.now();
(function look() {
  const s = window.__states;
  const left = s.findIndex((x) => x !== "live");
  const back = left >= 0 && s.slice(left).includes("live") && el.state === "live";
  if (back || performance.now() - t0 > ms) return done({ back, states: s, stats: el.getStats() });
  requestAnimationFrame(look);
})();
"#;

#[tokio::test]
async fn a_page_whose_relay_dies_plays_on_through_the_next_relay_of_its_list() {
    let nats = NatsServer::start().await.unwrap();
    let ingest = node_with(&nats, "ingest", "ingest", &["cam"]).await;
    let first = node_with(&nats, "edge-1", "edge", &[]).await;
    let second = node_with(&nats, "edge-2", "edge", &[]).await;
    for edge in [&first, &second] {
        until_listed(edge, "cam").await;
    }
    let browser = Browser::launch(&[]).await.unwrap();
    let result = async {
        browser
            .open(&format!("http://{}/?camera=cam", first.local_addr()))
            .await?;
        // The element is told of both relays; it plays from the first.
        let relays = format!(
            "http://{} http://{}",
            first.local_addr(),
            second.local_addr()
        );
        browser
            .run(
                r#"const [relays, done] = arguments;
                   customElements.whenDefined("cam-player").then(() => {
                     document.querySelector("cam-player").setAttribute("relay", relays);
                     done(true);
                   });"#,
                vec![json!(relays)],
            )
            .await?;
        let live = browser
            .run(
                sightline_testkit::WAIT_LIVE,
                vec![json!("cam-player"), json!(20_000)],
            )
            .await?;
        anyhow::ensure!(live["live"] == json!(true), "{live}");
        browser.run(NOTE_STATES, vec![]).await?;
        anyhow::Ok(())
    }
    .await;
    result.unwrap();
    // The first relay goes away: the page turns to the second by itself.
    first.shutdown().await.unwrap();
    let again = browser.run(LIVE_AGAIN, vec![json!(30_000)]).await.unwrap();
    let _ = browser.close().await;
    assert_eq!(again["back"], json!(true), "{again}");
    second.shutdown().await.unwrap();
    ingest.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_owner_cut_off_longer_than_its_grace_takes_its_camera_back() {
    let mut nats = NatsServer::start().await.unwrap();
    let a = Cluster::connect(&config(&nats, "a", 3)).await.unwrap();
    let lease = a.keep("dock");
    let mut duty = lease.duty();
    until(&mut duty, Duty::Own, Duration::from_secs(20)).await;
    nats.stop().await.unwrap();
    // Past the grace, and past a whole lease: serving alone.
    until(&mut duty, Duty::Alone, Duration::from_secs(20)).await;
    nats.start_again().await.unwrap();
    until(&mut duty, Duty::Own, Duration::from_secs(30)).await;
}

/// The page origin the accounts test's tickets are for.
const EMBED: &str = "http://shop.example:8000";
const PASSWORD: &str = "correct horse battery";

/// A relay of the cluster with accounts on, whose accounts node "hq"
/// manages; its data directory.
async fn accounts_node(
    nats: &NatsServer,
    node: &str,
    role: &str,
    cameras: &[&str],
) -> (sightline_relay::Relay, tempfile::TempDir) {
    let sources = cameras
        .iter()
        .map(|id| (*id, Source::Demo(tiny_demo())))
        .collect();
    let (mut config, data) = sightline_testkit::secured(bare_config(sources)).unwrap();
    config.auth.embed_origins = vec![EMBED.into()];
    let mut cluster = config_role(nats, node, 3, role);
    cluster.accounts = Some("hq".into());
    config.cluster = Some(cluster);
    let relay = sightline_relay::Relay::start(config)
        .await
        .expect("the relay starts");
    (relay, data)
}

/// `POST /api/tickets` at `relay` with an API key: the answer.
async fn mint(relay: &sightline_relay::Relay, key: &str) -> sightline_testkit::Answer {
    let bearer = format!("Bearer {key}");
    sightline_testkit::http_request(
        "POST",
        &format!("http://{}/api/tickets", relay.local_addr()),
        &[
            ("content-type", "application/json"),
            ("authorization", &bearer),
        ],
        &json!({"cameras": "*", "audience": EMBED, "ttl": 300}).to_string(),
    )
    .await
    .expect("answers")
}

/// A socket at `relay` from the embedding page, said hello with `ticket`:
/// the socket and the cameras it was welcomed with (or the refusal).
async fn with_ticket(
    relay: &sightline_relay::Relay,
    ticket: &str,
) -> (
    RelayClient,
    Result<Vec<String>, sightline_testkit::client::WireError>,
) {
    let mut client = RelayClient::open_with(relay.local_addr(), None, &[("origin", EMBED)])
        .await
        .unwrap();
    let welcome = client.hello_with_ticket(ticket).await.unwrap();
    (
        client,
        welcome.map(|(_, cameras)| cameras.into_iter().map(|c| c.id).collect()),
    )
}

/// Retries `attempt` every 50 ms (nothing tells the test when a copy has
/// arrived) until it gives `Some`, for at most 30 s.
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut attempt: impl FnMut() -> F,
) -> T {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Some(done) = attempt().await {
                return done;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: not within 30 s"))
}

#[tokio::test]
async fn accounts_managed_on_one_relay_work_on_every_relay_of_the_cluster() {
    use sightline_store::{CameraGrant, Role, Store};
    let nats = NatsServer::start().await.unwrap();
    let (hq, hq_data) = accounts_node(&nats, "hq", "both", &["a"]).await;
    assert!(hq.first_run_link().is_some());
    let (edge, edge_data) = accounts_node(&nats, "edge", "edge", &[]).await;
    assert!(
        edge.first_run_link().is_none(),
        "a copy makes no admin of its own"
    );
    // Accounts made on hq (as its CLI would): an admin, a viewer, a key.
    let hq_db = Store::open(&hq_data.path().join("sightline.db")).unwrap();
    let root = hq_db
        .add_user("root", Role::Admin, &CameraGrant::All, PASSWORD)
        .unwrap();
    hq_db
        .add_user("alice", Role::Viewer, &CameraGrant::All, PASSWORD)
        .unwrap();
    let now = sightline_store::unix_now();
    let (key, token) = hq_db
        .create_api_key("backend", Role::Viewer, &CameraGrant::All, root.id, now)
        .unwrap();
    let token = token.expose().to_owned();

    // alice signs in on the edge with hq's password.
    let edge_addr = edge.local_addr();
    let _alice = eventually("alice signs in on the edge", || async move {
        sightline_testkit::sign_in(edge_addr, "alice", PASSWORD)
            .await
            .ok()
    })
    .await;
    // A ticket minted on hq opens the edge (and lists hq's camera there);
    // one minted on the edge with the same key opens hq.
    let answer = mint(&hq, &token).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let from_hq = answer.json()["ticket"].as_str().unwrap().to_owned();
    let mut watching = eventually("hq's ticket lists camera a on the edge", || {
        let (edge, ticket) = (&edge, &from_hq);
        async move {
            let (client, cameras) = with_ticket(edge, ticket).await;
            cameras.ok()?.contains(&"a".to_owned()).then_some(client)
        }
    })
    .await;
    let answer = mint(&edge, &token).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let from_edge = answer.json()["ticket"].as_str().unwrap().to_owned();
    let (_, cameras) = with_ticket(&hq, &from_edge).await;
    assert_eq!(cameras.unwrap(), ["a"]);
    // Both are signed with hq's key: the edge made none of its own.
    let edge_db = Store::open(&edge_data.path().join("sightline.db")).unwrap();
    assert_eq!(
        sightline_ticket::kid_of(&from_edge).unwrap(),
        sightline_ticket::kid_of(&from_hq).unwrap()
    );
    assert_eq!(edge_db.signing_keys().unwrap().len(), 1);

    // The copy refuses account changes and names where to make them.
    let root_on_edge = sightline_testkit::sign_in(edge_addr, "root", PASSWORD)
        .await
        .unwrap();
    let as_root = |method: &'static str, path: &'static str, body: serde_json::Value| {
        let (cookie, csrf) = root_on_edge.clone();
        async move {
            sightline_testkit::http_request(
                method,
                &format!("http://{edge_addr}{path}"),
                &[
                    ("content-type", "application/json"),
                    ("cookie", &cookie),
                    ("x-csrf-token", &csrf),
                ],
                &body.to_string(),
            )
            .await
            .unwrap()
        }
    };
    let refused = as_root(
        "POST",
        "/api/users",
        json!({"name": "mallory", "role": "admin", "cameras": "*"}),
    )
    .await;
    assert_eq!(refused.status, 409, "{refused:?}");
    let message = refused.json()["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("relay \"hq\""), "{message}");
    let refused = as_root("POST", "/api/signing-keys/rotate", json!({})).await;
    assert_eq!(refused.status, 409, "{refused:?}");
    assert!(edge_db.user_by_name("mallory").unwrap().is_none());
    // Reading is fine.
    assert_eq!(as_root("GET", "/api/users", json!({})).await.status, 200);

    // Revoking the key on hq ends, on the edge, the socket its ticket opened.
    hq_db.revoke_api_key(key.id, now).unwrap();
    tokio::time::timeout(Duration::from_secs(30), watching.expect_closed())
        .await
        .expect("the edge closes the revoked ticket's socket")
        .unwrap();
    let (_, again) = with_ticket(&edge, &from_hq).await;
    assert!(again.is_err(), "a revoked key's ticket is refused");
    edge.shutdown().await.unwrap();
    hq.shutdown().await.unwrap();
}

/// `POST` JSON to a relay without accounts: the answer.
async fn post_json(
    relay: &sightline_relay::Relay,
    path: &str,
    body: serde_json::Value,
) -> sightline_testkit::Answer {
    sightline_testkit::http_request(
        "POST",
        &format!("http://{}{path}", relay.local_addr()),
        &[("content-type", "application/json")],
        &body.to_string(),
    )
    .await
    .expect("answers")
}

/// `GET` a relay's history (`/api/alerts`): the alerts, newest first.
async fn history(relay: &sightline_relay::Relay) -> Vec<sightline_wire::AlertInfo> {
    let answer = sightline_testkit::http_request(
        "GET",
        &format!("http://{}/api/alerts", relay.local_addr()),
        &[],
        "",
    )
    .await
    .expect("answers");
    serde_json::from_value(answer.json()["alerts"].clone()).expect("a page of alerts")
}

#[tokio::test]
async fn an_alert_raised_on_one_relay_rings_and_is_history_on_the_others() {
    use sightline_wire::AlertEvent;
    const WITHIN: Duration = Duration::from_secs(30);
    // A small max_payload: files cross in several pieces of 16 KiB.
    let nats = NatsServer::start_with_max_payload(Some(20 * 1024))
        .await
        .unwrap();
    let edge_node = |node: &'static str| {
        let nats = &nats;
        async move {
            let mut config = bare_config(vec![]);
            config.cluster = Some(config_role(nats, node, 3, "edge"));
            sightline_relay::Relay::start(config).await.unwrap()
        }
    };
    // A keeps snapshots and clips (a data directory); post-roll 0 so the
    // clip is written when the alert ends.
    let a_data = tempfile::tempdir().unwrap();
    let mut a_config = bare_config(vec![("cam", Source::Demo(tiny_demo()))]);
    a_config.data = Some(a_data.path().to_owned());
    a_config.alerts.post_roll = 0;
    a_config.cluster = Some(config(&nats, "a", 3));
    let a = sightline_relay::Relay::start(a_config).await.unwrap();
    until_owner(&nats, "cam", "a").await;
    let b = edge_node("b").await;
    let mut on_a = RelayClient::connect(a.local_addr(), None).await.unwrap();
    let mut on_b = RelayClient::connect(b.local_addr(), None).await.unwrap();

    // A doorbell rings at A's camera: B's page is told at once.
    let raised = post_json(&a, "/api/cameras/cam/alerts", json!({"kind": "doorbell"})).await;
    assert_eq!(raised.status, 202, "{raised:?}");
    let at_a = on_a
        .wait_alert(WITHIN, |e, _| e == AlertEvent::Start)
        .await
        .unwrap();
    let at_b = on_b
        .wait_alert(WITHIN, |e, a| {
            e == AlertEvent::Start && a.kind == "webhook:doorbell"
        })
        .await
        .unwrap();
    assert_eq!(at_b.camera, "cam");
    assert_eq!(at_b.started_at_ms, at_a.started_at_ms);
    // In B's history, under B's own id.
    let b_history = history(&b).await;
    assert_eq!(b_history.len(), 1, "{b_history:?}");
    assert_eq!(b_history[0].id, at_b.id);
    assert!(b_history[0].ended_at_ms.is_none());

    // Its snapshot, recorded on A, is had from B (fetched from A).
    on_b.wait_alert(WITHIN, |e, x| {
        x.id == at_b.id && x.snapshot && e == AlertEvent::Update
    })
    .await
    .unwrap();
    let file = |relay: &sightline_relay::Relay, id: i64, name: &str| {
        let url = format!("http://{}/api/alerts/{id}/{name}", relay.local_addr());
        async move {
            sightline_testkit::http_request("GET", &url, &[], "")
                .await
                .unwrap()
        }
    };
    let from_a = file(&a, at_a.id, "snapshot.jpg").await;
    let from_b = file(&b, at_b.id, "snapshot.jpg").await;
    assert_eq!(from_a.status, 200, "{from_a:?}");
    assert_eq!(from_b.status, 200, "{from_b:?}");
    assert!(from_b.bytes.starts_with(&[0xff, 0xd8]), "a JPEG");
    assert_eq!(from_b.bytes, from_a.bytes);

    // An operator on B acknowledges it: A's page and history learn who.
    let acked = post_json(&b, &format!("/api/alerts/{}/ack", at_b.id), json!({})).await;
    assert_eq!(acked.status, 200, "{acked:?}");
    let acked_at_a = on_a
        .wait_alert(WITHIN, |e, x| e == AlertEvent::Ack && x.id == at_a.id)
        .await
        .unwrap();
    assert!(acked_at_a.acked_by.is_some());
    assert_eq!(history(&a).await[0].acked_by, acked_at_a.acked_by);

    // It ends at A: B's page sees the end.
    let ended = post_json(
        &a,
        "/api/cameras/cam/alerts",
        json!({"kind": "doorbell", "end": true}),
    )
    .await;
    assert_eq!(ended.status, 202, "{ended:?}");
    let end_at_b = on_b
        .wait_alert(WITHIN, |e, x| e == AlertEvent::End && x.id == at_b.id)
        .await
        .unwrap();
    assert_eq!(end_at_b.acked_by, acked_at_a.acked_by);
    // Its clip too, larger than one piece of a NATS answer.
    on_b.wait_alert(WITHIN, |_, x| x.id == at_b.id && x.clip)
        .await
        .unwrap();
    let clip_a = file(&a, at_a.id, "clip.mp4").await;
    let clip_b = file(&b, at_b.id, "clip.mp4").await;
    assert_eq!(clip_b.status, 200, "{clip_b:?}");
    assert_eq!(
        clip_b.headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"video/mp4"[..])
    );
    assert!(
        clip_b.bytes.len() > 2 * 16 * 1024,
        "{} bytes",
        clip_b.bytes.len()
    );
    assert_eq!(clip_b.bytes, clip_a.bytes);

    // A relay that joins later starts with the cluster's history.
    let c = edge_node("c").await;
    let c_history = eventually("the late relay's history", || {
        let c = &c;
        async move { Some(history(c).await).filter(|h| !h.is_empty()) }
    })
    .await;
    assert_eq!(c_history.len(), 1, "{c_history:?}");
    assert_eq!(c_history[0].kind, "webhook:doorbell");
    assert!(c_history[0].ended_at_ms.is_some() && c_history[0].acked_by.is_some());
    assert!(c_history[0].snapshot && c_history[0].clip);
    // An alert still going when A stops (cleanly) ends on B too.
    let raised = post_json(&a, "/api/cameras/cam/alerts", json!({"kind": "person"})).await;
    assert_eq!(raised.status, 202, "{raised:?}");
    let person = on_b
        .wait_alert(WITHIN, |e, x| {
            e == AlertEvent::Start && x.kind == "webhook:person"
        })
        .await
        .unwrap();
    // A stops: its files cannot be had elsewhere, and B says why.
    a.shutdown().await.unwrap();
    on_b.wait_alert(WITHIN, |e, x| e == AlertEvent::End && x.id == person.id)
        .await
        .expect("the end of an alert its relay stopped with");
    let gone = file(&b, at_b.id, "snapshot.jpg").await;
    assert_eq!(gone.status, 503, "{gone:?}");
    let message = gone.json()["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("relay \"a\""), "{message}");
    for relay in [c, b] {
        relay.shutdown().await.unwrap();
    }
}

/// The first error `client` receives: its code and message.
async fn next_error(client: &mut RelayClient) -> (sightline_wire::ErrorCode, String) {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Received::Control(sightline_wire::ServerMessage::Error {
                code, message, ..
            }) = client.next().await.unwrap()
            {
                return (code, message);
            }
        }
    })
    .await
    .expect("an error")
}

#[tokio::test]
async fn ptz_on_another_relays_camera_is_one_operator_at_a_time_and_stops_with_their_socket() {
    use sightline_wire::PtzAction;
    const WITHIN: Duration = Duration::from_secs(30);
    let pan = |speed| PtzAction::Move {
        pan: speed,
        tilt: 0.0,
        zoom: 0.0,
    };
    let nats = NatsServer::start().await.unwrap();
    let sim = sightline_testkit::onvif::OnvifSim::start_ptz()
        .await
        .unwrap();
    // hq owns the dome (an ONVIF PTZ camera) and manages the accounts;
    // B, an edge, has no camera.
    let mut dome = sightline_relay::CameraConfig::new("dome", "Dome", Source::Demo(tiny_demo()));
    dome.onvif = Some(sightline_testkit::onvif_source(&sim).unwrap());
    let node = |name: &str, role: &str, cameras: Vec<sightline_relay::CameraConfig>| {
        let (mut relay, data) = sightline_testkit::secured(bare_config(vec![])).unwrap();
        relay.cameras = cameras;
        let mut cluster = config_role(&nats, name, 3, role);
        cluster.accounts = Some("hq".into());
        relay.cluster = Some(cluster);
        (relay, data)
    };
    let (hq_config, hq_data) = node("hq", "both", vec![dome]);
    let a = sightline_relay::Relay::start(hq_config).await.unwrap();
    let (b_config, _b_data) = node("b", "edge", vec![]);
    let b = sightline_relay::Relay::start(b_config).await.unwrap();
    let hq_db = sightline_store::Store::open(&hq_data.path().join("sightline.db")).unwrap();
    for name in ["olga", "oscar"] {
        hq_db
            .add_user(
                name,
                sightline_store::Role::Operator,
                &sightline_store::CameraGrant::All,
                PASSWORD,
            )
            .unwrap();
    }
    let b_addr = b.local_addr();
    let olga_cookie = eventually("olga signs in on B", || async move {
        sightline_testkit::sign_in(b_addr, "olga", PASSWORD)
            .await
            .ok()
    })
    .await
    .0;
    let oscar_cookie = sightline_testkit::sign_in(a.local_addr(), "oscar", PASSWORD)
        .await
        .unwrap()
        .0;
    let watching = |relay: std::net::SocketAddr, cookie: String| async move {
        let mut client = eventually("the dome listed", || {
            let cookie = cookie.clone();
            async move {
                let (client, cameras) = RelayClient::signed_in(relay, &cookie).await.ok()?;
                cameras.iter().any(|c| c.id == "dome").then_some(client)
            }
        })
        .await;
        client.subscribe("dome").await.unwrap();
        client
            .wait_ptz_state("dome", WITHIN, |s| s.features.is_some())
            .await
            .expect("the dome's PTZ, through the cluster");
        client
    };
    let mut olga = watching(b.local_addr(), olga_cookie).await; // on the edge
    let mut oscar = watching(a.local_addr(), oscar_cookie).await; // on the owner

    // Olga's move, made on B, reaches the camera; she holds it everywhere.
    olga.ptz(1, "dome", pan(0.5)).await.unwrap();
    sim.wait_for(WITHIN, "ContinuousMove", |r| {
        r.iter().any(|r| r.is("ContinuousMove") && r.ok())
    })
    .await
    .unwrap();
    olga.wait_ptz_state("dome", WITHIN, |s| s.yours && s.moving)
        .await
        .unwrap();
    let held = oscar
        .wait_ptz_state("dome", WITHIN, |s| s.holder.is_some())
        .await
        .unwrap();
    assert!(!held.yours, "{held:?}");
    // Oscar, on the owner itself, is refused while she holds it.
    oscar.ptz(2, "dome", pan(-0.5)).await.unwrap();
    let (code, message) = next_error(&mut oscar).await;
    assert_eq!(code, sightline_wire::ErrorCode::Conflict);
    assert!(message.contains("held by olga"), "{message}");

    // Olga's socket dies mid-move: the camera is stopped, because the
    // socket went (B tells A), not by the silence after it.
    olga.ptz(3, "dome", pan(0.5)).await.unwrap();
    let stops = |sim: &sightline_testkit::onvif::OnvifSim| {
        sim.requests()
            .iter()
            .filter(|r| r.is("Stop") && r.ok())
            .count()
    };
    let before = stops(&sim);
    drop(olga);
    sim.wait_for(WITHIN, "Stop", |r| {
        r.iter().filter(|r| r.is("Stop") && r.ok()).count() > before
    })
    .await
    .unwrap();
    assert!(!sim.ptz_moving());
    hq_db
        .add_user(
            "ada",
            sightline_store::Role::Admin,
            &sightline_store::CameraGrant::All,
            PASSWORD,
        )
        .unwrap();
    let (ada, _) = sightline_testkit::sign_in(a.local_addr(), "ada", PASSWORD)
        .await
        .unwrap();
    let metrics = sightline_testkit::http_request(
        "GET",
        &format!("http://{}/metrics", a.local_addr()),
        &[("cookie", &ada)],
        "",
    )
    .await
    .unwrap();
    let gone = sightline_testkit::sample(
        &metrics.body,
        "sightline_ptz_stops_total{camera=\"dome\",reason=\"gone\"}",
    );
    assert_eq!(gone, Some(1.0), "{}", metrics.body);
    b.shutdown().await.unwrap();
    a.shutdown().await.unwrap();
}

/// JS: resolves once the first `<cam-player>` painted `n` more pictures
/// and is live, or after `ms`: the count and the state. Args: n, ms.
const PAINTS_ON: &str = r#"
const [n, ms, done] = arguments;
const el = document.querySelector("cam-player");
const p0 = el.getStats().framesPainted;
const t0 = performance.now();
(function look() {
  const painted = el.getStats().framesPainted - p0;
  if ((painted >= n && el.state === "live") || performance.now() - t0 > ms) {
    return done({ painted, state: el.state });
  }
  requestAnimationFrame(look);
})();
"#;

#[tokio::test]
async fn when_a_cameras_owner_stops_a_page_on_another_relay_plays_on_from_the_new_owner() {
    let nats = NatsServer::start().await.unwrap();
    let a = node_with(&nats, "a", "both", &["cam"]).await;
    until_owner(&nats, "cam", "a").await;
    let b = node_with(&nats, "b", "both", &["cam"]).await;
    let browser = Browser::launch(&[]).await.unwrap();
    browser
        .open(&format!("http://{}/?camera=cam", b.local_addr()))
        .await
        .unwrap();
    let live = browser
        .run(
            sightline_testkit::WAIT_LIVE,
            vec![json!("cam-player"), json!(20_000)],
        )
        .await
        .unwrap();
    assert_eq!(live["live"], json!(true), "{live}");
    // B's page plays A's pull (through NATS). A stops; once B owns the
    // camera, every picture the page paints comes from B's own pull.
    a.shutdown().await.unwrap();
    until_owner(&nats, "cam", "b").await;
    let after = browser
        .run(PAINTS_ON, vec![json!(20), json!(30_000)])
        .await
        .unwrap();
    let _ = browser.close().await;
    assert!(after["painted"].as_u64() >= Some(20), "{after}");
    assert_eq!(after["state"], json!("live"), "{after}");
    b.shutdown().await.unwrap();
}
