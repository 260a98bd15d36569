//! A 5x7 bitmap font for the demo camera's clock: digits, `:`, `.`, `-` and space.
//! Hand-written because it is 15 glyphs; a font crate and rasteriser would be
//! far more code than this.

pub const GLYPH_W: usize = 5;
pub const GLYPH_H: usize = 7;

fn glyph(c: char) -> [u8; GLYPH_H] {
    match c {
        '0' => [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e],
        '1' => [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e],
        '2' => [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f],
        '3' => [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e],
        '4' => [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02],
        '5' => [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e],
        '6' => [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e],
        '7' => [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e],
        '9' => [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c],
        ':' => [0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c],
        '-' => [0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00],
        _ => [0; GLYPH_H],
    }
}

/// Width in pixels of `text` drawn at `scale`.
pub fn text_width(text: &str, scale: usize) -> usize {
    text.chars().count() * (GLYPH_W + 1) * scale
}

/// Draws `text` into a luma plane of row length `stride`, clipped to the plane.
pub fn draw(
    plane: &mut [u8],
    stride: usize,
    x: usize,
    y: usize,
    scale: usize,
    text: &str,
    luma: u8,
) {
    let rows = plane.len() / stride;
    for (i, c) in text.chars().enumerate() {
        let gx = x + i * (GLYPH_W + 1) * scale;
        for (gy, bits) in glyph(c).iter().enumerate() {
            for bit in 0..GLYPH_W {
                if bits & (0x10 >> bit) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    let row = y + gy * scale + dy;
                    let col = gx + bit * scale;
                    if row >= rows || col + scale > stride {
                        continue;
                    }
                    plane[row * stride + col..row * stride + col + scale].fill(luma);
                }
            }
        }
    }
}
