//! Reconnect policy shared by the browser's live feed and the relay's sources: exponential backoff with jitter.
//! The jitter is an argument (no entropy source in the engine).

/// Seconds to wait before reconnect attempt `attempt` (1-based): 0.5 s doubling up to 10 s, scaled by ±20 % of
/// jitter (`jitter_unit` in `0..=1`) so a pit wall of tablets does not reconnect in lockstep after a relay restart.
pub fn backoff_s(attempt: u32, jitter_unit: f64) -> f64 {
    let doublings = attempt.saturating_sub(1).min(5);
    let base = (0.5 * f64::from(1u32 << doublings)).min(10.0);
    base * (0.8 + 0.4 * jitter_unit.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_caps_and_jitters() {
        assert_eq!(backoff_s(1, 0.5), 0.5);
        assert_eq!(backoff_s(2, 0.5), 1.0);
        assert_eq!(backoff_s(5, 0.5), 8.0);
        assert_eq!(backoff_s(6, 0.5), 10.0);
        assert_eq!(backoff_s(60, 0.5), 10.0);
        assert_eq!(backoff_s(1, 0.0), 0.4);
        assert!((backoff_s(1, 1.0) - 0.6).abs() < 1e-12);
    }
}
