//! Draws decoded frames on a `<canvas>` with Canvas 2D: `drawImage` a WebCodecs
//! `VideoFrame` at its display size, then close it at once so the decoder's
//! frame pool never runs dry; or copy the fallback decoder's picture from the
//! page's shared WebGL canvas (`gl.rs`), or put its RGBA pixels without WebGL.

use js_sys::{ArrayBuffer, Uint8ClampedArray};
use wasm_bindgen::prelude::*;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData, VideoFrame};

use crate::gl::YuvGl;

pub struct CanvasRenderer {
    canvas: HtmlCanvasElement,
    ctx: CanvasRenderingContext2d,
}

impl CanvasRenderer {
    pub fn new(canvas: HtmlCanvasElement) -> Result<CanvasRenderer, JsValue> {
        let ctx = canvas
            .get_context("2d")?
            .ok_or_else(|| JsValue::from_str("no 2d context"))?
            .dyn_into::<CanvasRenderingContext2d>()?;
        Ok(CanvasRenderer { canvas, ctx })
    }

    /// Paints `frame` and closes it. The canvas takes the stream's size: Chromium
    /// pads the coded size (720 → 738), so the display size is what counts.
    pub fn paint(&self, frame: VideoFrame) -> Result<(u32, u32), JsValue> {
        let (w, h) = (frame.display_width(), frame.display_height());
        if self.canvas.width() != w || self.canvas.height() != h {
            self.canvas.set_width(w);
            self.canvas.set_height(h);
        }
        let drawn = self
            .ctx
            .draw_image_with_video_frame_and_dw_and_dh(&frame, 0.0, 0.0, w as f64, h as f64);
        frame.close();
        drawn.map(|()| (w, h))
    }

    /// Paints a packed I420 picture through the page's shared WebGL renderer.
    pub fn paint_i420(
        &self,
        gl: &YuvGl,
        width: u32,
        height: u32,
        i420: &ArrayBuffer,
    ) -> Result<(u32, u32), JsValue> {
        gl.draw(width, height, i420)?;
        if self.canvas.width() != width || self.canvas.height() != height {
            self.canvas.set_width(width);
            self.canvas.set_height(height);
        }
        self.ctx
            .draw_image_with_html_canvas_element(&gl.canvas, 0.0, 0.0)?;
        Ok((width, height))
    }

    /// Paints an RGBA picture from the fallback decoder.
    pub fn paint_rgba(
        &self,
        width: u32,
        height: u32,
        rgba: &ArrayBuffer,
    ) -> Result<(u32, u32), JsValue> {
        if self.canvas.width() != width || self.canvas.height() != height {
            self.canvas.set_width(width);
            self.canvas.set_height(height);
        }
        let pixels = Uint8ClampedArray::new(rgba);
        let image = ImageData::new_with_js_u8_clamped_array_and_sh(&pixels, width, height)?;
        self.ctx.put_image_data(&image, 0, 0)?;
        Ok((width, height))
    }
}
