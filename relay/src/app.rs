//! The relay's lifecycle: start the camera sources and the listener, shut
//! everything down gracefully.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Extension;
use sightline_store::{CameraGrant, Role, Store};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::alerts::Alerts;
use crate::auth::Auth;
use crate::config::{RelayConfig, Source, TlsCertificate};
use crate::http::{self, AppState};
use crate::hub::{Feed, Hub};
use crate::ingest::demo::DemoCamera;
use crate::ingest::rtsp;
use crate::tls::names::TlsName;
use crate::tls::{self, TlsStatus};

/// A running relay.
pub struct Relay {
    addr: SocketAddr,
    hub: Arc<Hub>,
    alerts: Arc<Alerts>,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    demo_cameras: Vec<DemoCamera>,
    rtsp_cameras: Vec<JoinHandle<()>>,
    ptz: Arc<crate::ptz::Ptz>,
    first_run_link: Option<String>,
    tls: Option<RunningTls>,
}

/// The TLS side of a running relay.
struct RunningTls {
    status: watch::Receiver<TlsStatus>,
    /// The local CA's certificate (PEM) and fingerprint, with `--tls self-signed`.
    ca: Option<(String, String)>,
    task: JoinHandle<()>,
    redirect: Option<(SocketAddr, JoinHandle<std::io::Result<()>>)>,
}

/// How long a shutdown waits for HTTPS connections to finish their requests.
const TLS_DRAIN: Duration = Duration::from_secs(10);

/// The database file in the data directory.
pub const DATABASE_FILE: &str = "sightline.db";
/// How long the first start's sign-in link works.
pub const FIRST_RUN_LINK_SECS: i64 = 24 * 3600;

/// Opens (creating if need be) the data directory and its database.
pub fn open_store(dir: &Path) -> anyhow::Result<Store> {
    create_private_dir(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    Ok(Store::open(&dir.join(DATABASE_FILE))?)
}

/// Creates `dir` (and its parents) readable by its owner only.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// A one-time sign-in link for `user`: the token rides in the fragment, which
/// browsers never send, so it reaches no server or proxy log.
pub fn signin_link(base: &str, token: &str) -> String {
    format!("{}/login#token={token}", base.trim_end_matches('/'))
}

/// `http://HOST:PORT` for links printed at start (`localhost` when bound to
/// every address).
pub fn base_url(addr: SocketAddr, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    if addr.ip().is_unspecified() {
        format!("{scheme}://localhost:{}", addr.port())
    } else {
        format!("{scheme}://{addr}")
    }
}

/// With no user at all, creates `admin` (with a random password nobody is
/// told) and returns a one-time sign-in token for it.
fn first_run(store: &Store, now: i64) -> anyhow::Result<Option<sightline_store::Secret>> {
    if store.user_count()? > 0 {
        return Ok(None);
    }
    let password = sightline_store::password::generate()?;
    let admin = store.add_user("admin", Role::Admin, &CameraGrant::All, password.expose())?;
    store.audit(&sightline_store::AuditEntry {
        at: now,
        actor: None,
        action: "user.add".into(),
        target: Some("admin".into()),
        detail: Some("first start".into()),
        peer: None,
    })?;
    Ok(Some(store.create_signin_token(
        admin.id,
        now,
        FIRST_RUN_LINK_SECS,
    )?))
}

impl Relay {
    /// Binds the listen address, starts the cameras and serves.
    pub async fn start(config: RelayConfig) -> anyhow::Result<Relay> {
        let hub = Hub::default();
        let mut sources: Vec<(Arc<Feed>, Source)> = Vec::new();
        // Demo cameras with `ptz = true` show the window of a virtual head.
        let mut heads = std::collections::HashMap::new();
        for camera in &config.cameras {
            let mut source = camera.source.clone();
            if let (Source::Demo(options), Some(true)) = (&mut source, camera.ptz.enabled) {
                let head = Arc::new(crate::ptz::head::VirtualHead::default());
                options.head = Some(head.clone());
                heads.insert(camera.id.clone(), head);
            }
            let feed = hub.add_camera(&camera.id, &camera.name)?;
            if matches!(&source, Source::Demo(o) if o.substream) {
                hub.add_substream(&camera.id)?;
            }
            if let Some(sub) = &camera.substream {
                sources.push((hub.add_substream(&camera.id)?, Source::Rtsp(sub.clone())));
            }
            sources.push((feed, source));
        }
        let hub = Arc::new(hub);
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let tls = match &config.tls {
            Some(tls) => Some((
                tls::start(tls, config.data.as_deref(), shutdown_rx.clone()).await?,
                tls.http_redirect,
            )),
            None => None,
        };
        let store: Option<Arc<Store>> = match &config.data {
            Some(dir) => Some(Arc::new(open_store(dir)?)),
            None => None,
        };
        let accounts = config
            .cluster
            .as_ref()
            .map_or(sightline_cluster::Accounts::Own, |c| c.accounts());
        let accounts_copy_of = match &accounts {
            sightline_cluster::Accounts::CopyOf(node) => Some(node.clone()),
            _ => None,
        };
        if accounts != sightline_cluster::Accounts::Own && store.is_none() {
            anyhow::bail!("[cluster] accounts: sharing accounts needs a data directory (--data)");
        }
        let mut first_run_link = None;
        if config.auth.enabled {
            let store = store
                .as_ref()
                .context("auth is enabled: the relay needs a data directory")?;
            // A copy's first admin is the managing relay's.
            let first = match accounts_copy_of {
                Some(_) => None,
                None => first_run(store, sightline_store::unix_now())?,
            };
            if let Some(token) = first {
                first_run_link = Some(signin_link(&base_url(addr, tls.is_some()), token.expose()));
            }
        } else {
            tracing::warn!(
                "[auth] enabled = false: anyone who can reach {addr} sees every camera and may change everything"
            );
            if config.auth.embed_origins.iter().any(|o| o == "*") {
                tracing::warn!(
                    "[auth] enabled = false with embed_origins = [\"*\"]: any web site a viewer on this network opens can stream every camera through their browser"
                );
            }
            if config.auth.hosts.iter().any(|h| h == "*") {
                tracing::warn!(
                    "[auth] enabled = false with hosts = [\"*\"]: web sites can reach this relay through DNS rebinding"
                );
            }
        }
        // The self-signed certificate's names are the relay's (the default
        // ones, this machine's, are answered to anyway).
        let certificate_names: Vec<String> = match config.tls.as_ref().map(|t| &t.certificate) {
            Some(TlsCertificate::SelfSigned { names }) => names
                .iter()
                .filter(|n| matches!(n, TlsName::Dns(_)))
                .map(ToString::to_string)
                .collect(),
            _ => Vec::new(),
        };
        let auth = Auth::new(
            config.auth.clone(),
            store.clone(),
            tls.is_some(),
            &certificate_names,
            accounts_copy_of.clone(),
            shutdown_rx.clone(),
        )?;
        // Without a data directory (tests, benchmarks) alerts live in memory.
        let alert_store = match &store {
            Some(store) => store.clone(),
            None => Arc::new(Store::open_in_memory()?),
        };
        let alerts = Alerts::start(
            config.alerts.clone(),
            alert_store,
            config.data.as_deref(),
            hub.clone(),
            shutdown_rx.clone(),
        )?;
        if let Some(broker) = config.mqtt.clone() {
            tokio::spawn(crate::alerts::mqtt::run(
                broker,
                alerts.clone(),
                hub.clone(),
                shutdown_rx.clone(),
            ));
        }
        let offline_after = Duration::from_secs(config.alerts.offline_alert_after);
        for feed in hub.feeds() {
            // Clips are written to the data directory: without one, the
            // pre-roll (up to 12 MB a camera) would be kept for nothing.
            if config.alerts.clips && config.data.is_some() {
                feed.keep_preroll(sightline_media::PrerollConfig {
                    pre_roll: Duration::from_secs(config.alerts.pre_roll),
                    ..Default::default()
                });
            }
            tokio::spawn(crate::alerts::health::watch_camera(
                alerts.clone(),
                feed.clone(),
                offline_after,
                shutdown_rx.clone(),
            ));
        }
        let mut demo_cameras = Vec::new();
        let mut rtsp_cameras = Vec::new();
        for camera in &config.cameras {
            if let Some(onvif) = &camera.onvif {
                tokio::spawn(crate::alerts::onvif::run(
                    alerts.clone(),
                    camera.id.clone(),
                    onvif.clone(),
                    hub.get(&camera.id),
                    shutdown_rx.clone(),
                ));
            }
            let Some(motion) = &camera.motion else {
                continue;
            };
            let Some(feed) = hub.get(&camera.id) else {
                continue;
            };
            // A stream for detection alone is pulled like a camera of its
            // own, into a feed no viewer sees; else the substream (a tenth
            // of the main stream's pixels to decode, typically) or the
            // main stream.
            let analysed = match &motion.detect_url {
                None => hub.substream(&camera.id).unwrap_or(feed),
                Some(rtsp) if camera.substream.as_ref() == Some(rtsp) => {
                    hub.substream(&camera.id).unwrap_or(feed)
                }
                Some(rtsp) => {
                    let detect = Feed::standalone(&camera.id, &format!("{} (motion)", camera.name));
                    rtsp_cameras.push(rtsp::spawn(
                        detect.clone(),
                        rtsp.clone(),
                        shutdown_rx.clone(),
                    ));
                    detect
                }
            };
            tokio::spawn(crate::alerts::motion::run(
                alerts.clone(),
                camera.id.clone(),
                analysed,
                motion.detector.clone(),
                shutdown_rx.clone(),
            ));
        }
        // PTZ: controllers here; in a cluster, the owner's, reached through NATS.
        let ptz = Arc::new(match &config.cluster {
            None => crate::ptz::Ptz::start(&config, &heads, &shutdown_rx),
            Some(_) => crate::ptz::Ptz::default(),
        });
        if let Some(cluster) = &config.cluster {
            // The cluster decides which node pulls each camera.
            let node = sightline_cluster::Cluster::connect(cluster)
                .await
                .context("[cluster]")?;
            tracing::info!(node = cluster.node, role = ?cluster.role, servers = ?cluster.nats.urls().into_iter().map(sightline_cluster::config::redact).collect::<Vec<_>>(), "joining the cluster");
            // A camera's substream source comes before its main stream's.
            let (subs, mains): (Vec<_>, Vec<_>) = sources
                .into_iter()
                .partition(|(feed, _)| feed.stream == sightline_wire::Stream::Sub);
            let mut steer: std::collections::HashMap<String, crate::ptz::MakeConnect> =
                crate::ptz::Ptz::connects(&config, &heads)
                    .into_iter()
                    .collect();
            let mut cameras: Vec<crate::cluster::Camera> = Vec::new();
            for (feed, source) in mains {
                // Its sessions' controller is served by whichever node owns it.
                let ptz_steer = steer.remove(&feed.id).map(|make| {
                    let sessions =
                        crate::cluster::ptz::remote(node.clone(), &feed.id, shutdown_rx.clone());
                    ptz.add(&feed.id, sessions.clone());
                    crate::cluster::ptz::Steer {
                        make,
                        lease: config.ptz_lease,
                        stats: sessions.stats.clone(),
                        sessions,
                        ptz: ptz.clone(),
                    }
                });
                cameras.push(crate::cluster::Camera {
                    sub: hub.substream(&feed.id),
                    ptz: ptz_steer,
                    main: feed,
                    source: Some(source),
                    sub_source: None,
                });
            }
            for (feed, source) in subs {
                if let (Some(camera), Source::Rtsp(rtsp)) =
                    (cameras.iter_mut().find(|c| c.main.id == feed.id), source)
                {
                    camera.sub_source = Some(rtsp);
                }
            }
            for camera in cameras {
                rtsp_cameras.push(crate::cluster::run(
                    node.clone(),
                    cluster.role,
                    camera,
                    shutdown_rx.clone(),
                ));
            }
            rtsp_cameras.push(tokio::spawn(crate::cluster::discover(
                node.clone(),
                hub.clone(),
                ptz.clone(),
                shutdown_rx.clone(),
            )));
            // Alerts: this relay's out, the others' in, and its files served.
            alerts.join_cluster(node.clone());
            rtsp_cameras.push(tokio::spawn(crate::cluster::alerts::serve_media(
                node.clone(),
                alerts.clone(),
                shutdown_rx.clone(),
            )));
            if let Some(changes) = alerts.to_cluster() {
                rtsp_cameras.push(tokio::spawn(crate::cluster::alerts::publish(
                    node.clone(),
                    alerts.clone(),
                    changes,
                    shutdown_rx.clone(),
                )));
            }
            rtsp_cameras.push(tokio::spawn(crate::cluster::alerts::copy(
                node.clone(),
                alerts.clone(),
                shutdown_rx.clone(),
            )));
            if let Some(store) = &store {
                match accounts {
                    sightline_cluster::Accounts::Own => {}
                    sightline_cluster::Accounts::Publish => {
                        rtsp_cameras.push(tokio::spawn(crate::cluster::accounts::publish(
                            node.clone(),
                            store.clone(),
                            shutdown_rx.clone(),
                        )))
                    }
                    sightline_cluster::Accounts::CopyOf(from) => {
                        rtsp_cameras.push(tokio::spawn(crate::cluster::accounts::copy(
                            node.clone(),
                            store.clone(),
                            from,
                            shutdown_rx.clone(),
                        )))
                    }
                }
            }
            sources = Vec::new();
        }
        for (feed, source) in sources {
            match source {
                Source::Demo(options) => {
                    // Its substream comes from the same encoder thread.
                    let sub = match options.substream {
                        true => hub.substream(&feed.id),
                        false => None,
                    };
                    demo_cameras.push(
                        DemoCamera::start(feed, sub, options).context("starting a demo camera")?,
                    )
                }
                Source::Rtsp(rtsp) => {
                    rtsp_cameras.push(rtsp::spawn(feed, rtsp, shutdown_rx.clone()));
                }
                Source::Replay(options) => demo_cameras
                    .push(DemoCamera::replay(feed, options).context("starting a replay camera")?),
            }
        }
        let app = http::router(
            AppState {
                hub: hub.clone(),
                auth,
                alerts: alerts.clone(),
                ptz: ptz.clone(),
                shutdown: shutdown_rx.clone(),
            },
            config.www,
        );
        let mut stop = shutdown_rx.clone();
        let (server, tls) = match tls {
            None => {
                let server = tokio::spawn(
                    axum::serve(
                        listener,
                        app.into_make_service_with_connect_info::<SocketAddr>(),
                    )
                    .with_graceful_shutdown(async move {
                        let _ = stop.changed().await;
                    })
                    .into_future(),
                );
                (server, None)
            }
            Some((tls, http_redirect)) => {
                // `/ca.crt` and `/ca` read the local CA from here (404 without one).
                let app = match &tls.ca {
                    Some(ca) => app.layer(Extension(ca.clone())),
                    None => app,
                }
                .layer(axum::middleware::map_request(tls::host_from_authority));
                let handle = axum_server::Handle::new();
                let server = axum_server::Server::<SocketAddr>::from_listener(listener)
                    .acceptor(axum_server::tls_rustls::RustlsAcceptor::new(
                        tls.rustls.clone(),
                    ))
                    .handle(handle.clone());
                tokio::spawn(async move {
                    let _ = stop.changed().await;
                    handle.graceful_shutdown(Some(TLS_DRAIN));
                });
                let server = tokio::spawn(
                    server.serve(app.into_make_service_with_connect_info::<SocketAddr>()),
                );
                let redirect = match http_redirect {
                    Some(at) => {
                        Some(tls::serve_redirect(at, addr.port(), shutdown_rx.clone()).await?)
                    }
                    None => None,
                };
                let running = RunningTls {
                    status: tls.status,
                    ca: tls.ca.map(|ca| (ca.pem.clone(), ca.fingerprint.clone())),
                    task: tls.task,
                    redirect,
                };
                (server, Some(running))
            }
        };
        Ok(Relay {
            addr,
            hub,
            alerts,
            shutdown,
            server,
            demo_cameras,
            rtsp_cameras,
            ptz,
            first_run_link,
            tls,
        })
    }

    /// Whether the relay serves HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// With TLS: the certificate served now, and how its reloads went; it
    /// changes when a renewed certificate is swapped in.
    pub fn tls_status(&self) -> Option<watch::Receiver<TlsStatus>> {
        self.tls.as_ref().map(|t| t.status.clone())
    }

    /// With `--tls self-signed`: the local CA's certificate (PEM) and its
    /// SHA-256 fingerprint.
    pub fn local_ca(&self) -> Option<(&str, &str)> {
        let (pem, fingerprint) = self.tls.as_ref()?.ca.as_ref()?;
        Some((pem, fingerprint))
    }

    /// With `--http-redirect`: the address bound for it.
    pub fn redirect_addr(&self) -> Option<SocketAddr> {
        Some(self.tls.as_ref()?.redirect.as_ref()?.0)
    }

    /// On the very first start (an empty database): the one-time link that
    /// signs in as `admin`. Print it once; it is not kept anywhere.
    pub fn first_run_link(&self) -> Option<&str> {
        self.first_run_link.as_deref()
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// The alert engine (history, active alerts, signals).
    pub fn alerts(&self) -> &Arc<Alerts> {
        &self.alerts
    }

    /// Sends the intruder across demo camera `camera`'s doorway now; false
    /// when no such demo camera runs.
    pub fn intrude(&self, camera: &str) -> bool {
        match self.demo_cameras.iter().find(|c| c.id == camera) {
            Some(c) => {
                c.intrude();
                true
            }
            None => false,
        }
    }

    /// When demo camera `camera`'s intruder last began a walk (Unix ms of
    /// its first frame); `None` before the first or for other cameras.
    pub fn intruder_walked_at_ms(&self, camera: &str) -> Option<i64> {
        self.demo_cameras
            .iter()
            .find(|c| c.id == camera)
            .and_then(|c| c.intruder_walked_at_ms())
    }

    /// Closes every session, stops the cameras and waits for the server to end.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.server.await??;
        // Cameras a PTZ move may still be driving get their Stop.
        self.ptz.join().await;
        if let Some(tls) = self.tls {
            if let Some((_, redirect)) = tls.redirect {
                redirect.await??;
            }
            tls.task.await?;
        }
        for camera in self.rtsp_cameras {
            camera.await?;
        }
        let cameras = self.demo_cameras;
        tokio::task::spawn_blocking(move || drop(cameras)).await?;
        Ok(())
    }
}
