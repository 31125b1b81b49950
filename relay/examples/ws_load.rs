//! A load generator for `/ws`, run as its own process against a running relay (`boxbox serve --udp ADDR`): it
//! plays the game (a simulated race sent as F1 25 UDP datagrams in real time) and opens N viewers, then measures
//! how long a UDP datagram takes to come out as a WebSocket frame, and whether every viewer got every delta.
//!
//! ```sh
//! cargo build --release -p boxbox-relay --bin boxbox --example ws_load
//! target/release/boxbox serve --no-persist --no-record --udp 127.0.0.1:20777 --http 127.0.0.1:8080 &
//! target/release/examples/ws_load --relay 127.0.0.1:8080 --udp 127.0.0.1:20777 --clients 100 --seconds 20
//! ```
//!
//! Latency: each game frame's datagrams share a session time, which the relay's next state carries; a viewer's
//! first delta with session time T is timed against the send of the first datagram of frame T (the frame's later
//! datagrams may wait for the relay's `--rate-hz` and go out in a later delta with the same time, not timed). One line of JSON on
//! stdout: clients connected, frames, deltas, resync snapshots, gaps, latency p50/p99/max in ms, and the relay's
//! CPU and memory when `--relay-pid` is given (read from `/proc`). Loopback only; bounded by `--seconds`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use boxbox_engine::calibration;
use boxbox_engine::sim::{RaceSim, SimConfig};
use boxbox_engine::telemetry::synth::PacketSynth;
use futures_util::{SinkExt, StreamExt};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

#[path = "support/proc_stats.rs"]
mod proc_stats;

/// Command-line settings.
#[derive(Debug)]
struct Args {
    relay: SocketAddr,
    udp: SocketAddr,
    clients: usize,
    seconds: f64,
    frame_hz: f64,
    /// Subscribe every viewer to timing only.
    timing_only: bool,
    relay_pid: Option<u32>,
}

fn args() -> Args {
    let mut a = Args {
        relay: "127.0.0.1:8080".parse().unwrap(),
        udp: "127.0.0.1:20777".parse().unwrap(),
        clients: 100,
        seconds: 20.0,
        frame_hz: 20.0,
        timing_only: false,
        relay_pid: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().expect("a value after the flag");
        match flag.as_str() {
            "--relay" => a.relay = value().parse().unwrap(),
            "--udp" => a.udp = value().parse().unwrap(),
            "--clients" => a.clients = value().parse().unwrap(),
            "--seconds" => a.seconds = value().parse().unwrap(),
            "--frame-hz" => a.frame_hz = value().parse().unwrap(),
            "--timing-only" => a.timing_only = true,
            "--relay-pid" => a.relay_pid = Some(value().parse().unwrap()),
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

/// What one viewer saw.
#[derive(Debug, Default)]
struct Seen {
    frames: u64,
    deltas: u64,
    snapshots: u64,
    gaps: u64,
    latencies_us: Vec<u64>,
}

/// A number after `"key":` in the first 200 bytes of a frame.
fn number_after(text: &str, key: &str) -> Option<f64> {
    let head = &text[..text.len().min(400)];
    let at = head.find(key)? + key.len();
    let digits: String = head[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-' || *c == 'e')
        .collect();
    digits.parse().ok()
}

/// Session time (as bits, for an exact lookup) → when its first datagram was sent.
type SendTimes = Arc<Mutex<BTreeMap<u64, Instant>>>;

async fn viewer(args: Arc<Args>, sent: SendTimes, until: Instant) -> Option<Seen> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", args.relay))
        .await
        .ok()?;
    if args.timing_only {
        ws.send(Message::Text(
            r#"{"type":"subscribe","cars":"all","topics":["timing"]}"#.into(),
        ))
        .await
        .ok()?;
    }
    let mut seen = Seen::default();
    let mut last: Option<u64> = None;
    let mut last_timed = None;
    while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(until, ws.next()).await {
        let Message::Text(text) = frame else { continue };
        let received = Instant::now();
        seen.frames += 1;
        let Some(seq) = number_after(&text, "\"seq\":").map(|s| s as u64) else {
            continue;
        };
        if text.starts_with("{\"type\":\"snapshot\"") {
            seen.snapshots += 1;
        } else {
            seen.deltas += 1;
            if last.is_some_and(|l| seq != l + 1) {
                seen.gaps += 1;
            }
            // Only the first delta of a game frame's session time is its datagrams' way out: later ones (the
            // rest of the frame's datagrams, held back by the relay's rate limit) carry the same time.
            if let Some(t) = number_after(&text, "\"session_time_s\":")
                && last_timed != Some(t.to_bits())
                && let Some(at) = sent.lock().unwrap().get(&t.to_bits())
            {
                last_timed = Some(t.to_bits());
                seen.latencies_us
                    .push(u64::try_from(received.duration_since(*at).as_micros()).unwrap_or(0));
            }
        }
        last = Some(seq);
    }
    Some(seen)
}

/// The game: a simulated race sent as datagrams at `frame_hz` in real time until `until`.
async fn game(args: Arc<Args>, sent: SendTimes, until: Instant) -> u64 {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut sim = RaceSim::new(&SimConfig {
        seed: 11,
        total_laps: 57,
    });
    let mut synth = PacketSynth::new(0xb0c5_10ad, calibration::SAKHIR.sector_end_frac);
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / args.frame_hz));
    let mut t = 0.0;
    let mut n = 0;
    while Instant::now() < until {
        ticks.tick().await;
        let state = sim.state();
        let datagrams = synth.frame(&state).unwrap();
        // The packet header's session time is an f32: the relay's state carries it widened to f64.
        let key = f64::from(state.session_time_s as f32).to_bits();
        sent.lock().unwrap().insert(key, Instant::now());
        for d in &datagrams {
            let _ = socket.send_to(d, args.udp).await;
            n += 1;
        }
        t += 1.0 / args.frame_hz;
        sim.advance_to(t);
    }
    n
}

#[tokio::main]
async fn main() {
    let args = Arc::new(args());
    let sent: SendTimes = Arc::default();
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(args.seconds);
    let game = tokio::spawn(game(args.clone(), sent.clone(), until));
    // Viewers join over the first second or so (a burst of thousands of handshakes is its own test).
    let mut viewers = Vec::with_capacity(args.clients);
    for i in 0..args.clients {
        viewers.push(tokio::spawn(viewer(args.clone(), sent.clone(), until)));
        if i % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    // The relay's CPU from 2 s in (all viewers connected) to the end.
    let (cpu, max_rss_mib) = proc_stats::watch(args.relay_pid, Duration::from_secs(2), until).await;
    let datagrams = game.await.unwrap();
    let mut connected = 0;
    let mut all = Seen::default();
    let mut starved = 0;
    for v in viewers {
        if let Ok(Some(seen)) = v.await {
            connected += 1;
            if seen.deltas == 0 {
                starved += 1;
            }
            all.frames += seen.frames;
            all.deltas += seen.deltas;
            all.snapshots += seen.snapshots;
            all.gaps += seen.gaps;
            all.latencies_us.extend(seen.latencies_us);
        }
    }
    all.latencies_us.sort_unstable();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "clients": args.clients,
            "connected": connected,
            "starved": starved,
            "seconds": secs,
            "timing_only": args.timing_only,
            "datagrams_sent": datagrams,
            "frames": all.frames,
            "deltas": all.deltas,
            "deltas_per_viewer_per_s": all.deltas as f64 / connected.max(1) as f64 / args.seconds,
            "snapshots": all.snapshots,
            "gaps": all.gaps,
            "timed": all.latencies_us.len(),
            "latency_ms": {
                "p50": proc_stats::percentile(&all.latencies_us, 0.5),
                "p99": proc_stats::percentile(&all.latencies_us, 0.99),
                "max": proc_stats::percentile(&all.latencies_us, 1.0),
            },
            "relay_cpu_cores": cpu,
            "relay_max_rss_mib": max_rss_mib,
        })
    );
}
