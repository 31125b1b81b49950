//! The relay's switchable sources over real sockets: a JSON WebSocket feed (served by the test) with bad messages,
//! a disconnect and a reconnect; the simulator standing in while the feed is down; `POST /api/v1/ingest` with
//! good and bad bodies; and `PUT /api/v1/source` switching modes, rejecting bad configurations and keeping the old
//! source when the new one cannot start.

// Test helpers outside #[test] functions may panic too: a panic is a test failure here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use boxbox_engine::protocol::ServerMessage;
use boxbox_engine::wire::{Compound, DataSource, RaceState};
use boxbox_relay::source::SourceSpec;
use common::{Relay, wait_for};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

const SOURCE: &str = "/api/v1/source";
const HEALTH: &str = "/api/v1/health";
const INGEST: &str = "/api/v1/ingest";

/// One car of a feed frame: id, driver, position, compound and tyre age.
type Car<'a> = (u64, &'a str, u8, &'a str, u32);

/// A feed frame with `cars` (a lap time per car, so each frame is a complete shape).
fn frame(timestamp: f64, lap: u32, cars: &[Car<'_>]) -> Value {
    let cars: Vec<Value> = cars
        .iter()
        .map(|&(id, driver, position, compound, age)| {
            json!({
                "car_id": id, "driver": driver, "team": "Ferrari", "position": position, "speed": 280.5,
                "tire": {"compound": compound, "age": age, "wear_level": 20.0}, "fuel_level": 40.0,
            })
        })
        .collect();
    json!({
        "timestamp": timestamp, "lap": lap, "total_laps": 10, "track": "Monza", "session_type": "race",
        "track_conditions": {"temperature": 35.0, "weather": "clear", "track_status": "green"},
        "cars": cars,
    })
}

const VER: (u64, &str) = (1, "Max Verstappen");
const HAM: (u64, &str) = (44, "Lewis Hamilton");
const LEC: (u64, &str) = (16, "Charles Leclerc");

/// The three cars in order VER, HAM, LEC on the given compounds.
fn field(ver: &'static str, ver_age: u32) -> [Car<'static>; 3] {
    [
        (VER.0, VER.1, 1, ver, ver_age),
        (HAM.0, HAM.1, 2, "soft", 3),
        (LEC.0, LEC.1, 3, "hard", 3),
    ]
}

/// The state on `/ws` once `done` holds for it (the snapshot, or a later update), within `within`.
async fn wait_state(
    relay: &Relay,
    within: Duration,
    done: impl Fn(&RaceState) -> bool,
) -> RaceState {
    let mut ws = relay.ws().await;
    let deadline = tokio::time::Instant::now() + within;
    let mut last = None;
    let mut replica = boxbox_engine::protocol::Replica::new();
    loop {
        let Ok(message) = tokio::time::timeout_at(deadline, ws.next()).await else {
            let seen = last.as_ref().map(|s: &RaceState| {
                let names: Vec<_> = s.cars.iter().map(|c| c.driver.code.clone()).collect();
                (s.source, s.session.leader_lap, s.session_time_s, names)
            });
            panic!(
                "timed out waiting on a state on /ws; last seen (source, lap, time, cars): {seen:?}"
            );
        };
        let text = match message.expect("ws open").expect("no ws error") {
            Message::Text(text) => text,
            Message::Close(_) => panic!("/ws closed"),
            _ => continue,
        };
        let message: ServerMessage = serde_json::from_str(&text).expect("a server message");
        let Some(state) = replica
            .receive(&message)
            .expect("deltas follow in sequence")
            .cloned()
        else {
            continue;
        };
        if done(&state) {
            return state;
        }
        last = Some(state);
    }
}

/// The next WebSocket connection on `listener`, as a feed server (within 10 s).
async fn accept_feed(listener: &TcpListener) -> WebSocketStream<TcpStream> {
    let (tcp, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("the relay connects within 10 s")
        .unwrap();
    tokio_tungstenite::accept_async(tcp).await.unwrap()
}

async fn send(feed: &mut WebSocketStream<TcpStream>, text: String) {
    feed.send(Message::Text(text.into())).await.unwrap();
}

fn codes(state: &RaceState) -> Vec<&str> {
    state.cars.iter().map(|c| c.driver.code.as_str()).collect()
}

#[tokio::test]
async fn a_websocket_feed_is_parsed_counted_and_reconnected() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let mut config = common::config(SourceSpec::WsFeed { url }, None);
    // At most two states a second: the burst below falls inside one publish interval.
    config.rate_hz = 2.0;
    let relay = Relay::start(config, None).await;
    let mut feed = accept_feed(&listener).await;

    // Valid frames (two of them in a batch), bad JSON, a frame with an unknown compound, and a last valid frame
    // where Hamilton leads and Verstappen has pitted for hards. Sent back to back, faster than the publish rate.
    send(&mut feed, frame(100.0, 5, &field("medium", 4)).to_string()).await;
    let batch = json!([
        frame(101.0, 5, &field("medium", 4)),
        frame(102.0, 6, &field("medium", 5))
    ]);
    send(&mut feed, batch.to_string()).await;
    send(&mut feed, "{\"timestamp\": 103, \"lap\": ".to_owned()).await;
    let mut purple = field("medium", 5);
    purple[1].3 = "purple";
    send(&mut feed, frame(103.0, 6, &purple).to_string()).await;
    let last = [
        (HAM.0, HAM.1, 1, "soft", 4),
        (VER.0, VER.1, 2, "hard", 0),
        (LEC.0, LEC.1, 3, "hard", 4),
    ];
    send(&mut feed, frame(104.0, 6, &last).to_string()).await;

    let status = wait_for(relay.addr, SOURCE, Duration::from_secs(5), |s| {
        s["packets"]["feed_frame"] == 4 && s["errors"]["invalid_feed"] == 2
    })
    .await;
    assert_eq!(status["mode"], "ws_feed");
    assert_eq!(status["connection"], "connected");
    assert_eq!(status["simulated"], false);
    assert_eq!(status["fallback_active"], false);
    // `received` counts frames (a batch counts as its frames) and rejected messages.
    assert_eq!(status["received"], 6, "{status}");
    let last_error = status["last_error"].as_str().unwrap();
    assert!(
        last_error.contains("cars[1].tire.compound") && last_error.contains("purple"),
        "{last_error}"
    );

    // The last frame is what the pit wall shows, even though it came right after another one.
    let state = wait_state(&relay, Duration::from_secs(5), |s| s.session_time_s == 4.0).await;
    assert_eq!(state.source, DataSource::Live);
    assert_eq!(codes(&state), ["HAM", "VER", "LEC"]);
    assert_eq!(state.session.leader_lap, 6);
    assert_eq!(state.session.total_laps, 10);
    assert_eq!(state.session.track, "Monza");
    let ham = &state.cars[0];
    assert_eq!((ham.driver.name.as_str(), ham.driver.number), (HAM.1, 44));
    assert_eq!(ham.tyres.compound, Compound::Soft);
    let ver = &state.cars[1];
    assert_eq!(
        (ver.tyres.compound, ver.tyres.age_laps),
        (Compound::Hard, 0)
    );
    assert_eq!(ver.pit_stops, 1, "medium → hard is a stop");
    state.check_invariants().unwrap();
    let (_, health) = relay.http("GET", HEALTH, None).await;
    assert_eq!(
        (&health["source"], &health["simulated"]),
        (&"ws_feed".into(), &false.into())
    );

    // The feed goes away. The relay's next attempt reaches the listen backlog but gets no handshake until the
    // test accepts again, so "not connected" is observable for as long as the test likes.
    feed.close(None).await.unwrap();
    drop(feed);
    let status = wait_for(relay.addr, SOURCE, Duration::from_secs(5), |s| {
        s["reconnects"].as_u64().unwrap() >= 1 && s["connection"] != "connected"
    })
    .await;
    assert!(
        ["disconnected", "connecting"].contains(&status["connection"].as_str().unwrap()),
        "{status}"
    );
    // The last state stays up while the feed is away.
    let (_, health) = relay.http("GET", HEALTH, None).await;
    assert_eq!(health["session_time_s"], 4.0);

    let mut feed = accept_feed(&listener).await;
    wait_for(relay.addr, SOURCE, Duration::from_secs(5), |s| {
        s["connection"] == "connected"
    })
    .await;
    // A feed that resends an old frame after a reconnect does not rewind the race (the frame is counted as a
    // `stale_feed` error, not a frame); new frames go on.
    send(&mut feed, frame(90.0, 2, &field("soft", 0)).to_string()).await;
    let mut next = last;
    next[0].4 = 5;
    send(&mut feed, frame(105.0, 7, &next).to_string()).await;
    wait_for(relay.addr, SOURCE, Duration::from_secs(5), |s| {
        s["packets"]["feed_frame"] == 5 && s["errors"]["stale_feed"] == 1
    })
    .await;
    let state = wait_state(&relay, Duration::from_secs(5), |s| s.session_time_s == 5.0).await;
    assert_eq!(state.session.leader_lap, 7);
    assert_eq!(codes(&state), ["HAM", "VER", "LEC"]);
    assert_eq!(state.cars[1].pit_stops, 1);

    relay.stop().await;
}

#[tokio::test]
async fn the_simulator_stands_in_while_the_feed_is_down() {
    // A port nobody listens on (yet).
    let addr: SocketAddr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let mut config = common::config(
        SourceSpec::WsFeed {
            url: format!("ws://{addr}"),
        },
        None,
    );
    config.source.fallback_after = Some(1);
    let relay = Relay::start(config, None).await;

    let status = wait_for(relay.addr, SOURCE, Duration::from_secs(5), |s| {
        s["fallback_active"] == true
    })
    .await;
    assert_eq!(status["mode"], "ws_feed");
    assert_eq!(status["simulated"], true);
    assert!(
        status["errors"]["connection"].as_u64().unwrap() >= 1,
        "{status}"
    );
    assert!(
        status["last_error"]
            .as_str()
            .unwrap()
            .contains(&addr.to_string()),
        "{status}"
    );
    let (_, health) = relay.http("GET", HEALTH, None).await;
    assert_eq!(
        (&health["source"], &health["simulated"]),
        (&"ws_feed".into(), &true.into())
    );
    let state = wait_state(&relay, Duration::from_secs(5), |_| true).await;
    assert_eq!(state.source, DataSource::Simulator);
    assert_eq!(state.cars.len(), 20);

    // The feed comes up on that port: the next attempt (backoff 0.4–1.2 s) connects and live data replaces the
    // simulator.
    let listener = TcpListener::bind(addr).await.unwrap();
    let mut feed = accept_feed(&listener).await;
    send(&mut feed, frame(7.0, 3, &field("medium", 2)).to_string()).await;
    let status = wait_for(relay.addr, SOURCE, Duration::from_secs(5), |s| {
        s["fallback_active"] == false && s["packets"]["feed_frame"] == 1
    })
    .await;
    assert_eq!(status["simulated"], false);
    assert_eq!(status["connection"], "connected");
    let state = wait_state(&relay, Duration::from_secs(5), |s| {
        s.source == DataSource::Live
    })
    .await;
    assert_eq!(codes(&state), ["VER", "HAM", "LEC"]);
    assert_eq!(state.session.leader_lap, 3);
    let (_, health) = relay.http("GET", HEALTH, None).await;
    assert_eq!(health["simulated"], false);

    relay.stop().await;
}

#[tokio::test]
async fn ingest_takes_frames_and_batches_and_rejects_bad_bodies_whole() {
    let relay = Relay::start(common::config(SourceSpec::Ingest, None), None).await;
    let (_, health) = relay.http("GET", HEALTH, None).await;
    assert!(
        health["session_time_s"].is_null(),
        "no state before the first frame"
    );

    let (code, body) = relay
        .http(
            "POST",
            INGEST,
            Some(&frame(10.0, 1, &field("medium", 0)).to_string()),
        )
        .await;
    assert_eq!((code, &body["accepted"]), (202, &json!(1)), "{body}");
    let batch = json!([
        frame(11.0, 1, &field("medium", 0)),
        frame(12.0, 2, &field("medium", 1))
    ]);
    let (code, body) = relay.http("POST", INGEST, Some(&batch.to_string())).await;
    assert_eq!((code, &body["accepted"]), (202, &json!(2)), "{body}");
    // A frame older than the last one is not applied: not counted as accepted.
    let old = json!([frame(11.5, 1, &field("medium", 0))]);
    let (code, body) = relay.http("POST", INGEST, Some(&old.to_string())).await;
    assert_eq!((code, &body["accepted"]), (202, &json!(0)), "{body}");

    let before = wait_state(&relay, Duration::from_secs(5), |s| s.session_time_s == 2.0).await;
    assert_eq!(before.source, DataSource::Live);
    assert_eq!(before.session.leader_lap, 2);
    assert_eq!(codes(&before), ["VER", "HAM", "LEC"]);
    let status = relay.http("GET", SOURCE, None).await.1;
    assert_eq!(
        (&status["mode"], &status["connection"]),
        (&"ingest".into(), &"connected".into())
    );
    assert_eq!(
        (&status["packets"]["feed_frame"], &status["received"]),
        (&json!(3), &json!(4))
    );
    assert_eq!(status["errors"]["stale_feed"], 1, "{status}");
    assert_eq!(status["simulated"], false);

    // Each bad body is refused whole, with where and what.
    let good = frame(13.0, 3, &field("medium", 2));
    let mut lap_text = good.clone();
    lap_text["lap"] = json!("x");
    let mut no_cars = good.clone();
    no_cars.as_object_mut().unwrap().remove("cars");
    let mut purple = field("medium", 2);
    purple[2].3 = "purple";
    let bad_in_batch = json!([good, frame(14.0, 3, &purple)]);
    let wrong_type_in_batch = json!([good, lap_text]);
    let cases: [(String, &[&str]); 6] = [
        ("{\"timestamp\": 13, \"lap\":".to_owned(), &["invalid JSON"]),
        (lap_text.to_string(), &["lap: invalid type: string \"x\""]),
        (no_cars.to_string(), &["missing field `cars`"]),
        (
            bad_in_batch.to_string(),
            &["[1].cars[2].tire.compound", "purple"],
        ),
        (wrong_type_in_batch.to_string(), &["[1].lap: invalid type"]),
        ("[]".to_owned(), &["empty batch"]),
    ];
    for (body, wants) in &cases {
        let (code, answer) = relay.http("POST", INGEST, Some(body)).await;
        assert_eq!(code, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_feed", "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        for want in *wants {
            assert!(
                message.contains(want),
                "{body}\n  got: {message}\n want: {want}"
            );
        }
    }
    // None of them touched the race, not even the valid first frame of a bad batch.
    let status = relay.http("GET", SOURCE, None).await.1;
    assert_eq!(status["packets"]["feed_frame"], 3, "{status}");
    assert_eq!(status["errors"]["invalid_feed"], cases.len(), "{status}");
    let after = wait_state(&relay, Duration::from_secs(5), |_| true).await;
    assert_eq!(after, before);
    let (_, health) = relay.http("GET", HEALTH, None).await;
    assert_eq!(
        (&health["session_time_s"], &health["leader_lap"]),
        (&json!(2.0), &json!(2))
    );

    // The feed moves on to the next race: another track, its clock back near zero. A new session, not a stale
    // frame: the hub's live session changes and the state is the new race's alone.
    let sessions = relay.http("GET", "/api/v1/sessions", None).await.1;
    let monza_id = sessions["sessions"][0]["id"].clone();
    assert_eq!(sessions["sessions"][0]["track"], "Monza", "{sessions}");
    let mut spa = frame(1.0, 1, &field("soft", 0));
    spa["track"] = json!("Spa");
    let (code, body) = relay.http("POST", INGEST, Some(&spa.to_string())).await;
    assert_eq!((code, &body["accepted"]), (202, &json!(1)), "{body}");
    let state = wait_state(&relay, Duration::from_secs(5), |s| s.session.track == "Spa").await;
    assert_eq!((state.session_time_s, state.session.leader_lap), (0.0, 1));
    assert_eq!(codes(&state), ["VER", "HAM", "LEC"]);
    let sessions = relay.http("GET", "/api/v1/sessions", None).await.1;
    assert_eq!(sessions["sessions"][0]["track"], "Spa", "{sessions}");
    assert_ne!(sessions["sessions"][0]["id"], monza_id, "{sessions}");
    let status = relay.http("GET", SOURCE, None).await.1;
    assert_eq!(status["errors"]["stale_feed"], 1, "{status}");

    // With another source running, ingest is refused.
    let (code, _) = relay
        .http(
            "PUT",
            SOURCE,
            Some(r#"{"mode": "simulator", "speed": 10, "laps": 3}"#),
        )
        .await;
    assert_eq!(code, 200);
    let (code, answer) = relay.http("POST", INGEST, Some(&good.to_string())).await;
    assert_eq!(code, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "wrong_source");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("simulator"),
        "{answer}"
    );
    // A bad body to a relay that is not ingesting is the same conflict, and counts nothing against its source.
    let (code, answer) = relay.http("POST", INGEST, Some("{not json")).await;
    assert_eq!(
        (code, &answer["error"]["code"]),
        (409, &"wrong_source".into()),
        "{answer}"
    );
    let (_, source) = relay.http("GET", "/api/v1/source", None).await;
    assert!(source["errors"].as_object().unwrap().is_empty(), "{source}");

    relay.stop().await;
}

#[tokio::test]
async fn put_source_switches_and_refuses_bad_or_unavailable_sources() {
    let spec = SourceSpec::Simulator {
        seed: 2,
        speed: 20.0,
        laps: 3,
        restart_after_s: None,
    };
    let relay = Relay::start(common::config(spec, None), None).await;
    let status = relay.http("GET", SOURCE, None).await.1;
    assert_eq!(
        (&status["mode"], &status["simulated"]),
        (&"simulator".into(), &true.into())
    );
    assert_eq!(status["config"]["seed"], 2);

    // Simulator → ingest: the PUT answers with the new status, and GET agrees.
    let body = r#"{"mode": "ingest", "fallback_after": 2}"#;
    let (code, put) = relay.http("PUT", SOURCE, Some(body)).await;
    assert_eq!(code, 200, "{put}");
    assert_eq!(
        (&put["mode"], &put["simulated"]),
        (&"ingest".into(), &false.into())
    );
    assert_eq!(
        put["config"],
        json!({"mode": "ingest", "fallback_after": 2})
    );
    let status = relay.http("GET", SOURCE, None).await.1;
    assert_eq!(
        (&status["mode"], &status["config"]),
        (&put["mode"], &put["config"])
    );
    let (_, health) = relay.http("GET", HEALTH, None).await;
    assert!(
        health["session_time_s"].is_null(),
        "the switch starts a fresh session: {health}"
    );

    // Ingest → UDP on a free port: bound, and it really receives.
    let (code, put) = relay
        .http(
            "PUT",
            SOURCE,
            Some(r#"{"mode": "udp", "bind": "127.0.0.1:0"}"#),
        )
        .await;
    assert_eq!(code, 200, "{put}");
    assert_eq!(
        put["config"],
        json!({"mode": "udp", "bind": "127.0.0.1:0", "forward": []})
    );
    let status = relay.http("GET", SOURCE, None).await.1;
    assert_eq!(
        (&status["mode"], &status["connection"]),
        (&"udp".into(), &"connected".into())
    );
    let bound: SocketAddr = status["bound"].as_str().unwrap().parse().unwrap();
    assert_ne!(bound.port(), 0);
    let game = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    game.send_to(b"not a packet", bound).unwrap();
    wait_for(relay.addr, SOURCE, Duration::from_secs(5), |s| {
        s["received"] == 1
    })
    .await;

    let replay_dir = common::temp_dir("sources-replay");
    let missing = replay_dir.join("missing.pcap");
    let cases: [(String, &str); 10] = [
        ("{\"mode\": ".to_owned(), "invalid source configuration"),
        (r#"{"mode": "teleport"}"#.to_owned(), "teleport"),
        (r#"{"bind": "127.0.0.1:0"}"#.to_owned(), "mode"),
        (r#"{"mode": "simulator", "sped": 2}"#.to_owned(), "sped"),
        (r#"{"mode": "ingest", "bogus": 1}"#.to_owned(), "bogus"),
        (
            r#"{"mode": "udp", "bind": "127.0.0.1:0", "fallback": 1}"#.to_owned(),
            "fallback",
        ),
        (r#"{"mode": "simulator", "speed": 0}"#.to_owned(), "speed"),
        (r#"{"mode": "simulator", "laps": 0}"#.to_owned(), "laps"),
        (
            r#"{"mode": "ws_feed", "url": "http://127.0.0.1:1/feed"}"#.to_owned(),
            "ws://",
        ),
        (
            json!({"mode": "replay", "file": missing}).to_string(),
            "no recording at",
        ),
    ];
    for (body, want) in &cases {
        let (code, answer) = relay.http("PUT", SOURCE, Some(body)).await;
        assert_eq!(code, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_source", "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(want),
            "{body}\n  got: {message}\n want: {want}"
        );
    }
    // Nothing changed: the same UDP socket is still listening.
    let status = relay.http("GET", SOURCE, None).await.1;
    assert_eq!(
        (&status["mode"], &status["bound"]),
        (&"udp".into(), &json!(bound.to_string()))
    );
    std::fs::remove_dir_all(&replay_dir).unwrap();

    // A port someone else holds: 409, and the running simulator keeps running.
    let (code, _) = relay
        .http(
            "PUT",
            SOURCE,
            Some(r#"{"mode": "simulator", "seed": 5, "speed": 20, "laps": 3}"#),
        )
        .await;
    assert_eq!(code, 200);
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let body = json!({"mode": "udp", "bind": taken.local_addr().unwrap()}).to_string();
    let (code, answer) = relay.http("PUT", SOURCE, Some(&body)).await;
    assert_eq!(code, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "source_unavailable");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&taken.local_addr().unwrap().to_string()),
        "{message}"
    );
    let status = relay.http("GET", SOURCE, None).await.1;
    assert_eq!(
        (&status["mode"], &status["config"]["seed"]),
        (&"simulator".into(), &json!(5))
    );
    let first = wait_state(&relay, Duration::from_secs(5), |s| {
        s.source == DataSource::Simulator
    })
    .await;
    wait_state(&relay, Duration::from_secs(5), |s| {
        s.session_time_s > first.session_time_s
    })
    .await;

    relay.stop().await;
}

#[tokio::test]
async fn a_source_switch_is_audited_with_the_role_that_asked() {
    let dir = common::temp_dir("sources-audit");
    let spec = SourceSpec::Simulator {
        seed: 2,
        speed: 20.0,
        laps: 3,
        restart_after_s: None,
    };
    let mut config = common::config(spec, None);
    config.persist = Some(boxbox_relay::PersistConfig {
        state_dir: dir.clone(),
        interval: Duration::from_secs(1),
    });
    let relay = Relay::start(config, None).await;
    let (code, put) = relay
        .http("PUT", SOURCE, Some(r#"{"mode": "ingest"}"#))
        .await;
    assert_eq!(code, 200, "{put}");
    relay.stop().await;
    let entries = boxbox_relay::audit::read(&dir.join(boxbox_relay::audit::AUDIT_FILE)).unwrap();
    use boxbox_relay::audit::AuditKind;
    // What the race itself did (a first-lap VSC, say) is left out: the relay's own entries, in order.
    let entries: Vec<_> = entries.into_iter().filter(|e| e.actor != "race").collect();
    let kinds: Vec<_> = entries.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            AuditKind::Recovery,
            AuditKind::SourceSwitch,
            AuditKind::Shutdown
        ]
    );
    let switch = &entries[1];
    // The actor is the token's role and id, never the token.
    assert_eq!(switch.actor, "engineer:control");
    assert_eq!(switch.detail, json!({"mode": "ingest"}));
    assert_eq!(switch.message, "source switched to ingest");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_stopped_source_takes_no_more_ingest() {
    let hub = boxbox_relay::hub::Hub::new();
    let context = boxbox_relay::source::SourceContext {
        rate_hz: 10.0,
        record_dir: None,
    };
    let config = boxbox_relay::source::SourceConfig {
        spec: SourceSpec::Ingest,
        fallback_after: None,
    };
    let sources = boxbox_relay::source::Sources::start(hub, context, config, None)
        .await
        .unwrap();
    sources.check_ingest().unwrap();
    // At shutdown the intake closes first, so the last save holds the last state.
    sources.stop().await;
    let e = sources.check_ingest().unwrap_err();
    assert!(
        matches!(e, boxbox_relay::source::SourceError::ShuttingDown),
        "{e}"
    );
}
