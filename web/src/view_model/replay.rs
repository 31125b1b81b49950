//! The offline replay's controls as data: the page's query (`?replay=URL&t=SECONDS`), the speeds, the transport
//! (how far a tick of the page's clock moves the play head), the replay clock and the note on what was skipped.
//! Pure, tested natively; `replay` (wasm only) wires it to the page.

use crate::timeline::Skipped;

/// The speeds offered, in recording seconds per real second.
pub const SPEEDS: [f64; 7] = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0];

/// The speed a replay starts at.
pub const DEFAULT_SPEED: f64 = 10.0;

/// Longest real time one tick may move the play head by, in milliseconds: a tab in the background gets few timer
/// ticks, and catching up on minutes of recording at once would freeze the page for nothing.
pub const MAX_TICK_MS: f64 = 1000.0;

/// A replay asked for in the page's query.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayQuery {
    /// The recording's URL (relative to the page, or absolute), percent-decoded.
    pub url: String,
    /// Where to start, in seconds of recording time (`t=`); the first race state when absent.
    pub start_s: Option<f64>,
}

impl ReplayQuery {
    /// Reads `?replay=URL[&t=SECONDS]` from a query string (`location.search`, with or without the `?`).
    /// `None` without a non-empty `replay`; a `t` that is not a non-negative number is ignored.
    pub fn parse(search: &str) -> Option<ReplayQuery> {
        let mut url = None;
        let mut start_s = None;
        for pair in search.trim_start_matches('?').split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "replay" => url = Some(percent_decode(value)),
                "t" => {
                    start_s = percent_decode(value)
                        .parse::<f64>()
                        .ok()
                        .filter(|t| t.is_finite() && *t >= 0.0);
                }
                _ => {}
            }
        }
        let url = url.filter(|u| !u.trim().is_empty())?;
        Some(ReplayQuery { url, start_s })
    }
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
    /// Recording seconds per real second.
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

    #[test]
    fn the_query_names_a_recording_and_a_start() {
        assert_eq!(
            ReplayQuery::parse("?replay=/x.pcap&t=600"),
            Some(ReplayQuery {
                url: "/x.pcap".into(),
                start_s: Some(600.0)
            })
        );
        assert_eq!(
            ReplayQuery::parse("workers=2&replay=http%3A%2F%2Fhost%2Fa%20b.pcap&t=-1"),
            Some(ReplayQuery {
                url: "http://host/a b.pcap".into(),
                start_s: None
            })
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
