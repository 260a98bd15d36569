//! Sightline's end-to-end suites (`tests/`) and browser benchmarks
//! (`benches/`). Their shared harness — relay, browser, RTSP server, the
//! protocol client — is the `sightline-testkit` crate (`crates/testkit`).
