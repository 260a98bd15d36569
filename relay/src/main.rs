//! `sightline-relay`: parses the command line, starts the relay, stops on Ctrl-C.

use clap::Parser;
use sightline_relay::{Cli, Relay, RelayConfig};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = RelayConfig::from_cli(Cli::parse())?;
    // Every viewer is a socket: a default soft limit of 1024 open files would
    // cap a relay at about a thousand viewers. Raise it to the hard limit.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!("open-file limit: {limit}"),
        Err(e) => tracing::warn!("cannot raise the open-file limit: {e}"),
    }
    if config.www.is_none() {
        tracing::warn!("no --www given: the web player is not served (run `cargo xtask run`)");
    }
    let relay = Relay::start(config).await?;
    let addr = relay.local_addr();
    tracing::info!("Sightline relay listening on http://{addr}");
    println!("Sightline is live: open http://{addr}/");
    tokio::signal::ctrl_c().await?;
    tracing::info!("Ctrl-C: shutting down");
    relay.shutdown().await?;
    Ok(())
}
