//! `boxbox backtest` as a user runs it: the real binary on two real races of `shared/data/races` prints one JSON
//! object per race (the twins' scores, the final-order errors from half distance, the strategies driven) and the
//! pooled summary; a folder that does not load is named on stderr and the exit code is 1.

// Test helpers outside #[test] functions may panic too: a panic is a test failure here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn race_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/races")
        .join(name)
}

fn backtest(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_boxbox"))
        .arg("backtest")
        .args(args)
        .output()
        .unwrap()
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn finite(v: &serde_json::Value, field: &str) -> f64 {
    let x = v[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} is not a number: {v}"));
    assert!(x.is_finite(), "{field}: {v}");
    x
}

#[test]
fn two_real_races_print_a_line_each_and_the_summary() {
    let canada = race_dir("2019_07_canada");
    let monaco = race_dir("2019_06_monaco");
    let out = backtest(&[
        "--json".as_ref(),
        "--strategy-runs".as_ref(),
        "10".as_ref(),
        canada.as_ref(),
        monaco.as_ref(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    for (line, name) in lines.iter().zip(["2019_07_canada", "2019_06_monaco"]) {
        assert_eq!(line["race"], name);
        for field in [
            "laptime_rmse_s",
            "laptime_rmse_baseline_s",
            "pit_lap_within_1",
            "pit_calls",
        ] {
            finite(line, field);
        }
        assert!(finite(line, "laptime_rmse_s") > 0.0, "{line}");
        assert!(finite(line, "pit_calls") > 0.0, "{line}");
        let within = finite(line, "pit_lap_within_1");
        assert!((0.0..=1.0).contains(&within), "{line}");
        for field in ["final_order_mae", "final_order_mae_baseline"] {
            assert!(finite(line, field) >= 0.0, "{line}");
        }
        let strategies = line["strategies"].as_array().unwrap();
        assert_eq!(strategies.len(), 20, "{line}");
        assert!(
            strategies
                .iter()
                .all(|s| s["code"].is_string() && s["real"].is_string()),
            "{line}"
        );
        // Finishers are reviewed: the model's best and the places it is expected to gain (never negative).
        let reviewed: Vec<_> = strategies.iter().filter_map(|s| s.get("review")).collect();
        assert!(reviewed.len() >= 10, "{line}");
        for r in reviewed {
            assert!(r["best"].is_string(), "{r}");
            assert!(finite(r, "expected_gain_places") >= 0.0, "{r}");
        }
    }
    let summary = &lines[2]["summary"];
    assert_eq!(summary["races"], 2, "{summary}");
    assert!(finite(summary, "strategies_reviewed") >= 20.0, "{summary}");
    assert!(finite(summary, "strategy_gain_places") >= 0.0, "{summary}");
    for field in [
        "laptime_rmse_s",
        "laptime_rmse_baseline_s",
        "pit_lap_within_1",
        "pit_calls",
        "final_order_mae",
        "final_order_mae_baseline",
    ] {
        finite(summary, field);
    }
    let mean = (finite(&lines[0], "final_order_mae") + finite(&lines[1], "final_order_mae")) / 2.0;
    assert!(
        (finite(summary, "final_order_mae") - mean).abs() < 1e-9,
        "{summary}"
    );
    assert_eq!(
        summary["pit_calls"].as_u64(),
        Some(lines[0]["pit_calls"].as_u64().unwrap() + lines[1]["pit_calls"].as_u64().unwrap())
    );
}

#[test]
fn a_bad_folder_is_named_on_stderr_the_others_still_run_and_the_exit_code_is_1() {
    let missing = race_dir("1950_01_silverstone");
    // A folder that exists but lacks the f1db race file.
    let partial =
        std::env::temp_dir().join(format!("boxbox-backtest-partial-{}", std::process::id()));
    std::fs::create_dir_all(&partial).unwrap();
    std::fs::copy(
        race_dir("2019_07_canada").join(boxbox_engine::race::LAPS_CSV),
        partial.join(boxbox_engine::race::LAPS_CSV),
    )
    .unwrap();
    let canada = race_dir("2019_07_canada");
    let out = backtest(&[
        "--json".as_ref(),
        "--strategy-runs".as_ref(),
        "0".as_ref(),
        missing.as_ref(),
        canada.as_ref(),
        partial.as_ref(),
    ]);
    std::fs::remove_dir_all(&partial).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    assert!(stderr.contains("1950_01_silverstone"), "{stderr}");
    assert!(
        stderr.contains(&partial.display().to_string()) && stderr.contains("f1db_race.csv"),
        "{stderr}"
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert_eq!(lines[0]["race"], "2019_07_canada");
    assert_eq!(lines[1]["summary"]["races"], 1);
}

#[test]
fn without_json_it_prints_a_table() {
    let canada = race_dir("2019_07_canada");
    let out = backtest(&["--strategy-runs".as_ref(), "5".as_ref(), canada.as_ref()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("race")
            && lines[0].contains("RMSE twin")
            && lines[0].contains("order MC"),
        "{text}"
    );
    assert!(lines[1].ends_with(" pl"), "{text}");
    assert!(lines[1].starts_with("2019_07_canada"), "{text}");
    // A line per reviewed finisher under the race, then the summary and the strategies' line.
    let reviewed: Vec<&&str> = lines[2..]
        .iter()
        .take_while(|l| l.starts_with("  "))
        .collect();
    assert!(reviewed.len() >= 10, "{text}");
    assert!(
        reviewed
            .iter()
            .all(|l| l.contains(" best ") && l.contains(" pl ")),
        "{text}"
    );
    let rest = &lines[2 + reviewed.len()..];
    assert_eq!(rest.len(), 2, "{text}");
    assert!(rest[0].starts_with("all 1 race "), "{text}");
    assert!(
        rest[1].starts_with(&format!(
            "strategies: {} finishers reviewed",
            reviewed.len()
        )),
        "{text}"
    );
}
