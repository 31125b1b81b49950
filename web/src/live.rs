//! The live feed: a WebSocket to the relay's `/ws`, decoded into signals, with reconnect and exponential backoff.
//!
//! Every message also feeds a [`LapRecorder`] kept here, so the Car Twin computed in the browser learns from the
//! same lap history as the relay (the snapshot carries the history so far).

use boxbox_engine::history::LapRecorder;
use boxbox_engine::protocol::ServerMessage;
use boxbox_engine::wire::RaceState;
use futures::StreamExt;
use gloo_net::websocket::Message;
use gloo_net::websocket::futures::WebSocket;
use leptos::prelude::*;
use leptos::task::spawn_local;

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
}

/// The live data as signals. `Copy`: hand it to any component.
#[derive(Clone, Copy, Debug)]
pub struct LiveFeed {
    /// The latest state, once one arrived.
    pub state: RwSignal<Option<RaceState>>,
    /// The connection's state.
    pub connection: RwSignal<Connection>,
    /// Lap history built from the stream (not reactive itself: read it inside a memo on `state`).
    pub history: StoredValue<LapRecorder>,
}

impl LiveFeed {
    /// An empty feed.
    pub fn new() -> Self {
        LiveFeed {
            state: RwSignal::new(None),
            connection: RwSignal::new(Connection::Connecting),
            history: StoredValue::new(LapRecorder::new()),
        }
    }

    /// Applies one message from the relay.
    pub fn apply(&self, message: ServerMessage) {
        let state = match message {
            ServerMessage::Snapshot { state, history } => {
                self.history.set_value(LapRecorder::with_history(history));
                state
            }
            ServerMessage::Update { state } => state,
        };
        self.history.update_value(|h| {
            h.observe(&state);
        });
        self.state.set(Some(state));
    }
}

impl Default for LiveFeed {
    fn default() -> Self {
        LiveFeed::new()
    }
}

/// The relay's `/ws` URL for the page's own origin.
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

/// Connects `feed` to `url` and keeps it connected for the life of the page.
pub fn connect(feed: LiveFeed, url: String) {
    spawn_local(async move {
        let mut attempt = 0u32;
        loop {
            match WebSocket::open(&url) {
                Ok(ws) => {
                    let (_tx, mut rx) = ws.split();
                    while let Some(frame) = rx.next().await {
                        let Ok(Message::Text(text)) = frame else {
                            break;
                        };
                        match serde_json::from_str::<ServerMessage>(&text) {
                            Ok(message) => {
                                attempt = 0;
                                feed.connection.set(Connection::Live);
                                feed.apply(message);
                            }
                            Err(e) => {
                                leptos::logging::warn!("ignoring a message from the relay: {e}");
                            }
                        }
                    }
                }
                Err(e) => leptos::logging::warn!("cannot open {url}: {e}"),
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
}
