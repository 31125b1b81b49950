//! A JSON feed over WebSocket as a source: connect to the feed's URL, parse every text (or binary) message as one
//! frame or a batch (`boxbox_engine::feed`), normalize, publish. Reconnects with exponential backoff and jitter;
//! after `fallback_after` failed attempts in a row the simulator stands in until the feed is back.

use std::sync::Arc;
use std::time::Duration;

use boxbox_engine::backoff::backoff_s;
use boxbox_engine::feed::{self, FeedNormalizer, Pushed};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::handshake::client::Response;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{Connection, Fallback, FallbackRun, Publisher, SourceStats, jitter_unit};

/// Silence after which the feed is pinged; after twice this with nothing received, the connection is given up.
const QUIET: Duration = Duration::from_secs(15);

/// The largest message taken from a feed: the ingest endpoint's default body limit (tungstenite's own is 64 MiB).
pub const MAX_FEED_MESSAGE_BYTES: usize = crate::access::DEFAULT_MAX_INGEST_BYTES;

/// Opens the feed's WebSocket with [`MAX_FEED_MESSAGE_BYTES`] as its message limit.
async fn connect(
    url: &str,
) -> tungstenite::Result<(WebSocketStream<MaybeTlsStream<TcpStream>>, Response)> {
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_FEED_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_FEED_MESSAGE_BYTES));
    tokio_tungstenite::connect_async_with_config(url, Some(config), false).await
}

/// Runs the feed client until `stop` turns true.
pub async fn run_ws(
    url: String,
    mut publisher: Publisher,
    stats: Arc<SourceStats>,
    fallback: Option<Fallback>,
    mut stop: watch::Receiver<bool>,
) {
    let mut failures = 0u32;
    let mut stand_in: Option<FallbackRun> = None;
    // One normalizer across reconnects: a feed that resends frames after a reconnect does not rewind the race.
    let mut normalizer = FeedNormalizer::new();
    loop {
        stats.set_connection(Connection::Connecting);
        let connected = tokio::select! {
            c = tokio::time::timeout(Duration::from_secs(10), connect(&url)) => c,
            _ = stop.changed() => break,
        };
        match connected {
            Ok(Ok((socket, _response))) => {
                stats.set_connection(Connection::Connected);
                tracing::info!(%url, "feed connected");
                let (mut sink, mut stream) = socket.split();
                // Whether a frame came on this connection: only then is the feed back (a server that accepts and
                // closes at once counts as a failure, so the stand-in still starts).
                let mut heard_from = false;
                // A half-open connection (the feed's host lost power, a NAT forgot the route) never closes: after
                // `QUIET` with nothing received the feed is asked for a pong, after twice that it is given up.
                let mut last_heard = tokio::time::Instant::now();
                let mut pinged = false;
                loop {
                    let held = publisher.held_until();
                    let quiet_until = last_heard + if pinged { 2 * QUIET } else { QUIET };
                    let message = tokio::select! {
                        m = stream.next() => m,
                        () = tokio::time::sleep_until(quiet_until) => {
                            if pinged {
                                stats.error(
                                    "connection",
                                    format!("the feed sent nothing for {} s", 2 * QUIET.as_secs()),
                                );
                                break;
                            }
                            pinged = true;
                            if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                                break;
                            }
                            continue;
                        }
                        () = super::udp::sleep_until_some(held) => {
                            if stand_in.is_none()
                                && let Some(state) = normalizer.state()
                            {
                                publisher.publish_now(state);
                            }
                            continue;
                        }
                        _ = stop.changed() => {
                            stats.set_connection(Connection::Disconnected);
                            return;
                        }
                    };
                    last_heard = tokio::time::Instant::now();
                    pinged = false;
                    let bytes = match message {
                        Some(Ok(Message::Text(text))) => text.as_bytes().to_vec(),
                        Some(Ok(Message::Binary(bytes))) => bytes.to_vec(),
                        Some(Ok(Message::Close(_))) | None => break,
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => {
                            stats.error("connection", e.to_string());
                            break;
                        }
                    };
                    // Off the async threads: a message may be megabytes of JSON (up to 16 MiB).
                    let parsed = match tokio::task::spawn_blocking(move || feed::parse(&bytes))
                        .await
                    {
                        Ok(parsed) => parsed,
                        Err(e) => {
                            stats.error("internal", format!("reading a feed message failed: {e}"));
                            continue;
                        }
                    };
                    match parsed {
                        Ok(frames) => {
                            for frame in frames {
                                let pushed = super::count_frame(&mut normalizer, frame, &stats);
                                if pushed == Pushed::NewSession && stand_in.is_none() {
                                    publisher.begin_session(None);
                                }
                                if pushed.applied() && !heard_from {
                                    heard_from = true;
                                    failures = 0;
                                    if let Some(run) = stand_in.take() {
                                        run.stop(&stats).await;
                                    }
                                }
                            }
                            // While the stand-in runs it has the hub: stale frames publish nothing.
                            if stand_in.is_none() {
                                if !publisher.due() {
                                    publisher.hold();
                                } else if let Some(state) = normalizer.state() {
                                    publisher.publish_now(state);
                                }
                            }
                        }
                        Err(e) => {
                            tracing::debug!("bad feed message: {e}");
                            stats.count(Err(("invalid_feed", e.message)), 0);
                        }
                    }
                }
                tracing::warn!(%url, "feed disconnected");
                // Publish the last state the feed gave, whatever the rate limit (unless the stand-in has the hub).
                if stand_in.is_none()
                    && let Some(state) = normalizer.state()
                {
                    publisher.publish_now(state);
                }
            }
            Ok(Err(e)) => {
                stats.error("connection", format!("cannot connect to {url}: {e}"));
            }
            Err(_) => stats.error("connection", format!("connecting to {url} timed out")),
        }
        failures += 1;
        stats.reconnecting();
        if let Some(fb) = &fallback
            && stand_in.is_none()
            && failures >= fb.after_failures
        {
            stand_in = Some(fb.start(&stats));
        }
        let wait = backoff_s(failures, jitter_unit(failures));
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs_f64(wait)) => {}
            _ = stop.changed() => break,
        }
    }
    if let Some(run) = stand_in.take() {
        run.stop(&stats).await;
    }
}
