//! `boxbox report` as a user runs it: the real binary writes one self-contained HTML file per real race of
//! `shared/data/races` (charts as inline SVG, every classified driver, nothing loaded from the network), the same
//! seed gives the same bytes, and a folder that does not load fails with a message naming it.

// Test helpers outside #[test] functions may panic too: a panic is a test failure here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn races_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/races")
}

fn report(dir: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_boxbox"))
        .arg("report")
        .arg(dir)
        .arg("-o")
        .arg(out)
        .args(extra.iter().map(OsStr::new))
        .output()
        .unwrap()
}

fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asserts the report is a self-contained page: no script, no link or source attribute, no URL in CSS; the only
/// `http` is the SVG namespace, which is a name, not a download.
fn assert_self_contained(html: &str) {
    for needle in [
        "<script", "src=", "href=", "url(", "@import", "<link", "<iframe",
    ] {
        assert!(!html.contains(needle), "found {needle:?}");
    }
    let without_namespace = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(!without_namespace.contains("http://") && !without_namespace.contains("https://"));
}

#[test]
fn canada_gives_a_self_contained_report_with_every_classified_driver() {
    let dir = common::temp_dir("report-canada");
    let out = dir.join("canada.html");
    let race_dir = races_dir().join("2019_07_canada");
    let run = report(&race_dir, &out, &["--runs", "40", "--seed", "3"]);
    assert_success(&run);
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert!(stderr.contains(&out.display().to_string()), "{stderr}");
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..100]);
    assert!(html.trim_end().ends_with("</html>"));
    assert!(html.matches("<svg").count() >= 4, "four charts");
    assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
    assert_self_contained(&html);
    let race = boxbox_relay::source::race::load(&race_dir).unwrap();
    let classified: Vec<_> = race
        .drivers()
        .iter()
        .filter(|d| d.classification.position.is_some())
        .collect();
    assert!(classified.len() >= 18);
    for d in classified {
        assert!(html.contains(&format!("<b>{}</b>", d.code)), "{}", d.code);
    }
    for text in [
        "Grand Prix du Canada 2019",
        "Montreal",
        "2019-06-09",
        "Lewis Hamilton",
        "incl. 5 s penalty",
        "Race trace",
        "Lap times",
        "Tyre stints",
        "Pit stops",
        "The strategy model",
        "SIMULATION",
        "40 simulated finishes (seed 3)",
        "FastF1",
        "F1DB",
        "CC BY 4.0",
        "Armchair-Strategist (Apache-2.0)",
        "TUMFTM",
        "LGPL-3.0",
    ] {
        assert!(html.contains(text), "missing {text:?}");
    }
    // No temporary file is left beside the report.
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(files.len(), 1);

    // The same seed gives the same bytes, another seed another model section.
    let again = dir.join("again.html");
    assert_success(&report(&race_dir, &again, &["--runs", "40", "--seed", "3"]));
    assert!(
        std::fs::read(&again).unwrap() == html.as_bytes(),
        "same seed, same file"
    );
    let other = dir.join("other.html");
    assert_success(&report(&race_dir, &other, &["--runs", "40", "--seed", "4"]));
    assert!(std::fs::read(&other).unwrap() != html.as_bytes());
    // Writing over an existing report replaces it.
    assert_success(&report(&race_dir, &other, &["--runs", "40", "--seed", "3"]));
    assert!(std::fs::read(&other).unwrap() == html.as_bytes());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_shared_race_gives_a_report() {
    let dir = common::temp_dir("report-all");
    let mut names: Vec<String> = std::fs::read_dir(races_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("20"))
        .collect();
    names.sort();
    assert!(names.len() >= 13, "{names:?}");
    for name in names {
        let out = dir.join(format!("{name}.html"));
        assert_success(&report(&races_dir().join(&name), &out, &["--runs", "20"]));
        let html = std::fs::read_to_string(&out).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"), "{name}");
        assert!(html.matches("<svg").count() >= 4, "{name}");
        assert!(html.contains("simulated finishes"), "{name}: the model ran");
        assert_self_contained(&html);
        // Penalties served in the pit lane fitted no tyres: Monza 2019's three (Vettel, Stroll, Räikkönen) and one
        // drive-through each in China, Austria and Russia 2019.
        let penalties = match name.as_str() {
            "2019_14_italy" => 3,
            "2019_03_china" | "2019_09_austria" | "2019_16_russia" => 1,
            _ => 0,
        };
        assert_eq!(
            html.matches("no tyres (penalty)").count(),
            penalties,
            "{name}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_folder_that_does_not_load_fails_with_a_message_naming_it() {
    let dir = common::temp_dir("report-bad");
    let out = dir.join("r.html");
    let missing = races_dir().join("1950_01_silverstone");
    let run = report(&missing, &out, &[]);
    assert!(!run.status.success());
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert!(stderr.contains("1950_01_silverstone"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!out.exists());

    // A folder with the laps but not the f1db race file names the file.
    let partial = dir.join("partial");
    std::fs::create_dir_all(&partial).unwrap();
    std::fs::copy(
        races_dir()
            .join("2019_07_canada")
            .join(boxbox_engine::race::LAPS_CSV),
        partial.join(boxbox_engine::race::LAPS_CSV),
    )
    .unwrap();
    let run = report(&partial, &out, &[]);
    assert!(!run.status.success());
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert!(
        stderr.contains("f1db_race.csv") && stderr.contains(&partial.display().to_string()),
        "{stderr}"
    );
    assert!(!out.exists());

    // An output folder that does not exist is named too.
    let nowhere = dir.join("no/such/folder/r.html");
    let run = report(
        &races_dir().join("2019_07_canada"),
        &nowhere,
        &["--runs", "5"],
    );
    assert!(!run.status.success());
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert!(stderr.contains("no/such/folder/r.html"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
