//! The H.265 fallback decodes the committed x265 fixtures to exactly the
//! pictures FFmpeg's decoder gives (a decoder written by someone else): the
//! same hashes natively (`cargo test`) and compiled to wasm32 in headless
//! Chromium (wasm-bindgen-test; `cargo xtask test` runs both). With
//! B-frames, pictures come out in display order with their own timestamps.

use sightline_h264::hevc::{self, types, HevcParams};
use sightline_h264::nal;
use sightline_hevc::HevcDecoder;

/// (name, stream, FNV-1a over every picture's width, height and I420 planes
/// in output order of `ffmpeg -i X.h265 -f rawvideo -pix_fmt yuv420p`).
const FIXTURES: [(&str, &[u8], u64); 2] = [
    (
        "main_640x360",
        include_bytes!("../../h264/tests/fixtures/main_640x360.h265"),
        0x71f5_8dad_56bc_0db9,
    ),
    (
        "main_426x240_bframes",
        include_bytes!("../../h264/tests/fixtures/main_426x240_bframes.h265"),
        0x6693_a3ee_e4ce_3be2,
    ),
];

/// The stream as the relay sends it: the hvcC record, then each access unit
/// length-prefixed (the fixtures have one slice per picture), in decode
/// order, timestamped with its picture order count as x265 numbered them.
fn stream(annex_b: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let (mut vps, mut sps, mut pps) = (None, None, None);
    let mut units = Vec::new();
    for unit in nal::annex_b_units(annex_b) {
        match hevc::nal_type(unit) {
            Some(types::VPS) => vps = Some(unit),
            Some(types::SPS) => sps = Some(unit),
            Some(types::PPS) => pps = Some(unit),
            Some(0..=31) => {
                let mut au = Vec::new();
                nal::push_length_prefixed(&mut au, unit);
                units.push(au);
            }
            _ => {}
        }
    }
    let params =
        HevcParams::new(vps.expect("VPS"), sps.expect("SPS"), pps.expect("PPS")).expect("valid");
    (params.hvcc, units)
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
    fn picture(&mut self, p: &sightline_hevc::Picture) {
        self.bytes(&p.width.to_le_bytes());
        self.bytes(&p.height.to_le_bytes());
        self.bytes(&p.data);
        self.1 += 1;
    }
}

fn decode_all() {
    for (name, fixture, reference) in FIXTURES {
        let (hvcc, units) = stream(fixture);
        let mut decoder = HevcDecoder::new(&hvcc).expect("configure");
        let mut pictures = Vec::new();
        // Decode order; each unit's timestamp is its index (presentation
        // times are unknown here): out in display order they must ascend.
        for (i, au) in units.iter().enumerate() {
            pictures.extend(decoder.decode(au, i as i64).expect("decode"));
        }
        pictures.extend(decoder.flush().expect("flush"));
        let mut hash = Hasher::new();
        for p in &pictures {
            hash.picture(p);
        }
        assert_eq!(decoder.waiting(), 0, "{name}: a timestamp left waiting");
        let stamps: Vec<i64> = pictures.iter().map(|p| p.timestamp).collect();
        assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{name}: {stamps:?}");
        assert_eq!(hash.1, 10, "{name}: every picture");
        assert_eq!(hash.0, reference, "{name}: hash {:#018x}", hash.0);
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn the_decoder_gives_ffmpegs_pictures() {
    decode_all();
}

/// Without B-frames each access unit gives its picture at once (not when
/// the next one starts, a frame interval later).
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn each_picture_comes_out_with_its_own_access_unit() {
    let (hvcc, units) = stream(FIXTURES[0].1);
    let mut decoder = HevcDecoder::new(&hvcc).unwrap();
    for (i, au) in units.iter().enumerate() {
        let out = decoder.decode(au, i as i64).unwrap();
        assert_eq!(
            out.iter().map(|p| p.timestamp).collect::<Vec<_>>(),
            [i as i64]
        );
    }
}

/// Joining an open-GOP stream at a CRA (as the relay starts a viewer there):
/// its RASL pictures, whose references precede the join, are not shown, and
/// no timestamp is left waiting for them (later pictures keep their own).
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn joining_at_a_cra_drops_its_leading_pictures_cleanly() {
    let (hvcc, units) = stream(FIXTURES[1].1);
    let types = |au: &[u8]| hevc::nal_type(&au[4..]).unwrap_or(0);
    let cra = units
        .iter()
        .position(|au| types(au) == types::CRA)
        .expect("a CRA");
    let rasl = units[cra..]
        .iter()
        .filter(|au| matches!(types(au), 8 | 9))
        .count();
    assert!(rasl > 0, "the fixture has leading pictures after its CRA");
    let mut decoder = HevcDecoder::new(&hvcc).unwrap();
    let mut pictures = Vec::new();
    for (i, au) in units[cra..].iter().enumerate() {
        pictures.extend(decoder.decode(au, i as i64).unwrap());
    }
    pictures.extend(decoder.flush().unwrap());
    assert_eq!(
        pictures.len(),
        units.len() - cra - rasl,
        "{rasl} RASL pictures dropped"
    );
    assert_eq!(decoder.waiting(), 0);
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn damaged_input_is_an_error_not_a_panic() {
    assert!(HevcDecoder::new(&[1, 2, 3]).is_err());
    let (hvcc, units) = stream(FIXTURES[0].1);
    let mut decoder = HevcDecoder::new(&hvcc).unwrap();
    let mut cut = units[0].clone();
    cut.truncate(cut.len() / 2);
    let _ = decoder.decode(&cut, 0);
    let _ = decoder.decode(&[0, 0, 0, 9, 1, 2], 1);
    // A fresh decoder decodes the keyframe again.
    let mut fresh = HevcDecoder::new(&hvcc).unwrap();
    let got = fresh.decode(&units[0], 0).unwrap().len() + fresh.flush().unwrap().len();
    assert_eq!(got, 1);
}

#[cfg(target_arch = "wasm32")]
mod wasm {
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn the_wasm_build_gives_ffmpegs_pictures() {
        super::decode_all();
    }
}
