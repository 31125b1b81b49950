//! The HTTP router: `GET /api/v1/health`, `GET`/`PUT /api/v1/source`, `POST /api/v1/ingest`, the twins
//! (`GET /api/v1/twins`, `/api/v1/car-twin`, `/api/v1/car-twin/{car}`, `/api/v1/field-twin`), the strategy desk
//! (`GET /api/v1/strategy`), the `/ws` live feed (handled in [`crate::ws`]),
//! and the web app (with an `index.html` fallback for client-side routes). Errors are JSON:
//! `{"error": {"code", "message"}}`.

use std::net::SocketAddr;
use std::path::Path;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Path as UrlPath, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use boxbox_engine::twin::{CarTwin, TwinReport};
use boxbox_engine::wire::SCHEMA_VERSION;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

use crate::audit::{AuditEntry, AuditKind};
use crate::desk::{Desk, DeskError};
use crate::hub::{Hub, TwinsError};
use crate::source::{SourceConfig, SourceError, SourceStatus, Sources};

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The live data.
    pub hub: Hub,
    /// Turns true when the relay shuts down.
    pub stop: watch::Receiver<bool>,
    /// Where the data comes from.
    pub sources: Sources,
    /// The strategy desk (`GET /api/v1/strategy`).
    pub desk: Desk,
}

/// The relay's router.
pub fn app(state: AppState, web_dir: &Path) -> Router {
    let api = Router::new()
        .route("/health", get(health))
        .route("/source", get(get_source).put(put_source))
        .route("/ingest", post(ingest))
        .route("/twins", get(twins))
        .route("/car-twin", get(car_twins))
        .route("/car-twin/{car}", get(car_twin))
        .route("/field-twin", get(field_twin))
        .route("/strategy", get(strategy))
        .fallback(api_not_found);
    let web = ServeDir::new(web_dir).fallback(ServeFile::new(web_dir.join("index.html")));
    Router::new()
        .nest("/api/v1", api)
        .route("/ws", get(crate::ws::upgrade))
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
    simulated: bool,
    session_time_s: Option<f64>,
    leader_lap: Option<u32>,
    total_laps: Option<u32>,
    ws_clients: usize,
}

async fn health(State(state): State<AppState>) -> Json<Health> {
    let latest = state.hub.latest_state();
    let source = state.sources.status();
    Json(Health {
        schema_version: SCHEMA_VERSION,
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        source: source.mode,
        simulated: source.simulated,
        session_time_s: latest.as_ref().map(|s| s.session_time_s),
        leader_lap: latest.as_ref().map(|s| s.session.leader_lap),
        total_laps: latest.as_ref().map(|s| s.session.total_laps),
        ws_clients: state.hub.client_count(),
    })
}

async fn get_source(State(state): State<AppState>) -> Json<SourceStatus> {
    Json(state.sources.status())
}

/// `PUT /api/v1/source`: switch to the source in the body (a [`SourceConfig`]); answers with the new status. A
/// switch is written to the audit log with the client's address as the actor (until access control names users).
async fn put_source(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    body: Bytes,
) -> Result<Json<SourceStatus>, ApiError> {
    let config: SourceConfig = serde_json::from_slice(&body).map_err(|e| ApiError {
        status: StatusCode::BAD_REQUEST,
        code: "invalid_source",
        message: format!("invalid source configuration: {e}"),
    })?;
    state.sources.switch(config).await.map_err(|e| {
        let (status, code) = match e {
            SourceError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_source"),
            SourceError::Unavailable(_) => (StatusCode::CONFLICT, "source_unavailable"),
            SourceError::NotIngest(_) => (StatusCode::CONFLICT, "wrong_source"),
            SourceError::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
        };
        ApiError {
            status,
            code,
            message: e.to_string(),
        }
    })?;
    let status = state.sources.status();
    if let Some(audit) = state.hub.audit() {
        let actor = peer.map_or_else(
            || "unknown".to_owned(),
            |Extension(ConnectInfo(addr))| addr.to_string(),
        );
        let mut entry = AuditEntry::new(
            AuditKind::SourceSwitch,
            actor,
            format!("source switched to {}", status.mode),
        );
        entry.detail = serde_json::to_value(&status.config).unwrap_or_default();
        audit.record(entry);
    }
    Ok(Json(status))
}

/// Body of a successful `POST /api/v1/ingest`.
#[derive(Debug, Serialize)]
struct Ingested {
    schema_version: u32,
    accepted: usize,
}

/// `POST /api/v1/ingest`: one JSON feed frame or an array of them, while the source is `ingest`.
async fn ingest(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Ingested>), ApiError> {
    // The source first: posting to a relay that is not ingesting is a conflict whatever the body.
    let wrong_source = |e: SourceError| {
        let (status, code) = match e {
            SourceError::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
            _ => (StatusCode::CONFLICT, "wrong_source"),
        };
        ApiError {
            status,
            code,
            message: e.to_string(),
        }
    };
    state.sources.check_ingest().map_err(wrong_source)?;
    let frames = boxbox_engine::feed::parse(&body).map_err(|e| {
        state.sources.ingest_rejected(e.message.clone());
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_feed",
            message: e.message,
        }
    })?;
    let accepted = state.sources.ingest(frames).map_err(wrong_source)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Ingested {
            schema_version: SCHEMA_VERSION,
            accepted,
        }),
    ))
}

/// `GET /api/v1/twins`: the whole twin report.
async fn twins(State(state): State<AppState>) -> Result<Response, ApiError> {
    let report = twin_report(&state.hub).await?;
    json_response(&*report)
}

/// Body of `GET /api/v1/car-twin`.
#[derive(Debug, Serialize)]
struct CarTwins<'a> {
    schema_version: u32,
    session_time_s: f64,
    cars: &'a [CarTwin],
}

/// `GET /api/v1/car-twin`: every car's twin, in running order.
async fn car_twins(State(state): State<AppState>) -> Result<Response, ApiError> {
    let report = twin_report(&state.hub).await?;
    json_response(&CarTwins {
        schema_version: report.schema_version,
        session_time_s: report.session_time_s,
        cars: &report.cars,
    })
}

/// Query of `GET /api/v1/car-twin/{car}`.
#[derive(Debug, Deserialize)]
struct CarTwinQuery {
    /// The rival to compare with (a car index); the car ahead by default.
    rival: Option<String>,
}

/// `GET /api/v1/car-twin/{car}[?rival=N]`: one car's twin, by car index.
async fn car_twin(
    State(state): State<AppState>,
    UrlPath(car): UrlPath<String>,
    query: Result<Query<CarTwinQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let car = parse_car(&car, "invalid_car", "car")?;
    let Query(query) = query.map_err(|e| ApiError {
        status: StatusCode::BAD_REQUEST,
        code: "invalid_query",
        message: e.body_text(),
    })?;
    let rival = query
        .rival
        .as_deref()
        .map(|r| parse_car(r, "invalid_rival", "rival"))
        .transpose()?;
    let Some(rival) = rival else {
        // The car ahead: the cached report has it.
        let report = twin_report(&state.hub).await?;
        let twin = report.cars.iter().find(|t| t.car_idx == car);
        return twin.map_or_else(|| Err(unknown_car(car)), json_response);
    };
    let known = state
        .hub
        .latest_state()
        .ok_or_else(|| twins_error(TwinsError::NoState))?;
    if let Some(missing) = [car, rival].into_iter().find(|&i| known.car(i).is_none()) {
        return Err(unknown_car(missing));
    }
    let twin = state
        .hub
        .car_twin(car, rival)
        .await
        .map_err(twins_error)?
        .ok_or_else(|| unknown_car(car))?;
    json_response(&twin)
}

/// `GET /api/v1/field-twin`: the Field Twin.
async fn field_twin(State(state): State<AppState>) -> Result<Response, ApiError> {
    let report = twin_report(&state.hub).await?;
    json_response(&report.field)
}

/// Query of `GET /api/v1/strategy`.
#[derive(Debug, Deserialize)]
struct StrategyQuery {
    /// The car (a car index); the leader by default.
    car: Option<String>,
}

/// `GET /api/v1/strategy[?car=N]`: the strategy desk's answer for one car (see [`crate::desk`]).
async fn strategy(
    State(state): State<AppState>,
    query: Result<Query<StrategyQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError {
        status: StatusCode::BAD_REQUEST,
        code: "invalid_query",
        message: e.body_text(),
    })?;
    let car = query
        .car
        .as_deref()
        .map(|c| parse_car(c, "invalid_car", "car"))
        .transpose()?;
    let answer = state.desk.strategy(&state.hub, car).await.map_err(|e| {
        let (status, code) = match &e {
            DeskError::NoState => (StatusCode::SERVICE_UNAVAILABLE, "no_state"),
            DeskError::UnknownCar(_) => (StatusCode::NOT_FOUND, "unknown_car"),
            DeskError::NotReady(_) => (StatusCode::CONFLICT, "strategy_not_ready"),
            DeskError::Failed(_) => (StatusCode::INTERNAL_SERVER_ERROR, "strategy_failed"),
        };
        ApiError {
            status,
            code,
            message: e.to_string(),
        }
    })?;
    json_response(&*answer)
}

async fn twin_report(hub: &Hub) -> Result<std::sync::Arc<TwinReport>, ApiError> {
    hub.twin_report().await.map_err(twins_error)
}

fn twins_error(e: TwinsError) -> ApiError {
    let (status, code) = match e {
        TwinsError::NoState => (StatusCode::SERVICE_UNAVAILABLE, "no_state"),
        TwinsError::Failed(_) => (StatusCode::INTERNAL_SERVER_ERROR, "twins_failed"),
    };
    ApiError {
        status,
        code,
        message: e.to_string(),
    }
}

/// A car index from the URL: `0..=255`.
fn parse_car(text: &str, code: &'static str, what: &str) -> Result<u8, ApiError> {
    text.parse().map_err(|_| ApiError {
        status: StatusCode::BAD_REQUEST,
        code,
        message: format!("{what} must be a car index (0 to 255), not {text:?}"),
    })
}

fn unknown_car(car: u8) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "unknown_car",
        message: format!("no car with car_idx {car} in the latest state"),
    }
}

/// Serializes `value` as the JSON body of a `200` (the twins are shared behind an `Arc`, which `Json` cannot take).
fn json_response<T: Serialize + ?Sized>(value: &T) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value).map_err(|e| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "internal",
        message: format!("cannot serialize the answer: {e}"),
    })?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
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
