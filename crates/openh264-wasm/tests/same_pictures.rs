//! The wasm32 build of OpenH264 decodes the committed fixtures to exactly the
//! pictures the native `openh264` crate gives: both are checked against the same
//! reference hashes, natively by `cargo test` and in headless Chromium by
//! wasm-bindgen-test (`cargo xtask test` runs both).

use sightline_h264::{nal, StreamParams};

const FIXTURES: [(&str, &[u8], u64); 2] = [
    (
        "baseline_320x180",
        include_bytes!("../../h264/tests/fixtures/baseline_320x180.h264"),
        REFERENCE_BASELINE,
    ),
    (
        "high_640x360",
        include_bytes!("../../h264/tests/fixtures/high_640x360.h264"),
        REFERENCE_HIGH,
    ),
];
/// FNV-1a over every picture's width, height and I420 planes, in output order,
/// as the native decoder produces them.
const REFERENCE_BASELINE: u64 = 0x299d_efbb_5115_a8e7;
const REFERENCE_HIGH: u64 = 0x3b6b_398f_8248_3a93;

/// The stream as the relay would send it: avcC, then length-prefixed access
/// units (the fixtures have one slice per picture).
fn stream(annex_b: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let (mut sps, mut pps) = (None, None);
    let mut units = Vec::new();
    for unit in nal::annex_b_units(annex_b) {
        match nal::nal_type(unit) {
            Some(nal::types::SPS) => sps = Some(unit),
            Some(nal::types::PPS) => pps = Some(unit),
            Some(nal::types::SLICE | nal::types::IDR) => {
                let mut au = Vec::new();
                nal::push_length_prefixed(&mut au, unit);
                units.push(au);
            }
            _ => {}
        }
    }
    let params = StreamParams::new(sps.expect("an SPS"), pps.expect("a PPS")).expect("valid");
    (params.avcc, units)
}

struct Hasher(u64, usize);

impl Hasher {
    fn new() -> Hasher {
        Hasher(0xcbf2_9ce4_8422_2325, 0)
    }
    fn bytes(&mut self, data: &[u8]) {
        for &b in data {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn picture(&mut self, width: usize, height: usize, planes: [(&[u8], usize); 3]) {
        self.bytes(&(width as u32).to_le_bytes());
        self.bytes(&(height as u32).to_le_bytes());
        for (i, (plane, stride)) in planes.into_iter().enumerate() {
            let (w, h) = if i == 0 {
                (width, height)
            } else {
                (width.div_ceil(2), height.div_ceil(2))
            };
            for row in 0..h {
                self.bytes(&plane[row * stride..row * stride + w]);
            }
        }
        self.1 += 1;
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn native_openh264_gives_the_reference_pictures() {
    use openh264::decoder::{DecodeOptions, Decoder, Flush};
    use openh264::formats::YUVSource;
    for (name, fixture, reference) in FIXTURES {
        let (avcc, units) = stream(fixture);
        let params = StreamParams::from_avcc(&avcc).unwrap();
        let mut decoder = Decoder::new().unwrap();
        let mut hash = Hasher::new();
        let mut headers = Vec::new();
        for set in [&params.sps, &params.pps] {
            headers.extend_from_slice(&[0, 0, 0, 1]);
            headers.extend_from_slice(set);
        }
        assert!(decoder.decode(&headers).unwrap().is_none());
        let take = |yuv: &dyn YUVSource, hash: &mut Hasher| {
            let (w, h) = yuv.dimensions();
            let (sy, su, sv) = yuv.strides();
            hash.picture(w, h, [(yuv.y(), sy), (yuv.u(), su), (yuv.v(), sv)]);
        };
        for au in &units {
            let annex_b = nal::length_prefixed_to_annex_b(au).unwrap();
            let options = DecodeOptions::new().flush_after_decode(Flush::NoFlush);
            if let Some(yuv) = decoder.decode_with_options(&annex_b, options).unwrap() {
                take(&yuv, &mut hash);
            }
        }
        for yuv in decoder.flush_remaining().unwrap() {
            take(&yuv, &mut hash);
        }
        println!("{name}: {} pictures, hash {:#018x}", hash.1, hash.0);
        assert_eq!(hash.1, 10, "{name}: every picture");
        assert_eq!(hash.0, reference, "{name}");
    }
}

#[cfg(target_arch = "wasm32")]
mod wasm {
    use super::*;
    use sightline_openh264_wasm::Decoder;
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn the_wasm_decoder_gives_the_reference_pictures() {
        for (name, fixture, reference) in FIXTURES {
            let (avcc, units) = stream(fixture);
            let mut decoder = Decoder::new(&avcc).expect("configure");
            let mut hash = Hasher::new();
            let mut pictures = Vec::new();
            for au in &units {
                pictures.extend(decoder.decode(au).expect("decode"));
            }
            pictures.extend(decoder.flush().expect("flush"));
            for p in &pictures {
                let (w, h) = (p.width as usize, p.height as usize);
                let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
                let (y, rest) = p.data.split_at(w * h);
                let (u, v) = rest.split_at(cw * ch);
                hash.picture(w, h, [(y, w), (u, cw), (v, cw)]);
            }
            assert_eq!(hash.1, 10, "{name}: every picture");
            assert_eq!(hash.0, reference, "{name}: hash {:#018x}", hash.0);
        }
    }

    #[wasm_bindgen_test]
    fn a_damaged_stream_is_an_error_not_a_crash() {
        let (avcc, units) = stream(FIXTURES[1].1);
        let mut decoder = Decoder::new(&avcc).expect("configure");
        // A length prefix pointing past the end.
        assert!(decoder.decode(&[0, 0, 1, 0, 0x65]).is_err());
        // Garbage inside a well-framed NAL unit: an error or no picture, and the
        // decoder keeps working on the real stream afterwards.
        let mut garbage = units[0].clone();
        for b in garbage.iter_mut().skip(12).step_by(3) {
            *b ^= 0xA5;
        }
        let _ = decoder.decode(&garbage);
        assert!(
            Decoder::new(&avcc[..5]).is_err(),
            "a truncated avcC is refused"
        );
    }
}
