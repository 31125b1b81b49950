//! The timing tower's sector times: each car's last lap in three sectors, each marked the F1 way, purple for the
//! session's fastest of anyone so far, green for the driver's personal best, plain otherwise.
//!
//! Times are compared in whole milliseconds, as timing screens show them, so two cars on the same displayed time
//! tie: both are purple (the record is held jointly; the state does not say who set it first).

use boxbox_engine::wire::CarState;

use super::lap_time;

/// How a sector time compares with the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectorMark {
    /// Slower than the driver's best, or unknown.
    Plain,
    /// The driver's best this session (and not the session's best).
    PersonalBest,
    /// The session's fastest of anyone so far (ties included).
    OverallBest,
}

impl SectorMark {
    /// The CSS class that colours the cell (empty for plain).
    pub fn class(self) -> &'static str {
        match self {
            SectorMark::Plain => "",
            SectorMark::PersonalBest => "sector-pb",
            SectorMark::OverallBest => "sector-ob",
        }
    }

    /// What the colour means, for the cell's title and accessible name (empty for plain).
    pub fn label(self) -> &'static str {
        match self {
            SectorMark::Plain => "",
            SectorMark::PersonalBest => "personal best",
            SectorMark::OverallBest => "overall best",
        }
    }
}

/// One sector cell of a tower row.
#[derive(Clone, Debug, PartialEq)]
pub struct SectorCell {
    /// The time, `28.123`, or `—` when unknown.
    pub time: String,
    /// How it compares.
    pub mark: SectorMark,
}

/// The session's best time of each sector so far over every car, in milliseconds (`None` while nobody has one).
///
/// A car's last sector counts as well as its recorded best, so a source whose bests lag a state behind still
/// gets its purple.
pub fn session_bests_ms(cars: &[CarState]) -> [Option<u64>; 3] {
    std::array::from_fn(|k| {
        cars.iter()
            .flat_map(|c| [c.best_sectors_s[k], c.last_sectors_s[k]])
            .filter_map(millis)
            .min()
    })
}

/// The three cells of a car's last lap, marked against the session's bests ([`session_bests_ms`]).
///
/// A missing sector is plain `—`. A sector the driver has no best for yet is their best (their first time).
pub fn sector_cells(car: &CarState, session_bests_ms: &[Option<u64>; 3]) -> [SectorCell; 3] {
    std::array::from_fn(|k| {
        let last = car.last_sectors_s[k];
        let mark = match millis(last) {
            None => SectorMark::Plain,
            Some(ms) if session_bests_ms[k].is_none_or(|best| ms <= best) => {
                SectorMark::OverallBest
            }
            Some(ms) if millis(car.best_sectors_s[k]).is_none_or(|best| ms <= best) => {
                SectorMark::PersonalBest
            }
            Some(_) => SectorMark::Plain,
        };
        SectorCell {
            time: lap_time(last),
            mark,
        }
    })
}

/// A time in whole milliseconds; `None` when unknown, not finite or not positive.
fn millis(s: Option<f64>) -> Option<u64> {
    s.filter(|s| s.is_finite() && *s > 0.0)
        .map(|s| (s * 1000.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use boxbox_engine::sim::{RaceSim, SimConfig};
    use boxbox_engine::wire::{DriverStatus, RaceState};

    /// A simulated field after a few laps, with every car's sectors cleared: each test writes the ones it needs.
    fn field() -> RaceState {
        let mut sim = RaceSim::new(&SimConfig {
            seed: 7,
            total_laps: 5,
        });
        sim.advance_to(200.0);
        let mut state = sim.state();
        for car in &mut state.cars {
            car.last_sectors_s = [None; 3];
            car.best_sectors_s = [None; 3];
        }
        state
    }

    fn set(state: &mut RaceState, i: usize, last: [Option<f64>; 3], best: [Option<f64>; 3]) {
        state.cars[i].last_sectors_s = last;
        state.cars[i].best_sectors_s = best;
    }

    fn marks(state: &RaceState, i: usize) -> [SectorMark; 3] {
        let bests = session_bests_ms(&state.cars);
        sector_cells(&state.cars[i], &bests).map(|c| c.mark)
    }

    use SectorMark::{OverallBest as Ob, PersonalBest as Pb, Plain};

    #[test]
    fn fastest_of_anyone_is_purple_own_best_green_slower_plain() {
        let mut s = field();
        set(
            &mut s,
            0,
            [Some(28.1), Some(40.5), Some(30.9)],
            [Some(28.1), Some(40.2), Some(30.9)],
        );
        set(
            &mut s,
            1,
            [Some(28.3), Some(40.1), Some(31.4)],
            [Some(28.3), Some(40.1), Some(31.0)],
        );
        assert_eq!(marks(&s, 0), [Ob, Plain, Ob]);
        assert_eq!(marks(&s, 1), [Pb, Ob, Plain]);
        let cells = sector_cells(&s.cars[0], &session_bests_ms(&s.cars));
        assert_eq!(cells[0].time, "28.100");
        assert_eq!(cells[0].mark.class(), "sector-ob");
        assert_eq!(cells[0].mark.label(), "overall best");
        assert_eq!(cells[1].mark.class(), "");
        assert_eq!(Pb.class(), "sector-pb");
        assert_eq!(Pb.label(), "personal best");
    }

    #[test]
    fn a_tie_on_the_displayed_millisecond_is_purple_for_both() {
        let mut s = field();
        // 28.1004 and 28.0996 both read 28.100.
        set(
            &mut s,
            0,
            [Some(28.1004), None, None],
            [Some(28.1004), None, None],
        );
        set(
            &mut s,
            1,
            [Some(28.0996), None, None],
            [Some(28.0996), None, None],
        );
        set(
            &mut s,
            2,
            [Some(28.102), None, None],
            [Some(28.102), None, None],
        );
        assert_eq!(marks(&s, 0)[0], Ob);
        assert_eq!(marks(&s, 1)[0], Ob);
        assert_eq!(
            marks(&s, 2)[0],
            Pb,
            "a millisecond slower is only a personal best"
        );
    }

    #[test]
    fn missing_sectors_are_plain_dashes_and_do_not_count() {
        let mut s = field();
        // A source that gives no sector 3 (the normalizer without both earlier splits), and a NaN.
        set(
            &mut s,
            0,
            [Some(29.0), Some(f64::NAN), None],
            [Some(29.0), None, None],
        );
        set(&mut s, 1, [None; 3], [None; 3]);
        let bests = session_bests_ms(&s.cars);
        assert_eq!(bests, [Some(29_000), None, None]);
        let cells = sector_cells(&s.cars[0], &bests);
        assert_eq!(cells.clone().map(|c| c.mark), [Ob, Plain, Plain]);
        assert_eq!(cells[1].time, "—");
        assert_eq!(cells[2].time, "—");
        assert_eq!(marks(&s, 1), [Plain; 3]);
        // Nobody has a time yet: nothing to colour.
        let empty = field();
        assert_eq!(session_bests_ms(&empty.cars), [None; 3]);
        assert_eq!(marks(&empty, 3), [Plain; 3]);
    }

    #[test]
    fn a_car_whose_best_improves_goes_green_then_plain_then_purple() {
        let mut s = field();
        set(
            &mut s,
            1,
            [Some(27.9), Some(40.0), Some(30.0)],
            [Some(27.9), Some(40.0), Some(30.0)],
        );
        // Its first lap: every sector is its best; the other car holds the session's.
        set(
            &mut s,
            0,
            [Some(28.4), Some(40.6), Some(30.5)],
            [Some(28.4), Some(40.6), Some(30.5)],
        );
        assert_eq!(marks(&s, 0), [Pb, Pb, Pb]);
        // Next lap: slower in S1, better in S2, equal in S3 (equal to one's own best is still a best).
        set(
            &mut s,
            0,
            [Some(28.6), Some(40.3), Some(30.5)],
            [Some(28.4), Some(40.3), Some(30.5)],
        );
        assert_eq!(marks(&s, 0), [Plain, Pb, Pb]);
        // Then faster than anyone in S1.
        set(
            &mut s,
            0,
            [Some(27.8), Some(40.4), Some(30.6)],
            [Some(27.8), Some(40.3), Some(30.5)],
        );
        assert_eq!(marks(&s, 0), [Ob, Plain, Plain]);
        assert_eq!(
            marks(&s, 1)[0],
            Pb,
            "the old record is beaten: no longer purple, still the driver's best"
        );
        assert_eq!(marks(&s, 1)[1], Ob);
    }

    #[test]
    fn bests_lagging_a_state_behind_still_colour_the_new_time() {
        let mut s = field();
        set(
            &mut s,
            0,
            [Some(28.0), None, None],
            [Some(28.5), None, None],
        );
        set(
            &mut s,
            1,
            [Some(28.2), None, None],
            [Some(28.2), None, None],
        );
        assert_eq!(marks(&s, 0)[0], Ob);
        assert_eq!(marks(&s, 1)[0], Pb);
    }

    #[test]
    fn an_in_and_out_lap_is_plain() {
        let mut s = field();
        set(
            &mut s,
            0,
            [Some(28.0), Some(40.0), Some(30.0)],
            [Some(28.0), Some(40.0), Some(30.0)],
        );
        // The last lap was the in-lap (pit entry in sector 3) and the car is now on its out-lap: the old bests stand.
        set(
            &mut s,
            1,
            [Some(28.3), Some(40.2), Some(48.7)],
            [Some(28.1), Some(40.1), Some(30.2)],
        );
        s.cars[1].driver_status = DriverStatus::OutLap;
        assert_eq!(marks(&s, 1), [Plain; 3]);
        // A car with no completed lap yet (still on lap 1) shows dashes.
        set(&mut s, 2, [None; 3], [None; 3]);
        let cells = sector_cells(&s.cars[2], &session_bests_ms(&s.cars));
        assert!(cells.iter().all(|c| c.time == "—" && c.mark == Plain));
    }
}
