//! The live feed read through a NATS server's WebSocket listener instead of the relay's `/ws` (`?nats=ws://HOST:PORT`):
//! the same snapshot and delta messages, published by a relay started with `--nats`, so a NATS cluster can serve
//! more tablets than one relay. Reconnects with the same loop and backoff as `/ws` (`live::keep_connected`).
//!
//! On connect the page subscribes to every session's snapshots and deltas and asks for the live snapshot
//! ([`crate::nats_protocol::SNAPSHOT_REQUEST_SUBJECT`], answered on the page's inbox); after a sequence gap it asks again
//! (at most once a second). Which messages apply is [`crate::nats_protocol::admit`]'s rule: in sync, the periodic
//! snapshots are skipped and deltas a snapshot overtook are stale.

use boxbox_engine::protocol::ServerMessage;
use futures::future::AbortHandle;
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::Message;
use gloo_net::websocket::futures::WebSocket;
use leptos::prelude::*;

use crate::live::{Connection, Heard, Listener, LiveFeed, QUIET_MS, keep_connected};
use crate::nats_protocol::{self as nats, NatsReader, ServerOp};

/// Subscription ids.
const SID_DELTA: u64 = 1;
const SID_SNAPSHOT: u64 = 2;
const SID_INBOX: u64 = 3;

/// Least time between two snapshot requests, milliseconds.
const REQUEST_EVERY_MS: f64 = 1000.0;

/// Connects `feed` to the NATS WebSocket at `url` and keeps it connected for the life of the page, or until the
/// returned handle is aborted.
pub fn connect(feed: LiveFeed, url: String) -> AbortHandle {
    let label = url.clone();
    keep_connected(feed, url, move |ws| {
        let label = label.clone();
        async move {
            let mut received = false;
            if let Err(e) = session(feed, ws, &mut received).await {
                leptos::logging::warn!("NATS feed {label}: {e}");
            }
            received
        }
    })
}

/// One connection: the handshake, then messages until the server closes it or breaks the protocol; `received`
/// turns true with the first message applied.
async fn session(feed: LiveFeed, ws: WebSocket, received: &mut bool) -> Result<(), String> {
    let (mut tx, mut rx) = ws.split();
    let mut reader = NatsReader::new();
    let inbox = nats::inbox((js_sys::Math::random() * 2f64.powi(53)) as u64);
    let mut started = false;
    // The sequence number of the last message applied: deltas at or before it are stale.
    let mut have: Option<u64> = None;
    let mut requested_at = f64::NEG_INFINITY;
    // A quiet connection is asked for a pong, then given up (see `crate::live::QUIET_MS`).
    let mut listener = Listener::default();
    loop {
        let frame = match listener.next(&mut rx).await {
            Heard::Frame(frame) => frame,
            Heard::Closed => break,
            Heard::GiveUp => {
                return Err(format!(
                    "nothing for {} s: reconnecting",
                    2 * QUIET_MS / 1000
                ));
            }
            Heard::Ping => {
                tx.send(Message::Bytes(nats::ping().as_bytes().to_vec()))
                    .await
                    .map_err(|e| e.to_string())?;
                continue;
            }
        };
        match frame.map_err(|e| e.to_string())? {
            Message::Bytes(bytes) => reader.push(&bytes),
            Message::Text(text) => reader.push(text.as_bytes()),
        }
        while let Some(op) = reader.next_op().map_err(|e| e.to_string())? {
            let mut out: Vec<u8> = Vec::new();
            match op {
                ServerOp::Info(_) if !started => {
                    started = true;
                    out.extend(nats::connect("boxbox pit wall").bytes());
                    out.extend(nats::subscribe(nats::DELTA_SUBJECT, SID_DELTA).bytes());
                    out.extend(nats::subscribe(nats::SNAPSHOT_SUBJECT, SID_SNAPSHOT).bytes());
                    out.extend(nats::subscribe(&inbox, SID_INBOX).bytes());
                    out.extend(nats::publish(
                        nats::SNAPSHOT_REQUEST_SUBJECT,
                        Some(&inbox),
                        b"",
                    ));
                    requested_at = js_sys::Date::now();
                }
                ServerOp::Ping => out.extend(nats::pong().bytes()),
                ServerOp::Err(e) => return Err(format!("the NATS server says: {e}")),
                ServerOp::Msg { payload, .. } => {
                    // An empty reply: the relay has no state yet; the periodic snapshot will come.
                    if payload.is_empty() {
                        continue;
                    }
                    let text = String::from_utf8_lossy(&payload);
                    let message = match crate::relay_message::decode(&text) {
                        Ok(m) => m,
                        Err(e) => {
                            leptos::logging::warn!("ignoring a NATS message: {e}");
                            continue;
                        }
                    };
                    let (is_snapshot, seq) = match &message {
                        ServerMessage::Snapshot { seq, .. } => (true, *seq),
                        ServerMessage::Delta { seq, .. } => (false, *seq),
                        _ => continue,
                    };
                    if !nats::admit(is_snapshot, seq, have) {
                        continue;
                    }
                    *received = true;
                    if feed.connection.get_untracked() != Connection::Live {
                        feed.connection.set(Connection::Live);
                    }
                    if feed.apply(message) {
                        have = Some(seq);
                    } else {
                        have = None;
                        let now = js_sys::Date::now();
                        if now - requested_at >= REQUEST_EVERY_MS {
                            requested_at = now;
                            out.extend(nats::publish(
                                nats::SNAPSHOT_REQUEST_SUBJECT,
                                Some(&inbox),
                                b"",
                            ));
                        }
                    }
                }
                ServerOp::Info(_) | ServerOp::Pong | ServerOp::Ok => {}
            }
            if !out.is_empty() {
                tx.send(Message::Bytes(out))
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}
