//! An offline replay's timeline: a libpcap recording decoded once, or a race folder imported once, then played,
//! paused and sought by replay time, giving the same [`RaceState`]s the relay would publish for it. Pure (bytes,
//! texts and times are arguments), so it is tested natively; `replay` (wasm only) drives it with the page's clock.
//!
//! Both sources are a list of timed steps behind one play head: a recording's steps are its datagrams, a race's
//! are the states of [`RealRace::states`] (one per line crossing, pit entry, pit exit and retirement).
//!
//! A recording's time axis is its own clock: seconds since its first datagram, made non-decreasing. It is monotone
//! across flashbacks and session changes, which the game's session time is not. Simulated recordings (`boxbox
//! simulate --pcap`) are stamped with session time, so there the two agree. A race's time axis is its states'
//! session time shifted so that the grid (the first state) is at 0, made non-decreasing.
//!
//! The normalizer is stateful, so seeking backwards in a recording cannot undo packets: [`Timeline::open`] keeps a
//! copy of the normalizer every [`CHECKPOINT_EVERY_S`] seconds, and a seek restarts from the last checkpoint before
//! the target and applies at most that much recording. A race's states are whole, so a seek there just picks one.
//! The same pass books the lap history ([`LapRecorder`] on a recording's state every [`HISTORY_SAMPLE_S`], on
//! every state of a race), so the twins can be restarted at any moment with the laps completed so far, as a
//! snapshot from the relay would.

use std::collections::BTreeMap;

use boxbox_engine::history::LapRecorder;
use boxbox_engine::race::{ImportError, RaceFiles, RealRace};
use boxbox_engine::recording::{RecordingError, read_pcap};
use boxbox_engine::telemetry::{self, RacePacket, normalize::Normalizer};
use boxbox_engine::wire::{DataSource, LapRecord, RaceState};

/// Recording time between two normalizer checkpoints, in seconds: a seek replays at most this much.
pub const CHECKPOINT_EVERY_S: f64 = 30.0;

/// Recording time between two states the lap history is booked from, in seconds.
pub const HISTORY_SAMPLE_S: f64 = 0.5;

/// Why a recording or a race folder cannot be replayed at all.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum OpenError {
    /// The bytes are not a libpcap file (or its link type cannot be unwrapped).
    #[error("this is not a recording boxbox can read ({0})")]
    Recording(#[from] RecordingError),
    /// A pcap file, but none of its datagrams is an F1 telemetry packet.
    #[error("the recording holds no F1 telemetry: none of its {datagrams} datagrams decodes")]
    NoTelemetry {
        /// UDP datagrams in the file.
        datagrams: usize,
    },
    /// Telemetry, but never both a Session and a LapData packet: nothing to show.
    #[error("the recording never describes a race: no session with lap data")]
    NoRace,
    /// A race folder whose files do not import; the error names the file (and the line and column).
    #[error("the race folder does not import: {0}")]
    Race(#[from] ImportError),
}

/// What was left out while opening a recording. Malformed input is counted and skipped, never fatal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Datagrams that did not decode, per [`telemetry::DecodeError::kind`], sorted by kind.
    pub malformed: BTreeMap<&'static str, usize>,
    /// Frames that were not UDP over IPv4 (ARP, TCP, IPv6…).
    pub other_frames: usize,
    /// The file ended inside a record; everything before it was read.
    pub truncated_tail: bool,
}

impl Skipped {
    /// Malformed datagrams, all kinds.
    pub fn n_malformed(&self) -> usize {
        self.malformed.values().sum()
    }
}

/// A decoded recording or an imported race, and a play head on it.
///
/// Invariant: `at_s` is non-decreasing, starts at 0 and has one entry per step (a payload of a recording, a state
/// of a race); every payload decodes; a recording's `checkpoints` are sorted by index and the first is the empty
/// normalizer at index 0.
#[derive(Clone, Debug)]
pub struct Timeline {
    /// What is played.
    source: Source,
    /// Replay time of each step, in seconds since the first.
    at_s: Vec<f64>,
    /// Completed laps with the replay time they were booked at and the session they belong to (an ordinal).
    laps: Vec<(f64, u32, LapRecord)>,
    /// Replay time at which each session starts, by ordinal.
    session_starts_s: Vec<f64>,
    skipped: Skipped,
    /// Replay time of the first step after which there is a race state.
    first_state_s: f64,
    /// The play head: `steps[..next]` are applied.
    next: usize,
    position_s: f64,
}

/// The steps of a [`Timeline`] and what applying them builds.
#[derive(Clone, Debug)]
enum Source {
    /// A libpcap recording of the game's telemetry.
    Pcap {
        /// The datagrams that decoded, in file order.
        payloads: Vec<Vec<u8>>,
        /// `(i, n)`: `n` is the normalizer after `payloads[..i]`.
        checkpoints: Vec<(usize, Normalizer)>,
        /// The normalizer after `payloads[..next]`.
        normalizer: Normalizer,
    },
    /// A real race from a race folder: the state after each event; the play head's is `states[next - 1]`.
    Race {
        /// The state after each step, in time order (the first is the grid).
        states: Vec<RaceState>,
        /// f1db's official name of the race.
        name: String,
    },
}

impl Timeline {
    /// Decodes a whole recording once: checkpoints, lap history and what was skipped. The play head is at 0.
    ///
    /// # Errors
    /// [`OpenError`] when the bytes are not a pcap file, hold no telemetry or never describe a race.
    pub fn open(bytes: &[u8]) -> Result<Timeline, OpenError> {
        let recording = read_pcap(bytes)?;
        let mut skipped = Skipped {
            other_frames: recording.skipped_frames,
            truncated_tail: recording.truncated_tail,
            ..Skipped::default()
        };
        let n_datagrams = recording.datagrams.len();
        let first = recording.datagrams.first().map(|d| d.received);
        let mut payloads = Vec::with_capacity(n_datagrams);
        let mut at_s: Vec<f64> = Vec::with_capacity(n_datagrams);
        let mut normalizer = Normalizer::new();
        let mut checkpoints = vec![(0, Normalizer::new())];
        let mut recorder = LapRecorder::new();
        let mut laps = Vec::new();
        let mut session_starts_s = Vec::new();
        let mut next_sample_s = 0.0;
        let mut first_state_s = None;
        let mut next_checkpoint_s = CHECKPOINT_EVERY_S;
        for d in recording.datagrams {
            // Only the bodies the normalizer reads are decoded: the others' readers stay out of the app's bundle.
            let packet = match telemetry::decode_for_race(&d.payload) {
                Ok(p) => p,
                Err(e) => {
                    *skipped.malformed.entry(e.kind()).or_default() += 1;
                    continue;
                }
            };
            let offset_s = first
                .map_or(0.0, |f| d.received.saturating_sub(f).as_secs_f64())
                .max(at_s.last().copied().unwrap_or(0.0));
            if offset_s >= next_checkpoint_s {
                checkpoints.push((payloads.len(), normalizer.clone()));
                next_checkpoint_s = offset_s + CHECKPOINT_EVERY_S;
            }
            let session_before = normalizer.session_uid();
            push(&mut normalizer, &packet);
            if normalizer.session_uid() != session_before {
                session_starts_s.push(offset_s);
                recorder = LapRecorder::new();
            }
            payloads.push(d.payload);
            at_s.push(offset_s);
            if offset_s >= next_sample_s
                && let Some(state) = normalizer.state()
            {
                first_state_s.get_or_insert(offset_s);
                let session = session_starts_s.len().saturating_sub(1) as u32;
                book(&mut recorder, &state, offset_s, session, &mut laps);
                next_sample_s = offset_s + HISTORY_SAMPLE_S;
            }
        }
        if payloads.is_empty() {
            return Err(OpenError::NoTelemetry {
                datagrams: n_datagrams,
            });
        }
        let Some(first_state_s) = first_state_s else {
            return Err(OpenError::NoRace);
        };
        Ok(Timeline {
            source: Source::Pcap {
                payloads,
                checkpoints,
                normalizer: Normalizer::new(),
            },
            at_s,
            laps,
            session_starts_s,
            skipped,
            first_state_s,
            next: 0,
            position_s: 0.0,
        })
    }

    /// Imports a race folder's files once: the race's states (see [`RealRace::states`]) on a time axis from its
    /// grid, and the lap history. The play head is at 0, where the grid is (phase `NotStarted`).
    ///
    /// # Errors
    /// [`OpenError::Race`] when the files do not import (the error names the file, line and column).
    pub fn open_race(files: &RaceFiles<'_>) -> Result<Timeline, OpenError> {
        let race = RealRace::parse(files)?;
        let states = race.states();
        let t0_s = states.first().map_or(0.0, |s| s.session_time_s);
        let mut at_s: Vec<f64> = Vec::with_capacity(states.len());
        let mut recorder = LapRecorder::new();
        let mut laps = Vec::new();
        for state in &states {
            let shifted_s = state.session_time_s - t0_s;
            let prev_s = at_s.last().copied().unwrap_or(0.0);
            // A time that is not finite (a parsed race has none, but the axis must stay usable) counts as the
            // previous step's.
            let offset_s = if shifted_s.is_finite() {
                shifted_s.max(prev_s)
            } else {
                prev_s
            };
            at_s.push(offset_s);
            book(&mut recorder, state, offset_s, 0, &mut laps);
        }
        if states.is_empty() {
            return Err(OpenError::NoRace);
        }
        Ok(Timeline {
            source: Source::Race {
                states,
                name: race.name().to_owned(),
            },
            at_s,
            laps,
            session_starts_s: vec![0.0],
            skipped: Skipped::default(),
            first_state_s: 0.0,
            next: 0,
            position_s: 0.0,
        })
    }

    /// Length of the replay, in seconds (the last step's time).
    pub fn duration_s(&self) -> f64 {
        self.at_s.last().copied().unwrap_or(0.0)
    }

    /// The play head, in seconds of replay time.
    pub fn position_s(&self) -> f64 {
        self.position_s
    }

    /// Timed steps in the replay: game packets of a recording (malformed ones left out), events of a race (its
    /// states, the grid included).
    pub fn n_steps(&self) -> usize {
        self.at_s.len()
    }

    /// The replay time of the first moment with a race state: where a replay starts.
    pub fn first_state_s(&self) -> f64 {
        self.first_state_s
    }

    /// What opening the recording skipped (nothing, for a race folder).
    pub fn skipped(&self) -> &Skipped {
        &self.skipped
    }

    /// The race's official name for a race folder (e.g. `"Formula 1 Pirelli Grand Prix du Canada 2019"`); `None`
    /// for a recording.
    pub fn race_name(&self) -> Option<&str> {
        match &self.source {
            Source::Pcap { .. } => None,
            Source::Race { name, .. } => Some(name),
        }
    }

    /// Whether the play head is at the end.
    pub fn at_end(&self) -> bool {
        self.next >= self.at_s.len()
    }

    /// Moves the play head forward to `t_s` (clamped to the replay), applying every step up to it. Returns how many
    /// were applied; a time before the head does nothing (use [`Timeline::seek`]).
    pub fn advance_to(&mut self, t_s: f64) -> usize {
        let t_s = self.clamp_s(t_s);
        if t_s < self.position_s {
            return 0;
        }
        // The first step after the target: everything before it must be applied.
        let end = self.at_s.partition_point(|at| *at <= t_s).max(self.next);
        if let Source::Pcap {
            payloads,
            normalizer,
            ..
        } = &mut self.source
        {
            for payload in payloads.get(self.next..end).unwrap_or_default() {
                // Every payload decoded when the timeline was opened.
                if let Ok(packet) = telemetry::decode_for_race(payload) {
                    push(normalizer, &packet);
                }
            }
        }
        let applied = end - self.next;
        self.next = end;
        self.position_s = t_s;
        applied
    }

    /// Puts the play head at `t_s` (clamped), forwards or backwards. A recording restarts from the last checkpoint
    /// before it, or from the head itself when that is closer.
    pub fn seek(&mut self, t_s: f64) {
        let t_s = self.clamp_s(t_s);
        let end = self.at_s.partition_point(|at| *at <= t_s);
        match &mut self.source {
            Source::Pcap {
                checkpoints,
                normalizer,
                ..
            } => {
                let at = checkpoints.partition_point(|(i, _)| *i <= end);
                let Some((i, checkpoint)) = at.checked_sub(1).and_then(|k| checkpoints.get(k))
                else {
                    return;
                };
                if t_s < self.position_s || *i > self.next {
                    *normalizer = checkpoint.clone();
                    self.next = *i;
                    self.position_s = self.at_s.get(i.wrapping_sub(1)).copied().unwrap_or(0.0);
                }
                self.advance_to(t_s);
            }
            Source::Race { .. } => {
                self.next = end;
                self.position_s = t_s;
            }
        }
    }

    /// `t_s` within the replay; not a number stays where the head is.
    fn clamp_s(&self, t_s: f64) -> f64 {
        if t_s.is_nan() {
            self.position_s
        } else {
            t_s.clamp(0.0, self.duration_s())
        }
    }

    /// The race at the play head, labelled as a replay; `None` before the replay has described one.
    pub fn state(&self) -> Option<RaceState> {
        let mut state = match &self.source {
            Source::Pcap { normalizer, .. } => normalizer.state()?,
            Source::Race { states, .. } => states.get(self.next.checked_sub(1)?)?.clone(),
        };
        state.source = DataSource::Replay;
        Some(state)
    }

    /// The laps of the play head's session completed by the play head, in completion order: the history a
    /// relay's snapshot would carry.
    pub fn history(&self) -> Vec<LapRecord> {
        let session = self
            .session_starts_s
            .partition_point(|s| *s <= self.position_s)
            .saturating_sub(1) as u32;
        self.laps
            .iter()
            .take_while(|(at, _, _)| *at <= self.position_s)
            .filter(|(_, s, _)| *s == session)
            .map(|(_, _, r)| r.clone())
            .collect()
    }
}

fn push(normalizer: &mut Normalizer, packet: &RacePacket) {
    match packet {
        RacePacket::Packet(p) => normalizer.push(p),
        RacePacket::Other(header) => normalizer.push_header(header),
    }
}

/// Feeds `state` to `recorder` and books the laps it completes at `at_s`, in `session`.
fn book(
    recorder: &mut LapRecorder,
    state: &RaceState,
    at_s: f64,
    session: u32,
    laps: &mut Vec<(f64, u32, LapRecord)>,
) {
    let before = recorder.records().len();
    recorder.observe(state);
    laps.extend(
        recorder
            .records()
            .get(before..)
            .unwrap_or_default()
            .iter()
            .map(|r| (at_s, session, r.clone())),
    );
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddrV4};
    use std::time::Duration;

    use boxbox_engine::calibration;
    use boxbox_engine::recording::{Datagram, pcap_file_header, pcap_record};
    use boxbox_engine::sim::{RaceSim, SimConfig};
    use boxbox_engine::telemetry::synth::PacketSynth;

    use super::*;

    /// A simulated race as `boxbox simulate --pcap` writes it (timestamps are session time), with `extra` datagrams
    /// appended to the frame at each given session time.
    fn simulated_pcap(laps: u32, frame_hz: f64, extra: &[(f64, Vec<u8>)]) -> Vec<u8> {
        let mut sim = RaceSim::new(&SimConfig {
            seed: 3,
            total_laps: laps,
        });
        let mut synth = PacketSynth::new(0xb0c5, calibration::SAKHIR.sector_end_frac);
        let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 20_777);
        let mut out = pcap_file_header();
        let mut t = 0.0;
        loop {
            let state = sim.state();
            let mut payloads = synth.frame(&state).unwrap();
            for (at, bytes) in extra {
                if (*at - t).abs() < 0.5 / frame_hz {
                    payloads.push(bytes.clone());
                }
            }
            for payload in payloads {
                out.extend(pcap_record(&Datagram {
                    received: Duration::from_secs_f64(state.session_time_s),
                    src: addr,
                    dst: addr,
                    payload,
                }));
            }
            if sim.is_finished() {
                return out;
            }
            t += 1.0 / frame_hz;
            sim.advance_to(t);
        }
    }

    #[test]
    fn a_simulated_recording_opens_with_its_race_and_nothing_skipped() {
        let timeline = Timeline::open(&simulated_pcap(3, 2.0, &[])).unwrap();
        assert!(
            timeline.duration_s() > 250.0,
            "3 laps of Sakhir: {} s",
            timeline.duration_s()
        );
        assert_eq!(timeline.skipped(), &Skipped::default());
        assert_eq!(timeline.position_s(), 0.0);
        assert!(timeline.first_state_s() < 1.0);
        assert!(timeline.state().is_none(), "nothing applied yet");
    }

    #[test]
    fn playing_forward_and_seeking_anywhere_give_the_same_race() {
        let bytes = simulated_pcap(4, 2.0, &[]);
        let mut played = Timeline::open(&bytes).unwrap();
        let mut sought = played.clone();
        let end = played.duration_s();
        // Forward in small steps, as the page's clock does, against jumps backwards and forwards across checkpoints.
        let moments = [0.3, 0.9, 0.1, 0.6, 0.45, 1.0, 0.0, 0.75];
        let mut states = Vec::new();
        let mut t = 0.0;
        while t < end {
            t += 0.7;
            played.advance_to(t);
            states.push((played.position_s(), played.state(), played.history()));
        }
        assert!(played.at_end());
        for frac in moments {
            let (at, state, history) = &states[((states.len() - 1) as f64 * frac) as usize];
            sought.seek(*at);
            assert_eq!(sought.position_s(), *at);
            assert_eq!(&sought.state(), state, "state at {at} s");
            assert_eq!(&sought.history(), history, "history at {at} s");
        }
        let (_, Some(last), history) = states.last().unwrap() else {
            panic!("no state at the end")
        };
        assert_eq!(last.source, DataSource::Replay);
        assert!(history.len() >= 20 * 3, "{} laps booked", history.len());
    }

    #[test]
    fn the_history_holds_the_laps_completed_by_the_play_head() {
        let mut timeline = Timeline::open(&simulated_pcap(3, 2.0, &[])).unwrap();
        timeline.seek(timeline.duration_s());
        let all = timeline.history();
        timeline.seek(timeline.duration_s() / 2.0);
        let half = timeline.history();
        assert!(!half.is_empty() && half.len() < all.len());
        assert_eq!(half, all[..half.len()]);
        let state = timeline.state().unwrap();
        let leader_laps = state.cars[0].lap.saturating_sub(1);
        assert!(
            half.iter().all(|r| r.lap <= leader_laps),
            "no lap booked before the leader completed it"
        );
        timeline.seek(0.0);
        assert!(timeline.history().is_empty());
    }

    #[test]
    fn malformed_datagrams_are_counted_and_skipped() {
        let garbage = vec![(10.0, vec![0xde, 0xad]), (20.0, vec![0xde, 0xad])];
        // A real packet cut short: the header is fine, the length is not.
        let clean = simulated_pcap(2, 2.0, &[]);
        let mut short = Timeline::open(&clean).unwrap();
        short.seek(30.0);
        let Source::Pcap { payloads, .. } = &short.source else {
            panic!("a recording's timeline")
        };
        let mut truncated = payloads[short.next - 1].clone();
        truncated.truncate(truncated.len() - 3);
        let extra = [garbage.as_slice(), &[(30.0, truncated)]].concat();
        let mut damaged = Timeline::open(&simulated_pcap(2, 2.0, &extra)).unwrap();
        let skipped = damaged.skipped();
        assert_eq!(skipped.n_malformed(), 3, "{skipped:?}");
        assert_eq!(skipped.malformed.get("truncated"), Some(&2));
        assert_eq!(skipped.malformed.get("wrong_length"), Some(&1));
        let mut clean = Timeline::open(&clean).unwrap();
        for t in [5.0, 25.0, 31.0, damaged.duration_s()] {
            clean.seek(t);
            damaged.seek(t);
            assert_eq!(clean.state(), damaged.state(), "at {t} s");
        }
    }

    #[test]
    fn what_is_not_a_race_recording_is_a_clear_error() {
        let not_pcap = Timeline::open(b"lap,driver,time\n1,HAM,91.2\n").unwrap_err();
        assert!(matches!(not_pcap, OpenError::Recording(_)));
        assert!(not_pcap.to_string().starts_with("this is not a recording"));
        assert!(matches!(
            Timeline::open(&[]).unwrap_err(),
            OpenError::Recording(_)
        ));

        let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 20_777);
        let pcap = |payloads: Vec<Vec<u8>>| {
            let mut out = pcap_file_header();
            for (k, payload) in payloads.into_iter().enumerate() {
                out.extend(pcap_record(&Datagram {
                    received: Duration::from_millis(k as u64 * 50),
                    src: addr,
                    dst: addr,
                    payload,
                }));
            }
            out
        };
        assert_eq!(
            Timeline::open(&pcap(vec![b"hello".to_vec(); 4])).unwrap_err(),
            OpenError::NoTelemetry { datagrams: 4 }
        );
        // Telemetry without the Session packet (id 1): no track, no race state.
        let mut synth = PacketSynth::new(7, calibration::SAKHIR.sector_end_frac);
        let sim = RaceSim::new(&SimConfig {
            seed: 1,
            total_laps: 2,
        });
        let no_session = synth
            .frame(&sim.state())
            .unwrap()
            .into_iter()
            .filter(|p| telemetry::decode(p).is_ok_and(|p| p.header.packet_id != 1))
            .collect::<Vec<_>>();
        assert!(!no_session.is_empty());
        assert_eq!(
            Timeline::open(&pcap(no_session)).unwrap_err(),
            OpenError::NoRace
        );
        // A torn last record is read up to the tear.
        let mut torn = simulated_pcap(1, 1.0, &[]);
        torn.truncate(torn.len() - 5);
        assert!(Timeline::open(&torn).unwrap().skipped().truncated_tail);
    }

    #[test]
    fn the_play_head_only_moves_forward_when_advancing_and_stops_at_the_end() {
        let mut timeline = Timeline::open(&simulated_pcap(1, 1.0, &[])).unwrap();
        let n = timeline.advance_to(40.0);
        assert!(n > 0);
        assert_eq!(timeline.advance_to(20.0), 0);
        assert_eq!(timeline.position_s(), 40.0);
        let rest = timeline.advance_to(f64::INFINITY);
        assert_eq!(n + rest, timeline.n_steps());
        assert!(timeline.at_end());
        assert_eq!(timeline.position_s(), timeline.duration_s());
        timeline.seek(f64::NAN);
        assert_eq!(timeline.position_s(), timeline.duration_s());
        timeline.seek(-5.0);
        assert_eq!(timeline.position_s(), 0.0);
    }

    /// The five files of Canada 2019 (`shared/data/races/2019_07_canada`), in the order of `FILE_NAMES`.
    const CANADA: [&str; 5] = [
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/races/2019_07_canada/laps_fastf1_armchair.csv"
        )),
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/races/2019_07_canada/f1db_race.csv"
        )),
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/races/2019_07_canada/f1db_race_results.csv"
        )),
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/races/2019_07_canada/f1db_pit_stops.csv"
        )),
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/races/2019_07_canada/f1db_starting_grid_positions.csv"
        )),
    ];

    fn canada() -> Timeline {
        Timeline::open_race(&RaceFiles::from_array(CANADA)).unwrap()
    }

    #[test]
    fn a_race_folder_opens_at_its_grid() {
        use boxbox_engine::race::FILE_NAMES;
        use boxbox_engine::wire::SessionPhase;

        assert_eq!(FILE_NAMES[0], "laps_fastf1_armchair.csv", "CANADA's order");
        let mut timeline = canada();
        // Hamilton won in 1:29:07.458 (Vettel crossed first, 5 s penalty); the lapped cars took the flag after.
        let duration_s = timeline.duration_s();
        assert!(
            (5347.0..5347.0 + 120.0).contains(&duration_s),
            "Canada 2019 lasts {duration_s} s"
        );
        assert_eq!(
            timeline.race_name(),
            Some("Formula 1 Pirelli Grand Prix du Canada 2019")
        );
        assert_eq!(timeline.skipped(), &Skipped::default());
        assert_eq!(timeline.first_state_s(), 0.0);
        assert_eq!(timeline.position_s(), 0.0);
        assert!(timeline.state().is_none(), "nothing applied yet");
        assert!(
            timeline.n_steps() > 20 * 60,
            "{} events",
            timeline.n_steps()
        );

        timeline.seek(timeline.first_state_s());
        let grid = timeline.state().unwrap();
        assert_eq!(grid.session.phase, SessionPhase::NotStarted);
        assert_eq!(grid.cars.len(), 20);
        assert_eq!(grid.source, DataSource::Replay);
        assert!(grid.session.timing_only);
        assert!(timeline.history().is_empty());
    }

    #[test]
    fn a_race_sought_anywhere_gives_the_race_played_to_there() {
        use boxbox_engine::wire::SessionPhase;

        let mut played = canada();
        let mut sought = played.clone();
        let end = played.duration_s();
        let mut states = Vec::new();
        let mut t = 0.0;
        let mut applied = played.advance_to(0.0);
        while !played.at_end() {
            t += 7.0;
            let n = played.advance_to(t);
            assert_eq!(played.position_s(), t.min(end));
            applied += n;
            states.push((played.position_s(), played.state(), played.history()));
        }
        assert_eq!(applied, played.n_steps());
        assert_eq!(played.position_s(), end);
        let last = played.state().unwrap();
        assert_eq!(last.session.phase, SessionPhase::Finished);
        // Every lap of every car is booked once, the last ones as the cars take the flag.
        let race = RealRace::parse(&RaceFiles::from_array(CANADA)).unwrap();
        let n_laps: usize = race.drivers().iter().map(|d| d.laps.len()).sum();
        assert_eq!(played.history().len(), n_laps);

        // Backwards and forwards, as the scrub bar does.
        for frac in [0.5, 0.25, 0.9, 0.0, 0.6, 1.0, 0.1] {
            let (at, state, history) = &states[((states.len() - 1) as f64 * frac) as usize];
            sought.seek(*at);
            assert_eq!(sought.position_s(), *at);
            assert_eq!(&sought.state(), state, "state at {at} s");
            assert_eq!(&sought.history(), history, "history at {at} s");
        }
    }

    #[test]
    fn a_race_at_half_distance_has_the_laps_completed_so_far() {
        let mut timeline = canada();
        timeline.seek(timeline.duration_s());
        let all = timeline.history();
        timeline.seek(timeline.duration_s() / 2.0);
        let half = timeline.history();
        assert!(!half.is_empty() && half.len() < all.len());
        assert_eq!(half, all[..half.len()]);
        let state = timeline.state().unwrap();
        let leader = &state.cars[0];
        let completed = leader.lap - 1;
        assert!(
            (30..=40).contains(&completed),
            "half distance of 70 laps: the leader completed {completed}"
        );
        let leader_laps: Vec<u32> = half
            .iter()
            .filter(|r| r.car_idx == leader.car_idx)
            .map(|r| r.lap)
            .collect();
        assert_eq!(leader_laps, (1..=completed).collect::<Vec<_>>());
        assert!(
            half.iter().all(|r| r.lap <= completed),
            "no lap booked before the leader completed it"
        );
        // Backwards: fewer laps, the same ones.
        timeline.seek(timeline.duration_s() / 4.0);
        let quarter = timeline.history();
        assert!(!quarter.is_empty() && quarter.len() < half.len());
        assert_eq!(quarter, half[..quarter.len()]);
        assert!(timeline.state().unwrap().cars[0].lap < leader.lap);
        timeline.seek(0.0);
        assert!(timeline.history().is_empty());
        // The play head does not go back when advancing.
        assert_eq!(timeline.advance_to(-1.0), 0);
        assert!(timeline.advance_to(600.0) > 0);
        assert_eq!(timeline.advance_to(300.0), 0);
        assert_eq!(timeline.position_s(), 600.0);
        timeline.seek(f64::NAN);
        assert_eq!(timeline.position_s(), 600.0);
    }

    #[test]
    fn a_race_folder_that_does_not_import_is_a_clear_error() {
        use boxbox_engine::race::{FILE_NAMES, ImportError};

        let with = |k: usize, text: &str| {
            let mut files = CANADA;
            files[k] = text;
            Timeline::open_race(&RaceFiles::from_array(files))
        };
        // An empty pit-stop file is a race without f1db stop times (the laps file still dates every pit visit).
        assert!(with(3, "").is_ok());
        // Any other file left empty names the file, as does one cut in the middle of a row.
        for (k, name) in FILE_NAMES.iter().enumerate().filter(|(k, _)| *k != 3) {
            let Err(empty) = with(k, "") else {
                panic!("an empty {name} imports")
            };
            assert!(matches!(empty, OpenError::Race(_)), "{name}: {empty:?}");
            let message = empty.to_string();
            assert!(
                message.starts_with("the race folder does not import: ") && message.contains(name),
                "{message}"
            );
        }
        let laps = CANADA[0];
        let cut = &laps[..laps.len() / 2];
        let broken = with(0, cut.trim_end_matches(|c| c != ',')).unwrap_err();
        let OpenError::Race(ImportError::Csv { file, .. } | ImportError::Value { file, .. }) =
            &broken
        else {
            panic!("a torn laps file: {broken:?}")
        };
        assert_eq!(*file, FILE_NAMES[0]);
        // Whatever the files hold, opening them never panics.
        for (k, text) in CANADA.iter().enumerate() {
            for frac in [0.1, 0.33, 0.5, 0.77, 0.99] {
                let mut at = (text.len() as f64 * frac) as usize;
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                let _ = with(k, &text[..at]);
                let _ = with(k, &text.replacen(',', ";", 3));
            }
        }
        assert!(with(1, "not,a\nrace,file\n").is_err());
    }
}
