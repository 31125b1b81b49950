//! `--nats URL`: the live feed published to NATS, so that a NATS cluster (with its WebSocket listener) fans the
//! race out to more browsers than one relay serves on `/ws`.
//!
//! One task reads the hub's broadcast, the same publications every `/ws` client reads, and publishes each frame
//! as it is (the `/ws` JSON, with its `seq`) to
//! - `boxbox.<session>.snapshot`: a `snapshot` message, when a session begins, every [`SNAPSHOT_INTERVAL`] (so a
//!   subscriber that starts late can begin), after the publisher fell behind or NATS came back;
//! - `boxbox.<session>.delta`: every `delta` message, in sequence (contiguous while the publisher keeps up; a
//!   snapshot can be ahead of the deltas still to come, which its readers skip as stale).
//!
//! A request to `boxbox.<session>.snapshot.request` is answered with the current snapshot. Any `<session>` gets
//! the live session's snapshot (an empty reply while the relay has no state), so a subscriber that knows no
//! session yet can ask on `boxbox.any.snapshot.request`.
//!
//! `<session>` is [`session_token`] of the hub's session id (`live-<hex ms>-<n>`, see
//! [`Hub::session_id`]): it changes when a new session begins, so `boxbox.*.delta` follows every session.
//!
//! The hub never waits for NATS: the broadcast is bounded, and a publisher that falls more than
//! [`crate::hub::UPDATE_BUFFER`] publications behind counts them as dropped and starts again with a snapshot.
//! While NATS is unreachable nothing is queued (async-nats reconnects in the background, and state changes are
//! logged); the publications are counted as dropped, and the first one after the reconnection is a snapshot.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_nats::connection::State;
use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{broadcast, watch};

use crate::access::{RateLimit, RateLimiter};
use crate::hub::{Hub, Publication};

/// How often the latest snapshot is published even when no session begins.
pub const SNAPSHOT_INTERVAL: Duration = Duration::from_secs(5);

/// Publications waiting in async-nats's queue, at most, before the publisher waits (and then falls behind the hub
/// and drops, rather than the hub waiting).
const CLIENT_CAPACITY: usize = 1024;

/// What the NATS publisher did, for `/metrics`.
#[derive(Debug, Default)]
pub struct NatsStats {
    /// Messages handed to NATS (snapshots, deltas, request replies).
    pub published: AtomicU64,
    /// Publications not sent: NATS was unreachable, the publisher fell behind, or a snapshot request was over the
    /// answers' limit.
    pub dropped: AtomicU64,
    /// The client is connected to a NATS server.
    pub is_connected: AtomicBool,
}

/// A NATS-safe subject token of a session id: characters other than ASCII letters, digits, `-` and `_` become `_`
/// (a token may not hold `.`, `*`, `>` or whitespace), and an empty id becomes `_`.
pub fn session_token(session_id: &str) -> String {
    let token: String = session_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if token.is_empty() { "_".into() } else { token }
}

/// Connects to `url` in the background and publishes the hub's feed until `stop` turns true.
///
/// # Errors
/// If `url` is not a NATS server address. An unreachable server is not an error: the client keeps trying.
pub async fn spawn(
    hub: Hub,
    url: &str,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let stats = Arc::new(NatsStats::default());
    hub.metrics().set_nats(Arc::clone(&stats));
    let events = Arc::clone(&stats);
    let client = async_nats::ConnectOptions::new()
        .name("boxbox-relay")
        .client_capacity(CLIENT_CAPACITY)
        .retry_on_initial_connect()
        .event_callback(move |event| {
            let events = Arc::clone(&events);
            async move {
                match event {
                    async_nats::Event::Connected => {
                        events.is_connected.store(true, Ordering::Relaxed);
                        tracing::info!("nats connected");
                    }
                    async_nats::Event::Disconnected => {
                        events.is_connected.store(false, Ordering::Relaxed);
                        tracing::warn!("nats disconnected; reconnecting");
                    }
                    other => tracing::info!("nats: {other}"),
                }
            }
        })
        .connect(url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot use the NATS server {url}: {e}"))?;
    tracing::info!(url, "publishing the live feed to nats");
    let publisher = Publisher {
        hub,
        client,
        stats,
        synced: None,
        session: String::new(),
        warned_max_payload: false,
        answers: RateLimiter::new(RateLimit {
            per_s: f64::from(MAX_ANSWERS_PER_S),
            burst: MAX_ANSWERS_PER_S,
        }),
    };
    Ok(tokio::spawn(publisher.run(stop)))
}

/// The publishing task's state.
struct Publisher {
    hub: Hub,
    client: async_nats::Client,
    stats: Arc<NatsStats>,
    /// The sequence number of the last frame published; `None` until a snapshot is, and after a drop.
    synced: Option<u64>,
    /// The subject token of the session the last frame was published on.
    session: String,
    /// A frame over the server's `max_payload` has been reported.
    warned_max_payload: bool,
    /// Snapshot requests: anyone on the NATS server (a browser on its WebSocket listener too) may ask, and each
    /// answer is a whole snapshot, so answers are limited to [`MAX_ANSWERS_PER_S`] (more are dropped and counted;
    /// a page asks again). One bucket for all: requests carry no address.
    answers: RateLimiter,
}

/// The most snapshot requests answered a second (and at once).
const MAX_ANSWERS_PER_S: u32 = 20;

impl Publisher {
    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        // Subscribe before taking any snapshot so no publication falls between the two.
        let mut updates = self.hub.subscribe();
        let mut requests = match self.client.subscribe("boxbox.*.snapshot.request").await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!("cannot answer snapshot requests on nats: {e}");
                None
            }
        };
        let mut ticks = tokio::time::interval(SNAPSHOT_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = stop.changed() => break,
                update = updates.recv() => match update {
                    Ok(p) => self.publication(&p).await,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        self.stats.dropped.fetch_add(missed, Ordering::Relaxed);
                        tracing::debug!(missed, "the nats publisher fell behind; resending a snapshot");
                        self.synced = None;
                        self.snapshot().await;
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                request = next_request(&mut requests) => match request {
                    Some(message) => self.answer(message).await,
                    None => requests = None,
                },
                _ = ticks.tick() => self.snapshot().await,
            }
        }
        if let Err(e) = self.client.flush().await {
            tracing::debug!("cannot flush nats at shutdown: {e}");
        }
    }

    fn is_connected(&self) -> bool {
        self.client.connection_state() == State::Connected
    }

    /// Publishes one publication of the hub: in sequence as it is, else a snapshot.
    async fn publication(&mut self, p: &Publication) {
        if !self.is_connected() {
            // Nothing is queued for a server that is away: it gets a snapshot when it is back.
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            self.synced = None;
            return;
        }
        let session = session_token(&self.hub.session_id());
        match self.synced {
            // Already in the snapshot published.
            Some(synced) if p.seq <= synced => {}
            Some(synced) if p.seq == synced + 1 && session == self.session => {
                let kind = if p.delta.is_some() {
                    "delta"
                } else {
                    "snapshot"
                };
                if self.send(&session, kind, p.frame.clone()).await {
                    self.synced = Some(p.seq);
                }
            }
            _ => {
                self.synced = None;
                self.snapshot().await;
            }
        }
    }

    /// Publishes the latest snapshot (nothing while the relay has no state or NATS is away).
    async fn snapshot(&mut self) {
        if !self.is_connected() {
            return;
        }
        let Some((seq, frame)) = self.hub.snapshot() else {
            return;
        };
        let session = session_token(&self.hub.session_id());
        // Out of sync, the deltas go on from this snapshot (those it holds are skipped). In sync, it is one for late
        // subscribers: the deltas stay contiguous, and those it already holds reach its readers as stale (a
        // `Replica` skips them by `seq`). Moving on to its `seq` here would leave a gap for everyone reading the
        // deltas alone, whenever the hub was a state ahead of this task.
        if self.send(&session, "snapshot", frame).await && self.synced.is_none() {
            self.synced = Some(seq);
        }
    }

    /// Answers a snapshot request with the latest snapshot (an empty reply while the relay has no state), within
    /// [`MAX_ANSWERS_PER_S`].
    async fn answer(&self, request: async_nats::Message) {
        let Some(reply) = request.reply else { return };
        let everyone = std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
        if self
            .answers
            .check(everyone, tokio::time::Instant::now())
            .is_err()
        {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // The hub's serialized snapshot, shared: no copy per answer.
        let frame = self
            .hub
            .snapshot()
            .map_or_else(Bytes::new, |(_, f)| Bytes::from(f));
        match self.client.publish(reply, frame).await {
            Ok(()) => {
                self.stats.published.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::debug!("cannot answer a snapshot request on nats: {e}"),
        }
    }

    /// Publishes `frame` on `boxbox.<session>.<kind>` (the hub's bytes, shared, not copied); false if it did not
    /// go.
    async fn send(&mut self, session: &str, kind: &str, frame: Utf8Bytes) -> bool {
        let subject = format!("boxbox.{session}.{kind}");
        let bytes = frame.len();
        match self.client.publish(subject, Bytes::from(frame)).await {
            Ok(()) => {
                self.stats.published.fetch_add(1, Ordering::Relaxed);
                session.clone_into(&mut self.session);
                true
            }
            Err(e) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                // A snapshot over the server's `max_payload` would be refused on every try: say so once, loudly.
                if e.kind() == async_nats::client::PublishErrorKind::MaxPayloadExceeded {
                    if !self.warned_max_payload {
                        self.warned_max_payload = true;
                        tracing::warn!(
                            bytes,
                            "a frame is over the nats server's max_payload and is not published: raise it ({e})"
                        );
                    }
                } else {
                    tracing::debug!("cannot publish to nats: {e}");
                }
                false
            }
        }
    }
}

/// The next snapshot request, or never when there is no subscription.
async fn next_request(
    requests: &mut Option<async_nats::Subscriber>,
) -> Option<async_nats::Message> {
    match requests {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_tokens_are_nats_safe() {
        assert_eq!(session_token("live-19a2b3c4d5e-3"), "live-19a2b3c4d5e-3");
        assert_eq!(session_token("a.b*c>d e"), "a_b_c_d_e");
        assert_eq!(session_token(""), "_");
    }
}
