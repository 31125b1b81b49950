//! Access control: who may read the race and who may change what, and the limits every client lives within.
//!
//! **Roles.** `engineer` may do everything: switch the source, ingest, issue share links and strategist tokens,
//! lock strategies. `strategist` reads and may lock a strategy option and comment on it. `analyst` reads only.
//!
//! **Tokens.** The control token (from `--control-token`, `BOXBOX_CONTROL_TOKEN` or the config file, else
//! generated and printed at start) is the engineer's. Strategist and analyst tokens are issued by the engineer
//! (`POST /api/v1/share`): `bb1.<role>.<session hex>.<expiry unix s>.<token id>.<mac>`, an HMAC-SHA256 over
//! everything before the MAC with the relay's secret, so the relay keeps no list of them. Each is scoped to one
//! session (the live session's id, or a recording's) and expires. A client passes a token as
//! `Authorization: Bearer <token>` or `?token=<token>` (a browser's WebSocket cannot set headers).
//!
//! **Reads.** Open by default, so a tablet on the pit-wall LAN opens the URL and sees the race. With
//! `--require-token-for-reads` every `/api` read and `/ws` needs a token (health, readiness and the OpenAPI
//! document stay open for monitoring); share links are then how analysts get in.
//!
//! **Comparison.** The control token is compared in constant time (`subtle`, on SHA-256 digests, so not even the
//! length leaks); a signed token's MAC is checked with `hmac`'s constant-time `verify_slice`.
//!
//! **Limits.** Per-IP token buckets answer `429 rate_limited` (see [`RateLimiter`]); request bodies are capped
//! (`--max-body-bytes`, ingest its own `--max-ingest-bytes`); CORS is closed unless `--cors-origin` names origins.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::time::Instant;

use crate::server::{ApiError, AppState};

/// The prefix (and version) of signed tokens.
const SIGNED_PREFIX: &str = "bb1";

/// The longest a share link or strategist token may live: a race weekend.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(4 * 24 * 3600);

/// What a role may do. Ordered: each role may do everything the roles before it may.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads only.
    Analyst,
    /// Reads, and locks strategy options with a comment.
    Strategist,
    /// Everything: ingest, source switching, recording control, share links, strategy locks.
    Engineer,
}

impl Role {
    /// The role's name, as in JSON and in tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Analyst => "analyst",
            Role::Strategist => "strategist",
            Role::Engineer => "engineer",
        }
    }

    fn parse(text: &str) -> Option<Role> {
        match text {
            "analyst" => Some(Role::Analyst),
            "strategist" => Some(Role::Strategist),
            "engineer" => Some(Role::Engineer),
            _ => None,
        }
    }
}

/// Who is asking: a role, the token's id (never the token) and, for issued tokens, the one session it may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// What the caller may do.
    pub role: Role,
    /// `control` for the control token, the issued token's id otherwise.
    pub token_id: String,
    /// The session an issued token is scoped to; `None` for the control token.
    pub scope: Option<String>,
    /// When an issued token stops working, in seconds since the Unix epoch; `None` for the control token.
    pub expires_unix_s: Option<u64>,
}

impl Actor {
    /// How the audit log names the actor: `role:token id`.
    pub fn label(&self) -> String {
        format!("{}:{}", self.role.as_str(), self.token_id)
    }
}

/// The caller of a request, as the access middleware found it: `None` for a request without a token (only
/// possible while reads are open).
#[derive(Clone, Debug, Default)]
pub struct Caller(pub Option<Actor>);

/// Settings of access control and the HTTP limits, merged from flags, environment and the config file.
#[derive(Clone, Debug, PartialEq)]
pub struct AccessConfig {
    /// The engineer's token; `None` generates one at start (printed once).
    pub control_token: Option<String>,
    /// Where the signing secret of issued tokens is kept so that they survive a restart (`STATE_DIR/access.key`);
    /// `None` keeps a fresh secret in memory.
    pub secret_file: Option<PathBuf>,
    /// Reads need a token too.
    pub require_token_for_reads: bool,
    /// Origins allowed by CORS; empty keeps CORS closed (same origin only).
    pub cors_origins: Vec<String>,
    /// Largest request body, in bytes (ingest excepted).
    pub max_body_bytes: usize,
    /// Largest `POST /api/v1/ingest` body, in bytes.
    pub max_ingest_bytes: usize,
    /// Requests per second and burst per client IP; `None` disables rate limiting.
    pub rate_limit: Option<RateLimit>,
    /// The relay serves HTTPS (`--tls-cert`): the links it makes (share URLs) start with `https://`.
    pub https: bool,
}

/// A token bucket's shape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_s: f64,
    /// Requests allowed at once after a quiet spell.
    pub burst: u32,
}

/// The default limit of an ingest body (`--max-ingest-bytes`), and of a WebSocket feed's message.
pub const DEFAULT_MAX_INGEST_BYTES: usize = 16 << 20;

impl AccessConfig {
    /// Defaults for a pit wall: reads open, CORS closed, 1 MiB bodies (16 MiB for ingest), 50 requests per second
    /// per IP with bursts of 200, and the given control token (or a generated one).
    pub fn pit_wall(control_token: Option<String>) -> Self {
        AccessConfig {
            control_token,
            secret_file: None,
            require_token_for_reads: false,
            cors_origins: Vec::new(),
            max_body_bytes: 1 << 20,
            max_ingest_bytes: DEFAULT_MAX_INGEST_BYTES,
            rate_limit: Some(RateLimit {
                per_s: 50.0,
                burst: 200,
            }),
            https: false,
        }
    }
}

/// Why a request is refused.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The request needs a token and has none.
    #[error("{0}")]
    Unauthorized(String),
    /// The token is not one this relay issued (or is damaged).
    #[error("invalid token")]
    InvalidToken,
    /// The token has expired.
    #[error("the token expired")]
    Expired,
    /// The token's role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The token is scoped to another session.
    #[error("this token is for session {scope}, not {asked}")]
    WrongSession {
        /// The token's session.
        scope: String,
        /// The session asked about.
        asked: String,
    },
}

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> Self {
        let (status, code) = match &e {
            AccessError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            AccessError::InvalidToken => (StatusCode::UNAUTHORIZED, "invalid_token"),
            AccessError::Expired => (StatusCode::UNAUTHORIZED, "token_expired"),
            AccessError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            AccessError::WrongSession { .. } => (StatusCode::FORBIDDEN, "wrong_session"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

/// A token issued by [`Access::issue`].
#[derive(Clone, Debug)]
pub struct Issued {
    /// The token itself (shown once to the engineer who asked for it).
    pub token: String,
    /// Its id, for the audit log.
    pub token_id: String,
}

/// Access control and limits, shared by every request. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Access {
    inner: Arc<AccessInner>,
}

#[derive(Debug)]
struct AccessInner {
    /// SHA-256 of the control token: compared in constant time whatever the length of what a client sends.
    control_digest: [u8; 32],
    secret: [u8; 32],
    config: AccessConfig,
    limiter: Option<RateLimiter>,
}

impl Access {
    /// Sets up access control. Returns the control token when it was generated, for the caller to print.
    ///
    /// # Errors
    /// If the OS has no randomness to give, or the secret file exists but cannot be read or is damaged, or
    /// cannot be written.
    pub fn new(config: AccessConfig) -> anyhow::Result<(Access, Option<String>)> {
        let (control, generated) = match &config.control_token {
            Some(token) if token.len() >= 16 => (token.clone(), None),
            Some(_) => anyhow::bail!("the control token must be at least 16 characters"),
            None => {
                let token = generate_token()?;
                (token.clone(), Some(token))
            }
        };
        let secret = match &config.secret_file {
            Some(path) => load_or_create_secret(path)?,
            None => random_bytes::<32>()?,
        };
        let limiter = config.rate_limit.map(RateLimiter::new);
        let access = Access {
            inner: Arc::new(AccessInner {
                control_digest: Sha256::digest(control.as_bytes()).into(),
                secret,
                config,
                limiter,
            }),
        };
        Ok((access, generated))
    }

    /// The settings in force.
    pub fn config(&self) -> &AccessConfig {
        &self.inner.config
    }

    /// Who `token` belongs to, at wall-clock time `now_unix_s`.
    ///
    /// # Errors
    /// [`AccessError::InvalidToken`] for anything this relay did not issue; [`AccessError::Expired`].
    pub fn authenticate(&self, token: &str, now_unix_s: u64) -> Result<Actor, AccessError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if bool::from(digest.ct_eq(&self.inner.control_digest)) {
            return Ok(Actor {
                role: Role::Engineer,
                token_id: "control".into(),
                scope: None,
                expires_unix_s: None,
            });
        }
        let Some((signed, mac_hex)) = token.rsplit_once('.') else {
            return Err(AccessError::InvalidToken);
        };
        let mac = unhex(mac_hex).ok_or(AccessError::InvalidToken)?;
        self.mac()
            .map_err(|_| AccessError::InvalidToken)?
            .chain_update(signed.as_bytes())
            .verify_slice(&mac)
            .map_err(|_| AccessError::InvalidToken)?;
        // The MAC checks out: the fields are ours.
        let fields: Vec<&str> = signed.split('.').collect();
        let [SIGNED_PREFIX, role, session, expires, id] = fields[..] else {
            return Err(AccessError::InvalidToken);
        };
        let role = Role::parse(role).ok_or(AccessError::InvalidToken)?;
        let session = unhex(session)
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(AccessError::InvalidToken)?;
        let expires: u64 = expires.parse().map_err(|_| AccessError::InvalidToken)?;
        if now_unix_s >= expires {
            return Err(AccessError::Expired);
        }
        Ok(Actor {
            role,
            token_id: id.to_owned(),
            scope: Some(session),
            expires_unix_s: Some(expires),
        })
    }

    /// Issues a token for `role` on `session`, valid until `expires_unix_s`.
    ///
    /// # Errors
    /// If the OS has no randomness for the token id.
    pub fn issue(&self, role: Role, session: &str, expires_unix_s: u64) -> anyhow::Result<Issued> {
        let token_id = hex(&random_bytes::<6>()?);
        let signed = format!(
            "{SIGNED_PREFIX}.{}.{}.{expires_unix_s}.{token_id}",
            role.as_str(),
            hex(session.as_bytes())
        );
        let mac = self
            .mac()
            .map_err(|e| anyhow::anyhow!("cannot key the MAC: {e}"))?
            .chain_update(signed.as_bytes())
            .finalize();
        Ok(Issued {
            token: format!("{signed}.{}", hex(&mac.into_bytes())),
            token_id,
        })
    }

    /// The MAC keyed with the relay's secret. HMAC takes keys of any length, so this does not fail in practice.
    fn mac(&self) -> Result<Hmac<Sha256>, hmac::digest::InvalidLength> {
        <Hmac<Sha256> as Mac>::new_from_slice(&self.inner.secret)
    }
}

/// The token a request carries: `Authorization: Bearer …`, else `?token=…`.
fn request_token(parts: &Parts) -> Option<String> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION)
        && let Ok(text) = value.to_str()
        && let Some(token) = text.strip_prefix("Bearer ")
    {
        return Some(token.trim().to_owned());
    }
    let query = parts.uri.query()?;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == "token").then(|| percent_decode(value))
    })
}

/// Paths anyone may read even when reads need a token: monitoring and the API's own description.
fn always_open(path: &str) -> bool {
    matches!(
        path,
        "/api/v1/health" | "/api/v1/ready" | "/api/v1/openapi.json"
    )
}

/// The access middleware: rate limit, then authentication, then the token's session scope. The caller found is
/// put in the request's extensions as a [`Caller`]; what each handler needs beyond reading it asks with the
/// [`Engineer`] and [`Strategist`] extractors. Static files of the web app pass untouched (they hold no data).
pub async fn middleware(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let guarded = path.starts_with("/api/") || path == "/ws";
    if !guarded {
        return next.run(request).await;
    }
    let access = &state.access;
    if let Some(limiter) = &access.inner.limiter {
        let ip = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        if let Err(wait) = limiter.check(ip, Instant::now()) {
            let secs = wait.as_secs().max(1);
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests from {ip}: try again in {secs} s"),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return response;
        }
    }
    let (mut parts, body) = request.into_parts();
    let caller = match request_token(&parts) {
        Some(token) => match access.authenticate(&token, crate::persist::unix_ms_now() / 1000) {
            Ok(actor) => Some(actor),
            Err(e) => return ApiError::from(e).into_response(),
        },
        None => None,
    };
    if caller.is_none() && access.config().require_token_for_reads && !always_open(&path) {
        return ApiError::from(AccessError::Unauthorized(
            "this relay needs a token for reads: pass one as `Authorization: Bearer <token>` or `?token=`".into(),
        ))
        .into_response();
    }
    if let Some(scope) = caller.as_ref().and_then(|a| a.scope.as_deref())
        && !always_open(&path)
        && let Err(e) = check_scope(scope, &path, &state)
    {
        return ApiError::from(e).into_response();
    }
    parts.extensions.insert(Caller(caller));
    next.run(Request::from_parts(parts, body)).await
}

/// A scoped token sees its own session: `sessions/{id}/…` of that id, and the live endpoints while the live
/// session is the one it was issued for. The sessions list is filtered by its handler.
fn check_scope(scope: &str, path: &str, state: &AppState) -> Result<(), AccessError> {
    let asked = match path.strip_prefix("/api/v1/sessions") {
        Some("" | "/") => return Ok(()),
        Some(rest) => rest
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned(),
        None => state.hub.session_id(),
    };
    if asked == scope {
        Ok(())
    } else {
        Err(AccessError::WrongSession {
            scope: scope.to_owned(),
            asked,
        })
    }
}

/// Extracts the caller and requires the engineer's role (the control token).
#[derive(Clone, Debug)]
pub struct Engineer(pub Actor);

/// Extracts the caller and requires at least the strategist's role.
#[derive(Clone, Debug)]
pub struct Strategist(pub Actor);

fn require(parts: &Parts, role: Role, what: &str) -> Result<Actor, ApiError> {
    let caller = parts
        .extensions
        .get::<Caller>()
        .cloned()
        .unwrap_or_default();
    match caller.0 {
        None => Err(AccessError::Unauthorized(format!(
            "{what} needs a {} token: pass it as `Authorization: Bearer <token>`",
            role.as_str()
        ))
        .into()),
        Some(actor) if actor.role >= role => Ok(actor),
        Some(actor) => Err(AccessError::Forbidden(format!(
            "{what} needs the {} role; this token is an {}'s",
            role.as_str(),
            actor.role.as_str()
        ))
        .into()),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Engineer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let what = format!("{} {}", parts.method, parts.uri.path());
        require(parts, Role::Engineer, &what).map(Engineer)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Strategist {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let what = format!("{} {}", parts.method, parts.uri.path());
        require(parts, Role::Strategist, &what).map(Strategist)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Caller>()
            .cloned()
            .unwrap_or_default())
    }
}

/// Body of `POST /api/v1/share`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// `analyst` (read only, the default) or `strategist` (reads, and strategy locks).
    #[serde(default = "default_share_role")]
    pub role: Role,
    /// The session the token opens: a recording's id from `/sessions`; the live session by default.
    #[serde(default)]
    pub session: Option<String>,
    /// Lifetime in seconds: 8 hours by default, at most 4 days.
    #[serde(default)]
    pub expires_in_s: Option<u64>,
}

fn default_share_role() -> Role {
    Role::Analyst
}

/// Body of a `201` from `POST /api/v1/share`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Shared {
    /// Version of the API's JSON shapes.
    pub schema_version: u32,
    /// The token: give it (or the URL) to the person; it is not shown again.
    pub token: String,
    /// Its id, as the audit log names it.
    pub token_id: String,
    /// What it may do.
    pub role: Role,
    /// The session it opens.
    pub session: String,
    /// A link that opens the session with the token (the app for the live session, the recording's download
    /// for a recording).
    pub url: String,
    /// When it stops working, RFC 3339 UTC.
    pub expires_at: String,
    /// The same, in seconds since the Unix epoch.
    pub expires_at_unix_s: u64,
}

/// The default lifetime of an issued token.
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(8 * 3600);

/// Issues a share link (analyst) or a strategist token, scoped to one session, with an expiry. The engineer's
/// only.
#[utoipa::path(post, path = "/share", tag = "access", security(("bearer" = [])),
    request_body = ShareRequest,
    responses(
        (status = CREATED, body = Shared),
        (status = BAD_REQUEST, body = crate::server::ErrorBody, description = "invalid_share"),
        (status = UNAUTHORIZED, body = crate::server::ErrorBody),
        (status = FORBIDDEN, body = crate::server::ErrorBody),
        (status = NOT_FOUND, body = crate::server::ErrorBody, description = "unknown_session")))]
pub(crate) async fn share(
    State(state): State<AppState>,
    Engineer(actor): Engineer,
    headers: axum::http::HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, axum::Json<Shared>), ApiError> {
    let body = crate::server::body_bytes(body)?;
    let invalid = |m: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid_share", m);
    let request: ShareRequest = if body.is_empty() {
        ShareRequest {
            role: Role::Analyst,
            session: None,
            expires_in_s: None,
        }
    } else {
        serde_json::from_slice(&body).map_err(|e| invalid(format!("invalid share request: {e}")))?
    };
    if request.role == Role::Engineer {
        return Err(invalid(
            "the engineer's token is the control token; share links are for analysts and strategists".into(),
        ));
    }
    let lifetime = request
        .expires_in_s
        .map_or(DEFAULT_TOKEN_LIFETIME, Duration::from_secs);
    if lifetime.is_zero() || lifetime > MAX_TOKEN_LIFETIME {
        return Err(invalid(format!(
            "expires_in_s: 1 to {}",
            MAX_TOKEN_LIFETIME.as_secs()
        )));
    }
    let live = state.hub.session_id();
    let session = request.session.unwrap_or_else(|| live.clone());
    crate::sessions::check_id(&session)?;
    let is_live = session == live;
    if !is_live {
        let sessions = state.sessions.clone();
        let lookup = session.clone();
        tokio::task::spawn_blocking(move || sessions.recording_path(&lookup))
            .await
            .map_err(|e| {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
            })??;
    }
    let expires = crate::persist::unix_ms_now() / 1000 + lifetime.as_secs();
    let issued = state
        .access
        .issue(request.role, &session, expires)
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("{e:#}"),
            )
        })?;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("localhost");
    let scheme = if state.access.config().https {
        "https"
    } else {
        "http"
    };
    let url = if is_live {
        format!("{scheme}://{host}/?token={}", issued.token)
    } else {
        format!(
            "{scheme}://{host}/api/v1/sessions/{session}/recording?token={}",
            issued.token
        )
    };
    let expires_at = rfc3339(expires);
    if let Some(audit) = state.hub.audit() {
        let mut entry = crate::audit::AuditEntry::new(
            crate::audit::AuditKind::TokenIssued,
            actor.label(),
            format!(
                "{} token issued for session {session}",
                request.role.as_str()
            ),
        );
        entry.detail = serde_json::json!({
            "role": request.role, "token_id": issued.token_id, "session": session,
            "expires_at_unix_s": expires,
        });
        audit.record(entry);
    }
    Ok((
        StatusCode::CREATED,
        axum::Json(Shared {
            schema_version: boxbox_engine::wire::SCHEMA_VERSION,
            token: issued.token,
            token_id: issued.token_id,
            role: request.role,
            session,
            url,
            expires_at,
            expires_at_unix_s: expires,
        }),
    ))
}

/// Body of `GET /api/v1/whoami`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct WhoAmI {
    /// Version of the API's JSON shapes.
    pub schema_version: u32,
    /// What the request's token may do; `null` without a token (only answered while reads are open).
    pub role: Option<Role>,
    /// The token's id, as the audit log names it (`control` for the control token); `null` without a token.
    pub token_id: Option<String>,
    /// The one session an issued token opens; `null` for the control token (every session) and without a token.
    pub session: Option<String>,
    /// When an issued token stops working, RFC 3339 UTC; `null` for the control token and without a token.
    pub expires_at: Option<String>,
    /// The same, in seconds since the Unix epoch.
    pub expires_at_unix_s: Option<u64>,
    /// Whether this relay needs a token for reads (`--require-token-for-reads`).
    pub reads_need_token: bool,
}

/// Who the request's token is: its role, session and expiry, so that a page can offer only what the relay would
/// accept from it (the web app hides the engineer's controls from a share link). Never the token itself. Goes
/// through the access middleware like any read: without a token while reads are closed it is `401
/// unauthorized` (what the web app shows as "needs a token"), a scoped token of another session `403
/// wrong_session`.
#[utoipa::path(get, path = "/whoami", tag = "access",
    responses(
        (status = OK, body = WhoAmI),
        (status = UNAUTHORIZED, body = crate::server::ErrorBody,
            description = "unauthorized (reads need a token), invalid_token, token_expired"),
        (status = FORBIDDEN, body = crate::server::ErrorBody, description = "wrong_session")))]
pub(crate) async fn whoami(State(state): State<AppState>, caller: Caller) -> axum::Json<WhoAmI> {
    let actor = caller.0;
    let expires = actor.as_ref().and_then(|a| a.expires_unix_s);
    axum::Json(WhoAmI {
        schema_version: boxbox_engine::wire::SCHEMA_VERSION,
        role: actor.as_ref().map(|a| a.role),
        token_id: actor.as_ref().map(|a| a.token_id.clone()),
        session: actor.as_ref().and_then(|a| a.scope.clone()),
        expires_at: expires.map(rfc3339),
        expires_at_unix_s: expires,
        reads_need_token: state.access.config().require_token_for_reads,
    })
}

/// Seconds since the Unix epoch as RFC 3339 UTC; empty if out of range.
fn rfc3339(unix_s: u64) -> String {
    i64::try_from(unix_s)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map_or_else(String::new, |t| t.to_string())
}

/// Per-IP token buckets: each IP may make `burst` requests at once and `per_s` a second after that; one more is
/// refused with the time until a token is back.
///
/// Written here rather than taken from `tower_governor`: the relay needs a JSON `429` in its own error shape, a
/// clock that `tokio::time::pause` controls in tests, and nothing else, which is about forty lines. Buckets of
/// IPs that have been quiet long enough to be full again are dropped when the table grows, so a scan from many
/// addresses cannot grow it without bound.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The table size at which full buckets are dropped.
const PRUNE_AT: usize = 4096;

impl RateLimiter {
    /// A limiter with empty history.
    pub fn new(limit: RateLimit) -> Self {
        RateLimiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token from `ip`'s bucket at `now`.
    ///
    /// # Errors
    /// The wait until a token is back, when the bucket is empty.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let burst = f64::from(self.limit.burst.max(1));
        let per_s = self.limit.per_s.max(f64::MIN_POSITIVE);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= PRUNE_AT {
            buckets
                .retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * per_s < burst);
        }
        let bucket = buckets.entry(ip).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        bucket.tokens =
            (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * per_s).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_s))
        }
    }
}

/// A fresh control token: 24 random bytes from the OS, as 48 hex digits.
///
/// # Errors
/// If the OS has no randomness to give.
pub fn generate_token() -> anyhow::Result<String> {
    Ok(hex(&random_bytes::<24>()?))
}

/// `N` bytes from the OS's random source.
fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
    Ok(bytes)
}

/// The signing secret's file name in the state directory.
pub const SECRET_FILE: &str = "access.key";

/// The signing secret in `path` (64 hex digits), created with fresh randomness (mode 0600) if the file is missing.
/// A new secret is written to a temporary file, fsynced and renamed into place, so a crash never leaves a torn
/// secret that would keep the relay from starting.
fn load_or_create_secret(path: &std::path::Path) -> anyhow::Result<[u8; 32]> {
    match std::fs::read_to_string(path) {
        Ok(text) => unhex(text.trim())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .with_context(|| {
                format!(
                    "the token secret is damaged (delete it to start over; issued links stop working) {}",
                    path.display()
                )
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret = random_bytes::<32>()?;
            crate::persist::replace_file(
                path,
                &path.with_extension("key.tmp"),
                format!("{}\n", hex(&secret)).as_bytes(),
                true,
            )
            .with_context(|| format!("cannot write the token secret {}", path.display()))?;
            Ok(secret)
        }
        Err(e) => {
            Err(e).with_context(|| format!("cannot read the token secret {}", path.display()))
        }
    }
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Decodes `%XX` escapes of a query value (tokens are URL-safe, but a client may escape them anyway).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access() -> Access {
        Access::new(AccessConfig::pit_wall(Some(
            "control-token-for-tests".into(),
        )))
        .unwrap()
        .0
    }

    #[test]
    fn the_control_token_is_the_engineer_and_nothing_else_is() {
        let a = access();
        let me = a.authenticate("control-token-for-tests", 0).unwrap();
        assert_eq!(
            (me.role, me.label()),
            (Role::Engineer, "engineer:control".into())
        );
        for wrong in [
            "",
            "control-token-for-test",
            "control-token-for-testsX",
            "bb1.x.y",
        ] {
            assert!(
                matches!(a.authenticate(wrong, 0), Err(AccessError::InvalidToken)),
                "{wrong}"
            );
        }
        assert!(Access::new(AccessConfig::pit_wall(Some("short".into()))).is_err());
        let (_, generated) = Access::new(AccessConfig::pit_wall(None)).unwrap();
        assert_eq!(generated.unwrap().len(), 48);
    }

    #[test]
    fn issued_tokens_carry_role_scope_and_expiry_and_resist_tampering() {
        let a = access();
        let issued = a.issue(Role::Analyst, "live-1.a", 1_000).unwrap();
        let actor = a.authenticate(&issued.token, 999).unwrap();
        assert_eq!(actor.role, Role::Analyst);
        assert_eq!(actor.scope.as_deref(), Some("live-1.a"));
        assert_eq!(actor.token_id, issued.token_id);
        assert!(matches!(
            a.authenticate(&issued.token, 1_000),
            Err(AccessError::Expired)
        ));
        // Promoting oneself, or stretching the expiry, breaks the MAC.
        let promoted = issued.token.replacen("analyst", "engineer", 1);
        assert!(matches!(
            a.authenticate(&promoted, 0),
            Err(AccessError::InvalidToken)
        ));
        let stretched = issued.token.replacen(".1000.", ".9999.", 1);
        assert!(matches!(
            a.authenticate(&stretched, 0),
            Err(AccessError::InvalidToken)
        ));
        // Another relay's secret.
        assert!(matches!(
            access().authenticate(&issued.token, 0),
            Err(AccessError::InvalidToken)
        ));
    }

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let limiter = RateLimiter::new(RateLimit {
            per_s: 2.0,
            burst: 3,
        });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check(ip, t0).is_ok());
        }
        let wait = limiter.check(ip, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-9, "{wait:?}");
        // Another IP has its own bucket.
        assert!(limiter.check("10.0.0.2".parse().unwrap(), t0).is_ok());
        assert!(limiter.check(ip, t0 + Duration::from_millis(500)).is_ok());
        assert!(limiter.check(ip, t0 + Duration::from_millis(500)).is_err());
    }

    #[test]
    fn the_secret_is_kept_so_tokens_survive_a_restart() {
        let dir = std::env::temp_dir().join(format!("boxbox-access-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut config = AccessConfig::pit_wall(Some("control-token-for-tests".into()));
        config.secret_file = Some(dir.join(SECRET_FILE));
        let (first, _) = Access::new(config.clone()).unwrap();
        let issued = first.issue(Role::Strategist, "s", 10).unwrap();
        let (again, _) = Access::new(config.clone()).unwrap();
        assert_eq!(
            again.authenticate(&issued.token, 0).unwrap().role,
            Role::Strategist
        );
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [SECRET_FILE], "no temporary file left");
        // A damaged secret is an error naming the file, not a panic.
        std::fs::write(dir.join(SECRET_FILE), "nope").unwrap();
        let e = Access::new(config).unwrap_err();
        assert!(format!("{e:#}").contains(SECRET_FILE), "{e:#}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn hex_and_percent_round_trip() {
        assert_eq!(unhex(&hex(b"live 1/x")).unwrap(), b"live 1/x");
        assert!(unhex("abc").is_none() && unhex("zz").is_none());
        assert_eq!(percent_decode("a%2Eb%zz"), "a.b%zz");
    }
}
