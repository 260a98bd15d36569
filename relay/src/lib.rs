//! The Sightline relay as a library, so the binary and the end-to-end tests start
//! exactly the same server. Laid out as `../shared/DESIGN.md` draws it:
//!
//! - [`app`]: the relay's lifecycle — start the camera sources and the
//!   listener, shut everything down gracefully.
//! - [`config`]: command line and configuration file.
//! - [`error`]: one [`ErrorKind`](error::ErrorKind), mapped once to an HTTP
//!   status and a wire error code.
//! - `auth`: who is calling (session cookie, ticket) and what each route
//!   needs ([`ROUTES`]).
//! - `http`: the router and its routes (API, metrics, the web app).
//! - `ws`: one WebSocket session per page, and the socket under it.
//! - [`hub`]: per-camera fan-out with the cached GOP, and its counters.
//! - [`ingest`]: camera sources — RTSP, the demo camera, replayed clips.
//! - [`cluster`]: with `[cluster]`, which node pulls each camera and the
//!   video between nodes over NATS.
//!
//! Only what the binary, the tests and the benchmarks use is public.

pub mod alerts;
pub mod app;
mod auth;
pub mod cluster;
pub mod config;
pub mod error;
mod http;
pub mod hub;
pub mod ingest;
pub mod ptz;
pub mod tls;
mod ws;

pub use app::Relay;
pub use auth::origin::normalize as normalize_origin;
pub use auth::policy::{Need, Route, ROUTES};
pub use auth::tickets::new_claims;
pub use config::{AuthConfig, CameraConfig, Cli, RelayConfig, RtspSource, Source, Transport};
pub use ingest::demo::replay::ReplayOptions;
pub use ingest::demo::{DemoOptions, Fault};
