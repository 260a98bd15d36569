//! What a player is doing, as shown on its overlay and reported in `statechange`.

use sightline_wire::CameraState;

/// The player's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlayerState {
    /// Opening the socket or waiting for the camera's first picture.
    Connecting,
    /// Frames are being painted.
    Live,
    /// The socket to the relay was lost; retrying.
    Reconnecting,
    /// The relay says the camera is unreachable, or refused the request.
    Offline(String),
}

impl PlayerState {
    /// The `state` value of the `statechange` event.
    pub fn name(&self) -> &'static str {
        match self {
            PlayerState::Connecting => "connecting",
            PlayerState::Live => "live",
            PlayerState::Reconnecting => "reconnecting",
            PlayerState::Offline(_) => "offline",
        }
    }

    /// The reason, for `offline`.
    pub fn reason(&self) -> Option<&str> {
        match self {
            PlayerState::Offline(reason) => Some(reason),
            _ => None,
        }
    }

    /// Text for the overlay; `None` hides it.
    pub fn overlay_text(&self) -> Option<String> {
        match self {
            PlayerState::Connecting => Some("Connecting…".into()),
            PlayerState::Live => None,
            PlayerState::Reconnecting => Some("Connection lost — reconnecting…".into()),
            PlayerState::Offline(reason) => Some(format!("Camera offline: {reason}")),
        }
    }

    /// The player state implied by a camera status from the relay, given whether
    /// frames are already being painted.
    pub fn from_camera(status: &CameraState, painting: bool) -> PlayerState {
        match status {
            CameraState::Offline { reason } => PlayerState::Offline(reason.clone()),
            CameraState::Online if painting => PlayerState::Live,
            CameraState::Online | CameraState::Connecting => PlayerState::Connecting,
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
}
