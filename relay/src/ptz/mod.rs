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

use sightline_onvif::PtzSetup;
use tokio::sync::watch;

use crate::config::RelayConfig;
use controller::Connect;
pub use controller::{Controller, SessionId};
use head::VirtualHead;

/// How long shutdown waits for the cameras' last Stops (a request may take
/// 3 s, and one may be in flight before it).
const JOIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(7);

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
                let device = match onvif.camera() {
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

    /// Waits for every controller to end after shutdown (each sends its
    /// last Stop first, if one is owed), for a few seconds at most.
    pub async fn join(&self) {
        let all = futures_util::future::join_all(self.controllers.values().map(|c| c.join()));
        if tokio::time::timeout(JOIN_TIMEOUT, all).await.is_err() {
            tracing::warn!("PTZ: a camera did not answer its last Stop in time");
        }
    }

    /// Every controller, by camera id.
    pub fn controllers(&self) -> impl Iterator<Item = &Arc<Controller>> {
        self.controllers.values()
    }
}
