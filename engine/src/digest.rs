//! Digests of whole simulated races and of the twins computed along them, to check that the same inputs give
//! bit-identical results natively and in wasm (both sides compare against fixtures in `engine/tests/fixtures`).

use crate::history::LapRecorder;
use crate::sim::{RaceSim, SimConfig};
use crate::twin::{TwinParams, field_twins};

/// A 64-bit FNV-1a digest of a race: the JSON of its state every `every_s` seconds until the finish.
pub fn race(config: &SimConfig, every_s: f64) -> u64 {
    let mut hash = Fnv1a::new();
    sample(config, every_s, |sim, _| hash.write_json(&sim.state()));
    hash.finish()
}

/// A 64-bit FNV-1a digest of the Car Twin of every car, computed from the states sampled every `every_s` seconds
/// until the finish, as a client would on a live stream.
pub fn twins(config: &SimConfig, every_s: f64) -> u64 {
    let mut hash = Fnv1a::new();
    sample(config, every_s, |sim, recorder| {
        let state = sim.state();
        recorder.observe(&state);
        hash.write_json(&field_twins(
            &state,
            recorder.records(),
            &TwinParams::PIT_WALL,
        ));
    });
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
