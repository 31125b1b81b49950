//! The `/ws` protocol on a real socket (port 0), against a hub the test publishes into: a snapshot then deltas
//! that rebuild exactly the published states (through a new session too), subscriptions, delay, ping, error
//! frames for bad messages, and a client that never reads while 20 others keep up.

// Test helpers outside #[test] functions may panic too: a panic is a test failure here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::WebSocketUpgrade;
use axum::routing::get;
use boxbox_engine::protocol::{Replica, ServerMessage};
use boxbox_engine::sim::{RaceSim, SimConfig};
use boxbox_engine::wire::RaceState;
use boxbox_relay::hub::Hub;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Serves `/ws` from `hub` on 127.0.0.1:0.
async fn serve(hub: Hub) -> (SocketAddr, watch::Sender<bool>) {
    let (stop_tx, stop) = watch::channel(false);
    let app = Router::new().route(
        "/ws",
        get(move |ws: WebSocketUpgrade| {
            let (hub, stop) = (hub.clone(), stop.clone());
            async move {
                ws.on_upgrade(move |socket| async move {
                    let (sink, stream) = socket.split();
                    boxbox_relay::ws::serve_client(sink, stream, hub, stop).await;
                })
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, stop_tx)
}

async fn connect(addr: SocketAddr) -> Ws {
    tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap()
        .0
}

/// The next text frame (within 10 s), raw and parsed.
async fn next(ws: &mut Ws) -> (String, ServerMessage) {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s")
            .expect("open")
            .expect("no error");
        if let Message::Text(text) = frame {
            let message = serde_json::from_str(&text).expect("a server message");
            return (text.to_string(), message);
        }
    }
}

async fn send(ws: &mut Ws, text: &str) {
    ws.send(Message::Text(text.into())).await.unwrap();
}

fn sim(seed: u64) -> RaceSim {
    RaceSim::new(&SimConfig {
        seed,
        total_laps: 5,
    })
}

#[tokio::test]
async fn a_snapshot_then_deltas_rebuild_exactly_the_published_states() {
    let hub = Hub::new();
    let mut race = sim(3);
    hub.publish(race.state());
    let (addr, _stop) = serve(hub.clone()).await;
    let mut ws = connect(addr).await;
    let (_, first) = next(&mut ws).await;
    let ServerMessage::Snapshot { seq: first_seq, .. } = first else {
        panic!("a snapshot first: {first:?}")
    };
    let mut replica = Replica::new();
    replica.receive(&first).unwrap();

    // Publish 300 states, with a new session (another race) half-way; remember each by its sequence number.
    let published: Arc<Mutex<BTreeMap<u64, RaceState>>> = Arc::default();
    let publisher = {
        let (hub, published) = (hub.clone(), published.clone());
        tokio::spawn(async move {
            for i in 1..=300u32 {
                if i == 150 {
                    hub.reset();
                    race = sim(4);
                }
                race.advance_to(f64::from(i % 150) * 3.0);
                let state = race.state();
                // This task is the only publisher: the state gets the next number.
                published
                    .lock()
                    .unwrap()
                    .insert(hub.seq() + 1, state.clone());
                hub.publish(state);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let last = first_seq + 300;
    let (mut deltas, mut snapshots) = (0, 0);
    let mut seq = first_seq;
    while seq < last {
        let (_, message) = next(&mut ws).await;
        let state = replica
            .receive(&message)
            .expect("each delta follows the last")
            .cloned()
            .expect("a state");
        let (now, _) = replica.latest().unwrap();
        match message {
            ServerMessage::Delta { .. } => {
                assert_eq!(now, seq + 1, "contiguous");
                deltas += 1;
            }
            ServerMessage::Snapshot { .. } => snapshots += 1,
            other => panic!("{other:?}"),
        }
        seq = now;
        assert_eq!(
            Some(&state),
            published.lock().unwrap().get(&seq),
            "the state numbered {seq} is the one published"
        );
    }
    publisher.await.unwrap();
    assert_eq!(snapshots, 1, "the new session starts with a snapshot");
    assert_eq!(deltas, 299);
    let stats = hub.ws_stats();
    assert_eq!(
        stats.queue_drops.load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

#[tokio::test]
async fn subscribe_delay_ping_and_bad_messages() {
    let hub = Hub::new();
    let mut race = sim(5);
    race.advance_to(200.0);
    hub.publish(race.state());
    let (addr, _stop) = serve(hub.clone()).await;
    let publisher = {
        let hub = hub.clone();
        tokio::spawn(async move {
            for i in 0..400u32 {
                race.advance_to(200.0 + f64::from(i) * 0.5);
                hub.publish(race.state());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let mut ws = connect(addr).await;
    let (_, snapshot) = next(&mut ws).await;
    let state = snapshot.state().unwrap().clone();
    let followed = state.cars[2].car_idx;

    // Bad messages are answered with an error frame; the feed goes on.
    for bad in [
        "nonsense",
        r#"{"type":"subscribe","cars":"some"}"#,
        r#"{"type":"delay","seconds":-1}"#,
        r#"{"type":"delay","seconds":1e9}"#,
    ] {
        send(&mut ws, bad).await;
        loop {
            match next(&mut ws).await.1 {
                ServerMessage::Error { code, .. } => {
                    assert!(code == "invalid_message" || code == "invalid_delay");
                    break;
                }
                ServerMessage::Delta { .. } => {}
                other => panic!("{other:?}"),
            }
        }
    }
    // A binary frame too (messages are JSON text).
    ws.send(Message::Binary(vec![1u8, 2, 3].into()))
        .await
        .unwrap();
    loop {
        match next(&mut ws).await.1 {
            ServerMessage::Error { code, .. } => {
                assert_eq!(code, "invalid_message");
                break;
            }
            ServerMessage::Delta { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        hub.ws_stats()
            .bad_messages
            .load(std::sync::atomic::Ordering::Relaxed),
        5,
        "every bad message is counted"
    );
    let (_, after) = next(&mut ws).await;
    assert!(matches!(after, ServerMessage::Delta { .. }), "{after:?}");

    // Ping.
    send(&mut ws, r#"{"type":"ping","id":7}"#).await;
    loop {
        match next(&mut ws).await.1 {
            ServerMessage::Pong { id, seq } => {
                assert_eq!(id, Some(7));
                assert!(seq >= 1);
                break;
            }
            ServerMessage::Delta { .. } => {}
            other => panic!("{other:?}"),
        }
    }

    // Subscribe to one car's timing: deltas carry only that car, without tyres or telemetry.
    send(
        &mut ws,
        &format!(r#"{{"type":"subscribe","cars":[{followed}],"topics":["timing"]}}"#),
    )
    .await;
    loop {
        if let ServerMessage::Subscribed { subscription } = next(&mut ws).await.1 {
            assert!(subscription.cars.contains(followed));
            break;
        }
    }
    for _ in 0..10 {
        let (text, message) = next(&mut ws).await;
        let ServerMessage::Delta { delta, .. } = message else {
            panic!("deltas: {message:?}")
        };
        assert!(delta.cars.iter().all(|c| c.car_idx == followed), "{text}");
        assert!(!text.contains("\"tyres\"") && !text.contains("\"speed_kph\""));
    }

    // Delay: the feed restarts with a snapshot a second later.
    send(&mut ws, r#"{"type":"delay","seconds":1.0}"#).await;
    let asked = Instant::now();
    let seq_then = loop {
        if let ServerMessage::Delayed { seconds } = next(&mut ws).await.1 {
            assert_eq!(seconds, 1.0);
            break hub.seq();
        }
    };
    let (_, message) = next(&mut ws).await;
    let ServerMessage::Snapshot { seq, .. } = message else {
        panic!("a snapshot after the delay: {message:?}")
    };
    let waited = asked.elapsed();
    assert!(waited >= Duration::from_millis(950), "{waited:?}");
    assert!(
        seq <= seq_then,
        "the snapshot is of when the delay was asked"
    );
    // Then deltas, each about a second old.
    let (_, message) = next(&mut ws).await;
    let ServerMessage::Delta { seq: next_seq, .. } = message else {
        panic!("{message:?}")
    };
    assert_eq!(next_seq, seq + 1);
    assert!(hub.seq() >= next_seq + 20, "held back by a second at 50 Hz");
    publisher.abort();
}

/// A WebSocket client that completes the handshake and then never reads its socket (a small receive buffer).
async fn stalled_client(addr: SocketAddr) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    // Read the response head byte by byte, so nothing after it is taken off the socket.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    stream
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_does_not_hold_up_the_others() {
    let hub = Hub::new();
    let mut race = sim(7);
    race.advance_to(300.0);
    hub.publish(race.state());
    let (addr, _stop) = serve(hub.clone()).await;
    let stalled = stalled_client(addr).await;
    let mut readers = Vec::new();
    for _ in 0..20 {
        readers.push(connect(addr).await);
    }
    let rss_before = rss_kib();
    // 100 states a second for 12 s: each a delta of ~17 KB, so the stalled socket's buffers fill within seconds.
    let sent_at: Arc<Mutex<BTreeMap<u64, Instant>>> = Arc::default();
    let publisher = {
        let (hub, sent_at) = (hub.clone(), sent_at.clone());
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_millis(10));
            for i in 0..1200u32 {
                ticks.tick().await;
                race.advance_to(300.0 + f64::from(i) * 0.1);
                hub.publish(race.state());
                sent_at.lock().unwrap().insert(hub.seq(), Instant::now());
            }
            hub.seq()
        })
    };
    let mut tasks = Vec::new();
    for mut ws in readers {
        let sent_at = sent_at.clone();
        tasks.push(tokio::spawn(async move {
            let mut worst = Duration::ZERO;
            let mut last_seq = None;
            let mut count = 0u32;
            loop {
                let frame = tokio::time::timeout(Duration::from_secs(2), ws.next()).await;
                let text = match frame {
                    Ok(Some(Ok(Message::Text(text)))) => text,
                    // The relay's keep-alive pings (tungstenite answers them).
                    Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                    _ => break,
                };
                // The sequence number, from the frame's head (parsing 17 KB per frame in a debug build for 20
                // clients would be the bottleneck here, not the relay).
                let Some(seq) = common::frame_seq(&text) else {
                    continue;
                };
                if let Some(last) = last_seq {
                    assert_eq!(seq, last + 1, "no gap for a client that reads");
                }
                last_seq = Some(seq);
                count += 1;
                if let Some(at) = sent_at.lock().unwrap().get(&seq) {
                    worst = worst.max(at.elapsed());
                }
            }
            (count, worst, last_seq)
        }));
    }
    let last = publisher.await.unwrap();
    for task in tasks {
        let (count, worst, last_seq) = task.await.unwrap();
        assert!(
            count >= 1150,
            "a reader got {count} of 1200 deltas (the last {last_seq:?} of {last})"
        );
        assert!(
            worst < Duration::from_millis(500),
            "a reader got a delta {worst:?} after it was published"
        );
    }
    let stats = hub.ws_stats();
    let dropped = stats.queue_drops.load(std::sync::atomic::Ordering::Relaxed);
    let disconnected = stats
        .disconnected_slow
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        dropped + disconnected >= 1,
        "the stalled client was resynchronised or dropped (seq {last})"
    );
    let grown_mib = rss_kib().saturating_sub(rss_before) / 1024;
    assert!(grown_mib < 100, "memory grew by {grown_mib} MiB");
    drop(stalled);
}

/// A delay longer than the queue would hold at a small bound: on virtual time, 70 s of states at 10 Hz to a client
/// delayed by 60 s, driven through `serve_client` with channels (the client answers pings with pongs).
#[tokio::test(start_paused = true)]
async fn a_long_delay_is_served_in_order_without_resyncs() {
    use axum::extract::ws::Message as AxumMessage;
    let hub = Hub::new();
    let mut race = sim(8);
    race.advance_to(100.0);
    hub.publish(race.state());
    let (out_tx, mut out_rx) = tokio::sync::mpsc::channel::<AxumMessage>(16 * 1024);
    let sink = Box::pin(futures_util::sink::unfold(
        out_tx,
        |tx, message: AxumMessage| async move {
            tx.send(message)
                .await
                .map_err(|_| axum::Error::new("closed"))?;
            Ok::<_, axum::Error>(tx)
        },
    ));
    let delay = AxumMessage::Text(r#"{"type":"delay","seconds":60}"#.into());
    let incoming = futures_util::stream::once(async move { Ok(delay) }).chain(
        futures_util::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Some((Ok(AxumMessage::Pong(Default::default())), ()))
        }),
    );
    let (_stop_tx, stop) = watch::channel(false);
    let client = tokio::spawn(boxbox_relay::ws::serve_client(
        sink,
        Box::pin(incoming),
        hub.clone(),
        stop,
    ));
    let started = Instant::now();
    for i in 0..700u32 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        race.advance_to(100.0 + f64::from(i) * 0.1);
        hub.publish(race.state());
    }
    let mut received = Vec::new();
    while let Ok(message) = out_rx.try_recv() {
        if let AxumMessage::Text(text) = message {
            received.push(serde_json::from_str::<ServerMessage>(text.as_str()).unwrap());
        }
    }
    assert!(started.elapsed() >= Duration::from_secs(70));
    // The first snapshot, the ack, then 60 s later the snapshot of when the delay was asked, then deltas.
    let kinds: Vec<&str> = received
        .iter()
        .map(|m| match m {
            ServerMessage::Snapshot { .. } => "snapshot",
            ServerMessage::Delayed { .. } => "delayed",
            ServerMessage::Delta { .. } => "delta",
            _ => "other",
        })
        .collect();
    assert_eq!(
        &kinds[..3],
        ["snapshot", "delayed", "snapshot"],
        "{kinds:?}"
    );
    let ServerMessage::Snapshot { seq: first, .. } = received[2] else {
        unreachable!()
    };
    assert!(
        first <= 2,
        "the snapshot of when the delay was asked: {first}"
    );
    let deltas: Vec<u64> = received[3..]
        .iter()
        .map(|m| match m {
            ServerMessage::Delta { seq, .. } => *seq,
            other => panic!("only deltas after the delayed snapshot: {other:?}"),
        })
        .collect();
    assert_eq!(
        deltas,
        ((first + 1)..=first + deltas.len() as u64).collect::<Vec<_>>()
    );
    // 70 s of states, the first 60 s of them out: about 100 deltas.
    assert!(
        (80..=110).contains(&deltas.len()),
        "{} deltas",
        deltas.len()
    );
    assert_eq!(
        hub.ws_stats()
            .queue_drops
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    client.abort();
}
