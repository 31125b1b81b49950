//! The strategy desk (`GET /api/v1/strategy`): the search on the live session, refused with a JSON error until a
//! lap is done, and re-run in the background when the race moves on, without a request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use boxbox_engine::sim::{RaceSim, SimConfig};
use boxbox_relay::desk::Desk;
use boxbox_relay::hub::Hub;
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn router(hub: Hub, desk: Desk) -> axum::Router {
    common::ingest_router(
        hub,
        desk,
        common::pit_wall_access(),
        None,
        std::path::Path::new("/nonexistent"),
    )
    .await
}

async fn get(router: &axum::Router, uri: &str) -> (StatusCode, serde_json::Value) {
    let response = router
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

/// Publishes the simulator's states every half second of race time until the leader starts lap `lap`.
fn run_until(sim: &mut RaceSim, hub: &Hub, lap: u32) {
    loop {
        let state = sim.state();
        let leader = state.cars.first().map_or(0, |c| c.lap);
        hub.publish(state);
        if leader >= lap {
            return;
        }
        sim.advance_to(sim.now_s() + 0.5);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_answers_from_the_live_session_and_follows_the_race() {
    let hub = Hub::new();
    let desk = Desk::new();
    let router = router(hub.clone(), desk.clone()).await;

    let (status, body) = get(&router, "/api/v1/strategy").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "no_state");

    let mut sim = RaceSim::new(&SimConfig {
        seed: 4,
        total_laps: 25,
    });
    run_until(&mut sim, &hub, 1);
    let (status, body) = get(&router, "/api/v1/strategy").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "strategy_not_ready");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no lap"),
        "{body}"
    );

    let (status, body) = get(&router, "/api/v1/strategy?car=x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = get(&router, "/api/v1/strategy?car=99").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    run_until(&mut sim, &hub, 8);
    let car = sim.state().cars[2].car_idx;
    let (status, body) = get(&router, &format!("/api/v1/strategy?car={car}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["car_idx"], car);
    assert_eq!(body["completed_laps"], 7);
    assert_eq!(body["total_laps"], 25);
    let ranked = body["search"]["ranked"].as_array().unwrap();
    assert!(!ranked.is_empty(), "{body}");
    for plan in ranked {
        assert!(plan["mean_position"].as_f64().unwrap() >= 1.0, "{plan}");
    }
    assert!(body["search"]["current"].is_object(), "{body}");
    assert_eq!(body["car_idx_of"].as_array().unwrap().len(), 20);
    // The same data: the same answer, from the cache.
    let (_, again) = get(&router, &format!("/api/v1/strategy?car={car}")).await;
    assert_eq!(again, body);

    // The race moves on: the background task re-runs the search for the car without a request.
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    desk.spawn_refresher(hub.clone(), stop);
    run_until(&mut sim, &hub, 10);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let latest = desk.latest().await.unwrap();
        if latest.completed_laps == 9 {
            assert_eq!(latest.car_idx, car);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no re-run: still at lap {}",
            latest.completed_laps
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_tx.send(true).unwrap();
}
