//! The hub: the latest race state, the twins that watch it, and the broadcast channel that fans updates out to
//! clients.
//!
//! Every published state gets the next sequence number and becomes a [`Publication`]: the delta from the previous
//! state (`engine::protocol::diff`), serialized to JSON once and shared by every client ([`Utf8Bytes`] clones are
//! reference counts), or a snapshot when no delta can say it (the first state of a session). The channel is
//! bounded: a client that falls more than [`UPDATE_BUFFER`] updates behind gets a `Lagged` error and is
//! resynchronised with a fresh snapshot instead of slowing anyone else down. The snapshot of the latest state is
//! serialized once per sequence number, however many clients ask for it.
//!
//! Every published state goes through [`Twins::observe`], which books the laps the snapshot's history is made of,
//! notices stops, SC/VSC and retirements (logged at info level as they happen) and checks the state's consistency
//! (new warnings logged at warn level). The full [`TwinReport`] costs about a millisecond, so it is computed only
//! when asked for, off the async threads, and cached: a cached report serves until a lap is completed, an event
//! happens or a warning is raised, and at most [`REPORT_MAX_AGE`] otherwise.
//!
//! Events and warnings also go to the [`Audit`] log when the relay keeps one. A session restored from disk
//! ([`Hub::restore`]) is served at once; the first source to begin a session ([`Hub::begin_session`]) continues
//! it when it names the same session, else replaces it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use boxbox_engine::protocol::{ServerMessage, StateDelta, Subscription};
use boxbox_engine::twin::consistency::ConsistencyWarning;
use boxbox_engine::twin::session::{EventKind, StrategyStatus, TwinEvent};
use boxbox_engine::twin::{CarTwin, TwinParams, TwinReport, Twins};
use boxbox_engine::wire::{LapRecord, RaceState};
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::audit::{Audit, AuditEntry, AuditKind};
use crate::locks::StrategyLock;

/// Updates a client may fall behind before it is resynchronised with a snapshot.
pub const UPDATE_BUFFER: usize = 64;

/// How long a cached [`TwinReport`] serves while states keep coming without a completed lap or an event.
pub const REPORT_MAX_AGE: Duration = Duration::from_secs(1);

/// Why the twins cannot answer.
#[derive(Debug, thiserror::Error)]
pub enum TwinsError {
    /// No state has been published in this session yet.
    #[error("no race state yet: the source has not published one")]
    NoState,
    /// Computing the twins failed (the blocking task panicked or was cancelled).
    #[error("the twins could not be computed: {0}")]
    Failed(String),
}

/// A copy of what the strategy desk simulates from ([`Hub::strategy_inputs`]).
#[derive(Clone, Debug)]
pub struct StrategyInputs {
    /// The latest state.
    pub state: RaceState,
    /// The session's lap history.
    pub records: Vec<LapRecord>,
    /// Bumped by every [`Hub::reset`]: a new session.
    pub session: u64,
    /// The twins' strategy status: its generation moves when the strategy goes stale.
    pub strategy: StrategyStatus,
}

/// What the persister saves ([`Hub::persist_view`]).
#[derive(Clone, Debug)]
pub struct PersistView {
    /// The source's name for the session, if it has one.
    pub key: Option<String>,
    /// The latest state.
    pub state: RaceState,
    /// The session's lap history.
    pub history: Vec<LapRecord>,
    /// The twins' strategy status.
    pub strategy: StrategyStatus,
    /// The strategy locks, by car.
    pub locks: Vec<StrategyLock>,
}

/// A session read back from disk, for [`Hub::restore`].
#[derive(Clone, Debug)]
pub struct RestoredSession {
    /// The source's name for the session, if it had one.
    pub key: Option<String>,
    /// The latest state saved.
    pub state: RaceState,
    /// The lap history saved.
    pub history: Vec<LapRecord>,
    /// The strategy locks saved.
    pub locks: Vec<StrategyLock>,
}

/// Shared handle to the relay's live data. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Hub {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    latest: RwLock<Latest>,
    updates: broadcast::Sender<Arc<Publication>>,
    clients: AtomicUsize,
    /// The sequence number of the latest state; written only under the `latest` write lock, so a reader holding
    /// the read lock sees the number of the state it reads.
    seq: AtomicU64,
    /// The latest snapshot's JSON and its sequence number.
    snapshot: std::sync::Mutex<Option<(u64, Utf8Bytes)>>,
    /// What the WebSocket clients were sent and dropped.
    ws: WsStats,
    /// HTTP latencies and the persister's figures, for `/metrics`.
    metrics: crate::metrics::Metrics,
    /// Held while a report is computed, so concurrent requests wait for one computation instead of each running
    /// their own.
    reporting: tokio::sync::Mutex<()>,
    /// Where events and warnings are written down, if anywhere.
    audit: Option<Audit>,
    /// When the hub was made (ms since the Unix epoch): with the session number it names a session uniquely.
    boot_unix_ms: u64,
}

#[derive(Debug)]
struct Latest {
    state: Option<RaceState>,
    /// The twins of this session; their lap records are the snapshot's history.
    twins: Twins,
    /// What the latest state is, for the report cache.
    version: Version,
    report: Option<CachedReport>,
    /// The source's name for this session (a simulated race's seed, a game's session uid), if it has one.
    key: Option<String>,
    /// The session was restored from disk and no source has taken it up yet.
    restored: bool,
    /// The strategy options locked, by car.
    locks: BTreeMap<u8, StrategyLock>,
    /// When the latest state was published in this session (not set by a restore).
    published_at: Option<Instant>,
}

/// Identifies the data a report was computed from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Version {
    /// Bumped by every [`Hub::reset`].
    session: u64,
    /// States published in this session.
    published: u64,
    /// Publishes in this session that completed a lap, raised an event or a consistency warning.
    changes: u64,
    /// Strategy locks set or removed in this session.
    edits: u64,
}

#[derive(Debug)]
struct CachedReport {
    report: Arc<TwinReport>,
    version: Version,
    computed_at: Instant,
}

impl Latest {
    fn new(session: u64) -> Self {
        Latest {
            state: None,
            twins: Twins::new(TwinParams::PIT_WALL),
            version: Version {
                session,
                ..Version::default()
            },
            report: None,
            key: None,
            restored: false,
            locks: BTreeMap::new(),
            published_at: None,
        }
    }

    /// The cached report, if it may still serve for the current state.
    fn fresh_report(&self) -> Option<Arc<TwinReport>> {
        let cached = self.report.as_ref()?;
        let (was, now) = (cached.version, self.version);
        let fresh = was.session == now.session
            && (was.published == now.published
                || (was.changes == now.changes && cached.computed_at.elapsed() < REPORT_MAX_AGE));
        fresh.then(|| Arc::clone(&cached.report))
    }
}

/// One published state as it goes out to clients.
#[derive(Debug)]
pub struct Publication {
    /// Its sequence number.
    pub seq: u64,
    /// The frame an unfiltered client is sent: a `delta`, or a `snapshot` when no delta can say it.
    pub frame: Utf8Bytes,
    /// The delta, for clients that filter it; `None` when `frame` is a snapshot.
    pub delta: Option<StateDelta>,
    /// Frames of the delta filtered for subscriptions, each made by the first client that asked: thousands of
    /// tablets on a few subscriptions serialize a few frames, not thousands.
    filtered: std::sync::Mutex<Vec<(Subscription, Utf8Bytes)>>,
}

/// Distinct subscriptions whose filtered frames a publication keeps; more are serialized per client.
const FILTERED_FRAMES: usize = 32;

impl Publication {
    fn new(seq: u64, frame: Utf8Bytes, delta: Option<StateDelta>) -> Self {
        Publication {
            seq,
            frame,
            delta,
            filtered: std::sync::Mutex::default(),
        }
    }

    /// The frame a client with `subscription` is sent: the shared one, or the delta filtered for it.
    pub fn frame_for(&self, subscription: &Subscription) -> Option<Utf8Bytes> {
        let Some(delta) = &self.delta else {
            return Some(self.frame.clone());
        };
        if subscription.is_all() {
            return Some(self.frame.clone());
        }
        let mut cache = self.filtered.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, frame)) = cache.iter().find(|(s, _)| s == subscription) {
            return Some(frame.clone());
        }
        let frame = delta_frame(self.seq, &delta.filtered(subscription))?;
        if cache.len() < FILTERED_FRAMES {
            cache.push((subscription.clone(), frame.clone()));
        }
        Some(frame)
    }
}

/// Counters of the WebSocket fan-out, for `/metrics`.
#[derive(Debug, Default)]
pub struct WsStats {
    /// Snapshots sent (on connect, after a lag, a delay change, a resync request or a new session).
    pub snapshots_sent: AtomicU64,
    /// Deltas sent.
    pub deltas_sent: AtomicU64,
    /// Times a client's queue overflowed and its backlog was dropped for a fresh snapshot.
    pub queue_drops: AtomicU64,
    /// Clients disconnected by the relay: a send blocked too long or no pong in time.
    pub disconnected_slow: AtomicU64,
    /// Client messages answered with an error frame.
    pub bad_messages: AtomicU64,
    /// Frame bytes written.
    pub bytes_sent: AtomicU64,
}

impl WsStats {
    /// Adds one to `counter`.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counts a connected client for as long as it lives.
#[derive(Debug)]
pub struct ClientGuard(Hub);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.inner.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Hub {
    /// An empty hub: no state until the source publishes one.
    pub fn new() -> Self {
        Hub::with_audit(None)
    }

    /// An empty hub that writes its events and consistency warnings to `audit`.
    pub fn with_audit(audit: Option<Audit>) -> Self {
        let (updates, _) = broadcast::channel(UPDATE_BUFFER);
        Hub {
            inner: Arc::new(Inner {
                latest: RwLock::new(Latest::new(0)),
                updates,
                clients: AtomicUsize::new(0),
                seq: AtomicU64::new(0),
                snapshot: std::sync::Mutex::new(None),
                ws: WsStats::default(),
                metrics: crate::metrics::Metrics::new(),
                reporting: tokio::sync::Mutex::new(()),
                audit,
                boot_unix_ms: crate::persist::unix_ms_now(),
            }),
        }
    }

    /// The audit log, if the relay keeps one.
    pub fn audit(&self) -> Option<&Audit> {
        self.inner.audit.as_ref()
    }

    fn read(&self) -> RwLockReadGuard<'_, Latest> {
        self.inner.latest.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Latest> {
        self.inner.latest.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets the state, the history and the twins: a new session starts.
    pub fn reset(&self) {
        self.begin_session(None);
    }

    /// A source begins the session it calls `key`. If the hub holds a restored session of the same key that no
    /// source has taken up yet, it goes on: the restored state and history stay and the restored session time
    /// is returned, for the source to resume from. Otherwise the hub starts a fresh session (as [`Hub::reset`]).
    pub fn begin_session(&self, key: Option<String>) -> Option<f64> {
        let mut latest = self.write();
        let restored = std::mem::take(&mut latest.restored);
        if restored && key.is_some() && latest.key == key {
            return latest.state.as_ref().map(|s| s.session_time_s);
        }
        let session = latest.version.session + 1;
        *latest = Latest::new(session);
        latest.key = key;
        None
    }

    /// Serves a session read back from disk until a source begins one ([`Hub::begin_session`]): the state and lap
    /// history go out in snapshots and REST at once. The twins restart from the history: their events, learned
    /// pit tendencies and strategy generation are not saved, so they start afresh.
    pub fn restore(&self, session: RestoredSession) {
        let mut twins = Twins::with_history(TwinParams::PIT_WALL, session.history);
        // Seeds the twins' view of every car and the track status, so the next state raises no stale event.
        let _ = twins.observe(&session.state);
        let mut latest = self.write();
        let number = latest.version.session + 1;
        *latest = Latest::new(number);
        latest.twins = twins;
        latest.state = Some(session.state);
        latest.key = session.key;
        latest.restored = true;
        latest.locks = session.locks.into_iter().map(|l| (l.car_idx, l)).collect();
        // Clients connected before the restore start again from it.
        let seq = self.inner.seq.load(Ordering::Relaxed) + 1;
        self.inner.seq.store(seq, Ordering::Relaxed);
        if let Some(frame) = snapshot_frame(seq, &latest) {
            let _ = self
                .inner
                .updates
                .send(Arc::new(Publication::new(seq, frame, None)));
        }
    }

    /// Identifies the data: the session number, the states published in it and the strategy locks set or removed.
    /// It changes whenever there is something new to save.
    pub fn stamp(&self) -> (u64, u64, u64) {
        let latest = self.read();
        (
            latest.version.session,
            latest.version.published,
            latest.version.edits,
        )
    }

    /// The live session's id, `live-<hub start, hex ms>-<session number>`: unique to this run of the relay, so a
    /// share link scoped to it never opens another session.
    pub fn session_id(&self) -> String {
        let number = self.read().version.session;
        format!("live-{:x}-{number}", self.inner.boot_unix_ms)
    }

    /// How long ago the latest state was published in this session (`None` before the first publish; a session
    /// restored from disk counts as not yet published).
    pub fn last_publish_age(&self) -> Option<Duration> {
        self.read().published_at.map(|t| t.elapsed())
    }

    /// The strategy locks of this session, by car.
    pub fn strategy_locks(&self) -> Vec<StrategyLock> {
        self.read().locks.values().cloned().collect()
    }

    /// Locks a strategy option for its car, replacing any lock it had; returns the one replaced.
    pub fn lock_strategy(&self, lock: StrategyLock) -> Option<StrategyLock> {
        let mut latest = self.write();
        latest.version.edits += 1;
        latest.locks.insert(lock.car_idx, lock)
    }

    /// Removes a car's strategy lock; returns it, if there was one.
    pub fn unlock_strategy(&self, car_idx: u8) -> Option<StrategyLock> {
        let mut latest = self.write();
        let removed = latest.locks.remove(&car_idx);
        if removed.is_some() {
            latest.version.edits += 1;
        }
        removed
    }

    /// A copy of what the persister saves (`None` before the first state).
    pub fn persist_view(&self) -> Option<PersistView> {
        let latest = self.read();
        Some(PersistView {
            key: latest.key.clone(),
            state: latest.state.clone()?,
            history: latest.twins.records().to_vec(),
            strategy: latest.twins.strategy().clone(),
            locks: latest.locks.values().cloned().collect(),
        })
    }

    /// Makes `state` the latest, lets the twins observe it (booking completed laps, logging new events and
    /// consistency warnings), and sends it to every subscriber.
    pub fn publish(&self, state: RaceState) {
        let (events, warnings) = {
            let mut latest = self.write();
            let delta = latest
                .state
                .as_ref()
                .and_then(|prev| boxbox_engine::protocol::diff(prev, &state));
            let laps_before = latest.twins.records().len();
            let warnings_before = latest.twins.warnings_total();
            let events = latest.twins.observe(&state);
            let new_warnings = latest
                .twins
                .warnings_total()
                .saturating_sub(warnings_before);
            // The twins keep the newest few warnings: the new ones are at the end.
            let kept = latest.twins.warnings();
            let skip = kept
                .len()
                .saturating_sub(usize::try_from(new_warnings).unwrap_or(usize::MAX));
            let warnings: Vec<ConsistencyWarning> = kept[skip..].to_vec();
            latest.version.published += 1;
            if !events.is_empty() || new_warnings > 0 || latest.twins.records().len() != laps_before
            {
                latest.version.changes += 1;
            }
            let events: Vec<(TwinEvent, Option<String>)> = events
                .into_iter()
                .map(|e| {
                    let code = e
                        .car_idx
                        .and_then(|i| state.car(i))
                        .map(|c| c.driver.code.clone());
                    (e, code)
                })
                .collect();
            latest.state = Some(state);
            latest.published_at = Some(Instant::now());
            // Numbered, serialized and sent under the write lock: publications reach the channel in sequence
            // order, and a snapshot taken under the read lock names the state it holds.
            let seq = self.inner.seq.load(Ordering::Relaxed) + 1;
            self.inner.seq.store(seq, Ordering::Relaxed);
            let frame = match &delta {
                Some(delta) => delta_frame(seq, delta),
                None => snapshot_frame(seq, &latest),
            };
            match frame {
                // An error only means nobody is listening right now.
                Some(frame) => {
                    let _ = self
                        .inner
                        .updates
                        .send(Arc::new(Publication::new(seq, frame, delta)));
                }
                None => tracing::error!(seq, "cannot serialize a state update"),
            }
            (events, warnings)
        };
        for (event, driver) in &events {
            log_event(event, driver.as_deref());
        }
        for w in &warnings {
            tracing::warn!(check = ?w.check, car = w.car_idx, lap = w.lap, "consistency: {}", w.message);
        }
        if let Some(audit) = &self.inner.audit {
            for (event, driver) in events {
                audit.record(event_entry(&event, driver));
            }
            for w in warnings {
                let mut entry = AuditEntry::new(
                    AuditKind::ConsistencyWarning,
                    "race",
                    format!("consistency: {}", w.message),
                );
                entry.car_idx = w.car_idx;
                entry.lap = Some(w.lap);
                entry.detail = serde_json::to_value(&w).unwrap_or_default();
                audit.record(entry);
            }
        }
    }

    /// The snapshot message for a client that is (re)starting: the latest state and the whole lap history.
    pub fn snapshot_json(&self) -> Option<Utf8Bytes> {
        self.snapshot().map(|(_, frame)| frame)
    }

    /// The latest snapshot and its sequence number, serialized once per sequence number.
    pub fn snapshot(&self) -> Option<(u64, Utf8Bytes)> {
        let latest = self.read();
        // No state (a new session has not published yet): nothing to send, whatever is cached.
        latest.state.as_ref()?;
        let seq = self.inner.seq.load(Ordering::Relaxed);
        let mut cache = self
            .inner
            .snapshot
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some((cached, frame)) = cache.as_ref()
            && *cached == seq
        {
            return Some((seq, frame.clone()));
        }
        let frame = snapshot_frame(seq, &latest)?;
        *cache = Some((seq, frame.clone()));
        Some((seq, frame))
    }

    /// The newest sequence number published.
    pub fn seq(&self) -> u64 {
        self.inner.seq.load(Ordering::Relaxed)
    }

    /// The WebSocket fan-out's counters.
    pub fn ws_stats(&self) -> &WsStats {
        &self.inner.ws
    }

    /// What `/metrics` reports besides the hub's and the source's counters.
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.inner.metrics
    }

    /// The latest state, if any.
    pub fn latest_state(&self) -> Option<RaceState> {
        self.read().state.clone()
    }

    /// What the strategy desk simulates from: the latest state, the lap history and the twins' strategy status
    /// (`None` before the first state).
    pub fn strategy_inputs(&self) -> Option<StrategyInputs> {
        let latest = self.read();
        Some(StrategyInputs {
            state: latest.state.clone()?,
            records: latest.twins.records().to_vec(),
            session: latest.version.session,
            strategy: latest.twins.strategy().clone(),
        })
    }

    /// What the strategy desk's answer depends on, without copying it: the session, the twins' strategy
    /// generation and the leader's completed laps (`None` before the first state).
    pub fn strategy_version(&self) -> Option<(u64, u64, u32)> {
        let latest = self.read();
        latest.state.as_ref()?;
        let laps = latest
            .twins
            .records()
            .iter()
            .map(|r| r.lap)
            .max()
            .unwrap_or(0);
        Some((
            latest.version.session,
            latest.twins.strategy().generation,
            laps,
        ))
    }

    /// The twins' report on the latest state: the cached one while it is fresh, else computed now on a blocking
    /// thread (concurrent callers share the computation).
    ///
    /// # Errors
    /// [`TwinsError::NoState`] before the first state of the session; [`TwinsError::Failed`] if the computation
    /// panicked.
    pub async fn twin_report(&self) -> Result<Arc<TwinReport>, TwinsError> {
        let _computing = self.inner.reporting.lock().await;
        let (twins, state, version) = {
            let latest = self.read();
            let state = latest.state.clone().ok_or(TwinsError::NoState)?;
            if let Some(report) = latest.fresh_report() {
                return Ok(report);
            }
            (latest.twins.clone(), state, latest.version)
        };
        let report = tokio::task::spawn_blocking(move || twins.report(&state))
            .await
            .map_err(|e| TwinsError::Failed(e.to_string()))?;
        let report = Arc::new(report);
        let mut latest = self.write();
        // A report of a session that ended meanwhile is not cached.
        if latest.version.session == version.session {
            latest.report = Some(CachedReport {
                report: Arc::clone(&report),
                version,
                computed_at: Instant::now(),
            });
        }
        Ok(report)
    }

    /// One car's twin against a chosen rival, computed now on a blocking thread. `Ok(None)` when the latest state
    /// has no such car.
    ///
    /// # Errors
    /// As [`Hub::twin_report`].
    pub async fn car_twin(&self, car_idx: u8, rival: u8) -> Result<Option<CarTwin>, TwinsError> {
        let (twins, state) = {
            let latest = self.read();
            let state = latest.state.clone().ok_or(TwinsError::NoState)?;
            (latest.twins.clone(), state)
        };
        tokio::task::spawn_blocking(move || twins.car(&state, car_idx, Some(rival)))
            .await
            .map_err(|e| TwinsError::Failed(e.to_string()))
    }

    /// A receiver of every update published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Publication>> {
        self.inner.updates.subscribe()
    }

    /// Registers a connected client until the guard is dropped.
    pub fn client_guard(&self) -> ClientGuard {
        self.inner.clients.fetch_add(1, Ordering::Relaxed);
        ClientGuard(self.clone())
    }

    /// Number of connected WebSocket clients.
    pub fn client_count(&self) -> usize {
        self.inner.clients.load(Ordering::Relaxed)
    }
}

/// A snapshot frame of `latest` numbered `seq` (`None` without a state).
fn snapshot_frame(seq: u64, latest: &Latest) -> Option<Utf8Bytes> {
    let message = ServerMessage::Snapshot {
        seq,
        state: latest.state.clone()?,
        history: latest.twins.records().to_vec(),
    };
    match serde_json::to_string(&message) {
        Ok(json) => Some(Utf8Bytes::from(json)),
        Err(e) => {
            tracing::error!("cannot serialize a snapshot: {e}");
            None
        }
    }
}

/// A delta frame numbered `seq`.
fn delta_frame(seq: u64, delta: &StateDelta) -> Option<Utf8Bytes> {
    let message = ServerMessage::Delta {
        seq,
        delta: delta.clone(),
    };
    match serde_json::to_string(&message) {
        Ok(json) => Some(Utf8Bytes::from(json)),
        Err(e) => {
            tracing::error!("cannot serialize a delta: {e}");
            None
        }
    }
}

/// What an event is called in the log and the audit log.
fn event_text(kind: EventKind) -> String {
    match kind {
        EventKind::SafetyCar => "safety car deployed".to_owned(),
        EventKind::VirtualSafetyCar => "virtual safety car deployed".to_owned(),
        EventKind::GreenAgain => "green flag: the neutralisation is over".to_owned(),
        EventKind::RedFlag => "red flag: the session is suspended".to_owned(),
        EventKind::PitStop => "pit stop".to_owned(),
        EventKind::Retirement => "retirement".to_owned(),
        EventKind::Penalty { seconds: 0 } => "penalty: drive-through or stop-go".to_owned(),
        EventKind::Penalty { seconds } => format!("penalty: {seconds} s"),
    }
}

/// A twin event as an audit entry.
fn event_entry(event: &TwinEvent, driver: Option<String>) -> AuditEntry {
    let kind = match event.kind {
        EventKind::SafetyCar => AuditKind::SafetyCar,
        EventKind::VirtualSafetyCar => AuditKind::VirtualSafetyCar,
        EventKind::GreenAgain => AuditKind::GreenAgain,
        EventKind::RedFlag => AuditKind::RedFlag,
        EventKind::PitStop => AuditKind::PitStop,
        EventKind::Retirement => AuditKind::Retirement,
        EventKind::Penalty { .. } => AuditKind::Penalty,
    };
    let mut entry = AuditEntry::new(kind, "race", event_text(event.kind));
    if let EventKind::Penalty { seconds } = event.kind {
        entry.detail = serde_json::json!({ "seconds": seconds });
    }
    entry.session_time_s = Some(event.session_time_s);
    entry.lap = Some(event.lap);
    entry.car_idx = event.car_idx;
    entry.driver = driver;
    entry
}

/// Logs a new twin event at info level.
fn log_event(event: &TwinEvent, driver: Option<&str>) {
    let what = event_text(event.kind);
    match event.car_idx {
        Some(car) => tracing::info!(
            car,
            driver = driver.unwrap_or("?"),
            lap = event.lap,
            session_time_s = event.session_time_s,
            "{what}"
        ),
        None => tracing::info!(
            lap = event.lap,
            session_time_s = event.session_time_s,
            "{what}"
        ),
    }
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new()
    }
}

#[cfg(test)]
mod tests {
    use boxbox_engine::sim::{RaceSim, SimConfig};

    use super::*;

    /// A hub fed a simulated race up to `t_s`, one state every 5 simulated seconds.
    fn hub_at(t_s: f64) -> (Hub, RaceSim) {
        let hub = Hub::new();
        let mut sim = RaceSim::new(&SimConfig {
            seed: 3,
            total_laps: 20,
        });
        let mut t = 0.0;
        while t < t_s {
            t += 5.0;
            sim.advance_to(t);
            hub.publish(sim.state());
        }
        (hub, sim)
    }

    #[tokio::test]
    async fn the_report_is_cached_until_a_lap_or_an_event_and_reset_forgets_it() {
        let hub = Hub::new();
        assert!(matches!(hub.twin_report().await, Err(TwinsError::NoState)));
        let (hub, mut sim) = hub_at(600.0);
        let first = hub.twin_report().await.unwrap();
        assert_eq!(first.cars.len(), 20);
        // Asked again with nothing new: the same report.
        assert!(Arc::ptr_eq(&first, &hub.twin_report().await.unwrap()));
        // A state that moves the cars but completes no lap: still the same within REPORT_MAX_AGE.
        sim.advance_to(600.5);
        let state = sim.state();
        let changes = hub.read().version.changes;
        hub.publish(state);
        if hub.read().version.changes == changes {
            assert!(Arc::ptr_eq(&first, &hub.twin_report().await.unwrap()));
        }
        // Laps later: a new report, on the latest state.
        sim.advance_to(800.0);
        let changes = hub.read().version.changes;
        hub.publish(sim.state());
        assert!(hub.read().version.changes > changes, "laps were completed");
        let later = hub.twin_report().await.unwrap();
        assert!(!Arc::ptr_eq(&first, &later));
        assert_eq!(later.session_time_s, sim.state().session_time_s);
        // The snapshot's history is the twins' lap records.
        let snapshot: ServerMessage =
            serde_json::from_str(hub.snapshot_json().unwrap().as_str()).unwrap();
        let ServerMessage::Snapshot { history, .. } = snapshot else {
            panic!("a snapshot")
        };
        assert!(history.len() > 100, "{} laps", history.len());
        hub.reset();
        assert!(matches!(hub.twin_report().await, Err(TwinsError::NoState)));
        assert!(hub.snapshot_json().is_none());
    }

    #[test]
    fn penalties_go_to_the_audit_log_with_their_seconds() {
        let event = |seconds| TwinEvent {
            kind: EventKind::Penalty { seconds },
            car_idx: Some(7),
            lap: 12,
            session_time_s: 1100.0,
        };
        let five = event_entry(&event(5), Some("HAM".into()));
        assert_eq!(five.kind, AuditKind::Penalty);
        assert_eq!(five.message, "penalty: 5 s");
        assert_eq!(five.detail, serde_json::json!({ "seconds": 5 }));
        assert_eq!(
            (five.car_idx, five.lap, five.driver.as_deref()),
            (Some(7), Some(12), Some("HAM"))
        );
        let drive_through = event_entry(&event(0), None);
        assert_eq!(drive_through.message, "penalty: drive-through or stop-go");
        let line = serde_json::to_string(&drive_through).unwrap();
        assert!(line.contains(r#""kind":"penalty""#), "{line}");
    }

    #[test]
    fn a_restored_session_serves_at_once_and_goes_on_only_under_its_own_key() {
        let (fed, _) = hub_at(900.0);
        let view = fed.persist_view().unwrap();
        assert!(view.history.len() > 100);
        let restore = |hub: &Hub| {
            hub.restore(RestoredSession {
                key: Some("simulator seed 3 laps 20".into()),
                state: view.state.clone(),
                history: view.history.clone(),
                locks: Vec::new(),
            });
        };
        let hub = Hub::new();
        restore(&hub);
        // Served before any source: the snapshot carries the state and the whole history.
        let ServerMessage::Snapshot { state, history, .. } =
            serde_json::from_str(hub.snapshot_json().unwrap().as_str()).unwrap()
        else {
            panic!("a snapshot")
        };
        assert_eq!(
            (state, history.len()),
            (view.state.clone(), view.history.len())
        );
        // The same session: it goes on from the restored time, history kept.
        let t = view.state.session_time_s;
        assert_eq!(
            hub.begin_session(Some("simulator seed 3 laps 20".into())),
            Some(t)
        );
        assert_eq!(
            hub.persist_view().unwrap().history.len(),
            view.history.len()
        );
        // Only once: a later begin is a new session.
        assert_eq!(
            hub.begin_session(Some("simulator seed 3 laps 20".into())),
            None
        );
        assert!(hub.latest_state().is_none());
        // Another key, or none, replaces the restored session.
        for key in [Some("simulator seed 4 laps 20".to_owned()), None] {
            let hub = Hub::new();
            restore(&hub);
            assert_eq!(hub.begin_session(key), None);
            assert!(hub.latest_state().is_none() && hub.persist_view().is_none());
        }
    }

    #[test]
    fn a_filtered_frame_is_made_once_per_subscription() {
        use boxbox_engine::protocol::{Cars, Topic};
        let (hub, mut sim) = hub_at(300.0);
        let mut updates = hub.subscribe();
        sim.advance_to(301.0);
        hub.publish(sim.state());
        let p = updates.try_recv().unwrap();
        let sub = Subscription {
            cars: Cars::Only([1].into()),
            topics: [Topic::Timing].into(),
        };
        let a = p.frame_for(&sub).unwrap();
        let b = p.frame_for(&sub.clone()).unwrap();
        assert_eq!(a.as_str().as_ptr(), b.as_str().as_ptr(), "shared");
        assert!(
            a.len() * 10 < p.frame.len(),
            "{} of {}",
            a.len(),
            p.frame.len()
        );
        let all = p.frame_for(&Subscription::all()).unwrap();
        assert_eq!(all.as_str().as_ptr(), p.frame.as_str().as_ptr());
    }

    #[tokio::test]
    async fn a_car_twin_against_a_chosen_rival() {
        let (hub, sim) = hub_at(600.0);
        let state = sim.state();
        let (car, rival) = (state.cars[5].car_idx, state.cars[0].car_idx);
        let twin = hub.car_twin(car, rival).await.unwrap().unwrap();
        assert_eq!(twin.car_idx, car);
        assert_eq!(twin.rival.map(|r| r.car_idx), Some(rival));
        assert!(hub.car_twin(200, rival).await.unwrap().is_none());
    }

    #[test]
    fn strategy_locks_belong_to_the_session_and_are_restored() {
        let (hub, sim) = hub_at(300.0);
        let car = sim.state().cars[0].car_idx;
        let lock = StrategyLock {
            car_idx: car,
            driver: "VER".into(),
            plan: "M-H L23".into(),
            comment: "cover".into(),
            by: "engineer:control".into(),
            at_unix_ms: 1,
            session_time_s: 300.0,
            lap: 3,
        };
        let stamp = hub.stamp();
        assert!(hub.lock_strategy(lock.clone()).is_none());
        assert_ne!(hub.stamp(), stamp, "a lock is something to save");
        let view = hub.persist_view().unwrap();
        assert_eq!(view.locks, vec![lock.clone()]);
        let id = hub.session_id();
        assert!(id.starts_with("live-"), "{id}");
        hub.reset();
        assert!(hub.strategy_locks().is_empty());
        assert_ne!(hub.session_id(), id, "a new session has a new id");
        // Restored with the state, and kept when the source goes on with the session.
        let restored = Hub::new();
        restored.restore(RestoredSession {
            key: Some("k".into()),
            state: view.state,
            history: view.history,
            locks: view.locks,
        });
        assert_eq!(restored.strategy_locks(), vec![lock.clone()]);
        assert!(restored.begin_session(Some("k".into())).is_some());
        assert_eq!(restored.strategy_locks(), vec![lock]);
        assert_eq!(restored.unlock_strategy(car).map(|l| l.car_idx), Some(car));
        assert!(restored.unlock_strategy(car).is_none());
    }
}
