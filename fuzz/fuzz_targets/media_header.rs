//! A binary frame's header: parsing never panics or reads past the input, and
//! flagging a frame in place (the relay's one copy on a discontinuity) keeps
//! its payload and header readable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sightline_wire::{FrameFlags, MediaHeader};

fuzz_target!(|data: &[u8]| {
    if let Ok((header, payload)) = MediaHeader::parse(data) {
        assert!(payload.len() <= data.len());
        let mut copy = data.to_vec();
        MediaHeader::add_flags_in_place(&mut copy, FrameFlags::DISCONTINUITY)
            .expect("a parsed frame can be flagged");
        let (flagged, same) = MediaHeader::parse(&copy).expect("still parses");
        assert_eq!(same, payload);
        assert_eq!(flagged.channel, header.channel);
    }
});
