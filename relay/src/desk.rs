//! The strategy desk on the relay: `GET /api/v1/strategy` answers with the engine's strategy search (ranked plans,
//! pit window, the car's current plan) and its undercut/cover chances for one car, simulated from the live session
//! (`boxbox_engine::strategy::live::inputs`: a model calibrated on the laps so far, every rival's plan, the state
//! now).
//!
//! An answer is cached under what it was computed from: the session, the twins' strategy generation (bumped by a
//! SC/VSC, a stop or a retirement: the twins mark the strategy stale) and the leader's completed laps. A background
//! task re-runs the search for the car last asked about as soon as that changes, so the desk's answer follows the
//! race without anyone asking, and a request for that car is answered from the cache at once, never waiting for a
//! re-run; a request for another car computes it then (one computation at a time).

use std::sync::Arc;
use std::time::Duration;

use boxbox_engine::strategy::live::{self, LiveError};
use boxbox_engine::strategy::monte_carlo::McConfig;
use boxbox_engine::strategy::search::{self, SearchConfig, SearchReport, UndercutReport};
use boxbox_engine::twin::session::StrategyStatus;
use boxbox_engine::wire::{LapRecord, SCHEMA_VERSION};
use serde::Serialize;
use tokio::sync::{Mutex, watch};

use crate::hub::{Hub, StrategyInputs};

/// Seed of every desk simulation: the same for every lap, so answers move with the race, not with the noise.
pub const DESK_SEED: u64 = 2019;
/// Monte Carlo runs per plan of the desk's search.
pub const DESK_RUNS_PER_PLAN: u32 = 300;
/// Runs of the undercut/cover chances.
pub const DESK_UNDERCUT_RUNS: u32 = 1_000;
/// How often the background task looks for a stale answer.
const REFRESH_EVERY: Duration = Duration::from_millis(500);

/// The answer of `GET /api/v1/strategy`.
#[derive(Clone, Debug, Serialize)]
pub struct LiveStrategy {
    /// Version of the state schema the relay speaks.
    pub schema_version: u32,
    /// The car, as the game numbers it.
    pub car_idx: u8,
    /// Its driver's code.
    pub code: String,
    /// Laps the leader had completed when it was computed: the simulation runs from there.
    pub completed_laps: u32,
    /// Race distance.
    pub total_laps: u32,
    /// The twins' strategy status it was computed at: the generation and what last made the strategy stale.
    pub strategy: StrategyStatus,
    /// Ranked plans, pit window and the current plan (car indices in it are the model's, see `car_idx_of`).
    pub search: SearchReport,
    /// Chances of pitting next lap against the car ahead and behind; `None` when it cannot be simulated (the last
    /// laps).
    pub undercut: Option<UndercutReport>,
    /// The game's car index of each driver of the model, in the model's order (to read `search` and `undercut`).
    pub car_idx_of: Vec<u8>,
    /// How long the computation took, milliseconds.
    pub elapsed_ms: f64,
}

/// Why the desk has no answer.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// No state yet.
    #[error("no race state yet")]
    NoState,
    /// The latest state has no such car.
    #[error("no car with car_idx {0} in the latest state")]
    UnknownCar(u8),
    /// The session cannot be simulated yet (or any more): no lap completed, too few clean laps, the flag.
    #[error("the strategy cannot be simulated now: {0}")]
    NotReady(#[from] LiveError),
    /// The search failed.
    #[error("the strategy search failed: {0}")]
    Failed(String),
}

/// What an answer was computed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    session: u64,
    generation: u64,
    completed_laps: u32,
    car_idx: u8,
}

#[derive(Debug, Default)]
struct Cached {
    /// The car asked about last: the background task keeps its answer fresh.
    focus: Option<u8>,
    answer: Option<(Key, Arc<LiveStrategy>)>,
    /// The last data the background task could not simulate, so it is not retried until something changes.
    failed: Option<Key>,
}

impl Key {
    fn of(inputs: &StrategyInputs, car_idx: u8) -> Self {
        Key {
            session: inputs.session,
            generation: inputs.strategy.generation,
            completed_laps: completed_laps(&inputs.records),
            car_idx,
        }
    }
}

/// The desk: the cached answer and the car it follows. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Desk {
    cached: Arc<Mutex<Cached>>,
    /// Held for the length of a computation: one at a time, and never while `cached` is locked, so a request that
    /// can be answered from the cache never waits for a search.
    computing: Arc<Mutex<()>>,
}

impl Desk {
    /// An empty desk.
    pub fn new() -> Self {
        Desk::default()
    }

    /// The strategy for `car_idx` (the leader when `None`) on the latest state. The car becomes the one the
    /// background task follows. An answer for this car in this session is returned at once, even when the race has
    /// moved on since (its `completed_laps` and `strategy.generation` say when it was computed): the background
    /// task is re-running it, and a request does not wait seconds for a search a lap newer. Without one, it is
    /// computed now.
    ///
    /// # Errors
    /// [`DeskError`]: no state, no such car, a session that cannot be simulated now, or a failed search.
    pub async fn strategy(
        &self,
        hub: &Hub,
        car_idx: Option<u8>,
    ) -> Result<Arc<LiveStrategy>, DeskError> {
        let inputs = hub.strategy_inputs().ok_or(DeskError::NoState)?;
        let car_idx = match car_idx {
            Some(c) => c,
            None => inputs.state.cars.first().ok_or(DeskError::NoState)?.car_idx,
        };
        if inputs.state.car(car_idx).is_none() {
            return Err(DeskError::UnknownCar(car_idx));
        }
        let key = Key::of(&inputs, car_idx);
        {
            let mut cached = self.cached.lock().await;
            cached.focus = Some(car_idx);
            if let Some((k, answer)) = &cached.answer
                && k.car_idx == car_idx
                && k.session == key.session
            {
                return Ok(Arc::clone(answer));
            }
        }
        self.compute(inputs, key).await
    }

    /// Computes the answer for `key` from `inputs` (one computation at a time) and caches it; a computation that
    /// finished for the same key while this one waited its turn is reused.
    async fn compute(
        &self,
        inputs: StrategyInputs,
        key: Key,
    ) -> Result<Arc<LiveStrategy>, DeskError> {
        let _one = self.computing.lock().await;
        if let Some((k, answer)) = &self.cached.lock().await.answer
            && *k == key
        {
            return Ok(Arc::clone(answer));
        }
        let computed = tokio::task::spawn_blocking(move || compute(&inputs, key.car_idx))
            .await
            .map_err(|e| DeskError::Failed(e.to_string()))
            .and_then(|r| r);
        let mut cached = self.cached.lock().await;
        match computed {
            Ok(answer) => {
                let answer = Arc::new(answer);
                cached.answer = Some((key, Arc::clone(&answer)));
                cached.failed = None;
                Ok(answer)
            }
            Err(e) => {
                cached.failed = Some(key);
                Err(e)
            }
        }
    }

    /// The latest answer, without computing one (`None` before the first).
    pub async fn latest(&self) -> Option<Arc<LiveStrategy>> {
        let cached = self.cached.lock().await;
        cached.answer.as_ref().map(|(_, a)| Arc::clone(a))
    }

    /// Keeps the followed car's answer fresh until `stop` turns true: whenever the session, the twins' strategy
    /// generation or the leader's completed laps move on, the search is re-run.
    pub fn spawn_refresher(&self, hub: Hub, mut stop: watch::Receiver<bool>) {
        let desk = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(REFRESH_EVERY);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => {}
                }
                if *stop.borrow() {
                    return;
                }
                let (focus, done) = {
                    let cached = desk.cached.lock().await;
                    let done = [cached.answer.as_ref().map(|(k, _)| *k), cached.failed];
                    (cached.focus, done)
                };
                let Some(car) = focus else { continue };
                let Some((session, generation, completed_laps)) = hub.strategy_version() else {
                    continue;
                };
                let now = Key {
                    session,
                    generation,
                    completed_laps,
                    car_idx: car,
                };
                if done.contains(&Some(now)) {
                    continue;
                }
                // Copied only now that it is needed (the race may have moved on again since the version).
                let Some(inputs) = hub.strategy_inputs() else {
                    continue;
                };
                if inputs.state.car(car).is_none() {
                    continue;
                }
                let key = Key::of(&inputs, car);
                match desk.compute(inputs, key).await {
                    Ok(answer) => tracing::debug!(
                        car,
                        lap = answer.completed_laps,
                        generation = answer.strategy.generation,
                        elapsed_ms = answer.elapsed_ms,
                        "strategy re-run"
                    ),
                    // Not ready yet, or the car is gone: not retried until the data changes.
                    Err(e) => tracing::debug!(car, error = %e, "strategy not re-run"),
                }
            }
        });
    }
}

/// Laps the leader has completed, by the lap records.
fn completed_laps(records: &[LapRecord]) -> u32 {
    records.iter().map(|r| r.lap).max().unwrap_or(0)
}

/// The search and the undercut chances for `car_idx` from the live session.
fn compute(inputs: &StrategyInputs, car_idx: u8) -> Result<LiveStrategy, DeskError> {
    let started = tokio::time::Instant::now();
    let live = live::inputs(&inputs.state, &inputs.records)?;
    let car = live
        .driver_of(car_idx)
        .ok_or(DeskError::UnknownCar(car_idx))?;
    let config = SearchConfig {
        runs_per_plan: DESK_RUNS_PER_PLAN,
        ..SearchConfig::for_car(car, DESK_SEED)
    };
    let report = search::search(&live.model, &live.plans, Some(&live.start), &config)
        .map_err(|e| DeskError::Failed(e.to_string()))?;
    let undercut = search::undercut(
        &live.model,
        &live.plans,
        &live.start,
        car,
        &McConfig {
            runs: DESK_UNDERCUT_RUNS,
            seed: DESK_SEED,
            deterministic: false,
        },
    )
    .ok();
    Ok(LiveStrategy {
        schema_version: SCHEMA_VERSION,
        car_idx,
        code: live.model.drivers[car].code.clone(),
        completed_laps: live.start.completed_laps,
        total_laps: live.model.total_laps,
        strategy: inputs.strategy.clone(),
        search: report,
        undercut,
        car_idx_of: live.car_idx,
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use boxbox_engine::sim::{RaceSim, SimConfig};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_for_the_followed_car_never_waits_for_a_re_run() {
        let hub = Hub::new();
        let desk = Desk::new();
        let mut sim = RaceSim::new(&SimConfig {
            seed: 4,
            total_laps: 25,
        });
        let mut race_to = |lap: u32| {
            while sim.state().cars.first().map_or(0, |c| c.lap) < lap {
                hub.publish(sim.state());
                sim.advance_to(sim.now_s() + 0.5);
            }
            hub.publish(sim.state());
            sim.state()
        };
        let state = race_to(8);
        let (car, other) = (state.cars[2].car_idx, state.cars[5].car_idx);
        let first = desk.strategy(&hub, Some(car)).await.unwrap();
        assert_eq!(first.completed_laps, 7);
        race_to(10);

        // A re-run is under way (it holds the computation's lock): the followed car is answered from the cache,
        // a lap behind and saying so. A hang here would be the request waiting for the search.
        let running = desk.computing.lock().await;
        let answer = tokio::time::timeout(Duration::from_secs(60), desk.strategy(&hub, Some(car)))
            .await
            .expect("the request waited for the re-run")
            .unwrap();
        assert_eq!(answer.completed_laps, 7);
        // A car with no answer yet waits its turn: it cannot finish while the lock is held.
        let waiting =
            tokio::time::timeout(Duration::from_millis(300), desk.strategy(&hub, Some(other)))
                .await;
        assert!(waiting.is_err(), "computed beside another computation");
        drop(running);
        let answer = desk.strategy(&hub, Some(other)).await.unwrap();
        assert_eq!((answer.car_idx, answer.completed_laps), (other, 9));
    }
}
