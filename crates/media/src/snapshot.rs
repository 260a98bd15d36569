//! Alert snapshots: a decoded picture (I420 planes as the `openh264` crate's
//! decoder yields them, or a greyscale plane) → a JPEG at most
//! [`SnapshotOptions::max_width`] (640) pixels wide, aspect kept, even sizes.
//!
//! The picture is shrunk on the YUV planes themselves (area average, i.e. a box
//! filter that weighs every source pixel once: no aliasing on 1080p → 640), then
//! handed to the encoder as YCbCr, so there is no RGB round trip. Video is
//! usually limited range (Y 16–235), JPEG (JFIF) full range: the planes are
//! expanded unless [`SnapshotOptions::full_range`] says they already are. The
//! BT.601 matrix JFIF assumes is kept as is (an HD camera's BT.709 colours come
//! out very slightly shifted; not worth a matrix per pixel in a thumbnail).
//!
//! Encoder: `jpeg-encoder` (pure Rust, no dependencies, `rust-version` 1.87),
//! 4:2:0, quality 80 by default, with its `simd` feature (AVX2 through
//! `std::arch`, detected at run time; still no C), which halved the encode time.
//!
//! Measured (`cargo run --release -p sightline-media --example measure`, 2-core
//! dev machine shared with other builds, load ~7): 1920x1080 I420 → 640x360 JPEG
//! (camera-like content, 12 KB) median 9.4 ms, best 5.2 ms, of which the JPEG
//! encode of the 640x360 picture is ~3.5 ms and the rest the area-average
//! downscale. One per alert: nothing to optimise further.

use jpeg_encoder::{ColorType, Encoder, ImageBuffer, JpegColorType, SamplingFactor};

/// Errors making a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Width or height under 2, or over 65535 (JPEG's limit).
    #[error("unusable picture size {width}x{height}")]
    BadSize { width: u32, height: u32 },
    /// A plane is shorter than its size and stride say.
    #[error("{plane} plane too small: {len} bytes for {rows} rows of stride {stride}")]
    PlaneTooSmall {
        plane: &'static str,
        len: usize,
        rows: usize,
        stride: usize,
    },
    #[error("JPEG encoder: {0}")]
    Encode(String),
}

/// An I420 picture (4:2:0, chroma planes of ⌈w/2⌉ × ⌈h/2⌉), borrowed.
#[derive(Debug, Clone, Copy)]
pub struct I420<'a> {
    pub width: u32,
    pub height: u32,
    pub y: &'a [u8],
    pub u: &'a [u8],
    pub v: &'a [u8],
    pub y_stride: usize,
    pub u_stride: usize,
    pub v_stride: usize,
}

/// A greyscale picture (a luma plane alone), borrowed.
#[derive(Debug, Clone, Copy)]
pub struct Grey<'a> {
    pub width: u32,
    pub height: u32,
    pub y: &'a [u8],
    pub stride: usize,
}

/// What a snapshot is made from.
#[derive(Debug, Clone, Copy)]
pub enum Picture<'a> {
    I420(I420<'a>),
    Grey(Grey<'a>),
}

/// How a snapshot is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotOptions {
    /// Pictures wider than this are shrunk to it (rounded down to even).
    pub max_width: u32,
    /// JPEG quality, 1–100.
    pub quality: u8,
    /// The planes are full range (0–255) already; else limited (16–235/240).
    pub full_range: bool,
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        SnapshotOptions {
            max_width: 640,
            quality: 80,
            full_range: false,
        }
    }
}

/// A JPEG and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jpeg {
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// The snapshot's size for a `width`x`height` picture: at most `max_width`
/// wide, aspect kept, both even, at least 2.
pub fn target_size(width: u32, height: u32, max_width: u32) -> (u32, u32) {
    let w = (width.min(max_width.max(2)) & !1).max(2);
    // Round to the nearest even height.
    let h = (u64::from(height) * u64::from(w) + u64::from(width)) / (2 * u64::from(width).max(1));
    let h = u32::try_from(h * 2).unwrap_or(u32::MAX).max(2);
    (w, h)
}

/// Makes the JPEG.
pub fn encode_jpeg(picture: Picture<'_>, options: &SnapshotOptions) -> Result<Jpeg, SnapshotError> {
    let (width, height) = match picture {
        Picture::I420(p) => (p.width, p.height),
        Picture::Grey(p) => (p.width, p.height),
    };
    if width < 2 || height < 2 || width > 65535 || height > 65535 {
        return Err(SnapshotError::BadSize { width, height });
    }
    let (dw, dh) = target_size(width, height, options.max_width);
    let (sw, sh) = (width as usize, height as usize);
    let (dw, dh) = (dw as usize, dh as usize);
    let quality = options.quality.clamp(1, 100);
    let mut out = Vec::new();
    let encoder = Encoder::new(&mut out, quality);
    match picture {
        Picture::Grey(p) => {
            let plane = Plane::new("y", p.y, sw, sh, p.stride)?;
            let mut y = plane.scale(dw, dh);
            if !options.full_range {
                expand(&mut y, &luma_lut());
            }
            encoder
                .encode(&y, dw as u16, dh as u16, ColorType::Luma)
                .map_err(|e| SnapshotError::Encode(e.to_string()))?;
        }
        Picture::I420(p) => {
            let (cw, ch) = (sw.div_ceil(2), sh.div_ceil(2));
            let y = Plane::new("y", p.y, sw, sh, p.y_stride)?;
            let u = Plane::new("u", p.u, cw, ch, p.u_stride)?;
            let v = Plane::new("v", p.v, cw, ch, p.v_stride)?;
            let mut image = Yuv420 {
                width: dw,
                height: dh,
                y: y.scale(dw, dh),
                u: u.scale(dw / 2, dh / 2),
                v: v.scale(dw / 2, dh / 2),
            };
            if !options.full_range {
                expand(&mut image.y, &luma_lut());
                let chroma = chroma_lut();
                expand(&mut image.u, &chroma);
                expand(&mut image.v, &chroma);
            }
            let mut encoder = encoder;
            encoder.set_sampling_factor(SamplingFactor::F_2_2);
            encoder
                .encode_image(image)
                .map_err(|e| SnapshotError::Encode(e.to_string()))?;
        }
    }
    Ok(Jpeg {
        bytes: out,
        width: dw as u32,
        height: dh as u32,
    })
}

/// One checked plane.
struct Plane<'a> {
    data: &'a [u8],
    width: usize,
    height: usize,
    stride: usize,
}

impl<'a> Plane<'a> {
    fn new(
        name: &'static str,
        data: &'a [u8],
        width: usize,
        height: usize,
        stride: usize,
    ) -> Result<Self, SnapshotError> {
        let needed = stride
            .checked_mul(height - 1)
            .and_then(|n| n.checked_add(width));
        if stride < width || needed.is_none_or(|n| data.len() < n) {
            return Err(SnapshotError::PlaneTooSmall {
                plane: name,
                len: data.len(),
                rows: height,
                stride,
            });
        }
        Ok(Plane {
            data,
            width,
            height,
            stride,
        })
    }

    fn row(&self, y: usize) -> &[u8] {
        &self.data[y * self.stride..y * self.stride + self.width]
    }

    /// Area average to `dw` x `dh` (both ≤ the plane's, ≥ 1): each output pixel
    /// is the mean of the source pixels its area covers (whole pixels: the
    /// span boundaries are rounded down, every source pixel counted once).
    /// Rows first into a u16 sum buffer, then columns.
    fn scale(&self, dw: usize, dh: usize) -> Vec<u8> {
        let dw = dw.clamp(1, self.width);
        let dh = dh.clamp(1, self.height);
        let xs = spans(self.width, dw);
        let ys = spans(self.height, dh);
        let mut out = Vec::with_capacity(dw * dh);
        let mut acc = vec![0u32; dw];
        for &(y0, y1) in &ys {
            acc.iter_mut().for_each(|a| *a = 0);
            for y in y0..y1 {
                let row = self.row(y);
                for (a, &(x0, x1)) in acc.iter_mut().zip(&xs) {
                    *a += row[x0..x1].iter().map(|&p| u32::from(p)).sum::<u32>();
                }
            }
            let rows = (y1 - y0) as u32;
            for (&a, &(x0, x1)) in acc.iter().zip(&xs) {
                let n = rows * (x1 - x0) as u32;
                out.push(((a + n / 2) / n) as u8);
            }
        }
        out
    }
}

/// Source index spans for each of `dst` output pixels over `src` inputs.
fn spans(src: usize, dst: usize) -> Vec<(usize, usize)> {
    (0..dst)
        .map(|i| {
            let a = i * src / dst;
            let b = ((i + 1) * src / dst).max(a + 1);
            (a, b.min(src))
        })
        .collect()
}

fn luma_lut() -> [u8; 256] {
    std::array::from_fn(|i| {
        let v = (i as i32 - 16) * 255 * 2 / 219;
        ((v + 1) / 2).clamp(0, 255) as u8
    })
}

fn chroma_lut() -> [u8; 256] {
    std::array::from_fn(|i| {
        let v = (i as i32 - 128) * 255 * 2 / 224;
        (128 + (v + v.signum()) / 2).clamp(0, 255) as u8
    })
}

fn expand(plane: &mut [u8], lut: &[u8; 256]) {
    plane.iter_mut().for_each(|p| *p = lut[usize::from(*p)]);
}

/// Scaled planes, handed row by row to the encoder as YCbCr (it subsamples the
/// chroma back to 4:2:0 by averaging 2x2, which our replicated pixels survive).
struct Yuv420 {
    width: usize,
    height: usize,
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
}

impl ImageBuffer for Yuv420 {
    fn get_jpeg_color_type(&self) -> JpegColorType {
        JpegColorType::Ycbcr
    }

    fn width(&self) -> u16 {
        self.width as u16
    }

    fn height(&self) -> u16 {
        self.height as u16
    }

    fn fill_buffers(&self, row: u16, buffers: &mut [Vec<u8>; 4]) {
        let row = usize::from(row);
        let cw = self.width / 2;
        let y = &self.y[row * self.width..(row + 1) * self.width];
        let c = (row / 2) * cw;
        let (u, v) = (&self.u[c..c + cw], &self.v[c..c + cw]);
        buffers[0].extend_from_slice(y);
        for x in 0..self.width {
            buffers[1].push(u[x / 2]);
            buffers[2].push(v[x / 2]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_sizes() {
        assert_eq!(target_size(1920, 1080, 640), (640, 360));
        assert_eq!(target_size(2560, 1440, 640), (640, 360));
        assert_eq!(target_size(640, 480, 640), (640, 480));
        assert_eq!(target_size(320, 180, 640), (320, 180));
        assert_eq!(target_size(321, 181, 640), (320, 180));
        assert_eq!(target_size(1280, 1024, 640), (640, 512));
        assert_eq!(target_size(3840, 2160, 640), (640, 360));
        assert_eq!(target_size(704, 576, 640), (640, 524)); // 523.6 → 524
        assert_eq!(target_size(2, 2, 640), (2, 2));
        assert_eq!(target_size(4000, 2, 640), (640, 2));
    }

    #[test]
    fn box_average_of_a_plane() {
        let data = [0, 10, 20, 30, 40, 50, 60, 70];
        let p = Plane::new("y", &data, 4, 2, 4).expect("plane");
        assert_eq!(p.scale(2, 1), vec![25, 45]);
        assert_eq!(p.scale(4, 2), data.to_vec());
    }

    #[test]
    fn ranges_expand() {
        let (l, c) = (luma_lut(), chroma_lut());
        assert_eq!((l[16], l[235], l[0], l[255]), (0, 255, 0, 255));
        assert_eq!((c[16], c[128], c[240]), (0, 128, 255));
    }

    #[test]
    fn short_planes_are_refused() {
        let y = vec![0u8; 100];
        let pic = Picture::Grey(Grey {
            width: 10,
            height: 11,
            y: &y,
            stride: 10,
        });
        assert!(matches!(
            encode_jpeg(pic, &SnapshotOptions::default()),
            Err(SnapshotError::PlaneTooSmall { .. })
        ));
        let pic = Picture::Grey(Grey {
            width: 1,
            height: 10,
            y: &y,
            stride: 1,
        });
        assert!(matches!(
            encode_jpeg(pic, &SnapshotOptions::default()),
            Err(SnapshotError::BadSize { .. })
        ));
    }
}
