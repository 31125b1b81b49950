//! A strategy search spread over the worker pool, as a conversation: a worker starts the search (the free-track
//! screen) and answers with a state and blocks of plans to evaluate; other workers evaluate the blocks at once;
//! a worker advances the state with their results (ranks the finalists, then scans the pit window a worker's width
//! of laps at a time) until it answers with the report.
//!
//! Every evaluation is an independent Monte Carlo on the search's seed, and [`WindowScan`] ignores what lies beyond
//! a direction's close, so the report is the one `search::search` gives on one thread, bit for bit, whatever the
//! number of workers (tested in `worker_protocol`'s tests).
//!
//! **Invariant:** the page only carries the state, the plans and the results as
//! [`Opaque`](crate::worker_protocol::Opaque) JSON. The ranking, the window's logic and the plans' serde code run
//! in workers ([`start`], [`advance`]), out of the app's bundle; the page's part ([`search()`]) is a loop over jobs.

use std::future::Future;
use std::pin::Pin;

use boxbox_engine::strategy::model::Plan;
use boxbox_engine::strategy::search::{
    self, PlanResult, SearchConfig, SearchReport, Shortlist, WindowCandidate, WindowScan,
};
use serde::{Deserialize, Serialize};

use crate::worker_protocol::{Answer, DeskInputs, Job, PageInputs};

/// A job's answer, or why there is none.
pub type JobFuture<E> = Pin<Box<dyn Future<Output = Result<Answer, E>>>>;

/// Runs the search of `config` on `inputs` with `run` (a job in, its answer out) as if `workers` workers were
/// free: the finalists in about two blocks per worker, the window `workers` laps at a time.
///
/// # Errors
/// A job's error (of a step's blocks, the first in block order once the step is over); a job that answers
/// something else than asked becomes `E::from` a message.
pub async fn search<E: From<String>>(
    run: &dyn Fn(Job) -> JobFuture<E>,
    inputs: &PageInputs,
    config: &SearchConfig,
    workers: usize,
) -> Result<SearchReport, E> {
    let mut answer = run(Job::SearchStart {
        inputs: inputs.inputs.clone(),
        config: config.clone(),
        workers,
    })
    .await?;
    loop {
        let (state, blocks) = match answer {
            Answer::Search(report) => return Ok(report),
            Answer::SearchStep { state, blocks } => (state, blocks),
            _ => return Err(E::from("a search job answered something else".into())),
        };
        let evaluations = blocks.into_iter().map(|plans| {
            run(Job::SearchEvaluate {
                inputs: inputs.inputs.clone(),
                config: config.clone(),
                plans,
            })
        });
        let mut results = Vec::new();
        for evaluated in futures::future::join_all(evaluations).await {
            match evaluated? {
                Answer::Evaluated(r) => results.push(r),
                _ => return Err(E::from("an evaluation job answered something else".into())),
            }
        }
        answer = run(Job::SearchAdvance { state, results }).await?;
    }
}

/// The search between two steps, as a worker hands it on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchState {
    config: SearchConfig,
    /// The searched car's code.
    code: String,
    workers: usize,
    total_laps: u32,
    completed_laps: u32,
    phase: Phase,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Phase {
    /// The finalists, then the current plan, are being evaluated.
    Finalists(Shortlist),
    /// The window's `pending` laps are being evaluated.
    Window {
        report: Box<SearchReport>,
        scan: WindowScan,
        pending: Vec<WindowCandidate>,
    },
}

/// What a worker answers to a step: more plans to evaluate, or the report.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Evaluate each block of plans (with [`evaluate`]), then [`advance`] the state with their results in order.
    Work {
        /// The search so far.
        state: SearchState,
        /// Blocks of plans for the searched car.
        blocks: Vec<Block>,
    },
    /// The search is over.
    Done(SearchReport),
}

/// Starts the search (in a worker): the free-track screen, and the finalists with the current plan to evaluate.
///
/// # Errors
/// The engine's error, as text.
pub fn start(inputs: &DeskInputs, config: &SearchConfig, workers: usize) -> Result<Step, String> {
    let list = search::shortlist(&inputs.model, &inputs.plans, Some(&inputs.start), config)
        .map_err(|e| e.to_string())?;
    let code = inputs
        .model
        .drivers
        .get(config.car)
        .map(|d| d.code.clone())
        .unwrap_or_default();
    let mut plans = list.finalists.clone();
    plans.extend(list.current.iter().cloned());
    let workers = workers.max(1);
    let state = SearchState {
        config: config.clone(),
        code,
        workers,
        total_laps: inputs.model.total_laps,
        completed_laps: inputs.start.completed_laps,
        phase: Phase::Finalists(list),
    };
    if plans.is_empty() {
        return advance(state, Vec::new());
    }
    let per = plans.len().div_ceil(2 * workers);
    Ok(Step::Work {
        state,
        blocks: plans
            .chunks(per)
            .map(|plans| Block {
                window: false,
                plans: plans.to_vec(),
            })
            .collect(),
    })
}

/// Plans a worker evaluates together.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Block {
    /// Pit-window laps, run on the window's races ([`SearchConfig::for_window`]); else finalists.
    pub window: bool,
    /// The searched car's plans.
    pub plans: Vec<Plan>,
}

/// Evaluates a block of plans for the search of `config` (in a worker), together ([`search::evaluate_plans`]); a
/// plan that cannot be simulated has its error in its place.
pub fn evaluate(
    inputs: &DeskInputs,
    config: &SearchConfig,
    block: &Block,
) -> Vec<Result<PlanResult, String>> {
    let config = if block.window {
        config.for_window()
    } else {
        config.clone()
    };
    search::evaluate_plans(
        &inputs.model,
        &inputs.plans,
        Some(&inputs.start),
        &config,
        &block.plans,
    )
    .into_iter()
    .map(|r| r.map_err(|e| e.to_string()))
    .collect()
}

/// Takes the results of the blocks [`Step::Work`] listed, in order (in a worker), and says what comes next.
///
/// # Errors
/// When the results do not match the plans handed out.
pub fn advance(
    mut state: SearchState,
    results: Vec<Result<PlanResult, String>>,
) -> Result<Step, String> {
    let (mut report, mut scan) = match state.phase {
        Phase::Finalists(list) => {
            let mut results = results;
            let wanted = list.finalists.len() + usize::from(list.current.is_some());
            if results.len() != wanted {
                return Err(format!("{} results for {wanted} plans", results.len()));
            }
            let current = list.current.is_some().then(|| results.pop()).flatten();
            let report = search::rank(&state.config, &state.code, list, results, current);
            let scan = WindowScan::new(
                &state.config,
                state.total_laps,
                state.completed_laps,
                &report,
            );
            (Box::new(report), scan)
        }
        Phase::Window {
            report,
            mut scan,
            pending,
        } => {
            if results.len() != pending.len() {
                return Err(format!(
                    "{} results for {} window laps",
                    results.len(),
                    pending.len()
                ));
            }
            scan.feed(&pending, results);
            (report, Some(scan))
        }
    };
    let Some(window) = scan.take() else {
        return Ok(Step::Done(*report));
    };
    let pending = window.pending(state.workers);
    if pending.is_empty() {
        report.window = Some(window.finish(&mut report.warnings));
        return Ok(Step::Done(*report));
    }
    let blocks = pending
        .iter()
        .map(|c| Block {
            window: true,
            plans: vec![c.plan.clone()],
        })
        .collect();
    state.phase = Phase::Window {
        report,
        scan: window,
        pending,
    };
    Ok(Step::Work { state, blocks })
}

/// A search report in one line — each ranked plan's label, mean position and its spread (their bits, in hex:
/// the page has no shortest-float formatting to spare), then the window — to compare two runs of a search (the
/// browser's benchmark against a native one).
pub fn summary(report: &SearchReport) -> String {
    let mut out = String::new();
    for plan in &report.ranked {
        out += &format!(
            "{} {:x} {:x}; ",
            plan.label,
            plan.mean_position.to_bits(),
            plan.position_sd.to_bits()
        );
    }
    if let Some(w) = &report.window {
        out += &format!(
            "window {}-{}-{} {:?}",
            w.earliest_lap, w.best_lap, w.latest_lap, w.compound
        );
    }
    out
}
