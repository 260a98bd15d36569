//! The Sightline relay as a library, so the binary and the end-to-end tests start
//! exactly the same server.
//!
//! - [`config`]: command line and configuration.
//! - [`server`]: HTTP routes and the relay's lifecycle.
//! - [`hub`]: per-camera fan-out with the cached GOP.
//! - [`ws`]: one WebSocket session per page.
//! - [`socket`]: a viewer's WebSocket connection; frames written without copying.
//! - [`demo`]: the built-in demo camera.
//! - [`rtsp`]: RTSP cameras: one supervisor task each (retina), reconnecting forever.
//! - [`metrics`]: per-camera counters and `/metrics`.

pub mod config;
pub mod demo;
pub mod hub;
pub mod metrics;
pub mod rtsp;
pub mod server;
pub mod socket;
pub mod ws;

pub use config::{Cli, RelayConfig};
pub use server::Relay;
