//! The twins in the relay: a real race served through the hub, then `GET /api/v1/twins`, `/api/v1/car-twin`,
//! `/api/v1/car-twin/{car}` and `/api/v1/field-twin` answer with the report, every car's twin, one car's (against
//! a chosen rival) and the Field Twin; unknown and malformed cars are JSON errors; before any state, and again
//! after a source switch, the twins answer `503 no_state`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use boxbox_relay::source::SourceSpec;
use common::{Relay, wait_for};
use serde_json::{Value, json};

const ENDPOINTS: [&str; 3] = ["/api/v1/twins", "/api/v1/car-twin", "/api/v1/field-twin"];

fn race_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/races")
        .join(name)
}

async fn get(relay: &Relay, path: &str) -> Value {
    let (code, body) = relay.http("GET", path, None).await;
    assert_eq!(code, 200, "{path}: {body}");
    body
}

async fn error(relay: &Relay, path: &str, status: u16, code: &str) -> Value {
    let (got, body) = relay.http("GET", path, None).await;
    assert_eq!(got, status, "{path}: {body}");
    assert_eq!(body["error"]["code"], code, "{path}: {body}");
    assert!(body["error"]["message"].is_string(), "{path}: {body}");
    body
}

#[tokio::test]
async fn the_twins_of_a_real_race_over_rest() {
    // Canada 2019 at 200×: a lap every ~0.4 s, the flag after ~27 s.
    let spec = SourceSpec::Race {
        dir: race_dir("2019_07_canada"),
        speed: 200.0,
    };
    let relay = Relay::start(common::config(spec, None), None).await;
    wait_for(relay.addr, "/api/v1/health", Duration::from_secs(30), |h| {
        h["leader_lap"].as_u64().is_some_and(|lap| lap >= 12)
    })
    .await;

    let report = get(&relay, "/api/v1/twins").await;
    assert_eq!(report["schema_version"], 1, "{report}");
    assert!(report["session_time_s"].as_f64().unwrap() > 0.0);
    assert_eq!(report["cars"].as_array().unwrap().len(), 20);
    assert_eq!(report["field"]["rivals"].as_array().unwrap().len(), 20);
    assert!(report["alerts"].is_array() && report["events"].is_array());
    assert!(report["strategy"]["generation"].is_u64(), "{report}");

    let all = get(&relay, "/api/v1/car-twin").await;
    assert_eq!(all["schema_version"], 1);
    assert!(all["session_time_s"].as_f64().unwrap() > 0.0);
    let cars = all["cars"].as_array().unwrap();
    assert_eq!(cars.len(), 20);
    for car in cars {
        assert_eq!(car["schema_version"], 1, "{car}");
        assert!(car["pit_window"].is_object(), "{car}");
    }

    let field = get(&relay, "/api/v1/field-twin").await;
    assert_eq!(field["schema_version"], 1);
    let rivals = field["rivals"].as_array().unwrap();
    assert_eq!(rivals.len(), 20);
    let with_next_pit = rivals.iter().filter(|r| r["next_pit"].is_object()).count();
    assert!(with_next_pit > 0, "no rival has a next stop: {field}");
    assert!(field["pit_lane_loss_s"].as_f64().unwrap() > 10.0, "{field}");

    // One car, against the car ahead and against a chosen rival.
    let car = cars[3]["car_idx"].as_u64().unwrap();
    let rival = cars[0]["car_idx"].as_u64().unwrap();
    let one = get(&relay, &format!("/api/v1/car-twin/{car}")).await;
    assert_eq!(one["car_idx"], car);
    assert_eq!(one["schema_version"], 1);
    let against = get(&relay, &format!("/api/v1/car-twin/{car}?rival={rival}")).await;
    assert_eq!(against["car_idx"], car);
    assert_eq!(against["rival"]["car_idx"], rival, "{against}");

    // Unknown and malformed cars.
    let unknown = error(&relay, "/api/v1/car-twin/99", 404, "unknown_car").await;
    assert!(
        unknown["error"]["message"].as_str().unwrap().contains("99"),
        "{unknown}"
    );
    error(
        &relay,
        &format!("/api/v1/car-twin/{car}?rival=99"),
        404,
        "unknown_car",
    )
    .await;
    error(&relay, "/api/v1/car-twin/abc", 400, "invalid_car").await;
    error(&relay, "/api/v1/car-twin/-1", 400, "invalid_car").await;
    error(
        &relay,
        &format!("/api/v1/car-twin/{car}?rival=abc"),
        400,
        "invalid_rival",
    )
    .await;

    // A source switch starts a fresh session: no state, no twins.
    let (code, status) = relay
        .http(
            "PUT",
            "/api/v1/source",
            Some(&json!({"mode": "ingest"}).to_string()),
        )
        .await;
    assert_eq!(code, 200, "{status}");
    for path in ENDPOINTS {
        error(&relay, path, 503, "no_state").await;
    }
    error(&relay, "/api/v1/car-twin/0", 503, "no_state").await;
    relay.stop().await;
}

#[tokio::test]
async fn before_any_state_the_twins_answer_503() {
    let relay = Relay::start(common::config(SourceSpec::Ingest, None), None).await;
    for path in ENDPOINTS {
        let body = error(&relay, path, 503, "no_state").await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("no race state"),
            "{body}"
        );
    }
    error(&relay, "/api/v1/car-twin/0?rival=1", 503, "no_state").await;
    relay.stop().await;
}
