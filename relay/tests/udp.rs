//! The game as a source over real UDP sockets on loopback: the relay receives the real F1 25 captures, forwards
//! every datagram byte for byte, counts packets and errors, records the session to a pcap file, and a replay of
//! that recording reaches the same state.

// Test helpers outside #[test] functions may panic too: a panic is a test failure here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

mod common;

use boxbox_engine::protocol::ServerMessage;
use boxbox_engine::recording::read_pcap;
use boxbox_engine::wire::DataSource;
use boxbox_relay::source::SourceSpec;
use common::{Relay, next_message};
use tokio::net::UdpSocket;

fn captures() -> Vec<Vec<u8>> {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/captures/gamesdat/2025");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.retain(|p| p.extension().is_some_and(|x| x == "bin"));
    files.sort();
    let mut captures: Vec<(std::path::PathBuf, Vec<u8>)> = files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    // Session by session (the game sends no session's datagrams after the next one's: a relay takes such a
    // datagram for a late one), the Melbourne race's last with its session, lap data and participants at the end,
    // so the latest state is that race.
    let uid = |d: &[u8]| u64::from_le_bytes(d[7..15].try_into().unwrap());
    let melbourne = 0xb69d_85de_9dff_d698;
    captures.sort_by_key(|(p, d)| {
        let last = ["packet-1.bin", "packet-4.bin", "packet-2.bin"]
            .iter()
            .position(|n| p.ends_with(n));
        (uid(d) == melbourne, uid(d), last)
    });
    captures.into_iter().map(|(_, d)| d).collect()
}

/// A datagram larger than any the games send: a real LapData header and 3,000 bytes in all.
fn oversized(captures: &[Vec<u8>]) -> Vec<u8> {
    let lap_data = captures
        .iter()
        .find(|d| d.len() > 6 && d[6] == 2)
        .expect("a LapData capture");
    let mut d = lap_data.clone();
    d.resize(3000, 0xAB);
    d
}

fn malformed() -> Vec<u8> {
    // A hand-edited capture with the wrong length (see the captures' README).
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/data/captures/f1-game-packet-parser/2024-03-SCAR.bin"),
    )
    .unwrap()
}

async fn snapshot_state(relay: &Relay) -> boxbox_engine::wire::RaceState {
    let mut ws = relay.ws().await;
    let ServerMessage::Snapshot { state, .. } = next_message(&mut ws).await else {
        panic!("snapshot first")
    };
    state
}

#[tokio::test]
async fn game_datagrams_are_forwarded_recorded_and_replay_to_the_same_state() {
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let udp_addr = udp.local_addr().unwrap();
    let other_app = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let record_dir = common::temp_dir("udp-record");
    let spec = SourceSpec::Udp {
        bind: udp_addr,
        forward: vec![other_app.local_addr().unwrap()],
    };
    let relay = Relay::start(common::config(spec, Some(record_dir.clone())), Some(udp)).await;

    let game = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut sent = captures();
    sent.insert(3, malformed());
    sent.insert(2, oversized(&sent));
    let mut forwarded = Vec::new();
    let mut buf = vec![0u8; 65_536];
    for datagram in &sent {
        game.send_to(datagram, udp_addr).await.unwrap();
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), other_app.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        forwarded.push(buf[..n].to_vec());
    }
    assert_eq!(
        forwarded, sent,
        "every datagram is forwarded byte for byte, in order"
    );

    // The live state is the game's session.
    let live = snapshot_state(&relay).await;
    assert_eq!(live.session.track, "Melbourne");
    assert_eq!(live.cars.len(), 20);
    assert_eq!(live.source, DataSource::Live);

    // Counters per packet type and per error kind, and the recording.
    let source = common::wait_for(relay.addr, "/api/v1/source", Duration::from_secs(5), |s| {
        s["received"] == sent.len()
    })
    .await;
    assert_eq!(source["mode"], "udp");
    assert_eq!(source["simulated"], false);
    assert_eq!(source["connection"], "connected");
    assert_eq!(source["forwarded"], sent.len());
    // The hand-edited capture and the oversized datagram (received whole, so forwarded and recorded too).
    assert_eq!(source["errors"]["wrong_length"], 2);
    assert!(
        source["last_error"]
            .as_str()
            .unwrap()
            .contains("expected 45")
    );
    assert_eq!(source["packets"]["event"], 15);
    assert_eq!(source["packets"]["lap_data"], 1);
    assert!(source["last_packet_age_s"].as_f64().unwrap() < 5.0);
    // The Session packet's forecast for the race itself: five samples, 0 to 30 minutes ahead, clear.
    let (_, env) = relay.http("GET", "/api/v1/environment", None).await;
    let forecast: Vec<(u64, &str)> = env["forecast"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["in_min"].as_u64().unwrap(),
                f["weather"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        forecast,
        [
            (0, "clear"),
            (5, "clear"),
            (10, "clear"),
            (15, "clear"),
            (30, "clear")
        ]
    );
    let (_, health) = relay.http("GET", "/api/v1/health", None).await;
    assert_eq!(
        (&health["source"], &health["simulated"]),
        (&"udp".into(), &false.into())
    );

    // The LapData of the overall frame before the newest, delivered late by UDP, with every car a lap on: left
    // out and counted, the state unchanged, no flashback.
    use boxbox_engine::telemetry::{Body, LapDataRecords, decode, encode};
    let newest = sent
        .iter()
        .rev()
        .find(|d| d.len() > 6 && d[6] == 2)
        .unwrap();
    let mut packet = decode(newest).unwrap();
    packet.header.frame_identifier -= 1;
    packet.header.overall_frame_identifier -= 1;
    if let Body::LapData(d) = &mut packet.body
        && let LapDataRecords::Current(cars) = &mut d.lap_data
    {
        for car in cars {
            car.current_lap_num += 1;
        }
    }
    let late = encode(&packet).unwrap();
    game.send_to(&late, udp_addr).await.unwrap();
    sent.push(late);
    let source = common::wait_for(relay.addr, "/api/v1/source", Duration::from_secs(5), |s| {
        s["received"] == sent.len()
    })
    .await;
    assert_eq!(source["errors"]["late_datagram"], 1, "{source}");
    assert!(source["last_error"].as_str().unwrap().contains("lap_data"));
    assert_eq!(snapshot_state(&relay).await, live);
    relay.stop().await;

    // The recording holds every datagram, byte for byte (the malformed one too), in a standard pcap file.
    let files: Vec<_> = std::fs::read_dir(&record_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let recordings: Vec<_> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    let mut recorded = Vec::new();
    for path in &recordings {
        let rec = read_pcap(&std::fs::read(path).unwrap()).unwrap();
        assert!(!rec.truncated_tail);
        recorded.extend(rec.datagrams.into_iter().map(|d| (d, (*path).clone())));
    }
    recorded.sort_by_key(|(d, _)| d.received);
    let payloads: Vec<Vec<u8>> = recorded.iter().map(|(d, _)| d.payload.clone()).collect();
    assert_eq!(payloads, sent);
    assert!(
        recorded
            .iter()
            .all(|(d, _)| d.dst.port() == udp_addr.port())
    );
    // The captures come from several game sessions, interleaved: a file per run of one session among the datagrams
    // that decode; one that does not (the damaged and the oversized) goes to the file of the moment.
    let mut session_runs = 0;
    let mut current: Option<u64> = None;
    for d in &sent {
        if let Ok(p) = boxbox_engine::telemetry::decode(d)
            && current != Some(p.header.session_uid)
        {
            session_runs += 1;
            current = Some(p.header.session_uid);
        }
    }
    assert_eq!(recordings.len(), session_runs, "{recordings:?}");
    // The live state is the last session's: the file holding the last datagram.
    let last_session = recorded.last().unwrap().1.clone();

    // `serve --replay` of that recording gives the same state, labelled as a replay.
    let spec = SourceSpec::Replay {
        file: last_session,
        speed: 50.0,
        start_s: 0.0,
    };
    let replay = Relay::start(common::config(spec, None), None).await;
    let status = common::wait_for(
        replay.addr,
        "/api/v1/source",
        Duration::from_secs(10),
        |s| s["connection"] == "finished",
    )
    .await;
    let replayed_file = std::path::PathBuf::from(status["recording"].as_str().unwrap());
    let last_run = recorded.iter().filter(|(_, p)| *p == replayed_file).count();
    assert_eq!(status["received"], last_run);
    let mut replayed = snapshot_state(&replay).await;
    assert_eq!(replayed.source, DataSource::Replay);
    replayed.source = DataSource::Live;
    assert_eq!(replayed, live);
    replay.stop().await;
    std::fs::remove_dir_all(&record_dir).unwrap();
}

/// A whole simulated race, encoded as F1 25 datagrams by the engine, sent over real UDP.
fn simulated_session(
    seed: u64,
    laps: u32,
    frame_hz: f64,
) -> (Vec<Vec<u8>>, boxbox_engine::wire::RaceState) {
    use boxbox_engine::sim::{RaceSim, SimConfig};
    use boxbox_engine::telemetry::synth::PacketSynth;
    let mut sim = RaceSim::new(&SimConfig {
        seed,
        total_laps: laps,
    });
    let mut synth = PacketSynth::new(seed, boxbox_engine::calibration::SAKHIR.sector_end_frac);
    let mut datagrams = Vec::new();
    let mut t = 0.0;
    loop {
        datagrams.extend(synth.frame(&sim.state()).unwrap());
        if sim.is_finished() {
            return (datagrams, sim.state());
        }
        t += 1.0 / frame_hz;
        sim.advance_to(t);
    }
}

#[tokio::test]
async fn a_simulated_session_over_udp_is_the_live_state_is_forwarded_and_replays_the_same() {
    let (sent, final_sim) = simulated_session(5, 3, 4.0);
    // What the relay must end up with: the engine's own normalizer over the same bytes.
    let mut normalizer = boxbox_engine::telemetry::normalize::Normalizer::new();
    for d in &sent {
        normalizer.push(&boxbox_engine::telemetry::decode(d).unwrap());
    }
    let expected = normalizer.state().unwrap();
    assert_eq!(
        expected.session.phase,
        boxbox_engine::wire::SessionPhase::Finished
    );
    let order = |s: &boxbox_engine::wire::RaceState| {
        s.cars
            .iter()
            .map(|c| c.driver.code.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(order(&expected), order(&final_sim));

    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let udp_addr = udp.local_addr().unwrap();
    let other_app = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let record_dir = common::temp_dir("udp-sim");
    let spec = SourceSpec::Udp {
        bind: udp_addr,
        forward: vec![other_app.local_addr().unwrap()],
    };
    let relay = Relay::start(common::config(spec, Some(record_dir.clone())), Some(udp)).await;
    let mut ws = relay.ws().await;

    let n = sent.len();
    let receiver = tokio::spawn(async move {
        let mut got = Vec::with_capacity(n);
        let mut buf = [0u8; 2048];
        while got.len() < n {
            let (len, _) =
                tokio::time::timeout(Duration::from_secs(10), other_app.recv_from(&mut buf))
                    .await
                    .expect("forwarded datagrams keep coming")
                    .unwrap();
            got.push(buf[..len].to_vec());
        }
        got
    });
    let game = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for (k, d) in sent.iter().enumerate() {
        game.send_to(d, udp_addr).await.unwrap();
        // Loopback drops datagrams when a receive buffer fills: give the relay and the other app a moment.
        if k % 8 == 7 {
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
    }
    let forwarded = receiver.await.unwrap();
    assert!(
        forwarded == sent,
        "every datagram is forwarded byte for byte, in order"
    );

    // The /ws stream followed the race to the flag.
    let mut updates = 0;
    let mut last_lap = 0;
    let mut replica = boxbox_engine::protocol::Replica::new();
    loop {
        let state = common::next_state(&mut ws, &mut replica).await;
        updates += 1;
        assert!(state.session.leader_lap >= last_lap, "laps never go back");
        last_lap = state.session.leader_lap;
        if state == expected {
            break;
        }
    }
    assert!(updates > 10, "{updates} updates");
    let source = common::wait_for(relay.addr, "/api/v1/source", Duration::from_secs(5), |s| {
        s["received"] == n
    })
    .await;
    assert_eq!(source["packets"]["final_classification"], 1);
    assert!(source["errors"].as_object().unwrap().is_empty(), "{source}");
    relay.stop().await;

    // One recording for the one session; replaying it gives the same state.
    let recordings: Vec<_> = std::fs::read_dir(&record_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(recordings.len(), 1, "{recordings:?}");
    let recording = read_pcap(&std::fs::read(&recordings[0]).unwrap()).unwrap();
    assert_eq!(recording.datagrams.len(), n);
    let spec = SourceSpec::Replay {
        file: recordings[0].clone(),
        speed: 1000.0,
        start_s: 0.0,
    };
    let replay = Relay::start(common::config(spec, None), None).await;
    common::wait_for(
        replay.addr,
        "/api/v1/source",
        Duration::from_secs(20),
        |s| s["connection"] == "finished",
    )
    .await;
    let mut replayed = snapshot_state(&replay).await;
    replayed.source = DataSource::Live;
    assert_eq!(replayed, expected);
    replay.stop().await;
    std::fs::remove_dir_all(&record_dir).unwrap();
}
