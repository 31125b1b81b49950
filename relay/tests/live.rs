//! The relay on a real socket (port 0): `/ws` sends a snapshot then updates that advance, and `/api/v1/health`
//! answers; plus router-level tests with `oneshot`.

// Test helpers outside #[test] functions may panic too: a panic is a test failure here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use boxbox_engine::protocol::Replica;
use boxbox_engine::protocol::ServerMessage;
use boxbox_relay::source::SourceSpec;
use common::{Relay, next_message, next_state};

async fn start(speed: f64) -> Relay {
    let spec = SourceSpec::Simulator {
        seed: 3,
        speed,
        laps: 5,
        restart_after_s: None,
    };
    let mut config = common::config(spec, None);
    config.rate_hz = 20.0;
    Relay::start(config, None).await
}

#[tokio::test]
async fn ws_sends_a_snapshot_then_advancing_updates() {
    let relay = start(50.0).await;
    let mut ws = relay.ws().await;

    let first = next_message(&mut ws).await;
    let mut replica = Replica::new();
    replica.receive(&first).unwrap();
    let ServerMessage::Snapshot { state, .. } = first else {
        panic!("first message must be a snapshot: {first:?}")
    };
    assert_eq!(state.cars.len(), 20);
    assert_eq!(state.schema_version, 1);
    let mut last_t = state.session_time_s;
    let mut max_lap = 0;
    // At 50x, 2.5 s of simulated time per 20 Hz tick: the leader completes a lap within about 2 real seconds.
    for _ in 0..120 {
        // Then deltas, each following the last.
        let state = next_state(&mut ws, &mut replica).await;
        assert!(
            state.session_time_s > last_t,
            "time advances: {} after {last_t}",
            state.session_time_s
        );
        last_t = state.session_time_s;
        state.check_invariants().unwrap();
        max_lap = max_lap.max(state.session.leader_lap);
    }
    assert!(max_lap >= 2, "the leader reached lap {max_lap}");

    // A late joiner gets a snapshot with the lap history so far.
    let mut late = relay.ws().await;
    let ServerMessage::Snapshot { history, .. } = next_message(&mut late).await else {
        panic!("snapshot first")
    };
    assert!(history.len() >= 20, "history has {} laps", history.len());

    // Health reports the clients and the race.
    let (status, health) = relay.http("GET", "/api/v1/health", None).await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    assert_eq!(
        (&health["source"], &health["simulated"]),
        (&"simulator".into(), &true.into())
    );
    assert_eq!(health["ws_clients"], 2);
    assert_eq!(health["schema_version"], 1);

    relay.stop().await;
}

mod router {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use boxbox_relay::desk::Desk;
    use boxbox_relay::hub::Hub;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use crate::common;

    async fn router(web_dir: &std::path::Path) -> axum::Router {
        common::ingest_router(
            Hub::new(),
            Desk::new(),
            common::pit_wall_access(),
            None,
            web_dir,
        )
        .await
    }

    async fn get(router: axum::Router, uri: &str) -> (StatusCode, String) {
        let response = router
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn health_answers_before_any_state() {
        let (status, body) = get(
            router(std::path::Path::new("/nonexistent")).await,
            "/api/v1/health",
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["status"], "ok");
        assert!(v["session_time_s"].is_null());
    }

    #[tokio::test]
    async fn unknown_api_paths_are_json_404s() {
        let (status, body) = get(
            router(std::path::Path::new("/nonexistent")).await,
            "/api/v1/nope",
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["code"], "not_found");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("/api/v1/nope")
        );
    }

    #[tokio::test]
    async fn the_web_app_is_served_with_an_index_fallback() {
        let dir = std::env::temp_dir().join(format!("boxbox-web-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("index.html"), "<html>pit wall</html>").unwrap();
        std::fs::write(dir.join("app.css"), "body{}").unwrap();
        let (status, body) = get(router(&dir).await, "/").await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "<html>pit wall</html>")
        );
        let (_, body) = get(router(&dir).await, "/app.css").await;
        assert_eq!(body, "body{}");
        let (status, body) = get(router(&dir).await, "/car/7").await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "<html>pit wall</html>")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
