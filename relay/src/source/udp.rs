//! The game as a source: EA F1 UDP datagrams on a socket, decoded and normalized into race states, each datagram
//! forwarded unchanged to other apps (`--forward`) and appended to the session's recording, with counters per
//! packet type and per error kind. [`PacketPipeline`] (decode → count → normalize → publish) is shared with the
//! replay source, so a recording plays through exactly the code the live game does.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use boxbox_engine::recording::Datagram;
use boxbox_engine::telemetry::{self, format::PACKET_NAMES, normalize::Normalizer};
use tokio::net::UdpSocket;
use tokio::sync::watch;

use super::{Connection, Fallback, FallbackRun, Publisher, SourceStats};
use crate::recorder::Recorder;

/// Receive buffer: any UDP datagram fits (65,507 bytes over IPv4), so one larger than the games send (1,460 bytes
/// at most for formats 2023–2025, 1,470 for 2026) is received whole: counted as a wrong length with its real size,
/// forwarded and recorded like the rest. A smaller buffer cuts it on Linux and fails the receive on Windows.
pub const RECV_BUFFER_BYTES: usize = 65_536;

/// A silence this long counts as one failure towards the fallback.
const SILENCE: Duration = Duration::from_secs(5);

/// Decodes datagrams, counts them, normalizes them and publishes the race.
#[derive(Debug)]
pub struct PacketPipeline {
    normalizer: Normalizer,
    publisher: Publisher,
    stats: Arc<SourceStats>,
}

impl PacketPipeline {
    /// A pipeline publishing through `publisher` and counting into `stats`.
    pub fn new(publisher: Publisher, stats: Arc<SourceStats>) -> Self {
        PacketPipeline {
            normalizer: Normalizer::new(),
            publisher,
            stats,
        }
    }

    /// Takes one datagram (already forwarded `forwarded` times). Malformed datagrams are counted and skipped.
    /// Returns the session uid of a datagram that decoded.
    pub fn push(&mut self, datagram: &[u8], forwarded: u64) -> Option<u64> {
        let decoded = telemetry::decode(datagram);
        let counted = match &decoded {
            Ok(p) => Ok(PACKET_NAMES[usize::from(p.header.packet_id)]),
            Err(e) => Err((e.kind(), e.to_string())),
        };
        self.stats.count(counted, forwarded);
        let Ok(packet) = decoded else { return None };
        let session_before = self.normalizer.session_uid();
        let late_before = self.normalizer.counters().late_datagrams;
        self.normalizer.push(&packet);
        if self.normalizer.counters().late_datagrams > late_before {
            self.stats.error(
                "late_datagram",
                format!(
                    "a {} datagram of frame {} (overall {}) arrived after a newer one: left out (UDP reordered it)",
                    PACKET_NAMES[usize::from(packet.header.packet_id)],
                    packet.header.frame_identifier,
                    packet.header.overall_frame_identifier
                ),
            );
        }
        if self.normalizer.session_uid() != session_before {
            // The game's session uid names the session: a relay restarted during it continues its history.
            self.publisher.begin_session(Some(format!(
                "game session {:016x}",
                packet.header.session_uid
            )));
            tracing::info!(
                session_uid = packet.header.session_uid,
                format = packet.header.packet_format,
                "game session"
            );
        }
        if self.publisher.due() {
            self.publish_now();
        } else {
            self.publisher.hold();
        }
        Some(packet.header.session_uid)
    }

    /// When a held-back state is due, if one is waiting.
    pub fn held_until(&self) -> Option<tokio::time::Instant> {
        self.publisher.held_until()
    }

    /// Publishes the current state whatever the rate (e.g. at the end of a replay).
    pub fn publish_now(&mut self) {
        if let Some(state) = self.normalizer.state() {
            self.publisher.publish_now(state);
        }
    }
}

/// What the UDP source does besides decoding.
#[derive(Clone, Debug)]
pub struct UdpSettings {
    /// Re-send every datagram here, unchanged.
    pub forward: Vec<SocketAddr>,
    /// Record every session here; `None` disables recording.
    pub record_dir: Option<PathBuf>,
    /// The simulator to run after repeated silences.
    pub fallback: Option<Fallback>,
}

/// Receives datagrams on `socket` until `stop` turns true.
pub async fn run(
    socket: UdpSocket,
    settings: UdpSettings,
    publisher: Publisher,
    stats: Arc<SourceStats>,
    mut stop: watch::Receiver<bool>,
) {
    let local = socket.local_addr().ok();
    if let Some(at) = local {
        stats.set_bound(at);
        tracing::info!(%at, forward = ?settings.forward, "listening for game telemetry");
    }
    stats.set_connection(Connection::Connected);
    let mut pipeline = PacketPipeline::new(publisher, stats.clone());
    let mut recorder = settings.record_dir.as_ref().map(Recorder::new);
    let mut buf = vec![0u8; RECV_BUFFER_BYTES];
    let mut silences = 0u32;
    let mut fallback: Option<FallbackRun> = None;
    loop {
        let (n, peer) = tokio::select! {
            received = tokio::time::timeout(SILENCE, socket.recv_from(&mut buf)) => match received {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => {
                    // On some platforms an ICMP "port unreachable" from a forward target surfaces here.
                    tracing::debug!("udp receive failed: {e}");
                    continue;
                }
                Err(_silence) => {
                    silences += 1;
                    // The game paused or stopped: what is buffered goes to disk now, not with the next datagram.
                    if let Some(rec) = recorder.as_mut()
                        && let Err(e) = rec.flush()
                    {
                        stats.error("recording", format!("cannot record: {e}"));
                    }
                    if let Some(fb) = &settings.fallback
                        && fallback.is_none()
                        && silences >= fb.after_failures
                    {
                        fallback = Some(fb.start(&stats));
                    }
                    continue;
                }
            },
            () = sleep_until_some(pipeline.held_until()) => {
                pipeline.publish_now();
                continue;
            }
            _ = stop.changed() => break,
        };
        silences = 0;
        if let Some(run) = fallback.take() {
            run.stop(&stats).await;
        }
        let datagram = &buf[..n];
        let mut forwarded = 0;
        for dst in &settings.forward {
            match socket.send_to(datagram, dst).await {
                Ok(_) => forwarded += 1,
                Err(e) => tracing::debug!(%dst, "forward failed: {e}"),
            }
        }
        let session = pipeline.push(datagram, forwarded);
        if let Some(rec) = recorder.as_mut() {
            let record = Datagram {
                received: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default(),
                src: v4(peer),
                dst: local.map_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 20_777), v4),
                payload: datagram.to_vec(),
            };
            let before = rec.path().map(ToOwned::to_owned);
            if let Err(e) = rec.write(&record, session) {
                stats.error("recording", format!("cannot record: {e}"));
            }
            if rec.path() != before.as_deref() {
                stats.set_recording(rec.path().map(ToOwned::to_owned));
            }
        }
    }
    if let Some(run) = fallback.take() {
        run.stop(&stats).await;
    }
    if let Some(rec) = recorder.as_mut()
        && let Err(e) = rec.finish()
    {
        tracing::error!("cannot finish the recording: {e}");
    }
}

/// A socket to send datagrams to `to` from: an ephemeral port of the same address family.
///
/// # Errors
/// If no such socket can be bound.
pub async fn sender_socket(to: SocketAddr) -> std::io::Result<UdpSocket> {
    let any: SocketAddr = if to.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    UdpSocket::bind(any).await
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
pub(crate) async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The IPv4 form of an address for the pcap framing (IPv6 peers are recorded as IPv4-mapped or unspecified).
fn v4(addr: SocketAddr) -> SocketAddrV4 {
    match addr {
        SocketAddr::V4(a) => a,
        SocketAddr::V6(a) => SocketAddrV4::new(
            a.ip().to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED),
            a.port(),
        ),
    }
}
