//! The car panel as data: everything shown for the selected car, formatted, from its live state and its Car Twin
//! in the twins' report. Sources that measure only timing (real-race replays) read "not measured", never zeros.

use boxbox_engine::sorting::sort_by;
use boxbox_engine::twin::alert::{Alert, AlertKind, Evidence, Severity};
use boxbox_engine::twin::car::{RivalDelta, StintDegradation};
use boxbox_engine::twin::pit::Rejoin;
use boxbox_engine::twin::{CarTwin, TwinParams, TwinReport};
use boxbox_engine::wire::{CORNER_NAMES, CarState, RaceState, Stint};

use super::{
    compound_class, fuel_margin, lap_time, number, pit_window_status, rate, signed, status_label,
    wear_class,
};

/// What a source that does not measure something shows instead of a number.
pub const NOT_MEASURED: &str = "not measured";

/// Everything the car panel shows.
#[derive(Clone, Debug, PartialEq)]
pub struct CarPanel {
    /// Position, name, team, lap.
    pub head: CarHead,
    /// The twins' calls for this car, most urgent first.
    pub alerts: Vec<AlertCard>,
    /// Tyres: compound, life, the four corners.
    pub tyres: TyresView,
    /// The stints so far, as a bar.
    pub stints: Vec<StintChip>,
    /// The Car Twin's figures; `None` until the first report includes the car.
    pub twin: Option<TwinView>,
}

/// The panel's header.
#[derive(Clone, Debug, PartialEq)]
pub struct CarHead {
    /// `P3`.
    pub position: String,
    /// Driver's full name.
    pub name: String,
    /// `#44 · Mercedes`.
    pub team: String,
    /// Team colour, `#rrggbb`.
    pub team_colour: String,
    /// `Lap 31 / 57`.
    pub lap: String,
    /// `PIT`, `OUT`, `DNF`, `FIN` or empty.
    pub status: &'static str,
}

/// One call of the twins about the car.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertCard {
    /// `BOX NOW`, `UNDERCUT THREAT`, …
    pub kind: &'static str,
    /// CSS classes: severity and kind.
    pub class: String,
    /// The radio line, as is.
    pub radio: String,
    /// `L31`: the car's lap when it was raised.
    pub lap: String,
    /// The evidence, strongest first.
    pub evidence: Vec<EvidenceLine>,
}

/// One evidence item: `gap to SAI` `0.9 s`.
#[derive(Clone, Debug, PartialEq)]
pub struct EvidenceLine {
    /// What was measured.
    pub label: String,
    /// The number with its unit.
    pub value: String,
}

/// Tyres.
#[derive(Clone, Debug, PartialEq)]
pub struct TyresView {
    /// Compound letter.
    pub compound: char,
    /// CSS class of the compound.
    pub compound_class: &'static str,
    /// `14 laps old`.
    pub age: String,
    /// When the wear limit is reached: `rear-left reaches 70 % in 9.8 laps (8.1–12.0)`.
    pub wear_limit: String,
    /// When lap times fall off: `cliff in 12.3 laps`.
    pub cliff: String,
    /// The four corners, in [`CORNER_NAMES`] order.
    pub corners: Vec<CornerTile>,
}

/// Blistering, percent, from which a corner is flagged.
pub const BLISTERED_PCT: f64 = 10.0;

/// One tyre.
#[derive(Clone, Debug, PartialEq)]
pub struct CornerTile {
    /// `front-left`.
    pub name: &'static str,
    /// `24.5%`, or [`NOT_MEASURED`].
    pub wear: String,
    /// CSS class of the wear.
    pub class: &'static str,
    /// `1.68 ±0.02 %/lap`, or [`NOT_MEASURED`].
    pub rate: String,
    /// `98° surf · 104° inner`; empty when not measured.
    pub temps: String,
    /// `23.1 psi`; empty when not measured.
    pub pressure: String,
    /// `blisters 12%`; empty where the source does not measure blisters (older games, the simulator).
    pub blisters: String,
    /// Blistering from 10 % on: worth the engineer's eye.
    pub blistered: bool,
    /// This corner reaches the limit first.
    pub limiting: bool,
}

/// One stint in the stint bar.
#[derive(Clone, Debug, PartialEq)]
pub struct StintChip {
    /// `M 14`.
    pub label: String,
    /// CSS class of the compound.
    pub class: &'static str,
    /// Share of the race distance, percent.
    pub width_pct: f64,
}

/// The Car Twin's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct TwinView {
    /// Pace and degradation.
    pub pace: PaceView,
    /// Fuel.
    pub fuel: FuelView,
    /// Energy store.
    pub ers: ErsView,
    /// Damage.
    pub damage: DamageView,
    /// The next pit window.
    pub pit: PitView,
    /// The rejoin if the car pitted now.
    pub rejoin: RejoinView,
    /// Against the car ahead.
    pub rival: RivalView,
}

/// The pace model.
#[derive(Clone, Debug, PartialEq)]
pub struct PaceView {
    /// Fuel- and tyre-corrected pace on this set: `1:34.113`.
    pub corrected: String,
    /// Degradation on this set: `+0.131 s/lap`.
    pub deg: String,
    /// What it rests on: `13 clean laps · σ 0.47 s`.
    pub basis: String,
    /// Degradation of each stint so far.
    pub stints: Vec<StintDeg>,
}

/// One stint's degradation.
#[derive(Clone, Debug, PartialEq)]
pub struct StintDeg {
    /// Compound letter.
    pub compound: char,
    /// CSS class of the compound.
    pub class: &'static str,
    /// `+0.118 s/lap · 13 laps`.
    pub text: String,
}

/// Fuel.
#[derive(Clone, Debug, PartialEq)]
pub struct FuelView {
    /// `51.2 kg`.
    pub on_board: String,
    /// Modelled from the race distance (a timing-only source).
    pub modelled: bool,
    /// Green-flag burn: `1.92 ±0.00 kg/lap`.
    pub burn: String,
    /// Burn under SC/VSC: `SC/VSC 1.10 kg/lap`.
    pub burn_neutralised: String,
    /// `26.6 laps left`.
    pub laps_left: String,
    /// `+0.3 kg at flag`.
    pub margin: String,
    /// The car must save fuel.
    pub short: bool,
}

/// The energy store.
#[derive(Clone, Debug, PartialEq)]
pub struct ErsView {
    /// Measured by the source.
    pub measured: bool,
    /// `60%`, or [`NOT_MEASURED`].
    pub store: String,
    /// Store, percent, for the bar.
    pub store_pct: f64,
    /// `+0.33 ±0.69 %/lap`.
    pub trend: String,
}

/// Damage.
#[derive(Clone, Debug, PartialEq)]
pub struct DamageView {
    /// `10%`, or [`NOT_MEASURED`].
    pub worst: String,
    /// `gearbox 10 · engine 8`, `none`, or empty when not measured.
    pub parts: String,
}

/// The pit window.
#[derive(Clone, Debug, PartialEq)]
pub struct PitView {
    /// `OPEN`, `UPCOMING`, …
    pub status: &'static str,
    /// CSS class of the status.
    pub class: &'static str,
    /// `laps 31–52`, `by lap 52`, or empty.
    pub laps: String,
    /// `best lap 38`, or empty.
    pub best: String,
    /// The compound of the next set, if known: letter and CSS class.
    pub next_compound: Option<(char, &'static str)>,
    /// The engineer's line.
    pub reason: String,
}

/// Where the car would rejoin if it pitted now.
#[derive(Clone, Debug, PartialEq)]
pub struct RejoinView {
    /// `P9`, or `—`.
    pub position: String,
    /// `0.8 s behind RIC`, or empty.
    pub ahead: String,
    /// `0.7 s ahead of GAS`, or empty.
    pub behind: String,
    /// The first laps would be in traffic.
    pub traffic: bool,
}

/// Against a rival.
#[derive(Clone, Debug, PartialEq)]
pub struct RivalView {
    /// `HAM`, or `—` when there is no car ahead.
    pub code: String,
    /// `2.36 s ahead`.
    pub gap: String,
    /// `+0.43 s/lap` (this car's next lap minus the rival's).
    pub pace: String,
    /// This car is the faster.
    pub faster: bool,
    /// `catches in 5.4 laps`, or empty.
    pub catch: String,
}

/// The car panel for `car_idx`: live figures from `state`, the twin's from `report` (which may be up to a second
/// older). `None` when the car is not in the state.
pub fn car_panel(state: &RaceState, report: Option<&TwinReport>, car_idx: u8) -> Option<CarPanel> {
    let car = state.car(car_idx)?;
    let twin = report.and_then(|r| r.cars.iter().find(|t| t.car_idx == car_idx));
    let hidden = hidden(state, car);
    let measured = hidden.is_none();
    Some(CarPanel {
        head: CarHead {
            position: format!("P{}", car.position),
            name: car.driver.name.clone(),
            team: format!("#{} · {}", car.driver.number, car.team.name),
            team_colour: car.team.colour.clone(),
            lap: format!("Lap {} / {}", car.lap, state.session.total_laps),
            status: status_label(car),
        },
        alerts: report.map_or_else(Vec::new, |r| alert_cards(r, car)),
        tyres: tyres(car, twin, !state.session.timing_only, hidden),
        stints: car
            .stints
            .iter()
            .map(|s| stint_chip(s, state.session.total_laps))
            .collect(),
        twin: twin.map(|t| TwinView {
            pace: pace(t),
            fuel: fuel(car, t),
            ers: ers(car, t, measured),
            damage: damage(t, measured),
            pit: pit(t),
            rejoin: rejoin(state, t.rejoin.as_ref()),
            rival: rival(t.rival.as_ref()),
        }),
    })
}

/// Label of an alert kind.
pub fn alert_kind(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::BoxNow => "BOX NOW",
        AlertKind::StayOut => "STAY OUT",
        AlertKind::UndercutThreat => "UNDERCUT THREAT",
        AlertKind::UndercutChance => "UNDERCUT CHANCE",
        AlertKind::OvercutThreat => "OVERCUT THREAT",
        AlertKind::TyreCliff => "TYRE CLIFF",
        AlertKind::FuelSave => "FUEL SAVE",
        AlertKind::LapAnomaly => "LAP ANOMALY",
        AlertKind::SectorAnomaly => "SECTOR ANOMALY",
        AlertKind::Consistency => "DATA CHECK",
        AlertKind::Crossover => "CROSSOVER",
        AlertKind::Weather => "WEATHER",
    }
}

/// CSS classes of an alert: `alert sev-critical kind-box_now`.
pub fn alert_class(kind: AlertKind, severity: Severity) -> String {
    let severity = match severity {
        Severity::Info => "sev-info",
        Severity::Warning => "sev-warning",
        Severity::Critical => "sev-critical",
    };
    let kind = match kind {
        AlertKind::BoxNow => "box_now",
        AlertKind::StayOut => "stay_out",
        AlertKind::UndercutThreat => "undercut_threat",
        AlertKind::UndercutChance => "undercut_chance",
        AlertKind::OvercutThreat => "overcut_threat",
        AlertKind::TyreCliff => "tyre_cliff",
        AlertKind::FuelSave => "fuel_save",
        AlertKind::LapAnomaly => "lap_anomaly",
        AlertKind::SectorAnomaly => "sector_anomaly",
        AlertKind::Consistency => "consistency",
        AlertKind::Crossover => "crossover",
        AlertKind::Weather => "weather",
    };
    format!("alert {severity} kind-{kind}")
}

/// An evidence item: its label, and its value with the unit (`0.9 s`, `71 %`, `2.4σ`).
pub fn evidence(e: &Evidence) -> EvidenceLine {
    let decimals = match e.unit.as_str() {
        "%" => 0,
        "s" | "laps" | "kg" | "σ" => 1,
        _ => 2,
    };
    let value = if e.unit == "σ" {
        format!("{:.*}σ", decimals, e.value)
    } else if e.unit.is_empty() {
        format!("{:.*}", decimals, e.value)
    } else {
        format!("{:.*} {}", decimals, e.value, e.unit)
    };
    EvidenceLine {
        label: e.label.clone(),
        value,
    }
}

/// The calls about `car`, most urgent first: the report's alerts, and its lap and sector anomalies raised on this
/// lap or the last (older ones are history, not calls).
fn alert_cards(report: &TwinReport, car: &CarState) -> Vec<AlertCard> {
    let recent = |a: &&Alert| a.lap + 1 >= car.lap;
    let mut alerts: Vec<&Alert> = report
        .alerts
        .iter()
        .filter(|a| a.car_idx == Some(car.car_idx))
        .chain(
            report
                .anomalies
                .iter()
                .filter(|a| a.car_idx == Some(car.car_idx))
                .filter(recent),
        )
        .collect();
    // Most urgent first; among equals, the newest first (the sort is stable, so the report's order breaks ties).
    sort_by(&mut alerts, |a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| b.session_time_s.total_cmp(&a.session_time_s))
    });
    alerts
        .into_iter()
        .map(|a| AlertCard {
            kind: alert_kind(a.kind),
            class: alert_class(a.kind, a.severity),
            radio: a.radio.clone(),
            lap: format!("L{}", a.lap),
            evidence: a.evidence.iter().map(evidence).collect(),
        })
        .collect()
}

/// Why the source does not measure `car`'s fuel, ERS, tyre wear and damage, if it does not.
fn hidden(state: &RaceState, car: &CarState) -> Option<&'static str> {
    if state.session.timing_only {
        Some("timing only")
    } else if car.telemetry_restricted {
        Some("telemetry restricted")
    } else {
        None
    }
}

/// The tyres: wear unless `hidden` says why not, temperatures and pressures where the source has `sensors` (a
/// restricted car's are still sent).
fn tyres(
    car: &CarState,
    twin: Option<&CarTwin>,
    sensors: bool,
    hidden: Option<&'static str>,
) -> TyresView {
    let corners = car.tyres.corners.as_array();
    let rates = twin.map(|t| t.wear_rate_pct_per_lap.as_array());
    let limiting = twin.and_then(|t| t.limiting_corner.as_deref());
    let corners = (0..4)
        .map(|k| {
            let c = corners[k];
            let name = CORNER_NAMES[k];
            let (temps, pressure) = if sensors {
                (
                    format!(
                        "{:.0}° surf · {:.0}° inner",
                        c.surface_temp_c, c.inner_temp_c
                    ),
                    format!("{:.1} psi", c.pressure_psi),
                )
            } else {
                (String::new(), String::new())
            };
            if hidden.is_none() {
                CornerTile {
                    name,
                    wear: format!("{:.1}%", c.wear_pct),
                    class: wear_class(c.wear_pct),
                    rate: format!("{} %/lap", rate(rates.and_then(|r| r[k]), 2)),
                    temps,
                    pressure,
                    blisters: c
                        .blister_pct
                        .map_or_else(String::new, |b| format!("blisters {b:.0}%")),
                    blistered: c.blister_pct.is_some_and(|b| b >= BLISTERED_PCT),
                    limiting: limiting == Some(name),
                }
            } else {
                CornerTile {
                    name,
                    wear: NOT_MEASURED.to_owned(),
                    class: "wear-unknown",
                    rate: NOT_MEASURED.to_owned(),
                    temps,
                    pressure,
                    blisters: String::new(),
                    blistered: false,
                    limiting: false,
                }
            }
        })
        .collect();
    TyresView {
        compound: car.tyres.compound.letter(),
        compound_class: compound_class(car.tyres.compound),
        age: match car.tyres.age_laps {
            1 => "1 lap old".to_owned(),
            n => format!("{n} laps old"),
        },
        wear_limit: twin.map_or_else(
            || "Car Twin: first report due".to_owned(),
            |t| wear_limit(t, hidden),
        ),
        cliff: twin.map_or_else(String::new, cliff),
        corners,
    }
}

/// `rear-left reaches 70 % in 9.8 laps (8.1–12.0)`, or why wear is not measured (`hidden`, else timing only).
pub fn wear_limit(twin: &CarTwin, hidden: Option<&str>) -> String {
    if !twin.wear_measured {
        return format!("wear {NOT_MEASURED} ({})", hidden.unwrap_or("timing only"));
    }
    let limit = TwinParams::PIT_WALL.wear_limit_pct;
    match (&twin.limiting_corner, twin.laps_to_wear_limit) {
        (Some(corner), Some(laps)) => {
            let band = twin
                .laps_to_wear_limit_band
                .map_or_else(String::new, |[a, b]| format!(" ({a:.1}–{b:.1})"));
            format!("{corner} reaches {limit:.0} % in {laps:.1} laps{band}")
        }
        _ => "wear rate: waiting for two clean laps".to_owned(),
    }
}

/// `cliff in 12.3 laps`, or, when wear is not measured, the end of the expected stint.
pub fn cliff(twin: &CarTwin) -> String {
    match (twin.laps_to_cliff, twin.wear_measured) {
        (Some(l), true) => format!("cliff in {l:.1} laps"),
        (Some(l), false) => format!("cliff in {l:.1} laps (expected stint)"),
        (None, _) => "cliff: —".to_owned(),
    }
}

fn stint_chip(s: &Stint, total_laps: u32) -> StintChip {
    StintChip {
        label: format!("{} {}", s.compound.letter(), s.laps),
        class: compound_class(s.compound),
        width_pct: 100.0 * f64::from(s.laps.max(1)) / f64::from(total_laps.max(1)),
    }
}

fn pace(t: &CarTwin) -> PaceView {
    let stint_deg = |d: &StintDegradation| StintDeg {
        compound: d.compound.letter(),
        class: compound_class(d.compound),
        text: format!(
            "{} · {} laps",
            signed(Some(d.deg_s_per_lap), 3, " s/lap"),
            d.laps
        ),
    };
    let stints = t.degradation.iter().map(stint_deg).collect();
    match &t.pace {
        Some(m) => PaceView {
            corrected: lap_time(Some(m.base_s)),
            deg: signed(Some(m.deg_s_per_lap), 3, " s/lap"),
            basis: match m.laps {
                0 => format!("carried over · σ {:.2} s", m.sigma_s),
                1 => format!("1 clean lap · σ {:.2} s", m.sigma_s),
                n => format!("{n} clean laps · σ {:.2} s", m.sigma_s),
            },
            stints,
        },
        None => PaceView {
            corrected: "—".to_owned(),
            deg: "—".to_owned(),
            basis: "waiting for clean laps".to_owned(),
            stints,
        },
    }
}

fn fuel(car: &CarState, t: &CarTwin) -> FuelView {
    // The live figure when measured; the twin's model otherwise (the state reads zero).
    let on_board = if t.fuel_measured {
        car.fuel_kg
    } else {
        t.fuel_kg
    };
    FuelView {
        on_board: format!("{on_board:.1} kg"),
        modelled: !t.fuel_measured,
        burn: format!("{} kg/lap", rate(t.fuel_burn_kg_per_lap, 2)),
        burn_neutralised: match (t.fuel_measured, t.fuel_burn_neutralised_kg_per_lap) {
            (false, _) => "SC/VSC: modelled as green".to_owned(),
            (true, Some(r)) => format!("SC/VSC {} kg/lap", rate(Some(r), 2)),
            (true, None) => "SC/VSC: no laps yet".to_owned(),
        },
        laps_left: format!("{} left", number(t.fuel_laps_left, 1, " laps")),
        margin: format!("{} at flag", fuel_margin(t.fuel_margin_kg)),
        short: t.fuel_margin_kg.is_some_and(|m| m < 0.0),
    }
}

fn ers(car: &CarState, t: &CarTwin, measured: bool) -> ErsView {
    if !measured {
        return ErsView {
            measured,
            store: NOT_MEASURED.to_owned(),
            store_pct: 0.0,
            trend: String::new(),
        };
    }
    let trend = match t.ers_trend_pct_per_lap {
        Some(r) if r.n_laps > 1 => {
            format!("{} ±{:.1} %/lap", signed(Some(r.mean), 1, ""), r.std_err)
        }
        Some(r) => format!("{} %/lap", signed(Some(r.mean), 1, "")),
        None => "trend —".to_owned(),
    };
    ErsView {
        measured,
        store: format!("{:.0}%", car.ers_store_pct),
        store_pct: car.ers_store_pct.clamp(0.0, 100.0),
        trend,
    }
}

fn damage(t: &CarTwin, measured: bool) -> DamageView {
    if !measured {
        return DamageView {
            worst: NOT_MEASURED.to_owned(),
            parts: String::new(),
        };
    }
    let parts = if t.damage.parts.is_empty() {
        "none".to_owned()
    } else {
        t.damage
            .parts
            .iter()
            .map(|(part, pct)| format!("{part} {pct:.0}"))
            .collect::<Vec<_>>()
            .join(" · ")
    };
    DamageView {
        worst: format!("{:.0}%", t.damage.worst_pct),
        parts,
    }
}

fn pit(t: &CarTwin) -> PitView {
    let w = &t.pit_window;
    let (status, class) = pit_window_status(w.status);
    PitView {
        status,
        class,
        laps: match (w.earliest_lap, w.latest_lap) {
            (Some(a), Some(b)) if a == b => format!("lap {a}"),
            (Some(a), Some(b)) => format!("laps {a}–{b}"),
            (None, Some(b)) => format!("by lap {b}"),
            (Some(a), None) => format!("from lap {a}"),
            (None, None) => String::new(),
        },
        best: w
            .best_lap
            .map_or_else(String::new, |l| format!("best lap {l}")),
        next_compound: w.next_compound.map(|c| (c.letter(), compound_class(c))),
        reason: w.reason.clone(),
    }
}

fn code_of(state: &RaceState, car_idx: Option<u8>) -> Option<String> {
    Some(state.car(car_idx?)?.driver.code.clone())
}

/// Where the car would rejoin if it pitted now: position, the car it would rejoin behind and the gap, traffic.
pub fn rejoin(state: &RaceState, r: Option<&Rejoin>) -> RejoinView {
    let Some(r) = r else {
        return RejoinView {
            position: "—".to_owned(),
            ahead: String::new(),
            behind: String::new(),
            traffic: false,
        };
    };
    let near = |car, gap: Option<f64>, words: &str| match (code_of(state, car), gap) {
        (Some(code), Some(g)) => format!("{g:.1} s {words} {code}"),
        (Some(code), None) => format!("{words} {code}"),
        _ => String::new(),
    };
    RejoinView {
        position: format!("P{}", r.position),
        ahead: near(r.car_ahead, r.gap_ahead_s, "behind"),
        behind: near(r.car_behind, r.gap_behind_s, "ahead of"),
        traffic: r.traffic,
    }
}

fn rival(r: Option<&RivalDelta>) -> RivalView {
    let Some(r) = r else {
        return RivalView {
            code: "—".to_owned(),
            gap: "no car ahead".to_owned(),
            pace: String::new(),
            faster: false,
            catch: String::new(),
        };
    };
    RivalView {
        code: r.code.clone(),
        gap: match r.gap_s.filter(|g| g.is_finite()) {
            Some(g) if g >= 0.0 => format!("{g:.2} s ahead"),
            Some(g) => format!("{:.2} s behind", -g),
            None => "gap —".to_owned(),
        },
        pace: signed(r.pace_delta_s, 2, " s/lap"),
        faster: r.pace_delta_s.is_some_and(|d| d < 0.0),
        catch: r
            .laps_to_catch
            .filter(|l| l.is_finite())
            .map_or_else(String::new, |l| format!("catches in {l:.1} laps")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use boxbox_engine::sim::{RaceSim, SimConfig};
    use boxbox_engine::twin::Twins;

    /// A simulated race run through the twins for `until_s`, with the last state and its report.
    fn race(until_s: f64, timing_only: bool) -> (RaceState, TwinReport) {
        race_with(until_s, |state| state.session.timing_only |= timing_only)
    }

    /// The same, with every state edited by `edit` before the twins see it.
    fn race_with(until_s: f64, edit: impl Fn(&mut RaceState)) -> (RaceState, TwinReport) {
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
            edit(&mut state);
            twins.observe(&state);
            t += 2.0;
        }
        let report = twins.report(&state);
        (state, report)
    }

    #[test]
    fn the_panel_shows_rates_with_errors_bands_and_the_pit_window() {
        let (state, report) = race(1500.0, false);
        let car = &state.cars[2];
        let panel = car_panel(&state, Some(&report), car.car_idx).unwrap();
        assert_eq!(panel.head.position, "P3");
        assert_eq!(panel.head.lap, format!("Lap {} / 40", car.lap));
        assert_eq!(panel.tyres.corners.len(), 4);
        for tile in &panel.tyres.corners {
            assert!(
                tile.rate.contains('±') && tile.rate.ends_with("%/lap"),
                "{tile:?}"
            );
            assert!(tile.wear.ends_with('%'), "{tile:?}");
        }
        assert_eq!(panel.tyres.corners.iter().filter(|c| c.limiting).count(), 1);
        // "rear-left reaches 70 % in 9.8 laps (8.1–12.0)"
        let limit = &panel.tyres.wear_limit;
        assert!(
            limit.contains("reaches 70 % in ") && limit.contains('(') && limit.contains('–'),
            "{limit}"
        );
        assert!(
            panel.tyres.cliff.starts_with("cliff in "),
            "{}",
            panel.tyres.cliff
        );
        let twin = panel.twin.unwrap();
        assert!(twin.pace.corrected.contains(':'), "{:?}", twin.pace);
        assert!(twin.pace.deg.ends_with(" s/lap"), "{:?}", twin.pace);
        assert!(!twin.pace.stints.is_empty(), "{:?}", twin.pace);
        assert!(!twin.fuel.modelled);
        assert!(twin.fuel.burn.contains('±') && twin.fuel.burn.ends_with("kg/lap"));
        assert!(
            twin.fuel.laps_left.ends_with("laps left"),
            "{:?}",
            twin.fuel
        );
        assert!(twin.fuel.margin.ends_with("kg at flag"), "{:?}", twin.fuel);
        assert!(twin.ers.measured && twin.ers.store.ends_with('%'));
        assert!(twin.ers.trend.ends_with("%/lap"), "{:?}", twin.ers);
        assert_ne!(twin.pit.status, "LEARNING", "{:?}", twin.pit);
        assert!(!twin.pit.reason.is_empty());
        assert!(twin.rejoin.position.starts_with('P'), "{:?}", twin.rejoin);
        let ahead = &state.cars[1].driver.code;
        assert_eq!(&twin.rival.code, ahead);
        assert!(twin.rival.gap.ends_with(" s ahead"), "{:?}", twin.rival);
        assert!(twin.rival.pace.ends_with(" s/lap"), "{:?}", twin.rival);
    }

    #[test]
    fn blisters_show_where_the_source_measures_them() {
        let (mut state, report) = race(600.0, false);
        let idx = state.cars[1].car_idx;
        let tiles = |state: &RaceState| car_panel(state, Some(&report), idx).unwrap().tyres.corners;
        // The simulator does not model blisters: nothing is said.
        assert!(
            tiles(&state)
                .iter()
                .all(|t| t.blisters.is_empty() && !t.blistered)
        );
        let corners = &mut state.cars[1].tyres.corners;
        corners.front_left.blister_pct = Some(14.0);
        corners.front_right.blister_pct = Some(3.0);
        let tiles = tiles(&state);
        assert_eq!(
            (tiles[0].blisters.as_str(), tiles[0].blistered),
            ("blisters 14%", true)
        );
        assert_eq!(
            (tiles[1].blisters.as_str(), tiles[1].blistered),
            ("blisters 3%", false)
        );
        assert!(tiles[2].blisters.is_empty());
    }

    #[test]
    fn timing_only_sources_read_not_measured_instead_of_zeros() {
        let (state, report) = race(1500.0, true);
        let car = &state.cars[4];
        let panel = car_panel(&state, Some(&report), car.car_idx).unwrap();
        for tile in &panel.tyres.corners {
            assert_eq!(tile.wear, NOT_MEASURED);
            assert_eq!(tile.rate, NOT_MEASURED);
            assert!(tile.temps.is_empty() && tile.pressure.is_empty());
        }
        assert!(panel.tyres.wear_limit.contains(NOT_MEASURED));
        assert!(
            panel.tyres.cliff.contains("expected stint"),
            "{}",
            panel.tyres.cliff
        );
        let twin = panel.twin.unwrap();
        assert!(twin.fuel.modelled);
        assert_ne!(twin.fuel.on_board, "0.0 kg");
        assert_eq!(twin.ers.store, NOT_MEASURED);
        assert_eq!(twin.damage.worst, NOT_MEASURED);
    }

    #[test]
    fn a_restricted_car_reads_not_measured_but_keeps_its_tyre_sensors() {
        let hidden_idx = 4;
        let (state, report) = race_with(1500.0, |state| {
            if let Some(car) = state.cars.iter_mut().find(|c| c.car_idx == hidden_idx) {
                car.telemetry_restricted = true;
                car.fuel_kg = 0.0;
                car.ers_store_pct = 0.0;
                car.tyres.corners = car
                    .tyres
                    .corners
                    .map(|c| boxbox_engine::wire::TyreCorner { wear_pct: 0.0, ..c });
            }
        });
        let panel = car_panel(&state, Some(&report), hidden_idx).unwrap();
        for tile in &panel.tyres.corners {
            assert_eq!(
                (tile.wear.as_str(), tile.rate.as_str()),
                (NOT_MEASURED, NOT_MEASURED)
            );
            // Temperatures and pressures come from the car telemetry packet, which the game does not hide.
            assert!(
                tile.temps.contains("surf") && tile.pressure.ends_with("psi"),
                "{tile:?}"
            );
        }
        assert!(
            panel.tyres.wear_limit.ends_with("(telemetry restricted)"),
            "{}",
            panel.tyres.wear_limit
        );
        let twin = panel.twin.unwrap();
        assert!(twin.fuel.modelled && twin.fuel.on_board != "0.0 kg");
        assert_eq!(twin.ers.store, NOT_MEASURED);
        assert_eq!(twin.damage.worst, NOT_MEASURED);
        // Another car of the same race reads its own figures.
        let other = state.cars.iter().find(|c| c.car_idx != hidden_idx).unwrap();
        let panel = car_panel(&state, Some(&report), other.car_idx).unwrap();
        assert!(panel.tyres.corners.iter().all(|t| t.wear.ends_with('%')));
        assert!(!panel.twin.unwrap().fuel.modelled);
    }

    #[test]
    fn before_the_first_report_the_live_figures_show_alone() {
        let (state, _) = race(300.0, false);
        let panel = car_panel(&state, None, state.cars[0].car_idx).unwrap();
        assert!(panel.twin.is_none());
        assert!(panel.alerts.is_empty());
        assert!(panel.tyres.corners.iter().all(|c| c.rate == "— %/lap"));
        assert!(car_panel(&state, None, 200).is_none());
    }

    #[test]
    fn alerts_become_cards_most_urgent_first_with_their_evidence() {
        let (state, mut report) = race(1500.0, false);
        let car = &state.cars[5];
        let at = (car.lap, state.session_time_s);
        report.alerts = vec![
            Alert::new(
                AlertKind::UndercutThreat,
                Severity::Warning,
                Some(car.car_idx),
                at,
                "SAI 0.9 s behind can undercut (83 %): tyre gain 2.6 s",
                vec![
                    Evidence::new("gap to SAI", 0.9065, "s"),
                    Evidence::new("undercut chance", 82.94, "%"),
                ],
            ),
            Alert::new(
                AlertKind::BoxNow,
                Severity::Critical,
                Some(car.car_idx),
                at,
                "Box this lap",
                vec![Evidence::new("rear-left wear", 71.2, "%")],
            ),
            Alert::new(
                AlertKind::FuelSave,
                Severity::Warning,
                Some(car.car_idx.wrapping_add(1)),
                at,
                "not this car",
                Vec::new(),
            ),
        ];
        report.anomalies = vec![
            Alert::new(
                AlertKind::LapAnomaly,
                Severity::Info,
                Some(car.car_idx),
                (car.lap, state.session_time_s),
                "Lap out of character",
                vec![Evidence::new("lap time vs baseline", 2.43, "σ")],
            ),
            Alert::new(
                AlertKind::LapAnomaly,
                Severity::Info,
                Some(car.car_idx),
                (car.lap.saturating_sub(5), 100.0),
                "an old one",
                Vec::new(),
            ),
        ];
        let panel = car_panel(&state, Some(&report), car.car_idx).unwrap();
        let kinds: Vec<&str> = panel.alerts.iter().map(|a| a.kind).collect();
        assert_eq!(kinds, ["BOX NOW", "UNDERCUT THREAT", "LAP ANOMALY"]);
        let threat = &panel.alerts[1];
        assert_eq!(threat.class, "alert sev-warning kind-undercut_threat");
        assert_eq!(
            threat.evidence,
            [
                EvidenceLine {
                    label: "gap to SAI".to_owned(),
                    value: "0.9 s".to_owned()
                },
                EvidenceLine {
                    label: "undercut chance".to_owned(),
                    value: "83 %".to_owned()
                },
            ]
        );
        assert_eq!(panel.alerts[2].evidence[0].value, "2.4σ");
    }

    #[test]
    fn rejoins_and_rivals_read_like_the_radio() {
        let (state, _) = race(300.0, false);
        let (a, b) = (&state.cars[3], &state.cars[4]);
        let view = rejoin(
            &state,
            Some(&Rejoin {
                position: 5,
                car_ahead: Some(a.car_idx),
                gap_ahead_s: Some(0.81),
                car_behind: Some(b.car_idx),
                gap_behind_s: Some(0.72),
                traffic: true,
            }),
        );
        assert_eq!(view.position, "P5");
        assert_eq!(view.ahead, format!("0.8 s behind {}", a.driver.code));
        assert_eq!(view.behind, format!("0.7 s ahead of {}", b.driver.code));
        assert!(view.traffic);
        let r = rival(Some(&RivalDelta {
            car_idx: 2,
            code: "HAM".to_owned(),
            gap_s: Some(2.357),
            pace_delta_s: Some(-0.434),
            laps_to_catch: Some(5.43),
        }));
        assert_eq!(r.gap, "2.36 s ahead");
        assert_eq!(r.pace, "−0.43 s/lap");
        assert!(r.faster);
        assert_eq!(r.catch, "catches in 5.4 laps");
        assert_eq!(rival(None).gap, "no car ahead");
    }
}
