//! boxbox's relay: runs the engine next to the telemetry source, serves the web app and fans the race out over
//! WebSocket.
//!
//! # Layout
//! - [`cli`]: the `boxbox` command line (clap); `--help` is generated from the doc comments there.
//! - [`decode`]: `boxbox decode`, packets of captures as JSON lines.
//! - [`hub`]: the latest state, the lap history and the broadcast channel every WebSocket client reads from.
//! - [`simulator`]: the built-in simulator as a real-time source.
//! - [`udp`]: the game's UDP telemetry as a source, with forwarding and counters.
//! - [`server`]: the HTTP router: REST under `/api/v1`, `/ws`, and the static web app.
//!
//! The entry point is [`run`]: it takes its listener and its shutdown signal as arguments, so tests bind port 0
//! and stop the relay when they are done.
#![cfg(not(target_arch = "wasm32"))]

pub mod cli;
pub mod decode;
pub mod hub;
pub mod server;
pub mod simulator;
pub mod udp;

use std::future::Future;
use std::path::PathBuf;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Everything `boxbox serve` needs once its flags are parsed.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Seed of the simulated race.
    pub seed: u64,
    /// Simulated seconds per wall-clock second.
    pub speed: f64,
    /// States published per wall-clock second.
    pub rate_hz: f64,
    /// Race distance in laps.
    pub laps: u32,
    /// Start a new race (next seed) this long after the flag; `None` keeps the final classification.
    pub restart_after_s: Option<f64>,
    /// Directory of the built web app (Trunk's `dist/`).
    pub web_dir: PathBuf,
    /// Where to re-send every received UDP datagram, unchanged.
    pub forward: Vec<std::net::SocketAddr>,
}

/// The sockets the relay serves on, bound by the caller (tests bind port 0).
#[derive(Debug)]
pub struct Listeners {
    /// HTTP and WebSocket.
    pub http: TcpListener,
    /// The game's UDP telemetry; without it the built-in simulator is the source.
    pub udp: Option<tokio::net::UdpSocket>,
}

/// Runs the relay until `shutdown` resolves: the simulator source, the HTTP API, `/ws` and the web app.
///
/// # Errors
/// If the server fails to run on `listener`.
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
    let udp_stats = std::sync::Arc::new(udp::UdpStats::default());
    let (source, source_task) = match udp {
        Some(socket) => {
            let at = socket
                .local_addr()
                .context("udp socket has no local address")?;
            tracing::info!(%at, forward = ?config.forward, "listening for game telemetry");
            let task = udp::run(
                socket,
                config.forward.clone(),
                config.rate_hz,
                hub.clone(),
                udp_stats.clone(),
                stop_rx.clone(),
            );
            (server::Source::Udp(udp_stats), tokio::spawn(task))
        }
        None => (
            server::Source::Simulator,
            tokio::spawn(simulator::run(hub.clone(), config.clone(), stop_rx.clone())),
        ),
    };
    let app = server::app(
        server::AppState {
            hub,
            stop: stop_rx,
            source,
        },
        &config.web_dir,
    );
    tracing::info!(%addr, seed = config.seed, speed = config.speed, "relay listening");
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        })
        .await;
    source_task.abort();
    served.context("http server failed")
}
