//! The real `boxbox` binary as a child process: killed with SIGKILL at seeded-random moments and restarted, its
//! state files always load, are never torn, lose at most one persist interval, and the restarted relay goes on
//! from the saved session time; stopped with SIGTERM, it exits 0 with the latest state saved and its recording
//! flushed.

// Test helpers outside #[test] functions may panic too: a panic is a test failure here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use boxbox_relay::audit::{self, AUDIT_FILE, AuditKind};
use boxbox_relay::persist::{self, LOCK_FILE, STATE_FILES, Saved, TEMP_FILE, unix_ms_now};

/// Simulated seconds per real second of the relay's simulator.
const SPEED: f64 = 20.0;

/// A `boxbox serve` child and the address it serves on.
struct Served {
    child: Child,
    addr: SocketAddr,
    /// Wall-clock time at which it printed its address, ms since the epoch.
    started_ms: u64,
}

/// A failing test must not leave a relay running.
impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `boxbox serve` with `args` after the common ones; waits for the line with its address.
fn serve(state_dir: &Path, log: &Path, args: &[&str]) -> Served {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_boxbox"))
        .args(["serve", "--http", "127.0.0.1:0", "--web-dir"])
        .arg(std::env::temp_dir().join("boxbox-no-web-app"))
        .arg("--state-dir")
        .arg(state_dir)
        .args(args)
        .env("RUST_LOG", "info")
        // The token `common::http` sends with every request.
        .env("BOXBOX_CONTROL_TOKEN", common::CONTROL_TOKEN)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let addr = common::served_addr(&mut child);
    Served {
        child,
        addr,
        started_ms: unix_ms_now(),
    }
}

/// SplitMix64: a seeded stream of kill moments, the same on every run.
struct Moments(u64);

impl Moments {
    fn next_ms(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        lo + (z ^ (z >> 31)) % (hi - lo)
    }
}

/// Checks every file of the state directory: each `state-*.json` loads (never torn), the temporary file may be
/// torn, audit logs read; nothing else is there. Returns the newest valid save and whether a torn temporary file
/// was left.
fn check_state_dir(dir: &Path) -> (Option<Saved>, bool) {
    let mut temp = false;
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if STATE_FILES.contains(&name.as_str()) {
            if let Err(e) = persist::load_file(&dir.join(&name)) {
                panic!("{name} does not load: {e}");
            }
        } else if name == TEMP_FILE {
            temp = true;
        } else if name == LOCK_FILE {
            // Held by a running relay; the OS released it when the process died.
        } else if name == boxbox_relay::access::SECRET_FILE {
            // The signing secret of issued tokens, written once (atomically) at the first start.
            let secret = std::fs::read_to_string(dir.join(&name)).unwrap();
            assert_eq!(secret.trim().len(), 64, "{secret:?}");
        } else if name.starts_with("audit") && name.ends_with(".jsonl") {
            audit::read(&dir.join(&name)).unwrap();
        } else {
            panic!("unexpected file {name} in the state directory");
        }
    }
    let recovery = persist::load(dir);
    assert!(
        recovery.rejected.is_empty(),
        "{:?}",
        recovery
            .rejected
            .iter()
            .map(|(p, e)| format!("{}: {e}", p.display()))
            .collect::<Vec<_>>()
    );
    (recovery.loaded.map(|(s, _)| s), temp)
}

async fn session_time(addr: SocketAddr) -> Option<f64> {
    let (status, health) = common::http(addr, "GET", "/api/v1/health", None).await;
    assert_eq!(status, 200);
    health["session_time_s"].as_f64()
}

fn fresh_dir(name: &str) -> (PathBuf, PathBuf) {
    let root = common::temp_dir(name);
    let state = root.join("state");
    (state, root.join("relay.log"))
}

#[tokio::test]
async fn kill_9_at_random_moments_never_tears_the_state_and_loses_at_most_one_interval() {
    let (dir, log) = fresh_dir("crash");
    let mut moments = Moments(2026);
    // Most rounds save every second, as a pit wall would (the loss bound); a few save every 100 ms so that some
    // kills land in the middle of a write (the tearing bound).
    let rounds: Vec<f64> = (0..20)
        .map(|i| if i % 4 == 3 { 0.1 } else { 1.0 })
        .collect();
    let margin_ms = 500;
    let mut expected: Option<Saved> = None;
    let mut worst_loss_ms = 0u64;
    let mut worst_loss_sim_s = 0.0f64;
    let mut torn_temps = 0;
    let mut resumed = Vec::new();
    let test_started = tokio::time::Instant::now();
    for (round, &interval_s) in rounds.iter().enumerate() {
        let interval = interval_s.to_string();
        let mut relay = serve(
            &dir,
            &log,
            &[
                "--persist-interval-s",
                &interval,
                "--no-record",
                "--rate-hz",
                "20",
                "--seed",
                "5",
                "--speed",
                &SPEED.to_string(),
            ],
        );
        // Restarted: it serves the saved session at once and the simulator goes on from there, not from 0.
        if let Some(saved) = &expected {
            let first = session_time(relay.addr).await.expect("a state at once");
            let saved_t = saved.state.session_time_s;
            let up_s = (unix_ms_now() - relay.started_ms) as f64 / 1000.0;
            assert!(
                first >= saved_t && first <= saved_t + SPEED * (up_s + 1.0),
                "round {round}: the restarted relay is at {first} s, the file at {saved_t} s"
            );
            resumed.push(saved_t);
        }
        let wait_ms = moments.next_ms(100, 2_500);
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        let before_kill = session_time(relay.addr).await;
        let kill_ms = unix_ms_now();
        relay.child.kill().unwrap(); // SIGKILL
        relay.child.wait().unwrap();

        let (newest, temp) = check_state_dir(&dir);
        torn_temps += usize::from(temp);
        // Wall-clock loss: what this process did since its last save (or since it started, if it made none).
        let since_ms = newest.as_ref().map_or(relay.started_ms, |s| {
            s.saved_at_unix_ms.max(relay.started_ms)
        });
        let loss_ms = kill_ms.saturating_sub(since_ms);
        let bound_ms = (interval_s * 1000.0) as u64 + margin_ms;
        assert!(
            loss_ms <= bound_ms,
            "round {round}: killed {loss_ms} ms after the last save (interval {interval_s} s)"
        );
        let Some(newest) = newest else {
            // Killed before its first save, with nothing saved before: nothing to recover yet.
            assert!(before_kill.is_none_or(|t| t <= SPEED * bound_ms as f64 / 1000.0));
            continue;
        };
        // The race's loss: session time published but not saved.
        let loss_sim_s = before_kill.unwrap() - newest.state.session_time_s;
        assert!(
            loss_sim_s <= SPEED * bound_ms as f64 / 1000.0,
            "round {round}: {loss_sim_s} s of session time lost"
        );
        if interval_s >= 1.0 {
            worst_loss_ms = worst_loss_ms.max(loss_ms);
            worst_loss_sim_s = worst_loss_sim_s.max(loss_sim_s);
        }
        expected = Some(newest);
    }
    // One recovery entry per start, each naming the session time it went on from.
    let entries = audit::read(&dir.join(AUDIT_FILE)).unwrap();
    let recoveries: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == AuditKind::Recovery)
        .collect();
    assert_eq!(recoveries.len(), rounds.len());
    assert!(
        recoveries[0].session_time_s.is_none(),
        "the first start had nothing to recover"
    );
    let recovered: Vec<f64> = recoveries.iter().filter_map(|e| e.session_time_s).collect();
    assert_eq!(recovered, resumed);
    let last = expected.unwrap();
    assert!(
        last.history.len() > 20,
        "{} laps of history",
        last.history.len()
    );
    assert!(last.twins.is_some(), "the twins' report is saved");
    eprintln!(
        "crash: {} kills in {:.1} s, worst loss {worst_loss_ms} ms (interval 1000 ms) = {worst_loss_sim_s:.1} s of \
         session time at {SPEED}x, {torn_temps} torn temporary file(s) left and skipped, reached session time \
         {:.0} s",
        rounds.len(),
        test_started.elapsed().as_secs_f64(),
        last.state.session_time_s
    );
    std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
}

#[tokio::test]
async fn sigterm_stops_intake_flushes_the_recording_saves_the_latest_state_and_exits_0() {
    let (dir, log) = fresh_dir("sigterm");
    let recordings = dir.parent().unwrap().join("recordings");
    let udp_port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let udp = format!("127.0.0.1:{udp_port}");
    let args = [
        "--udp",
        &udp,
        "--record-dir",
        recordings.to_str().unwrap(),
        // Longer than the test: only the save at shutdown can hold the latest state.
        "--persist-interval-s",
        "600",
    ];
    let mut relay = serve(&dir, &log, &args);
    // The game, played by `boxbox simulate` in this process, for a while.
    let feed = tokio::spawn(boxbox_relay::simulate::run(
        boxbox_relay::simulate::SimulateOptions {
            seed: 9,
            laps: 3,
            speed: 20.0,
            frame_hz: 10.0,
            to: Some(udp.parse().unwrap()),
            pcap: None,
        },
    ));
    // Past the first laps, so there is a lap history to save.
    common::wait_for(relay.addr, "/api/v1/health", Duration::from_secs(30), |h| {
        h["session_time_s"].as_f64().is_some_and(|t| t > 250.0)
    })
    .await;
    feed.abort();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, source) = common::http(relay.addr, "GET", "/api/v1/source", None).await;
    let received = source["received"].as_u64().unwrap();
    let latest = session_time(relay.addr).await.unwrap();

    let term_ms = unix_ms_now();
    let killed = Command::new("kill")
        .args(["-TERM", &relay.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = relay.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no exit within 10 s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(0), "exit status {status}");

    // The latest state, saved after the signal, whole.
    let (saved, temp) = check_state_dir(&dir);
    assert!(!temp);
    let saved = saved.expect("a state saved at shutdown");
    assert_eq!(saved.state.session_time_s, latest);
    assert!(saved.saved_at_unix_ms >= term_ms);
    assert_eq!(saved.source.mode, "udp");
    assert_eq!(saved.source.received, received);
    // The recording has every datagram received, and ends on a whole record.
    let files: Vec<PathBuf> = std::fs::read_dir(&recordings)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let recording =
        boxbox_engine::recording::read_pcap(&std::fs::read(&files[0]).unwrap()).unwrap();
    assert!(!recording.truncated_tail);
    assert_eq!(recording.datagrams.len() as u64, received);
    // The audit log ends with the shutdown and the persister's figures.
    let entries = audit::read(&dir.join(AUDIT_FILE)).unwrap();
    let shutdown = entries.last().unwrap();
    assert_eq!(shutdown.kind, AuditKind::Shutdown);
    assert!(
        entries
            .iter()
            .any(|e| e.kind == AuditKind::VirtualSafetyCar && e.actor == "race"),
        "seed 9's first-lap VSC is in the audit log"
    );
    let figures: persist::PersistFigures =
        serde_json::from_value(shutdown.detail["persist"].clone()).unwrap();
    // A save may also have caught the first packets at start; the last one is the shutdown's (saved after the
    // signal, above).
    assert!(figures.writes >= 1 && figures.failures == 0, "{figures:?}");

    // Restarted with no game running: the saved session is served at once.
    let mut again = serve(&dir, &log, &args);
    assert_eq!(session_time(again.addr).await, Some(latest));
    let (_, snapshot_laps) = {
        let mut ws = tokio_tungstenite::connect_async(format!("ws://{}/ws", again.addr))
            .await
            .unwrap()
            .0;
        let boxbox_engine::protocol::ServerMessage::Snapshot { state, history, .. } =
            common::next_message(&mut ws).await
        else {
            panic!("a snapshot first")
        };
        (state, history.len())
    };
    assert!(saved.history.len() >= 10, "{} laps", saved.history.len());
    assert_eq!(snapshot_laps, saved.history.len());
    again.child.kill().unwrap();
    again.child.wait().unwrap();
    eprintln!(
        "sigterm: exit 0, {received} datagrams recorded, {} laps saved, final save {:.2} ms ({} bytes)",
        saved.history.len(),
        figures.last_duration_ms,
        figures.last_bytes
    );
    std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
}
