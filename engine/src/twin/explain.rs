//! The calls the twins make for each car (box now, stay out, undercut threat or chance, overcut threat, tyre
//! cliff, fuel save, the wet/dry crossover and the forecast's rain), each with its top evidence and a radio line.

use crate::twin::alert::{Alert, AlertKind, Evidence, Severity};
use crate::twin::car::{CarTwin, PitWindowStatus};
use crate::twin::field::{Battle, FieldTwin};
use crate::twin::pit::PitBasis;
use crate::twin::weather::{self, Crossover, TyreClass};
use crate::wire::{CarState, RaceState, ResultStatus, TrackStatus};

/// Probability from which an undercut or overcut is called.
pub const CALL_PROBABILITY: f64 = 0.5;

/// Laps to the cliff from which a tyre-cliff warning is raised.
pub const CLIFF_WARNING_LAPS: f64 = 2.0;

/// Every call for every racing car, in running order.
pub fn alerts(state: &RaceState, cars: &[CarTwin], field: &FieldTwin) -> Vec<Alert> {
    let mut out = Vec::new();
    for (car, twin) in state.cars.iter().zip(cars) {
        if car.result_status != ResultStatus::Active {
            continue;
        }
        out.extend(car_alerts(state, car, twin, field));
    }
    out
}

fn code(state: &RaceState, car_idx: u8) -> String {
    state
        .car(car_idx)
        .map_or_else(|| format!("car {car_idx}"), |c| c.driver.code.clone())
}

/// The calls for one car.
pub fn car_alerts(
    state: &RaceState,
    car: &CarState,
    twin: &CarTwin,
    field: &FieldTwin,
) -> Vec<Alert> {
    let at = (car.lap, state.session_time_s);
    let me = Some(car.car_idx);
    let loss = crate::twin::pit::pit_loss_now(state);
    let threat_from_behind: Option<&Battle> = field
        .battles
        .iter()
        .find(|b| b.defender == car.car_idx && b.undercut.probability >= CALL_PROBABILITY);
    let chance_ahead: Option<&Battle> = field
        .battles
        .iter()
        .find(|b| b.attacker == car.car_idx && b.undercut.probability >= CALL_PROBABILITY);
    // The limiting corner and its wear, when wear is measured.
    let limiting = twin
        .limiting_corner
        .as_ref()
        .filter(|_| twin.wear_measured)
        .and_then(|corner| {
            let k = crate::wire::CORNER_NAMES.iter().position(|n| n == corner)?;
            Some((corner.clone(), twin.wear_pct.as_array()[k]))
        });
    let tyre_evidence = || match &limiting {
        Some((corner, wear)) => Some(Evidence::new(format!("{corner} wear"), *wear, "%")),
        None => twin
            .laps_to_cliff
            .map(|l| Evidence::new("laps to the tyre cliff", l, "laps")),
    };
    let tyre_words = || match &limiting {
        Some((corner, wear)) => format!("{corner} {wear:.0} %"),
        None => format!("tyres {} laps old", car.tyres.age_laps),
    };
    let mut out = Vec::new();

    // Box now.
    let neutralised_stop = field
        .rivals
        .iter()
        .find(|r| r.car_idx == car.car_idx)
        .and_then(|r| r.next_pit.as_ref())
        .is_some_and(|p| p.basis == PitBasis::Neutralised);
    let window = &twin.pit_window;
    let crossover = crate::twin::car::crossover_for(state, car, twin, field);
    if let Some(c) = crossover {
        out.push(crossover_alert(state, car, c, loss));
    }
    let box_now = crossover.is_none()
        && (window.status == PitWindowStatus::Overdue
            || (window.status == PitWindowStatus::Open && window.best_lap == Some(car.lap))
            || (neutralised_stop && window.status == PitWindowStatus::Open));
    if box_now {
        let mut evidence: Vec<Evidence> = tyre_evidence().into_iter().collect();
        let mut words = vec![tyre_words()];
        if let Some(b) = threat_from_behind {
            let who = code(state, b.attacker);
            evidence.push(Evidence::new(
                format!("{who} undercut chance"),
                100.0 * b.undercut.probability,
                "%",
            ));
            words.push(format!("{who} {:.1} s behind can undercut", b.gap_s));
        }
        if state.session.track_status == TrackStatus::Red {
            words.push("free tyre change under the red flag".to_owned());
        } else if state.session.track_status.is_neutralised() {
            words.push(format!("cheap stop under caution, {loss:.1} s"));
        } else {
            words.push(format!("pit loss {loss:.1} s"));
        }
        evidence.push(Evidence::new("pit loss", loss, "s"));
        out.push(Alert::new(
            AlertKind::BoxNow,
            Severity::Critical,
            me,
            at,
            &format!("Box this lap: {}", words.join(", ")),
            evidence,
        ));
    } else if let Some(b) = threat_from_behind.filter(|_| crossover.is_none()) {
        let who = code(state, b.attacker);
        out.push(Alert::new(
            AlertKind::UndercutThreat,
            Severity::Warning,
            me,
            at,
            &format!(
                "{who} {:.1} s behind can undercut ({:.0} %): tyre gain {:.1} s",
                b.gap_s,
                100.0 * b.undercut.probability,
                b.undercut.gain_s
            ),
            vec![
                Evidence::new(format!("gap to {who}"), b.gap_s, "s"),
                Evidence::new("undercut gain", b.undercut.gain_s, "s"),
                Evidence::new("undercut chance", 100.0 * b.undercut.probability, "%"),
            ],
        ));
    } else if window.status == PitWindowStatus::Upcoming
        && let Some(b) = field.battles.iter().find(|b| b.defender == car.car_idx)
        && state
            .car(b.attacker)
            .is_some_and(|a| a.pit_status != crate::wire::PitStatus::None)
    {
        let who = code(state, b.attacker);
        out.push(Alert::new(
            AlertKind::StayOut,
            Severity::Info,
            me,
            at,
            &format!(
                "Stay out: {who} has pitted, undercut chance only {:.0} %, {}",
                100.0 * b.undercut.probability,
                tyre_words()
            ),
            vec![
                Evidence::new(
                    format!("{who} undercut chance"),
                    100.0 * b.undercut.probability,
                    "%",
                ),
                Evidence::new(format!("gap to {who}"), b.gap_s, "s"),
                Evidence::new("pit loss", loss, "s"),
            ],
        ));
    }

    if let Some(b) = chance_ahead {
        let who = code(state, b.defender);
        out.push(Alert::new(
            AlertKind::UndercutChance,
            Severity::Info,
            me,
            at,
            &format!(
                "Undercut on {who} is on: {:.1} s gap, tyre gain {:.1} s ({:.0} %)",
                b.gap_s,
                b.undercut.gain_s,
                100.0 * b.undercut.probability
            ),
            vec![
                Evidence::new("undercut chance", 100.0 * b.undercut.probability, "%"),
                Evidence::new(format!("gap to {who}"), b.gap_s, "s"),
                Evidence::new("undercut gain", b.undercut.gain_s, "s"),
            ],
        ));
    }
    // "Stay out or cover" is no call beside "box for the other tyres".
    if let Some(b) = field
        .battles
        .iter()
        .find(|b| b.defender == car.car_idx && b.overcut.probability >= CALL_PROBABILITY)
        .filter(|_| crossover.is_none())
    {
        let who = code(state, b.attacker);
        out.push(Alert::new(
            AlertKind::OvercutThreat,
            Severity::Warning,
            me,
            at,
            &format!(
                "If we stop first, {who} can overcut ({:.0} %): stay out or cover",
                100.0 * b.overcut.probability
            ),
            vec![
                Evidence::new("overcut chance", 100.0 * b.overcut.probability, "%"),
                Evidence::new(format!("gap to {who}"), b.gap_s, "s"),
                Evidence::new("overcut gain", b.overcut.gain_s, "s"),
            ],
        ));
    }
    if let Some(alert) = forecast_alert(state, car, crossover.is_some()) {
        out.push(alert);
    }
    if let Some(laps) = twin.laps_to_cliff.filter(|l| *l <= CLIFF_WARNING_LAPS) {
        let mut evidence = vec![Evidence::new("laps to the cliff", laps, "laps")];
        evidence.extend(tyre_evidence().filter(|e| e.unit == "%"));
        if let Some(p) = &twin.pace {
            evidence.push(Evidence::new("degradation", p.deg_s_per_lap, "s/lap"));
        }
        out.push(Alert::new(
            AlertKind::TyreCliff,
            Severity::Warning,
            me,
            at,
            &format!("Tyre cliff in {laps:.1} laps: {}", tyre_words()),
            evidence,
        ));
    }
    if twin.fuel_measured
        && let (Some(margin), Some(burn)) = (twin.fuel_margin_kg, twin.fuel_burn_kg_per_lap)
        && margin < 0.0
        && twin.laps_remaining > 0.0
    {
        let save = -margin / twin.laps_remaining;
        out.push(Alert::new(
            AlertKind::FuelSave,
            Severity::Warning,
            me,
            at,
            &format!(
                "Fuel save: {:.1} kg short, save {save:.2} kg a lap over {:.0} laps",
                -margin, twin.laps_remaining
            ),
            vec![
                Evidence::new("fuel margin at the flag", margin, "kg"),
                Evidence::new("burn per lap", burn.mean, "kg"),
                Evidence::new("laps remaining", twin.laps_remaining, "laps"),
            ],
        ));
    }
    out
}

/// Box for the other tyres: the laps of the cars that changed say they are faster.
fn crossover_alert(state: &RaceState, car: &CarState, c: &Crossover, loss: f64) -> Alert {
    let who: Vec<String> = c.cars.iter().take(3).map(|&i| code(state, i)).collect();
    Alert::new(
        AlertKind::Crossover,
        Severity::Critical,
        Some(car.car_idx),
        (car.lap, state.session_time_s),
        &format!(
            "Box for {}: {} {:.1} s a lap faster on them, a {}",
            c.to.words(),
            who.join(", "),
            c.gain_s,
            c.compound.name()
        ),
        vec![
            Evidence::new(format!("gain on {}", c.to.words()), c.gain_s, "s/lap"),
            Evidence::new("cars that changed", c.cars.len() as f64, "cars"),
            Evidence::new("pit loss", loss, "s"),
        ],
    )
}

/// The forecast's call for `car`: rain coming while it is on slicks, or a dry spell while it is on inters or wets;
/// none when the laps already call the crossover for it.
fn forecast_alert(state: &RaceState, car: &CarState, crossover: bool) -> Option<Alert> {
    let at = (car.lap, state.session_time_s);
    if crossover {
        return None;
    }
    match TyreClass::of(car.tyres.compound) {
        TyreClass::Dry => {
            let rain = weather::rain_ahead(&state.session)?;
            let severity = if rain.in_min <= 5 {
                Severity::Warning
            } else {
                Severity::Info
            };
            Some(Alert::new(
                AlertKind::Weather,
                severity,
                Some(car.car_idx),
                at,
                &format!(
                    "Rain in {} min, {} % chance: inters ready",
                    rain.in_min, rain.rain_pct
                ),
                vec![
                    Evidence::new("rain chance", f64::from(rain.rain_pct), "%"),
                    Evidence::new("rain in", f64::from(rain.in_min), "min"),
                ],
            ))
        }
        TyreClass::Wet if weather::dry_ahead(&state.session) => {
            let worst = state
                .session
                .forecast
                .iter()
                .filter(|f| f.in_min <= weather::FORECAST_AHEAD_MIN)
                .map(|f| f.rain_pct)
                .max()
                .unwrap_or(0);
            Some(Alert::new(
                AlertKind::Weather,
                Severity::Info,
                Some(car.car_idx),
                at,
                &format!(
                    "Dry for {} min ({worst} % rain at most): slicks when the laps cross over",
                    weather::FORECAST_AHEAD_MIN
                ),
                vec![Evidence::new("rain chance", f64::from(worst), "%")],
            ))
        }
        TyreClass::Wet => None,
    }
}
