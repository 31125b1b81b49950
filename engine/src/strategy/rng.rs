//! The Monte Carlo's random numbers: a small, fast 64-bit generator with one independent stream per race, and
//! normal deviates from a fixed inverse-CDF table. The same bits natively and in WASM.
//!
//! Hand-written on purpose: the simulator draws a few thousand numbers per race and a hundred thousand races a
//! second, so the generator must cost a few cycles, and the fixtures pin exact bits, so the algorithm must never
//! change under us. `rand`'s `SmallRng` documents that its algorithm may change between versions, and its normal
//! distribution uses `f64::exp`/`ln`, which are the platform's and differ in the last bit between glibc and WASM.
//! SplitMix64 (Steele, Lea and Flood; Vigna's constants) passes BigCrush and is two 64-bit multiplies per draw,
//! which WASM has as instructions (wyrand, used before, needs a 128-bit product: a call to `__multi3` on WASM, 5 % of
//! a race there). Each race's stream starts at a state hashed from the seed and the race's number, so that race `k`
//! of seed `s` and race `k + 1` are unrelated, and race `k` draws the same numbers whatever plan it is run with
//! (common random numbers: two plans' races differ by the plans, and a search can run their shared laps once).
//! Normal deviates take 32 bits each, two per draw in `fill_normal`.

/// Normal deviates come from this many quantiles, interpolated (tails reach ±3.7σ).
const TABLE_BITS: u32 = 11;
const TABLE_LEN: usize = 1 << TABLE_BITS;

/// One random stream.
#[derive(Clone, Debug)]
pub struct Stream {
    state: u64,
}

impl Stream {
    /// The stream of race `race` of the runs seeded with `seed`.
    pub fn for_race(seed: u64, race: u64) -> Self {
        let mut x = splitmix64(seed ^ 0x6a09_e667_f3bc_c909);
        x = splitmix64(x ^ race.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        Stream { state: x }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let z = splitmix64(self.state);
        self.state = self.state.wrapping_add(GAMMA);
        z
    }

    /// Uniform in [0, 1), 53 bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in (0, 1): never exactly 0, for quantile functions.
    #[inline]
    pub fn open_uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// Whether an event of probability `p` happens.
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Uniform integer in `0..n` (`n > 0`), by multiply-shift (Lemire), unbiased enough for `n` far below 2³².
    #[inline]
    pub fn below(&mut self, n: u32) -> u32 {
        (((self.next_u64() >> 32) * u64::from(n)) >> 32) as u32
    }

    /// An index drawn from unnormalised `weights`; `None` when they sum to zero or less.
    pub fn weighted(&mut self, weights: &[f64]) -> Option<usize> {
        let total: f64 = weights.iter().filter(|w| **w > 0.0).sum();
        if total <= 0.0 || !total.is_finite() {
            return None;
        }
        let mut x = self.uniform() * total;
        let mut last = None;
        for (i, w) in weights.iter().enumerate() {
            if *w > 0.0 {
                last = Some(i);
                if x < *w {
                    return Some(i);
                }
                x -= w;
            }
        }
        last
    }

    /// A standard normal deviate from `table` (from the draw's high 32 bits).
    #[inline]
    pub fn normal(&mut self, table: &NormalTable) -> f64 {
        table.sample((self.next_u64() >> 32) as u32)
    }

    /// Fills `out` with standard normal deviates from `table`, two from each 64-bit draw (high half first): 32 bits
    /// pick and interpolate a slice finely enough, and one draw for two halves the generator's share of the work.
    #[inline]
    pub fn fill_normal(&mut self, table: &NormalTable, out: &mut [f64]) {
        let mut pairs = out.chunks_exact_mut(2);
        for pair in &mut pairs {
            let bits = self.next_u64();
            pair[0] = table.sample((bits >> 32) as u32);
            pair[1] = table.sample(bits as u32);
        }
        if let [last] = pairs.into_remainder() {
            *last = self.normal(table);
        }
    }
}

/// Quantiles of the standard normal at the midpoints of `TABLE_LEN` equal slices, linearly interpolated. Built
/// with `libm` so the table has the same bits on every target.
#[derive(Clone, Debug)]
pub struct NormalTable {
    q: Box<[f64]>,
}

impl NormalTable {
    /// Builds the table.
    pub fn new() -> Self {
        let q = (0..=TABLE_LEN)
            .map(|i| inverse_normal_cdf((i as f64 + 0.5) / (TABLE_LEN as f64 + 1.0)))
            .collect();
        NormalTable { q }
    }

    /// Maps 32 random bits to a normal deviate: the top bits pick the slice, the rest interpolate.
    #[inline]
    fn sample(&self, bits: u32) -> f64 {
        const FRAC_BITS: u32 = 32 - TABLE_BITS;
        let i = (bits >> FRAC_BITS) as usize;
        let frac = f64::from(bits & ((1 << FRAC_BITS) - 1)) * (1.0 / (1u32 << FRAC_BITS) as f64);
        let (a, b) = (self.q[i], self.q[i + 1]);
        a + (b - a) * frac
    }
}

impl Default for NormalTable {
    fn default() -> Self {
        NormalTable::new()
    }
}

/// SplitMix64's increment (the golden ratio's fraction in 64 bits).
const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// One SplitMix64 step from state `x`: the output for state `x + GAMMA`. The generator's step, and the seeding hash.
#[inline]
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(GAMMA);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The standard normal quantile at `p` in (0, 1): Acklam's rational approximation (relative error below
/// 1.2e-9), which is far finer than the table it fills.
pub fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.024_25;
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < LOW {
        tail(libm::sqrt(-2.0 * libm::log(p)))
    } else if p > 1.0 - LOW {
        -tail(libm::sqrt(-2.0 * libm::log(1.0 - p)))
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_independent() {
        let a: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(Stream::for_race(7, 0), |s, _: u64| Some(s.next_u64()))
            .collect();
        let b: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(Stream::for_race(7, 0), |s, _: u64| Some(s.next_u64()))
            .collect();
        let c: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(Stream::for_race(7, 1), |s, _: u64| Some(s.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn uniform_and_normal_have_the_right_moments() {
        let table = NormalTable::new();
        let mut s = Stream::for_race(1, 2);
        let n = 200_000;
        let (mut su, mut sz, mut szz, mut beyond_2) = (0.0, 0.0, 0.0, 0);
        for _ in 0..n {
            let u = s.uniform();
            assert!((0.0..1.0).contains(&u));
            su += u;
            let z = s.normal(&table);
            sz += z;
            szz += z * z;
            if z.abs() > 2.0 {
                beyond_2 += 1;
            }
        }
        let nf = f64::from(n);
        assert!((su / nf - 0.5).abs() < 0.005);
        assert!((sz / nf).abs() < 0.01, "mean {}", sz / nf);
        assert!((szz / nf - 1.0).abs() < 0.02, "variance {}", szz / nf);
        // P(|Z| > 2) = 4.55 %.
        let share = f64::from(beyond_2) / nf;
        assert!((share - 0.0455).abs() < 0.003, "{share}");
    }

    #[test]
    fn normals_drawn_in_pairs_have_the_right_moments_and_come_in_order() {
        let table = NormalTable::new();
        let mut s = Stream::for_race(4, 0);
        // An odd count: the last deviate takes a draw of its own.
        let mut out = vec![0.0; 200_001];
        s.fill_normal(&table, &mut out);
        let n = out.len() as f64;
        let mean = out.iter().sum::<f64>() / n;
        let var = out.iter().map(|z| (z - mean) * (z - mean)).sum::<f64>() / n;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "variance {var}");
        // The pairs are not correlated: the high and the low half of a draw are independent bits.
        let cov = out.chunks_exact(2).map(|p| p[0] * p[1]).sum::<f64>() / (n / 2.0).floor();
        assert!(cov.abs() < 0.01, "covariance within pairs {cov}");
        // The same stream gives the same deviates whether filled or drawn one by one from the halves.
        let (mut a, mut b) = (Stream::for_race(9, 3), Stream::for_race(9, 3));
        let mut filled = [0.0; 5];
        a.fill_normal(&table, &mut filled);
        let bits = b.next_u64();
        assert_eq!(filled[0], table.sample((bits >> 32) as u32));
        assert_eq!(filled[1], table.sample(bits as u32));
        b.next_u64();
        assert_eq!(filled[4], b.normal(&table));
    }

    #[test]
    fn the_quantile_function_is_accurate() {
        assert!(inverse_normal_cdf(0.5).abs() < 1e-12);
        assert!((inverse_normal_cdf(0.975) - 1.959_963_985).abs() < 1e-8);
        assert!((inverse_normal_cdf(0.001) + 3.090_232_306).abs() < 1e-8);
    }

    #[test]
    fn weighted_draws_follow_the_weights_and_refuse_zero() {
        let mut s = Stream::for_race(3, 0);
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            counts[s.weighted(&[1.0, 0.0, 3.0]).unwrap_or(1)] += 1;
        }
        assert_eq!(counts[1], 0);
        let share = f64::from(counts[2]) / 30_000.0;
        assert!((share - 0.75).abs() < 0.02, "{share}");
        assert_eq!(s.weighted(&[0.0, 0.0]), None);
        for n in [1, 5, 20] {
            assert!((0..1000).all(|_| s.below(n) < n));
        }
    }
}
