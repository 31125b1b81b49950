//! The Field panel as data: one row per car in the report's running order, with its corrected pace and
//! degradation, its next laps, its predicted stop, where it would rejoin if it pitted now, and its undercut and
//! overcut chances on the car ahead.

use boxbox_engine::sorting::{sort_by, sort_by_key};
use boxbox_engine::twin::TwinReport;
use boxbox_engine::twin::explain::CALL_PROBABILITY;
use boxbox_engine::twin::field::{Battle, RivalTwin};
use boxbox_engine::twin::pit::{PitBasis, PitPrediction, Rejoin};
use boxbox_engine::wire::{PitStatus, RaceState, ResultStatus};

use super::{chance, compound_class, lap_time, lap_time_to, signed};

/// How many predicted laps a row shows.
pub const NEXT_LAPS: usize = 2;

/// One row of the Field panel.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldRow {
    /// Stable car index (the row's identity for selection).
    pub car_idx: u8,
    /// Position, 1-based.
    pub position: u8,
    /// Driver code.
    pub code: String,
    /// Team colour, `#rrggbb` (from the live state; grey when the car has left it).
    pub team_colour: String,
    /// Compound letter.
    pub compound: char,
    /// CSS class of the compound.
    pub compound_class: &'static str,
    /// Tyre age in laps.
    pub tyre_age: u32,
    /// Fuel- and tyre-corrected pace on this set: `1:34.113`.
    pub pace: String,
    /// Degradation: `+0.131`, in s/lap.
    pub deg: String,
    /// The next [`NEXT_LAPS`] predicted lap times: `1:37.55`.
    pub next_laps: Vec<String>,
    /// The predicted stop: `L23 ±2`, `IN PIT`, `no stop` or `—`.
    pub stop: String,
    /// What the stop rests on: `field`, `plan`, `SC/VSC`, `overdue`, or empty.
    pub stop_basis: &'static str,
    /// The most likely in-laps with their probabilities, for a tooltip: `L22 30 % · L23 45 % · L24 25 %`.
    pub stop_detail: String,
    /// Rejoin position if it pitted now: `P7`, or `—`.
    pub rejoin: String,
    /// The rejoin is in traffic.
    pub traffic: bool,
    /// The rejoin's neighbours, for a tooltip: `pit now: P7, 0.8 s behind HAM (traffic), 2.1 s ahead of ALB`.
    pub rejoin_detail: String,
    /// Undercut chance on the car ahead: `34 %`, or empty for the leader.
    pub undercut: String,
    /// Overcut chance on the car ahead.
    pub overcut: String,
    /// CSS class of the undercut chance (`chance-hot` from the twins' call threshold).
    pub undercut_class: &'static str,
    /// CSS class of the overcut chance.
    pub overcut_class: &'static str,
    /// Out of the race.
    pub out: bool,
}

/// The Field panel's rows, in the report's running order. Team colours come from `state`.
pub fn field_rows(report: &TwinReport, state: &RaceState) -> Vec<FieldRow> {
    let code_of = |car_idx: u8| {
        report
            .field
            .rivals
            .iter()
            .find(|r| r.car_idx == car_idx)
            .map(|r| r.code.clone())
    };
    report
        .field
        .rivals
        .iter()
        .map(|r| {
            let battle = report
                .field
                .battles
                .iter()
                .find(|b| b.attacker == r.car_idx);
            field_row(r, battle, state, &code_of)
        })
        .collect()
}

fn field_row(
    r: &RivalTwin,
    battle: Option<&Battle>,
    state: &RaceState,
    code_of: &dyn Fn(u8) -> Option<String>,
) -> FieldRow {
    let live = state.car(r.car_idx);
    let out = r.result_status != ResultStatus::Active;
    let in_pit = live.is_some_and(|c| c.pit_status != PitStatus::None);
    let (stop, stop_basis, stop_detail) = match (&r.next_pit, out, in_pit) {
        (_, true, _) => ("—".to_owned(), "", String::new()),
        (_, false, true) => ("IN PIT".to_owned(), "", String::new()),
        (Some(p), false, false) => (stop(p), basis(p.basis), stop_detail(p)),
        (None, false, false) => ("no stop".to_owned(), "", String::new()),
    };
    let (undercut, undercut_class, overcut, overcut_class) = match battle {
        Some(b) => (
            chance(b.undercut.probability),
            chance_class(b.undercut.probability),
            chance(b.overcut.probability),
            chance_class(b.overcut.probability),
        ),
        None => (String::new(), "", String::new(), ""),
    };
    FieldRow {
        car_idx: r.car_idx,
        position: r.position,
        code: r.code.clone(),
        team_colour: live.map_or_else(|| "#555".to_owned(), |c| c.team.colour.clone()),
        compound: r.compound.letter(),
        compound_class: compound_class(r.compound),
        tyre_age: r.tyre_age_laps,
        pace: lap_time(r.pace.map(|m| m.base_s)),
        deg: signed(r.pace.map(|m| m.deg_s_per_lap), 3, ""),
        next_laps: if out {
            Vec::new()
        } else {
            r.predicted_laps_s
                .iter()
                .take(NEXT_LAPS)
                .map(|s| lap_time_to(Some(*s), 2))
                .collect()
        },
        stop,
        stop_basis,
        stop_detail,
        rejoin: match (&r.rejoin, out) {
            (Some(j), false) => format!("P{}", j.position),
            _ => "—".to_owned(),
        },
        traffic: !out && r.rejoin.as_ref().is_some_and(|j| j.traffic),
        rejoin_detail: match (&r.rejoin, out) {
            (Some(j), false) => rejoin_detail(j, code_of),
            _ => String::new(),
        },
        undercut,
        overcut,
        undercut_class,
        overcut_class,
        out,
    }
}

/// A predicted stop: `L23 ±2` (the spread is one standard deviation, at least a lap).
pub fn stop(p: &PitPrediction) -> String {
    format!("L{} ±{:.0}", p.lap, p.spread_laps.max(1.0))
}

/// Where a car pitting now rejoins, with its neighbours: `pit now: P7, 0.8 s behind HAM (traffic), 2.1 s ahead
/// of ALB`. `code_of` names a car by index (`#idx` when it cannot).
pub fn rejoin_detail(j: &Rejoin, code_of: &dyn Fn(u8) -> Option<String>) -> String {
    let name = |idx: u8| code_of(idx).unwrap_or_else(|| format!("#{idx}"));
    let mut out = format!("pit now: P{}", j.position);
    if let (Some(idx), Some(gap)) = (j.car_ahead, j.gap_ahead_s) {
        out.push_str(&format!(", {gap:.1} s behind {}", name(idx)));
        if j.traffic {
            out.push_str(" (traffic)");
        }
    }
    if let (Some(idx), Some(gap)) = (j.car_behind, j.gap_behind_s) {
        out.push_str(&format!(", {gap:.1} s ahead of {}", name(idx)));
    }
    out
}

/// What a prediction rests on, in a word.
pub fn basis(b: PitBasis) -> &'static str {
    match b {
        PitBasis::Plan => "plan",
        PitBasis::Field => "field",
        PitBasis::Neutralised => "SC/VSC",
        PitBasis::Overdue => "overdue",
        PitBasis::Crossover => "crossover",
    }
}

/// The three likeliest in-laps, in lap order: `L22 30 % · L23 45 % · L24 25 %`.
fn stop_detail(p: &PitPrediction) -> String {
    let mut likeliest = p.probabilities.clone();
    sort_by(&mut likeliest, |a, b| {
        b.p.total_cmp(&a.p).then(a.lap.cmp(&b.lap))
    });
    likeliest.truncate(3);
    sort_by_key(&mut likeliest, |l| l.lap);
    likeliest
        .iter()
        .map(|l| format!("L{} {}", l.lap, chance(l.p)))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// CSS class of an undercut or overcut chance: `chance-hot` at the twins' call threshold, `chance-warm` from half
/// of it.
pub fn chance_class(p: f64) -> &'static str {
    if p >= CALL_PROBABILITY {
        "chance-hot"
    } else if p >= CALL_PROBABILITY / 2.0 {
        "chance-warm"
    } else {
        "chance-cold"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use boxbox_engine::sim::{RaceSim, SimConfig};
    use boxbox_engine::twin::pit::LapProbability;
    use boxbox_engine::twin::{TwinParams, Twins};

    fn race(until_s: f64) -> (RaceState, TwinReport) {
        let mut sim = RaceSim::new(&SimConfig {
            seed: 7,
            total_laps: 40,
        });
        let mut twins = Twins::new(TwinParams::PIT_WALL);
        let mut t = 0.0;
        let mut state = sim.state();
        while t <= until_s {
            sim.advance_to(t);
            state = sim.state();
            twins.observe(&state);
            t += 2.0;
        }
        let report = twins.report(&state);
        (state, report)
    }

    #[test]
    fn every_car_gets_a_row_with_pace_next_laps_and_a_predicted_stop() {
        let (state, report) = race(1200.0);
        let rows = field_rows(&report, &state);
        assert_eq!(rows.len(), 20);
        assert_eq!(
            rows.iter().map(|r| r.position).collect::<Vec<_>>(),
            (1..=20).collect::<Vec<_>>()
        );
        for row in rows.iter().filter(|r| !r.out) {
            assert!(row.pace.contains(':'), "{row:?}");
            assert!(row.deg.starts_with(['+', '−', '0']), "{row:?}");
            assert_eq!(row.next_laps.len(), NEXT_LAPS, "{row:?}");
            assert!(row.rejoin.starts_with('P'), "{row:?}");
            assert!(
                row.rejoin_detail
                    .starts_with(&format!("pit now: {}", row.rejoin)),
                "{row:?}"
            );
        }
        let predicted = rows
            .iter()
            .filter(|r| r.stop.starts_with('L') && r.stop.contains(" ±"))
            .count();
        assert!(predicted >= 15, "{rows:#?}");
        // The leader has no car ahead to undercut; everyone else has both chances, unless it or the car ahead is
        // in the pit lane already (its stop is no longer a choice).
        assert!(!state.session.track_status.is_neutralised());
        assert!(rows[0].undercut.is_empty() && rows[0].overcut.is_empty());
        let mut battles = 0;
        for pair in rows.windows(2) {
            let (ahead, row) = (&pair[0], &pair[1]);
            if ahead.stop == "IN PIT" || row.stop == "IN PIT" || ahead.out || row.out {
                assert!(row.undercut.is_empty() && row.overcut.is_empty(), "{row:?}");
            } else {
                assert!(
                    row.undercut.ends_with('%') && row.overcut.ends_with('%'),
                    "{row:?}"
                );
                battles += 1;
            }
        }
        assert!(battles >= 15, "{battles} battles");
        let first = &state.cars[0];
        assert_eq!(rows[0].team_colour, first.team.colour);
    }

    #[test]
    fn a_rejoin_names_its_neighbours_and_flags_traffic() {
        let code_of = |idx: u8| (idx == 4).then(|| "HAM".to_owned());
        let j = Rejoin {
            position: 7,
            car_ahead: Some(4),
            gap_ahead_s: Some(0.84),
            car_behind: Some(9),
            gap_behind_s: Some(2.06),
            traffic: true,
        };
        assert_eq!(
            rejoin_detail(&j, &code_of),
            "pit now: P7, 0.8 s behind HAM (traffic), 2.1 s ahead of #9"
        );
        let leader = Rejoin {
            position: 1,
            car_ahead: None,
            gap_ahead_s: None,
            car_behind: Some(4),
            gap_behind_s: Some(3.0),
            traffic: false,
        };
        assert_eq!(
            rejoin_detail(&leader, &code_of),
            "pit now: P1, 3.0 s ahead of HAM"
        );
        // A row shows the position and flags traffic; an out car shows none.
        let (state, mut report) = race(1200.0);
        report.field.rivals[3].rejoin = Some(j);
        let rows = field_rows(&report, &state);
        assert_eq!((rows[3].rejoin.as_str(), rows[3].traffic), ("P7", true));
        report.field.rivals[3].result_status = ResultStatus::Retired;
        let rows = field_rows(&report, &state);
        assert_eq!(
            (
                rows[3].rejoin.as_str(),
                rows[3].traffic,
                rows[3].rejoin_detail.as_str()
            ),
            ("—", false, "")
        );
    }

    #[test]
    fn stops_and_chances_read_short() {
        let p = PitPrediction {
            lap: 23,
            spread_laps: 1.6,
            probabilities: vec![
                LapProbability { lap: 21, p: 0.05 },
                LapProbability { lap: 22, p: 0.30 },
                LapProbability { lap: 23, p: 0.45 },
                LapProbability { lap: 24, p: 0.20 },
            ],
            expected_stint_laps: 22.0,
            basis: PitBasis::Field,
        };
        assert_eq!(stop(&p), "L23 ±2");
        assert_eq!(stop_detail(&p), "L22 30 % · L23 45 % · L24 20 %");
        assert_eq!(
            stop(&PitPrediction {
                spread_laps: 0.2,
                ..p
            }),
            "L23 ±1"
        );
        assert_eq!(chance(0.0004), "<1 %");
        assert_eq!(chance(0.999), ">99 %");
        assert_eq!(chance(0.344), "34 %");
        assert_eq!(chance_class(0.83), "chance-hot");
        assert_eq!(chance_class(0.3), "chance-warm");
        assert_eq!(chance_class(0.01), "chance-cold");
    }
}
