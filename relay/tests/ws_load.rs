//! A bounded load test on loopback: the real `boxbox serve` binary fed by `boxbox simulate` over UDP at the game's
//! rate (20 frames a second), and 300 WebSocket viewers for about 10 s. Every viewer must get a snapshot first and
//! then deltas in sequence (a resync snapshot is allowed, a gap is not), and the relay's resident memory, read from
//! `/proc/PID/status`, must stay bounded.

// Test helpers outside #[test] functions may panic too: a panic is a test failure here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

const VIEWERS: usize = 300;
const SECONDS: u64 = 10;
/// The relay's resident memory may not exceed this (a debug build; about 20 MiB idle).
const MAX_RSS_MIB: u64 = 256;

/// The relay as a child process, killed when dropped.
struct Served {
    child: Child,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    kib / 1024
}

/// What one viewer saw: deltas in sequence, resync snapshots, and sequence gaps (which must not happen).
#[derive(Debug, Default)]
struct Seen {
    snapshot_first: bool,
    deltas: u64,
    resyncs: u64,
    gaps: u64,
}

async fn viewer(addr: SocketAddr, until: Instant) -> Seen {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    let mut seen = Seen::default();
    let mut last: Option<u64> = None;
    while let Ok(Some(frame)) = tokio::time::timeout_at(until, ws.next()).await {
        let Message::Text(text) = frame.expect("no ws error") else {
            continue;
        };
        let seq = common::frame_seq(&text).expect("a numbered frame");
        let snapshot = text.starts_with(r#"{"type":"snapshot""#);
        match last {
            None => seen.snapshot_first = snapshot,
            Some(_) if snapshot => seen.resyncs += 1,
            Some(l) if seq == l + 1 => seen.deltas += 1,
            Some(_) => seen.gaps += 1,
        }
        last = Some(seq);
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_viewers_and_the_game_at_full_rate() {
    let udp_port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let udp: SocketAddr = format!("127.0.0.1:{udp_port}").parse().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_boxbox"))
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--no-persist",
            "--no-record",
        ])
        // Every viewer comes from 127.0.0.1: no per-IP rate limit.
        .args(["--rate-limit-per-s", "0", "--rate-hz", "10"])
        .args(["--udp", &udp.to_string(), "--web-dir"])
        .arg(std::env::temp_dir().join("boxbox-no-web-app"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = common::served_addr(&mut child);
    let relay = Served { child };
    let pid = relay.child.id();

    // The game at its rate: 20 frames per second of about ten datagrams each, in real time.
    let game = tokio::spawn(boxbox_relay::simulate::run(
        boxbox_relay::simulate::SimulateOptions {
            seed: 9,
            laps: 57,
            speed: 1.0,
            frame_hz: 20.0,
            to: Some(udp),
            pcap: None,
        },
    ));
    // The relay has a state once a viewer gets a snapshot.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
            .await
            .unwrap();
        if tokio::time::timeout(Duration::from_millis(500), ws.next())
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no state from the game within 20 s"
        );
    }
    let idle_mib = rss_mib(pid);

    let until = Instant::now() + Duration::from_secs(SECONDS);
    let mut viewers = Vec::new();
    for i in 0..VIEWERS {
        viewers.push(tokio::spawn(viewer(addr, until)));
        if i % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let mut max_mib = 0;
    while Instant::now() < until {
        max_mib = max_mib.max(rss_mib(pid));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut total = Seen::default();
    for v in viewers {
        let seen = v.await.unwrap();
        assert!(seen.snapshot_first, "a snapshot first: {seen:?}");
        assert_eq!(seen.gaps, 0, "deltas in sequence: {seen:?}");
        // 10 states a second for about 10 s, less the time to connect.
        assert!(seen.deltas >= 50, "a viewer got only {seen:?}");
        total.deltas += seen.deltas;
        total.resyncs += seen.resyncs;
    }
    game.abort();
    eprintln!(
        "{VIEWERS} viewers: {} deltas, {} resyncs; relay RSS {idle_mib} MiB idle, {max_mib} MiB at most",
        total.deltas, total.resyncs
    );
    assert!(
        max_mib < MAX_RSS_MIB,
        "the relay grew to {max_mib} MiB (from {idle_mib} MiB)"
    );
}
