//! NATS end to end: a real `nats-server` (the Debian package, installed by `scripts/setup.sh`), a relay running the
//! simulator with `--nats`, and a NATS subscriber that rebuilds the race from `boxbox.<session>.snapshot` and
//! `.delta` and must see what `/ws` clients see; then the server goes away and comes back.

// Test helpers outside #[test] functions may panic too: a panic is a test failure here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use boxbox_engine::protocol::{Replica, ServerMessage};
use boxbox_relay::source::SourceSpec;
use common::Relay;
use futures_util::StreamExt;

/// A `nats-server` child process, killed when dropped.
struct NatsServer {
    child: std::process::Child,
}

impl NatsServer {
    /// Starts `nats-server` on 127.0.0.1:`port` and waits until it speaks NATS (a TCP accept alone came before
    /// the server could take a client once).
    async fn start(port: u16) -> NatsServer {
        let binary = nats_server_binary();
        let child = std::process::Command::new(&binary)
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let server = NatsServer { child };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "nats-server did not listen on port {port} within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let url = format!("nats://127.0.0.1:{port}");
        while async_nats::connect(&url).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "nats-server did not take a client on port {port} within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `nats-server` from `$PATH` (or `/usr/sbin`, where Debian puts it). Missing, the test fails: it does not skip.
fn nats_server_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/bin")])
        .map(|dir| dir.join("nats-server"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "nats-server is not installed: this test needs a real NATS server \
                 (`apt-get install nats-server`, or run scripts/setup.sh)"
            )
        })
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The next message on `boxbox.*.>` that is a snapshot or a delta (within 15 s), with its subject's kind checked.
async fn next_frame(sub: &mut async_nats::Subscriber) -> ServerMessage {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(15), sub.next())
            .await
            .expect("a nats message within 15 s")
            .expect("subscription open");
        let subject = message.subject.as_str();
        let parts: Vec<&str> = subject.split('.').collect();
        assert_eq!(parts[0], "boxbox", "{subject}");
        let kind = parts[2..].join(".");
        if kind == "snapshot.request" {
            continue;
        }
        assert!(parts[1].starts_with("live-"), "session token: {subject}");
        let frame: ServerMessage = serde_json::from_slice(&message.payload).unwrap();
        match (&frame, kind.as_str()) {
            (ServerMessage::Snapshot { .. }, "snapshot")
            | (ServerMessage::Delta { .. }, "delta") => {}
            _ => panic!("{subject} carries {frame:?}"),
        }
        return frame;
    }
}

fn seq_of(frame: &ServerMessage) -> u64 {
    match frame {
        ServerMessage::Snapshot { seq, .. } | ServerMessage::Delta { seq, .. } => *seq,
        other => panic!("not a frame: {other:?}"),
    }
}

/// Waits for a snapshot newer than `after`, then for `n` deltas in sequence after it; returns the last `seq`.
async fn resumes_after(sub: &mut async_nats::Subscriber, after: Option<u64>, n: usize) -> u64 {
    let snapshot = loop {
        let frame = next_frame(sub).await;
        if matches!(frame, ServerMessage::Snapshot { .. })
            && after.is_none_or(|a| seq_of(&frame) > a)
        {
            break frame;
        }
    };
    let mut replica = Replica::new();
    replica.receive(&snapshot).unwrap();
    follow(sub, &mut replica, seq_of(&snapshot), n).await
}

/// Reads frames into `replica` (at `last`) until `n` deltas newer than it applied; returns the newest `seq`. The
/// deltas are contiguous among themselves; a periodic snapshot never goes back, but may be ahead of the deltas
/// still to come, which then arrive stale and the replica skips.
async fn follow(
    sub: &mut async_nats::Subscriber,
    replica: &mut Replica,
    mut last: u64,
    n: usize,
) -> u64 {
    let mut last_delta = None;
    let mut deltas = 0;
    while deltas < n {
        let frame = next_frame(sub).await;
        let seq = seq_of(&frame);
        if matches!(frame, ServerMessage::Delta { .. }) {
            if let Some(d) = last_delta {
                assert_eq!(seq, d + 1, "deltas on nats are contiguous");
            }
            last_delta = Some(seq);
            if seq > last {
                deltas += 1;
            }
        } else {
            assert!(
                seq >= last,
                "a periodic snapshot does not go back: {seq} < {last}"
            );
        }
        replica.receive(&frame).expect("deltas follow in sequence");
        last = last.max(seq);
    }
    last
}

/// A metric's value in `/metrics`.
async fn metric(relay: &Relay, name: &str) -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        relay.addr
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
        .parse()
        .unwrap()
}

/// A relay config: the simulator with `seed` at 20x, publishing 20 states a second, to NATS at `url`.
fn simulated_with_nats(seed: u64, url: &str) -> boxbox_relay::ServeConfig {
    let spec = SourceSpec::Simulator {
        seed,
        speed: 20.0,
        laps: 60,
        restart_after_s: None,
    };
    let mut config = common::config(spec, None);
    config.rate_hz = 20.0;
    config.nats = Some(url.to_owned());
    config
}

#[tokio::test]
async fn nats_subscribers_rebuild_the_race_and_publishing_survives_a_server_restart() {
    let port = free_port();
    let url = format!("nats://127.0.0.1:{port}");
    let nats = NatsServer::start(port).await;
    let subscriber = async_nats::connect(&url).await.unwrap();
    let mut sub = subscriber.subscribe("boxbox.*.>").await.unwrap();
    subscriber.flush().await.unwrap();

    let relay = Relay::start(simulated_with_nats(11, &url), None).await;

    // A `/ws` client beside the NATS subscriber: the states it rebuilds, by sequence number.
    let ws_states = Arc::new(Mutex::new(BTreeMap::<u64, serde_json::Value>::new()));
    let mut ws = relay.ws().await;
    let collected = Arc::clone(&ws_states);
    let ws_task = tokio::spawn(async move {
        let mut replica = Replica::new();
        loop {
            let state = common::next_state(&mut ws, &mut replica).await;
            let seq = replica.latest().unwrap().0;
            collected
                .lock()
                .unwrap()
                .insert(seq, serde_json::to_value(&state).unwrap());
        }
    });

    // A snapshot first, then deltas in sequence: the replica refuses a gap.
    let first = next_frame(&mut sub).await;
    assert!(
        matches!(first, ServerMessage::Snapshot { .. }),
        "the first frame on nats is a snapshot: {first:?}"
    );
    let mut replica = Replica::new();
    replica.receive(&first).unwrap();
    follow(&mut sub, &mut replica, seq_of(&first), 40).await;

    // The state rebuilt from NATS is the one `/ws` clients rebuilt at the same sequence number.
    let (seq, nats_state) = replica.latest().unwrap();
    let nats_state = serde_json::to_value(nats_state).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let ws_state = loop {
        if let Some(s) = ws_states.lock().unwrap().get(&seq) {
            break s.clone();
        }
        let newest = ws_states.lock().unwrap().keys().next_back().copied();
        assert!(
            newest.is_none_or(|n| n < seq + 100) && tokio::time::Instant::now() < deadline,
            "the /ws client never had state {seq} (newest {newest:?})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(nats_state, ws_state, "state {seq} on nats and on /ws");
    assert!(metric(&relay, "boxbox_nats_published_total").await > 40.0);
    assert_eq!(metric(&relay, "boxbox_nats_connected").await, 1.0);

    // Request-reply: the current snapshot.
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        subscriber.request("boxbox.any.snapshot.request", "".into()),
    )
    .await
    .expect("a reply within 5 s")
    .unwrap();
    let answer: ServerMessage = serde_json::from_slice(&reply.payload).unwrap();
    assert!(
        matches!(answer, ServerMessage::Snapshot { seq: s, .. } if s >= seq),
        "{answer:?}"
    );
    // A flood of requests is answered up to the relay's limit (20 a second), not one snapshot per request.
    let inbox = subscriber.new_inbox();
    let mut replies = subscriber.subscribe(inbox.clone()).await.unwrap();
    for _ in 0..60 {
        subscriber
            .publish_with_reply("boxbox.any.snapshot.request", inbox.clone(), "".into())
            .await
            .unwrap();
    }
    subscriber.flush().await.unwrap();
    let mut answered = 0;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(500), replies.next()).await {
        answered += 1;
    }
    assert!(
        (1..=40).contains(&answered),
        "{answered} answers to 60 requests"
    );

    // NATS goes away: `/ws` and HTTP go on, and the publications are counted as dropped.
    drop(nats);
    let newest_ws_state = || {
        ws_states
            .lock()
            .unwrap()
            .keys()
            .next_back()
            .copied()
            .unwrap()
    };
    let before = newest_ws_state();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = tokio::time::timeout(
            Duration::from_secs(2),
            relay.http("GET", "/api/v1/health", None),
        )
        .await
        .expect("HTTP answers while nats is down");
        assert_eq!(status, 200);
        if metric(&relay, "boxbox_nats_dropped_total").await > 0.0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no publication counted as dropped 10 s after nats-server stopped"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(metric(&relay, "boxbox_nats_connected").await, 0.0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = newest_ws_state();
    assert!(
        after >= before + 5,
        "/ws clients kept getting states while nats was down ({before} -> {after})"
    );

    // NATS comes back on the same port: both clients reconnect, and publishing resumes with a snapshot newer
    // than anything before, then deltas in sequence.
    let _nats = NatsServer::start(port).await;
    resumes_after(&mut sub, Some(after), 10).await;
    assert_eq!(metric(&relay, "boxbox_nats_connected").await, 1.0);

    ws_task.abort();
    relay.stop().await;
}

#[tokio::test]
async fn a_relay_started_before_nats_serves_at_once_and_publishes_once_nats_is_up() {
    let port = free_port();
    let url = format!("nats://127.0.0.1:{port}");
    let relay = Relay::start(simulated_with_nats(12, &url), None).await;

    // No NATS server yet: the relay serves anyway.
    let mut ws = relay.ws().await;
    let mut replica = Replica::new();
    common::next_state(&mut ws, &mut replica).await;
    let (status, _) = relay.http("GET", "/api/v1/health", None).await;
    assert_eq!(status, 200);
    assert_eq!(metric(&relay, "boxbox_nats_connected").await, 0.0);

    let _nats = NatsServer::start(port).await;
    let subscriber = async_nats::connect(&url).await.unwrap();
    let mut sub = subscriber.subscribe("boxbox.*.>").await.unwrap();
    subscriber.flush().await.unwrap();
    resumes_after(&mut sub, None, 10).await;
    assert_eq!(metric(&relay, "boxbox_nats_connected").await, 1.0);

    relay.stop().await;
}
