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

/// How to reach a camera's PTZ, as often as needed (a cluster's owner
/// connects anew each time it takes a camera).
pub type MakeConnect = Arc<dyn Fn() -> Option<Connect> + Send + Sync>;

/// The PTZ controllers, by camera id (a cluster adds the cameras it finds).
#[derive(Default)]
pub struct Ptz {
    controllers: std::sync::RwLock<HashMap<String, Arc<Controller>>>,
}

impl Ptz {
    /// A controller for every camera with PTZ (ONVIF, unless `ptz = false`;
    /// the demo cameras' virtual heads in `heads`).
    pub fn start(
        config: &RelayConfig,
        heads: &HashMap<String, Arc<VirtualHead>>,
        shutdown: &watch::Receiver<bool>,
    ) -> Ptz {
        let ptz = Ptz::default();
        for (camera, make) in Ptz::connects(config, heads) {
            if let Some(connect) = make() {
                let controller =
                    Controller::spawn(camera.clone(), connect, config.ptz_lease, shutdown.clone());
                ptz.add(&camera, controller);
            }
        }
        ptz
    }

    /// How to reach each configured camera's PTZ (ONVIF, unless `ptz =
    /// false`; the demo cameras' virtual heads in `heads`).
    pub fn connects(
        config: &RelayConfig,
        heads: &HashMap<String, Arc<VirtualHead>>,
    ) -> Vec<(String, MakeConnect)> {
        let mut connects: Vec<(String, MakeConnect)> = Vec::new();
        for camera in &config.cameras {
            let make: MakeConnect = if let Some(head) = heads.get(&camera.id) {
                let head = head.clone();
                Arc::new(move || Some(Connect::Virtual(head.clone())))
            } else if let (Some(onvif), true) = (&camera.onvif, camera.ptz.enabled != Some(false)) {
                let (onvif, id) = (onvif.clone(), camera.id.clone());
                let setup = PtzSetup {
                    profile: camera.ptz.profile.clone(),
                    quirks: camera.ptz.quirks,
                };
                let required = camera.ptz.enabled == Some(true);
                Arc::new(move || match onvif.camera() {
                    Ok(device) => Some(Connect::Onvif {
                        camera: Box::new(device),
                        setup: setup.clone(),
                        required,
                    }),
                    Err(e) => {
                        tracing::error!(camera = %id, "PTZ off: {e}");
                        None
                    }
                })
            } else {
                continue;
            };
            connects.push((camera.id.clone(), make));
        }
        connects
    }

    /// Adds (or replaces) a camera's controller.
    pub fn add(&self, camera: &str, controller: Arc<Controller>) {
        self.controllers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(camera.to_owned(), controller);
    }

    pub fn get(&self, camera: &str) -> Option<Arc<Controller>> {
        self.controllers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(camera)
            .cloned()
    }

    /// Waits for every controller to end after shutdown (each sends its
    /// last Stop first, if one is owed), for a few seconds at most.
    pub async fn join(&self) {
        let controllers = self.controllers();
        let all = futures_util::future::join_all(controllers.iter().map(|c| c.join()));
        if tokio::time::timeout(JOIN_TIMEOUT, all).await.is_err() {
            tracing::warn!("PTZ: a camera did not answer its last Stop in time");
        }
    }

    /// Every controller.
    pub fn controllers(&self) -> Vec<Arc<Controller>> {
        self.controllers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }
}
