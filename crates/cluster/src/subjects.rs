//! Names on NATS: subjects per camera and keys in the buckets.
//!
//! Camera ids may hold '.', NATS's token separator (and a level in a KV
//! key): it is written '=' (never in an id, allowed in subjects and keys),
//! so every id has one token and no two ids share one.

/// Every subject of the cluster starts with this.
pub const PREFIX: &str = "sightline";
/// The bucket of camera ownership leases (key: camera token).
pub const LEASES_BUCKET: &str = "sightline-leases";
/// The bucket of cameras: owner and status (key: camera token).
pub const DIRECTORY_BUCKET: &str = "sightline-cameras";
/// The bucket of the cluster's accounts, written by the node that manages
/// them (key: [`ACCOUNTS_KEY`]).
pub const ACCOUNTS_BUCKET: &str = "sightline-accounts";
/// The one key of [`ACCOUNTS_BUCKET`]: every account in one value, so that a
/// copy is always a whole, consistent one.
pub const ACCOUNTS_KEY: &str = "all";

/// The stream that keeps every camera's alert changes
/// (`sightline.cam.*.alert`) for the alerts' retention.
pub const ALERTS_STREAM: &str = "SIGHTLINE_ALERTS";

/// The one subject token of a camera id.
pub fn token(camera: &str) -> String {
    camera.replace('.', "=")
}

/// The camera id of a token made by [`token`].
pub fn camera_of(token: &str) -> String {
    token.replace('=', ".")
}

/// A node's own subject for `what` (node names are one token).
pub fn node_subject(node: &str, what: &str) -> String {
    format!("{PREFIX}.node.{node}.{what}")
}

/// A camera's subject for `what` (`video`, `config`, `gop`, `alert`, `ptz`…).
pub fn camera_subject(camera: &str, what: &str) -> String {
    format!("{PREFIX}.cam.{}.{what}", token(camera))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_with_dots_are_one_token_and_come_back() {
        assert_eq!(
            camera_subject("hall.east", "video"),
            "sightline.cam.hall=east.video"
        );
        assert_eq!(camera_of(&token("hall.east")), "hall.east");
        assert_ne!(token("a.b"), token("a_b"));
        assert_ne!(token("a.b"), token("a-b"));
    }
}
