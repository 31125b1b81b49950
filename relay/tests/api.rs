//! Router tests (`oneshot`) of the REST API: every endpoint, the OpenAPI document against the router, bad input,
//! access control (the control token, roles, share links scoped to a session and expiring, reads closed on
//! request), rate limits, body limits and CORS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use boxbox_engine::sim::{RaceSim, SimConfig};
use boxbox_relay::access::{Access, AccessConfig, RateLimit, Role};
use boxbox_relay::desk::Desk;
use boxbox_relay::hub::Hub;
use common::CONTROL_TOKEN;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// A router on an ingest source (no task runs), with `access` and recordings in `record_dir`.
struct Api {
    router: axum::Router,
    hub: Hub,
    access: Access,
}

async fn api(access: AccessConfig, record_dir: Option<PathBuf>, audit_dir: Option<&Path>) -> Api {
    let audit = audit_dir.map(|d| {
        boxbox_relay::audit::Audit::open(boxbox_relay::audit::AuditSettings::in_dir(d)).unwrap()
    });
    let hub = Hub::with_audit(audit);
    let (access, _) = Access::new(access).unwrap();
    let router = common::ingest_router(
        hub.clone(),
        Desk::new(),
        access.clone(),
        record_dir,
        Path::new("/nonexistent"),
    )
    .await;
    Api {
        router,
        hub,
        access,
    }
}

/// A response's status, headers and body.
struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(300)])
            )
        })
    }

    /// Asserts an error of this status and code.
    fn error(&self, status: StatusCode, code: &str) -> Value {
        let body = self.json();
        assert_eq!(self.status, status, "{body}");
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(body["error"]["message"].is_string(), "{body}");
        body
    }
}

impl Api {
    async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body: body.to_vec(),
        }
    }

    /// A request with an optional bearer token and JSON body.
    async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        self.send(request.body(body).unwrap()).await
    }

    async fn get(&self, uri: &str) -> Answer {
        self.call(Method::GET, uri, None, None).await
    }
}

/// Publishes a simulated race into the hub until the leader has completed `laps` laps.
fn race(hub: &Hub, laps: u32) -> RaceSim {
    let mut sim = RaceSim::new(&SimConfig {
        seed: 7,
        total_laps: 12,
    });
    loop {
        let state = sim.state();
        let leader = state.cars.first().map_or(0, |c| c.lap);
        hub.publish(state);
        if leader > laps {
            return sim;
        }
        sim.advance_to(sim.now_s() + 2.0);
    }
}

fn open_access() -> AccessConfig {
    common::test_access()
}

/// Every path parameter filled with something.
fn fill(path: &str) -> String {
    path.replace("{car}", "0").replace("{id}", "nope")
}

#[tokio::test]
async fn the_openapi_document_and_the_router_list_the_same_endpoints() {
    let api = api(open_access(), None, None).await;
    let answer = api.get("/api/v1/openapi.json").await;
    assert_eq!(answer.status, StatusCode::OK);
    let doc = answer.json();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "put", "post", "delete"].contains(&method.as_str()) {
                documented.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    documented.sort();
    let mut expected = [
        "GET /api/v1/health",
        "GET /api/v1/ready",
        "GET /api/v1/openapi.json",
        "GET /api/v1/source",
        "PUT /api/v1/source",
        "POST /api/v1/ingest",
        "GET /api/v1/telemetry",
        "GET /api/v1/environment",
        "GET /api/v1/twins",
        "GET /api/v1/car-twin",
        "GET /api/v1/car-twin/{car}",
        "GET /api/v1/field-twin",
        "GET /api/v1/strategy",
        "GET /api/v1/strategy/lock",
        "PUT /api/v1/strategy/lock",
        "DELETE /api/v1/strategy/lock/{car}",
        "GET /api/v1/sessions",
        "GET /api/v1/sessions/{id}/recording",
        "GET /api/v1/sessions/{id}/export.json",
        "GET /api/v1/sessions/{id}/export.csv",
        "POST /api/v1/share",
        "GET /api/v1/whoami",
    ];
    expected.sort_unstable();
    assert_eq!(documented, expected);
    // Every documented operation is served: none falls through to the API's 404 or is a 405.
    for op in &documented {
        let (method, path) = op.split_once(' ').unwrap();
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let answer = api
            .call(method, &fill(path), Some(CONTROL_TOKEN), Some(json!({})))
            .await;
        assert_ne!(answer.status, StatusCode::METHOD_NOT_ALLOWED, "{op}");
        if answer.status == StatusCode::NOT_FOUND {
            assert_ne!(
                answer.json()["error"]["code"],
                "not_found",
                "{op} is not routed"
            );
        }
    }
    // Guarded operations name the bearer scheme; the document is also the library's.
    assert_eq!(
        doc["paths"]["/api/v1/source"]["put"]["security"][0]["bearer"],
        json!([])
    );
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert_eq!(
        serde_json::to_value(boxbox_relay::server::openapi()).unwrap()["paths"]
            .as_object()
            .unwrap()
            .len(),
        doc["paths"].as_object().unwrap().len()
    );
    // An unknown API path is a JSON 404, and every body carries schema_version.
    api.get("/api/v1/nope")
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn reads_before_and_after_the_first_state() {
    let api = api(open_access(), None, None).await;
    for path in [
        "/api/v1/telemetry",
        "/api/v1/environment",
        "/api/v1/twins",
        "/api/v1/car-twin",
        "/api/v1/car-twin/0",
        "/api/v1/field-twin",
    ] {
        api.get(path)
            .await
            .error(StatusCode::SERVICE_UNAVAILABLE, "no_state");
    }
    let ready = api.get("/api/v1/ready").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.json()["ready"], false);
    assert!(
        ready.json()["reasons"][0]
            .as_str()
            .unwrap()
            .contains("no state")
    );
    let sessions = api.get("/api/v1/sessions").await.json();
    assert_eq!(sessions["sessions"], json!([]));

    let sim = race(&api.hub, 2);
    let state = sim.state();
    let ready = api.get("/api/v1/ready").await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.json());
    assert_eq!(
        (
            ready.json()["ready"].clone(),
            ready.json()["schema_version"].clone()
        ),
        (json!(true), json!(1))
    );
    let telemetry = api.get("/api/v1/telemetry").await;
    assert_eq!(telemetry.status, StatusCode::OK);
    let telemetry = telemetry.json();
    assert_eq!(telemetry["schema_version"], 1);
    assert_eq!(
        telemetry["cars"].as_array().unwrap().len(),
        state.cars.len()
    );
    assert_eq!(telemetry["session_time_s"], json!(state.session_time_s));
    let env = api.get("/api/v1/environment").await.json();
    assert_eq!(env["schema_version"], 1);
    assert_eq!(env["track"], json!(state.session.track));
    assert_eq!(env["track_temp_c"], json!(state.session.track_temp_c));
    assert!(
        env["weather"].is_string() && env["track_status"].is_string(),
        "{env}"
    );
    // Bad input.
    api.get("/api/v1/car-twin/x")
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_car");
    api.get("/api/v1/car-twin/250")
        .await
        .error(StatusCode::NOT_FOUND, "unknown_car");
    api.get("/api/v1/car-twin/0?rival=-1")
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_rival");
    api.get("/api/v1/strategy?car=999")
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_car");
    assert_eq!(api.get("/api/v1/health").await.json()["schema_version"], 1);
    assert_eq!(api.get("/api/v1/source").await.json()["schema_version"], 1);
}

#[tokio::test(start_paused = true)]
async fn a_stale_state_is_not_ready() {
    let api = api(open_access(), None, None).await;
    race(&api.hub, 1);
    assert_eq!(api.get("/api/v1/ready").await.status, StatusCode::OK);
    tokio::time::advance(Duration::from_secs(11)).await;
    let ready = api.get("/api/v1/ready").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        ready.json()["reasons"][0]
            .as_str()
            .unwrap()
            .contains("s old"),
        "{}",
        ready.json()
    );
}

#[tokio::test]
async fn control_actions_need_the_control_token() {
    let dir = common::temp_dir("api-audit");
    let api = api(open_access(), None, Some(&dir)).await;
    let sim_source = json!({"mode": "ingest"});
    // No token, a wrong token, an analyst's token: refused, and nothing switched.
    api.call(
        Method::PUT,
        "/api/v1/source",
        None,
        Some(sim_source.clone()),
    )
    .await
    .error(StatusCode::UNAUTHORIZED, "unauthorized");
    api.call(
        Method::PUT,
        "/api/v1/source",
        Some("not-the-token-at-all"),
        Some(sim_source.clone()),
    )
    .await
    .error(StatusCode::UNAUTHORIZED, "invalid_token");
    let analyst = api
        .access
        .issue(Role::Analyst, &api.hub.session_id(), u64::MAX / 2)
        .unwrap();
    api.call(
        Method::PUT,
        "/api/v1/source",
        Some(&analyst.token),
        Some(sim_source.clone()),
    )
    .await
    .error(StatusCode::FORBIDDEN, "forbidden");
    let frame = json!({"timestamp": 1.0, "lap": 1, "cars": [{"car_id": 1, "driver": "Max Verstappen", "position": 1}]});
    api.call(Method::POST, "/api/v1/ingest", None, Some(frame.clone()))
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthorized");
    api.call(
        Method::POST,
        "/api/v1/ingest",
        Some(&analyst.token),
        Some(frame.clone()),
    )
    .await
    .error(StatusCode::FORBIDDEN, "forbidden");
    // The control token, in the header or the query.
    let ok = api
        .call(
            Method::POST,
            "/api/v1/ingest",
            Some(CONTROL_TOKEN),
            Some(frame),
        )
        .await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.json());
    assert_eq!(ok.json()["accepted"], 1);
    let bad = api
        .call(
            Method::POST,
            "/api/v1/ingest",
            Some(CONTROL_TOKEN),
            Some(json!({"cars": 3})),
        )
        .await;
    bad.error(StatusCode::BAD_REQUEST, "invalid_feed");
    let switched = api
        .call(
            Method::PUT,
            &format!("/api/v1/source?token={CONTROL_TOKEN}"),
            None,
            Some(sim_source),
        )
        .await;
    assert_eq!(switched.status, StatusCode::OK, "{}", switched.json());
    api.call(
        Method::PUT,
        "/api/v1/source",
        Some(CONTROL_TOKEN),
        Some(json!({"mode": "nope"})),
    )
    .await
    .error(StatusCode::BAD_REQUEST, "invalid_source");
    // The audit log names the actor by role and token id, never the token.
    api.hub
        .audit()
        .unwrap()
        .flush(Duration::from_secs(5))
        .await
        .unwrap();
    let log = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap();
    assert!(log.contains("\"actor\":\"engineer:control\""), "{log}");
    assert!(!log.contains(CONTROL_TOKEN), "{log}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn share_links_are_read_only_scoped_and_expire() {
    let mut config = open_access();
    config.require_token_for_reads = true;
    let api = api(config, None, None).await;
    race(&api.hub, 1);
    // Reads are closed: only monitoring and the document stay open.
    api.get("/api/v1/telemetry")
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthorized");
    api.get("/api/v1/sessions")
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthorized");
    api.get("/ws")
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthorized");
    for open in ["/api/v1/health", "/api/v1/ready", "/api/v1/openapi.json"] {
        assert_eq!(api.get(open).await.status, StatusCode::OK, "{open}");
    }
    // Only the engineer issues links; an engineer link is refused.
    api.call(Method::POST, "/api/v1/share", None, None)
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthorized");
    api.call(
        Method::POST,
        "/api/v1/share",
        Some(CONTROL_TOKEN),
        Some(json!({"role": "engineer"})),
    )
    .await
    .error(StatusCode::BAD_REQUEST, "invalid_share");
    api.call(
        Method::POST,
        "/api/v1/share",
        Some(CONTROL_TOKEN),
        Some(json!({"expires_in_s": 0})),
    )
    .await
    .error(StatusCode::BAD_REQUEST, "invalid_share");
    api.call(
        Method::POST,
        "/api/v1/share",
        Some(CONTROL_TOKEN),
        Some(json!({"session": "../etc"})),
    )
    .await
    .error(StatusCode::BAD_REQUEST, "invalid_session");
    api.call(
        Method::POST,
        "/api/v1/share",
        Some(CONTROL_TOKEN),
        Some(json!({"session": "gone"})),
    )
    .await
    .error(StatusCode::NOT_FOUND, "unknown_session");
    let shared = api
        .call(Method::POST, "/api/v1/share", Some(CONTROL_TOKEN), None)
        .await;
    assert_eq!(shared.status, StatusCode::CREATED, "{}", shared.json());
    let shared = shared.json();
    let token = shared["token"].as_str().unwrap().to_owned();
    assert_eq!(shared["role"], "analyst");
    assert_eq!(shared["session"], json!(api.hub.session_id()));
    assert!(
        shared["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/?token={token}"))
    );
    assert!(
        shared["expires_at"].as_str().unwrap().ends_with('Z'),
        "{shared}"
    );
    // The analyst reads (header or query), sees only its session, and changes nothing.
    assert_eq!(
        api.call(Method::GET, "/api/v1/telemetry", Some(&token), None)
            .await
            .status,
        StatusCode::OK
    );
    let by_query = api.get(&format!("/api/v1/field-twin?token={token}")).await;
    assert_eq!(by_query.status, StatusCode::OK);
    let listed = api
        .call(Method::GET, "/api/v1/sessions", Some(&token), None)
        .await
        .json();
    assert_eq!(listed["sessions"].as_array().unwrap().len(), 1, "{listed}");
    api.call(
        Method::PUT,
        "/api/v1/strategy/lock",
        Some(&token),
        Some(json!({"car_idx": 0, "plan": "M-H"})),
    )
    .await
    .error(StatusCode::FORBIDDEN, "forbidden");
    api.call(Method::POST, "/api/v1/share", Some(&token), None)
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    // Expired, tampered and another session's tokens.
    let expired = api
        .access
        .issue(Role::Analyst, &api.hub.session_id(), 1)
        .unwrap();
    api.call(Method::GET, "/api/v1/telemetry", Some(&expired.token), None)
        .await
        .error(StatusCode::UNAUTHORIZED, "token_expired");
    let tampered = token.replacen("analyst", "strategist", 1);
    api.call(Method::GET, "/api/v1/telemetry", Some(&tampered), None)
        .await
        .error(StatusCode::UNAUTHORIZED, "invalid_token");
    api.hub.reset();
    race(&api.hub, 1);
    api.call(Method::GET, "/api/v1/telemetry", Some(&token), None)
        .await
        .error(StatusCode::FORBIDDEN, "wrong_session");
    // The control token reads everything.
    assert_eq!(
        api.call(Method::GET, "/api/v1/telemetry", Some(CONTROL_TOKEN), None)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn whoami_tells_a_page_its_role_session_and_expiry() {
    // Reads open: a page without a token is told so, with no role.
    let open = api(open_access(), None, None).await;
    let anonymous = open.get("/api/v1/whoami").await;
    assert_eq!(anonymous.status, StatusCode::OK);
    assert_eq!(
        anonymous.json(),
        json!({"schema_version": 1, "role": null, "token_id": null, "session": null, "expires_at": null,
               "expires_at_unix_s": null, "reads_need_token": false})
    );

    // Reads closed: no token is the "needs a token" answer; the control token is the engineer on every session.
    let mut config = open_access();
    config.require_token_for_reads = true;
    let api = api(config, None, None).await;
    race(&api.hub, 1);
    api.get("/api/v1/whoami")
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthorized");
    let engineer = api
        .call(Method::GET, "/api/v1/whoami", Some(CONTROL_TOKEN), None)
        .await
        .json();
    assert_eq!(engineer["role"], "engineer", "{engineer}");
    assert_eq!(engineer["token_id"], "control");
    assert_eq!(engineer["session"], Value::Null);
    assert_eq!(engineer["expires_at"], Value::Null);
    assert_eq!(engineer["reads_need_token"], true);
    assert!(!engineer.to_string().contains(CONTROL_TOKEN), "{engineer}");

    // A share link: read-only, its session and expiry, by header or by query (as a page passes it).
    let shared = api
        .call(Method::POST, "/api/v1/share", Some(CONTROL_TOKEN), None)
        .await
        .json();
    let token = shared["token"].as_str().unwrap();
    for answer in [
        api.call(Method::GET, "/api/v1/whoami", Some(token), None)
            .await,
        api.get(&format!("/api/v1/whoami?token={token}")).await,
    ] {
        assert_eq!(answer.status, StatusCode::OK);
        let me = answer.json();
        assert_eq!(me["role"], "analyst", "{me}");
        assert_eq!(me["token_id"], shared["token_id"]);
        assert_eq!(me["session"], json!(api.hub.session_id()));
        assert_eq!(me["expires_at"], shared["expires_at"]);
        assert_eq!(me["expires_at_unix_s"], shared["expires_at_unix_s"]);
        assert!(!me.to_string().contains(token), "{me}");
    }

    // Expired, damaged, and a link to a session that has ended: each its own error for the page to explain.
    let expired = api
        .access
        .issue(Role::Analyst, &api.hub.session_id(), 1)
        .unwrap();
    api.call(Method::GET, "/api/v1/whoami", Some(&expired.token), None)
        .await
        .error(StatusCode::UNAUTHORIZED, "token_expired");
    api.call(Method::GET, "/api/v1/whoami", Some("not-a-token"), None)
        .await
        .error(StatusCode::UNAUTHORIZED, "invalid_token");
    api.hub.reset();
    race(&api.hub, 1);
    api.call(Method::GET, "/api/v1/whoami", Some(token), None)
        .await
        .error(StatusCode::FORBIDDEN, "wrong_session");
}

#[tokio::test]
async fn strategists_lock_strategies_and_everyone_sees_them() {
    let dir = common::temp_dir("api-locks");
    let api = api(open_access(), None, Some(&dir)).await;
    let lock = json!({"car_idx": 0, "plan": "M-H L23", "comment": "cover the undercut"});
    api.call(
        Method::PUT,
        "/api/v1/strategy/lock",
        Some(CONTROL_TOKEN),
        Some(lock.clone()),
    )
    .await
    .error(StatusCode::SERVICE_UNAVAILABLE, "no_state");
    let sim = race(&api.hub, 1);
    let car = sim.state().cars[0].car_idx;
    let strategist = api
        .access
        .issue(Role::Strategist, &api.hub.session_id(), u64::MAX / 2)
        .unwrap();
    let lock = json!({"car_idx": car, "plan": "M-H L23", "comment": "cover the undercut"});
    api.call(
        Method::PUT,
        "/api/v1/strategy/lock",
        None,
        Some(lock.clone()),
    )
    .await
    .error(StatusCode::UNAUTHORIZED, "unauthorized");
    let locked = api
        .call(
            Method::PUT,
            "/api/v1/strategy/lock",
            Some(&strategist.token),
            Some(lock),
        )
        .await;
    assert_eq!(locked.status, StatusCode::OK, "{}", locked.json());
    assert_eq!(locked.json()["schema_version"], 1);
    assert_eq!(
        locked.json()["lock"]["by"],
        format!("strategist:{}", strategist.token_id)
    );
    // A strategist does not switch sources.
    api.call(
        Method::PUT,
        "/api/v1/source",
        Some(&strategist.token),
        Some(json!({"mode": "ingest"})),
    )
    .await
    .error(StatusCode::FORBIDDEN, "forbidden");
    for (body, code, status) in [
        (
            json!({"car_idx": car, "plan": "  "}),
            "invalid_lock",
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"car_idx": car, "plan": "x".repeat(81)}),
            "invalid_lock",
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"car_idx": car, "plan": "M", "extra": 1}),
            "invalid_lock",
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"car_idx": 300, "plan": "M"}),
            "invalid_lock",
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"car_idx": 250, "plan": "M"}),
            "unknown_car",
            StatusCode::NOT_FOUND,
        ),
    ] {
        api.call(
            Method::PUT,
            "/api/v1/strategy/lock",
            Some(CONTROL_TOKEN),
            Some(body),
        )
        .await
        .error(status, code);
    }
    let locks = api.get("/api/v1/strategy/lock").await.json();
    assert_eq!(locks["schema_version"], 1);
    assert_eq!(locks["locks"][0]["plan"], "M-H L23");
    assert_eq!(locks["locks"][0]["comment"], "cover the undercut");
    // Saved with the state.
    assert_eq!(api.hub.persist_view().unwrap().locks.len(), 1);
    let unlock = format!("/api/v1/strategy/lock/{car}");
    assert_eq!(
        api.call(Method::DELETE, &unlock, Some(&strategist.token), None)
            .await
            .status,
        StatusCode::OK
    );
    api.call(Method::DELETE, &unlock, Some(CONTROL_TOKEN), None)
        .await
        .error(StatusCode::NOT_FOUND, "no_lock");
    api.call(
        Method::DELETE,
        "/api/v1/strategy/lock/x",
        Some(CONTROL_TOKEN),
        None,
    )
    .await
    .error(StatusCode::BAD_REQUEST, "invalid_car");
    assert_eq!(
        api.get("/api/v1/strategy/lock").await.json()["locks"],
        json!([])
    );
    api.hub
        .audit()
        .unwrap()
        .flush(Duration::from_secs(5))
        .await
        .unwrap();
    let log = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap();
    assert!(
        log.contains("\"kind\":\"strategy_lock\"") && log.contains("\"kind\":\"strategy_unlock\""),
        "{log}"
    );
    assert!(!log.contains(&strategist.token), "{log}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A directory with a simulated race's recording, a file that is not a recording, and names that are not ids.
async fn recordings(name: &str) -> (PathBuf, String) {
    let dir = common::temp_dir(name);
    let id = "20260101T120000Z-00000000000000aa".to_owned();
    boxbox_relay::simulate::run(boxbox_relay::simulate::SimulateOptions {
        seed: 3,
        laps: 3,
        speed: 1.0,
        frame_hz: 5.0,
        to: None,
        pcap: Some(dir.join(format!("{id}.pcap"))),
    })
    .await
    .unwrap();
    std::fs::write(dir.join("20250101T000000Z-bad.pcap"), b"not a pcap").unwrap();
    std::fs::write(dir.join("a.b.pcap"), b"x").unwrap();
    std::fs::write(dir.join("notes.txt"), b"x").unwrap();
    (dir, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_recordings_and_exports() {
    let (dir, id) = recordings("api-sessions").await;
    let api = api(open_access(), Some(dir.clone()), None).await;
    let sim = race(&api.hub, 3);
    let listed = api.get("/api/v1/sessions").await.json();
    let ids: Vec<&str> = listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    let live = api.hub.session_id();
    assert_eq!(
        ids,
        [live.as_str(), id.as_str(), "20250101T000000Z-bad"],
        "live first, newest first"
    );
    assert_eq!(listed["sessions"][0]["live"], true);
    assert!(listed["sessions"][0]["laps"].as_u64().unwrap() > 20);

    // The recording, byte for byte, as a download.
    let file = std::fs::read(dir.join(format!("{id}.pcap"))).unwrap();
    let got = api.get(&format!("/api/v1/sessions/{id}/recording")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(
        got.headers[header::CONTENT_TYPE],
        "application/vnd.tcpdump.pcap"
    );
    assert_eq!(
        got.headers[header::CONTENT_DISPOSITION],
        format!("attachment; filename=\"{id}.pcap\"").as_str()
    );
    assert_eq!(got.body, file);
    // The live session has no recording on this source; ids are never paths.
    api.get(&format!("/api/v1/sessions/{live}/recording"))
        .await
        .error(StatusCode::NOT_FOUND, "no_recording");
    for bad in ["..", "a.b", "%2e%2e", "notes.txt"] {
        api.get(&format!("/api/v1/sessions/{bad}/recording"))
            .await
            .error(StatusCode::BAD_REQUEST, "invalid_session");
    }
    assert_eq!(
        api.get("/api/v1/sessions/..%2F..%2Fetc/recording")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    api.get("/api/v1/sessions/notes/recording")
        .await
        .error(StatusCode::NOT_FOUND, "unknown_session");

    // A recording's export, through the engine.
    let export = api.get(&format!("/api/v1/sessions/{id}/export.json")).await;
    assert_eq!(export.status, StatusCode::OK);
    let export = export.json();
    assert_eq!(
        (export["schema_version"].clone(), export["live"].clone()),
        (json!(1), json!(false))
    );
    let laps = export["laps"].as_array().unwrap();
    assert!(laps.len() >= 20, "{} laps", laps.len());
    assert!(laps.iter().all(|l| l["lap_time_s"].as_f64().unwrap() > 0.0));
    assert!(
        laps.windows(2)
            .all(|w| w[0]["lap"].as_u64() <= w[1]["lap"].as_u64()),
        "sorted by lap"
    );
    assert!(!export["stints"].as_array().unwrap().is_empty());
    api.get("/api/v1/sessions/20250101T000000Z-bad/export.json")
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "export_failed");

    // CSV tables.
    let csv = api.get(&format!("/api/v1/sessions/{id}/export.csv")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = String::from_utf8(csv.body).unwrap();
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("car_idx,driver,lap,lap_time_s,position,compound")
    );
    assert_eq!(lines.count(), laps.len());
    let stints = api
        .get(&format!("/api/v1/sessions/{id}/export.csv?table=stints"))
        .await;
    assert!(
        String::from_utf8(stints.body)
            .unwrap()
            .starts_with("car_idx,driver,stint,compound")
    );
    let stops = api
        .get(&format!("/api/v1/sessions/{id}/export.csv?table=pit_stops"))
        .await;
    assert!(
        String::from_utf8(stops.body)
            .unwrap()
            .starts_with("car_idx,driver,stop,lap")
    );
    api.get(&format!("/api/v1/sessions/{id}/export.csv?table=nope"))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_query");

    // The live session's export is the hub's lap history.
    let live_export = api
        .get(&format!("/api/v1/sessions/{live}/export.json"))
        .await
        .json();
    assert_eq!(live_export["live"], true);
    assert_eq!(
        live_export["laps"].as_array().unwrap().len(),
        api.hub.persist_view().unwrap().history.len()
    );
    assert_eq!(
        live_export["stints"].as_array().unwrap().len(),
        sim.state()
            .cars
            .iter()
            .map(|c| c.stints.len())
            .sum::<usize>()
    );

    // A share link for one recording opens that recording and nothing else.
    let shared = api
        .call(
            Method::POST,
            "/api/v1/share",
            Some(CONTROL_TOKEN),
            Some(json!({"session": id})),
        )
        .await
        .json();
    let token = shared["token"].as_str().unwrap();
    assert!(
        shared["url"]
            .as_str()
            .unwrap()
            .contains(&format!("/api/v1/sessions/{id}/recording?token="))
    );
    let mine = api
        .call(
            Method::GET,
            &format!("/api/v1/sessions/{id}/export.csv"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(mine.status, StatusCode::OK);
    api.call(
        Method::GET,
        "/api/v1/sessions/20250101T000000Z-bad/recording",
        Some(token),
        None,
    )
    .await
    .error(StatusCode::FORBIDDEN, "wrong_session");
    api.call(Method::GET, "/api/v1/telemetry", Some(token), None)
        .await
        .error(StatusCode::FORBIDDEN, "wrong_session");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(start_paused = true)]
async fn rate_limits_answer_429_per_ip() {
    let mut config = open_access();
    config.rate_limit = Some(RateLimit {
        per_s: 1.0,
        burst: 2,
    });
    let api = api(config, None, None).await;
    let from = |ip: &str| {
        let addr: SocketAddr = format!("{ip}:5000").parse().unwrap();
        let mut request = Request::get("/api/v1/health").body(Body::empty()).unwrap();
        request.extensions_mut().insert(ConnectInfo(addr));
        request
    };
    assert_eq!(api.send(from("10.0.0.1")).await.status, StatusCode::OK);
    assert_eq!(api.send(from("10.0.0.1")).await.status, StatusCode::OK);
    let limited = api.send(from("10.0.0.1")).await;
    limited.error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(limited.headers[header::RETRY_AFTER], "1");
    // Another client is not held up; the first gets a token back after a second.
    assert_eq!(api.send(from("10.0.0.2")).await.status, StatusCode::OK);
    tokio::time::advance(Duration::from_millis(1000)).await;
    assert_eq!(api.send(from("10.0.0.1")).await.status, StatusCode::OK);
    // A bad token is refused after the limit, so guessing is limited too.
    let mut guess = Request::get("/api/v1/health")
        .header(header::AUTHORIZATION, "Bearer guess-guess-guess")
        .body(Body::empty())
        .unwrap();
    guess
        .extensions_mut()
        .insert(ConnectInfo("10.0.0.1:1".parse::<SocketAddr>().unwrap()));
    api.send(guess)
        .await
        .error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
}

/// What axum refuses by itself (a method a route does not take, a path parameter that is not UTF-8, `/ws` without
/// the upgrade) and what is under `/api` but not `/api/v1` are JSON errors too; the web app's paths are not.
#[tokio::test]
async fn the_routers_own_refusals_are_json_errors_too() {
    let api = api(open_access(), None, None).await;
    let wrong = api
        .call(Method::DELETE, "/api/v1/health", Some(CONTROL_TOKEN), None)
        .await;
    let body = wrong.error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let allow = wrong.headers[header::ALLOW].to_str().unwrap();
    assert!(allow.contains("GET"), "{allow}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("DELETE"),
        "{body}"
    );
    for path in ["/api", "/api/", "/api/v2/telemetry", "/api/foo/bar"] {
        api.get(path)
            .await
            .error(StatusCode::NOT_FOUND, "not_found");
    }
    let body = api
        .get("/api/v1/car-twin/%FF")
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("UTF-8"),
        "{body}"
    );
    let plain_get = api.get("/ws").await;
    assert!(plain_get.status.is_client_error(), "{}", plain_get.status);
    assert!(plain_get.json()["error"]["message"].is_string());
    // The web app's paths keep their own answers (here no web app: not JSON).
    let page = api.get("/some/page").await;
    assert!(
        serde_json::from_slice::<Value>(&page.body).is_err(),
        "{}",
        page.status
    );
}

/// Speeds and waits that no clock can hold are refused before the source starts (they used to panic its task).
#[tokio::test]
async fn a_source_with_an_absurd_speed_or_wait_is_refused() {
    let api = api(open_access(), None, None).await;
    for body in [
        json!({"mode": "simulator", "speed": 1e-300}),
        json!({"mode": "simulator", "speed": 10, "restart_after_s": 1e300}),
        json!({"mode": "simulator", "speed": 10, "restart_after_s": -1}),
        json!({"mode": "replay", "file": "x.pcap", "speed": 0.001}),
        json!({"mode": "race", "dir": "x", "speed": 1e-300}),
    ] {
        let answer = api
            .call(
                Method::PUT,
                "/api/v1/source",
                Some(CONTROL_TOKEN),
                Some(body.clone()),
            )
            .await;
        let error = answer.error(StatusCode::BAD_REQUEST, "invalid_source");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("speed") || message.contains("restart_after_s"),
            "{body}: {message}"
        );
    }
}

#[tokio::test]
async fn bodies_are_limited_and_json_errors_say_so() {
    let mut config = open_access();
    config.max_body_bytes = 256;
    config.max_ingest_bytes = 1024;
    let api = api(config, None, None).await;
    let big = json!({"mode": "simulator", "pad": "x".repeat(300)});
    api.call(
        Method::PUT,
        "/api/v1/source",
        Some(CONTROL_TOKEN),
        Some(big),
    )
    .await
    .error(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    // Ingest has its own, larger limit.
    let frames: Vec<Value> = (0..6)
        .map(|i| json!({"timestamp": f64::from(i), "lap": 1, "cars": [{"car_id": 1, "driver": "Max Verstappen", "position": 1}]}))
        .collect();
    let body = Value::from(frames);
    assert!(body.to_string().len() > 256 && body.to_string().len() < 1024);
    let ok = api
        .call(
            Method::POST,
            "/api/v1/ingest",
            Some(CONTROL_TOKEN),
            Some(body),
        )
        .await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.json());
    let huge = json!({"pad": "x".repeat(2000)});
    api.call(
        Method::POST,
        "/api/v1/ingest",
        Some(CONTROL_TOKEN),
        Some(huge),
    )
    .await
    .error(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
}

#[tokio::test]
async fn cors_is_closed_unless_an_origin_is_configured() {
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/v1/telemetry")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .body(Body::empty())
            .unwrap()
    };
    let closed = api(open_access(), None, None).await;
    let answer = closed.send(preflight("https://wall.example")).await;
    assert!(
        answer
            .headers
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
    let mut config = open_access();
    config.cors_origins = vec!["https://wall.example".into()];
    let open = api(config, None, None).await;
    let answer = open.send(preflight("https://wall.example")).await;
    assert_eq!(
        answer.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://wall.example"
    );
    let other = open.send(preflight("https://evil.example")).await;
    assert!(
        other
            .headers
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
}
