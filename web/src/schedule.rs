//! When the browser recomputes the twins' report: soon after a lap or an event, else at most once a second, and
//! never left stale for longer than that. Pure (time is an argument), so it is tested natively.
//!
//! States arrive at up to 10 Hz (more from a replay at speed) but the Field Twin only learns from completed laps:
//! recomputing the whole report on every state would cost the tablet's battery for nothing. A lap or an event
//! makes the report stale at once; other states only move the live figures (gaps, wear so far), which a
//! once-a-second report follows closely enough. A short minimum gap keeps a burst of lap completions (the field
//! crossing the line, a replay at 40×) from turning into a burst of recomputations.

/// Shortest time between two reports, in milliseconds, even when laps or events keep coming.
pub const MIN_GAP_MS: f64 = 200.0;

/// Longest a report is kept while new states arrive with no lap or event, in milliseconds.
pub const MAX_AGE_MS: f64 = 1000.0;

/// Slack for timers that fire a little early, in milliseconds.
const SLACK_MS: f64 = 1.0;

/// What to do about the report now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Refresh {
    /// Compute it now (then call [`ReportSchedule::computed`]).
    Now,
    /// Set a timer to call [`ReportSchedule::on_timer`] after this many milliseconds.
    After {
        /// Delay, in milliseconds.
        delay_ms: f64,
    },
    /// Nothing to do: the report is current, or a timer is already set.
    Wait,
}

/// Tracks what the report was computed from and when.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReportSchedule {
    /// When the current report was computed, in milliseconds.
    last_ms: Option<f64>,
    /// States arrived since then.
    behind: bool,
    /// One of them completed a lap or raised an event.
    changed: bool,
    /// When the earliest pending timer fires, in milliseconds.
    timer_ms: Option<f64>,
}

impl ReportSchedule {
    /// A schedule with no report yet: the first state is computed at once.
    pub fn new() -> Self {
        ReportSchedule::default()
    }

    /// A new state arrived at `now_ms`; `changed` if it completed a lap or raised an event.
    pub fn on_state(&mut self, changed: bool, now_ms: f64) -> Refresh {
        self.behind = true;
        self.changed |= changed;
        self.poll(now_ms)
    }

    /// A timer set after [`Refresh::After`] fired at `now_ms`.
    pub fn on_timer(&mut self, now_ms: f64) -> Refresh {
        if self.timer_ms.is_some_and(|t| t <= now_ms + SLACK_MS) {
            self.timer_ms = None;
        }
        self.poll(now_ms)
    }

    /// The report was computed at `now_ms` from the latest state.
    pub fn computed(&mut self, now_ms: f64) {
        self.last_ms = Some(now_ms);
        self.behind = false;
        self.changed = false;
    }

    fn poll(&mut self, now_ms: f64) -> Refresh {
        if !self.behind {
            return Refresh::Wait;
        }
        let due_ms = match self.last_ms {
            None => now_ms,
            Some(last) if self.changed => last + MIN_GAP_MS,
            Some(last) => last + MAX_AGE_MS,
        };
        // A clock that went backwards (the page's clock was set) must not freeze the report.
        let clock_back = self.last_ms.is_some_and(|last| now_ms < last);
        if now_ms + SLACK_MS >= due_ms || clock_back {
            return Refresh::Now;
        }
        if self.timer_ms.is_some_and(|t| t <= due_ms + SLACK_MS) {
            return Refresh::Wait;
        }
        self.timer_ms = Some(due_ms);
        Refresh::After {
            delay_ms: due_ms - now_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds states at `every_ms` for `for_ms`, firing timers when due; returns the times of the reports.
    fn run(every_ms: f64, for_ms: f64, changed: impl Fn(f64) -> bool) -> Vec<f64> {
        let mut schedule = ReportSchedule::new();
        let mut timers: Vec<f64> = Vec::new();
        let mut reports = Vec::new();
        let mut t = 0.0;
        while t <= for_ms {
            // Timers due before this state fire first.
            timers.sort_by(f64::total_cmp);
            while let Some(&at) = timers.first().filter(|at| **at <= t) {
                timers.remove(0);
                match schedule.on_timer(at) {
                    Refresh::Now => {
                        schedule.computed(at);
                        reports.push(at);
                    }
                    Refresh::After { delay_ms } => timers.push(at + delay_ms),
                    Refresh::Wait => {}
                }
            }
            match schedule.on_state(changed(t), t) {
                Refresh::Now => {
                    schedule.computed(t);
                    reports.push(t);
                }
                Refresh::After { delay_ms } => timers.push(t + delay_ms),
                Refresh::Wait => {}
            }
            t += every_ms;
        }
        reports
    }

    #[test]
    fn quiet_states_give_one_report_a_second() {
        let reports = run(100.0, 5000.0, |_| false);
        assert_eq!(reports, [0.0, 1000.0, 2000.0, 3000.0, 4000.0, 5000.0]);
    }

    #[test]
    fn a_lap_or_an_event_refreshes_the_report_at_once() {
        // A lap completes at 1300 ms: reported then, not at 2000 ms.
        let reports = run(100.0, 2500.0, |t| t == 1300.0);
        assert_eq!(reports, [0.0, 1000.0, 1300.0, 2300.0]);
    }

    #[test]
    fn a_burst_of_laps_is_rate_limited_and_the_last_one_still_shows() {
        // Every state completes a lap (a replay at speed): a report every 200 ms, not every 50 ms.
        let reports = run(50.0, 1000.0, |_| true);
        assert_eq!(reports, [0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]);
        // A lap at 1050 ms right after a report at 1000 ms is picked up by a timer at 1200 ms.
        let mut schedule = ReportSchedule::new();
        assert_eq!(schedule.on_state(false, 1000.0), Refresh::Now);
        schedule.computed(1000.0);
        assert_eq!(
            schedule.on_state(true, 1050.0),
            Refresh::After { delay_ms: 150.0 }
        );
        assert_eq!(schedule.on_state(false, 1100.0), Refresh::Wait);
        assert_eq!(schedule.on_timer(1200.0), Refresh::Now);
    }

    #[test]
    fn the_last_state_of_a_pause_is_reported_within_a_second() {
        let mut schedule = ReportSchedule::new();
        assert_eq!(schedule.on_state(false, 0.0), Refresh::Now);
        schedule.computed(0.0);
        // One more state, then the source goes quiet: a timer brings the report up to date.
        assert_eq!(
            schedule.on_state(false, 300.0),
            Refresh::After { delay_ms: 700.0 }
        );
        assert_eq!(schedule.on_timer(1000.0), Refresh::Now);
        schedule.computed(1000.0);
        assert_eq!(schedule.on_timer(2000.0), Refresh::Wait);
    }

    #[test]
    fn a_lap_moves_a_pending_timer_earlier() {
        let mut schedule = ReportSchedule::new();
        schedule.on_state(false, 0.0);
        schedule.computed(0.0);
        assert_eq!(
            schedule.on_state(false, 100.0),
            Refresh::After { delay_ms: 900.0 }
        );
        assert_eq!(
            schedule.on_state(true, 150.0),
            Refresh::After { delay_ms: 50.0 }
        );
        assert_eq!(schedule.on_timer(200.0), Refresh::Now);
        schedule.computed(200.0);
        // The older timer finds nothing to do.
        assert_eq!(schedule.on_timer(1000.0), Refresh::Wait);
    }

    #[test]
    fn a_reset_or_a_clock_going_back_reports_at_once() {
        let mut schedule = ReportSchedule::new();
        schedule.on_state(false, 5000.0);
        schedule.computed(5000.0);
        assert_eq!(schedule.on_state(false, 100.0), Refresh::Now);
        let mut schedule = ReportSchedule::new();
        assert_eq!(schedule.on_state(false, 42.0), Refresh::Now);
    }
}
