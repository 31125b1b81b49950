//! Criterion benchmarks of the live telemetry path: decoding EA F1 25 datagrams, normalizing them into the race
//! state, and sampling that state at the relay's 10 Hz, over ten seconds of the packet mix a 60 Hz race session sends.
//! Figures are recorded in BENCHMARKS.md.
//!
//! The stream is built from the real F1 25 Melbourne race captures in `shared/data/captures/gamesdat/2025` (one
//! datagram per packet id, all of one session). Each copy gets the session time, frame and overall frame of its place
//! in the stream, so the normalizer sees a session moving forward; SessionHistory and TyreSets cycle through the cars
//! as the game does. Rates per second, from `shared/f1-udp-spec.md` §2 (menu rate set to 60 Hz):
//!
//! | packet | per second |
//! |---|---:|
//! | Motion, LapData, CarTelemetry, CarStatus, MotionEx | 60 each |
//! | SessionHistory, TyreSets | 20 each |
//! | CarDamage | 10 |
//! | Session, CarSetups | 2 each |
//! | LapPositions | 1 |
//! | Event (overtakes, buttons, penalties … in turn) | 1 |
//! | Participants | 0.2 |
//!
//! That is 356.2 packets a second; the stream is 10 s, 3,562 packets.

use std::hint::black_box;
use std::path::PathBuf;

use boxbox_engine::telemetry::decode;
use boxbox_engine::telemetry::normalize::Normalizer;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Frames per second of the game's "menu rate" (the UDP send rate chosen in the game's settings).
const FRAME_RATE_HZ: u32 = 60;
/// Length of the stream, in seconds.
const STREAM_SECS: u32 = 10;
/// The relay samples the state 10 times a second.
const STATE_RATE_HZ: u32 = 10;
/// Cars listed in the captured session (SessionHistory and TyreSets cycle through them).
const N_CARS: u8 = 20;
/// The events sent during the stream, one a second, in turn (all from the Melbourne session).
const EVENTS: [&str; 5] = ["OVTK", "BUTN", "SPTP", "PENA", "COLL"];

/// One datagram of the stream, and whether the relay samples the state after it.
struct Datagram {
    bytes: Vec<u8>,
    state_tick: bool,
}

fn capture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/captures/gamesdat/2025")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The little-endian `u32` at byte `at` of a header.
fn header_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Ten seconds of a race session at 60 Hz, in the order the game sends a frame's packets.
fn race_stream() -> Vec<Datagram> {
    let packet = |id: u8| capture(&format!("packet-{id}.bin"));
    let (motion, session, lap_data, participants, setups) =
        (packet(0), packet(1), packet(2), packet(4), packet(5));
    let (telemetry, status, damage, history, tyre_sets) =
        (packet(6), packet(7), packet(10), packet(11), packet(12));
    let (motion_ex, lap_positions) = (packet(13), packet(15));
    let events: Vec<Vec<u8>> = EVENTS
        .iter()
        .map(|code| capture(&format!("packet-3-{code}.bin")))
        .collect();

    // The capture's session uid, time and frames: the stream continues from there.
    let session_uid = lap_data[7..15].to_vec();
    let t0_s = f32::from_bits(header_u32(&lap_data, 15));
    let frame0 = header_u32(&lap_data, 19);
    let overall0 = header_u32(&lap_data, 23);

    let mut stream = Vec::new();
    let mut cycled_car = 0u8;
    for frame in 0..FRAME_RATE_HZ * STREAM_SECS {
        let every = |per_sec: u32| frame % (FRAME_RATE_HZ / per_sec) == 0;
        let mut out: Vec<Vec<u8>> = vec![motion.clone(), lap_data.clone()];
        if every(2) {
            out.push(session.clone());
            out.push(setups.clone());
        }
        if frame % (FRAME_RATE_HZ * 5) == 0 {
            out.push(participants.clone());
        }
        out.extend([telemetry.clone(), status.clone(), motion_ex.clone()]);
        if every(10) {
            out.push(damage.clone());
        }
        if every(20) {
            let mut h = history.clone();
            let mut t = tyre_sets.clone();
            h[29] = cycled_car;
            t[29] = cycled_car;
            cycled_car = (cycled_car + 1) % N_CARS;
            out.extend([h, t]);
        }
        if every(1) {
            out.push(lap_positions.clone());
            let second = (frame / FRAME_RATE_HZ) as usize;
            out.push(events[second % events.len()].clone());
        }
        let time_s = t0_s + frame as f32 / FRAME_RATE_HZ as f32;
        let n = out.len();
        for (k, mut bytes) in out.into_iter().enumerate() {
            bytes[7..15].copy_from_slice(&session_uid);
            bytes[15..19].copy_from_slice(&time_s.to_le_bytes());
            bytes[19..23].copy_from_slice(&(frame0 + frame).to_le_bytes());
            bytes[23..27].copy_from_slice(&(overall0 + frame).to_le_bytes());
            let last_of_tick = k + 1 == n && (frame + 1) % (FRAME_RATE_HZ / STATE_RATE_HZ) == 0;
            stream.push(Datagram {
                bytes,
                state_tick: last_of_tick,
            });
        }
    }
    stream
}

fn bench(c: &mut Criterion) {
    let stream = race_stream();
    assert!(stream.iter().all(|d| decode(&d.bytes).is_ok()));
    let mut group = c.benchmark_group("telemetry_f1_25_race_10s");
    group.throughput(Throughput::Elements(stream.len() as u64));

    group.bench_function("decode", |b| {
        b.iter(|| {
            for d in &stream {
                let _ = black_box(decode(black_box(&d.bytes)));
            }
        });
    });

    group.bench_function("decode_normalize", |b| {
        b.iter(|| {
            let mut normalizer = Normalizer::new();
            for d in &stream {
                if let Ok(packet) = decode(black_box(&d.bytes)) {
                    normalizer.push(&packet);
                }
            }
            black_box(normalizer)
        });
    });

    group.bench_function("decode_normalize_state_10hz", |b| {
        b.iter(|| {
            let mut normalizer = Normalizer::new();
            for d in &stream {
                if let Ok(packet) = decode(black_box(&d.bytes)) {
                    normalizer.push(&packet);
                }
                if d.state_tick {
                    black_box(normalizer.state());
                }
            }
            black_box(normalizer)
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
