//! Where the race comes from, and switching it at runtime.
//!
//! A [`SourceConfig`] names one source (the built-in simulator, the game's UDP telemetry, a pcap replay, a real race
//! from a folder of FastF1/f1db files, a JSON WebSocket feed, or HTTP ingest) and an optional fallback to the simulator. [`Sources`] runs the configured
//! source as one task, reports its [`SourceStatus`] (`GET /api/v1/source`) and replaces it on
//! `PUT /api/v1/source`. Every source publishes into the same [`Hub`]; each switch starts a fresh session there.
//!
//! Simulated data is always labelled: states carry `source: "simulator"`, the status says `simulated: true`, and
//! the simulator produces states, not datagrams, so it can never be written into a session recording.

mod feed;
pub mod race;
pub mod replay;
pub mod simulator;
pub mod udp;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use boxbox_engine::feed::{FeedFrame, FeedNormalizer, Pushed};
use boxbox_engine::wire::RaceState;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::hub::Hub;

/// Which source feeds the relay, with its settings. JSON and TOML: `{"mode": "udp", "bind": "0.0.0.0:20777"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceSpec {
    /// The built-in race simulator.
    Simulator {
        /// Seed of the race: the same seed gives the same race.
        #[serde(default = "default_seed")]
        seed: u64,
        /// Simulated seconds per real second.
        #[serde(default = "default_sim_speed")]
        speed: f64,
        /// Race distance in laps.
        #[serde(default = "default_laps")]
        laps: u32,
        /// Start the next race (next seed) this many real seconds after the flag; never when absent.
        #[serde(default)]
        restart_after_s: Option<f64>,
    },
    /// EA F1 23/24/25 UDP telemetry.
    Udp {
        /// Address to listen on, e.g. `0.0.0.0:20777`.
        bind: SocketAddr,
        /// Re-send every datagram unchanged to these addresses.
        #[serde(default)]
        forward: Vec<SocketAddr>,
    },
    /// A libpcap recording played back with its original timing.
    Replay {
        /// The `.pcap` file.
        file: PathBuf,
        /// Playback speed (2 = twice as fast).
        #[serde(default = "default_replay_speed")]
        speed: f64,
        /// Seek: start playing at this session time, in seconds (earlier packets are applied at once).
        #[serde(default)]
        start_s: f64,
    },
    /// A real race: a folder of `shared/data/races` (FastF1 laps and f1db results, see `boxbox_engine::race`),
    /// played at `speed` race seconds per real second.
    Race {
        /// The race folder, e.g. `shared/data/races/2019_02_bahrain`.
        dir: PathBuf,
        /// Race seconds per real second (10 plays a 95-minute race in under 10 minutes).
        #[serde(default = "default_race_speed")]
        speed: f64,
    },
    /// A WebSocket server sending JSON feed frames (see `boxbox_engine::feed`).
    WsFeed {
        /// `ws://` URL.
        url: String,
    },
    /// JSON feed frames posted to `POST /api/v1/ingest`.
    #[serde(deserialize_with = "no_settings")]
    Ingest,
}

/// A unit variant of an internally tagged enum ignores every other key, `deny_unknown_fields` or not; this makes
/// `{"mode": "ingest", "bind": ...}` an error like an unknown key of any other mode.
fn no_settings<'de, D: serde::Deserializer<'de>>(d: D) -> Result<(), D::Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct NoSettings {}
    NoSettings::deserialize(d).map(|NoSettings {}| ())
}

fn default_seed() -> u64 {
    1
}
fn default_sim_speed() -> f64 {
    1.0
}
fn default_laps() -> u32 {
    57
}
fn default_replay_speed() -> f64 {
    1.0
}
/// Default speed of a real race: 10 race seconds per real second.
pub fn default_race_speed() -> f64 {
    10.0
}
/// Fastest real race: 10,000 race seconds per real second (a race in under a second, for tests).
pub const MAX_RACE_SPEED: f64 = 10_000.0;
/// Slowest speed of any source: a hundredth of real time. Waits are the source's time over its speed, so a speed
/// near zero would ask for a wait no clock can hold.
pub const MIN_SPEED: f64 = 0.01;
/// Longest wait before the simulator starts its next race: a day.
pub const MAX_RESTART_AFTER_S: f64 = 86_400.0;

impl SourceSpec {
    /// The mode's name, as in JSON.
    pub fn mode(&self) -> &'static str {
        match self {
            SourceSpec::Simulator { .. } => "simulator",
            SourceSpec::Udp { .. } => "udp",
            SourceSpec::Replay { .. } => "replay",
            SourceSpec::Race { .. } => "race",
            SourceSpec::WsFeed { .. } => "ws_feed",
            SourceSpec::Ingest => "ingest",
        }
    }

    /// Checks values serde cannot.
    ///
    /// # Errors
    /// A message saying which value is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let speed_ok = |s: f64, max: f64| s.is_finite() && (MIN_SPEED..=max).contains(&s);
        match self {
            SourceSpec::Simulator {
                speed,
                laps,
                restart_after_s,
                ..
            } => {
                if !speed_ok(*speed, 1000.0) {
                    return Err(format!("speed {speed}: must be {MIN_SPEED} to 1000"));
                }
                if !(1..=200).contains(laps) {
                    return Err(format!("laps {laps}: must be 1–200"));
                }
                if let Some(r) = restart_after_s
                    && !(r.is_finite() && (0.0..=MAX_RESTART_AFTER_S).contains(r))
                {
                    return Err(format!(
                        "restart_after_s {r}: must be 0 to {MAX_RESTART_AFTER_S} seconds"
                    ));
                }
            }
            SourceSpec::Replay { speed, start_s, .. } => {
                if !speed_ok(*speed, 1000.0) {
                    return Err(format!("speed {speed}: must be {MIN_SPEED} to 1000"));
                }
                if !(start_s.is_finite() && *start_s >= 0.0) {
                    return Err(format!("start_s {start_s}: must be ≥ 0"));
                }
            }
            SourceSpec::Race { speed, .. } => {
                if !speed_ok(*speed, MAX_RACE_SPEED) {
                    return Err(format!(
                        "speed {speed}: must be {MIN_SPEED} to {MAX_RACE_SPEED}"
                    ));
                }
            }
            SourceSpec::WsFeed { url } => {
                if url.starts_with("wss://") {
                    return Err(format!(
                        "url {url:?}: wss:// is not supported yet; use ws:// (e.g. behind a local TLS proxy)"
                    ));
                }
                if !url.starts_with("ws://") {
                    return Err(format!("url {url:?}: must start with ws://"));
                }
            }
            SourceSpec::Udp { .. } | SourceSpec::Ingest => {}
        }
        Ok(())
    }
}

/// A source and what to do when it keeps failing. (Unknown keys are rejected by [`SourceSpec`]; serde cannot deny
/// them here as well because the spec is flattened into this struct.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceConfig {
    /// The source.
    #[serde(flatten)]
    pub spec: SourceSpec,
    /// Run the simulator (labelled simulated) after this many consecutive failures of a live source: connection
    /// attempts for a WebSocket feed, 5-second silences for UDP. Off when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_after: Option<u32>,
}

impl SourceConfig {
    /// The simulator with default settings.
    pub fn simulator() -> Self {
        SourceConfig {
            spec: SourceSpec::Simulator {
                seed: default_seed(),
                speed: default_sim_speed(),
                laps: default_laps(),
                restart_after_s: None,
            },
            fallback_after: None,
        }
    }
}

/// The state of a source's connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Connection {
    /// Starting, binding or connecting.
    #[default]
    Connecting,
    /// Receiving (for UDP: bound; data may not have arrived yet).
    Connected,
    /// Lost; retrying with backoff.
    Disconnected,
    /// A replay reached its end.
    Finished,
    /// Gave up (e.g. the recording cannot be read).
    Failed,
}

/// Counters and health of the running source, shared between its task and the API.
#[derive(Debug, Default)]
pub struct SourceStats {
    inner: Mutex<StatsInner>,
}

#[derive(Debug, Default)]
struct StatsInner {
    connection: Connection,
    bound: Option<SocketAddr>,
    received: u64,
    forwarded: u64,
    packets: BTreeMap<&'static str, u64>,
    errors: BTreeMap<&'static str, u64>,
    last_error: Option<String>,
    last_packet: Option<Instant>,
    window_start: Option<Instant>,
    window_count: u64,
    packets_per_s: f64,
    recording: Option<PathBuf>,
    fallback_active: bool,
    reconnects: u64,
}

impl SourceStats {
    fn with<T>(&self, f: impl FnOnce(&mut StatsInner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Sets the connection state.
    pub fn set_connection(&self, c: Connection) {
        self.with(|s| s.connection = c);
    }

    /// Records the address a socket source is bound to.
    pub fn set_bound(&self, at: SocketAddr) {
        self.with(|s| s.bound = Some(at));
    }

    /// Counts one received message or datagram; `kind` is the packet type on success, the error kind otherwise.
    pub fn count(&self, result: Result<&'static str, (&'static str, String)>, forwarded: u64) {
        self.with(|s| {
            let now = Instant::now();
            s.received += 1;
            s.forwarded += forwarded;
            s.last_packet = Some(now);
            match result {
                Ok(kind) => *s.packets.entry(kind).or_default() += 1,
                Err((kind, message)) => {
                    *s.errors.entry(kind).or_default() += 1;
                    s.last_error = Some(message);
                }
            }
            let start = *s.window_start.get_or_insert(now);
            s.window_count += 1;
            let span = now.duration_since(start);
            if span >= Duration::from_secs(1) {
                s.packets_per_s = s.window_count as f64 / span.as_secs_f64();
                s.window_start = Some(now);
                s.window_count = 0;
            }
        });
    }

    /// Counts an error that is not about one message (a failed connection attempt, a failed write).
    pub fn error(&self, kind: &'static str, message: String) {
        self.with(|s| {
            *s.errors.entry(kind).or_default() += 1;
            s.last_error = Some(message);
        });
    }

    /// Counts a reconnect attempt.
    pub fn reconnecting(&self) {
        self.with(|s| {
            s.reconnects += 1;
            s.connection = Connection::Disconnected;
        });
    }

    /// Records the file being recorded into.
    pub fn set_recording(&self, path: Option<PathBuf>) {
        self.with(|s| s.recording = path);
    }

    /// Whether the simulator currently stands in for the live source.
    pub fn set_fallback(&self, active: bool) {
        self.with(|s| s.fallback_active = active);
    }

    /// Whether the simulator currently stands in for the live source.
    pub fn fallback_active(&self) -> bool {
        self.with(|s| s.fallback_active)
    }
}

/// Body of `GET /api/v1/source`.
#[derive(Clone, Debug, Serialize)]
pub struct SourceStatus {
    /// Version of the API's JSON shapes.
    pub schema_version: u32,
    /// `simulator`, `udp`, `replay`, `race`, `ws_feed` or `ingest`.
    pub mode: &'static str,
    /// True when what is published is simulated (the simulator, or the fallback standing in).
    pub simulated: bool,
    /// The configuration in force.
    pub config: SourceConfig,
    /// Connection state.
    pub connection: Connection,
    /// The socket's local address, for UDP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound: Option<SocketAddr>,
    /// Datagrams or feed frames received (each frame of a batch counts once), plus rejected messages.
    pub received: u64,
    /// Received per second, over the last second or so.
    pub packets_per_s: f64,
    /// Seconds since the last message, if any.
    pub last_packet_age_s: Option<f64>,
    /// Decoded packets by type (EA packet name, or `feed_frame`).
    pub packets: BTreeMap<&'static str, u64>,
    /// Errors by kind.
    pub errors: BTreeMap<&'static str, u64>,
    /// The last error's message.
    pub last_error: Option<String>,
    /// Datagrams forwarded (once per destination).
    pub forwarded: u64,
    /// Reconnect attempts so far.
    pub reconnects: u64,
    /// The recording being written, if any.
    pub recording: Option<PathBuf>,
    /// Whether the simulator is standing in for a failing live source.
    pub fallback_active: bool,
}

/// Settings every source shares, fixed at start.
#[derive(Clone, Debug)]
pub struct SourceContext {
    /// States published per second, at most.
    pub rate_hz: f64,
    /// Where UDP sessions are recorded; `None` disables recording.
    pub record_dir: Option<PathBuf>,
}

/// The running source and the means to replace it.
#[derive(Clone, Debug)]
pub struct Sources {
    hub: Hub,
    context: SourceContext,
    current: Arc<Mutex<Running>>,
    /// Serialises switches so two `PUT`s cannot interleave stopping and starting.
    switching: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Debug)]
struct Running {
    config: SourceConfig,
    stats: Arc<SourceStats>,
    cancel: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    ingest: Option<Arc<Mutex<IngestState>>>,
    /// Stopped and not replaced (yet): no intake, not even ingest.
    stopped: bool,
}

/// What `POST /api/v1/ingest` feeds.
#[derive(Debug)]
struct IngestState {
    normalizer: FeedNormalizer,
    publish: Publisher,
}

/// Why a request to the sources failed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The configuration is invalid.
    #[error("{0}")]
    Invalid(String),
    /// The source cannot start (e.g. the port is taken).
    #[error("{0}")]
    Unavailable(String),
    /// Ingest was called while another source runs.
    #[error(
        "the source is {0}; switch to ingest with PUT /api/v1/source {{\"mode\": \"ingest\"}} first"
    )]
    NotIngest(&'static str),
    /// The relay is shutting down: the intake is closed.
    #[error("the relay is shutting down")]
    ShuttingDown,
}

impl Sources {
    /// Starts `config` (with `udp`, a socket the caller already bound for a UDP source, as tests do with port 0).
    ///
    /// # Errors
    /// [`SourceError`] if the source cannot start.
    pub async fn start(
        hub: Hub,
        context: SourceContext,
        config: SourceConfig,
        udp: Option<tokio::net::UdpSocket>,
    ) -> Result<Self, SourceError> {
        let (cancel, _) = watch::channel(false);
        let sources = Sources {
            hub,
            context,
            current: Arc::new(Mutex::new(Running {
                config: SourceConfig::simulator(),
                stats: Arc::default(),
                cancel,
                task: None,
                ingest: None,
                stopped: false,
            })),
            switching: Arc::default(),
        };
        sources.switch_with(config, udp, false).await?;
        Ok(sources)
    }

    /// The running source's status.
    pub fn status(&self) -> SourceStatus {
        let running = self.lock();
        running.stats.with(|s| {
            let age = s.last_packet.map(|t| t.elapsed().as_secs_f64());
            SourceStatus {
                schema_version: boxbox_engine::wire::SCHEMA_VERSION,
                mode: running.config.spec.mode(),
                simulated: matches!(running.config.spec, SourceSpec::Simulator { .. })
                    || s.fallback_active,
                config: running.config.clone(),
                connection: s.connection,
                bound: s.bound,
                received: s.received,
                // A rate that stopped updating because packets stopped is stale: zero after two quiet seconds.
                packets_per_s: if age.is_some_and(|a| a < 2.0) {
                    s.packets_per_s
                } else {
                    0.0
                },
                last_packet_age_s: age,
                packets: s.packets.clone(),
                errors: s.errors.clone(),
                last_error: s.last_error.clone(),
                forwarded: s.forwarded,
                reconnects: s.reconnects,
                recording: s.recording.clone(),
                fallback_active: s.fallback_active,
            }
        })
    }

    /// Stops the running source and starts `config`. The hub starts a fresh session.
    ///
    /// # Errors
    /// [`SourceError`] if `config` is invalid or cannot start. The old source is stopped only once the new one has
    /// passed its checks (and bound its socket), so a typo in a `PUT` does not take the pit wall down.
    pub async fn switch(&self, config: SourceConfig) -> Result<(), SourceError> {
        self.switch_with(config, None, true).await
    }

    /// Starts `config` in place of the running source. `fresh` starts a new session in the hub at once (a
    /// switch); at start-up the source begins its session itself, so a restored one can go on.
    async fn switch_with(
        &self,
        config: SourceConfig,
        udp: Option<tokio::net::UdpSocket>,
        fresh: bool,
    ) -> Result<(), SourceError> {
        config.spec.validate().map_err(SourceError::Invalid)?;
        let _switching = self.switching.lock().await;
        // Bind a UDP socket before stopping anything: a port in use is reported and the old source keeps running.
        let udp = match (&config.spec, udp) {
            (_, Some(socket)) => Some(socket),
            (SourceSpec::Udp { bind, .. }, None) => {
                Some(tokio::net::UdpSocket::bind(bind).await.map_err(|e| {
                    SourceError::Unavailable(format!("cannot listen for UDP on {bind}: {e}"))
                })?)
            }
            _ => None,
        };
        if let SourceSpec::Replay { file, .. } = &config.spec
            && !file.is_file()
        {
            return Err(SourceError::Invalid(format!(
                "no recording at {}",
                file.display()
            )));
        }
        // Import a real race before stopping anything: a missing file or a bad row is a 400 naming it.
        let real_race = match &config.spec {
            SourceSpec::Race { dir, .. } => {
                let dir = dir.clone();
                let loaded = tokio::task::spawn_blocking(move || race::load(&dir))
                    .await
                    .map_err(|e| SourceError::Unavailable(e.to_string()))?;
                Some(loaded.map_err(|e| SourceError::Invalid(format!("{e:#}")))?)
            }
            _ => None,
        };
        self.stop().await;
        if fresh {
            self.hub.reset();
        }
        let stats = Arc::new(SourceStats::default());
        let (cancel, cancelled) = watch::channel(false);
        let publisher = Publisher::new(
            self.hub.clone(),
            self.context.rate_hz,
            matches!(
                config.spec,
                SourceSpec::Replay { .. } | SourceSpec::Race { .. }
            ),
        );
        let mut ingest = None;
        let task = match &config.spec {
            SourceSpec::Simulator {
                seed,
                speed,
                laps,
                restart_after_s,
            } => {
                stats.set_connection(Connection::Connected);
                let sim = simulator::SimSettings {
                    seed: *seed,
                    speed: *speed,
                    laps: *laps,
                    rate_hz: self.context.rate_hz,
                    restart_after_s: *restart_after_s,
                };
                Some(tokio::spawn(simulator::run(
                    self.hub.clone(),
                    sim,
                    cancelled,
                )))
            }
            SourceSpec::Udp { forward, .. } => {
                let socket = udp.ok_or_else(|| SourceError::Unavailable("no socket".into()))?;
                let settings = udp::UdpSettings {
                    forward: forward.clone(),
                    record_dir: self.context.record_dir.clone(),
                    fallback: self.fallback(&config),
                };
                Some(tokio::spawn(udp::run(
                    socket,
                    settings,
                    publisher,
                    stats.clone(),
                    cancelled,
                )))
            }
            SourceSpec::Replay {
                file,
                speed,
                start_s,
            } => Some(tokio::spawn(replay::serve(
                file.clone(),
                replay::PlayOptions {
                    speed: *speed,
                    start_s: *start_s,
                    fast_forward_per_s: None,
                },
                publisher,
                stats.clone(),
                cancelled,
            ))),
            SourceSpec::Race { speed, .. } => {
                let race = real_race.ok_or_else(|| SourceError::Unavailable("no race".into()))?;
                Some(tokio::spawn(race::serve(
                    race,
                    *speed,
                    publisher,
                    stats.clone(),
                    cancelled,
                )))
            }
            SourceSpec::WsFeed { url } => Some(tokio::spawn(feed::run_ws(
                url.clone(),
                publisher,
                stats.clone(),
                self.fallback(&config),
                cancelled,
            ))),
            SourceSpec::Ingest => {
                stats.set_connection(Connection::Connected);
                ingest = Some(Arc::new(Mutex::new(IngestState {
                    normalizer: FeedNormalizer::new(),
                    publish: publisher,
                })));
                None
            }
        };
        tracing::info!(mode = config.spec.mode(), ?config, "source started");
        *self.lock() = Running {
            config,
            stats,
            cancel,
            task,
            ingest,
            stopped: false,
        };
        Ok(())
    }

    /// Feeds frames posted to `/api/v1/ingest`; returns how many were applied (a frame older than the last one is
    /// not: it is counted as a `stale_feed` error).
    ///
    /// # Errors
    /// [`SourceError::NotIngest`] when another source is running.
    pub fn ingest(&self, frames: Vec<FeedFrame>) -> Result<usize, SourceError> {
        let (state, stats) = self.ingest_state()?;
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        for frame in frames {
            let pushed = count_frame(&mut state.normalizer, frame, &stats);
            if pushed == Pushed::NewSession {
                state.publish.begin_session(None);
            }
            n += usize::from(pushed.applied());
        }
        if let Some(race) = state.normalizer.state() {
            // Ingest is paced by the poster: publish every batch.
            state.publish.publish_now(race);
        }
        Ok(n)
    }

    /// Counts a rejected ingest body against the ingest source (nothing when another source runs).
    pub fn ingest_rejected(&self, message: String) {
        if let Ok((_, stats)) = self.ingest_state() {
            stats.count(Err(("invalid_feed", message)), 0);
        }
    }

    /// Whether `POST /api/v1/ingest` is accepted now.
    ///
    /// # Errors
    /// [`SourceError::NotIngest`] naming the running source.
    pub fn check_ingest(&self) -> Result<(), SourceError> {
        self.ingest_state().map(|_| ())
    }

    /// The ingest source's normalizer and counters, if ingest is the running source.
    fn ingest_state(&self) -> Result<(Arc<Mutex<IngestState>>, Arc<SourceStats>), SourceError> {
        let running = self.lock();
        match &running.ingest {
            Some(state) => Ok((state.clone(), running.stats.clone())),
            None if running.stopped => Err(SourceError::ShuttingDown),
            None => Err(SourceError::NotIngest(running.config.spec.mode())),
        }
    }

    /// Stops the running source (at shutdown, or before a switch), flushing any recording. Ingest is closed too:
    /// nothing reaches the hub until a source is started again.
    pub async fn stop(&self) {
        let task = {
            let mut running = self.lock();
            let _ = running.cancel.send(true);
            running.ingest = None;
            running.stopped = true;
            running.task.take()
        };
        if let Some(task) = task {
            // Sources finish promptly on cancel (recordings are flushed); do not wait forever on one that hangs.
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(3), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }

    fn fallback(&self, config: &SourceConfig) -> Option<Fallback> {
        config.fallback_after.map(|after| Fallback {
            after_failures: after.max(1),
            hub: self.hub.clone(),
            rate_hz: self.context.rate_hz,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Running> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Publishes a source's states to the hub at most `rate_hz` times a second, labelled by source kind.
#[derive(Debug)]
pub struct Publisher {
    hub: Hub,
    min_interval: Duration,
    last: Option<Instant>,
    replay: bool,
    /// A newer state exists than the last one published (held back by the rate limit).
    pending: bool,
    /// A session has been begun in the hub ([`Publisher::begin_session`], or the first publish).
    begun: bool,
}

impl Publisher {
    /// A publisher into `hub`; `replay` labels states as played back.
    pub fn new(hub: Hub, rate_hz: f64, replay: bool) -> Self {
        Publisher {
            hub,
            min_interval: Duration::from_secs_f64(1.0 / rate_hz),
            last: None,
            replay,
            pending: false,
            begun: false,
        }
    }

    /// Notes that a newer state exists than the last one published; the source publishes it once the interval
    /// allows, so the last state before a pause in the data is never held back.
    pub fn hold(&mut self) {
        self.pending = true;
    }

    /// When a held-back state may be published, if one is waiting.
    pub fn held_until(&self) -> Option<Instant> {
        self.pending.then(|| {
            self.last
                .map_or_else(Instant::now, |t| t + self.min_interval)
        })
    }

    /// Whether a state is due (the rate limit allows one now).
    pub fn due(&self) -> bool {
        self.last.is_none_or(|t| t.elapsed() >= self.min_interval)
    }

    /// Publishes `state` now, whatever the rate. The first state begins a session of its own unless
    /// [`Publisher::begin_session`] named one.
    pub fn publish_now(&mut self, mut state: RaceState) {
        if !self.begun {
            self.begin_session(None);
        }
        if self.replay {
            state.source = boxbox_engine::wire::DataSource::Replay;
        }
        self.hub.publish(state);
        self.last = Some(Instant::now());
        self.pending = false;
    }

    /// Begins the session the source calls `key` (see [`Hub::begin_session`]): a restored session of the same
    /// key goes on, anything else starts afresh.
    pub fn begin_session(&mut self, key: Option<String>) {
        // A recording played back is never the live session it was recorded from.
        let key = key.filter(|_| !self.replay);
        if self.hub.begin_session(key).is_some() {
            tracing::info!("the restored session goes on");
        }
        self.begun = true;
        self.last = None;
        self.pending = false;
    }
}

/// The simulator standing in for a failing live source.
#[derive(Clone, Debug)]
pub struct Fallback {
    /// Consecutive failures before it starts.
    pub after_failures: u32,
    hub: Hub,
    rate_hz: f64,
}

/// A running fallback simulator; dropping it does not stop it, [`FallbackRun::stop`] does.
#[derive(Debug)]
pub struct FallbackRun {
    cancel: watch::Sender<bool>,
    task: JoinHandle<()>,
    hub: Hub,
}

impl Fallback {
    /// Starts the simulator (seed 1, real time) and marks the stats.
    pub fn start(&self, stats: &SourceStats) -> FallbackRun {
        tracing::warn!(
            after = self.after_failures,
            "the live source keeps failing; the simulator stands in (labelled simulated)"
        );
        stats.set_fallback(true);
        self.hub.reset();
        let (cancel, cancelled) = watch::channel(false);
        let settings = simulator::SimSettings {
            seed: default_seed(),
            speed: 1.0,
            laps: default_laps(),
            rate_hz: self.rate_hz,
            restart_after_s: Some(30.0),
        };
        FallbackRun {
            cancel,
            task: tokio::spawn(simulator::run(self.hub.clone(), settings, cancelled)),
            hub: self.hub.clone(),
        }
    }
}

impl FallbackRun {
    /// Stops the stand-in simulator and clears its data from the hub: live data is coming back.
    pub async fn stop(self, stats: &SourceStats) {
        let _ = self.cancel.send(true);
        let _ = self.task.await;
        stats.set_fallback(false);
        self.hub.reset();
        tracing::info!("the live source is back; the stand-in simulator stopped");
    }
}

/// A jitter unit in `0..1` for reconnect backoff. Not reproducible on purpose: relays restarted together must not
/// reconnect in lockstep. Uses std's randomly keyed hasher, so no RNG crate is needed for this one number.
pub fn jitter_unit(attempt: u32) -> f64 {
    use std::hash::BuildHasher;
    let bits = std::collections::hash_map::RandomState::new().hash_one(attempt);
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// Feeds `frame` to `normalizer` and counts it: a frame, or a `stale_feed` error when it is older than the last one
/// (ignored: a feed resending after a reconnect, or one whose clock went back), and a `too_many_cars` error for cars
/// it had to leave out. On [`Pushed::NewSession`] the caller begins a new session in the hub.
pub(crate) fn count_frame(
    normalizer: &mut FeedNormalizer,
    frame: boxbox_engine::feed::FeedFrame,
    stats: &SourceStats,
) -> Pushed {
    let t = frame.timestamp.0;
    let refused = normalizer.refused_cars();
    let pushed = normalizer.push(frame);
    match pushed {
        Pushed::Applied => stats.count(Ok("feed_frame"), 0),
        Pushed::NewSession => {
            tracing::info!("the feed began another session (track, session type or field changed)");
            stats.count(Ok("feed_frame"), 0);
        }
        Pushed::Stale => stats.count(
            Err((
                "stale_feed",
                format!("a frame at t = {t} s is older than the last one: ignored"),
            )),
            0,
        ),
    }
    let left_out = normalizer.refused_cars() - refused;
    if left_out > 0 {
        stats.error(
            "too_many_cars",
            format!(
                "{left_out} car(s) left out: the feed used {} car ids in this session already",
                boxbox_engine::feed::MAX_CARS
            ),
        );
    }
    pushed
}
