//! What a player is doing, as shown on its overlay and reported in `statechange`.

use sightline_wire::CameraState;

/// The player's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlayerState {
    /// Opening the socket or waiting for the camera's first picture.
    Connecting,
    /// Frames are being painted.
    Live,
    /// The socket to the relay, or the relay's link to the camera, was lost; retrying.
    Reconnecting(Option<String>),
    /// The relay says the camera is unreachable, or refused the request.
    Offline(String),
    /// Out of view (scrolled away, hidden, a background tab): receiving
    /// nothing, and the camera is online (a paused tile whose camera is
    /// offline or reconnecting says that instead: see [`PlayerState::paused`]).
    Paused,
    /// The camera streams, but in a codec this browser cannot decode; the
    /// message says which and what to do.
    Unsupported(String),
}

impl PlayerState {
    /// The `state` value of the `statechange` event.
    pub fn name(&self) -> &'static str {
        match self {
            PlayerState::Connecting => "connecting",
            PlayerState::Live => "live",
            PlayerState::Reconnecting(_) => "reconnecting",
            PlayerState::Offline(_) => "offline",
            PlayerState::Paused => "paused",
            PlayerState::Unsupported(_) => "unsupported",
        }
    }

    /// Why, for `offline` and (when the camera dropped) `reconnecting`.
    pub fn reason(&self) -> Option<&str> {
        match self {
            PlayerState::Offline(reason) | PlayerState::Unsupported(reason) => Some(reason),
            PlayerState::Reconnecting(reason) => reason.as_deref(),
            _ => None,
        }
    }

    /// Text for the overlay; `None` hides it.
    pub fn overlay_text(&self) -> Option<String> {
        match self {
            PlayerState::Connecting => Some("Connecting…".into()),
            PlayerState::Live | PlayerState::Paused => None,
            PlayerState::Reconnecting(None) => Some("Connection lost — reconnecting…".into()),
            PlayerState::Reconnecting(Some(reason)) => {
                Some(format!("Camera lost ({reason}) — reconnecting…"))
            }
            PlayerState::Offline(reason) => Some(format!("Camera offline: {reason}")),
            PlayerState::Unsupported(message) => Some(message.clone()),
        }
    }

    /// The player state implied by a camera status from the relay, given whether
    /// frames are already being painted.
    pub fn from_camera(status: &CameraState, painting: bool) -> PlayerState {
        match status {
            CameraState::Offline { reason } => PlayerState::Offline(reason.clone()),
            CameraState::Reconnecting { reason } => PlayerState::Reconnecting(Some(reason.clone())),
            CameraState::Online if painting => PlayerState::Live,
            CameraState::Online | CameraState::Connecting => PlayerState::Connecting,
        }
    }

    /// The state of a player that receives nothing (out of view), given its
    /// camera's status: the camera's real state, not "connecting".
    pub fn paused(status: &CameraState) -> PlayerState {
        match status {
            CameraState::Online => PlayerState::Paused,
            other => PlayerState::from_camera(other, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_carries_the_reason() {
        let s = PlayerState::from_camera(
            &CameraState::Offline {
                reason: "unauthorized".into(),
            },
            true,
        );
        assert_eq!(s.name(), "offline");
        assert_eq!(s.reason(), Some("unauthorized"));
        assert_eq!(s.overlay_text().unwrap(), "Camera offline: unauthorized");
    }

    #[test]
    fn live_only_once_painting() {
        assert_eq!(
            PlayerState::from_camera(&CameraState::Online, false),
            PlayerState::Connecting
        );
        assert_eq!(
            PlayerState::from_camera(&CameraState::Online, true),
            PlayerState::Live
        );
        assert_eq!(PlayerState::Live.overlay_text(), None);
    }

    #[test]
    fn a_paused_player_tells_its_cameras_real_state() {
        assert_eq!(
            PlayerState::paused(&CameraState::Online),
            PlayerState::Paused
        );
        assert_eq!(PlayerState::Paused.name(), "paused");
        assert_eq!(PlayerState::Paused.overlay_text(), None);
        let offline = PlayerState::paused(&CameraState::Offline {
            reason: "unauthorized".into(),
        });
        assert_eq!(offline, PlayerState::Offline("unauthorized".into()));
        assert_eq!(
            PlayerState::paused(&CameraState::Connecting),
            PlayerState::Connecting
        );
    }

    #[test]
    fn a_camera_that_dropped_is_reconnecting_with_its_reason() {
        let s = PlayerState::from_camera(
            &CameraState::Reconnecting {
                reason: "the camera ended the stream".into(),
            },
            true,
        );
        assert_eq!(s.name(), "reconnecting");
        assert_eq!(s.reason(), Some("the camera ended the stream"));
    }
}
