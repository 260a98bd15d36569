//! The TOML config file's shape, and turning its tables (and `--camera`
//! arguments) into cameras. Unknown keys are refused, so a typo is named
//! rather than ignored.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

use super::{
    CameraConfig, ConfigError, MotionSettings, OnvifSource, PtzSettings, RtspSource, Source,
    Transport,
};
use crate::ingest::demo::replay::ReplayOptions;
use crate::ingest::demo::DemoOptions;

/// The config file's shape.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub www: Option<PathBuf>,
    #[serde(default, rename = "camera")]
    pub cameras: Vec<FileCamera>,
    pub demo: Option<FileDemo>,
    /// The data directory (database, TLS material).
    pub data: Option<PathBuf>,
    pub auth: Option<FileAuth>,
    pub tls: Option<FileTls>,
    pub alerts: Option<crate::alerts::AlertsConfig>,
    pub mqtt: Option<crate::alerts::mqtt::MqttConfig>,
    pub ptz: Option<FilePtz>,
    pub cluster: Option<sightline_cluster::ClusterConfig>,
}

/// The file's `[ptz]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FilePtz {
    /// How long control stays with an operator after their last command.
    pub lease_seconds: Option<u64>,
}

/// The file's `[tls]` table: `cert` and `key`, or `self_signed = true`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileTls {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub self_signed: Option<bool>,
    pub names: Option<Vec<String>>,
    pub http_redirect: Option<SocketAddr>,
}

/// The file's `[auth]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileAuth {
    pub enabled: Option<bool>,
    #[serde(default)]
    pub embed_origins: Vec<String>,
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    #[serde(default)]
    pub hosts: Vec<String>,
    pub session_days: Option<u32>,
    pub metrics_token: Option<String>,
}

/// The file's `[demo]` table: how many built-in demo cameras, and their picture.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileDemo {
    pub cameras: Option<u16>,
    pub size: Option<String>,
    pub fps: Option<u32>,
    /// A half-size substream beside each demo camera (default: at 1280
    /// wide and more).
    pub substream: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileCamera {
    id: String,
    name: Option<String>,
    url: Option<String>,
    username: Option<String>,
    password: Option<String>,
    #[serde(default)]
    transport: Transport,
    #[serde(default = "yes")]
    enabled: bool,
    /// The built-in demo camera instead of an RTSP URL.
    #[serde(default)]
    demo: bool,
    /// A recorded H.264 clip (Annex B) to loop instead of an RTSP URL.
    file: Option<PathBuf>,
    /// The clip's frame rate.
    fps: Option<u32>,
    /// The camera's ONVIF device service (`http://host/onvif/device_service`),
    /// for its own events; it logs in with `username`/`password` unless
    /// `onvif_username`/`onvif_password` are given.
    onvif: Option<String>,
    onvif_username: Option<String>,
    onvif_password: Option<String>,
    /// ONVIF topics to alert on besides motion (`tns1:RuleEngine/LineDetector/Crossed`…).
    #[serde(default)]
    onvif_topics: Vec<String>,
    /// Motion detection by the relay; present (even empty) turns it on.
    motion: Option<sightline_motion::MotionConfig>,
    /// A lighter stream to run motion detection on (default: `substream`).
    detect_url: Option<String>,
    /// The camera's substream (a smaller picture of the same scene): grid
    /// tiles, small embeds and slow decoders play it.
    substream: Option<String>,
    /// PTZ through `onvif` (default: on when the camera offers it), or a
    /// demo camera's virtual PTZ (`demo = true`, `ptz = true`).
    ptz: Option<bool>,
    /// The media profile whose PTZ configuration to drive.
    ptz_profile: Option<String>,
    /// How Stop is said: `both_axes`, `plain` or `zero_velocity` (cameras
    /// without Stop); default: detected.
    ptz_stop: Option<String>,
    /// `false` for cameras that refuse a `Timeout` on moves; default: detected.
    ptz_timeout: Option<bool>,
}

fn yes() -> bool {
    true
}

pub(super) fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_file(&text, path)
}

/// A config file's text; `path` names it in errors.
pub(super) fn parse_file(text: &str, path: &Path) -> Result<FileConfig, ConfigError> {
    toml::from_str(text).map_err(|source| ConfigError::Parse {
        path: path.to_owned(),
        source: Box::new(source),
    })
}

/// One `[[camera]]` table; `None` when it is disabled.
pub(super) fn file_camera(c: FileCamera) -> Result<Option<CameraConfig>, ConfigError> {
    let fail = |why: String| ConfigError::Camera {
        id: c.id.clone(),
        why,
    };
    check_id(&c.id).map_err(fail)?;
    if !c.enabled {
        tracing::info!(camera = %c.id, "camera disabled in the config file");
        return Ok(None);
    }
    if c.fps.is_some() && c.file.is_none() {
        return Err(fail("`fps` goes with `file`".into()));
    }
    let source = match (c.demo, &c.url, &c.file) {
        (true, None, None) => Source::Demo(DemoOptions::default()),
        (false, Some(url), None) => {
            let (url, user, pass) = rtsp_url(url).map_err(fail)?;
            Source::Rtsp(RtspSource {
                url,
                username: c.username.clone().or(user),
                password: c.password.clone().or(pass),
                transport: c.transport,
            })
        }
        (false, None, Some(path)) => {
            let fps = c.fps.unwrap_or(30);
            if !(1..=120).contains(&fps) {
                return Err(fail("`fps` must be from 1 to 120".into()));
            }
            Source::Replay(ReplayOptions {
                path: path.clone(),
                fps,
            })
        }
        (false, None, None) => {
            return Err(fail("needs a `url` (or `demo = true`, or a `file`)".into()))
        }
        _ => {
            return Err(fail(
                "has more than one of `url`, `demo = true` and `file`".into(),
            ))
        }
    };
    // Same credentials as the main stream unless its URL carries its own.
    let (main_user, main_pass) = match &source {
        Source::Rtsp(main) => (main.username.clone(), main.password.clone()),
        _ => (c.username.clone(), c.password.clone()),
    };
    let sibling = |key: &str, url: &str| -> Result<RtspSource, ConfigError> {
        let (url, user, pass) = rtsp_url(url).map_err(|e| fail(format!("{key}: {e}")))?;
        Ok(RtspSource {
            url,
            username: user.or_else(|| main_user.clone()),
            password: pass.or_else(|| main_pass.clone()),
            transport: c.transport,
        })
    };
    let substream = match (&c.substream, &source) {
        (None, _) => None,
        (Some(url), Source::Rtsp(_)) => Some(sibling("substream", url)?),
        (Some(_), _) => {
            return Err(fail(
                "`substream` goes with `url` (a camera's RTSP main stream)".into(),
            ))
        }
    };
    if c.detect_url.is_some() && c.motion.is_none() {
        return Err(fail(
            "`detect_url` is the stream motion detection reads: add a [camera.motion] table to turn it on".into(),
        ));
    }
    let motion = match c.motion.clone() {
        Some(detector) => {
            sightline_motion::Detector::new(detector.clone())
                .map_err(|e| fail(format!("[camera.motion]: {e}")))?;
            let detect_url = match &c.detect_url {
                Some(url) => Some(sibling("detect_url", url)?),
                None => None,
            };
            Some(MotionSettings {
                detector,
                detect_url,
            })
        }
        None => None,
    };
    let onvif = match &c.onvif {
        Some(text) => {
            let mut url = Url::parse(text).map_err(|e| fail(format!("onvif: invalid URL: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(fail(
                    "onvif: expected http://host/onvif/device_service".into(),
                ));
            }
            let username = Some(url.username().to_owned()).filter(|u| !u.is_empty());
            let password = url.password().map(str::to_owned);
            let _ = url.set_username("");
            let _ = url.set_password(None);
            for topic in &c.onvif_topics {
                if topic.is_empty() || topic.chars().any(char::is_whitespace) {
                    return Err(fail(format!("onvif_topics: {topic:?} is not a topic")));
                }
            }
            Some(OnvifSource {
                url,
                username: c
                    .onvif_username
                    .clone()
                    .or(username)
                    .or_else(|| c.username.clone()),
                password: c
                    .onvif_password
                    .clone()
                    .or(password)
                    .or_else(|| c.password.clone()),
                topics: c.onvif_topics.clone(),
            })
        }
        None if !c.onvif_topics.is_empty() => {
            return Err(fail(
                "`onvif_topics` go with `onvif` (the device service URL)".into(),
            ))
        }
        None => None,
    };
    let ptz = ptz_settings(&c, &source, onvif.is_some()).map_err(fail)?;
    Ok(Some(CameraConfig {
        name: c.name.clone().unwrap_or_else(|| c.id.clone()),
        id: c.id,
        source,
        substream,
        motion,
        onvif,
        ptz,
    }))
}

/// `ptz`, `ptz_profile`, `ptz_stop`, `ptz_timeout`.
fn ptz_settings(c: &FileCamera, source: &Source, onvif: bool) -> Result<PtzSettings, String> {
    let demo = matches!(source, Source::Demo(_));
    let tuned = c.ptz_profile.is_some() || c.ptz_stop.is_some() || c.ptz_timeout.is_some();
    if c.ptz == Some(true) && !onvif && !demo {
        return Err("`ptz = true` needs `onvif` (the camera's device service URL); demo cameras have a virtual PTZ".into());
    }
    if tuned && !onvif {
        return Err(
            "`ptz_profile`, `ptz_stop` and `ptz_timeout` tune ONVIF PTZ: they go with `onvif`"
                .into(),
        );
    }
    let mut quirks = None;
    if c.ptz_stop.is_some() || c.ptz_timeout.is_some() {
        let mut q = sightline_onvif::ptz::Quirks::default();
        if let Some(name) = &c.ptz_stop {
            q.stop = sightline_onvif::ptz::StopStyle::from_name(name).ok_or_else(|| {
                format!(
                    "ptz_stop: {name:?} is not one of \"both_axes\", \"plain\", \"zero_velocity\""
                )
            })?;
        }
        if let Some(timeout) = c.ptz_timeout {
            q.move_timeout = timeout;
        }
        quirks = Some(q);
    }
    Ok(PtzSettings {
        enabled: c.ptz,
        profile: c.ptz_profile.clone(),
        quirks,
    })
}

/// `NAME=URL` from the command line.
pub(super) fn camera_arg(arg: &str) -> Result<CameraConfig, ConfigError> {
    let fail = |why: &str| ConfigError::CameraArg {
        arg: arg.to_owned(),
        why: why.to_owned(),
    };
    let (name, url) = arg
        .split_once('=')
        .ok_or_else(|| fail("expected NAME=rtsp://…"))?;
    let name = name.trim();
    let id = slug(name);
    if id.is_empty() {
        return Err(fail("the name needs at least one letter or digit"));
    }
    let (url, username, password) = rtsp_url(url.trim()).map_err(|why| fail(&why))?;
    Ok(CameraConfig::new(
        id,
        name,
        Source::Rtsp(RtspSource {
            url,
            username,
            password,
            transport: Transport::Tcp,
        }),
    ))
}

/// Parses an `rtsp://` URL and takes any credentials out of it (retina wants them
/// separately, and a URL is printed in logs).
fn rtsp_url(text: &str) -> Result<(Url, Option<String>, Option<String>), String> {
    let mut url = Url::parse(text).map_err(|e| format!("invalid URL: {e}"))?;
    if url.scheme() != "rtsp" {
        return Err(format!("expected an rtsp:// URL, got {}://", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| "credentials in the URL are not valid UTF-8".to_owned())
    };
    let username = Some(url.username())
        .filter(|u| !u.is_empty())
        .map(decode)
        .transpose()?;
    let password = url.password().map(decode).transpose()?;
    // Cannot fail for a URL with a host.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Ok((url, username, password))
}

/// Camera ids appear in URLs and element attributes: keep them plain.
pub(crate) fn check_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err("an id is 1 to 64 characters of letters, digits, '-', '_' or '.'".into())
    }
}

/// "Front Door #2" → "front-door-2".
fn slug(name: &str) -> String {
    let mut id = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c.to_ascii_lowercase());
        } else if !id.is_empty() && !id.ends_with('-') {
            id.push('-');
        }
    }
    id.trim_end_matches('-').chars().take(64).collect()
}
