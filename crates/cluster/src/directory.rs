//! The camera directory (pure): one entry per camera in a key-value bucket,
//! written by its owner, read by every other node — who pulls it and how
//! it is doing, so a node that follows a camera shows its real status
//! without receiving its video.
//!
//! The owner writes its entry when the status changes and at least every
//! [`refresh`] (a lease); entries expire after [`max_age`] (three leases),
//! so a camera no node pulls any more stops looking online by itself.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sightline_wire::CameraState;

/// One camera's entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The node pulling it.
    pub node: String,
    /// The camera's name (relays that do not have it configured list it so).
    pub name: String,
    pub status: CameraState,
    /// The substream's status, when the camera has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub substream: Option<CameraState>,
    /// It has PTZ, steered through the node pulling it (`…ptz` subjects).
    #[serde(default)]
    pub ptz: bool,
}

/// The longest name and status reason taken from an entry (another node
/// wrote it: what it says is shown, not trusted to be small).
pub const MAX_TEXT_CHARS: usize = 200;

impl Entry {
    /// Cuts the texts to [`MAX_TEXT_CHARS`].
    pub fn tidy(mut self) -> Entry {
        let cut = |s: &mut String| {
            if s.chars().count() > MAX_TEXT_CHARS {
                *s = s.chars().take(MAX_TEXT_CHARS).collect();
            }
        };
        cut(&mut self.name);
        for status in std::iter::once(&mut self.status).chain(self.substream.as_mut()) {
            if let CameraState::Offline { reason } | CameraState::Reconnecting { reason } = status {
                cut(reason);
            }
        }
        self
    }
}

/// How often an owner writes its entries even without a change.
pub fn refresh(lease: Duration) -> Duration {
    lease
}

/// How long an entry lives without being written again.
pub fn max_age(lease: Duration) -> Duration {
    lease * 3
}

/// The status a follower shows for a camera whose entry is gone (no node
/// has written it for [`max_age`]).
pub fn unowned() -> CameraState {
    CameraState::Offline {
        reason: "no relay of the cluster is pulling this camera".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_reads_back_and_outlives_its_refresh() {
        let e = Entry {
            node: "a".into(),
            name: "Front door".into(),
            status: CameraState::Online,
            substream: None,
            ptz: false,
        };
        let text = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Entry>(&text).unwrap(), e);
        let lease = Duration::from_secs(6);
        assert!(max_age(lease) > refresh(lease) * 2);
        let long = Entry {
            node: "a".into(),
            name: "n".repeat(1000),
            status: CameraState::Offline {
                reason: "r".repeat(1000),
            },
            substream: None,
            ptz: true,
        }
        .tidy();
        assert_eq!(long.name.len(), MAX_TEXT_CHARS);
        assert!(
            matches!(long.status, CameraState::Offline { reason } if reason.len() == MAX_TEXT_CHARS)
        );
    }
}
