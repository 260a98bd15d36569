//! What a `<cam-player>` shows, inside its shadow DOM: the canvas (via
//! `render.rs`), the status overlay, the decoder badge, the stats box (the
//! `stats` attribute), the control bar (the `controls` attribute: snapshot and
//! full screen), the alert outline (the `alerts` attribute: a border and glow
//! coloured by severity, with the alert's label; it pulses when an alert
//! starts), the PTZ controls (`ptz_controls.rs` wires them), the sound
//! button (only for a camera with audio; the element wires it), and
//! `snapshot()`.
//!
//! The alert's label comes from outside (a webhook's caller chooses it): it
//! is only ever set as text, never as HTML.
//!
//! `fit`, `controls` and `stats` take effect through CSS on the host's
//! attributes, so changing them costs no work in Rust.

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use web_sys::{HtmlAnchorElement, HtmlCanvasElement, HtmlElement, ShadowRootInit, ShadowRootMode};

use crate::alerts::Outline;
use crate::render::CanvasRenderer;

const SHADOW_HTML: &str = r#"<style>
:host { display: block; position: relative; background: #000; aspect-ratio: 16 / 9; overflow: hidden;
  container-type: size; }
canvas { display: block; width: 100%; height: 100%; object-fit: contain; }
:host([fit=cover]) canvas { object-fit: cover; }
.overlay { position: absolute; inset: 0; display: flex; align-items: center; justify-content: center;
  padding: 1em; text-align: center; color: #eee; background: rgba(0, 0, 0, .55);
  font: 500 clamp(11px, 4cqh, 18px) system-ui, sans-serif; }
[hidden] { display: none !important; }
.badge { position: absolute; right: .5em; bottom: .5em; padding: .1em .4em; border-radius: .3em;
  color: #fff; background: rgba(0, 0, 0, .5); font: 11px ui-monospace, monospace; }
.stats { display: none; position: absolute; left: .5em; top: .5em; padding: .2em .45em; border-radius: .3em;
  color: #cfe; background: rgba(0, 0, 0, .6); font: 11px/1.35 ui-monospace, monospace; white-space: pre; }
:host([stats]) .stats { display: block; }
.controls { display: none; position: absolute; left: 0; right: 0; bottom: 0; gap: .4em; padding: .4em .5em;
  justify-content: flex-end; background: linear-gradient(transparent, rgba(0, 0, 0, .6));
  opacity: 0; transition: opacity .2s; }
:host([controls]) .controls { display: flex; }
:host([controls]) .badge { bottom: 2.6em; }
.sound { position: absolute; left: .5em; bottom: .5em; padding: .3em .4em; line-height: 0;
  background: rgba(0, 0, 0, .5); }
.sound svg { width: 20px; height: 20px; }
.sound[aria-pressed=true] { background: rgba(30, 140, 60, .85); }
.sound[data-blocked] { background: rgba(200, 120, 0, .9); }
:host([controls]) .sound { bottom: 2.6em; }
:host(:hover) .controls, .controls:focus-within { opacity: 1; }
@media (hover: none) { .controls { opacity: 1; } }
button { font: 13px system-ui, sans-serif; color: #fff; background: rgba(255, 255, 255, .15);
  border: 0; border-radius: .3em; padding: .3em .7em; cursor: pointer; }
button:hover, button:focus-visible { background: rgba(255, 255, 255, .3); }
.alert { --alert: #f5a623; position: absolute; inset: 0; pointer-events: none; box-sizing: border-box;
  border: 3px solid var(--alert); box-shadow: inset 0 0 22px color-mix(in srgb, var(--alert) 55%, transparent); }
.alert[data-severity=info] { --alert: #4aa8ff; }
.alert[data-severity=critical] { --alert: #ff3b30; border-width: 4px; }
.alert-label { position: absolute; right: .4em; top: .4em; max-width: 65%; padding: .15em .5em; border-radius: .3em;
  overflow: hidden; text-overflow: ellipsis; white-space: nowrap; color: #000; background: var(--alert);
  font: 600 clamp(11px, 4cqh, 15px) system-ui, sans-serif; }
/* A start pulses (the name alternates so that each start plays it again). */
.alert[data-ring="1"] { animation: sightline-ring-a .5s ease-in-out 6 alternate; }
.alert[data-ring="2"] { animation: sightline-ring-b .5s ease-in-out 6 alternate; }
@keyframes sightline-ring-a { to { box-shadow: inset 0 0 60px var(--alert); } }
@keyframes sightline-ring-b { to { box-shadow: inset 0 0 60px var(--alert); } }
@media (prefers-reduced-motion: reduce) { .alert { animation: none !important; } }
.ptz { display: none; position: absolute; left: .5em; top: 50%; transform: translateY(-50%); flex-direction: column; gap: .3em;
  align-items: flex-start; color: #fff; font: 12px system-ui, sans-serif; }
:host([ptz][ptz-control]) .ptz { display: flex; }
:host([ptz][ptz-control]) canvas { cursor: crosshair; touch-action: none; }
:host([ptz]:focus-visible) { outline: 2px solid #4aa8ff; outline-offset: -2px; }
.pad { display: grid; grid-template-columns: repeat(3, 2.3em); grid-template-rows: repeat(3, 2.3em); gap: .15em; }
.pad button { padding: 0; touch-action: none; background: rgba(0, 0, 0, .45); font-size: 14px; }
.pad button[data-held] { background: rgba(80, 160, 255, .85); }
.pad [data-dir=up] { grid-area: 1 / 2; } .pad [data-dir=left] { grid-area: 2 / 1; }
.pad [data-dir=right] { grid-area: 2 / 3; } .pad [data-dir=down] { grid-area: 3 / 2; }
.pad [data-dir=in] { grid-area: 1 / 3; } .pad [data-dir=out] { grid-area: 3 / 3; }
.ptz-row { display: flex; gap: .3em; align-items: center; padding: .2em .35em; border-radius: .3em;
  background: rgba(0, 0, 0, .5); }
.ptz-row button { padding: .15em .5em; font-size: 12px; }
.ptz select { max-width: 9em; font: inherit; }
.ptz input[type=range] { width: 6em; }
.ptz-holder:empty { display: none; }
.ptz-holder[data-yours] { background: rgba(30, 140, 60, .85); }
.ptz-message { position: absolute; left: 50%; top: .5em; transform: translateX(-50%); max-width: 80%;
  padding: .25em .6em; border-radius: .3em; color: #fff; background: rgba(180, 40, 30, .9);
  font: 12px system-ui, sans-serif; }
</style>
<canvas part="canvas"></canvas>
<div class="overlay" part="overlay">Connecting…</div>
<div class="stats" part="stats"></div>
<div class="badge" part="badge" hidden></div>
<div class="alert" part="alert" hidden><span class="alert-label" part="alert-label"></span></div>
<div class="ptz" part="ptz">
  <div class="ptz-row ptz-holder" part="ptz-holder"></div>
  <div class="pad" part="ptz-pad">
    <button data-dir="up" title="Tilt up (↑)" aria-label="Tilt up">▲</button>
    <button data-dir="left" title="Pan left (←)" aria-label="Pan left">◀</button>
    <button data-dir="right" title="Pan right (→)" aria-label="Pan right">▶</button>
    <button data-dir="down" title="Tilt down (↓)" aria-label="Tilt down">▼</button>
    <button data-dir="in" title="Zoom in (+)" aria-label="Zoom in">+</button>
    <button data-dir="out" title="Zoom out (−)" aria-label="Zoom out">−</button>
  </div>
  <label class="ptz-row" title="Speed">Speed <input class="ptz-speed" type="range" min="0.1" max="1" step="0.1" value="0.5"></label>
  <div class="ptz-row ptz-presets">
    <select class="ptz-preset-list" aria-label="Presets"></select>
    <button class="ptz-goto" title="Go to the preset (1–9)">Go</button>
    <button class="ptz-save" title="Save this position as a preset">Save</button>
    <button class="ptz-remove" title="Remove the preset">Remove</button>
  </div>
  <button class="ptz-row ptz-take" hidden>Take control</button>
</div>
<div class="ptz-message" part="ptz-message" hidden></div>
<button class="sound" part="sound" hidden aria-pressed="false" title="Unmute" aria-label="Unmute"></button>
<div class="controls" part="controls">
  <button class="snapshot" title="Save a snapshot (PNG)">Snapshot</button>
  <button class="fullscreen" title="Full screen">Full screen</button>
</div>"#;

/// The sound button's icons (drawn, not emoji: a kiosk's minimal Linux may
/// have no emoji font). Constants: the only HTML ever set from Rust here.
const SPEAKER: &str = r#"<path fill="currentColor" d="M3 9v6h4l5 5V4L7 9H3z"/>"#;
const ICON_MUTED: &str = r#"<path fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" d="M16 9.5l5 5M21 9.5l-5 5"/>"#;
const ICON_PLAYING: &str = r#"<path fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" d="M15.5 9a4.5 4.5 0 0 1 0 6M18.5 6a8.5 8.5 0 0 1 0 12"/>"#;

pub struct View {
    pub renderer: CanvasRenderer,
    shadow: web_sys::ShadowRoot,
    canvas: HtmlCanvasElement,
    overlay: HtmlElement,
    badge: HtmlElement,
    stats: HtmlElement,
    alert: HtmlElement,
    alert_label: HtmlElement,
    /// Starts pulsed so far (the pulse's name alternates with its parity).
    rings: std::cell::Cell<u32>,
    _on_snapshot: Closure<dyn FnMut()>,
    _on_fullscreen: Closure<dyn FnMut()>,
}

impl View {
    /// Builds the shadow DOM of `host`.
    pub fn new(host: HtmlElement) -> Result<View, JsValue> {
        let shadow = match host.shadow_root() {
            Some(shadow) => shadow,
            None => host.attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))?,
        };
        shadow.set_inner_html(SHADOW_HTML);
        let find = |selector: &str| -> Result<web_sys::Element, JsValue> {
            shadow
                .query_selector(selector)?
                .ok_or_else(|| JsValue::from_str("shadow DOM incomplete"))
        };
        let canvas: HtmlCanvasElement = find("canvas")?.dyn_into()?;
        let on_snapshot = Closure::<dyn FnMut()>::new({
            let host = host.clone();
            let canvas = canvas.clone();
            move || {
                let name = host
                    .get_attribute("camera")
                    .unwrap_or_else(|| "camera".into());
                if let Err(e) = download_snapshot(&canvas, &name) {
                    web_sys::console::warn_2(&"Sightline: snapshot failed".into(), &e);
                }
            }
        });
        let on_fullscreen = Closure::<dyn FnMut()>::new({
            let host = host.clone();
            move || toggle_fullscreen(&host)
        });
        let button: HtmlElement = find(".snapshot")?.dyn_into()?;
        button.set_onclick(Some(on_snapshot.as_ref().unchecked_ref()));
        let button: HtmlElement = find(".fullscreen")?.dyn_into()?;
        button.set_onclick(Some(on_fullscreen.as_ref().unchecked_ref()));
        Ok(View {
            renderer: CanvasRenderer::new(canvas.clone())?,
            shadow: shadow.clone(),
            canvas,
            overlay: find(".overlay")?.dyn_into()?,
            badge: find(".badge")?.dyn_into()?,
            stats: find(".stats")?.dyn_into()?,
            alert: find(".alert")?.dyn_into()?,
            alert_label: find(".alert-label")?.dyn_into()?,
            rings: std::cell::Cell::new(0),
            _on_snapshot: on_snapshot,
            _on_fullscreen: on_fullscreen,
        })
    }

    /// An element of the shadow DOM.
    pub fn find(&self, selector: &str) -> Result<HtmlElement, JsValue> {
        self.shadow
            .query_selector(selector)?
            .ok_or_else(|| JsValue::from_str("shadow DOM incomplete"))?
            .dyn_into()
            .map_err(JsValue::from)
    }

    pub fn canvas(&self) -> &HtmlCanvasElement {
        &self.canvas
    }

    /// The overlay's text; `None` hides it.
    pub fn show_overlay(&self, text: Option<&str>) {
        match text {
            Some(text) => {
                self.overlay.set_text_content(Some(text));
                self.overlay.set_hidden(false);
            }
            None => self.overlay.set_hidden(true),
        }
    }

    /// The sound button: hidden for a camera without audio (`None`), else
    /// muted or not, and whether the browser waits for a click to play it.
    pub fn show_sound(&self, sound: Option<(bool, bool)>) {
        let Ok(button) = self.find(".sound") else {
            return;
        };
        let Some((muted, blocked)) = sound else {
            button.set_hidden(true);
            return;
        };
        button.set_hidden(false);
        let (icon, title) = match (muted, blocked) {
            (true, _) => (ICON_MUTED, "Unmute"),
            (false, true) => ("", "Click to play the sound"),
            (false, false) => (ICON_PLAYING, "Mute"),
        };
        button.set_inner_html(&format!(
            r#"<svg viewBox="0 0 24 24" aria-hidden="true">{SPEAKER}{icon}</svg>"#
        ));
        let _ = button.set_attribute("title", title);
        let _ = button.set_attribute("aria-label", title);
        let _ = button.set_attribute("aria-pressed", if muted { "false" } else { "true" });
        if blocked && !muted {
            let _ = button.set_attribute("data-blocked", "");
        } else {
            let _ = button.remove_attribute("data-blocked");
        }
    }

    /// The decoder badge.
    pub fn show_decoder(&self, label: &str) {
        self.badge.set_text_content(Some(label));
        self.badge.set_hidden(false);
    }

    pub fn show_stats(&self, text: &str) {
        self.stats.set_text_content(Some(text));
    }

    /// The alert outline; `None` hides it. `ring`: an alert just started,
    /// pulse.
    pub fn show_alert(&self, outline: Option<&Outline>, ring: bool) {
        let Some(outline) = outline else {
            self.alert.set_hidden(true);
            let _ = self.alert.remove_attribute("data-ring");
            return;
        };
        let _ = self.alert.set_attribute("data-severity", outline.severity);
        self.alert_label.set_text_content(Some(&outline.label));
        self.alert.set_title(&outline.label);
        self.alert.set_hidden(false);
        if ring {
            let n = self.rings.get().wrapping_add(1);
            self.rings.set(n);
            let _ = self
                .alert
                .set_attribute("data-ring", if n % 2 == 1 { "1" } else { "2" });
        }
    }

    /// The picture on the canvas now, as an image Blob at the stream's size.
    /// The pixels are copied at once (a later frame does not change them);
    /// encoding happens in the background.
    pub fn snapshot(&self, mime: &str, quality: Option<f64>) -> Result<Promise, JsValue> {
        snapshot(&self.canvas, mime, quality)
    }
}

fn snapshot(
    canvas: &HtmlCanvasElement,
    mime: &str,
    quality: Option<f64>,
) -> Result<Promise, JsValue> {
    if canvas.width() == 0 || canvas.height() == 0 {
        return Err(js_sys::Error::new("no picture yet").into());
    }
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let copy: HtmlCanvasElement = document.create_element("canvas")?.dyn_into()?;
    copy.set_width(canvas.width());
    copy.set_height(canvas.height());
    let ctx: web_sys::CanvasRenderingContext2d =
        copy.get_context("2d")?.ok_or("no 2d context")?.dyn_into()?;
    ctx.draw_image_with_html_canvas_element(canvas, 0.0, 0.0)?;
    let mime = mime.to_owned();
    let quality = quality.map_or(JsValue::UNDEFINED, JsValue::from);
    Ok(Promise::new(&mut |resolve, reject| {
        let refuse = reject.clone();
        let done = Closure::once_into_js(move |blob: JsValue| {
            if blob.is_null() {
                let _ = refuse.call1(
                    &JsValue::NULL,
                    &js_sys::Error::new("the browser could not encode the picture"),
                );
            } else {
                let _ = resolve.call1(&JsValue::NULL, &blob);
            }
        });
        if let Err(e) =
            copy.to_blob_with_type_and_encoder_options(done.unchecked_ref(), &mime, &quality)
        {
            let _ = reject.call1(&JsValue::NULL, &e);
        }
    }))
}

/// The control bar's Snapshot button: saves a PNG named after the camera.
fn download_snapshot(canvas: &HtmlCanvasElement, camera: &str) -> Result<(), JsValue> {
    let promise = snapshot(canvas, "image/png", None)?;
    let file = format!(
        "{camera}-{}.png",
        String::from(js_sys::Date::new_0().to_iso_string()).replace(':', "-")
    );
    wasm_bindgen_futures::spawn_local(async move {
        let Ok(blob) = wasm_bindgen_futures::JsFuture::from(promise).await else {
            return;
        };
        let Ok(blob) = blob.dyn_into::<web_sys::Blob>() else {
            return;
        };
        let saved = (|| -> Result<(), JsValue> {
            let url = web_sys::Url::create_object_url_with_blob(&blob)?;
            let document = web_sys::window()
                .and_then(|w| w.document())
                .ok_or("no document")?;
            let link: HtmlAnchorElement = document.create_element("a")?.dyn_into()?;
            link.set_href(&url);
            link.set_download(&file);
            link.click();
            web_sys::Url::revoke_object_url(&url)
        })();
        if let Err(e) = saved {
            web_sys::console::warn_2(&"Sightline: cannot save the snapshot".into(), &e);
        }
    });
    Ok(())
}

fn toggle_fullscreen(host: &HtmlElement) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if document.fullscreen_element().is_some() {
        document.exit_fullscreen();
    } else if let Err(e) = host.request_fullscreen() {
        web_sys::console::warn_2(&"Sightline: full screen refused".into(), &e);
    }
}
