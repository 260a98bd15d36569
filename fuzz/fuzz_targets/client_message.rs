//! What any browser may send on the socket: `ClientMessage::parse` must refuse
//! garbage with an error, never panic, and what it accepts must round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sightline_wire::ClientMessage;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(message) = ClientMessage::parse(text) {
        let again = ClientMessage::parse(&message.to_json()).expect("its own JSON parses");
        assert_eq!(again, message);
    }
});
