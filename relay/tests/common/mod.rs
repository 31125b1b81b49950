//! Helpers shared by the relay's integration tests: start a relay on port 0, speak HTTP/1.1 and WebSocket to it.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use boxbox_engine::protocol::{Replica, ServerMessage};
use boxbox_engine::wire::RaceState;
use boxbox_relay::ServeConfig;
use boxbox_relay::source::{SourceConfig, SourceSpec};
use futures_util::StreamExt;
use tokio::net::{TcpListener, UdpSocket};
use tokio_tungstenite::tungstenite::Message;

/// A relay running in this process.
pub struct Relay {
    pub addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Relay {
    /// Starts a relay on 127.0.0.1:0 (and on `udp`, if given, for a UDP source).
    pub async fn start(config: ServeConfig, udp: Option<UdpSocket>) -> Relay {
        let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = http.local_addr().unwrap();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(boxbox_relay::run(
            boxbox_relay::Listeners { http, udp },
            config,
            async move {
                let _ = stop_rx.await;
            },
        ));
        Relay { addr, stop, task }
    }

    /// Stops the relay and waits for it (and its source) to finish.
    pub async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the relay stops within 10 s")
            .unwrap()
            .unwrap();
    }

    /// An HTTP request; returns the status and the JSON body.
    pub async fn http(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> (u16, serde_json::Value) {
        http(self.addr, method, path, body).await
    }

    /// Opens `/ws`.
    pub async fn ws(&self) -> Ws {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", self.addr))
            .await
            .unwrap();
        ws
    }
}

/// A WebSocket client.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The control token of the tests' relays; [`http`] sends it with every request.
pub const CONTROL_TOKEN: &str = "test-control-token-0123456789";

/// Access for tests: [`CONTROL_TOKEN`], reads open, no rate limit (tests poll).
pub fn test_access() -> boxbox_relay::access::AccessConfig {
    let mut access = boxbox_relay::access::AccessConfig::pit_wall(Some(CONTROL_TOKEN.into()));
    access.rate_limit = None;
    access
}

/// A config for tests: fast publishing, no web app, recordings in `record_dir` (or none), nothing persisted.
pub fn config(spec: SourceSpec, record_dir: Option<std::path::PathBuf>) -> ServeConfig {
    ServeConfig {
        http: "127.0.0.1:0".parse().unwrap(),
        rate_hz: 50.0,
        web_dir: std::env::temp_dir().join("boxbox-no-web-app"),
        record_dir,
        source: SourceConfig {
            spec,
            fallback_after: None,
        },
        persist: None,
        access: test_access(),
        nats: None,
        tls: None,
    }
}

/// A minimal HTTP/1.1 request over a raw socket (keeps the tests' dependencies down to what the relay has), with
/// the control token.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {CONTROL_TOKEN}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let json = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {body}"));
    (status, json)
}

/// The next server message on `/ws` (within 10 s).
pub async fn next_message(ws: &mut Ws) -> ServerMessage {
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

/// The next state on `/ws` (within 10 s), rebuilt by `replica` from the snapshot and the deltas that follow it.
/// A delta that does not follow is a test failure.
pub async fn next_state(ws: &mut Ws, replica: &mut Replica) -> RaceState {
    loop {
        let message = next_message(ws).await;
        if let Some(state) = replica
            .receive(&message)
            .expect("deltas follow in sequence")
        {
            return state.clone();
        }
    }
}

/// Polls `GET path` until `done` holds for its JSON (within `within`), returning the last body.
pub async fn wait_for(
    addr: SocketAddr,
    path: &str,
    within: Duration,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let (_, body) = http(addr, "GET", path, None).await;
        if done(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting on {path}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("boxbox-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The address a `boxbox serve` child prints on its first line (`boxbox is running: open http://…/`), read from its
/// piped stdout.
pub fn served_addr(child: &mut std::process::Child) -> SocketAddr {
    use std::io::{BufRead, BufReader};
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout is piped"))
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .replace("localhost", "127.0.0.1")
        .parse()
        .unwrap()
}

/// The relay's router over `hub` for `oneshot` tests, with an ingest source (it runs no task, so the router answers
/// without a race running), `access`, the recordings in `record_dir` and the web app in `web_dir`.
pub async fn ingest_router(
    hub: boxbox_relay::hub::Hub,
    desk: boxbox_relay::desk::Desk,
    access: boxbox_relay::access::Access,
    record_dir: Option<std::path::PathBuf>,
    web_dir: &std::path::Path,
) -> axum::Router {
    use boxbox_relay::source::{SourceContext, Sources};
    let (_tx, stop) = tokio::sync::watch::channel(false);
    let context = SourceContext {
        rate_hz: 10.0,
        record_dir: None,
    };
    let config = SourceConfig {
        spec: SourceSpec::Ingest,
        fallback_after: None,
    };
    let sources = Sources::start(hub.clone(), context, config, None)
        .await
        .unwrap();
    boxbox_relay::server::app(
        boxbox_relay::server::AppState {
            hub,
            stop,
            sources,
            desk,
            access,
            sessions: boxbox_relay::sessions::Sessions::new(record_dir),
        },
        web_dir,
    )
}

/// The pit wall's access with [`CONTROL_TOKEN`] (reads open, the default rate limit).
pub fn pit_wall_access() -> boxbox_relay::access::Access {
    boxbox_relay::access::Access::new(boxbox_relay::access::AccessConfig::pit_wall(Some(
        CONTROL_TOKEN.into(),
    )))
    .unwrap()
    .0
}

/// `"seq":N` from the head of a `/ws` frame's text, without decoding the frame.
pub fn frame_seq(text: &str) -> Option<u64> {
    let at = text.find("\"seq\":")? + 6;
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}
