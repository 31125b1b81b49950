//! `boxbox simulate` and `boxbox replay` as a user runs them: the real binary writes a simulated session to a pcap
//! file, `boxbox decode` reads every datagram of it back, and `boxbox replay` re-sends it over real UDP byte for
//! byte with its timing scaled.

// Test helpers outside #[test] functions may panic too: a panic is a test failure here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use tokio::time::Instant;

use boxbox_engine::recording::read_pcap;

#[test]
fn a_simulated_session_is_written_decoded_and_replayed_over_udp() {
    let dir = std::env::temp_dir().join(format!("boxbox-simulate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("sim.pcap");
    let status = Command::new(env!("CARGO_BIN_EXE_boxbox"))
        .args([
            "simulate",
            "--laps",
            "2",
            "--seed",
            "9",
            "--frame-hz",
            "2",
            "--pcap",
        ])
        .arg(&pcap)
        .status()
        .unwrap();
    assert!(status.success());
    let recording = read_pcap(&std::fs::read(&pcap).unwrap()).unwrap();
    let n = recording.datagrams.len();
    assert!(n > 500, "{n} datagrams");
    // Recorded with simulated-time timestamps: two laps of Bahrain take over three minutes.
    let span = recording.datagrams[n - 1].received - recording.datagrams[0].received;
    assert!(span > Duration::from_secs(180), "{span:?}");

    wireshark_reads(&pcap, &recording.datagrams);

    let out = Command::new(env!("CARGO_BIN_EXE_boxbox"))
        .arg("decode")
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(out.status.success(), "every simulated datagram decodes");
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), n);

    // Replayed at 200x: the three-minute session takes about a second, and every datagram arrives unchanged.
    let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let to = receiver.local_addr().unwrap().to_string();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_boxbox"))
        .arg("replay")
        .arg(&pcap)
        .args(["--to", &to, "--speed", "200"])
        .spawn()
        .unwrap();
    let mut buf = [0u8; 2048];
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        let (len, _) = receiver.recv_from(&mut buf).expect("datagrams keep coming");
        got.push(buf[..len].to_vec());
    }
    assert!(child.wait().unwrap().success());
    let elapsed = started.elapsed();
    let sent: Vec<Vec<u8>> = recording
        .datagrams
        .iter()
        .map(|d| d.payload.clone())
        .collect();
    assert!(got == sent, "replayed byte for byte, in order");
    let paced = span.as_secs_f64() / 200.0;
    assert!(
        elapsed.as_secs_f64() >= paced * 0.9,
        "paced: took {elapsed:?}, recording/200 is {paced:.2} s"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Wireshark's reader (tshark, installed by `scripts/setup.sh`) opens the recording: every frame is an
/// Ethernet/IPv4/UDP packet to port 20777 with the right length and good IP and UDP checksums, none malformed.
fn wireshark_reads(pcap: &std::path::Path, datagrams: &[boxbox_engine::recording::Datagram]) {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args([
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
        ])
        .args([
            "-T",
            "fields",
            "-e",
            "frame.protocols",
            "-e",
            "udp.dstport",
            "-e",
            "udp.length",
        ])
        .args([
            "-e",
            "ip.checksum.status",
            "-e",
            "udp.checksum.status",
            "-e",
            "_ws.malformed",
        ])
        .output()
        .expect("tshark runs (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), datagrams.len());
    for (row, d) in rows.iter().zip(datagrams) {
        let want_len = (d.payload.len() + 8).to_string();
        // Checksum status 1 is "Good"; the malformed field is empty unless Wireshark found the frame malformed.
        assert_eq!(
            row[..6],
            [
                "eth:ethertype:ip:udp:data",
                "20777",
                want_len.as_str(),
                "1",
                "1",
                ""
            ],
            "{row:?}"
        );
    }
}
