//! Alerts and recommendations that explain themselves: a kind, the top evidence with numbers, and a radio line.
//!
//! Every call the twins make (box now, stay out, undercut threat, tyre cliff, fuel save, a lap out of character, a
//! state that does not add up) is an [`Alert`]: at most [`MAX_EVIDENCE`] evidence items, strongest first, and a line
//! of at most [`MAX_RADIO_CHARS`] characters an engineer can read out as is.

use serde::{Deserialize, Serialize};

/// Longest radio line, in characters.
pub const MAX_RADIO_CHARS: usize = 120;

/// Most evidence items an alert carries.
pub const MAX_EVIDENCE: usize = 3;

/// A recommendation or warning about one car (or the whole session), with its reasons.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// What kind of call this is.
    pub kind: AlertKind,
    /// How urgent it is.
    pub severity: Severity,
    /// The car it is about; `None` for the session as a whole.
    pub car_idx: Option<u8>,
    /// The car's lap when it was raised.
    pub lap: u32,
    /// Session time when it was raised, in seconds.
    pub session_time_s: f64,
    /// What to say on the radio: at most [`MAX_RADIO_CHARS`] characters.
    pub radio: String,
    /// The reasons, strongest first, at most [`MAX_EVIDENCE`].
    pub evidence: Vec<Evidence>,
}

/// Kinds of alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Pit at the end of this lap.
    BoxNow,
    /// Do not pit now (e.g. a rival's stop does not threaten, or the tyres have life left).
    StayOut,
    /// The car behind can pass by pitting first.
    UndercutThreat,
    /// This car can pass the car ahead by pitting first.
    UndercutChance,
    /// The car ahead can stay out and keep the place after this car stops.
    OvercutThreat,
    /// The tyres are near the point where lap times fall away.
    TyreCliff,
    /// The fuel on board does not reach the flag at the current burn.
    FuelSave,
    /// A lap more than 2σ away from the driver's own baseline.
    LapAnomaly,
    /// A sector more than 2σ away from the driver's own baseline.
    SectorAnomaly,
    /// The state or the twins do not add up (see [`crate::twin::consistency`]).
    Consistency,
    /// The field's laps show the other tyres (slicks or inters) faster: box for them
    /// ([`crate::twin::weather::crossover`]).
    Crossover,
    /// The forecast: rain coming for a car on slicks, or a dry spell for one on inters or wets.
    Weather,
}

/// How urgent an alert is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Needs attention soon.
    Warning,
    /// Act this lap.
    Critical,
}

/// One reason behind an alert, with its number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// What was measured, e.g. `"rear-left wear"`.
    pub label: String,
    /// The number.
    pub value: f64,
    /// Its unit, e.g. `"%"`, `"s"`, `"laps"`, `"kg"`, `"σ"`.
    pub unit: String,
}

impl Evidence {
    /// An evidence item.
    pub fn new(label: impl Into<String>, value: f64, unit: impl Into<String>) -> Self {
        Evidence {
            label: label.into(),
            value,
            unit: unit.into(),
        }
    }
}

impl Alert {
    /// An alert; the radio line is cut to [`MAX_RADIO_CHARS`] and the evidence to [`MAX_EVIDENCE`] items.
    pub fn new(
        kind: AlertKind,
        severity: Severity,
        car_idx: Option<u8>,
        (lap, session_time_s): (u32, f64),
        radio: &str,
        mut evidence: Vec<Evidence>,
    ) -> Self {
        evidence.truncate(MAX_EVIDENCE);
        Alert {
            kind,
            severity,
            car_idx,
            lap,
            session_time_s,
            radio: radio_line(radio),
            evidence,
        }
    }
}

/// `text` cut to at most [`MAX_RADIO_CHARS`] characters, at a word boundary where there is one, ending in `…`
/// when cut.
pub fn radio_line(text: &str) -> String {
    if text.chars().count() <= MAX_RADIO_CHARS {
        return text.to_owned();
    }
    let head: String = text.chars().take(MAX_RADIO_CHARS - 1).collect();
    let cut = match head.rfind(' ') {
        Some(i) if i > MAX_RADIO_CHARS / 2 => &head[..i],
        _ => head.as_str(),
    };
    format!("{}…", cut.trim_end_matches([',', ';', ':', ' ']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radio_lines_are_cut_at_a_word_and_never_exceed_the_limit() {
        let short = "Box this lap: rear-left 71 %, VER 1.8 s behind can undercut, pit loss 21.6 s";
        assert_eq!(radio_line(short), short);
        let long = "word ".repeat(60);
        let cut = radio_line(&long);
        assert!(cut.chars().count() <= MAX_RADIO_CHARS, "{cut}");
        assert!(cut.ends_with("word…"), "{cut}");
        let unbroken = "é".repeat(300);
        assert_eq!(radio_line(&unbroken).chars().count(), MAX_RADIO_CHARS);
    }

    #[test]
    fn evidence_is_capped_at_three() {
        let alert = Alert::new(
            AlertKind::TyreCliff,
            Severity::Warning,
            Some(3),
            (20, 1900.0),
            "Tyres are going",
            (0..5)
                .map(|i| Evidence::new("x", f64::from(i), "s"))
                .collect(),
        );
        assert_eq!(alert.evidence.len(), MAX_EVIDENCE);
    }
}
