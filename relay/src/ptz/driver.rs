//! What moves a camera: its ONVIF PTZ service ([`PtzCamera`]) or the demo
//! camera's [`VirtualHead`]. The controller speaks to both alike; each
//! call is one request to the camera (the ONVIF ones take a SOAP round
//! trip, which is why the controller never waits on them inline).

use std::sync::Arc;
use std::time::{Duration, Instant};

use sightline_onvif::ptz::Vector as OnvifVector;
use sightline_onvif::{ClientError, PtzCamera};
use sightline_wire::{PtzFeatures, PtzPosition, PtzPreset};

use super::head::VirtualHead;
use super::rules::{Command, MOVE_TIMEOUT};

/// The camera's PTZ, connected.
pub enum Driver {
    Onvif(Box<PtzCamera>),
    Virtual(Arc<VirtualHead>),
}

/// Why a command did not go through.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The camera said no (a SOAP fault): its own words.
    #[error("camera refused: {0}")]
    Refused(String),
    /// The camera could not be reached, or answered nonsense. What went
    /// wrong (its address, the credentials refused) is for the log only.
    #[error("the camera did not take the PTZ command (the relay's log says why)")]
    Failed(String),
}

impl DriverError {
    /// The whole story, for the log.
    pub fn detail(&self) -> &str {
        match self {
            DriverError::Refused(words) | DriverError::Failed(words) => words,
        }
    }
}

impl From<ClientError> for DriverError {
    fn from(e: ClientError) -> DriverError {
        match e {
            ClientError::Onvif(sightline_onvif::Error::Fault(fault)) => {
                DriverError::Refused(fault.to_string())
            }
            ClientError::NoFieldOfView => DriverError::Refused(e.to_string()),
            e => DriverError::Failed(e.to_string()),
        }
    }
}

impl Driver {
    /// What the camera offers (`control` left false: it is per user).
    pub fn features(&self) -> PtzFeatures {
        match self {
            Driver::Onvif(camera) => {
                let o = camera.options();
                // Cameras that answer GetConfigurationOptions with nothing
                // still take the generic spaces: offer the basics.
                let known = o.spaces_known();
                PtzFeatures {
                    control: false,
                    continuous: o.continuous() || !known,
                    zoom: o.zoom() || !known,
                    relative: o.relative(),
                    fov: o.fov().is_some(),
                    absolute: o.absolute(),
                    presets: true,
                    home: true,
                }
            }
            Driver::Virtual(_) => PtzFeatures {
                control: false,
                continuous: true,
                zoom: true,
                relative: true,
                fov: true,
                absolute: true,
                presets: true,
                home: true,
            },
        }
    }

    /// Whether a continuous move carries a `Timeout` (then the controller
    /// re-sends held moves before it ends).
    pub fn move_timeout(&self) -> bool {
        match self {
            Driver::Onvif(camera) => camera.quirks().move_timeout,
            Driver::Virtual(_) => true,
        }
    }

    /// Sends one command; true when it changed the presets.
    pub async fn execute(&self, command: &Command) -> Result<bool, DriverError> {
        match self {
            Driver::Onvif(camera) => onvif(camera, command).await,
            Driver::Virtual(head) => {
                let now = Instant::now();
                match command {
                    Command::Move(velocity) => head.continuous(*velocity, Some(MOVE_TIMEOUT), now),
                    Command::Stop => head.stop(now),
                    Command::Relative { vector, fov } => head.relative(*vector, *fov, now),
                    Command::Absolute(to) => head.absolute(
                        to.pan_tilt.map(|(p, _)| p),
                        to.pan_tilt.map(|(_, t)| t),
                        to.zoom,
                        now,
                    ),
                    Command::GotoPreset(token) => head
                        .goto_preset(token, now)
                        .map_err(|e| DriverError::Refused(e.to_string()))?,
                    Command::Home => head.home(now),
                    Command::SetPreset { name, token } => {
                        head.set_preset(name, token.as_deref(), now)
                            .map_err(|e| DriverError::Refused(e.to_string()))?;
                        return Ok(true);
                    }
                    Command::RemovePreset(token) => {
                        head.remove_preset(token, now)
                            .map_err(|e| DriverError::Refused(e.to_string()))?;
                        return Ok(true);
                    }
                }
                Ok(false)
            }
        }
    }

    pub async fn presets(&self) -> Result<Vec<PtzPreset>, DriverError> {
        let presets = match self {
            Driver::Onvif(camera) => camera
                .presets()
                .await?
                .into_iter()
                .map(|p| PtzPreset {
                    preset: p.token,
                    name: p.name,
                })
                .collect(),
            Driver::Virtual(head) => head
                .presets()
                .into_iter()
                .map(|(preset, name)| PtzPreset { preset, name })
                .collect(),
        };
        Ok(presets)
    }

    /// Where it points, when the camera says (GetStatus).
    pub async fn position(&self) -> Result<Option<PtzPosition>, DriverError> {
        match self {
            Driver::Onvif(camera) => {
                let p = camera.status().await?.position;
                let position = PtzPosition {
                    pan: p.pan.map(f64::from),
                    tilt: p.tilt.map(f64::from),
                    zoom: p.zoom.map(f64::from),
                };
                Ok(Some(position).filter(|p| *p != PtzPosition::default()))
            }
            Driver::Virtual(head) => {
                let v = head.view(Instant::now());
                Ok(Some(PtzPosition {
                    pan: Some(f64::from(v.pan)),
                    tilt: Some(f64::from(v.tilt)),
                    zoom: Some(f64::from(v.zoom)),
                }))
            }
        }
    }
}

async fn onvif(camera: &PtzCamera, command: &Command) -> Result<bool, DriverError> {
    let vector = |v: &super::rules::Vector| OnvifVector {
        pan: v.pan,
        tilt: v.tilt,
        zoom: v.zoom,
    };
    match command {
        Command::Move(velocity) => {
            let learnt = camera
                .continuous_move(
                    OnvifVector {
                        pan: velocity.pan,
                        tilt: velocity.tilt,
                        zoom: velocity.zoom,
                    },
                    MOVE_TIMEOUT,
                )
                .await?;
            if let Some(quirk) = learnt {
                tracing::info!(
                    ?quirk,
                    "PTZ: the camera refused a move's Timeout; moves go without it from now on"
                );
            }
        }
        Command::Stop => {
            if let Some(quirk) = camera.stop().await? {
                tracing::info!(
                    ?quirk,
                    "PTZ: the camera has no Stop; it is stopped with a zero-speed move from now on"
                );
            }
        }
        Command::Relative { vector: by, fov } => camera.relative_move(vector(by), *fov).await?,
        Command::Absolute(to) => camera.absolute_move(to.pan_tilt, to.zoom).await?,
        Command::GotoPreset(token) => camera.goto_preset(token).await?,
        Command::Home => camera.goto_home().await?,
        Command::SetPreset { name, token } => {
            camera.set_preset(name, token.as_deref()).await?;
            return Ok(true);
        }
        Command::RemovePreset(token) => {
            camera.remove_preset(token).await?;
            return Ok(true);
        }
    }
    Ok(false)
}

/// Waits between failed connection attempts: doubling from 1 s to a minute.
pub fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1 << failures.min(6)).min(Duration::from_secs(60))
}
