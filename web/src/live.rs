//! The live feed: a WebSocket to the relay's `/ws`, decoded into signals, with reconnect and exponential backoff,
//! and the twins run here in WASM on the streamed states.
//!
//! Every state feeds one [`Twins`] kept here (seeded with the lap history the snapshot carries, so the browser's
//! twins learn from the same laps as the relay's). Its [`TwinReport`] is recomputed when the
//! [`ReportSchedule`] says so: soon after a lap or an event, else at most once a second.

use std::sync::Arc;

use boxbox_engine::protocol::{ClientMessage, Replica, ServerMessage};
use boxbox_engine::twin::{TwinParams, TwinReport, Twins};
use boxbox_engine::wire::{LapRecord, RaceState};
use futures::future::AbortHandle;
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::Message;
use gloo_net::websocket::futures::WebSocket;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::schedule::{Refresh, ReportSchedule};
use crate::view_model;
use crate::view_model::traces::LapTraces;

/// State of the connection to the relay.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Connection {
    /// First attempt under way.
    Connecting,
    /// Receiving data.
    Live,
    /// Lost; the next attempt is due in this many seconds.
    Reconnecting {
        /// Seconds until the next attempt.
        in_s: f64,
        /// Consecutive failed attempts.
        attempt: u32,
    },
    /// No relay: an offline replay feeds the signals, and the relay's WebSocket stays closed.
    Offline,
    /// The relay refuses this page (no token where reads need one, an expired or foreign token): the WebSocket is
    /// closed for good and the page says why ([`crate::share::PageAccess`]).
    Denied,
}

/// The live data as signals. `Copy`: hand it to any component.
#[derive(Clone, Copy, Debug)]
pub struct LiveFeed {
    /// The latest state, once one arrived.
    pub state: RwSignal<Option<RaceState>>,
    /// The connection's state.
    pub connection: RwSignal<Connection>,
    /// The twins' latest report (up to a second older than `state`).
    pub report: RwSignal<Option<Arc<TwinReport>>>,
    /// The twins, fed every state (not reactive: `report` is what components read).
    twins: StoredValue<Twins>,
    /// When to recompute `report`.
    schedule: StoredValue<ReportSchedule>,
    /// A recomputation is queued behind the latest state's render.
    report_queued: StoredValue<bool>,
    /// Times the twins restarted (a snapshot, a new session, a replay's seek).
    epoch: StoredValue<u64>,
    /// Sessions seen (a source switch, another race, a replay opened): what was computed for one is not another's.
    session: StoredValue<u64>,
    /// The relay's state rebuilt from its snapshot and deltas.
    replica: StoredValue<Replica>,
    /// Every car's telemetry along its lap, fed every state (not reactive: the Charts view reads it once a lap).
    traces: StoredValue<LapTraces>,
    /// Rivals chosen on the Car panel: `(car, rival)`; a car not listed is compared with the car ahead.
    pub rivals: RwSignal<Vec<(u8, u8)>>,
}

impl LiveFeed {
    /// An empty feed.
    pub fn new() -> Self {
        LiveFeed {
            state: RwSignal::new(None),
            connection: RwSignal::new(Connection::Connecting),
            report: RwSignal::new(None),
            twins: StoredValue::new(Twins::new(TwinParams::PIT_WALL)),
            schedule: StoredValue::new(ReportSchedule::new()),
            report_queued: StoredValue::new(false),
            epoch: StoredValue::new(0),
            session: StoredValue::new(0),
            replica: StoredValue::new(Replica::new()),
            traces: StoredValue::new(LapTraces::new()),
            rivals: RwSignal::new(Vec::new()),
        }
    }

    /// Applies one message from the relay: a snapshot restarts the twins, a delta is applied to the last state.
    /// Returns false when a delta did not follow the last state (a sequence gap): the caller asks for a snapshot,
    /// and deltas are dropped until it comes.
    pub fn apply(&self, message: ServerMessage) -> bool {
        let received = self
            .replica
            .try_update_value(|r| r.receive(&message).map(|s| s.cloned()));
        let state = match received {
            Some(Ok(Some(state))) => state,
            Some(Ok(None)) | None => return true,
            Some(Err(e)) => {
                leptos::logging::warn!("{e}: asking the relay for a snapshot");
                return false;
            }
        };
        match message {
            ServerMessage::Snapshot { history, .. } => self.start(state, history),
            _ => self.update(state),
        }
        true
    }

    /// A state with the session's lap history so far: the twins restart from that history (the relay's snapshot,
    /// or an offline replay after a seek).
    pub fn start(&self, state: RaceState, history: Vec<LapRecord>) {
        self.note_session(&state);
        self.restart(Twins::with_history(TwinParams::PIT_WALL, history));
        self.observe(state);
    }

    /// The session's next state (the relay's update, or an offline replay's tick).
    pub fn update(&self, state: RaceState) {
        // A source switch starts a new session without a new snapshot: forget the old one's laps.
        // The first state of all comes in a snapshot (`start`).
        let first = self.state.with_untracked(Option::is_none);
        if self.note_session(&state) && !first {
            self.restart(Twins::new(TwinParams::PIT_WALL));
        }
        self.observe(state);
    }

    fn observe(&self, state: RaceState) {
        let changed = self.twins.try_update_value(|twins| {
            let laps = twins.records().len();
            let events = twins.observe(&state);
            twins.records().len() != laps || !events.is_empty()
        });
        self.traces.update_value(|traces| traces.observe(&state));
        crate::render_timing::timed(|| self.state.set(Some(state)));
        let now = now_ms();
        let refresh = self
            .schedule
            .try_update_value(|s| s.on_state(changed.unwrap_or(true), now))
            .unwrap_or(Refresh::Now);
        self.follow(refresh);
    }

    /// Compares `car` with `rival` on the Car panel (the car ahead with `None`), at once.
    pub fn set_rival(&self, car: u8, rival: Option<u8>) {
        self.rivals.update(|rivals| {
            rivals.retain(|(c, _)| *c != car);
            if let Some(rival) = rival.filter(|r| *r != car) {
                rivals.push((car, rival));
            }
        });
        self.recompute();
    }

    /// The rival chosen for `car`, tracked.
    pub fn rival_of(&self, car: u8) -> Option<u8> {
        self.rivals
            .with(|rivals| rivals.iter().find(|(c, _)| *c == car).map(|(_, r)| *r))
    }

    /// Reads every car's recorded lap telemetry, without tracking.
    pub fn with_traces<R>(&self, f: impl FnOnce(&LapTraces) -> R) -> Option<R> {
        self.traces.try_with_value(f)
    }

    /// Reads the twins' lap history (every car's completed laps this session), without tracking.
    pub fn with_records<R>(&self, f: impl FnOnce(&[LapRecord]) -> R) -> Option<R> {
        self.twins.try_with_value(|twins| f(twins.records()))
    }

    /// How many times the twins restarted: their strategy generation counts from scratch after each, so the same
    /// generation in another epoch is another moment of the race (a replay's seek).
    pub fn epoch(&self) -> u64 {
        self.epoch.try_get_value().unwrap_or(0)
    }

    /// The session the latest state belongs to, counted from 1 (0 before any state).
    pub fn session(&self) -> u64 {
        self.session.try_get_value().unwrap_or(0)
    }

    /// Counts a new session when `state` does not continue the latest one.
    fn note_session(&self, state: &RaceState) -> bool {
        let new = self.state.with_untracked(|prev| {
            prev.as_ref()
                .is_none_or(|prev| view_model::new_session(prev, state))
        });
        if new {
            self.session.update_value(|s| *s += 1);
        }
        new
    }

    fn restart(&self, twins: Twins) {
        self.epoch.update_value(|e| *e += 1);
        self.twins.set_value(twins);
        self.traces.update_value(LapTraces::clear);
        self.schedule.set_value(ReportSchedule::new());
    }

    /// Does what the schedule asked.
    fn follow(&self, refresh: Refresh) {
        match refresh {
            // Not before the state is on screen: the report is queued behind the state's render effects, so a
            // new state is never held back by the twins' computation. One queued at a time: it reads the latest
            // state when it runs.
            Refresh::Now => {
                if self.report_queued.try_get_value() == Some(false) {
                    self.report_queued.set_value(true);
                    let feed = *self;
                    wasm_bindgen_futures::spawn_local(async move {
                        feed.report_queued.set_value(false);
                        feed.recompute();
                    });
                }
            }
            Refresh::After { delay_ms } => {
                let feed = *self;
                // A task, not a forgotten `Timeout`: that leaked its closure about once a second while live.
                wasm_bindgen_futures::spawn_local(async move {
                    gloo_timers::future::TimeoutFuture::new(delay_ms.ceil() as u32).await;
                    let now = now_ms();
                    if let Some(refresh) = feed.schedule.try_update_value(|s| s.on_timer(now)) {
                        feed.follow(refresh);
                    }
                });
            }
            Refresh::Wait => {}
        }
    }

    /// Computes the report from the latest state.
    fn recompute(&self) {
        crate::render_timing::timed_report(|| {
            let report = self.state.with_untracked(|state| {
                let state = state.as_ref()?;
                let rivals = self.rivals.get_untracked();
                self.twins
                    .try_with_value(|twins| twins.report_with_rivals(state, &rivals))
            });
            if let Some(report) = report {
                self.report.set(Some(Arc::new(report)));
            }
        });
        let now = now_ms();
        self.schedule.update_value(|s| s.computed(now));
    }
}

impl Default for LiveFeed {
    fn default() -> Self {
        LiveFeed::new()
    }
}

/// The page's clock, in milliseconds (the schedule only compares two readings).
fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// The relay's `/ws` URL for the page's own origin (without a token: see
/// [`crate::view_model::share::with_token`]).
pub fn default_ws_url() -> Option<String> {
    let location = web_sys::window()?.location();
    let host = location.host().ok()?;
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    Some(format!("{scheme}://{host}/ws"))
}

/// Connects `feed` to the relay's `/ws` at `url` and keeps it connected for the life of the page, or until the
/// returned handle is aborted (an offline replay takes over the feed): that drops the WebSocket, which closes it,
/// and ends the reconnect loop.
pub fn connect(feed: LiveFeed, url: String) -> AbortHandle {
    keep_connected(feed, url, move |ws| relay_session(feed, ws))
}

/// After this long with no message from the relay the page asks for a pong; after twice this long it gives the
/// connection up and reconnects. A half-open connection (the tablet roamed to another access point, a NAT forgot
/// the route) never closes by itself, and the pit wall would show a stale race as live.
pub(crate) const QUIET_MS: u32 = 5_000;

/// What a connection's reader hears next.
pub(crate) enum Heard<T> {
    /// A frame.
    Frame(T),
    /// The connection closed.
    Closed,
    /// [`QUIET_MS`] without a frame: ask the other end for a pong.
    Ping,
    /// Twice that: the connection is dead (half-open), give it up.
    GiveUp,
}

/// Reads a connection's frames, noticing silence (see [`QUIET_MS`]).
#[derive(Debug, Default)]
pub(crate) struct Listener {
    pinged: bool,
}

impl Listener {
    /// The next frame of `rx`, or what its silence means.
    pub(crate) async fn next<S: futures::Stream + Unpin>(&mut self, rx: &mut S) -> Heard<S::Item> {
        let quiet = gloo_timers::future::TimeoutFuture::new(QUIET_MS);
        let heard = match futures::future::select(rx.next(), quiet).await {
            futures::future::Either::Left((Some(frame), _)) => Heard::Frame(frame),
            futures::future::Either::Left((None, _)) => Heard::Closed,
            futures::future::Either::Right(_) if self.pinged => Heard::GiveUp,
            futures::future::Either::Right(_) => Heard::Ping,
        };
        self.pinged = matches!(heard, Heard::Ping);
        heard
    }
}

/// How long a connection must last for the reconnect backoff to start over.
const STABLE_MS: f64 = 10_000.0;

/// One `/ws` connection: messages into `feed` until it closes or goes quiet (see [`QUIET_MS`]); after a sequence
/// gap, asks once for a snapshot. Returns whether any message came (which resets the backoff).
async fn relay_session(feed: LiveFeed, ws: WebSocket) -> bool {
    let mut received = false;
    // Deltas refused since the last resync was asked for: the deltas until its snapshot fail too, and each asking
    // again would bring a snapshot each (every one restarts the twins and the desk). Asked again only after
    // `RESYNC_AGAIN` more, in case the answer never comes.
    const RESYNC_AGAIN: u32 = 50;
    let mut refused: Option<u32> = None;
    let mut listener = Listener::default();
    let (mut tx, mut rx) = ws.split();
    loop {
        let frame = match listener.next(&mut rx).await {
            Heard::Frame(frame) => frame,
            Heard::Closed => break,
            Heard::GiveUp => {
                leptos::logging::warn!(
                    "the relay sent nothing for {} s: reconnecting",
                    2 * QUIET_MS / 1000
                );
                break;
            }
            Heard::Ping => {
                let ping =
                    serde_json::to_string(&ClientMessage::Ping { id: None }).unwrap_or_default();
                if tx.send(Message::Text(ping)).await.is_err() {
                    break;
                }
                continue;
            }
        };
        let Ok(Message::Text(text)) = frame else {
            break;
        };
        match crate::relay_message::decode(&text) {
            Ok(message) => {
                received = true;
                // Set only on a change: every `set` wakes what reads it (the wake lock, the session badge).
                if feed.connection.get_untracked() != Connection::Live {
                    feed.connection.set(Connection::Live);
                }
                let snapshot = matches!(message, ServerMessage::Snapshot { .. });
                if feed.apply(message) {
                    if snapshot {
                        refused = None;
                    }
                } else {
                    let n = refused.map_or(0, |n| n + 1);
                    refused = Some(n);
                    if n.is_multiple_of(RESYNC_AGAIN) {
                        let resync =
                            serde_json::to_string(&ClientMessage::Resync).unwrap_or_default();
                        if tx.send(Message::Text(resync)).await.is_err() {
                            break;
                        }
                    }
                }
            }
            Err(e) => leptos::logging::warn!("ignoring a message from the relay: {e}"),
        }
    }
    received
}

/// Opens a WebSocket to `url` and runs `session` on it until it ends, then waits a jittered, growing backoff
/// (shown as [`Connection::Reconnecting`]) and opens it again, for the life of the page or until the returned
/// handle is aborted. `session` returns whether the connection carried data, which starts the backoff over. The
/// relay's `/ws` and a NATS server's WebSocket (`crate::nats_feed`) share this loop.
pub(crate) fn keep_connected<S, F>(feed: LiveFeed, url: String, mut session: S) -> AbortHandle
where
    S: FnMut(WebSocket) -> F + 'static,
    F: std::future::Future<Output = bool> + 'static,
{
    let (connection, handle) = futures::future::abortable(async move {
        let mut attempt = 0u32;
        loop {
            match WebSocket::open(&url) {
                Ok(ws) => {
                    // Only a connection that carried data and lasted starts the backoff over: one that sends a
                    // snapshot and drops at once would be reopened twice a second.
                    let opened = now_ms();
                    if session(ws).await && now_ms() - opened >= STABLE_MS {
                        attempt = 0;
                    }
                }
                // The URL may carry the page's token: the log gets it without its query.
                Err(e) => leptos::logging::warn!(
                    "cannot open {}: {e}",
                    crate::view_model::share::without_query(&url)
                ),
            }
            attempt += 1;
            let wait_s = boxbox_engine::backoff::backoff_s(attempt, js_sys::Math::random());
            feed.connection.set(Connection::Reconnecting {
                in_s: wait_s,
                attempt,
            });
            gloo_timers::future::TimeoutFuture::new((wait_s * 1000.0) as u32).await;
        }
    });
    spawn_local(async move {
        // `Err(Aborted)` is the only way out of the loop.
        let _ = connection.await;
    });
    handle
}
