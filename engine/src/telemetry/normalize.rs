//! Normalization: a stream of decoded game packets in, the engine's [`RaceState`] out (the same model the simulator
//! produces, so the twins and the app work the same on live data).
//!
//! Rules, from the spec and real captures:
//! - a session is keyed by `session_uid`; a new one resets everything, but a datagram of the session just left
//!   (UDP delivered it after the new session's first) is late, not the old session beginning again: it is counted
//!   and left out while its frame and overall frame ids are within [`REORDER_FRAMES`] of that session's newest;
//! - a flashback (the frame id going back within a session while the overall frame id does not, or an `FLBK`
//!   event) rewinds: stints that begin after the rewound lap, and the best lap and sectors of the laps it undid, are
//!   dropped when the next LapData arrives;
//! - a datagram that UDP delivered late (its overall frame id behind the newest seen; where the game sends no
//!   overall frame id, its frame id at most [`REORDER_FRAMES`] behind and no `FLBK`) is older than what is known:
//!   counted and left out, except an event, which happens once;
//! - a header with frame and overall frame ids both zero (the game stamps some events so) is neither;
//! - retired cars stay listed (LapData keeps them in their slots with result status 7);
//! - names may arrive after timing (Participants comes every 5 s): a car is `Car N` until then;
//! - `player_car_index` 255 means spectating and is never used as an index;
//! - the safety car comes from both the Session packet and `SCAR` events (whichever is newer: a `SCAR` event holds
//!   until the Session packet's own status changes or agrees, since the packets sent just after an event still
//!   carry the old status and would flicker it back for half a second);
//! - a red flag (`RDFL`, or the Session packet's count of red-flag periods going up) holds until the lights go out
//!   for the restart (`LGOT`), a `SCAR` event, or the flag (`CHQF`, `SEND`): the Session packet has no status for it
//!   and would otherwise turn it green twice a second.

#[cfg(doc)]
use super::RacePacket;
use super::{
    Body, CarDamageData, CarStatusData, CarTelemetryData, EventDetails, LapDataRecords, Packet,
    PacketHeader,
};
use crate::sorting::sort_by_key;
use crate::wire::{
    CarState, Compound, Corners, Damage, DataSource, Driver, DriverStatus, Forecast, PitStatus,
    RaceState, ResultStatus, SCHEMA_VERSION, SessionInfo, SessionPhase, SessionType, Stint, Team,
    TrackStatus, TyreCorner, TyreSet, Weather,
};

/// Pit-lane loss assumed until a track-specific figure is known, in seconds: the median F1 pit lane in
/// `shared/data/races` (21.9–30 s lane time) minus the time the lane saves over the track, roughly.
pub const DEFAULT_PIT_LANE_LOSS_S: f64 = 22.0;

/// Frames a datagram may lag behind the newest one and still be taken for a datagram UDP delivered late rather than
/// a flashback, where the game sends no overall frame id (F1 25 sending an older format): a flashback goes back
/// further, and says so with an `FLBK` event. Ten frames are 0.08–0.17 s at the games' 60–120 frames a second.
pub const REORDER_FRAMES: u32 = 10;

/// Normalizes a packet stream. Feed it every decoded packet with [`Normalizer::push`].
#[derive(Clone, Debug, Default)]
pub struct Normalizer {
    session_uid: Option<u64>,
    /// The session left for this one: its id and newest frame and overall frame ids.
    previous_session: Option<(u64, u32, u32)>,
    format: u16,
    last_frame: u32,
    /// The newest overall frame id seen (it never goes back in a session).
    last_overall_frame: u32,
    session_time_s: f64,
    session: Option<SessionFacts>,
    /// The safety-car status; SCAR events and Session packets both set it, the latest wins.
    track_status: TrackStatus,
    /// The Session packet's own safety-car status, as last seen.
    session_status: Option<TrackStatus>,
    /// A `SCAR` event set `track_status` and the Session packet has not moved since.
    scar_holds: bool,
    /// A red flag is out (it overrides `track_status`).
    red_flag: bool,
    /// The Session packet's count of red-flag periods, as last seen.
    red_flag_periods: Option<u8>,
    phase: SessionPhase,
    player_car: Option<u8>,
    /// The second split-screen player's car.
    secondary_car: Option<u8>,
    cars: Vec<CarSlot>,
    rewound: bool,
    /// The frame of the last flashback seen.
    last_flashback_frame: Option<u32>,
    counters: NormalizerCounters,
}

/// What a datagram's header says of its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Take {
    /// Newer than what is known: apply it.
    Current,
    /// Of this session, older than what is known (UDP reordered it).
    Late,
    /// Of the session left for this one, sent before the change.
    Ended,
}

/// Counts of notable things the normalizer did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NormalizerCounters {
    /// Packets seen, over every session, late ones too.
    pub packets: u64,
    /// Times the session changed.
    pub session_resets: u64,
    /// Flashbacks (frame going back, or FLBK).
    pub flashbacks: u64,
    /// Datagrams older than one already taken (UDP reordered them), left out (a late event of the session is
    /// applied and not counted), and datagrams of the session just left that arrived after the new one's first.
    pub late_datagrams: u64,
}

#[derive(Clone, Debug)]
struct SessionFacts {
    track_id: i8,
    track_length_m: f64,
    total_laps: u32,
    session_type: SessionType,
    weather: Weather,
    air_temp_c: f64,
    track_temp_c: f64,
    forecast: Vec<Forecast>,
}

#[derive(Clone, Debug, Default)]
struct CarSlot {
    lap: Option<LapFacts>,
    name: Option<String>,
    team_id: Option<u8>,
    race_number: Option<u8>,
    /// Participants' `yourTelemetry`: 0 restricted, 1 public.
    your_telemetry: Option<u8>,
    telemetry: Option<CarTelemetryData>,
    status: Option<CarStatusData>,
    damage: Option<CarDamageData>,
    best_lap_s: Option<f64>,
    last_sectors_s: [Option<f64>; 3],
    best_sectors_s: [Option<f64>; 3],
    stints: Vec<Stint>,
    /// Per stint, the car's pit stops when it began (a flashback before a stop drops the stints it began).
    stint_stops: Vec<u32>,
    /// Pit stops when the current stint began, to tell a stop from a compound read glitch.
    stint_pit_stops: u32,
    /// A flashback undid a stop: the tyres known are the undone stop's until the next CarStatus, so no stint is
    /// begun from them.
    tyres_stale: bool,
    /// The last lap completed was invalidated (track limits): it sets no best lap or sector.
    last_lap_invalid: bool,
    /// The laps seen completed, oldest first: a flashback drops those it undid and the bests are taken again.
    laps_done: Vec<DoneLap>,
}

/// A lap seen completed.
#[derive(Clone, Copy, Debug)]
struct DoneLap {
    lap: u32,
    time_s: Option<f64>,
    sectors_s: [Option<f64>; 3],
    invalid: bool,
}

/// What LapData says about one car, in the engine's units.
#[derive(Clone, Copy, Debug, Default)]
struct LapFacts {
    position: u8,
    lap: u32,
    lap_distance_m: f64,
    total_distance_m: f64,
    current_lap_s: f64,
    last_lap_s: Option<f64>,
    sector1_s: Option<f64>,
    sector2_s: Option<f64>,
    gap_to_leader_s: f64,
    interval_s: f64,
    pit_status: u8,
    pit_stops: u32,
    penalties_s: u32,
    unserved_penalties: u8,
    grid: u8,
    driver_status: u8,
    result_status: u8,
    /// The lap under way is invalidated (track limits).
    lap_invalid: bool,
}

impl CarSlot {
    /// The best lap and sectors, and the last lap's sectors, from the laps done (after a flashback undid some).
    fn rebook_bests(&mut self) {
        let valid = || self.laps_done.iter().filter(|d| !d.invalid);
        self.best_lap_s = valid().filter_map(|d| d.time_s).min_by(f64::total_cmp);
        self.best_sectors_s = std::array::from_fn(|k| {
            valid()
                .filter_map(|d| d.sectors_s[k])
                .min_by(f64::total_cmp)
        });
        let last = self.laps_done.last();
        self.last_sectors_s = last.map_or([None; 3], |d| d.sectors_s);
        self.last_lap_invalid = last.is_some_and(|d| d.invalid);
    }
}

impl Normalizer {
    /// An empty normalizer, waiting for a session.
    pub fn new() -> Self {
        Normalizer::default()
    }

    /// What the normalizer has counted so far.
    pub fn counters(&self) -> NormalizerCounters {
        self.counters
    }

    /// The session being followed, if any packet arrived.
    pub fn session_uid(&self) -> Option<u64> {
        self.session_uid
    }

    /// The player's car, if the player is driving (not spectating).
    pub fn player_car(&self) -> Option<u8> {
        self.player_car
    }

    /// Feeds one packet.
    pub fn push(&mut self, packet: &Packet) {
        let event = match &packet.body {
            Body::Event(e) => Some(e.event_string_code.as_str()),
            _ => None,
        };
        match self.take_header(&packet.header, event) {
            Take::Current => self.push_body(&packet.body),
            // A late event of this session still happened, and only once: it is applied.
            Take::Late if event.is_some() => self.push_body(&packet.body),
            Take::Late | Take::Ended => {}
        }
    }

    /// Feeds the header of a packet whose body is not read here (a [`RacePacket::Other`] from
    /// [`super::decode_for_race`]): headers alone carry session changes, flashbacks, the session time and the
    /// player's car.
    pub fn push_header(&mut self, h: &PacketHeader) {
        let _ = self.take_header(h, None);
    }

    /// Takes a header (`event`: the code of its packet's event, if it is one) and says what its body is. A late
    /// datagram is counted unless it is an event of this session, which is applied all the same.
    fn take_header(&mut self, h: &PacketHeader, event: Option<&str>) -> Take {
        let late = |n: &mut Normalizer| {
            n.counters.late_datagrams += u64::from(event.is_none());
            Take::Late
        };
        self.counters.packets += 1;
        if let Some((uid, frame, overall)) = self.previous_session
            && uid == h.session_uid
            && h.frame_identifier <= frame.saturating_add(REORDER_FRAMES)
            && h.overall_frame_identifier <= overall.saturating_add(REORDER_FRAMES)
        {
            // Sent before the session changed and delivered after: whatever it says is over (an event too).
            self.counters.late_datagrams += 1;
            return Take::Ended;
        }
        if self.session_uid != Some(h.session_uid) {
            let previous_session = self
                .session_uid
                .map(|uid| (uid, self.last_frame, self.last_overall_frame));
            let counters = NormalizerCounters {
                session_resets: self.counters.session_resets
                    + u64::from(self.session_uid.is_some()),
                ..self.counters
            };
            *self = Normalizer {
                session_uid: Some(h.session_uid),
                previous_session,
                format: h.packet_format,
                counters,
                ..Normalizer::default()
            };
        } else if h.frame_identifier == 0 && h.overall_frame_identifier == 0 {
            // Unstamped (the game sends some events so): neither late nor a flashback, and no time.
            return Take::Current;
        } else if h.overall_frame_identifier != 0 {
            if h.overall_frame_identifier < self.last_overall_frame {
                return late(self);
            }
            if h.frame_identifier < self.last_frame {
                self.flashback(h.frame_identifier);
            }
        } else if h.frame_identifier < self.last_frame {
            if self.last_frame - h.frame_identifier <= REORDER_FRAMES && event != Some("FLBK") {
                return late(self);
            }
            self.flashback(h.frame_identifier);
        }
        self.last_frame = h.frame_identifier;
        self.last_overall_frame = self.last_overall_frame.max(h.overall_frame_identifier);
        self.session_time_s = f64::from(h.session_time);
        self.player_car = (h.player_car_index < 255).then_some(h.player_car_index);
        self.secondary_car =
            (h.secondary_player_car_index < 255).then_some(h.secondary_player_car_index);
        Take::Current
    }

    fn push_body(&mut self, body: &Body) {
        match body {
            Body::Session(s) => {
                self.session = Some(SessionFacts {
                    track_id: s.track_id,
                    track_length_m: f64::from(s.track_length),
                    total_laps: u32::from(s.total_laps),
                    session_type: session_type(self.format, s.session_type),
                    weather: weather(s.weather),
                    air_temp_c: f64::from(s.air_temperature),
                    track_temp_c: f64::from(s.track_temperature),
                    forecast: forecast(s),
                });
                let status = match s.safety_car_status {
                    1 => TrackStatus::SafetyCar,
                    2 => TrackStatus::VirtualSafetyCar,
                    _ => TrackStatus::Green,
                };
                let moved = self.session_status != Some(status);
                self.session_status = Some(status);
                if moved || !self.scar_holds || status == self.track_status {
                    self.track_status = status;
                    self.scar_holds = false;
                }
                // Only a count going up: a relay that joins after a red flag sees the count it had from the start.
                if self
                    .red_flag_periods
                    .is_some_and(|seen| s.num_red_flag_periods > seen)
                {
                    self.red_flag = true;
                }
                self.red_flag_periods = Some(s.num_red_flag_periods);
            }
            Body::LapData(l) => {
                self.lap_data(&l.lap_data);
                self.track_stints();
            }
            Body::Event(e) => self.event(&e.event_string_code, &e.event_details),
            Body::Participants(p) => {
                for (slot, d) in self.slots(p.participants.len()).zip(&p.participants) {
                    slot.name = (!d.name.is_empty()).then(|| d.name.clone());
                    slot.team_id = (d.team_id != 255).then_some(d.team_id);
                    slot.race_number = Some(d.race_number);
                    slot.your_telemetry = Some(d.your_telemetry);
                }
            }
            Body::CarTelemetry(t) => {
                for (slot, d) in self
                    .slots(t.car_telemetry_data.len())
                    .zip(&t.car_telemetry_data)
                {
                    slot.telemetry = Some(*d);
                }
            }
            Body::CarStatus(s) => {
                for (slot, d) in self.slots(s.car_status_data.len()).zip(&s.car_status_data) {
                    slot.status = Some(*d);
                    slot.tyres_stale = false;
                }
                self.track_stints();
            }
            Body::CarDamage(d) => {
                for (slot, d) in self.slots(d.car_damage_data.len()).zip(&d.car_damage_data) {
                    slot.damage = Some(*d);
                }
            }
            _ => {}
        }
    }

    fn slots(&mut self, n: usize) -> std::slice::IterMut<'_, CarSlot> {
        if self.cars.len() < n {
            self.cars.resize_with(n, CarSlot::default);
        }
        self.cars.iter_mut()
    }

    /// A flashback seen at frame `frame`. One flashback shows twice (the frame id going back, then the FLBK event,
    /// a few frames apart): counted once.
    fn flashback(&mut self, frame: u32) {
        /// Frames between the two signs of one flashback, at most (a second at 60 Hz).
        const ECHO_FRAMES: u32 = 60;
        if self
            .last_flashback_frame
            .is_none_or(|f| frame.abs_diff(f) > ECHO_FRAMES)
        {
            self.counters.flashbacks += 1;
        }
        self.last_flashback_frame = Some(frame);
        self.rewound = true;
    }

    fn event(&mut self, code: &str, details: &EventDetails) {
        match (code, details) {
            ("SSTA", _) => self.phase = SessionPhase::Running,
            ("CHQF", _) => {
                self.phase = SessionPhase::Chequered;
                self.red_flag = false;
            }
            ("SEND", _) => {
                self.phase = SessionPhase::Finished;
                self.red_flag = false;
            }
            // The frame the game went back to: the one the header's frame id showed first.
            (
                "FLBK",
                EventDetails::Flashback {
                    flashback_frame_identifier,
                    ..
                },
            ) => self.flashback(*flashback_frame_identifier),
            ("FLBK", _) => self.flashback(self.last_frame),
            ("RDFL", _) => self.red_flag = true,
            // The restart's lights went out.
            ("LGOT", _) => self.red_flag = false,
            (
                "SCAR",
                EventDetails::SafetyCar {
                    safety_car_type,
                    event_type,
                },
            ) => {
                let status = match (safety_car_type, event_type) {
                    // Deployed or still out (returning): the phase is on.
                    (1, 0 | 1) => TrackStatus::SafetyCar,
                    (2, 0 | 1) => TrackStatus::VirtualSafetyCar,
                    _ => TrackStatus::Green,
                };
                self.track_status = status;
                self.scar_holds = true;
                // After a red flag the race resumes behind the safety car, or a SCAR says it resumes.
                self.red_flag = false;
            }
            _ => {}
        }
    }

    fn lap_data(&mut self, records: &LapDataRecords) {
        let facts: Vec<LapFacts> = match records {
            LapDataRecords::Current(v) => v
                .iter()
                .map(|d| LapFacts {
                    position: d.car_position,
                    lap: u32::from(d.current_lap_num),
                    lap_distance_m: f64::from(d.lap_distance),
                    total_distance_m: f64::from(d.total_distance),
                    current_lap_s: f64::from(d.current_lap_time_in_ms) / 1000.0,
                    last_lap_s: ms(d.last_lap_time_in_ms),
                    sector1_s: ms(u32::from(d.sector1_time_minutes_part) * 60_000
                        + u32::from(d.sector1_time_ms_part)),
                    sector2_s: ms(u32::from(d.sector2_time_minutes_part) * 60_000
                        + u32::from(d.sector2_time_ms_part)),
                    gap_to_leader_s: f64::from(
                        u32::from(d.delta_to_race_leader_minutes_part) * 60_000
                            + u32::from(d.delta_to_race_leader_ms_part),
                    ) / 1000.0,
                    interval_s: f64::from(
                        u32::from(d.delta_to_car_in_front_minutes_part) * 60_000
                            + u32::from(d.delta_to_car_in_front_ms_part),
                    ) / 1000.0,
                    pit_status: d.pit_status,
                    pit_stops: u32::from(d.num_pit_stops),
                    penalties_s: u32::from(d.penalties),
                    unserved_penalties: d
                        .num_unserved_drive_through_pens
                        .saturating_add(d.num_unserved_stop_go_pens),
                    grid: d.grid_position,
                    driver_status: d.driver_status,
                    result_status: d.result_status,
                    lap_invalid: d.current_lap_invalid != 0,
                })
                .collect(),
            LapDataRecords::F123(v) => v
                .iter()
                .map(|d| LapFacts {
                    position: d.car_position,
                    lap: u32::from(d.current_lap_num),
                    lap_distance_m: f64::from(d.lap_distance),
                    total_distance_m: f64::from(d.total_distance),
                    current_lap_s: f64::from(d.current_lap_time_in_ms) / 1000.0,
                    last_lap_s: ms(d.last_lap_time_in_ms),
                    sector1_s: ms(u32::from(d.sector1_time_minutes) * 60_000
                        + u32::from(d.sector1_time_in_ms)),
                    sector2_s: ms(u32::from(d.sector2_time_minutes) * 60_000
                        + u32::from(d.sector2_time_in_ms)),
                    gap_to_leader_s: f64::from(d.delta_to_race_leader_in_ms) / 1000.0,
                    interval_s: f64::from(d.delta_to_car_in_front_in_ms) / 1000.0,
                    pit_status: d.pit_status,
                    pit_stops: u32::from(d.num_pit_stops),
                    penalties_s: u32::from(d.penalties),
                    unserved_penalties: d
                        .num_unserved_drive_through_pens
                        .saturating_add(d.num_unserved_stop_go_pens),
                    grid: d.grid_position,
                    driver_status: d.driver_status,
                    result_status: d.result_status,
                    lap_invalid: d.current_lap_invalid != 0,
                })
                .collect(),
        };
        let rewound = std::mem::take(&mut self.rewound);
        for (slot, new) in self.slots(facts.len()).zip(facts) {
            if rewound {
                // Stints that began after the rewound moment: on later laps, or at a stop the flashback undid (on
                // the same lap).
                let keep = slot
                    .stints
                    .iter()
                    .zip(&slot.stint_stops)
                    .take_while(|(s, stops)| s.start_lap <= new.lap && **stops <= new.pit_stops)
                    .count();
                if keep < slot.stints.len() {
                    slot.stints.truncate(keep);
                    slot.stint_stops.truncate(keep);
                    slot.stint_pit_stops = slot.stint_stops.last().copied().unwrap_or(0);
                    // The tyres known are the undone stop's until the next CarStatus.
                    slot.tyres_stale = true;
                }
                // Laps the flashback undid set no best.
                let done = slot.laps_done.len();
                slot.laps_done.retain(|d| d.lap < new.lap);
                if slot.laps_done.len() < done {
                    slot.rebook_bests();
                }
            }
            // A lap completed: book its sectors (sector 3 is what is left of the lap time). The game flags the lap
            // under way as invalid (track limits) until it is done: a deleted lap sets no best.
            if slot.lap.is_none()
                && let Some(last) = new.last_lap_s
            {
                // The lap before the relay joined: its time is all that is known of it.
                slot.laps_done.push(DoneLap {
                    lap: new.lap.saturating_sub(1),
                    time_s: Some(last),
                    sectors_s: [None; 3],
                    invalid: false,
                });
            }
            if let Some(old) = slot.lap
                && new.lap > old.lap
            {
                slot.last_lap_invalid = old.lap_invalid;
                slot.laps_done.push(DoneLap {
                    lap: old.lap,
                    time_s: new.last_lap_s,
                    sectors_s: [None; 3],
                    invalid: old.lap_invalid,
                });
                if let Some(last) = new.last_lap_s {
                    let s3 = match (old.sector1_s, old.sector2_s) {
                        (Some(a), Some(b)) if last > a + b => Some(last - a - b),
                        _ => None,
                    };
                    slot.last_sectors_s = [old.sector1_s, old.sector2_s, s3];
                    if let Some(done) = slot.laps_done.last_mut() {
                        done.sectors_s = slot.last_sectors_s;
                    }
                    if !old.lap_invalid {
                        for (best, s) in slot.best_sectors_s.iter_mut().zip(slot.last_sectors_s) {
                            if let Some(s) = s {
                                *best = Some(best.map_or(s, |b: f64| b.min(s)));
                            }
                        }
                    }
                }
            }
            if let Some(last) = new.last_lap_s
                && !slot.last_lap_invalid
            {
                slot.best_lap_s = Some(slot.best_lap_s.map_or(last, |b| b.min(last)));
            }
            slot.lap = Some(new);
        }
    }

    /// Stints follow the tyres: a new one when the compound changes or a stop resets the tyre age.
    fn track_stints(&mut self) {
        for slot in &mut self.cars {
            let (Some(lap), Some(status), false) = (slot.lap, slot.status, slot.tyres_stale) else {
                continue;
            };
            let compound = compound(status.visual_tyre_compound);
            let age = u32::from(status.tyres_age_laps);
            match slot.stints.last_mut() {
                Some(stint)
                    if stint.compound == compound
                        && !(lap.pit_stops > slot.stint_pit_stops && age < stint.laps) =>
                {
                    stint.laps = lap.lap.saturating_sub(stint.start_lap);
                }
                _ => {
                    slot.stints.push(Stint {
                        compound,
                        start_lap: lap.lap.max(1),
                        laps: 0,
                        start_age_laps: age,
                    });
                    slot.stint_stops.push(lap.pit_stops);
                    slot.stint_pit_stops = lap.pit_stops;
                }
            }
        }
    }

    /// The race as a [`RaceState`], once a Session and a LapData packet have arrived.
    pub fn state(&self) -> Option<RaceState> {
        let session = self.session.clone()?;
        let track_length_m = session.track_length_m.max(1.0);
        let mut cars: Vec<(usize, &CarSlot, LapFacts)> = self
            .cars
            .iter()
            .enumerate()
            .filter_map(|(i, slot)| {
                slot.lap
                    .filter(|l| l.position > 0 && l.result_status >= 2)
                    .map(|l| (i, slot, l))
            })
            .collect();
        if cars.is_empty() {
            return None;
        }
        sort_by_key(&mut cars, |(i, _, l)| (l.position, *i));
        let leader = cars[0].2;
        // EA zeroes a car's fuel, ERS, wear and damage for everyone but its own driver when that driver's
        // telemetry is restricted (AI cars are public). A car whose status carries fuel is not hidden, whatever
        // the flag says.
        let restricted = |i: usize, slot: &CarSlot| {
            let own = [self.player_car, self.secondary_car].contains(&u8::try_from(i).ok());
            slot.your_telemetry == Some(0)
                && !own
                && slot.status.is_none_or(|s| s.fuel_in_tank == 0.0)
        };
        let out: Vec<CarState> = cars
            .iter()
            .enumerate()
            .map(|(k, (i, slot, l))| {
                let mut car = car_state(*i as u8, k as u8 + 1, slot, l, &leader, track_length_m);
                car.telemetry_restricted = restricted(*i, slot);
                if car.telemetry_restricted {
                    // The game zeroes a restricted car's damage, blisters with it: not measured, not none.
                    car.tyres.corners = car.tyres.corners.map(|c| TyreCorner {
                        blister_pct: None,
                        ..c
                    });
                }
                car
            })
            .collect();
        Some(RaceState {
            schema_version: SCHEMA_VERSION,
            source: DataSource::Live,
            session_time_s: self.session_time_s,
            session: SessionInfo {
                track: track_name(session.track_id).to_owned(),
                track_length_m,
                total_laps: session.total_laps,
                session_type: session.session_type,
                phase: self.phase,
                leader_lap: leader.lap,
                weather: session.weather,
                air_temp_c: session.air_temp_c,
                track_temp_c: session.track_temp_c,
                forecast: session.forecast.clone(),
                track_status: if self.red_flag {
                    TrackStatus::Red
                } else {
                    self.track_status
                },
                pit_lane_loss_s: DEFAULT_PIT_LANE_LOSS_S,
                timing_only: false,
            },
            cars: out,
        })
    }
}

fn car_state(
    idx: u8,
    position: u8,
    slot: &CarSlot,
    l: &LapFacts,
    leader: &LapFacts,
    track_length_m: f64,
) -> CarState {
    let name = slot
        .name
        .clone()
        .unwrap_or_else(|| format!("Car {}", u32::from(idx) + 1));
    let (team_name, colour) = team(slot.team_id);
    let is_leader = position == 1;
    let t = slot.telemetry;
    let st = slot.status;
    let dmg = slot.damage;
    // EA's wheel arrays are RL, RR, FL, FR.
    let wheel = |k_ea: usize| TyreCorner {
        wear_pct: dmg.map_or(0.0, |d| bounded(d.tyres_wear[k_ea], 0.0, 100.0)),
        surface_temp_c: t.map_or(0.0, |t| f64::from(t.tyres_surface_temperature[k_ea])),
        inner_temp_c: t.map_or(0.0, |t| f64::from(t.tyres_inner_temperature[k_ea])),
        pressure_psi: t.map_or(0.0, |t| f64::from(t.tyres_pressure[k_ea])),
        blister_pct: dmg
            .and_then(|d| d.tyre_blisters)
            .map(|b| bounded(b[k_ea], 0.0, 100.0)),
    };
    CarState {
        car_idx: idx,
        position,
        driver: Driver {
            code: driver_code(&name),
            name,
            number: slot.race_number.unwrap_or(0),
        },
        team: Team {
            name: team_name.to_owned(),
            colour: colour.to_owned(),
        },
        grid_position: l.grid,
        lap: l.lap.max(1),
        lap_distance_m: bounded(l.lap_distance_m, 0.0, track_length_m),
        speed_kph: t.map_or(0.0, |t| f64::from(t.speed)),
        // The games send pedals as 0..1.
        throttle_pct: t.map_or(0.0, |t| bounded(f64::from(t.throttle) * 100.0, 0.0, 100.0)),
        brake_pct: t.map_or(0.0, |t| bounded(f64::from(t.brake) * 100.0, 0.0, 100.0)),
        gear: t.map_or(0, |t| t.gear.clamp(-1, 8)),
        current_lap_s: l.current_lap_s,
        last_lap_s: l.last_lap_s,
        best_lap_s: slot.best_lap_s,
        last_sectors_s: slot.last_sectors_s,
        best_sectors_s: slot.best_sectors_s,
        gap_to_leader_s: (!is_leader).then_some(l.gap_to_leader_s),
        interval_s: (!is_leader).then_some(l.interval_s),
        // A car out of the race is not lapped any more: zero, as the simulator reports it.
        laps_down: if matches!(l.result_status, 4..=7) {
            0
        } else {
            ((leader.total_distance_m - l.total_distance_m) / track_length_m)
                .max(0.0)
                .floor() as u32
        },
        pit_status: match l.pit_status {
            1 => PitStatus::PitLane,
            2 => PitStatus::PitBox,
            _ => PitStatus::None,
        },
        pit_stops: l.pit_stops,
        penalties_s: l.penalties_s,
        unserved_penalties: l.unserved_penalties,
        stints: slot.stints.clone(),
        tyres: TyreSet {
            compound: st.map_or(Compound::Soft, |s| compound(s.visual_tyre_compound)),
            age_laps: st.map_or(0, |s| u32::from(s.tyres_age_laps)),
            corners: Corners::from_array([wheel(2), wheel(3), wheel(0), wheel(1)]),
        },
        // The games' tanks hold 110 kg; the state's documented range is 0–200.
        fuel_kg: st.map_or(0.0, |s| bounded(s.fuel_in_tank, 0.0, 200.0)),
        // The ERS store holds 4 MJ.
        ers_store_pct: st.map_or(0.0, |s| {
            bounded(f64::from(s.ers_store_energy) / 4.0e6 * 100.0, 0.0, 100.0)
        }),
        damage: dmg.map_or_else(Damage::default, |d| Damage {
            front_left_wing_pct: f64::from(d.front_left_wing_damage),
            front_right_wing_pct: f64::from(d.front_right_wing_damage),
            rear_wing_pct: f64::from(d.rear_wing_damage),
            floor_pct: f64::from(d.floor_damage),
            gearbox_pct: f64::from(d.gear_box_damage),
            engine_pct: f64::from(d.engine_damage),
        }),
        driver_status: match l.driver_status {
            0 => DriverStatus::InGarage,
            1 => DriverStatus::FlyingLap,
            2 => DriverStatus::InLap,
            3 => DriverStatus::OutLap,
            _ => DriverStatus::OnTrack,
        },
        result_status: match l.result_status {
            3 => ResultStatus::Finished,
            4 | 6 => ResultStatus::Dnf,
            5 => ResultStatus::Disqualified,
            7 => ResultStatus::Retired,
            _ => ResultStatus::Active,
        },
        telemetry_restricted: false,
    }
}

/// A packet value inside the state's documented range: the games send garbage now and then (and a damaged
/// datagram can have the right length), and NaN would pass `clamp` unchanged.
fn bounded(x: impl Into<f64>, lo: f64, hi: f64) -> f64 {
    let x = x.into();
    if x.is_nan() { lo } else { x.clamp(lo, hi) }
}

fn ms(ms: u32) -> Option<f64> {
    (ms > 0).then(|| f64::from(ms) / 1000.0)
}

/// Three-letter code from a name: the first three letters of the last word, without accents, upper-cased
/// (`Max VERSTAPPEN` → `VER`, `Kimi Räikkönen` → `RAI`, as the FIA writes it).
pub(crate) fn driver_code(name: &str) -> String {
    let last = name.split_whitespace().last().unwrap_or(name);
    let code: String = last
        .chars()
        .filter(|c| c.is_alphanumeric())
        .map(fold_accent)
        .take(3)
        .collect();
    if code.is_empty() {
        "???".to_owned()
    } else {
        // The letters are Latin once folded: ASCII's cases, not Unicode's tables (the browser's WASM carries them).
        code.to_ascii_uppercase()
    }
}

/// The base letter of an accented Latin letter (the accents in drivers' names). A table crate such as deunicode
/// would cover every script but adds its tables to the browser's WASM for a three-letter code.
pub(crate) fn fold_accent(c: char) -> char {
    match c {
        'à'..='å' | 'ā' | 'ă' | 'ą' => 'a',
        'À'..='Å' | 'Ā' | 'Ă' | 'Ą' => 'A',
        'ç' | 'ć' | 'č' => 'c',
        'Ç' | 'Ć' | 'Č' => 'C',
        'è'..='ë' | 'ē' | 'ė' | 'ę' | 'ě' => 'e',
        'È'..='Ë' | 'Ē' | 'Ė' | 'Ę' | 'Ě' => 'E',
        'ì'..='ï' | 'ī' | 'į' | 'ı' => 'i',
        'Ì'..='Ï' | 'Ī' | 'Į' | 'İ' => 'I',
        'ł' => 'l',
        'Ł' => 'L',
        'ñ' | 'ń' | 'ň' => 'n',
        'Ñ' | 'Ń' | 'Ň' => 'N',
        'ò'..='ö' | 'ø' | 'ō' | 'ő' => 'o',
        'Ò'..='Ö' | 'Ø' | 'Ō' | 'Ő' => 'O',
        'ś' | 'š' | 'ş' => 's',
        'Ś' | 'Š' | 'Ş' => 'S',
        'ù'..='ü' | 'ū' | 'ů' | 'ű' => 'u',
        'Ù'..='Ü' | 'Ū' | 'Ů' | 'Ű' => 'U',
        'ý' | 'ÿ' => 'y',
        'Ý' | 'Ÿ' => 'Y',
        'ž' | 'ź' | 'ż' => 'z',
        'Ž' | 'Ź' | 'Ż' => 'Z',
        other => other,
    }
}

/// Visual compound (§7.1) to the engine's compound.
fn compound(visual: u8) -> Compound {
    match visual {
        16 | 19 | 20 => Compound::Soft,
        17 | 21 => Compound::Medium,
        18 | 22 => Compound::Hard,
        7 => Compound::Intermediate,
        8 | 15 => Compound::Wet,
        _ => Compound::Soft,
    }
}

/// The Session packet's forecast for its own session (it also forecasts the sessions to come), soonest first.
fn forecast(s: &super::Session) -> Vec<Forecast> {
    let valid = usize::from(s.num_weather_forecast_samples).min(s.weather_forecast_samples.len());
    let mut out: Vec<Forecast> = s.weather_forecast_samples[..valid]
        .iter()
        .filter(|f| f.session_type == s.session_type)
        .map(|f| Forecast {
            in_min: u32::from(f.time_offset),
            weather: weather(f.weather),
            rain_pct: f.rain_percentage.min(100),
        })
        .collect();
    sort_by_key(&mut out, |f| f.in_min);
    out.dedup_by_key(|f| f.in_min);
    out
}

fn weather(w: u8) -> Weather {
    match w {
        0 => Weather::Clear,
        1 => Weather::LightCloud,
        2 => Weather::Overcast,
        3 => Weather::LightRain,
        4 => Weather::HeavyRain,
        _ => Weather::Storm,
    }
}

/// Session type ids (§7.7) were renumbered in format 2024.
fn session_type(format: u16, id: u8) -> SessionType {
    match (format >= 2024, id) {
        (_, 1..=4) => SessionType::Practice,
        (_, 5..=9) => SessionType::Qualifying,
        (true, 10..=14) => SessionType::Qualifying,
        (true, 15..=17) | (false, 10..=12) => SessionType::Race,
        (true, 18) | (false, 13) => SessionType::TimeTrial,
        _ => SessionType::Unknown,
    }
}

/// Track names by id (§7.8).
pub fn track_name(id: i8) -> &'static str {
    const NAMES: [&str; 33] = [
        "Melbourne",
        "Paul Ricard",
        "Shanghai",
        "Sakhir",
        "Catalunya",
        "Monaco",
        "Montreal",
        "Silverstone",
        "Hockenheim",
        "Hungaroring",
        "Spa",
        "Monza",
        "Singapore",
        "Suzuka",
        "Abu Dhabi",
        "Texas",
        "Brazil",
        "Austria",
        "Sochi",
        "Mexico",
        "Baku",
        "Sakhir Short",
        "Silverstone Short",
        "Texas Short",
        "Suzuka Short",
        "Hanoi",
        "Zandvoort",
        "Imola",
        "Portimão",
        "Jeddah",
        "Miami",
        "Las Vegas",
        "Losail",
    ];
    match id {
        0..=32 => NAMES[id as usize],
        39 => "Silverstone Reverse",
        40 => "Austria Reverse",
        41 => "Zandvoort Reverse",
        42 => "Madrid",
        _ => "Unknown track",
    }
}

/// The ten teams of the games' current grid (team ids 0–9, and 185–194 in My Team), with their colours.
const TEAMS: [(&str, &str); 10] = [
    ("Mercedes", "#27F4D2"),
    ("Ferrari", "#E8002D"),
    ("Red Bull Racing", "#3671C6"),
    ("Williams", "#64C4FF"),
    ("Aston Martin", "#229971"),
    ("Alpine", "#FF87BC"),
    ("RB", "#6692FF"),
    ("Haas", "#B6BABD"),
    ("McLaren", "#FF8000"),
    ("Sauber", "#52E252"),
];

/// Team name and colour by id (§7.9; 2024 teams 185–194 in the same order as 0–9).
fn team(id: Option<u8>) -> (&'static str, &'static str) {
    match id {
        Some(i @ 0..=9) => TEAMS[usize::from(i)],
        Some(i @ 185..=194) => TEAMS[usize::from(i - 185)],
        Some(_) => ("Other", "#9CA3AF"),
        None => ("Unknown", "#6B7280"),
    }
}

/// A team's colour by (part of) its name, case-insensitive (`"red bull"`, `"Oracle Red Bull Racing"`): for sources
/// that name teams instead of numbering them. Grey when the team is not one of the current ten.
pub fn team_colour(name: &str) -> &'static str {
    team_id_by_name(name).map_or("#9CA3AF", |id| TEAMS[usize::from(id)].1)
}

/// The game's team id (0–9) of one of the current ten teams, by (part of) its name, case-insensitive.
pub fn team_id_by_name(name: &str) -> Option<u8> {
    let name = name.to_ascii_lowercase();
    TEAMS
        .iter()
        .position(|(team, _)| {
            let team = team.to_ascii_lowercase();
            name.contains(&team) || (name.len() >= 3 && team.contains(&name))
        })
        .map(|i| i as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::decode;

    fn capture(rel: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/data/captures")
            .join(rel);
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }

    /// The F1 25 Melbourne race captures (one session): session, lap data, participants, status, damage.
    fn melbourne() -> Normalizer {
        let mut n = Normalizer::new();
        for id in [1, 2, 4, 6, 7, 10] {
            n.push(&decode(&capture(&format!("gamesdat/2025/packet-{id}.bin"))).unwrap());
        }
        n
    }

    /// The Melbourne LapData capture, and car 0's record in it.
    fn melbourne_lap_data() -> (crate::telemetry::Packet, crate::telemetry::LapData) {
        let packet = decode(&capture("gamesdat/2025/packet-2.bin")).unwrap();
        let Body::LapData(d) = &packet.body else {
            panic!("lap data")
        };
        let LapDataRecords::Current(v) = &d.lap_data else {
            panic!("2025 lap data")
        };
        let car0 = v[0];
        (packet, car0)
    }

    /// `lap_data` (a 2025 LapData packet) sent at frame `frame`, with car 0's record edited by `edit`.
    fn with_car0(
        lap_data: &crate::telemetry::Packet,
        frame: u32,
        edit: impl FnOnce(&mut crate::telemetry::LapData),
    ) -> crate::telemetry::Packet {
        let mut l = lap_data.clone();
        l.header.frame_identifier = frame;
        if let Body::LapData(d) = &mut l.body
            && let LapDataRecords::Current(v) = &mut d.lap_data
        {
            edit(&mut v[0]);
        }
        l
    }

    #[test]
    fn a_real_f1_25_race_normalizes_into_a_valid_state() {
        let n = melbourne();
        let state = n.state().expect("session and lap data arrived");
        state.check_invariants().unwrap();
        assert_eq!(state.source, DataSource::Live);
        assert_eq!(state.session.track, "Melbourne");
        assert_eq!(
            (state.session.total_laps, state.session.session_type),
            (20, SessionType::Race)
        );
        // Twenty cars are listed, the two retired ones included, in position order.
        assert_eq!(state.cars.len(), 20);
        assert_eq!(
            state
                .cars
                .iter()
                .filter(|c| c.result_status == ResultStatus::Retired)
                .count(),
            2
        );
        assert!(
            state
                .cars
                .iter()
                .all(|c| !c.driver.name.starts_with("Car ")),
            "names arrived"
        );
        assert!(state.cars.iter().all(|c| c.driver.code.len() == 3));
        assert_eq!(n.player_car(), Some(19));
        let leader = &state.cars[0];
        assert!(leader.gap_to_leader_s.is_none() && leader.lap >= 1);
        assert!(state.cars[1..].iter().all(|c| c.gap_to_leader_s.is_some()));
        assert!(
            state
                .cars
                .iter()
                .any(|c| c.tyres.corners.rear_left.wear_pct > 0.0)
        );
        assert!(
            state
                .cars
                .iter()
                .filter(|c| c.result_status == ResultStatus::Active)
                .all(|c| c.fuel_kg > 0.0)
        );
        // F1 25 measures blisters: every corner has a figure.
        assert!(state.cars.iter().all(|c| {
            c.tyres
                .corners
                .as_array()
                .iter()
                .all(|w| w.blister_pct.is_some_and(|b| (0.0..=100.0).contains(&b)))
        }));
        // Car telemetry: pedals as percent, a gear for every moving car, someone on the throttle.
        let moving: Vec<&CarState> = state.cars.iter().filter(|c| c.speed_kph > 5.0).collect();
        assert!(moving.len() >= 15, "{} cars moving", moving.len());
        assert!(moving.iter().all(|c| (1..=8).contains(&c.gear)));
        assert!(moving.iter().any(|c| c.throttle_pct > 50.0));
        assert!(state.cars.iter().all(
            |c| (0.0..=100.0).contains(&c.throttle_pct) && (0.0..=100.0).contains(&c.brake_pct)
        ));
    }

    #[test]
    fn names_may_arrive_late_and_a_new_session_resets() {
        let mut n = Normalizer::new();
        n.push(&decode(&capture("gamesdat/2025/packet-1.bin")).unwrap());
        n.push(&decode(&capture("gamesdat/2025/packet-2.bin")).unwrap());
        let early = n.state().unwrap();
        assert!(early.cars.iter().all(|c| c.driver.name.starts_with("Car ")));
        n.push(&decode(&capture("gamesdat/2025/packet-4.bin")).unwrap());
        assert!(
            n.state()
                .unwrap()
                .cars
                .iter()
                .all(|c| !c.driver.name.starts_with("Car "))
        );

        // Another session (the final-classification capture comes from a different race).
        n.push(&decode(&capture("gamesdat/2025/packet-8.bin")).unwrap());
        assert_eq!(n.counters().session_resets, 1);
        assert!(
            n.state().is_none(),
            "nothing known about the new session yet"
        );
    }

    #[test]
    fn flashbacks_and_safety_car_events_are_followed() {
        let mut n = melbourne();
        let lap_data = decode(&capture("gamesdat/2025/packet-2.bin")).unwrap();
        let mut earlier = lap_data.clone();
        earlier.header.frame_identifier -= 100;
        n.push(&earlier);
        assert_eq!(n.counters().flashbacks, 1);
        // Its FLBK event, a few frames on: the same flashback.
        let mut flbk = decode(&capture("gamesdat/2025/packet-3-SSTA.bin")).unwrap();
        if let Body::Event(e) = &mut flbk.body {
            e.event_string_code = "FLBK".to_owned();
            e.event_details = EventDetails::Flashback {
                flashback_frame_identifier: earlier.header.frame_identifier - 2,
                flashback_session_time: 100.0,
            };
        }
        // Sent after the rewind, or stamped with the frame before it: the frame it names is what matters.
        flbk.header.frame_identifier = earlier.header.frame_identifier + 500;
        n.push(&flbk);
        assert_eq!(n.counters().flashbacks, 1);

        let mut scar = decode(&capture("gamesdat/2025/packet-3-SSTA.bin")).unwrap();
        let Body::Event(e) = &mut scar.body else {
            panic!("event")
        };
        e.event_string_code = "SCAR".to_owned();
        e.event_details = EventDetails::SafetyCar {
            safety_car_type: 2,
            event_type: 0,
        };
        scar.header.frame_identifier = lap_data.header.frame_identifier;
        n.push(&scar);
        assert_eq!(
            n.state().unwrap().session.track_status,
            TrackStatus::VirtualSafetyCar
        );
        e_set(&mut scar, 2, 3);
        n.push(&scar);
        assert_eq!(n.state().unwrap().session.track_status, TrackStatus::Green);
    }

    #[test]
    fn a_datagram_udp_delivered_late_is_left_out_and_no_flashback() {
        let (lap_data, _) = melbourne_lap_data();
        let lap_of_car_0 = |n: &Normalizer| {
            n.state()
                .unwrap()
                .cars
                .iter()
                .find(|c| c.car_idx == 0)
                .unwrap()
                .lap
        };
        // Car 0 one lap on, two frames later; then the datagram of the frame between (its older lap) arriving late.
        let step = |frames: u32, overall: u32, lap_delta: i8| {
            let frame = lap_data.header.frame_identifier.wrapping_add(frames);
            let mut l = with_car0(&lap_data, frame, |car| {
                car.current_lap_num = car.current_lap_num.saturating_add_signed(lap_delta);
            });
            l.header.overall_frame_identifier = overall;
            l
        };
        let overall = lap_data.header.overall_frame_identifier;
        let mut n = melbourne();
        let lap = lap_of_car_0(&n);
        n.push(&step(2, overall + 2, 1));
        assert_eq!(lap_of_car_0(&n), lap + 1);
        n.push(&step(1, overall + 1, 0));
        assert_eq!(
            lap_of_car_0(&n),
            lap + 1,
            "the late datagram's older lap is not taken"
        );
        assert_eq!(
            (n.counters().late_datagrams, n.counters().flashbacks),
            (1, 0)
        );
        // A late event still happens: a VSC called two frames ago.
        let mut scar = decode(&capture("gamesdat/2025/packet-3-SSTA.bin")).unwrap();
        if let Body::Event(e) = &mut scar.body {
            e.event_string_code = "SCAR".to_owned();
            e.event_details = EventDetails::SafetyCar {
                safety_car_type: 2,
                event_type: 0,
            };
        }
        scar.header.frame_identifier = lap_data.header.frame_identifier;
        scar.header.overall_frame_identifier = overall;
        n.push(&scar);
        assert_eq!(
            n.state().unwrap().session.track_status,
            TrackStatus::VirtualSafetyCar
        );
        assert_eq!(
            (n.counters().late_datagrams, n.counters().flashbacks),
            (1, 0)
        );
        // A short flashback: the frame goes back while the overall frame goes on.
        n.push(&step(0, overall + 3, 0));
        assert_eq!(n.counters().flashbacks, 1);

        // Where the game sends no overall frame id (F1 25 in an older format): a few frames back is late, further
        // back is a flashback.
        let mut n = melbourne();
        n.push(&step(20, 0, 1));
        n.push(&step(20 - REORDER_FRAMES, 0, 0));
        assert_eq!(lap_of_car_0(&n), lap + 1);
        assert_eq!(
            (n.counters().late_datagrams, n.counters().flashbacks),
            (1, 0)
        );
        n.push(&step(20 - REORDER_FRAMES - 1, 0, 0));
        assert_eq!(
            (n.counters().late_datagrams, n.counters().flashbacks),
            (1, 1)
        );
        assert_eq!(lap_of_car_0(&n), lap, "the flashback's lap is taken");
    }

    #[test]
    fn a_datagram_of_the_session_just_left_is_late_not_the_old_session_again() {
        let (lap_data, _) = melbourne_lap_data();
        let mut n = melbourne();
        let old = n.session_uid().unwrap();
        let (frame, overall) = (
            lap_data.header.frame_identifier,
            lap_data.header.overall_frame_identifier,
        );
        // The next session's first datagram, then one of the old session UDP delivered after it (the old one's
        // newest frame), then an old event (the chequered flag).
        let mut next = lap_data.clone();
        next.header.session_uid = old ^ 1;
        next.header.frame_identifier = 1;
        next.header.overall_frame_identifier = 1;
        n.push(&next);
        let mut late = lap_data.clone();
        late.header.frame_identifier = frame + 1;
        late.header.overall_frame_identifier = overall + 1;
        n.push(&late);
        let mut flag = decode(&capture("gamesdat/2025/packet-3-SSTA.bin")).unwrap();
        if let Body::Event(e) = &mut flag.body {
            e.event_string_code = "CHQF".to_owned();
        }
        flag.header.session_uid = old;
        n.push(&flag);
        assert_eq!(n.session_uid(), Some(old ^ 1), "still the new session");
        assert_eq!(
            (n.counters().session_resets, n.counters().late_datagrams),
            (1, 2)
        );

        // The old session's id with its frames moved on is that session again, not a late datagram.
        late.header.frame_identifier = frame + 1 + REORDER_FRAMES + 1;
        late.header.overall_frame_identifier = overall + 1 + REORDER_FRAMES + 1;
        n.push(&late);
        assert_eq!(n.session_uid(), Some(old));
        assert_eq!(
            (n.counters().session_resets, n.counters().late_datagrams),
            (2, 2)
        );
    }

    #[test]
    fn the_forecast_is_the_sessions_own_soonest_first() {
        // The Melbourne capture: five samples for the race itself (0-30 min), clear, 1 % rain.
        let mut n = melbourne();
        let forecast = n.state().unwrap().session.forecast;
        assert_eq!(
            forecast.iter().map(|f| f.in_min).collect::<Vec<_>>(),
            [0, 5, 10, 15, 30]
        );
        assert!(
            forecast
                .iter()
                .all(|f| f.weather == Weather::Clear && f.rain_pct == 1)
        );
        // Samples for the next session, out of order, and past the count of valid ones are not this session's.
        let mut packet = decode(&capture("gamesdat/2025/packet-1.bin")).unwrap();
        let Body::Session(s) = &mut packet.body else {
            panic!("session")
        };
        let own = s.session_type;
        s.weather_forecast_samples.swap(0, 4);
        s.weather_forecast_samples[1].session_type = own + 1;
        s.weather_forecast_samples[2].weather = 3;
        s.weather_forecast_samples[2].rain_percentage = 70;
        s.weather_forecast_samples[5] = s.weather_forecast_samples[2];
        s.weather_forecast_samples[5].time_offset = 45;
        n.push(&packet);
        let forecast = n.state().unwrap().session.forecast;
        assert_eq!(
            forecast
                .iter()
                .map(|f| (f.in_min, f.weather, f.rain_pct))
                .collect::<Vec<_>>(),
            [
                (0, Weather::Clear, 1),
                (10, Weather::LightRain, 70),
                (15, Weather::Clear, 1),
                (30, Weather::Clear, 1)
            ]
        );
    }

    #[test]
    fn a_safety_car_event_is_not_undone_by_the_session_packets_old_status() {
        let mut n = melbourne();
        let status = |n: &Normalizer| n.state().unwrap().session.track_status;
        let session = decode(&capture("gamesdat/2025/packet-1.bin")).unwrap();
        let with_status = |sc: u8| {
            let mut p = session.clone();
            if let Body::Session(s) = &mut p.body {
                s.safety_car_status = sc;
            }
            p
        };
        n.push(&with_status(0));
        let mut scar = decode(&capture("gamesdat/2025/packet-3-SSTA.bin")).unwrap();
        if let Body::Event(e) = &mut scar.body {
            e.event_string_code = "SCAR".to_owned();
        }
        e_set(&mut scar, 1, 0);
        n.push(&scar);
        assert_eq!(status(&n), TrackStatus::SafetyCar);
        // The Session packets sent just after the event still say green: no flicker back.
        n.push(&with_status(0));
        assert_eq!(status(&n), TrackStatus::SafetyCar);
        n.push(&with_status(1));
        assert_eq!(status(&n), TrackStatus::SafetyCar);
        // "Returned": green from the event, though the next packets still say SC.
        e_set(&mut scar, 1, 2);
        n.push(&scar);
        n.push(&with_status(1));
        assert_eq!(status(&n), TrackStatus::Green);
        n.push(&with_status(0));
        assert_eq!(status(&n), TrackStatus::Green);
        // With no event, the Session packet's own change is followed at once.
        n.push(&with_status(2));
        assert_eq!(status(&n), TrackStatus::VirtualSafetyCar);
    }

    #[test]
    fn a_flashback_to_before_a_stop_on_the_same_lap_undoes_its_stint() {
        let mut n = melbourne();
        let (lap_data, _) = melbourne_lap_data();
        let status = [1, 2, 4, 6, 7, 10]
            .into_iter()
            .map(|id| decode(&capture(&format!("gamesdat/2025/packet-{id}.bin"))).unwrap())
            .find(|p| matches!(p.body, Body::CarStatus(_)))
            .expect("a CarStatus capture");
        let at = |frame: u32, stops: u8, visual: u8, age: u8| {
            let l = with_car0(&lap_data, frame, |car| car.num_pit_stops = stops);
            let mut c = status.clone();
            c.header.frame_identifier = frame;
            if let Body::CarStatus(s) = &mut c.body {
                s.car_status_data[0].visual_tyre_compound = visual;
                s.car_status_data[0].tyres_age_laps = age;
            }
            (l, c)
        };
        let stints = |n: &Normalizer| {
            let state = n.state().unwrap();
            let car = state.cars.iter().find(|c| c.car_idx == 0).unwrap();
            car.stints.iter().map(|s| s.compound).collect::<Vec<_>>()
        };
        let base = lap_data.header.frame_identifier + 10;
        // Mediums (visual 17), then a stop for hards (18) on the same lap.
        for (l, c) in [at(base, 0, 17, 5), at(base + 1, 1, 18, 0)] {
            n.push(&l);
            n.push(&c);
        }
        let before = stints(&n);
        assert_eq!(
            &before[before.len() - 2..],
            [Compound::Medium, Compound::Hard]
        );
        // A flashback to before the pit entry: mediums again, no stop made.
        let (l, c) = at(base - 5, 0, 17, 5);
        n.push(&l);
        n.push(&c);
        let after = stints(&n);
        assert_eq!(after.len(), before.len() - 1, "{after:?}");
        assert_eq!(after.last(), Some(&Compound::Medium));

        // A relay that joined after the car's first stop: its first stint began at one stop. Its second stop,
        // then a flashback before it, leaves the first stint alone.
        let mut joined = Normalizer::new();
        for id in [1, 4, 6, 7, 10] {
            joined.push(&decode(&capture(&format!("gamesdat/2025/packet-{id}.bin"))).unwrap());
        }
        for (l, c) in [at(base + 20, 1, 17, 5), at(base + 21, 2, 18, 0)] {
            joined.push(&l);
            joined.push(&c);
        }
        assert_eq!(stints(&joined), [Compound::Medium, Compound::Hard]);
        let (l, c) = at(base + 15, 1, 17, 5);
        joined.push(&l);
        joined.push(&c);
        assert_eq!(stints(&joined), [Compound::Medium]);
    }

    #[test]
    fn a_restricted_car_is_marked_and_only_its_hidden_fields_are_not_measured() {
        // The real Melbourne capture as an online lobby sends it: car 3's driver restricts its telemetry (the game
        // zeroes its fuel, ERS and damage), the player (car 19) restricts too but sees its own, and car 5 says
        // restricted while its fuel still arrives.
        let packet = |id: u8| decode(&capture(&format!("gamesdat/2025/packet-{id}.bin"))).unwrap();
        let mut participants = packet(4);
        if let Body::Participants(p) = &mut participants.body {
            for k in [3, 5, 19] {
                p.participants[k].your_telemetry = 0;
            }
        }
        let mut status = packet(7);
        if let Body::CarStatus(s) = &mut status.body {
            s.car_status_data[3].fuel_in_tank = 0.0;
            s.car_status_data[3].ers_store_energy = 0.0;
        }
        let mut damage = packet(10);
        if let Body::CarDamage(d) = &mut damage.body {
            d.car_damage_data[3] = CarDamageData::default();
        }
        let mut n = Normalizer::new();
        for p in [
            packet(1),
            packet(2),
            participants,
            packet(6),
            status,
            damage,
        ] {
            n.push(&p);
        }
        let state = n.state().unwrap();
        state.check_invariants().unwrap();
        let car = |idx: u8| state.car(idx).unwrap();
        assert!(car(3).telemetry_restricted && !state.measures(car(3)));
        assert_eq!(car(3).fuel_kg, 0.0);
        // F1 25 measures blisters, but not a restricted car's: none known rather than none.
        let blisters = |idx: u8| car(idx).tyres.corners.as_array().map(|c| c.blister_pct);
        assert_eq!(blisters(3), [None; 4]);
        assert!(blisters(0).iter().all(Option::is_some));
        // Timing, speed and the tyres fitted stay as the public capture has them.
        let public = melbourne().state().unwrap();
        let seen = public.car(3).unwrap();
        assert!(seen.fuel_kg > 0.0 && !seen.telemetry_restricted);
        assert_eq!(
            (car(3).last_lap_s, car(3).speed_kph, car(3).tyres.compound),
            (seen.last_lap_s, seen.speed_kph, seen.tyres.compound)
        );
        assert_eq!(car(3).tyres.age_laps, seen.tyres.age_laps);
        for idx in [5, 19, 0] {
            assert!(!car(idx).telemetry_restricted, "car {idx}");
            assert!(
                state.measures(car(idx)) && car(idx).fuel_kg > 0.0,
                "car {idx}"
            );
        }
        // The flag leaves the JSON when false, and older JSON without it reads as public.
        let json = serde_json::to_value(car(0)).unwrap();
        assert!(json.get("telemetry_restricted").is_none());
        assert_eq!(
            serde_json::to_value(car(3)).unwrap()["telemetry_restricted"],
            true
        );
    }

    #[test]
    fn a_lap_deleted_for_track_limits_sets_no_best() {
        let mut n = melbourne();
        let (lap_data, car0) = melbourne_lap_data();
        let (lap0, frame0) = (car0.current_lap_num, lap_data.header.frame_identifier);
        let at = |k: u8, last_ms: u32, invalid: u8| {
            with_car0(&lap_data, frame0 + u32::from(k) * 10, |car| {
                car.current_lap_num = lap0 + k;
                car.last_lap_time_in_ms = last_ms;
                car.current_lap_invalid = invalid;
            })
        };
        let best = |n: &Normalizer| {
            let state = n.state().unwrap();
            state
                .cars
                .iter()
                .find(|c| c.car_idx == 0)
                .unwrap()
                .best_lap_s
        };
        let before = best(&n);
        assert!(before.is_some_and(|b| b > 80.0), "{before:?}");
        n.push(&at(0, 90_000, 0));
        assert_eq!(best(&n), before);
        // This lap cut a corner: flagged invalid while under way; its 70 s is no best.
        n.push(&at(0, 90_000, 1));
        n.push(&at(1, 70_000, 0));
        assert_eq!(best(&n), before);
        // A clean 80 s is.
        n.push(&at(2, 80_000, 0));
        assert_eq!(best(&n), Some(80.0));
    }

    #[test]
    fn a_flashback_undoes_the_best_lap_it_rewound() {
        let mut n = melbourne();
        let (lap_data, car0) = melbourne_lap_data();
        let (lap0, frame0) = (car0.current_lap_num, lap_data.header.frame_identifier);
        let at = |frame: u32, k: u8, last_ms: u32, sector1_ms: u16| {
            with_car0(&lap_data, frame, |car| {
                car.current_lap_num = lap0 + k;
                car.last_lap_time_in_ms = last_ms;
                car.sector1_time_ms_part = sector1_ms;
                car.sector1_time_minutes_part = 0;
                car.current_lap_invalid = 0;
            })
        };
        let car0 = |n: &Normalizer| {
            let state = n.state().unwrap();
            let car = state.cars.iter().find(|c| c.car_idx == 0).unwrap().clone();
            (car.best_lap_s, car.best_sectors_s[0])
        };
        let (before, _) = car0(&n);
        assert!(before.is_some_and(|b| b > 71.0), "{before:?}");
        // Lap `lap0` run in 70 s with a 20 s first sector: the car's best.
        n.push(&at(frame0 + 10, 0, 90_000, 20_000));
        n.push(&at(frame0 + 20, 1, 70_000, 0));
        assert_eq!(car0(&n), (Some(70.0), Some(20.0)));
        // The player flashes back into lap `lap0`: that lap never happened.
        n.push(&at(frame0 + 15, 0, 90_000, 25_000));
        assert_eq!(n.counters().flashbacks, 1);
        let (best, sector) = car0(&n);
        assert_eq!(best, before, "the undone 70 s is no best");
        assert_ne!(sector, Some(20.0), "nor its sector");
    }

    #[test]
    fn a_relay_joining_after_a_red_flag_sees_none() {
        let mut session = decode(&capture("gamesdat/2025/packet-1.bin")).unwrap();
        if let Body::Session(s) = &mut session.body {
            s.num_red_flag_periods = 1;
        }
        let mut n = Normalizer::new();
        n.push(&session);
        for id in [2, 4, 6, 7, 10] {
            n.push(&decode(&capture(&format!("gamesdat/2025/packet-{id}.bin"))).unwrap());
        }
        n.push(&session);
        assert_eq!(n.state().unwrap().session.track_status, TrackStatus::Green);
        // The next period is one.
        if let Body::Session(s) = &mut session.body {
            s.num_red_flag_periods = 2;
        }
        n.push(&session);
        assert_eq!(n.state().unwrap().session.track_status, TrackStatus::Red);
    }

    #[test]
    fn a_red_flag_holds_until_the_restart() {
        let mut n = melbourne();
        let status = |n: &Normalizer| n.state().unwrap().session.track_status;
        assert_eq!(status(&n), TrackStatus::Green);
        let mut event = decode(&capture("gamesdat/2025/packet-3-SSTA.bin")).unwrap();
        let code = |p: &mut Packet, c: &str| {
            if let Body::Event(e) = &mut p.body {
                e.event_string_code = c.to_owned();
                e.event_details = EventDetails::None;
            }
            p.clone()
        };
        n.push(&code(&mut event, "RDFL"));
        assert_eq!(status(&n), TrackStatus::Red);
        // The Session packet (twice a second) has no red-flag status: the flag stays out.
        let session = decode(&capture("gamesdat/2025/packet-1.bin")).unwrap();
        assert!(matches!(session.body, Body::Session(_)));
        n.push(&session);
        assert_eq!(status(&n), TrackStatus::Red);
        n.push(&code(&mut event, "LGOT"));
        assert_eq!(status(&n), TrackStatus::Green);

        // A red flag whose event was lost: the Session packet's count of red-flag periods goes up.
        let mut counted = session.clone();
        if let Body::Session(s) = &mut counted.body {
            s.num_red_flag_periods += 1;
        }
        n.push(&counted);
        assert_eq!(status(&n), TrackStatus::Red);
        n.push(&counted);
        assert_eq!(
            status(&n),
            TrackStatus::Red,
            "the same count again changes nothing"
        );
        // The restart behind the safety car.
        let mut scar = code(&mut event, "SCAR");
        e_set(&mut scar, 1, 0);
        n.push(&scar);
        assert_eq!(status(&n), TrackStatus::SafetyCar);
        n.push(&counted);
        assert_eq!(
            status(&n),
            TrackStatus::SafetyCar,
            "no new red-flag period (and the event is newer than the packet's status)"
        );
        // The flag ends a red-flagged race: the red flag goes, the SC status stands.
        n.push(&code(&mut event, "RDFL"));
        assert_eq!(status(&n), TrackStatus::Red);
        n.push(&code(&mut event, "CHQF"));
        assert_eq!(status(&n), TrackStatus::SafetyCar);
    }

    fn e_set(p: &mut Packet, kind: u8, event: u8) {
        if let Body::Event(e) = &mut p.body {
            e.event_details = EventDetails::SafetyCar {
                safety_car_type: kind,
                event_type: event,
            };
        }
    }

    #[test]
    fn codes_teams_and_session_types() {
        assert_eq!(driver_code("Max VERSTAPPEN"), "VER");
        assert_eq!(driver_code("ZHOU"), "ZHO");
        assert_eq!(driver_code("Kimi Räikkönen"), "RAI");
        assert_eq!(driver_code("Sergio pérez"), "PER");
        assert_eq!(driver_code("Robert łukasz"), "LUK");
        assert_eq!(driver_code(""), "???");
        assert_eq!(session_type(2023, 10), SessionType::Race);
        assert_eq!(session_type(2024, 10), SessionType::Qualifying);
        assert_eq!(session_type(2025, 15), SessionType::Race);
        assert_eq!(team(Some(8)).0, "McLaren");
        assert_eq!(team(Some(193)).0, "McLaren");
        assert_eq!(track_name(3), "Sakhir");
        assert_eq!(track_name(-1), "Unknown track");
    }
}
