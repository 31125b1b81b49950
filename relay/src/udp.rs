//! The game as a source: EA F1 UDP datagrams on a socket, decoded and normalized into race states, each datagram
//! also forwarded unchanged to other apps (`--forward`), with counters per packet type and per error kind.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use boxbox_engine::telemetry::{self, format::PACKET_NAMES, normalize::Normalizer};
use serde::Serialize;
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::hub::Hub;

/// Receive buffer: the largest datagram of formats 2023–2025 is 1460 bytes, of format 2026 1470.
pub const RECV_BUFFER_BYTES: usize = 2048;

/// Counters of the UDP source, shared with the HTTP API.
#[derive(Debug, Default)]
pub struct UdpStats {
    inner: Mutex<UdpCounts>,
}

/// A snapshot of the counters.
#[derive(Clone, Debug, Default, Serialize)]
pub struct UdpCounts {
    /// Datagrams received.
    pub received: u64,
    /// Datagrams forwarded (counted once per destination).
    pub forwarded: u64,
    /// Decoded packets by packet name.
    pub packets: BTreeMap<&'static str, u64>,
    /// Datagrams that did not decode, by error kind.
    pub errors: BTreeMap<&'static str, u64>,
}

impl UdpStats {
    /// The counters now.
    pub fn snapshot(&self) -> UdpCounts {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn update(&self, f: impl FnOnce(&mut UdpCounts)) {
        f(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// Receives datagrams on `socket` until `stop` turns true; publishes at most `rate_hz` states per second.
pub async fn run(
    socket: UdpSocket,
    forward: Vec<SocketAddr>,
    rate_hz: f64,
    hub: Hub,
    stats: std::sync::Arc<UdpStats>,
    mut stop: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; RECV_BUFFER_BYTES];
    let mut normalizer = Normalizer::new();
    let min_interval = Duration::from_secs_f64(1.0 / rate_hz);
    let mut last_publish: Option<Instant> = None;
    loop {
        let (n, _peer) = tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!("udp receive failed: {e}");
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let datagram = &buf[..n];
        let mut forwarded = 0;
        for dst in &forward {
            match socket.send_to(datagram, dst).await {
                Ok(_) => forwarded += 1,
                Err(e) => tracing::debug!(%dst, "forward failed: {e}"),
            }
        }
        let decoded = telemetry::decode(datagram);
        stats.update(|c| {
            c.received += 1;
            c.forwarded += forwarded;
            let counter = match &decoded {
                Ok(p) => c
                    .packets
                    .entry(PACKET_NAMES[usize::from(p.header.packet_id)])
                    .or_default(),
                Err(e) => c.errors.entry(e.kind()).or_default(),
            };
            *counter += 1;
        });
        let Ok(packet) = decoded else { continue };
        let session_before = normalizer.session_uid();
        normalizer.push(&packet);
        if normalizer.session_uid() != session_before {
            hub.reset();
            tracing::info!(
                session_uid = packet.header.session_uid,
                format = packet.header.packet_format,
                "game session"
            );
        }
        let due = last_publish.is_none_or(|t| t.elapsed() >= min_interval);
        if due && let Some(state) = normalizer.state() {
            hub.publish(state);
            last_publish = Some(Instant::now());
        }
    }
}
