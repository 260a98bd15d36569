//! The relay's configuration: the command line, the TOML config file, and the
//! one [`RelayConfig`] the server starts from.
//!
//! Precedence: command-line flags (and their environment variables) over the
//! file; cameras from `--camera` are added to the file's. With no camera at all
//! the relay runs the built-in demo camera.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use serde::Deserialize;
use url::Url;

use crate::ingest::demo::replay::ReplayOptions;
use crate::ingest::demo::DemoOptions;

mod cli;
pub(crate) mod file;

use cli::parse_size;
pub use cli::{Cli, Command, TlsMode, UserCommand};
use file::{camera_arg, file_camera, read_file, FileConfig, FileTls};

use crate::alerts::AlertsConfig;
use crate::tls::names::TlsName;

/// Where the relay listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// How RTP travels from the camera.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Interleaved in the RTSP TCP connection: works through NAT and firewalls.
    #[default]
    Tcp,
    /// Separate UDP ports: less latency on a clean LAN, no retransmission.
    Udp,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        })
    }
}

/// An RTSP camera: where it is and how to log in.
#[derive(Clone, PartialEq, Eq)]
pub struct RtspSource {
    /// The stream URL, without credentials.
    pub url: Url,
    pub username: Option<String>,
    pub password: Option<String>,
    pub transport: Transport,
}

impl fmt::Debug for RtspSource {
    // Never print the password, not even in a debug log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RtspSource")
            .field("url", &self.url.as_str())
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("transport", &self.transport)
            .finish()
    }
}

/// Where a camera's video comes from.
#[derive(Debug, Clone)]
pub enum Source {
    Demo(DemoOptions),
    Rtsp(RtspSource),
    /// A recorded H.264 clip, looped (benchmarks, trying the relay offline).
    Replay(ReplayOptions),
}

/// One camera as the relay runs it.
#[derive(Debug, Clone)]
pub struct CameraConfig {
    pub id: String,
    pub name: String,
    pub source: Source,
    /// The camera's substream (`substream`), for small tiles and slow decoders.
    pub substream: Option<RtspSource>,
    /// Motion detection by the relay (`[camera.motion]`), off when `None`.
    pub motion: Option<MotionSettings>,
    /// The camera's ONVIF service, for its own events.
    pub onvif: Option<OnvifSource>,
    /// Its PTZ (through `onvif`; a demo camera's is virtual).
    pub ptz: PtzSettings,
}

/// A camera's PTZ: `ptz`, `ptz_profile`, `ptz_stop`, `ptz_timeout`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PtzSettings {
    /// `None`: on when the camera's ONVIF service offers PTZ; demo cameras
    /// only with `Some(true)`.
    pub enabled: Option<bool>,
    /// The media profile (token or name) whose PTZ to drive; `None`: the
    /// first with a PTZ configuration.
    pub profile: Option<String>,
    /// Quirks pinned by the administrator; `None`: detected.
    pub quirks: Option<sightline_onvif::ptz::Quirks>,
}

impl CameraConfig {
    /// A camera with no alert sources of its own.
    pub fn new(id: impl Into<String>, name: impl Into<String>, source: Source) -> CameraConfig {
        CameraConfig {
            id: id.into(),
            name: name.into(),
            source,
            substream: None,
            motion: None,
            onvif: None,
            ptz: PtzSettings::default(),
        }
    }
}

/// `[camera.motion]`: the detector's settings, and where to decode from.
#[derive(Debug, Clone)]
pub struct MotionSettings {
    pub detector: sightline_motion::MotionConfig,
    /// A stream to analyse other than the camera's; `None`: its substream
    /// if it has one, else its main stream.
    pub detect_url: Option<RtspSource>,
}

/// A camera's ONVIF device service, for its events.
#[derive(Clone, PartialEq, Eq)]
pub struct OnvifSource {
    /// `http://host/onvif/device_service`.
    pub url: Url,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Topics besides the default motion ones (line crossing, tamper…).
    pub topics: Vec<String>,
}

impl OnvifSource {
    /// The ONVIF client for this camera (events and PTZ alike).
    pub fn camera(&self) -> Result<sightline_onvif::Camera, sightline_onvif::ClientError> {
        sightline_onvif::Camera::new(
            self.url.as_str(),
            self.username.as_deref().unwrap_or(""),
            self.password.as_deref().unwrap_or(""),
        )
    }
}

impl fmt::Debug for OnvifSource {
    // Never print the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnvifSource")
            .field("url", &self.url.as_str())
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("topics", &self.topics)
            .finish()
    }
}

/// Everything the relay starts from.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    pub listen: SocketAddr,
    pub www: Option<PathBuf>,
    pub cameras: Vec<CameraConfig>,
    /// The data directory: the database and TLS material. `None` (tests and
    /// benchmarks only) runs without a database, which needs auth disabled.
    pub data: Option<PathBuf>,
    pub auth: AuthConfig,
    /// HTTPS instead of HTTP (`None`: plain HTTP).
    pub tls: Option<TlsConfig>,
    /// `[alerts]`: retention, clips, camera health, severities.
    pub alerts: AlertsConfig,
    /// `[mqtt]`: alerts to an MQTT broker.
    pub mqtt: Option<crate::alerts::mqtt::Broker>,
    /// `[ptz] lease_seconds`: how long PTZ control stays with an operator
    /// after their last command.
    pub ptz_lease: std::time::Duration,
    /// `[cluster]`: relays cooperating through NATS (`None`: this relay alone).
    pub cluster: Option<sightline_cluster::ClusterConfig>,
}

/// Serving HTTPS (`--tls…` flags, `[tls]` in the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    pub certificate: TlsCertificate,
    /// Also listen here with plain HTTP, redirecting every request to HTTPS.
    pub http_redirect: Option<SocketAddr>,
}

/// Where the relay's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsCertificate {
    /// The operator's PEM files, re-read whenever they change.
    Files { cert: PathBuf, key: PathBuf },
    /// Issued by the relay's own CA (made once in the data directory) for
    /// these names; empty: `localhost`, the host name and the machine's addresses.
    SelfSigned { names: Vec<TlsName> },
}

/// Who may come in (`[auth]` in the file).
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `false`: everyone who reaches the port may do everything, as before
    /// accounts existed (closed networks, demos). Warned about at every start.
    pub enabled: bool,
    /// Origins (`https://shop.example`) whose pages may open the WebSocket
    /// with a ticket, besides the relay's own.
    pub embed_origins: Vec<String>,
    /// Reverse proxies whose `X-Forwarded-For` is believed for the client's
    /// address (login rate limits, the audit log).
    pub trusted_proxies: Vec<IpNet>,
    /// Host names the relay answers to while auth is off, besides its
    /// addresses, `localhost` and this machine's name (see `auth::hosts`):
    /// `name`, `*.domain` or `*` (any: no protection from DNS rebinding).
    pub hosts: Vec<String>,
    /// How long a sign-in lasts.
    pub session_secs: i64,
    /// A bearer token that lets a scraper read `/metrics` (else admins only).
    pub metrics_token: Option<sightline_store::Secret>,
}

impl AuthConfig {
    /// Auth off: tests and benchmarks of everything but auth.
    pub fn disabled() -> AuthConfig {
        AuthConfig {
            enabled: false,
            ..AuthConfig::default()
        }
    }
}

impl Default for AuthConfig {
    fn default() -> AuthConfig {
        AuthConfig {
            enabled: true,
            embed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            hosts: Vec::new(),
            session_secs: DEFAULT_SESSION_DAYS as i64 * 86_400,
            metrics_token: None,
        }
    }
}

/// How long a sign-in lasts unless `[auth] session_days` says otherwise.
pub const DEFAULT_SESSION_DAYS: u32 = 30;

/// A configuration that cannot be used, with what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("camera {id:?}: {why}")]
    Camera { id: String, why: String },
    #[error("--camera {arg:?}: {why}")]
    CameraArg { arg: String, why: String },
    #[error("two cameras have the id {0:?}")]
    DuplicateId(String),
    #[error("demo cameras: {0}")]
    Demo(String),
    #[error("[auth] {0}")]
    Auth(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("[alerts] {0}")]
    Alerts(String),
    #[error("[ptz] {0}")]
    Ptz(String),
    #[error("[mqtt] {0}")]
    Mqtt(String),
    #[error("[cluster] {0}")]
    Cluster(#[from] sightline_cluster::config::ConfigError),
    #[error(
        "no data directory: give --data DIR (or SIGHTLINE_DATA); neither XDG_DATA_HOME nor HOME is set"
    )]
    NoDataDir,
}

impl RelayConfig {
    /// Builds the configuration from the command line and the file it names.
    pub fn from_cli(cli: Cli) -> Result<RelayConfig, ConfigError> {
        let file = match &cli.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        RelayConfig::from_parts(cli, file)
    }

    /// A config file's text as the relay would take it with no flags but
    /// `--data /nonexistent` (so nothing is read from the environment):
    /// every check a start makes of the file, no I/O. For the fuzzer and
    /// for tools that check a file before deploying it.
    pub fn from_file_text(text: &str) -> Result<RelayConfig, ConfigError> {
        use clap::{CommandFactory as _, FromArgMatches as _};
        let matches = Cli::command()
            .mut_args(|a| a.env(None))
            .try_get_matches_from(["sightline-relay", "--data", "/nonexistent"])
            .map_err(|e| ConfigError::Auth(e.to_string()))?;
        let cli = Cli::from_arg_matches(&matches).map_err(|e| ConfigError::Auth(e.to_string()))?;
        let file = file::parse_file(text, std::path::Path::new("(text)"))?;
        RelayConfig::from_parts(cli, file)
    }

    fn from_parts(cli: Cli, file: FileConfig) -> Result<RelayConfig, ConfigError> {
        let mut cameras = Vec::new();
        for camera in file.cameras {
            if let Some(camera) = file_camera(camera)? {
                cameras.push(camera);
            }
        }
        for arg in &cli.cameras {
            cameras.push(camera_arg(arg)?);
        }
        let file_demo = file.demo.unwrap_or_default();
        let demo_size = match (cli.demo_size, &file_demo.size) {
            (Some(size), _) => Some(size),
            (None, Some(text)) => Some(parse_size(text).map_err(ConfigError::Demo)?),
            (None, None) => None,
        };
        let demo_fps = cli.demo_fps.or(file_demo.fps);
        if demo_fps.is_some_and(|fps| !(1..=60).contains(&fps)) {
            return Err(ConfigError::Demo("fps must be from 1 to 60".into()));
        }
        let mut demo = DemoOptions::default();
        if let Some((width, height)) = demo_size {
            (demo.width, demo.height) = (width, height);
        }
        if let Some(fps) = demo_fps {
            demo.fps = fps;
            demo.keyframe_every = fps * 2;
        }
        // Like a real camera: a 640x360 substream beside the 1280x720 picture
        // (small tiles play it); not beside pictures that are small already.
        demo.substream = file_demo.substream.unwrap_or(
            demo.width >= 1280 && demo.width.is_multiple_of(4) && demo.height.is_multiple_of(4),
        );
        // Demo cameras in files are written `demo = true`; they take the size too.
        for camera in &mut cameras {
            if let Source::Demo(options) = &mut camera.source {
                *options = demo.clone();
            }
        }
        cameras.extend(demo_cameras(
            cli.demo.or(file_demo.cameras).unwrap_or(0),
            &demo,
        ));
        let no_cameras_configured =
            cli.config.is_none() && cli.cameras.is_empty() && cli.demo.is_none();
        if no_cameras_configured {
            // The first run shows alerts too: an intruder crosses the
            // demo's doorway every 20 s, watched by motion detection.
            let mut camera = demo_cameras(1, &demo).remove(0);
            if let Source::Demo(options) = &mut camera.source {
                options.intruder_every = Some(std::time::Duration::from_secs(20));
            }
            camera.motion = Some(demo_motion());
            // And PTZ: the picture is a window on a larger scene, steered
            // from the page (the doorway stays put, so motion still
            // watches only it).
            camera.ptz.enabled = Some(true);
            cameras.push(camera);
        }
        let mut ids: Vec<&str> = cameras.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        if let Some(dup) = ids.windows(2).find(|w| w[0] == w[1]) {
            return Err(ConfigError::DuplicateId(dup[0].to_owned()));
        }
        let listen = cli.listen.or(file.listen).unwrap_or_else(|| {
            DEFAULT_LISTEN
                .parse()
                .expect("the default listen address parses")
        });
        let tls = tls_config(&cli, file.tls)?;
        let alerts = file.alerts.unwrap_or_default();
        alerts.validate().map_err(ConfigError::Alerts)?;
        let mqtt = match &file.mqtt {
            Some(m) => Some(m.broker().map_err(ConfigError::Mqtt)?),
            None => None,
        };
        let ptz_lease = match file.ptz.as_ref().and_then(|p| p.lease_seconds) {
            Some(secs) if !(5..=3600).contains(&secs) => {
                return Err(ConfigError::Ptz(
                    "lease_seconds must be from 5 to 3600".into(),
                ))
            }
            Some(secs) => std::time::Duration::from_secs(secs),
            None => crate::ptz::rules::LEASE,
        };
        if let Some(cluster) = &file.cluster {
            cluster.check()?;
        }
        let data = match cli.data.or(file.data) {
            Some(dir) => dir,
            None => default_data_dir().ok_or(ConfigError::NoDataDir)?,
        };
        Ok(RelayConfig {
            listen,
            www: cli.www.or(file.www),
            cameras,
            data: Some(data),
            auth: auth_config(file.auth.unwrap_or_default())?,
            tls,
            alerts,
            mqtt,
            ptz_lease,
            cluster: file.cluster,
        })
    }
}

/// TLS from the flags over the file's `[tls]`: the flags' certificate (files
/// or self-signed) replaces the file's, and `--tls off` turns the file's off.
fn tls_config(cli: &Cli, file: Option<FileTls>) -> Result<Option<TlsConfig>, ConfigError> {
    let fail = |why: &str| Err(ConfigError::Tls(why.to_owned()));
    let file = file.unwrap_or_default();
    let names = |texts: &[String]| -> Result<Vec<TlsName>, ConfigError> {
        let mut names: Vec<TlsName> = Vec::new();
        for text in texts {
            let name = TlsName::parse(text)
                .map_err(|why| ConfigError::Tls(format!("name {text:?}: {why}")))?;
            if !names.contains(&name) {
                names.push(name);
            }
        }
        Ok(names)
    };
    // The file's own certificate, checked whether or not a flag replaces it.
    let from_file = match (&file.cert, &file.key, file.self_signed.unwrap_or(false)) {
        (Some(_), Some(_), true) => {
            return fail("[tls] has both `cert`/`key` and `self_signed = true`: choose one")
        }
        (Some(cert), Some(key), false) => {
            if file.names.is_some() {
                return fail("[tls] `names` go with `self_signed = true`; a certificate from `cert` names its own hosts");
            }
            Some(TlsCertificate::Files {
                cert: cert.clone(),
                key: key.clone(),
            })
        }
        (Some(_), None, _) | (None, Some(_), _) => {
            return fail("[tls] `cert` and `key` go together: give both (PEM files)")
        }
        (None, None, true) => Some(TlsCertificate::SelfSigned {
            names: names(file.names.as_deref().unwrap_or_default())?,
        }),
        (None, None, false) => {
            if file.names.is_some() {
                return fail("[tls] `names` go with `self_signed = true`");
            }
            None
        }
    };
    let certificate = match (&cli.tls_cert, &cli.tls_key, cli.tls) {
        (_, _, Some(TlsMode::Off)) => None,
        (Some(cert), Some(key), _) => Some(TlsCertificate::Files {
            cert: cert.clone(),
            key: key.clone(),
        }),
        (_, _, Some(TlsMode::SelfSigned)) => Some(TlsCertificate::SelfSigned {
            names: if cli.tls_names.is_empty() {
                names(file.names.as_deref().unwrap_or_default())?
            } else {
                names(&cli.tls_names)?
            },
        }),
        _ => match from_file {
            Some(TlsCertificate::SelfSigned { .. }) if !cli.tls_names.is_empty() => {
                Some(TlsCertificate::SelfSigned {
                    names: names(&cli.tls_names)?,
                })
            }
            other => other,
        },
    };
    let off = cli.tls == Some(TlsMode::Off);
    let http_redirect = if off {
        cli.http_redirect
    } else {
        cli.http_redirect.or(file.http_redirect)
    };
    let self_signed = matches!(certificate, Some(TlsCertificate::SelfSigned { .. }));
    match certificate {
        _ if !cli.tls_names.is_empty() && !self_signed => fail(
            "--tls-name goes with --tls self-signed; a certificate from --tls-cert names its own hosts",
        ),
        None if http_redirect.is_some() && off => {
            fail("--http-redirect sends browsers to HTTPS, which --tls off turns off")
        }
        None if http_redirect.is_some() => fail(
            "--http-redirect (or [tls] http_redirect) needs TLS: --tls-cert and --tls-key, or --tls self-signed",
        ),
        None => Ok(None),
        Some(certificate) => Ok(Some(TlsConfig {
            certificate,
            http_redirect,
        })),
    }
}

/// `$XDG_DATA_HOME/sightline`, else `~/.local/share/sightline`.
pub fn default_data_dir() -> Option<PathBuf> {
    let non_empty = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    non_empty("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|home| PathBuf::from(home).join(".local/share")))
        .map(|dir| dir.join("sightline"))
}

fn auth_config(file: file::FileAuth) -> Result<AuthConfig, ConfigError> {
    let mut auth = AuthConfig::default();
    if let Some(enabled) = file.enabled {
        auth.enabled = enabled;
    }
    for origin in file.embed_origins {
        if origin == "*" {
            auth.embed_origins.push(origin);
            continue;
        }
        auth.embed_origins.push(
            crate::auth::origin::normalize(&origin)
                .map_err(|why| ConfigError::Auth(format!("embed_origins: {origin:?}: {why}")))?,
        );
    }
    for proxy in file.trusted_proxies {
        let net = proxy
            .parse::<IpNet>()
            .or_else(|_| proxy.parse::<std::net::IpAddr>().map(IpNet::from))
            .map_err(|_| {
                ConfigError::Auth(format!(
                    "trusted_proxies: {proxy:?} is neither an IP address nor a network like 10.0.0.0/8"
                ))
            })?;
        auth.trusted_proxies.push(net);
    }
    for host in file.hosts {
        if host.trim() == "*" {
            auth.hosts.push("*".into());
            continue;
        }
        // The certificate names' rules: labels, a wildcard only first and
        // over at least two labels (`*.com` would be every .com name).
        match TlsName::parse(&host) {
            Ok(TlsName::Dns(name)) => auth.hosts.push(name),
            Ok(TlsName::Ip(_)) => {} // addresses are always answered to
            Err(why) => {
                return Err(ConfigError::Auth(format!(
                    "hosts: {host:?}: {why} (like cams.example.com or *.example.com; * for any; no port)"
                )))
            }
        }
    }
    if let Some(days) = file.session_days {
        if !(1..=365).contains(&days) {
            return Err(ConfigError::Auth(
                "session_days must be from 1 to 365".into(),
            ));
        }
        auth.session_secs = i64::from(days) * 86_400;
    }
    if let Some(token) = file.metrics_token {
        if token.len() < 16 {
            return Err(ConfigError::Auth(
                "metrics_token must be at least 16 characters (make one with `openssl rand -hex 16`)".into(),
            ));
        }
        auth.metrics_token = Some(sightline_store::Secret::new(token));
    }
    Ok(auth)
}

/// Motion detection for a demo camera with an intruder: the doorway is the
/// zone, everything else (scrolling, a bouncing square, the clock) masked.
pub fn demo_motion() -> MotionSettings {
    use sightline_motion::{Mask, MotionConfig, Zone};
    let [x0, y0, x1, y1] = crate::ingest::demo::scene::DOORWAY;
    // A little inside the panel: its edges sit on moving background.
    let (ix0, iy0, ix1, iy1) = (x0 + 0.01, y0 + 0.01, x1 - 0.01, y1 - 0.01);
    let rect = |a: f32, b: f32, c: f32, d: f32| vec![[a, b], [c, b], [c, d], [a, d]];
    MotionSettings {
        detector: MotionConfig {
            zones: vec![Zone::new("doorway", rect(ix0, iy0, ix1, iy1))],
            masks: vec![
                Mask::new(rect(0.0, 0.0, 1.0, iy0)),
                Mask::new(rect(0.0, iy1, 1.0, 1.0)),
                Mask::new(rect(0.0, iy0, ix0, iy1)),
                Mask::new(rect(ix1, iy0, 1.0, iy1)),
            ],
            ..MotionConfig::default()
        },
        detect_url: None,
    }
}

/// `count` demo cameras: `demo` alone, or `demo-1` … `demo-N`. Each draws a
/// scene of its own (the hub gives each a channel, and the scene varies with it).
fn demo_cameras(count: u16, options: &DemoOptions) -> Vec<CameraConfig> {
    (1..=count)
        .map(|n| {
            let (id, name) = if count == 1 {
                ("demo".to_owned(), "Demo camera".to_owned())
            } else {
                (format!("demo-{n}"), format!("Demo camera {n}"))
            };
            CameraConfig::new(id, name, Source::Demo(options.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Parses a command line the way `main` does, minus the environment
    /// variables (the test runner's own SIGHTLINE_* must not leak in).
    fn cli(args: &[&str]) -> Cli {
        use clap::{CommandFactory, FromArgMatches};
        let command = Cli::command().mut_args(|a| a.env(None));
        let matches = command
            .try_get_matches_from(std::iter::once("sightline-relay").chain(args.iter().copied()))
            .expect("valid command line");
        Cli::from_arg_matches(&matches).expect("valid command line")
    }

    fn write(text: &str) -> tempfile_path::TempPath {
        tempfile_path::TempPath::with(text)
    }

    /// A config file in the system temp dir, removed on drop (no crate needed for this).
    mod tempfile_path {
        pub struct TempPath(pub std::path::PathBuf);
        impl TempPath {
            pub fn with(text: &str) -> TempPath {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let path = std::env::temp_dir().join(format!(
                    "sightline-config-{}-{}.toml",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::write(&path, text).expect("temp file");
                TempPath(path)
            }
        }
        impl Drop for TempPath {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn auth_hosts_are_host_names_or_star() {
        let hosts = |list: &str| {
            RelayConfig::from_file_text(&format!("[auth]\nenabled = false\nhosts = {list}\n"))
                .map(|c| c.auth.hosts)
        };
        assert_eq!(
            hosts(r#"["Cams.Example.com.", "*.site.example", "*", "10.0.0.5"]"#).unwrap(),
            ["cams.example.com", "*.site.example", "*"]
        );
        for bad in [
            r#"["*.."]"#,
            r#"["*.com"]"#,
            r#"["cams.example.com:8080"]"#,
            r#"["a/b"]"#,
            r#"[""]"#,
        ] {
            let err = hosts(bad).expect_err(bad).to_string();
            assert!(err.contains("hosts:"), "{bad}: {err}");
        }
    }

    #[test]
    fn no_configuration_means_the_demo_camera() {
        let config = RelayConfig::from_cli(cli(&[])).unwrap();
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.cameras.len(), 1);
        let Source::Demo(demo) = &config.cameras[0].source else {
            panic!("demo")
        };
        assert!(demo.substream, "1280x720 with a substream, as cameras have");
        let small = RelayConfig::from_cli(cli(&["--demo", "2", "--demo-size", "640x360"])).unwrap();
        let Source::Demo(demo) = &small.cameras[0].source else {
            panic!("demo")
        };
        assert!(!demo.substream, "small pictures have none");
        let file = write("[demo]\ncameras = 1\nsubstream = false\n");
        let off = RelayConfig::from_cli(cli(&["--config", file.0.to_str().unwrap()])).unwrap();
        let Source::Demo(demo) = &off.cameras[0].source else {
            panic!("demo")
        };
        assert!(!demo.substream);
    }

    #[test]
    fn the_full_example_file_parses() {
        let file = write(
            r#"
listen = "0.0.0.0:9000"
www = "/srv/sightline/www"

[[camera]]
id = "front-door"
name = "Front door"
url = "rtsp://192.168.1.20:554/Streaming/Channels/101"
username = "viewer"
password = "s3cret"
transport = "udp"

[[camera]]
id = "garage"
url = "rtsp://admin:p%40ss@192.168.1.21/stream1"
substream = "rtsp://192.168.1.21/stream2"

[[camera]]
id = "old"
url = "rtsp://192.168.1.22/stream1"
enabled = false

[[camera]]
id = "lobby-demo"
name = "Lobby (demo)"
demo = true

[[camera]]
id = "clip"
file = "/srv/clips/yard.h264"
fps = 25
"#,
        );
        let path = file.0.to_str().unwrap();
        let config = RelayConfig::from_cli(cli(&["--config", path])).unwrap();
        assert_eq!(config.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(config.www, Some(PathBuf::from("/srv/sightline/www")));
        let ids: Vec<&str> = config.cameras.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["front-door", "garage", "lobby-demo", "clip"]);
        let Source::Replay(clip) = &config.cameras[3].source else {
            panic!("replay")
        };
        assert_eq!(
            (clip.path.as_path(), clip.fps),
            (Path::new("/srv/clips/yard.h264"), 25)
        );
        let Source::Rtsp(front) = &config.cameras[0].source else {
            panic!("rtsp")
        };
        assert_eq!(front.transport, Transport::Udp);
        assert_eq!(front.username.as_deref(), Some("viewer"));
        assert_eq!(front.password.as_deref(), Some("s3cret"));
        let Source::Rtsp(garage) = &config.cameras[1].source else {
            panic!("rtsp")
        };
        assert_eq!(garage.url.as_str(), "rtsp://192.168.1.21/stream1");
        assert_eq!(garage.username.as_deref(), Some("admin"));
        assert_eq!(garage.password.as_deref(), Some("p@ss"));
        assert_eq!(garage.transport, Transport::Tcp);
        assert!(
            !format!("{garage:?}").contains("p@ss"),
            "Debug hides the password"
        );
        assert_eq!(config.cameras[1].name, "garage");
        let sub = config.cameras[1].substream.as_ref().expect("substream");
        assert_eq!(sub.url.as_str(), "rtsp://192.168.1.21/stream2");
        assert_eq!(
            (sub.username.as_deref(), sub.password.as_deref()),
            (Some("admin"), Some("p@ss")),
            "the substream logs in like the main stream"
        );
        assert!(config.cameras[0].substream.is_none());
        assert!(matches!(config.cameras[2].source, Source::Demo(_)));

        // The command line wins over the file.
        let config =
            RelayConfig::from_cli(cli(&["--config", path, "--listen", "127.0.0.1:1"])).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:1");
    }

    #[test]
    fn quick_cameras_from_the_command_line() {
        let config = RelayConfig::from_cli(cli(&[
            "--camera",
            "Front Door #2=rtsp://u:p@cam.local:8554/live",
            "--camera",
            "Back=rtsp://cam2.local/live",
        ]))
        .unwrap();
        assert_eq!(
            config.cameras.len(),
            2,
            "no demo camera when cameras are given"
        );
        assert_eq!(config.cameras[0].id, "front-door-2");
        assert_eq!(config.cameras[0].name, "Front Door #2");
        let Source::Rtsp(src) = &config.cameras[0].source else {
            panic!("rtsp")
        };
        assert_eq!(src.url.as_str(), "rtsp://cam.local:8554/live");
        assert_eq!(
            (src.username.as_deref(), src.password.as_deref()),
            (Some("u"), Some("p"))
        );
    }

    #[test]
    fn many_demo_cameras_with_their_own_size() {
        let config =
            RelayConfig::from_cli(cli(&["--demo", "3", "--demo-size", "320x180"])).unwrap();
        let ids: Vec<&str> = config.cameras.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["demo-1", "demo-2", "demo-3"]);
        for camera in &config.cameras {
            let Source::Demo(options) = &camera.source else {
                panic!("demo")
            };
            assert_eq!((options.width, options.height, options.fps), (320, 180, 30));
        }
        // Besides real cameras, and from the file.
        let file = write("[demo]\ncameras = 2\nsize = \"640x360\"\nfps = 15\n");
        let config = RelayConfig::from_cli(cli(&[
            "--config",
            file.0.to_str().unwrap(),
            "--camera",
            "Door=rtsp://door/",
        ]))
        .unwrap();
        let ids: Vec<&str> = config.cameras.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["door", "demo-1", "demo-2"]);
        let Source::Demo(options) = &config.cameras[2].source else {
            panic!("demo")
        };
        assert_eq!(
            (
                options.width,
                options.height,
                options.fps,
                options.keyframe_every
            ),
            (640, 360, 15, 30)
        );
        // `--demo 0` with nothing else: no camera at all, as asked.
        assert!(RelayConfig::from_cli(cli(&["--demo", "0"]))
            .unwrap()
            .cameras
            .is_empty());
    }

    #[test]
    fn a_file_is_checked_from_its_text_alone() {
        let config = RelayConfig::from_file_text(
            "[[camera]]\nid = \"door\"\nurl = \"rtsp://u:p@10.0.0.5/s\"\n",
        )
        .unwrap();
        assert_eq!(config.cameras[0].id, "door");
        let err = RelayConfig::from_file_text("[[camera]]\nid = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("needs a `url`"), "{err}");
        assert!(RelayConfig::from_file_text("\u{0}[").is_err());
    }

    #[test]
    fn accounts_are_on_unless_the_file_says_otherwise() {
        let config = RelayConfig::from_cli(cli(&["--data", "/tmp/x"])).unwrap();
        assert!(config.auth.enabled);
        assert_eq!(config.data, Some(PathBuf::from("/tmp/x")));
        let file = write(
            r#"
data = "/srv/sightline"
[auth]
enabled = false
embed_origins = ["https://Shop.example:443", "http://kiosk.lan:8080"]
trusted_proxies = ["10.0.0.0/8", "127.0.0.1"]
session_days = 7
metrics_token = "0123456789abcdef0123"
"#,
        );
        let config = RelayConfig::from_cli(cli(&["--config", file.0.to_str().unwrap()])).unwrap();
        assert!(!config.auth.enabled);
        assert_eq!(config.data, Some(PathBuf::from("/srv/sightline")));
        assert_eq!(
            config.auth.embed_origins,
            ["https://shop.example", "http://kiosk.lan:8080"]
        );
        assert_eq!(config.auth.trusted_proxies.len(), 2);
        assert_eq!(config.auth.session_secs, 7 * 86_400);
        assert!(config.auth.metrics_token.is_some());
        assert!(!format!("{config:?}").contains("0123456789abcdef0123"));
    }

    #[test]
    fn tls_from_the_flags_and_the_file() {
        assert_eq!(RelayConfig::from_cli(cli(&[])).unwrap().tls, None);
        let config = RelayConfig::from_cli(cli(&[
            "--tls-cert",
            "/etc/ssl/cams.pem",
            "--tls-key",
            "/etc/ssl/cams.key",
            "--http-redirect",
            "0.0.0.0:80",
        ]))
        .unwrap();
        assert_eq!(
            config.tls,
            Some(TlsConfig {
                certificate: TlsCertificate::Files {
                    cert: "/etc/ssl/cams.pem".into(),
                    key: "/etc/ssl/cams.key".into(),
                },
                http_redirect: Some("0.0.0.0:80".parse().unwrap()),
            })
        );
        let config = RelayConfig::from_cli(cli(&[
            "--tls",
            "self-signed",
            "--tls-name",
            "cams.example.lan,192.168.1.20",
            "--tls-name",
            "CAMS.example.lan",
        ]))
        .unwrap();
        assert_eq!(
            config.tls.unwrap().certificate,
            TlsCertificate::SelfSigned {
                names: vec![
                    TlsName::Dns("cams.example.lan".into()),
                    TlsName::Ip("192.168.1.20".parse().unwrap()),
                ]
            }
        );
        // Empty names: the defaults, worked out at start.
        let config = RelayConfig::from_cli(cli(&["--tls", "self-signed"])).unwrap();
        assert_eq!(
            config.tls.unwrap().certificate,
            TlsCertificate::SelfSigned { names: vec![] }
        );

        let file = write(
            r#"
[tls]
self_signed = true
names = ["nvr.local", "fd00::5"]
http_redirect = "0.0.0.0:8081"
"#,
        );
        let path = file.0.to_str().unwrap();
        let tls = RelayConfig::from_cli(cli(&["--config", path]))
            .unwrap()
            .tls
            .unwrap();
        assert_eq!(
            tls.certificate,
            TlsCertificate::SelfSigned {
                names: vec![
                    TlsName::Dns("nvr.local".into()),
                    TlsName::Ip("fd00::5".parse().unwrap())
                ]
            }
        );
        assert_eq!(tls.http_redirect, Some("0.0.0.0:8081".parse().unwrap()));
        // Flags win: their names, their certificate, or no TLS at all.
        let tls = RelayConfig::from_cli(cli(&["--config", path, "--tls-name", "other.lan"]))
            .unwrap()
            .tls
            .unwrap();
        assert_eq!(
            tls.certificate,
            TlsCertificate::SelfSigned {
                names: vec![TlsName::Dns("other.lan".into())]
            }
        );
        let tls = RelayConfig::from_cli(cli(&[
            "--config",
            path,
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
        ]))
        .unwrap()
        .tls
        .unwrap();
        assert!(matches!(tls.certificate, TlsCertificate::Files { .. }));
        assert_eq!(tls.http_redirect, Some("0.0.0.0:8081".parse().unwrap()));
        let config = RelayConfig::from_cli(cli(&["--config", path, "--tls", "off"])).unwrap();
        assert_eq!(config.tls, None);

        let file = write("[tls]\ncert = \"/c.pem\"\nkey = \"/k.pem\"\n");
        let tls = RelayConfig::from_cli(cli(&["--config", file.0.to_str().unwrap()]))
            .unwrap()
            .tls
            .unwrap();
        assert_eq!(
            tls.certificate,
            TlsCertificate::Files {
                cert: "/c.pem".into(),
                key: "/k.pem".into()
            }
        );
    }

    #[test]
    fn tls_mistakes_are_named() {
        let err = |args: &[&str]| RelayConfig::from_cli(cli(args)).unwrap_err().to_string();
        assert!(err(&["--http-redirect", "0.0.0.0:80"]).contains("needs TLS"));
        assert!(err(&["--tls-name", "cams.lan"]).contains("--tls self-signed"));
        assert!(err(&["--tls", "self-signed", "--tls-name", "a b"]).contains("\"a b\""));
        assert!(err(&["--tls", "off", "--http-redirect", "0.0.0.0:80"]).contains("--tls off"));
        for (text, expect) in [
            ("[tls]\ncert = \"/c.pem\"\n", "go together"),
            (
                "[tls]\ncert = \"/c\"\nkey = \"/k\"\nself_signed = true\n",
                "choose one",
            ),
            (
                "[tls]\ncert = \"/c\"\nkey = \"/k\"\nnames = [\"x\"]\n",
                "`names` go with",
            ),
            ("[tls]\nnames = [\"x\"]\n", "`names` go with"),
            ("[tls]\nhttp_redirect = \"0.0.0.0:80\"\n", "needs TLS"),
            ("[tls]\nself_signed = true\nnames = [\"-x\"]\n", "\"-x\""),
            (
                "[tls]\nself_signed = true\nhttp_redirect = \"nowhere\"\n",
                "http_redirect",
            ),
            ("[tls]\nself-signed = true\n", "self-signed"),
        ] {
            let file = write(text);
            let message = err(&["--config", file.0.to_str().unwrap()]);
            assert!(message.contains(expect), "{text:?} → {message}");
        }
        // clap refuses half a pair, and a pair with `--tls`.
        use clap::{CommandFactory, FromArgMatches as _};
        let parse = |args: &[&str]| {
            Cli::command()
                .mut_args(|a| a.env(None))
                .try_get_matches_from(
                    std::iter::once("sightline-relay").chain(args.iter().copied()),
                )
                .map(|m| Cli::from_arg_matches(&m))
        };
        assert!(parse(&["--tls-cert", "c.pem"]).is_err());
        assert!(parse(&["--tls-cert", "c", "--tls-key", "k", "--tls", "self-signed"]).is_err());
        assert!(parse(&["--tls", "sometimes"]).is_err());
    }

    #[test]
    fn a_cluster_table_joins_a_cluster_and_its_mistakes_are_named() {
        let config = RelayConfig::from_file_text(
            r#"
[cluster]
nats = ["nats://u:s3cret@nats-1:4222", "nats://nats-2:4222"]
node = "ingest-1"
role = "ingest"
"#,
        )
        .unwrap();
        let cluster = config.cluster.as_ref().expect("a cluster");
        assert_eq!(cluster.node, "ingest-1");
        assert_eq!(cluster.role, sightline_cluster::Role::Ingest);
        assert!(!format!("{config:?}").contains("s3cret"));
        assert!(RelayConfig::from_file_text("").unwrap().cluster.is_none());
        let err = RelayConfig::from_file_text("[cluster]\nnats = \"nats://x:1\"\nnode = \"a.b\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("[cluster] node:"), "{err}");
    }

    #[test]
    fn ptz_settings_and_quirk_pins() {
        let config = RelayConfig::from_file_text(
            r#"
[ptz]
lease_seconds = 60

[[camera]]
id = "dome"
url = "rtsp://h/"
onvif = "http://h/onvif/device_service"
ptz_profile = "Profile_2"
ptz_stop = "zero_velocity"

[[camera]]
id = "fixed"
url = "rtsp://h/"
onvif = "http://h/onvif/device_service"
ptz = false

[[camera]]
id = "virtual"
demo = true
ptz = true
"#,
        )
        .unwrap();
        assert_eq!(config.ptz_lease, std::time::Duration::from_secs(60));
        let dome = &config.cameras[0].ptz;
        assert_eq!(dome.enabled, None, "detected");
        assert_eq!(dome.profile.as_deref(), Some("Profile_2"));
        let quirks = dome.quirks.expect("pinned");
        assert_eq!(quirks.stop, sightline_onvif::ptz::StopStyle::ZeroVelocity);
        assert!(quirks.move_timeout, "what is not pinned keeps its default");
        assert_eq!(config.cameras[1].ptz.enabled, Some(false));
        assert_eq!(config.cameras[2].ptz.enabled, Some(true));
        // The first run's demo camera has a virtual PTZ.
        let demo = RelayConfig::from_cli(cli(&[])).unwrap();
        assert_eq!(demo.cameras[0].ptz.enabled, Some(true));
        assert_eq!(demo.ptz_lease, crate::ptz::rules::LEASE);
    }

    #[test]
    fn mistakes_are_named() {
        let err = |args: &[&str]| RelayConfig::from_cli(cli(args)).unwrap_err().to_string();
        assert!(err(&["--camera", "nourl"]).contains("NAME=rtsp://"));
        assert!(err(&["--camera", "a=http://x/"]).contains("rtsp://"));
        assert!(err(&["--camera", "a=rtsp://x/", "--camera", "A=rtsp://y/"]).contains("\"a\""));
        assert!(err(&["--config", "/nonexistent/sightline.toml"]).contains("cannot read"));
        assert!(err(&["--camera", "Demo=rtsp://x/", "--demo", "1"]).contains("\"demo\""));
        for (text, expect) in [
            ("[[camera]]\nid = \"x\"\n", "needs a `url`"),
            (
                "[[camera]]\nid = \"bad id\"\nurl = \"rtsp://h/\"\n",
                "letters, digits",
            ),
            (
                "[[camera]]\nid = \"x\"\nurl = \"rtsp://h/\"\ntransport = \"quic\"\n",
                "quic",
            ),
            (
                "[[camera]]\nid = \"x\"\nurl = \"rtsp://h/\"\npasword = \"typo\"\n",
                "pasword",
            ),
            ("listen = \"nowhere\"\n", "listen"),
            ("[demo]\nsize = \"641x360\"\n", "even"),
            (
                "[[camera]]\nid = \"x\"\nfile = \"a.h264\"\ndemo = true\n",
                "more than one",
            ),
            (
                "[[camera]]\nid = \"x\"\ndemo = true\nfps = 5\n",
                "`fps` goes with `file`",
            ),
            (
                "[[camera]]\nid = \"x\"\ndemo = true\nsubstream = \"rtsp://h/2\"\n",
                "`substream` goes with `url`",
            ),
            (
                "[[camera]]\nid = \"x\"\nurl = \"rtsp://h/\"\nsubstream = \"http://h/2\"\n",
                "substream: ",
            ),
            ("[demo]\nfps = 0\n", "1 to 60"),
            ("[demo]\ncamera = 2\n", "camera"),
            (
                "[auth]\nembed_origins = [\"shop.example\"]\n",
                "embed_origins",
            ),
            ("[auth]\nembed_origins = [\"https://x/path\"]\n", "no path"),
            ("[auth]\ntrusted_proxies = [\"proxy\"]\n", "trusted_proxies"),
            ("[auth]\nsession_days = 0\n", "session_days"),
            ("[auth]\nmetrics_token = \"short\"\n", "metrics_token"),
            ("[auth]\nenable = false\n", "enable"),
            (
                "[[camera]]\nid = \"x\"\nurl = \"rtsp://h/\"\nptz = true\n",
                "`ptz = true` needs `onvif`",
            ),
            (
                "[[camera]]\nid = \"x\"\nurl = \"rtsp://h/\"\nptz_stop = \"plain\"\n",
                "go with `onvif`",
            ),
            (
                "[[camera]]\nid = \"x\"\nurl = \"rtsp://h/\"\nonvif = \"http://h/onvif/device_service\"\nptz_stop = \"halt\"\n",
                "zero_velocity",
            ),
            ("[ptz]\nlease_seconds = 1\n", "[ptz] lease_seconds"),
        ] {
            let file = write(text);
            let message = err(&["--config", file.0.to_str().unwrap()]);
            assert!(message.contains(expect), "{text:?} → {message}");
        }
    }
}
