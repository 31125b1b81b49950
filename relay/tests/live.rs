//! The relay on a real socket (port 0): `/ws` sends a snapshot then updates that advance, and `/api/v1/health`
//! answers; plus router-level tests with `oneshot`.

// Test helpers outside #[test] functions may panic too: a panic is a test failure here.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::time::Duration;

use boxbox_engine::protocol::ServerMessage;
use boxbox_relay::ServeConfig;
use futures_util::StreamExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;

fn config(speed: f64) -> ServeConfig {
    ServeConfig {
        seed: 3,
        speed,
        rate_hz: 20.0,
        laps: 5,
        restart_after_s: None,
        web_dir: std::env::temp_dir().join("boxbox-no-web-app"),
        forward: Vec::new(),
    }
}

async fn start(
    speed: f64,
) -> (
    std::net::SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let listeners = boxbox_relay::Listeners {
        http: listener,
        udp: None,
    };
    let relay = tokio::spawn(boxbox_relay::run(listeners, config(speed), async move {
        let _ = stop_rx.await;
    }));
    (addr, stop_tx, relay)
}

async fn next_message<S>(ws: &mut S) -> ServerMessage
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s");
        match msg.expect("stream open").expect("no ws error") {
            Message::Text(text) => return serde_json::from_str(&text).expect("a server message"),
            Message::Close(_) => panic!("closed"),
            _ => continue,
        }
    }
}

#[tokio::test]
async fn ws_sends_a_snapshot_then_advancing_updates() {
    let (addr, stop, relay) = start(50.0).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();

    let first = next_message(&mut ws).await;
    let ServerMessage::Snapshot { state, .. } = first else {
        panic!("first message must be a snapshot: {first:?}")
    };
    assert_eq!(state.cars.len(), 20);
    assert_eq!(state.schema_version, 1);
    let mut last_t = state.session_time_s;
    let mut max_lap = 0;
    // At 50x, 2.5 s of simulated time per 20 Hz tick: the leader completes a lap within about 2 real seconds.
    for _ in 0..120 {
        let msg = next_message(&mut ws).await;
        let ServerMessage::Update { state } = msg else {
            panic!("then updates: {msg:?}")
        };
        assert!(
            state.session_time_s > last_t,
            "time advances: {} after {last_t}",
            state.session_time_s
        );
        last_t = state.session_time_s;
        state.check_invariants().unwrap();
        max_lap = max_lap.max(state.session.leader_lap);
    }
    assert!(max_lap >= 2, "the leader reached lap {max_lap}");

    // A late joiner gets a snapshot with the lap history so far.
    let (mut late, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    let ServerMessage::Snapshot { history, .. } = next_message(&mut late).await else {
        panic!("snapshot first")
    };
    assert!(history.len() >= 20, "history has {} laps", history.len());

    // Health reports the clients and the race.
    let body = http_get(addr, "/api/v1/health").await;
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["ws_clients"], 2);
    assert_eq!(health["schema_version"], 1);

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), relay)
        .await
        .expect("relay stops")
        .unwrap()
        .unwrap();
}

/// A minimal HTTP/1.1 GET over a raw socket (keeps the test's dependencies down to what the relay already has).
async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_owned()
}

mod router {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use boxbox_relay::hub::Hub;
    use boxbox_relay::server::{AppState, app};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    fn router(web_dir: &std::path::Path) -> axum::Router {
        let (_tx, stop) = tokio::sync::watch::channel(false);
        app(
            AppState {
                hub: Hub::new(),
                stop,
                source: boxbox_relay::server::Source::Simulator,
            },
            web_dir,
        )
    }

    async fn get(router: axum::Router, uri: &str) -> (StatusCode, String) {
        let response = router
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn health_answers_before_any_state() {
        let (status, body) = get(
            router(std::path::Path::new("/nonexistent")),
            "/api/v1/health",
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["status"], "ok");
        assert!(v["session_time_s"].is_null());
    }

    #[tokio::test]
    async fn unknown_api_paths_are_json_404s() {
        let (status, body) =
            get(router(std::path::Path::new("/nonexistent")), "/api/v1/nope").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["code"], "not_found");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("/api/v1/nope")
        );
    }

    #[tokio::test]
    async fn the_web_app_is_served_with_an_index_fallback() {
        let dir = std::env::temp_dir().join(format!("boxbox-web-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("index.html"), "<html>pit wall</html>").unwrap();
        std::fs::write(dir.join("app.css"), "body{}").unwrap();
        let (status, body) = get(router(&dir), "/").await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "<html>pit wall</html>")
        );
        let (_, body) = get(router(&dir), "/app.css").await;
        assert_eq!(body, "body{}");
        let (status, body) = get(router(&dir), "/car/7").await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "<html>pit wall</html>")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
