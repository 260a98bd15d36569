//! Decoder benchmark (not a test): decode frames per second of WebCodecs and of
//! OpenH264-Wasm in headless Chromium, for 640x360, 1280x720 and 1920x1080,
//! baseline and high; and of the H.265 fallback (rust_h265 in Wasm) and
//! WebCodecs where it decodes H.265, at 1280x720 and 1920x1080. Run by `cargo xtask bench`, which makes the streams with
//! ffmpeg and builds this with `--cfg sightline_bench`; normal builds skip it.
//!
//! Prints one line per case: `BENCH|<stream>|<decoder>|<median fps>|<min>|<max>`
//! over 5 runs. The Wasm decoder is timed on the page's thread, without the
//! worker's message passing; WebCodecs from the first `decode` to `flush`.
#![cfg(all(target_arch = "wasm32", sightline_bench))]

use std::cell::Cell;
use std::rc::Rc;

use js_sys::Uint8Array;
use sightline_h264::{nal, StreamParams};
use sightline_openh264_wasm::Decoder;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{
    EncodedVideoChunk, EncodedVideoChunkInit, EncodedVideoChunkType, VideoDecoder,
    VideoDecoderConfig, VideoDecoderInit, VideoFrame,
};

wasm_bindgen_test_configure!(run_in_browser);

macro_rules! stream {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!(env!("SIGHTLINE_BENCH_DIR"), "/", $name, ".h264")) as &[u8],
        )
    };
}

const STREAMS: [(&str, &[u8]); 6] = [
    stream!("640x360_baseline"),
    stream!("640x360_high"),
    stream!("1280x720_baseline"),
    stream!("1280x720_high"),
    stream!("1920x1080_baseline"),
    stream!("1920x1080_high"),
];
const RUNS: usize = 5;

/// avcC and length-prefixed access units (a picture starts at a slice with
/// first_mb_in_slice = 0, whose first coded bit is 1).
fn stream(annex_b: &[u8]) -> (StreamParams, Vec<(bool, Vec<u8>)>) {
    let (mut sps, mut pps) = (None, None);
    let mut units: Vec<(bool, Vec<u8>)> = Vec::new();
    for unit in nal::annex_b_units(annex_b) {
        match nal::nal_type(unit) {
            Some(nal::types::SPS) => sps = Some(unit),
            Some(nal::types::PPS) => pps = Some(unit),
            Some(t @ (nal::types::SLICE | nal::types::IDR)) => {
                let starts_picture = unit.get(1).is_some_and(|b| b & 0x80 != 0);
                if starts_picture || units.is_empty() {
                    units.push((t == nal::types::IDR, Vec::new()));
                }
                if let Some((_, au)) = units.last_mut() {
                    nal::push_length_prefixed(au, unit);
                }
            }
            _ => {}
        }
    }
    let params = StreamParams::new(sps.expect("SPS"), pps.expect("PPS")).expect("valid");
    (params, units)
}

fn now() -> f64 {
    js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| {
            let now: js_sys::Function = js_sys::Reflect::get(&p, &"now".into())
                .ok()?
                .dyn_into()
                .ok()?;
            now.call0(&p).ok()?.as_f64()
        })
        .unwrap_or(0.0)
}

fn report(name: &str, decoder: &str, mut fps: Vec<f64>) {
    fps.sort_by(f64::total_cmp);
    console_log!(
        "BENCH|{name}|{decoder}|{:.0}|{:.0}|{:.0}",
        fps[fps.len() / 2],
        fps[0],
        fps[fps.len() - 1]
    );
}

fn wasm_fps(params: &StreamParams, units: &[(bool, Vec<u8>)]) -> f64 {
    let mut decoder = Decoder::new(&params.avcc).expect("configure");
    let started = now();
    let mut pictures = 0;
    for (_, au) in units {
        pictures += usize::from(decoder.decode(au).expect("decode").is_some());
    }
    pictures += decoder.flush().expect("flush").len();
    pictures as f64 / ((now() - started) / 1000.0)
}

async fn webcodecs_fps(params: &StreamParams, units: &[(bool, Vec<u8>)]) -> f64 {
    webcodecs_fps_of(&params.codec_string(), &params.avcc, units).await
}

async fn webcodecs_fps_of(codec: &str, description: &[u8], units: &[(bool, Vec<u8>)]) -> f64 {
    let frames = Rc::new(Cell::new(0u32));
    let output = Closure::<dyn FnMut(VideoFrame)>::new({
        let frames = frames.clone();
        move |frame: VideoFrame| {
            frames.set(frames.get() + 1);
            frame.close();
        }
    });
    let error = Closure::<dyn FnMut(JsValue)>::new(|e: JsValue| console_log!("WebCodecs: {e:?}"));
    let init = VideoDecoderInit::new(
        error.as_ref().unchecked_ref(),
        output.as_ref().unchecked_ref(),
    );
    let decoder = VideoDecoder::new(&init).expect("VideoDecoder");
    let config = VideoDecoderConfig::new(codec);
    config.set_description_u8_array(&Uint8Array::from(description));
    decoder.configure(&config).expect("configure");
    let started = now();
    for (i, (key, au)) in units.iter().enumerate() {
        let kind = if *key {
            EncodedVideoChunkType::Key
        } else {
            EncodedVideoChunkType::Delta
        };
        let chunk = EncodedVideoChunkInit::new(&Uint8Array::from(&au[..]), 0, kind);
        chunk.set_timestamp_f64(i as f64 * 33_333.0);
        decoder
            .decode(&EncodedVideoChunk::new(&chunk).expect("chunk"))
            .expect("decode");
    }
    JsFuture::from(decoder.flush()).await.expect("flush");
    let fps = f64::from(frames.get()) / ((now() - started) / 1000.0);
    let _ = decoder.close();
    fps
}

macro_rules! hevc_stream {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!(env!("SIGHTLINE_BENCH_DIR"), "/", $name, ".h265")) as &[u8],
        )
    };
}

const HEVC_STREAMS: [(&str, &[u8]); 2] = [
    hevc_stream!("1280x720_main"),
    hevc_stream!("1920x1080_main"),
];

/// hvcC and one length-prefixed access unit per picture (x265 writes one
/// slice per picture with these settings).
fn hevc_stream(annex_b: &[u8]) -> (sightline_h264::HevcParams, Vec<(bool, Vec<u8>)>) {
    use sightline_h264::hevc::{self, types};
    let (mut vps, mut sps, mut pps) = (None, None, None);
    let mut units = Vec::new();
    for unit in nal::annex_b_units(annex_b) {
        match hevc::nal_type(unit) {
            Some(types::VPS) => vps = Some(unit),
            Some(types::SPS) => sps = Some(unit),
            Some(types::PPS) => pps = Some(unit),
            Some(t @ 0..=31) => {
                let mut au = Vec::new();
                nal::push_length_prefixed(&mut au, unit);
                units.push((types::IRAP.contains(&t), au));
            }
            _ => {}
        }
    }
    let params =
        sightline_h264::HevcParams::new(vps.expect("VPS"), sps.expect("SPS"), pps.expect("PPS"))
            .expect("valid");
    (params, units)
}

fn hevc_wasm_fps(hvcc: &[u8], units: &[(bool, Vec<u8>)]) -> f64 {
    let mut decoder = sightline_hevc::HevcDecoder::new(hvcc).expect("configure");
    let started = now();
    let mut pictures = 0;
    for (i, (_, au)) in units.iter().enumerate() {
        pictures += decoder.decode(au, i as i64).expect("decode").len();
    }
    pictures += decoder.flush().expect("flush").len();
    pictures as f64 / ((now() - started) / 1000.0)
}

#[wasm_bindgen_test]
async fn hevc_decode_fps() {
    for (name, data) in HEVC_STREAMS {
        let (params, units) = hevc_stream(data);
        let wasm: Vec<f64> = (0..RUNS)
            .map(|_| hevc_wasm_fps(&params.hvcc, &units))
            .collect();
        report(&format!("{name}_h265"), "wasm (rust_h265)", wasm);
        let config = VideoDecoderConfig::new(&params.codec_string());
        config.set_description_u8_array(&Uint8Array::from(&params.hvcc[..]));
        let support = JsFuture::from(VideoDecoder::is_config_supported(&config)).await;
        let supported = support
            .ok()
            .and_then(|s| js_sys::Reflect::get(&s, &"supported".into()).ok())
            .and_then(|s| s.as_bool())
            .unwrap_or(false);
        if !supported {
            console_log!("BENCH|{name}_h265|webcodecs|not supported|—|—");
            continue;
        }
        let mut webcodecs = Vec::new();
        for _ in 0..RUNS {
            webcodecs.push(webcodecs_fps_of(&params.codec_string(), &params.hvcc, &units).await);
        }
        report(&format!("{name}_h265"), "webcodecs", webcodecs);
    }
}

#[wasm_bindgen_test]
async fn decode_fps() {
    for (name, data) in STREAMS {
        let (params, units) = stream(data);
        let wasm: Vec<f64> = (0..RUNS).map(|_| wasm_fps(&params, &units)).collect();
        report(name, "wasm", wasm);
        let mut webcodecs = Vec::new();
        for _ in 0..RUNS {
            webcodecs.push(webcodecs_fps(&params, &units).await);
        }
        report(name, "webcodecs", webcodecs);
    }
}
