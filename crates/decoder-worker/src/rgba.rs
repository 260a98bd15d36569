//! I420 (limited range, BT.709, as HD cameras send) → RGBA for a canvas.
//!
//! Fixed-point with 8 fractional bits: exact enough (±1 against the float
//! formula) and several times faster than float in wasm.

/// Converts a packed I420 picture (`Y` then `U` then `V`) to RGBA into `out`
/// (resized to `width * height * 4`; emptied if `i420` is too short). `out`
/// must be empty or hold an earlier result: its alpha bytes are 255 from the
/// first fill on and are not written again, so reusing it saves the fill.
///
/// Two pixels at a time, as they share their chroma: the chroma terms are
/// worked out once per pair, and iterating in pairs leaves no bounds checks in
/// the loop (a 1080p picture is 2 million pixels, 30 times a second, on the
/// fallback decoder's one thread).
pub fn i420_to_rgba(width: usize, height: usize, i420: &[u8], out: &mut Vec<u8>) {
    let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
    if i420.len() < width * height + 2 * cw * ch {
        out.clear();
        return;
    }
    out.resize(width * height * 4, 255);
    let (y_plane, chroma) = i420.split_at(width * height);
    let (u_plane, v_plane) = chroma.split_at(cw * ch);
    for (row, out_row) in out.chunks_exact_mut(width * 4).enumerate() {
        let y_row = &y_plane[row * width..][..width];
        let u_row = &u_plane[(row / 2) * cw..][..cw];
        let v_row = &v_plane[(row / 2) * cw..][..cw];
        let mut ys = y_row.chunks_exact(2);
        let mut pxs = out_row.chunks_exact_mut(8);
        for (((y2, px2), &u), &v) in ys.by_ref().zip(pxs.by_ref()).zip(u_row).zip(v_row) {
            let (r, g, b) = chroma_terms(u, v);
            put(&mut px2[..4], y2[0], r, g, b);
            put(&mut px2[4..], y2[1], r, g, b);
        }
        // An odd width's last pixel has its chroma to itself.
        if let ([y], [.., u], [.., v]) = (ys.remainder(), u_row, v_row) {
            let (r, g, b) = chroma_terms(*u, *v);
            put(pxs.into_remainder(), *y, r, g, b);
        }
    }
}

/// The chroma's share of R, G and B in [`bt709`]'s fixed point, rounding included.
#[inline(always)]
fn chroma_terms(u: u8, v: u8) -> (i32, i32, i32) {
    let d = i32::from(u) - 128;
    let e = i32::from(v) - 128;
    (459 * e + 128, -55 * d - 136 * e + 128, 541 * d + 128)
}

/// Writes one pixel's RGB (alpha stays as it is).
#[inline(always)]
fn put(px: &mut [u8], y: u8, r: i32, g: i32, b: i32) {
    let c = (i32::from(y) - 16) * 298;
    let clamp = |x: i32| (x >> 8).clamp(0, 255) as u8;
    if let [pr, pg, pb, ..] = px {
        *pr = clamp(c + r);
        *pg = clamp(c + g);
        *pb = clamp(c + b);
    }
}

/// One pixel, BT.709 limited range: Y 16–235, Cb/Cr 16–240.
#[inline]
pub fn bt709(y: u8, u: u8, v: u8) -> (u8, u8, u8) {
    // 255/219 · 256 = 298; Cr→R 1.5748 · 255/224 · 256 = 459; Cb→G 0.1873 · … = 55;
    // Cr→G 0.4681 · … = 136; Cb→B 1.8556 · … = 541.
    let c = (i32::from(y) - 16) * 298;
    let d = i32::from(u) - 128;
    let e = i32::from(v) - 128;
    let clamp = |x: i32| ((x + 128) >> 8).clamp(0, 255) as u8;
    (
        clamp(c + 459 * e),
        clamp(c - 55 * d - 136 * e),
        clamp(c + 541 * d),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The float formula, as a reference.
    fn reference(y: u8, u: u8, v: u8) -> (f64, f64, f64) {
        let (kr, kb) = (0.2126, 0.0722);
        let y = (f64::from(y) - 16.0) * 255.0 / 219.0;
        let pb = (f64::from(u) - 128.0) * 255.0 / 224.0;
        let pr = (f64::from(v) - 128.0) * 255.0 / 224.0;
        let r = y + 2.0 * (1.0 - kr) * pr;
        let b = y + 2.0 * (1.0 - kb) * pb;
        let g = (y - kr * r - kb * b) / (1.0 - kr - kb);
        (r, g, b)
    }

    #[test]
    fn fixed_point_matches_the_formula() {
        for y in (16..=235).step_by(7) {
            for u in (16..=240).step_by(7) {
                for v in (16..=240).step_by(7) {
                    let (r, g, b) = bt709(y, u, v);
                    let (rr, rg, rb) = reference(y, u, v);
                    for (got, want) in [(r, rr), (g, rg), (b, rb)] {
                        let want = want.round().clamp(0.0, 255.0);
                        assert!(
                            (f64::from(got) - want).abs() <= 1.0,
                            "{y},{u},{v}: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn black_white_and_75_percent_red() {
        assert_eq!(bt709(16, 128, 128), (0, 0, 0));
        assert_eq!(bt709(235, 128, 128), (255, 255, 255));
        // BT.709 75 % red bar: Y 51, Cb 109, Cr 212 → about (191, 0, 0).
        let (r, g, b) = bt709(51, 109, 212);
        assert!(r.abs_diff(191) <= 2 && g <= 2 && b <= 2, "{r},{g},{b}");
    }

    #[test]
    fn every_pixel_matches_bt709_at_odd_and_even_sizes() {
        for (w, h) in [(1usize, 1usize), (2, 2), (3, 3), (5, 4), (16, 9), (17, 7)] {
            let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
            let len = w * h + 2 * cw * ch;
            let i420: Vec<u8> = (0..len).map(|i| (i * 37 % 256) as u8).collect();
            // A reused buffer (an earlier, bigger, white picture) must not leak
            // into this one.
            let mut out = vec![255u8; 4 * 64 * 64];
            i420_to_rgba(w, h, &i420, &mut out);
            assert_eq!(out.len(), w * h * 4);
            let (u, v) = (&i420[w * h..][..cw * ch], &i420[w * h + cw * ch..]);
            for row in 0..h {
                for col in 0..w {
                    let c = (row / 2) * cw + col / 2;
                    let (r, g, b) = bt709(i420[row * w + col], u[c], v[c]);
                    let px = &out[(row * w + col) * 4..][..4];
                    assert_eq!(px, [r, g, b, 255], "{w}x{h} at {col},{row}");
                }
            }
        }
    }

    #[test]
    fn a_picture_converts_whole() {
        let (w, h) = (4, 2);
        let mut i420 = vec![235u8; w * h];
        i420.extend([128u8; 4]);
        let mut out = Vec::new();
        i420_to_rgba(w, h, &i420, &mut out);
        assert_eq!(out.len(), w * h * 4);
        assert!(out.iter().all(|&b| b == 255));
        i420_to_rgba(w, h, &i420[..3], &mut out);
        assert!(out.is_empty(), "a short buffer yields nothing");
    }
}
