//! A simulated race allocates nothing once its runner exists: the Monte Carlo's hot loop reuses the runner's
//! buffers (`allocation-counter` tallies this thread's allocations).
#![cfg(not(target_arch = "wasm32"))]

use std::path::Path;

use boxbox_engine::strategy::lapsim::{Prepared, Runner};
use boxbox_engine::strategy::rng::Stream;
use boxbox_engine::strategy::tumftm;

#[test]
fn random_races_allocate_nothing() {
    let races = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/races");
    let read = |p: &Path| std::fs::read_to_string(p).expect("the shared race data");
    let mut model = tumftm::read(
        &read(&races.join("2019_07_canada/tumftm_pars_Montreal_2019.ini")),
        &read(&races.join("_common/tumftm_pars_mcs.ini")),
    )
    .expect("reads");
    // Random SCs, accidents and failures on.
    model.fixed = Default::default();
    let plans: Vec<_> = model.drivers.iter().map(|d| d.plan.clone()).collect();
    let prepared = Prepared::new(&model, &plans, None).expect("prepares");
    let mut runner = Runner::new(&prepared);
    let mut rng = Stream::for_race(3, 0);
    let (mut sc_laps, mut dnfs) = (0, 0);
    let info = allocation_counter::measure(|| {
        for _ in 0..500 {
            let outcome = runner.run(Some(&mut rng));
            sc_laps += outcome.sc_laps;
            dnfs += outcome.dnf.iter().filter(|d| **d).count();
        }
    });
    // The races had the events that used to allocate (a SC's accident draw, the retired cars' order).
    assert!(
        sc_laps > 0 && dnfs > 0,
        "{sc_laps} SC laps, {dnfs} retirements"
    );
    assert_eq!(info.count_total, 0, "allocations in 500 races");
    // The counter counts: building a runner allocates its buffers.
    let info = allocation_counter::measure(|| {
        std::hint::black_box(Runner::new(&prepared));
    });
    assert!(info.count_total > 0);
}
