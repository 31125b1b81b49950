//! Keeps the tablet's screen on while the pit wall is live: a screen wake lock (`navigator.wakeLock.request
//! ("screen")`) held while the relay's feed is live, released when it is not, and asked for again when the page
//! becomes visible (the browser drops the lock whenever the page is hidden). Where the API is missing (an older
//! browser, a page that is not a secure context) or the request is refused, nothing happens: the screen just
//! sleeps as usual.
//!
//! The API is reached through `js_sys::Reflect`: web-sys has it only behind `--cfg=web_sys_unstable_apis`.

use std::cell::{Cell, RefCell};

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

use crate::live::{Connection, LiveFeed};

thread_local! {
    /// The `WakeLockSentinel` held, if any.
    static SENTINEL: RefCell<Option<JsValue>> = const { RefCell::new(None) };
    /// A request is under way (the feed says `Live` on every message: one request at a time).
    static PENDING: Cell<bool> = const { Cell::new(false) };
}

/// Holds a screen wake lock whenever `feed` is live and the page visible, for the life of the page.
pub fn keep_awake_while_live(feed: LiveFeed) {
    Effect::new(move |_| {
        if feed.connection.get() == Connection::Live {
            request(feed);
        } else {
            release();
        }
    });
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let on_visible = Closure::<dyn Fn()>::new(move || {
        if feed.connection.get_untracked() == Connection::Live {
            request(feed);
        }
    });
    if document
        .add_event_listener_with_callback("visibilitychange", on_visible.as_ref().unchecked_ref())
        .is_ok()
    {
        // The listener lives as long as the page.
        on_visible.forget();
    }
}

/// Whether the lock is held and not yet released by the browser.
fn held() -> bool {
    SENTINEL.with_borrow(|s| {
        s.as_ref().is_some_and(|s| {
            js_sys::Reflect::get(s, &JsValue::from_str("released"))
                .is_ok_and(|r| r.as_bool() == Some(false))
        })
    })
}

/// Asks for the lock, unless it is held or the page is hidden (a hidden page's request is refused anyway).
fn request(feed: LiveFeed) {
    let hidden = web_sys::window()
        .and_then(|w| w.document())
        .is_none_or(|d| d.hidden());
    if hidden || PENDING.get() || held() {
        return;
    }
    let Some(navigator) = web_sys::window().map(|w| w.navigator()) else {
        return;
    };
    let Ok(wake_lock) = js_sys::Reflect::get(&navigator, &JsValue::from_str("wakeLock")) else {
        return;
    };
    if wake_lock.is_undefined() || wake_lock.is_null() {
        return;
    }
    let Ok(promise) = js_sys::Reflect::get(&wake_lock, &JsValue::from_str("request"))
        .and_then(|f| f.dyn_into::<js_sys::Function>())
        .and_then(|f| f.call1(&wake_lock, &JsValue::from_str("screen")))
        .and_then(|p| p.dyn_into::<js_sys::Promise>())
    else {
        return;
    };
    PENDING.set(true);
    spawn_local(async move {
        // A refusal (no permission, battery saver) leaves the screen to sleep as usual.
        if let Ok(sentinel) = wasm_bindgen_futures::JsFuture::from(promise).await {
            SENTINEL.set(Some(sentinel));
        }
        PENDING.set(false);
        // The feed may have stopped while the browser decided.
        if feed.connection.get_untracked() != Connection::Live {
            release();
        }
    });
}

/// Lets go of the lock, if held.
fn release() {
    let Some(sentinel) = SENTINEL.take() else {
        return;
    };
    if let Ok(release) = js_sys::Reflect::get(&sentinel, &JsValue::from_str("release"))
        .and_then(|f| f.dyn_into::<js_sys::Function>())
    {
        // The promise it returns only says when; nothing waits for it.
        let _ = release.call0(&sentinel);
    }
}
