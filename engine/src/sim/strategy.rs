//! The simulated teams' race strategies: a pre-race plan per car and the in-race rules that change it.
//!
//! The plans mirror what the real field did at Sakhir 2019 (mostly soft–medium–medium two-stops, some one-stops on
//! the hard), drawn at random per car so every seed gives a different race. In-race, a car pits early when its
//! tyres pass the cliff, takes a cheap stop under a safety car when its planned stop is near, and always satisfies
//! the two-dry-compound rule.

use super::random::SimRng;
use crate::calibration::{CompoundParams, compound_params};
use crate::wire::Compound;

/// A planned stop: pit at the end of `in_lap` and fit `compound`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedStop {
    /// The lap at the end of which the car pits.
    pub in_lap: u32,
    /// Compound fitted.
    pub compound: Compound,
}

/// A car's race plan: the start compound and the remaining stops, in lap order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RacePlan {
    /// Compound at the start.
    pub start: Compound,
    /// Stops still to make, soonest first.
    pub stops: Vec<PlannedStop>,
}

/// Laps a compound lasts before its wear reaches the cliff, at green-flag wear rates.
pub fn cliff_laps(params: &CompoundParams) -> f64 {
    params.cliff_wear_pct / params.wear_pct_per_lap
}

/// Draws a plan for one car.
///
/// `starts_on_soft` is true for the cars that qualified on softs (the top ten in 2019).
pub fn draw_plan(rng: &mut SimRng, total_laps: u32, starts_on_soft: bool) -> RacePlan {
    use Compound::{Hard, Medium, Soft};
    let start = if starts_on_soft || rng.chance(0.8) {
        Soft
    } else {
        Medium
    };
    // Sequences after the start compound, with weights close to what the 2019 field ran.
    let options: &[(&[Compound], f64)] = if start == Soft {
        &[
            (&[Medium, Medium], 0.40),
            (&[Medium, Soft], 0.18),
            (&[Soft, Medium], 0.12),
            (&[Hard], 0.15),
            (&[Medium, Hard], 0.05),
            (&[Hard, Soft], 0.10),
        ]
    } else {
        &[(&[Soft, Medium], 0.4), (&[Hard], 0.3), (&[Soft, Soft], 0.3)]
    };
    let weights: Vec<f64> = options.iter().map(|(_, w)| *w).collect();
    let sequence = options[rng.weighted(&weights)].0;

    // Split the race in proportion to each stint's tyre life, then jitter each stop by a couple of laps.
    let stints: Vec<Compound> = std::iter::once(start)
        .chain(sequence.iter().copied())
        .collect();
    let life: Vec<f64> = stints
        .iter()
        .map(|c| cliff_laps(compound_params(*c)))
        .collect();
    let total_life: f64 = life.iter().sum();
    let mut stops = Vec::with_capacity(sequence.len());
    let mut lap_acc = 0.0;
    let mut last_in_lap = 0;
    for (i, compound) in sequence.iter().enumerate() {
        lap_acc += f64::from(total_laps) * life[i] / total_life;
        let jitter = rng.int(-3, 2) as f64;
        let earliest = last_in_lap + 5;
        let in_lap = ((lap_acc + jitter).round() as u32)
            .clamp(earliest, total_laps.saturating_sub(3).max(earliest));
        stops.push(PlannedStop {
            in_lap,
            compound: *compound,
        });
        last_in_lap = in_lap;
    }
    RacePlan { start, stops }
}

/// The compound to fit at a stop, enforcing the two-dry-compound rule: on what is known to be the last stop, a
/// car that has only used one dry compound takes a different one.
pub fn compound_for_stop(planned: Compound, used: &[Compound], last_stop: bool) -> Compound {
    let distinct_dry = |extra: Compound| {
        let mut seen: Vec<Compound> = used
            .iter()
            .copied()
            .chain([extra])
            .filter(|c| c.is_dry())
            .collect();
        seen.sort();
        seen.dedup();
        seen.len()
    };
    if !last_stop || distinct_dry(planned) >= 2 {
        return planned;
    }
    Compound::DRY
        .into_iter()
        .find(|c| distinct_dry(*c) >= 2)
        .unwrap_or(planned)
}

/// The best compound for a final stint of `laps_left` laps: the softest that lasts.
pub fn compound_for_final_stint(laps_left: u32, used: &[Compound]) -> Compound {
    let lasts = |c: Compound| cliff_laps(compound_params(c)) >= f64::from(laps_left) + 1.0;
    let choice = Compound::DRY
        .into_iter()
        .find(|c| lasts(*c))
        .unwrap_or(Compound::Hard);
    compound_for_stop(choice, used, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_use_two_dry_compounds_and_fit_the_race() {
        let mut rng = SimRng::new(11);
        for i in 0..500 {
            let plan = draw_plan(&mut rng, 57, i % 2 == 0);
            let mut used: Vec<Compound> = std::iter::once(plan.start)
                .chain(plan.stops.iter().map(|s| s.compound))
                .collect();
            used.sort();
            used.dedup();
            assert!(used.len() >= 2, "{plan:?}");
            let mut prev = 0;
            for stop in &plan.stops {
                assert!(stop.in_lap > prev && stop.in_lap <= 54, "{plan:?}");
                prev = stop.in_lap;
            }
        }
    }

    #[test]
    fn last_stop_switches_compound_when_the_rule_demands_it() {
        use Compound::*;
        assert_eq!(compound_for_stop(Soft, &[Soft], true), Medium);
        assert_eq!(compound_for_stop(Soft, &[Soft], false), Soft);
        assert_eq!(compound_for_stop(Soft, &[Soft, Medium], true), Soft);
        assert_eq!(compound_for_final_stint(10, &[Medium]), Soft);
        assert_eq!(compound_for_final_stint(10, &[Soft]), Medium);
        assert_eq!(compound_for_final_stint(45, &[Soft]), Hard);
    }
}
