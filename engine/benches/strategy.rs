//! Criterion benchmarks of the Monte Carlo strategy simulator on a real TUMFTM parameter set (Canada 2019, 20
//! cars, 70 laps): one random race with every random influence on, one deterministic race, and a chunk of runs.
//! Figures (races per second) are recorded in BENCHMARKS.md.

use std::hint::black_box;
use std::path::Path;

use boxbox_engine::strategy::lapsim::{Prepared, Runner};
use boxbox_engine::strategy::model::RaceModel;
use boxbox_engine::strategy::monte_carlo::{self, CHUNK_RUNS};
use boxbox_engine::strategy::rng::Stream;
use boxbox_engine::strategy::tumftm;
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
    let mut rng = Stream::for_chunk(1, 0);
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
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
