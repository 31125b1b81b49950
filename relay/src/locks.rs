//! Strategy locks: a strategist (or the engineer) locks the strategy option the pit wall has settled on for a car,
//! with a comment, so everyone on the wall sees the decision and who made it.
//!
//! Locks belong to the live session: they are kept in the hub (so a new session starts without any), saved with
//! the state and recovered with it, and written to the audit log with the actor (role and token id).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use boxbox_engine::wire::SCHEMA_VERSION;
use serde::{Deserialize, Serialize};

use crate::access::Strategist;
use crate::audit::{AuditEntry, AuditKind};
use crate::hub::TwinsError;
use crate::server::{
    ApiError, AppState, ErrorBody, body_bytes, parse_car, twins_error, unknown_car,
};

/// A strategy option locked for one car.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StrategyLock {
    /// The car.
    pub car_idx: u8,
    /// Its driver's code when it was locked.
    pub driver: String,
    /// The plan's label, as the strategy desk names it (e.g. `M-H L23`).
    pub plan: String,
    /// Why, for the wall.
    pub comment: String,
    /// Who locked it: `role:token id`.
    pub by: String,
    /// When, in milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
    /// Session time when it was locked, in seconds.
    pub session_time_s: f64,
    /// The car's lap when it was locked.
    pub lap: u32,
}

/// Body of `PUT /api/v1/strategy/lock`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LockRequest {
    /// The car.
    pub car_idx: u8,
    /// The plan's label, 1 to [`MAX_PLAN_CHARS`] characters.
    pub plan: String,
    /// A comment, up to [`MAX_COMMENT_CHARS`] characters.
    #[serde(default)]
    pub comment: String,
}

/// Body of `GET /api/v1/strategy/lock`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct LockList {
    /// Version of the API's JSON shapes.
    pub schema_version: u32,
    /// The live session's id.
    pub session: String,
    /// The locks, by car.
    pub locks: Vec<StrategyLock>,
}

/// Body of `PUT /api/v1/strategy/lock` and `DELETE /api/v1/strategy/lock/{car}`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct LockAnswer {
    /// Version of the API's JSON shapes.
    pub schema_version: u32,
    /// The lock stored (PUT) or removed (DELETE).
    pub lock: StrategyLock,
}

/// The longest plan label.
pub const MAX_PLAN_CHARS: usize = 80;
/// The longest comment.
pub const MAX_COMMENT_CHARS: usize = 500;

impl LockRequest {
    /// Checks the lengths serde cannot.
    ///
    /// # Errors
    /// A message naming the field.
    pub fn validate(&self) -> Result<(), String> {
        let plan = self.plan.trim();
        if plan.is_empty() || plan.chars().count() > MAX_PLAN_CHARS {
            return Err(format!("plan: 1 to {MAX_PLAN_CHARS} characters"));
        }
        if self.comment.chars().count() > MAX_COMMENT_CHARS {
            return Err(format!("comment: at most {MAX_COMMENT_CHARS} characters"));
        }
        if self
            .plan
            .chars()
            .chain(self.comment.chars())
            .any(|c| c.is_control() && c != '\n')
        {
            return Err("plan and comment: no control characters".into());
        }
        Ok(())
    }
}

/// The strategy locks of the live session.
#[utoipa::path(get, path = "/strategy/lock", tag = "strategy", responses((status = OK, body = LockList)))]
pub(crate) async fn get_locks(State(state): State<AppState>) -> Json<LockList> {
    Json(LockList {
        schema_version: SCHEMA_VERSION,
        session: state.hub.session_id(),
        locks: state.hub.strategy_locks(),
    })
}

/// Locks a strategy option for a car, with a comment (a strategist or the engineer). Replaces the car's lock.
#[utoipa::path(put, path = "/strategy/lock", tag = "strategy", security(("bearer" = [])),
    request_body = LockRequest,
    responses(
        (status = OK, body = LockAnswer, description = "the lock as stored"),
        (status = BAD_REQUEST, body = ErrorBody, description = "invalid_lock"),
        (status = UNAUTHORIZED, body = ErrorBody), (status = FORBIDDEN, body = ErrorBody),
        (status = NOT_FOUND, body = ErrorBody, description = "unknown_car"),
        (status = SERVICE_UNAVAILABLE, body = ErrorBody, description = "no_state")))]
pub(crate) async fn put_lock(
    State(state): State<AppState>,
    Strategist(actor): Strategist,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<LockAnswer>, ApiError> {
    let body = body_bytes(body)?;
    let invalid = |m: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid_lock", m);
    let request: LockRequest =
        serde_json::from_slice(&body).map_err(|e| invalid(format!("invalid lock: {e}")))?;
    request.validate().map_err(invalid)?;
    let latest = state
        .hub
        .latest_state()
        .ok_or_else(|| twins_error(TwinsError::NoState))?;
    let car = latest
        .car(request.car_idx)
        .ok_or_else(|| unknown_car(request.car_idx))?;
    let lock = StrategyLock {
        car_idx: request.car_idx,
        driver: car.driver.code.clone(),
        plan: request.plan.trim().to_owned(),
        comment: request.comment,
        by: actor.label(),
        at_unix_ms: crate::persist::unix_ms_now(),
        session_time_s: latest.session_time_s,
        lap: car.lap,
    };
    let replaced = state.hub.lock_strategy(lock.clone());
    if let Some(audit) = state.hub.audit() {
        let mut entry = AuditEntry::new(
            AuditKind::StrategyLock,
            actor.label(),
            format!("strategy locked for {}: {}", lock.driver, lock.plan),
        );
        entry.car_idx = Some(lock.car_idx);
        entry.driver = Some(lock.driver.clone());
        entry.lap = Some(lock.lap);
        entry.session_time_s = Some(lock.session_time_s);
        entry.detail = serde_json::json!({
            "plan": lock.plan, "comment": lock.comment, "replaced": replaced.map(|r| r.plan),
        });
        audit.record(entry);
    }
    Ok(Json(LockAnswer {
        schema_version: SCHEMA_VERSION,
        lock,
    }))
}

/// Removes a car's strategy lock (a strategist or the engineer).
#[utoipa::path(delete, path = "/strategy/lock/{car}", tag = "strategy", security(("bearer" = [])),
    params(("car" = u8, Path, description = "car index, 0 to 255")),
    responses(
        (status = OK, body = LockAnswer, description = "the lock removed"),
        (status = BAD_REQUEST, body = ErrorBody, description = "invalid_car"),
        (status = UNAUTHORIZED, body = ErrorBody), (status = FORBIDDEN, body = ErrorBody),
        (status = NOT_FOUND, body = ErrorBody, description = "no_lock")))]
pub(crate) async fn delete_lock(
    State(state): State<AppState>,
    Strategist(actor): Strategist,
    UrlPath(car): UrlPath<String>,
) -> Result<Json<LockAnswer>, ApiError> {
    let car = parse_car(&car, "invalid_car", "car")?;
    let removed = state.hub.unlock_strategy(car).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_lock",
            format!("car {car} has no strategy lock"),
        )
    })?;
    if let Some(audit) = state.hub.audit() {
        let mut entry = AuditEntry::new(
            AuditKind::StrategyUnlock,
            actor.label(),
            format!("strategy unlocked for {}", removed.driver),
        );
        entry.car_idx = Some(car);
        entry.driver = Some(removed.driver.clone());
        entry.detail = serde_json::json!({ "plan": removed.plan });
        audit.record(entry);
    }
    Ok(Json(LockAnswer {
        schema_version: SCHEMA_VERSION,
        lock: removed,
    }))
}
