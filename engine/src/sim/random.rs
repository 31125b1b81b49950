//! The simulator's seeded random source: a named, portable generator and the few distributions the race needs.
//!
//! ChaCha8 is specified bit for bit, unlike `StdRng`, so a seed gives the same stream natively and in wasm. The
//! normal deviates use `libm` rather than `f64::ln`/`f64::cos`, which call the platform's libm and may differ in
//! the last bit between targets.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

/// A seeded random source.
#[derive(Debug)]
pub struct SimRng(ChaCha8Rng);

impl SimRng {
    /// A generator for this seed.
    pub fn new(seed: u64) -> Self {
        SimRng(ChaCha8Rng::seed_from_u64(seed))
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        self.0.random::<f64>()
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// A normal deviate (Box–Muller; one draw of two uniforms per call keeps the stream easy to reason about).
    pub fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        // 1 - u is in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        let z = (-2.0 * libm::log(u1)).sqrt() * libm::cos(std::f64::consts::TAU * u2);
        mean + sd * z
    }

    /// An index drawn with the given (not necessarily normalised) weights; the last index if all are zero.
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.uniform() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len().saturating_sub(1)
    }

    /// An integer in `lo..=hi`.
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi - lo + 1).max(1) as f64;
        lo + ((self.uniform() * span) as i64).min(hi - lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = SimRng::new(7);
        let mut b = SimRng::new(7);
        for _ in 0..100 {
            assert_eq!(a.normal(0.0, 1.0).to_bits(), b.normal(0.0, 1.0).to_bits());
        }
    }

    #[test]
    fn normal_has_the_right_moments() {
        let mut rng = SimRng::new(1);
        let xs: Vec<f64> = (0..20_000).map(|_| rng.normal(2.0, 0.5)).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / xs.len() as f64;
        assert!((mean - 2.0).abs() < 0.02, "{mean}");
        assert!((var.sqrt() - 0.5).abs() < 0.02, "{var}");
    }

    #[test]
    fn weighted_follows_weights_and_int_stays_in_range() {
        let mut rng = SimRng::new(3);
        let mut counts = [0u32; 3];
        for _ in 0..10_000 {
            counts[rng.weighted(&[1.0, 0.0, 3.0])] += 1;
            let k = rng.int(2, 4);
            assert!((2..=4).contains(&k));
        }
        assert_eq!(counts[1], 0);
        assert!(
            (counts[2] as f64 / counts[0] as f64 - 3.0).abs() < 0.3,
            "{counts:?}"
        );
    }
}
