//! The lap history seen per car: records sorted by lap, which laps are clean, which stint each lap belongs to, and
//! the fuel on board (measured, or modelled when the source gives timing only).

use crate::sorting::sort_by_key;
use crate::wire::{CarState, LapRecord, RaceState, ResultStatus, TrackStatus};

/// Fuel assumptions for sources that do not measure fuel (a real race's timing feed).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FuelModel {
    /// Lap-time cost of fuel mass, in s per kg (TUMFTM's `t_lap_sens_mass` is 0.023–0.035 across 2019 tracks).
    pub sensitivity_s_per_kg: f64,
    /// Fuel on board at the start when not measured, in kg (the 2019–2024 limit is 110 kg).
    pub start_kg: f64,
    /// Whether `LapRecord::fuel_kg` is a measurement (false for a timing-only source).
    pub measured: bool,
    /// Cars (bit `car_idx`, every `u8` id) whose fuel is modelled even where `measured`: their telemetry is
    /// restricted, or a running car reads exactly 0 kg (a feed that sends a car's wear and not its fuel; no car
    /// races on an empty tank).
    pub unmeasured: [u64; 4],
    /// Race distance, in laps.
    pub total_laps: u32,
}

impl FuelModel {
    /// The fuel model for a session: measured unless the state is timing-only, the car's telemetry is restricted
    /// ([`RaceState::measures`]) or it reads an empty tank while racing.
    pub fn for_state(state: &RaceState, sensitivity_s_per_kg: f64, start_kg: f64) -> Self {
        let mut unmeasured = [0u64; 4];
        for c in &state.cars {
            let empty = c.fuel_kg == 0.0 && c.result_status == ResultStatus::Active;
            if c.telemetry_restricted || empty {
                unmeasured[usize::from(c.car_idx / 64)] |= 1 << (c.car_idx % 64);
            }
        }
        FuelModel {
            sensitivity_s_per_kg,
            start_kg,
            measured: !state.session.timing_only,
            unmeasured,
            total_laps: state.session.total_laps.max(1),
        }
    }

    /// Whether the fuel of car `car_idx` is measured.
    pub fn measures(&self, car_idx: u8) -> bool {
        self.measured && self.unmeasured[usize::from(car_idx / 64)] & 1 << (car_idx % 64) == 0
    }

    /// Fuel on board at the end of `lap`: the record's measurement, or a linear burn from `start_kg` to empty at
    /// the flag.
    pub fn fuel_at_end_of(&self, record: &LapRecord) -> f64 {
        if self.measures(record.car_idx) {
            record.fuel_kg
        } else {
            self.modelled_kg(record.lap)
        }
    }

    /// Modelled fuel at the end of `lap` (linear burn to empty at the flag).
    pub fn modelled_kg(&self, lap: u32) -> f64 {
        let done = f64::from(lap.min(self.total_laps));
        self.start_kg * (1.0 - done / f64::from(self.total_laps))
    }

    /// Lap-time effect of `kg` of fuel, in seconds.
    pub fn effect_s(&self, kg: f64) -> f64 {
        self.sensitivity_s_per_kg * kg
    }
}

/// One car's completed laps, oldest first, with the facts the models need per lap.
#[derive(Clone, Debug)]
pub struct CarLaps<'a> {
    /// The car.
    pub car_idx: u8,
    /// Its records, sorted by lap, one per lap.
    pub laps: Vec<&'a LapRecord>,
    /// Per record: the lap is clean (see [`is_clean`]).
    pub clean: Vec<bool>,
    /// Per record: index into the car's `stints`.
    pub stint: Vec<usize>,
}

impl<'a> CarLaps<'a> {
    /// The laps of `car` among `records` (other cars' records are ignored).
    pub fn new(car: &CarState, records: &'a [LapRecord]) -> Self {
        Self::from_records(
            car,
            records
                .iter()
                .filter(|r| r.car_idx == car.car_idx)
                .collect(),
        )
    }

    fn from_records(car: &CarState, mut laps: Vec<&'a LapRecord>) -> Self {
        sort_by_key(&mut laps, |r| r.lap);
        laps.dedup_by_key(|r| r.lap);
        let clean = laps.iter().map(|r| is_clean(r)).collect();
        let stint = laps
            .iter()
            .map(|r| {
                car.stints
                    .iter()
                    .rposition(|s| s.start_lap <= r.lap)
                    .unwrap_or(0)
            })
            .collect();
        CarLaps {
            car_idx: car.car_idx,
            laps,
            clean,
            stint,
        }
    }

    /// Indices of the clean laps of stint `stint`.
    pub fn clean_in_stint(&self, stint: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.laps.len()).filter(move |&i| self.clean[i] && self.stint[i] == stint)
    }

    /// The most recent clean lap, if any.
    pub fn last_clean(&self) -> Option<&'a LapRecord> {
        (0..self.laps.len())
            .rev()
            .find(|&i| self.clean[i])
            .map(|i| self.laps[i])
    }
}

/// Groups `records` by car for every car of `state`, in the state's running order.
pub fn by_car<'a>(state: &RaceState, records: &'a [LapRecord]) -> Vec<CarLaps<'a>> {
    let mut per_car: Vec<Vec<&LapRecord>> = vec![Vec::new(); 256];
    for r in records {
        per_car[usize::from(r.car_idx)].push(r);
    }
    state
        .cars
        .iter()
        .map(|car| {
            CarLaps::from_records(car, std::mem::take(&mut per_car[usize::from(car.car_idx)]))
        })
        .collect()
}

/// A lap the pace models learn from: run under green (no SC, VSC, red or yellow), not the first lap, and not in
/// the pit lane ([`crate::history::LapRecorder`] flags both the in-lap and the out-lap).
pub fn is_clean(r: &LapRecord) -> bool {
    r.lap > 1
        && r.track_status == TrackStatus::Green
        && !r.pit_lane
        && r.lap_time_s.is_finite()
        && r.lap_time_s > 0.0
}
