//! `boxbox montecarlo` and `boxbox strategy` as a user runs them: the real binary on the Canada 2019 TUMFTM file
//! and race folder of `shared/data/races`. The Monte Carlo report is a distribution, is the same for any thread
//! count and differs by seed; the deterministic race is reproducible and its race times are compared with the real
//! ones, from the grid (TUMFTM's parameters) and from mid-race (a model calibrated on the race); the strategy
//! search ranks legal plans; bad input is a message and a non-zero exit code, never a panic.

// Test helpers outside #[test] functions may panic too: a panic is a test failure here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn races() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/races")
}

fn canada_params() -> PathBuf {
    races().join("2019_07_canada/tumftm_pars_Montreal_2019.ini")
}

fn boxbox(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_boxbox"))
        .args(args)
        .output()
        .unwrap()
}

fn ok_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(text.lines().count(), 1, "one JSON object: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `boxbox montecarlo --params <Canada> --json` with `extra`.
fn montecarlo(extra: &[&str]) -> Value {
    let params = canada_params();
    let mut args = vec!["montecarlo", "--params", params.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    ok_json(&boxbox(&args))
}

/// The report without what depends on the machine or the split: wall time, rate and thread count.
fn without_timing(mut v: Value) -> Value {
    let o = v.as_object_mut().unwrap();
    for k in ["elapsed_s", "races_per_s", "threads"] {
        assert!(o.remove(k).is_some(), "{k} missing");
    }
    v
}

fn f(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number: {v}"))
}

#[test]
fn the_monte_carlo_report_is_a_distribution_over_the_whole_field() {
    let r = montecarlo(&["--runs", "600", "--seed", "5", "--threads", "2"]);
    assert_eq!(r["runs"], 600);
    assert_eq!(r["seed"], 5);
    assert_eq!(r["deterministic"], false);
    assert_eq!(r["track"], "Montreal");
    assert_eq!(r["total_laps"], 70);
    assert_eq!(r["threads"], 2);
    assert!(
        f(&r, "races_per_s") > 0.0 && f(&r, "elapsed_s") > 0.0,
        "{r}"
    );
    let drivers = r["drivers"].as_array().unwrap();
    assert_eq!(drivers.len(), 20);
    let p_win: f64 = drivers.iter().map(|d| f(d, "p_win")).sum();
    assert!(
        (p_win - 1.0).abs() < 1e-9,
        "win probabilities sum to {p_win}"
    );
    for d in drivers {
        let p: f64 = d["position_probability"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q.as_f64().unwrap())
            .sum();
        assert!((p - 1.0).abs() < 1e-9, "{d}");
        assert!(f(d, "p_win") <= f(d, "p_podium") && f(d, "p_podium") <= f(d, "p_points"));
        assert!((1.0..=20.0).contains(&f(d, "mean_position")), "{d}");
    }
    // Random events are on by default: the file's two fixed retirements would have switched them off.
    assert!(f(&r, "sc_probability") > 0.0, "{r}");
    assert!(drivers.iter().all(|d| f(d, "p_dnf") > 0.0), "{r}");
}

#[test]
fn simulate_with_params_is_the_monte_carlo() {
    let params = canada_params();
    let params = params.to_str().unwrap();
    let args = [
        "--params",
        params,
        "--runs",
        "300",
        "--seed",
        "4",
        "--threads",
        "1",
        "--json",
    ];
    let via_simulate = ok_json(&boxbox(&[&["simulate"][..], &args[..]].concat()));
    let via_montecarlo = ok_json(&boxbox(&[&["montecarlo"][..], &args[..]].concat()));
    assert!(f(&via_simulate, "elapsed_s") > 0.0 && f(&via_simulate, "races_per_s") > 0.0);
    assert_eq!(without_timing(via_simulate), without_timing(via_montecarlo));
    // The stand-in's flags and the Monte Carlo's do not mix; the Monte Carlo's need a race.
    for wrong in [
        &["simulate", "--params", params, "--to", "127.0.0.1:9"][..],
        &["simulate", "--params", params, "--laps", "10"][..],
        &["simulate", "--pcap", "/tmp/never.pcap", "--runs", "10"][..],
        &["simulate"][..],
    ] {
        let out = boxbox(wrong);
        assert_eq!(out.status.code(), Some(2), "{wrong:?}");
        assert!(!out.stderr.is_empty());
    }
}

#[test]
fn the_same_seed_gives_the_same_report_on_1_and_3_threads_and_another_seed_does_not() {
    // 1,000 runs are four chunks of 250: three threads get two, one and one.
    let one = montecarlo(&["--runs", "1000", "--seed", "11", "--threads", "1"]);
    let three = montecarlo(&["--runs", "1000", "--seed", "11", "--threads", "3"]);
    assert_eq!((&one["threads"], &three["threads"]), (&1.into(), &3.into()));
    println!(
        "1000 runs: {:.0} races/s on 1 thread, {:.0} races/s on 3 threads",
        f(&one, "races_per_s"),
        f(&three, "races_per_s")
    );
    assert_eq!(without_timing(one.clone()), without_timing(three));
    let other = montecarlo(&["--runs", "1000", "--seed", "12", "--threads", "1"]);
    assert_eq!(other["runs"], 1000);
    assert_ne!(
        without_timing(one)["drivers"],
        without_timing(other)["drivers"]
    );
}

/// Real race times of the cars classified on the lead lap, by driver code: `(time on track, penalty)` in seconds
/// from `f1db_race_results.csv` (its `time` includes time penalties).
fn real_lead_lap_times() -> Vec<(String, f64, f64)> {
    let csv =
        std::fs::read_to_string(races().join("2019_07_canada/f1db_race_results.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (code, time, penalty) = (col("driverCode"), col("time"), col("timePenalty"));
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|row| !row[time].is_empty())
        .map(|row| {
            let mut s = 0.0;
            for part in row[time].split(':') {
                s = 60.0 * s + part.parse::<f64>().unwrap();
            }
            let pen = if row[penalty].is_empty() {
                0.0
            } else {
                row[penalty].parse().unwrap()
            };
            (row[code].to_owned(), s - pen, pen)
        })
        .collect()
}

#[test]
fn a_deterministic_race_is_reproducible_and_close_to_the_real_race_times() {
    let a = montecarlo(&["--deterministic"]);
    let b = montecarlo(&["--deterministic", "--runs", "5000", "--threads", "2"]);
    assert_eq!(a["runs"], 1);
    assert_eq!(a["deterministic"], true);
    assert_eq!(without_timing(a.clone()), without_timing(b));
    let drivers = a["drivers"].as_array().unwrap();
    // The file's real retirements are kept: NOR and ALB do not finish.
    for d in drivers {
        let out = d["code"] == "NOR" || d["code"] == "ALB";
        assert_eq!(f(d, "p_dnf"), if out { 1.0 } else { 0.0 }, "{d}");
    }
    let sim = |code: &str| -> f64 {
        let d = drivers.iter().find(|d| d["code"] == code).unwrap();
        f(d, "race_time_mean_s")
    };
    let winner = drivers.iter().find(|d| f(d, "p_win") == 1.0).unwrap();
    let real = real_lead_lap_times();
    let first_across = real
        .iter()
        .min_by(|x, y| x.1.total_cmp(&y.1))
        .unwrap()
        .clone();
    println!(
        "deterministic winner {} {:.3} s; real: {} crossed the line first at {:.3} s ({} won on time after a {} s \
         penalty)",
        winner["code"],
        f(winner, "race_time_mean_s"),
        first_across.0,
        first_across.1,
        real[0].0,
        first_across.2
    );
    // Compared: the lead-lap finishers without a penalty (VET's 5 s penalty is not modelled; his time on the
    // track is printed for information).
    let mut errors = Vec::new();
    for (code, real_s, penalty) in &real {
        let err = sim(code) - real_s;
        println!(
            "{code}: simulated {:.3} s, real {real_s:.3} s on track, error {err:+.3} s ({:+.2} %){}",
            sim(code),
            100.0 * err / real_s,
            if *penalty > 0.0 {
                " (penalised: not counted)"
            } else {
                ""
            }
        );
        if *penalty == 0.0 {
            errors.push((code.clone(), err, real_s));
        }
    }
    assert_eq!(errors.len(), 4, "{errors:?}");
    let max = errors.iter().map(|e| e.1.abs()).fold(0.0, f64::max);
    let mean = errors.iter().map(|e| e.1.abs()).sum::<f64>() / errors.len() as f64;
    println!("max abs error {max:.3} s, mean abs error {mean:.3} s");
    // Measured on 2026-12-02 (two revisions of the engine): every compared car 128–157 s (2.4–2.9 %) faster than
    // in reality, a systematic pace offset of the file's parameters (≈ 2 s a lap), not scatter. The tolerance is
    // 3.5 % of the real time.
    // FIXME: the deterministic race is ≈ 2.6 % fast on Canada 2019; a closer base pace would tighten this.
    for (code, err, real_s) in &errors {
        assert!(err.abs() < 0.035 * *real_s, "{code}: {err:+.3} s");
    }
}

#[test]
fn the_strategy_search_ranks_legal_plans_for_a_driver() {
    let params = canada_params();
    let out = boxbox(&[
        "strategy",
        "--params",
        params.to_str().unwrap(),
        "--driver",
        "HAM",
        "--runs-per-plan",
        "50",
        "--lap-step",
        "6",
        "--json",
    ]);
    let r = ok_json(&out);
    assert_eq!(r["code"], "HAM");
    assert_eq!(r["runs_per_plan"], 50);
    assert!(f(&r, "elapsed_s") > 0.0);
    assert!(r["plans_screened"].as_u64().unwrap() > 0);
    let ranked = r["ranked"].as_array().unwrap();
    assert!(!ranked.is_empty());
    for p in ranked {
        let plan = &p["plan"];
        let mut compounds = vec![plan["start"].as_str().unwrap().to_owned()];
        compounds.extend(
            plan["stops"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["compound"].as_str().unwrap().to_owned()),
        );
        assert!(
            compounds
                .iter()
                .all(|c| ["soft", "medium", "hard"].contains(&c.as_str())),
            "{p}"
        );
        compounds.sort();
        compounds.dedup();
        assert!(compounds.len() >= 2, "two dry compounds: {}", p["label"]);
    }
    for w in ranked.windows(2) {
        assert!(f(&w[0], "mean_position") <= f(&w[1], "mean_position"));
    }
    assert!(r["window"].is_object(), "{r}");
    assert_eq!(r["current"]["label"], "M-28-H", "HAM's real plan");

    // The same search as a table.
    let out = boxbox(&[
        "strategy",
        "--params",
        params.to_str().unwrap(),
        "--driver",
        "ham",
        "--runs-per-plan",
        "50",
        "--lap-step",
        "6",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "rank",
        "pit window",
        "recommendation",
        "current",
        "expected gain",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
}

#[test]
fn bad_input_is_a_message_and_a_non_zero_exit_code() {
    let params = canada_params();
    let params = params.to_str().unwrap();
    let out = boxbox(&["strategy", "--params", params, "--driver", "XYZ"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("XYZ") && stderr.contains("HAM"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let out = boxbox(&["montecarlo", "--params", "/nonexistent/pars.ini"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/pars.ini"), "{stderr}");

    // A race file that is not TUMFTM's, with a Monte Carlo file given explicitly.
    let mcs = races().join("_common/tumftm_pars_mcs.ini");
    let csv = races().join("2019_07_canada/f1db_race.csv");
    let out = boxbox(&[
        "montecarlo",
        "--params",
        csv.to_str().unwrap(),
        "--mcs",
        mcs.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("f1db_race.csv") && !stderr.contains("panicked"),
        "{stderr}"
    );

    let dir = races().join("2019_07_canada");
    for lap in ["0", "70"] {
        let out = boxbox(&[
            "montecarlo",
            "--race-dir",
            dir.to_str().unwrap(),
            "--from-lap",
            lap,
        ]);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("lap {lap}")) && stderr.contains("2019_07_canada"),
            "{stderr}"
        );
    }
    let out = boxbox(&[
        "montecarlo",
        "--race-dir",
        "/nonexistent/1950_01",
        "--from-lap",
        "3",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/1950_01"));
}

#[test]
fn a_real_race_runs_from_a_lap_on_a_model_calibrated_from_its_laps() {
    let dir = races().join("2019_07_canada");
    let dir = dir.to_str().unwrap();
    let args = |extra: &[&'static str]| -> Value {
        let mut args = vec![
            "montecarlo",
            "--race-dir",
            dir,
            "--from-lap",
            "35",
            "--json",
        ];
        args.extend_from_slice(extra);
        ok_json(&boxbox(&args))
    };
    let r = args(&["--runs", "500", "--seed", "3"]);
    assert_eq!(
        (r["from_lap"].as_u64(), r["runs"].as_u64()),
        (Some(35), Some(500))
    );
    let drivers = r["drivers"].as_array().unwrap();
    assert_eq!(drivers.len(), 20);
    // NOR retired on lap 8: out of the race whatever the dice say.
    let nor = drivers.iter().find(|d| d["code"] == "NOR").unwrap();
    assert_eq!(f(nor, "p_dnf"), 1.0);

    // The rest of the race replayed with mean values and the real events, against the real race times.
    let det = args(&["--deterministic"]);
    let drivers = det["drivers"].as_array().unwrap();
    let mut errors = Vec::new();
    for (code, real_s, penalty) in real_lead_lap_times() {
        let d = drivers.iter().find(|d| d["code"] == code.as_str()).unwrap();
        let err = f(d, "race_time_mean_s") - real_s;
        println!("from lap 35, {code}: error {err:+.3} s");
        if penalty == 0.0 {
            errors.push(err.abs());
        }
    }
    let max = errors.iter().copied().fold(0.0, f64::max);
    println!(
        "from lap 35: max abs error {max:.3} s, mean {:.3} s",
        errors.iter().sum::<f64>() / errors.len() as f64
    );
    // Measured on 2026-12-02: HAM and LEC within 1 s, BOT and VER 21–24 s slow.
    assert!(max < 30.0, "{errors:?}");

    // The strategy search from lap 20 keeps the mediums HAM started on and stops after lap 20.
    let out = boxbox(&[
        "strategy",
        "--race-dir",
        dir,
        "--from-lap",
        "20",
        "--driver",
        "HAM",
        "--runs-per-plan",
        "50",
        "--lap-step",
        "6",
        "--json",
    ]);
    let s = ok_json(&out);
    let ranked = s["ranked"].as_array().unwrap();
    assert!(!ranked.is_empty());
    for p in ranked {
        assert_eq!(p["plan"]["start"], "medium", "{}", p["label"]);
        let stops = p["plan"]["stops"].as_array().unwrap();
        assert!(
            stops.iter().all(|s| s["lap"].as_u64().unwrap() > 20),
            "{}",
            p["label"]
        );
    }
    // From lap 35 HAM has made his only stop (lap 28): a window, if any, is in the future.
    let out = boxbox(&[
        "strategy",
        "--race-dir",
        dir,
        "--from-lap",
        "35",
        "--driver",
        "HAM",
        "--runs-per-plan",
        "20",
        "--lap-step",
        "6",
        "--json",
    ]);
    let s = ok_json(&out);
    assert!(
        s["window"].is_null() || s["window"]["best_lap"].as_u64().unwrap() > 35,
        "{}",
        s["window"]
    );
}

#[test]
fn without_json_the_monte_carlo_prints_a_table() {
    let params = canada_params();
    let out = boxbox(&[
        "montecarlo",
        "--params",
        params.to_str().unwrap(),
        "--runs",
        "300",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("Montreal, 70 laps: 300 races"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("driver") && lines[1].contains("5–95 % band"),
        "{text}"
    );
    assert_eq!(lines.len(), 22, "{text}");
}
