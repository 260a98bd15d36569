//! Tickets arrive in `hello` from anyone: `kid_of` and `verify` must refuse
//! every forgery with an error and never panic. A fixed key signs one valid
//! ticket; the fuzzer mutates around it (the corpus seeds it).
#![no_main]

use libfuzzer_sys::fuzz_target;

const KEY: [u8; 32] = [7; 32];
const NOW: i64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = sightline_ticket::kid_of(text);
    for origin in [None, Some("https://shop.example")] {
        if let Ok(claims) = sightline_ticket::verify(text, &KEY, NOW, origin) {
            // Only what the key signed can verify: it must still be well-formed.
            assert!(claims.exp > NOW && claims.exp - claims.iat <= sightline_ticket::MAX_TTL_SECS);
            let resigned = sightline_ticket::sign(sightline_ticket::kid_of(text).unwrap(), &KEY, &claims)
                .expect("verified claims sign again");
            assert!(sightline_ticket::verify(&resigned, &KEY, NOW, origin).is_ok());
        }
    }
});
