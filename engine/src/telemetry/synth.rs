//! The simulator as a packet source: a stream of [`RaceState`]s encoded as spec-exact format-2025 datagrams, so the
//! whole game path (encode → socket → decode → normalize) runs on a full, realistic session without the game.
//!
//! [`PacketSynth::frame`] turns one state into the datagrams the game would send at that moment, at the game's
//! rates relative to the frames it is given (call it at 20–60 Hz): LapData, CarTelemetry, CarStatus, CarDamage
//! and Motion every frame, Session every 0.5 s and Participants every 5 s of session time, Events when something
//! happens (SSTA, SCAR, RTMT, FTLP, CHQF, SEND; the simulator gives no penalties), and the
//! FinalClassification once at the end. Headers follow the real F1 25 captures: format 2025, game year 25,
//! version 1.17, packet version 1, one frame id per call, player index 255 (spectating: there is no player).
//!
//! What the packets cannot carry is documented where it is lost: team names become the game's team ids (the
//! game's names come back), times are whole milliseconds, temperatures whole degrees. The current lap's sector
//! times are measured from the frames (interpolated at the sector boundaries), as a timing loop would.

use super::{
    Body, CarDamageData, CarDamagePacket, CarMotionData, CarStatusData, CarStatusPacket,
    CarTelemetryData, CarTelemetryPacket, EncodeError, Event, EventDetails, FinalClassification,
    FinalClassificationData, LapData, LapDataPacket, LapDataRecords, MarshalZone, Motion, Packet,
    PacketHeader, ParticipantData, Participants, Session, SessionSince2024, WeatherForecastSample,
    encode, format,
};
use crate::wire::{
    CarState, Compound, DriverStatus, PitStatus, RaceState, ResultStatus, SessionPhase,
    SessionType, TrackStatus, Weather,
};

/// The packet format the synthesizer writes.
pub const FORMAT: u16 = 2025;

/// Session time between Session packets (the game sends 2 per second).
const SESSION_EVERY_S: f64 = 0.5;
/// Session time between Participants packets (the game sends one every 5 seconds).
const PARTICIPANTS_EVERY_S: f64 = 5.0;

/// Encodes a stream of race states as game datagrams. One per session; feed it states in time order.
#[derive(Clone, Debug)]
pub struct PacketSynth {
    session_uid: u64,
    sector_end_frac: [f64; 2],
    frame: u32,
    next_session_s: f64,
    next_participants_s: f64,
    /// What the previous frame showed, to detect events.
    previous: Option<Seen>,
    /// Per car slot: the current lap's sector times measured so far.
    sectors: Vec<SectorClock>,
    fastest_lap_s: Option<f64>,
    classified: bool,
}

#[derive(Clone, Debug, Default)]
struct Seen {
    phase: SessionPhase,
    track_status: TrackStatus,
    out: Vec<u8>,
}

#[derive(Clone, Copy, Debug, Default)]
struct SectorClock {
    lap: u32,
    /// Lap distance and lap time of the previous frame, to interpolate the crossing.
    last: Option<(f64, f64)>,
    s1_end_s: Option<f64>,
    s2_end_s: Option<f64>,
}

impl PacketSynth {
    /// A synthesizer for session `session_uid`, whose sectors end at these fractions of the lap (the session's
    /// track; e.g. the calibration's `sector_end_frac`).
    pub fn new(session_uid: u64, sector_end_frac: [f64; 2]) -> Self {
        PacketSynth {
            session_uid,
            sector_end_frac,
            frame: 0,
            next_session_s: 0.0,
            next_participants_s: 0.0,
            previous: None,
            sectors: Vec::new(),
            fastest_lap_s: None,
            classified: false,
        }
    }

    /// The datagrams the game would send for `state`, in the order it sends them.
    ///
    /// # Errors
    /// [`EncodeError`] if the state does not fit the format (e.g. more cars than the format's 22 slots).
    pub fn frame(&mut self, state: &RaceState) -> Result<Vec<Vec<u8>>, EncodeError> {
        let n_cars = format::spec(FORMAT).map_or(22, |s| s.n_cars);
        if let Some(car) = state.cars.iter().find(|c| usize::from(c.car_idx) >= n_cars) {
            return Err(EncodeError::WrongCount {
                field: "car_idx",
                got: usize::from(car.car_idx) + 1,
                expected: n_cars,
            });
        }
        self.frame += 1;
        let t = state.session_time_s;
        let mut bodies: Vec<Body> = Vec::new();
        if t >= self.next_session_s || self.previous.is_none() {
            bodies.push(Body::Session(Box::new(self.session(state))));
            self.next_session_s = t + SESSION_EVERY_S;
        }
        if t >= self.next_participants_s || self.previous.is_none() {
            bodies.push(Body::Participants(participants(state, n_cars)));
            self.next_participants_s = t + PARTICIPANTS_EVERY_S;
        }
        bodies.extend(self.events(state).into_iter().map(Body::Event));
        self.measure_sectors(state, n_cars);
        bodies.push(Body::LapData(self.lap_data(state, n_cars)));
        bodies.push(Body::CarTelemetry(telemetry(state, n_cars)));
        bodies.push(Body::CarStatus(status(state, n_cars)));
        bodies.push(Body::CarDamage(damage(state, n_cars)));
        bodies.push(Body::Motion(motion(state, n_cars)));
        if state.session.phase == SessionPhase::Finished && !self.classified {
            bodies.push(Body::FinalClassification(classification(state, n_cars)));
            self.classified = true;
        }
        bodies
            .into_iter()
            .map(|body| {
                let header = self.header(body.packet_id(), t);
                encode(&Packet { header, body })
            })
            .collect()
    }

    fn header(&self, packet_id: u8, t: f64) -> PacketHeader {
        PacketHeader {
            packet_format: FORMAT,
            game_year: 25,
            game_major_version: 1,
            game_minor_version: 17,
            packet_version: 1,
            packet_id,
            session_uid: self.session_uid,
            session_time: t as f32,
            frame_identifier: self.frame,
            overall_frame_identifier: self.frame,
            player_car_index: 255,
            secondary_player_car_index: 255,
        }
    }

    fn session(&self, state: &RaceState) -> Session {
        let s = &state.session;
        let length = s.track_length_m;
        // 2024+ numbering (§7.7): 1 P1, 5 Q1, 15 Race, 18 Time Trial.
        let session_type = match s.session_type {
            SessionType::Practice => 1,
            SessionType::Qualifying => 5,
            SessionType::Sprint | SessionType::Race => 15,
            SessionType::TimeTrial => 18,
            SessionType::Unknown => 0,
        };
        Session {
            weather: weather_id(s.weather),
            track_temperature: s.track_temp_c.round().clamp(-128.0, 127.0) as i8,
            air_temperature: s.air_temp_c.round().clamp(-128.0, 127.0) as i8,
            total_laps: s.total_laps.min(255) as u8,
            track_length: length.round().clamp(0.0, 65_535.0) as u16,
            session_type,
            track_id: track_id(&s.track),
            formula: 0,
            session_time_left: 0,
            session_duration: 7200,
            pit_speed_limit: 80,
            is_spectating: 1,
            spectator_car_index: state.cars.first().map_or(0, |c| c.car_idx),
            num_marshal_zones: 0,
            marshal_zones: vec![MarshalZone::default(); 21],
            safety_car_status: match s.track_status {
                TrackStatus::SafetyCar => 1,
                TrackStatus::VirtualSafetyCar => 2,
                _ => 0,
            },
            // The state's forecast, for the session itself (the normalizer reads no other).
            num_weather_forecast_samples: s.forecast.len().min(64) as u8,
            weather_forecast_samples: {
                let mut v = vec![WeatherForecastSample::default(); 64];
                for (slot, f) in v.iter_mut().zip(&s.forecast) {
                    *slot = WeatherForecastSample {
                        session_type,
                        time_offset: f.in_min.min(255) as u8,
                        weather: weather_id(f.weather),
                        track_temperature: s.track_temp_c.round().clamp(-128.0, 127.0) as i8,
                        air_temperature: s.air_temp_c.round().clamp(-128.0, 127.0) as i8,
                        rain_percentage: f.rain_pct,
                        ..WeatherForecastSample::default()
                    };
                }
                v
            },
            ai_difficulty: 100,
            game_mode: 0,
            rule_set: 1,
            session_length: 7,
            speed_units_lead_player: 1,
            num_safety_car_periods: 0,
            since_2024: Some(SessionSince2024 {
                num_sessions_in_weekend: 1,
                sector2_lap_distance_start: (self.sector_end_frac[0] * length) as f32,
                sector3_lap_distance_start: (self.sector_end_frac[1] * length) as f32,
                ..SessionSince2024::default()
            }),
            ..Session::default()
        }
    }

    fn events(&mut self, state: &RaceState) -> Vec<Event> {
        let mut out = Vec::new();
        let event = |code: &str, details: EventDetails| Event {
            event_string_code: code.to_owned(),
            event_details: details,
        };
        let prev = self.previous.take().unwrap_or_default();
        let phase = state.session.phase;
        if phase != prev.phase {
            if prev.phase == SessionPhase::NotStarted {
                out.push(event("SSTA", EventDetails::None));
            }
            if phase == SessionPhase::Chequered
                || (phase == SessionPhase::Finished && prev.phase != SessionPhase::Chequered)
            {
                out.push(event("CHQF", EventDetails::None));
            }
            if phase == SessionPhase::Finished {
                out.push(event("SEND", EventDetails::None));
            }
        }
        let status = state.session.track_status;
        if status != prev.track_status {
            // SCAR: type 1 full, 2 virtual; event 0 deployed, 2 returned (spec §4).
            let (kind, ev) = match (prev.track_status, status) {
                (_, TrackStatus::SafetyCar) => (1, 0),
                (_, TrackStatus::VirtualSafetyCar) => (2, 0),
                (TrackStatus::SafetyCar, _) => (1, 2),
                (TrackStatus::VirtualSafetyCar, _) => (2, 2),
                _ => (0, 0),
            };
            if kind != 0 {
                out.push(event(
                    "SCAR",
                    EventDetails::SafetyCar {
                        safety_car_type: kind,
                        event_type: ev,
                    },
                ));
            }
        }
        let out_now: Vec<u8> = state
            .cars
            .iter()
            .filter(|c| c.result_status.is_out())
            .map(|c| c.car_idx)
            .collect();
        for car in state
            .cars
            .iter()
            .filter(|c| c.result_status.is_out() && !prev.out.contains(&c.car_idx))
        {
            out.push(event(
                "RTMT",
                EventDetails::Retirement {
                    vehicle_idx: car.car_idx,
                    reason: Some(result_reason(car.result_status)),
                },
            ));
        }
        if let Some(best) = state
            .cars
            .iter()
            .filter_map(|c| c.best_lap_s.map(|b| (b, c.car_idx)))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            && self.fastest_lap_s.is_none_or(|f| best.0 < f)
        {
            self.fastest_lap_s = Some(best.0);
            out.push(event(
                "FTLP",
                EventDetails::FastestLap {
                    vehicle_idx: best.1,
                    lap_time: best.0 as f32,
                },
            ));
        }
        self.previous = Some(Seen {
            phase,
            track_status: status,
            out: out_now,
        });
        out
    }

    /// Times the current lap's sector boundaries from consecutive frames (linear between frames).
    fn measure_sectors(&mut self, state: &RaceState, n_cars: usize) {
        if self.sectors.len() < n_cars {
            self.sectors.resize(n_cars, SectorClock::default());
        }
        let length = state.session.track_length_m.max(1.0);
        let ends = self.sector_end_frac.map(|f| f * length);
        for car in &state.cars {
            let clock = &mut self.sectors[usize::from(car.car_idx)];
            if clock.lap != car.lap {
                *clock = SectorClock {
                    lap: car.lap,
                    ..SectorClock::default()
                };
            }
            let now = (car.lap_distance_m, car.current_lap_s);
            let (d0, t0) = clock.last.unwrap_or((0.0, 0.0));
            let crossing = |end: f64| {
                if d0 < end && now.0 >= end {
                    let k = if now.0 > d0 {
                        (end - d0) / (now.0 - d0)
                    } else {
                        1.0
                    };
                    Some(t0 + k * (now.1 - t0))
                } else {
                    None
                }
            };
            if clock.s1_end_s.is_none() {
                clock.s1_end_s = crossing(ends[0]);
            }
            if clock.s2_end_s.is_none() {
                clock.s2_end_s = crossing(ends[1]);
            }
            clock.last = Some(now);
        }
    }

    fn lap_data(&self, state: &RaceState, n_cars: usize) -> LapDataPacket {
        let mut records = vec![LapData::default(); n_cars];
        for car in &state.cars {
            let clock = self.sectors[usize::from(car.car_idx)];
            let s1 = clock.s1_end_s;
            let s2 = match (clock.s1_end_s, clock.s2_end_s) {
                (Some(a), Some(b)) => Some(b - a),
                _ => None,
            };
            let (s1_min, s1_ms) = split_ms(s1.unwrap_or(0.0));
            let (s2_min, s2_ms) = split_ms(s2.unwrap_or(0.0));
            let (front_min, front_ms) = split_ms(car.interval_s.unwrap_or(0.0));
            let (leader_min, leader_ms) = split_ms(car.gap_to_leader_s.unwrap_or(0.0));
            let length = state.session.track_length_m;
            let sector = if s2.is_some() {
                2
            } else if s1.is_some() {
                1
            } else {
                0
            };
            records[usize::from(car.car_idx)] = LapData {
                last_lap_time_in_ms: car.last_lap_s.map_or(0, ms),
                current_lap_time_in_ms: ms(car.current_lap_s),
                sector1_time_ms_part: s1_ms,
                sector1_time_minutes_part: s1_min,
                sector2_time_ms_part: s2_ms,
                sector2_time_minutes_part: s2_min,
                delta_to_car_in_front_ms_part: front_ms,
                delta_to_car_in_front_minutes_part: front_min,
                delta_to_race_leader_ms_part: leader_ms,
                delta_to_race_leader_minutes_part: leader_min,
                lap_distance: car.lap_distance_m as f32,
                total_distance: total_distance(car, length) as f32,
                car_position: car.position,
                current_lap_num: car.lap.min(255) as u8,
                pit_status: match car.pit_status {
                    PitStatus::None => 0,
                    PitStatus::PitLane => 1,
                    PitStatus::PitBox => 2,
                },
                num_pit_stops: car.pit_stops.min(255) as u8,
                penalties: car.penalties_s.min(255) as u8,
                // The state keeps the sum; the game's two counters get it as drive-throughs.
                num_unserved_drive_through_pens: car.unserved_penalties,
                sector,
                grid_position: car.grid_position,
                driver_status: match car.driver_status {
                    DriverStatus::InGarage => 0,
                    DriverStatus::FlyingLap => 1,
                    DriverStatus::InLap => 2,
                    DriverStatus::OutLap => 3,
                    DriverStatus::OnTrack => 4,
                },
                result_status: result_status_id(car.result_status),
                pit_lane_timer_active: u8::from(car.pit_status != PitStatus::None),
                ..LapData::default()
            };
        }
        LapDataPacket {
            lap_data: LapDataRecords::Current(records),
            time_trial_pb_car_idx: 255,
            time_trial_rival_car_idx: 255,
        }
    }
}

/// Distance covered since the start, in metres.
fn total_distance(car: &CarState, length: f64) -> f64 {
    f64::from(car.lap.saturating_sub(1)) * length + car.lap_distance_m
}

/// Seconds to whole milliseconds.
fn ms(s: f64) -> u32 {
    (s * 1000.0).round().clamp(0.0, f64::from(u32::MAX)) as u32
}

/// Seconds to EA's (minutes, milliseconds-within-the-minute) pair.
fn split_ms(s: f64) -> (u8, u16) {
    let total = ms(s);
    ((total / 60_000).min(255) as u8, (total % 60_000) as u16)
}

/// EA's result status (§7: 2 active, 3 finished, 4 DNF, 5 DSQ, 7 retired).
fn result_status_id(status: ResultStatus) -> u8 {
    match status {
        ResultStatus::Active => 2,
        ResultStatus::Finished => 3,
        ResultStatus::Dnf => 4,
        ResultStatus::Disqualified => 5,
        ResultStatus::Retired => 7,
    }
}

fn weather_id(w: Weather) -> u8 {
    match w {
        Weather::Clear => 0,
        Weather::LightCloud => 1,
        Weather::Overcast => 2,
        Weather::LightRain => 3,
        Weather::HeavyRain => 4,
        Weather::Storm => 5,
    }
}

/// The game's track id for a track name (−1 when the game does not have it).
fn track_id(name: &str) -> i8 {
    (0..=40i8)
        .find(|&id| super::normalize::track_name(id).eq_ignore_ascii_case(name))
        .unwrap_or(-1)
}

/// The game's team id for a team name: the current ten by name, and the 2019 teams by their successors.
fn team_id(name: &str) -> u8 {
    let n = name.to_ascii_lowercase();
    const SUCCESSORS: [(&str, u8); 4] = [
        ("racing point", 4),
        ("renault", 5),
        ("toro rosso", 6),
        ("alfa romeo", 9),
    ];
    if let Some((_, id)) = SUCCESSORS.iter().find(|(old, _)| n.contains(old)) {
        return *id;
    }
    super::normalize::team_id_by_name(name).unwrap_or(255)
}

/// Visual compound ids (§7.1): 16 soft, 17 medium, 18 hard, 7 inter, 8 wet; actual compounds C3/C2/C1 for Sakhir.
fn compound_ids(c: Compound) -> (u8, u8) {
    match c {
        Compound::Soft => (18, 16),
        Compound::Medium => (19, 17),
        Compound::Hard => (20, 18),
        Compound::Intermediate => (7, 7),
        Compound::Wet => (8, 8),
    }
}

fn participants(state: &RaceState, n_cars: usize) -> Participants {
    let mut list = vec![
        ParticipantData {
            team_id: 255,
            tech_level: Some(0),
            num_colours: Some(0),
            livery_colours: Some(Default::default()),
            ..ParticipantData::default()
        };
        n_cars
    ];
    for car in &state.cars {
        list[usize::from(car.car_idx)] = ParticipantData {
            ai_controlled: 1,
            driver_id: car.car_idx,
            network_id: 255,
            team_id: team_id(&car.team.name),
            race_number: car.driver.number,
            name: car.driver.name.clone(),
            // AI cars are public; a restricted car's driver hides its telemetry.
            your_telemetry: u8::from(!car.telemetry_restricted),
            show_online_names: 1,
            tech_level: Some(0),
            platform: 255,
            num_colours: Some(0),
            livery_colours: Some(Default::default()),
            ..ParticipantData::default()
        };
    }
    Participants {
        num_active_cars: state.cars.len() as u8,
        participants: list,
    }
}

fn telemetry(state: &RaceState, n_cars: usize) -> CarTelemetryPacket {
    let mut data = vec![CarTelemetryData::default(); n_cars];
    for car in &state.cars {
        // EA's wheel order: RL, RR, FL, FR.
        let c = &car.tyres.corners;
        let ea = [c.rear_left, c.rear_right, c.front_left, c.front_right];
        let speed = car.speed_kph.clamp(0.0, 400.0);
        data[usize::from(car.car_idx)] = CarTelemetryData {
            speed: speed.round() as u16,
            throttle: (car.throttle_pct / 100.0).clamp(0.0, 1.0) as f32,
            brake: (car.brake_pct / 100.0).clamp(0.0, 1.0) as f32,
            gear: car.gear.clamp(-1, 8),
            engine_rpm: (4000.0 + speed * 35.0).min(13_000.0) as u16,
            brakes_temperature: [450; 4],
            tyres_surface_temperature: ea.map(|w| w.surface_temp_c.round().clamp(0.0, 255.0) as u8),
            tyres_inner_temperature: ea.map(|w| w.inner_temp_c.round().clamp(0.0, 255.0) as u8),
            engine_temperature: 105,
            tyres_pressure: ea.map(|w| w.pressure_psi as f32),
            ..CarTelemetryData::default()
        };
    }
    CarTelemetryPacket {
        car_telemetry_data: data,
        mfd_panel_index: 255,
        mfd_panel_index_secondary_player: 255,
        suggested_gear: 0,
    }
}

fn status(state: &RaceState, n_cars: usize) -> CarStatusPacket {
    let mut data = vec![CarStatusData::default(); n_cars];
    for car in &state.cars {
        let (actual, visual) = compound_ids(car.tyres.compound);
        let entry = &mut data[usize::from(car.car_idx)];
        *entry = CarStatusData {
            traction_control: 0,
            anti_lock_brakes: 0,
            fuel_mix: 1,
            front_brake_bias: 56,
            pit_limiter_status: u8::from(car.pit_status != PitStatus::None),
            fuel_in_tank: car.fuel_kg as f32,
            fuel_capacity: 110.0,
            max_rpm: 13_000,
            idle_rpm: 4_000,
            max_gears: 8,
            actual_tyre_compound: actual,
            visual_tyre_compound: visual,
            tyres_age_laps: car.tyres.age_laps.min(255) as u8,
            // The ERS store holds 4 MJ.
            ers_store_energy: (car.ers_store_pct / 100.0 * 4.0e6) as f32,
            ers_deploy_mode: 1,
            ..CarStatusData::default()
        };
        if car.telemetry_restricted {
            // What the game zeroes for a restricted car.
            entry.fuel_mix = 0;
            entry.front_brake_bias = 0;
            entry.fuel_in_tank = 0.0;
            entry.fuel_capacity = 0.0;
            entry.ers_store_energy = 0.0;
            entry.ers_deploy_mode = 0;
        }
    }
    CarStatusPacket {
        car_status_data: data,
    }
}

fn damage(state: &RaceState, n_cars: usize) -> CarDamagePacket {
    let mut data = vec![
        CarDamageData {
            tyre_blisters: Some([0; 4]),
            ..CarDamageData::default()
        };
        n_cars
    ];
    for car in state.cars.iter().filter(|c| !c.telemetry_restricted) {
        let c = &car.tyres.corners;
        let d = &car.damage;
        let pct = |x: f64| x.round().clamp(0.0, 100.0) as u8;
        let ea = [c.rear_left, c.rear_right, c.front_left, c.front_right];
        data[usize::from(car.car_idx)] = CarDamageData {
            tyres_wear: ea.map(|w| w.wear_pct as f32),
            // The 2025 format always carries blisters: none where the state has none.
            tyre_blisters: Some(ea.map(|w| pct(w.blister_pct.unwrap_or(0.0)))),
            front_left_wing_damage: pct(d.front_left_wing_pct),
            front_right_wing_damage: pct(d.front_right_wing_pct),
            rear_wing_damage: pct(d.rear_wing_pct),
            floor_damage: pct(d.floor_pct),
            gear_box_damage: pct(d.gearbox_pct),
            engine_damage: pct(d.engine_pct),
            ..CarDamageData::default()
        };
    }
    CarDamagePacket {
        car_damage_data: data,
    }
}

/// Positions on a circle whose circumference is the lap: the state has no track map, so Motion is a stand-in
/// that keeps distances and speeds consistent.
fn motion(state: &RaceState, n_cars: usize) -> Motion {
    let length = state.session.track_length_m.max(1.0);
    let radius = length / std::f64::consts::TAU;
    let mut data = vec![CarMotionData::default(); n_cars];
    for car in &state.cars {
        let angle = car.lap_distance_m / length * std::f64::consts::TAU;
        let (sin, cos) = (libm::sin(angle), libm::cos(angle));
        let v = car.speed_kph / 3.6;
        data[usize::from(car.car_idx)] = CarMotionData {
            world_position_x: (radius * cos) as f32,
            world_position_z: (radius * sin) as f32,
            world_velocity_x: (-v * sin) as f32,
            world_velocity_z: (v * cos) as f32,
            world_forward_dir_x: (-sin * 32767.0) as i16,
            world_forward_dir_z: (cos * 32767.0) as i16,
            world_right_dir_x: (cos * 32767.0) as i16,
            world_right_dir_z: (sin * 32767.0) as i16,
            yaw: angle as f32,
            ..CarMotionData::default()
        };
    }
    Motion {
        car_motion_data: data,
    }
}

/// The 2025 result reason (FinalClassification, RTMT) of a result: 2 finished, 3 terminal damage (an accident),
/// 8 mechanical failure (a retirement), 6 black flagged (disqualified), 0 invalid while racing.
fn result_reason(status: ResultStatus) -> u8 {
    match status {
        ResultStatus::Finished => 2,
        ResultStatus::Dnf => 3,
        ResultStatus::Retired => 8,
        ResultStatus::Disqualified => 6,
        ResultStatus::Active => 0,
    }
}

fn classification(state: &RaceState, n_cars: usize) -> FinalClassification {
    const POINTS: [u8; 10] = [25, 18, 15, 12, 10, 8, 6, 4, 2, 1];
    let mut data = vec![
        FinalClassificationData {
            result_reason: Some(0),
            ..FinalClassificationData::default()
        };
        n_cars
    ];
    for car in &state.cars {
        let mut actual = [0u8; 8];
        let mut visual = [0u8; 8];
        let mut end_laps = [0u8; 8];
        for (k, stint) in car.stints.iter().take(8).enumerate() {
            (actual[k], visual[k]) = compound_ids(stint.compound);
            end_laps[k] = (stint.start_lap + stint.laps).min(255) as u8;
        }
        let finished = car.result_status == ResultStatus::Finished;
        data[usize::from(car.car_idx)] = FinalClassificationData {
            position: car.position,
            num_laps: if finished {
                state.session.total_laps.min(255) as u8
            } else {
                car.lap.saturating_sub(1).min(255) as u8
            },
            grid_position: car.grid_position,
            points: if finished {
                usize::from(car.position)
                    .checked_sub(1)
                    .and_then(|k| POINTS.get(k))
                    .copied()
                    .unwrap_or(0)
            } else {
                0
            },
            num_pit_stops: car.pit_stops.min(255) as u8,
            result_status: result_status_id(car.result_status),
            result_reason: Some(result_reason(car.result_status)),
            best_lap_time_in_ms: car.best_lap_s.map_or(0, ms),
            // The state has no per-car finish time: the session time plus the gap to the leader approximates it.
            total_race_time: state.session_time_s + car.gap_to_leader_s.unwrap_or(0.0),
            num_tyre_stints: car.stints.len().min(8) as u8,
            tyre_stints_actual: actual,
            tyre_stints_visual: visual,
            tyre_stints_end_laps: end_laps,
            ..FinalClassificationData::default()
        };
    }
    FinalClassification {
        num_cars: state.cars.len() as u8,
        classification_data: data,
    }
}

#[cfg(test)]
mod tests;
