//! What the engine's integration tests share: the real races of `shared/data/races`, loaded from the repository's
//! sibling `shared` folder.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use boxbox_engine::race::{FILE_NAMES, RaceFiles, RealRace};

/// `shared/data/races`, next to the repository.
pub fn races_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/races")
}

/// Every race folder (`20*`), sorted by name, parsed.
pub fn races() -> Vec<(String, RealRace)> {
    let mut names: Vec<String> = std::fs::read_dir(races_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("20"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let files = FILE_NAMES
                .map(|f| std::fs::read_to_string(races_dir().join(&name).join(f)).unwrap());
            let [a, b, c, d, e] = &files;
            let race = RealRace::parse(&RaceFiles::from_array([a, b, c, d, e])).unwrap();
            (name, race)
        })
        .collect()
}
