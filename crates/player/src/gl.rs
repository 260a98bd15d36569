//! YUV → RGB on the GPU for the fallback decoder's pictures: one WebGL context
//! for the whole page (browsers cap live contexts at about 16, and a grid can
//! hold more tiles than that), drawing into its own canvas, from which each
//! tile copies the picture with `drawImage`.
//!
//! WebGL 1 (every browser that has WebAssembly has it): three LUMINANCE
//! textures, BT.709 limited-range matrix in the fragment shader.
//!
//! Only where WebGL runs on a GPU, unless the `renderer` attribute asks for it:
//! software WebGL (SwiftShader, llvmpipe; what a machine without a usable GPU
//! gets) costs more than the worker converting to RGBA and Canvas 2D putting
//! it. Measured in headless Chromium on two cores, 720p30: 13 pictures painted
//! per second through software WebGL against 30 through Canvas 2D, with less
//! CPU. Which it is: the context attribute `failIfMajorPerformanceCaveat`
//! (Firefox refuses a software context with it; Chromium does not), then the
//! renderer's name (`WEBGL_debug_renderer_info`, or `RENDERER` where the
//! browser puts the real name there).

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{ArrayBuffer, Float32Array, Uint8Array};
use wasm_bindgen::prelude::*;
use web_sys::{
    HtmlCanvasElement, WebGlContextAttributes, WebGlProgram, WebGlRenderingContext as Gl,
    WebGlShader, WebGlTexture,
};

const VERTEX: &str = r#"
attribute vec2 pos;
varying vec2 uv;
void main() {
  uv = vec2((pos.x + 1.0) / 2.0, (1.0 - pos.y) / 2.0);
  gl_Position = vec4(pos, 0.0, 1.0);
}"#;

/// BT.709, limited range (Y 16–235, Cb/Cr 16–240), as HD cameras send.
const FRAGMENT: &str = r#"
precision mediump float;
varying vec2 uv;
uniform sampler2D y_tex, u_tex, v_tex;
void main() {
  float y = (texture2D(y_tex, uv).r - 16.0 / 255.0) * (255.0 / 219.0);
  float u = (texture2D(u_tex, uv).r - 128.0 / 255.0) * (255.0 / 224.0);
  float v = (texture2D(v_tex, uv).r - 128.0 / 255.0) * (255.0 / 224.0);
  gl_FragColor = vec4(
    y + 1.5748 * v,
    y - 0.1873 * u - 0.4681 * v,
    y + 1.8556 * u,
    1.0);
}"#;

/// The page's one YUV renderer.
pub struct YuvGl {
    pub canvas: HtmlCanvasElement,
    gl: Gl,
    textures: [WebGlTexture; 3],
}

/// How the fallback decoder's pictures are painted: the `renderer` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Painting {
    /// WebGL where it runs on a GPU, otherwise Canvas 2D.
    Auto,
    /// WebGL even in software (Canvas 2D only without any WebGL).
    WebGl,
    /// Canvas 2D, RGBA from the worker.
    Canvas2d,
}

impl Painting {
    pub fn parse(attribute: Option<&str>) -> Painting {
        match attribute.map(str::trim) {
            Some("webgl") => Painting::WebGl,
            Some("canvas2d") => Painting::Canvas2d,
            _ => Painting::Auto,
        }
    }
}

type Slot = RefCell<Option<Option<Rc<YuvGl>>>>;

thread_local! {
    /// The page's renderer on a GPU, and (asked for only when that is missing
    /// and the attribute allows it) in software.
    static ON_GPU: Slot = const { RefCell::new(None) };
    static IN_SOFTWARE: Slot = const { RefCell::new(None) };
}

/// The shared renderer for `painting`, made on first use; `None`: Canvas 2D.
pub fn shared(painting: Painting) -> Option<Rc<YuvGl>> {
    let made = |slot: &'static std::thread::LocalKey<Slot>, gpu_only: bool| {
        slot.with(|s| {
            s.borrow_mut()
                .get_or_insert_with(|| match YuvGl::new(gpu_only) {
                    Ok(gl) => Some(Rc::new(gl)),
                    Err(e) => {
                        let what = if gpu_only { "WebGL on a GPU" } else { "WebGL" };
                        let message = format!("Sightline: no {what}; painting with Canvas 2D");
                        web_sys::console::info_2(&message.into(), &e);
                        None
                    }
                })
                .clone()
        })
    };
    match painting {
        Painting::Canvas2d => None,
        Painting::Auto => made(&ON_GPU, true),
        Painting::WebGl => made(&ON_GPU, true).or_else(|| made(&IN_SOFTWARE, false)),
    }
}

/// Names that software WebGL implementations give themselves.
const SOFTWARE: &[&str] = &[
    "swiftshader",
    "llvmpipe",
    "softpipe",
    "software",
    "basic render",
];

/// The renderer's name, if it is a software one.
fn software_renderer(gl: &Gl) -> Option<String> {
    /// `WEBGL_debug_renderer_info.UNMASKED_RENDERER_WEBGL`.
    const UNMASKED_RENDERER: u32 = 0x9246;
    let unmasked = gl
        .get_extension("WEBGL_debug_renderer_info")
        .ok()
        .flatten()
        .and_then(|_| gl.get_parameter(UNMASKED_RENDERER).ok());
    [unmasked, gl.get_parameter(Gl::RENDERER).ok()]
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_string())
        .find(|name| {
            let name = name.to_lowercase();
            SOFTWARE.iter().any(|s| name.contains(s))
        })
}

impl YuvGl {
    /// `gpu_only`: fail where the browser would draw in software.
    fn new(gpu_only: bool) -> Result<YuvGl, JsValue> {
        let document = web_sys::window()
            .and_then(|w| w.document())
            .ok_or("no document")?;
        let canvas: HtmlCanvasElement = document.create_element("canvas")?.dyn_into()?;
        let attributes = WebGlContextAttributes::new();
        attributes.set_fail_if_major_performance_caveat(gpu_only);
        let gl: Gl = canvas
            .get_context_with_context_options("webgl", &attributes)?
            .ok_or("WebGL unavailable")?
            .dyn_into()?;
        if gpu_only {
            if let Some(name) = software_renderer(&gl) {
                return Err(format!("WebGL is software here ({name})").into());
            }
        }
        let program = link(&gl)?;
        gl.use_program(Some(&program));
        let quad = gl.create_buffer().ok_or("no buffer")?;
        gl.bind_buffer(Gl::ARRAY_BUFFER, Some(&quad));
        let corners = Float32Array::from(&[-1.0f32, -1.0, 1.0, -1.0, -1.0, 1.0, 1.0, 1.0][..]);
        gl.buffer_data_with_array_buffer_view(Gl::ARRAY_BUFFER, &corners, Gl::STATIC_DRAW);
        let pos = gl.get_attrib_location(&program, "pos") as u32;
        gl.enable_vertex_attrib_array(pos);
        gl.vertex_attrib_pointer_with_i32(pos, 2, Gl::FLOAT, false, 0, 0);
        gl.pixel_storei(Gl::UNPACK_ALIGNMENT, 1);
        let mut textures = Vec::new();
        for (unit, name) in ["y_tex", "u_tex", "v_tex"].iter().enumerate() {
            let texture = gl.create_texture().ok_or("no texture")?;
            gl.active_texture(Gl::TEXTURE0 + unit as u32);
            gl.bind_texture(Gl::TEXTURE_2D, Some(&texture));
            for (param, value) in [
                (Gl::TEXTURE_MIN_FILTER, Gl::LINEAR),
                (Gl::TEXTURE_MAG_FILTER, Gl::LINEAR),
                (Gl::TEXTURE_WRAP_S, Gl::CLAMP_TO_EDGE),
                (Gl::TEXTURE_WRAP_T, Gl::CLAMP_TO_EDGE),
            ] {
                gl.tex_parameteri(Gl::TEXTURE_2D, param, value as i32);
            }
            gl.uniform1i(
                gl.get_uniform_location(&program, name).as_ref(),
                unit as i32,
            );
            textures.push(texture);
        }
        let textures: [WebGlTexture; 3] = textures
            .try_into()
            .map_err(|_| JsValue::from_str("three textures"))?;
        Ok(YuvGl {
            canvas,
            gl,
            textures,
        })
    }

    /// Draws a packed I420 picture into the shared canvas (sized to it). The
    /// caller copies the canvas out before the next picture is drawn.
    pub fn draw(&self, width: u32, height: u32, i420: &ArrayBuffer) -> Result<(), JsValue> {
        let (w, h) = (width as usize, height as usize);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        if (i420.byte_length() as usize) < w * h + 2 * cw * ch {
            return Err("short I420 picture".into());
        }
        if self.canvas.width() != width || self.canvas.height() != height {
            self.canvas.set_width(width);
            self.canvas.set_height(height);
        }
        let gl = &self.gl;
        gl.viewport(0, 0, width as i32, height as i32);
        let planes = [(0, w, h), (w * h, cw, ch), (w * h + cw * ch, cw, ch)];
        for (unit, (offset, pw, ph)) in planes.into_iter().enumerate() {
            let plane =
                Uint8Array::new_with_byte_offset_and_length(i420, offset as u32, (pw * ph) as u32);
            gl.active_texture(Gl::TEXTURE0 + unit as u32);
            gl.bind_texture(Gl::TEXTURE_2D, Some(&self.textures[unit]));
            gl.tex_image_2d_with_i32_and_i32_and_i32_and_format_and_type_and_opt_array_buffer_view(
                Gl::TEXTURE_2D,
                0,
                Gl::LUMINANCE as i32,
                pw as i32,
                ph as i32,
                0,
                Gl::LUMINANCE,
                Gl::UNSIGNED_BYTE,
                Some(&plane),
            )?;
        }
        gl.draw_arrays(Gl::TRIANGLE_STRIP, 0, 4);
        Ok(())
    }
}

fn link(gl: &Gl) -> Result<WebGlProgram, JsValue> {
    let program = gl.create_program().ok_or("no program")?;
    for (kind, source) in [(Gl::VERTEX_SHADER, VERTEX), (Gl::FRAGMENT_SHADER, FRAGMENT)] {
        let shader = compile(gl, kind, source)?;
        gl.attach_shader(&program, &shader);
    }
    gl.link_program(&program);
    if gl
        .get_program_parameter(&program, Gl::LINK_STATUS)
        .as_bool()
        .unwrap_or(false)
    {
        Ok(program)
    } else {
        Err(gl.get_program_info_log(&program).unwrap_or_default().into())
    }
}

fn compile(gl: &Gl, kind: u32, source: &str) -> Result<WebGlShader, JsValue> {
    let shader = gl.create_shader(kind).ok_or("no shader")?;
    gl.shader_source(&shader, source);
    gl.compile_shader(&shader);
    if gl
        .get_shader_parameter(&shader, Gl::COMPILE_STATUS)
        .as_bool()
        .unwrap_or(false)
    {
        Ok(shader)
    } else {
        Err(gl.get_shader_info_log(&shader).unwrap_or_default().into())
    }
}
