//! The `/ws` live feed: one task per WebSocket client. The protocol's messages are `engine::protocol`'s.
//!
//! A client gets a snapshot first (or as soon as the relay has a state), then one delta per published state, in
//! sequence. Each client has its own bounded queue of frames waiting to be sent ([`QUEUE_FRAMES`], plus the
//! hub's broadcast ring of [`crate::hub::UPDATE_BUFFER`] publications): a client that falls behind, because its
//! socket does not drain or its delay holds too many frames, has its backlog dropped (a queue drop in
//! `/metrics`) and is sent a fresh snapshot instead, and nobody else waits for it. A send that blocks for
//! [`SEND_TIMEOUT`] disconnects the client, and so does a client that answers no WebSocket ping (sent every
//! [`PING_INTERVAL`]) within [`PONG_TIMEOUT`].
//!
//! The client may send `subscribe` (deltas then carry only its cars and topics; snapshots stay whole), `delay`
//! (every frame held back by that many seconds; a snapshot starts the delayed feed), `ping` and `resync`. A
//! message that is not one of these is answered with an `error` frame and changes nothing.

use std::collections::VecDeque;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use boxbox_engine::protocol::{ClientMessage, MAX_DELAY_S, ServerMessage, Subscription};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

use crate::hub::{Hub, WsStats};
use crate::server::AppState;

/// Frames a client may have waiting (to be sent, or held back by its delay) before its backlog is dropped for a
/// fresh snapshot: enough for the longest delay ([`MAX_DELAY_S`]) at the highest `--rate-hz` (60). Frames are
/// shared, so delayed clients hold references to the same few seconds of frames, not copies; a client whose
/// socket does not drain stops taking publications while its send blocks, and the hub's ring catches that.
pub const QUEUE_FRAMES: usize = 8 * 1024;

/// How long one frame may take to go out before the client is disconnected.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the relay sends a WebSocket ping.
pub const PING_INTERVAL: Duration = Duration::from_secs(10);

/// How long a client may stay silent (no pong, no message) before it is disconnected.
pub const PONG_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest message a client may send, in bytes (a subscription to every car is under 1 KiB).
pub const CLIENT_MESSAGE_MAX_BYTES: usize = 16 * 1024;

/// `GET /ws`: upgrades to a WebSocket and serves the client until it leaves or the relay stops.
pub async fn upgrade(ws: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    // Clients send small messages: a 4 KiB read buffer and a 16 KiB message cap instead of the 128 KiB and 64 MiB
    // defaults, and frames written out as they are sent rather than gathered in a 128 KiB buffer, keep each
    // connection small when thousands of tablets watch.
    ws.read_buffer_size(4 * 1024)
        .max_message_size(CLIENT_MESSAGE_MAX_BYTES)
        .max_frame_size(CLIENT_MESSAGE_MAX_BYTES)
        .write_buffer_size(0)
        .on_upgrade(move |socket: WebSocket| async move {
            let (sink, stream) = socket.split();
            serve_client(sink, stream, state.hub, state.stop).await;
        })
}

/// A frame waiting to go out.
#[derive(Debug)]
struct Queued {
    due: Instant,
    frame: Utf8Bytes,
    snapshot: bool,
}

/// One client's feed: what it follows and what is waiting for it.
#[derive(Debug)]
struct Feed {
    hub: Hub,
    subscription: Subscription,
    delay: Duration,
    queue: VecDeque<Queued>,
    /// The sequence number of the last state queued; `None` until a snapshot is queued.
    synced: Option<u64>,
}

impl Feed {
    fn stats(&self) -> &WsStats {
        self.hub.ws_stats()
    }

    /// Drops the backlog and queues a fresh snapshot (nothing while the relay has no state).
    fn resync(&mut self) {
        self.queue.clear();
        self.synced = None;
        if let Some((seq, frame)) = self.hub.snapshot() {
            self.push(frame, true);
            self.synced = Some(seq);
        }
    }

    fn push(&mut self, frame: Utf8Bytes, snapshot: bool) {
        if self.queue.len() >= QUEUE_FRAMES {
            WsStats::bump(&self.stats().queue_drops);
            tracing::debug!("a websocket client's queue is full; dropping it for a snapshot");
            self.resync();
            return;
        }
        self.queue.push_back(Queued {
            due: Instant::now() + self.delay,
            frame,
            snapshot,
        });
    }

    /// Takes one publication from the hub.
    fn publication(
        &mut self,
        update: Result<std::sync::Arc<crate::hub::Publication>, broadcast::error::RecvError>,
    ) -> bool {
        let p = match update {
            Ok(p) => p,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                WsStats::bump(&self.stats().queue_drops);
                tracing::debug!(
                    missed,
                    "a websocket client fell behind; resending a snapshot"
                );
                self.resync();
                return true;
            }
            Err(broadcast::error::RecvError::Closed) => return false,
        };
        match self.synced {
            // Already in the snapshot queued.
            Some(synced) if p.seq <= synced => {}
            Some(synced) if p.seq == synced + 1 => {
                if let Some(frame) = p.frame_for(&self.subscription) {
                    self.push(frame, p.delta.is_none());
                }
                self.synced = Some(p.seq);
            }
            // A snapshot publication starts anyone afresh.
            _ if p.delta.is_none() => {
                self.queue.clear();
                self.push(p.frame.clone(), true);
                self.synced = Some(p.seq);
            }
            _ => self.resync(),
        }
        true
    }
}

/// One WebSocket client: a snapshot first, then every delta; a fresh snapshot if it falls behind.
///
/// Written against `Sink`/`Stream` so tests can drive it with channels.
pub async fn serve_client<W, R>(
    mut sink: W,
    mut stream: R,
    hub: Hub,
    mut stop: watch::Receiver<bool>,
) where
    W: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let _guard = hub.client_guard();
    // Subscribe before taking the snapshot so no update falls between the two.
    let mut updates = hub.subscribe();
    let mut feed = Feed {
        hub: hub.clone(),
        subscription: Subscription::all(),
        delay: Duration::ZERO,
        queue: VecDeque::new(),
        synced: None,
    };
    feed.resync();
    let mut pings = tokio::time::interval(PING_INTERVAL);
    pings.tick().await;
    let mut heard = Instant::now();
    loop {
        let due = feed.queue.front().map(|q| q.due);
        tokio::select! {
            biased;
            _ = stop.changed() => {
                let _ = sink.send(Message::Close(None)).await;
                break;
            }
            () = sleep_until_some(due) => {
                let Some(q) = feed.queue.pop_front() else { continue };
                let bytes = q.frame.len() as u64;
                if !send(&mut sink, Message::Text(q.frame), &hub).await {
                    break;
                }
                let stats = hub.ws_stats();
                WsStats::bump(if q.snapshot { &stats.snapshots_sent } else { &stats.deltas_sent });
                stats.bytes_sent.fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
            }
            update = updates.recv() => {
                if !feed.publication(update) {
                    break;
                }
            }
            incoming = stream.next() => {
                heard = Instant::now();
                let reply = match incoming {
                    Some(Ok(Message::Text(text))) => message(&mut feed, text.as_str()),
                    Some(Ok(Message::Binary(_))) => {
                        WsStats::bump(&feed.stats().bad_messages);
                        Some(error("invalid_message", "messages are JSON text frames"))
                    }
                    // Pings are answered by axum; pongs only show the client is there.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                };
                if let Some(reply) = reply
                    && !send_message(&mut sink, &reply, &hub).await
                {
                    break;
                }
            }
            _ = pings.tick() => {
                if heard.elapsed() > PONG_TIMEOUT {
                    WsStats::bump(&hub.ws_stats().disconnected_slow);
                    tracing::info!("a websocket client answered no ping; disconnecting it");
                    break;
                }
                if !send(&mut sink, Message::Ping(Default::default()), &hub).await {
                    break;
                }
            }
        }
    }
}

/// Handles one client message; returns the answer to send at once, if any.
fn message(feed: &mut Feed, text: &str) -> Option<ServerMessage> {
    let parsed = match serde_json::from_str::<ClientMessage>(text) {
        Ok(m) => m,
        Err(e) => {
            WsStats::bump(&feed.stats().bad_messages);
            return Some(error(
                "invalid_message",
                &format!("not a client message ({e}); send subscribe, delay, ping or resync"),
            ));
        }
    };
    match parsed {
        ClientMessage::Subscribe { subscription } => {
            feed.subscription = subscription.clone();
            Some(ServerMessage::Subscribed { subscription })
        }
        ClientMessage::Delay { seconds } => {
            if !(seconds.is_finite() && (0.0..=MAX_DELAY_S).contains(&seconds)) {
                WsStats::bump(&feed.stats().bad_messages);
                return Some(error(
                    "invalid_delay",
                    &format!("delay {seconds}: must be 0 to {MAX_DELAY_S} seconds"),
                ));
            }
            feed.delay = Duration::from_secs_f64(seconds);
            // The delayed feed starts with the snapshot of now, sent `seconds` from now.
            feed.resync();
            Some(ServerMessage::Delayed { seconds })
        }
        ClientMessage::Ping { id } => Some(ServerMessage::Pong {
            id,
            seq: feed.hub.seq(),
        }),
        ClientMessage::Resync => {
            feed.resync();
            None
        }
    }
}

fn error(code: &str, message: &str) -> ServerMessage {
    ServerMessage::Error {
        code: code.to_owned(),
        message: message.to_owned(),
    }
}

/// Sends a control message at once (it is not delayed).
async fn send_message<W: Sink<Message> + Unpin>(
    sink: &mut W,
    message: &ServerMessage,
    hub: &Hub,
) -> bool {
    match serde_json::to_string(message) {
        Ok(json) => send(sink, Message::Text(Utf8Bytes::from(json)), hub).await,
        Err(e) => {
            tracing::error!("cannot serialize a message: {e}");
            true
        }
    }
}

/// Sends one frame; false when the client is gone or did not take it within [`SEND_TIMEOUT`].
async fn send<W: Sink<Message> + Unpin>(sink: &mut W, message: Message, hub: &Hub) -> bool {
    match tokio::time::timeout(SEND_TIMEOUT, sink.send(message)).await {
        Ok(Ok(())) => true,
        Ok(Err(_)) => false,
        Err(_) => {
            WsStats::bump(&hub.ws_stats().disconnected_slow);
            tracing::info!(
                "a websocket client took no frame for {SEND_TIMEOUT:?}; disconnecting it"
            );
            false
        }
    }
}

/// Sleeps until `at`, or forever when there is nothing to wait for. A frame already due goes at once: a timer
/// would round up to the timer wheel's next millisecond, which every undelayed frame would wait for.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) if at <= Instant::now() => {}
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
