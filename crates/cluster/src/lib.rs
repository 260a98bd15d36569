//! Sightline relays cooperating through NATS (issue 17; opt-in with
//! `[cluster]`): the pure rules — who owns a camera (`lease`), what a gap
//! in a camera's frames means (`sequence`), the names on NATS (`subjects`),
//! what rides on a camera's subjects (`media`), the camera directory's
//! entries (`directory`), the config table — and the NATS glue that keeps the leases (`keeper`).

pub mod config;
pub mod directory;
pub mod keeper;
pub mod lease;
pub mod media;
pub mod sequence;
pub mod subjects;

pub use config::{Accounts, ClusterConfig, Role};
pub use keeper::{Cluster, ClusterError, LeaseHandle};
pub use lease::Duty;
