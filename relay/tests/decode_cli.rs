//! `boxbox decode` as a user runs it: the real binary on the real captures in `shared/data/captures`, on a
//! malformed datagram, and on a pcap recording.

// Test helpers outside #[test] functions may panic too: a panic is a test failure here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use boxbox_engine::recording::{Datagram, pcap_file_header, pcap_record};

fn captures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/captures")
}

fn decode(files: &[PathBuf]) -> (i32, Vec<serde_json::Value>) {
    let out = Command::new(env!("CARGO_BIN_EXE_boxbox"))
        .arg("decode")
        .args(files)
        .output()
        .unwrap();
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (out.status.code().unwrap(), lines)
}

fn f1_25_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(captures().join("gamesdat/2025"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_f1_25_capture_prints_one_json_object_with_ea_names() {
    let files = f1_25_files();
    let (code, lines) = decode(&files);
    assert_eq!(code, 0);
    assert_eq!(lines.len(), files.len());
    for line in &lines {
        assert_eq!(line["header"]["packet_format"], 2025, "{line}");
    }
    let session = lines
        .iter()
        .find(|l| l["header"]["packet_id"] == 1)
        .unwrap();
    assert_eq!(
        (session["track_id"].as_i64(), session["total_laps"].as_u64()),
        (Some(0), Some(20))
    );
    let laps = lines
        .iter()
        .find(|l| l["header"]["packet_id"] == 2)
        .unwrap();
    assert!(laps["lap_data"][19]["last_lap_time_in_ms"].is_u64());
    let damage = lines
        .iter()
        .find(|l| l["header"]["packet_id"] == 10)
        .unwrap();
    assert_eq!(
        damage["car_damage_data"][0]["tyres_wear"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let event = lines
        .iter()
        .find(|l| l["event_string_code"] == "OVTK")
        .unwrap();
    assert!(event["event_details"]["overtaking_vehicle_idx"].is_u64());
}

#[test]
fn a_malformed_datagram_prints_an_error_line_and_decoding_goes_on() {
    let bad = captures().join("f1-game-packet-parser/2024-03-SCAR.bin");
    let good = captures().join("f1-game-packet-parser/2024-06.bin");
    let (code, lines) = decode(&[bad, good]);
    assert_eq!(code, 1);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["error"]["kind"], "wrong_length");
    assert!(
        lines[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expected 45")
    );
    assert_eq!(lines[1]["header"]["packet_id"], 6);
}

#[test]
fn a_pcap_recording_prints_every_datagram() {
    let mut pcap = pcap_file_header();
    let files = f1_25_files();
    for (i, file) in files.iter().enumerate() {
        pcap.extend(pcap_record(&Datagram {
            received: Duration::from_millis(1_000 + i as u64 * 16),
            src: "127.0.0.1:50000".parse().unwrap(),
            dst: "127.0.0.1:20777".parse().unwrap(),
            payload: std::fs::read(file).unwrap(),
        }));
    }
    let path = std::env::temp_dir().join(format!("boxbox-decode-{}.pcap", std::process::id()));
    std::fs::write(&path, &pcap).unwrap();
    let (code, lines) = decode(std::slice::from_ref(&path));
    std::fs::remove_file(&path).unwrap();
    assert_eq!(code, 0);
    assert_eq!(lines.len(), files.len());
    assert!(lines.iter().all(|l| l["header"]["packet_format"] == 2025));
}
