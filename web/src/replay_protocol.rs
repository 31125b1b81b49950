//! The offline replay's worker protocol: the page sends commands (open a recording or a race folder, advance,
//! seek), a replay worker decodes and plays the [`Timeline`] and answers like a relay, so the decoding never holds
//! the page's thread and its code (pcap, packet decoding, the normalizer, the race import) is not in the app's
//! bundle. Pure, tested natively; `replay_worker` (wasm only) is the page's side, `web/worker` the worker's shell.
//!
//! Framing (text messages): a command is [`REPLAY_PREFIX`] then its JSON; a recording's bytes travel beside it as
//! an `ArrayBuffer` (the page posts `[command, buffer]`). An answer is the [`ReplayHeader`]'s JSON, a newline, then
//! what a relay would have sent: a `snapshot` after an open or a seek (with the laps completed so far, so the page's
//! twins restart there), a `delta` after a step that changed the race, or nothing. The page feeds that part to the
//! same code as the relay's WebSocket ([`crate::relay_message::decode`], then the live feed's `apply`).

use boxbox_engine::protocol::{ServerMessage, diff};
use boxbox_engine::race::RaceFiles;
use boxbox_engine::wire::RaceState;
use serde::{Deserialize, Serialize};

use crate::timeline::{OpenError, Timeline};
use crate::view_model::replay::skipped_note;

/// What starts a replay command's text (a strategy job's JSON never does).
pub const REPLAY_PREFIX: &str = "replay:";

/// A command from the page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReplayCommand {
    /// Opens the recording whose bytes come with the message, at `start_s` (its first race state by default).
    OpenRecording {
        /// Names it in messages (a file name or an address without its query).
        label: String,
        /// Where to start, in seconds of replay time.
        start_s: Option<f64>,
    },
    /// Imports a race folder's five files (in the order of `engine::race::FILE_NAMES`), at `start_s`.
    OpenRace {
        /// Names it in messages until the race's own name is known.
        label: String,
        /// The files' contents.
        files: Vec<String>,
        /// Where to start, in seconds of replay time.
        start_s: Option<f64>,
    },
    /// Moves the play head `step_s` seconds forward.
    Advance {
        /// Replay seconds.
        step_s: f64,
    },
    /// Moves the play head to `t_s`, forwards or backwards.
    Seek {
        /// Replay time, seconds.
        t_s: f64,
    },
}

impl ReplayCommand {
    /// The command as the text the page posts.
    pub fn to_text(&self) -> String {
        // Serializing an enum of strings and numbers cannot fail.
        format!(
            "{REPLAY_PREFIX}{}",
            serde_json::to_string(self).unwrap_or_default()
        )
    }
}

/// The first line of every answer: where the play head is and, after an open, what was opened.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplayHeader {
    /// The command failed: why, for the screen (the replay stays as it was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// After an open: the name to show (the race's official name, else the label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// After an open: what was skipped, in one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The replay's length, seconds.
    pub duration_s: f64,
    /// Replay time of the first race state, seconds.
    pub first_state_s: f64,
    /// The play head, seconds.
    pub position_s: f64,
    /// The play head is at the end.
    pub at_end: bool,
}

/// The worker's side: the timeline and what the page was last sent, to answer with deltas.
#[derive(Debug, Default)]
pub struct ReplaySession {
    timeline: Option<Timeline>,
    /// The state the page holds, numbered `seq`.
    sent: Option<RaceState>,
    seq: u64,
}

impl ReplaySession {
    /// No replay open.
    pub fn new() -> Self {
        ReplaySession::default()
    }

    /// Handles a command's text (after [`REPLAY_PREFIX`]) with the recording's bytes when it has some; returns
    /// the answer's text.
    pub fn handle_text(&mut self, json: &str, bytes: Option<Vec<u8>>) -> String {
        match serde_json::from_str::<ReplayCommand>(json) {
            Ok(command) => self.handle(command, bytes),
            Err(e) => failed(&format!("not a replay command: {e}")),
        }
    }

    /// Handles a command; returns the answer's text.
    pub fn handle(&mut self, command: ReplayCommand, bytes: Option<Vec<u8>>) -> String {
        match command {
            ReplayCommand::OpenRecording { label, start_s } => {
                let opened = match bytes {
                    Some(bytes) => Timeline::open(&bytes),
                    None => return failed(&format!("{label}: no bytes came with the recording")),
                };
                self.open(label, start_s, opened)
            }
            ReplayCommand::OpenRace {
                label,
                files,
                start_s,
            } => {
                let Ok(files) = <[String; 5]>::try_from(files) else {
                    return failed(&format!("{label}: a race folder is five files"));
                };
                let files = RaceFiles::from_array(files.each_ref().map(String::as_str));
                self.open(label, start_s, Timeline::open_race(&files))
            }
            ReplayCommand::Advance { step_s } => {
                let Some(timeline) = self.timeline.as_mut() else {
                    return failed("no replay is open");
                };
                let target = timeline.position_s() + step_s.max(0.0);
                let applied = timeline.advance_to(target);
                let message = if applied > 0 { self.delta() } else { None };
                self.answer(ReplayHeader::default(), message)
            }
            ReplayCommand::Seek { t_s } => {
                let Some(timeline) = self.timeline.as_mut() else {
                    return failed("no replay is open");
                };
                timeline.seek(t_s);
                let message = self.snapshot();
                self.answer(ReplayHeader::default(), message)
            }
        }
    }

    fn open(
        &mut self,
        label: String,
        start_s: Option<f64>,
        opened: Result<Timeline, OpenError>,
    ) -> String {
        let mut timeline = match opened {
            Ok(t) => t,
            Err(e) => return failed(&format!("{label}: {e}")),
        };
        timeline.seek(start_s.unwrap_or_else(|| timeline.first_state_s()));
        let header = ReplayHeader {
            name: Some(timeline.race_name().map_or(label, str::to_owned)),
            note: skipped_note(timeline.skipped()),
            ..ReplayHeader::default()
        };
        self.timeline = Some(timeline);
        let message = self.snapshot();
        self.answer(header, message)
    }

    /// The state at the play head as a snapshot with the laps so far; the next delta follows it.
    fn snapshot(&mut self) -> Option<ServerMessage> {
        let timeline = self.timeline.as_ref()?;
        let state = timeline.state()?;
        self.seq += 1;
        self.sent = Some(state.clone());
        Some(ServerMessage::Snapshot {
            seq: self.seq,
            state,
            history: timeline.history(),
        })
    }

    /// What changed since the state last sent; a snapshot when none was sent.
    fn delta(&mut self) -> Option<ServerMessage> {
        let state = self.timeline.as_ref()?.state()?;
        let Some(sent) = self.sent.as_ref() else {
            return self.snapshot();
        };
        let delta = diff(sent, &state)?;
        self.seq += 1;
        self.sent = Some(state);
        Some(ServerMessage::Delta {
            seq: self.seq,
            delta,
        })
    }

    fn answer(&self, mut header: ReplayHeader, message: Option<ServerMessage>) -> String {
        if let Some(t) = &self.timeline {
            header.duration_s = t.duration_s();
            header.first_state_s = t.first_state_s();
            header.position_s = t.position_s();
            header.at_end = t.at_end();
        }
        frame(&header, message.as_ref())
    }
}

/// An answer saying why a command failed.
fn failed(why: &str) -> String {
    frame(
        &ReplayHeader {
            error: Some(why.to_owned()),
            ..ReplayHeader::default()
        },
        None,
    )
}

fn frame(header: &ReplayHeader, message: Option<&ServerMessage>) -> String {
    // Serializing plain data (no maps with non-string keys) cannot fail; an empty part reads as "nothing".
    let mut text = serde_json::to_string(header).unwrap_or_default();
    text.push('\n');
    if let Some(message) = message {
        text.push_str(&serde_json::to_string(message).unwrap_or_default());
    }
    text
}

/// Splits an answer into its header and the relay message's text (empty when there is none).
///
/// # Errors
/// The header is not JSON (not an answer of this protocol).
pub fn split_answer(text: &str) -> Result<(ReplayHeader, &str), String> {
    let (head, message) = text.split_once('\n').unwrap_or((text, ""));
    let header =
        serde_json::from_str(head).map_err(|e| format!("unreadable replay answer: {e}"))?;
    Ok((header, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use boxbox_engine::protocol::Replica;

    fn canada() -> Vec<String> {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/races/2019_07_canada/"
        );
        boxbox_engine::race::FILE_NAMES
            .iter()
            .map(|name| {
                std::fs::read_to_string(format!("{dir}{name}"))
                    .unwrap_or_else(|e| panic!("{name}: {e}"))
            })
            .collect()
    }

    /// Applies an answer's message to a replica as the page does; the header comes back.
    fn apply(replica: &mut Replica, text: &str) -> ReplayHeader {
        let (header, message) = split_answer(text).unwrap();
        if !message.is_empty() {
            let message = crate::relay_message::decode(message).unwrap();
            replica.receive(&message).unwrap();
        }
        header
    }

    #[test]
    fn a_race_folder_plays_as_snapshot_then_deltas_that_rebuild_each_state() {
        let mut session = ReplaySession::new();
        let open = ReplayCommand::OpenRace {
            label: "canada".into(),
            files: canada(),
            start_s: Some(2700.0),
        };
        // Through the text the page posts.
        let text = open.to_text();
        let json = text.strip_prefix(REPLAY_PREFIX).unwrap();
        let mut replica = Replica::new();
        let header = apply(&mut replica, &session.handle_text(json, None));
        assert_eq!(header.error, None);
        assert_eq!(
            header.name.as_deref(),
            Some("Formula 1 Pirelli Grand Prix du Canada 2019")
        );
        assert!((2690.0..=2700.0).contains(&header.position_s), "{header:?}");
        assert!(header.duration_s > 5000.0 && !header.at_end);
        let lap_then = replica.latest().unwrap().1.session.leader_lap;

        // Steps: each answer's delta turns the page's state into the worker's.
        let files: [String; 5] = canada().try_into().unwrap();
        let mut reference =
            Timeline::open_race(&RaceFiles::from_array(files.each_ref().map(String::as_str)))
                .unwrap();
        reference.seek(2700.0);
        let mut deltas = 0;
        for _ in 0..200 {
            let answer = session.handle(ReplayCommand::Advance { step_s: 7.0 }, None);
            deltas += usize::from(!split_answer(&answer).unwrap().1.is_empty());
            let header = apply(&mut replica, &answer);
            reference.advance_to(reference.position_s() + 7.0);
            assert_eq!(header.position_s, reference.position_s());
            assert_eq!(replica.latest().map(|l| l.1), reference.state().as_ref());
        }
        assert!(deltas > 100, "{deltas} deltas in 200 steps");
        assert!(replica.latest().unwrap().1.session.leader_lap > lap_then);

        // A seek back: a snapshot with the laps so far.
        let answer = session.handle(ReplayCommand::Seek { t_s: 600.0 }, None);
        let (header, message) = split_answer(&answer).unwrap();
        assert!(header.position_s <= 600.0);
        let ServerMessage::Snapshot { history, state, .. } =
            crate::relay_message::decode(message).unwrap()
        else {
            panic!("a seek answers with a snapshot")
        };
        assert!(!history.is_empty());
        assert!(
            history
                .iter()
                .all(|r| r.lap < state.session.leader_lap.max(1))
        );
        apply(&mut replica, &answer);
        assert_eq!(replica.latest().map(|l| l.1), Some(&state));
    }

    #[test]
    fn bad_commands_and_files_are_answered_with_an_error() {
        let mut session = ReplaySession::new();
        let error = |text: &str| split_answer(text).unwrap().0.error.unwrap_or_default();
        assert_eq!(
            error(&session.handle(ReplayCommand::Advance { step_s: 1.0 }, None)),
            "no replay is open"
        );
        assert!(
            error(&session.handle_text("{\"type\":\"fly\"}", None))
                .starts_with("not a replay command")
        );
        let pcap = ReplayCommand::OpenRecording {
            label: "x.pcap".into(),
            start_s: None,
        };
        assert!(error(&session.handle(pcap.clone(), None)).contains("no bytes"));
        let not_pcap = session.handle(pcap, Some(b"lap,driver\n1,HAM\n".to_vec()));
        assert!(
            error(&not_pcap).starts_with("x.pcap: this is not a recording"),
            "{not_pcap}"
        );
        let four = ReplayCommand::OpenRace {
            label: "r".into(),
            files: vec![String::new(); 4],
            start_s: None,
        };
        assert!(error(&session.handle(four, None)).contains("five files"));
        let mut torn = canada();
        let third = torn[0].len() / 3;
        torn[0].truncate(third);
        torn[2] = "garbage".into();
        let broken = ReplayCommand::OpenRace {
            label: "r".into(),
            files: torn,
            start_s: None,
        };
        assert!(error(&session.handle(broken, None)).starts_with("r: the race folder"));
        assert!(split_answer("not json\n").is_err());
    }
}
