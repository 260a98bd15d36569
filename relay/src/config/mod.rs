//! The relay's configuration: the command line, the TOML config file, and the
//! one [`RelayConfig`] the server starts from.
//!
//! Precedence: command-line flags (and their environment variables) over the
//! file; cameras from `--camera` are added to the file's. With no camera at all
//! the relay runs the built-in demo camera.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use url::Url;

use crate::ingest::demo::replay::ReplayOptions;
use crate::ingest::demo::DemoOptions;

mod cli;
mod file;

use cli::parse_size;
pub use cli::Cli;
use file::{camera_arg, file_camera, read_file, FileConfig};

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
}

/// Everything the relay starts from.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    pub listen: SocketAddr,
    pub www: Option<PathBuf>,
    pub cameras: Vec<CameraConfig>,
}

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
}

impl RelayConfig {
    /// Builds the configuration from the command line and the file it names.
    pub fn from_cli(cli: Cli) -> Result<RelayConfig, ConfigError> {
        let file = match &cli.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
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
            cameras.extend(demo_cameras(1, &demo));
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
        Ok(RelayConfig {
            listen,
            www: cli.www.or(file.www),
            cameras,
        })
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
            CameraConfig {
                id,
                name,
                source: Source::Demo(options.clone()),
            }
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
    fn no_configuration_means_the_demo_camera() {
        let config = RelayConfig::from_cli(cli(&[])).unwrap();
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.cameras.len(), 1);
        assert!(matches!(config.cameras[0].source, Source::Demo(_)));
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
            ("[demo]\nfps = 0\n", "1 to 60"),
            ("[demo]\ncamera = 2\n", "camera"),
        ] {
            let file = write(text);
            let message = err(&["--config", file.0.to_str().unwrap()]);
            assert!(message.contains(expect), "{text:?} → {message}");
        }
    }
}
