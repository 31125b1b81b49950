//! Packet bodies, one struct per EA structure, with EA's field names in snake case. Fields that exist only in some
//! formats are `Option`s and are left out of the JSON when absent. Wheel arrays are in EA's order: RL, RR, FL, FR.

use serde::Serialize;

use super::reader::Reader;
use super::writer::{Encode, Writer, exactly, put, since};
use super::{DecodeError, EncodeError};

type Result<T> = std::result::Result<T, DecodeError>;
type EncodeResult = std::result::Result<(), EncodeError>;

// --- Motion (id 0) -----------------------------------------------------------------------------------------------

/// Motion packet: physics of every car.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Motion {
    /// One record per car slot.
    pub car_motion_data: Vec<CarMotionData>,
}

/// Physics of one car.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CarMotionData {
    /// World position X, in metres.
    pub world_position_x: f32,
    /// World position Y, in metres.
    pub world_position_y: f32,
    /// World position Z, in metres.
    pub world_position_z: f32,
    /// Velocity X, in m/s.
    pub world_velocity_x: f32,
    /// Velocity Y, in m/s.
    pub world_velocity_y: f32,
    /// Velocity Z, in m/s.
    pub world_velocity_z: f32,
    /// Forward direction X, normalised to ±32767.
    pub world_forward_dir_x: i16,
    /// Forward direction Y, normalised to ±32767.
    pub world_forward_dir_y: i16,
    /// Forward direction Z, normalised to ±32767.
    pub world_forward_dir_z: i16,
    /// Right direction X, normalised to ±32767.
    pub world_right_dir_x: i16,
    /// Right direction Y, normalised to ±32767.
    pub world_right_dir_y: i16,
    /// Right direction Z, normalised to ±32767.
    pub world_right_dir_z: i16,
    /// Lateral g-force.
    pub g_force_lateral: f32,
    /// Longitudinal g-force.
    pub g_force_longitudinal: f32,
    /// Vertical g-force.
    pub g_force_vertical: f32,
    /// Yaw, in radians.
    pub yaw: f32,
    /// Pitch, in radians.
    pub pitch: f32,
    /// Roll, in radians.
    pub roll: f32,
}

impl Motion {
    pub(crate) fn read(r: &mut Reader<'_>, n_cars: usize) -> Result<Self> {
        let car_motion_data = (0..n_cars)
            .map(|_| {
                Ok(CarMotionData {
                    world_position_x: r.get()?,
                    world_position_y: r.get()?,
                    world_position_z: r.get()?,
                    world_velocity_x: r.get()?,
                    world_velocity_y: r.get()?,
                    world_velocity_z: r.get()?,
                    world_forward_dir_x: r.get()?,
                    world_forward_dir_y: r.get()?,
                    world_forward_dir_z: r.get()?,
                    world_right_dir_x: r.get()?,
                    world_right_dir_y: r.get()?,
                    world_right_dir_z: r.get()?,
                    g_force_lateral: r.get()?,
                    g_force_longitudinal: r.get()?,
                    g_force_vertical: r.get()?,
                    yaw: r.get()?,
                    pitch: r.get()?,
                    roll: r.get()?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Motion { car_motion_data })
    }

    pub(crate) fn encode(&self, w: &mut Writer, n_cars: usize) -> EncodeResult {
        for c in exactly("car_motion_data", &self.car_motion_data, n_cars)? {
            put!(w, c;
                world_position_x, world_position_y, world_position_z,
                world_velocity_x, world_velocity_y, world_velocity_z,
                world_forward_dir_x, world_forward_dir_y, world_forward_dir_z,
                world_right_dir_x, world_right_dir_y, world_right_dir_z,
                g_force_lateral, g_force_longitudinal, g_force_vertical,
                yaw, pitch, roll,
            );
        }
        Ok(())
    }
}

// --- Session (id 1) ----------------------------------------------------------------------------------------------

/// Session packet: track, weather and forecast, rules and assists.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Session {
    /// 0 clear, 1 light cloud, 2 overcast, 3 light rain, 4 heavy rain, 5 storm.
    pub weather: u8,
    /// Track temperature, in °C.
    pub track_temperature: i8,
    /// Air temperature, in °C.
    pub air_temperature: i8,
    /// Laps in the race.
    pub total_laps: u8,
    /// Track length, in metres.
    pub track_length: u16,
    /// Session type (numbering changed in 2024; see the spec §7.7).
    pub session_type: u8,
    /// Track id, −1 unknown.
    pub track_id: i8,
    /// Formula (0 F1 modern …).
    pub formula: u8,
    /// Time left in the session, in seconds.
    pub session_time_left: u16,
    /// Session duration, in seconds.
    pub session_duration: u16,
    /// Pit speed limit, in km/h.
    pub pit_speed_limit: u8,
    /// 1 when the game is paused (network game).
    pub game_paused: u8,
    /// 1 when spectating.
    pub is_spectating: u8,
    /// Car being spectated.
    pub spectator_car_index: u8,
    /// SLI Pro support, 0 inactive, 1 active.
    pub sli_pro_native_support: u8,
    /// Valid entries in `marshal_zones`.
    pub num_marshal_zones: u8,
    /// Marshal zones (21 slots).
    pub marshal_zones: Vec<MarshalZone>,
    /// 0 no safety car, 1 full, 2 virtual, 3 formation lap.
    pub safety_car_status: u8,
    /// 0 offline, 1 online.
    pub network_game: u8,
    /// Valid entries in `weather_forecast_samples`.
    pub num_weather_forecast_samples: u8,
    /// Forecast (56 slots in 2023, 64 from 2024).
    pub weather_forecast_samples: Vec<WeatherForecastSample>,
    /// 0 perfect, 1 approximate.
    pub forecast_accuracy: u8,
    /// AI difficulty, 0–110.
    pub ai_difficulty: u8,
    /// Season link identifier.
    pub season_link_identifier: u32,
    /// Weekend link identifier.
    pub weekend_link_identifier: u32,
    /// Session link identifier.
    pub session_link_identifier: u32,
    /// Ideal lap to pit on for the current strategy (player).
    pub pit_stop_window_ideal_lap: u8,
    /// Latest lap to pit on for the current strategy (player).
    pub pit_stop_window_latest_lap: u8,
    /// Predicted position to rejoin at (player).
    pub pit_stop_rejoin_position: u8,
    /// Steering assist, 0 off, 1 on.
    pub steering_assist: u8,
    /// Braking assist, 0 off, 1 low, 2 medium, 3 high.
    pub braking_assist: u8,
    /// Gearbox assist, 1 manual, 2 manual and suggested gear, 3 auto.
    pub gearbox_assist: u8,
    /// Pit assist, 0 off, 1 on.
    pub pit_assist: u8,
    /// Pit release assist, 0 off, 1 on.
    pub pit_release_assist: u8,
    /// ERS assist, 0 off, 1 on.
    pub ers_assist: u8,
    /// DRS assist, 0 off, 1 on.
    pub drs_assist: u8,
    /// Racing line, 0 off, 1 corners only, 2 full.
    pub dynamic_racing_line: u8,
    /// Racing line type, 0 2D, 1 3D.
    pub dynamic_racing_line_type: u8,
    /// Game mode id.
    pub game_mode: u8,
    /// Rule set id.
    pub rule_set: u8,
    /// Local time of day, in minutes since midnight.
    pub time_of_day: u32,
    /// Session length, 0 none … 7 full.
    pub session_length: u8,
    /// Speed units of the lead player, 0 mph, 1 km/h.
    pub speed_units_lead_player: u8,
    /// Temperature units of the lead player, 0 °C, 1 °F.
    pub temperature_units_lead_player: u8,
    /// Speed units of the secondary player.
    pub speed_units_secondary_player: u8,
    /// Temperature units of the secondary player.
    pub temperature_units_secondary_player: u8,
    /// Safety cars so far.
    pub num_safety_car_periods: u8,
    /// Virtual safety cars so far.
    pub num_virtual_safety_car_periods: u8,
    /// Red flags so far.
    pub num_red_flag_periods: u8,
    /// Settings and weekend structure added in 2024.
    #[serde(flatten)]
    pub since_2024: Option<SessionSince2024>,
}

/// Session fields added in format 2024.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SessionSince2024 {
    /// 0 off, 1 on.
    pub equal_car_performance: u8,
    /// 0 none, 1 flashbacks, 2 auto-recovery.
    pub recovery_mode: u8,
    /// 0 low, 1 medium, 2 high, 3 unlimited.
    pub flashback_limit: u8,
    /// 0 simplified, 1 realistic.
    pub surface_type: u8,
    /// 0 easy, 1 hard.
    pub low_fuel_mode: u8,
    /// 0 manual, 1 assisted.
    pub race_starts: u8,
    /// 0 surface only, 1 surface and carcass.
    pub tyre_temperature: u8,
    /// 0 on, 1 off.
    pub pit_lane_tyre_sim: u8,
    /// 0 off, 1 reduced, 2 standard, 3 simulation.
    pub car_damage: u8,
    /// 0 reduced, 1 standard, 2 simulation.
    pub car_damage_rate: u8,
    /// 0 off, 1 player-to-player off, 2 on.
    pub collisions: u8,
    /// 0 disabled, 1 enabled.
    pub collisions_off_for_first_lap_only: u8,
    /// 0 on, 1 off (multiplayer).
    pub mp_unsafe_pit_release: u8,
    /// 0 disabled, 1 enabled (multiplayer).
    pub mp_off_for_griefing: u8,
    /// 0 regular, 1 strict.
    pub corner_cutting_stringency: u8,
    /// 0 off, 1 on.
    pub parc_ferme_rules: u8,
    /// 0 automatic, 1 broadcast, 2 immersive.
    pub pit_stop_experience: u8,
    /// 0 off, 1 reduced, 2 standard, 3 increased.
    pub safety_car: u8,
    /// 0 broadcast, 1 immersive.
    pub safety_car_experience: u8,
    /// 0 off, 1 on.
    pub formation_lap: u8,
    /// 0 broadcast, 1 immersive.
    pub formation_lap_experience: u8,
    /// 0 off, 1 reduced, 2 standard, 3 increased.
    pub red_flags: u8,
    /// 0 off, 1 on.
    pub affects_licence_level_solo: u8,
    /// 0 off, 1 on.
    pub affects_licence_level_mp: u8,
    /// Sessions in the weekend.
    pub num_sessions_in_weekend: u8,
    /// Session types of the weekend, in order.
    pub weekend_structure: [u8; 12],
    /// Distance at which sector 2 starts, in metres.
    pub sector2_lap_distance_start: f32,
    /// Distance at which sector 3 starts, in metres.
    pub sector3_lap_distance_start: f32,
}

/// A marshal zone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct MarshalZone {
    /// Start of the zone, as a fraction (0..1) of the lap.
    pub zone_start: f32,
    /// −1 invalid, 0 none, 1 green, 2 blue, 3 yellow.
    pub zone_flag: i8,
}

/// One weather forecast sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct WeatherForecastSample {
    /// Session type the sample is for.
    pub session_type: u8,
    /// Time in minutes the forecast is for.
    pub time_offset: u8,
    /// Weather, as `Session::weather`.
    pub weather: u8,
    /// Track temperature, in °C.
    pub track_temperature: i8,
    /// 0 up, 1 down, 2 no change.
    pub track_temperature_change: i8,
    /// Air temperature, in °C.
    pub air_temperature: i8,
    /// 0 up, 1 down, 2 no change.
    pub air_temperature_change: i8,
    /// Chance of rain, percent.
    pub rain_percentage: u8,
}

impl Session {
    pub(crate) fn read(r: &mut Reader<'_>, format: u16) -> Result<Self> {
        let n_forecast = if format >= 2024 { 64 } else { 56 };
        Ok(Session {
            weather: r.get()?,
            track_temperature: r.get()?,
            air_temperature: r.get()?,
            total_laps: r.get()?,
            track_length: r.get()?,
            session_type: r.get()?,
            track_id: r.get()?,
            formula: r.get()?,
            session_time_left: r.get()?,
            session_duration: r.get()?,
            pit_speed_limit: r.get()?,
            game_paused: r.get()?,
            is_spectating: r.get()?,
            spectator_car_index: r.get()?,
            sli_pro_native_support: r.get()?,
            num_marshal_zones: r.get()?,
            marshal_zones: (0..21)
                .map(|_| {
                    Ok(MarshalZone {
                        zone_start: r.get()?,
                        zone_flag: r.get()?,
                    })
                })
                .collect::<Result<_>>()?,
            safety_car_status: r.get()?,
            network_game: r.get()?,
            num_weather_forecast_samples: r.get()?,
            weather_forecast_samples: (0..n_forecast)
                .map(|_| {
                    Ok(WeatherForecastSample {
                        session_type: r.get()?,
                        time_offset: r.get()?,
                        weather: r.get()?,
                        track_temperature: r.get()?,
                        track_temperature_change: r.get()?,
                        air_temperature: r.get()?,
                        air_temperature_change: r.get()?,
                        rain_percentage: r.get()?,
                    })
                })
                .collect::<Result<_>>()?,
            forecast_accuracy: r.get()?,
            ai_difficulty: r.get()?,
            season_link_identifier: r.get()?,
            weekend_link_identifier: r.get()?,
            session_link_identifier: r.get()?,
            pit_stop_window_ideal_lap: r.get()?,
            pit_stop_window_latest_lap: r.get()?,
            pit_stop_rejoin_position: r.get()?,
            steering_assist: r.get()?,
            braking_assist: r.get()?,
            gearbox_assist: r.get()?,
            pit_assist: r.get()?,
            pit_release_assist: r.get()?,
            ers_assist: r.get()?,
            drs_assist: r.get()?,
            dynamic_racing_line: r.get()?,
            dynamic_racing_line_type: r.get()?,
            game_mode: r.get()?,
            rule_set: r.get()?,
            time_of_day: r.get()?,
            session_length: r.get()?,
            speed_units_lead_player: r.get()?,
            temperature_units_lead_player: r.get()?,
            speed_units_secondary_player: r.get()?,
            temperature_units_secondary_player: r.get()?,
            num_safety_car_periods: r.get()?,
            num_virtual_safety_car_periods: r.get()?,
            num_red_flag_periods: r.get()?,
            since_2024: if format >= 2024 {
                Some(SessionSince2024::read(r)?)
            } else {
                None
            },
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer, format: u16) -> EncodeResult {
        let n_forecast = if format >= 2024 { 64 } else { 56 };
        put!(w, self;
            weather, track_temperature, air_temperature, total_laps, track_length, session_type, track_id,
            formula, session_time_left, session_duration, pit_speed_limit, game_paused, is_spectating,
            spectator_car_index, sli_pro_native_support, num_marshal_zones,
        );
        for z in exactly("marshal_zones", &self.marshal_zones, 21)? {
            put!(w, z; zone_start, zone_flag);
        }
        put!(w, self; safety_car_status, network_game, num_weather_forecast_samples);
        let samples = &self.weather_forecast_samples;
        for s in exactly("weather_forecast_samples", samples, n_forecast)? {
            put!(w, s;
                session_type, time_offset, weather, track_temperature, track_temperature_change,
                air_temperature, air_temperature_change, rain_percentage,
            );
        }
        put!(w, self;
            forecast_accuracy, ai_difficulty, season_link_identifier, weekend_link_identifier,
            session_link_identifier, pit_stop_window_ideal_lap, pit_stop_window_latest_lap,
            pit_stop_rejoin_position, steering_assist, braking_assist, gearbox_assist, pit_assist,
            pit_release_assist, ers_assist, drs_assist, dynamic_racing_line, dynamic_racing_line_type,
            game_mode, rule_set, time_of_day, session_length, speed_units_lead_player,
            temperature_units_lead_player, speed_units_secondary_player, temperature_units_secondary_player,
            num_safety_car_periods, num_virtual_safety_car_periods, num_red_flag_periods,
        );
        if let Some(s) = since(format, 2024, "since_2024", &self.since_2024)? {
            s.encode(w);
        }
        Ok(())
    }
}

impl SessionSince2024 {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(SessionSince2024 {
            equal_car_performance: r.get()?,
            recovery_mode: r.get()?,
            flashback_limit: r.get()?,
            surface_type: r.get()?,
            low_fuel_mode: r.get()?,
            race_starts: r.get()?,
            tyre_temperature: r.get()?,
            pit_lane_tyre_sim: r.get()?,
            car_damage: r.get()?,
            car_damage_rate: r.get()?,
            collisions: r.get()?,
            collisions_off_for_first_lap_only: r.get()?,
            mp_unsafe_pit_release: r.get()?,
            mp_off_for_griefing: r.get()?,
            corner_cutting_stringency: r.get()?,
            parc_ferme_rules: r.get()?,
            pit_stop_experience: r.get()?,
            safety_car: r.get()?,
            safety_car_experience: r.get()?,
            formation_lap: r.get()?,
            formation_lap_experience: r.get()?,
            red_flags: r.get()?,
            affects_licence_level_solo: r.get()?,
            affects_licence_level_mp: r.get()?,
            num_sessions_in_weekend: r.get()?,
            weekend_structure: r.get()?,
            sector2_lap_distance_start: r.get()?,
            sector3_lap_distance_start: r.get()?,
        })
    }

    fn encode(&self, w: &mut Writer) {
        put!(w, self;
            equal_car_performance, recovery_mode, flashback_limit, surface_type, low_fuel_mode, race_starts,
            tyre_temperature, pit_lane_tyre_sim, car_damage, car_damage_rate, collisions,
            collisions_off_for_first_lap_only, mp_unsafe_pit_release, mp_off_for_griefing,
            corner_cutting_stringency, parc_ferme_rules, pit_stop_experience, safety_car, safety_car_experience,
            formation_lap, formation_lap_experience, red_flags, affects_licence_level_solo,
            affects_licence_level_mp, num_sessions_in_weekend, weekend_structure, sector2_lap_distance_start,
            sector3_lap_distance_start,
        );
    }
}

// --- LapData (id 2) ----------------------------------------------------------------------------------------------

/// LapData packet: timing of every car.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LapDataPacket {
    /// One record per car slot, in the format's own field names.
    pub lap_data: LapDataRecords,
    /// Car index of the personal best car in time trial, 255 invalid.
    pub time_trial_pb_car_idx: u8,
    /// Car index of the rival car in time trial, 255 invalid.
    pub time_trial_rival_car_idx: u8,
}

/// Per-car lap data; 2023 names and packs some fields differently from 2024 on.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum LapDataRecords {
    /// Formats 2024 and 2025.
    Current(Vec<LapData>),
    /// Format 2023.
    F123(Vec<LapData2023>),
}

/// Lap data of one car (formats 2024, 2025).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LapData {
    /// Last lap time, in ms.
    pub last_lap_time_in_ms: u32,
    /// Current lap time, in ms.
    pub current_lap_time_in_ms: u32,
    /// Sector 1 time, milliseconds part.
    pub sector1_time_ms_part: u16,
    /// Sector 1 time, whole minutes part.
    pub sector1_time_minutes_part: u8,
    /// Sector 2 time, milliseconds part.
    pub sector2_time_ms_part: u16,
    /// Sector 2 time, whole minutes part.
    pub sector2_time_minutes_part: u8,
    /// Gap to the car ahead, milliseconds part.
    pub delta_to_car_in_front_ms_part: u16,
    /// Gap to the car ahead, whole minutes part.
    pub delta_to_car_in_front_minutes_part: u8,
    /// Gap to the leader, milliseconds part.
    pub delta_to_race_leader_ms_part: u16,
    /// Gap to the leader, whole minutes part.
    pub delta_to_race_leader_minutes_part: u8,
    /// Distance round the current lap, in metres (negative before the line is first crossed).
    pub lap_distance: f32,
    /// Total distance in the session, in metres (can be negative).
    pub total_distance: f32,
    /// Delta to the safety car, in seconds.
    pub safety_car_delta: f32,
    /// Position, 1-based.
    pub car_position: u8,
    /// Current lap number.
    pub current_lap_num: u8,
    /// 0 none, 1 pitting, 2 in pit area.
    pub pit_status: u8,
    /// Pit stops made.
    pub num_pit_stops: u8,
    /// 0 sector 1, 1 sector 2, 2 sector 3.
    pub sector: u8,
    /// 0 valid, 1 invalid.
    pub current_lap_invalid: u8,
    /// Accumulated time penalties, in seconds.
    pub penalties: u8,
    /// Warnings issued.
    pub total_warnings: u8,
    /// Corner-cutting warnings issued.
    pub corner_cutting_warnings: u8,
    /// Drive-throughs not yet served.
    pub num_unserved_drive_through_pens: u8,
    /// Stop-gos not yet served.
    pub num_unserved_stop_go_pens: u8,
    /// Grid position.
    pub grid_position: u8,
    /// 0 in garage, 1 flying lap, 2 in lap, 3 out lap, 4 on track.
    pub driver_status: u8,
    /// 0 invalid, 1 inactive, 2 active, 3 finished, 4 DNF, 5 DSQ, 6 not classified, 7 retired.
    pub result_status: u8,
    /// 1 while the pit-lane timer runs.
    pub pit_lane_timer_active: u8,
    /// Time in the pit lane, in ms.
    pub pit_lane_time_in_lane_in_ms: u16,
    /// Time stationary in the box, in ms.
    pub pit_stop_timer_in_ms: u16,
    /// 1 if the car must serve a penalty at this stop.
    pub pit_stop_should_serve_pen: u8,
    /// Fastest speed through the speed trap, in km/h.
    pub speed_trap_fastest_speed: f32,
    /// Lap of that speed, 255 not set.
    pub speed_trap_fastest_lap: u8,
}

/// Lap data of one car (format 2023).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LapData2023 {
    /// Last lap time, in ms.
    pub last_lap_time_in_ms: u32,
    /// Current lap time, in ms.
    pub current_lap_time_in_ms: u32,
    /// Sector 1 time, milliseconds part.
    pub sector1_time_in_ms: u16,
    /// Sector 1 time, whole minutes part.
    pub sector1_time_minutes: u8,
    /// Sector 2 time, milliseconds part.
    pub sector2_time_in_ms: u16,
    /// Sector 2 time, whole minutes part.
    pub sector2_time_minutes: u8,
    /// Gap to the car ahead, in ms.
    pub delta_to_car_in_front_in_ms: u16,
    /// Gap to the leader, in ms.
    pub delta_to_race_leader_in_ms: u16,
    /// Distance round the current lap, in metres.
    pub lap_distance: f32,
    /// Total distance in the session, in metres.
    pub total_distance: f32,
    /// Delta to the safety car, in seconds.
    pub safety_car_delta: f32,
    /// Position, 1-based.
    pub car_position: u8,
    /// Current lap number.
    pub current_lap_num: u8,
    /// 0 none, 1 pitting, 2 in pit area.
    pub pit_status: u8,
    /// Pit stops made.
    pub num_pit_stops: u8,
    /// 0 sector 1, 1 sector 2, 2 sector 3.
    pub sector: u8,
    /// 0 valid, 1 invalid.
    pub current_lap_invalid: u8,
    /// Accumulated time penalties, in seconds.
    pub penalties: u8,
    /// Warnings issued.
    pub total_warnings: u8,
    /// Corner-cutting warnings issued.
    pub corner_cutting_warnings: u8,
    /// Drive-throughs not yet served.
    pub num_unserved_drive_through_pens: u8,
    /// Stop-gos not yet served.
    pub num_unserved_stop_go_pens: u8,
    /// Grid position.
    pub grid_position: u8,
    /// 0 in garage, 1 flying lap, 2 in lap, 3 out lap, 4 on track.
    pub driver_status: u8,
    /// 0 invalid, 1 inactive, 2 active, 3 finished, 4 DNF, 5 DSQ, 6 not classified, 7 retired.
    pub result_status: u8,
    /// 1 while the pit-lane timer runs.
    pub pit_lane_timer_active: u8,
    /// Time in the pit lane, in ms.
    pub pit_lane_time_in_lane_in_ms: u16,
    /// Time stationary in the box, in ms.
    pub pit_stop_timer_in_ms: u16,
    /// 1 if the car must serve a penalty at this stop.
    pub pit_stop_should_serve_pen: u8,
}

impl LapDataPacket {
    pub(crate) fn read(r: &mut Reader<'_>, format: u16, n_cars: usize) -> Result<Self> {
        let lap_data = if format >= 2024 {
            LapDataRecords::Current(
                (0..n_cars)
                    .map(|_| LapData::read(r))
                    .collect::<Result<_>>()?,
            )
        } else {
            LapDataRecords::F123(
                (0..n_cars)
                    .map(|_| LapData2023::read(r))
                    .collect::<Result<_>>()?,
            )
        };
        Ok(LapDataPacket {
            lap_data,
            time_trial_pb_car_idx: r.get()?,
            time_trial_rival_car_idx: r.get()?,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer, format: u16, n_cars: usize) -> EncodeResult {
        match (&self.lap_data, format >= 2024) {
            (LapDataRecords::Current(cars), true) => {
                for c in exactly("lap_data", cars, n_cars)? {
                    c.encode(w);
                }
            }
            (LapDataRecords::F123(cars), false) => {
                for c in exactly("lap_data", cars, n_cars)? {
                    c.encode(w);
                }
            }
            // The records of the other layout: the field this format has is missing.
            (LapDataRecords::Current(_), false) | (LapDataRecords::F123(_), true) => {
                return Err(EncodeError::FormatField {
                    format,
                    field: if format >= 2024 {
                        "lap_data (LapData records)"
                    } else {
                        "lap_data (LapData2023 records)"
                    },
                    present: false,
                });
            }
        }
        put!(w, self; time_trial_pb_car_idx, time_trial_rival_car_idx);
        Ok(())
    }
}

impl LapData {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(LapData {
            last_lap_time_in_ms: r.get()?,
            current_lap_time_in_ms: r.get()?,
            sector1_time_ms_part: r.get()?,
            sector1_time_minutes_part: r.get()?,
            sector2_time_ms_part: r.get()?,
            sector2_time_minutes_part: r.get()?,
            delta_to_car_in_front_ms_part: r.get()?,
            delta_to_car_in_front_minutes_part: r.get()?,
            delta_to_race_leader_ms_part: r.get()?,
            delta_to_race_leader_minutes_part: r.get()?,
            lap_distance: r.get()?,
            total_distance: r.get()?,
            safety_car_delta: r.get()?,
            car_position: r.get()?,
            current_lap_num: r.get()?,
            pit_status: r.get()?,
            num_pit_stops: r.get()?,
            sector: r.get()?,
            current_lap_invalid: r.get()?,
            penalties: r.get()?,
            total_warnings: r.get()?,
            corner_cutting_warnings: r.get()?,
            num_unserved_drive_through_pens: r.get()?,
            num_unserved_stop_go_pens: r.get()?,
            grid_position: r.get()?,
            driver_status: r.get()?,
            result_status: r.get()?,
            pit_lane_timer_active: r.get()?,
            pit_lane_time_in_lane_in_ms: r.get()?,
            pit_stop_timer_in_ms: r.get()?,
            pit_stop_should_serve_pen: r.get()?,
            speed_trap_fastest_speed: r.get()?,
            speed_trap_fastest_lap: r.get()?,
        })
    }

    fn encode(&self, w: &mut Writer) {
        put!(w, self;
            last_lap_time_in_ms, current_lap_time_in_ms, sector1_time_ms_part, sector1_time_minutes_part,
            sector2_time_ms_part, sector2_time_minutes_part, delta_to_car_in_front_ms_part,
            delta_to_car_in_front_minutes_part, delta_to_race_leader_ms_part, delta_to_race_leader_minutes_part,
            lap_distance, total_distance, safety_car_delta, car_position, current_lap_num, pit_status,
            num_pit_stops, sector, current_lap_invalid, penalties, total_warnings, corner_cutting_warnings,
            num_unserved_drive_through_pens, num_unserved_stop_go_pens, grid_position, driver_status,
            result_status, pit_lane_timer_active, pit_lane_time_in_lane_in_ms, pit_stop_timer_in_ms,
            pit_stop_should_serve_pen, speed_trap_fastest_speed, speed_trap_fastest_lap,
        );
    }
}

impl LapData2023 {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(LapData2023 {
            last_lap_time_in_ms: r.get()?,
            current_lap_time_in_ms: r.get()?,
            sector1_time_in_ms: r.get()?,
            sector1_time_minutes: r.get()?,
            sector2_time_in_ms: r.get()?,
            sector2_time_minutes: r.get()?,
            delta_to_car_in_front_in_ms: r.get()?,
            delta_to_race_leader_in_ms: r.get()?,
            lap_distance: r.get()?,
            total_distance: r.get()?,
            safety_car_delta: r.get()?,
            car_position: r.get()?,
            current_lap_num: r.get()?,
            pit_status: r.get()?,
            num_pit_stops: r.get()?,
            sector: r.get()?,
            current_lap_invalid: r.get()?,
            penalties: r.get()?,
            total_warnings: r.get()?,
            corner_cutting_warnings: r.get()?,
            num_unserved_drive_through_pens: r.get()?,
            num_unserved_stop_go_pens: r.get()?,
            grid_position: r.get()?,
            driver_status: r.get()?,
            result_status: r.get()?,
            pit_lane_timer_active: r.get()?,
            pit_lane_time_in_lane_in_ms: r.get()?,
            pit_stop_timer_in_ms: r.get()?,
            pit_stop_should_serve_pen: r.get()?,
        })
    }

    fn encode(&self, w: &mut Writer) {
        put!(w, self;
            last_lap_time_in_ms, current_lap_time_in_ms, sector1_time_in_ms, sector1_time_minutes,
            sector2_time_in_ms, sector2_time_minutes, delta_to_car_in_front_in_ms, delta_to_race_leader_in_ms,
            lap_distance, total_distance, safety_car_delta, car_position, current_lap_num, pit_status,
            num_pit_stops, sector, current_lap_invalid, penalties, total_warnings, corner_cutting_warnings,
            num_unserved_drive_through_pens, num_unserved_stop_go_pens, grid_position, driver_status,
            result_status, pit_lane_timer_active, pit_lane_time_in_lane_in_ms, pit_stop_timer_in_ms,
            pit_stop_should_serve_pen,
        );
    }
}

// --- Event (id 3) ------------------------------------------------------------------------------------------------

/// Event packet: a 4-letter code and the details of that event.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    /// The event code, e.g. `"SCAR"`.
    pub event_string_code: String,
    /// The details that belong to this code (`null` for codes without details).
    pub event_details: EventDetails,
}

/// Details of an event; the 12-byte union in the packet, read only as far as the code's own fields (the game does
/// not zero the rest).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum EventDetails {
    /// Codes without details: SSTA, SEND, DRSE, CHQF, LGOT, RDFL, and DRSD before 2025.
    None,
    /// FTLP.
    FastestLap {
        /// Car.
        vehicle_idx: u8,
        /// Lap time, in seconds.
        lap_time: f32,
    },
    /// RTMT.
    Retirement {
        /// Car.
        vehicle_idx: u8,
        /// Result reason (2025 only).
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<u8>,
    },
    /// DRSD in 2025.
    DrsDisabled {
        /// 0 wet track, 1 safety car, 2 red flag, 3 minimum lap not reached.
        reason: u8,
    },
    /// TMPT, RCWN, DTSV: one car.
    Vehicle {
        /// Car.
        vehicle_idx: u8,
    },
    /// PENA.
    Penalty {
        /// Penalty type.
        penalty_type: u8,
        /// Infringement type.
        infringement_type: u8,
        /// Car penalised.
        vehicle_idx: u8,
        /// Other car involved.
        other_vehicle_idx: u8,
        /// Time gained or spent, in seconds.
        time: u8,
        /// Lap of the penalty.
        lap_num: u8,
        /// Places gained.
        places_gained: u8,
    },
    /// SPTP.
    SpeedTrap {
        /// Car.
        vehicle_idx: u8,
        /// Speed, in km/h.
        speed: f32,
        /// 1 if fastest in the session.
        is_overall_fastest_in_session: u8,
        /// 1 if the driver's fastest in the session.
        is_driver_fastest_in_session: u8,
        /// Fastest car through the trap this session.
        fastest_vehicle_idx_in_session: u8,
        /// Fastest speed through the trap this session, in km/h.
        fastest_speed_in_session: f32,
    },
    /// STLG.
    StartLights {
        /// Lights showing.
        num_lights: u8,
    },
    /// SGSV.
    StopGoPenaltyServed {
        /// Car.
        vehicle_idx: u8,
        /// Time stopped, in seconds (2025 only).
        #[serde(skip_serializing_if = "Option::is_none")]
        stop_time: Option<f32>,
    },
    /// FLBK.
    Flashback {
        /// Frame flashed back to.
        flashback_frame_identifier: u32,
        /// Session time flashed back to, in seconds.
        flashback_session_time: f32,
    },
    /// BUTN.
    Buttons {
        /// Bit flags of the buttons pressed.
        button_status: u32,
    },
    /// OVTK.
    Overtake {
        /// Car overtaking.
        overtaking_vehicle_idx: u8,
        /// Car overtaken.
        being_overtaken_vehicle_idx: u8,
    },
    /// SCAR.
    SafetyCar {
        /// 0 none, 1 full, 2 virtual, 3 formation lap.
        safety_car_type: u8,
        /// 0 deployed, 1 returning, 2 returned, 3 resume race.
        event_type: u8,
    },
    /// COLL.
    Collision {
        /// First car.
        vehicle1_idx: u8,
        /// Second car.
        vehicle2_idx: u8,
    },
}

impl Event {
    pub(crate) fn read(r: &mut Reader<'_>, format: u16) -> Result<Self> {
        let code = r.take(4)?;
        let event_string_code = String::from_utf8_lossy(code).into_owned();
        let since_2025 = format >= 2025;
        // The details are a 12-byte union: read this code's fields from it, and the packet's bytes are all used.
        let mut details = Reader::new(r.take(12)?);
        let r = &mut details;
        let event_details = match code {
            b"SSTA" | b"SEND" | b"DRSE" | b"CHQF" | b"LGOT" | b"RDFL" => EventDetails::None,
            b"DRSD" if since_2025 => EventDetails::DrsDisabled { reason: r.get()? },
            b"DRSD" => EventDetails::None,
            b"FTLP" => EventDetails::FastestLap {
                vehicle_idx: r.get()?,
                lap_time: r.get()?,
            },
            b"RTMT" => EventDetails::Retirement {
                vehicle_idx: r.get()?,
                reason: if since_2025 { Some(r.get()?) } else { None },
            },
            b"TMPT" | b"RCWN" | b"DTSV" => EventDetails::Vehicle {
                vehicle_idx: r.get()?,
            },
            b"PENA" => EventDetails::Penalty {
                penalty_type: r.get()?,
                infringement_type: r.get()?,
                vehicle_idx: r.get()?,
                other_vehicle_idx: r.get()?,
                time: r.get()?,
                lap_num: r.get()?,
                places_gained: r.get()?,
            },
            b"SPTP" => EventDetails::SpeedTrap {
                vehicle_idx: r.get()?,
                speed: r.get()?,
                is_overall_fastest_in_session: r.get()?,
                is_driver_fastest_in_session: r.get()?,
                fastest_vehicle_idx_in_session: r.get()?,
                fastest_speed_in_session: r.get()?,
            },
            b"STLG" => EventDetails::StartLights {
                num_lights: r.get()?,
            },
            b"SGSV" => EventDetails::StopGoPenaltyServed {
                vehicle_idx: r.get()?,
                stop_time: if since_2025 { Some(r.get()?) } else { None },
            },
            b"FLBK" => EventDetails::Flashback {
                flashback_frame_identifier: r.get()?,
                flashback_session_time: r.get()?,
            },
            b"BUTN" => EventDetails::Buttons {
                button_status: r.get()?,
            },
            b"OVTK" => EventDetails::Overtake {
                overtaking_vehicle_idx: r.get()?,
                being_overtaken_vehicle_idx: r.get()?,
            },
            b"SCAR" if format >= 2024 => EventDetails::SafetyCar {
                safety_car_type: r.get()?,
                event_type: r.get()?,
            },
            b"COLL" if format >= 2024 => EventDetails::Collision {
                vehicle1_idx: r.get()?,
                vehicle2_idx: r.get()?,
            },
            _ => return Err(DecodeError::UnknownEvent(event_string_code)),
        };
        Ok(Event {
            event_string_code,
            event_details,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer, format: u16) -> EncodeResult {
        let since_2025 = format >= 2025;
        let mismatch = || EncodeError::EventMismatch {
            format,
            code: self.event_string_code.clone(),
            details: self.event_details.name(),
        };
        let code: &[u8; 4] = self
            .event_string_code
            .as_bytes()
            .try_into()
            .map_err(|_| mismatch())?;
        w.bytes(code);
        // The details are a 12-byte union: write this code's fields, then zeros where the game leaves stale bytes.
        let end = w.len() + 12;
        match (code, &self.event_details) {
            (b"SSTA" | b"SEND" | b"DRSE" | b"CHQF" | b"LGOT" | b"RDFL", EventDetails::None) => {}
            (b"DRSD", EventDetails::DrsDisabled { reason }) if since_2025 => put!(w; reason),
            (b"DRSD", EventDetails::None) if !since_2025 => {}
            (
                b"FTLP",
                EventDetails::FastestLap {
                    vehicle_idx,
                    lap_time,
                },
            ) => {
                put!(w; vehicle_idx, lap_time);
            }
            (
                b"RTMT",
                EventDetails::Retirement {
                    vehicle_idx,
                    reason,
                },
            ) => {
                put!(w; vehicle_idx);
                w.put_since(format, 2025, "reason", reason)?;
            }
            (b"TMPT" | b"RCWN" | b"DTSV", EventDetails::Vehicle { vehicle_idx }) => {
                put!(w; vehicle_idx);
            }
            (
                b"PENA",
                EventDetails::Penalty {
                    penalty_type,
                    infringement_type,
                    vehicle_idx,
                    other_vehicle_idx,
                    time,
                    lap_num,
                    places_gained,
                },
            ) => put!(w;
                penalty_type, infringement_type, vehicle_idx, other_vehicle_idx, time, lap_num, places_gained
            ),
            (
                b"SPTP",
                EventDetails::SpeedTrap {
                    vehicle_idx,
                    speed,
                    is_overall_fastest_in_session,
                    is_driver_fastest_in_session,
                    fastest_vehicle_idx_in_session,
                    fastest_speed_in_session,
                },
            ) => put!(w;
                vehicle_idx, speed, is_overall_fastest_in_session, is_driver_fastest_in_session,
                fastest_vehicle_idx_in_session, fastest_speed_in_session
            ),
            (b"STLG", EventDetails::StartLights { num_lights }) => put!(w; num_lights),
            (
                b"SGSV",
                EventDetails::StopGoPenaltyServed {
                    vehicle_idx,
                    stop_time,
                },
            ) => {
                put!(w; vehicle_idx);
                w.put_since(format, 2025, "stop_time", stop_time)?;
            }
            (
                b"FLBK",
                EventDetails::Flashback {
                    flashback_frame_identifier,
                    flashback_session_time,
                },
            ) => put!(w; flashback_frame_identifier, flashback_session_time),
            (b"BUTN", EventDetails::Buttons { button_status }) => put!(w; button_status),
            (
                b"OVTK",
                EventDetails::Overtake {
                    overtaking_vehicle_idx,
                    being_overtaken_vehicle_idx,
                },
            ) => put!(w; overtaking_vehicle_idx, being_overtaken_vehicle_idx),
            (
                b"SCAR",
                EventDetails::SafetyCar {
                    safety_car_type,
                    event_type,
                },
            ) if format >= 2024 => {
                put!(w; safety_car_type, event_type);
            }
            (
                b"COLL",
                EventDetails::Collision {
                    vehicle1_idx,
                    vehicle2_idx,
                },
            ) if format >= 2024 => {
                put!(w; vehicle1_idx, vehicle2_idx);
            }
            _ => return Err(mismatch()),
        }
        w.zeros(end.saturating_sub(w.len()));
        Ok(())
    }
}

impl EventDetails {
    /// The variant's name, for error messages.
    pub fn name(&self) -> &'static str {
        match self {
            EventDetails::None => "None",
            EventDetails::FastestLap { .. } => "FastestLap",
            EventDetails::Retirement { .. } => "Retirement",
            EventDetails::DrsDisabled { .. } => "DrsDisabled",
            EventDetails::Vehicle { .. } => "Vehicle",
            EventDetails::Penalty { .. } => "Penalty",
            EventDetails::SpeedTrap { .. } => "SpeedTrap",
            EventDetails::StartLights { .. } => "StartLights",
            EventDetails::StopGoPenaltyServed { .. } => "StopGoPenaltyServed",
            EventDetails::Flashback { .. } => "Flashback",
            EventDetails::Buttons { .. } => "Buttons",
            EventDetails::Overtake { .. } => "Overtake",
            EventDetails::SafetyCar { .. } => "SafetyCar",
            EventDetails::Collision { .. } => "Collision",
        }
    }
}

// --- Participants (id 4) -----------------------------------------------------------------------------------------

/// Participants packet: who drives which car.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Participants {
    /// Active cars (the arrays keep retired cars in their slots).
    pub num_active_cars: u8,
    /// One record per car slot.
    pub participants: Vec<ParticipantData>,
}

/// One participant.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ParticipantData {
    /// 1 AI, 0 human.
    pub ai_controlled: u8,
    /// Driver id, 255 for a network human.
    pub driver_id: u8,
    /// Network id.
    pub network_id: u8,
    /// Team id (255 for unused slots).
    pub team_id: u8,
    /// 1 for My Team.
    pub my_team: u8,
    /// Race number.
    pub race_number: u8,
    /// Nationality id.
    pub nationality: u8,
    /// Name, UTF-8 (48 bytes on the wire before 2025, 32 from 2025).
    pub name: String,
    /// 0 restricted, 1 public.
    pub your_telemetry: u8,
    /// 0 off, 1 on.
    pub show_online_names: u8,
    /// F1 World tech level (2024 on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tech_level: Option<u16>,
    /// 1 Steam, 3 PlayStation, 4 Xbox, 6 Origin, 255 unknown.
    pub platform: u8,
    /// Valid livery colours (2025 on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_colours: Option<u8>,
    /// Livery colours (2025 on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub livery_colours: Option<[LiveryColour; 4]>,
}

/// An RGB livery colour.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LiveryColour {
    /// Red.
    pub red: u8,
    /// Green.
    pub green: u8,
    /// Blue.
    pub blue: u8,
}

impl super::reader::Wire for LiveryColour {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(LiveryColour {
            red: r.get()?,
            green: r.get()?,
            blue: r.get()?,
        })
    }
}

impl Encode for LiveryColour {
    fn write(&self, w: &mut Writer) {
        put!(w, self; red, green, blue);
    }
}

impl Participants {
    pub(crate) fn read(r: &mut Reader<'_>, format: u16, n_cars: usize) -> Result<Self> {
        let num_active_cars = r.get()?;
        let name_len = if format >= 2025 { 32 } else { 48 };
        let participants = (0..n_cars)
            .map(|_| {
                Ok(ParticipantData {
                    ai_controlled: r.get()?,
                    driver_id: r.get()?,
                    network_id: r.get()?,
                    team_id: r.get()?,
                    my_team: r.get()?,
                    race_number: r.get()?,
                    nationality: r.get()?,
                    name: r.string(name_len)?,
                    your_telemetry: r.get()?,
                    show_online_names: r.get()?,
                    tech_level: if format >= 2024 { Some(r.get()?) } else { None },
                    platform: r.get()?,
                    num_colours: if format >= 2025 { Some(r.get()?) } else { None },
                    livery_colours: if format >= 2025 { Some(r.get()?) } else { None },
                })
            })
            .collect::<Result<_>>()?;
        Ok(Participants {
            num_active_cars,
            participants,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer, format: u16, n_cars: usize) -> EncodeResult {
        put!(w, self; num_active_cars);
        let name_len = if format >= 2025 { 32 } else { 48 };
        for p in exactly("participants", &self.participants, n_cars)? {
            put!(w, p; ai_controlled, driver_id, network_id, team_id, my_team, race_number, nationality);
            w.string(&p.name, name_len);
            put!(w, p; your_telemetry, show_online_names);
            w.put_since(format, 2024, "tech_level", &p.tech_level)?;
            put!(w, p; platform);
            w.put_since(format, 2025, "num_colours", &p.num_colours)?;
            w.put_since(format, 2025, "livery_colours", &p.livery_colours)?;
        }
        Ok(())
    }
}

// --- CarTelemetry (id 6) -----------------------------------------------------------------------------------------

/// CarTelemetry packet: driver inputs and temperatures of every car.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CarTelemetryPacket {
    /// One record per car slot.
    pub car_telemetry_data: Vec<CarTelemetryData>,
    /// MFD panel open, 255 closed, 0 setup, 1 pits, 2 damage, 3 engine, 4 temperatures.
    pub mfd_panel_index: u8,
    /// The secondary player's MFD panel.
    pub mfd_panel_index_secondary_player: u8,
    /// Suggested gear, 0 none.
    pub suggested_gear: i8,
}

/// Telemetry of one car.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CarTelemetryData {
    /// Speed, in km/h.
    pub speed: u16,
    /// Throttle, 0.0..=1.0.
    pub throttle: f32,
    /// Steering, −1.0 (full left) ..= 1.0 (full right).
    pub steer: f32,
    /// Brake, 0.0..=1.0.
    pub brake: f32,
    /// Clutch, 0..=100.
    pub clutch: u8,
    /// Gear, −1 reverse, 0 neutral, 1..=8.
    pub gear: i8,
    /// Engine speed, in rpm.
    pub engine_rpm: u16,
    /// 0 off, 1 on.
    pub drs: u8,
    /// Rev lights, percent.
    pub rev_lights_percent: u8,
    /// Rev lights, bit 0 leftmost.
    pub rev_lights_bit_value: u16,
    /// Brake temperatures, in °C (RL, RR, FL, FR).
    pub brakes_temperature: [u16; 4],
    /// Tyre surface temperatures, in °C (RL, RR, FL, FR).
    pub tyres_surface_temperature: [u8; 4],
    /// Tyre inner temperatures, in °C (RL, RR, FL, FR).
    pub tyres_inner_temperature: [u8; 4],
    /// Engine temperature, in °C.
    pub engine_temperature: u16,
    /// Tyre pressures, in psi (RL, RR, FL, FR).
    pub tyres_pressure: [f32; 4],
    /// Surface under each tyre (RL, RR, FL, FR).
    pub surface_type: [u8; 4],
}

impl CarTelemetryPacket {
    pub(crate) fn read(r: &mut Reader<'_>, n_cars: usize) -> Result<Self> {
        let car_telemetry_data = (0..n_cars)
            .map(|_| {
                Ok(CarTelemetryData {
                    speed: r.get()?,
                    throttle: r.get()?,
                    steer: r.get()?,
                    brake: r.get()?,
                    clutch: r.get()?,
                    gear: r.get()?,
                    engine_rpm: r.get()?,
                    drs: r.get()?,
                    rev_lights_percent: r.get()?,
                    rev_lights_bit_value: r.get()?,
                    brakes_temperature: r.get()?,
                    tyres_surface_temperature: r.get()?,
                    tyres_inner_temperature: r.get()?,
                    engine_temperature: r.get()?,
                    tyres_pressure: r.get()?,
                    surface_type: r.get()?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(CarTelemetryPacket {
            car_telemetry_data,
            mfd_panel_index: r.get()?,
            mfd_panel_index_secondary_player: r.get()?,
            suggested_gear: r.get()?,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer, n_cars: usize) -> EncodeResult {
        for c in exactly("car_telemetry_data", &self.car_telemetry_data, n_cars)? {
            put!(w, c;
                speed, throttle, steer, brake, clutch, gear, engine_rpm, drs, rev_lights_percent,
                rev_lights_bit_value, brakes_temperature, tyres_surface_temperature, tyres_inner_temperature,
                engine_temperature, tyres_pressure, surface_type,
            );
        }
        put!(w, self; mfd_panel_index, mfd_panel_index_secondary_player, suggested_gear);
        Ok(())
    }
}

// --- CarStatus (id 7) --------------------------------------------------------------------------------------------

/// CarStatus packet: fuel, tyres, ERS and settings of every car.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CarStatusPacket {
    /// One record per car slot.
    pub car_status_data: Vec<CarStatusData>,
}

/// Status of one car.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CarStatusData {
    /// 0 off, 1 medium, 2 full.
    pub traction_control: u8,
    /// 0 off, 1 on.
    pub anti_lock_brakes: u8,
    /// 0 lean, 1 standard, 2 rich, 3 max.
    pub fuel_mix: u8,
    /// Front brake bias, percent.
    pub front_brake_bias: u8,
    /// 0 off, 1 on.
    pub pit_limiter_status: u8,
    /// Fuel in the tank, in kg.
    pub fuel_in_tank: f32,
    /// Fuel capacity, in kg.
    pub fuel_capacity: f32,
    /// Fuel remaining in laps, as the MFD shows it.
    pub fuel_remaining_laps: f32,
    /// Rev limit, in rpm.
    pub max_rpm: u16,
    /// Idle speed, in rpm.
    pub idle_rpm: u16,
    /// Number of gears.
    pub max_gears: u8,
    /// 0 not allowed, 1 allowed.
    pub drs_allowed: u8,
    /// Distance at which DRS becomes available, in metres (0 n/a).
    pub drs_activation_distance: u16,
    /// Actual compound (16 C5 … 22 C6 on F1 modern; 7 inter, 8 wet).
    pub actual_tyre_compound: u8,
    /// Visual compound (16 soft, 17 medium, 18 hard, 7 inter, 8 wet).
    pub visual_tyre_compound: u8,
    /// Age of the tyres, in laps.
    pub tyres_age_laps: u8,
    /// −1 unknown, 0 none, 1 green, 2 blue, 3 yellow.
    pub vehicle_fia_flags: i8,
    /// ICE power, in W.
    pub engine_power_ice: f32,
    /// MGU-K power, in W.
    pub engine_power_mguk: f32,
    /// ERS store, in J (4 MJ full).
    pub ers_store_energy: f32,
    /// 0 none, 1 medium, 2 hotlap, 3 overtake.
    pub ers_deploy_mode: u8,
    /// Harvested by the MGU-K this lap, in J.
    pub ers_harvested_this_lap_mguk: f32,
    /// Harvested by the MGU-H this lap, in J.
    pub ers_harvested_this_lap_mguh: f32,
    /// Deployed this lap, in J.
    pub ers_deployed_this_lap: f32,
    /// 1 when the car is paused in a network game.
    pub network_paused: u8,
}

impl CarStatusPacket {
    pub(crate) fn read(r: &mut Reader<'_>, n_cars: usize) -> Result<Self> {
        let car_status_data = (0..n_cars)
            .map(|_| {
                Ok(CarStatusData {
                    traction_control: r.get()?,
                    anti_lock_brakes: r.get()?,
                    fuel_mix: r.get()?,
                    front_brake_bias: r.get()?,
                    pit_limiter_status: r.get()?,
                    fuel_in_tank: r.get()?,
                    fuel_capacity: r.get()?,
                    fuel_remaining_laps: r.get()?,
                    max_rpm: r.get()?,
                    idle_rpm: r.get()?,
                    max_gears: r.get()?,
                    drs_allowed: r.get()?,
                    drs_activation_distance: r.get()?,
                    actual_tyre_compound: r.get()?,
                    visual_tyre_compound: r.get()?,
                    tyres_age_laps: r.get()?,
                    vehicle_fia_flags: r.get()?,
                    engine_power_ice: r.get()?,
                    engine_power_mguk: r.get()?,
                    ers_store_energy: r.get()?,
                    ers_deploy_mode: r.get()?,
                    ers_harvested_this_lap_mguk: r.get()?,
                    ers_harvested_this_lap_mguh: r.get()?,
                    ers_deployed_this_lap: r.get()?,
                    network_paused: r.get()?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(CarStatusPacket { car_status_data })
    }

    pub(crate) fn encode(&self, w: &mut Writer, n_cars: usize) -> EncodeResult {
        for c in exactly("car_status_data", &self.car_status_data, n_cars)? {
            put!(w, c;
                traction_control, anti_lock_brakes, fuel_mix, front_brake_bias, pit_limiter_status,
                fuel_in_tank, fuel_capacity, fuel_remaining_laps, max_rpm, idle_rpm, max_gears, drs_allowed,
                drs_activation_distance, actual_tyre_compound, visual_tyre_compound, tyres_age_laps,
                vehicle_fia_flags, engine_power_ice, engine_power_mguk, ers_store_energy, ers_deploy_mode,
                ers_harvested_this_lap_mguk, ers_harvested_this_lap_mguh, ers_deployed_this_lap,
                network_paused,
            );
        }
        Ok(())
    }
}

// --- CarDamage (id 10) -------------------------------------------------------------------------------------------

/// CarDamage packet: wear and damage of every car.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CarDamagePacket {
    /// One record per car slot.
    pub car_damage_data: Vec<CarDamageData>,
}

/// Wear and damage of one car, in percent unless noted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CarDamageData {
    /// Tyre wear, percent (RL, RR, FL, FR).
    pub tyres_wear: [f32; 4],
    /// Tyre damage (RL, RR, FL, FR).
    pub tyres_damage: [u8; 4],
    /// Brake damage (RL, RR, FL, FR).
    pub brakes_damage: [u8; 4],
    /// Tyre blisters (RL, RR, FL, FR; 2025 on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tyre_blisters: Option<[u8; 4]>,
    /// Front-left wing damage.
    pub front_left_wing_damage: u8,
    /// Front-right wing damage.
    pub front_right_wing_damage: u8,
    /// Rear wing damage.
    pub rear_wing_damage: u8,
    /// Floor damage.
    pub floor_damage: u8,
    /// Diffuser damage.
    pub diffuser_damage: u8,
    /// Sidepod damage.
    pub sidepod_damage: u8,
    /// 0 OK, 1 fault.
    pub drs_fault: u8,
    /// 0 OK, 1 fault.
    pub ers_fault: u8,
    /// Gearbox damage.
    pub gear_box_damage: u8,
    /// Engine damage.
    pub engine_damage: u8,
    /// MGU-H wear.
    pub engine_mguh_wear: u8,
    /// Energy store wear.
    pub engine_es_wear: u8,
    /// Control electronics wear.
    pub engine_ce_wear: u8,
    /// ICE wear.
    pub engine_ice_wear: u8,
    /// MGU-K wear.
    pub engine_mguk_wear: u8,
    /// Turbocharger wear.
    pub engine_tc_wear: u8,
    /// 0 OK, 1 blown.
    pub engine_blown: u8,
    /// 0 OK, 1 seized.
    pub engine_seized: u8,
}

impl CarDamagePacket {
    pub(crate) fn read(r: &mut Reader<'_>, format: u16, n_cars: usize) -> Result<Self> {
        let car_damage_data = (0..n_cars)
            .map(|_| {
                Ok(CarDamageData {
                    tyres_wear: r.get()?,
                    tyres_damage: r.get()?,
                    brakes_damage: r.get()?,
                    tyre_blisters: if format >= 2025 { Some(r.get()?) } else { None },
                    front_left_wing_damage: r.get()?,
                    front_right_wing_damage: r.get()?,
                    rear_wing_damage: r.get()?,
                    floor_damage: r.get()?,
                    diffuser_damage: r.get()?,
                    sidepod_damage: r.get()?,
                    drs_fault: r.get()?,
                    ers_fault: r.get()?,
                    gear_box_damage: r.get()?,
                    engine_damage: r.get()?,
                    engine_mguh_wear: r.get()?,
                    engine_es_wear: r.get()?,
                    engine_ce_wear: r.get()?,
                    engine_ice_wear: r.get()?,
                    engine_mguk_wear: r.get()?,
                    engine_tc_wear: r.get()?,
                    engine_blown: r.get()?,
                    engine_seized: r.get()?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(CarDamagePacket { car_damage_data })
    }

    pub(crate) fn encode(&self, w: &mut Writer, format: u16, n_cars: usize) -> EncodeResult {
        for c in exactly("car_damage_data", &self.car_damage_data, n_cars)? {
            put!(w, c; tyres_wear, tyres_damage, brakes_damage);
            w.put_since(format, 2025, "tyre_blisters", &c.tyre_blisters)?;
            put!(w, c;
                front_left_wing_damage, front_right_wing_damage, rear_wing_damage, floor_damage,
                diffuser_damage, sidepod_damage, drs_fault, ers_fault, gear_box_damage, engine_damage,
                engine_mguh_wear, engine_es_wear, engine_ce_wear, engine_ice_wear, engine_mguk_wear,
                engine_tc_wear, engine_blown, engine_seized,
            );
        }
        Ok(())
    }
}
