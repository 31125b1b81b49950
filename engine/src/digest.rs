//! Digests of whole simulated races and of the twins computed along them, to check that the same inputs give
//! bit-identical results natively and in wasm (both sides compare against fixtures in `engine/tests/fixtures`).

use crate::history::LapRecorder;
use crate::race::RealRace;
use crate::sim::{RaceSim, SimConfig};
use crate::strategy::lapsim::Prepared;
use crate::strategy::monte_carlo::{self, McConfig, McReport};
use crate::strategy::search::{self, SearchConfig, SearchReport};
use crate::strategy::tumftm;
use crate::twin::{TwinParams, Twins};

/// A 64-bit FNV-1a digest of a race: the JSON of its state every `every_s` seconds until the finish.
pub fn race(config: &SimConfig, every_s: f64) -> u64 {
    let mut hash = Fnv1a::new();
    sample(config, every_s, |sim, _| hash.write_json(&sim.state()));
    hash.finish()
}

/// A 64-bit FNV-1a digest of the twins' whole report (every Car Twin, the Field Twin, alerts, events), computed
/// from the states sampled every `every_s` seconds until the finish, as a client would on a live stream.
pub fn twins(config: &SimConfig, every_s: f64) -> u64 {
    let mut hash = Fnv1a::new();
    let mut twins = Twins::new(TwinParams::PIT_WALL);
    sample(config, every_s, |sim, _| {
        let state = sim.state();
        twins.observe(&state);
        hash.write_json(&twins.report(&state));
    });
    hash.finish()
}

/// A 64-bit FNV-1a digest of the twins over a real race (a timing-only source): every state is observed and the
/// whole report is digested each time the leader starts a lap.
pub fn real_race_twins(race: &RealRace) -> u64 {
    let mut hash = Fnv1a::new();
    let mut twins = Twins::new(TwinParams::PIT_WALL);
    let mut leader_lap = 0;
    for state in race.states() {
        twins.observe(&state);
        if state.session.leader_lap != leader_lap {
            leader_lap = state.session.leader_lap;
            hash.write_json(&twins.report(&state));
        }
    }
    hash.finish()
}

/// The Monte Carlo of a TUMFTM race (random events on, the file's real events cleared), `runs` races from `seed`,
/// and a strategy search for `driver` on the same model: the two reports, whose digest pins every bit.
pub fn monte_carlo(
    race_ini: &str,
    mcs_ini: &str,
    runs: u32,
    seed: u64,
    driver: &str,
) -> Result<(McReport, SearchReport), String> {
    let mut model = tumftm::read(race_ini, mcs_ini).map_err(|e| e.to_string())?;
    model.fixed = Default::default();
    let plans: Vec<_> = model.drivers.iter().map(|d| d.plan.clone()).collect();
    let prepared = Prepared::new(&model, &plans, None).map_err(|e| e.to_string())?;
    let config = McConfig {
        runs,
        seed,
        deterministic: false,
    };
    let report = monte_carlo::report(&model, &monte_carlo::run_all(&prepared, &config), &config);
    let car = model
        .driver(driver)
        .ok_or_else(|| format!("no driver {driver}"))?;
    let search_config = SearchConfig {
        runs_per_plan: 60,
        lap_step: 5,
        finalists_per_stop_count: 2,
        max_stops: 2,
        ..SearchConfig::for_car(car, seed)
    };
    let search = search::search(&model, &plans, None, &search_config).map_err(|e| e.to_string())?;
    Ok((report, search))
}

/// The digest of [`monte_carlo()`]'s two reports.
pub fn monte_carlo_digest(reports: &(McReport, SearchReport)) -> u64 {
    let mut hash = Fnv1a::new();
    hash.write_json(&reports.0);
    hash.write_json(&reports.1);
    hash.finish()
}

fn sample(config: &SimConfig, every_s: f64, mut visit: impl FnMut(&RaceSim, &mut LapRecorder)) {
    let mut sim = RaceSim::new(config);
    let mut recorder = LapRecorder::new();
    let mut t = 0.0;
    loop {
        sim.advance_to(t);
        visit(&sim, &mut recorder);
        if sim.is_finished() {
            return;
        }
        t += every_s;
    }
}

/// FNV-1a, 64-bit: tiny, portable and stable across platforms, which is all a fixture digest needs.
#[derive(Debug)]
pub struct Fnv1a(u64);

impl Fnv1a {
    /// The FNV offset basis.
    pub fn new() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }

    /// Mixes in bytes.
    pub fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// Mixes in a value's JSON (serde_json prints floats with the shortest round-trip form, so equal bits give
    /// equal text).
    pub fn write_json<T: serde::Serialize>(&mut self, value: &T) {
        match serde_json::to_vec(value) {
            Ok(bytes) => self.write(&bytes),
            Err(e) => self.write(e.to_string().as_bytes()),
        }
    }

    /// The digest.
    pub fn finish(&self) -> u64 {
        self.0
    }
}

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        let mut h = Fnv1a::new();
        h.write(b"a");
        assert_eq!(h.finish(), 0xaf63_dc4c_8601_ec8c);
        let mut h = Fnv1a::new();
        h.write(b"foobar");
        assert_eq!(h.finish(), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn real_race_twin_digest_matches_the_fixture_shared_with_the_wasm_test() {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/real_race_twin_digest.json"))
                .expect("fixture is JSON");
        let race = fixture["race"].as_str().expect("race");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/data/races")
            .join(race);
        let files = crate::race::FILE_NAMES
            .map(|f| std::fs::read_to_string(dir.join(f)).expect("race file"));
        let [a, b, c, d, e] = &files;
        let race = RealRace::parse(&crate::race::RaceFiles::from_array([a, b, c, d, e]))
            .expect("race parses");
        assert_eq!(
            format!("{:016x}", real_race_twins(&race)),
            fixture["digest"].as_str().expect("digest"),
            "the twins' output changed; if on purpose, update engine/tests/fixtures/real_race_twin_digest.json"
        );
    }

    #[test]
    fn monte_carlo_digest_and_distribution_snapshot_match_the_fixture_shared_with_the_wasm_test() {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/monte_carlo_digest.json"))
                .expect("fixture is JSON");
        let races =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/races");
        let read = |f: &str| std::fs::read_to_string(races.join(f)).expect("shared race data");
        let reports = monte_carlo(
            &read(fixture["race_ini"].as_str().expect("race_ini")),
            &read(fixture["mcs_ini"].as_str().expect("mcs_ini")),
            fixture["runs"].as_u64().expect("runs") as u32,
            fixture["seed"].as_u64().expect("seed"),
            fixture["driver"].as_str().expect("driver"),
        )
        .expect("the Monte Carlo runs");
        // The readable part of the snapshot: each driver's mean position and win chance, and the best plan.
        let snapshot: Vec<String> = reports
            .0
            .drivers
            .iter()
            .map(|d| format!("{} {:.3} {:.3}", d.code, d.mean_position, d.p_win))
            .collect();
        let best = reports.1.ranked.first().map(|p| p.label.clone());
        let want: Vec<String> = fixture["snapshot"]
            .as_array()
            .expect("snapshot")
            .iter()
            .map(|v| v.as_str().expect("line").to_owned())
            .collect();
        assert_eq!(snapshot, want, "the Monte Carlo's distributions changed");
        assert_eq!(best.as_deref(), fixture["best_plan"].as_str());
        assert_eq!(
            format!("{:016x}", monte_carlo_digest(&reports)),
            fixture["digest"].as_str().expect("digest"),
            "the Monte Carlo's output changed; if on purpose, update engine/tests/fixtures/monte_carlo_digest.json"
        );
    }

    #[test]
    fn twin_digest_matches_the_fixture_shared_with_the_wasm_test() {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/twin_digest.json"))
                .expect("fixture is JSON");
        let config = SimConfig {
            seed: fixture["seed"].as_u64().expect("seed"),
            total_laps: fixture["total_laps"].as_u64().expect("total_laps") as u32,
        };
        let got = format!(
            "{:016x}",
            twins(&config, fixture["every_s"].as_f64().expect("every_s"))
        );
        assert_eq!(
            got,
            fixture["digest"].as_str().expect("digest"),
            "the twins' output changed; if on purpose, update engine/tests/fixtures/twin_digest.json"
        );
    }
}
