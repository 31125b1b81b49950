//! boxbox's relay: runs the engine next to the telemetry source, serves the web app and fans the race out over
//! WebSocket.
//!
//! # Layout
//! - [`access`]: access control: the control token, roles (engineer, strategist, analyst), signed share links
//!   scoped to a session, per-IP rate limits, body limits and CORS.
//! - [`audit`]: the audit log, JSON lines of every state change of note (pit stops, SC/VSC, retirements,
//!   consistency warnings, source switches and who made them, recoveries, shutdowns), rotated by size.
//! - [`backtest`]: `boxbox backtest`, the twins scored on real races.
//! - [`cli`]: the `boxbox` command line (clap); `--help` is generated from the doc comments there.
//! - [`decode`]: `boxbox decode`, packets of captures as JSON lines.
//! - [`desk`]: the strategy desk, `GET /api/v1/strategy`: the strategy search on the live session, re-run when the
//!   twins mark the strategy stale or a lap is completed.
//! - [`locks`]: strategy locks, a strategy option locked for a car with a comment and who locked it.
//! - [`hub`]: the latest state, the twins watching it (lap history, events, the cached twin report) and the
//!   broadcast channel every WebSocket client reads from.
//! - [`metrics`]: `GET /metrics` in Prometheus' text format, and the middleware that times every request.
//! - [`nats`]: `--nats`, the live feed published to NATS subjects per session, for a NATS cluster to fan out.
//! - [`persist`]: the state on disk: two generations written atomically with a checksum, the newest valid one
//!   recovered at start.
//! - [`source`]: the sources (simulator, UDP with forwarding, pcap replay, JSON WebSocket feed, HTTP ingest), their
//!   status, runtime switching and the simulator fallback.
//! - [`recorder`]: every UDP session recorded to a libpcap file.
//! - [`sessions`]: the live session and the recordings: listing, pcap download, exports (laps, stints, pit
//!   stops) as JSON and CSV.
//! - [`report`]: `boxbox report`, a self-contained post-race HTML report of a real race (charts from
//!   `boxbox_charts`).
//! - [`simulate`]: `boxbox simulate`, the simulator as a stand-in for the game (UDP datagrams or a pcap file).
//! - [`strategy`]: `boxbox montecarlo` and `boxbox strategy`, the engine's Monte Carlo race simulator and
//!   strategy search on a TUMFTM parameter file.
//! - [`server`]: the HTTP router: REST under `/api/v1`, `/ws`, and the static web app.
//! - [`tls`]: `--tls-cert`/`--tls-key`, the same router over HTTPS and WSS (rustls, axum-server).
//! - [`ws`]: the `/ws` live feed, one task per client.
//!
//! The entry point is [`run`]: it takes its listener and its shutdown signal as arguments, so tests bind port 0
//! and stop the relay when they are done.
//!
//! # Shutdown
//! When the shutdown signal resolves, [`run`] stops the intake first (the source task ends and flushes its
//! recording), so the state cannot move any more; then saves the state one last time and writes the audit log's
//! shutdown entry; only then closes the sockets (WebSocket clients get a close frame, axum drains HTTP).
#![cfg(not(target_arch = "wasm32"))]

pub mod access;
pub mod audit;
pub mod backtest;
pub mod cli;
pub mod decode;
pub mod desk;
pub mod hub;
pub mod locks;
pub mod metrics;
pub mod nats;
pub mod pcap_stream;
pub mod persist;
pub mod recorder;
pub mod report;
pub mod server;
pub mod sessions;
pub mod simulate;
pub mod source;
pub mod strategy;
pub mod tls;
pub mod ws;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::audit::{Audit, AuditEntry, AuditKind, AuditSettings};
use crate::persist::Persister;

/// What to do about a state directory that cannot be used.
const NO_STATE_DIR: &str = "the state directory is not usable: give another with --state-dir, or run without one with --no-persist";

/// How long a relay waits for the state directory's previous owner (e.g. a relay still exiting) to let go.
const STATE_LOCK_WAIT: Duration = Duration::from_secs(3);

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
    /// Where the state is saved and recovered from, and the audit log kept; `None` keeps nothing on disk.
    pub persist: Option<PersistConfig>,
    /// Tokens, roles, rate and body limits, CORS.
    pub access: access::AccessConfig,
    /// A NATS server (`nats://HOST:PORT`) to publish the live feed to; `None` publishes nowhere.
    pub nats: Option<String>,
    /// The certificate to serve HTTPS and WSS with; `None` serves plain HTTP.
    pub tls: Option<tls::Tls>,
}

/// Where and how often the state is saved.
#[derive(Clone, Debug, PartialEq)]
pub struct PersistConfig {
    /// The state directory: `state-1.json`, `state-2.json`, `audit.jsonl`.
    pub state_dir: PathBuf,
    /// Time between two saves: a crash loses at most this much.
    pub interval: Duration,
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
    // The state directory first: a recovered session is in the hub before the source or any client sees it.
    let (mut persister, audit, _state_lock) = match &config.persist {
        Some(persist) => match persist::lock_dir(&persist.state_dir, STATE_LOCK_WAIT)
            .await
            .context(NO_STATE_DIR)?
        {
            Some(lock) => {
                let (persister, audit) = open_state_dir(persist).context(NO_STATE_DIR)?;
                (Some(persister), Some(audit), Some(lock))
            }
            None => {
                tracing::error!(
                    dir = %persist.state_dir.display(),
                    "the state directory is in use by another relay: this one neither recovers nor saves the state \
                     (give it its own --state-dir)"
                );
                (None, None, None)
            }
        },
        None => (None, None, None),
    };
    let hub = hub::Hub::with_audit(audit.clone());
    if let Some((persister, recovery)) = persister.as_mut() {
        recover(&hub, recovery, audit.as_ref());
        persister.mark_saved(&hub);
    }
    let persister = persister.map(|(p, _)| p);
    if let Some(persister) = &persister {
        hub.metrics().set_persist(persister.stats());
    }
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
    // The persister has a stop of its own: it ends before the sockets close.
    let (persist_stop_tx, persist_stop_rx) = watch::channel(false);
    let persisting = match (persister, &config.persist) {
        (Some(persister), Some(persist)) => Some(tokio::spawn(persister.run(
            hub.clone(),
            sources.clone(),
            persist.interval,
            persist_stop_rx,
        ))),
        _ => None,
    };
    let nats = match &config.nats {
        Some(url) => Some(nats::spawn(hub.clone(), url, stop_rx.clone()).await?),
        None => None,
    };
    let desk = desk::Desk::new();
    desk.spawn_refresher(hub.clone(), stop_rx.clone());
    let (access, generated) =
        access::Access::new(config.access.clone()).context("cannot set up access control")?;
    if let Some(token) = generated {
        // `boxbox serve` passes a token it printed itself; a library caller that gave none finds it here.
        tracing::warn!(%token, "no control token was given: generated one for this run");
    }
    let app = server::app(
        server::AppState {
            hub: hub.clone(),
            stop: stop_rx,
            sources: sources.clone(),
            desk,
            access,
            sessions: sessions::Sessions::new(config.record_dir.clone()),
        },
        &config.web_dir,
    );
    tracing::info!(
        %addr,
        source = config.source.spec.mode(),
        tls = config.tls.is_some(),
        "relay listening"
    );
    // The shutdown protocol (see the module docs): intake, then the last save, then the sockets.
    let shutdown_sources = sources.clone();
    let shutdown_hub = hub.clone();
    let sequence = async move {
        shutdown.await;
        shutdown_sources.stop().await;
        // The source can publish no more: end the persister's loop and make the last save.
        let _ = persist_stop_tx.send(true);
        let figures = match persisting {
            Some(task) => final_save(task, &shutdown_hub, &shutdown_sources).await,
            None => None,
        };
        if let Some(audit) = shutdown_hub.audit() {
            let mut entry = AuditEntry::new(AuditKind::Shutdown, "relay", "graceful shutdown");
            entry.session_time_s = shutdown_hub.latest_state().map(|s| s.session_time_s);
            entry.detail =
                serde_json::json!({ "persist": figures, "audit_dropped": audit.dropped() });
            audit.record(entry);
            if let Err(e) = audit.flush(Duration::from_secs(5)).await {
                tracing::error!("{e:#}");
            }
        }
        let _ = stop_tx.send(true);
    };
    let served = match &config.tls {
        Some(tls) => tls::serve(listener, tls, app, sequence).await,
        None => {
            // No Nagle: a WebSocket frame must not wait for the ACK of the previous one (with Linux's delayed
            // ACKs, up to 40 ms).
            let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!("cannot set TCP_NODELAY: {e}");
                }
            });
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(sequence)
            .await
        }
    };
    // After an error the shutdown sequence may not have run: the source is stopped either way.
    sources.stop().await;
    // The stop signal has gone out (or its sender is gone): the publisher flushes what it has and ends.
    if let Some(nats) = nats
        && tokio::time::timeout(Duration::from_secs(2), nats)
            .await
            .is_err()
    {
        tracing::warn!("the nats publisher did not flush within 2 s");
    }
    served.context("http server failed")
}

/// Opens the state directory: the newest valid state (not yet applied) and the audit log.
fn open_state_dir(
    persist: &PersistConfig,
) -> anyhow::Result<((Persister, persist::Recovery), Audit)> {
    let opened = Persister::open(&persist.state_dir)?;
    let audit = Audit::open(AuditSettings::in_dir(&persist.state_dir))?;
    Ok((opened, audit))
}

/// Puts a recovered session into the hub and says what was recovered (one info line, and the audit log), or
/// why nothing was.
fn recover(hub: &hub::Hub, recovery: &mut persist::Recovery, audit: Option<&Audit>) {
    for (path, why) in &recovery.rejected {
        tracing::warn!(file = %path.display(), "state file not used: {why}");
    }
    if recovery.torn_temp {
        tracing::info!("removed the temporary file of a save that was interrupted");
    }
    let mut entry = AuditEntry::new(AuditKind::Recovery, "relay", "");
    entry.detail = serde_json::json!({
        "rejected": recovery
            .rejected
            .iter()
            .map(|(p, why)| serde_json::json!({ "file": p, "reason": why.to_string() }))
            .collect::<Vec<_>>(),
        "torn_temp": recovery.torn_temp,
    });
    match recovery.loaded.take() {
        Some((saved, path)) => {
            let age_s =
                persist::unix_ms_now().saturating_sub(saved.saved_at_unix_ms) as f64 / 1000.0;
            tracing::info!(
                file = %path.display(),
                session_time_s = saved.state.session_time_s,
                leader_lap = saved.state.session.leader_lap,
                laps = saved.history.len(),
                source = saved.source.mode,
                session = saved.session.key.as_deref().unwrap_or("-"),
                age_s,
                "recovered the saved state"
            );
            entry.message = format!(
                "recovered {} (session time {:.1} s, leader on lap {}, {} laps of history, saved {age_s:.1} s ago)",
                path.display(),
                saved.state.session_time_s,
                saved.state.session.leader_lap,
                saved.history.len()
            );
            entry.session_time_s = Some(saved.state.session_time_s);
            entry.lap = Some(saved.state.session.leader_lap);
            if let serde_json::Value::Object(detail) = &mut entry.detail {
                detail.insert("file".into(), serde_json::json!(path));
                detail.insert("sequence".into(), saved.sequence.into());
                detail.insert("saved_at_unix_ms".into(), saved.saved_at_unix_ms.into());
                detail.insert("session".into(), serde_json::json!(saved.session.key));
                detail.insert("laps".into(), saved.history.len().into());
            }
            hub.restore(hub::RestoredSession {
                key: saved.session.key,
                state: saved.state,
                history: saved.history,
                locks: saved.locks,
            });
        }
        None => {
            let why = if recovery.rejected.is_empty() {
                "no saved state"
            } else {
                "no valid saved state"
            };
            tracing::info!("{why}: starting empty");
            entry.message = format!("{why}: started empty");
        }
    }
    if let Some(audit) = audit {
        audit.record(entry);
    }
}

/// Waits for the persister's last save (it makes it on the stop signal) and logs its figures.
async fn final_save(
    task: tokio::task::JoinHandle<Persister>,
    hub: &hub::Hub,
    sources: &source::Sources,
) -> Option<persist::PersistFigures> {
    let mut persister = match task.await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("the persister failed: {e}");
            return None;
        }
    };
    match persister.save(hub, sources).await {
        Ok(Some(w)) => tracing::info!(
            file = %w.path.display(),
            session_time_s = w.session_time_s,
            bytes = w.bytes,
            took_ms = w.took.as_secs_f64() * 1e3,
            "state saved for shutdown"
        ),
        Ok(None) => tracing::info!("state already saved"),
        Err(e) => tracing::error!("cannot save the state at shutdown: {e:#}"),
    }
    let figures = persister.stats().figures();
    tracing::info!(
        writes = figures.writes,
        failures = figures.failures,
        mean_ms = figures.mean_duration_ms,
        max_ms = figures.max_duration_ms,
        "persister figures"
    );
    Some(figures)
}
