//! The strategy Web Worker: receives a job's JSON by `postMessage`, runs it with the engine
//! ([`boxbox_web::worker_protocol::handle`]) and posts the answer's JSON back (a chart as `[text, ImageBitmap]`,
//! the bitmap transferred). It posts
//! [`boxbox_web::worker_protocol::READY`] first: messages sent before its handler is set would be lost.
//!
//! The same binary is the offline replay's worker: a text starting with
//! [`boxbox_web::replay_protocol::REPLAY_PREFIX`] (or `[text, ArrayBuffer]`, a recording's bytes beside the command)
//! goes to the [`boxbox_web::replay_protocol::ReplaySession`] it keeps.
//!
//! Built by Trunk as a second WASM entry point (`data-type="worker"` in `index.html`) with opt-level 3 and
//! `wasm-opt -O3`: this is the hot path, while the app's own bundle is optimised for size.

#[cfg(target_arch = "wasm32")]
fn main() {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::{Closure, JsValue};
    use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

    console_error_panic_hook::set_once();
    use boxbox_web::replay_protocol::{REPLAY_PREFIX, ReplaySession};

    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let reply = scope.clone();
    let mut replay = ReplaySession::new();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let data = event.data();
        // `[text, ArrayBuffer]`: a replay command with a recording's bytes.
        let (text, bytes) = match data.dyn_ref::<js_sys::Array>() {
            Some(parts) => (
                parts.get(0).as_string(),
                Some(js_sys::Uint8Array::new(&parts.get(1)).to_vec()),
            ),
            None => (data.as_string(), None),
        };
        let Some(request) = text else {
            web_sys::console::warn_1(&JsValue::from_str(
                "strategy worker: a message that is not text",
            ));
            return;
        };
        let (response, pixels) = match request.strip_prefix(REPLAY_PREFIX) {
            Some(command) => (replay.handle_text(command, bytes), None),
            None => boxbox_web::worker_protocol::handle(&request, js_sys::Date::now),
        };
        let posted = match pixels {
            // `[text, ImageBitmap]`, the bitmap transferred (not copied) to the page.
            Some(bitmap) => reply.post_message_with_transfer(
                &js_sys::Array::of2(&JsValue::from_str(&response), &bitmap),
                &js_sys::Array::of1(&bitmap),
            ),
            None => reply.post_message(&JsValue::from_str(&response)),
        };
        if let Err(e) = posted {
            web_sys::console::error_2(
                &JsValue::from_str("strategy worker: cannot post the answer"),
                &e,
            );
        }
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    on_message.forget();
    if let Err(e) = scope.post_message(&JsValue::from_str(boxbox_web::worker_protocol::READY)) {
        web_sys::console::error_2(
            &JsValue::from_str("strategy worker: cannot say it is ready"),
            &e,
        );
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("strategy-worker is a browser Web Worker: `trunk build` builds it (see README.md)");
}
