//! What the load generators (`ws_load`, `rest_load`) read about the relay's process and how they summarise
//! latencies: CPU ticks and resident memory from `/proc/PID`, and percentiles of microsecond samples.

use std::time::Duration;

use tokio::time::Instant;

/// `(utime + stime)` clock ticks and resident memory in KiB of `pid`.
pub fn proc_figures(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((ticks, rss))
}

/// The `p` quantile (0–1) of sorted microsecond samples, in milliseconds; NaN when there are none.
pub fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// Watches a process from `settle` after the start until `until`: its CPU in cores over that span and its largest
/// resident memory in MiB (both `None` without a pid or `/proc`).
pub async fn watch(
    pid: Option<u32>,
    settle: Duration,
    until: Instant,
) -> (Option<f64>, Option<f64>) {
    let Some(pid) = pid else {
        return (None, None);
    };
    tokio::time::sleep(settle).await;
    let from = proc_figures(pid).map(|f| (f.0, Instant::now()));
    let mut max_rss = 0;
    while Instant::now() < until {
        if let Some((_, rss)) = proc_figures(pid) {
            max_rss = max_rss.max(rss);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let cpu = from.and_then(|(ticks0, t0)| {
        // Linux's USER_HZ is 100.
        proc_figures(pid)
            .map(|(ticks, _)| (ticks - ticks0) as f64 / 100.0 / t0.elapsed().as_secs_f64())
    });
    (cpu, (max_rss > 0).then(|| max_rss as f64 / 1024.0))
}
