//! Criterion benchmarks of the simulator and the Car Twin: a whole race at lap level, one sampled state, and the
//! twins of the whole field (the Car Twins alone, and the whole report). Figures are recorded in BENCHMARKS.md.

use std::hint::black_box;

use boxbox_engine::history::LapRecorder;
use boxbox_engine::sim::{RaceSim, SimConfig};
use boxbox_engine::twin::{TwinParams, Twins, field_twins};
use criterion::{Criterion, criterion_group, criterion_main};

/// A race 30 laps in, with the lap history a client would have.
fn mid_race() -> (RaceSim, LapRecorder) {
    let mut sim = RaceSim::new(&SimConfig::sakhir_2019(1));
    let mut recorder = LapRecorder::new();
    let mut t = 0.0;
    while sim.state().session.leader_lap < 30 {
        t += 1.0;
        sim.advance_to(t);
        recorder.observe(&sim.state());
    }
    (sim, recorder)
}

fn bench(c: &mut Criterion) {
    let mut seed = 0u64;
    c.bench_function("race_57_laps_20_cars_lap_level", |b| {
        b.iter(|| {
            seed += 1;
            let mut sim = RaceSim::new(&SimConfig::sakhir_2019(seed));
            black_box(sim.run_to_end())
        });
    });

    let (sim, recorder) = mid_race();
    c.bench_function("state_sample_20_cars", |b| {
        b.iter(|| black_box(sim.state()));
    });

    let state = sim.state();
    c.bench_function("state_to_json_20_cars", |b| {
        b.iter(|| black_box(serde_json::to_string(&state)));
    });

    c.bench_function("car_twins_20_cars_30_laps", |b| {
        b.iter(|| {
            black_box(field_twins(
                &state,
                recorder.records(),
                &TwinParams::PIT_WALL,
            ))
        });
    });

    // The whole report (Car Twins, Field Twin with pit predictions, rejoins and battles, alerts) from the same
    // history: the relay computes it on request, the browser once per lap.
    let twins = Twins::with_history(TwinParams::PIT_WALL, recorder.records().to_vec());
    c.bench_function("twin_report_20_cars_30_laps", |b| {
        b.iter(|| black_box(twins.report(&state)));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
