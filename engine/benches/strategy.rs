//! Criterion benchmarks of the Monte Carlo strategy simulator on a real TUMFTM parameter set (Canada 2019, 20
//! cars, 70 laps): one random race with every random influence on, one deterministic race, a chunk of runs, and
//! eight plans of one car on a chunk's races one by one against together (`run_plans`, the shared laps once).
//! Figures (races per second) are recorded in BENCHMARKS.md.

use std::hint::black_box;
use std::path::Path;

use boxbox_engine::strategy::lapsim::{Prepared, Runner};
use boxbox_engine::strategy::model::{Plan, PlannedStop, RaceModel};
use boxbox_engine::strategy::monte_carlo::{self, CHUNK_RUNS};
use boxbox_engine::strategy::rng::Stream;
use boxbox_engine::strategy::tumftm;
use boxbox_engine::wire::Compound;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn canada() -> RaceModel {
    let races = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/races");
    let read =
        |p: &Path| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let race = read(&races.join("2019_07_canada/tumftm_pars_Montreal_2019.ini"));
    let mcs = read(&races.join("_common/tumftm_pars_mcs.ini"));
    let mut model = tumftm::read(&race, &mcs).unwrap_or_else(|e| panic!("{e}"));
    // Random SCs, accidents and failures on: the file's fixed retirements would switch the random ones off.
    model.fixed = Default::default();
    model
}

fn bench(c: &mut Criterion) {
    let model = canada();
    let plans: Vec<_> = model.drivers.iter().map(|d| d.plan.clone()).collect();
    let prepared = Prepared::new(&model, &plans, None).unwrap_or_else(|e| panic!("{e}"));

    let mut group = c.benchmark_group("monte_carlo_canada_2019");
    group.throughput(Throughput::Elements(1));
    let mut runner = Runner::new(&prepared);
    let mut rng = Stream::for_race(1, 0);
    group.bench_function("race_random_20_cars_70_laps", |b| {
        b.iter(|| black_box(runner.run(Some(&mut rng)).position[0]));
    });
    group.bench_function("race_deterministic_20_cars_70_laps", |b| {
        b.iter(|| black_box(runner.run(None).position[0]));
    });
    group.throughput(Throughput::Elements(u64::from(CHUNK_RUNS)));
    let mut chunk = 0;
    group.bench_function("chunk_of_250_races_with_tally", |b| {
        b.iter(|| {
            chunk += 1;
            black_box(monte_carlo::run_chunk(&prepared, 7, chunk, CHUNK_RUNS).runs)
        });
    });
    group.finish();

    // HAM's plans as a refresh's block of finalists: one stop from lap 15 to 50, two stops from lap 12.
    let car = model.driver("HAM").unwrap_or_else(|| panic!("HAM"));
    let stop = |lap, compound| PlannedStop {
        lap,
        compound,
        age_laps: 0,
    };
    let candidates: Vec<Prepared> = [15, 20, 25, 30, 40, 50]
        .map(|lap| vec![stop(lap, Compound::Hard)])
        .into_iter()
        .chain([
            vec![stop(12, Compound::Hard), stop(40, Compound::Medium)],
            vec![stop(20, Compound::Medium), stop(45, Compound::Hard)],
        ])
        .map(|stops| {
            let mut plans = plans.clone();
            plans[car] = Plan {
                start: Some(Compound::Medium),
                start_age_laps: 0,
                stops,
            };
            Prepared::new(&model, &plans, None).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    let mut group = c.benchmark_group("eight_plans_of_one_car_canada_2019");
    group.throughput(Throughput::Elements(8 * u64::from(CHUNK_RUNS)));
    group.bench_function("one_by_one", |b| {
        b.iter(|| {
            let runs: u32 = candidates
                .iter()
                .map(|p| monte_carlo::run_chunk(p, 7, 0, CHUNK_RUNS).runs)
                .sum();
            black_box(runs)
        });
    });
    group.bench_function("together", |b| {
        b.iter(|| {
            let tallies = monte_carlo::run_plans(&candidates, car, 7, 0..u64::from(CHUNK_RUNS));
            black_box(tallies.iter().map(|t| t.runs).sum::<u32>())
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
