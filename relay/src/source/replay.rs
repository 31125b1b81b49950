//! Playing a libpcap recording back with its original timing, scaled: into the relay (`serve --replay`, through
//! the same [`PacketPipeline`] as live UDP) or out to a UDP address (`boxbox replay --to`).
//!
//! Seek: datagrams before `start_s` (session time, from each packet's header) are delivered at once (or at a
//! bounded rate over a socket) so the state at the seek point is complete; pacing starts there.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use boxbox_engine::recording::{Datagram, Recording, read_pcap};
use boxbox_engine::telemetry::PacketHeader;
use boxbox_engine::telemetry::reader::Reader;
use tokio::sync::watch;
use tokio::time::Instant;

use super::udp::PacketPipeline;
use super::{Connection, Publisher, SourceStats};

/// How to play a recording.
#[derive(Clone, Copy, Debug)]
pub struct PlayOptions {
    /// Speed factor: 2 plays twice as fast as recorded.
    pub speed: f64,
    /// Session time to start pacing at, in seconds; earlier datagrams are fast-forwarded.
    pub start_s: f64,
    /// Most datagrams per second while fast-forwarding; `None` for no limit (in-process delivery).
    pub fast_forward_per_s: Option<f64>,
}

/// Reads a recording.
///
/// # Errors
/// If the file cannot be read or is not a libpcap file.
pub fn load(path: &std::path::Path) -> anyhow::Result<Recording> {
    use anyhow::Context;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let recording = read_pcap(&bytes).with_context(|| format!("cannot read {}", path.display()))?;
    if recording.truncated_tail {
        tracing::warn!(file = %path.display(), "the recording ends inside a record; playing what precedes it");
    }
    Ok(recording)
}

/// The packet header's session time, if the datagram has a header.
fn session_time(payload: &[u8]) -> Option<f64> {
    PacketHeader::read(&mut Reader::new(payload))
        .ok()
        .map(|h| f64::from(h.session_time))
}

/// Paces a recording: [`Pacer::next`] returns each datagram when it is due, earlier datagrams of a seek at once.
#[derive(Debug)]
pub struct Pacer<'a> {
    datagrams: &'a [Datagram],
    options: PlayOptions,
    /// Index of the first datagram at or after `start_s`.
    seek_end: usize,
    next: usize,
    started: Instant,
    /// When the first paced datagram was delivered.
    t0: Option<Instant>,
}

impl<'a> Pacer<'a> {
    /// A pacer over `datagrams`, starting now.
    pub fn new(datagrams: &'a [Datagram], options: PlayOptions) -> Self {
        let seek_end = datagrams
            .iter()
            .position(|d| session_time(&d.payload).is_some_and(|t| t >= options.start_s))
            .unwrap_or(datagrams.len());
        Pacer {
            datagrams,
            options,
            seek_end,
            next: 0,
            started: Instant::now(),
            t0: None,
        }
    }

    /// Datagrams returned so far.
    pub fn delivered(&self) -> usize {
        self.next
    }

    /// The next datagram once it is due; `None` at the end or when `stop` turns true.
    pub async fn next(&mut self, stop: &mut watch::Receiver<bool>) -> Option<&'a Datagram> {
        let d = self.datagrams.get(self.next)?;
        if *stop.borrow() {
            return None;
        }
        let k = self.next;
        let due = if k < self.seek_end {
            match self.options.fast_forward_per_s {
                Some(rate) => Some(self.started + Duration::from_secs_f64(k as f64 / rate)),
                None => {
                    if k % 256 == 255 {
                        // Let other tasks (the HTTP server) run during a long in-process fast-forward.
                        tokio::task::yield_now().await;
                    }
                    None
                }
            }
        } else {
            let first = &self.datagrams[self.seek_end];
            let t0 = *self.t0.get_or_insert_with(Instant::now);
            let offset =
                d.received.saturating_sub(first.received).as_secs_f64() / self.options.speed;
            Some(t0 + Duration::from_secs_f64(offset))
        };
        if let Some(due) = due {
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {}
                _ = stop.changed() => return None,
            }
        }
        self.next += 1;
        Some(d)
    }
}

/// The replay source of `boxbox serve --replay`: plays `file` into the relay, then holds the final state.
pub async fn serve(
    file: PathBuf,
    options: PlayOptions,
    publisher: Publisher,
    stats: Arc<SourceStats>,
    mut stop: watch::Receiver<bool>,
) {
    let path = file.clone();
    let loaded = tokio::task::spawn_blocking(move || load(&path)).await;
    let recording = match loaded {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::error!("{e:#}");
            stats.error("recording", format!("{e:#}"));
            stats.set_connection(Connection::Failed);
            return;
        }
        Err(e) => {
            stats.error("recording", e.to_string());
            stats.set_connection(Connection::Failed);
            return;
        }
    };
    stats.set_recording(Some(file.clone()));
    stats.set_connection(Connection::Connected);
    tracing::info!(file = %file.display(), datagrams = recording.datagrams.len(), ?options, "replaying");
    let mut pipeline = PacketPipeline::new(publisher, stats.clone());
    let mut pacer = Pacer::new(&recording.datagrams, options);
    while let Some(d) = pacer.next(&mut stop).await {
        let _ = pipeline.push(&d.payload, 0);
    }
    pipeline.publish_now();
    if pacer.delivered() == recording.datagrams.len() {
        stats.set_connection(Connection::Finished);
        tracing::info!(file = %file.display(), "replay finished");
    }
}
