//! The picture operations, on plain slices: shrinking, polygon filling,
//! dilation, connected regions. None allocates; the caller owns the buffers.

use crate::frame::LumaFrame;

/// The analysed size of a `width`×`height` frame: its longer side brought down
/// to `max_side`, the aspect ratio kept, never enlarged.
pub(crate) fn analysis_dims(width: u32, height: u32, max_side: u32) -> (usize, usize) {
    let (w, h, m) = (u64::from(width), u64::from(height), u64::from(max_side));
    if w.max(h) <= m {
        return (w as usize, h as usize);
    }
    let shorter = |long: u64, short: u64| ((short * m + long / 2) / long).max(1);
    if w >= h {
        (m as usize, shorter(w, h) as usize)
    } else {
        (shorter(h, w) as usize, m as usize)
    }
}

/// Box-filter shrinking from one frame size to the analysed size: every output
/// pixel is the rounded mean of the block of input pixels it covers, and every
/// input pixel is read once. Rows are summed first (a loop over whole rows,
/// which the compiler vectorises), then the column sums block by block.
#[derive(Debug)]
pub(crate) struct Shrink {
    /// Input column where each output column's block starts; one more entry
    /// for the end.
    xs: Vec<usize>,
    /// Input row where each output row's block starts; one more entry.
    ys: Vec<usize>,
    /// Per input column, the sum of the current block's rows.
    columns: Vec<u32>,
}

impl Shrink {
    pub(crate) fn new(src_w: usize, src_h: usize, out_w: usize, out_h: usize) -> Shrink {
        let edges =
            |src: usize, out: usize| -> Vec<usize> { (0..=out).map(|i| i * src / out).collect() };
        Shrink {
            xs: edges(src_w, out_w),
            ys: edges(src_h, out_h),
            columns: vec![0; src_w],
        }
    }

    /// Shrinks `frame` (of the size given to [`Shrink::new`]) into `out`.
    pub(crate) fn run(&mut self, frame: &LumaFrame<'_>, out: &mut [u8]) {
        let out_w = self.xs.len() - 1;
        for (out_row, y) in out.chunks_exact_mut(out_w).zip(self.ys.windows(2)) {
            let (y0, y1) = (y[0], y[1]);
            for (c, &p) in self.columns.iter_mut().zip(frame.row(y0)) {
                *c = u32::from(p);
            }
            for row in y0 + 1..y1 {
                for (c, &p) in self.columns.iter_mut().zip(frame.row(row)) {
                    *c += u32::from(p);
                }
            }
            let rows = (y1 - y0) as u32;
            for (o, x) in out_row.iter_mut().zip(self.xs.windows(2)) {
                let sum: u32 = self.columns[x[0]..x[1]].iter().sum();
                let n = rows * (x[1] - x[0]) as u32;
                *o = ((sum + n / 2) / n) as u8;
            }
        }
    }
}

/// Calls `fill` with the index (`y × width + x`) of every pixel of a
/// `width`×`height` picture whose centre is inside the polygon (`points` in
/// 0..1 coordinates, even-odd rule). `crossings` is scratch space.
pub(crate) fn rasterise(
    points: &[[f32; 2]],
    width: usize,
    height: usize,
    crossings: &mut Vec<f64>,
    mut fill: impl FnMut(usize),
) {
    for y in 0..height {
        let yc = (y as f64 + 0.5) / height as f64;
        crossings.clear();
        for (a, b) in points.iter().zip(points.iter().cycle().skip(1)) {
            let (ax, ay) = (f64::from(a[0]), f64::from(a[1]));
            let (bx, by) = (f64::from(b[0]), f64::from(b[1]));
            // Half-open on y, so a vertex on the scan line counts once.
            if (ay <= yc) != (by <= yc) {
                crossings.push(ax + (yc - ay) * (bx - ax) / (by - ay));
            }
        }
        crossings.sort_unstable_by(f64::total_cmp);
        for span in crossings.chunks_exact(2) {
            // Pixel x's centre is (x + 0.5) / width; fill those in [span0, span1).
            let first = (span[0] * width as f64 - 0.5)
                .ceil()
                .clamp(0.0, width as f64) as usize;
            let end = (span[1] * width as f64 - 0.5)
                .ceil()
                .clamp(0.0, width as f64) as usize;
            for x in first..end {
                fill(y * width + x);
            }
        }
    }
}

/// Grows the set pixels (non-zero) of `mask` by one pixel in all eight
/// directions, `times` times (a 3×3 dilation, done as a row pass and a column
/// pass). `tmp` is scratch space of the same size.
pub(crate) fn dilate(mask: &mut [u8], tmp: &mut [u8], width: usize, times: u32) {
    if width == 0 {
        return;
    }
    for _ in 0..times {
        for (src, dst) in mask.chunks_exact(width).zip(tmp.chunks_exact_mut(width)) {
            dst.copy_from_slice(src);
            for (d, &s) in dst[1..].iter_mut().zip(src) {
                *d |= s;
            }
            for (d, &s) in dst.iter_mut().zip(&src[1..]) {
                *d |= s;
            }
        }
        mask.copy_from_slice(tmp);
        for (row, src) in tmp.chunks_exact(width).enumerate() {
            if row > 0 {
                let above = &mut mask[(row - 1) * width..row * width];
                for (d, &s) in above.iter_mut().zip(src) {
                    *d |= s;
                }
            }
            if let Some(below) = mask.get_mut((row + 1) * width..(row + 2) * width) {
                for (d, &s) in below.iter_mut().zip(src) {
                    *d |= s;
                }
            }
        }
    }
}

/// Finds the connected regions of set (non-zero) pixels of `mask` and calls
/// `region` with the indices of each one's pixels. Breadth first, with
/// `queue` as the work list (no recursion, so no stack overflow on a
/// picture-sized region); `queue` should have room for every pixel. `mask` is
/// cleared as it is visited.
pub(crate) fn regions(
    mask: &mut [u8],
    width: usize,
    eight: bool,
    queue: &mut Vec<u32>,
    mut region: impl FnMut(&[u32]),
) {
    if width == 0 {
        return;
    }
    let height = mask.len() / width;
    for start in 0..mask.len() {
        if mask[start] == 0 {
            continue;
        }
        mask[start] = 0;
        queue.clear();
        queue.push(start as u32);
        let mut head = 0;
        while let Some(&i) = queue.get(head) {
            head += 1;
            let i = i as usize;
            let (x, y) = (i % width, i / width);
            let x0 = x.saturating_sub(1);
            let x1 = (x + 1).min(width - 1);
            let y0 = y.saturating_sub(1);
            let y1 = (y + 1).min(height - 1);
            for ny in y0..=y1 {
                for nx in x0..=x1 {
                    if !eight && nx != x && ny != y {
                        continue;
                    }
                    let j = ny * width + nx;
                    if mask[j] != 0 {
                        mask[j] = 0;
                        queue.push(j as u32);
                    }
                }
            }
        }
        region(queue);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analysed_sizes() {
        assert_eq!(analysis_dims(1920, 1080, 320), (320, 180));
        assert_eq!(analysis_dims(1280, 720, 320), (320, 180));
        assert_eq!(analysis_dims(640, 360, 320), (320, 180));
        assert_eq!(analysis_dims(704, 576, 320), (320, 262));
        assert_eq!(analysis_dims(1080, 1920, 320), (180, 320));
        assert_eq!(analysis_dims(320, 240, 320), (320, 240));
        assert_eq!(analysis_dims(160, 90, 320), (160, 90));
        assert_eq!(analysis_dims(16_384, 1, 320), (320, 1));
    }

    #[test]
    fn shrinking_averages_blocks() {
        // 6x4 → 3x2 (blocks of 2x2), and 5x3 → 2x1 (uneven blocks).
        let data: Vec<u8> = (0..24).map(|i| i * 10).collect();
        let frame = LumaFrame::new(6, 4, 6, &data).unwrap();
        let mut out = [0u8; 6];
        Shrink::new(6, 4, 3, 2).run(&frame, &mut out);
        // Top left block: 0, 10, 60, 70 → 35.
        assert_eq!(out, [35, 55, 75, 155, 175, 195]);

        let data = [9u8; 5 * 3 + 4];
        let frame = LumaFrame::new(5, 3, 6, &data[..]).unwrap();
        let mut out = [0u8; 2];
        Shrink::new(5, 3, 2, 1).run(&frame, &mut out);
        assert_eq!(out, [9, 9]);
    }

    #[test]
    fn shrinking_skips_row_padding() {
        // Stride 8, width 4: the padding bytes (255) must not be read.
        let mut data = vec![255u8; 8 * 2];
        for y in 0..2 {
            data[y * 8..y * 8 + 4].fill(20);
        }
        let frame = LumaFrame::new(4, 2, 8, &data).unwrap();
        let mut out = [0u8; 2];
        Shrink::new(4, 2, 2, 1).run(&frame, &mut out);
        assert_eq!(out, [20, 20]);
    }

    fn raster(points: &[[f32; 2]], w: usize, h: usize) -> Vec<u8> {
        let mut map = vec![0u8; w * h];
        rasterise(points, w, h, &mut Vec::new(), |i| map[i] += 1);
        map
    }

    #[test]
    fn rasterising_fills_pixel_centres_once() {
        let whole = raster(&[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]], 8, 4);
        assert!(whole.iter().all(|&v| v == 1));

        // The left half of an 8x4 picture: columns 0..4.
        let left = raster(&[[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]], 8, 4);
        for (i, &v) in left.iter().enumerate() {
            assert_eq!(v, u8::from(i % 8 < 4), "pixel {i}");
        }

        // A triangle (x < y): one more pixel per row.
        let tri = raster(&[[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]], 10, 10);
        let row_counts: Vec<u32> = tri
            .chunks(10)
            .map(|r| r.iter().map(|&v| u32::from(v)).sum())
            .collect();
        assert_eq!(row_counts, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }

    #[test]
    fn dilation_grows_by_one_pixel_per_pass() {
        let mut mask = vec![0u8; 7 * 7];
        mask[3 * 7 + 3] = 1;
        let mut tmp = vec![0u8; 49];
        dilate(&mut mask, &mut tmp, 7, 1);
        assert_eq!(mask.iter().filter(|&&v| v != 0).count(), 9);
        dilate(&mut mask, &mut tmp, 7, 2);
        assert!(mask.iter().all(|&v| v != 0));
    }

    #[test]
    fn dilation_matches_the_definition_at_the_edges() {
        let (w, h) = (13, 7);
        let mut seed = 0x2545_f491u32;
        let mask: Vec<u8> = (0..w * h)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                u8::from(seed.is_multiple_of(7))
            })
            .collect();
        let mut grown = mask.clone();
        dilate(&mut grown, &mut vec![0; w * h], w, 1);
        for y in 0..h {
            for x in 0..w {
                let near = (y.saturating_sub(1)..=(y + 1).min(h - 1)).any(|ny| {
                    (x.saturating_sub(1)..=(x + 1).min(w - 1)).any(|nx| mask[ny * w + nx] != 0)
                });
                assert_eq!(grown[y * w + x], u8::from(near), "({x}, {y})");
            }
        }
    }

    #[test]
    fn regions_with_four_and_eight_neighbours() {
        // Two pixels touching at a corner, and one alone.
        #[rustfmt::skip]
        let mask = [
            1, 0, 0, 0,
            0, 1, 0, 0,
            0, 0, 0, 1,
        ];
        let count = |eight: bool| {
            let mut m = mask;
            let mut sizes = Vec::new();
            regions(&mut m, 4, eight, &mut Vec::with_capacity(12), |r| {
                sizes.push(r.len())
            });
            assert!(m.iter().all(|&v| v == 0));
            sizes
        };
        assert_eq!(count(true), [2, 1]);
        assert_eq!(count(false), [1, 1, 1]);
    }

    #[test]
    fn a_picture_sized_region_does_not_recurse() {
        let (w, h) = (1280, 720);
        let mut mask = vec![1u8; w * h];
        let mut queue = Vec::with_capacity(w * h);
        let mut sizes = Vec::new();
        regions(&mut mask, w, true, &mut queue, |r| sizes.push(r.len()));
        assert_eq!(sizes, [w * h]);
    }
}
