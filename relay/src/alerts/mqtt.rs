//! Alerts to MQTT, what Home Assistant and Node-RED users live on
//! (`[mqtt] url = "mqtt://user:password@broker:1883"`):
//!
//! - `<prefix>/<camera>/motion`: `ON` while a motion alert (the relay's, or
//!   a camera's ONVIF motion event) is active on the camera, else `OFF`;
//!   retained, so a subscriber that comes later knows the state.
//! - `<prefix>/alerts`: every alert change as JSON (`{"event", "alert"}`, the
//!   socket's `alert` message), not retained.
//! - `<prefix>/status`: `online`, retained; the broker publishes `offline`
//!   (the last will) when the relay vanishes.
//! - Home Assistant discovery (`discovery = true`, the default): a
//!   `binary_sensor` per camera under `homeassistant/binary_sensor/…/config`,
//!   retained, with the availability topic.
//!
//! It never holds alerts up: this task reads the alerts' broadcast like a
//! socket does, and publishes with `try_publish` into rumqttc's bounded queue
//! ([`QUEUE`]); when the broker is away the queue fills and further messages
//! are dropped and counted, and on every reconnect (rumqttc reconnects when
//! polled; this task polls forever, with a backoff) the retained state —
//! availability, discovery, each camera's motion — is published again, so
//! what a subscriber sees is right once the broker is back.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Packet, QoS};
use serde::Deserialize;
use sightline_wire::{AlertEvent, AlertInfo, ServerMessage};
use tokio::sync::{broadcast, watch};
use url::Url;

use super::{Alerts, MOTION};
use crate::hub::Hub;

/// Messages waiting for the broker.
pub const QUEUE: usize = 256;
/// The longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// `[mqtt]` in the config file.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// `mqtt://[user[:password]@]host[:port]`.
    pub url: String,
    /// Topics start with this. Default `sightline`.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// Home Assistant MQTT discovery. Default on.
    #[serde(default = "yes")]
    pub discovery: bool,
    /// Default `homeassistant`.
    #[serde(default = "default_discovery_prefix")]
    pub discovery_prefix: String,
    /// Default `sightline-<machine name>`.
    pub client_id: Option<String>,
}

impl fmt::Debug for MqttConfig {
    // The URL may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = Url::parse(&self.url)
            .map(|mut u| {
                if u.password().is_some() {
                    let _ = u.set_password(Some("…"));
                }
                u.to_string()
            })
            .unwrap_or_else(|_| "(invalid)".into());
        f.debug_struct("MqttConfig")
            .field("url", &url)
            .field("prefix", &self.prefix)
            .field("discovery", &self.discovery)
            .finish_non_exhaustive()
    }
}

fn default_prefix() -> String {
    "sightline".into()
}

fn default_discovery_prefix() -> String {
    "homeassistant".into()
}

fn yes() -> bool {
    true
}

/// A checked `[mqtt]`: where and how to connect.
#[derive(Clone)]
pub struct Broker {
    pub host: String,
    pub port: u16,
    credentials: Option<(String, String)>,
    pub prefix: String,
    pub discovery: Option<String>,
    pub client_id: String,
}

impl fmt::Debug for Broker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broker")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl MqttConfig {
    pub fn broker(&self) -> Result<Broker, String> {
        let url = Url::parse(&self.url).map_err(|e| format!("url: {e}"))?;
        if url.scheme() != "mqtt" {
            return Err(format!(
                "url: expected mqtt://host[:port] (TLS, mqtts://, is not supported yet), got {}://",
                url.scheme()
            ));
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("url: no host")?
            .trim_matches(['[', ']'])
            .to_owned();
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| "url: credentials are not valid UTF-8".to_owned())
        };
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            (user, password) => Some((decode(user)?, decode(password.unwrap_or(""))?)),
        };
        let topic_part = |what: &str, s: &str| {
            if s.is_empty()
                || s.contains(['+', '#', '\0'])
                || s.starts_with('/')
                || s.ends_with('/')
            {
                Err(format!("{what} {s:?}: not usable in a topic"))
            } else {
                Ok(())
            }
        };
        topic_part("prefix", &self.prefix)?;
        topic_part("discovery_prefix", &self.discovery_prefix)?;
        let client_id = match &self.client_id {
            Some(id) if !id.is_empty() && id.len() <= 64 => id.clone(),
            Some(_) => return Err("client_id: 1 to 64 characters".into()),
            None => format!(
                "sightline-{}",
                gethostname::gethostname()
                    .to_string_lossy()
                    .chars()
                    .take(40)
                    .collect::<String>()
            ),
        };
        Ok(Broker {
            host,
            port: url.port().unwrap_or(1883),
            credentials,
            prefix: self.prefix.clone(),
            discovery: self.discovery.then(|| self.discovery_prefix.clone()),
            client_id,
        })
    }
}

/// Whether an alert says "motion" for the camera's binary sensor.
pub fn is_motion(kind: &str) -> bool {
    kind == MOTION || (kind.starts_with("onvif:") && kind.to_ascii_lowercase().contains("motion"))
}

/// Each camera's motion state from the active alerts.
fn motion_states(cameras: &[String], active: &[AlertInfo]) -> BTreeMap<String, bool> {
    let mut states: BTreeMap<String, bool> = cameras.iter().map(|c| (c.clone(), false)).collect();
    for alert in active {
        if is_motion(&alert.kind) && alert.ended_at_ms.is_none() {
            states.insert(alert.camera.clone(), true);
        }
    }
    states
}

/// The Home Assistant discovery message of a camera's motion sensor.
pub fn discovery_config(broker: &Broker, camera: &str, name: &str) -> (String, String) {
    let prefix = broker.discovery.as_deref().unwrap_or("homeassistant");
    let object = format!("sightline_{}", camera.replace(['.', '-'], "_"));
    let topic = format!("{prefix}/binary_sensor/{object}/motion/config");
    let payload = serde_json::json!({
        "name": "Motion",
        "unique_id": format!("{object}_motion"),
        "object_id": format!("{object}_motion"),
        "device_class": "motion",
        "state_topic": format!("{}/{camera}/motion", broker.prefix),
        "payload_on": "ON",
        "payload_off": "OFF",
        "availability_topic": format!("{}/status", broker.prefix),
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": {
            "identifiers": [object],
            "name": name,
            "manufacturer": "Sightline",
            "model": "camera",
        },
    });
    (topic, payload.to_string())
}

/// Publishes alerts to the broker until shutdown.
pub async fn run(
    broker: Broker,
    alerts: Arc<Alerts>,
    hub: Arc<Hub>,
    mut shutdown: watch::Receiver<bool>,
) {
    let status_topic = format!("{}/status", broker.prefix);
    let mut options = MqttOptions::new(&broker.client_id, &broker.host, broker.port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_last_will(LastWill::new(
        &status_topic,
        "offline",
        QoS::AtLeastOnce,
        true,
    ));
    if let Some((user, password)) = &broker.credentials {
        options.set_credentials(user, password);
    }
    let (client, mut events) = AsyncClient::new(options, QUEUE);
    let cameras: Vec<(String, String)> = hub
        .feeds()
        .iter()
        .map(|f| (f.id.clone(), f.name.clone()))
        .collect();
    let ids: Vec<String> = cameras.iter().map(|(id, _)| id.clone()).collect();
    let mut changes = alerts.subscribe();
    // What the broker was last told per camera; none yet.
    let mut motion: BTreeMap<String, bool> = BTreeMap::new();
    let mut active: HashMap<i64, AlertInfo> =
        alerts.active().into_iter().map(|a| (a.id, a)).collect();
    let mut dropped: u64 = 0;
    let mut failures: u32 = 0;
    // While the broker is away nothing is queued but state changes: a queue
    // full of stale alert messages would crowd out what a reconnect says.
    let mut connected = false;
    let publish = |topic: String, retain: bool, payload: String, dropped: &mut u64| -> bool {
        if client
            .try_publish(topic, QoS::AtLeastOnce, retain, payload.into_bytes())
            .is_err()
        {
            *dropped += 1;
            if dropped.is_power_of_two() {
                tracing::warn!(
                    dropped = *dropped,
                    "MQTT: the broker is not keeping up (or away): messages dropped"
                );
            }
            return false;
        }
        true
    };
    loop {
        tokio::select! {
            event = events.poll() => match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    if failures > 0 {
                        tracing::info!(host = %broker.host, port = broker.port, "MQTT: connected again");
                    } else {
                        tracing::info!(host = %broker.host, port = broker.port, "MQTT: connected");
                    }
                    failures = 0;
                    connected = true;
                    publish(status_topic.clone(), true, "online".into(), &mut dropped);
                    if broker.discovery.is_some() {
                        for (id, name) in &cameras {
                            let (topic, payload) = discovery_config(&broker, id, name);
                            publish(topic, true, payload, &mut dropped);
                        }
                    }
                    let now: Vec<AlertInfo> = active.values().cloned().collect();
                    for (camera, on) in motion_states(&ids, &now) {
                        if publish(motion_topic(&broker, &camera), true, on_off(on), &mut dropped) {
                            motion.insert(camera, on);
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    connected = false;
                    failures += 1;
                    let wait = backoff(failures);
                    if failures == 1 || failures.is_power_of_two() {
                        tracing::warn!(
                            host = %broker.host,
                            port = broker.port,
                            "MQTT: cannot reach the broker ({e}); retrying in {wait:?} and on"
                        );
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = shutdown.changed() => return,
                    }
                }
            },
            change = changes.recv() => {
                let alerts_now: Vec<AlertInfo> = match change {
                    Ok(change) => {
                        let message = ServerMessage::Alert {
                            event: change.event,
                            alert: change.alert.clone(),
                        };
                        if connected {
                            publish(format!("{}/alerts", broker.prefix), false, message.to_json(), &mut dropped);
                        }
                        if change.alert.ended_at_ms.is_some() {
                            active.remove(&change.alert.id);
                        } else if matches!(change.event, AlertEvent::Start | AlertEvent::Active)
                            || active.contains_key(&change.alert.id)
                        {
                            active.insert(change.alert.id, change.alert.clone());
                        }
                        active.values().cloned().collect()
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let now = alerts.active();
                        active = now.iter().map(|a| (a.id, a.clone())).collect();
                        now
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                // `motion` is what the broker was told: a state whose
                // message was dropped stays different, and is sent with the
                // next change or the next reconnect.
                for (camera, on) in motion_states(&ids, &alerts_now) {
                    if motion.get(&camera) != Some(&on)
                        && publish(motion_topic(&broker, &camera), true, on_off(on), &mut dropped)
                    {
                        motion.insert(camera, on);
                    }
                }
            }
            _ = shutdown.changed() => {
                // A clean stop says so itself (the will is for vanishing).
                let _ = client.try_publish(status_topic.clone(), QoS::AtLeastOnce, true, "offline");
                let _ = client.try_disconnect();
                let flush = async {
                    while let Ok(event) = events.poll().await {
                        if matches!(event, Event::Outgoing(rumqttc::Outgoing::Disconnect)) {
                            break;
                        }
                    }
                };
                let _ = tokio::time::timeout(Duration::from_secs(2), flush).await;
                return;
            }
        }
    }
}

fn motion_topic(broker: &Broker, camera: &str) -> String {
    format!("{}/{camera}/motion", broker.prefix)
}

fn on_off(on: bool) -> String {
    if on { "ON" } else { "OFF" }.into()
}

fn backoff(failures: u32) -> Duration {
    let secs = 1u64 << failures.saturating_sub(1).min(5);
    Duration::from_secs(secs).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> MqttConfig {
        MqttConfig {
            url: url.into(),
            prefix: default_prefix(),
            discovery: true,
            discovery_prefix: default_discovery_prefix(),
            client_id: Some("test".into()),
        }
    }

    #[test]
    fn urls_give_host_port_and_credentials() {
        let b = config("mqtt://ha:s%40cret@broker.lan").broker().unwrap();
        assert_eq!((b.host.as_str(), b.port), ("broker.lan", 1883));
        assert_eq!(b.credentials, Some(("ha".into(), "s@cret".into())));
        assert!(!format!("{b:?}").contains("cret"), "no password in logs");
        assert!(!format!("{:?}", config("mqtt://ha:s%40cret@broker.lan")).contains("cret"));
        let b = config("mqtt://[::1]:1884").broker().unwrap();
        assert_eq!((b.host.as_str(), b.port), ("::1", 1884));
        assert!(config("http://broker").broker().is_err());
        assert!(config("mqtts://broker").broker().is_err());
        let mut bad = config("mqtt://broker");
        bad.prefix = "a/#".into();
        assert!(bad.broker().is_err());
    }

    #[test]
    fn motion_comes_from_motion_alerts_only() {
        assert!(is_motion("motion"));
        assert!(is_motion("onvif:tns1:RuleEngine/CellMotionDetector/Motion"));
        assert!(is_motion("onvif:tns1:VideoSource/MotionAlarm"));
        assert!(!is_motion("onvif:tns1:RuleEngine/LineDetector/Crossed"));
        assert!(!is_motion("webhook:doorbell"));
        assert!(!is_motion("camera_offline"));
    }

    #[test]
    fn discovery_names_a_motion_binary_sensor() {
        let b = config("mqtt://broker").broker().unwrap();
        let (topic, payload) = discovery_config(&b, "front-door", "Front door");
        assert_eq!(
            topic,
            "homeassistant/binary_sensor/sightline_front_door/motion/config"
        );
        let json: serde_json::Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(json["device_class"], "motion");
        assert_eq!(json["state_topic"], "sightline/front-door/motion");
        assert_eq!(json["availability_topic"], "sightline/status");
        assert_eq!(json["device"]["name"], "Front door");
    }

    #[test]
    fn backoff_grows_to_a_ceiling() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(20), MAX_BACKOFF);
    }
}
