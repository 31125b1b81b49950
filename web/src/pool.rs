//! The pool of strategy Web Workers: N workers (the strategy worker built by Trunk from `web/worker`), a queue of
//! jobs, and a future per job that resolves with its answer.
//!
//! **Invariant:** the UI thread never runs the Monte Carlo. It only encodes jobs, posts them and decodes answers;
//! every race is simulated in a worker, and the blocks' tallies are merged in one (they cross the page undecoded).
//!
//! Each job carries the desk's generation. [`WorkerPool::supersede`] raises the pool's generation: queued jobs of
//! older generations are dropped (their futures resolve with [`PoolError::Obsolete`]) and answers of older
//! generations that arrive later are not delivered. A job already running in a worker cannot be interrupted; it
//! finishes and its answer is thrown away.
//!
//! A worker that fails (an uncaught error or a panic in its WASM) fails the job it had and is replaced; one that
//! fails before it ever said it was ready (its script did not load) is not, and when no worker is left every
//! queued job fails.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::rc::{Rc, Weak};

use futures::channel::oneshot;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::{Closure, JsValue};
use web_sys::{ErrorEvent, ImageBitmap, MessageEvent, Worker};

use crate::worker_protocol::{self, Answer, Job, Opaque, READY, Request, Response};

/// Where Trunk puts the worker's loader (`data-loader-shim`; worker files are never hashed).
pub const WORKER_URL: &str = "/strategy-worker_loader.js";

/// Why a job has no answer.
#[derive(Clone, Debug, PartialEq)]
pub enum PoolError {
    /// A newer generation superseded it.
    Obsolete,
    /// The engine could not run it (the worker's message).
    Job(String),
    /// A worker failed, or none could be started.
    Worker(String),
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::Obsolete => f.write_str("superseded by a newer run"),
            PoolError::Job(e) => f.write_str(e),
            PoolError::Worker(e) => write!(f, "strategy worker: {e}"),
        }
    }
}

impl From<String> for PoolError {
    /// A job that answered something else than asked.
    fn from(message: String) -> Self {
        PoolError::Job(message)
    }
}

/// A job's answer and how long the worker took.
#[derive(Debug)]
pub struct Done {
    /// The answer.
    pub answer: Answer,
    /// Time in the worker, milliseconds.
    pub elapsed_ms: f64,
    /// A chart's pixels, posted beside the answer.
    pub pixels: Option<ImageBitmap>,
}

/// A Monte Carlo's blocks' tallies, for a worker to merge (`Job::Report`).
#[derive(Debug)]
pub struct McDone {
    /// Each block's tally, in block order: merged, the same as one thread's.
    pub tallies: Vec<Opaque>,
    /// Time summed over the workers, milliseconds.
    pub worker_ms: f64,
}

/// The pool. Cloning it clones a handle to the same workers.
#[derive(Clone, Debug)]
pub struct WorkerPool {
    inner: Rc<RefCell<Inner>>,
}

type Reply = oneshot::Sender<Result<Done, PoolError>>;

#[derive(Debug)]
struct Queued {
    id: u64,
    generation: u64,
    text: String,
    reply: Reply,
}

#[derive(Debug)]
struct Running {
    id: u64,
    reply: Reply,
}

#[derive(Debug)]
struct Slot {
    worker: Worker,
    /// It said [`READY`].
    ready: bool,
    /// It failed before it was ready: never used again.
    dead: bool,
    busy: Option<Running>,
    handlers: Handlers,
}

/// The JS callbacks of one worker; they must outlive it.
#[derive(Debug)]
struct Handlers {
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

#[derive(Debug, Default)]
struct Inner {
    slots: Vec<Slot>,
    queue: VecDeque<Queued>,
    next_id: u64,
    /// Jobs of older generations are obsolete.
    generation: u64,
    /// Handlers of replaced workers: a handler may be running when its worker is replaced, so it is not dropped.
    retired: Vec<Handlers>,
}

impl WorkerPool {
    /// A pool of `size` workers (at least one), loading [`WORKER_URL`].
    ///
    /// # Errors
    /// [`PoolError::Worker`] when the browser refuses to create a worker.
    pub fn new(size: usize) -> Result<Self, PoolError> {
        let inner = Rc::new(RefCell::new(Inner::default()));
        for index in 0..size.max(1) {
            let slot = spawn(Rc::downgrade(&inner), index)?;
            inner.borrow_mut().slots.push(slot);
        }
        Ok(WorkerPool { inner })
    }

    /// Workers in the pool.
    pub fn size(&self) -> usize {
        self.inner.borrow().slots.len()
    }

    /// The newest generation [`WorkerPool::supersede`] was given: jobs older than it are obsolete. A desk that starts
    /// again (its tab reopened) numbers its runs from here, or its first runs would be refused.
    pub fn generation(&self) -> u64 {
        self.inner.borrow().generation
    }

    /// Makes every job of a generation older than `generation` obsolete.
    pub fn supersede(&self, generation: u64) {
        let mut inner = self.inner.borrow_mut();
        inner.generation = inner.generation.max(generation);
        let current = inner.generation;
        let queue = std::mem::take(&mut inner.queue);
        for q in queue {
            if q.generation < current {
                // The receiver may be gone already; nothing to tell it then.
                let _ = q.reply.send(Err(PoolError::Obsolete));
            } else {
                inner.queue.push_back(q);
            }
        }
    }

    /// Queues `job` for the next free worker; the future resolves with its answer.
    pub fn run(
        &self,
        generation: u64,
        job: &Job,
    ) -> impl Future<Output = Result<Done, PoolError>> + 'static + use<> {
        let (reply, answer) = oneshot::channel();
        {
            let mut inner = self.inner.borrow_mut();
            inner.next_id += 1;
            let id = inner.next_id;
            let request = Request {
                id,
                generation,
                job: job.clone(),
            };
            match serde_json::to_string(&request) {
                Ok(text) if generation >= inner.generation => {
                    inner.queue.push_back(Queued {
                        id,
                        generation,
                        text,
                        reply,
                    });
                    dispatch(&mut inner);
                }
                Ok(_) => {
                    let _ = reply.send(Err(PoolError::Obsolete));
                }
                Err(e) => {
                    let _ = reply.send(Err(PoolError::Job(format!("cannot encode the job: {e}"))));
                }
            }
        }
        async move { answer.await.unwrap_or(Err(PoolError::Obsolete)) }
    }

    /// A job runner for [`crate::split_search::search`]: each job queued at `generation`, its answer without the
    /// worker's timing.
    pub fn runner(
        &self,
        generation: u64,
    ) -> impl Fn(Job) -> crate::split_search::JobFuture<PoolError> + '_ {
        move |job| {
            let done = self.run(generation, &job);
            Box::pin(async move { done.await.map(|d| d.answer) })
        }
    }

    /// Runs a Monte Carlo's blocks (`Job::MonteCarlo` each, e.g. from
    /// [`crate::view_model::strategy::baseline_jobs`]) on the workers and collects their tallies in block order.
    ///
    /// # Errors
    /// The first block's error, or [`PoolError::Job`] if a block did not answer with a tally.
    pub async fn monte_carlo(&self, generation: u64, blocks: &[Job]) -> Result<McDone, PoolError> {
        let answers =
            futures::future::join_all(blocks.iter().map(|job| self.run(generation, job))).await;
        let mut tallies = Vec::with_capacity(answers.len());
        let mut worker_ms = 0.0;
        for done in answers {
            let done = done?;
            worker_ms += done.elapsed_ms;
            match done.answer {
                Answer::Tally(t) => tallies.push(t),
                _ => {
                    return Err(PoolError::Job(
                        "a Monte Carlo block answered with no tally".into(),
                    ));
                }
            }
        }
        Ok(McDone { tallies, worker_ms })
    }
}

/// Starts worker `index` with its handlers.
fn spawn(pool: Weak<RefCell<Inner>>, index: usize) -> Result<Slot, PoolError> {
    let worker = Worker::new(WORKER_URL).map_err(|e| PoolError::Worker(describe(&e)))?;
    let on_message = {
        let pool = pool.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(inner) = pool.upgrade() {
                // A text, or `[text, ImageBitmap]` for a chart.
                let data = event.data();
                let (text, pixels) = match data.dyn_ref::<js_sys::Array>() {
                    Some(parts) => (parts.get(0).as_string(), parts.get(1).dyn_into().ok()),
                    None => (data.as_string(), None),
                };
                on_message(&mut inner.borrow_mut(), index, text, pixels);
            }
        })
    };
    let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |event: ErrorEvent| {
        if let Some(inner) = pool.upgrade() {
            on_error(&inner, index, event.message());
        }
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    Ok(Slot {
        worker,
        ready: false,
        dead: false,
        busy: None,
        handlers: Handlers {
            _on_message: on_message,
            _on_error: on_error,
        },
    })
}

fn on_message(
    inner: &mut Inner,
    index: usize,
    text: Option<String>,
    mut pixels: Option<ImageBitmap>,
) {
    answer(inner, index, text, &mut pixels);
    // A chart's pixels nobody took (an obsolete or unreadable answer, a caller gone).
    close_pixels(pixels);
}

/// Frees a chart's bitmap now rather than when the garbage collector comes by.
pub fn close_pixels(pixels: Option<ImageBitmap>) {
    if let Some(pixels) = pixels {
        pixels.close();
    }
}

/// Hands the worker's answer to the job that waits for it, taking `pixels` into its [`Done`].
fn answer(inner: &mut Inner, index: usize, text: Option<String>, pixels: &mut Option<ImageBitmap>) {
    let Some(text) = text else {
        return;
    };
    let current = inner.generation;
    let Some(slot) = inner.slots.get_mut(index) else {
        return;
    };
    if text == READY {
        slot.ready = true;
    } else {
        let running = slot.busy.take();
        match serde_json::from_str::<Response>(&text) {
            Ok(response) => {
                if let Some(running) = running.filter(|r| r.id == response.id) {
                    let result = if response.generation < current {
                        Err(PoolError::Obsolete)
                    } else {
                        response
                            .result
                            .map(|answer| Done {
                                answer,
                                elapsed_ms: response.elapsed_ms,
                                pixels: pixels.take(),
                            })
                            .map_err(PoolError::Job)
                    };
                    if let Err(Ok(unwanted)) = running.reply.send(result) {
                        *pixels = unwanted.pixels;
                    }
                }
            }
            Err(e) => {
                if let Some(running) = running {
                    let _ = running
                        .reply
                        .send(Err(PoolError::Worker(format!("unreadable answer: {e}"))));
                }
            }
        }
    }
    dispatch(inner);
}

fn on_error(pool: &Rc<RefCell<Inner>>, index: usize, message: String) {
    let mut inner = pool.borrow_mut();
    let Some(slot) = inner.slots.get_mut(index) else {
        return;
    };
    slot.worker.terminate();
    if let Some(running) = slot.busy.take() {
        let _ = running.reply.send(Err(PoolError::Worker(message.clone())));
    }
    if !slot.ready {
        leptos::logging::error!("strategy worker {index} did not start: {message}");
        slot.dead = true;
    } else {
        leptos::logging::error!("strategy worker {index} failed and is replaced: {message}");
        match spawn(Rc::downgrade(pool), index) {
            Ok(fresh) => {
                let old = std::mem::replace(slot, fresh);
                inner.retired.push(old.handlers);
            }
            Err(e) => {
                leptos::logging::error!("cannot replace strategy worker {index}: {e}");
                slot.dead = true;
            }
        }
    }
    dispatch(&mut inner);
}

/// Hands queued jobs to free workers; fails the queue when no worker is left.
fn dispatch(inner: &mut Inner) {
    if inner.slots.iter().all(|s| s.dead) {
        for q in inner.queue.drain(..) {
            let _ = q.reply.send(Err(PoolError::Worker(
                "no strategy worker could be started".into(),
            )));
        }
        return;
    }
    let current = inner.generation;
    for slot in inner.slots.iter_mut() {
        if !slot.ready || slot.dead || slot.busy.is_some() {
            continue;
        }
        while let Some(q) = inner.queue.pop_front() {
            if q.generation < current {
                let _ = q.reply.send(Err(PoolError::Obsolete));
                continue;
            }
            match slot.worker.post_message(&JsValue::from_str(&q.text)) {
                Ok(()) => {
                    slot.busy = Some(Running {
                        id: q.id,
                        reply: q.reply,
                    });
                    break;
                }
                Err(e) => {
                    let _ = q.reply.send(Err(PoolError::Worker(describe(&e))));
                }
            }
        }
    }
}

pub(crate) fn describe(e: &JsValue) -> String {
    e.as_string()
        .or_else(|| {
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| format!("{e:?}"))
}

thread_local! {
    static SHARED: RefCell<Option<WorkerPool>> = const { RefCell::new(None) };
}

/// The page's pool, started on first use with [`worker_protocol::pool_size`] workers (`?workers=K`, else
/// `navigator.hardwareConcurrency` clamped to 1–4).
///
/// # Errors
/// [`PoolError::Worker`] when the workers cannot be created.
pub fn shared() -> Result<WorkerPool, PoolError> {
    SHARED.with(|shared| {
        if let Some(pool) = shared.borrow().as_ref() {
            return Ok(pool.clone());
        }
        let window = web_sys::window().ok_or_else(|| PoolError::Worker("no window".into()))?;
        let query = window.location().search().unwrap_or_default();
        let hardware = Some(window.navigator().hardware_concurrency());
        let pool = WorkerPool::new(worker_protocol::pool_size(&query, hardware))?;
        *shared.borrow_mut() = Some(pool.clone());
        Ok(pool)
    })
}
