//! What the screen shows, as pure functions of engine types: time and gap formatting, timing-tower rows, tyre and
//! status colours. Kept free of Leptos so it is tested natively.

use boxbox_engine::twin::{PitWindowStatus, Rate};
use boxbox_engine::wire::{CarState, Compound, DriverStatus, PitStatus, ResultStatus, TrackStatus};

/// A lap or sector time as `m:ss.sss` (or `ss.sss` under a minute); `—` when unknown.
pub fn lap_time(s: Option<f64>) -> String {
    let Some(s) = s.filter(|s| s.is_finite() && *s >= 0.0) else {
        return "—".to_owned();
    };
    let ms = (s * 1000.0).round() as u64;
    let (min, rest) = (ms / 60_000, ms % 60_000);
    if min == 0 {
        format!("{}.{:03}", rest / 1000, rest % 1000)
    } else {
        format!("{min}:{:02}.{:03}", rest / 1000, rest % 1000)
    }
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
}

impl TowerRow {
    /// The row for one car.
    pub fn new(car: &CarState) -> Self {
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
            compound: car.tyres.compound.letter(),
            compound_class: compound_class(car.tyres.compound),
            tyre_age: car.tyres.age_laps,
            stops: car.pit_stops,
            status: status_label(car),
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
    fn rows_follow_the_state() {
        let mut sim = RaceSim::new(&SimConfig {
            seed: 4,
            total_laps: 5,
        });
        sim.advance_to(250.0);
        let state = sim.state();
        let rows: Vec<TowerRow> = state.cars.iter().map(TowerRow::new).collect();
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
    }
}
