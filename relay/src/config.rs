//! The relay's configuration: what the command line says, in one struct the
//! server starts from.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

use crate::demo::DemoOptions;

/// Command line of `sightline-relay`.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "Sightline relay: IP cameras to browsers over one WebSocket"
)]
pub struct Cli {
    /// Address to listen on for HTTP and WebSocket.
    #[arg(long, env = "SIGHTLINE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Directory of the built web app (trunk's output) to serve.
    #[arg(long, env = "SIGHTLINE_WWW")]
    pub www: Option<PathBuf>,
}

/// A built-in demo camera.
#[derive(Debug, Clone)]
pub struct DemoCameraConfig {
    pub id: String,
    pub name: String,
    pub options: DemoOptions,
}

/// Everything the relay starts from.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    pub listen: SocketAddr,
    pub www: Option<PathBuf>,
    pub demo_cameras: Vec<DemoCameraConfig>,
}

impl RelayConfig {
    /// The demo setup: one demo camera, `demo`, at 1280x720 30 fps.
    pub fn demo(listen: SocketAddr, www: Option<PathBuf>) -> RelayConfig {
        RelayConfig {
            listen,
            www,
            demo_cameras: vec![DemoCameraConfig {
                id: "demo".into(),
                name: "Demo camera".into(),
                options: DemoOptions::default(),
            }],
        }
    }
}

impl From<Cli> for RelayConfig {
    fn from(cli: Cli) -> RelayConfig {
        // No cameras configured yet (RTSP comes with its own config): the demo camera.
        RelayConfig::demo(cli.listen, cli.www)
    }
}
