//! The player's WebCodecs decoder and canvas renderer inside headless Chromium
//! (wasm-bindgen-test), on the committed ffmpeg fixture: every frame decodes at
//! the right size and paints, and a damaged codec description is refused.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Uint8Array;
use sightline_h264::{nal, StreamParams};
use sightline_player::backend::Decoder;
use sightline_player::decoder::{Fed, WebCodecsDecoder};
use sightline_player::render::CanvasRenderer;
use sightline_wire::{FrameFlags, FrameKind, MediaHeader, StreamConfig};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{HtmlCanvasElement, VideoFrame};

wasm_bindgen_test_configure!(run_in_browser);

/// 10 frames of 640x360 High profile (with B-frames), made by ffmpeg: see the fixtures' README.
const FIXTURE: &[u8] = include_bytes!("../../h264/tests/fixtures/high_640x360.h264");

/// One access unit as the relay sends it: length-prefixed slices and a header.
struct AccessUnit {
    header: MediaHeader,
    payload: Vec<u8>,
}

/// Splits the Annex B fixture into the stream config and its access units. The
/// fixture has one slice per picture, so every slice ends an access unit.
fn fixture() -> (StreamConfig, Vec<AccessUnit>) {
    let (mut sps, mut pps) = (None, None);
    let mut units = Vec::new();
    for unit in nal::annex_b_units(FIXTURE) {
        match nal::nal_type(unit) {
            Some(nal::types::SPS) => sps = Some(unit),
            Some(nal::types::PPS) => pps = Some(unit),
            Some(t @ (nal::types::IDR | nal::types::SLICE)) => {
                let mut payload = Vec::new();
                nal::push_length_prefixed(&mut payload, unit);
                let flags = if t == nal::types::IDR {
                    FrameFlags::KEYFRAME
                } else {
                    FrameFlags::default()
                };
                units.push(AccessUnit {
                    header: MediaHeader {
                        kind: FrameKind::Video,
                        channel: 0,
                        flags,
                        timestamp_us: units.len() as i64 * 100_000,
                        received_us: 0,
                    },
                    payload,
                });
            }
            _ => {}
        }
    }
    let params = StreamParams::new(sps.expect("fixture has an SPS"), pps.expect("and a PPS"))
        .expect("the fixture's parameter sets parse");
    let config = StreamConfig {
        codec: params.codec_string(),
        coded_width: params.info.width,
        coded_height: params.info.height,
        description: params.avcc,
    };
    (config, units)
}

fn canvas() -> HtmlCanvasElement {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.create_element("canvas").ok())
        .and_then(|c| c.dyn_into().ok())
        .expect("a canvas")
}

#[wasm_bindgen_test]
async fn every_fixture_frame_decodes_and_paints_at_its_size() {
    let (config, units) = fixture();
    assert_eq!(units.len(), 10, "the fixture has 10 pictures");
    let renderer = CanvasRenderer::new(canvas()).expect("a 2d canvas");
    let painted: Rc<RefCell<Vec<(u32, u32)>>> = Rc::default();
    let errors: Rc<RefCell<Vec<String>>> = Rc::default();
    let mut decoder = WebCodecsDecoder::new(
        {
            let painted = painted.clone();
            move |frame: VideoFrame| {
                let size = renderer.paint(frame).expect("drawImage succeeds");
                painted.borrow_mut().push(size);
            }
        },
        {
            let errors = errors.clone();
            move |e| errors.borrow_mut().push(e)
        },
    )
    .expect("VideoDecoder exists in Chromium");
    decoder
        .configure(&config)
        .expect("configure accepts the fixture");
    for unit in &units {
        let fed = decoder
            .decode(&unit.header, &Uint8Array::from(&unit.payload[..]), false)
            .expect("decode accepts the chunk");
        assert_eq!(fed, Fed::Decoding);
    }
    JsFuture::from(decoder.flush())
        .await
        .expect("flush resolves");
    assert_eq!(*errors.borrow(), Vec::<String>::new());
    assert_eq!(*painted.borrow(), vec![(640, 360); 10]);
}

#[wasm_bindgen_test]
async fn frames_before_the_first_keyframe_are_skipped() {
    let (config, units) = fixture();
    let mut decoder = WebCodecsDecoder::new(|frame: VideoFrame| frame.close(), |_| {})
        .expect("VideoDecoder exists in Chromium");
    decoder
        .configure(&config)
        .expect("configure accepts the fixture");
    // Joining mid-GOP: the delta frames before the next keyframe cannot decode.
    let first_key = units
        .iter()
        .skip(1)
        .position(|u| u.header.flags.contains(FrameFlags::KEYFRAME))
        .expect("the fixture has a second keyframe")
        + 1;
    for unit in &units[1..first_key] {
        let fed = decoder.decode(&unit.header, &Uint8Array::from(&unit.payload[..]), false);
        assert_eq!(fed.expect("no exception"), Fed::Skipped);
    }
    let key = &units[first_key];
    let fed = decoder.decode(&key.header, &Uint8Array::from(&key.payload[..]), false);
    assert_eq!(fed.expect("no exception"), Fed::Decoding);
}

#[wasm_bindgen_test]
async fn a_damaged_codec_description_is_refused() {
    let (mut config, units) = fixture();
    // An avcC record whose version byte is wrong and whose parameter sets are cut off.
    config.description.truncate(6);
    config.description[0] = 0xFF;
    let errors: Rc<RefCell<Vec<String>>> = Rc::default();
    let mut decoder = WebCodecsDecoder::new(|frame: VideoFrame| frame.close(), {
        let errors = errors.clone();
        move |e| errors.borrow_mut().push(e)
    })
    .expect("VideoDecoder exists in Chromium");
    // Chromium may refuse at configure (an exception) or later (the error callback).
    let refused_at_configure = decoder.configure(&config).is_err();
    if !refused_at_configure {
        for unit in &units {
            let _ = decoder.decode(&unit.header, &Uint8Array::from(&unit.payload[..]), false);
        }
        let flushed = JsFuture::from(decoder.flush()).await;
        assert!(
            flushed.is_err(),
            "flush must reject after a failed configure"
        );
        assert!(!errors.borrow().is_empty(), "the error callback ran");
        assert!(decoder.is_broken());
    }
}
