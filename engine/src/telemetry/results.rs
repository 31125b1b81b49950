//! Timing-history packet bodies: FinalClassification (8), SessionHistory (11), TyreSets (12), TimeTrial (14) and
//! LapPositions (15), with EA's field names in snake case.

use serde::Serialize;

use super::reader::{Reader, Wire};
use super::writer::{Encode, Writer, exactly, put};
use super::{DecodeError, EncodeError};

type Result<T> = std::result::Result<T, DecodeError>;
type EncodeResult = std::result::Result<(), EncodeError>;

/// FinalClassification packet: the result of every car, sent once at the end of a race.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FinalClassification {
    /// Cars in the classification.
    pub num_cars: u8,
    /// One record per car slot.
    pub classification_data: Vec<FinalClassificationData>,
}

/// Result of one car.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct FinalClassificationData {
    /// Finishing position.
    pub position: u8,
    /// Laps completed.
    pub num_laps: u8,
    /// Grid position.
    pub grid_position: u8,
    /// Points scored.
    pub points: u8,
    /// Pit stops made.
    pub num_pit_stops: u8,
    /// Result status (0 invalid … 7 retired).
    pub result_status: u8,
    /// Result reason (2025 on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_reason: Option<u8>,
    /// Best lap, in ms.
    pub best_lap_time_in_ms: u32,
    /// Race time without penalties, in seconds.
    pub total_race_time: f64,
    /// Time penalties, in seconds.
    pub penalties_time: u8,
    /// Penalties received.
    pub num_penalties: u8,
    /// Stints run.
    pub num_tyre_stints: u8,
    /// Actual compound of each stint.
    pub tyre_stints_actual: [u8; 8],
    /// Visual compound of each stint.
    pub tyre_stints_visual: [u8; 8],
    /// Last lap of each stint.
    pub tyre_stints_end_laps: [u8; 8],
}

impl FinalClassification {
    pub(crate) fn read(r: &mut Reader<'_>, format: u16, n_cars: usize) -> Result<Self> {
        let num_cars = r.get()?;
        let classification_data = (0..n_cars)
            .map(|_| {
                Ok(FinalClassificationData {
                    position: r.get()?,
                    num_laps: r.get()?,
                    grid_position: r.get()?,
                    points: r.get()?,
                    num_pit_stops: r.get()?,
                    result_status: r.get()?,
                    result_reason: if format >= 2025 { Some(r.get()?) } else { None },
                    best_lap_time_in_ms: r.get()?,
                    total_race_time: r.get()?,
                    penalties_time: r.get()?,
                    num_penalties: r.get()?,
                    num_tyre_stints: r.get()?,
                    tyre_stints_actual: r.get()?,
                    tyre_stints_visual: r.get()?,
                    tyre_stints_end_laps: r.get()?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(FinalClassification {
            num_cars,
            classification_data,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer, format: u16, n_cars: usize) -> EncodeResult {
        put!(w, self; num_cars);
        for c in exactly("classification_data", &self.classification_data, n_cars)? {
            put!(w, c; position, num_laps, grid_position, points, num_pit_stops, result_status);
            w.put_since(format, 2025, "result_reason", &c.result_reason)?;
            put!(w, c;
                best_lap_time_in_ms, total_race_time, penalties_time, num_penalties, num_tyre_stints,
                tyre_stints_actual, tyre_stints_visual, tyre_stints_end_laps,
            );
        }
        Ok(())
    }
}

/// SessionHistory packet: every lap and stint of one car (the game cycles through the cars).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SessionHistory {
    /// The car this packet is about.
    pub car_idx: u8,
    /// Laps in the history, including the current partial lap.
    pub num_laps: u8,
    /// Stints in the history.
    pub num_tyre_stints: u8,
    /// Lap of the best lap time.
    pub best_lap_time_lap_num: u8,
    /// Lap of the best sector 1.
    pub best_sector1_lap_num: u8,
    /// Lap of the best sector 2.
    pub best_sector2_lap_num: u8,
    /// Lap of the best sector 3.
    pub best_sector3_lap_num: u8,
    /// 100 lap slots.
    pub lap_history_data: Vec<LapHistoryData>,
    /// 8 stint slots.
    pub tyre_stints_history_data: [TyreStintHistoryData; 8],
}

/// One lap of a car's history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LapHistoryData {
    /// Lap time, in ms.
    pub lap_time_in_ms: u32,
    /// Sector 1, milliseconds part.
    pub sector1_time_ms_part: u16,
    /// Sector 1, minutes part.
    pub sector1_time_minutes_part: u8,
    /// Sector 2, milliseconds part.
    pub sector2_time_ms_part: u16,
    /// Sector 2, minutes part.
    pub sector2_time_minutes_part: u8,
    /// Sector 3, milliseconds part.
    pub sector3_time_ms_part: u16,
    /// Sector 3, minutes part.
    pub sector3_time_minutes_part: u8,
    /// 0x01 lap valid, 0x02 S1, 0x04 S2, 0x08 S3 valid.
    pub lap_valid_bit_flags: u8,
}

impl Wire for LapHistoryData {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(LapHistoryData {
            lap_time_in_ms: r.get()?,
            sector1_time_ms_part: r.get()?,
            sector1_time_minutes_part: r.get()?,
            sector2_time_ms_part: r.get()?,
            sector2_time_minutes_part: r.get()?,
            sector3_time_ms_part: r.get()?,
            sector3_time_minutes_part: r.get()?,
            lap_valid_bit_flags: r.get()?,
        })
    }
}

impl Encode for LapHistoryData {
    fn write(&self, w: &mut Writer) {
        put!(w, self;
            lap_time_in_ms, sector1_time_ms_part, sector1_time_minutes_part, sector2_time_ms_part,
            sector2_time_minutes_part, sector3_time_ms_part, sector3_time_minutes_part, lap_valid_bit_flags,
        );
    }
}

/// One stint of a car's history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct TyreStintHistoryData {
    /// Last lap of the stint, 255 for the current one.
    pub end_lap: u8,
    /// Actual compound.
    pub tyre_actual_compound: u8,
    /// Visual compound.
    pub tyre_visual_compound: u8,
}

impl Wire for TyreStintHistoryData {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(TyreStintHistoryData {
            end_lap: r.get()?,
            tyre_actual_compound: r.get()?,
            tyre_visual_compound: r.get()?,
        })
    }
}

impl Encode for TyreStintHistoryData {
    fn write(&self, w: &mut Writer) {
        put!(w, self; end_lap, tyre_actual_compound, tyre_visual_compound);
    }
}

impl SessionHistory {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(SessionHistory {
            car_idx: r.get()?,
            num_laps: r.get()?,
            num_tyre_stints: r.get()?,
            best_lap_time_lap_num: r.get()?,
            best_sector1_lap_num: r.get()?,
            best_sector2_lap_num: r.get()?,
            best_sector3_lap_num: r.get()?,
            lap_history_data: r.vec(100)?,
            tyre_stints_history_data: r.get()?,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) -> EncodeResult {
        put!(w, self;
            car_idx, num_laps, num_tyre_stints, best_lap_time_lap_num, best_sector1_lap_num,
            best_sector2_lap_num, best_sector3_lap_num,
        );
        w.put_vec("lap_history_data", &self.lap_history_data, 100)?;
        put!(w, self; tyre_stints_history_data);
        Ok(())
    }
}

/// TyreSets packet: the 20 tyre sets available to one car.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TyreSets {
    /// The car this packet is about.
    pub car_idx: u8,
    /// 13 dry then 7 wet sets.
    pub tyre_set_data: Vec<TyreSetData>,
    /// Index of the set fitted.
    pub fitted_idx: u8,
}

/// One tyre set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct TyreSetData {
    /// Actual compound.
    pub actual_tyre_compound: u8,
    /// Visual compound.
    pub visual_tyre_compound: u8,
    /// Wear, percent.
    pub wear: u8,
    /// 1 if available.
    pub available: u8,
    /// Session type the set is recommended for.
    pub recommended_session: u8,
    /// Laps left in the set.
    pub life_span: u8,
    /// Most laps recommended.
    pub usable_life: u8,
    /// Lap-time delta to the fitted set, in ms.
    pub lap_delta_time: i16,
    /// 1 if fitted.
    pub fitted: u8,
}

impl Wire for TyreSetData {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(TyreSetData {
            actual_tyre_compound: r.get()?,
            visual_tyre_compound: r.get()?,
            wear: r.get()?,
            available: r.get()?,
            recommended_session: r.get()?,
            life_span: r.get()?,
            usable_life: r.get()?,
            lap_delta_time: r.get()?,
            fitted: r.get()?,
        })
    }
}

impl Encode for TyreSetData {
    fn write(&self, w: &mut Writer) {
        put!(w, self;
            actual_tyre_compound, visual_tyre_compound, wear, available, recommended_session, life_span,
            usable_life, lap_delta_time, fitted,
        );
    }
}

impl TyreSets {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(TyreSets {
            car_idx: r.get()?,
            tyre_set_data: r.vec(20)?,
            fitted_idx: r.get()?,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) -> EncodeResult {
        put!(w, self; car_idx);
        w.put_vec("tyre_set_data", &self.tyre_set_data, 20)?;
        put!(w, self; fitted_idx);
        Ok(())
    }
}

/// TimeTrial packet: the player's session best, personal best and rival.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct TimeTrial {
    /// The player's best this session.
    pub player_session_best_data_set: TimeTrialDataSet,
    /// The player's personal best.
    pub personal_best_data_set: TimeTrialDataSet,
    /// The rival.
    pub rival_data_set: TimeTrialDataSet,
}

/// One time-trial lap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct TimeTrialDataSet {
    /// Car index.
    pub car_idx: u8,
    /// Team id.
    pub team_id: u8,
    /// Lap time, in ms.
    pub lap_time_in_ms: u32,
    /// Sector 1, in ms.
    pub sector1_time_in_ms: u32,
    /// Sector 2, in ms.
    pub sector2_time_in_ms: u32,
    /// Sector 3, in ms.
    pub sector3_time_in_ms: u32,
    /// Traction control assist.
    pub traction_control: u8,
    /// Gearbox assist.
    pub gearbox_assist: u8,
    /// Anti-lock brakes.
    pub anti_lock_brakes: u8,
    /// 0 realistic, 1 equal.
    pub equal_car_performance: u8,
    /// 1 custom setup.
    pub custom_setup: u8,
    /// 1 valid.
    pub valid: u8,
}

impl Wire for TimeTrialDataSet {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(TimeTrialDataSet {
            car_idx: r.get()?,
            team_id: r.get()?,
            lap_time_in_ms: r.get()?,
            sector1_time_in_ms: r.get()?,
            sector2_time_in_ms: r.get()?,
            sector3_time_in_ms: r.get()?,
            traction_control: r.get()?,
            gearbox_assist: r.get()?,
            anti_lock_brakes: r.get()?,
            equal_car_performance: r.get()?,
            custom_setup: r.get()?,
            valid: r.get()?,
        })
    }
}

impl Encode for TimeTrialDataSet {
    fn write(&self, w: &mut Writer) {
        put!(w, self;
            car_idx, team_id, lap_time_in_ms, sector1_time_in_ms, sector2_time_in_ms, sector3_time_in_ms,
            traction_control, gearbox_assist, anti_lock_brakes, equal_car_performance, custom_setup, valid,
        );
    }
}

impl TimeTrial {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(TimeTrial {
            player_session_best_data_set: r.get()?,
            personal_best_data_set: r.get()?,
            rival_data_set: r.get()?,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        put!(w, self; player_session_best_data_set, personal_best_data_set, rival_data_set);
    }
}

/// LapPositions packet: the position of every car at the end of each lap (a lap chart).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LapPositions {
    /// Laps in the chart.
    pub num_laps: u8,
    /// 0-based lap of the first row.
    pub lap_start: u8,
    /// 50 rows (laps) of one position per car slot; 0 = no record.
    pub position_for_vehicle_idx: Vec<Vec<u8>>,
}

impl LapPositions {
    pub(crate) fn read(r: &mut Reader<'_>, n_cars: usize) -> Result<Self> {
        Ok(LapPositions {
            num_laps: r.get()?,
            lap_start: r.get()?,
            position_for_vehicle_idx: (0..50).map(|_| r.vec(n_cars)).collect::<Result<_>>()?,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer, n_cars: usize) -> EncodeResult {
        put!(w, self; num_laps, lap_start);
        for row in exactly(
            "position_for_vehicle_idx",
            &self.position_for_vehicle_idx,
            50,
        )? {
            w.put_vec("position_for_vehicle_idx", row, n_cars)?;
        }
        Ok(())
    }
}
