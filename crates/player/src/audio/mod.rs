//! Camera audio in the player.
//!
//! The relay forwards a camera's audio untranscoded (G.711 A-law or µ-law,
//! AAC) only to sockets that turned it on (`audio` message), so a muted
//! player costs the network nothing. `<cam-player>` starts muted (browsers
//! only let a page make sound after a gesture); unmuting one element mutes
//! the one that had the sound: a page plays one camera at a time.
//!
//! - [`g711`]: A-law and µ-law → PCM (pure), for browsers without WebCodecs'
//!   `AudioDecoder` (and for `decoder="wasm"`).
//! - [`resample`]: the camera's rate → the sound card's, seamless across packets (pure).
//! - [`schedule`]: the jitter buffer: where each chunk plays on the sound
//!   card's clock, how much lead, what to drop (pure).
//! - `speaker` (wasm): the page's one `AudioContext`, decoding, and the
//!   analyser behind `getStats().audio`.
//!
//! Departure from the sketch (an `AudioWorklet` with a jitter buffer
//! inside): each decoded chunk is an `AudioBufferSourceNode` started at its
//! place on the audio clock. That is the same buffer, kept on the same
//! clock, without a second module to fetch across origins for embeds, and
//! its rule is Rust tested on the host instead of JavaScript in a worklet.

pub mod g711;
pub mod resample;
pub mod schedule;

#[cfg(target_arch = "wasm32")]
pub(crate) mod speaker;
