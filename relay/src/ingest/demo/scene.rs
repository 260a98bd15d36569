//! The demo camera's picture, drawn straight into I420 planes (no RGB pass):
//! BT.709 75% colour bars across the top (fixed, so tests can check colours),
//! a scrolling diagonal background, a bouncing square, and a burnt-in UTC clock
//! with a frame counter.

use super::font;
use crate::ptz::head::View;

/// BT.709 limited-range Y, U, V of the 75% bars: white, yellow, cyan, green,
/// magenta, red, blue, black. Their RGB values are (191|0) per channel.
pub const BARS_YUV: [(u8, u8, u8); 8] = [
    (180, 128, 128),
    (168, 44, 136),
    (145, 147, 44),
    (133, 63, 52),
    (63, 193, 204),
    (51, 109, 212),
    (28, 212, 120),
    (16, 128, 128),
];

/// Where the demo's doorway is, as fractions of the picture: x0, y0, x1, y1.
/// Nothing else moves there, so motion detection can watch it (the demo's
/// motion zone) while the rest of the picture scrolls (masked).
pub const DOORWAY: [f32; 4] = [0.66, 0.3, 0.96, 0.86];

/// I420 picture buffers and what is drawn into them.
pub struct Scene {
    pub width: usize,
    pub height: usize,
    pub y: Vec<u8>,
    pub u: Vec<u8>,
    pub v: Vec<u8>,
    /// A row of background luma, twice as wide as the picture so each row is one copy.
    background: Vec<u8>,
    /// Per-camera seed: the background's tint and the square's path, so demo
    /// cameras don't all look the same.
    hue: u8,
}

impl Scene {
    /// `width` and `height` must be even.
    pub fn new(width: usize, height: usize, hue: u8) -> Scene {
        let background = (0..width * 2 + height)
            .map(|x| 40 + ((x / 4) % 64) as u8 * 2)
            .collect();
        Scene {
            width,
            height,
            y: vec![0; width * height],
            u: vec![128; width * height / 4],
            v: vec![128; width * height / 4],
            background,
            hue,
        }
    }

    /// Height of the colour-bar strip.
    pub fn bars_height(&self) -> usize {
        (self.height / 8) & !1
    }

    /// Draws frame `n`; `clock` is the text burnt in (e.g. `12:34:56.789`).
    pub fn draw(&mut self, n: u64, clock: &str) {
        let (w, h) = (self.width, self.height);
        let bars = self.bars_height();
        let shift = (n as usize * 3) % (w / 2);
        for row in bars..h {
            let start = shift + (row / 2);
            self.y[row * w..(row + 1) * w].copy_from_slice(&self.background[start..start + w]);
        }
        let (cw, ch) = (w / 2, h / 2);
        let cu = 128u8.wrapping_add(self.hue).wrapping_add((n % 64) as u8) / 2 + 64;
        for row in bars / 2..ch {
            self.u[row * cw..(row + 1) * cw].fill(cu);
            self.v[row * cw..(row + 1) * cw].fill(255 - cu);
        }
        for (i, &(y, u, v)) in BARS_YUV.iter().enumerate() {
            let (x0, x1) = (i * w / 8, (i + 1) * w / 8);
            self.fill(x0, 0, x1 - x0, bars, y, u, v);
        }
        // A square bouncing across the picture.
        let side = (h / 5) & !1;
        let span_x = (w - side) as u64;
        let span_y = (h - bars - side) as u64;
        let bounce = |t: u64, span: u64| {
            let t = t % (2 * span);
            (if t < span { t } else { 2 * span - t }) as usize & !1
        };
        // Each camera's square starts elsewhere and moves at its own pace.
        let seed = self.hue as u64;
        let bx = bounce(n * (6 + seed % 5) + seed * 29, span_x);
        let by = bars + bounce(n * (4 + seed % 3) + seed * 17, span_y);
        self.fill(bx, by, side, side, 210, 90, 200);
        self.draw_clock(clock);
    }

    /// The doorway panel ([`DOORWAY`], still) and, at `walk` (0..1 across),
    /// the intruder crossing it.
    pub fn draw_doorway(&mut self, walk: Option<f32>) {
        let (w, h) = (self.width as f32, self.height as f32);
        let [x0, y0, x1, y1] = DOORWAY;
        let even = |v: f32| (v as usize) & !1;
        let (px, py) = (even(x0 * w), even(y0 * h));
        let (pw, ph) = (even((x1 - x0) * w), even((y1 - y0) * h));
        // A grey wall with a darker door frame.
        self.fill(px, py, pw, ph, 96, 128, 128);
        let frame = (pw / 24).max(2) & !1;
        self.fill(px + pw / 4, py + ph / 8, pw / 2, ph * 7 / 8, 60, 128, 128);
        self.fill(
            px + pw / 4 + frame,
            py + ph / 8 + frame,
            pw / 2 - 2 * frame,
            ph * 7 / 8 - frame,
            80,
            120,
            136,
        );
        if let Some(t) = walk {
            // A bright figure, head and body, walking left to right.
            let body_w = even(pw as f32 * 0.16).max(2);
            let body_h = even(ph as f32 * 0.55).max(2);
            let head = even(body_w as f32 * 0.8).max(2);
            let x = px + even(t.clamp(0.0, 1.0) * (pw - body_w) as f32);
            let y = py + ph - body_h - even(ph as f32 * 0.05);
            self.fill(x, y, body_w, body_h, 200, 100, 170);
            self.fill(
                (x + (body_w - head) / 2) & !1,
                y - head,
                head,
                head,
                220,
                110,
                150,
            );
        }
    }

    /// The picture as the virtual PTZ head sees it: the window `view` of
    /// `world`, scaled to the picture (nearest neighbour: the demo's job is
    /// to move visibly, not to look good), then the clock on top.
    pub fn draw_view(&mut self, world: &World, view: View, clock: &str) {
        let world = &world.planes;
        let (w, h) = (self.width, self.height);
        let window = view.window();
        let (cx, cy) = view.centre();
        let (ww, wh) = (window * world.width as f32, window * world.height as f32);
        let left = cx * world.width as f32 - ww / 2.0;
        let top = cy * world.height as f32 - wh / 2.0;
        let col = |x: usize, plane_w: usize, scale: usize| {
            let wx = (left + (x * scale) as f32 * ww / w as f32) as usize / scale;
            wx.min(plane_w - 1)
        };
        let row = |y: usize, plane_h: usize, scale: usize| {
            let wy = (top + (y * scale) as f32 * wh / h as f32) as usize / scale;
            wy.min(plane_h - 1)
        };
        let cols: Vec<usize> = (0..w).map(|x| col(x, world.width, 1)).collect();
        for y in 0..h {
            let src = &world.y[row(y, world.height, 1) * world.width..][..world.width];
            for (dst, &c) in self.y[y * w..(y + 1) * w].iter_mut().zip(&cols) {
                *dst = src[c];
            }
        }
        let (cw, ch, wcw, wch) = (w / 2, h / 2, world.width / 2, world.height / 2);
        let cols: Vec<usize> = (0..cw).map(|x| col(x, wcw, 2)).collect();
        for y in 0..ch {
            let r = row(y, wch, 2) * wcw;
            for (x, &c) in cols.iter().enumerate() {
                self.u[y * cw + x] = world.u[r + c];
                self.v[y * cw + x] = world.v[r + c];
            }
        }
        self.draw_clock(clock);
    }

    /// The clock on a black plate, bottom left.
    fn draw_clock(&mut self, clock: &str) {
        let (w, h) = (self.width, self.height);
        let scale = (h / 90).max(2);
        let text_w = font::text_width(clock, scale);
        let plate_h = font::GLYPH_H * scale + 2 * scale;
        let (px, py) = (scale * 2, h - plate_h - scale * 2);
        self.fill(px, py & !1, text_w + 2 * scale, plate_h + 2, 16, 128, 128);
        font::draw(&mut self.y, w, px + scale, py + scale, scale, clock, 235);
    }

    /// Fills a rectangle (even coordinates) with one colour.
    #[allow(clippy::too_many_arguments)]
    fn fill(&mut self, x: usize, y: usize, w: usize, h: usize, cy: u8, cu: u8, cv: u8) {
        let (x1, y1) = ((x + w).min(self.width), (y + h).min(self.height));
        for row in y..y1 {
            self.y[row * self.width + x..row * self.width + x1].fill(cy);
        }
        let cw = self.width / 2;
        for row in y / 2..y1 / 2 {
            self.u[row * cw + x / 2..row * cw + x1 / 2].fill(cu);
            self.v[row * cw + x / 2..row * cw + x1 / 2].fill(cv);
        }
    }
}

/// What the virtual PTZ head looks at: a still panorama twice the picture's
/// size each way (a sky, a ground, and a wall of numbered coloured tiles),
/// drawn once. Still, so that a picture standing still proves the head
/// stopped; tiled and numbered, so that a shift is plain to see and to
/// measure.
pub struct World {
    /// The panorama's planes (a scene only ever filled, never animated).
    planes: Scene,
}

impl World {
    /// Tiles across and down.
    pub const COLUMNS: usize = 8;
    pub const ROWS: usize = 4;

    /// The world for a `width`×`height` picture (even sizes).
    pub fn new(width: usize, height: usize) -> World {
        let (w, h) = (width * 2, height * 2);
        let mut world = Scene::new(w, h, 0);
        // Sky above the horizon, a greener ground below, in bands.
        for row in (0..h).step_by(2) {
            let band = (row * 16 / h) as u8;
            let (y, u, v) = if row < h / 3 {
                (150 + band * 4, 150, 110)
            } else {
                (60 + band * 3, 100, 110)
            };
            world.fill(0, row, w, 2, y, u, v);
        }
        // The tiles, each with its own colour and number.
        let (tw, th) = ((w / Self::COLUMNS) & !1, (h / 2 / Self::ROWS) & !1);
        let margin = (tw / 10) & !1;
        let scale = (th / 16).max(2);
        for ty in 0..Self::ROWS {
            for tx in 0..Self::COLUMNS {
                let n = ty * Self::COLUMNS + tx;
                let (x, y) = (tx * tw + margin, h / 4 + ty * th + margin);
                let luma = 50 + ((n * 67) % 160) as u8;
                let cu = 40 + ((n * 41) % 176) as u8;
                let cv = 40 + ((n * 97) % 176) as u8;
                world.fill(x, y, tw - 2 * margin, th - 2 * margin, luma, cu, cv);
                let label = (n + 1).to_string();
                let text = if luma > 128 { 16 } else { 235 };
                font::draw(&mut world.y, w, x + scale, y + scale, scale, &label, text);
            }
        }
        World { planes: world }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_where_tests_expect_them() {
        let mut s = Scene::new(1280, 720, 0);
        s.draw(5, "00:00:00.000");
        for (i, &(y, u, v)) in BARS_YUV.iter().enumerate() {
            let x = i * 160 + 80;
            assert_eq!(s.y[40 * 1280 + x], y);
            assert_eq!(s.u[20 * 640 + x / 2], u);
            assert_eq!(s.v[20 * 640 + x / 2], v);
        }
    }

    #[test]
    fn cameras_draw_different_scenes() {
        let mut a = Scene::new(320, 180, 0);
        let mut b = Scene::new(320, 180, 37);
        a.draw(10, "00:00:00.000");
        b.draw(10, "00:00:00.000");
        assert_ne!(a.y, b.y, "the square is elsewhere");
        assert_ne!(a.u, b.u, "the tint differs");
    }

    #[test]
    fn panning_right_shifts_the_picture_left() {
        let world = World::new(320, 180);
        let mut s = Scene::new(320, 180, 0);
        s.draw_view(&world, View::default(), "00:00:00.000");
        let wide = s.y.clone();
        s.draw_view(&world, View::default(), "00:00:00.000");
        assert_eq!(wide, s.y, "a still head draws the same picture");
        // At zoom 0 the window is half the world: pan by 0.125 moves its
        // centre by 0.125 × 0.25 of the world's 640 px, 20 px of the picture.
        let right = View {
            pan: 0.125,
            ..View::default()
        };
        s.draw_view(&world, right, "00:00:00.000");
        // Across a row of tiles (their edges show the shift).
        let row = 100 * 320;
        assert_ne!(wide[row..row + 320], s.y[row..row + 320]);
        assert_eq!(wide[row + 20..row + 320], s.y[row..row + 300]);
    }

    #[test]
    fn the_picture_moves() {
        let mut s = Scene::new(640, 360, 0);
        s.draw(1, "00:00:00.000");
        let before = s.y.clone();
        s.draw(2, "00:00:00.033");
        assert_ne!(before, s.y);
    }
}
