//! The command line of `sightline-relay` (clap), each flag with its
//! environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// Command line of `sightline-relay`.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "Sightline relay: IP cameras to browsers over one WebSocket"
)]
pub struct Cli {
    /// TOML config file (see README: listen address, cameras, credentials).
    #[arg(long, env = "SIGHTLINE_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Address to listen on for HTTP and WebSocket [default: 127.0.0.1:8080].
    #[arg(long, env = "SIGHTLINE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory of the built web app (trunk's output) to serve.
    #[arg(long, env = "SIGHTLINE_WWW")]
    pub www: Option<PathBuf>,
    /// A camera, quickly: `--camera "Front door=rtsp://user:pass@10.0.0.5/stream1"`.
    /// Repeatable. The id is the name in lower case with dashes; credentials in
    /// the URL are taken out of it and sent only when the camera asks.
    #[arg(long = "camera", value_name = "NAME=URL")]
    pub cameras: Vec<String>,
    /// Run N built-in demo cameras (ids demo-1 … demo-N; `demo` when N is 1), each
    /// with a scene of its own, besides any configured cameras. 0: none.
    #[arg(long, env = "SIGHTLINE_DEMO", value_name = "N")]
    pub demo: Option<u16>,
    /// The demo cameras' picture size [default: 1280x720]; smaller sizes let a
    /// small machine encode many of them.
    #[arg(long, env = "SIGHTLINE_DEMO_SIZE", value_name = "WxH", value_parser = parse_size)]
    pub demo_size: Option<(usize, usize)>,
    /// The demo cameras' frame rate [default: 30].
    #[arg(long, env = "SIGHTLINE_DEMO_FPS", value_name = "FPS", value_parser = clap::value_parser!(u32).range(1..=60))]
    pub demo_fps: Option<u32>,
}

/// `640x360` → (640, 360): even sizes from 64x64 to 3840x2160 (what the demo's
/// encoder and scene take).
pub(super) fn parse_size(text: &str) -> Result<(usize, usize), String> {
    let (w, h) = text
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("{text:?}: expected WIDTHxHEIGHT, e.g. 640x360"))?;
    let parse = |v: &str| v.trim().parse::<usize>().ok();
    match (parse(w), parse(h)) {
        (Some(w), Some(h))
            if (64..=3840).contains(&w) && (64..=2160).contains(&h) && w % 2 == 0 && h % 2 == 0 =>
        {
            Ok((w, h))
        }
        _ => Err(format!(
            "{text:?}: width and height must be even, from 64x64 to 3840x2160"
        )),
    }
}
