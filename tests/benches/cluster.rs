//! Benchmark (not a test; `cargo xtask bench cluster` runs it): what the
//! NATS hop between relays costs, against Debian's nats-server on loopback.
//!
//! - **Latency added by the hop**: relay A pulls a 1080p30 camera (a
//!   replayed clip, about 4 Mbit/s) and relay E follows it through NATS; a
//!   viewer on each. Each frame's latency is the viewer's receipt minus the
//!   ingest relay's receipt (the header's `received_us`, which a follower
//!   keeps): p50 and p99 over 10 s, on A (no hop) and on E.
//! - **CPU of the hop**: nats-server's CPU forwarding that camera to E, and
//!   the relays' extra CPU (this process: E following it and serving its
//!   viewer) between 10 s with only A's viewer and 10 s with both.
//! - **Failover**: relays A and B both have the camera; a viewer on B.
//!   *Handover*: A stops (it releases its lease) → first frame of B's own
//!   pull at B's viewer. *Owner cut off*: A's NATS connection closes for
//!   good (a dead or partitioned node; its lease is not released) → B owns
//!   the camera, with the default 6 s lease.
//!
//! - **Control through the cluster**: a PTZ command (Move, then Stop, 5
//!   of each a run) from an operator on an edge relay, and from one on the
//!   owner itself (its sessions go through NATS too), until the ONVIF
//!   simulator has it; a webhook alert raised on the owner until a socket
//!   on the edge (and one on the owner) is told.
//!
//! 3 runs each; medians with min–max, printed as markdown rows (`ROW|…`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sightline_cluster::{Cluster, ClusterConfig, Duty};
use sightline_relay::{Relay, ReplayOptions, Source};
use sightline_testkit::nats::NatsServer;
use sightline_testkit::procs::ticks;
use sightline_testkit::{bare_config, median_min_max, tiny_demo, Received, RelayClient};
use sightline_wire::media::now_us;
use sightline_wire::FrameFlags;

const RUNS: usize = 3;
const WINDOW: Duration = Duration::from_secs(10);
/// Clock ticks per second of /proc's CPU times (USER_HZ).
const HZ: f64 = 100.0;

fn cluster(nats: &NatsServer, node: &str, role: &str, lease: u64) -> ClusterConfig {
    toml::from_str(&format!(
        "nats = \"{}\"\nnode = \"{node}\"\nrole = \"{role}\"\nlease_seconds = {lease}",
        nats.url()
    ))
    .expect("a [cluster] table")
}

async fn node(
    nats: &NatsServer,
    name: &str,
    role: &str,
    cameras: Vec<(&str, Source)>,
    lease: u64,
) -> anyhow::Result<Relay> {
    let mut config = bare_config(cameras);
    config.cluster = Some(cluster(nats, name, role, lease));
    Relay::start(config).await
}

/// The first seconds of a viewer hold its fast start (the GOP it starts
/// from is old by design): not counted.
const SETTLE: Duration = Duration::from_secs(2);

/// Latencies (ms) of the frames a viewer receives during `window`, after
/// its first [`SETTLE`].
async fn latencies(mut client: RelayClient, window: Duration) -> anyhow::Result<Vec<f64>> {
    let start = Instant::now();
    let end = start + window;
    let mut got = Vec::new();
    while Instant::now() < end {
        let next = tokio::time::timeout_at(end.into(), client.next()).await;
        let Ok(received) = next else { break };
        if let Received::Frame(header, _) = received? {
            if start.elapsed() > SETTLE {
                got.push((now_us() as f64 - header.received_us as f64) / 1000.0);
            }
        }
    }
    Ok(got)
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v[rank.min(v.len()) - 1]
}

async fn viewer(relay: &Relay, camera: &str) -> anyhow::Result<RelayClient> {
    let mut client = RelayClient::open(relay.local_addr(), None).await?;
    client.hello().await?;
    client.subscribe(camera).await?;
    client.expect_subscribed(camera).await?;
    Ok(client)
}

/// One hop run: [A p50, A p99, E p50, E p99, nats-server CPU %, relays' extra CPU %].
async fn hop_once(clip: &std::path::Path) -> anyhow::Result<[f64; 6]> {
    let nats = NatsServer::start().await?;
    let source = Source::Replay(ReplayOptions {
        path: clip.to_path_buf(),
        fps: 30,
    });
    let a = node(&nats, "a", "both", vec![("cam", source)], 6).await?;
    let e = node(&nats, "e", "edge", vec![], 6).await?;
    let result = async {
        // E lists the camera once its owner wrote it in the directory.
        let listed = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let mut c = RelayClient::open(e.local_addr(), None).await?;
                if c.hello().await?.iter().any(|cam| cam.id == "cam") {
                    return anyhow::Ok(());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        listed.context("the edge never listed the camera")??;
        let me = std::process::id();
        // Only A's viewer: the baseline.
        let on_a = viewer(&a, "cam").await?;
        let (me0, nats0) = (ticks(me)?, ticks(nats.pid())?);
        let direct = latencies(on_a, WINDOW).await?;
        let (me1, nats1) = (ticks(me)?, ticks(nats.pid())?);
        // Both viewers: the hop at work.
        let on_a = viewer(&a, "cam").await?;
        let on_e = viewer(&e, "cam").await?;
        let (me2, nats2) = (ticks(me)?, ticks(nats.pid())?);
        let (direct2, hopped) = tokio::join!(latencies(on_a, WINDOW), latencies(on_e, WINDOW));
        let (me3, nats3) = (ticks(me)?, ticks(nats.pid())?);
        let (_, mut hopped) = (direct2?, hopped?);
        let mut direct = direct;
        anyhow::ensure!(
            direct.len() > 100 && hopped.len() > 100,
            "too few frames: {} direct, {} through NATS",
            direct.len(),
            hopped.len()
        );
        let secs = WINDOW.as_secs_f64();
        let relays_extra = ((me3 - me2) as f64 - (me1 - me0) as f64) / HZ / secs * 100.0;
        let nats_cpu = ((nats3 - nats2) as f64 - (nats1 - nats0) as f64) / HZ / secs * 100.0;
        Ok([
            percentile(&mut direct, 50.0),
            percentile(&mut direct, 99.0),
            percentile(&mut hopped, 50.0),
            percentile(&mut hopped, 99.0),
            nats_cpu,
            relays_extra,
        ])
    }
    .await;
    e.shutdown().await?;
    a.shutdown().await?;
    result
}

/// One failover run: [handover ms, cut-off owner → new owner ms].
async fn failover_once() -> anyhow::Result<[f64; 2]> {
    let nats = NatsServer::start().await?;
    let cam = || vec![("cam", Source::Demo(tiny_demo()))];
    let a = node(&nats, "a", "both", cam(), 6).await?;
    // A owns it before B starts.
    let client = async_nats::connect(nats.url()).await?;
    let js = async_nats::jetstream::new(client);
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Ok(kv) = js.get_key_value("sightline-leases").await {
                if let Ok(Some(v)) = kv.get("cam").await {
                    if v.starts_with(b"a ") {
                        return;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .context("A never owned the camera")?;
    let b = node(&nats, "b", "both", cam(), 6).await?;
    let mut on_b = viewer(&b, "cam").await?;
    // Frames through A first.
    let mut n = 0;
    while n < 5 {
        if let Received::Frame(..) = on_b.next().await? {
            n += 1;
        }
    }
    let stopped = Instant::now();
    a.shutdown().await?;
    // B's own pull starts with a keyframe whose receipt is after A stopped.
    let handover = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Received::Frame(header, _) = on_b.next().await? {
                let after = header.received_us > now_us() - stopped.elapsed().as_micros() as u64;
                if after && header.flags.contains(FrameFlags::KEYFRAME) {
                    return anyhow::Ok(stopped.elapsed());
                }
            }
        }
    })
    .await
    .context("B's viewer got no frame of B's own pull")??;
    b.shutdown().await?;

    // Cut off: two bare lease keepers (as a relay keeps them).
    let keeper_a = Cluster::connect(&cluster(&nats, "ka", "both", 6)).await?;
    let lease_a = keeper_a.keep("cut");
    let mut duty_a = lease_a.duty();
    duty_a.wait_for(|d| *d == Duty::Own).await?;
    let keeper_b = Cluster::connect(&cluster(&nats, "kb", "both", 6)).await?;
    let lease_b = keeper_b.keep("cut");
    let mut duty_b = lease_b.duty();
    duty_b.wait_for(|d| *d == Duty::Follow).await?;
    let cut = Instant::now();
    keeper_a.client().drain().await?;
    tokio::time::timeout(
        Duration::from_secs(30),
        duty_b.wait_for(|d| *d == Duty::Own),
    )
    .await
    .context("B never took the camera over")??;
    let takeover = cut.elapsed();
    Ok([
        handover.as_secs_f64() * 1000.0,
        takeover.as_secs_f64() * 1000.0,
    ])
}

/// Steers the dome from `client` (subscribed here): Move, Stop, 5 of
/// each; the median time from sending each to the camera having it, ms.
async fn steer(
    sim: &sightline_testkit::onvif::OnvifSim,
    client: &mut RelayClient,
) -> anyhow::Result<f64> {
    use sightline_wire::PtzAction;
    const WITHIN: Duration = Duration::from_secs(30);
    client.subscribe("dome").await?;
    client
        .wait_ptz_state("dome", WITHIN, |s| s.features.is_some())
        .await?;
    let mut took = Vec::new();
    for i in 0..10u32 {
        let (action, operation) = if i % 2 == 0 {
            let pan = PtzAction::Move {
                pan: 0.5,
                tilt: 0.0,
                zoom: 0.0,
            };
            (pan, "ContinuousMove")
        } else {
            (PtzAction::Stop {}, "Stop")
        };
        let before = sim.requests().iter().filter(|r| r.is(operation)).count();
        let sent = tokio::time::Instant::now();
        client.ptz(i + 1, "dome", action).await?;
        let records = sim
            .wait_for(WITHIN, operation, |r| {
                r.iter().filter(|r| r.is(operation)).count() > before
            })
            .await?;
        let at = records
            .iter()
            .filter(|r| r.is(operation))
            .nth(before)
            .context("the command")?
            .at;
        took.push(at.saturating_duration_since(sent).as_secs_f64() * 1000.0);
        // Within a socket's PTZ rate.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    client.ptz(99, "dome", PtzAction::Release {}).await?;
    Ok(median_min_max(took).0)
}

/// One run of the control path: [PTZ edge → camera ms, PTZ owner →
/// camera ms (medians of 10 commands), alert raised on the owner → an edge
/// socket told ms, → the owner's own socket told ms].
async fn control_once() -> anyhow::Result<[f64; 4]> {
    use sightline_testkit::onvif::OnvifSim;
    use sightline_wire::AlertEvent;
    const WITHIN: Duration = Duration::from_secs(30);
    let nats = NatsServer::start().await?;
    let sim = OnvifSim::start_ptz().await?;
    let mut dome = sightline_relay::CameraConfig::new("dome", "Dome", Source::Demo(tiny_demo()));
    dome.onvif = Some(sightline_testkit::onvif_source(&sim)?);
    let mut config = bare_config(vec![]);
    config.cameras = vec![dome];
    config.cluster = Some(cluster(&nats, "a", "both", 6));
    let a = Relay::start(config).await?;
    let e = node(&nats, "e", "edge", vec![], 6).await?;
    let mut on_e = tokio::time::timeout(WITHIN, async {
        loop {
            let mut client = RelayClient::open(e.local_addr(), None).await?;
            if client.hello().await?.iter().any(|c| c.id == "dome") {
                return anyhow::Ok(client);
            }
            // Asked again shortly: nothing tells a socket of a new camera.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .context("the edge never listed the dome")??;
    let mut on_a = RelayClient::connect(a.local_addr(), None).await?;
    let from_edge = steer(&sim, &mut on_e).await?;
    let from_owner = steer(&sim, &mut on_a).await?;
    let sent = Instant::now();
    let raised = sightline_testkit::http_request(
        "POST",
        &format!("http://{}/api/cameras/dome/alerts", a.local_addr()),
        &[("content-type", "application/json")],
        r#"{"kind": "doorbell"}"#,
    )
    .await?;
    anyhow::ensure!(raised.status == 202, "{raised:?}");
    let (at_e, at_a) = tokio::join!(
        async {
            on_e.wait_alert(WITHIN, |e, _| e == AlertEvent::Start)
                .await
                .map(|_| sent.elapsed().as_secs_f64() * 1000.0)
        },
        async {
            on_a.wait_alert(WITHIN, |e, _| e == AlertEvent::Start)
                .await
                .map(|_| sent.elapsed().as_secs_f64() * 1000.0)
        },
    );
    let (at_e, at_a) = (at_e?, at_a?);
    e.shutdown().await?;
    a.shutdown().await?;
    Ok([from_edge, from_owner, at_e, at_a])
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::var_os("SIGHTLINE_BENCH_DIR")
        .map(PathBuf::from)
        .context("SIGHTLINE_BENCH_DIR: the benchmark clips (cargo xtask bench makes them)")?;
    let clip = dir.join("1920x1080_high.h264");
    let mut hops = Vec::new();
    for _ in 0..RUNS {
        hops.push(hop_once(&clip).await?);
    }
    let col = |i: usize| median_min_max(hops.iter().map(|r| r[i]).collect());
    let row = |what: &str, unit: &str, (m, lo, hi): (f64, f64, f64)| {
        println!("ROW| {what} | cluster | {m:.1}{unit} | {lo:.1} | {hi:.1} |");
    };
    row(
        "latency, ingest relay → its viewer, p50 (1080p30, no hop)",
        " ms",
        col(0),
    );
    row(
        "latency, ingest relay → its viewer, p99 (no hop)",
        " ms",
        col(1),
    );
    row(
        "latency, ingest relay → edge relay's viewer through NATS, p50",
        " ms",
        col(2),
    );
    row(
        "latency, ingest relay → edge relay's viewer through NATS, p99",
        " ms",
        col(3),
    );
    row(
        "nats-server CPU forwarding one 1080p30 camera to one edge (% of a core)",
        " %",
        col(4),
    );
    row(
        "relays' extra CPU: the edge following it with one viewer (% of a core)",
        " %",
        col(5),
    );
    let mut fails = Vec::new();
    for _ in 0..RUNS {
        fails.push(failover_once().await?);
    }
    let col = |i: usize| median_min_max(fails.iter().map(|r| r[i]).collect());
    row(
        "failover, owner stops (hands over) → first frame of the new owner's pull",
        " ms",
        col(0),
    );
    row(
        "failover, owner cut off → another node owns the camera (lease 6 s)",
        " ms",
        col(1),
    );
    let mut controls = Vec::new();
    for _ in 0..RUNS {
        controls.push(control_once().await?);
    }
    let col = |i: usize| median_min_max(controls.iter().map(|r| r[i]).collect());
    row(
        "PTZ command from an edge relay's operator → the camera (through the owner)",
        " ms",
        col(0),
    );
    row(
        "PTZ command from the owner's own operator → the camera (through NATS too)",
        " ms",
        col(1),
    );
    row(
        "alert raised on the owner (webhook) → a socket on the edge told",
        " ms",
        col(2),
    );
    row(
        "alert raised on the owner (webhook) → a socket on the owner told",
        " ms",
        col(3),
    );
    Ok(())
}
