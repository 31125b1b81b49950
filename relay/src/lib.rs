//! boxbox's relay: runs the engine next to the telemetry source, serves the web app and fans the race out over
//! WebSocket.
//!
//! # Layout
//! - [`backtest`]: `boxbox backtest`, the twins scored on real races.
//! - [`cli`]: the `boxbox` command line (clap); `--help` is generated from the doc comments there.
//! - [`decode`]: `boxbox decode`, packets of captures as JSON lines.
//! - [`desk`]: the strategy desk, `GET /api/v1/strategy`: the strategy search on the live session, re-run when the
//!   twins mark the strategy stale or a lap is completed.
//! - [`hub`]: the latest state, the twins watching it (lap history, events, the cached twin report) and the
//!   broadcast channel every WebSocket client reads from.
//! - [`source`]: the sources (simulator, UDP with forwarding, pcap replay, JSON WebSocket feed, HTTP ingest), their
//!   status, runtime switching and the simulator fallback.
//! - [`recorder`]: every UDP session recorded to a libpcap file.
//! - [`report`]: `boxbox report`, a self-contained post-race HTML report of a real race (charts from
//!   `boxbox_charts`).
//! - [`simulate`]: `boxbox simulate`, the simulator as a stand-in for the game (UDP datagrams or a pcap file).
//! - [`strategy`]: `boxbox montecarlo` and `boxbox strategy`, the engine's Monte Carlo race simulator and
//!   strategy search on a TUMFTM parameter file.
//! - [`server`]: the HTTP router: REST under `/api/v1`, `/ws`, and the static web app.
//!
//! The entry point is [`run`]: it takes its listener and its shutdown signal as arguments, so tests bind port 0
//! and stop the relay when they are done.
#![cfg(not(target_arch = "wasm32"))]

pub mod backtest;
pub mod cli;
pub mod decode;
pub mod desk;
pub mod hub;
pub mod recorder;
pub mod report;
pub mod server;
pub mod simulate;
pub mod source;
pub mod strategy;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Everything `boxbox serve` needs once its flags and config file are merged.
#[derive(Clone, Debug, PartialEq)]
pub struct ServeConfig {
    /// Where HTTP and WebSocket are served (the binary binds it; [`run`] takes the bound listener).
    pub http: SocketAddr,
    /// States published per wall-clock second, at most.
    pub rate_hz: f64,
    /// Directory of the built web app (Trunk's `dist/`).
    pub web_dir: PathBuf,
    /// Where UDP sessions are recorded; `None` disables recording.
    pub record_dir: Option<PathBuf>,
    /// The source at start (it can be switched with `PUT /api/v1/source`).
    pub source: source::SourceConfig,
}

/// The sockets the relay serves on, bound by the caller (tests bind port 0).
#[derive(Debug)]
pub struct Listeners {
    /// HTTP and WebSocket.
    pub http: TcpListener,
    /// A socket already bound for a UDP source (used instead of binding the source's `bind` address).
    pub udp: Option<tokio::net::UdpSocket>,
}

/// Runs the relay until `shutdown` resolves: the source, the HTTP API, `/ws` and the web app.
///
/// # Errors
/// If the source cannot start or the server fails.
pub async fn run(
    listeners: Listeners,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let Listeners {
        http: listener,
        udp,
    } = listeners;
    let addr = listener
        .local_addr()
        .context("listener has no local address")?;
    if !config.web_dir.join("index.html").is_file() {
        tracing::warn!(
            web_dir = %config.web_dir.display(),
            "the web app is not built there; the API and /ws work, the page will not (build it with scripts/run.sh)"
        );
    }
    let hub = hub::Hub::new();
    // `stop_tx` going to `true` tells every task to finish; WebSocket handlers watch it so that upgraded
    // connections, which axum's graceful shutdown does not wait for, close promptly too.
    let (stop_tx, stop_rx) = watch::channel(false);
    let context = source::SourceContext {
        rate_hz: config.rate_hz,
        record_dir: config.record_dir.clone(),
    };
    let sources = source::Sources::start(hub.clone(), context, config.source.clone(), udp)
        .await
        .context("cannot start the source")?;
    let desk = desk::Desk::new();
    desk.spawn_refresher(hub.clone(), stop_rx.clone());
    let app = server::app(
        server::AppState {
            hub,
            stop: stop_rx,
            sources: sources.clone(),
            desk,
        },
        &config.web_dir,
    );
    tracing::info!(%addr, source = config.source.spec.mode(), "relay listening");
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        })
        .await;
    sources.stop().await;
    served.context("http server failed")
}
