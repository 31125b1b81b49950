//! A feed message is read straight into frames: the memory it takes stays near the message's own size, where a
//! JSON tree (`serde_json::Value`) of it takes many times that (`allocation-counter` tallies this thread's heap).
#![cfg(not(target_arch = "wasm32"))]

use boxbox_engine::feed;

/// A batch of `frames` frames of a 20-car field, as a feed would post it.
fn batch(frames: usize) -> String {
    let frame = |k: usize| {
        let cars: Vec<String> = (0..20)
            .map(|i| {
                format!(
                    r#"{{"car_id": {id}, "team": "Team {team}", "driver": "Driver Number {id}", "position": {pos},
                        "speed": 281.5, "tire": {{"compound": "medium", "age": {k}, "wear_level": 21.5}},
                        "fuel_level": 40.25, "lap_time": 95.125, "sector_times": [30.5, 38.25, 26.375],
                        "lap_distance": 1234.5, "throttle": 87.5, "brake": 0.0, "gear": 7}}"#,
                    id = i + 1,
                    team = i / 2,
                    pos = i + 1,
                )
            })
            .collect();
        format!(
            r#"{{"timestamp": {k}, "lap": 3, "total_laps": 57, "track": "Monza", "session_type": "race",
                "track_conditions": {{"temperature": 31.5, "weather": "clear", "track_status": "green"}},
                "cars": [{}]}}"#,
            cars.join(",")
        )
    };
    let frames: Vec<String> = (0..frames).map(frame).collect();
    format!("[{}]", frames.join(","))
}

#[test]
fn a_large_batch_takes_about_its_own_size_in_memory() {
    let json = batch(400);
    assert!(json.len() > 2_000_000, "{} bytes", json.len());
    let mut frames = Vec::new();
    let read = allocation_counter::measure(|| {
        frames = feed::parse(json.as_bytes()).expect("a valid batch");
    });
    assert_eq!(frames.len(), 400);
    assert_eq!(frames[399].cars.len(), 20);
    // What a JSON tree of the same message would hold at its peak, for comparison.
    let tree = allocation_counter::measure(|| {
        let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        std::hint::black_box(value);
    });
    let ratio = |bytes: u64| bytes as f64 / json.len() as f64;
    println!(
        "message {} bytes; peak heap: frames {:.2}x, a JSON tree {:.2}x",
        json.len(),
        ratio(read.bytes_max),
        ratio(tree.bytes_max)
    );
    assert!(
        ratio(read.bytes_max) < 2.0,
        "reading took {:.2}x the message",
        ratio(read.bytes_max)
    );
}
