//! One simulated lap of one car: when it started, and a piecewise-linear map from time to distance along it.
//!
//! The simulator decides a whole lap when the car crosses the line (TUMFTM's lap-by-lap model) and then samples
//! positions inside the lap from this map, so the 10 Hz stream and the lap-level race stay consistent: the race
//! does not depend on the sampling rate.

/// Most knots a lap needs: start, pit box arrival and departure, pit exit, two sector ends, pit entry, finish, plus
/// a knot for each later change of pace (a safety car, being pushed back in a fight).
const MAX_KNOTS: usize = 12;

/// What kind of lap this is for the pit lane.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LapKind {
    /// A racing lap.
    Normal,
    /// The car enters the pit lane at `entry_frac` and crosses the line in it.
    InLap {
        /// Distance fraction of the pit entry.
        entry_frac: f64,
    },
    /// The car starts the lap in the pit lane, stops in its box, and rejoins at `exit_frac`.
    OutLap {
        /// Distance fraction of the pit box.
        box_frac: f64,
        /// Distance fraction of the pit exit.
        exit_frac: f64,
    },
}

/// A lap: its start time and a monotone time→distance map.
///
/// Invariant: knot times and fractions are non-decreasing, the first knot is `(0, 0)` and the last is
/// `(duration, 1)`.
#[derive(Clone, Debug, PartialEq)]
pub struct LapPlan {
    /// Lap number, 1-based.
    pub lap: u32,
    /// Session time at which the lap started, in seconds.
    pub start_s: f64,
    /// Pit-lane role of the lap.
    pub kind: LapKind,
    sector_end_frac: [f64; 2],
    knots: [(f64, f64); MAX_KNOTS],
    n_knots: usize,
}

/// Builder input for a lap: the sector times of a clean lap and its pit-lane role.
#[derive(Clone, Copy, Debug)]
pub struct LapShape {
    /// Distance fractions at the ends of sectors 1 and 2.
    pub sector_end_frac: [f64; 2],
    /// Sector times before pit-lane losses, in seconds.
    pub sector_s: [f64; 3],
}

impl LapPlan {
    /// A lap starting at `start_s`.
    ///
    /// For an in-lap, `pit_loss_s` is added between the pit entry and the line; for an out-lap, `pit_loss_s` (the
    /// lane drive, on top of the clean time to the exit) and `standstill_s` are spent between the line and the exit.
    pub fn new(
        lap: u32,
        start_s: f64,
        shape: LapShape,
        kind: LapKind,
        pit_loss_s: f64,
        standstill_s: f64,
    ) -> Self {
        let [e1, e2] = shape.sector_end_frac;
        let [s1, s2, s3] = shape.sector_s;
        let mut plan = LapPlan {
            lap,
            start_s,
            kind,
            sector_end_frac: shape.sector_end_frac,
            knots: [(0.0, 0.0); MAX_KNOTS],
            n_knots: 1,
        };
        // Clean time to reach a fraction `f` of sector 1 or 3, used to place the pit knots.
        let time_in_s1 = |f: f64| s1 * f / e1;
        match kind {
            LapKind::Normal => {
                plan.push(s1, e1);
                plan.push(s1 + s2, e2);
                plan.push(s1 + s2 + s3, 1.0);
            }
            LapKind::InLap { entry_frac } => {
                let to_entry = s1 + s2 + s3 * (entry_frac - e2) / (1.0 - e2);
                let rest = s1 + s2 + s3 - to_entry;
                plan.push(s1, e1);
                plan.push(s1 + s2, e2);
                plan.push(to_entry, entry_frac);
                plan.push(to_entry + rest + pit_loss_s, 1.0);
            }
            LapKind::OutLap {
                box_frac,
                exit_frac,
            } => {
                let lane_drive = time_in_s1(exit_frac) + pit_loss_s;
                let to_box = lane_drive * box_frac / exit_frac;
                let lane_end = lane_drive + standstill_s;
                let s1_end = lane_end + s1 - time_in_s1(exit_frac);
                plan.push(to_box, box_frac);
                plan.push(to_box + standstill_s, box_frac);
                plan.push(lane_end, exit_frac);
                plan.push(s1_end, e1);
                plan.push(s1_end + s2, e2);
                plan.push(s1_end + s2 + s3, 1.0);
            }
        }
        plan
    }

    fn push(&mut self, t: f64, f: f64) {
        if self.n_knots < MAX_KNOTS {
            self.knots[self.n_knots] = (t, f);
            self.n_knots += 1;
        }
    }

    fn knots(&self) -> &[(f64, f64)] {
        &self.knots[..self.n_knots]
    }

    /// Duration of the lap, in seconds.
    pub fn duration_s(&self) -> f64 {
        self.knots()[self.n_knots - 1].0
    }

    /// Session time at which the lap ends, in seconds.
    pub fn end_s(&self) -> f64 {
        self.start_s + self.duration_s()
    }

    /// Sector times, in seconds (pit-lane time included in sector 1 of an out-lap and sector 3 of an in-lap).
    pub fn sector_s(&self) -> [f64; 3] {
        let [e1, e2] = self.sector_end_frac.map(|f| self.time_at_frac(f));
        [e1, e2 - e1, self.duration_s() - e2]
    }

    /// Fraction of the lap covered `t_s` seconds into the session (clamped to the lap).
    pub fn frac_at(&self, t_s: f64) -> f64 {
        let dt = t_s - self.start_s;
        let knots = self.knots();
        if dt <= 0.0 {
            return 0.0;
        }
        for w in knots.windows(2) {
            let ((t0, f0), (t1, f1)) = (w[0], w[1]);
            if dt <= t1 {
                if t1 <= t0 {
                    return f1;
                }
                return f0 + (f1 - f0) * (dt - t0) / (t1 - t0);
            }
        }
        knots[knots.len() - 1].1
    }

    /// Seconds after the lap start at which fraction `f` of the lap is reached.
    pub fn time_at_frac(&self, f: f64) -> f64 {
        let knots = self.knots();
        for w in knots.windows(2) {
            let ((t0, f0), (t1, f1)) = (w[0], w[1]);
            if f <= f1 && f1 > f0 {
                let f = f.max(f0);
                return t0 + (t1 - t0) * (f - f0) / (f1 - f0);
            }
        }
        self.duration_s()
    }

    /// Speed over the segment in which the car is at `t_s`, in metres per second (0 while stationary).
    pub fn segment_speed_mps(&self, t_s: f64, track_length_m: f64) -> f64 {
        let dt = t_s - self.start_s;
        for w in self.knots().windows(2) {
            let ((t0, f0), (t1, f1)) = (w[0], w[1]);
            if dt <= t1 {
                return if t1 > t0 {
                    (f1 - f0) * track_length_m / (t1 - t0)
                } else {
                    0.0
                };
            }
        }
        0.0
    }

    /// True while the car is stationary at `t_s` (in its pit box).
    pub fn is_stationary(&self, t_s: f64) -> bool {
        let dt = t_s - self.start_s;
        self.knots()
            .windows(2)
            .any(|w| w[0].1 == w[1].1 && dt >= w[0].0 && dt < w[1].0)
    }

    /// Stretches the part of the lap after `t_s` by `factor` (e.g. a safety car slows everyone from now on).
    pub fn stretch_after(&mut self, t_s: f64, factor: f64) {
        let dt = (t_s - self.start_s).max(0.0);
        self.split_at(dt);
        for knot in &mut self.knots[..self.n_knots] {
            if knot.0 > dt {
                knot.0 = dt + (knot.0 - dt) * factor;
            }
        }
    }

    /// Inserts a knot at `dt` seconds into the lap, so that changing the pace after it leaves the past unchanged.
    fn split_at(&mut self, dt: f64) {
        if dt <= 0.0 || dt >= self.duration_s() || self.n_knots >= MAX_KNOTS {
            return;
        }
        let Some(pos) = self.knots().iter().position(|k| k.0 >= dt) else {
            return;
        };
        if self.knots[pos].0 == dt {
            return;
        }
        let frac = self.frac_at(self.start_s + dt);
        self.knots.copy_within(pos..self.n_knots, pos + 1);
        self.knots[pos] = (dt, frac);
        self.n_knots += 1;
    }

    /// Moves the end of the lap to `end_s` by stretching the part after `now_s` (a car held up or pushed back).
    pub fn retime_end(&mut self, now_s: f64, end_s: f64) {
        let dt = (now_s - self.start_s).max(0.0);
        let remaining = self.duration_s() - dt;
        let wanted = end_s - self.start_s - dt;
        if remaining > 1e-9 && wanted > 0.0 {
            self.stretch_after(now_s, wanted / remaining);
        }
    }

    /// Ends the lap at fraction `frac` (the car stops there: a retirement); returns the new duration.
    pub fn truncate_at(&mut self, frac: f64) -> f64 {
        let dt = self.time_at_frac(frac);
        self.n_knots = 1 + self.knots()[1..].iter().take_while(|k| k.1 < frac).count();
        self.push(dt, frac);
        dt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: LapShape = LapShape {
        sector_end_frac: [0.31, 0.71],
        sector_s: [30.0, 40.0, 28.0],
    };

    #[test]
    fn normal_lap_maps_time_to_distance_both_ways() {
        let lap = LapPlan::new(3, 100.0, SHAPE, LapKind::Normal, 0.0, 0.0);
        assert_eq!(lap.duration_s(), 98.0);
        assert_eq!(lap.end_s(), 198.0);
        assert_eq!(lap.frac_at(130.0), 0.31);
        assert!((lap.time_at_frac(0.71) - 70.0).abs() < 1e-9);
        for (got, want) in lap.sector_s().into_iter().zip([30.0, 40.0, 28.0]) {
            assert!((got - want).abs() < 1e-9);
        }
        assert_eq!(lap.frac_at(50.0), 0.0);
        assert_eq!(lap.frac_at(500.0), 1.0);
    }

    #[test]
    fn out_lap_includes_the_stop_and_the_lane() {
        let lap = LapPlan::new(
            10,
            0.0,
            SHAPE,
            LapKind::OutLap {
                box_frac: 0.02,
                exit_frac: 0.045,
            },
            17.0,
            2.5,
        );
        assert!((lap.duration_s() - (98.0 + 17.0 + 2.5)).abs() < 1e-9);
        let box_t = lap.time_at_frac(0.02);
        assert!(lap.is_stationary(box_t + 1.0));
        assert!(!lap.is_stationary(box_t + 3.0));
        assert_eq!(lap.segment_speed_mps(box_t + 1.0, 5412.0), 0.0);
        assert!((lap.sector_s()[0] - (30.0 + 19.5)).abs() < 1e-9);
    }

    #[test]
    fn in_lap_adds_its_loss_after_the_entry() {
        let lap = LapPlan::new(
            9,
            0.0,
            SHAPE,
            LapKind::InLap { entry_frac: 0.975 },
            3.4,
            0.0,
        );
        assert!((lap.duration_s() - 101.4).abs() < 1e-9);
        assert!(lap.time_at_frac(0.975) < 98.0);
    }

    #[test]
    fn stretching_keeps_the_past_and_slows_the_rest() {
        let mut lap = LapPlan::new(1, 0.0, SHAPE, LapKind::Normal, 0.0, 0.0);
        let before = lap.frac_at(50.0);
        lap.stretch_after(50.0, 1.4);
        assert_eq!(lap.frac_at(50.0), before);
        assert!((lap.duration_s() - (50.0 + 48.0 * 1.4)).abs() < 1e-9);
        lap.retime_end(60.0, 200.0);
        assert!((lap.end_s() - 200.0).abs() < 1e-9);
    }

    #[test]
    fn truncation_stops_the_car_where_it_retires() {
        let mut lap = LapPlan::new(5, 0.0, SHAPE, LapKind::Normal, 0.0, 0.0);
        let dt = lap.truncate_at(0.5);
        assert!((lap.duration_s() - dt).abs() < 1e-9);
        assert_eq!(lap.frac_at(1e6), 0.5);
    }
}
