//! I420 (limited range, BT.709, as HD cameras send) → RGBA for a canvas.
//!
//! Fixed-point with 8 fractional bits: exact enough (±1 against the float
//! formula) and several times faster than float in wasm.

/// Converts a packed I420 picture (`Y` then `U` then `V`) to RGBA into `out`
/// (resized to `width * height * 4`).
pub fn i420_to_rgba(width: usize, height: usize, i420: &[u8], out: &mut Vec<u8>) {
    let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
    out.clear();
    if i420.len() < width * height + 2 * cw * ch {
        return;
    }
    out.resize(width * height * 4, 255);
    let (y_plane, chroma) = i420.split_at(width * height);
    let (u_plane, v_plane) = chroma.split_at(cw * ch);
    for row in 0..height {
        let y_row = &y_plane[row * width..][..width];
        let u_row = &u_plane[(row / 2) * cw..][..cw];
        let v_row = &v_plane[(row / 2) * cw..][..cw];
        let out_row = &mut out[row * width * 4..][..width * 4];
        for (col, px) in out_row.chunks_exact_mut(4).enumerate() {
            let (r, g, b) = bt709(y_row[col], u_row[col / 2], v_row[col / 2]);
            px[0] = r;
            px[1] = g;
            px[2] = b;
        }
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
