//! `boxbox simulate`: the built-in simulator as a stand-in for the game. A seeded race is encoded as format-2025
//! UDP datagrams (`boxbox_engine::telemetry::synth`) and sent to an address in real time (scaled by `--speed`),
//! and/or written straight to a `.pcap` recording as fast as it can be computed.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use boxbox_engine::calibration;
use boxbox_engine::recording::{Datagram, pcap_file_header, pcap_record};
use boxbox_engine::sim::{RaceSim, SimConfig};
use boxbox_engine::telemetry::synth::PacketSynth;
use tokio::time::{Instant, MissedTickBehavior};

use crate::source::udp::sender_socket;

/// What to simulate and where to send it.
#[derive(Clone, Debug)]
pub struct SimulateOptions {
    /// Seed of the race.
    pub seed: u64,
    /// Race distance in laps.
    pub laps: u32,
    /// Simulated seconds per real second when sending.
    pub speed: f64,
    /// Frames per simulated second (the game sends 20–60).
    pub frame_hz: f64,
    /// Send the datagrams here, paced.
    pub to: Option<SocketAddr>,
    /// Write the datagrams to this recording (with simulated-time timestamps).
    pub pcap: Option<PathBuf>,
}

/// Runs the race to the flag; returns how many datagrams were produced.
///
/// # Errors
/// If the socket or the file fails.
pub async fn run(options: SimulateOptions) -> anyhow::Result<u64> {
    let mut sim = RaceSim::new(&SimConfig {
        seed: options.seed,
        total_laps: options.laps,
    });
    // A session uid derived from the seed: the same seed is the same session.
    let session_uid = 0xb0c5_b0c5_0000_0000 ^ options.seed;
    let mut synth = PacketSynth::new(session_uid, calibration::SAKHIR.sector_end_frac);
    let target = match options.to {
        Some(to) => Some((
            sender_socket(to)
                .await
                .context("cannot open a UDP socket")?,
            to,
        )),
        None => None,
    };
    let mut pcap = match &options.pcap {
        Some(path) => {
            let mut file = std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?,
            );
            std::io::Write::write_all(&mut file, &pcap_file_header())?;
            Some(file)
        }
        None => None,
    };
    let dt_s = 1.0 / options.frame_hz;
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(dt_s / options.speed));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let started = Instant::now();
    let (src, dst) = (
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, 20_778),
        match options.to {
            Some(SocketAddr::V4(a)) => a,
            _ => SocketAddrV4::new(Ipv4Addr::LOCALHOST, 20_777),
        },
    );
    let mut sent = 0u64;
    let mut t = 0.0;
    loop {
        let state = sim.state();
        let datagrams = synth.frame(&state).context("cannot encode the race")?;
        if let Some((socket, to)) = &target {
            ticks.tick().await;
            for d in &datagrams {
                socket.send_to(d, *to).await?;
            }
        }
        if let Some(file) = pcap.as_mut() {
            for d in &datagrams {
                let record = pcap_record(&Datagram {
                    received: Duration::from_secs_f64(state.session_time_s),
                    src,
                    dst,
                    payload: d.clone(),
                });
                std::io::Write::write_all(file, &record)?;
            }
        }
        sent += datagrams.len() as u64;
        if sim.is_finished() {
            break;
        }
        t += dt_s;
        sim.advance_to(t);
    }
    if let Some(mut file) = pcap {
        std::io::Write::flush(&mut file)?;
    }
    tracing::info!(
        sent,
        seconds = started.elapsed().as_secs_f64(),
        "simulated session done"
    );
    Ok(sent)
}
