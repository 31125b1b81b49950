//! The race control feed: what happened in the race, newest first: SC and VSC deployed and ended, pit stops,
//! retirements, penalties, disqualifications and each new fastest lap of the race.
//!
//! Everything comes from what the browser's twins already keep: their events (SC/VSC, stops, retirements,
//! penalties; see
//! `boxbox_engine::twin::session::TwinEvent`) and their lap history, in which every new overall fastest lap is found
//! again on each call. Nothing has to watch the stream state by state, so the feed does no work while it is not
//! shown and is complete when it is opened late. The twins' events only begin when the page joins (the relay's
//! snapshot carries the lap history, not the events), so stops from before are found in the history too (a lap
//! through the pit lane after one that was not), and cars already out in the state; SC/VSC periods from before are
//! not listed, nor penalties given before (the tower shows a car's total). A disqualification is a car out of the
//! race whose status is `disqualified`.

use boxbox_engine::twin::session::{EventKind, TwinEvent};
use boxbox_engine::wire::{LapRecord, RaceState, ResultStatus};

use super::lap_time;

/// The most entries the feed shows (the newest).
pub const MAX_ENTRIES: usize = 50;

/// What an entry is about; its CSS class and short tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A safety car was deployed.
    SafetyCar,
    /// A virtual safety car was deployed.
    VirtualSafetyCar,
    /// The SC, VSC or red-flag period ended.
    GreenAgain,
    /// A red flag suspended the session.
    RedFlag,
    /// A car entered the pit lane.
    PitStop,
    /// A car retired.
    Retirement,
    /// A car was given a time, drive-through or stop-go penalty.
    Penalty,
    /// A car was disqualified.
    Disqualified,
    /// A new fastest lap of the race.
    FastestLap,
}

impl EntryKind {
    /// The CSS class of the entry.
    pub fn class(self) -> &'static str {
        match self {
            EntryKind::SafetyCar => "rc-sc",
            EntryKind::VirtualSafetyCar => "rc-vsc",
            EntryKind::GreenAgain => "rc-green",
            EntryKind::RedFlag => "rc-red",
            EntryKind::PitStop => "rc-pit",
            EntryKind::Retirement => "rc-out",
            EntryKind::Penalty | EntryKind::Disqualified => "rc-penalty",
            EntryKind::FastestLap => "rc-fastest",
        }
    }

    /// The short tag shown before the text.
    pub fn tag(self) -> &'static str {
        match self {
            EntryKind::SafetyCar => "SC",
            EntryKind::VirtualSafetyCar => "VSC",
            EntryKind::GreenAgain => "GREEN",
            EntryKind::RedFlag => "RED",
            EntryKind::PitStop => "PIT",
            EntryKind::Retirement => "OUT",
            EntryKind::Penalty => "PEN",
            EntryKind::Disqualified => "DSQ",
            EntryKind::FastestLap => "FL",
        }
    }

    /// Whether a screen reader is told of it as it comes (track status and cars out of the race, not every stop
    /// and lap).
    pub fn announced(self) -> bool {
        matches!(
            self,
            EntryKind::SafetyCar
                | EntryKind::VirtualSafetyCar
                | EntryKind::GreenAgain
                | EntryKind::RedFlag
                | EntryKind::Retirement
                | EntryKind::Penalty
                | EntryKind::Disqualified
        )
    }
}

/// One line of the feed.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedEntry {
    /// What it is about.
    pub kind: EntryKind,
    /// The car, for everything but track status.
    pub car_idx: Option<u8>,
    /// The leader's lap for track status, else the car's lap (for a fastest lap: the lap it was set on).
    pub lap: u32,
    /// When, in session seconds. For a fastest lap, the car's lap times summed from the start (the wire's race
    /// start is at 0 s): the history does not keep line-crossing times.
    pub session_time_s: f64,
    /// `session_time_s` as a race clock: `38:12`, `1:02:33`.
    pub clock: String,
    /// What happened: `SAFETY CAR DEPLOYED`, `VER pits`, `Fastest lap: HAM 1:32.412`.
    pub text: String,
}

/// The feed, newest first, at most [`MAX_ENTRIES`]: the twins' `events` (oldest first, as in
/// `TwinReport::events`), every new overall fastest lap in the lap history `records` (in the order they were
/// booked) and the stops there that no event has, with driver codes and classifications from the current `state`
/// (and its cars out of the race that no event has).
pub fn feed(events: &[TwinEvent], records: &[LapRecord], state: &RaceState) -> Vec<FeedEntry> {
    let code = |car_idx: u8| {
        state
            .car(car_idx)
            .map_or_else(|| format!("car {car_idx}"), |c| c.driver.code.clone())
    };
    let mut entries: Vec<FeedEntry> = Vec::with_capacity(events.len() + 16);
    // The SC or VSC that a "green again" ends.
    let mut neutralised: Option<EventKind> = None;
    for e in events {
        let (kind, text) = match (e.kind, e.car_idx) {
            (EventKind::SafetyCar, _) => {
                neutralised = Some(EventKind::SafetyCar);
                (EntryKind::SafetyCar, "SAFETY CAR DEPLOYED".to_owned())
            }
            (EventKind::VirtualSafetyCar, _) => {
                neutralised = Some(EventKind::VirtualSafetyCar);
                (
                    EntryKind::VirtualSafetyCar,
                    "VIRTUAL SAFETY CAR DEPLOYED".to_owned(),
                )
            }
            (EventKind::RedFlag, _) => {
                neutralised = Some(EventKind::RedFlag);
                (
                    EntryKind::RedFlag,
                    "RED FLAG · SESSION SUSPENDED".to_owned(),
                )
            }
            (EventKind::GreenAgain, _) => {
                let text = match neutralised.take() {
                    Some(EventKind::SafetyCar) => "SAFETY CAR IN · TRACK CLEAR",
                    Some(EventKind::VirtualSafetyCar) => "VSC ENDED · TRACK CLEAR",
                    Some(EventKind::RedFlag) => "RACE RESUMED · TRACK CLEAR",
                    _ => "SC/VSC ENDED · TRACK CLEAR",
                };
                (EntryKind::GreenAgain, text.to_owned())
            }
            (EventKind::PitStop, Some(car)) => (EntryKind::PitStop, format!("{} pits", code(car))),
            (EventKind::Retirement, Some(car)) => out_of_the_race(
                state
                    .car(car)
                    .map_or(ResultStatus::Retired, |c| c.result_status),
                &code(car),
            ),
            (EventKind::Penalty { seconds: 0 }, Some(car)) => (
                EntryKind::Penalty,
                format!("{}: drive-through or stop-go penalty", code(car)),
            ),
            (EventKind::Penalty { seconds }, Some(car)) => (
                EntryKind::Penalty,
                format!("{}: {seconds} s time penalty", code(car)),
            ),
            // A stop, a retirement or a penalty without its car says nothing worth a line.
            (EventKind::PitStop | EventKind::Retirement | EventKind::Penalty { .. }, None) => {
                continue;
            }
        };
        entries.push(entry(kind, e.car_idx, e.lap, e.session_time_s, text));
    }
    // The event of a stop is on its in-lap, give or take the line.
    let stop_event = |car_idx: u8, lap: u32| {
        events.iter().any(|e| {
            e.kind == EventKind::PitStop && e.car_idx == Some(car_idx) && e.lap.abs_diff(lap) <= 1
        })
    };
    // Each car's laps summed give its line crossings; the first lap to beat every earlier one is a new fastest lap.
    let mut elapsed_s: Vec<f64> = Vec::new();
    let mut in_pit_lane: Vec<bool> = Vec::new();
    let mut fastest_s = f64::INFINITY;
    for r in records {
        let slot = usize::from(r.car_idx);
        if elapsed_s.len() <= slot {
            elapsed_s.resize(slot + 1, 0.0);
            in_pit_lane.resize(slot + 1, false);
        }
        if !(r.lap_time_s.is_finite() && r.lap_time_s > 0.0) {
            continue;
        }
        elapsed_s[slot] += r.lap_time_s;
        // A stop's in-lap and out-lap both go through the pit lane: the first of them is the stop (at its line).
        let stop = r.pit_lane && !in_pit_lane[slot];
        in_pit_lane[slot] = r.pit_lane;
        if stop && !stop_event(r.car_idx, r.lap) {
            let text = format!("{} pits", code(r.car_idx));
            entries.push(entry(
                EntryKind::PitStop,
                Some(r.car_idx),
                r.lap,
                elapsed_s[slot],
                text,
            ));
        }
        if r.lap_time_s < fastest_s {
            fastest_s = r.lap_time_s;
            let text = format!(
                "Fastest lap: {} {}",
                code(r.car_idx),
                lap_time(Some(r.lap_time_s))
            );
            entries.push(entry(
                EntryKind::FastestLap,
                Some(r.car_idx),
                r.lap,
                elapsed_s[slot],
                text,
            ));
        }
    }
    // A car out before the events began: listed at its last line crossing.
    for car in state.cars.iter().filter(|c| c.result_status.is_out()) {
        // A car leaves the race once: any retirement event of it is this one.
        if events
            .iter()
            .any(|e| e.kind == EventKind::Retirement && e.car_idx == Some(car.car_idx))
        {
            continue;
        }
        let (kind, text) = out_of_the_race(car.result_status, &car.driver.code);
        let at_s = elapsed_s
            .get(usize::from(car.car_idx))
            .copied()
            .unwrap_or(0.0);
        entries.push(entry(kind, Some(car.car_idx), car.lap, at_s, text));
    }
    newest_first(&mut entries);
    entries.truncate(MAX_ENTRIES);
    entries
}

/// Sorts by time, newest first; at the same time, the later in `entries` first (events before laps).
///
/// By hand, an insertion sort: the feed has a few hundred entries at most, mostly in order already, and the standard
/// library's sort would add its own code for `FeedEntry` to the app's bundle.
fn newest_first(entries: &mut [FeedEntry]) {
    // Each source is oldest first: turned round, the blocks are newest first, and the sort is stable.
    entries.reverse();
    for i in 1..entries.len() {
        let mut j = i;
        while j > 0 && entries[j - 1].session_time_s < entries[j].session_time_s {
            entries.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// What a screen reader is told: the newest announced entry ([`EntryKind::announced`]), e.g.
/// `Lap 23: SAFETY CAR DEPLOYED`; `None` while there is none.
pub fn announcement(entries: &[FeedEntry]) -> Option<String> {
    entries
        .iter()
        .find(|e| e.kind.announced())
        .map(|e| format!("Lap {}: {}", e.lap, e.text))
}

/// Session seconds as a race clock: `0:07`, `38:12`, `1:02:33`; `—` when unknown.
pub fn clock(s: f64) -> String {
    if !(s.is_finite() && s >= 0.0) {
        return "—".to_owned();
    }
    let total = s.floor() as u64;
    let (h, m, sec) = (total / 3600, total / 60 % 60, total % 60);
    if h == 0 {
        format!("{m}:{sec:02}")
    } else {
        format!("{h}:{m:02}:{sec:02}")
    }
}

/// The kind and text of a car out of the race with this status.
fn out_of_the_race(status: ResultStatus, code: &str) -> (EntryKind, String) {
    match status {
        ResultStatus::Disqualified => (EntryKind::Disqualified, format!("{code} disqualified")),
        ResultStatus::Dnf => (EntryKind::Retirement, format!("{code} out (DNF)")),
        _ => (EntryKind::Retirement, format!("{code} retired")),
    }
}

fn entry(
    kind: EntryKind,
    car_idx: Option<u8>,
    lap: u32,
    session_time_s: f64,
    text: String,
) -> FeedEntry {
    FeedEntry {
        kind,
        car_idx,
        lap,
        session_time_s,
        clock: clock(session_time_s),
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use boxbox_engine::sim::{RaceSim, SimConfig};
    use boxbox_engine::twin::{TwinParams, Twins};
    use boxbox_engine::wire::{Compound, Corners, TrackStatus};

    fn state() -> RaceState {
        let mut sim = RaceSim::new(&SimConfig {
            seed: 3,
            total_laps: 5,
        });
        sim.advance_to(10.0);
        sim.state()
    }

    fn event(kind: EventKind, car_idx: Option<u8>, lap: u32, session_time_s: f64) -> TwinEvent {
        TwinEvent {
            kind,
            car_idx,
            lap,
            session_time_s,
        }
    }

    fn lap(car_idx: u8, lap: u32, lap_time_s: f64) -> LapRecord {
        LapRecord {
            car_idx,
            lap,
            lap_time_s,
            position: 1,
            compound: Compound::Medium,
            tyre_age_laps: lap,
            wear_pct: Corners::default(),
            fuel_kg: 100.0,
            track_status: TrackStatus::Green,
            pit_lane: false,
            sectors_s: [None; 3],
            ers_store_pct: 50.0,
            gap_to_leader_s: None,
        }
    }

    fn texts(entries: &[FeedEntry]) -> Vec<(EntryKind, &str)> {
        entries.iter().map(|e| (e.kind, e.text.as_str())).collect()
    }

    #[test]
    fn track_status_stops_and_retirements_read_newest_first() {
        let mut s = state();
        let (a, b) = (s.cars[0].car_idx, s.cars[1].car_idx);
        let (code_a, code_b) = (s.cars[0].driver.code.clone(), s.cars[1].driver.code.clone());
        s.cars[1].result_status = ResultStatus::Dnf;
        let events = [
            event(EventKind::VirtualSafetyCar, None, 3, 300.0),
            event(EventKind::GreenAgain, None, 4, 400.0),
            event(EventKind::PitStop, Some(a), 9, 900.0),
            event(EventKind::SafetyCar, None, 12, 1200.0),
            event(EventKind::Retirement, Some(b), 12, 1210.5),
            event(EventKind::GreenAgain, None, 15, 1500.0),
        ];
        let feed = feed(&events, &[], &s);
        assert_eq!(
            texts(&feed),
            [
                (EntryKind::GreenAgain, "SAFETY CAR IN · TRACK CLEAR"),
                (
                    EntryKind::Retirement,
                    format!("{code_b} out (DNF)").as_str()
                ),
                (EntryKind::SafetyCar, "SAFETY CAR DEPLOYED"),
                (EntryKind::PitStop, format!("{code_a} pits").as_str()),
                (EntryKind::GreenAgain, "VSC ENDED · TRACK CLEAR"),
                (EntryKind::VirtualSafetyCar, "VIRTUAL SAFETY CAR DEPLOYED"),
            ]
        );
        assert_eq!(feed[1].lap, 12);
        assert_eq!(feed[1].clock, "20:10");
        assert_eq!(feed[1].car_idx, Some(b));
        assert_eq!(feed[1].kind.class(), "rc-out");
        assert_eq!(feed[3].kind.tag(), "PIT");
        assert_eq!(
            announcement(&feed).as_deref(),
            Some("Lap 15: SAFETY CAR IN · TRACK CLEAR")
        );
        // Stops are not announced: with only a stop, nothing is.
        assert_eq!(announcement(&feed[3..4]), None);
    }

    #[test]
    fn a_disqualification_is_a_penalty_and_an_unknown_car_keeps_its_number() {
        let mut s = state();
        let out = s.cars[2].car_idx;
        s.cars[2].result_status = ResultStatus::Disqualified;
        let events = [
            event(EventKind::Retirement, Some(out), 20, 2000.0),
            event(EventKind::PitStop, Some(99), 21, 2100.0),
            event(EventKind::Retirement, None, 21, 2150.0),
            event(EventKind::GreenAgain, None, 22, 2200.0),
        ];
        let feed = feed(&events, &[], &s);
        let code = s.cars[2].driver.code.clone();
        assert_eq!(
            texts(&feed),
            [
                (EntryKind::GreenAgain, "SC/VSC ENDED · TRACK CLEAR"),
                (EntryKind::PitStop, "car 99 pits"),
                (
                    EntryKind::Disqualified,
                    format!("{code} disqualified").as_str()
                ),
            ]
        );
        assert_eq!(feed[2].kind.class(), "rc-penalty");
        assert!(feed[2].kind.announced());
    }

    #[test]
    fn penalties_name_their_car_and_kind() {
        let s = state();
        let car = s.cars[1].car_idx;
        let code = s.cars[1].driver.code.clone();
        let events = [
            event(EventKind::Penalty { seconds: 5 }, Some(car), 8, 800.0),
            event(EventKind::Penalty { seconds: 0 }, Some(car), 9, 900.0),
            event(EventKind::Penalty { seconds: 10 }, None, 9, 950.0),
        ];
        let feed = feed(&events, &[], &s);
        assert_eq!(
            texts(&feed),
            [
                (
                    EntryKind::Penalty,
                    format!("{code}: drive-through or stop-go penalty").as_str()
                ),
                (
                    EntryKind::Penalty,
                    format!("{code}: 5 s time penalty").as_str()
                ),
            ]
        );
        assert_eq!(
            (feed[0].kind.tag(), feed[0].kind.class()),
            ("PEN", "rc-penalty")
        );
        assert_eq!(feed[1].lap, 8);
        assert!(feed[0].kind.announced());
    }

    #[test]
    fn only_a_lap_faster_than_every_earlier_one_is_a_fastest_lap() {
        let s = state();
        let (a, b) = (s.cars[0].car_idx, s.cars[1].car_idx);
        let (code_a, code_b) = (s.cars[0].driver.code.clone(), s.cars[1].driver.code.clone());
        let records = [
            lap(a, 1, 100.0),
            lap(b, 1, 101.0),    // slower: nothing
            lap(a, 2, 95.0),     // new fastest
            lap(b, 2, 95.0),     // a tie is not a new fastest lap
            lap(b, 3, 94.25),    // new fastest
            lap(a, 3, f64::NAN), // unknown: skipped
            lap(a, 4, 94.5),     // not faster
        ];
        let feed = feed(&[], &records, &s);
        assert_eq!(
            texts(&feed),
            [
                (
                    EntryKind::FastestLap,
                    format!("Fastest lap: {code_b} 1:34.250").as_str()
                ),
                (
                    EntryKind::FastestLap,
                    format!("Fastest lap: {code_a} 1:35.000").as_str()
                ),
                (
                    EntryKind::FastestLap,
                    format!("Fastest lap: {code_a} 1:40.000").as_str()
                ),
            ]
        );
        // Set at the line: each car's laps summed.
        assert_eq!(feed[0].session_time_s, 101.0 + 95.0 + 94.25);
        assert_eq!(feed[0].lap, 3);
        assert_eq!(feed[1].session_time_s, 195.0);
        assert_eq!(feed[0].kind.class(), "rc-fastest");
        assert!(!feed[0].kind.announced());
        assert_eq!(announcement(&feed), None);
    }

    #[test]
    fn laps_and_events_interleave_by_time_and_the_feed_keeps_the_newest_fifty() {
        let s = state();
        let a = s.cars[0].car_idx;
        let records = [lap(a, 1, 100.0), lap(a, 2, 90.0)];
        let events = [
            event(EventKind::PitStop, Some(a), 1, 150.0),
            event(EventKind::SafetyCar, None, 3, 250.0),
        ];
        let kinds: Vec<EntryKind> = feed(&events, &records, &s).iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                EntryKind::SafetyCar,
                EntryKind::FastestLap,
                EntryKind::PitStop,
                EntryKind::FastestLap
            ]
        );
        let many: Vec<TwinEvent> = (0..64)
            .map(|i| event(EventKind::PitStop, Some(a), i, f64::from(i) * 60.0))
            .collect();
        let feed = feed(&many, &[], &s);
        assert_eq!(feed.len(), MAX_ENTRIES);
        assert_eq!(feed[0].lap, 63, "the newest first");
        assert_eq!(feed[MAX_ENTRIES - 1].lap, 14, "the oldest dropped");
    }

    /// A page that joins mid-race has no events from before: the stops come from the history (the in- and out-lap
    /// through the pit lane are one stop), and a car already out from the state; an event is never doubled.
    #[test]
    fn a_late_page_finds_earlier_stops_in_the_history_and_cars_out_in_the_state() {
        let mut s = state();
        let (a, b) = (s.cars[0].car_idx, s.cars[1].car_idx);
        let code_a = s.cars[0].driver.code.clone();
        let code_b = s.cars[1].driver.code.clone();
        s.cars[1].result_status = ResultStatus::Retired;
        s.cars[1].lap = 3;
        let through_pits = |car, n, t| LapRecord {
            pit_lane: true,
            ..lap(car, n, t)
        };
        let records = [
            lap(a, 1, 100.0),
            lap(b, 1, 101.0),
            through_pits(a, 2, 120.0),
            through_pits(a, 3, 115.0),
            lap(b, 2, 99.0),
            lap(a, 4, 98.0),
        ];
        let late = feed(&[], &records, &s);
        let stops: Vec<&FeedEntry> = late
            .iter()
            .filter(|e| e.kind == EntryKind::PitStop)
            .collect();
        assert_eq!(stops.len(), 1, "{late:?}");
        assert_eq!(stops[0].text, format!("{code_a} pits"));
        assert_eq!((stops[0].lap, stops[0].session_time_s), (2, 220.0));
        let out: Vec<&FeedEntry> = late
            .iter()
            .filter(|e| e.kind == EntryKind::Retirement)
            .collect();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].text, format!("{code_b} retired"));
        assert_eq!((out[0].lap, out[0].session_time_s), (3, 200.0));
        // Seen live, the same stop and retirement are the events' (entry time, pit entry on the in-lap), once each.
        let events = [
            event(EventKind::PitStop, Some(a), 2, 210.0),
            event(EventKind::Retirement, Some(b), 3, 230.0),
        ];
        let live = feed(&events, &records, &s);
        let once: Vec<(EntryKind, f64)> = live
            .iter()
            .filter(|e| e.kind != EntryKind::FastestLap)
            .map(|e| (e.kind, e.session_time_s))
            .collect();
        assert_eq!(
            once,
            [(EntryKind::Retirement, 230.0), (EntryKind::PitStop, 210.0)]
        );
    }

    #[test]
    fn clocks_read_like_a_race_clock() {
        assert_eq!(clock(7.9), "0:07");
        assert_eq!(clock(2292.0), "38:12");
        assert_eq!(clock(3753.4), "1:02:33");
        assert_eq!(clock(f64::NAN), "—");
        assert_eq!(clock(-1.0), "—");
    }

    /// The twins' own events and history over a simulated race: stops and retirements name real drivers, and a
    /// fastest lap's time (summed lap times) is when the car crossed the line, to within the sampling step.
    #[test]
    fn a_simulated_race_gives_stops_and_fastest_laps_at_the_right_time() {
        let mut sim = RaceSim::new(&SimConfig {
            seed: 11,
            total_laps: 20,
        });
        let mut twins = Twins::new(TwinParams::PIT_WALL);
        let step_s = 0.5;
        // Session time at which each (car, lap) was first seen completed.
        let mut crossed: Vec<(u8, u32, f64)> = Vec::new();
        let mut t = 0.0;
        let mut last = sim.state();
        while t < 20.0 * 110.0 {
            t += step_s;
            sim.advance_to(t);
            let s = sim.state();
            for c in &s.cars {
                if c.lap > 1
                    && !crossed
                        .iter()
                        .any(|&(i, l, _)| i == c.car_idx && l == c.lap - 1)
                {
                    crossed.push((c.car_idx, c.lap - 1, s.session_time_s));
                }
            }
            twins.observe(&s);
            last = s;
        }
        let report = twins.report(&last);
        let feed = feed(&report.events, twins.records(), &last);
        assert!(
            feed.iter().any(|e| e.kind == EntryKind::PitStop),
            "a 20-lap race has stops: {feed:?}"
        );
        let fastest: Vec<&FeedEntry> = feed
            .iter()
            .filter(|e| e.kind == EntryKind::FastestLap)
            .collect();
        assert!(!fastest.is_empty());
        for e in fastest {
            let car = e.car_idx.unwrap();
            let &(_, _, seen_s) = crossed
                .iter()
                .find(|&&(i, l, _)| i == car && l == e.lap)
                .unwrap();
            assert!(
                seen_s - step_s - 0.01 <= e.session_time_s && e.session_time_s <= seen_s + 0.01,
                "{e:?} crossed by {seen_s}"
            );
        }
        let best = last
            .cars
            .iter()
            .filter_map(|c| c.best_lap_s)
            .fold(f64::INFINITY, f64::min);
        // Every stop once, from the events; a page that had joined at the end lists the same stops from the history.
        let stops = |entries: &[FeedEntry]| -> Vec<(u8, u32)> {
            let mut stops: Vec<(u8, u32)> = entries
                .iter()
                .filter(|e| e.kind == EntryKind::PitStop)
                .map(|e| (e.car_idx.unwrap(), e.lap))
                .collect();
            stops.sort_unstable();
            stops
        };
        let mut seen: Vec<(u8, u32)> = report
            .events
            .iter()
            .filter(|e| e.kind == EventKind::PitStop)
            .map(|e| (e.car_idx.unwrap(), e.lap))
            .collect();
        seen.sort_unstable();
        assert!(feed.len() < MAX_ENTRIES, "nothing cut: {}", feed.len());
        assert_eq!(stops(&feed), seen);
        let late = super::feed(&[], twins.records(), &last);
        let found = stops(&late);
        assert_eq!(found.len(), seen.len(), "{found:?} vs {seen:?}");
        for ((car, lap), (seen_car, seen_lap)) in found.iter().zip(&seen) {
            assert!(
                car == seen_car && lap.abs_diff(*seen_lap) <= 1,
                "{found:?} vs {seen:?}"
            );
        }
        let newest_fastest = feed
            .iter()
            .find(|e| e.kind == EntryKind::FastestLap)
            .unwrap();
        assert!(
            newest_fastest.text.ends_with(&lap_time(Some(best))),
            "{newest_fastest:?} vs {best}"
        );
    }
}
