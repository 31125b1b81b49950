//! `GET /metrics` on a relay fed over UDP (port 0): Prometheus text with the packets by type, decode errors by
//! kind, WebSocket clients and frames, and the request latency histogram by route.

// Test helpers outside #[test] functions may panic too: a panic is a test failure here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use boxbox_relay::source::SourceSpec;
use common::Relay;
use tokio::net::UdpSocket;

/// `GET path` as text: status, content type and body.
async fn get_text(addr: SocketAddr, path: &str) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_owned)
        })
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

/// The value of the sample `name` (with its labels, exactly as written), if present.
fn sample(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_count_packets_errors_clients_frames_and_request_latency() {
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let udp_addr = udp.local_addr().unwrap();
    let spec = SourceSpec::Udp {
        bind: udp_addr,
        forward: vec![],
    };
    let relay = Relay::start(common::config(spec, None), Some(udp)).await;
    // A second of the game, and one datagram that is not a packet.
    let game = tokio::spawn(boxbox_relay::simulate::run(
        boxbox_relay::simulate::SimulateOptions {
            seed: 2,
            laps: 3,
            speed: 10.0,
            frame_hz: 20.0,
            to: Some(udp_addr),
            pcap: None,
        },
    ));
    let junk = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    junk.send_to(&[1, 2, 3], udp_addr).await.unwrap();
    common::wait_for(relay.addr, "/api/v1/health", Duration::from_secs(10), |h| {
        h["session_time_s"].as_f64().is_some_and(|t| t > 5.0)
    })
    .await;
    game.abort();
    let mut ws = relay.ws().await;
    common::next_message(&mut ws).await;

    let (status, content_type, body) = get_text(relay.addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    for family in [
        "# TYPE boxbox_packets_total counter",
        "# TYPE boxbox_decode_errors_total counter",
        "# TYPE boxbox_ws_clients gauge",
        "# TYPE boxbox_ws_queue_drops_total counter",
        "# TYPE boxbox_http_request_duration_seconds histogram",
    ] {
        assert!(body.contains(family), "{family} in\n{body}");
    }
    assert!(
        sample(&body, "boxbox_packets_total{type=\"lap_data\"}").unwrap() > 10.0,
        "{body}"
    );
    let errors: f64 = body
        .lines()
        .filter(|l| l.starts_with("boxbox_decode_errors_total{kind="))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(errors, 1.0, "{body}");
    assert_eq!(sample(&body, "boxbox_ws_clients"), Some(1.0));
    assert!(sample(&body, "boxbox_ws_snapshots_sent_total").unwrap() >= 1.0);
    assert!(sample(&body, "boxbox_states_published_total").unwrap() >= 1.0);
    // The health polls above, by route pattern, in a cumulative histogram.
    let health = "route=\"/api/v1/health\",method=\"GET\",status=\"200\"";
    let count = sample(
        &body,
        &format!("boxbox_http_request_duration_seconds_count{{{health}}}"),
    )
    .unwrap();
    assert!(count >= 1.0);
    assert_eq!(
        sample(
            &body,
            &format!("boxbox_http_request_duration_seconds_bucket{{{health},le=\"+Inf\"}}")
        ),
        Some(count)
    );
    relay.stop().await;
}
