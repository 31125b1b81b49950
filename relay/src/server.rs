//! The HTTP router: `GET /api/v1/health`, the `/ws` live feed, and the web app (with an `index.html` fallback for
//! client-side routes). Errors are JSON: `{"error": {"code", "message"}}`.

use std::path::Path;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use boxbox_engine::wire::SCHEMA_VERSION;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde::Serialize;
use tokio::sync::{broadcast, watch};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

use crate::hub::Hub;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The live data.
    pub hub: Hub,
    /// Turns true when the relay shuts down.
    pub stop: watch::Receiver<bool>,
    /// Where the data comes from.
    pub source: Source,
}

/// The relay's data source.
#[derive(Clone, Debug)]
pub enum Source {
    /// The built-in simulator.
    Simulator,
    /// The game's UDP telemetry, with its counters.
    Udp(std::sync::Arc<crate::udp::UdpStats>),
}

/// The relay's router.
pub fn app(state: AppState, web_dir: &Path) -> Router {
    let api = Router::new()
        .route("/health", get(health))
        .fallback(api_not_found);
    let web = ServeDir::new(web_dir).fallback(ServeFile::new(web_dir.join("index.html")));
    Router::new()
        .nest("/api/v1", api)
        .route("/ws", get(ws_upgrade))
        .fallback_service(web)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Body of `GET /api/v1/health`.
#[derive(Debug, Serialize)]
struct Health {
    schema_version: u32,
    status: &'static str,
    version: &'static str,
    source: &'static str,
    session_time_s: Option<f64>,
    leader_lap: Option<u32>,
    total_laps: Option<u32>,
    ws_clients: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    udp: Option<crate::udp::UdpCounts>,
}

async fn health(State(state): State<AppState>) -> Json<Health> {
    let latest = state.hub.latest_state();
    Json(Health {
        schema_version: SCHEMA_VERSION,
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        source: match state.source {
            Source::Simulator => "simulator",
            Source::Udp(_) => "udp",
        },
        session_time_s: latest.as_ref().map(|s| s.session_time_s),
        leader_lap: latest.as_ref().map(|s| s.session.leader_lap),
        total_laps: latest.as_ref().map(|s| s.session.total_laps),
        ws_clients: state.hub.client_count(),
        udp: match &state.source {
            Source::Udp(stats) => Some(stats.snapshot()),
            Source::Simulator => None,
        },
    })
}

/// An API error as JSON.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

async fn api_not_found(axum::extract::OriginalUri(uri): axum::extract::OriginalUri) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "not_found",
        message: format!("no such endpoint: {}", uri.path()),
    }
}

async fn ws_upgrade(ws: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    ws.on_upgrade(move |socket: WebSocket| async move {
        let (sink, stream) = socket.split();
        serve_client(sink, stream, state.hub, state.stop).await;
    })
}

/// One WebSocket client: a snapshot first, then every update; a fresh snapshot if it falls behind.
///
/// Written against `Sink`/`Stream` so tests can drive it with channels.
pub async fn serve_client<W, R>(
    mut sink: W,
    mut stream: R,
    hub: Hub,
    mut stop: watch::Receiver<bool>,
) where
    W: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let _guard = hub.client_guard();
    // Subscribe before taking the snapshot so no update falls between the two.
    let mut updates = hub.subscribe();
    let mut synced = false;
    if let Some(snapshot) = hub.snapshot_json() {
        if sink.send(Message::Text(snapshot)).await.is_err() {
            return;
        }
        synced = true;
    }
    loop {
        tokio::select! {
            update = updates.recv() => {
                let frame = match update {
                    // Until a snapshot went out (the relay had no state yet), send one instead of the update.
                    Ok(json) if synced => json,
                    Ok(_) => match hub.snapshot_json() { Some(s) => s, None => continue },
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "websocket client fell behind; resending a snapshot");
                        match hub.snapshot_json() { Some(s) => s, None => continue }
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                synced = true;
                if sink.send(Message::Text(frame)).await.is_err() {
                    break;
                }
            }
            incoming = stream.next() => match incoming {
                // Pings are answered by axum; clients have nothing to say yet.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            _ = stop.changed() => {
                let _ = sink.send(Message::Close(None)).await;
                break;
            }
        }
    }
}
