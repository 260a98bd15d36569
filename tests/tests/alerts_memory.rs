//! Memory stays bounded while 16 cameras are in motion for about a minute:
//! each camera's intruder walks every 8 s, so every camera keeps decoding,
//! analysing, raising and ending alerts, writing snapshots and clips (the
//! pre-roll rings, the decode queues and the clip writers all busy). The
//! process's resident memory is read once all of that has run for a while
//! (rings full, every path warmed) and again after about a minute more; it
//! may not grow by more than [`GROWTH_LIMIT`]. A binary of its own: other
//! tests in the same process would move its memory.
//!
//! Measured (debug build, 2 shared cores): see the issue 14 note.

use std::collections::BTreeMap;
use std::time::Duration;

use sightline_relay::config::demo_motion;
use sightline_relay::{CameraConfig, DemoOptions, Relay, Source};
use sightline_testkit::{bare_config, rss_bytes, RelayClient};
use sightline_wire::AlertEvent;

const CAMERAS: usize = 16;
/// Alerts each camera ends before the first reading (warm-up), and then
/// before the second: 7 walks of 8 s ≈ a minute.
const WARM_UP: usize = 2;
const MEASURED: usize = 7;
/// An unbounded queue of 16 cameras' frames (about 30 KB/s each here) would
/// pass this within the minute; the bounded relay stays far under it.
const GROWTH_LIMIT: u64 = 24 * 1024 * 1024;

fn camera(i: usize) -> CameraConfig {
    let mut camera = CameraConfig::new(
        format!("cam-{i}"),
        format!("Camera {i}"),
        Source::Demo(DemoOptions {
            width: 320,
            height: 180,
            fps: 15,
            keyframe_every: 15,
            bitrate_bps: 250_000,
            intruder_every: Some(Duration::from_secs(8)),
            ..DemoOptions::default()
        }),
    );
    let mut motion = demo_motion();
    motion.detector.cooldown_secs = 1.0;
    camera.motion = Some(motion);
    camera
}

/// Waits until every camera has ended `n` motion alerts in all.
async fn until_ended(client: &mut RelayClient, ended: &mut BTreeMap<String, usize>, n: usize) {
    while ended.len() < CAMERAS || ended.values().any(|&e| e < n) {
        let (event, alert) = client
            .next_alert(Duration::from_secs(60))
            .await
            .unwrap_or_else(|e| panic!("alerts stopped coming ({ended:?}): {e:#}"));
        if event == AlertEvent::End && alert.kind == "motion" {
            *ended.entry(alert.camera).or_default() += 1;
        }
    }
}

fn media_files(dir: &std::path::Path) -> (usize, usize) {
    let mut found = (0, 0);
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            match path.extension().and_then(|e| e.to_str()) {
                Some("jpg") => found.0 += 1,
                Some("mp4") => found.1 += 1,
                _ if path.is_dir() => stack.push(path),
                _ => {}
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_cameras_in_motion_for_a_minute_keep_memory_bounded() {
    let data = tempfile::tempdir().expect("temp dir");
    let mut config = bare_config(vec![]);
    config.cameras = (1..=CAMERAS).map(camera).collect();
    config.data = Some(data.path().to_owned());
    let relay = Relay::start(config).await.expect("relay starts");
    let mut client = RelayClient::connect(relay.local_addr(), None)
        .await
        .expect("socket");
    client.welcome().await.expect("answer").expect("welcome");

    let mut ended = BTreeMap::new();
    until_ended(&mut client, &mut ended, WARM_UP).await;
    let before = rss_bytes().expect("RSS");
    until_ended(&mut client, &mut ended, WARM_UP + MEASURED).await;
    let after = rss_bytes().expect("RSS");
    let (snapshots, clips) = media_files(&data.path().join("alerts"));
    let total: usize = ended.values().sum();
    println!(
        "16 cameras in motion: RSS {:.1} MiB → {:.1} MiB ({total} alerts, {snapshots} snapshots, {clips} clips)",
        before as f64 / 1048576.0,
        after as f64 / 1048576.0
    );
    // Every alert has its snapshot and clip, but the last clip of each
    // camera, still recording its post-roll.
    assert!(
        snapshots >= total && clips + CAMERAS >= total,
        "{total} alerts recorded too little: {snapshots} snapshots, {clips} clips"
    );
    assert!(
        after <= before + GROWTH_LIMIT,
        "memory grew by {:.1} MiB in a minute of motion ({:.1} → {:.1} MiB)",
        (after - before) as f64 / 1048576.0,
        before as f64 / 1048576.0,
        after as f64 / 1048576.0
    );
    relay.shutdown().await.expect("clean shutdown");
}
