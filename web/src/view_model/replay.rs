//! The offline replay's controls as data: the page's query (`?replay=URL&t=SECONDS` for a recording,
//! `?race=URL&t=SECONDS` for a race folder), which files picked from disk are a recording or a race folder, the
//! speeds, the transport (how far a tick of the page's clock moves the play head), the replay clock and the note on
//! what was skipped. Pure, tested natively; `replay` (wasm only) wires it to the page.

use boxbox_engine::race::FILE_NAMES;

use crate::timeline::Skipped;

/// The speeds offered, in replay seconds per real second.
pub const SPEEDS: [f64; 7] = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0];

/// The speed a replay starts at.
pub const DEFAULT_SPEED: f64 = 10.0;

/// Longest real time one tick may move the play head by, in milliseconds: a tab in the background gets few timer
/// ticks, and catching up on minutes of recording at once would freeze the page for nothing.
pub const MAX_TICK_MS: f64 = 1000.0;

/// What an offline replay plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayKind {
    /// A libpcap recording of the game's telemetry (`?replay=URL`).
    Recording,
    /// A race folder of `shared/data/races`, its five CSV files named by [`FILE_NAMES`] (`?race=URL`).
    RaceFolder,
}

impl ReplayKind {
    /// The page's query key that names such a replay's URL.
    pub fn query_key(self) -> &'static str {
        match self {
            ReplayKind::Recording => "replay",
            ReplayKind::RaceFolder => "race",
        }
    }
}

/// A replay opened from a URL, which a share link can point to again.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplaySource {
    /// A recording or a race folder.
    pub kind: ReplayKind,
    /// The recording's or the folder's URL (relative to the page, or absolute), percent-decoded.
    pub url: String,
}

/// A replay asked for in the page's query.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayQuery {
    /// What to replay, and where it is.
    pub source: ReplaySource,
    /// Where to start, in seconds of replay time (`t=`); the first race state when absent.
    pub start_s: Option<f64>,
}

impl ReplayQuery {
    /// Reads `?replay=URL[&t=SECONDS]` or `?race=URL[&t=SECONDS]` from a query string (`location.search`, with or
    /// without the `?`); `replay` wins when both are given. `None` without a non-empty `replay` or `race`; a `t`
    /// that is not a non-negative number is ignored.
    pub fn parse(search: &str) -> Option<ReplayQuery> {
        let mut recording = None;
        let mut race = None;
        let mut start_s = None;
        for pair in search.trim_start_matches('?').split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "replay" => recording = Some(percent_decode(value)),
                "race" => race = Some(percent_decode(value)),
                "t" => {
                    start_s = super::parse_number(&percent_decode(value))
                        .filter(|t| t.is_finite() && *t >= 0.0);
                }
                _ => {}
            }
        }
        let non_empty = |url: Option<String>| url.filter(|u| !u.trim().is_empty());
        let source = match (non_empty(recording), non_empty(race)) {
            (Some(url), _) => ReplaySource {
                kind: ReplayKind::Recording,
                url,
            },
            (None, Some(url)) => ReplaySource {
                kind: ReplayKind::RaceFolder,
                url,
            },
            (None, None) => return None,
        };
        Some(ReplayQuery { source, start_s })
    }
}

/// The URL of the file `name` of the race folder at `folder_url`: the name appended to the folder's path, before
/// any query or fragment (`/races/x?token=r` → `/races/x/f1db_race.csv?token=r`).
pub fn race_file_url(folder_url: &str, name: &str) -> String {
    let cut = folder_url.find(['?', '#']).unwrap_or(folder_url.len());
    let (path, rest) = folder_url.split_at(cut);
    format!("{}/{name}{rest}", path.trim_end_matches('/'))
}

/// What files picked from disk are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pick {
    /// A recording: the index of the file.
    Recording(usize),
    /// A race folder: the index of the file of each of [`FILE_NAMES`], in that order.
    RaceFolder([usize; 5]),
}

/// Why files picked from disk cannot be replayed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PickError {
    /// Nothing was picked (the dialog was cancelled, or the folder is empty).
    #[error("no file picked")]
    Nothing,
    /// Several files, none of them a race folder's.
    #[error("{0} files picked: pick one recording (.pcap), or a race folder or its five CSV files")]
    Several(usize),
    /// Files of a race folder, but not all five: the missing ones, in the order of [`FILE_NAMES`].
    #[error("the race folder lacks {}", .0.join(", "))]
    Missing(Vec<&'static str>),
    /// A race folder's file picked more than once (a folder of race folders, or files from several).
    #[error("{count} files are named {name}: pick one race folder")]
    Duplicate {
        /// The file's name (one of [`FILE_NAMES`]).
        name: &'static str,
        /// How many were picked.
        count: usize,
    },
}

/// What the picked files are, from their paths (a file's path within a picked folder, `webkitRelativePath`, or
/// just its name). They are a race folder when any is a CSV file (`.csv`, or named like one of [`FILE_NAMES`]):
/// its five files are matched by name wherever they are in the folder and the others (a README, a licence,
/// `f1db_raw/*.yml`) are ignored. Otherwise a single file is a recording.
///
/// # Errors
/// [`PickError`]: nothing picked, several files that are not a race folder, or a race folder that lacks a file or
/// holds one twice.
pub fn classify_pick(paths: &[&str]) -> Result<Pick, PickError> {
    let names: Vec<&str> = paths.iter().map(|p| file_name(p)).collect();
    let is_csv =
        |name: &&str| FILE_NAMES.contains(name) || name.to_ascii_lowercase().ends_with(".csv");
    if !names.iter().any(is_csv) {
        return match names.len() {
            0 => Err(PickError::Nothing),
            1 => Ok(Pick::Recording(0)),
            n => Err(PickError::Several(n)),
        };
    }
    let mut found = [0; 5];
    let mut missing = Vec::new();
    for (slot, wanted) in found.iter_mut().zip(FILE_NAMES) {
        let mut at = names.iter().enumerate().filter(|(_, n)| **n == wanted);
        match (at.next(), at.count()) {
            (Some((k, _)), 0) => *slot = k,
            (Some(_), more) => {
                return Err(PickError::Duplicate {
                    name: wanted,
                    count: more + 1,
                });
            }
            (None, _) => missing.push(wanted),
        }
    }
    if missing.is_empty() {
        Ok(Pick::RaceFolder(found))
    } else {
        Err(PickError::Missing(missing))
    }
}

/// The last component of a path (`/` or `\` separated).
pub fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// The name of the folder a picked file is in (`2019_07_canada/laps.csv` → `2019_07_canada`); `None` for a file
/// picked by itself.
pub fn folder_name(path: &str) -> Option<&str> {
    let (folder, _) = path.rsplit_once(['/', '\\'])?;
    Some(file_name(folder)).filter(|f| !f.is_empty())
}

/// `%XX` escapes and `+` (a space in a query) decoded; an escape that is not valid UTF-8 or not hex is kept as is.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut k = 0;
    while k < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match bytes[k] {
            b'%' if k + 2 < bytes.len() => match (hex(bytes[k + 1]), hex(bytes[k + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push((hi * 16 + lo) as u8);
                    k += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        k += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

/// Play or pause, the speed, and the page time of the last tick.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transport {
    /// Playing (else paused).
    pub playing: bool,
    /// Replay seconds per real second.
    pub speed: f64,
    /// Page time of the last tick while playing, in milliseconds.
    last_ms: Option<f64>,
}

impl Transport {
    /// Paused at [`DEFAULT_SPEED`].
    pub fn new() -> Self {
        Transport {
            playing: false,
            speed: DEFAULT_SPEED,
            last_ms: None,
        }
    }

    /// Starts or stops playing; the next tick after a start moves nothing (time paused does not count).
    pub fn set_playing(&mut self, playing: bool) {
        self.playing = playing;
        self.last_ms = None;
    }

    /// A tick of the page's clock at `now_ms`: how many seconds of recording to move the play head by.
    pub fn tick(&mut self, now_ms: f64) -> f64 {
        if !self.playing {
            return 0.0;
        }
        let Some(last) = self.last_ms.replace(now_ms) else {
            return 0.0;
        };
        // A clock that went back moves nothing.
        (now_ms - last).clamp(0.0, MAX_TICK_MS) / 1000.0 * self.speed
    }
}

impl Default for Transport {
    fn default() -> Self {
        Transport::new()
    }
}

/// A replay time as `m:ss` or `h:mm:ss` (whole seconds, rounded down).
pub fn clock(s: f64) -> String {
    let s = if s.is_finite() { s.max(0.0) as u64 } else { 0 };
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// A speed as `10×`.
pub fn speed_label(speed: f64) -> String {
    format!("{speed}×")
}

/// What opening the recording left out, in one line; `None` when nothing was.
pub fn skipped_note(skipped: &Skipped) -> Option<String> {
    let mut parts = Vec::new();
    let n = skipped.n_malformed();
    if n > 0 {
        let kinds = skipped
            .malformed
            .iter()
            .map(|(kind, k)| format!("{kind} {k}"))
            .collect::<Vec<_>>()
            .join(", ");
        let s = if n == 1 { "" } else { "s" };
        parts.push(format!("{n} malformed datagram{s} skipped ({kinds})"));
    }
    if skipped.other_frames > 0 {
        parts.push(format!(
            "{} non-UDP frame{} left out",
            skipped.other_frames,
            if skipped.other_frames == 1 { "" } else { "s" }
        ));
    }
    if skipped.truncated_tail {
        parts.push("the file ends inside a record; played up to it".to_owned());
    }
    (!parts.is_empty()).then(|| parts.join(" · "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recording(url: &str, start_s: Option<f64>) -> Option<ReplayQuery> {
        Some(ReplayQuery {
            source: ReplaySource {
                kind: ReplayKind::Recording,
                url: url.into(),
            },
            start_s,
        })
    }

    fn race(url: &str, start_s: Option<f64>) -> Option<ReplayQuery> {
        Some(ReplayQuery {
            source: ReplaySource {
                kind: ReplayKind::RaceFolder,
                url: url.into(),
            },
            start_s,
        })
    }

    #[test]
    fn the_query_names_a_recording_and_a_start() {
        assert_eq!(
            ReplayQuery::parse("?replay=/x.pcap&t=600"),
            recording("/x.pcap", Some(600.0))
        );
        assert_eq!(
            ReplayQuery::parse("workers=2&replay=http%3A%2F%2Fhost%2Fa%20b.pcap&t=-1"),
            recording("http://host/a b.pcap", None)
        );
        assert_eq!(ReplayQuery::parse("?t=5"), None);
        assert_eq!(ReplayQuery::parse("?replay="), None);
        assert_eq!(ReplayQuery::parse(""), None);
        assert_eq!(
            ReplayQuery::parse("?replay=x&t=abc").map(|q| q.start_s),
            Some(None)
        );
    }

    #[test]
    fn the_query_names_a_race_folder_and_a_start() {
        assert_eq!(
            ReplayQuery::parse("?race=/races/2019_07_canada&t=2700"),
            race("/races/2019_07_canada", Some(2700.0))
        );
        assert_eq!(
            ReplayQuery::parse("view=strategy&race=https%3A%2F%2Fdata.example%2Fraces%2Fa%20b%2F"),
            race("https://data.example/races/a b/", None)
        );
        assert_eq!(ReplayQuery::parse("?race=&t=3"), None);
        assert_eq!(ReplayQuery::parse("?race=%20"), None);
        // Both: the recording is played; an empty one does not hide the race.
        assert_eq!(
            ReplayQuery::parse("?race=/r&replay=/x.pcap"),
            recording("/x.pcap", None)
        );
        assert_eq!(
            ReplayQuery::parse("?replay=&race=/r&t=1.5"),
            race("/r", Some(1.5))
        );
        assert_eq!(ReplayKind::Recording.query_key(), "replay");
        assert_eq!(ReplayKind::RaceFolder.query_key(), "race");
    }

    #[test]
    fn a_race_files_url_is_the_folder_and_the_name() {
        assert_eq!(
            race_file_url("/races/2019_07_canada", "f1db_race.csv"),
            "/races/2019_07_canada/f1db_race.csv"
        );
        assert_eq!(
            race_file_url("http://h/races/x/", "f1db_race.csv"),
            "http://h/races/x/f1db_race.csv"
        );
        assert_eq!(
            race_file_url("/api/v1/races/x?token=r#top", "f1db_race.csv"),
            "/api/v1/races/x/f1db_race.csv?token=r#top"
        );
        // The token rule sees the file's URL as it sees a recording's.
        let url = race_file_url("/api/v1/races/x", "f1db_race.csv");
        assert_eq!(
            crate::view_model::share::bearer_for(&url, Some("t")).as_deref(),
            Some("Bearer t")
        );
        let url = race_file_url("http://elsewhere/races/x", "f1db_race.csv");
        assert_eq!(crate::view_model::share::bearer_for(&url, Some("t")), None);
    }

    #[test]
    fn picked_files_are_a_recording_or_a_race_folder() {
        assert_eq!(classify_pick(&["lap1.pcap"]), Ok(Pick::Recording(0)));
        assert_eq!(classify_pick(&["whatever.bin"]), Ok(Pick::Recording(0)));
        assert_eq!(classify_pick(&[]), Err(PickError::Nothing));
        assert_eq!(
            classify_pick(&["a.pcap", "b.pcap"]),
            Err(PickError::Several(2))
        );
        // The five files picked by themselves, in any order.
        let shuffled = [
            "f1db_starting_grid_positions.csv",
            "f1db_race.csv",
            "laps_fastf1_armchair.csv",
            "f1db_pit_stops.csv",
            "f1db_race_results.csv",
        ];
        assert_eq!(
            classify_pick(&shuffled),
            Ok(Pick::RaceFolder([2, 1, 4, 3, 0]))
        );
        // A whole folder (webkitdirectory): the other files, a licence and the raw f1db YAML are left out.
        let folder = [
            "2019_07_canada/f1db_raw/race.yml",
            "2019_07_canada/LICENSE",
            "2019_07_canada/laps_fastf1_armchair.csv",
            "2019_07_canada/f1db_fastest_laps.csv",
            "2019_07_canada/f1db_race.csv",
            "2019_07_canada/f1db_race_results.csv",
            "2019_07_canada/f1db_pit_stops.csv",
            "2019_07_canada/f1db_starting_grid_positions.csv",
            "2019_07_canada/tumftm_pars_Montreal_2019.ini",
        ];
        assert_eq!(
            classify_pick(&folder),
            Ok(Pick::RaceFolder([2, 4, 5, 6, 7]))
        );
        assert_eq!(folder_name(folder[2]), Some("2019_07_canada"));
        assert_eq!(
            folder_name("races/2019_07_canada/f1db_race.csv"),
            Some("2019_07_canada")
        );
        assert_eq!(folder_name("C:\\data\\x\\f1db_race.csv"), Some("x"));
        assert_eq!(folder_name("f1db_race.csv"), None);
        assert_eq!(folder_name("/f1db_race.csv"), None);
    }

    #[test]
    fn a_race_folder_missing_a_file_or_holding_one_twice_is_named() {
        let missing = classify_pick(&[
            "x/laps_fastf1_armchair.csv",
            "x/f1db_race_results.csv",
            "x/f1db_starting_grid_positions.csv",
            "x/README.txt",
        ])
        .unwrap_err();
        assert_eq!(
            missing,
            PickError::Missing(vec!["f1db_race.csv", "f1db_pit_stops.csv"])
        );
        assert_eq!(
            missing.to_string(),
            "the race folder lacks f1db_race.csv, f1db_pit_stops.csv"
        );
        // Some other CSV file: a race folder without any of its files.
        assert_eq!(
            classify_pick(&["notes.CSV"]),
            Err(PickError::Missing(FILE_NAMES.to_vec()))
        );
        // A folder of race folders.
        let mut two = Vec::new();
        for race in ["a", "b"] {
            two.extend(FILE_NAMES.map(|n| format!("races/{race}/{n}")));
        }
        let two: Vec<&str> = two.iter().map(String::as_str).collect();
        let twice = classify_pick(&two).unwrap_err();
        assert_eq!(
            twice,
            PickError::Duplicate {
                name: "laps_fastf1_armchair.csv",
                count: 2
            }
        );
        assert_eq!(
            twice.to_string(),
            "2 files are named laps_fastf1_armchair.csv: pick one race folder"
        );
    }

    #[test]
    fn percent_decoding_keeps_what_is_not_an_escape() {
        assert_eq!(percent_decode("a%2Fb+c"), "a/b c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%C3%A9"), "é");
        assert_eq!(percent_decode("%FF"), "%FF");
    }

    #[test]
    fn the_transport_moves_by_real_time_times_speed_only_while_playing() {
        let mut t = Transport::new();
        assert_eq!(t.tick(0.0), 0.0);
        t.set_playing(true);
        assert_eq!(
            t.tick(1000.0),
            0.0,
            "the first tick after play starts the clock"
        );
        assert_eq!(t.tick(1100.0), 0.1 * DEFAULT_SPEED);
        t.speed = 2.0;
        assert_eq!(t.tick(1600.0), 1.0);
        // A long gap (a hidden tab) counts at most MAX_TICK_MS; a clock going back counts nothing.
        assert_eq!(t.tick(61_600.0), 2.0);
        assert_eq!(t.tick(60_000.0), 0.0);
        t.set_playing(false);
        assert_eq!(t.tick(70_000.0), 0.0);
        t.set_playing(true);
        assert_eq!(t.tick(80_000.0), 0.0, "paused time does not count");
    }

    #[test]
    fn clocks_and_notes_read_well() {
        assert_eq!(clock(0.0), "0:00");
        assert_eq!(clock(75.9), "1:15");
        assert_eq!(clock(5725.0), "1:35:25");
        assert_eq!(clock(f64::NAN), "0:00");
        assert_eq!(speed_label(10.0), "10×");
        assert_eq!(speed_label(1.0), "1×");
        assert_eq!(skipped_note(&Skipped::default()), None);
        let mut skipped = Skipped::default();
        skipped.malformed.insert("truncated", 2);
        skipped.malformed.insert("wrong_length", 1);
        skipped.truncated_tail = true;
        assert_eq!(
            skipped_note(&skipped).unwrap(),
            "3 malformed datagrams skipped (truncated 2, wrong_length 1) · the file ends inside a record; played up to it"
        );
    }
}
