//! Where the player's files live, and what follows from that: `cam-player.js`
//! tells the Wasm the URL it was loaded from (the relay that served it), so a
//! page of any origin that embeds the player with one script tag gets the
//! fallback decoder from that relay, and `<cam-player>` without a `relay`
//! attribute connects to it.

use std::cell::RefCell;
use std::collections::HashMap;

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, BlobPropertyBag, Response, Url};

thread_local! {
    /// The directory `cam-player.js` was loaded from, ending in `/`.
    static BASE: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Each fallback worker's bootstrap, by the worker's file stem: a promise
    /// of its `blob:` URL, made once per page.
    static WORKER_BOOTSTRAP: RefCell<HashMap<&'static str, Promise>> = RefCell::new(HashMap::new());
}

/// Called by `cam-player.js` before any element starts.
#[wasm_bindgen(js_name = setAssetBase)]
pub fn set_asset_base(url: &str) {
    BASE.with(|b| *b.borrow_mut() = Some(url.to_owned()));
}

/// The URL of one of the player's files (`name` relative to `cam-player.js`).
pub fn asset_url(name: &str) -> String {
    let base = BASE.with(|b| b.borrow().clone());
    match base.and_then(|base| Url::new_with_base(name, &base).ok()) {
        Some(url) => url.href(),
        // Not loaded through cam-player.js (the in-browser tests): the site root.
        None => format!("/{name}"),
    }
}

/// The relay a `<cam-player>` without a `relay` attribute talks to: the one that
/// served the player's files, else the page's own origin.
pub fn default_relay() -> Option<String> {
    let base = BASE.with(|b| b.borrow().clone());
    base.and_then(|base| Url::new(&base).ok())
        .map(|url| url.origin())
        .or_else(|| web_sys::window().and_then(|w| w.location().origin().ok()))
}

/// Resolves to a script URL that starts the fallback worker `stem` (the
/// H.264 or the H.265 one: each is fetched only when a stream needs it); the
/// first call fetches the worker's code, later calls share that one download.
///
/// Browsers refuse `new Worker(url)` for a script of another origin, which is
/// where the player's files are when a page embeds it from a relay. So the page
/// fetches the worker's code (the relay allows that with CORS) and starts the
/// worker from a `blob:` copy of it, which is of the page's own origin; the
/// worker then fetches its Wasm from the relay. Fetching from the page also
/// puts the download in the page's resource list, where tests look for it.
pub fn worker_bootstrap(stem: &'static str) -> Promise {
    if let Some(pending) = WORKER_BOOTSTRAP.with(|w| w.borrow().get(stem).cloned()) {
        return pending;
    }
    let promise = wasm_bindgen_futures::future_to_promise(async move {
        let made = make_worker_bootstrap(stem).await;
        if made.is_err() {
            // Let the next decoder try again (the relay may be back).
            WORKER_BOOTSTRAP.with(|w| w.borrow_mut().remove(stem));
        }
        made.map(JsValue::from)
    });
    WORKER_BOOTSTRAP.with(|w| w.borrow_mut().insert(stem, promise.clone()));
    promise
}

async fn make_worker_bootstrap(stem: &str) -> Result<String, JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let js_url = asset_url(&format!("{stem}.js"));
    let response: Response = JsFuture::from(window.fetch_with_str(&js_url))
        .await?
        .dyn_into()?;
    if !response.ok() {
        return Err(format!("{js_url}: HTTP {}", response.status()).into());
    }
    let code = JsFuture::from(response.text()?)
        .await?
        .as_string()
        .unwrap_or_default();
    let script = format!(
        "{code}\nwasm_bindgen({{ module_or_path: {wasm} }});\n",
        wasm = js_string(&asset_url(&format!("{stem}_bg.wasm"))),
    );
    let options = BlobPropertyBag::new();
    options.set_type("text/javascript");
    let parts = js_sys::Array::of1(&JsValue::from_str(&script));
    let blob = Blob::new_with_str_sequence_and_options(&parts, &options)?;
    Url::create_object_url_with_blob(&blob)
}

/// `text` as a JavaScript string literal.
fn js_string(text: &str) -> String {
    js_sys::JSON::stringify(&JsValue::from_str(text))
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_else(|| "\"\"".into())
}
