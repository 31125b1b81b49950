//! The `/ws` live feed: one task per WebSocket client, a snapshot first, then every update; a client that falls
//! behind is resynchronised with a fresh snapshot rather than slowing the others.

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::{broadcast, watch};

use crate::hub::Hub;
use crate::server::AppState;

/// `GET /ws`: upgrades to a WebSocket and serves the client until it leaves or the relay stops.
pub async fn upgrade(ws: WebSocketUpgrade, State(state): State<AppState>) -> Response {
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
