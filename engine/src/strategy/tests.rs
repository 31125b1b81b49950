//! Physics sanity and determinism tests of the strategy simulator on small synthetic fields with known answers.

use super::lapsim::{Outcome, Prepared, Runner};
use super::model::*;
use super::monte_carlo::{self, McConfig, Tally};
use super::rng::Stream;
use crate::wire::Compound;

/// A field of `n` identical drivers 0.3 s/lap apart (driver 0 fastest), on grid slots 1..=n, one-stop M→H on
/// the middle lap, no randomness configured.
pub(crate) fn field(n: usize, laps: u32) -> RaceModel {
    let drivers = (0..n)
        .map(|i| DriverModel {
            code: format!("D{i:02}"),
            name: format!("Driver {i}"),
            team: format!("Team {}", i / 2),
            car_number: i as u32 + 1,
            pace_offset_s: 0.3 * i as f64,
            team_order_s: 0.0,
            top_speed_kmh: 320.0,
            grid: i as u32 + 1,
            fuel: FuelModel {
                start_kg: 100.0,
                burn_kg_per_lap: 1.5,
                sc_factor: 0.25,
                vsc_factor: 0.5,
            },
            tyres: TyreModel {
                compounds: vec![
                    CompoundDeg {
                        compound: Compound::Soft,
                        label: "C4".into(),
                        deg: Degradation::Linear { k0: 0.0, k1: 0.08 },
                    },
                    CompoundDeg {
                        compound: Compound::Medium,
                        label: "C3".into(),
                        deg: Degradation::Linear { k0: 0.4, k1: 0.05 },
                    },
                    CompoundDeg {
                        compound: Compound::Hard,
                        label: "C2".into(),
                        deg: Degradation::Linear { k0: 0.8, k1: 0.03 },
                    },
                ],
                sc_wear_factor: 0.25,
                vsc_wear_factor: 0.5,
                cold_tyre_s: 1.0,
            },
            plan: Plan {
                start: Some(Compound::Medium),
                start_age_laps: 0,
                stops: vec![PlannedStop {
                    lap: laps / 2,
                    compound: Compound::Hard,
                    age_laps: 0,
                }],
            },
            pit_crew_extra_s: 0.5,
            pit_variability: Some(Fisk {
                c: 2.0,
                loc: 0.0,
                scale: 0.5,
            }),
            lap_sigma_s: 0.5,
            start_mean_s: 0.0,
            start_sigma_s: 0.15,
            p_accident: 0.05,
            p_failure: 0.08,
        })
        .collect();
    RaceModel {
        track: "Synthetic".into(),
        season: None,
        total_laps: laps,
        timing: TrackTiming {
            base_lap_s: 80.0,
            fuel_s_per_kg: 0.03,
            pit: PitLosses {
                in_green_s: 4.0,
                out_green_s: 14.0,
                in_vsc_s: 2.5,
                out_vsc_s: 7.0,
                in_sc_s: 2.0,
                out_sc_s: 5.5,
            },
            tyre_change_min_s: 2.0,
            pits_after_line: true,
            grid_loss_per_slot_s: 0.2,
            standing_start_s: 4.0,
            sc_factor: 1.6,
            vsc_factor: 1.4,
        },
        interaction: Interaction {
            min_gap_s: 0.5,
            min_gap_sc_s: 0.8,
            duel_loss_s: 0.3,
            overtaken_loss_s: 0.3,
            overtake_threshold_s: 1.0,
            overtake_threshold_per_kmh_s: -0.01,
            drs: Some(Drs {
                window_s: 1.0,
                effect_s: -0.4,
                from_lap: 3,
                after_sc_laps: 2,
            }),
        },
        drivers,
        random: RandomEvents {
            sc_count: vec![0.45, 0.41, 0.1, 0.04],
            sc_start: [0.36, 0.14, 0.14, 0.08, 0.19, 0.09],
            sc_laps: vec![0.0, 0.18, 0.25, 0.23, 0.19, 0.06, 0.07, 0.02],
            vsc_after_failure: 0.23,
            vsc_laps: vec![0.48, 0.4, 0.02, 0.1],
            min_gap_laps: 1.5,
        },
        fixed: FixedEvents::default(),
        dry_compounds: Compound::DRY.to_vec(),
    }
}

fn plans(model: &RaceModel) -> Vec<Plan> {
    model.drivers.iter().map(|d| d.plan.clone()).collect()
}

fn deterministic(model: &RaceModel) -> Outcome {
    let prepared = Prepared::new(model, &plans(model), None).unwrap();
    Runner::new(&prepared).run(None).clone()
}

/// One car alone with a flat tyre model (no degradation), no start losses.
fn alone(laps: u32) -> RaceModel {
    let mut m = field(1, laps);
    m.timing.standing_start_s = 0.0;
    for c in &mut m.drivers[0].tyres.compounds {
        c.deg = Degradation::Linear { k0: 0.0, k1: 0.0 };
    }
    m
}

#[test]
fn a_faster_car_ahead_pulls_away_at_its_pace_advantage() {
    let mut m = field(2, 40);
    m.interaction.drs = None;
    let o = deterministic(&m);
    assert_eq!(o.position, vec![1, 2]);
    // 0.3 s/lap for 40 laps, plus the grid slot (0.2 s) on lap 1.
    let gap = o.race_time_s[1] - o.race_time_s[0];
    assert!((gap - (0.3 * 40.0 + 0.2)).abs() < 1e-9, "{gap}");
}

#[test]
fn a_faster_car_behind_passes_only_with_enough_advantage() {
    let mut m = field(2, 30);
    // Driver 0 is 0.3 s/lap faster but starts second.
    m.drivers[0].grid = 2;
    m.drivers[1].grid = 1;
    m.interaction.drs = None;
    for d in &mut m.drivers {
        d.plan.stops.clear(); // no exchange of places in the pit lane
    }
    m.interaction.overtake_threshold_s = 5.0;
    let stuck = deterministic(&m);
    assert_eq!(stuck.position, vec![2, 1], "held up behind a slower car");
    let gap = stuck.race_time_s[0] - stuck.race_time_s[1];
    assert!((gap - 0.5).abs() < 1e-9, "held at the minimum gap: {gap}");
    m.interaction.overtake_threshold_s = 0.0;
    let passes = deterministic(&m);
    assert_eq!(passes.position, vec![1, 2], "passes with no threshold");
}

#[test]
fn an_extra_stop_costs_the_pit_loss() {
    let m = alone(40);
    let one = deterministic(&m);
    let mut two = m.clone();
    two.drivers[0].plan.stops.push(PlannedStop {
        lap: 30,
        compound: Compound::Hard,
        age_laps: 0,
    });
    let two = deterministic(&two);
    let t = &m.timing;
    let loss = t.pit.in_green_s + t.pit.out_green_s + t.tyre_change_min_s + 0.5 + 1.0;
    let extra = two.race_time_s[0] - one.race_time_s[0];
    assert!(
        (extra - loss).abs() < 1e-9,
        "extra stop {extra} s, pit loss {loss} s"
    );
}

#[test]
fn fuel_and_degradation_add_up_as_the_parameters_say() {
    let laps = 20;
    let mut m = alone(laps);
    m.drivers[0].plan.stops.clear();
    m.drivers[0].plan.start = Some(Compound::Soft);
    m.drivers[0].plan.start_age_laps = 2;
    m.drivers[0].tyres.compounds[0].deg = Degradation::Quadratic {
        k0: 0.1,
        k1: 0.05,
        k2: 0.002,
    };
    let o = deterministic(&m);
    let mut want = 0.0;
    for lap in 0..laps {
        let fuel = 100.0 - 1.5 * f64::from(lap);
        let age = f64::from(2 + lap);
        want += 80.0 + 0.03 * fuel + 0.1 + 0.05 * age + 0.002 * age * age;
    }
    assert!(
        (o.race_time_s[0] - want).abs() < 1e-6,
        "{} vs {want}",
        o.race_time_s[0]
    );
}

#[test]
fn a_safety_car_bunches_the_field() {
    let mut m = field(4, 30);
    for d in &mut m.drivers {
        d.plan.stops.clear();
        d.pace_offset_s *= 5.0; // 1.5 s/lap apart: big gaps by lap 10
    }
    let green = deterministic(&m);
    m.fixed.fcy = Some(vec![FcyPhase {
        start: 10.2,
        end: 14.0,
        kind: FcyKind::Sc,
    }]);
    let sc = deterministic(&m);
    assert_eq!(sc.sc_laps, 4);
    let spread = |o: &Outcome| o.race_time_s[3] - o.race_time_s[0];
    // Green: 3 × 1.5 s × 30 laps + grid. With the SC the train restarts 3 × 0.8 s apart at lap 14, then 16 laps.
    assert!(spread(&green) > 130.0, "{}", spread(&green));
    let after_sc = 3.0 * 0.8 + 3.0 * 1.5 * 16.0;
    assert!(
        (spread(&sc) - after_sc).abs() < 3.0,
        "{} vs {after_sc}",
        spread(&sc)
    );
    assert_eq!(sc.position, vec![1, 2, 3, 4]);
}

#[test]
fn a_vsc_slows_everyone_and_keeps_the_gaps() {
    let mut m = field(3, 20);
    m.interaction.drs = None;
    for d in &mut m.drivers {
        d.plan.stops.clear();
    }
    let green = deterministic(&m);
    m.fixed.fcy = Some(vec![FcyPhase {
        start: 5.0,
        end: 7.0,
        kind: FcyKind::Vsc,
    }]);
    let vsc = deterministic(&m);
    assert_eq!(vsc.vsc_laps, 2);
    assert!(vsc.race_time_s[0] > green.race_time_s[0] + 2.0 * 80.0 * 0.3);
    // The gap grows by 0.3 s on each green lap only.
    let gap = vsc.race_time_s[1] - vsc.race_time_s[0];
    assert!((gap - (0.2 + 0.3 * 18.0)).abs() < 1e-9, "{gap}");
}

#[test]
fn a_retired_car_is_classified_behind_the_finishers() {
    let mut m = field(3, 20);
    m.fixed.retirements = Some(vec![Retirement {
        driver: 0,
        at: 12.5,
    }]);
    m.fixed.fcy = Some(vec![]);
    let o = deterministic(&m);
    assert!(o.dnf[0]);
    assert_eq!(o.laps[0], 12);
    assert_eq!(o.position, vec![3, 1, 2]);
}

#[test]
fn random_races_are_reproducible_and_vary_with_the_seed() {
    let m = field(20, 50);
    let p = Prepared::new(&m, &plans(&m), None).unwrap();
    let a = monte_carlo::run_chunk(&p, 11, 0, 50);
    let b = monte_carlo::run_chunk(&p, 11, 0, 50);
    let c = monte_carlo::run_chunk(&p, 12, 0, 50);
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.runs, 50);
    assert!(a.times.iter().flatten().all(|t| t.is_finite()));
}

#[test]
fn the_lap_loop_gives_the_same_races_whatever_its_lookahead() {
    // WASM builds work each car's lap out as the meetings at the line reach it, native builds two places ahead:
    // the draws, passes and crossings must not depend on it. From the grid, and from a mid-race start with cars
    // inside the minimum gap, a lapped car and a retired one.
    let m = field(20, 50);
    let p = plans(&m);
    let mid = super::lapsim::RaceStart {
        completed_laps: 20,
        cars: (0..20)
            .map(|i| super::lapsim::CarStart {
                race_time_s: 20.0 * 90.0 + 0.4 * i as f64,
                laps: if i == 19 { 19 } else { 20 },
                compound: Compound::Medium,
                tyre_age_laps: 20.0,
                fuel_kg: 70.0,
                retired: i == 7,
            })
            .collect(),
    };
    let bits = |o: &Outcome| {
        o.race_time_s
            .iter()
            .map(|t| t.to_bits())
            .collect::<Vec<_>>()
    };
    for start in [None, Some(&mid)] {
        let prepared = Prepared::new(&m, &p, start).unwrap();
        let (mut a, mut b) = (Runner::new(&prepared), Runner::new(&prepared));
        let none = a.run_ahead::<0>(None).clone();
        assert_eq!(&none, b.run_ahead::<2>(None));
        let (mut sa, mut sb) = (Stream::for_race(5, 0), Stream::for_race(5, 0));
        let (mut passes, mut neutralised, mut dnfs) = (0, 0, 0);
        for _ in 0..300 {
            let x = a.run_ahead::<0>(Some(&mut sa)).clone();
            let y = b.run_ahead::<2>(Some(&mut sb));
            assert_eq!(
                (&x.position, &x.laps, &x.dnf),
                (&y.position, &y.laps, &y.dnf)
            );
            assert_eq!(
                (x.passes, x.sc_laps, x.vsc_laps),
                (y.passes, y.sc_laps, y.vsc_laps)
            );
            assert_eq!(bits(&x), bits(y));
            passes += x.passes;
            neutralised += x.sc_laps + x.vsc_laps;
            dnfs += x.dnf.iter().filter(|d| **d).count();
        }
        // The runs crossed every path of the loop: passes, SC/VSC laps, retirements.
        assert!(
            passes > 100 && neutralised > 0 && dnfs > 0,
            "{passes} {neutralised} {dnfs}"
        );
    }
}

#[test]
fn the_report_does_not_depend_on_how_the_chunks_are_split_or_merged() {
    let m = field(10, 30);
    let p = Prepared::new(&m, &plans(&m), None).unwrap();
    let config = McConfig {
        runs: 700,
        seed: 5,
        deterministic: false,
    };
    let one_worker = monte_carlo::report(&m, &monte_carlo::run_all(&p, &config), &config);
    // Three "workers" taking chunks round-robin, merged in reverse.
    let chunks = monte_carlo::chunks(config.runs);
    let mut parts = vec![Tally::new(10); 3];
    for (i, (chunk, runs)) in chunks.iter().enumerate() {
        parts[i % 3].merge(&monte_carlo::run_chunk(&p, config.seed, *chunk, *runs));
    }
    let mut merged = Tally::new(10);
    for part in parts.iter().rev() {
        merged.merge(part);
    }
    let three_workers = monte_carlo::report(&m, &merged, &config);
    assert_eq!(
        serde_json::to_string(&one_worker).unwrap(),
        serde_json::to_string(&three_workers).unwrap()
    );
    assert_eq!(one_worker.runs, 700);
}

#[test]
fn random_events_follow_their_distributions() {
    let mut m = field(20, 50);
    // Every race has exactly one SC, caused by an accident; no failures.
    m.random.sc_count = vec![0.0, 1.0];
    for d in &mut m.drivers {
        d.p_failure = 0.0;
    }
    let p = Prepared::new(&m, &plans(&m), None).unwrap();
    let tally = monte_carlo::run_chunk(&p, 3, 0, 400);
    assert_eq!(tally.sc_runs, 400);
    assert_eq!(tally.vsc_runs, 0);
    assert_eq!(tally.dnf.iter().sum::<u32>(), 400, "one accident per SC");
    // Failures only: DNF share close to p_failure (minus those beyond the flag: none, laps 1..=50).
    let mut m = field(20, 50);
    m.random.sc_count = vec![1.0];
    let p = Prepared::new(&m, &plans(&m), None).unwrap();
    let tally = monte_carlo::run_chunk(&p, 4, 0, 1000);
    let share = f64::from(tally.dnf.iter().sum::<u32>()) / 20_000.0;
    assert!((share - 0.08).abs() < 0.01, "{share}");
    assert!(tally.vsc_runs > 0);
}

#[test]
fn a_retired_car_scores_only_when_classified() {
    // Four cars, all in the points whatever happens; the fastest fails in half the races. A failure before 90 % of
    // the winner's laps leaves it unclassified: placed fourth, scoring nothing.
    let mut m = field(4, 50);
    m.random.sc_count = vec![1.0];
    for d in &mut m.drivers {
        (d.p_accident, d.p_failure) = (0.0, 0.0);
    }
    m.drivers[0].p_failure = 0.5;
    let p = Prepared::new(&m, &plans(&m), None).unwrap();
    let config = McConfig {
        runs: 2000,
        seed: 5,
        deterministic: false,
    };
    let tally = monte_carlo::run_all(&p, &config);
    let unclassified: u32 = tally.unclassified[..4].iter().sum();
    assert!(tally.dnf[0] > 800 && unclassified > 0, "{tally:?}");
    // A failure on the last laps (from lap 45 of 50) is still classified.
    assert!(
        unclassified < tally.dnf[0],
        "{} of {}",
        unclassified,
        tally.dnf[0]
    );
    assert!(tally.unclassified[4..].iter().all(|&c| c == 0));
    let report = monte_carlo::report(&m, &tally, &config);
    let d0 = &report.drivers[0];
    let runs = f64::from(tally.runs);
    assert!((d0.p_points - (1.0 - f64::from(unclassified) / runs)).abs() < 1e-12);
    assert!((d0.p_dnf - f64::from(tally.dnf[0]) / runs).abs() < 1e-12);
    // Its place still counts in the distribution (fourth), and the others always score.
    assert!((d0.position_probability.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!(
        report.drivers[1..]
            .iter()
            .all(|d| (d.p_points - 1.0).abs() < 1e-12)
    );
    let sure: f64 = monte_carlo::POINTS[..4].iter().sum::<f64>();
    let total: f64 = report.drivers.iter().map(|d| d.expected_points).sum();
    assert!(
        total < sure - 1.0,
        "{total} of {sure}: an unclassified fourth scores nothing"
    );
}

#[test]
fn noise_spreads_the_results_around_the_deterministic_race() {
    let m = field(20, 50);
    let det = deterministic(&m);
    let p = Prepared::new(&m, &plans(&m), None).unwrap();
    let config = McConfig {
        runs: 500,
        seed: 9,
        deterministic: false,
    };
    let r = monte_carlo::report(&m, &monte_carlo::run_all(&p, &config), &config);
    let leader = &r.drivers[0];
    assert!(
        leader.p_win > 0.5,
        "the fastest car usually wins: {}",
        leader.p_win
    );
    let mean = leader.race_time_mean_s.unwrap();
    assert!(leader.race_time_p5_s.unwrap() < mean && mean < leader.race_time_p95_s.unwrap());
    // Noise is zero-mean, but SCs add time: the mean is not below the deterministic race by much.
    assert!(
        mean > det.race_time_s[0] - 5.0,
        "{mean} vs {}",
        det.race_time_s[0]
    );
    let total: f64 = r.drivers.iter().map(|d| d.p_win).sum();
    assert!((total - 1.0).abs() < 1e-9);
}

#[test]
fn bad_models_and_plans_are_errors_not_panics() {
    let m = field(3, 20);
    let mut p = plans(&m);
    p[1].stops[0].compound = Compound::Wet;
    assert!(Prepared::new(&m, &p, None).is_err());
    let mut p = plans(&m);
    p[0].stops[0].lap = 25;
    assert!(Prepared::new(&m, &p, None).is_err());
    assert!(Prepared::new(&m, &p[..2], None).is_err());
    let mut empty = m.clone();
    empty.drivers.clear();
    assert!(Prepared::new(&empty, &[], None).is_err());
}

#[test]
fn a_stream_is_a_stream() {
    let mut s = Stream::for_race(1, 1);
    assert_ne!(s.next_u64(), s.next_u64());
}

#[test]
fn a_stop_time_table_gives_the_distributions_quantiles() {
    // TUMFTM's stop-time distributions: shapes 1.6–5.8 (the lower, the heavier the tail), scales 0.5–2.3; the
    // first is heavier than any of them.
    for fisk in [
        Fisk {
            c: 1.3,
            loc: -0.2,
            scale: 0.4,
        },
        Fisk {
            c: 2.0,
            loc: 0.0,
            scale: 0.5,
        },
        Fisk {
            c: 4.1,
            loc: 0.1,
            scale: 1.7,
        },
        Fisk {
            c: 6.0,
            loc: -0.953,
            scale: 2.327,
        },
        // Mercedes, Williams and Sauber in the 2019 files.
        Fisk {
            c: 1.563,
            loc: -0.046,
            scale: 0.48,
        },
        Fisk {
            c: 2.562,
            loc: -0.24,
            scale: 0.966,
        },
        Fisk {
            c: 5.827,
            loc: -0.953,
            scale: 2.327,
        },
    ] {
        let table = FiskTable::new(fisk);
        let mut worst = 0.0f64;
        for i in 1..100_000 {
            let u = f64::from(i) / 100_000.0;
            let (got, exact) = (table.quantile(u), fisk.quantile(u));
            // Past the 30 s the simulation clamps stops at, only the order matters.
            if exact <= 30.0 {
                worst = worst.max((got - exact).abs());
            }
        }
        assert!(worst < 1e-3, "{fisk:?}: off by {worst} s");
        // The ends, towards the pole and the unbounded slope, are exact.
        for u in [1e-9, 0.001, 0.05, 0.95, 0.999, 1.0 - 1e-12] {
            assert_eq!(table.quantile(u).to_bits(), fisk.quantile(u).to_bits());
        }
    }
}

#[test]
fn a_plans_stints_count_the_sets_age_and_end_at_the_given_lap() {
    let plan = Plan {
        start: Some(Compound::Soft),
        start_age_laps: 3,
        stops: vec![
            PlannedStop {
                lap: 12,
                compound: Compound::Medium,
                age_laps: 0,
            },
            PlannedStop {
                lap: 40,
                compound: Compound::Soft,
                age_laps: 2,
            },
        ],
    };
    let stints: Vec<_> = plan.stints(55).collect();
    assert_eq!(
        stints,
        [
            (Compound::Soft, 15),
            (Compound::Medium, 28),
            (Compound::Soft, 17)
        ]
    );
    // A driver who retired on lap 30 ran the medium for 18 laps and never fitted the last set.
    assert_eq!(
        plan.stints(30).collect::<Vec<_>>(),
        [(Compound::Soft, 15), (Compound::Medium, 18)]
    );
    let unknown = Plan {
        start: None,
        ..plan
    };
    assert_eq!(unknown.stints(55).count(), 0);
}

mod search {
    use super::*;
    use crate::strategy::lapsim::{CarStart, RaceStart};
    use crate::strategy::search::{self, Objective, SearchConfig, WhatIf};

    fn quick(car: usize) -> SearchConfig {
        SearchConfig {
            runs_per_plan: 120,
            lap_step: 4,
            finalists_per_stop_count: 3,
            ..SearchConfig::for_car(car, 21)
        }
    }

    /// The field 20 laps into a 40-lap race, one second apart, everyone on 20-lap-old mediums.
    fn mid_race(m: &RaceModel) -> RaceStart {
        RaceStart {
            completed_laps: 20,
            cars: (0..m.drivers.len())
                .map(|i| CarStart {
                    race_time_s: 20.0 * 83.0 + i as f64,
                    laps: 20,
                    compound: Compound::Medium,
                    tyre_age_laps: 20.0,
                    fuel_kg: 70.0,
                    retired: false,
                })
                .collect(),
        }
    }

    #[test]
    fn plans_evaluated_together_get_their_own_results_and_the_window_its_first_races() {
        // From the grid (plans on two start compounds, one with a bad stop) and from mid-race.
        let m = field(8, 40);
        let rivals = plans(&m);
        let config = SearchConfig {
            window_runs: 50,
            ..quick(3)
        };
        let with = |window_runs| SearchConfig {
            window_runs,
            ..config.clone()
        };
        assert_eq!([0, 50, 500].map(|w| with(w).window_races()), [120, 50, 120]);
        let start = mid_race(&m);
        for from in [None, Some(&start)] {
            let list = search::shortlist(&m, &rivals, from, &config).unwrap();
            let mut batch = list.finalists.clone();
            let mut bad = batch[0].clone();
            bad.stops[0].lap = 99;
            batch.insert(1, bad);
            let together = search::evaluate_plans(&m, &rivals, from, &config, &batch);
            assert!(together[1].is_err());
            for (plan, r) in batch.iter().zip(&together) {
                let alone = search::evaluate_plan(&m, &rivals, from, &config, plan);
                assert_eq!(r, &alone, "{}", plan.label());
                let Ok(r) = r else { continue };
                // The window's expectation is the plan's own over the window's races.
                let short =
                    search::evaluate_plan(&m, &rivals, from, &config.for_window(), plan).unwrap();
                assert_eq!(
                    (r.window_mean_position, r.window_expected_points),
                    (short.mean_position, short.expected_points)
                );
                assert_eq!(short.window_mean_position, short.mean_position);
            }
        }
    }

    #[test]
    fn the_free_track_time_is_the_deterministic_race_of_a_lone_car() {
        let m = alone(40);
        let mut with_deg = m.clone();
        with_deg.drivers[0].tyres.compounds[1].deg = Degradation::Linear { k0: 0.4, k1: 0.05 };
        with_deg.drivers[0].tyres.compounds[2].deg = Degradation::Linear { k0: 0.8, k1: 0.03 };
        let plan = with_deg.drivers[0].plan.clone();
        let free = search::free_track_s(&with_deg, 0, &plan, None).unwrap();
        let sim = deterministic(&with_deg).race_time_s[0];
        assert!((free - sim).abs() < 1e-9, "{free} vs {sim}");
    }

    #[test]
    fn the_search_enumerates_legal_plans_and_beats_or_matches_the_current_one() {
        let m = field(8, 40);
        let r = search::search(&m, &plans(&m), None, &quick(3)).unwrap();
        assert!(r.plans_screened > 100, "{}", r.plans_screened);
        assert!(!r.ranked.is_empty());
        for p in &r.ranked {
            assert!(p.plan.uses_two_dry_compounds(), "{}", p.label);
            assert!((1..=3).contains(&p.stops));
            let mut last = 0;
            for s in &p.plan.stops {
                assert!(s.lap >= last + 5 && s.lap <= 35, "{}", p.label);
                last = s.lap;
            }
        }
        for w in r.ranked.windows(2) {
            assert!(w[0].mean_position <= w[1].mean_position);
        }
        let best = &r.ranked[0];
        let current = r.current.as_ref().unwrap();
        assert!(
            best.mean_position <= current.mean_position + 1e-9,
            "{} vs {}",
            best.label,
            current.label
        );
        let w = r.window.as_ref().unwrap();
        assert!(w.earliest_lap <= w.best_lap && w.best_lap <= w.latest_lap);
        // Same inputs, same answer.
        assert_eq!(r, search::search(&m, &plans(&m), None, &quick(3)).unwrap());
    }

    /// The search's phases composed as workers would: the evaluations in any order, the window `width` laps at
    /// a time.
    fn search_in_phases(
        m: &RaceModel,
        start: Option<&RaceStart>,
        config: &SearchConfig,
        width: usize,
    ) -> search::SearchReport {
        let plans = plans(m);
        let evaluate = |p: &Plan| search::evaluate_plan(m, &plans, start, config, p);
        let list = search::shortlist(m, &plans, start, config).unwrap();
        let mut finalists: Vec<_> = list.finalists.iter().rev().map(evaluate).collect();
        finalists.reverse();
        let current = list.current.as_ref().map(evaluate);
        let code = m.drivers[config.car].code.clone();
        let mut report = search::rank(config, &code, list, finalists, current);
        let completed = start.map_or(0, |s| s.completed_laps);
        if let Some(mut scan) = search::WindowScan::new(config, m.total_laps, completed, &report) {
            loop {
                let pending = scan.pending(width);
                if pending.is_empty() {
                    break;
                }
                // A finalist's plan is never run again: its result is known.
                for c in &pending {
                    assert!(
                        report.ranked.iter().all(|r| r.plan != c.plan),
                        "lap {}",
                        c.lap
                    );
                }
                let results: Vec<_> = pending.iter().map(|c| evaluate(&c.plan)).collect();
                scan.feed(&pending, results);
            }
            report.window = Some(scan.finish(&mut report.warnings));
        }
        report
    }

    #[test]
    fn the_search_split_into_phases_gives_the_same_report_at_any_window_width() {
        let m = field(8, 40);
        let mut wide = quick(3);
        // Points as the objective: its tolerance keeps the window open over many laps.
        wide.objective = Objective::Points;
        // In-laps on every lap and more finalists: the best plan's neighbours are finalists, so the window
        // crosses laps whose results it already has.
        let dense = SearchConfig {
            lap_step: 1,
            finalists_per_stop_count: 20,
            ..wide.clone()
        };
        for config in [quick(3), wide, dense] {
            let whole = search::search(&m, &plans(&m), None, &config).unwrap();
            let w = whole.window.as_ref().unwrap();
            assert!(w.latest_lap > w.earliest_lap, "{w:?}");
            if config.lap_step == 1 {
                let best = &whole.ranked[0].plan;
                let known_inside = whole.ranked[1..].iter().any(|r| {
                    r.plan.start == best.start
                        && r.plan.stops.len() == best.stops.len()
                        && r.plan.stops[1..] == best.stops[1..]
                        && r.plan.stops[0].compound == best.stops[0].compound
                        && (w.earliest_lap..=w.latest_lap).contains(&r.plan.stops[0].lap)
                });
                assert!(known_inside, "no finalist inside the window {w:?}");
            }
            for width in [1, 2, 3, 7] {
                assert_eq!(
                    search_in_phases(&m, None, &config, width),
                    whole,
                    "{width} laps at a time"
                );
            }
        }
    }

    #[test]
    fn the_search_keeps_stints_within_the_tyre_life_it_is_given() {
        let m = field(8, 40);
        let free = search::search(&m, &plans(&m), None, &quick(3)).unwrap();
        let caps = vec![(Compound::Soft, 12), (Compound::Medium, 25)];
        let config = SearchConfig {
            max_stint_laps: caps.clone(),
            ..quick(3)
        };
        let capped = search::search(&m, &plans(&m), None, &config).unwrap();
        assert!(capped.plans_screened < free.plans_screened);
        assert!(!capped.ranked.is_empty());
        for p in &capped.ranked {
            for (compound, laps) in p.plan.stints(40) {
                if let Some((_, cap)) = caps.iter().find(|(c, _)| *c == compound) {
                    assert!(laps <= *cap, "{}", p.label);
                }
            }
        }
    }

    #[test]
    fn points_can_be_the_objective() {
        let m = field(12, 30);
        let config = SearchConfig {
            objective: Objective::Points,
            ..quick(9)
        };
        let r = search::search(&m, &plans(&m), None, &config).unwrap();
        for w in r.ranked.windows(2) {
            assert!(w[0].expected_points >= w[1].expected_points);
        }
    }

    #[test]
    fn mid_race_plans_keep_the_fitted_set_and_count_it_for_the_rule() {
        let mut m = field(6, 40);
        for d in &mut m.drivers {
            d.plan.stops[0].lap = 30; // not stopped yet: still on the mediums fitted at the start
        }
        let start = mid_race(&m);
        let r = search::search(&m, &plans(&m), Some(&start), &quick(2)).unwrap();
        assert!(!r.ranked.is_empty());
        for p in &r.ranked {
            assert_eq!(p.plan.start, Some(Compound::Medium));
            assert!(p.plan.stops.iter().all(|s| s.lap > 20), "{}", p.label);
            assert!(
                p.plan.stops.iter().any(|s| s.compound != Compound::Medium),
                "{}",
                p.label
            );
        }
    }

    #[test]
    fn mid_race_the_window_is_about_the_next_stop_not_one_already_made() {
        let mut m = field(6, 40);
        for d in &mut m.drivers {
            // The hards fitted on lap 10 wear out fast: another stop pays.
            d.tyres.compounds[2].deg = Degradation::Linear { k0: 0.8, k1: 0.3 };
            d.plan.stops = vec![
                PlannedStop {
                    lap: 10,
                    compound: Compound::Hard,
                    age_laps: 0,
                },
                PlannedStop {
                    lap: 30,
                    compound: Compound::Medium,
                    age_laps: 0,
                },
            ];
        }
        let mut start = mid_race(&m);
        for c in &mut start.cars {
            c.compound = Compound::Hard;
            c.tyre_age_laps = 10.0;
        }
        let config = SearchConfig {
            max_stops: 3,
            ..quick(1)
        };
        let r = search::search(&m, &plans(&m), Some(&start), &config).unwrap();
        let best = &r.ranked[0];
        assert_eq!(
            best.plan.stops[0].lap, 10,
            "the stop made stays: {}",
            best.label
        );
        let w = r.window.as_ref().unwrap();
        assert!(
            w.earliest_lap > 20 && w.best_lap > 20,
            "{w:?} for {}",
            best.label
        );
    }

    #[test]
    fn a_what_if_changes_the_distribution() {
        let m = field(10, 40);
        let config = McConfig {
            runs: 300,
            seed: 8,
            deterministic: false,
        };
        let mut extra = m.drivers[0].plan.clone();
        // A late extra stop onto a set that gains nothing: pure pit loss.
        extra.stops.push(PlannedStop {
            lap: 36,
            compound: Compound::Hard,
            age_laps: 0,
        });
        let w = WhatIf {
            plans: vec![(0, extra)],
            fcy: vec![FcyPhase {
                start: 10.0,
                end: 13.0,
                kind: FcyKind::Sc,
            }],
        };
        let r = search::what_if(&m, &plans(&m), None, &w, &config).unwrap();
        assert!((r.what_if.sc_probability - 1.0).abs() < 1e-12);
        assert!(
            r.mean_position_delta[0] > 0.0,
            "an extra stop costs the leader: {:?}",
            r.mean_position_delta
        );
        assert!(r.base.drivers[0].mean_position < r.what_if.drivers[0].mean_position);
    }

    #[test]
    fn an_injected_safety_car_is_compared_with_a_base_case_on_the_same_fixed_phases() {
        let mut m = field(10, 40);
        // Random SCs in most races.
        m.random.sc_count = vec![0.2, 0.8];
        let config = McConfig {
            runs: 200,
            seed: 5,
            deterministic: false,
        };
        let only_the_sc = WhatIf {
            plans: Vec::new(),
            fcy: vec![FcyPhase {
                start: 20.0,
                end: 23.0,
                kind: FcyKind::Sc,
            }],
        };
        let r = search::what_if(&m, &plans(&m), None, &only_the_sc, &config).unwrap();
        assert!((r.what_if.sc_probability - 1.0).abs() < 1e-12);
        // Not every random SC of the base case against none at all in the what-if: the base has none either.
        assert_eq!(r.base.sc_probability, 0.0);
        // Without an injected phase the random SCs stay.
        let none = WhatIf {
            plans: Vec::new(),
            fcy: Vec::new(),
        };
        let r = search::what_if(&m, &plans(&m), None, &none, &config).unwrap();
        assert!(r.base.sc_probability > 0.5, "{}", r.base.sc_probability);
        assert_eq!(r.base, r.what_if);
    }

    #[test]
    fn fresh_tyres_make_the_undercut_likely_when_the_old_ones_are_finished() {
        let mut m = field(6, 40);
        for d in &mut m.drivers {
            d.pace_offset_s = 0.0;
            // Mediums fall off a cliff: 0.25 s per lap of age; hards are steady.
            d.tyres.compounds[1].deg = Degradation::Linear { k0: 0.0, k1: 0.25 };
            d.tyres.compounds[2].deg = Degradation::Linear { k0: 0.3, k1: 0.02 };
            d.plan.stops = vec![PlannedStop {
                lap: 30,
                compound: Compound::Hard,
                age_laps: 0,
            }];
        }
        m.timing.pit.in_green_s = 2.0;
        m.timing.pit.out_green_s = 8.0;
        let start = mid_race(&m);
        let config = McConfig {
            runs: 250,
            seed: 4,
            deterministic: false,
        };
        let r = search::undercut(&m, &plans(&m), &start, 3, &config).unwrap();
        assert_eq!(r.lap, 21);
        let ahead = r.ahead.unwrap();
        assert_eq!(ahead.rival, 2);
        assert!(
            ahead.p_ahead_if_pit > ahead.p_ahead_if_stay + 0.3,
            "undercut {} vs stay {}",
            ahead.p_ahead_if_pit,
            ahead.p_ahead_if_stay
        );
        let behind = r.behind.unwrap();
        assert!(behind.p_ahead_if_pit > behind.p_ahead_if_stay, "{behind:?}");
    }
}

/// Inputs from outside that used to panic or rank nonsense: each is refused with its reason, or runs.
mod bad_input {
    use super::*;
    use crate::strategy::lapsim::{CarStart, MAX_RACE_LAPS, RaceStart, SimError};
    use crate::strategy::search::{self, SearchConfig, WhatIf};

    #[test]
    fn a_one_lap_race_runs_with_random_safety_cars() {
        let mut m = field(6, 1);
        // Every race has a SC, and its start bin is never the first lap's.
        m.random.sc_count = vec![0.0, 1.0];
        m.random.sc_start = [0.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        let no_stop: Vec<Plan> = plans(&m)
            .into_iter()
            .map(|p| Plan {
                stops: Vec::new(),
                ..p
            })
            .collect();
        let p = Prepared::new(&m, &no_stop, None).unwrap();
        let tally = monte_carlo::run_chunk(&p, 9, 0, 50);
        assert_eq!(tally.runs + tally.invalid_runs, 50);
        assert_eq!(tally.sc_runs, 50);
    }

    #[test]
    fn a_race_longer_than_any_is_refused() {
        let m = field(4, MAX_RACE_LAPS + 1);
        assert_eq!(
            Prepared::new(&m, &plans(&m), None).unwrap_err(),
            SimError::TooManyLaps(MAX_RACE_LAPS + 1)
        );
        let config = SearchConfig::for_car(0, 1);
        assert!(search::search(&m, &plans(&m), None, &config).is_err());
    }

    #[test]
    fn events_at_no_lap_are_refused_and_beyond_the_flag_run() {
        let m = field(4, 30);
        let config = McConfig {
            runs: 10,
            seed: 1,
            deterministic: false,
        };
        let what = |start, end| WhatIf {
            plans: Vec::new(),
            fcy: vec![FcyPhase {
                start,
                end,
                kind: FcyKind::Sc,
            }],
        };
        for (start, end) in [(f64::NAN, 3.0), (2.0, f64::INFINITY)] {
            let e = search::what_if(&m, &plans(&m), None, &what(start, end), &config).unwrap_err();
            assert!(matches!(e, SimError::BadEvent(_)), "{start}–{end}: {e}");
        }
        // Beyond the flag (it used to overflow into a race-long SC at 5e9): held on the last lap at most.
        for (start, end) in [(5e9, 5e9 + 2.0), (30.0, 32.0)] {
            search::what_if(&m, &plans(&m), None, &what(start, end), &config).unwrap();
            let mut late = m.clone();
            late.fixed.fcy = Some(what(start, end).fcy);
            let p = Prepared::new(&late, &plans(&late), None).unwrap();
            let sc_laps = Runner::new(&p).run(None).sc_laps;
            assert!(sc_laps <= 1, "{start}–{end}: {sc_laps} SC laps");
        }
        // A retirement at the flag (a car disqualified after the distance) never happens.
        let mut flagged = m.clone();
        flagged.fixed.retirements = Some(vec![Retirement {
            driver: 1,
            at: 30.0,
        }]);
        let p = Prepared::new(&flagged, &plans(&flagged), None).unwrap();
        assert!(!Runner::new(&p).run(None).dnf[1]);
    }

    #[test]
    fn a_car_outside_the_field_or_no_run_is_an_error_not_a_result() {
        let m = field(4, 30);
        let plan = plans(&m)[0].clone();
        let far = SearchConfig::for_car(99, 1);
        let results =
            search::evaluate_plans(&m, &plans(&m), None, &far, std::slice::from_ref(&plan));
        assert_eq!(results, vec![Err(SimError::NoSuchCar(99))]);
        // No run asked for: nothing to rank, rather than a mean position of 0 ranked first.
        let none = SearchConfig {
            runs_per_plan: 0,
            ..SearchConfig::for_car(0, 1)
        };
        let e = search::evaluate_plan(&m, &plans(&m), None, &none, &plan).unwrap_err();
        assert!(matches!(e, SimError::NoValidRun(_)), "{e}");
        let report = search::search(&m, &plans(&m), None, &none).unwrap();
        assert!(report.ranked.is_empty());
        assert!(
            report.warnings.iter().any(|w| w.contains("no valid run")),
            "{:?}",
            report.warnings
        );
    }

    #[test]
    fn races_dropped_in_a_plans_monte_carlo_are_reported_with_its_result() {
        let mut m = field(6, 30);
        // Car 2's lap noise is so wide that its race time overflows to infinity in some races and not in others.
        m.drivers[2].lap_sigma_s = 5e307;
        let config = SearchConfig {
            runs_per_plan: 60,
            lap_step: 6,
            finalists_per_stop_count: 2,
            max_stops: 1,
            ..SearchConfig::for_car(1, 3)
        };
        let plan = plans(&m)[1].clone();
        let r = search::evaluate_plan(&m, &plans(&m), None, &config, &plan).unwrap();
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        assert!(r.warnings[0].contains("runs dropped"), "{:?}", r.warnings);
        let report = search::search(&m, &plans(&m), None, &config).unwrap();
        assert!(!report.ranked.is_empty());
        for ranked in &report.ranked {
            let w = &ranked.warnings;
            assert!(w.len() == 1 && w[0].contains(" runs dropped"), "{w:?}");
            let named = format!("{}: {}", ranked.label, w[0]);
            assert!(report.warnings.contains(&named), "{:?}", report.warnings);
        }
        // A model with no such car: no warning anywhere.
        let clean = search::search(&field(6, 30), &plans(&m), None, &config).unwrap();
        assert!(clean.ranked.iter().all(|r| r.warnings.is_empty()));
        assert!(clean.warnings.is_empty(), "{:?}", clean.warnings);
    }

    #[test]
    fn a_tyre_that_never_wears_is_not_run_beyond_the_longest_stint_seen() {
        let mut m = field(6, 40);
        // A live fit on short stints can make a set look everlasting: here the softs lose nothing with age.
        for d in &mut m.drivers {
            d.tyres.compounds[0].deg = Degradation::Linear { k0: 0.0, k1: 0.0 };
        }
        let config = SearchConfig {
            runs_per_plan: 40,
            lap_step: 2,
            finalists_per_stop_count: 3,
            max_stops: 1,
            ..SearchConfig::for_car(1, 3)
        };
        let soft_stints = |report: &search::SearchReport| {
            report
                .ranked
                .iter()
                .flat_map(|r| r.plan.stints(40).collect::<Vec<_>>())
                .filter(|(c, _)| *c == Compound::Soft)
                .map(|(_, laps)| laps)
                .max()
        };
        // With its own caps lifted (a cap no stint reaches), the search runs the softs nearly to the flag.
        let uncapped = SearchConfig {
            max_stint_laps: vec![(Compound::Soft, 1000)],
            ..config.clone()
        };
        let free = search::search(&m, &plans(&m), None, &uncapped).unwrap();
        assert!(soft_stints(&free).unwrap() > 26, "{:?}", soft_stints(&free));
        // By default no soft stint is longer than any race has seen: 64 % of the distance (26 of 40 laps).
        let capped = search::search(&m, &plans(&m), None, &config).unwrap();
        assert!(!capped.ranked.is_empty());
        assert!(
            soft_stints(&capped).is_some_and(|laps| laps <= 26),
            "{:?}",
            soft_stints(&capped)
        );
    }

    #[test]
    fn after_intermediates_one_slick_compound_is_a_legal_plan() {
        let mut m = field(6, 40);
        for d in &mut m.drivers {
            d.tyres.compounds.push(CompoundDeg {
                compound: Compound::Intermediate,
                label: "I".into(),
                deg: Degradation::Linear { k0: 3.0, k1: 0.0 },
            });
            d.plan = Plan {
                start: Some(Compound::Intermediate),
                start_age_laps: 0,
                stops: Vec::new(),
            };
        }
        // The track dried: ten laps run on intermediates.
        let start = RaceStart {
            completed_laps: 10,
            cars: (0..6)
                .map(|i| CarStart {
                    race_time_s: 930.0 + 2.0 * f64::from(i),
                    laps: 10,
                    compound: Compound::Intermediate,
                    tyre_age_laps: 10.0,
                    fuel_kg: 85.0,
                    retired: false,
                })
                .collect(),
        };
        let config = SearchConfig {
            runs_per_plan: 40,
            lap_step: 3,
            finalists_per_stop_count: 3,
            max_stops: 1,
            ..SearchConfig::for_car(2, 3)
        };
        let report = search::search(&m, &plans(&m), Some(&start), &config).unwrap();
        // One stop onto one slick compound: the two-dry-compound rule does not apply after wet tyres.
        assert!(!report.ranked.is_empty(), "{:?}", report.warnings);
        assert!(report.ranked.iter().all(|r| r.plan.stops.len() == 1));
    }

    #[test]
    fn pitting_now_brings_the_next_stop_forward_and_keeps_the_later_ones() {
        let stop = |lap, compound| PlannedStop {
            lap,
            compound,
            age_laps: 0,
        };
        let plan = Plan {
            start: Some(Compound::Medium),
            start_age_laps: 0,
            stops: vec![
                stop(8, Compound::Soft),
                stop(25, Compound::Hard),
                stop(50, Compound::Soft),
            ],
        };
        // After 20 laps, pitting on lap 21: the lap-8 stop was made, the lap-25 one comes now, the lap-50 one stays.
        let now = search::pitting_on(&plan, 20, 21, Compound::Hard);
        assert_eq!(
            now.stops,
            [
                stop(8, Compound::Soft),
                stop(21, Compound::Hard),
                stop(50, Compound::Soft)
            ]
        );
        // With no stop left in the plan, the one now is the last.
        let one = search::pitting_on(&now, 55, 56, Compound::Medium);
        assert_eq!(one.stops.len(), 4);
        assert_eq!(one.stops[3], stop(56, Compound::Medium));
    }

    #[test]
    fn a_stop_count_outside_one_to_three_is_read_as_within() {
        let m = field(6, 40);
        let search = |max_stops| {
            let config = SearchConfig {
                runs_per_plan: 40,
                lap_step: 6,
                finalists_per_stop_count: 2,
                max_stops,
                ..SearchConfig::for_car(1, 3)
            };
            search::search(&m, &plans(&m), None, &config).unwrap()
        };
        let (zero, one) = (search(0), search(1));
        assert!(!zero.ranked.is_empty());
        assert_eq!(zero.ranked, one.ranked);
        assert_eq!(search(u32::MAX).ranked, search(3).ranked);
    }
}
