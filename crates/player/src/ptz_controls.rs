//! The PTZ controls of a `<cam-player ptz>` (wasm): the press-and-hold pad
//! and zoom buttons, the speed control, the preset list (go, save, remove),
//! who holds control (and "Take control" when the lease may be taken), and
//! the hands on the picture — drag to pan, click or tap to centre, the wheel
//! to zoom — and the keys while the player has focus (arrows, `+`/`−`,
//! `1`–`9` for presets). Everything held goes through [`ptz::Hold`] (pure):
//! one velocity, renewed every 200 ms while held, one Stop when let go.
//!
//! Let go on `pointerup`, `pointercancel`, a lost pointer capture, the
//! element losing focus, the tab being hidden and the controls being
//! dropped (the element left the page or lost its camera). The relay's
//! dead-man rule stops the camera anyway when renewals stop; letting go here
//! stops it at once.
//!
//! Shown only with the `ptz` attribute and to users who may steer (the
//! relay's `ptz_state` says so per user: the host then has the
//! `ptz-control` attribute). The methods (`ptzMove`, `ptzStop`,
//! `gotoPreset`) work without the attribute, for pages with their own UI.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use sightline_wire::{PtzAction, PtzState};
use wasm_bindgen::prelude::*;
use web_sys::{
    Event, EventTarget, HtmlElement, HtmlInputElement, HtmlOptionElement, HtmlSelectElement,
    KeyboardEvent, PointerEvent, WheelEvent,
};

use crate::now_ms;
use crate::ptz::{self, Direction, Hold, Key, Send, Source, Velocity};
use crate::view::View;

/// How long the wheel holds a zoom after its last turn.
const WHEEL_HOLD_MS: i32 = 250;
/// How often the renewal timer looks at what is held (it sends only when
/// [`ptz::Hold::poll`] says a renewal is due).
const TICK_MS: i32 = 50;
/// How long a refusal stays on screen.
const MESSAGE_MS: i32 = 4_000;

type Listener = Closure<dyn FnMut(Event)>;

pub struct PtzControls {
    host: HtmlElement,
    canvas: HtmlElement,
    holder: HtmlElement,
    message: HtmlElement,
    list: HtmlSelectElement,
    take: HtmlElement,
    speed: HtmlInputElement,
    pad: Vec<HtmlElement>,
    hold: RefCell<Hold>,
    /// The host had no `tabindex` of its own: the controls set it.
    own_tabindex: Cell<bool>,
    state: RefCell<Option<PtzState>>,
    /// Sends an action for the element's camera; false when it could not.
    send: Box<dyn Fn(PtzAction) -> bool>,
    /// The renewal timer, while something is held.
    timer: Cell<Option<i32>>,
    /// A drag on the picture: its pointer, where it started (fractions),
    /// and whether it went further than a click.
    drag: Cell<Option<(i32, f64, f64, bool)>>,
    /// The wheel's zoom and the timer that lets go of it.
    wheel: Cell<Option<(Direction, i32)>>,
    message_timer: Cell<Option<i32>>,
    listeners: RefCell<Vec<(EventTarget, &'static str, Listener)>>,
    tick: RefCell<Option<Closure<dyn FnMut()>>>,
    /// The timeouts' callbacks, made once (a cleared timeout must not leak
    /// its closure).
    wheel_let_go: RefCell<Option<Closure<dyn FnMut()>>>,
    hide_message: RefCell<Option<Closure<dyn FnMut()>>>,
    me: Weak<PtzControls>,
}

impl PtzControls {
    /// Wires the controls of `view` (in `host`'s shadow DOM); `send` carries
    /// an action to the relay for the element's camera.
    pub fn new(
        host: HtmlElement,
        view: &View,
        send: impl Fn(PtzAction) -> bool + 'static,
    ) -> Result<Rc<PtzControls>, JsValue> {
        let canvas: HtmlElement = view.canvas().clone().unchecked_into();
        let holder = view.find(".ptz-holder")?;
        let message = view.find(".ptz-message")?;
        let list: HtmlSelectElement = view.find(".ptz-preset-list")?.unchecked_into();
        let take = view.find(".ptz-take")?;
        let speed: HtmlInputElement = view.find(".ptz-speed")?.unchecked_into();
        let mut pad = Vec::new();
        for name in ["up", "left", "right", "down", "in", "out"] {
            pad.push(view.find(&format!(".pad [data-dir={name}]"))?);
        }
        let mut hold = Hold::default();
        // The slider keeps its value across a restart of the element.
        if let Ok(v) = speed.value().parse::<f64>() {
            hold.set_speed(v);
        }
        let controls = Rc::new_cyclic(|me: &Weak<PtzControls>| PtzControls {
            host,
            canvas,
            holder,
            message,
            list,
            take,
            speed,
            pad,
            hold: RefCell::new(hold),
            own_tabindex: Cell::new(false),
            state: RefCell::new(None),
            send: Box::new(send),
            timer: Cell::new(None),
            drag: Cell::new(None),
            wheel: Cell::new(None),
            message_timer: Cell::new(None),
            listeners: RefCell::new(Vec::new()),
            tick: RefCell::new(None),
            wheel_let_go: RefCell::new(None),
            hide_message: RefCell::new(None),
            me: me.clone(),
        });
        controls.wire(view)?;
        Ok(controls)
    }

    fn wire(&self, view: &View) -> Result<(), JsValue> {
        self.attribute_changed();
        let me = self.me.clone();
        *self.wheel_let_go.borrow_mut() = Some(Closure::new(move || {
            if let Some(c) = me.upgrade() {
                if let Some((d, _)) = c.wheel.take() {
                    c.hold.borrow_mut().release(&Source::Wheel, d);
                    c.changed();
                }
            }
        }));
        let me = self.me.clone();
        *self.hide_message.borrow_mut() = Some(Closure::new(move || {
            if let Some(c) = me.upgrade() {
                c.message.set_hidden(true);
                c.message_timer.set(None);
            }
        }));
        for button in self.pad.clone() {
            let Some(d) = button
                .get_attribute("data-dir")
                .as_deref()
                .and_then(Direction::parse)
            else {
                continue;
            };
            let b = button.clone();
            self.listen(&button, "pointerdown", move |c, e| {
                let e: PointerEvent = e.unchecked_into();
                e.prevent_default();
                let _ = b.set_pointer_capture(e.pointer_id());
                let _ = b.set_attribute("data-held", "");
                c.hold.borrow_mut().press(Source::Pad, d);
                c.changed();
            });
            for up in ["pointerup", "pointercancel", "lostpointercapture"] {
                let b = button.clone();
                self.listen(&button, up, move |c, _| {
                    let _ = b.remove_attribute("data-held");
                    c.hold.borrow_mut().release(&Source::Pad, d);
                    c.changed();
                });
            }
            // A long press must not open the context menu on touch screens.
            self.listen(&button, "contextmenu", |_, e| e.prevent_default());
        }
        let speed = self.speed.clone();
        self.listen(&self.speed, "input", move |c, _| {
            if let Ok(v) = speed.value().parse::<f64>() {
                c.hold.borrow_mut().set_speed(v);
                c.changed();
            }
        });
        let (goto, save, remove) = (
            view.find(".ptz-goto")?,
            view.find(".ptz-save")?,
            view.find(".ptz-remove")?,
        );
        self.listen(&goto, "click", |c, _| {
            let preset = c.list.value();
            if !preset.is_empty() {
                c.act(PtzAction::GotoPreset { preset });
            }
        });
        self.listen(&save, "click", |c, _| c.save_preset());
        self.listen(&remove, "click", |c, _| {
            let preset = c.list.value();
            if preset.is_empty() {
                return;
            }
            let name = c.list_name(&preset);
            let asked = web_sys::window()
                .and_then(|w| {
                    w.confirm_with_message(&format!("Remove the preset “{name}”?"))
                        .ok()
                })
                .unwrap_or(false);
            if asked {
                c.act(PtzAction::RemovePreset { preset });
            }
        });
        self.listen(&self.take, "click", |c, _| {
            c.act(PtzAction::Take {});
        });
        // The picture: drag to pan, click to centre, wheel to zoom.
        self.listen(&self.canvas, "pointerdown", |c, e| {
            c.drag_start(e.unchecked_into())
        });
        self.listen(&self.canvas, "pointermove", |c, e| {
            c.drag_move(e.unchecked_into())
        });
        self.listen(&self.canvas, "pointerup", |c, e| {
            c.drag_end(e.unchecked_into(), true)
        });
        for cancel in ["pointercancel", "lostpointercapture"] {
            self.listen(&self.canvas, cancel, |c, e| {
                c.drag_end(e.unchecked_into(), false)
            });
        }
        self.listen(&self.canvas, "wheel", |c, e| c.on_wheel(e.unchecked_into()));
        // Keys while the player has focus.
        self.listen(&self.host, "keydown", |c, e| {
            c.on_key(e.unchecked_into(), true)
        });
        self.listen(&self.host, "keyup", |c, e| {
            c.on_key(e.unchecked_into(), false)
        });
        // Let go when focus leaves the player, the window or the tab.
        self.listen(&self.host, "blur", |c, _| c.release_all());
        if let Some(window) = web_sys::window() {
            self.listen(&window, "blur", |c, _| c.release_all());
            if let Some(document) = window.document() {
                let d = document.clone();
                self.listen(&document, "visibilitychange", move |c, _| {
                    if d.hidden() {
                        c.release_all();
                    }
                });
            }
        }
        Ok(())
    }

    /// Adds a listener that lives as long as these controls.
    fn listen(
        &self,
        target: &EventTarget,
        event: &'static str,
        f: impl Fn(&PtzControls, Event) + 'static,
    ) {
        let me = self.me.clone();
        let closure = Closure::<dyn FnMut(Event)>::new(move |e: Event| {
            if let Some(c) = me.upgrade() {
                f(&c, e);
            }
        });
        let _ = target.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
        self.listeners
            .borrow_mut()
            .push((target.clone(), event, closure));
    }

    /// The `ptz` attribute changed: the controls are shown (and the player
    /// takes focus for its keys) only with it.
    pub fn attribute_changed(&self) {
        if self.host.has_attribute("ptz") {
            // A page's own tabindex is left alone.
            if !self.host.has_attribute("tabindex") {
                let _ = self.host.set_attribute("tabindex", "0");
                self.own_tabindex.set(true);
            }
        } else {
            if self.own_tabindex.take() {
                let _ = self.host.remove_attribute("tabindex");
            }
            // The controls went away mid-hold (the app left the camera):
            // whatever they held lets go.
            self.release_all();
        }
    }

    /// The relay's PTZ state for this camera, as this user sees it.
    pub fn update(&self, state: &PtzState) {
        let control = state.features.as_ref().is_some_and(|f| f.control);
        // Control lost (an admin took it, the role changed): stop renewing
        // a move the relay would refuse five times a second.
        let others = state.holder.is_some() && !state.yours;
        if !control || (others && self.hold.borrow().holding()) {
            self.drop_hold();
        }
        let _ = if control {
            self.host.set_attribute("ptz-control", "")
        } else {
            self.host.remove_attribute("ptz-control")
        };
        let holder = match (&state.holder, state.yours) {
            (_, true) => "You have control".to_owned(),
            (Some(user), false) => format!("Control: {user}"),
            (None, false) => String::new(),
        };
        self.holder.set_text_content(Some(&holder));
        let _ = if state.yours {
            self.holder.set_attribute("data-yours", "")
        } else {
            self.holder.remove_attribute("data-yours")
        };
        // Someone else holds it: an admin may take it (the relay decides;
        // the button is offered to operators too, for a lease that lapsed).
        self.take
            .set_hidden(!(control && state.holder.is_some() && !state.yours));
        let changed = self.state.borrow().as_ref().map(|s| &s.presets) != Some(&state.presets);
        if changed {
            self.fill_presets(state);
        }
        *self.state.borrow_mut() = Some(state.clone());
    }

    fn fill_presets(&self, state: &PtzState) {
        let selected = self.list.value();
        while self.list.length() > 0 {
            self.list.remove_with_index(0);
        }
        for (i, p) in state.presets.iter().enumerate() {
            let label = if i < 9 {
                format!("{} · {}", i + 1, p.name)
            } else {
                p.name.clone()
            };
            // Text, never HTML: preset names come from operators and cameras.
            if let Ok(option) = HtmlOptionElement::new_with_text_and_value(&label, &p.preset) {
                let _ = self.list.add_with_html_option_element(&option);
            }
        }
        if state.presets.iter().any(|p| p.preset == selected) {
            self.list.set_value(&selected);
        }
    }

    fn list_name(&self, preset: &str) -> String {
        self.state
            .borrow()
            .as_ref()
            .and_then(|s| s.presets.iter().find(|p| p.preset == preset))
            .map_or_else(|| preset.to_owned(), |p| p.name.clone())
    }

    /// The relay refused a request: say why, for a few seconds.
    pub fn show_message(&self, message: &str) {
        self.message.set_text_content(Some(message));
        self.message.set_hidden(false);
        let Some(window) = web_sys::window() else {
            return;
        };
        if let Some(timer) = self.message_timer.take() {
            window.clear_timeout_with_handle(timer);
        }
        if let Some(hide) = self.hide_message.borrow().as_ref() {
            if let Ok(timer) = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                hide.as_ref().unchecked_ref(),
                MESSAGE_MS,
            ) {
                self.message_timer.set(Some(timer));
            }
        }
    }

    /// The socket dropped: the relay stopped the camera; a hold still going
    /// is sent again on the new socket.
    pub fn link_lost(&self) {
        self.hold.borrow_mut().forget_sent();
        self.holder.set_text_content(None);
    }

    /// Lets go without a Stop: the relay refused this socket's moves (someone
    /// else holds control, the role changed), so a Stop would be refused too.
    pub fn drop_hold(&self) {
        {
            let mut hold = self.hold.borrow_mut();
            hold.release_all();
            hold.forget_sent();
        }
        self.release_all();
    }

    /// `ptzMove` from the page's script: moves until `ptzStop`.
    pub fn api_move(&self, v: Velocity) {
        self.hold
            .borrow_mut()
            .set_api(Some(v).filter(|v| !v.is_zero()));
        self.changed();
    }

    /// Lets go of everything (and of `ptzMove`): one Stop if a move was sent.
    pub fn release_all(&self) {
        self.hold.borrow_mut().release_all();
        self.drag.set(None);
        for button in &self.pad {
            let _ = button.remove_attribute("data-held");
        }
        if let Some((_, timer)) = self.wheel.take() {
            if let Some(window) = web_sys::window() {
                window.clear_timeout_with_handle(timer);
            }
        }
        self.changed();
    }

    /// A preset by its name or token.
    pub fn goto_preset(&self, name: &str) -> bool {
        let preset = self.state.borrow().as_ref().and_then(|s| {
            s.presets
                .iter()
                .find(|p| p.name == name)
                .or_else(|| s.presets.iter().find(|p| p.preset == name))
                .map(|p| p.preset.clone())
        });
        match preset {
            Some(preset) => self.act(PtzAction::GotoPreset { preset }),
            None => false,
        }
    }

    pub fn state(&self) -> Option<PtzState> {
        self.state.borrow().clone()
    }

    /// Sends a one-off action (presets, centre, take).
    pub fn act(&self, action: PtzAction) -> bool {
        let sent = (self.send)(action);
        if !sent {
            self.show_message("not connected to the relay");
        }
        sent
    }

    fn save_preset(&self) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let Ok(Some(name)) = window.prompt_with_message("Name of the new preset") else {
            return;
        };
        let name = name.trim().to_owned();
        if !name.is_empty() {
            self.act(PtzAction::SetPreset { name, preset: None });
        }
    }

    /// What is held changed: send now what that calls for, and keep the
    /// renewal timer running exactly while something is held.
    fn changed(&self) {
        self.poll();
        let holding = self.hold.borrow().holding();
        let Some(window) = web_sys::window() else {
            return;
        };
        match (holding, self.timer.get()) {
            (true, None) => {
                let me = self.me.clone();
                let tick = Closure::<dyn FnMut()>::new(move || {
                    if let Some(c) = me.upgrade() {
                        c.poll();
                    }
                });
                if let Ok(id) = window.set_interval_with_callback_and_timeout_and_arguments_0(
                    tick.as_ref().unchecked_ref(),
                    TICK_MS,
                ) {
                    self.timer.set(Some(id));
                    *self.tick.borrow_mut() = Some(tick);
                }
            }
            (false, Some(id)) => {
                window.clear_interval_with_handle(id);
                self.timer.set(None);
            }
            _ => {}
        }
    }

    fn poll(&self) {
        let out = self.hold.borrow_mut().poll(now_ms());
        let action = |v: Velocity| PtzAction::Move {
            pan: v.pan,
            tilt: v.tilt,
            zoom: v.zoom,
        };
        match out {
            // Not sent: sent again once the socket is back.
            Some(Send::Move(v)) if !(self.send)(action(v)) => {
                self.hold.borrow_mut().forget_sent();
            }
            Some(Send::Move(_)) => {}
            Some(Send::Stop) => {
                (self.send)(PtzAction::Stop {});
            }
            None => {}
        }
    }

    /// The built-in controls are on and this user may steer.
    fn may_steer(&self) -> bool {
        self.host.has_attribute("ptz") && self.host.has_attribute("ptz-control")
    }

    /// Where `e` is on the picture, as fractions of the canvas.
    fn at(&self, e: &PointerEvent) -> (f64, f64) {
        let rect = self.canvas.get_bounding_client_rect();
        let w = rect.width().max(1.0);
        let h = rect.height().max(1.0);
        (
            (e.client_x() - rect.left()) / w,
            (e.client_y() - rect.top()) / h,
        )
    }

    fn drag_start(&self, e: PointerEvent) {
        if !self.may_steer() || e.button() != 0 {
            return;
        }
        e.prevent_default();
        let _ = self.host.focus();
        let _ = self.canvas.set_pointer_capture(e.pointer_id());
        let (x, y) = self.at(&e);
        self.drag.set(Some((e.pointer_id(), x, y, false)));
    }

    fn drag_move(&self, e: PointerEvent) {
        let Some((id, x0, y0, moved)) = self.drag.get() else {
            return;
        };
        if id != e.pointer_id() {
            return;
        }
        let (x, y) = self.at(&e);
        let (dx, dy) = (x - x0, y - y0);
        if !moved && dx.abs().max(dy.abs()) < ptz::CLICK_SLOP {
            return;
        }
        self.drag.set(Some((id, x0, y0, true)));
        let speed = self.hold.borrow().speed();
        self.hold
            .borrow_mut()
            .set_drag(Some(ptz::drag_velocity(dx, dy, speed)));
        self.changed();
    }

    /// The end of a drag; `released` (not cancelled) and short: a click,
    /// which centres the picture on that point.
    fn drag_end(&self, e: PointerEvent, released: bool) {
        let Some((id, _, _, moved)) = self.drag.get() else {
            return;
        };
        if id != e.pointer_id() {
            return;
        }
        self.drag.set(None);
        self.hold.borrow_mut().set_drag(None);
        self.changed();
        if !released || moved {
            return;
        }
        let (x, y) = self.at(&e);
        let fov = self
            .state
            .borrow()
            .as_ref()
            .and_then(|s| s.features.as_ref())
            .is_some_and(|f| f.fov);
        if !fov {
            self.show_message("this camera cannot centre on a click; use the arrows");
            return;
        }
        let (pan, tilt) = ptz::centre(x, y);
        self.act(PtzAction::Relative {
            pan,
            tilt,
            zoom: 0.0,
            fov: true,
        });
    }

    fn on_wheel(&self, e: WheelEvent) {
        if !self.may_steer() || e.delta_y() == 0.0 {
            return;
        }
        e.prevent_default();
        let d = if e.delta_y() < 0.0 {
            Direction::ZoomIn
        } else {
            Direction::ZoomOut
        };
        let Some(window) = web_sys::window() else {
            return;
        };
        if let Some((old, timer)) = self.wheel.take() {
            window.clear_timeout_with_handle(timer);
            self.hold.borrow_mut().release(&Source::Wheel, old);
        }
        self.hold.borrow_mut().press(Source::Wheel, d);
        self.changed();
        if let Some(let_go) = self.wheel_let_go.borrow().as_ref() {
            if let Ok(timer) = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                let_go.as_ref().unchecked_ref(),
                WHEEL_HOLD_MS,
            ) {
                self.wheel.set(Some((d, timer)));
            }
        }
    }

    fn on_key(&self, e: KeyboardEvent, down: bool) {
        let source = Source::Key(e.code());
        if !down {
            // A release is never ignored, whatever else changed meanwhile.
            self.hold.borrow_mut().release_source(&source);
            return self.changed();
        }
        if e.ctrl_key() || e.meta_key() || e.alt_key() {
            // A shortcut: the keys held may never see their release.
            self.hold.borrow_mut().release_keys();
            return self.changed();
        }
        if !self.may_steer() || from_own_control(&e) {
            return;
        }
        let Some(k) = ptz::key(&e.key()) else {
            return;
        };
        e.prevent_default();
        if e.repeat() {
            return;
        }
        match k {
            Key::Hold(d) => {
                self.hold.borrow_mut().press(source, d);
                self.changed();
            }
            Key::Preset(n) => {
                let preset = self
                    .state
                    .borrow()
                    .as_ref()
                    .and_then(|s| s.presets.get(n).map(|p| p.preset.clone()));
                if let Some(preset) = preset {
                    self.act(PtzAction::GotoPreset { preset });
                }
            }
        }
    }
}

/// The key was typed into the controls' own slider or preset list: theirs.
fn from_own_control(e: &KeyboardEvent) -> bool {
    let first = e.composed_path().get(0);
    first.dyn_ref::<HtmlInputElement>().is_some() || first.dyn_ref::<HtmlSelectElement>().is_some()
}

impl Drop for PtzControls {
    fn drop(&mut self) {
        // A move this element was holding stops now.
        let hold = self.hold.get_mut();
        hold.release_all();
        if hold.poll(now_ms()) == Some(Send::Stop) {
            (self.send)(PtzAction::Stop {});
        }
        if let Some(window) = web_sys::window() {
            if let Some(id) = self.timer.take() {
                window.clear_interval_with_handle(id);
            }
            if let Some((_, id)) = self.wheel.take() {
                window.clear_timeout_with_handle(id);
            }
            if let Some(id) = self.message_timer.take() {
                window.clear_timeout_with_handle(id);
            }
        }
        for (target, event, closure) in self.listeners.get_mut().drain(..) {
            let _ =
                target.remove_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
        }
        let _ = self.host.remove_attribute("ptz-control");
        if self.own_tabindex.get() {
            let _ = self.host.remove_attribute("tabindex");
        }
        for button in &self.pad {
            let _ = button.remove_attribute("data-held");
        }
    }
}
