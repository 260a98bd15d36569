//! The harness every test suite and benchmark shares (`tests/`): the real relay
//! on a loopback port, Debian's headless Chromium through chromedriver, GStreamer's
//! RTSP server, the one protocol client, and small helpers.
//!
//! - [`relay`]: start the relay in-process, a static site of another origin.
//! - [`browser`]: headless Chromium over WebDriver, and the page scripts.
//! - [`rtsp`]: GStreamer's RTSP server, and [`start_until_ready`] for any helper server.
//! - [`client`]: [`RelayClient`], the wire protocol spoken from a test.
//! - [`http`]: plain HTTP GETs and `/metrics` samples.
//! - [`mqtt`], [`nats`]: Debian's Mosquitto and nats-server, started per test binary.
//! - [`flip`], [`procs`]: the latency and CPU helpers of the benchmarks.
//!
//! The web app must be built first (`cargo xtask test` does it); its directory
//! is `SIGHTLINE_WWW` or `target/www` in the workspace.

use std::time::Duration;

use anyhow::{bail, Context as _};

pub mod browser;
pub mod client;
pub mod flip;
pub mod http;
pub mod mqtt;
pub mod nats;
pub mod onvif;
pub mod procs;
pub mod relay;
pub mod rtsp;

pub use browser::{with_browser, Browser, ALL_LIVE, SWITCH_HELPERS, WAIT_LIVE};
pub use client::{Received, RelayClient, WireError};
pub use http::{http_get, http_request, metric, sample, Answer};
pub use relay::{
    bare_config, onvif_source, relay_config, secured, sign_in, small_demo_cameras, start_relay,
    start_relay_with, tiny_demo, www_dir, Site,
};
pub use relay::{https_request, pem_certificate, tls_handshake, TlsHandshake};
pub use rtsp::{start_until_ready, OutputLines, RtspServer};

/// (median, min, max) of a benchmark's runs; `v` must not be empty.
pub fn median_min_max(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// Checks `probe` every 100 ms until it returns `Some` or `within` passes: for
/// conditions that have no event to await (a counter in `/metrics`).
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = probe().await? {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("{what}: not within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// This process's resident memory in bytes (the relay runs in-process).
pub fn rss_bytes() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .context("no VmRSS")?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kb * 1024)
}
