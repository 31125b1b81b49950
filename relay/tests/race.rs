//! `serve --race-dir`: a real race from `shared/data/races` played through the relay at high speed, seen on `/ws`
//! and in `/api/v1/source`; a bad race folder on `PUT /api/v1/source` is a 400 and the race keeps running.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use boxbox_engine::wire::{DataSource, RaceState, SessionPhase};
use boxbox_relay::source::SourceSpec;
use common::{Relay, wait_for};
use serde_json::json;

const SOURCE: &str = "/api/v1/source";

fn race_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/races")
        .join(name)
}

#[tokio::test]
async fn a_real_race_plays_to_its_classification() {
    let spec = SourceSpec::Race {
        dir: race_dir("2019_07_canada"),
        speed: 2000.0,
    };
    let relay = Relay::start(common::config(spec, None), None).await;
    let mut ws = relay.ws().await;
    let mut seen = 0;
    let mut last: Option<RaceState> = None;
    let mut replica = boxbox_engine::protocol::Replica::new();
    // Canada 2019 is 5,347 s of racing: under 3 s at 2,000×.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        let state = common::next_state(&mut ws, &mut replica).await;
        assert_eq!(state.source, DataSource::Replay);
        assert!(state.session.timing_only);
        assert_eq!(state.cars.len(), 20);
        state.check_invariants().unwrap();
        seen += 1;
        let done = state.session.phase == SessionPhase::Finished;
        last = Some(state);
        if done {
            break;
        }
    }
    let last = last.expect("states on /ws");
    assert!(seen > 5, "{seen} states");
    assert_eq!(last.session.phase, SessionPhase::Finished);
    // Hamilton won after Vettel's 5 s penalty, though Vettel crossed the line first.
    assert_eq!(last.cars[0].driver.code, "HAM");
    assert_eq!(last.cars[1].driver.code, "VET");
    assert_eq!(last.session.track, "Montreal");

    let status = wait_for(relay.addr, SOURCE, Duration::from_secs(10), |s| {
        s["connection"] == "finished"
    })
    .await;
    assert_eq!(status["mode"], "race");
    assert_eq!(status["simulated"], false);
    assert!(
        status["packets"]["race_event"].as_u64().unwrap() > 1000,
        "{status}"
    );
    // The last state stays up.
    let (_, health) = relay.http("GET", "/api/v1/health", None).await;
    assert_eq!(health["status"], "ok", "{health}");
    relay.stop().await;
}

#[tokio::test]
async fn a_bad_race_folder_is_refused_and_the_race_keeps_running() {
    let spec = SourceSpec::Race {
        dir: race_dir("2019_02_bahrain"),
        speed: 1.0,
    };
    let relay = Relay::start(common::config(spec, None), None).await;
    let missing = race_dir("1950_01_silverstone");
    // A folder without the laps file.
    let partial = common::temp_dir("race-partial");
    for name in boxbox_engine::race::FILE_NAMES.iter().skip(1) {
        std::fs::copy(race_dir("2019_02_bahrain").join(name), partial.join(name)).unwrap();
    }
    // A folder whose laps file has a bad row.
    let broken = common::temp_dir("race-broken");
    for name in boxbox_engine::race::FILE_NAMES {
        let text = std::fs::read_to_string(race_dir("2019_02_bahrain").join(name)).unwrap();
        let text = if name == boxbox_engine::race::LAPS_CSV {
            text.replacen(",SOFT,", ",PURPLE,", 1)
        } else {
            text
        };
        std::fs::write(broken.join(name), text).unwrap();
    }
    for (body, needle) in [
        (json!({"mode": "race", "dir": missing}), "no race folder"),
        (
            json!({"mode": "race", "dir": &partial}),
            "laps_fastf1_armchair.csv",
        ),
        (json!({"mode": "race", "dir": &broken}), "column Compound"),
        (
            json!({"mode": "race", "dir": race_dir("2019_02_bahrain"), "speed": 0}),
            "speed",
        ),
    ] {
        let (code, answer) = relay.http("PUT", SOURCE, Some(&body.to_string())).await;
        assert_eq!(code, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_source", "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{body}: {message}");
    }
    let (_, status) = relay.http("GET", SOURCE, None).await;
    assert_eq!(status["mode"], "race");
    assert_eq!(
        status["config"]["dir"],
        json!(race_dir("2019_02_bahrain")),
        "{status}"
    );
    // A good folder switches.
    let (code, status) = relay
        .http(
            "PUT",
            SOURCE,
            Some(
                &json!({"mode": "race", "dir": race_dir("2024_16_italy"), "speed": 5000})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(code, 200, "{status}");
    assert_eq!(status["config"]["speed"], 5000.0);
    std::fs::remove_dir_all(&partial).unwrap();
    std::fs::remove_dir_all(&broken).unwrap();
    relay.stop().await;
}
