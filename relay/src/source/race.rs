//! A real race as a source (`serve --race-dir`): a folder of `shared/data/races` read from disk, imported with
//! `boxbox_engine::race::RealRace` and published state by state, paced by session time divided by the speed.
//!
//! The states are the engine's replay of the race (one per line crossing, pit entry, pit exit and retirement),
//! labelled `replay` and timing-only. They go through the [`Publisher`] like every other source's, so `rate_hz`
//! holds; at speeds above a few hundred a car's pit visit can fall between two published states. The last state
//! stays up when the race is over.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use boxbox_engine::race::{FILE_NAMES, RaceFiles, RealRace};
use tokio::sync::watch;
use tokio::time::Instant;

use super::{Connection, Publisher, SourceStats};

/// Reads the five files of a race folder and imports the race.
///
/// # Errors
/// If a file is missing or unreadable (the message names it), or the race does not import (file, line, column).
pub fn load(dir: &Path) -> anyhow::Result<RealRace> {
    if !dir.is_dir() {
        anyhow::bail!("no race folder at {}", dir.display());
    }
    let mut contents: [String; 5] = Default::default();
    for (text, name) in contents.iter_mut().zip(FILE_NAMES) {
        let path = dir.join(name);
        *text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {name} of the race folder {}", dir.display()))?;
    }
    let [laps, race, results, pit_stops, grid] = &contents;
    RealRace::parse(&RaceFiles::from_array([
        laps, race, results, pit_stops, grid,
    ]))
    .with_context(|| format!("cannot import the race in {}", dir.display()))
}

/// Plays `race` into the relay at `speed` race seconds per real second, then holds the final state.
pub async fn serve(
    race: RealRace,
    speed: f64,
    mut publisher: Publisher,
    stats: Arc<SourceStats>,
    mut stop: watch::Receiver<bool>,
) {
    let states = match tokio::task::spawn_blocking(move || race.states()).await {
        Ok(states) => states,
        Err(e) => {
            stats.error("race", e.to_string());
            stats.set_connection(Connection::Failed);
            return;
        }
    };
    stats.set_connection(Connection::Connected);
    tracing::info!(states = states.len(), speed, "playing a real race");
    let started = Instant::now();
    let t0 = states.first().map_or(0.0, |s| s.session_time_s);
    let mut held = None;
    for state in states {
        let due = started + Duration::from_secs_f64((state.session_time_s - t0).max(0.0) / speed);
        // A state held back by the rate limit goes out once allowed, unless a newer one is due first.
        if let Some(at) = publisher.held_until().filter(|&at| at < due)
            && let Some(pending) = held.take()
        {
            tokio::select! {
                () = tokio::time::sleep_until(at) => publisher.publish_now(pending),
                _ = stop.changed() => return,
            }
        }
        tokio::select! {
            () = tokio::time::sleep_until(due) => {}
            _ = stop.changed() => return,
        }
        stats.count(Ok("race_event"), 0);
        if publisher.due() {
            publisher.publish_now(state);
            held = None;
        } else {
            publisher.hold();
            held = Some(state);
        }
    }
    if let Some(last) = held {
        publisher.publish_now(last);
    }
    stats.set_connection(Connection::Finished);
    tracing::info!("the real race is over");
}
