//! The figures quoted in the module docs:
//! `cargo run --release -p sightline-media --example measure`.

use std::io::BufWriter;
use std::time::Instant;

use sightline_h264::nal;
use sightline_h264::StreamParams;
use sightline_media::clip::{ClipFrame, ClipOptions, ClipWriter};
use sightline_media::snapshot::{encode_jpeg, Picture, SnapshotOptions, I420};

const FIXTURE: &[u8] = include_bytes!("../../h264/tests/fixtures/high_640x360.h264");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Mux: 60 s at 30 fps of an 8 Mbit/s camera (~33 KB a frame, IDR every 2 s).
    let find = |t| nal::annex_b_units(FIXTURE).find(|u| nal::nal_type(u) == Some(t));
    let params = StreamParams::new(
        find(nal::types::SPS).ok_or("no SPS")?,
        find(nal::types::PPS).ok_or("no PPS")?,
    )?;
    let frame_bytes = 8_000_000 / 8 / 30;
    let mut au = Vec::new();
    nal::push_length_prefixed(&mut au, &vec![0x41; frame_bytes - 4]);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("clip.mp4");
    let runs = 5;
    let mut best = f64::MAX;
    let mut summary = None;
    for _ in 0..runs {
        let started = Instant::now();
        let file = BufWriter::with_capacity(256 << 10, std::fs::File::create(&path)?);
        let mut clip = ClipWriter::new(file, &params.avcc, ClipOptions::default())?;
        for n in 0..1800i64 {
            clip.push(ClipFrame {
                record: &params.avcc,
                data: &au,
                timestamp_us: n * 33_333,
                keyframe: n % 60 == 0,
            })?;
        }
        let (file, s) = clip.finish()?;
        file.into_inner()?.sync_all()?;
        best = best.min(started.elapsed().as_secs_f64());
        summary = Some(s);
    }
    let s = summary.ok_or("no run")?;
    let bytes = std::fs::read(&path)?;
    let moov = bytes
        .windows(4)
        .position(|w| w == b"moov")
        .ok_or("no moov")?;
    let moov_size = u32::from_be_bytes(bytes[moov - 4..moov].try_into()?);
    println!(
        "mux: {} samples, {:.1} MB in {:.1} ms (best of {runs}, fsync included) = {:.0} MB/s; moov {} bytes at {} (fast start: {})",
        s.samples,
        s.bytes as f64 / 1e6,
        best * 1e3,
        s.bytes as f64 / 1e6 / best,
        moov_size,
        moov - 4,
        s.fast_start
    );

    // Snapshot: 1080p I420 → 640x360 JPEG. A camera-like picture: smooth
    // gradients, 24x24 tiles of texture, sharp edges; chroma in blocks.
    let (w, h) = (1920usize, 1080usize);
    let y: Vec<u8> = (0..w * h)
        .map(|i| {
            let (x, r) = (i % w, i / w);
            let base = 40 + (x * 120 / w + r * 60 / h) as u32;
            let tex = if (x / 24 + r / 24) % 3 == 0 {
                ((x * 13 + r * 7) % 32) as u32
            } else {
                0
            };
            (base + tex).min(235) as u8
        })
        .collect();
    let u: Vec<u8> = (0..w * h / 4)
        .map(|i| (100 + (i % (w / 2)) / 40) as u8)
        .collect();
    let v: Vec<u8> = (0..w * h / 4)
        .map(|i| (110 + (i / (w / 2)) / 20) as u8)
        .collect();
    let picture = Picture::I420(I420 {
        width: w as u32,
        height: h as u32,
        y: &y,
        u: &u,
        v: &v,
        y_stride: w,
        u_stride: w / 2,
        v_stride: w / 2,
    });
    let runs = 50;
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let jpeg = encode_jpeg(picture, &SnapshotOptions::default())?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
        size = jpeg.bytes.len();
    }
    times.sort_by(f64::total_cmp);
    println!(
        "snapshot: 1920x1080 I420 -> 640x360 JPEG q80, median {:.2} ms (min {:.2}) over {runs}, {} bytes",
        times[runs / 2],
        times[0],
        size
    );
    // The downscale alone: the same picture already 640x360 skips it.
    let small = |p: &[u8], pw: usize, ph: usize, dw: usize, dh: usize| -> Vec<u8> {
        (0..dw * dh)
            .map(|i| p[(i / dw) * ph / dh * pw + (i % dw) * pw / dw])
            .collect()
    };
    let (sy, su, sv) = (
        small(&y, w, h, 640, 360),
        small(&u, w / 2, h / 2, 320, 180),
        small(&v, w / 2, h / 2, 320, 180),
    );
    let picture = Picture::I420(I420 {
        width: 640,
        height: 360,
        y: &sy,
        u: &su,
        v: &sv,
        y_stride: 640,
        u_stride: 320,
        v_stride: 320,
    });
    let mut times = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        encode_jpeg(picture, &SnapshotOptions::default())?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "snapshot: of which the JPEG encode of 640x360 alone, median {:.2} ms",
        times[runs / 2]
    );
    Ok(())
}
