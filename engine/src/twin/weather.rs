//! The weather calls: the crossover between wet and dry tyres as the field's own laps show it, and the rain the
//! game's forecast announces.
//!
//! A crossover is read the way a pit wall reads it: a car changes from intermediates or wets to slicks (or back) and
//! its laps on the new tyres are faster than its last ones on the old, by more than the track itself changed for the
//! cars that stayed out on the old tyres over the same laps. Comparing each car with itself takes its own pace out;
//! comparing with the cars that stayed takes out the track drying or getting wetter.

use serde::{Deserialize, Serialize};

use crate::sorting::sort_by;
use crate::twin::fingerprint::plausible_s;
use crate::twin::pace::median;
use crate::wire::{
    CarState, Compound, Forecast, LapRecord, PitStatus, RaceState, ResultStatus, SessionInfo,
    TrackStatus, Weather,
};

/// Gain per lap, in seconds, from which the laps call a crossover: more than a lap's noise and a fresh set's edge.
pub const CROSSOVER_GAIN_S: f64 = 1.0;

/// Laps within which a car's last lap on the old tyres and its lap on the new ones are compared.
const MAX_SPAN_LAPS: u32 = 5;

/// A change of tyres older than this many laps says nothing of the track now.
const STALE_LAPS: u32 = 10;

/// Minutes of forecast a rain call looks ahead.
pub const FORECAST_AHEAD_MIN: u32 = 15;

/// Chance of rain from which the forecast's rain is called.
pub const RAIN_CALL_PCT: u8 = 50;

/// Which tyres a crossover favours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TyreClass {
    /// Slicks: soft, medium, hard.
    Dry,
    /// Intermediates and full wets.
    Wet,
}

impl TyreClass {
    /// The class of a compound.
    pub fn of(compound: Compound) -> Self {
        if compound.is_dry() {
            TyreClass::Dry
        } else {
            TyreClass::Wet
        }
    }

    /// How a radio line names the class.
    pub fn words(self) -> &'static str {
        match self {
            TyreClass::Dry => "slicks",
            TyreClass::Wet => "inters",
        }
    }
}

/// The laps say the other tyres are now faster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Crossover {
    /// The tyres that are now faster.
    pub to: TyreClass,
    /// How much faster a lap, in seconds (the median over the cars that changed): each car's gain on its own last
    /// lap on the old tyres, less the median change of the cars that stayed on them over the same laps.
    pub gain_s: f64,
    /// The cars that changed and showed it, largest gain first.
    pub cars: Vec<u8>,
    /// The compound the first of them runs: what to fit.
    pub compound: Compound,
    /// The lap of the newest evidence.
    pub lap: u32,
}

/// One car's change of tyre class: its last clean lap before, its first clean lap after.
#[derive(Clone, Copy, Debug)]
struct Change {
    car_idx: u8,
    to: TyreClass,
    compound: Compound,
    before: (u32, f64),
    after: (u32, f64),
}

/// A lap fit to compare: after the start, under green, out of the pit lane, a plausible time.
fn clean(r: &LapRecord) -> bool {
    r.lap > 1 && r.track_status == TrackStatus::Green && !r.pit_lane && plausible_s(r.lap_time_s)
}

/// The crossover the laps show now, if any.
pub fn crossover(records: &[LapRecord]) -> Option<Crossover> {
    let newest = records.iter().map(|r| r.lap).max()?;
    // A dry (or a wet) race all along: nothing changed class.
    let first = TyreClass::of(records.first()?.compound);
    if records.iter().all(|r| TyreClass::of(r.compound) == first) {
        return None;
    }
    let mut cars: Vec<u8> = records.iter().map(|r| r.car_idx).collect();
    sort_by(&mut cars, Ord::cmp);
    cars.dedup();
    let clean_laps = |car: u8| {
        let mut own: Vec<&LapRecord> = records
            .iter()
            .filter(|r| r.car_idx == car && clean(r))
            .collect();
        sort_by(&mut own, |a, b| a.lap.cmp(&b.lap));
        own
    };
    let changes: Vec<Change> =
        cars.iter()
            .filter_map(|&car| {
                let own = clean_laps(car);
                // The car's tyres now, and the last lap it ran on the others.
                let compound = records
                    .iter()
                    .filter(|r| r.car_idx == car)
                    .max_by_key(|r| r.lap)?
                    .compound;
                let to = TyreClass::of(compound);
                let i = own.iter().rposition(|r| TyreClass::of(r.compound) != to)?;
                let (before, after) = (own[i], own.get(i + 1)?);
                (after.lap - before.lap <= MAX_SPAN_LAPS && after.lap + STALE_LAPS >= newest)
                    .then_some(Change {
                        car_idx: car,
                        to,
                        compound,
                        before: (before.lap, before.lap_time_s),
                        after: (after.lap, after.lap_time_s),
                    })
            })
            .collect();
    let time_of = |car: u8, lap: u32, class: TyreClass| {
        records
            .iter()
            .find(|r| {
                r.car_idx == car && r.lap == lap && clean(r) && TyreClass::of(r.compound) == class
            })
            .map(|r| r.lap_time_s)
    };
    [TyreClass::Dry, TyreClass::Wet]
        .into_iter()
        .filter_map(|to| {
            let mut gains: Vec<(u8, f64, u32, Compound)> = changes
                .iter()
                .filter(|c| c.to == to)
                .filter_map(|c| {
                    let old = if to == TyreClass::Dry {
                        TyreClass::Wet
                    } else {
                        TyreClass::Dry
                    };
                    // The track's own change over the same laps, for the cars still on the old tyres then.
                    let mut drift: Vec<f64> = cars
                        .iter()
                        .filter(|&&other| other != c.car_idx)
                        .filter_map(|&other| {
                            let t0 = time_of(other, c.before.0, old)?;
                            let t1 = time_of(other, c.after.0, old)?;
                            Some(t0 - t1)
                        })
                        .collect();
                    let drift = median(&mut drift)?;
                    Some((
                        c.car_idx,
                        c.before.1 - c.after.1 - drift,
                        c.after.0,
                        c.compound,
                    ))
                })
                .collect();
            let gain = median(&mut gains.iter().map(|g| g.1).collect::<Vec<f64>>())?;
            if gain < CROSSOVER_GAIN_S {
                return None;
            }
            sort_by(&mut gains, |a, b| b.1.total_cmp(&a.1));
            Some(Crossover {
                to,
                gain_s: gain,
                compound: gains.first().map(|g| g.3)?,
                lap: gains.iter().map(|g| g.2).max().unwrap_or(newest),
                cars: gains.iter().map(|g| g.0).collect(),
            })
        })
        .max_by_key(|c| c.lap)
}

/// Whether the crossover `c` calls `car` in: the car runs the other tyres, is racing and on track, and the gain over
/// the laps it has left pays for a stop.
pub fn calls(c: &Crossover, state: &RaceState, car: &CarState) -> bool {
    c.to != TyreClass::of(car.tyres.compound)
        && car.pit_status == PitStatus::None
        && car.result_status == ResultStatus::Active
        && c.gain_s * crate::twin::car::laps_remaining(state, car)
            > crate::twin::pit::pit_loss_now(state)
}

/// Whether a weather brings rain.
pub fn is_rain(weather: Weather) -> bool {
    matches!(
        weather,
        Weather::LightRain | Weather::HeavyRain | Weather::Storm
    )
}

/// The first rain the forecast gives within [`FORECAST_AHEAD_MIN`] minutes with at least [`RAIN_CALL_PCT`] %
/// chance, when it is not raining now.
pub fn rain_ahead(session: &SessionInfo) -> Option<&Forecast> {
    if is_rain(session.weather) {
        return None;
    }
    session.forecast.iter().find(|f| {
        f.in_min <= FORECAST_AHEAD_MIN && is_rain(f.weather) && f.rain_pct >= RAIN_CALL_PCT
    })
}

/// The forecast says dry for the next [`FORECAST_AHEAD_MIN`] minutes (no rain, and less than [`RAIN_CALL_PCT`] %
/// chance of it), it is dry now, and the forecast is known.
pub fn dry_ahead(session: &SessionInfo) -> bool {
    let ahead: Vec<&Forecast> = session
        .forecast
        .iter()
        .filter(|f| f.in_min <= FORECAST_AHEAD_MIN)
        .collect();
    !is_rain(session.weather)
        && !ahead.is_empty()
        && ahead
            .iter()
            .all(|f| !is_rain(f.weather) && f.rain_pct < RAIN_CALL_PCT)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wire::Corners;

    fn lap(
        car: u8,
        position: u8,
        lap: u32,
        compound: Compound,
        t: f64,
        pit_lane: bool,
    ) -> LapRecord {
        LapRecord {
            car_idx: car,
            lap,
            lap_time_s: t,
            position,
            compound,
            tyre_age_laps: lap,
            wear_pct: Corners::from_array([0.0; 4]),
            fuel_kg: 50.0,
            track_status: TrackStatus::Green,
            pit_lane,
            sectors_s: [None; 3],
            ers_store_pct: 50.0,
            gap_to_leader_s: None,
        }
    }

    /// Three cars on inters over a drying track (each lap 0.5 s faster), car `k` `k` s off the pace; car 0 stops
    /// for slicks at the end of `stop_lap` and laps `slick_edge` s faster than the inters from the lap after.
    fn drying(laps: u32, stop_lap: u32, slick_edge: f64) -> Vec<LapRecord> {
        drying_for(&[0, 1, 2], laps, stop_lap, slick_edge)
    }

    /// [`drying`] for the cars `ids`, in running order (the first stops for mediums).
    pub(crate) fn drying_for(
        ids: &[u8],
        laps: u32,
        stop_lap: u32,
        slick_edge: f64,
    ) -> Vec<LapRecord> {
        let mut records = Vec::new();
        for l in 1..=laps {
            for (k, &car) in (0u8..).zip(ids) {
                let inters = 100.0 + f64::from(k) - 0.5 * f64::from(l);
                let on_slicks = k == 0 && l > stop_lap;
                let compound = if on_slicks {
                    Compound::Medium
                } else {
                    Compound::Intermediate
                };
                let t = if on_slicks {
                    inters - slick_edge
                } else {
                    inters
                };
                let pit_lane = k == 0 && (l == stop_lap || l == stop_lap + 1);
                records.push(lap(
                    car,
                    k + 1,
                    l,
                    compound,
                    t + if pit_lane { 20.0 } else { 0.0 },
                    pit_lane,
                ));
            }
        }
        records
    }

    #[test]
    fn slicks_faster_than_the_drying_track_explains_is_a_crossover() {
        let c = crossover(&drying(12, 8, 2.5)).expect("a crossover");
        assert_eq!(
            (c.to, c.cars.as_slice(), c.lap),
            (TyreClass::Dry, &[0u8][..], 10)
        );
        // Lap 7 on inters against lap 10 on slicks: 2.5 s of edge plus 1.5 s of drying, less the drying.
        assert!((c.gain_s - 2.5).abs() < 1e-9, "{}", c.gain_s);
    }

    #[test]
    fn the_drying_alone_or_a_small_edge_is_no_crossover() {
        // The car on slicks is faster than its inters laps only by what the track gave everybody.
        assert_eq!(crossover(&drying(12, 8, 0.0)), None);
        assert_eq!(crossover(&drying(12, 8, CROSSOVER_GAIN_S - 0.1)), None);
        // No change of tyres: nothing to read.
        assert_eq!(crossover(&drying(12, 99, 0.0)), None);
        // A change long ago is old news.
        assert!(crossover(&drying(15, 3, 2.5)).is_some());
        assert_eq!(crossover(&drying(16, 3, 2.5)), None);
    }

    #[test]
    fn back_to_inters_when_the_rain_comes() {
        // The mirror: cars on slicks, the track getting wetter (1 s a lap slower), car 2 on inters from lap 9.
        let mut records = Vec::new();
        for l in 1..=12u32 {
            for car in 0..3u8 {
                let slicks = 90.0 + f64::from(car) + f64::from(l);
                let wet = car == 2 && l > 8;
                let pit_lane = car == 2 && (l == 8 || l == 9);
                let compound = if wet {
                    Compound::Intermediate
                } else {
                    Compound::Soft
                };
                let t = if wet { slicks - 4.0 } else { slicks } + if pit_lane { 20.0 } else { 0.0 };
                records.push(lap(car, car + 1, l, compound, t, pit_lane));
            }
        }
        let c = crossover(&records).expect("a crossover");
        assert_eq!((c.to, c.cars.as_slice()), (TyreClass::Wet, &[2u8][..]));
        assert!((c.gain_s - 4.0).abs() < 1e-9, "{}", c.gain_s);
    }

    #[test]
    fn the_forecast_calls_rain_ahead_and_a_dry_spell() {
        let forecast = |w: Weather, pct: u8, in_min: u32| Forecast {
            in_min,
            weather: w,
            rain_pct: pct,
        };
        let mut session = crate::sim::RaceSim::new(&crate::sim::SimConfig::sakhir_2019(1))
            .state()
            .session;
        session.weather = Weather::Overcast;
        assert!(
            rain_ahead(&session).is_none() && !dry_ahead(&session),
            "no forecast: no call"
        );
        session.forecast = vec![
            forecast(Weather::Overcast, 10, 0),
            forecast(Weather::Overcast, 30, 5),
            forecast(Weather::LightRain, 70, 10),
        ];
        assert_eq!(rain_ahead(&session).map(|f| f.in_min), Some(10));
        assert!(!dry_ahead(&session));
        session.forecast[2] = forecast(Weather::Overcast, 40, 10);
        assert!(rain_ahead(&session).is_none() && dry_ahead(&session));
        // Raining now: no rain ahead to call, and not dry.
        session.weather = Weather::LightRain;
        assert!(rain_ahead(&session).is_none() && !dry_ahead(&session));
    }
}
