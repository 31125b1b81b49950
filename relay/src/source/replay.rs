//! Playing a libpcap recording back with its original timing, scaled: into the relay (`serve --replay`, through
//! the same [`PacketPipeline`] as live UDP) or out to a UDP address (`boxbox replay --to`).
//!
//! Seek: datagrams before `start_s` (session time, from each packet's header) are delivered at once (or at a
//! bounded rate over a socket) so the state at the seek point is complete; pacing starts there. The file is read
//! as it plays, a window at a time, never whole.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use boxbox_engine::recording::Datagram;
use boxbox_engine::telemetry::PacketHeader;
use boxbox_engine::telemetry::reader::Reader;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::udp::PacketPipeline;
use super::{Connection, Publisher, SourceStats};
use crate::pcap_stream::PcapStream;

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

/// Datagrams read ahead of the pacer: the memory a playback holds, whatever the recording's size (a race recorded
/// at the games' rates is gigabytes).
pub const READ_AHEAD: usize = 1024;

/// A recording being played: read on a blocking thread through a window ([`PcapStream`]) and handed over
/// [`READ_AHEAD`] datagrams at most ahead of the [`Pacer`].
#[derive(Debug)]
pub struct Playback {
    datagrams: mpsc::Receiver<Datagram>,
    reader: JoinHandle<anyhow::Result<ReadEnd>>,
}

/// How reading a recording ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadEnd {
    /// UDP datagrams read.
    pub datagrams: usize,
    /// Frames that are not IPv4/UDP datagrams, skipped.
    pub skipped_frames: usize,
    /// The file ended inside a record, or at a damaged one: what came before it was played.
    pub truncated_tail: bool,
}

/// Opens a recording and starts reading it.
///
/// # Errors
/// If the file cannot be read or is not a libpcap file.
pub fn open(path: &Path) -> anyhow::Result<Playback> {
    let mut stream = PcapStream::open(path)?;
    let (tx, datagrams) = mpsc::channel(READ_AHEAD);
    let reader = tokio::task::spawn_blocking(move || {
        let mut end = ReadEnd::default();
        while let Some(record) = stream.next_record()? {
            match record {
                Some(d) => {
                    // The playback was stopped: nothing more to read.
                    if tx.blocking_send(d).is_err() {
                        return Ok(end);
                    }
                    end.datagrams += 1;
                }
                None => end.skipped_frames += 1,
            }
        }
        end.truncated_tail = stream.truncated_tail();
        Ok(end)
    });
    Ok(Playback { datagrams, reader })
}

impl Playback {
    /// Stops reading (if the pacer stopped early) and says how reading ended.
    ///
    /// # Errors
    /// If the file could not be read to its end.
    pub async fn finish(self) -> anyhow::Result<ReadEnd> {
        let Playback { datagrams, reader } = self;
        drop(datagrams);
        reader.await?
    }
}

/// The packet header's session time, if the datagram has a header.
fn session_time(payload: &[u8]) -> Option<f64> {
    PacketHeader::read(&mut Reader::new(payload))
        .ok()
        .map(|h| f64::from(h.session_time))
}

/// Paces a playback: [`Pacer::next`] returns each datagram when it is due. Until the first datagram at or after
/// `start_s` (session time) they come at once (a seek: the state there is complete); from it on, with the
/// recording's timing, scaled.
#[derive(Debug)]
pub struct Pacer {
    options: PlayOptions,
    /// The seek is over: datagrams are paced.
    paced: bool,
    delivered: usize,
    started: Instant,
    /// When the first paced datagram was delivered, and when it had been received.
    t0: Option<(Instant, Duration)>,
}

impl Pacer {
    /// A pacer starting now.
    pub fn new(options: PlayOptions) -> Self {
        Pacer {
            options,
            paced: false,
            delivered: 0,
            started: Instant::now(),
            t0: None,
        }
    }

    /// Datagrams returned so far.
    pub fn delivered(&self) -> usize {
        self.delivered
    }

    /// The next datagram of `playback` once it is due; `None` at the end or when `stop` turns true.
    pub async fn next(
        &mut self,
        playback: &mut Playback,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<Datagram> {
        if *stop.borrow() {
            return None;
        }
        let d = tokio::select! {
            d = playback.datagrams.recv() => d?,
            _ = stop.changed() => return None,
        };
        if !self.paced {
            self.paced = session_time(&d.payload).is_some_and(|t| t >= self.options.start_s);
        }
        let k = self.delivered;
        let due = if !self.paced {
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
            let (t0, first) = *self.t0.get_or_insert_with(|| (Instant::now(), d.received));
            let offset = d.received.saturating_sub(first).as_secs_f64() / self.options.speed;
            Some(t0 + Duration::from_secs_f64(offset))
        };
        if let Some(due) = due {
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {}
                _ = stop.changed() => return None,
            }
        }
        self.delivered += 1;
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
    // Opening reads the file's first window: file IO, off the async threads.
    let opened = tokio::task::spawn_blocking(move || open(&path)).await;
    let mut playback = match opened {
        Ok(Ok(p)) => p,
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
    tracing::info!(file = %file.display(), ?options, "replaying");
    let mut pipeline = PacketPipeline::new(publisher, stats.clone());
    let mut pacer = Pacer::new(options);
    while let Some(d) = pacer.next(&mut playback, &mut stop).await {
        let _ = pipeline.push(&d.payload, 0);
    }
    pipeline.publish_now();
    let stopped = *stop.borrow();
    match playback.finish().await {
        Ok(end) => {
            if end.truncated_tail {
                tracing::warn!(
                    file = %file.display(),
                    "the recording ends inside a record; played what precedes it"
                );
            }
            if !stopped {
                stats.set_connection(Connection::Finished);
                tracing::info!(file = %file.display(), datagrams = end.datagrams, "replay finished");
            }
        }
        Err(e) => {
            tracing::error!("{e:#}");
            stats.error("recording", format!("{e:#}"));
            stats.set_connection(Connection::Failed);
        }
    }
}
