//! The hub: the latest race state, its lap history, and the broadcast channel that fans updates out to clients.
//!
//! Each update is serialized to JSON once and shared by every client ([`Utf8Bytes`] clones are reference counts).
//! The channel is bounded: a client that falls more than [`UPDATE_BUFFER`] updates behind gets a `Lagged` error and
//! is resynchronised with a fresh snapshot instead of slowing anyone else down.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use axum::extract::ws::Utf8Bytes;
use boxbox_engine::history::LapRecorder;
use boxbox_engine::protocol::ServerMessage;
use boxbox_engine::wire::RaceState;
use tokio::sync::broadcast;

/// Updates a client may fall behind before it is resynchronised with a snapshot.
pub const UPDATE_BUFFER: usize = 64;

/// Shared handle to the relay's live data. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Hub {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    latest: RwLock<Latest>,
    updates: broadcast::Sender<Utf8Bytes>,
    clients: AtomicUsize,
}

#[derive(Debug, Default)]
struct Latest {
    state: Option<RaceState>,
    recorder: LapRecorder,
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
        let (updates, _) = broadcast::channel(UPDATE_BUFFER);
        Hub {
            inner: Arc::new(Inner {
                latest: RwLock::new(Latest::default()),
                updates,
                clients: AtomicUsize::new(0),
            }),
        }
    }

    /// Forgets the history: a new session starts.
    pub fn reset(&self) {
        let mut latest = self.inner.latest.write().unwrap_or_else(|e| e.into_inner());
        *latest = Latest::default();
    }

    /// Makes `state` the latest, books any completed laps, and sends it to every subscriber.
    pub fn publish(&self, state: RaceState) {
        let message = ServerMessage::Update { state };
        let json = match serde_json::to_string(&message) {
            Ok(json) => json,
            Err(e) => {
                tracing::error!("cannot serialize a state update: {e}");
                return;
            }
        };
        let ServerMessage::Update { state } = message else {
            return;
        };
        {
            let mut latest = self.inner.latest.write().unwrap_or_else(|e| e.into_inner());
            latest.recorder.observe(&state);
            latest.state = Some(state);
        }
        // An error only means nobody is listening right now.
        let _ = self.inner.updates.send(Utf8Bytes::from(json));
    }

    /// The snapshot message for a client that is (re)starting: the latest state and the whole lap history.
    pub fn snapshot_json(&self) -> Option<Utf8Bytes> {
        let latest = self.inner.latest.read().unwrap_or_else(|e| e.into_inner());
        let state = latest.state.clone()?;
        let message = ServerMessage::Snapshot {
            state,
            history: latest.recorder.records().to_vec(),
        };
        drop(latest);
        match serde_json::to_string(&message) {
            Ok(json) => Some(Utf8Bytes::from(json)),
            Err(e) => {
                tracing::error!("cannot serialize a snapshot: {e}");
                None
            }
        }
    }

    /// The latest state, if any.
    pub fn latest_state(&self) -> Option<RaceState> {
        self.inner
            .latest
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .state
            .clone()
    }

    /// A receiver of every update published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Utf8Bytes> {
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

impl Default for Hub {
    fn default() -> Self {
        Hub::new()
    }
}
