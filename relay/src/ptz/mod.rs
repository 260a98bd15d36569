//! PTZ: one controller per camera with a control lease and a dead-man stop
//! ([`rules`], pure), driving the camera through `sightline-onvif`.

pub mod rules;
