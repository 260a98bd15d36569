//! PTZ in a cluster (issue 17): one controller per camera, on the relay
//! that owns the camera, whichever relay the operator is connected to.
//!
//! - **The owner** runs the camera's real controller (the lease, dead-man
//!   and coalescing rules of `ptz/rules.rs`, unchanged) while it owns the
//!   camera ([`serve`]). It answers requests on `sightline.cam.<id>.ptz`
//!   and publishes what sessions show on `sightline.cam.<id>.ptz.state`.
//! - **Every relay**, the owner included, gives its sessions a controller
//!   whose work is done there ([`remote`]): a move, a renewal, a Stop, a
//!   socket gone go out as requests in the order they were made; refusals
//!   and the camera's faults come back to the session that asked.
//!
//! So one operator holds a camera at a time across the cluster, and a move
//! stops when its operator's socket closes (the relay says so at once) or
//! its relay dies or is cut off (its renewals stop: the owner's dead-man
//! rule). While no relay owns the camera, requests are answered "no relay
//! of the cluster steers this camera now".
//!
//! Sessions are told apart across relays by (relay, session): the owner
//! gives each pair an id of its own for its rules; what it publishes names
//! the holder by relay and session again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use sightline_cluster::subjects::camera_subject;
use sightline_cluster::Cluster;
use sightline_wire::{ErrorCode, PtzAction, PtzFeatures, PtzPosition, PtzPreset};
use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};

use super::NATS_WITHIN;
use crate::error::{Error, ErrorKind};
use crate::ptz::controller::{Ask, Asker, Backend, Input, Notice, PtzStats, Snapshot};
use crate::ptz::rules::Operator;
use crate::ptz::{Controller, MakeConnect, SessionId};

/// How long a request's answer may take before its session is told.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);
/// How long the camera's later verdict on a request (a refusal, a fault)
/// is still passed on: its longest command takes 3 s.
const VERDICT_WITHIN: Duration = Duration::from_secs(10);
/// A session id no local session has: the holder is on another relay.
const ELSEWHERE: SessionId = SessionId::MAX;

/// A request from a relay to the camera's owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    Ask {
        node: String,
        session: SessionId,
        user: String,
        admin: bool,
        request: u32,
        action: PtzAction,
    },
    /// The session closed or unsubscribed: a move it holds stops now.
    Gone { node: String, session: SessionId },
    /// Send the state now.
    Watched {},
}

/// An answer, or a later verdict, to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<(ErrorCode, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<State>,
}

/// What sessions show, as the owner publishes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub features: Option<PtzFeatures>,
    /// (relay, session, user).
    pub holder: Option<(String, SessionId, String)>,
    pub lease_ms: Option<u64>,
    pub moving: bool,
    pub presets: Vec<PtzPreset>,
    pub position: Option<PtzPosition>,
}

impl State {
    /// The owner's snapshot, its sessions named by relay and session.
    fn of(snapshot: &Snapshot, sessions: &Sessions) -> State {
        let now = Instant::now();
        State {
            features: snapshot.features.clone(),
            holder: snapshot.holder.as_ref().and_then(|(id, user)| {
                let (node, session) = sessions.origin(*id)?;
                Some((node.to_owned(), session, user.clone()))
            }),
            lease_ms: snapshot
                .lease_until
                .map(|t| t.saturating_duration_since(now).as_millis() as u64),
            moving: snapshot.moving,
            presets: snapshot.presets.clone(),
            position: snapshot.position,
        }
    }

    /// As relay `node`'s sessions see it.
    fn snapshot(self, node: &str) -> Snapshot {
        let now = Instant::now();
        Snapshot {
            features: self.features,
            holder: self
                .holder
                .map(|(n, session, user)| (if n == node { session } else { ELSEWHERE }, user)),
            lease_until: self
                .lease_ms
                .map(|ms| now + Duration::from_millis(ms.min(86_400_000))),
            moving: self.moving,
            presets: self.presets,
            position: self.position,
        }
    }
}

/// The owner's ids for the cluster's sessions. A session whose relay died
/// never says it is gone: one not heard of for [`FORGET_AFTER`] is
/// forgotten (its lease and any move lapsed long before).
#[derive(Default)]
struct Sessions {
    ids: HashMap<(String, SessionId), SessionId>,
    origins: HashMap<SessionId, (String, SessionId)>,
    heard: HashMap<SessionId, Instant>,
    next: SessionId,
}

/// See [`Sessions`].
const FORGET_AFTER: Duration = Duration::from_secs(600);

impl Sessions {
    fn id(&mut self, node: &str, session: SessionId) -> SessionId {
        let key = (node.to_owned(), session);
        let id = match self.ids.get(&key) {
            Some(id) => *id,
            None => {
                self.next += 1;
                self.ids.insert(key.clone(), self.next);
                self.origins.insert(self.next, key);
                self.next
            }
        };
        self.heard.insert(id, Instant::now());
        id
    }

    /// Forgets the sessions not heard of for a while, but the one holding
    /// control (its lease may be longer).
    fn prune(&mut self, now: Instant, holder: Option<SessionId>) {
        let old: Vec<SessionId> = self
            .heard
            .iter()
            .filter(|(id, at)| Some(**id) != holder && now.duration_since(**at) > FORGET_AFTER)
            .map(|(id, _)| *id)
            .collect();
        for id in old {
            self.heard.remove(&id);
            if let Some(key) = self.origins.remove(&id) {
                self.ids.remove(&key);
            }
        }
    }

    fn origin(&self, id: SessionId) -> Option<(&str, SessionId)> {
        self.origins.get(&id).map(|(n, s)| (n.as_str(), *s))
    }

    fn forget(&mut self, node: &str, session: SessionId) -> Option<SessionId> {
        let id = self.ids.remove(&(node.to_owned(), session))?;
        self.origins.remove(&id);
        self.heard.remove(&id);
        Some(id)
    }
}

/// The wire's code back to a kind (the session turns it into the same code).
fn kind_of(code: ErrorCode) -> ErrorKind {
    match code {
        ErrorCode::BadMessage => ErrorKind::BadRequest,
        ErrorCode::ProtocolMismatch => ErrorKind::ProtocolMismatch,
        ErrorCode::Unauthenticated => ErrorKind::Unauthenticated,
        ErrorCode::Forbidden => ErrorKind::Forbidden,
        ErrorCode::UnknownCamera => ErrorKind::NotFound,
        ErrorCode::NotSubscribed => ErrorKind::NotSubscribed,
        ErrorCode::Conflict => ErrorKind::Conflict,
        ErrorCode::RateLimited => ErrorKind::RateLimited,
        ErrorCode::Unavailable => ErrorKind::Unavailable,
        ErrorCode::CameraRefused => ErrorKind::CameraRefused,
        _ => ErrorKind::Internal,
    }
}

fn error_of((code, message): (ErrorCode, String)) -> Error {
    Error::new(kind_of(code), message)
}

fn answer_error(e: &Error) -> Answer {
    Answer {
        error: Some((e.kind().code(), e.message().to_owned())),
        state: None,
    }
}

/// How a node steers a camera it has configured, while it owns it.
#[derive(Clone)]
pub struct Steer {
    pub make: MakeConnect,
    /// The control lease (`[ptz] lease_seconds`).
    pub lease: Duration,
    /// Counted where `/metrics` reads: this node's sessions' controller.
    pub stats: Arc<PtzStats>,
    /// This node's sessions' controller (through the owner), and where
    /// sessions find it: while this node is cut off from NATS and pulls
    /// the camera alone, a local controller stands in for it.
    pub sessions: Arc<Controller>,
    pub ptz: Arc<crate::ptz::Ptz>,
}

/// This relay's controller of `camera`, whose work the camera's owner does.
pub fn remote(cluster: Cluster, camera: &str, shutdown: watch::Receiver<bool>) -> Arc<Controller> {
    let (controller, backend) = Controller::remote(camera.to_owned());
    tokio::spawn(forward(cluster, camera.to_owned(), backend, shutdown));
    controller
}

/// A request out, waiting for its answer (`answered`) and then, a while,
/// for the camera's later verdict.
struct Pending {
    asker: Option<Asker>,
    answered: bool,
    until: Instant,
}

async fn forward(
    cluster: Cluster,
    camera: String,
    mut backend: Backend,
    mut shutdown: watch::Receiver<bool>,
) {
    let client = cluster.client().clone();
    let node = cluster.node().to_owned();
    let requests = camera_subject(&camera, "ptz");
    let inbox = client.new_inbox();
    // Subscribing only queues the interest: it waits for no server.
    let (Ok(mut answers), Ok(mut states)) = (
        client.subscribe(format!("{inbox}.*")).await,
        client.subscribe(camera_subject(&camera, "ptz.state")).await,
    ) else {
        warn!(%camera, "PTZ: cannot subscribe to the cluster's PTZ subjects");
        return;
    };
    let mut pending: HashMap<u64, Pending> = HashMap::new();
    let mut seq: u64 = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The state as it is now, before anyone asks.
    let mut initial = Some(Input::Watched);
    loop {
        let input = match initial.take() {
            Some(input) => Some(input),
            None => tokio::select! {
                input = backend.inputs.recv() => match input {
                    Some(input) => Some(input),
                    None => return,
                },
                Some(message) = answers.next() => {
                    let Some(seq) = message.subject.rsplit('.').next().and_then(|s| s.parse::<u64>().ok()) else {
                        continue;
                    };
                    on_answer(&camera, &node, &backend, &mut pending, seq, &message).await;
                    None
                }
                Some(message) = states.next() => {
                    match serde_json::from_slice::<State>(&message.payload) {
                        Ok(state) => { let _ = backend.state.send(Arc::new(state.snapshot(&node))); }
                        Err(e) => debug!(%camera, "PTZ: a state that does not parse: {e}"),
                    }
                    None
                }
                _ = tick.tick() => {
                    let now = Instant::now();
                    let late: Vec<u64> = pending.iter().filter(|(_, p)| !p.answered && p.until <= now).map(|(s, _)| *s).collect();
                    for seq in late {
                        if let Some(Pending { asker: Some(asker), .. }) = pending.remove(&seq) {
                            tell(&camera, &asker, Error::new(ErrorKind::Unavailable, "no relay of the cluster answered for this camera's PTZ in time")).await;
                        }
                    }
                    pending.retain(|_, p| p.until > now);
                    None
                }
                _ = shutdown.changed() => return,
            },
        };
        let Some(input) = input else { continue };
        let (request, asker) = match input {
            Input::Ask { who, ask, asker } => (
                Request::Ask {
                    node: node.clone(),
                    session: who.session,
                    user: who.user,
                    admin: who.admin,
                    request: asker.request,
                    action: ask.to_wire(),
                },
                Some(asker),
            ),
            Input::Gone(session) => (
                Request::Gone {
                    node: node.clone(),
                    session,
                },
                None,
            ),
            Input::Watched => (Request::Watched {}, None),
        };
        let Ok(payload) = serde_json::to_vec(&request) else {
            continue;
        };
        seq += 1;
        let reply = format!("{inbox}.{seq}");
        // Queued in order on the one connection: a Stop never overtakes
        // the move it stops.
        let sent = tokio::time::timeout(
            NATS_WITHIN,
            client.publish_with_reply(requests.clone(), reply, payload.into()),
        )
        .await
        .map_err(|_| "NATS did not take it in time".to_owned())
        .and_then(|r| r.map_err(|e| e.to_string()));
        if let Err(e) = sent {
            if matches!(request, Request::Gone { .. }) {
                // Not lost silently: the owner's dead-man rule stops the
                // move within a second of the renewals ending anyway.
                warn!(%camera, "PTZ: a closed session was not told to the camera's owner: {e}");
            }
            if let Some(asker) = asker {
                tell(
                    &camera,
                    &asker,
                    Error::new(
                        ErrorKind::Unavailable,
                        format!("cannot reach the cluster for PTZ: {e}"),
                    ),
                )
                .await;
            }
            continue;
        }
        pending.insert(
            seq,
            Pending {
                asker,
                answered: false,
                until: Instant::now() + ANSWER_WITHIN,
            },
        );
    }
}

/// An answer (or a later verdict) to request `seq`.
async fn on_answer(
    camera: &str,
    node: &str,
    backend: &Backend,
    pending: &mut HashMap<u64, Pending>,
    seq: u64,
    message: &async_nats::Message,
) {
    let Some(p) = pending.get_mut(&seq) else {
        return;
    };
    if message.status == Some(async_nats::StatusCode::NO_RESPONDERS) {
        if let Some(Pending {
            asker: Some(asker), ..
        }) = pending.remove(&seq)
        {
            tell(
                camera,
                &asker,
                Error::new(
                    ErrorKind::Unavailable,
                    "no relay of the cluster steers this camera now (none pulls it)",
                ),
            )
            .await;
        }
        return;
    }
    if !p.answered {
        p.answered = true;
        p.until = Instant::now() + VERDICT_WITHIN;
    }
    let answer = match serde_json::from_slice::<Answer>(&message.payload) {
        Ok(a) => a,
        Err(e) => {
            debug!(%camera, "PTZ: an answer that does not parse: {e}");
            return;
        }
    };
    if let Some(state) = answer.state {
        let _ = backend.state.send(Arc::new(state.snapshot(node)));
    }
    if let (Some(error), Some(asker)) = (answer.error, p.asker.clone()) {
        tell(camera, &asker, error_of(error)).await;
    }
}

/// Tells one socket its request failed: dropped if its queue is full (a
/// socket that reads nothing must not hold the camera's other sessions).
async fn tell(camera: &str, asker: &Asker, error: Error) {
    let _ = asker.notices.try_send(Notice {
        camera: camera.to_owned(),
        request: asker.request,
        error,
    });
}

/// The owner's side, while it owns `camera`: its real controller, fed by
/// every relay's requests, its state published; until `stop`.
pub async fn serve(
    cluster: Cluster,
    camera: String,
    steer: Steer,
    mut stop: watch::Receiver<bool>,
) {
    let Some(connect) = (steer.make)() else {
        return;
    };
    let controller = Controller::spawn_counting(
        camera.clone(),
        connect,
        steer.lease,
        stop.clone(),
        steer.stats,
    );
    let client = cluster.client().clone();
    let state_subject = camera_subject(&camera, "ptz.state");
    let mut requests = match client.subscribe(camera_subject(&camera, "ptz")).await {
        Ok(s) => s,
        Err(e) => {
            warn!(%camera, "PTZ: cannot serve the cluster: {e}");
            controller.join().await;
            return;
        }
    };
    let mut state = controller.state();
    let mut sessions = Sessions::default();
    let publish_state = |state: &Snapshot, sessions: &Sessions| {
        serde_json::to_vec(&State::of(state, sessions)).ok()
    };
    loop {
        tokio::select! {
            Some(message) = requests.next() => {
                let Some(reply) = message.reply.clone() else { continue };
                let request = match serde_json::from_slice::<Request>(&message.payload) {
                    Ok(r) => r,
                    Err(e) => {
                        let error = Error::new(ErrorKind::BadRequest, format!("not a PTZ request: {e}"));
                        send(&client, reply, &answer_error(&error)).await;
                        continue;
                    }
                };
                use sightline_cluster::config::node_name_ok;
                match request {
                    Request::Ask { node, .. } | Request::Gone { node, .. } if !node_name_ok(&node) => {
                        let error = Error::new(ErrorKind::BadRequest, "not a node name");
                        send(&client, reply, &answer_error(&error)).await;
                    }
                    Request::Ask { node, session, user, admin, request, action } => {
                        let holder = state.borrow().holder.as_ref().map(|(id, _)| *id);
                        sessions.prune(Instant::now(), holder);
                        let who = Operator { session: sessions.id(&node, session), user, admin };
                        let (notices, mut verdicts) = mpsc::channel::<Notice>(4);
                        let asker = Asker { request, notices };
                        let answer = match Ask::from_wire(action).and_then(|ask| controller.ask(who, ask, asker)) {
                            Ok(()) => Answer { error: None, state: None },
                            Err(e) => answer_error(&e),
                        };
                        send(&client, reply.clone(), &answer).await;
                        // The camera's later verdict, if any, to the same
                        // reply subject; ends when the controller lets
                        // go of the request.
                        let client = client.clone();
                        tokio::spawn(async move {
                            while let Some(notice) = verdicts.recv().await {
                                send(&client, reply.clone(), &answer_error(&notice.error)).await;
                            }
                        });
                    }
                    Request::Gone { node, session } => {
                        if let Some(id) = sessions.forget(&node, session) {
                            controller.gone(id).await;
                        }
                        send(&client, reply, &Answer { error: None, state: None }).await;
                    }
                    Request::Watched {} => {
                        let now = State::of(&state.borrow(), &sessions);
                        send(&client, reply, &Answer { error: None, state: Some(now) }).await;
                    }
                }
            }
            changed = state.changed() => {
                if changed.is_err() { break }
                let payload = publish_state(&state.borrow_and_update(), &sessions);
                if let Some(payload) = payload {
                    let sent = tokio::time::timeout(NATS_WITHIN, client.publish(state_subject.clone(), payload.into())).await;
                    if !matches!(sent, Ok(Ok(()))) {
                        debug!(%camera, "PTZ: state not published");
                    }
                }
            }
            _ = stop.changed() => break,
        }
    }
    drop(requests);
    // The controller stops with `stop`: its last Stop first.
    controller.join().await;
}

async fn send(client: &async_nats::Client, reply: async_nats::Subject, answer: &Answer) {
    let Ok(payload) = serde_json::to_vec(answer) else {
        return;
    };
    let sent = tokio::time::timeout(NATS_WITHIN, client.publish(reply, payload.into())).await;
    if !matches!(sent, Ok(Ok(()))) {
        debug!("PTZ: an answer was not sent");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_states_read_back() {
        let request = Request::Ask {
            node: "edge".into(),
            session: 7,
            user: "olga".into(),
            admin: false,
            request: 12,
            action: PtzAction::Move {
                pan: 0.5,
                tilt: 0.0,
                zoom: 0.0,
            },
        };
        let text = serde_json::to_string(&request).unwrap();
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), request);
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        value["extra"] = 1.into();
        assert!(serde_json::from_value::<Request>(value).is_err());
    }

    #[test]
    fn the_holder_is_yours_only_on_your_relay_and_session() {
        let state = State {
            holder: Some(("edge".into(), 7, "olga".into())),
            lease_ms: Some(2_000),
            ..State::default()
        };
        let here = state.clone().snapshot("edge");
        assert!(here.to_wire(7, true).yours);
        assert!(!here.to_wire(8, true).yours);
        let there = state.snapshot("owner");
        assert!(!there.to_wire(7, true).yours);
        assert_eq!(there.to_wire(7, true).holder.as_deref(), Some("olga"));
        assert!(there
            .to_wire(7, true)
            .lease_ms
            .is_some_and(|ms| ms <= 2_000));
    }

    #[test]
    fn the_owner_names_each_relays_sessions_apart() {
        let mut sessions = Sessions::default();
        let a = sessions.id("edge-1", 1);
        let b = sessions.id("edge-2", 1);
        assert_ne!(a, b);
        assert_eq!(sessions.id("edge-1", 1), a);
        assert_eq!(sessions.origin(b), Some(("edge-2", 1)));
        assert_eq!(sessions.forget("edge-1", 1), Some(a));
        assert_eq!(sessions.origin(a), None);
        assert_ne!(sessions.id("edge-1", 1), a, "a returning session is new");
        // A relay that died never says its sessions are gone.
        let c = sessions.id("edge-3", 9);
        let holder = sessions.id("edge-4", 2);
        sessions.prune(
            Instant::now() + FORGET_AFTER + Duration::from_secs(1),
            Some(holder),
        );
        assert_eq!(sessions.origin(c), None);
        // The holder stays: its lease may outlast the silence.
        assert_eq!(sessions.origin(holder), Some(("edge-4", 2)));
        sessions.forget("edge-4", 2);
        assert!(sessions.ids.is_empty() && sessions.heard.is_empty());
    }

    #[test]
    fn every_ask_goes_back_to_the_same_words() {
        let actions = [
            PtzAction::Move {
                pan: 0.5,
                tilt: -0.25,
                zoom: 0.0,
            },
            PtzAction::Stop {},
            PtzAction::Relative {
                pan: 0.5,
                tilt: 0.5,
                zoom: 0.0,
                fov: true,
            },
            PtzAction::Absolute {
                pan: Some(0.5),
                tilt: None,
                zoom: Some(0.25),
            },
            PtzAction::GotoPreset { preset: "1".into() },
            PtzAction::SetPreset {
                name: "Gate".into(),
                preset: Some("2".into()),
            },
            PtzAction::RemovePreset { preset: "2".into() },
            PtzAction::Home {},
            PtzAction::Take {},
            PtzAction::Release {},
        ];
        for action in actions {
            let ask = Ask::from_wire(action.clone()).unwrap();
            assert_eq!(ask.to_wire(), action);
            assert_eq!(Ask::from_wire(ask.to_wire()).unwrap(), ask);
        }
    }
}
