//! PTZ: one controller per camera with a control lease and a dead-man stop
//! ([`rules`], pure), driving the camera through `sightline-onvif` or the
//! demo camera's virtual head ([`head`]). See [`controller`] for the task
//! and `docs/ptz.md` for the safety rules.

pub mod controller;
pub mod driver;
pub mod head;
pub mod rules;

use std::collections::HashMap;
use std::sync::Arc;

use sightline_onvif::{Camera, PtzSetup};
use tokio::sync::watch;

use crate::config::RelayConfig;
use controller::Connect;
pub use controller::{Controller, SessionId};
use head::VirtualHead;

/// The PTZ controllers, by camera id.
#[derive(Default)]
pub struct Ptz {
    controllers: HashMap<String, Arc<Controller>>,
}

impl Ptz {
    /// A controller for every camera with PTZ (ONVIF, unless `ptz = false`;
    /// the demo cameras' virtual heads in `heads`).
    pub fn start(
        config: &RelayConfig,
        heads: &HashMap<String, Arc<VirtualHead>>,
        shutdown: &watch::Receiver<bool>,
    ) -> Ptz {
        let mut controllers = HashMap::new();
        for camera in &config.cameras {
            let connect = if let Some(head) = heads.get(&camera.id) {
                Connect::Virtual(head.clone())
            } else if let (Some(onvif), true) = (&camera.onvif, camera.ptz.enabled != Some(false)) {
                let device = match Camera::new(
                    onvif.url.as_str(),
                    onvif.username.as_deref().unwrap_or(""),
                    onvif.password.as_deref().unwrap_or(""),
                ) {
                    Ok(device) => device,
                    Err(e) => {
                        tracing::error!(camera = %camera.id, "PTZ off: {e}");
                        continue;
                    }
                };
                Connect::Onvif {
                    camera: Box::new(device),
                    setup: PtzSetup {
                        profile: camera.ptz.profile.clone(),
                        quirks: camera.ptz.quirks,
                    },
                    required: camera.ptz.enabled == Some(true),
                }
            } else {
                continue;
            };
            controllers.insert(
                camera.id.clone(),
                Controller::spawn(
                    camera.id.clone(),
                    connect,
                    config.ptz_lease,
                    shutdown.clone(),
                ),
            );
        }
        Ptz { controllers }
    }

    pub fn get(&self, camera: &str) -> Option<&Arc<Controller>> {
        self.controllers.get(camera)
    }

    /// Every controller, by camera id.
    pub fn controllers(&self) -> impl Iterator<Item = &Arc<Controller>> {
        self.controllers.values()
    }
}
