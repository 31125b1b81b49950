//! The strategy workers' protocol: what the page posts to a Web Worker and what the worker answers, as JSON text.
//!
//! A [`Request`] carries an id, the desk's generation (a newer generation makes older work obsolete) and one
//! [`Job`]: the live session's inputs, Monte Carlo chunks, a strategy search, a what-if or undercut chances, or a
//! chart to draw on an `OffscreenCanvas` (plotters lives in the worker, not in the app's bundle). The worker
//! answers each with a [`Response`]: the same id and generation, the [`Answer`] or an error message, and how long
//! the job took in the worker. [`handle`] is the whole worker side (text in, text out, plus a chart's pixels as an
//! [`Attachment`]), so it is tested natively; the worker binary only moves messages between `postMessage` and this
//! function.
//!
//! **Invariant:** the page never decodes a race model or a tally. The desk's inputs ([`DeskInputs`]) and the
//! tallies travel through the page as [`Opaque`] JSON that only workers read; the page keeps [`PageInputs`], the
//! few facts its controls need. This keeps the model's serde code out of the app's bundle (issue 7's size budget).
//!
//! A Monte Carlo is split by chunk ([`split_chunks`]: contiguous blocks of `monte_carlo::chunks`) and the blocks'
//! tallies are merged in block order ([`merge_tallies`], in a worker: [`Job::Report`]): the merged [`Tally`] is
//! then the one `run_all` gives on one thread, bit for bit, whatever the number of workers.

use boxbox_engine::digest::Fnv1a;
use boxbox_engine::strategy::lapsim::{Prepared, RaceStart};
use boxbox_engine::strategy::live;
use boxbox_engine::strategy::model::{Plan, RaceModel};
use boxbox_engine::strategy::monte_carlo::{self, McConfig, McReport, Tally};
use boxbox_engine::strategy::search::{
    self, PlanResult, SearchConfig, SearchReport, UndercutReport, WhatIf, WhatIfReport,
};
use boxbox_engine::wire::Compound;
use boxbox_engine::wire::{LapRecord, RaceState};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::split_search;
use crate::view_model::charts::ChartJob;

/// What a worker posts once its WASM is loaded and its message handler is set: messages posted to it before that
/// are lost, so the pool sends nothing until it has seen this.
pub const READY: &str = "ready";

/// The most workers a pool runs, even when asked for more (`?workers=K`).
pub const MAX_WORKERS: usize = 16;

/// The most workers a pool runs by default, whatever `navigator.hardwareConcurrency` says: the UI thread and the
/// relay's tablet need the rest.
pub const DEFAULT_MAX_WORKERS: usize = 4;

/// One job for a worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Unique per page; the response carries it back.
    pub id: u64,
    /// The desk's generation when the job was queued.
    pub generation: u64,
    /// The work.
    pub job: Job,
}

/// JSON that the page carries from one worker to another without reading it: the desk's inputs and Monte Carlo
/// tallies. Only workers decode it ([`Opaque::decode`]), so their types' `Deserialize` code is not in the app.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Opaque(Box<RawValue>);

impl Opaque {
    /// `value` as JSON.
    ///
    /// # Errors
    /// serde_json's error, as text (a non-finite number).
    pub fn encode<T: Serialize>(value: &T) -> Result<Self, String> {
        serde_json::value::to_raw_value(value)
            .map(Opaque)
            .map_err(|e| format!("cannot encode: {e}"))
    }

    /// JSON text from outside (checked to be JSON, not what it holds).
    ///
    /// # Errors
    /// serde_json's error, as text.
    pub fn from_json(text: &str) -> Result<Self, String> {
        RawValue::from_string(text.to_owned())
            .map(Opaque)
            .map_err(|e| e.to_string())
    }

    /// The value it holds (in a worker).
    ///
    /// # Errors
    /// serde_json's error, as text.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_str(self.0.get()).map_err(|e| format!("cannot read the inputs: {e}"))
    }

    /// The JSON text.
    pub fn json(&self) -> &str {
        self.0.get()
    }
}

impl PartialEq for Opaque {
    fn eq(&self, other: &Self) -> bool {
        self.json() == other.json()
    }
}

/// The work a worker can do: the engine's strategy functions, on inputs that travel as JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Job {
    /// The simulator's inputs from the live session (the engine's calibration) → [`Answer::Inputs`]. Done in a
    /// worker too: the calibration is heavy, and its code stays out of the app's bundle.
    Inputs {
        /// The latest state.
        state: Box<RaceState>,
        /// The lap history (`Twins::records`).
        records: Vec<LapRecord>,
    },
    /// Inputs pinned from outside (a [`DeskInputs`] as JSON), read and checked → [`Answer::Inputs`].
    Pinned(Opaque),
    /// Some chunks of a Monte Carlo over the whole field → [`Answer::Tally`].
    MonteCarlo(McChunks),
    /// Merges the blocks' tallies of a Monte Carlo (in block order) into its report → [`Answer::Baseline`].
    Report {
        /// The [`DeskInputs`].
        inputs: Opaque,
        /// Each block's [`Tally`], in block order.
        tallies: Vec<Opaque>,
        /// Races in the Monte Carlo.
        runs: u32,
        /// Its seed.
        seed: u64,
    },
    /// Starts a strategy search for one car (the free-track screen) → [`Answer::SearchStep`] (or
    /// [`Answer::Search`] when there is nothing to evaluate). The search is a conversation: see
    /// [`crate::split_search`].
    SearchStart {
        /// The [`DeskInputs`] (the search starts from their live race).
        inputs: Opaque,
        /// The search's settings (the car is in it).
        config: SearchConfig,
        /// Workers it is spread over: the finalists go out in about two blocks per worker, the window's laps
        /// this many at a time.
        workers: usize,
    },
    /// One block of a search step's plans, each through its Monte Carlo → [`Answer::Evaluated`].
    SearchEvaluate {
        /// The [`DeskInputs`].
        inputs: Opaque,
        /// The search's settings (the car, its runs per plan and seed).
        config: SearchConfig,
        /// The block ([`crate::split_search::Block`]).
        plans: Opaque,
    },
    /// The step's state with its blocks' results, in order → the next [`Answer::SearchStep`], or the
    /// [`Answer::Search`] report.
    SearchAdvance {
        /// The [`crate::split_search::SearchState`].
        state: Opaque,
        /// Each block's results (`Vec<Result<PlanResult, String>>`), in the step's order.
        results: Vec<Opaque>,
    },
    /// A what-if against the base case on the same seed → [`Answer::WhatIf`].
    WhatIf {
        /// The [`DeskInputs`].
        inputs: Opaque,
        /// What changes.
        what_if: WhatIf,
        /// Runs and seed.
        config: McConfig,
    },
    /// A chart of the Charts view drawn on an `OffscreenCanvas` → [`Answer::Chart`], its pixels beside the answer
    /// ([`handle`]'s [`Attachment`]). Sent at [`CHART_GENERATION`].
    Chart {
        /// What to draw, and its size in CSS pixels.
        chart: ChartJob,
        /// Device pixels per CSS pixel (the page's `devicePixelRatio`).
        scale: f64,
    },
    /// Undercut chance on the car ahead and cover chance on the car behind → [`Answer::Undercut`].
    Undercut {
        /// The [`DeskInputs`].
        inputs: Opaque,
        /// Index of the car in the model.
        car: usize,
        /// Runs and seed.
        config: McConfig,
    },
}

/// Chunks of one seeded Monte Carlo: any split of `monte_carlo::chunks(runs)` over jobs, merged, gives the same
/// tally as the whole.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct McChunks {
    /// The [`DeskInputs`] (the Monte Carlo starts from their live race).
    pub inputs: Opaque,
    /// Seed of every chunk's stream.
    pub seed: u64,
    /// `(chunk index, runs in it)`, as `monte_carlo::chunks` lists them.
    pub chunks: Vec<(u64, u32)>,
}

/// A worker's answer to one [`Request`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// The request's id (0 when the request could not be read at all).
    pub id: u64,
    /// The request's generation.
    pub generation: u64,
    /// Time the job took in the worker, milliseconds (decoding and encoding included).
    pub elapsed_ms: f64,
    /// The answer, or why there is none.
    pub result: Result<Answer, String>,
}

/// What a job produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// The live session's inputs, as the page keeps them.
    Inputs(Box<PageInputs>),
    /// The chunks' [`Tally`], for a [`Job::Report`].
    Tally(Opaque),
    /// A Monte Carlo's merged report.
    Baseline {
        /// The report of the merged tally.
        report: McReport,
        /// The merged tally's digest ([`tally_digest`]).
        digest: String,
    },
    /// A search's next step: its state and blocks of plans to evaluate at once.
    SearchStep {
        /// The [`crate::split_search::SearchState`].
        state: Opaque,
        /// Blocks of plans ([`crate::split_search::Block`] each), one [`Job::SearchEvaluate`] each.
        blocks: Vec<Opaque>,
    },
    /// A block's results (`Vec<Result<PlanResult, String>>`), for the next [`Job::SearchAdvance`].
    Evaluated(Opaque),
    /// The search's report.
    Search(SearchReport),
    /// Base case and what-if.
    WhatIf(WhatIfReport),
    /// Undercut and cover chances.
    Undercut(UndercutReport),
    /// A chart drawn: its pixels are [`handle`]'s [`Attachment`]; here every text it drew (title, legend, axis
    /// labels), for the page's accessible fallback.
    Chart {
        /// The texts, in drawing order.
        texts: Vec<String>,
    },
}

/// What goes beside an answer's JSON: a chart's pixels. Only a browser has them; natively there is never one.
#[cfg(target_arch = "wasm32")]
pub type Attachment = web_sys::ImageBitmap;
/// What goes beside an answer's JSON: a chart's pixels. Only a browser has them; natively there is never one.
#[cfg(not(target_arch = "wasm32"))]
pub type Attachment = std::convert::Infallible;

/// The generation chart jobs are sent at: they belong to no strategy run, so the desk's
/// `WorkerPool::supersede` never makes them obsolete.
pub const CHART_GENERATION: u64 = u64::MAX;

/// Runs one job on this thread (in a worker: never on the page's UI thread).
///
/// # Errors
/// The engine's error, as text, when the inputs cannot be simulated.
pub fn run(job: &Job) -> Result<Answer, String> {
    match job {
        Job::Inputs { state, records } => live_inputs(state, records)
            .and_then(|i| PageInputs::new(&i))
            .map(|i| Answer::Inputs(Box::new(i))),
        Job::Pinned(inputs) => inputs
            .decode::<DeskInputs>()
            .and_then(|i| PageInputs::new(&i))
            .map(|i| Answer::Inputs(Box::new(i))),
        Job::MonteCarlo(mc) => {
            let inputs: DeskInputs = mc.inputs.decode()?;
            let prepared = Prepared::new(&inputs.model, &inputs.plans, Some(&inputs.start))
                .map_err(|e| e.to_string())?;
            let mut tally = Tally::new(prepared.drivers());
            for &(chunk, runs) in &mc.chunks {
                tally.merge(&monte_carlo::run_chunk(&prepared, mc.seed, chunk, runs));
            }
            Opaque::encode(&tally).map(Answer::Tally)
        }
        Job::Report {
            inputs,
            tallies,
            runs,
            seed,
        } => {
            let inputs: DeskInputs = inputs.decode()?;
            let tallies = tallies
                .iter()
                .map(Opaque::decode)
                .collect::<Result<Vec<Tally>, String>>()?;
            let merged = merge_tallies(&tallies);
            Ok(Answer::Baseline {
                report: report(&inputs.model, &merged, *runs, *seed),
                digest: tally_digest(&merged),
            })
        }
        Job::SearchStart {
            inputs,
            config,
            workers,
        } => step_answer(split_search::start(&inputs.decode()?, config, *workers)?),
        Job::SearchEvaluate {
            inputs,
            config,
            plans,
        } => {
            let block: split_search::Block = plans.decode()?;
            Opaque::encode(&split_search::evaluate(&inputs.decode()?, config, &block))
                .map(Answer::Evaluated)
        }
        Job::SearchAdvance { state, results } => {
            let mut all = Vec::new();
            for r in results {
                all.extend(r.decode::<Vec<Result<PlanResult, String>>>()?);
            }
            step_answer(split_search::advance(state.decode()?, all)?)
        }
        Job::WhatIf {
            inputs,
            what_if,
            config,
        } => {
            let i: DeskInputs = inputs.decode()?;
            search::what_if(&i.model, &i.plans, Some(&i.start), what_if, config)
                .map(Answer::WhatIf)
                .map_err(|e| e.to_string())
        }
        Job::Undercut {
            inputs,
            car,
            config,
        } => {
            let i: DeskInputs = inputs.decode()?;
            search::undercut(&i.model, &i.plans, &i.start, *car, config)
                .map(Answer::Undercut)
                .map_err(|e| e.to_string())
        }
        Job::Chart { .. } => Err(CHART_NEEDS_HANDLE.to_owned()),
    }
}

/// A chart's answer is pixels beside the JSON, which only [`handle`] returns.
const CHART_NEEDS_HANDLE: &str = "a chart is pixels beside the answer: only `handle` draws it";

/// Draws a chart job: its answer and pixels.
#[cfg(target_arch = "wasm32")]
fn draw_chart(chart: &ChartJob, scale: f64) -> Result<(Answer, Attachment), String> {
    chart
        .render_canvas(scale)
        .map(|drawn| (Answer::Chart { texts: drawn.texts }, drawn.bitmap))
}

/// Draws a chart job: natively there is no canvas (the charts are tested with the SVG backend instead,
/// [`ChartJob::render`]).
#[cfg(not(target_arch = "wasm32"))]
fn draw_chart(_: &ChartJob, _: f64) -> Result<(Answer, Attachment), String> {
    Err("a chart is drawn on an OffscreenCanvas, which only a browser has".to_owned())
}

/// A search step as the page carries it.
fn step_answer(step: split_search::Step) -> Result<Answer, String> {
    match step {
        split_search::Step::Work { state, blocks } => Ok(Answer::SearchStep {
            state: Opaque::encode(&state)?,
            blocks: blocks
                .iter()
                .map(Opaque::encode)
                .collect::<Result<_, _>>()?,
        }),
        split_search::Step::Done(report) => Ok(Answer::Search(report)),
    }
}

/// The simulator's inputs: [`boxbox_engine::strategy::live::LiveInputs`] from the live session, or inputs pinned
/// from outside (a fixed race).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeskInputs {
    /// The race model calibrated on the session so far.
    pub model: RaceModel,
    /// Every driver's plan, in the model's order.
    pub plans: Vec<Plan>,
    /// The live race as a start state.
    pub start: RaceStart,
    /// Model driver `i` is the car with `car_idx[i]`.
    pub car_idx: Vec<u8>,
}

impl DeskInputs {
    /// The model's driver index of car `car_idx`.
    pub fn driver_of(&self, car_idx: u8) -> Option<usize> {
        self.car_idx.iter().position(|c| *c == car_idx)
    }
}

/// The desk's inputs as the page keeps them: the [`DeskInputs`] as [`Opaque`] JSON, which every job carries back to
/// a worker, and the few facts the page's controls and labels need.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PageInputs {
    /// The [`DeskInputs`].
    pub inputs: Opaque,
    /// Model driver `i` is the car with `car_idx[i]`.
    pub car_idx: Vec<u8>,
    /// Each model driver's code, in the model's order.
    pub codes: Vec<String>,
    /// Laps in the race.
    pub total_laps: u32,
    /// The race's dry compounds.
    pub dry_compounds: Vec<Compound>,
    /// Laps completed at the start state.
    pub completed_laps: u32,
    /// Every driver's plan, in the model's order.
    pub plans: Vec<Plan>,
    /// Each driver's compound at the start state, in the model's order.
    pub fitted: Vec<Compound>,
}

impl PageInputs {
    /// What the page keeps of `inputs`.
    ///
    /// # Errors
    /// When the inputs cannot be encoded (a non-finite number).
    pub fn new(inputs: &DeskInputs) -> Result<Self, String> {
        Ok(PageInputs {
            inputs: Opaque::encode(inputs)?,
            car_idx: inputs.car_idx.clone(),
            codes: inputs
                .model
                .drivers
                .iter()
                .map(|d| d.code.clone())
                .collect(),
            total_laps: inputs.model.total_laps,
            dry_compounds: inputs.model.dry_compounds.clone(),
            completed_laps: inputs.start.completed_laps,
            plans: inputs.plans.clone(),
            fitted: inputs.start.cars.iter().map(|c| c.compound).collect(),
        })
    }

    /// The model's driver index of car `car_idx`.
    pub fn driver_of(&self, car_idx: u8) -> Option<usize> {
        self.car_idx.iter().position(|c| *c == car_idx)
    }
}

/// The desk's inputs from the live session: the state and the lap history, calibrated by the engine
/// ([`boxbox_engine::strategy::live::inputs`], the backtest's own calibration). Runs in a worker ([`Job::Inputs`]).
///
/// # Errors
/// Why the session cannot be simulated yet (too few laps, the flag has fallen), for the status line.
pub fn live_inputs(state: &RaceState, records: &[LapRecord]) -> Result<DeskInputs, String> {
    live::inputs(state, records)
        .map(|i| DeskInputs {
            model: i.model,
            plans: i.plans,
            start: i.start,
            car_idx: i.car_idx,
        })
        .map_err(|e| e.to_string())
}

/// The worker's side of the protocol: a request's JSON in, the response's JSON out, with a chart's pixels beside it
/// for a [`Job::Chart`]. Never fails: a request that does not parse is answered with an error (and whatever id and
/// generation could be read from it). `now_ms` is the worker's clock.
pub fn handle(text: &str, mut now_ms: impl FnMut() -> f64) -> (String, Option<Attachment>) {
    let t0 = now_ms();
    let (id, generation, result, attachment) = match serde_json::from_str::<Request>(text) {
        Ok(request) => {
            let (result, attachment) = match &request.job {
                Job::Chart { chart, scale } => match draw_chart(chart, *scale) {
                    Ok((answer, pixels)) => (Ok(answer), Some(pixels)),
                    Err(e) => (Err(e), None),
                },
                job => (run(job), None),
            };
            (request.id, request.generation, result, attachment)
        }
        Err(e) => {
            let header = serde_json::from_str::<RequestHeader>(text).unwrap_or_default();
            (
                header.id,
                header.generation,
                Err(format!("cannot read the request: {e}")),
                None,
            )
        }
    };
    let response = Response {
        id,
        generation,
        elapsed_ms: now_ms() - t0,
        result,
    };
    let text = serde_json::to_string(&response).unwrap_or_else(|e| {
        // Only a non-finite number in an answer can get here; say so rather than go silent.
        let fallback = Response {
            id,
            generation,
            elapsed_ms: now_ms() - t0,
            result: Err(format!("cannot encode the answer: {e}")),
        };
        serde_json::to_string(&fallback).unwrap_or_default()
    });
    (text, attachment)
}

/// The id and generation of a request whose job did not parse.
#[derive(Debug, Default, Deserialize)]
struct RequestHeader {
    #[serde(default)]
    id: u64,
    #[serde(default)]
    generation: u64,
}

/// Splits a Monte Carlo's chunks into at most `workers` contiguous blocks of nearly equal size, in chunk order
/// (empty blocks are left out).
pub fn split_chunks(chunks: &[(u64, u32)], workers: usize) -> Vec<Vec<(u64, u32)>> {
    let workers = workers.max(1);
    let per = chunks.len().div_ceil(workers).max(1);
    chunks.chunks(per).map(<[_]>::to_vec).collect()
}

/// Merges the blocks' tallies in block order: with [`split_chunks`]' blocks, the result is the one-thread tally.
pub fn merge_tallies<'a>(tallies: impl IntoIterator<Item = &'a Tally>) -> Tally {
    let mut merged = Tally::default();
    for t in tallies {
        merged.merge(t);
    }
    merged
}

/// The Monte Carlo report of a merged tally for `runs` races of `seed`.
pub fn report(model: &RaceModel, tally: &Tally, runs: u32, seed: u64) -> monte_carlo::McReport {
    monte_carlo::report(
        model,
        tally,
        &McConfig {
            runs,
            seed,
            deterministic: false,
        },
    )
}

/// A tally's digest, as 16 hex digits: equal digests, equal tallies (counts and every race time's bits).
pub fn tally_digest(tally: &Tally) -> String {
    let mut h = Fnv1a::new();
    h.write_json(tally);
    format!("{:016x}", h.finish())
}

/// How many workers a pool runs: `?workers=K` in the page's query (clamped to `1..=`[`MAX_WORKERS`]), else the
/// browser's `navigator.hardwareConcurrency` clamped to `1..=`[`DEFAULT_MAX_WORKERS`].
pub fn pool_size(query: &str, hardware_concurrency: Option<f64>) -> usize {
    let asked = query
        .trim_start_matches('?')
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "workers")
        .and_then(|(_, value)| value.parse::<usize>().ok());
    match asked {
        Some(k) => k.clamp(1, MAX_WORKERS),
        None => {
            let hw = hardware_concurrency
                .filter(|h| h.is_finite() && *h >= 1.0)
                .map_or(1, |h| h as usize);
            hw.clamp(1, DEFAULT_MAX_WORKERS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use boxbox_engine::strategy::lapsim::CarStart;
    use boxbox_engine::strategy::monte_carlo::chunks;
    use boxbox_engine::strategy::tumftm;
    use futures::FutureExt;

    fn canada() -> RaceModel {
        let mut model = tumftm::read(
            include_str!("../../../shared/data/races/2019_07_canada/tumftm_pars_Montreal_2019.ini"),
            include_str!("../../../shared/data/races/_common/tumftm_pars_mcs.ini"),
        )
        .expect("the Canada 2019 file reads");
        model.fixed = Default::default();
        model
    }

    /// Canada with every car on its planned start compound at the end of lap 10, a second apart.
    fn inputs() -> DeskInputs {
        let model = canada();
        let plans = model.drivers.iter().map(|d| d.plan.clone()).collect();
        let start = RaceStart {
            completed_laps: 10,
            cars: model
                .drivers
                .iter()
                .enumerate()
                .map(|(i, d)| CarStart {
                    race_time_s: 10.0 * 80.0 + i as f64,
                    laps: 10,
                    compound: d.plan.start.unwrap_or(Compound::Medium),
                    tyre_age_laps: 10.0,
                    fuel_kg: 80.0,
                    retired: false,
                })
                .collect(),
        };
        let car_idx = (0..model.drivers.len() as u8).collect();
        DeskInputs {
            model,
            plans,
            start,
            car_idx,
        }
    }

    fn opaque(inputs: &DeskInputs) -> Opaque {
        Opaque::encode(inputs).expect("encodes")
    }

    /// Runs a request through the worker's side, as text both ways.
    fn round_trip(request: &Request) -> Response {
        let text = serde_json::to_string(request).expect("encodes");
        let mut clock = 0.0;
        let (answer, pixels) = handle(&text, || {
            clock += 5.0;
            clock
        });
        assert!(pixels.is_none(), "natively there are no pixels");
        serde_json::from_str(&answer).expect("the answer decodes")
    }

    #[test]
    fn any_split_over_workers_gives_the_one_thread_tally() {
        let inputs = inputs();
        let runs = 1_100; // four full chunks and a short one
        let whole = monte_carlo::run_all(
            &Prepared::new(&inputs.model, &inputs.plans, Some(&inputs.start)).expect("prepares"),
            &McConfig {
                runs,
                seed: 9,
                deterministic: false,
            },
        );
        for workers in [1, 2, 3, 4, 7] {
            let blocks = split_chunks(&chunks(runs), workers);
            assert!(blocks.len() <= workers);
            let tallies: Vec<Opaque> = blocks
                .into_iter()
                .enumerate()
                .map(|(i, block)| {
                    let response = round_trip(&Request {
                        id: i as u64 + 1,
                        generation: 3,
                        job: Job::MonteCarlo(McChunks {
                            inputs: opaque(&inputs),
                            seed: 9,
                            chunks: block,
                        }),
                    });
                    assert_eq!((response.id, response.generation), (i as u64 + 1, 3));
                    assert_eq!(response.elapsed_ms, 5.0);
                    match response.result {
                        Ok(Answer::Tally(t)) => t,
                        other => panic!("not a tally: {other:?}"),
                    }
                })
                .collect();
            let decoded: Vec<Tally> = tallies
                .iter()
                .map(|t| t.decode().expect("a tally"))
                .collect();
            let merged = merge_tallies(&decoded);
            assert_eq!(merged, whole, "{workers} workers");
            // The page has a worker merge them: the same report and digest as one thread's tally.
            let response = round_trip(&Request {
                id: 99,
                generation: 3,
                job: Job::Report {
                    inputs: opaque(&inputs),
                    tallies,
                    runs,
                    seed: 9,
                },
            });
            assert_eq!(
                response.result,
                Ok(Answer::Baseline {
                    report: report(&inputs.model, &whole, runs, 9),
                    digest: tally_digest(&whole),
                }),
                "{workers} workers"
            );
        }
    }

    #[test]
    fn split_keeps_every_chunk_once_in_order() {
        let all = chunks(2_000);
        for workers in 1..=10 {
            let blocks = split_chunks(&all, workers);
            assert_eq!(blocks.concat(), all, "{workers}");
            assert!(blocks.iter().all(|b| !b.is_empty()));
        }
        assert!(split_chunks(&[], 3).is_empty());
        assert_eq!(split_chunks(&all, 0).len(), 1);
    }

    #[test]
    fn a_search_spread_over_workers_gives_the_one_thread_report() {
        let inputs = inputs();
        let (model, plans, start) = (&inputs.model, &inputs.plans, &inputs.start);
        let car = model.driver("HAM").expect("HAM races");
        let config = SearchConfig {
            runs_per_plan: 40,
            max_stops: 2,
            finalists_per_stop_count: 3,
            objective: search::Objective::Points,
            ..SearchConfig::for_car(car, 4)
        };
        let direct = search::search(model, plans, Some(start), &config).expect("searches");
        let window = direct.window.as_ref().expect("a window");
        assert!(window.latest_lap > window.earliest_lap, "{window:?}");
        let page = PageInputs::new(&inputs).expect("page inputs");
        let jobs = std::cell::Cell::new(0);
        // Every job through the worker's JSON side, as the pool posts it.
        let run = |job: Job| -> crate::split_search::JobFuture<String> {
            jobs.set(jobs.get() + 1);
            let response = round_trip(&Request {
                id: jobs.get(),
                generation: 1,
                job,
            });
            Box::pin(std::future::ready(response.result))
        };
        for workers in [1, 2, 3, 4, 8] {
            jobs.set(0);
            let split = crate::split_search::search(&run, &page, &config, workers)
                .now_or_never()
                .expect("every job answers at once here");
            assert_eq!(split, Ok(direct.clone()), "{workers} workers");
            assert!(jobs.get() > 2, "{workers} workers: {} jobs", jobs.get());
        }
    }

    #[test]
    fn what_if_and_undercut_travel_as_json() {
        let inputs = inputs();
        let (model, plans, start) = (&inputs.model, &inputs.plans, &inputs.start);
        let car = model.driver("HAM").expect("HAM races");
        let mc = McConfig {
            runs: 60,
            seed: 2,
            deterministic: false,
        };
        let what_if = WhatIf {
            plans: Vec::new(),
            fcy: vec![boxbox_engine::strategy::model::FcyPhase {
                start: 20.5,
                end: 23.5,
                kind: boxbox_engine::strategy::model::FcyKind::Sc,
            }],
        };
        let direct = search::what_if(model, plans, Some(start), &what_if, &mc).expect("runs");
        let response = round_trip(&Request {
            id: 8,
            generation: 1,
            job: Job::WhatIf {
                inputs: opaque(&inputs),
                what_if,
                config: mc,
            },
        });
        assert_eq!(response.result, Ok(Answer::WhatIf(direct)));

        let direct = search::undercut(model, plans, start, car, &mc);
        let response = round_trip(&Request {
            id: 9,
            generation: 2,
            job: Job::Undercut {
                inputs: opaque(&inputs),
                car,
                config: mc,
            },
        });
        assert_eq!(
            response.result,
            direct.map(Answer::Undercut).map_err(|e| e.to_string())
        );
    }

    #[test]
    fn pinned_inputs_come_back_as_the_page_keeps_them() {
        let inputs = inputs();
        let page = PageInputs::new(&inputs).expect("encodes");
        assert_eq!(page.codes.len(), inputs.model.drivers.len());
        assert_eq!(page.codes[0], inputs.model.drivers[0].code);
        assert_eq!(
            (page.total_laps, page.completed_laps),
            (inputs.model.total_laps, 10)
        );
        assert_eq!(page.fitted.len(), page.plans.len());
        assert_eq!(page.driver_of(3), inputs.driver_of(3));
        assert_eq!(page.inputs.decode::<DeskInputs>(), Ok(inputs.clone()));
        let text = serde_json::to_string(&inputs).expect("encodes");
        let response = round_trip(&Request {
            id: 1,
            generation: 1,
            job: Job::Pinned(Opaque::from_json(&text).expect("JSON")),
        });
        assert_eq!(response.result, Ok(Answer::Inputs(Box::new(page))));
        // JSON that is not inputs: the worker says so.
        let response = round_trip(&Request {
            id: 2,
            generation: 1,
            job: Job::Pinned(Opaque::from_json(r#"{"model": 1}"#).expect("JSON")),
        });
        assert!(matches!(response.result, Err(m) if m.starts_with("cannot read the inputs")));
        assert!(Opaque::from_json("{not json").is_err());
    }

    #[test]
    fn errors_come_back_as_messages_with_the_request_id() {
        let no_plans = DeskInputs {
            plans: Vec::new(),
            ..inputs()
        };
        let response = round_trip(&Request {
            id: 11,
            generation: 4,
            job: Job::MonteCarlo(McChunks {
                inputs: opaque(&no_plans),
                seed: 1,
                chunks: vec![(0, 10)],
            }),
        });
        assert_eq!((response.id, response.generation), (11, 4));
        let Err(message) = response.result else {
            panic!("no plans cannot simulate")
        };
        assert!(message.contains("plans for"), "{message}");

        let garbled: Response = serde_json::from_str(
            &handle(
                r#"{"id": 12, "generation": 5, "job": {"nonsense": 1}}"#,
                || 0.0,
            )
            .0,
        )
        .expect("decodes");
        assert_eq!((garbled.id, garbled.generation), (12, 5));
        assert!(matches!(garbled.result, Err(m) if m.starts_with("cannot read the request")));
        let empty: Response = serde_json::from_str(&handle("", || 0.0).0).expect("decodes");
        assert_eq!(empty.id, 0);
        assert!(empty.result.is_err());
    }

    #[test]
    fn the_live_session_is_calibrated_in_the_worker() {
        use boxbox_engine::history::LapRecorder;
        use boxbox_engine::sim::{RaceSim, SimConfig};
        let mut sim = RaceSim::new(&SimConfig {
            seed: 3,
            total_laps: 25,
        });
        let mut recorder = LapRecorder::new();
        let mut state = sim.state();
        let request = |state: &RaceState, recorder: &LapRecorder| Request {
            id: 1,
            generation: 1,
            job: Job::Inputs {
                state: Box::new(state.clone()),
                records: recorder.records().to_vec(),
            },
        };
        // No lap yet: the engine's reason comes back.
        assert!(round_trip(&request(&state, &recorder)).result.is_err());
        let mut t = 0.0;
        while state.cars.first().map_or(0, |c| c.lap) <= 10 {
            t += 0.5;
            sim.advance_to(t);
            state = sim.state();
            recorder.observe(&state);
        }
        let direct = live_inputs(&state, recorder.records()).expect("calibrates");
        assert_eq!(direct.start.completed_laps, 10);
        assert_eq!(
            round_trip(&request(&state, &recorder)).result,
            Ok(Answer::Inputs(Box::new(
                PageInputs::new(&direct).expect("encodes")
            )))
        );
    }

    #[test]
    fn charts_draw_with_the_svg_backend_and_ask_a_browser_for_pixels() {
        use crate::view_model::charts::Chart;
        use boxbox_charts::{Colour, LapTimeChart, Series};
        let job = ChartJob {
            width_px: 640,
            height_px: 320,
            chart: Chart::LapTimes(LapTimeChart {
                title: "Lap times".to_owned(),
                series: vec![Series {
                    label: "H<M".to_owned(),
                    colour: Colour::rgb(0, 210, 190),
                    dashed: false,
                    points: vec![(1, 91.0), (2, 90.5), (3, 90.4)],
                }],
            }),
        };
        // The same drawing code on the SVG backend (the canvas one is tested in Chromium, web/tests/charts_worker.rs).
        let svg = job.render().expect("draws");
        assert!(
            svg.starts_with("<svg width=\"640\" height=\"320\""),
            "{svg}"
        );
        assert!(svg.contains("H&lt;M") && !svg.contains("H<M"), "{svg}");
        let tiny = ChartJob {
            width_px: 10,
            ..job.clone()
        };
        assert!(matches!(tiny.render(), Err(m) if m.contains("too small")));
        // A chart job natively: a clear error with the request's id, never a panic.
        let response = round_trip(&Request {
            id: 5,
            generation: CHART_GENERATION,
            job: Job::Chart {
                chart: job.clone(),
                scale: 2.0,
            },
        });
        assert_eq!((response.id, response.generation), (5, CHART_GENERATION));
        assert!(matches!(response.result, Err(m) if m.contains("OffscreenCanvas")));
        assert!(
            matches!(run(&Job::Chart { chart: job, scale: 1.0 }), Err(m) if m.contains("handle"))
        );
    }

    #[test]
    fn pool_size_follows_the_query_then_the_hardware() {
        assert_eq!(pool_size("?workers=1", Some(8.0)), 1);
        assert_eq!(pool_size("?a=b&workers=3", None), 3);
        assert_eq!(pool_size("workers=0", None), 1);
        assert_eq!(pool_size("?workers=99", None), MAX_WORKERS);
        assert_eq!(pool_size("?workers=x", Some(2.0)), 2);
        assert_eq!(pool_size("", Some(16.0)), DEFAULT_MAX_WORKERS);
        assert_eq!(pool_size("", Some(0.0)), 1);
        assert_eq!(pool_size("", None), 1);
    }
}
