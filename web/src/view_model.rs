//! What the screen shows, as pure functions of engine types: time and gap formatting, timing-tower rows, tyre and
//! status colours, and (in [`car`] and [`field`]) the car panel and the Field panel built from the twins' report,
//! and (in [`strategy`]) the strategy desk, and (in [`replay`]) the offline replay's controls, and (in [`charts`])
//! the Charts view's inputs, and (in [`share`]) share links and what the page's token may do, and (in [`sectors`])
//! the tower's sector colours, and (in [`race_control`]) the race control feed.
//! [`locks`] has the strategy locks: who may lock, the requests and the relay's answers.
//! Kept free of Leptos so it is tested natively.

pub mod car;
pub mod charts;
pub mod field;
pub mod locks;
pub mod race_control;
pub mod replay;
pub mod sectors;
pub mod share;
pub mod strategy;
pub mod traces;

use boxbox_engine::twin::{PitWindowStatus, Rate};
use boxbox_engine::wire::{
    CarState, Compound, DriverStatus, PitStatus, RaceState, ResultStatus, SessionInfo, TrackStatus,
};

use self::sectors::SectorCell;

/// A decimal number typed or sent as text (a control's value, a link's `t=`): `2700`, `12.5`, `1e3`, `+5`,
/// `090`, with surrounding blanks; `None` for anything else (`inf`, `NaN`, `.5` and `5.` included).
///
/// Read by serde_json, which the page links anyway for the wire and which rounds correctly (`float_roundtrip`):
/// `str::parse::<f64>` would add `core`'s own parser and its 10 KB table of powers of five to the wasm. JSON has
/// no leading `+` and no leading zeros, which a hand-written link may have: they are taken off first.
pub fn parse_number(text: &str) -> Option<f64> {
    let text = text.trim();
    let (sign, digits) = match (text.strip_prefix('-'), text.strip_prefix('+')) {
        (Some(rest), _) => ("-", rest),
        (None, Some(rest)) if !rest.starts_with(['+', '-']) => ("", rest),
        (None, Some(_)) => return None,
        (None, None) => ("", text),
    };
    // Zeros before another digit: `090` is 90, `0.5` and `0` stay.
    let zeros = digits.len() - digits.trim_start_matches('0').len();
    let keep = usize::from(!digits[zeros..].starts_with(|c: char| c.is_ascii_digit()));
    let digits = &digits[zeros.saturating_sub(keep)..];
    serde_json::from_str::<f64>(&format!("{sign}{digits}")).ok()
}

/// A lap or sector time as `m:ss.sss` (or `ss.sss` under a minute); `—` when unknown.
pub fn lap_time(s: Option<f64>) -> String {
    lap_time_to(s, 3)
}

/// A lap time as `m:ss.` followed by `decimals` digits (0 to 3); `—` when unknown.
pub fn lap_time_to(s: Option<f64>, decimals: u32) -> String {
    let Some(s) = s.filter(|s| s.is_finite() && *s >= 0.0) else {
        return "—".to_owned();
    };
    let decimals = decimals.min(3);
    let unit = 10u64.pow(decimals);
    let ticks = (s * unit as f64).round() as u64;
    let (min, rest) = (ticks / (60 * unit), ticks % (60 * unit));
    let (secs, frac) = (rest / unit, rest % unit);
    let frac = if decimals == 0 {
        String::new()
    } else {
        format!(".{frac:0width$}", width = decimals as usize)
    };
    if min == 0 {
        format!("{secs}{frac}")
    } else {
        format!("{min}:{secs:02}{frac}")
    }
}

/// A number with an explicit sign (`+0.131`, `−0.43`, with a real minus sign) and a unit suffix; `—` when unknown.
pub fn signed(x: Option<f64>, decimals: usize, unit: &str) -> String {
    match x.filter(|x| x.is_finite()) {
        // Rounds to zero: no sign.
        Some(x)
            if format!("{:.*}", decimals, x.abs())
                .trim_matches(['0', '.'])
                .is_empty() =>
        {
            format!("{:.*}{unit}", decimals, 0.0)
        }
        Some(x) if x < 0.0 => format!("−{:.*}{unit}", decimals, -x),
        Some(x) => format!("+{x:.decimals$}{unit}"),
        None => "—".to_owned(),
    }
}

/// A probability as a whole percentage; `<1 %` and `>99 %` at the ends, so a near-certainty never reads as a
/// certainty.
pub fn chance(p: f64) -> String {
    if !p.is_finite() {
        return "—".to_owned();
    }
    let pct = 100.0 * p;
    if pct < 0.5 {
        "<1 %".to_owned()
    } else if pct > 99.5 {
        ">99 %".to_owned()
    } else {
        format!("{pct:.0} %")
    }
}

/// Whether `next` belongs to a different session than `prev`: another source, track, distance or session type, or
/// the clock gone back further than a flashback goes (the relay switched sources, which starts a new session but
/// sends no new snapshot).
pub fn new_session(prev: &RaceState, next: &RaceState) -> bool {
    /// Game flashbacks rewind a few seconds; a new session restarts from zero.
    const REWIND_S: f64 = 60.0;
    prev.source != next.source
        || prev.session.track != next.session.track
        || prev.session.total_laps != next.session.total_laps
        || prev.session.session_type != next.session.session_type
        || next.session_time_s < prev.session_time_s - REWIND_S
        || next.session.leader_lap + 1 < prev.session.leader_lap
}

/// A gap as the tower shows it: `+1.234`, `+1 LAP`, `+2 LAPS`, or `—`.
pub fn gap(gap_s: Option<f64>, laps_down: u32) -> String {
    match (laps_down, gap_s) {
        (1, _) => "+1 LAP".to_owned(),
        (n @ 2.., _) => format!("+{n} LAPS"),
        (0, Some(g)) if g.is_finite() => format!("+{g:.3}"),
        _ => "—".to_owned(),
    }
}

/// One row of the timing tower.
#[derive(Clone, Debug, PartialEq)]
pub struct TowerRow {
    /// Stable car index (the row's identity for selection).
    pub car_idx: u8,
    /// Position, 1-based.
    pub position: u8,
    /// Driver code.
    pub code: String,
    /// Team colour, `#rrggbb`.
    pub team_colour: String,
    /// Gap to the leader, formatted.
    pub gap: String,
    /// Interval to the car ahead, formatted.
    pub interval: String,
    /// Last lap, formatted.
    pub last_lap: String,
    /// The last lap's sectors, marked against the session's bests.
    pub sectors: [SectorCell; 3],
    /// Compound letter.
    pub compound: char,
    /// CSS class of the compound.
    pub compound_class: &'static str,
    /// Tyre age in laps.
    pub tyre_age: u32,
    /// Pit stops made.
    pub stops: u32,
    /// Short status: `PIT`, `OUT`, `DNF`, `FIN` or empty.
    pub status: &'static str,
    /// Penalties: `+5s`, `DT` (a drive-through or stop-go to serve), both, or empty.
    pub penalty: String,
}

impl TowerRow {
    /// The row for one car, its sectors marked against the session's bests ([`sectors::session_bests_ms`]).
    pub fn new(car: &CarState, session_bests_ms: &[Option<u64>; 3]) -> Self {
        let leader = car.position == 1;
        TowerRow {
            car_idx: car.car_idx,
            position: car.position,
            code: car.driver.code.clone(),
            team_colour: car.team.colour.clone(),
            gap: if leader {
                "LEADER".to_owned()
            } else {
                gap(car.gap_to_leader_s, car.laps_down)
            },
            interval: if leader {
                String::new()
            } else {
                gap(car.interval_s, 0)
            },
            last_lap: lap_time(car.last_lap_s),
            sectors: sectors::sector_cells(car, session_bests_ms),
            compound: car.tyres.compound.letter(),
            compound_class: compound_class(car.tyres.compound),
            tyre_age: car.tyres.age_laps,
            stops: car.pit_stops,
            status: status_label(car),
            penalty: penalty_label(car),
        }
    }
}

/// CSS class for a compound's colour.
pub fn compound_class(c: Compound) -> &'static str {
    match c {
        Compound::Soft => "tyre-soft",
        Compound::Medium => "tyre-medium",
        Compound::Hard => "tyre-hard",
        Compound::Intermediate => "tyre-inter",
        Compound::Wet => "tyre-wet",
    }
}

/// Short status shown in the tower.
pub fn status_label(car: &CarState) -> &'static str {
    match (car.result_status, car.pit_status, car.driver_status) {
        (ResultStatus::Dnf | ResultStatus::Retired, ..) => "DNF",
        (ResultStatus::Disqualified, ..) => "DSQ",
        (ResultStatus::Finished, ..) => "FIN",
        (_, PitStatus::PitLane | PitStatus::PitBox, _) => "PIT",
        (_, _, DriverStatus::OutLap) => "OUT",
        _ => "",
    }
}

/// A car's penalties as the tower shows them: the time penalties given (`+5s`), `DT` while a drive-through or
/// stop-go is to be served (`DT×2` for two), both, or empty.
pub fn penalty_label(car: &CarState) -> String {
    let time = (car.penalties_s > 0).then(|| format!("+{}s", car.penalties_s));
    let to_serve = match car.unserved_penalties {
        0 => None,
        1 => Some("DT".to_owned()),
        n => Some(format!("DT×{n}")),
    };
    [time, to_serve]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Label and CSS class of the track status.
pub fn track_status(status: TrackStatus) -> (&'static str, &'static str) {
    match status {
        TrackStatus::Green => ("GREEN", "flag-green"),
        TrackStatus::Yellow => ("YELLOW", "flag-yellow"),
        TrackStatus::VirtualSafetyCar => ("VSC", "flag-vsc"),
        TrackStatus::SafetyCar => ("SAFETY CAR", "flag-sc"),
        TrackStatus::Red => ("RED FLAG", "flag-red"),
    }
}

/// The session bar's weather: the weather and temperatures now, then the rain the forecast calls (the twins'
/// rule: within 15 minutes, at least 50 %) or, while it rains, the first dry sample ahead.
pub fn weather_line(s: &SessionInfo) -> String {
    use boxbox_engine::twin::weather::{is_rain, rain_ahead};
    if s.timing_only {
        // A timing feed measures no weather: nothing to show rather than a clear sky at 0 °C.
        return "weather not measured".to_owned();
    }
    let now = format!(
        "{:?} · air {:.0}°C · track {:.0}°C",
        s.weather, s.air_temp_c, s.track_temp_c
    );
    let dry = || {
        s.forecast
            .iter()
            .find(|f| f.in_min > 0 && !is_rain(f.weather))
            .filter(|_| is_rain(s.weather))
    };
    match (rain_ahead(s), dry()) {
        (Some(f), _) => format!("{now} · rain {} % in {} min", f.rain_pct, f.in_min),
        (None, Some(f)) => format!("{now} · dry in {} min", f.in_min),
        (None, None) => now,
    }
}

/// CSS class for a tyre's wear: fine, worn (past 50 %) or critical (past the 70 % limit).
pub fn wear_class(wear_pct: f64) -> &'static str {
    if wear_pct >= 70.0 {
        "wear-critical"
    } else if wear_pct >= 50.0 {
        "wear-worn"
    } else {
        "wear-ok"
    }
}

/// A rate with its uncertainty, e.g. `2.71 ±0.05`; `—` until known.
pub fn rate(r: Option<Rate>, decimals: usize) -> String {
    match r {
        Some(r) if r.n_laps > 1 => format!("{:.*} ±{:.*}", decimals, r.mean, decimals, r.std_err),
        Some(r) => format!("{:.*}", decimals, r.mean),
        None => "—".to_owned(),
    }
}

/// An optional number with a unit suffix, or `—`.
pub fn number(x: Option<f64>, decimals: usize, unit: &str) -> String {
    x.filter(|x| x.is_finite())
        .map_or_else(|| "—".to_owned(), |x| format!("{x:.decimals$}{unit}"))
}

/// A signed fuel margin, e.g. `+1.4 kg` or `−0.8 kg`.
pub fn fuel_margin(x: Option<f64>) -> String {
    match x.filter(|x| x.is_finite()) {
        Some(x) if x < 0.0 => format!("−{:.1} kg", -x),
        Some(x) => format!("+{x:.1} kg"),
        None => "—".to_owned(),
    }
}

/// Label and CSS class of a pit-window status.
pub fn pit_window_status(status: PitWindowStatus) -> (&'static str, &'static str) {
    match status {
        PitWindowStatus::Unknown => ("LEARNING", "pw-unknown"),
        PitWindowStatus::Upcoming => ("UPCOMING", "pw-upcoming"),
        PitWindowStatus::Open => ("OPEN", "pw-open"),
        PitWindowStatus::Overdue => ("BOX NOW", "pw-overdue"),
        PitWindowStatus::NotNeeded => ("NO STOP", "pw-none"),
        PitWindowStatus::Closed => ("—", "pw-unknown"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use boxbox_engine::sim::{RaceSim, SimConfig};

    #[test]
    fn the_weather_line_says_the_rain_the_forecast_calls() {
        use boxbox_engine::wire::{Forecast, Weather};
        let mut s = RaceSim::new(&SimConfig::sakhir_2019(1)).state().session;
        (s.weather, s.air_temp_c, s.track_temp_c) = (Weather::Overcast, 19.6, 31.2);
        assert_eq!(weather_line(&s), "Overcast · air 20°C · track 31°C");
        let sample = |in_min, weather, rain_pct| Forecast {
            in_min,
            weather,
            rain_pct,
        };
        s.forecast = vec![
            sample(0, Weather::Overcast, 20),
            sample(5, Weather::LightRain, 40),
            sample(10, Weather::LightRain, 70),
        ];
        assert_eq!(
            weather_line(&s),
            "Overcast · air 20°C · track 31°C · rain 70 % in 10 min"
        );
        s.weather = Weather::LightRain;
        s.forecast = vec![
            sample(0, Weather::LightRain, 80),
            sample(5, Weather::LightRain, 60),
            sample(15, Weather::Overcast, 30),
        ];
        assert_eq!(
            weather_line(&s),
            "LightRain · air 20°C · track 31°C · dry in 15 min"
        );
        s.timing_only = true;
        assert_eq!(weather_line(&s), "weather not measured");
    }

    #[test]
    fn numbers_read_as_rust_reads_them_for_what_controls_and_links_send() {
        for text in [
            "2700",
            "2700.5",
            "0",
            "0.1",
            "12.345678901234567",
            "1e3",
            "2.5E-3",
            "-4",
            "100",
        ] {
            assert_eq!(parse_number(text), text.parse::<f64>().ok(), "{text}");
        }
        assert_eq!(parse_number(" 612 "), Some(612.0));
        for (text, n) in [
            ("+5", 5.0),
            ("090", 90.0),
            ("007.5", 7.5),
            ("-012", -12.0),
            ("0", 0.0),
            ("00", 0.0),
        ] {
            assert_eq!(parse_number(text), Some(n), "{text}");
        }
        for text in [
            "", "abc", "1,5", "inf", "NaN", "12s", "--1", "+-1", "+", "0x10",
        ] {
            assert_eq!(parse_number(text), None, "{text:?}");
        }
    }

    #[test]
    fn penalties_read_as_time_added_and_passes_to_serve() {
        let mut sim = RaceSim::new(&SimConfig {
            seed: 1,
            total_laps: 5,
        });
        sim.advance_to(60.0);
        let mut car = sim.state().cars[0].clone();
        assert_eq!(penalty_label(&car), "");
        car.penalties_s = 5;
        assert_eq!(penalty_label(&car), "+5s");
        car.unserved_penalties = 1;
        assert_eq!(penalty_label(&car), "+5s DT");
        car.penalties_s = 0;
        car.unserved_penalties = 2;
        assert_eq!(penalty_label(&car), "DT×2");
        assert_eq!(TowerRow::new(&car, &[None; 3]).penalty, "DT×2");
    }

    #[test]
    fn times_and_gaps_read_like_a_timing_screen() {
        assert_eq!(lap_time(Some(97.8124)), "1:37.812");
        assert_eq!(lap_time(Some(31.05)), "31.050");
        assert_eq!(lap_time(Some(59.9996)), "1:00.000");
        assert_eq!(lap_time(None), "—");
        assert_eq!(lap_time(Some(f64::NAN)), "—");
        assert_eq!(gap(Some(1.23449), 0), "+1.234");
        assert_eq!(gap(Some(80.0), 1), "+1 LAP");
        assert_eq!(gap(None, 3), "+3 LAPS");
        assert_eq!(gap(None, 0), "—");
        assert_eq!(fuel_margin(Some(-0.84)), "−0.8 kg");
        assert_eq!(fuel_margin(Some(1.44)), "+1.4 kg");
        assert_eq!(
            rate(
                Some(Rate {
                    mean: 2.714,
                    std_err: 0.051,
                    n_laps: 5
                }),
                2
            ),
            "2.71 ±0.05"
        );
        assert_eq!(number(Some(12.345), 1, " laps"), "12.3 laps");
    }

    #[test]
    fn signs_times_and_chances_read_like_a_timing_screen() {
        assert_eq!(lap_time_to(Some(97.5549), 2), "1:37.55");
        assert_eq!(lap_time_to(Some(59.996), 2), "1:00.00");
        assert_eq!(lap_time_to(Some(31.44), 0), "31");
        assert_eq!(lap_time_to(None, 2), "—");
        assert_eq!(signed(Some(0.1309), 3, " s/lap"), "+0.131 s/lap");
        assert_eq!(signed(Some(-0.434), 2, " s"), "−0.43 s");
        assert_eq!(signed(Some(-0.0004), 3, ""), "0.000");
        assert_eq!(signed(None, 1, " s"), "—");
        assert_eq!(chance(0.5), "50 %");
    }

    #[test]
    fn a_new_session_is_told_from_a_flashback() {
        let mut sim = RaceSim::new(&SimConfig {
            seed: 4,
            total_laps: 5,
        });
        sim.advance_to(400.0);
        let prev = sim.state();
        let mut next = prev.clone();
        next.session_time_s -= 5.0;
        assert!(
            !new_session(&prev, &next),
            "a flashback is the same session"
        );
        next.session_time_s = 0.0;
        assert!(new_session(&prev, &next));
        let mut next = prev.clone();
        next.session.track = "Shanghai".to_owned();
        assert!(new_session(&prev, &next));
        let mut next = prev.clone();
        next.source = boxbox_engine::wire::DataSource::Replay;
        assert!(new_session(&prev, &next));
    }

    #[test]
    fn rows_follow_the_state() {
        let mut sim = RaceSim::new(&SimConfig {
            seed: 4,
            total_laps: 5,
        });
        sim.advance_to(250.0);
        let state = sim.state();
        let bests = sectors::session_bests_ms(&state.cars);
        let rows: Vec<TowerRow> = state
            .cars
            .iter()
            .map(|c| TowerRow::new(c, &bests))
            .collect();
        assert_eq!(rows.len(), 20);
        assert_eq!(rows[0].gap, "LEADER");
        assert!(rows[1].gap.starts_with('+'), "{:?}", rows[1]);
        for (row, car) in rows.iter().zip(&state.cars) {
            let expected = if car.last_lap_s.is_some() { ':' } else { '—' };
            assert!(row.last_lap.contains(expected), "{row:?}");
        }
        assert_eq!(
            rows.iter().map(|r| r.position).collect::<Vec<_>>(),
            (1..=20).collect::<Vec<_>>()
        );
        // Two laps in, every car that completed a lap shows its sectors, and some are somebody's best.
        for (row, car) in rows.iter().zip(&state.cars) {
            let shown = car.last_lap_s.is_some();
            assert!(
                row.sectors.iter().all(|c| (c.time != "—") == shown),
                "{row:?}"
            );
        }
        assert!(
            rows.iter()
                .flat_map(|r| &r.sectors)
                .any(|c| c.mark != sectors::SectorMark::Plain)
        );
    }
}
