//! The element's sound: muted by default; unmuted by its sound button, the
//! `muted` property or `muted="false"`, which takes the page's one speaker
//! (`audio/speaker.rs`) from whichever element had it. While unmuted and
//! receiving, the element listens to its camera's audio on its connection
//! (the relay then sends it); muted, paused out of view or removed, it does
//! not, and the relay sends none. Each change fires `volumechange`.

use std::rc::{Rc, Weak};

use js_sys::{Object, Reflect, Uint8Array};
use sightline_wire::{AudioConfig, MediaHeader};
use wasm_bindgen::prelude::*;

use super::Player;
use crate::audio::speaker;
use crate::connection::AudioSink;

impl Player {
    /// Mutes or unmutes (a click on the sound button lets the browser start
    /// the sound at once; a script's unmute may wait for the next click).
    pub(super) fn set_muted(&self, muted: bool) {
        if self.muted.get() == muted {
            return;
        }
        // An element outside a document plays nothing: it would only take
        // the sound from one that does.
        if !muted && !self.in_document.get() {
            return;
        }
        if !muted {
            let speaker = match speaker::get() {
                Ok(speaker) => speaker,
                Err(e) => {
                    web_sys::console::warn_2(&"Sightline: no sound here".into(), &e);
                    return;
                }
            };
            let me = self.me.clone();
            let lost: speaker::Lost = Box::new(move || {
                if let Some(player) = me.upgrade() {
                    player.lost_sound();
                }
            });
            // Unmuted before the one that loses the sound hears of it: a
            // `volumechange` handler there may take it back at once, and
            // this element is then told (muted again) like any other.
            self.muted.set(false);
            speaker.claim(self.sound_id, lost);
            if !speaker.holds(self.sound_id) {
                return;
            }
        } else {
            self.muted.set(true);
            if let Some(speaker) = speaker::existing() {
                speaker.release(self.sound_id);
            }
        }
        self.follow_audio();
        self.sound_changed();
    }

    /// The sound button: while the browser holds the sound back, its click
    /// is the gesture that lets it play (not a mute).
    pub(super) fn sound_clicked(&self) {
        let speaker = speaker::existing().filter(|s| s.holds(self.sound_id));
        match speaker {
            Some(speaker) if speaker.blocked() => speaker.resume(),
            _ => self.set_muted(!self.muted.get()),
        }
    }

    /// Another element took the speaker.
    fn lost_sound(&self) {
        self.muted.set(true);
        self.follow_audio();
        self.sound_changed();
    }

    fn sound_changed(&self) {
        self.show_sound();
        self.dispatch("volumechange", &Object::new(), false);
    }

    pub(super) fn show_sound(&self) {
        let blocked = self.sound_blocked.get();
        let has_audio = self.camera_audio.borrow().is_some();
        self.view
            .show_sound(has_audio.then_some((self.muted.get(), blocked)));
    }

    /// Listens to the camera's audio exactly while unmuted and receiving.
    pub(super) fn follow_audio(&self) {
        let conn = self.connection().filter(|_| self.receiving());
        let want = conn.filter(|_| !self.muted.get() && self.in_document.get());
        let have = self.audio_listen.borrow().as_ref().map(|(c, _)| c.clone());
        let same = match (&want, &have) {
            (Some(w), Some(h)) => Rc::ptr_eq(w, h),
            (None, None) => true,
            _ => false,
        };
        if same {
            return;
        }
        self.stop_listening();
        if let (Some(conn), Some(camera)) = (want, self.camera()) {
            if let Some(speaker) = speaker::existing() {
                speaker.restart(self.sound_id);
            }
            let sink: Weak<dyn AudioSink> = self.me.clone();
            let id = conn.listen_audio(&camera, sink);
            *self.audio_listen.borrow_mut() = Some((conn, id));
        }
    }

    /// Stops listening (before unsubscribing: the relay refuses `audio`
    /// for a camera the socket no longer watches).
    pub(super) fn stop_listening(&self) {
        let listening = self.audio_listen.borrow_mut().take();
        if let Some((conn, id)) = listening {
            conn.unlisten_audio(id);
        }
    }

    /// The element leaves the document or changes camera: silence, and
    /// nothing known of the camera's audio any more.
    pub(super) fn forget_audio(&self, leaving: bool) {
        if leaving && !self.muted.get() {
            self.muted.set(true);
            if let Some(speaker) = speaker::existing() {
                speaker.release(self.sound_id);
            }
            self.dispatch("volumechange", &Object::new(), false);
        }
        self.stop_listening();
        self.camera_audio.borrow_mut().take();
        self.show_sound();
    }

    /// The camera has audio (told by a pipe, muted or not).
    pub(super) fn heard_of_audio(&self, config: &AudioConfig) {
        let changed = self.camera_audio.borrow().as_ref() != Some(config);
        if changed {
            *self.camera_audio.borrow_mut() = Some(config.clone());
            self.show_sound();
        }
    }

    /// `getStats().audio`: null for a camera without (known) audio.
    pub(super) fn audio_stats(&self) -> Result<JsValue, JsValue> {
        let Some(config) = self.camera_audio.borrow().clone() else {
            return Ok(JsValue::NULL);
        };
        let o = Object::new();
        let set = |k: &str, v: JsValue| Reflect::set(&o, &k.into(), &v);
        let opt = |v: Option<f64>| v.map_or(JsValue::NULL, JsValue::from);
        set("codec", config.codec.as_str().into())?;
        set("sampleRate", config.sample_rate.into())?;
        set("muted", self.muted.get().into())?;
        let playing = speaker::existing().and_then(|s| s.stats(self.sound_id));
        let s = playing.unwrap_or_default();
        set(
            "decoder",
            if s.decoder.is_empty() {
                JsValue::NULL
            } else {
                s.decoder.into()
            },
        )?;
        // This element's own count (the speaker's is only its holder's).
        set("framesReceived", self.audio_frames.get().into())?;
        set("chunksPlayed", s.chunks_played.into())?;
        set("latencyMs", opt(s.latency_ms))?;
        set("bufferMs", s.lead_ms.into())?;
        set("late", s.late.into())?;
        set("dropped", s.dropped.into())?;
        set("blocked", s.blocked.into())?;
        // The page's output, whoever plays: 0 when nothing does.
        let level = speaker::existing().map(|s| s.level()).unwrap_or_default();
        set("pageLevel", level.rms.into())?;
        set("pagePeakHz", opt(level.peak_hz))?;
        set("error", s.error.map_or(JsValue::NULL, JsValue::from))?;
        Ok(o.into())
    }
}

impl AudioSink for Player {
    fn on_audio(&self, header: &MediaHeader, payload: &Uint8Array, config: &AudioConfig) {
        self.audio_frames
            .set(self.audio_frames.get().wrapping_add(1));
        if let Some(speaker) = speaker::existing() {
            let wasm = self.host.get_attribute("decoder").as_deref() == Some("wasm");
            speaker.play(self.sound_id, header, payload, config, wasm);
        }
        // Whether the browser waits for a click shows on the button.
        let blocked = speaker::existing().is_some_and(|s| s.blocked());
        if blocked != self.sound_blocked.replace(blocked) {
            self.show_sound();
        }
    }
}
