//! Lap telemetry traces recorded from the feed: each car's speed, throttle, brake and gear along the lap it is on,
//! kept once the lap is complete, for the Charts view's telemetry chart. Pure, tested natively.
//!
//! The relay sends states, not a telemetry log: a trace is what the page saw, one sample per state (10 Hz live;
//! sparser in a replay played fast). A lap is kept when its samples span it from near the line to near the line
//! again; a lap the page joined halfway, a source with no car telemetry (a timing feed) or a car in the garage
//! records nothing.

use boxbox_charts::TraceSample;
use boxbox_engine::wire::{CarState, RaceState};

/// Most samples kept per lap: a bound on memory whatever the rate (a sample every 1.3 m of a 5.3 km lap).
pub const MAX_SAMPLES_PER_LAP: usize = 4000;

/// A lap is complete when its first sample is within this fraction of the lap after the line and its last within
/// it before the line.
const COMPLETE_WITHIN: f64 = 0.1;

/// One lap of one car's telemetry.
#[derive(Clone, Debug, PartialEq)]
pub struct LapTrace {
    /// The lap number.
    pub lap: u32,
    /// Samples in distance order (distance only grows within a lap).
    pub samples: Vec<TraceSample>,
}

impl LapTrace {
    fn new(lap: u32) -> Self {
        LapTrace {
            lap,
            samples: Vec::new(),
        }
    }

    /// The samples cover the lap from near the line to near the line.
    fn is_complete(&self, lap_length_m: f64) -> bool {
        match (self.samples.first(), self.samples.last()) {
            (Some(first), Some(last)) => {
                first.distance_m <= COMPLETE_WITHIN * lap_length_m
                    && last.distance_m >= (1.0 - COMPLETE_WITHIN) * lap_length_m
            }
            _ => false,
        }
    }
}

/// One car's traces: the lap it is on and its last complete lap.
#[derive(Clone, Debug, Default, PartialEq)]
struct CarTraces {
    current: Option<LapTrace>,
    last: Option<LapTrace>,
}

/// Every car's traces, fed every state of the session ([`LapTraces::observe`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LapTraces {
    /// Indexed by `car_idx`.
    cars: Vec<CarTraces>,
}

impl LapTraces {
    /// No traces.
    pub fn new() -> Self {
        LapTraces::default()
    }

    /// Records a sample of every car of `state`.
    pub fn observe(&mut self, state: &RaceState) {
        let length = state.session.track_length_m;
        if state.session.timing_only || !(length.is_finite() && length > 0.0) {
            return;
        }
        for car in &state.cars {
            let i = usize::from(car.car_idx);
            if self.cars.len() <= i {
                self.cars.resize_with(i + 1, CarTraces::default);
            }
            record(&mut self.cars[i], car, length);
        }
    }

    /// The last complete lap of `car_idx`.
    pub fn last_lap(&self, car_idx: u8) -> Option<&LapTrace> {
        self.cars.get(usize::from(car_idx))?.last.as_ref()
    }

    /// Forgets every trace (a new session, a replay's seek).
    pub fn clear(&mut self) {
        self.cars.clear();
    }
}

fn record(traces: &mut CarTraces, car: &CarState, length: f64) {
    let has_telemetry = car.speed_kph > 0.0 || car.throttle_pct > 0.0 || car.gear != 0;
    if car.result_status.is_out() || !has_telemetry || !car.lap_distance_m.is_finite() {
        return;
    }
    if traces.current.as_ref().is_some_and(|t| t.lap != car.lap) {
        // A new lap: the one before is kept if it was seen whole.
        if let Some(done) = traces.current.take()
            && done.lap + 1 == car.lap
            && done.is_complete(length)
        {
            traces.last = Some(done);
        }
    }
    let current = traces.current.get_or_insert_with(|| LapTrace::new(car.lap));
    let min_step = length / MAX_SAMPLES_PER_LAP as f64;
    // Distance only grows along a lap: a repeated state, or one from before the line, adds nothing.
    if current
        .samples
        .last()
        .is_some_and(|last| car.lap_distance_m < last.distance_m + min_step)
    {
        return;
    }
    current.samples.push(TraceSample {
        distance_m: car.lap_distance_m,
        speed_kph: car.speed_kph,
        throttle_pct: car.throttle_pct,
        brake_pct: car.brake_pct,
        gear: car.gear,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use boxbox_engine::sim::{RaceSim, SimConfig};
    use boxbox_engine::wire::ResultStatus;

    /// A simulated race sampled every `dt_s` up to `until_s`, fed to the traces.
    fn recorded(dt_s: f64, until_s: f64) -> (RaceState, LapTraces) {
        let mut sim = RaceSim::new(&SimConfig {
            seed: 5,
            total_laps: 10,
        });
        let mut traces = LapTraces::new();
        let mut t = 0.0;
        let mut state = sim.state();
        while t < until_s {
            t += dt_s;
            sim.advance_to(t);
            state = sim.state();
            traces.observe(&state);
        }
        (state, traces)
    }

    #[test]
    fn a_whole_lap_is_kept_with_its_pedals_and_gears() {
        let (state, traces) = recorded(0.1, 300.0);
        let length = state.session.track_length_m;
        for car in state.cars.iter().filter(|c| c.lap >= 3) {
            let trace = traces
                .last_lap(car.car_idx)
                .unwrap_or_else(|| panic!("{} has no lap", car.driver.code));
            assert_eq!(trace.lap, car.lap - 1, "{}", car.driver.code);
            assert!(trace.samples.len() > 500, "{} samples", trace.samples.len());
            assert!(trace.samples.len() <= MAX_SAMPLES_PER_LAP);
            assert!(
                trace
                    .samples
                    .windows(2)
                    .all(|w| w[0].distance_m < w[1].distance_m),
                "distance grows"
            );
            assert!(trace.samples[0].distance_m < 0.1 * length);
            assert!(
                trace
                    .samples
                    .last()
                    .is_some_and(|s| s.distance_m > 0.9 * length)
            );
            assert!(trace.samples.iter().any(|s| s.brake_pct > 50.0));
            assert!(trace.samples.iter().any(|s| s.throttle_pct == 100.0));
            assert!(trace.samples.iter().any(|s| s.gear >= 7));
        }
    }

    #[test]
    fn a_lap_joined_halfway_is_not_kept() {
        let mut sim = RaceSim::new(&SimConfig {
            seed: 5,
            total_laps: 10,
        });
        let mut traces = LapTraces::new();
        // Join in the middle of lap 2 and stop before the end of lap 3.
        let lap_s = 95.0;
        let mut t = 1.5 * lap_s;
        let mut first_lap = None;
        while t < 2.6 * lap_s {
            sim.advance_to(t);
            let state = sim.state();
            first_lap.get_or_insert(state.cars[0].lap);
            traces.observe(&state);
            t += 0.1;
        }
        let leader = sim.state().cars[0].car_idx;
        // The lap joined halfway is not a lap.
        assert!(
            traces
                .last_lap(leader)
                .is_none_or(|t| Some(t.lap) != first_lap),
            "{:?}",
            traces.last_lap(leader).map(|t| t.lap)
        );
        // …while the next one, begun at the line, is being recorded.
        let current = traces.cars[usize::from(leader)].current.as_ref();
        assert!(current.is_some_and(|c| Some(c.lap) > first_lap && c.samples.len() > 100));
    }

    #[test]
    fn timing_only_sources_and_retired_cars_record_nothing() {
        let (mut state, _) = recorded(1.0, 5.0);
        let mut traces = LapTraces::new();
        state.session.timing_only = true;
        traces.observe(&state);
        assert_eq!(traces, LapTraces::new());

        state.session.timing_only = false;
        for car in &mut state.cars {
            car.result_status = ResultStatus::Retired;
        }
        traces.observe(&state);
        assert!(traces.cars.iter().all(|c| c.current.is_none()));
    }

    #[test]
    fn repeated_states_add_no_samples_and_clear_forgets() {
        let (state, mut traces) = recorded(0.5, 30.0);
        let car = state.cars[0].car_idx;
        let count = |t: &LapTraces| {
            t.cars[usize::from(car)]
                .current
                .as_ref()
                .map_or(0, |c| c.samples.len())
        };
        let before = count(&traces);
        assert!(before > 10);
        traces.observe(&state);
        traces.observe(&state);
        assert_eq!(count(&traces), before);
        traces.clear();
        assert_eq!(traces.last_lap(car), None);
        assert!(traces.cars.is_empty());
    }
}
