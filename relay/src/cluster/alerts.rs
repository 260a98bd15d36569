//! Alerts across the relays of a cluster (issue 17): an alert raised on
//! one relay rings on pages connected to any other, and is in every
//! relay's history.
//!
//! **Out:** every change of an alert raised here (start, update, end,
//! acknowledgement), and every acknowledgement made here of another
//! relay's alert, is published on `sightline.cam.<id>.alert`. A JetStream
//! stream ([`ALERTS_STREAM`]) keeps those subjects for the alerts'
//! retention, so the publisher waits for the stream's acknowledgement: a
//! change is either stored or retried (a bounded queue,
//! [`CLUSTER_QUEUE`](crate::alerts::CLUSTER_QUEUE), in between).
//!
//! **In:** every relay reads the stream with an ordered consumer from where
//! it stopped ([`Store::cursor`], written with each copy), applies each
//! other relay's change to its own history as a copy
//! ([`Store::copy_alert`]: an id of its own, the first end and the first
//! acknowledgement kept wherever made) and pushes it live to its sockets.
//! A new relay reads the whole stream: it starts with the cluster's
//! history. The history API, grants and retention then work unchanged.
//!
//! **Files:** snapshots and clips stay on the relay that recorded them
//! (disk budgets stay per relay, nothing is stored twice); a relay asked
//! for a copy's file fetches it from there in chunks ([`serve_media`],
//! [`fetch_media`]) and streams it on. While that relay is down, its files
//! are unavailable elsewhere (said so, 503).

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{consumer, stream};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use sightline_cluster::subjects::{camera_subject, ALERTS_STREAM, PREFIX};
use sightline_cluster::Cluster;
use sightline_store::{CopiedAlert, NewAlert, Store};
use sightline_wire::{AlertEvent, AlertInfo};
use tokio::sync::{mpsc, watch};
use tracing::{debug, error, warn};

use super::NATS_WITHIN;
use crate::alerts::{severity_to_store, AlertChange, Alerts};

/// The cursor of the stream in each relay's database, named after the
/// stream's creation: a stream made again (its NATS store lost) numbers
/// from 1 again and is read from its start.
fn cursor_name(created: time::OffsetDateTime) -> String {
    format!("cluster-alerts@{}", created.unix_timestamp_nanos())
}
/// Pause before trying NATS again.
const RETRY: Duration = Duration::from_secs(1);
/// Tries to store one change before it is given up (a minute).
const SEND_ATTEMPTS: u32 = 60;
/// How long a stopping relay still tries to send its last changes.
const DRAIN: Duration = Duration::from_secs(5);
/// The largest alert message: labels and messages are at most 1 KiB
/// each, zones a few dozen names.
const MAX_MESSAGE: i32 = 64 * 1024;

/// One change on the wire between relays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertMessage {
    /// The relay that sends it.
    pub from: String,
    /// The relay the alert was raised on, its database there (ids start
    /// again with a new one), and its id there.
    pub node: String,
    pub instance: String,
    pub id: i64,
    pub event: AlertEvent,
    /// As the sender has it (its `id` is the sender's own).
    pub alert: AlertInfo,
}

impl AlertMessage {
    /// The copy this message describes, as the store takes it.
    pub fn copy(&self) -> CopiedAlert {
        let a = &self.alert;
        CopiedAlert {
            node: self.node.clone(),
            instance: self.instance.clone(),
            id: self.id,
            alert: NewAlert {
                camera: a.camera.clone(),
                kind: a.kind.clone(),
                severity: severity_to_store(a.severity),
                started_at_ms: a.started_at_ms,
                zones: a.zones.clone(),
                score: a.score,
                area: a.area,
                label: Some(a.label.clone()),
                message: a.message.clone(),
            },
            ended_at_ms: a.ended_at_ms,
            acked_by: a.acked_by.clone(),
            acked_at: a.acked_at_ms,
            snapshot: a.snapshot,
            clip: a.clip,
        }
    }
}

/// The stream, made on first use by whichever relay comes first.
async fn stream(cluster: &Cluster, retention_days: u32) -> anyhow::Result<stream::Stream> {
    let js = cluster.jetstream();
    let made = tokio::time::timeout(
        NATS_WITHIN,
        js.get_or_create_stream(stream::Config {
            name: ALERTS_STREAM.into(),
            description: Some("Sightline: every camera's alert changes".into()),
            subjects: vec![format!("{PREFIX}.cam.*.alert")],
            max_age: Duration::from_secs(u64::from(retention_days.max(1)) * 86_400),
            max_message_size: MAX_MESSAGE,
            storage: stream::StorageType::File,
            discard: stream::DiscardPolicy::Old,
            num_replicas: 1,
            ..Default::default()
        }),
    )
    .await
    .map_err(|_| anyhow::anyhow!("NATS did not answer"))?;
    Ok(made?)
}

/// Sends this relay's alert changes to the stream, in order, each retried
/// until stored (for a while: a change NATS refuses for good, e.g. by its
/// permissions, must not block the ones after it), until `shutdown`; then
/// what the engine ends at shutdown still goes out, for a few seconds.
pub async fn publish(
    cluster: Cluster,
    alerts: Arc<Alerts>,
    mut changes: mpsc::Receiver<Arc<AlertChange>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let node = cluster.node().to_owned();
    let instance = {
        let store = alerts.store().clone();
        match tokio::task::spawn_blocking(move || store.instance()).await {
            Ok(Ok(i)) => i,
            _ => {
                warn!("alerts: cannot read this database's instance: alerts stay on this relay");
                return;
            }
        }
    };
    // Set once the relay stops: until when what is queued still goes out.
    let mut stop_by: Option<tokio::time::Instant> = None;
    loop {
        let change = match stop_by {
            // Stopping: what is queued (the engine has told its last Ends),
            // while time is left.
            Some(by) if tokio::time::Instant::now() >= by => {
                let left = changes.len();
                if left > 0 {
                    error!(
                        left,
                        "alerts: the relay stopped before these changes reached the other relays"
                    );
                }
                return;
            }
            Some(_) => changes.try_recv().ok(),
            None => tokio::select! {
                c = changes.recv() => c,
                _ = shutdown.changed() => {
                    stop_by = Some(stopping(&alerts).await);
                    continue;
                }
            },
        };
        let Some(change) = change else { return };
        let Some(message) = outgoing(&node, &instance, alerts.store(), &change).await else {
            continue;
        };
        let subject = camera_subject(&message.alert.camera, "alert");
        let Ok(payload) = serde_json::to_vec(&message) else {
            continue;
        };
        let mut attempt = 0;
        loop {
            // Tries count while connected (NATS answers, or refuses in
            // silence: a permission); an outage is waited out.
            if cluster.client().connection_state() == async_nats::connection::State::Connected {
                attempt += 1;
            }
            let sending = send(&cluster, &alerts, &subject, payload.clone());
            let sent = match stop_by {
                Some(by) => tokio::time::timeout_at(by, sending)
                    .await
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("the relay stopped first"))),
                None => sending.await,
            };
            let Err(e) = sent else {
                break;
            };
            let out_of_time = match stop_by {
                Some(by) => tokio::time::Instant::now() >= by,
                None => attempt >= SEND_ATTEMPTS,
            };
            if out_of_time {
                error!(
                    alert = message.id,
                    "alerts: a change was not sent to the other relays: {e:#}"
                );
                break;
            }
            if attempt == 1 {
                warn!(
                    alert = message.id,
                    "alerts: cannot send a change to the cluster (retrying): {e:#}"
                );
            }
            let pause = if stop_by.is_some() { RETRY / 5 } else { RETRY };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.changed(), if stop_by.is_none() => {
                    stop_by = Some(stopping(&alerts).await);
                }
            }
        }
    }
}

/// The relay stops: waits for the engine's last changes (the Ends of what
/// was open); until when they may still go out.
async fn stopping(alerts: &Alerts) -> tokio::time::Instant {
    let by = tokio::time::Instant::now() + DRAIN;
    let mut stopped = alerts.engine_stopped();
    let _ = tokio::time::timeout_at(by, stopped.wait_for(|s| *s)).await;
    by
}

/// What goes out for a change made here: an alert raised here, or an
/// acknowledgement made here of another relay's alert (its copy's other
/// changes come from its relay).
async fn outgoing(
    node: &str,
    instance: &str,
    store: &Arc<Store>,
    change: &AlertChange,
) -> Option<AlertMessage> {
    let id = change.alert.id;
    let store = store.clone();
    let alert = match tokio::task::spawn_blocking(move || store.alert(id)).await {
        Ok(Ok(Some(alert))) => alert,
        Ok(Ok(None)) => return None,
        Ok(Err(e)) => {
            warn!(alert = id, "alerts: {e:#}");
            return None;
        }
        Err(e) => {
            warn!(alert = id, "alerts: {e:#}");
            return None;
        }
    };
    let (origin, origin_instance, origin_id) = match alert.origin {
        None => (node.to_owned(), instance.to_owned(), id),
        Some(o) if change.event == AlertEvent::Ack => (o.node, o.instance, o.id),
        Some(_) => return None,
    };
    Some(AlertMessage {
        from: node.to_owned(),
        node: origin,
        instance: origin_instance,
        id: origin_id,
        event: change.event,
        alert: change.alert.clone(),
    })
}

/// Publishes one message and waits for the stream to have stored it.
async fn send(
    cluster: &Cluster,
    alerts: &Alerts,
    subject: &str,
    payload: Vec<u8>,
) -> anyhow::Result<()> {
    let js = cluster.jetstream();
    let sent = tokio::time::timeout(NATS_WITHIN, async {
        let ack = js.publish(subject.to_owned(), payload.into()).await?;
        anyhow::Ok(ack.await?)
    })
    .await;
    match sent {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => {
            // Most likely no stream yet (nobody made it): make it.
            stream(cluster, alerts.config.retention_days).await?;
            Err(e)
        }
        Err(_) => Err(anyhow::anyhow!("NATS did not answer")),
    }
}

/// Copies the other relays' alert changes into this relay's history and
/// pushes them to its sockets, until `shutdown`.
pub async fn copy(cluster: Cluster, alerts: Arc<Alerts>, mut shutdown: watch::Receiver<bool>) {
    let node = cluster.node().to_owned();
    let mut said = false;
    loop {
        let reading = read(&cluster, &alerts).await;
        let (mut messages, cursor) = match reading {
            Ok(read) => {
                said = false;
                read
            }
            Err(e) => {
                if !said {
                    warn!("alerts: cannot read the other relays' alerts yet (retrying): {e:#}");
                    said = true;
                }
                tokio::select! {
                    _ = tokio::time::sleep(RETRY) => continue,
                    _ = shutdown.changed() => return,
                }
            }
        };
        loop {
            let next = tokio::select! {
                m = messages.next() => m,
                _ = shutdown.changed() => return,
            };
            let message = match next {
                Some(Ok(m)) => m,
                Some(Err(e)) => {
                    debug!("alerts: the stream's consumer: {e:#}");
                    break;
                }
                None => break,
            };
            let Ok(info) = message.info() else {
                continue;
            };
            let position = info.stream_sequence;
            if !apply(&node, &alerts, &message, (&cursor, position)).await {
                // Not applied (the database failed): read again from the
                // cursor, after a pause.
                break;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// An ordered consumer of the stream from after this relay's cursor, and
/// the cursor's name.
async fn read(
    cluster: &Cluster,
    alerts: &Alerts,
) -> anyhow::Result<(consumer::push::Ordered, String)> {
    let mut s = stream(cluster, alerts.config.retention_days).await?;
    let created = tokio::time::timeout(NATS_WITHIN, s.info())
        .await
        .map_err(|_| anyhow::anyhow!("NATS did not answer"))??
        .created;
    let name = cursor_name(created);
    let store = alerts.store().clone();
    let cursor = {
        let name = name.clone();
        tokio::task::spawn_blocking(move || store.cursor(&name)).await??
    };
    let deliver_policy = match cursor {
        Some(at) => consumer::DeliverPolicy::ByStartSequence {
            start_sequence: at.saturating_add(1),
        },
        None => consumer::DeliverPolicy::All,
    };
    let consumer = tokio::time::timeout(
        NATS_WITHIN,
        s.create_consumer(consumer::push::OrderedConfig {
            deliver_subject: cluster.client().new_inbox(),
            deliver_policy,
            ..Default::default()
        }),
    )
    .await
    .map_err(|_| anyhow::anyhow!("NATS did not answer"))??;
    let messages = tokio::time::timeout(NATS_WITHIN, consumer.messages())
        .await
        .map_err(|_| anyhow::anyhow!("NATS did not answer"))??;
    Ok((messages, name))
}

/// Applies one message read at `at` (cursor, position) of the stream;
/// `false` when the database failed (to be read again).
async fn apply(
    node: &str,
    alerts: &Arc<Alerts>,
    delivered: &async_nats::jetstream::Message,
    at: (&str, u64),
) -> bool {
    let store = alerts.store().clone();
    let message: AlertMessage = match serde_json::from_slice(&delivered.payload) {
        Ok(m) => m,
        Err(e) => {
            warn!(position = at.1, "alerts: a message on the stream is not an alert change this relay understands (are all relays the same version?): {e}");
            return skip(&store, at).await;
        }
    };
    // The subject names the camera: whoever may publish only some
    // cameras' subjects (NATS permissions) cannot speak for others.
    if delivered.subject.as_str() != camera_subject(&message.alert.camera, "alert") {
        warn!(
            position = at.1,
            from = message.from,
            "alerts: a change on another camera's subject: ignored"
        );
        return skip(&store, at).await;
    }
    if message.from == node {
        return skip(&store, at).await;
    }
    if message.from != message.node {
        // Another relay than the alert's own speaks only of who
        // acknowledged it: nothing else of the alert is its to say.
        return apply_ack(node, alerts, &message, at).await;
    }
    let copy = message.copy();
    let (name, position) = (at.0.to_owned(), at.1);
    let done =
        tokio::task::spawn_blocking(move || store.copy_alert(&copy, (&name, position))).await;
    match done {
        Ok(Ok((alert, true))) => {
            alerts.publish_copied(message.event, crate::alerts::info(&alert));
            true
        }
        Ok(Ok((_, false))) => true,
        Ok(Err(sightline_store::StoreError::Invalid(why))) => {
            warn!(
                from = message.from,
                "alerts: a change from another relay was not copied: {why}"
            );
            skip(alerts.store(), at).await
        }
        Ok(Err(e)) => {
            warn!("alerts: a change from another relay was not copied (read again): {e:#}");
            false
        }
        Err(e) => {
            warn!("alerts: {e:#}");
            false
        }
    }
}

/// Another relay acknowledged an alert: this relay's own (of this
/// database, of that camera), or its copy of a third relay's.
async fn apply_ack(
    node: &str,
    alerts: &Arc<Alerts>,
    message: &AlertMessage,
    at: (&str, u64),
) -> bool {
    let store = alerts.store().clone();
    let (AlertEvent::Ack, Some(by), Some(when)) = (
        message.event,
        message.alert.acked_by.clone(),
        message.alert.acked_at_ms,
    ) else {
        return skip(&store, at).await;
    };
    let found = {
        let store = store.clone();
        let (own, node, instance, id) = (
            message.node == node,
            message.node.clone(),
            message.instance.clone(),
            message.id,
        );
        tokio::task::spawn_blocking(move || {
            if own {
                let here = store.instance()?;
                Ok((here == instance).then_some(store.alert(id)?).flatten())
            } else {
                store.copied_alert(&node, &instance, id)
            }
        })
        .await
    };
    let alert = match found {
        Ok(Ok(Some(alert))) if alert.camera == message.alert.camera => alert,
        Ok(Ok(_)) => return skip(&store, at).await,
        Ok(Err(e)) => {
            warn!("alerts: an acknowledgement was not applied (read again): {e:#}");
            return false;
        }
        Err(_) => return false,
    };
    match alerts.ack_at(alert.id, by, when).await {
        Ok(_) => {}
        Err(e) if e.kind() == crate::error::ErrorKind::Internal => {
            warn!("alerts: an acknowledgement was not applied (read again): {e:#}");
            return false;
        }
        Err(e) => debug!(
            alert = alert.id,
            "alerts: an acknowledgement from {}: {e:#}", message.from
        ),
    }
    skip(&store, at).await
}

/// Moves the cursor past a message that is not copied; `false` if the
/// database failed.
async fn skip(store: &Arc<Store>, (name, position): (&str, u64)) -> bool {
    let store = store.clone();
    let name = name.to_owned();
    match tokio::task::spawn_blocking(move || store.set_cursor(&name, position)).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            warn!("alerts: cannot note the stream position: {e:#}");
            false
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_wire::AlertSeverity;

    #[test]
    fn a_message_becomes_the_copy_the_store_keeps() {
        let message = AlertMessage {
            from: "b".into(),
            node: "a".into(),
            instance: "00aa".into(),
            id: 7,
            event: AlertEvent::Ack,
            alert: AlertInfo {
                id: 99,
                camera: "gate".into(),
                kind: "motion".into(),
                severity: AlertSeverity::Critical,
                label: "Motion: door".into(),
                message: None,
                started_at_ms: 1_000,
                ended_at_ms: Some(2_000),
                zones: vec!["door".into()],
                score: 0.5,
                area: 0.25,
                acked_by: Some("alice".into()),
                acked_at_ms: Some(1_500),
                snapshot: true,
                clip: false,
            },
        };
        let json = serde_json::to_string(&message).expect("json");
        let back: AlertMessage = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, message);
        let copy = back.copy();
        // The relay it was raised on and its id there, not the sender's.
        assert_eq!((copy.node.as_str(), copy.id), ("a", 7));
        assert_eq!(copy.alert.severity, sightline_store::Severity::Critical);
        assert_eq!(copy.alert.label.as_deref(), Some("Motion: door"));
        assert_eq!(copy.ended_at_ms, Some(2_000));
        assert_eq!(copy.acked_by.as_deref(), Some("alice"));
        assert_eq!(copy.acked_at, Some(1_500));
        // Unknown fields are refused, not ignored.
        let mut value: serde_json::Value = serde_json::from_str(&json).expect("json");
        value["admin"] = true.into();
        assert!(serde_json::from_value::<AlertMessage>(value).is_err());
    }
}

/// The largest piece of a file in one answer (under NATS's default 1 MiB
/// `max_payload`, with room for headers).
const CHUNK: usize = 256 * 1024;
/// Files read for other relays at once.
const SERVING_AT_ONCE: usize = 4;
/// The largest file fetched from another relay (a clip is at most
/// `max_clip`, 60 s by default: tens of MB).
const MAX_FETCH: u64 = 1 << 30;

/// A request for a piece of one of this relay's alert files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaRequest {
    /// The alert as the relay asked knows it: its database, its id there,
    /// its camera (a copy of an older database's alert never gets a newer
    /// one's file).
    pub instance: String,
    pub id: i64,
    pub camera: String,
    /// The clip (else the snapshot).
    pub clip: bool,
    pub offset: u64,
}

const TOTAL: &str = "Sl-Total";
const FAULT: &str = "Sl-Error";

/// This relay's side: answers other relays' requests for pieces of its
/// alerts' snapshots and clips (`sightline.node.<node>.alert-media`),
/// until `shutdown`. Whether the asker may see the alert is checked
/// there, as for any alert; here only that the file is this relay's.
pub async fn serve_media(
    cluster: Cluster,
    alerts: Arc<Alerts>,
    mut shutdown: watch::Receiver<bool>,
) {
    let client = cluster.client().clone();
    let subject = sightline_cluster::subjects::node_subject(cluster.node(), "alert-media");
    let Ok(mut requests) = client.subscribe(subject).await else {
        warn!("alerts: cannot serve files to the cluster");
        return;
    };
    let slots = Arc::new(tokio::sync::Semaphore::new(SERVING_AT_ONCE));
    let chunk = CHUNK.min(cluster.max_payload().saturating_sub(4096).max(4096));
    loop {
        let message = tokio::select! {
            m = requests.next() => match m { Some(m) => m, None => return },
            _ = shutdown.changed() => return,
        };
        let Some(reply) = message.reply.clone() else {
            continue;
        };
        // Busy: the asker waits (its request times out) rather than this
        // relay reading without bound.
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (client, alerts) = (client.clone(), alerts.clone());
        tokio::spawn(async move {
            let answer = match serde_json::from_slice::<MediaRequest>(&message.payload) {
                Ok(request) => read_piece(&alerts, request, chunk).await,
                Err(e) => Err(format!("not a file request: {e}")),
            };
            drop(permit);
            let mut headers = async_nats::HeaderMap::new();
            let payload = match answer {
                Ok((total, piece)) => {
                    headers.insert(TOTAL, total.to_string().as_str());
                    piece
                }
                Err(why) => {
                    headers.insert(FAULT, why.as_str());
                    Vec::new()
                }
            };
            let _ = client
                .publish_with_headers(reply, headers, payload.into())
                .await;
        });
    }
}

/// The file's size and the piece asked for; why not, said to the asker.
async fn read_piece(
    alerts: &Arc<Alerts>,
    request: MediaRequest,
    chunk: usize,
) -> Result<(u64, Vec<u8>), String> {
    let id = request.id;
    let store = alerts.store().clone();
    let (instance, alert) = tokio::task::spawn_blocking(move || {
        Ok::<_, sightline_store::StoreError>((store.instance()?, store.alert(id)?))
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("{e}"))?;
    let alert = alert
        .filter(|a| {
            a.origin.is_none() && a.camera == request.camera && instance == request.instance
        })
        .ok_or("no such alert here")?;
    let file = if request.clip {
        alert.clip
    } else {
        alert.snapshot
    };
    let path = file
        .and_then(|f| alerts.media_path(&f))
        .ok_or("this alert has no such file (any more)")?;
    tokio::task::spawn_blocking(move || {
        use std::io::{Read as _, Seek as _};
        let mut file = std::fs::File::open(&path).map_err(|_| "the file is gone (retention)")?;
        let total = file.metadata().map_err(|e| e.to_string())?.len();
        file.seek(std::io::SeekFrom::Start(request.offset.min(total)))
            .map_err(|e| e.to_string())?;
        let mut piece = Vec::with_capacity(chunk);
        file.take(chunk as u64)
            .read_to_end(&mut piece)
            .map_err(|e| e.to_string())?;
        Ok((total, piece))
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Another relay's file of its alert `id`, as a size and a stream of
/// pieces fetched one after the other (never all in memory).
pub async fn fetch_media(
    cluster: &Cluster,
    origin: &sightline_store::Origin,
    camera: &str,
    clip: bool,
) -> Result<
    (
        u64,
        impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>>,
    ),
    crate::error::Error,
> {
    use crate::error::{Error, ErrorKind};
    let client = cluster.client().clone();
    let node = origin.node.as_str();
    let subject = sightline_cluster::subjects::node_subject(node, "alert-media");
    let request = MediaRequest {
        instance: origin.instance.clone(),
        id: origin.id,
        camera: camera.to_owned(),
        clip,
        offset: 0,
    };
    let ask = move |offset: u64| {
        let (client, subject) = (client.clone(), subject.clone());
        let request = MediaRequest {
            offset,
            ..request.clone()
        };
        async move {
            let payload = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
            let answer = tokio::time::timeout(NATS_WITHIN, client.request(subject, payload.into()))
                .await
                .map_err(|_| "it did not answer in time".to_owned())?
                .map_err(|e| match e.kind() {
                    async_nats::RequestErrorKind::NoResponders => "it is not running".to_owned(),
                    _ => e.to_string(),
                })?;
            let header = |name: &str| {
                answer
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(name))
                    .map(|v| v.as_str().to_owned())
            };
            if let Some(fault) = header(FAULT) {
                return Err(format!("it says: {fault}"));
            }
            let total: u64 = header(TOTAL)
                .and_then(|t| t.parse().ok())
                .ok_or("its answer has no size")?;
            Ok::<_, String>((total, answer.payload))
        }
    };
    let (total, first) = ask(0).await.map_err(|why| {
        Error::new(
            ErrorKind::Unavailable,
            format!(
                "this alert's file is kept by relay {node:?}, and cannot be had from it now: {why}"
            ),
        )
    })?;
    if total > MAX_FETCH {
        return Err(Error::new(
            ErrorKind::Unavailable,
            "the file is too large to relay",
        ));
    }
    // Never more than `total` (the Content-Length): a file that changes
    // on the way ends the answer rather than mixing two versions.
    let first = first.slice(..first.len().min(total as usize));
    let rest =
        futures_util::stream::unfold((first.len() as u64, ask), move |(offset, ask)| async move {
            if offset >= total {
                return None;
            }
            match ask(offset).await {
                Ok((size, _)) if size != total => Some((
                    Err(std::io::Error::other("the file changed on the way")),
                    (total, ask),
                )),
                Ok((_, piece)) if !piece.is_empty() => {
                    let piece = piece.slice(..piece.len().min((total - offset) as usize));
                    let next = offset + piece.len() as u64;
                    Some((Ok(piece), (next, ask)))
                }
                Ok(_) => Some((
                    Err(std::io::Error::other("the file ended early")),
                    (total, ask),
                )),
                Err(why) => Some((Err(std::io::Error::other(why)), (total, ask))),
            }
        });
    let stream = futures_util::stream::once(async move { Ok(first) }).chain(rest);
    Ok((total, stream))
}
