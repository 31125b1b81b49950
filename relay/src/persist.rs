//! The relay's state on disk: what the pit wall knew at the last save, so a restarted relay (after a crash, a
//! reboot or an update) serves the race at once instead of an empty tower.
//!
//! Every `--persist-interval-s` the persister writes one [`Saved`] document (the latest state with its telemetry
//! and environment, the lap history, the twins' report, the source and the strategy status) into the state
//! directory, and once more at shutdown after the source has stopped. Two generations are kept, `state-1.json`
//! and `state-2.json`: each write replaces the older one, so a write that fails half-way still leaves the newer
//! one intact.
//!
//! **Invariant:** a `state-*.json` file is never torn. A write goes to [`TEMP_FILE`] in the same directory, is
//! fsynced, renamed over the older generation (atomic within one filesystem) and the directory is fsynced so the
//! rename itself survives a power cut. A crash leaves at most a torn [`TEMP_FILE`], which the next start removes.
//!
//! A file is the JSON object `{"checksum":"crc32:XXXXXXXX","body":{...}}` with the checksum over the body's exact
//! bytes, so `jq .body.state` reads it and a file that was damaged after the fact (a disk, a hand edit) is refused
//! rather than half-believed. [`load`] picks the newest generation that checks out and says why it skipped any
//! other; it never panics on a bad file.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use boxbox_engine::twin::TwinReport;
use boxbox_engine::twin::session::StrategyStatus;
use boxbox_engine::wire::{LapRecord, RaceState};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use crate::hub::Hub;
use crate::source::{SourceConfig, Sources};

/// Version of the [`Saved`] document; a file of another version is refused (and left in place).
pub const SCHEMA_VERSION: u32 = 1;

/// The two generations, written alternately.
pub const STATE_FILES: [&str; 2] = ["state-1.json", "state-2.json"];

/// Where a generation is written before it is renamed into place. A crash can leave it torn; nothing reads it.
pub const TEMP_FILE: &str = ".state.tmp";

/// Held locked (an advisory `flock`) by the relay that owns the state directory: two relays writing the same
/// [`TEMP_FILE`] could rename each other's half-written file into place.
pub const LOCK_FILE: &str = "lock";

/// The start of every state file up to the checksum's hex digits.
const PREFIX_HEAD: &str = "{\"checksum\":\"crc32:";
/// Between the checksum and the body.
const PREFIX_TAIL: &str = "\",\"body\":";
/// After the body.
const SUFFIX: &str = "}\n";

/// One save: everything the relay recovers from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    /// Always [`SCHEMA_VERSION`] when written by this build.
    pub schema_version: u32,
    /// Wall-clock time of the save, in milliseconds since the Unix epoch.
    pub saved_at_unix_ms: u64,
    /// Saves by this state directory so far, across restarts: the newest generation has the highest.
    pub sequence: u64,
    /// Which session the state belongs to.
    pub session: SavedSession,
    /// The latest state: telemetry, positions, tyres, fuel, the environment (weather, temperatures, track status).
    pub state: RaceState,
    /// The session's lap history, in completion order.
    pub history: Vec<LapRecord>,
    /// The Car Twin, Field Twin and alerts at the save, when they could be computed.
    pub twins: Option<TwinReport>,
    /// The twins' strategy status at the save.
    pub strategy: StrategyStatus,
    /// The source at the save.
    pub source: SavedSource,
    /// The strategy locks, by car (absent in files of older builds: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locks: Vec<crate::locks::StrategyLock>,
}

/// Which session a [`Saved`] state belongs to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedSession {
    /// What the source calls the session (a simulated race's seed and laps, a game's session uid); a restarted
    /// source that names the same session continues it. `None` for sources that cannot tell.
    pub key: Option<String>,
}

/// The source at a save.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedSource {
    /// `simulator`, `udp`, `replay`, `race`, `ws_feed` or `ingest`.
    pub mode: String,
    /// Whether what was published was simulated.
    pub simulated: bool,
    /// The configuration in force.
    pub config: SourceConfig,
    /// Messages received by the source so far.
    pub received: u64,
}

/// Why a state file was not used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read it: {0}")]
    Io(#[from] io::Error),
    /// The file does not have the state file's framing: it was cut short or is not a state file.
    #[error("torn or not a state file ({0})")]
    Framing(&'static str),
    /// The body does not match its checksum.
    #[error("checksum mismatch: the file says {expected:08x}, the body has {actual:08x}")]
    Checksum {
        /// The checksum in the file.
        expected: u32,
        /// The checksum of the body as read.
        actual: u32,
    },
    /// The body checks out but is a document of another version.
    #[error("schema version {0} is not known to this build (it reads {SCHEMA_VERSION})")]
    UnknownVersion(u64),
    /// The body checks out but does not parse as a state.
    #[error("invalid state: {0}")]
    Invalid(serde_json::Error),
}

/// What [`load`] found in a state directory.
#[derive(Debug, Default)]
pub struct Recovery {
    /// The newest valid generation and its file, if any.
    pub loaded: Option<(Saved, PathBuf)>,
    /// Every generation that exists but was not usable, with the reason (oldest reason first).
    pub rejected: Vec<(PathBuf, LoadError)>,
    /// Whether a temporary file from an interrupted write was found (and removed by [`Persister::open`]).
    pub torn_temp: bool,
}

/// Counters of the persister, for logs and a future metrics endpoint.
#[derive(Debug, Default)]
pub struct PersistStats {
    writes: AtomicU64,
    failures: AtomicU64,
    last_duration_us: AtomicU64,
    max_duration_us: AtomicU64,
    total_duration_us: AtomicU64,
    last_bytes: AtomicU64,
}

/// A copy of [`PersistStats`] at one instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PersistFigures {
    /// Successful saves.
    pub writes: u64,
    /// Failed saves (each logged).
    pub failures: u64,
    /// Duration of the last save (serialize, write, fsync, rename, directory fsync), in milliseconds.
    pub last_duration_ms: f64,
    /// The longest save so far, in milliseconds.
    pub max_duration_ms: f64,
    /// The mean save, in milliseconds.
    pub mean_duration_ms: f64,
    /// Size of the last file written, in bytes.
    pub last_bytes: u64,
}

impl PersistStats {
    fn record(&self, took: Duration, bytes: u64) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.last_duration_us.store(us, Ordering::Relaxed);
        self.max_duration_us.fetch_max(us, Ordering::Relaxed);
        self.total_duration_us.fetch_add(us, Ordering::Relaxed);
        self.last_bytes.store(bytes, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn figures(&self) -> PersistFigures {
        let writes = self.writes.load(Ordering::Relaxed);
        let ms = |us: u64| us as f64 / 1000.0;
        PersistFigures {
            writes,
            failures: self.failures.load(Ordering::Relaxed),
            last_duration_ms: ms(self.last_duration_us.load(Ordering::Relaxed)),
            max_duration_ms: ms(self.max_duration_us.load(Ordering::Relaxed)),
            mean_duration_ms: if writes == 0 {
                0.0
            } else {
                ms(self.total_duration_us.load(Ordering::Relaxed)) / writes as f64
            },
            last_bytes: self.last_bytes.load(Ordering::Relaxed),
        }
    }
}

/// Encodes `saved` as a state file's bytes: the framing, the checksum and the body.
///
/// # Errors
/// If the state cannot be serialized (a non-finite number would be written as `null` and not read back, so it
/// is refused here by `serde_json`'s own rules).
pub fn encode(saved: &Saved) -> anyhow::Result<Vec<u8>> {
    let body = serde_json::to_vec(saved).context("cannot serialize the state")?;
    let checksum = crc32fast::hash(&body);
    let mut bytes = Vec::with_capacity(body.len() + 64);
    bytes.extend_from_slice(PREFIX_HEAD.as_bytes());
    bytes.extend_from_slice(format!("{checksum:08x}").as_bytes());
    bytes.extend_from_slice(PREFIX_TAIL.as_bytes());
    bytes.extend_from_slice(&body);
    bytes.extend_from_slice(SUFFIX.as_bytes());
    Ok(bytes)
}

/// Decodes a state file's bytes, checking the framing, the checksum and the schema version.
///
/// # Errors
/// A [`LoadError`] saying what is wrong; never panics, whatever the bytes.
pub fn decode(bytes: &[u8]) -> Result<Saved, LoadError> {
    let head = PREFIX_HEAD.as_bytes();
    let digits_end = head.len() + 8;
    let body_start = digits_end + PREFIX_TAIL.len();
    if bytes.len() < body_start + SUFFIX.len() || !bytes.starts_with(head) {
        return Err(LoadError::Framing("no checksum header"));
    }
    if &bytes[digits_end..body_start] != PREFIX_TAIL.as_bytes() {
        return Err(LoadError::Framing("no body after the checksum"));
    }
    if !bytes.ends_with(SUFFIX.as_bytes()) {
        return Err(LoadError::Framing("the file ends early"));
    }
    let expected = std::str::from_utf8(&bytes[head.len()..digits_end])
        .ok()
        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
        .ok_or(LoadError::Framing("the checksum is not 8 hex digits"))?;
    let body = &bytes[body_start..bytes.len() - SUFFIX.len()];
    let actual = crc32fast::hash(body);
    if actual != expected {
        return Err(LoadError::Checksum { expected, actual });
    }
    // The version first, so a newer build's file is reported as such rather than as a parse error.
    #[derive(Deserialize)]
    struct Version {
        schema_version: u64,
    }
    let version: Version = serde_json::from_slice(body).map_err(LoadError::Invalid)?;
    if version.schema_version != u64::from(SCHEMA_VERSION) {
        return Err(LoadError::UnknownVersion(version.schema_version));
    }
    serde_json::from_slice(body).map_err(LoadError::Invalid)
}

/// Reads and decodes one state file.
///
/// # Errors
/// As [`decode`], or [`LoadError::Io`] when the file cannot be read.
pub fn load_file(path: &Path) -> Result<Saved, LoadError> {
    decode(&std::fs::read(path)?)
}

/// Loads the newest valid generation in `dir`. A missing directory or missing files are not errors: nothing is
/// recovered.
pub fn load(dir: &Path) -> Recovery {
    let mut recovery = Recovery {
        torn_temp: dir.join(TEMP_FILE).exists(),
        ..Recovery::default()
    };
    for name in STATE_FILES {
        let path = dir.join(name);
        match load_file(&path) {
            Ok(saved) => {
                let newer = recovery.loaded.as_ref().is_none_or(|(best, _)| {
                    (saved.sequence, saved.saved_at_unix_ms)
                        > (best.sequence, best.saved_at_unix_ms)
                });
                if newer {
                    recovery.loaded = Some((saved, path));
                }
            }
            Err(LoadError::Io(e)) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => recovery.rejected.push((path, e)),
        }
    }
    recovery
}

/// Writes `bytes` as `dir/name` atomically ([`replace_file`] through [`TEMP_FILE`]).
///
/// # Errors
/// If any step fails; the message names the file. The previous `dir/name` is then untouched.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let path = dir.join(name);
    replace_file(&path, &dir.join(TEMP_FILE), bytes, false)
        .with_context(|| format!("cannot save the state as {}", path.display()))
}

/// Replaces `path` with `bytes` so that neither a reader nor a crash ever sees half a file: they go to `temporary`
/// (a name in the same directory), which is fsynced and renamed over `path`, then the directory is fsynced so the
/// rename survives a power cut. `private`: only the owner may read the file (Unix). The state, the token secret and
/// the post-race report are all written this way.
///
/// # Errors
/// The step that failed. `path` is then untouched and `temporary` removed (unless the directory's fsync failed,
/// after the rename).
pub fn replace_file(path: &Path, temporary: &Path, bytes: &[u8], private: bool) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let written = options
        .open(temporary)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(temporary, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(temporary);
        return Err(e);
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir).and_then(|d| d.sync_all())
}

/// Takes the state directory's lock, creating the directory if needed. Waits up to `wait` for a relay that is
/// still exiting to let go; `None` if another relay holds it still. The lock lasts as long as the returned file is
/// open, and the OS releases it when the process dies, however it dies.
///
/// # Errors
/// If the directory or the lock file cannot be created.
pub async fn lock_dir(dir: &Path, wait: Duration) -> anyhow::Result<Option<File>> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the state directory {}", dir.display()))?;
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let deadline = Instant::now() + wait;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn unix_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Writes the hub's state into a state directory, alternating between the two generations.
#[derive(Debug)]
pub struct Persister {
    dir: PathBuf,
    /// Index into [`STATE_FILES`] of the next write: the generation that is not the newest.
    next_slot: usize,
    sequence: u64,
    /// The hub's [`Hub::stamp`] at the last save (or the recovery): unchanged means nothing to write.
    saved_stamp: Option<(u64, u64, u64)>,
    stats: Arc<PersistStats>,
}

/// One save done by [`Persister::save`].
#[derive(Clone, Debug)]
pub struct Written {
    /// The file written.
    pub path: PathBuf,
    /// Its size, in bytes.
    pub bytes: u64,
    /// How long the save took.
    pub took: Duration,
    /// The session time saved, in seconds.
    pub session_time_s: f64,
}

impl Persister {
    /// Creates `dir` if needed, removes a torn temporary file, and loads the newest valid generation.
    ///
    /// # Errors
    /// If the directory cannot be created.
    pub fn open(dir: &Path) -> anyhow::Result<(Persister, Recovery)> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the state directory {}", dir.display()))?;
        let recovery = load(dir);
        if recovery.torn_temp {
            let temporary = dir.join(TEMP_FILE);
            std::fs::remove_file(&temporary).with_context(|| {
                format!(
                    "cannot remove the interrupted write {}",
                    temporary.display()
                )
            })?;
        }
        let (sequence, next_slot) = match &recovery.loaded {
            Some((saved, path)) => {
                let newest = STATE_FILES
                    .iter()
                    .position(|n| path.file_name().is_some_and(|f| f == *n))
                    .unwrap_or(0);
                (saved.sequence, 1 - newest)
            }
            None => (0, 0),
        };
        Ok((
            Persister {
                dir: dir.to_owned(),
                next_slot,
                sequence,
                saved_stamp: None,
                stats: Arc::default(),
            },
            recovery,
        ))
    }

    /// The counters, shared.
    pub fn stats(&self) -> Arc<PersistStats> {
        Arc::clone(&self.stats)
    }

    /// Counts the hub's current data as saved (after a recovery put it there).
    pub fn mark_saved(&mut self, hub: &Hub) {
        self.saved_stamp = Some(hub.stamp());
    }

    /// Saves the hub's latest state if it changed since the last save. The twins' report is the hub's cached one
    /// or computed on a blocking thread; the file is written on a blocking thread.
    ///
    /// # Errors
    /// If the state cannot be written (counted in the stats; the caller logs it).
    pub async fn save(&mut self, hub: &Hub, sources: &Sources) -> anyhow::Result<Option<Written>> {
        let stamp = hub.stamp();
        if self.saved_stamp == Some(stamp) {
            return Ok(None);
        }
        let Some(view) = hub.persist_view() else {
            return Ok(None);
        };
        let started = Instant::now();
        // A report that cannot be computed is left out rather than holding the save back.
        let twins = hub.twin_report().await.ok().map(|r| (*r).clone());
        let status = sources.status();
        let saved = Saved {
            schema_version: SCHEMA_VERSION,
            saved_at_unix_ms: unix_ms_now(),
            sequence: self.sequence + 1,
            session: SavedSession { key: view.key },
            state: view.state,
            history: view.history,
            twins,
            strategy: view.strategy,
            locks: view.locks,
            source: SavedSource {
                mode: status.mode.to_owned(),
                simulated: status.simulated,
                config: status.config,
                received: status.received,
            },
        };
        let session_time_s = saved.state.session_time_s;
        let dir = self.dir.clone();
        let name = STATE_FILES[self.next_slot];
        let written = tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
            let bytes = encode(&saved)?;
            write_atomically(&dir, name, &bytes)?;
            Ok(bytes.len() as u64)
        })
        .await
        .context("the state writer panicked")
        .and_then(|r| r);
        let bytes = match written {
            Ok(bytes) => bytes,
            Err(e) => {
                self.stats.failures.fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        let took = started.elapsed();
        self.stats.record(took, bytes);
        self.sequence += 1;
        self.saved_stamp = Some(stamp);
        self.next_slot = 1 - self.next_slot;
        Ok(Some(Written {
            path: self.dir.join(name),
            bytes,
            took,
            session_time_s,
        }))
    }

    /// Saves every `interval` until `stop` turns true, then returns itself for the final save.
    pub async fn run(
        mut self,
        hub: Hub,
        sources: Sources,
        interval: Duration,
        mut stop: watch::Receiver<bool>,
    ) -> Persister {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stop.wait_for(|stopped| *stopped) => return self,
            }
            match self.save(&hub, &sources).await {
                Ok(written) => {
                    if let Some(w) = written {
                        tracing::debug!(path = %w.path.display(), bytes = w.bytes, took_ms = w.took.as_secs_f64() * 1e3, "state saved");
                    }
                    if failing {
                        tracing::info!(dir = %self.dir.display(), "the state is being saved again");
                        failing = false;
                    }
                }
                // One line when saving starts failing, not one per interval.
                Err(e) if !failing => {
                    tracing::error!("cannot save the state: {e:#}");
                    failing = true;
                }
                Err(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use boxbox_engine::sim::{RaceSim, SimConfig};

    use super::*;

    fn saved(sequence: u64, t_s: f64) -> Saved {
        let mut sim = RaceSim::new(&SimConfig {
            seed: 4,
            total_laps: 10,
        });
        let mut twins = boxbox_engine::twin::Twins::new(boxbox_engine::twin::TwinParams::PIT_WALL);
        let mut t = 0.0;
        while t < t_s {
            t += 10.0;
            sim.advance_to(t);
            twins.observe(&sim.state());
        }
        let state = sim.state();
        Saved {
            schema_version: SCHEMA_VERSION,
            saved_at_unix_ms: 1_700_000_000_000 + sequence,
            sequence,
            session: SavedSession {
                key: Some("simulator seed 4 laps 10".into()),
            },
            history: twins.records().to_vec(),
            twins: Some(twins.report(&state)),
            strategy: twins.strategy().clone(),
            state,
            source: SavedSource {
                mode: "simulator".into(),
                simulated: true,
                config: SourceConfig::simulator(),
                received: 0,
            },
            locks: Vec::new(),
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("boxbox-persist-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_saved_state_round_trips_bit_for_bit() {
        let original = saved(3, 400.0);
        assert!(
            original.history.len() > 20,
            "{} laps",
            original.history.len()
        );
        let bytes = encode(&original).unwrap();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(
            text.starts_with("{\"checksum\":\"crc32:"),
            "{}",
            &text[..40]
        );
        // The file is plain JSON as a whole.
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["body"]["sequence"], 3);
        assert_eq!(decode(&bytes).unwrap(), original);
    }

    #[test]
    fn the_newest_valid_generation_is_loaded_and_a_torn_one_skipped() {
        let dir = temp_dir("torn");
        let older = saved(1, 200.0);
        let newer = saved(2, 300.0);
        write_atomically(&dir, STATE_FILES[0], &encode(&older).unwrap()).unwrap();
        write_atomically(&dir, STATE_FILES[1], &encode(&newer).unwrap()).unwrap();
        let r = load(&dir);
        assert_eq!(r.loaded.as_ref().unwrap().0, newer);
        assert!(r.rejected.is_empty() && !r.torn_temp);

        // The newer generation cut short, at every kind of place: the older one is loaded, the torn one named.
        let full = encode(&newer).unwrap();
        for cut in [0, 10, 40, full.len() / 2, full.len() - 2, full.len() - 1] {
            std::fs::write(dir.join(STATE_FILES[1]), &full[..cut]).unwrap();
            let r = load(&dir);
            assert_eq!(r.loaded.as_ref().unwrap().0, older, "cut at {cut}");
            assert_eq!(r.rejected.len(), 1, "cut at {cut}");
            assert!(r.rejected[0].0.ends_with(STATE_FILES[1]));
            assert!(
                matches!(r.rejected[0].1, LoadError::Framing(_)),
                "cut at {cut}: {}",
                r.rejected[0].1
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_flipped_byte_fails_the_checksum() {
        let dir = temp_dir("checksum");
        let older = saved(1, 100.0);
        let newer = saved(2, 200.0);
        write_atomically(&dir, STATE_FILES[0], &encode(&older).unwrap()).unwrap();
        let mut bytes = encode(&newer).unwrap();
        let at = bytes.len() / 2;
        // A digit changed into another keeps the JSON valid: only the checksum can tell.
        let i = (at..bytes.len())
            .find(|&i| bytes[i].is_ascii_digit())
            .unwrap();
        bytes[i] = if bytes[i] == b'1' { b'2' } else { b'1' };
        std::fs::write(dir.join(STATE_FILES[1]), &bytes).unwrap();
        let r = load(&dir);
        assert_eq!(r.loaded.unwrap().0, older);
        assert!(
            matches!(r.rejected[0].1, LoadError::Checksum { .. }),
            "{}",
            r.rejected[0].1
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unknown_schema_version_is_refused_by_name() {
        let mut future = saved(5, 100.0);
        future.schema_version = 99;
        let e = decode(&encode(&future).unwrap()).unwrap_err();
        assert!(matches!(e, LoadError::UnknownVersion(99)), "{e}");
        assert!(e.to_string().contains("schema version 99"), "{e}");
        // A body that checks out but is not a state.
        let body = br#"{"schema_version":1,"state":"nope"}"#;
        let mut bytes =
            format!("{PREFIX_HEAD}{:08x}{PREFIX_TAIL}", crc32fast::hash(body)).into_bytes();
        bytes.extend_from_slice(body);
        bytes.extend_from_slice(SUFFIX.as_bytes());
        assert!(matches!(decode(&bytes), Err(LoadError::Invalid(_))));
        // Garbage of any length never panics.
        for n in 0..200 {
            let junk: Vec<u8> = (0..n).map(|i| (i * 37 % 251) as u8).collect();
            assert!(decode(&junk).is_err());
        }
    }

    #[test]
    fn both_generations_invalid_recovers_nothing_with_reasons() {
        let dir = temp_dir("both");
        std::fs::write(dir.join(STATE_FILES[0]), b"{\"checksum\":\"crc32:0000").unwrap();
        std::fs::write(dir.join(STATE_FILES[1]), b"not json at all").unwrap();
        std::fs::write(dir.join(TEMP_FILE), b"{\"checksum\":").unwrap();
        let (persister, r) = Persister::open(&dir).unwrap();
        assert!(r.loaded.is_none());
        assert_eq!(r.rejected.len(), 2);
        assert!(r.torn_temp);
        assert!(
            !dir.join(TEMP_FILE).exists(),
            "the torn temporary file is removed"
        );
        assert_eq!((persister.sequence, persister.next_slot), (0, 0));
        // An empty directory: nothing recovered, nothing rejected.
        let empty = temp_dir("empty");
        let r = load(&empty);
        assert!(r.loaded.is_none() && r.rejected.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&empty).unwrap();
    }

    #[tokio::test]
    async fn one_relay_at_a_time_owns_a_state_directory() {
        let dir = temp_dir("lock");
        let held = lock_dir(&dir, Duration::ZERO).await.unwrap();
        assert!(held.is_some());
        assert!(
            lock_dir(&dir, Duration::from_millis(120))
                .await
                .unwrap()
                .is_none()
        );
        drop(held);
        assert!(lock_dir(&dir, Duration::ZERO).await.unwrap().is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn writes_alternate_and_continue_the_sequence_after_a_restart() {
        let dir = temp_dir("alternate");
        write_atomically(&dir, STATE_FILES[1], &encode(&saved(7, 100.0)).unwrap()).unwrap();
        let (persister, r) = Persister::open(&dir).unwrap();
        assert_eq!(r.loaded.unwrap().0.sequence, 7);
        // The next write replaces the other (older or missing) generation.
        assert_eq!((persister.sequence, persister.next_slot), (7, 0));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
