//! The built-in simulator as a real-time source: advances the engine's race by `speed / rate_hz` simulated seconds
//! per tick and publishes each state to the hub (labelled `simulator`).
//!
//! Simulated time is counted in ticks, not read from the clock: if the machine stalls, the race slows down rather
//! than jumping, and the race itself never depends on timing (the engine's race is independent of sampling).
//!
//! The same independence makes a restart seamless: when the hub holds a restored session of the same seed and
//! distance, the race is advanced to the restored session time and goes on from there.

use std::time::Duration;

use boxbox_engine::sim::{RaceSim, SimConfig};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::hub::Hub;

/// How the simulator runs.
#[derive(Clone, Copy, Debug)]
pub struct SimSettings {
    /// Seed of the first race.
    pub seed: u64,
    /// Simulated seconds per real second.
    pub speed: f64,
    /// Race distance in laps.
    pub laps: u32,
    /// States published per real second.
    pub rate_hz: f64,
    /// Start the next race (next seed) this long after the flag; `None` keeps the final classification up.
    pub restart_after_s: Option<f64>,
}

/// The hub's name for a simulated race: the same seed and distance are the same race.
pub fn session_key(seed: u64, laps: u32) -> String {
    format!("simulator seed {seed} laps {laps}")
}

/// Runs simulated races until `stop` turns true.
pub async fn run(hub: Hub, settings: SimSettings, mut stop: watch::Receiver<bool>) {
    let mut seed = settings.seed;
    let dt_s = settings.speed / settings.rate_hz;
    loop {
        let mut sim = RaceSim::new(&SimConfig {
            seed,
            total_laps: settings.laps,
        });
        let mut t = 0.0;
        match hub.begin_session(Some(session_key(seed, settings.laps))) {
            Some(resume_s) => {
                t = resume_s;
                sim.advance_to(t);
                tracing::info!(
                    seed,
                    laps = settings.laps,
                    session_time_s = t,
                    "simulated race resumed"
                );
            }
            None => {
                hub.publish(sim.state());
                tracing::info!(seed, laps = settings.laps, "simulated race started");
            }
        }
        let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / settings.rate_hz));
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        while !sim.is_finished() {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stop.changed() => return,
            }
            t += dt_s;
            sim.advance_to(t);
            hub.publish(sim.state());
        }
        tracing::info!(seed, "simulated race finished");
        let Some(wait_s) = settings.restart_after_s else {
            let _ = stop.changed().await;
            return;
        };
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs_f64(wait_s.max(0.0))) => {}
            _ = stop.changed() => return,
        }
        seed = seed.wrapping_add(1);
    }
}
