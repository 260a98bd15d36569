//! Snapshots decoded back by an independent JPEG decoder (zune-jpeg).

use sightline_media::snapshot::{encode_jpeg, Grey, Picture, SnapshotOptions, I420};
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

/// An I420 frame, limited range, with padded strides (as decoders give):
/// left half dark grey, right half a bright orange-ish colour.
struct Frame {
    w: usize,
    h: usize,
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
    ys: usize,
    cs: usize,
}

fn synthetic(w: usize, h: usize) -> Frame {
    let (ys, cs) = (w + 32, w.div_ceil(2) + 16);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let mut f = Frame {
        w,
        h,
        y: vec![0xAA; ys * h],
        u: vec![0xAA; cs * ch],
        v: vec![0xAA; cs * ch],
        ys,
        cs,
    };
    for row in 0..h {
        for x in 0..w {
            f.y[row * ys + x] = if x < w / 2 { 40 } else { 200 };
        }
    }
    for row in 0..ch {
        for x in 0..cw {
            let right = x >= cw / 2;
            f.u[row * cs + x] = if right { 60 } else { 128 };
            f.v[row * cs + x] = if right { 200 } else { 128 };
        }
    }
    f
}

fn picture(f: &Frame) -> Picture<'_> {
    Picture::I420(I420 {
        width: f.w as u32,
        height: f.h as u32,
        y: &f.y,
        u: &f.u,
        v: &f.v,
        y_stride: f.ys,
        u_stride: f.cs,
        v_stride: f.cs,
    })
}

/// Decodes to RGB: (width, height, pixels).
fn decode(jpeg: &[u8], colour: bool) -> (usize, usize, Vec<u8>) {
    let space = if colour {
        ColorSpace::RGB
    } else {
        ColorSpace::Luma
    };
    let options = DecoderOptions::default().jpeg_set_out_colorspace(space);
    let mut d = JpegDecoder::new_with_options(std::io::Cursor::new(jpeg), options);
    let pixels = d.decode().expect("decodes");
    let info = d.info().expect("info");
    (info.width as usize, info.height as usize, pixels)
}

/// The mean RGB of a block centred at (cx, cy).
fn mean(px: &[u8], w: usize, cx: usize, cy: usize) -> [f64; 3] {
    let mut sum = [0f64; 3];
    let mut n = 0.0;
    for y in cy - 4..cy + 4 {
        for x in cx - 4..cx + 4 {
            for c in 0..3 {
                sum[c] += f64::from(px[(y * w + x) * 3 + c]);
            }
            n += 1.0;
        }
    }
    sum.map(|s| s / n)
}

/// BT.601 limited range → RGB, the colour the planes mean.
fn expected_rgb(y: f64, u: f64, v: f64) -> [f64; 3] {
    let (y, u, v) = (
        (y - 16.0) * 255.0 / 219.0,
        (u - 128.0) * 255.0 / 224.0,
        (v - 128.0) * 255.0 / 224.0,
    );
    [
        y + 1.402 * v,
        y - 0.344_136 * u - 0.714_136 * v,
        y + 1.772 * u,
    ]
    .map(|c| c.clamp(0.0, 255.0))
}

fn close(got: [f64; 3], want: [f64; 3], tolerance: f64) -> bool {
    got.iter()
        .zip(want)
        .all(|(g, w)| (g - w).abs() <= tolerance)
}

#[test]
fn a_1080p_frame_becomes_a_640_wide_jpeg_with_its_colours() {
    let f = synthetic(1920, 1080);
    let jpeg = encode_jpeg(picture(&f), &SnapshotOptions::default()).expect("jpeg");
    assert_eq!((jpeg.width, jpeg.height), (640, 360));
    let (w, h, px) = decode(&jpeg.bytes, true);
    assert_eq!((w, h), (640, 360));
    let left = mean(&px, w, w / 4, h / 2);
    let right = mean(&px, w, 3 * w / 4, h / 2);
    let (want_left, want_right) = (
        expected_rgb(40.0, 128.0, 128.0),
        expected_rgb(200.0, 60.0, 200.0),
    );
    assert!(
        close(left, want_left, 6.0),
        "left {left:?} want {want_left:?}"
    );
    assert!(
        close(right, want_right, 6.0),
        "right {right:?} want {want_right:?}"
    );
    // Limited range expanded: the dark side is darker than its raw Y of 40.
    assert!(left[0] < 32.0, "{left:?}");
}

#[test]
fn aspect_and_even_sizes_for_odd_inputs() {
    for (w, h, want) in [
        (1280, 720, (640, 360)),
        (704, 576, (640, 524)),
        (641, 359, (640, 358)),
        (333, 251, (332, 250)),
        (480, 640, (480, 640)), // portrait, narrower than 640: kept
    ] {
        let f = synthetic(w, h);
        let jpeg = encode_jpeg(picture(&f), &SnapshotOptions::default()).expect("jpeg");
        let (dw, dh, _) = decode(&jpeg.bytes, true);
        assert_eq!((dw, dh), want, "{w}x{h}");
        assert_eq!((jpeg.width as usize, jpeg.height as usize), want);
        let aspect = |a: usize, b: usize| a as f64 / b as f64;
        assert!(
            (aspect(dw, dh) - aspect(w, h)).abs() < 0.02,
            "{w}x{h} → {dw}x{dh}"
        );
    }
}

#[test]
fn greyscale_input() {
    let (w, h) = (1000, 500);
    let mut y = vec![0u8; w * h];
    for row in 0..h {
        for x in 0..w {
            y[row * w + x] = if x < w / 2 { 16 } else { 235 };
        }
    }
    let pic = Picture::Grey(Grey {
        width: w as u32,
        height: h as u32,
        y: &y,
        stride: w,
    });
    let jpeg = encode_jpeg(pic, &SnapshotOptions::default()).expect("jpeg");
    assert_eq!((jpeg.width, jpeg.height), (640, 320));
    let (dw, dh, px) = decode(&jpeg.bytes, false);
    assert_eq!((dw, dh), (640, 320));
    assert_eq!(px.len(), dw * dh, "one component");
    assert!(px[160 * dw + 100] < 5, "black stays black");
    assert!(px[160 * dw + 540] > 250, "white stays white");
}

#[test]
fn full_range_planes_are_left_alone() {
    let f = synthetic(640, 360);
    let options = SnapshotOptions {
        full_range: true,
        ..SnapshotOptions::default()
    };
    let jpeg = encode_jpeg(picture(&f), &options).expect("jpeg");
    let (w, _, px) = decode(&jpeg.bytes, true);
    let left = mean(&px, w, w / 4, 180);
    assert!(close(left, [40.0; 3], 3.0), "{left:?}");
}
