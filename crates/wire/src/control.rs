//! JSON control messages (text frames), both directions.
//!
//! Every message is an object with a `"type"` tag. Requests from the client carry
//! an `id` which the relay echoes in its answer (`subscribed`, `unsubscribed`, or
//! `error.request`), so a client can match answers to requests.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::WireError;

/// Messages a player sends to the relay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// First message on a socket.
    Hello {
        protocol: u32,
        /// Free-form client identification, for the relay's logs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<String>,
        /// A signed ticket (embeds, kiosks, share links); without one the
        /// relay uses the page's session cookie.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ticket: Option<Ticket>,
    },
    /// Start receiving a camera's `stream` (its main stream unless said).
    /// Answered by `subscribed` (or `error`). A socket may hold both
    /// streams of a camera at once (a player switching between them).
    Subscribe {
        id: u32,
        camera: String,
        #[serde(default, skip_serializing_if = "Stream::is_main")]
        stream: Stream,
    },
    /// Stop receiving a camera's `stream`. Answered by `unsubscribed` (or `error`).
    Unsubscribe {
        id: u32,
        camera: String,
        #[serde(default, skip_serializing_if = "Stream::is_main")]
        stream: Stream,
    },
    /// Turn a subscribed camera's audio on or off for this socket (off at
    /// subscribing: players start muted, and audio nobody hears is not
    /// sent). Not answered when it succeeds: audio frames follow, after an
    /// `audio_config`; `error` with `request = id` when it does not.
    Audio { id: u32, camera: String, on: bool },
    /// Steer a camera (operators and admins with a grant for it, while it is
    /// subscribed). Not answered when it succeeds: `ptz_state` shows the
    /// effect; `error` with `request = id` when it does not. A held move is
    /// renewed by sending it again at least every 250 ms.
    Ptz {
        id: u32,
        camera: String,
        action: PtzAction,
    },
}

/// What a `ptz` message asks. Speeds and vectors are −1..1 per axis (pan:
/// right positive; tilt: up positive; zoom: in positive); absolute zoom 0..1.
/// Numbers are `f64` because JSON cannot carry a value that is not finite as
/// one (an `f32` would turn `1e39` into infinity); the relay clamps them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum PtzAction {
    /// Start, change or renew a continuous move.
    Move {
        #[serde(default)]
        pan: f64,
        #[serde(default)]
        tilt: f64,
        #[serde(default)]
        zoom: f64,
    },
    /// (Struct variants without fields, so that unknown fields are refused
    /// here too: serde lets unit variants of a tagged enum ignore them.)
    Stop {},
    /// Move by a vector; `fov`: pan/tilt as a fraction of the picture (±1:
    /// its edge), so a click at (x, y) in 0..1 is (2x − 1, 1 − 2y).
    Relative {
        #[serde(default)]
        pan: f64,
        #[serde(default)]
        tilt: f64,
        #[serde(default)]
        zoom: f64,
        #[serde(default)]
        fov: bool,
    },
    /// Go to a position: pan/tilt −1..1 across the range, zoom 0..1; an
    /// axis left out stays where it is.
    Absolute {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pan: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tilt: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        zoom: Option<f64>,
    },
    GotoPreset {
        preset: String,
    },
    /// Save the current position as `name` (over `preset` when given).
    SetPreset {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        preset: Option<String>,
    },
    RemovePreset {
        preset: String,
    },
    Home {},
    /// Take control: an admin from anyone, others once the holder's lease lapsed.
    Take {},
    /// Give control back.
    Release {},
}

/// Messages the relay sends to a player.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServerMessage {
    /// Answer to `hello`: the protocol version and the cameras this client may see.
    Welcome {
        protocol: u32,
        /// Who the relay takes this client for; absent when the relay runs
        /// without accounts.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<WhoAmI>,
        cameras: Vec<CameraInfo>,
    },
    /// Answer to `subscribe`. Binary frames for this camera carry `channel`.
    /// `config` is absent while the camera has not produced its parameters yet;
    /// it then arrives as a `config` message before the first frame.
    Subscribed {
        id: u32,
        camera: String,
        /// The stream asked for (a camera without a substream serves its
        /// main stream for `sub`: `channel` then says so).
        #[serde(default, skip_serializing_if = "Stream::is_main")]
        stream: Stream,
        channel: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        config: Option<StreamConfig>,
        /// Frames of the camera's current GOP that follow at once (the fast
        /// start): the player decodes them without painting them.
        #[serde(default)]
        burst: u32,
    },
    /// New decoder parameters for a channel (first config, or a mid-stream change
    /// such as a new resolution). Frames after it decode with this config.
    Config { channel: u16, config: StreamConfig },
    /// The camera's audio and how to decode it: to every socket subscribed
    /// to it when its audio becomes known (the camera connected), and before
    /// the first audio frame to a socket that turned audio on.
    AudioConfig { channel: u16, config: AudioConfig },
    /// Answer to `unsubscribe`: no more frames will arrive on `channel`.
    Unsubscribed {
        id: u32,
        camera: String,
        #[serde(default, skip_serializing_if = "Stream::is_main")]
        stream: Stream,
        channel: u16,
    },
    /// A camera's state: sent right after `subscribed` (the state then), and
    /// whenever it changes, for every camera in `welcome` (watched or not).
    /// With `stream: "sub"`, the state of its substream (a camera is online
    /// while its main stream is).
    CameraStatus {
        camera: String,
        #[serde(default, skip_serializing_if = "Stream::is_main")]
        stream: Stream,
        status: CameraState,
    },
    /// A PTZ camera's state, to every socket subscribed to it: when it
    /// subscribes, and whenever control, motion or presets change.
    PtzState { camera: String, state: PtzState },
    /// An alert on a camera this client may see, whether or not it watches
    /// that camera's video: the ones still active right after `welcome`
    /// (`active`), then every change as it happens.
    Alert { event: AlertEvent, alert: AlertInfo },
    /// Something went wrong; `request` names the request it answers, if any.
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request: Option<u32>,
    },
}

/// A ticket as it travels in `hello`. Its `Debug` does not show it: tickets
/// are bearer credentials and never go to a log.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Ticket(pub String);

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ticket(…)")
    }
}

/// Who a socket belongs to, as `welcome` says it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoAmI {
    /// A user name, or what a ticket stands for (`device:3`, `share:12`).
    pub name: String,
    /// `viewer`, `operator` or `admin`.
    pub role: String,
}

/// What a client needs to know about a camera before subscribing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CameraInfo {
    pub id: String,
    pub name: String,
    pub status: CameraState,
    pub capabilities: Capabilities,
    /// The state of its substream; absent when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub substream: Option<CameraState>,
}

/// Which of a camera's streams: `main` (full size) or `sub` (the camera's
/// lighter substream, for grid tiles, small embeds and slow decoders).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    #[default]
    Main,
    Sub,
}

impl Stream {
    pub fn is_main(&self) -> bool {
        *self == Stream::Main
    }

    pub fn name(self) -> &'static str {
        match self {
            Stream::Main => "main",
            Stream::Sub => "sub",
        }
    }
}

/// What a camera can do beyond streaming.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// The camera has PTZ the relay can drive.
    pub ptz: bool,
    /// What its PTZ offers and whether this user may use it; absent without PTZ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ptz_features: Option<PtzFeatures>,
}

/// A PTZ camera's operations, as the relay found them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PtzFeatures {
    /// This user may steer it (operator or admin with its grant).
    pub control: bool,
    pub continuous: bool,
    pub zoom: bool,
    pub relative: bool,
    /// Click to centre (RelativeMove in the field-of-view space).
    pub fov: bool,
    pub absolute: bool,
    pub presets: bool,
    pub home: bool,
}

/// Who holds a PTZ camera and what it is doing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PtzState {
    /// The user holding control, if anyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    /// This socket holds control.
    #[serde(default)]
    pub yours: bool,
    /// Milliseconds until the holder's lease lapses without a command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_ms: Option<u64>,
    /// What its PTZ offers and whether this user may use it; absent while
    /// the relay has not reached the camera's PTZ (it may connect later
    /// than `welcome` said).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<PtzFeatures>,
    /// A continuous move is going.
    pub moving: bool,
    pub presets: Vec<PtzPreset>,
    /// Where it points, when the camera says: pan/tilt −1..1, zoom 0..1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<PtzPosition>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PtzPreset {
    /// What `goto_preset` and `remove_preset` take.
    pub preset: String,
    pub name: String,
}

/// Where a PTZ camera points, as far as it says (an axis it does not
/// report is absent, never guessed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PtzPosition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pan: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tilt: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zoom: Option<f64>,
}

/// What happened to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertEvent {
    /// Already active when the socket opened (sent right after `welcome`):
    /// show it, but do not ring.
    Active,
    /// It just started.
    Start,
    /// Still going: more zones, a higher peak, or its snapshot/clip is ready.
    Update,
    /// It ended (`ended_at_ms` is set).
    End,
    /// Someone acknowledged it (`acked_by`, `acked_at_ms`).
    Ack,
}

/// How much an alert matters; configurable per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertSeverity {
    Info,
    Warning,
    Critical,
}

/// One alert, as the socket and `GET /api/alerts` give it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertInfo {
    pub id: i64,
    pub camera: String,
    /// `motion`, `onvif:<topic>`, `webhook:<label>`, `camera_offline`.
    pub kind: String,
    pub severity: AlertSeverity,
    /// Short text for a tile's outline and the list ("Motion: door", "Doorbell").
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub started_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at_ms: Option<i64>,
    /// Motion zones it touched (empty: the whole picture, or not motion).
    #[serde(default)]
    pub zones: Vec<String>,
    /// Peak detector score, 0..1 (0 where the source gives none).
    #[serde(default)]
    pub score: f64,
    /// Peak moving area as a fraction of the picture, 0..1.
    #[serde(default)]
    pub area: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_at_ms: Option<i64>,
    /// A snapshot is ready at `/api/alerts/{id}/snapshot.jpg`.
    #[serde(default)]
    pub snapshot: bool,
    /// A clip is ready at `/api/alerts/{id}/clip.mp4`.
    #[serde(default)]
    pub clip: bool,
}

/// A camera's connection state, as shown to viewers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
pub enum CameraState {
    /// First connection attempt under way.
    Connecting,
    /// Streaming.
    Online,
    /// Was streaming, lost the camera, retrying now.
    Reconnecting { reason: String },
    /// Cannot reach or use the camera; retrying with backoff.
    Offline { reason: String },
}

/// Decoder parameters for one H.264 stream, as WebCodecs' `VideoDecoder.configure` wants them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamConfig {
    /// RFC 6381 codec string, e.g. `avc1.42C01F`.
    pub codec: String,
    pub coded_width: u32,
    pub coded_height: u32,
    /// The avcC record (AVCDecoderConfigurationRecord), base64 in JSON.
    #[serde(with = "base64_bytes")]
    pub description: Vec<u8>,
}

/// A camera's audio, as WebCodecs' `AudioDecoder` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudioConfig {
    /// WebCodecs codec string: `alaw`, `ulaw` (G.711) or `mp4a.40.2` (AAC-LC).
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u16,
    /// AAC's AudioSpecificConfig (frames are raw AAC); empty for G.711. Base64 in JSON.
    #[serde(with = "base64_bytes", default, skip_serializing_if = "Vec::is_empty")]
    pub description: Vec<u8>,
}

/// Machine-readable error codes; the message beside them is for humans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Client and relay speak different protocol versions; the relay closes the socket.
    ProtocolMismatch,
    /// The message could not be parsed, or came at the wrong time.
    BadMessage,
    /// No such camera (or not visible to this user).
    UnknownCamera,
    /// `unsubscribe` for a camera that is not subscribed.
    NotSubscribed,
    /// Who the caller is could not be established (no session, a bad or
    /// expired ticket); sign in or get a fresh ticket.
    Unauthenticated,
    /// The caller is known but may not do this.
    Forbidden,
    /// The request conflicts with the current state (a name already taken).
    Conflict,
    /// Too many attempts; wait before trying again.
    RateLimited,
    /// The relay cannot do this right now (shutting down, a part not running).
    Unavailable,
    /// The camera refused what was asked of it (a PTZ command); the message
    /// carries its own words.
    CameraRefused,
    /// The relay failed; its log says why.
    Internal,
}

impl ClientMessage {
    /// Parses one text frame.
    pub fn parse(text: &str) -> Result<Self, WireError> {
        Ok(serde_json::from_str(text)?)
    }

    /// Serialises for a text frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("control messages always serialise")
    }
}

impl ServerMessage {
    /// Parses one text frame.
    pub fn parse(text: &str) -> Result<Self, WireError> {
        Ok(serde_json::from_str(text)?)
    }

    /// Serialises for a text frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("control messages always serialise")
    }
}

/// Binary fields travel as standard base64 strings inside JSON.
mod base64_bytes {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hello_has_the_documented_shape() {
        let json = ClientMessage::Hello {
            protocol: 1,
            client: None,
            ticket: None,
        }
        .to_json();
        assert_eq!(json, r#"{"type":"hello","protocol":1}"#);
        let hello = ClientMessage::Hello {
            protocol: 1,
            client: None,
            ticket: Some(Ticket("st1.k.p.s".into())),
        };
        assert_eq!(
            hello.to_json(),
            r#"{"type":"hello","protocol":1,"ticket":"st1.k.p.s"}"#
        );
        assert!(
            !format!("{hello:?}").contains("st1.k.p.s"),
            "a ticket never reaches a log"
        );
    }

    #[test]
    fn ptz_messages_have_the_documented_shape() {
        let held = ClientMessage::parse(
            r#"{"type":"ptz","id":7,"camera":"gate","action":{"op":"move","pan":0.5}}"#,
        )
        .unwrap();
        assert_eq!(
            held,
            ClientMessage::Ptz {
                id: 7,
                camera: "gate".into(),
                action: PtzAction::Move {
                    pan: 0.5,
                    tilt: 0.0,
                    zoom: 0.0
                }
            }
        );
        let preset = ClientMessage::Ptz {
            id: 8,
            camera: "gate".into(),
            action: PtzAction::SetPreset {
                name: "Door".into(),
                preset: None,
            },
        };
        assert_eq!(
            preset.to_json(),
            r#"{"type":"ptz","id":8,"camera":"gate","action":{"op":"set_preset","name":"Door"}}"#
        );
        // Numbers written back read the same (serde_json's float_roundtrip).
        let odd = r#"{"type":"ptz","id":1,"camera":"c","action":{"op":"move","pan":5.071354892621117e-8}}"#;
        let once = ClientMessage::parse(odd).unwrap();
        assert_eq!(ClientMessage::parse(&once.to_json()).unwrap(), once);
        for bad in [
            r#"{"type":"ptz","id":1,"camera":"c","action":{"op":"dance"}}"#,
            r#"{"type":"ptz","id":1,"camera":"c","action":{"op":"move","pan":"fast"}}"#,
            r#"{"type":"ptz","id":1,"camera":"c","action":{"op":"stop","extra":1}}"#,
            r#"{"type":"ptz","id":1,"camera":"c"}"#,
        ] {
            assert!(ClientMessage::parse(bad).is_err(), "{bad}");
        }
        let state = ServerMessage::PtzState {
            camera: "gate".into(),
            state: PtzState {
                holder: Some("alice".into()),
                yours: false,
                lease_ms: Some(29_000),
                features: None,
                moving: true,
                presets: vec![PtzPreset {
                    preset: "1".into(),
                    name: "Gate".into(),
                }],
                position: None,
            },
        };
        assert_eq!(
            state.to_json(),
            r#"{"type":"ptz_state","camera":"gate","state":{"holder":"alice","yours":false,"lease_ms":29000,"moving":true,"presets":[{"preset":"1","name":"Gate"}]}}"#
        );
        assert_eq!(ServerMessage::parse(&state.to_json()).unwrap(), state);
    }

    #[test]
    fn description_is_base64() {
        let msg = ServerMessage::Config {
            channel: 3,
            config: StreamConfig {
                codec: "avc1.42C01F".into(),
                coded_width: 1280,
                coded_height: 720,
                description: vec![1, 2, 3, 255],
            },
        };
        let json = msg.to_json();
        assert!(json.contains(r#""description":"AQID/w==""#), "{json}");
        assert_eq!(ServerMessage::parse(&json).unwrap(), msg);
    }

    #[test]
    fn status_is_flat_and_tagged() {
        let json = ServerMessage::CameraStatus {
            camera: "door".into(),
            stream: Stream::Main,
            status: CameraState::Offline {
                reason: "unauthorized".into(),
            },
        }
        .to_json();
        assert_eq!(
            json,
            r#"{"type":"camera_status","camera":"door","status":{"state":"offline","reason":"unauthorized"}}"#
        );
    }

    #[test]
    fn stream_is_said_only_for_the_substream() {
        let main = ClientMessage::Subscribe {
            id: 1,
            camera: "door".into(),
            stream: Stream::Main,
        };
        assert_eq!(
            main.to_json(),
            r#"{"type":"subscribe","id":1,"camera":"door"}"#
        );
        let sub = r#"{"type":"subscribe","id":2,"camera":"door","stream":"sub"}"#;
        assert_eq!(
            ClientMessage::parse(sub).unwrap(),
            ClientMessage::Subscribe {
                id: 2,
                camera: "door".into(),
                stream: Stream::Sub
            }
        );
        let bad = r#"{"type":"subscribe","id":2,"camera":"door","stream":"tiny"}"#;
        assert!(ClientMessage::parse(bad).is_err());
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bad in [
            "",
            "{",
            "[]",
            r#"{"type":"subscribe"}"#,
            r#"{"type":"subscribe","id":-1,"camera":"a"}"#,
            r#"{"type":"launch_missiles"}"#,
            r#"{"type":"hello","protocol":1,"extra":true}"#,
        ] {
            assert!(ClientMessage::parse(bad).is_err(), "{bad:?} parsed");
        }
        assert!(ServerMessage::parse(r#"{"type":"config","channel":1,"config":{"codec":"x","coded_width":1,"coded_height":1,"description":"!!"}}"#).is_err());
    }

    fn arb_state() -> impl Strategy<Value = CameraState> {
        prop_oneof![
            Just(CameraState::Connecting),
            Just(CameraState::Online),
            ".*".prop_map(|reason| CameraState::Offline { reason }),
            ".*".prop_map(|reason| CameraState::Reconnecting { reason }),
        ]
    }

    fn arb_config() -> impl Strategy<Value = StreamConfig> {
        (
            ".*",
            any::<u32>(),
            any::<u32>(),
            proptest::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(codec, w, h, description)| StreamConfig {
                codec,
                coded_width: w,
                coded_height: h,
                description,
            })
    }

    fn arb_stream() -> impl Strategy<Value = Stream> {
        prop_oneof![Just(Stream::Main), Just(Stream::Sub)]
    }

    fn arb_client() -> impl Strategy<Value = ClientMessage> {
        prop_oneof![
            (
                any::<u32>(),
                proptest::option::of(".*"),
                proptest::option::of(".*")
            )
                .prop_map(|(protocol, client, ticket)| ClientMessage::Hello {
                    protocol,
                    client,
                    ticket: ticket.map(Ticket)
                }),
            (any::<u32>(), ".*", arb_stream())
                .prop_map(|(id, camera, stream)| ClientMessage::Subscribe { id, camera, stream }),
            (any::<u32>(), ".*", arb_stream()).prop_map(|(id, camera, stream)| {
                ClientMessage::Unsubscribe { id, camera, stream }
            }),
        ]
    }

    fn arb_server() -> impl Strategy<Value = ServerMessage> {
        let camera = (
            ".*",
            ".*",
            arb_state(),
            any::<bool>(),
            proptest::option::of(arb_state()),
        )
            .prop_map(|(id, name, status, ptz, substream)| CameraInfo {
                id,
                name,
                status,
                capabilities: Capabilities {
                    ptz,
                    ptz_features: None,
                },
                substream,
            });
        let code = prop_oneof![
            Just(ErrorCode::ProtocolMismatch),
            Just(ErrorCode::BadMessage),
            Just(ErrorCode::UnknownCamera),
            Just(ErrorCode::NotSubscribed),
            Just(ErrorCode::Unauthenticated),
            Just(ErrorCode::Forbidden),
            Just(ErrorCode::Conflict),
            Just(ErrorCode::RateLimited),
            Just(ErrorCode::Unavailable),
            Just(ErrorCode::Internal),
        ];
        prop_oneof![
            (
                any::<u32>(),
                proptest::option::of((".*", ".*")),
                proptest::collection::vec(camera, 0..4)
            )
                .prop_map(|(protocol, user, cameras)| ServerMessage::Welcome {
                    protocol,
                    user: user.map(|(name, role)| WhoAmI { name, role }),
                    cameras
                }),
            (
                any::<u32>(),
                ".*",
                any::<u16>(),
                proptest::option::of(arb_config()),
                any::<u32>(),
                arb_stream(),
            )
                .prop_map(|(id, camera, channel, config, burst, stream)| {
                    ServerMessage::Subscribed {
                        id,
                        camera,
                        stream,
                        channel,
                        config,
                        burst,
                    }
                }),
            (any::<u16>(), arb_config())
                .prop_map(|(channel, config)| ServerMessage::Config { channel, config }),
            (any::<u32>(), ".*", any::<u16>(), arb_stream()).prop_map(
                |(id, camera, channel, stream)| ServerMessage::Unsubscribed {
                    id,
                    camera,
                    stream,
                    channel,
                }
            ),
            (".*", arb_state(), arb_stream()).prop_map(|(camera, status, stream)| {
                ServerMessage::CameraStatus {
                    camera,
                    stream,
                    status,
                }
            }),
            (
                any::<i64>(),
                ".*",
                ".*",
                proptest::option::of(any::<i64>()),
                any::<bool>()
            )
                .prop_map(|(id, camera, kind, ended_at_ms, snapshot)| {
                    ServerMessage::Alert {
                        event: AlertEvent::Update,
                        alert: AlertInfo {
                            id,
                            camera,
                            label: kind.clone(),
                            kind,
                            severity: AlertSeverity::Warning,
                            message: None,
                            started_at_ms: 1,
                            ended_at_ms,
                            zones: vec!["door".into()],
                            score: 0.5,
                            area: 0.25,
                            acked_by: None,
                            acked_at_ms: None,
                            snapshot,
                            clip: false,
                        },
                    }
                }),
            (code, ".*", proptest::option::of(any::<u32>())).prop_map(
                |(code, message, request)| ServerMessage::Error {
                    code,
                    message,
                    request
                }
            ),
        ]
    }

    proptest! {
        #[test]
        fn client_messages_round_trip(msg in arb_client()) {
            prop_assert_eq!(ClientMessage::parse(&msg.to_json()).unwrap(), msg);
        }

        #[test]
        fn server_messages_round_trip(msg in arb_server()) {
            prop_assert_eq!(ServerMessage::parse(&msg.to_json()).unwrap(), msg);
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".*") {
            let _ = ClientMessage::parse(&text);
            let _ = ServerMessage::parse(&text);
        }
    }
}
