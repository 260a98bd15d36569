//! Benchmark (not a test; `cargo xtask bench auth` runs it): what accounts
//! cost, in release, against the real relay on loopback with a real SQLite
//! file.
//!
//! - sign-in: `POST /api/login` with the right password, one at a time
//!   (Argon2id, m = 19 MiB, t = 2, off the async threads), 20 sign-ins, each
//!   from another client address (via a trusted proxy's X-Forwarded-For);
//! - 1000 sockets that each say hello with a ticket (HMAC-SHA256 check, two
//!   indexed SQLite reads) and subscribe, 100 at a time: the time until all
//!   are welcomed and subscribed, and per socket. The client runs in the same
//!   process (on loopback), so this is an upper bound of the relay's part.
//!
//! 5 runs each; printed as markdown rows (`ROW|…`) for xtask's table.

use std::net::SocketAddr;
use std::time::Instant;

use futures_util::stream::{self, StreamExt};
use sightline_relay::{AuthConfig, CameraConfig, DemoOptions, Relay, RelayConfig, Source};
use sightline_store::{CameraGrant, Role, Store};
use sightline_testkit::{http_request, median_min_max, secured, RelayClient};

const RUNS: usize = 5;
const LOGINS: usize = 20;
const SOCKETS: usize = 1000;
const AT_ONCE: usize = 100;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = RelayConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        www: None,
        cameras: vec![CameraConfig {
            id: "cam".into(),
            name: "Camera".into(),
            substream: None,
            motion: None,
            onvif: None,
            ptz: Default::default(),
            source: Source::Demo(DemoOptions {
                width: 160,
                height: 96,
                fps: 5,
                ..DemoOptions::default()
            }),
        }],
        data: None,
        auth: AuthConfig::disabled(),
        tls: None,
        alerts: Default::default(),
        mqtt: None,
        ptz_lease: sightline_relay::ptz::rules::LEASE,
        cluster: None,
    };
    let (mut config, data) = secured(config)?;
    // Each sign-in comes from another address (behind a trusted proxy), as
    // many users' would: one address would meet the rate limit after 10.
    config.auth.trusted_proxies = vec!["127.0.0.1/32".parse()?];
    let relay = Relay::start(config).await?;
    let store = Store::open(&data.path().join("sightline.db"))?;
    store.add_user("bench", Role::Admin, &CameraGrant::All, "bench password 1")?;
    let admin = store.user_by_name("bench")?.expect("just added");
    let (_, key) = store.create_api_key(
        "bench",
        Role::Operator,
        &CameraGrant::All,
        admin.id,
        sightline_store::unix_now(),
    )?;
    let base = format!("http://{}", relay.local_addr());

    let mut login_ms = Vec::new();
    let mut connect_ms = Vec::new();
    for run in 0..RUNS {
        let mut times = Vec::new();
        for i in 0..LOGINS {
            let client = format!("10.0.{run}.{i}");
            let started = Instant::now();
            let answer = http_request(
                "POST",
                &format!("{base}/api/login"),
                &[
                    ("content-type", "application/json"),
                    ("x-forwarded-for", &client),
                ],
                r#"{"user":"bench","password":"bench password 1"}"#,
            )
            .await?;
            anyhow::ensure!(answer.status == 200, "{answer:?}");
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        login_ms.push(median_min_max(times).0);
        eprintln!("run {}: sign-in {:.1} ms", run + 1, login_ms[run]);

        let auth = format!("Bearer {}", key.expose());
        let answer = http_request(
            "POST",
            &format!("{base}/api/tickets"),
            &[
                ("content-type", "application/json"),
                ("authorization", &auth),
            ],
            r#"{"cameras":["cam"],"ttl":3600}"#,
        )
        .await?;
        let ticket = answer.json()["ticket"]
            .as_str()
            .expect("a ticket")
            .to_owned();
        let addr = relay.local_addr();
        let started = Instant::now();
        let clients: Vec<anyhow::Result<RelayClient>> = stream::iter(0..SOCKETS)
            .map(|_| {
                let ticket = ticket.clone();
                async move {
                    let mut client = RelayClient::open(addr, None).await?;
                    client
                        .hello_with_ticket(&ticket)
                        .await?
                        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                    client.subscribe("cam").await?;
                    anyhow::Ok(client)
                }
            })
            .buffer_unordered(AT_ONCE)
            .collect()
            .await;
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        let clients = clients.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(clients.len() == SOCKETS);
        connect_ms.push(elapsed);
        eprintln!(
            "run {}: {SOCKETS} ticket sockets in {elapsed:.0} ms",
            run + 1
        );
        drop(clients);
    }
    let (m, lo, hi) = median_min_max(login_ms);
    println!("ROW| sign-in (`POST /api/login`, Argon2id), median of {LOGINS} per run | relay | {m:.1} ms | {lo:.1} | {hi:.1} |");
    let (m, lo, hi) = median_min_max(connect_ms);
    println!(
        "ROW| {SOCKETS} sockets with tickets ({AT_ONCE} at a time) until all welcomed and subscribed; {:.2} ms per socket | relay | {m:.0} ms | {lo:.0} | {hi:.0} |",
        m / SOCKETS as f64
    );
    relay.shutdown().await?;
    Ok(())
}
