//! The page's side of the offline replay's worker ([`crate::replay_protocol`]): one Web Worker (the strategy
//! worker's binary, which also speaks the replay protocol), started when the first replay opens and asked one
//! command at a time. The worker holds the recording and plays it; the page only applies what it answers.

use std::cell::RefCell;
use std::rc::Rc;

use futures::channel::oneshot;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::{Closure, JsValue};
use web_sys::{ErrorEvent, MessageEvent, Worker};

use crate::pool::{WORKER_URL, describe};
use crate::replay_protocol::ReplayCommand;
use crate::worker_protocol::READY;

/// The replay worker. Cloning gives another handle on the same worker.
#[derive(Clone, Debug)]
pub struct ReplayWorker {
    inner: Rc<Inner>,
}

#[derive(Debug)]
struct Inner {
    worker: Worker,
    /// Whoever waits: for `READY` first, then for each answer.
    waiting: RefCell<Option<oneshot::Sender<Result<String, String>>>>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

thread_local! {
    static SHARED: RefCell<Option<ReplayWorker>> = const { RefCell::new(None) };
}

impl ReplayWorker {
    /// The page's replay worker, started (and waited for) the first time.
    ///
    /// # Errors
    /// The browser refused the worker, or it failed before it was ready.
    pub async fn shared() -> Result<ReplayWorker, String> {
        if let Some(worker) = SHARED.with(|s| s.borrow().clone()) {
            return Ok(worker);
        }
        let (worker, ready) = ReplayWorker::start()?;
        // Its first message says it is ready: anything posted before would be lost.
        match ready.await {
            Ok(Ok(text)) if text == READY => {}
            Ok(Ok(text)) => {
                return Err(format!(
                    "the replay worker said {text:?} before it was ready"
                ));
            }
            Ok(Err(why)) => return Err(why),
            Err(_) => return Err("the replay worker went away".to_owned()),
        }
        SHARED.with(|s| *s.borrow_mut() = Some(worker.clone()));
        Ok(worker)
    }

    fn start() -> Result<(ReplayWorker, oneshot::Receiver<Result<String, String>>), String> {
        let worker = Worker::new(WORKER_URL)
            .map_err(|e| format!("cannot start the replay worker: {}", describe(&e)))?;
        let inner = Rc::new_cyclic(|weak: &std::rc::Weak<Inner>| {
            let on_message = {
                let weak = weak.clone();
                Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                    let Some(inner) = weak.upgrade() else { return };
                    let text = event.data().as_string().unwrap_or_default();
                    if let Some(waiting) = inner.waiting.borrow_mut().take() {
                        let _ = waiting.send(Ok(text));
                    }
                })
            };
            let on_error = {
                let weak = weak.clone();
                Closure::<dyn FnMut(ErrorEvent)>::new(move |event: ErrorEvent| {
                    let Some(inner) = weak.upgrade() else { return };
                    // A worker that failed is not asked again: the next replay starts a new one.
                    SHARED.with(|s| s.borrow_mut().take());
                    if let Some(waiting) = inner.waiting.borrow_mut().take() {
                        let _ = waiting.send(Err(format!(
                            "the replay worker failed: {}",
                            event.message()
                        )));
                    }
                })
            };
            worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            Inner {
                worker,
                waiting: RefCell::new(None),
                _on_message: on_message,
                _on_error: on_error,
            }
        });
        let (tx, rx) = oneshot::channel();
        inner.waiting.borrow_mut().replace(tx);
        Ok((ReplayWorker { inner }, rx))
    }

    /// Sends `command` (with a recording's bytes, moved to the worker) and waits for the answer's text.
    ///
    /// # Errors
    /// The worker could not be asked or failed.
    pub async fn call(
        &self,
        command: &ReplayCommand,
        bytes: Option<js_sys::ArrayBuffer>,
    ) -> Result<String, String> {
        let (tx, rx) = oneshot::channel();
        if self.inner.waiting.borrow_mut().replace(tx).is_some() {
            return Err("the replay worker is busy".to_owned());
        }
        let text = JsValue::from_str(&command.to_text());
        let posted = match bytes {
            Some(buffer) => {
                let message = js_sys::Array::of2(&text, &buffer);
                self.inner
                    .worker
                    .post_message_with_transfer(&message, &js_sys::Array::of1(&buffer))
            }
            None => self.inner.worker.post_message(&text),
        };
        if let Err(e) = posted {
            self.inner.waiting.borrow_mut().take();
            return Err(format!("cannot ask the replay worker: {}", describe(&e)));
        }
        rx.await
            .unwrap_or_else(|_| Err("the replay worker went away".to_owned()))
    }
}
