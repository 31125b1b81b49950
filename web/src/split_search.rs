//! A strategy search spread over the worker pool: the screen in one job, the finalists' Monte Carlos in several,
//! the pit window's scan a few laps per direction at a time. Pure (generic over how a job is run), so the same
//! code runs on the page over the pool and natively in tests.
//!
//! Every evaluation is an independent Monte Carlo on the search's seed, and [`WindowScan`] ignores what lies beyond
//! a direction's close, so the report is the one `search::search` gives on one thread, bit for bit, whatever the
//! number of workers (tested below).

use std::future::Future;

use boxbox_engine::strategy::model::Plan;
use boxbox_engine::strategy::search::{self, SearchConfig, SearchReport, WindowScan};

use crate::worker_protocol::{Answer, Job, PageInputs};

/// Runs the search of `config` on `inputs` with `run` (a job in, its answer out), as if `workers` workers were
/// free: finalists in about two jobs per worker, the window's scan `workers` laps at a time.
///
/// # Errors
/// The first job's error; a job that answers something else than asked becomes `E::from` a message.
pub async fn search<F, Fut, E>(
    run: F,
    inputs: &PageInputs,
    config: &SearchConfig,
    workers: usize,
) -> Result<SearchReport, E>
where
    F: Fn(Job) -> Fut,
    Fut: Future<Output = Result<Answer, E>>,
    E: From<String>,
{
    let workers = workers.max(1);
    let Answer::Shortlist(list) = run(Job::Shortlist {
        inputs: inputs.inputs.clone(),
        config: config.clone(),
    })
    .await?
    else {
        return Err(E::from("the shortlist job answered something else".into()));
    };
    // The current plan rides with the finalists: its result is the last one.
    let mut plans = list.finalists.clone();
    plans.extend(list.current.iter().cloned());
    let mut results = evaluate(&run, inputs, config, &plans, 2 * workers).await?;
    let current = list.current.is_some().then(|| results.pop()).flatten();
    let code = inputs
        .codes
        .get(config.car)
        .cloned()
        .unwrap_or_else(|| format!("car {}", config.car));
    let mut report = search::rank(config, &code, list, results, current);
    if let Some(mut scan) =
        WindowScan::new(config, inputs.total_laps, inputs.completed_laps, &report)
    {
        loop {
            let pending = scan.pending(workers);
            if pending.is_empty() {
                break;
            }
            let plans: Vec<Plan> = pending.iter().map(|c| c.plan.clone()).collect();
            let results = evaluate(&run, inputs, config, &plans, pending.len()).await?;
            scan.feed(&pending, results);
        }
        report.window = Some(scan.finish(&mut report.warnings));
    }
    Ok(report)
}

/// A search report in one line — each ranked plan's label, mean position and its spread (every bit of the
/// floats), then the window — to compare two runs of a search (the browser's benchmark against a native one).
pub fn summary(report: &SearchReport) -> String {
    let mut out = String::new();
    for plan in &report.ranked {
        out += &format!(
            "{} {:?} {:?}; ",
            plan.label, plan.mean_position, plan.position_sd
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

/// Evaluates `plans` in at most `jobs` jobs of consecutive plans, run at once; the results in `plans`' order.
async fn evaluate<F, Fut, E>(
    run: &F,
    inputs: &PageInputs,
    config: &SearchConfig,
    plans: &[Plan],
    jobs: usize,
) -> Result<Vec<Result<search::PlanResult, String>>, E>
where
    F: Fn(Job) -> Fut,
    Fut: Future<Output = Result<Answer, E>>,
    E: From<String>,
{
    if plans.is_empty() {
        return Ok(Vec::new());
    }
    let per = plans.len().div_ceil(jobs.max(1));
    let answers = futures::future::join_all(plans.chunks(per).map(|block| {
        run(Job::Evaluate {
            inputs: inputs.inputs.clone(),
            config: config.clone(),
            plans: block.to_vec(),
        })
    }))
    .await;
    let mut out = Vec::with_capacity(plans.len());
    for answer in answers {
        match answer? {
            Answer::Evaluated(results) => out.extend(results),
            _ => return Err(E::from("an evaluation job answered something else".into())),
        }
    }
    if out.len() != plans.len() {
        return Err(E::from(format!(
            "{} evaluations for {} plans",
            out.len(),
            plans.len()
        )));
    }
    Ok(out)
}
