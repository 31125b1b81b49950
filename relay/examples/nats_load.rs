//! A load generator for the NATS scale-out, run as its own process against a NATS server that a relay started with
//! `--nats` publishes to: N viewers, each its own NATS connection (as each browser would be), subscribe to every
//! session's deltas and count them, and whether each viewer saw every sequence number.
//!
//! ```sh
//! nats-server -p 4222 &
//! cargo build --release -p boxbox-relay --bin boxbox --example nats_load
//! target/release/boxbox serve --no-persist --no-record --nats nats://127.0.0.1:4222 --http 127.0.0.1:8080 &
//! target/release/examples/nats_load --nats nats://127.0.0.1:4222 --clients 1000 --seconds 20 \
//!   --relay-pid $! --server-pid $(pgrep nats-server)
//! ```
//!
//! One line of JSON on stdout: viewers connected, deltas per viewer per second, gaps (a delta whose `seq` does not
//! follow the viewer's last), and the relay's and the NATS server's CPU and memory when their pids are given (read
//! from `/proc`). Loopback only; bounded by `--seconds`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::Instant;

// Its `percentile` is unused here: this generator counts deltas, it does not time them.
#[allow(dead_code)]
#[path = "support/proc_stats.rs"]
mod proc_stats;

/// Command-line settings.
#[derive(Debug)]
struct Args {
    nats: String,
    clients: usize,
    seconds: f64,
    relay_pid: Option<u32>,
    server_pid: Option<u32>,
}

fn args() -> Args {
    let mut a = Args {
        nats: "nats://127.0.0.1:4222".into(),
        clients: 1000,
        seconds: 20.0,
        relay_pid: None,
        server_pid: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().expect("a value after the flag");
        match flag.as_str() {
            "--nats" => a.nats = value(),
            "--clients" => a.clients = value().parse().unwrap(),
            "--seconds" => a.seconds = value().parse().unwrap(),
            "--relay-pid" => a.relay_pid = Some(value().parse().unwrap()),
            "--server-pid" => a.server_pid = Some(value().parse().unwrap()),
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

/// What one viewer saw.
#[derive(Debug, Default)]
struct Seen {
    deltas: u64,
    gaps: u64,
}

/// `"seq":N` from the head of a frame.
fn seq(payload: &[u8]) -> Option<u64> {
    let head = &payload[..payload.len().min(64)];
    let text = std::str::from_utf8(head).ok()?;
    let at = text.find("\"seq\":")? + 6;
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

async fn viewer(args: Arc<Args>, until: Instant) -> Option<Seen> {
    let client = async_nats::connect(args.nats.as_str()).await.ok()?;
    let mut deltas = client.subscribe("boxbox.*.delta").await.ok()?;
    let mut seen = Seen::default();
    let mut last = None;
    while let Ok(Some(message)) = tokio::time::timeout_at(until, deltas.next()).await {
        let Some(seq) = seq(&message.payload) else {
            continue;
        };
        seen.deltas += 1;
        if last.is_some_and(|l: u64| seq != l + 1) {
            seen.gaps += 1;
        }
        last = Some(seq);
    }
    Some(seen)
}

#[tokio::main]
async fn main() {
    let args = Arc::new(args());
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(args.seconds);
    let mut viewers = Vec::with_capacity(args.clients);
    for i in 0..args.clients {
        viewers.push(tokio::spawn(viewer(args.clone(), until)));
        if i % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    // Both processes from 2 s in (the viewers connected) to the end.
    let (relay, server) = tokio::join!(
        proc_stats::watch(args.relay_pid, Duration::from_secs(2), until),
        proc_stats::watch(args.server_pid, Duration::from_secs(2), until),
    );
    let mut connected = 0;
    let mut all = Seen::default();
    for v in viewers {
        if let Ok(Some(seen)) = v.await {
            connected += 1;
            all.deltas += seen.deltas;
            all.gaps += seen.gaps;
        }
    }
    println!(
        "{}",
        serde_json::json!({
            "clients": args.clients,
            "connected": connected,
            "seconds": started.elapsed().as_secs_f64(),
            "deltas": all.deltas,
            "deltas_per_viewer_per_s": all.deltas as f64 / connected.max(1) as f64 / args.seconds,
            "gaps": all.gaps,
            "relay_cpu_cores": relay.0,
            "relay_max_rss_mib": relay.1,
            "nats_server_cpu_cores": server.0,
            "nats_server_max_rss_mib": server.1,
        })
    );
}
