//! This relay as a node of a cluster (`[cluster]`, issue 17): for each
//! camera it has configured, a task that follows the camera's ownership
//! lease (`sightline_cluster::lease`) and does what the lease says:
//!
//! - **owner**: pulls the camera (the usual ingest), publishes its streams
//!   on NATS (`media.rs`) and its status in the camera directory;
//! - **follower** (another node owns it, or this node does not ingest):
//!   pulls nothing; receives the camera's streams from NATS while a viewer
//!   here watches, and shows the status the owner writes in the directory;
//! - **alone** (NATS unreachable for a lease): pulls the camera for this
//!   relay's viewers only.
//!
//! Alerts are raised where the camera is pulled (a relayed feed raises
//! none here).
//!
//! Cameras configured on other nodes only are found in the camera
//! directory ([`discover`]) and added to this relay's hub as they appear:
//! every node lists every camera of the cluster.
//!
//! Beside the cameras: the accounts one node manages, copied by the others
//! ([`accounts`]); every relay's alerts in every relay's history, their
//! files fetched from where they were recorded ([`alerts`]); PTZ steered
//! through the camera's owner ([`ptz`]).

pub mod accounts;
pub mod alerts;
pub mod media;
pub mod ptz;

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::kv;
use futures_util::StreamExt as _;
use sightline_cluster::directory::{self, Entry};
use sightline_cluster::subjects::token;
use sightline_cluster::{Cluster, Duty, Role};
use sightline_wire::CameraState;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::config::{RtspSource, Source};
use crate::hub::{Feed, Hub};
use crate::ingest::demo::DemoCamera;
use crate::ingest::rtsp;

/// One camera as this node has it configured.
pub struct Camera {
    pub main: Arc<Feed>,
    /// How this node pulls it; `None`: configured on other nodes only.
    pub source: Option<Source>,
    /// The substream's feed, when the camera has one.
    pub sub: Option<Arc<Feed>>,
    /// Its own RTSP source (a demo camera makes its substream itself).
    pub sub_source: Option<RtspSource>,
    /// How this node steers it while it owns it.
    pub ptz: Option<ptz::Steer>,
}

/// How long one request to NATS may take (NATS may be away: the client
/// then queues requests until it is back).
const NATS_WITHIN: Duration = Duration::from_secs(2);

/// Starts the task that runs `camera` as the cluster says, until `shutdown`.
pub fn run(
    cluster: Cluster,
    role: Role,
    camera: Camera,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(supervise(cluster, role, camera, shutdown))
}

/// The camera's pull while this node pulls it.
struct Pull {
    demo: Option<DemoCamera>,
    tasks: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl Pull {
    fn start(camera: &Camera) -> anyhow::Result<Pull> {
        let (stop, stopped) = watch::channel(false);
        let mut pull = Pull {
            demo: None,
            tasks: Vec::new(),
            stop,
        };
        match &camera.source {
            None => {}
            Some(Source::Demo(options)) => {
                let sub = camera.sub.clone().filter(|_| options.substream);
                pull.demo = Some(DemoCamera::start(
                    camera.main.clone(),
                    sub,
                    options.clone(),
                )?);
            }
            Some(Source::Replay(options)) => {
                pull.demo = Some(DemoCamera::replay(camera.main.clone(), options.clone())?);
            }
            Some(Source::Rtsp(rtsp)) => pull.tasks.push(rtsp::spawn(
                camera.main.clone(),
                rtsp.clone(),
                stopped.clone(),
            )),
        }
        if let (Some(feed), Some(source)) = (&camera.sub, &camera.sub_source) {
            pull.tasks
                .push(rtsp::spawn(feed.clone(), source.clone(), stopped.clone()));
        }
        Ok(pull)
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        if let Some(demo) = self.demo {
            // Its thread is joined: off the async threads.
            let _ = tokio::task::spawn_blocking(move || drop(demo)).await;
        }
    }
}

/// The tasks of one duty (publishing, or following), stopped together.
struct DutyTasks {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl DutyTasks {
    fn new() -> (DutyTasks, watch::Receiver<bool>) {
        let (stop, stopped) = watch::channel(false);
        (
            DutyTasks {
                stop,
                tasks: Vec::new(),
            },
            stopped,
        )
    }

    /// Starts a duty's tasks: `media` for each of the camera's streams,
    /// and `status` for the camera.
    fn start<M, S>(
        &mut self,
        cluster: &Cluster,
        camera: &Camera,
        stopped: &watch::Receiver<bool>,
        media: impl Fn(async_nats::Client, Arc<Feed>, watch::Receiver<bool>) -> M,
        status: impl FnOnce(Cluster, Arc<Feed>, Option<Arc<Feed>>, watch::Receiver<bool>) -> S,
    ) where
        M: std::future::Future<Output = ()> + Send + 'static,
        S: std::future::Future<Output = ()> + Send + 'static,
    {
        for feed in streams(camera) {
            let task = media(cluster.client().clone(), feed.clone(), stopped.clone());
            self.tasks.push(tokio::spawn(task));
        }
        let task = status(
            cluster.clone(),
            camera.main.clone(),
            camera.sub.clone(),
            stopped.clone(),
        );
        self.tasks.push(tokio::spawn(task));
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

fn streams(camera: &Camera) -> impl Iterator<Item = &Arc<Feed>> {
    std::iter::once(&camera.main).chain(camera.sub.iter())
}

async fn supervise(
    cluster: Cluster,
    role: Role,
    camera: Camera,
    mut shutdown: watch::Receiver<bool>,
) {
    let id = camera.main.id.clone();
    // A node that does not ingest follows every camera; the sender is kept
    // so the duty never "changes" by closing.
    let (_always_follow, follow_only) = watch::channel(Duty::Follow);
    let lease = (role.ingests() && camera.source.is_some()).then(|| cluster.keep(&id));
    let mut duty = lease.as_ref().map_or(follow_only, |l| l.duty());
    let mut pull: Option<Pull> = None;
    let mut current: Option<DutyTasks> = None;
    loop {
        let now = *duty.borrow_and_update();
        // Not knowing (NATS away for less than a lease) keeps a pull going:
        // a short outage does not reconnect every camera.
        let pulls =
            matches!(now, Duty::Own | Duty::Alone) || (now == Duty::Starting && pull.is_some());
        if let Some(tasks) = current.take() {
            tasks.stop().await;
        }
        if let Some(steer) = &camera.ptz {
            // Sessions steer through the owner (again).
            steer.ptz.add(&id, steer.sessions.clone());
        }
        if !pulls {
            if let Some(p) = pull.take() {
                p.stop().await;
                // What the camera showed here belongs to a pull that ended.
                for feed in streams(&camera) {
                    feed.end_of_stream();
                    feed.set_status(CameraState::Connecting);
                }
            }
        }
        for feed in streams(&camera) {
            feed.set_relayed(now == Duty::Follow);
        }
        if pulls && pull.is_none() {
            match Pull::start(&camera) {
                Ok(p) => pull = Some(p),
                Err(e) => warn!(camera = %id, "cannot start the camera: {e:#}"),
            }
        }
        let (mut tasks, stopped) = DutyTasks::new();
        let has_ptz = camera.ptz.is_some();
        match now {
            Duty::Own => {
                tasks.start(
                    &cluster,
                    &camera,
                    &stopped,
                    media::publish,
                    |c, m, s, st| write_status(c, m, s, has_ptz, st),
                );
                if let Some(steer) = &camera.ptz {
                    tasks.tasks.push(tokio::spawn(ptz::serve(
                        cluster.clone(),
                        id.clone(),
                        steer.clone(),
                        stopped.clone(),
                    )));
                }
            }
            Duty::Follow => tasks.start(&cluster, &camera, &stopped, media::follow, read_status),
            Duty::Alone => {
                // No NATS, no owner to steer through: this node's sessions
                // steer the camera it pulls for them, with the same rules.
                if let Some(steer) = &camera.ptz {
                    if let Some(connect) = (steer.make)() {
                        let local = crate::ptz::Controller::spawn_counting(
                            id.clone(),
                            connect,
                            steer.lease,
                            stopped.clone(),
                            steer.stats.clone(),
                        );
                        steer.ptz.add(&id, local.clone());
                        tasks
                            .tasks
                            .push(tokio::spawn(async move { local.join().await }));
                    }
                }
            }
            Duty::Starting => {}
        }
        current = Some(tasks);
        tokio::select! {
            changed = duty.changed() => if changed.is_err() { break },
            _ = shutdown.changed() => break,
        }
    }
    if let Some(tasks) = current.take() {
        tasks.stop().await;
    }
    if let Some(p) = pull.take() {
        p.stop().await;
    }
    if let Some(lease) = lease {
        lease.release().await;
    }
}

/// The owner's side of the directory: the camera's entry, written when its
/// status changes and at least every refresh.
async fn write_status(
    cluster: Cluster,
    main: Arc<Feed>,
    sub: Option<Arc<Feed>>,
    ptz: bool,
    mut stop: watch::Receiver<bool>,
) {
    let key = token(&main.id);
    let mut main_status = main.subscribe_status();
    let mut sub_status = sub.as_ref().map(|s| s.subscribe_status());
    let mut refresh = tokio::time::interval(directory::refresh(cluster.lease()));
    loop {
        let entry = Entry {
            node: cluster.node().to_owned(),
            name: main.name.clone(),
            status: main_status.borrow_and_update().clone(),
            substream: sub_status.as_mut().map(|s| s.borrow_and_update().clone()),
            ptz,
        };
        let value = serde_json::to_vec(&entry).unwrap_or_default();
        let written = tokio::time::timeout(NATS_WITHIN, async {
            let store = cluster.directory().await.map_err(|e| anyhow::anyhow!(e))?;
            store.put(&key, value.into()).await?;
            anyhow::Ok(())
        })
        .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => debug!(camera = %main.id, "directory: {e:#}"),
            Err(_) => debug!(camera = %main.id, "directory: no answer"),
        }
        let sub_changed = async {
            match sub_status.as_mut() {
                Some(s) => s.changed().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = main_status.changed() => {}
            _ = sub_changed => {}
            _ = refresh.tick() => {}
            _ = stop.changed() => return,
        }
    }
}

/// A follower's side of the directory: the status its owner writes, shown
/// on this relay's feeds; nobody's entry for a while means nobody pulls it.
async fn read_status(
    cluster: Cluster,
    main: Arc<Feed>,
    sub: Option<Arc<Feed>>,
    mut stop: watch::Receiver<bool>,
) {
    let key = token(&main.id);
    let gone_after = directory::max_age(cluster.lease());
    loop {
        let mut changes: Option<kv::Watch> = tokio::time::timeout(NATS_WITHIN, async {
            let store = cluster.directory().await.ok()?;
            store.watch_with_history(&key).await.ok()
        })
        .await
        .ok()
        .flatten();
        loop {
            let next = async {
                match changes.as_mut() {
                    Some(w) => tokio::time::timeout(gone_after, w.next()).await,
                    None => Ok(None),
                }
            };
            tokio::select! {
                change = next => match change {
                    Ok(Some(Ok(entry))) if entry.operation == kv::Operation::Put => {
                        match serde_json::from_slice::<Entry>(&entry.value).map(Entry::tidy) {
                            Ok(e) => {
                                main.set_status(e.status);
                                if let (Some(feed), Some(status)) = (&sub, e.substream) {
                                    feed.set_status(status);
                                }
                            }
                            Err(e) => debug!(camera = %main.id, "directory entry: {e}"),
                        }
                    }
                    Ok(Some(Ok(_))) => set_unowned(&main, sub.as_deref()),
                    // No entry written for its lifetime: nobody pulls it.
                    Err(_) => set_unowned(&main, sub.as_deref()),
                    // The watch ended (NATS away): made again.
                    Ok(_) => break,
                },
                _ = stop.changed() => return,
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
    }
}

fn set_unowned(main: &Feed, sub: Option<&Feed>) {
    main.set_status(directory::unowned());
    if let Some(sub) = sub {
        sub.set_status(directory::unowned());
    }
}

/// Cameras found in the directory at most (each costs a feed, a task and a
/// watch): more is a misconfigured or hostile cluster, not a bigger one.
const MAX_DISCOVERED: usize = 4096;

/// Adds the cameras of the directory that this relay does not have
/// configured, each followed like a camera another node owns, until
/// `shutdown`; then waits for their tasks.
pub async fn discover(
    cluster: Cluster,
    hub: Arc<Hub>,
    ptz: Arc<crate::ptz::Ptz>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut found: Vec<JoinHandle<()>> = Vec::new();
    let mut found_ids: std::collections::HashSet<String> = std::collections::HashSet::new();
    loop {
        let mut entries = tokio::time::timeout(NATS_WITHIN, async {
            let store = cluster.directory().await.ok()?;
            store.watch_all_from_revision(1).await.ok()
        })
        .await
        .ok()
        .flatten();
        while let Some(watch) = entries.as_mut() {
            let change = tokio::select! {
                change = watch.next() => change,
                _ = shutdown.changed() => None,
            };
            let Some(Ok(change)) = change else { break };
            if change.operation != kv::Operation::Put {
                continue;
            }
            let id = sightline_cluster::subjects::camera_of(&change.key);
            if hub.get(&id).is_some() {
                // Configured here, or found already; a found camera whose
                // owner now says it has PTZ gets its controls.
                if found_ids.contains(&id) && ptz.get(&id).is_none() {
                    let has_ptz =
                        serde_json::from_slice::<Entry>(&change.value).is_ok_and(|e| e.ptz);
                    if has_ptz {
                        ptz.add(&id, ptz::remote(cluster.clone(), &id, shutdown.clone()));
                    }
                }
                continue;
            }
            // What another node wrote is checked as a config file would be,
            // and must be the key a relay writes for that id.
            let checked = crate::config::file::check_id(&id).and_then(|()| {
                (token(&id) == change.key)
                    .then_some(())
                    .ok_or_else(|| "not a key a relay writes".to_owned())
            });
            if let Err(why) = checked {
                debug!(key = %change.key.chars().take(80).collect::<String>(), "directory entry ignored: {why}");
                continue;
            }
            if found.len() >= MAX_DISCOVERED {
                warn!(camera = %id, "directory entry ignored: {MAX_DISCOVERED} cameras found already");
                continue;
            }
            let Ok(entry) = serde_json::from_slice::<Entry>(&change.value).map(Entry::tidy) else {
                debug!(camera = %id, "directory entry that does not parse");
                continue;
            };
            match add_remote(&hub, &id, &entry) {
                Ok(camera) => {
                    tracing::info!(camera = %id, owner = %entry.node, "camera found in the cluster");
                    if entry.ptz {
                        ptz.add(&id, ptz::remote(cluster.clone(), &id, shutdown.clone()));
                    }
                    found.push(run(cluster.clone(), Role::Edge, camera, shutdown.clone()));
                    found_ids.insert(id);
                }
                Err(e) => warn!(camera = %id, "cannot add the cluster's camera: {e}"),
            }
        }
        if *shutdown.borrow() {
            break;
        }
        // The watch ended (NATS away) or could not start: again shortly.
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => break,
        }
    }
    for task in found {
        let _ = task.await;
    }
}

fn add_remote(hub: &Hub, id: &str, entry: &Entry) -> Result<Camera, crate::hub::HubError> {
    let main = hub.add_camera(id, &entry.name)?;
    main.set_status(entry.status.clone());
    let sub = match &entry.substream {
        Some(status) => {
            let sub = hub.add_substream(id)?;
            sub.set_status(status.clone());
            Some(sub)
        }
        None => None,
    };
    Ok(Camera {
        main,
        source: None,
        sub,
        sub_source: None,
        ptz: None,
    })
}
