//! The game as a source over real UDP sockets on loopback: the relay receives the real F1 25 captures, forwards
//! every datagram byte for byte, counts packets and errors, and its `/ws` snapshot shows the game's session.

// Test helpers outside #[test] functions may panic too: a panic is a test failure here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use boxbox_engine::protocol::ServerMessage;
use futures_util::StreamExt;
use tokio::net::{TcpListener, UdpSocket};
use tokio_tungstenite::tungstenite::Message;

fn captures() -> Vec<Vec<u8>> {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/captures/gamesdat/2025");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.retain(|p| p.extension().is_some_and(|x| x == "bin"));
    files.sort();
    // Session, lap data and participants last, so the latest state is the Melbourne race.
    files.sort_by_key(|p| {
        ["packet-1.bin", "packet-4.bin", "packet-2.bin"]
            .iter()
            .position(|n| p.ends_with(n))
    });
    files
        .into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

#[tokio::test]
async fn game_datagrams_become_the_live_state_and_are_forwarded_unchanged() {
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = http.local_addr().unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let udp_addr = udp.local_addr().unwrap();
    let other_app = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let config = boxbox_relay::ServeConfig {
        seed: 1,
        speed: 1.0,
        rate_hz: 1000.0,
        laps: 57,
        restart_after_s: None,
        web_dir: std::env::temp_dir().join("boxbox-no-web-app"),
        forward: vec![other_app.local_addr().unwrap()],
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let relay = tokio::spawn(boxbox_relay::run(
        boxbox_relay::Listeners {
            http,
            udp: Some(udp),
        },
        config,
        async move {
            let _ = stop_rx.await;
        },
    ));

    let game = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut sent = captures();
    // One malformed datagram (a hand-edited capture with the wrong length) among the real ones.
    let bad = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/data/captures/f1-game-packet-parser/2024-03-SCAR.bin"),
    )
    .unwrap();
    sent.insert(3, bad);
    let mut forwarded = Vec::new();
    let mut buf = [0u8; 2048];
    for datagram in &sent {
        game.send_to(datagram, udp_addr).await.unwrap();
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), other_app.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        forwarded.push(buf[..n].to_vec());
    }
    assert_eq!(
        forwarded, sent,
        "every datagram is forwarded byte for byte, in order"
    );

    // The live state is the game's session.
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let Message::Text(text) = frame else {
        panic!("text frame")
    };
    let ServerMessage::Snapshot { state, .. } = serde_json::from_str(&text).unwrap() else {
        panic!("snapshot")
    };
    assert_eq!(state.session.track, "Melbourne");
    assert_eq!(state.cars.len(), 20);
    assert_eq!(state.source, boxbox_engine::wire::DataSource::Live);

    // Counters per packet type and per error kind.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1;
    let health: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(health["source"], "udp");
    assert_eq!(health["udp"]["received"], sent.len());
    assert_eq!(health["udp"]["forwarded"], sent.len());
    assert_eq!(health["udp"]["errors"]["wrong_length"], 1);
    assert_eq!(health["udp"]["packets"]["event"], 15);
    assert_eq!(health["udp"]["packets"]["lap_data"], 1);

    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), relay)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
