//! The config file: whatever an operator (or a tool writing it) puts in it,
//! the relay refuses with a message or takes it — never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = sightline_relay::RelayConfig::from_file_text(text);
    }
});
