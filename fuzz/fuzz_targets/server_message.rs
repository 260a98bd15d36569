//! What a relay (or something pretending to be one) sends the player:
//! `ServerMessage::parse` never panics, and round-trips what it accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sightline_wire::ServerMessage;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(message) = ServerMessage::parse(text) {
        let again = ServerMessage::parse(&message.to_json()).expect("its own JSON parses");
        assert_eq!(again, message);
    }
});
