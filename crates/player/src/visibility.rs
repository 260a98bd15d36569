//! Whether a `<cam-player>` can be seen: on screen (an `IntersectionObserver`
//! on the element: scrolled away, `display: none`, a zero size all count as
//! off) and in a visible tab (`document.hidden`). A player nobody can see
//! unsubscribes, so a grid of fifty cameras costs only the tiles in view.
//! And its size (a `ResizeObserver`): the stream it plays follows it
//! (`streams.rs`).

use std::cell::Cell;
use std::rc::Rc;

use js_sys::Array;
use wasm_bindgen::prelude::*;
use web_sys::{HtmlElement, IntersectionObserver, IntersectionObserverEntry, ResizeObserver};

pub struct Visibility {
    host: HtmlElement,
    observer: Option<IntersectionObserver>,
    on_screen: Rc<Cell<bool>>,
    _on_intersect: Closure<dyn FnMut(Array)>,
    on_tab: Closure<dyn FnMut()>,
    resize: Option<ResizeObserver>,
    _on_resize: Closure<dyn FnMut(Array)>,
}

impl Visibility {
    /// Watches `host` once [`Visibility::start`]ed; calls `changed` whenever
    /// [`Visibility::visible`] may have changed, and `resized` when its size did.
    pub fn new(
        host: HtmlElement,
        changed: impl Fn() + 'static,
        resized: impl Fn() + 'static,
    ) -> Visibility {
        let changed = Rc::new(changed);
        let on_screen = Rc::new(Cell::new(false));
        let on_intersect = Closure::<dyn FnMut(Array)>::new({
            let on_screen = on_screen.clone();
            let changed = changed.clone();
            move |entries: Array| {
                // The newest entry tells the current state.
                let last = entries
                    .iter()
                    .filter_map(|e| e.dyn_into::<IntersectionObserverEntry>().ok())
                    .next_back();
                if let Some(entry) = last {
                    on_screen.set(entry.is_intersecting());
                    changed();
                }
            }
        });
        let observer = IntersectionObserver::new(on_intersect.as_ref().unchecked_ref()).ok();
        if observer.is_none() {
            // A browser without IntersectionObserver: always on screen.
            on_screen.set(true);
        }
        let on_tab = Closure::<dyn FnMut()>::new(move || changed());
        let on_resize = Closure::<dyn FnMut(Array)>::new(move |_: Array| resized());
        let resize = ResizeObserver::new(on_resize.as_ref().unchecked_ref()).ok();
        Visibility {
            host,
            observer,
            on_screen,
            _on_intersect: on_intersect,
            on_tab,
            resize,
            _on_resize: on_resize,
        }
    }

    /// Starts watching (the element entered a document). The observer reports
    /// the element's state soon after; until then it counts as not visible.
    pub fn start(&self) {
        if let Some(observer) = &self.observer {
            observer.observe(&self.host);
        }
        if let Some(resize) = &self.resize {
            resize.observe(&self.host);
        }
        if let Some(document) = document() {
            let _ = document.add_event_listener_with_callback(
                "visibilitychange",
                self.on_tab.as_ref().unchecked_ref(),
            );
        }
    }

    /// Stops watching (the element left its document).
    pub fn stop(&self) {
        if let Some(observer) = &self.observer {
            observer.unobserve(&self.host);
            self.on_screen.set(false);
        }
        if let Some(resize) = &self.resize {
            resize.unobserve(&self.host);
        }
        if let Some(document) = document() {
            let _ = document.remove_event_listener_with_callback(
                "visibilitychange",
                self.on_tab.as_ref().unchecked_ref(),
            );
        }
    }

    /// On screen, in a visible tab.
    pub fn visible(&self) -> bool {
        self.on_screen.get() && !document().is_some_and(|d| d.hidden())
    }
}

impl Drop for Visibility {
    fn drop(&mut self) {
        if let Some(observer) = &self.observer {
            observer.disconnect();
        }
        if let Some(resize) = &self.resize {
            resize.disconnect();
        }
    }
}

fn document() -> Option<web_sys::Document> {
    web_sys::window().and_then(|w| w.document())
}
