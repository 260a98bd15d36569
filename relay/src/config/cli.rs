//! The command line of `sightline-relay` (clap), each flag with its
//! environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
    /// Directory for the relay's database (users, sessions, keys, audit log)
    /// and TLS material [default: $XDG_DATA_HOME/sightline, else
    /// ~/.local/share/sightline]. Created if missing, readable by its owner only.
    #[arg(long, env = "SIGHTLINE_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain (PEM, leaf first), with
    /// --tls-key. Both files are re-read when they change: no restart.
    #[arg(
        long,
        env = "SIGHTLINE_TLS_CERT",
        value_name = "PEM",
        requires = "tls_key",
        conflicts_with = "tls"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM: PKCS#8, RSA or EC) of --tls-cert.
    #[arg(
        long,
        env = "SIGHTLINE_TLS_KEY",
        value_name = "PEM",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// `self-signed`: HTTPS with a certificate from the relay's own CA, made
    /// once in the data directory (trust it from the page /ca); `off`: plain
    /// HTTP even if the config file has a [tls] table.
    #[arg(long, env = "SIGHTLINE_TLS", value_name = "MODE", value_enum)]
    pub tls: Option<TlsMode>,
    /// A host name or address the self-signed certificate is for; repeatable
    /// [default: localhost, the host name, HOST.local and this machine's addresses].
    #[arg(
        long = "tls-name",
        env = "SIGHTLINE_TLS_NAMES",
        value_name = "NAME",
        value_delimiter = ','
    )]
    pub tls_names: Vec<String>,
    /// With TLS: also listen here with plain HTTP and send every request to
    /// HTTPS (e.g. 0.0.0.0:80).
    #[arg(long, env = "SIGHTLINE_HTTP_REDIRECT", value_name = "ADDR")]
    pub http_redirect: Option<SocketAddr>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// `--tls MODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TlsMode {
    /// A certificate from the relay's own local CA (in the data directory).
    SelfSigned,
    /// No TLS, whatever the config file says.
    Off,
}

/// What to do instead of serving.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage users from the command line (for servers without a browser).
    #[command(subcommand)]
    User(UserCommand),
}

/// `sightline-relay user …`: works on the database in `--data`, also while
/// the relay runs (open sessions of a changed user are closed within seconds).
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. The password is read from stdin with `--password-stdin`,
    /// otherwise generated and printed once.
    Add {
        name: String,
        /// viewer (watch), operator (watch + PTZ) or admin (everything).
        #[arg(long, default_value = "viewer")]
        role: String,
        /// `*` for every camera, or camera ids separated by commas.
        #[arg(long, default_value = "*")]
        cameras: String,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change a user's role, cameras or password (which signs them out everywhere).
    Set {
        name: String,
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        cameras: Option<String>,
        /// Read a new password from the first line of stdin.
        #[arg(long, conflicts_with = "new_password")]
        password_stdin: bool,
        /// Generate a new password and print it once.
        #[arg(long)]
        new_password: bool,
    },
    /// Remove a user (and their sessions).
    Remove { name: String },
    /// List the users: name, role, cameras.
    List,
    /// Print a ticket for a user's WebSocket (`hello`'s `ticket`), signed
    /// now: for scripts, load tests and checking an embed by hand. Its
    /// rights never exceed the user's; it ends when they change.
    Ticket {
        name: String,
        /// `*` or camera ids separated by commas (capped by the user's grant).
        #[arg(long, default_value = "*")]
        cameras: String,
        /// Seconds, from 1 to 3600.
        #[arg(long, default_value_t = sightline_ticket::DEFAULT_TTL_SECS)]
        ttl: i64,
        /// The origin of the page that will use it [default: the listen address];
        /// a client that sends no `Origin` may use any.
        #[arg(long)]
        audience: Option<String>,
    },
    /// Print a one-time sign-in link for a user (valid 15 minutes).
    Link {
        name: String,
        /// The address the browser will use [default: the listen address].
        #[arg(long)]
        base: Option<String>,
    },
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
