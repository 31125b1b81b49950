//! The HTTP router: `GET /api/v1/health` and `ready`, `GET`/`PUT /api/v1/source`, `POST /api/v1/ingest`, the
//! latest state (`telemetry`, `environment`), the twins (`GET /api/v1/twins`, `/api/v1/car-twin`,
//! `/api/v1/car-twin/{car}`, `/api/v1/field-twin`), the strategy desk (`GET /api/v1/strategy`) and its locks
//! ([`crate::locks`]), sessions, recordings and exports ([`crate::sessions`]), share links and `whoami`
//! ([`crate::access`]), the OpenAPI document (`/api/v1/openapi.json`), the `/ws` live feed (handled in
//! [`crate::ws`]), and the web app (with an `index.html` fallback for client-side routes). Errors are JSON:
//! `{"error": {"code", "message"}}`.
//!
//! Every `/api/v1` route is registered with utoipa-axum's `routes!`, which adds the handler's `#[utoipa::path]`
//! to the OpenAPI document in the same call: a route cannot be served without being documented, nor documented
//! without being served. [`crate::access::middleware`] runs before every `/api` and `/ws` request.

use std::path::Path;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Extension, Json, Router};
use boxbox_engine::twin::{CarTwin, TwinReport};
use boxbox_engine::wire::SCHEMA_VERSION;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::{Access, Engineer};
use crate::audit::{AuditEntry, AuditKind};
use crate::desk::{Desk, DeskError};
use crate::hub::{Hub, TwinsError};
use crate::sessions::Sessions;
use crate::source::{Connection, SourceConfig, SourceError, SourceStatus, Sources};

/// A state older than this, from a source that is still running, makes the relay not ready.
pub const READY_MAX_STATE_AGE: Duration = Duration::from_secs(10);

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
    /// Tokens, roles and limits.
    pub access: Access,
    /// The recordings and their exports.
    pub sessions: Sessions,
}

/// The OpenAPI document's fixed parts; the paths come from the routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "boxbox relay",
        description = "The pit wall's REST API. Reads are open unless the relay runs with \
                       --require-token-for-reads; changes need a bearer token of the right role (engineer: the \
                       control token; strategist: a token the engineer issued). Errors are \
                       {\"error\": {\"code\", \"message\"}}."
    ),
    modifiers(&BearerScheme),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

/// Declares the `bearer` security scheme the guarded operations name.
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi
            .components
            .get_or_insert_with(utoipa::openapi::Components::new);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Every `/api/v1` route with its documentation (paths relative to `/api/v1`).
fn api_routes(max_ingest_bytes: usize) -> OpenApiRouter<AppState> {
    let (schemas, paths, ingest_route) = routes!(ingest);
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(openapi_json))
        .routes(routes!(get_source, put_source))
        .routes((
            schemas,
            paths,
            ingest_route.layer(DefaultBodyLimit::max(max_ingest_bytes)),
        ))
        .routes(routes!(telemetry))
        .routes(routes!(environment))
        .routes(routes!(twins))
        .routes(routes!(car_twins))
        .routes(routes!(car_twin))
        .routes(routes!(field_twin))
        .routes(routes!(strategy))
        .routes(routes!(crate::locks::get_locks, crate::locks::put_lock))
        .routes(routes!(crate::locks::delete_lock))
        .routes(routes!(crate::sessions::list))
        .routes(routes!(crate::sessions::recording))
        .routes(routes!(crate::sessions::export_json))
        .routes(routes!(crate::sessions::export_csv))
        .routes(routes!(crate::access::share))
        .routes(routes!(crate::access::whoami))
        .fallback(api_not_found)
}

/// The OpenAPI document of the REST API (as served at `/api/v1/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", api_routes(0))
        .split_for_parts()
        .1
}

/// The relay's router.
pub fn app(state: AppState, web_dir: &Path) -> Router {
    let limits = state.access.config().clone();
    let (api, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", api_routes(limits.max_ingest_bytes))
        .split_for_parts();
    let web = ServeDir::new(web_dir).fallback(ServeFile::new(web_dir.join("index.html")));
    let router = api
        .route("/ws", get(crate::ws::upgrade))
        .route("/metrics", get(crate::metrics::handler))
        // Under `/api` nothing is the web app: a version or path that does not exist is a JSON 404.
        .route("/api", any(api_not_found))
        .route("/api/{*rest}", any(api_not_found))
        .fallback_service(web)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::access::middleware,
        ))
        // Times every request, refused ones included; route patterns are known here, after routing.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track,
        ))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(Extension(Arc::new(doc)))
        .layer(axum::middleware::from_fn(json_errors));
    // No CORS layer at all unless origins are configured: browsers then keep other origins out.
    let router = match cors(&limits.cors_origins) {
        Some(layer) => router.layer(layer),
        None => router,
    };
    // Spans name the path, never the query: `?token=` (the only way a browser's WebSocket carries a token) must not
    // reach the logs.
    let trace = TraceLayer::new_for_http().make_span_with(|request: &axum::extract::Request| {
        tracing::debug_span!(
            "request",
            method = %request.method(),
            path = request.uri().path(),
            version = ?request.version(),
        )
    });
    router.layer(trace).with_state(state)
}

/// The CORS layer for `origins` (`None` when there are none that parse).
fn cors(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::PUT, Method::POST, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
    )
}

/// The error body every failure has, for the document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// Inside [`ErrorBody`].
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code, e.g. `no_state`, `unauthorized`, `rate_limited`.
    pub code: String,
    /// A sentence for people.
    pub message: String,
}

/// Body of `GET /api/v1/health`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
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

/// Liveness and what the relay is serving.
#[utoipa::path(get, path = "/health", tag = "relay", responses((status = OK, body = Health)))]
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

/// Body of `GET /api/v1/ready`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Ready {
    schema_version: u32,
    /// The source is connected (or finished with its final state up) and the state is fresh.
    ready: bool,
    /// The source's mode.
    source: &'static str,
    /// The source's connection state.
    #[schema(value_type = String)]
    connection: Connection,
    /// Seconds since the last state was published (`null` before the first).
    state_age_s: Option<f64>,
    /// Why the relay is not ready (empty when it is).
    reasons: Vec<String>,
}

/// Readiness: `200` when the source is connected and the latest state is fresh (published within 10 s, or the
/// final state of a finished replay or race), `503` otherwise, with the reasons.
#[utoipa::path(get, path = "/ready", tag = "relay", responses(
    (status = OK, body = Ready, description = "ready"),
    (status = SERVICE_UNAVAILABLE, body = Ready, description = "not ready, with the reasons")))]
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Ready>) {
    let source = state.sources.status();
    let age = state.hub.last_publish_age();
    let mut reasons = Vec::new();
    let finished = source.connection == Connection::Finished;
    if !matches!(
        source.connection,
        Connection::Connected | Connection::Finished
    ) {
        reasons.push(format!("the source is {:?}", source.connection).to_lowercase());
    }
    match age {
        None => reasons.push("no state published yet in this session".to_owned()),
        Some(age) if age > READY_MAX_STATE_AGE && !finished => reasons.push(format!(
            "the latest state is {:.1} s old",
            age.as_secs_f64()
        )),
        Some(_) => {}
    }
    let status = if reasons.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Ready {
            schema_version: SCHEMA_VERSION,
            ready: reasons.is_empty(),
            source: source.mode,
            connection: source.connection,
            state_age_s: age.map(|a| a.as_secs_f64()),
            reasons,
        }),
    )
}

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(get, path = "/openapi.json", tag = "relay", responses(
    (status = OK, body = serde_json::Value, description = "the OpenAPI document")))]
async fn openapi_json(
    Extension(doc): Extension<Arc<utoipa::openapi::OpenApi>>,
) -> Result<Response, ApiError> {
    json_response(&*doc)
}

/// The source's status: mode, configuration, connection, counters and errors.
#[utoipa::path(get, path = "/source", tag = "source", responses(
    (status = OK, body = serde_json::Value, description = "the source's status (see the README)")))]
async fn get_source(State(state): State<AppState>) -> Json<SourceStatus> {
    Json(state.sources.status())
}

/// `PUT /api/v1/source`: switch to the source in the body (a [`SourceConfig`]); answers with the new status. The
/// engineer's only. A switch is written to the audit log with the actor.
#[utoipa::path(put, path = "/source", tag = "source", security(("bearer" = [])),
    request_body(content = serde_json::Value, description = "a source as in the config file, e.g. \
        {\"mode\": \"simulator\", \"seed\": 4, \"speed\": 10}"),
    responses(
        (status = OK, body = serde_json::Value, description = "the new source's status"),
        (status = BAD_REQUEST, body = ErrorBody, description = "invalid_source"),
        (status = UNAUTHORIZED, body = ErrorBody), (status = FORBIDDEN, body = ErrorBody),
        (status = CONFLICT, body = ErrorBody, description = "source_unavailable"),
        (status = PAYLOAD_TOO_LARGE, body = ErrorBody),
        (status = TOO_MANY_REQUESTS, body = ErrorBody)))]
async fn put_source(
    State(state): State<AppState>,
    Engineer(actor): Engineer,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SourceStatus>, ApiError> {
    let body = body_bytes(body)?;
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
        let mut entry = AuditEntry::new(
            AuditKind::SourceSwitch,
            actor.label(),
            format!("source switched to {}", status.mode),
        );
        entry.detail = serde_json::to_value(&status.config).unwrap_or_default();
        audit.record(entry);
    }
    Ok(Json(status))
}

/// Body of a successful `POST /api/v1/ingest`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Ingested {
    schema_version: u32,
    /// Frames applied.
    accepted: usize,
}

/// `POST /api/v1/ingest`: one JSON feed frame or an array of them, while the source is `ingest`. The engineer's
/// only; the body may be up to `--max-ingest-bytes`.
#[utoipa::path(post, path = "/ingest", tag = "source", security(("bearer" = [])),
    request_body(content = serde_json::Value, description = "a JSON feed frame or an array of them (README)"),
    responses(
        (status = ACCEPTED, body = Ingested),
        (status = BAD_REQUEST, body = ErrorBody, description = "invalid_feed, with the JSON path"),
        (status = UNAUTHORIZED, body = ErrorBody), (status = FORBIDDEN, body = ErrorBody),
        (status = CONFLICT, body = ErrorBody, description = "wrong_source"),
        (status = PAYLOAD_TOO_LARGE, body = ErrorBody),
        (status = TOO_MANY_REQUESTS, body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, body = ErrorBody, description = "shutting_down")))]
async fn ingest(
    State(state): State<AppState>,
    Engineer(_): Engineer,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Ingested>), ApiError> {
    let body = body_bytes(body)?;
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
    // Off the async threads: a batch may be megabytes of JSON (up to `--max-ingest-bytes`).
    let parsed = tokio::task::spawn_blocking(move || boxbox_engine::feed::parse(&body))
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("reading the feed failed: {e}"),
            )
        })?;
    let frames = parsed.map_err(|e| {
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

/// The latest race state (schema version 1, `engine/src/wire.rs`): telemetry, positions, tyres, fuel, weather.
#[utoipa::path(get, path = "/telemetry", tag = "race", responses(
    (status = OK, body = serde_json::Value, description = "a RaceState"),
    (status = SERVICE_UNAVAILABLE, body = ErrorBody, description = "no_state")))]
async fn telemetry(State(state): State<AppState>) -> Result<Response, ApiError> {
    let latest = state
        .hub
        .latest_state()
        .ok_or_else(|| twins_error(TwinsError::NoState))?;
    json_response(&latest)
}

/// Body of `GET /api/v1/environment`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Environment {
    schema_version: u32,
    /// Session time of the state, in seconds.
    session_time_s: f64,
    /// Track name.
    track: String,
    /// `clear`, `light_cloud`, `overcast`, `light_rain`, `heavy_rain` or `storm`.
    #[schema(value_type = String)]
    weather: boxbox_engine::wire::Weather,
    /// Air temperature, °C.
    air_temp_c: f64,
    /// Track surface temperature, °C.
    track_temp_c: f64,
    /// `green`, `yellow`, `vsc`, `sc` or `red`.
    #[schema(value_type = String)]
    track_status: boxbox_engine::wire::TrackStatus,
    /// `race`, `qualifying`, …
    #[schema(value_type = String)]
    session_type: boxbox_engine::wire::SessionType,
    /// Whether the race has started, is running or is over.
    #[schema(value_type = String)]
    phase: boxbox_engine::wire::SessionPhase,
    /// The leader's lap.
    leader_lap: u32,
    /// Race distance, laps.
    total_laps: u32,
    /// The source gives timing only (temperatures then read zero).
    timing_only: bool,
    /// The game's forecast for the session, soonest first: `{"in_min", "weather", "rain_pct"}` (empty for other
    /// sources).
    #[schema(value_type = Vec<Object>)]
    forecast: Vec<boxbox_engine::wire::Forecast>,
}

/// The track and weather of the latest state.
#[utoipa::path(get, path = "/environment", tag = "race", responses(
    (status = OK, body = Environment),
    (status = SERVICE_UNAVAILABLE, body = ErrorBody, description = "no_state")))]
async fn environment(State(state): State<AppState>) -> Result<Json<Environment>, ApiError> {
    let latest = state
        .hub
        .latest_state()
        .ok_or_else(|| twins_error(TwinsError::NoState))?;
    let s = latest.session;
    Ok(Json(Environment {
        schema_version: SCHEMA_VERSION,
        session_time_s: latest.session_time_s,
        track: s.track,
        weather: s.weather,
        air_temp_c: s.air_temp_c,
        track_temp_c: s.track_temp_c,
        track_status: s.track_status,
        session_type: s.session_type,
        phase: s.phase,
        leader_lap: s.leader_lap,
        total_laps: s.total_laps,
        timing_only: s.timing_only,
        forecast: s.forecast,
    }))
}

/// `GET /api/v1/twins`: the whole twin report.
#[utoipa::path(get, path = "/twins", tag = "twins", responses(
    (status = OK, body = serde_json::Value, description = "the TwinReport (engine/src/twin)"),
    (status = SERVICE_UNAVAILABLE, body = ErrorBody, description = "no_state")))]
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
#[utoipa::path(get, path = "/car-twin", tag = "twins", responses(
    (status = OK, body = serde_json::Value, description = "{schema_version, session_time_s, cars: [CarTwin]}"),
    (status = SERVICE_UNAVAILABLE, body = ErrorBody, description = "no_state")))]
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
#[utoipa::path(get, path = "/car-twin/{car}", tag = "twins",
    params(("car" = u8, Path, description = "car index, 0 to 255"),
           ("rival" = Option<u8>, Query, description = "compare with this car instead of the car ahead")),
    responses(
        (status = OK, body = serde_json::Value, description = "a CarTwin"),
        (status = BAD_REQUEST, body = ErrorBody, description = "invalid_car, invalid_rival"),
        (status = NOT_FOUND, body = ErrorBody, description = "unknown_car"),
        (status = SERVICE_UNAVAILABLE, body = ErrorBody, description = "no_state")))]
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
#[utoipa::path(get, path = "/field-twin", tag = "twins", responses(
    (status = OK, body = serde_json::Value, description = "the FieldTwin"),
    (status = SERVICE_UNAVAILABLE, body = ErrorBody, description = "no_state")))]
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
#[utoipa::path(get, path = "/strategy", tag = "strategy",
    params(("car" = Option<u8>, Query, description = "the car; the leader by default")),
    responses(
        (status = OK, body = serde_json::Value, description = "the desk's LiveStrategy"),
        (status = BAD_REQUEST, body = ErrorBody, description = "invalid_car"),
        (status = NOT_FOUND, body = ErrorBody, description = "unknown_car"),
        (status = CONFLICT, body = ErrorBody, description = "strategy_not_ready"),
        (status = SERVICE_UNAVAILABLE, body = ErrorBody, description = "no_state")))]
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

pub(crate) fn twins_error(e: TwinsError) -> ApiError {
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
pub(crate) fn parse_car(text: &str, code: &'static str, what: &str) -> Result<u8, ApiError> {
    text.parse().map_err(|_| ApiError {
        status: StatusCode::BAD_REQUEST,
        code,
        message: format!("{what} must be a car index (0 to 255), not {text:?}"),
    })
}

pub(crate) fn unknown_car(car: u8) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "unknown_car",
        message: format!("no car with car_idx {car} in the latest state"),
    }
}

/// Serializes `value` as the JSON body of a `200` (the twins are shared behind an `Arc`, which `Json` cannot take).
pub(crate) fn json_response<T: Serialize + ?Sized>(value: &T) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value).map_err(|e| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "internal",
        message: format!("cannot serialize the answer: {e}"),
    })?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// A request body, or the JSON error for one that is too large (`413 body_too_large`) or unreadable.
pub(crate) fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        let status = e.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "body_too_large"
        } else {
            "invalid_body"
        };
        ApiError::new(status, code, e.body_text())
    })
}

/// An API error as JSON.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    /// An error with its status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

/// axum's own refusals are plain text or empty (a method a route does not take, a path parameter that is not UTF-8,
/// `/ws` without the upgrade headers): every error of the API (`/api`, `/ws`, `/metrics`) is JSON with a message,
/// so they are rewritten here with the same status and headers (axum adds `Allow` to a `405` after this layer,
/// on its way out of the route). The web app's answers stay what they are.
async fn json_errors(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = request.uri().path();
    let api = path == "/api" || path.starts_with("/api/") || path == "/ws" || path == "/metrics";
    if !api {
        return next.run(request).await;
    }
    let (path, method) = (path.to_owned(), request.method().clone());
    let response = next.run(request).await;
    let status = response.status();
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // axum's texts are a line; a body over 4 KiB is not one of them, and its status's reason stands in for it.
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            format!("{path} does not take {method} (its methods are in the Allow header)"),
        ),
        StatusCode::NOT_FOUND => ("not_found", text),
        StatusCode::PAYLOAD_TOO_LARGE => ("body_too_large", text),
        s if s.is_server_error() => ("internal", text),
        _ => ("bad_request", text),
    };
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        message
    };
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    let mut rewritten = ApiError::new(status, code, message).into_response();
    rewritten.headers_mut().extend(parts.headers);
    rewritten
}

async fn api_not_found(axum::extract::OriginalUri(uri): axum::extract::OriginalUri) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "not_found",
        message: format!("no such endpoint: {}", uri.path()),
    }
}
