//! EA F1 23/24/25 UDP telemetry decoding and encoding: bytes in, typed packets out, and back. No sockets here; the
//! relay owns those.
//!
//! [`decode`] dispatches on `(m_packetFormat, m_packetId)`, checks the exact datagram length for that format
//! (table in [`format`](mod@format)), and reads the body with a bounds-checked [`reader::Reader`], so malformed input is a
//! typed [`DecodeError`], never a panic. Field names follow EA's (`m_lastLapTimeInMS` → `last_lap_time_in_ms`)
//! and serialize under those names; units and ranges are in the field docs. The layouts are those of
//! `shared/f1-udp-spec.md`.
//!
//! Every packet id of formats 2023, 2024 and 2025 is decoded (ids 0–15 where the format has them); a decoded
//! packet has consumed exactly the datagram's bytes, which the tests check on every real capture.
//!
//! [`encode`] is the inverse: it writes a [`Packet`] back to the spec's bytes with a [`writer::Writer`], field by
//! field in the order of the reads, and checks the packet against its format first (car count, format-specific
//! fields, body matching the header's id), so a packet built by hand cannot produce a datagram of the wrong size.
//! Bytes the decoder ignores are written as zeros: the unused tail of an event's details union and whatever follows
//! a name's NUL terminator.

pub mod format;
pub mod normalize;
pub mod packets;
pub mod reader;
pub mod results;
pub mod setup;
pub mod synth;
pub mod writer;

use serde::Serialize;

pub use packets::*;
use reader::Reader;
pub use results::*;
pub use setup::*;
use writer::{Writer, put};

/// Size of the packet header, in bytes (all formats).
pub const HEADER_LEN: usize = 29;

/// Why a datagram could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The datagram ended before the header or a field: not a whole packet.
    #[error("truncated packet: got {got} bytes, need {need}")]
    Truncated {
        /// Bytes available.
        got: usize,
        /// Bytes needed.
        need: usize,
    },
    /// The header is fine but the datagram's length is not this packet's size in this format.
    #[error(
        "wrong length for {name} (id {packet_id}) in format {format}: got {got} bytes, expected {expected}"
    )]
    WrongLength {
        /// `m_packetFormat`.
        format: u16,
        /// `m_packetId`.
        packet_id: u8,
        /// Packet name.
        name: &'static str,
        /// Datagram length.
        got: usize,
        /// Expected length.
        expected: usize,
    },
    /// A packet format boxbox does not know.
    #[error("unknown packet format {0}")]
    UnknownFormat(u16),
    /// A packet id the format does not have.
    #[error("unknown packet id {packet_id} for format {format}")]
    UnknownId {
        /// `m_packetFormat`.
        format: u16,
        /// `m_packetId`.
        packet_id: u8,
    },
    /// An event code that is not in the spec.
    #[error("unknown event code {0:?}")]
    UnknownEvent(String),
}

impl DecodeError {
    /// A short stable name of the error kind, for counters.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::WrongLength { .. } => "wrong_length",
            DecodeError::UnknownFormat(_) => "unknown_format",
            DecodeError::UnknownId { .. } => "unknown_id",
            DecodeError::UnknownEvent(_) => "unknown_event",
        }
    }
}

/// Why a packet could not be encoded: it does not fit the layout its header's format and id name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// `header.packet_format` is a format boxbox does not know.
    #[error("unknown packet format {0}")]
    UnknownFormat(u16),
    /// `header.packet_id` is not a packet of this format (e.g. TimeTrial, id 14, in format 2023).
    #[error("unknown packet id {packet_id} for format {format}")]
    UnknownId {
        /// `m_packetFormat`.
        format: u16,
        /// `m_packetId`.
        packet_id: u8,
    },
    /// The body is another packet than the one `header.packet_id` names.
    #[error("header says {expected} (id {packet_id}) but the body is {got}")]
    BodyMismatch {
        /// `m_packetId`.
        packet_id: u8,
        /// Name of the packet the header's id names.
        expected: &'static str,
        /// Name of the packet the body is.
        got: &'static str,
    },
    /// An array has not exactly as many entries as the layout has slots: the format's car count for per-car
    /// arrays, or a fixed count (21 marshal zones, 100 laps of history …).
    #[error("{field} has {got} entries, the layout has {expected}")]
    WrongCount {
        /// The field, by its Rust name.
        field: &'static str,
        /// Entries given.
        got: usize,
        /// Slots in the layout.
        expected: usize,
    },
    /// A field that only some formats have is present in a format without it, or absent in a format with it
    /// (`Option` fields, and the 2023 vs. 2024+ lap-data records).
    #[error("{field} is {} format {format}", presence(*.present))]
    FormatField {
        /// `m_packetFormat`.
        format: u16,
        /// The field, by its Rust name.
        field: &'static str,
        /// Whether the packet has the field.
        present: bool,
    },
    /// The event details are not those of the event code in this format, or the code is not in the spec.
    #[error("event code {code:?} does not take {details} details in format {format}")]
    EventMismatch {
        /// `m_packetFormat`.
        format: u16,
        /// `m_eventStringCode`.
        code: String,
        /// The [`EventDetails`] variant given.
        details: &'static str,
    },
    /// The bytes written are not the format's size for this packet: a layout does not match the size table. This is
    /// a bug in boxbox, never the packet's fault.
    #[error(
        "encoded {name} (id {packet_id}) in format {format} is {got} bytes, expected {expected}"
    )]
    WrongLength {
        /// `m_packetFormat`.
        format: u16,
        /// `m_packetId`.
        packet_id: u8,
        /// Packet name.
        name: &'static str,
        /// Bytes written.
        got: usize,
        /// The format's size for this packet.
        expected: usize,
    },
}

fn presence(present: bool) -> &'static str {
    if present {
        "present, but absent from"
    } else {
        "missing, but part of"
    }
}

/// The 29-byte header every packet starts with.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PacketHeader {
    /// Packet format: 2023, 2024 or 2025 (the UDP format chosen in the game, not the game's year).
    pub packet_format: u16,
    /// Last two digits of the game's year (unreliable: 25 or 0 when F1 25 sends an older format).
    pub game_year: u8,
    /// Game major version.
    pub game_major_version: u8,
    /// Game minor version.
    pub game_minor_version: u8,
    /// Version of this packet type, from 1.
    pub packet_version: u8,
    /// Packet id, 0..=15.
    pub packet_id: u8,
    /// Unique identifier of the session; changes with every session.
    pub session_uid: u64,
    /// Session time, in seconds.
    pub session_time: f32,
    /// Frame the data was retrieved on; goes back after a flashback.
    pub frame_identifier: u32,
    /// Overall frame; never goes back.
    pub overall_frame_identifier: u32,
    /// Index of the player's car; 255 when spectating.
    pub player_car_index: u8,
    /// Index of the second split-screen player's car; 255 when there is none.
    pub secondary_player_car_index: u8,
}

impl PacketHeader {
    /// Reads the header.
    ///
    /// # Errors
    /// [`DecodeError::Truncated`] when fewer than 29 bytes are given.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(PacketHeader {
            packet_format: r.get()?,
            game_year: r.get()?,
            game_major_version: r.get()?,
            game_minor_version: r.get()?,
            packet_version: r.get()?,
            packet_id: r.get()?,
            session_uid: r.get()?,
            session_time: r.get()?,
            frame_identifier: r.get()?,
            overall_frame_identifier: r.get()?,
            player_car_index: r.get()?,
            secondary_player_car_index: r.get()?,
        })
    }

    /// Writes the header.
    pub fn encode(&self, w: &mut Writer) {
        put!(w, self;
            packet_format, game_year, game_major_version, game_minor_version, packet_version, packet_id,
            session_uid, session_time, frame_identifier, overall_frame_identifier, player_car_index,
            secondary_player_car_index,
        );
    }
}

/// One decoded packet.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Packet {
    /// The header.
    pub header: PacketHeader,
    /// The body, by packet id.
    #[serde(flatten)]
    pub body: Body,
}

/// A packet body.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Body {
    /// Id 0.
    Motion(Motion),
    /// Id 1.
    Session(Box<Session>),
    /// Id 2.
    LapData(LapDataPacket),
    /// Id 3.
    Event(Event),
    /// Id 4.
    Participants(Participants),
    /// Id 5.
    CarSetups(CarSetups),
    /// Id 6.
    CarTelemetry(CarTelemetryPacket),
    /// Id 7.
    CarStatus(CarStatusPacket),
    /// Id 8.
    FinalClassification(FinalClassification),
    /// Id 9.
    LobbyInfo(LobbyInfo),
    /// Id 10.
    CarDamage(CarDamagePacket),
    /// Id 11.
    SessionHistory(Box<SessionHistory>),
    /// Id 12.
    TyreSets(TyreSets),
    /// Id 13.
    MotionEx(Box<MotionEx>),
    /// Id 14.
    TimeTrial(TimeTrial),
    /// Id 15.
    LapPositions(LapPositions),
}

impl Body {
    /// The packet id of this body, 0..=15.
    pub fn packet_id(&self) -> u8 {
        match self {
            Body::Motion(_) => 0,
            Body::Session(_) => 1,
            Body::LapData(_) => 2,
            Body::Event(_) => 3,
            Body::Participants(_) => 4,
            Body::CarSetups(_) => 5,
            Body::CarTelemetry(_) => 6,
            Body::CarStatus(_) => 7,
            Body::FinalClassification(_) => 8,
            Body::LobbyInfo(_) => 9,
            Body::CarDamage(_) => 10,
            Body::SessionHistory(_) => 11,
            Body::TyreSets(_) => 12,
            Body::MotionEx(_) => 13,
            Body::TimeTrial(_) => 14,
            Body::LapPositions(_) => 15,
        }
    }
}

/// Decodes one datagram.
///
/// # Errors
/// A [`DecodeError`] saying what is wrong with the datagram; never panics.
///
/// # Example
/// ```
/// let err = boxbox_engine::telemetry::decode(&[0u8; 10]).unwrap_err();
/// assert_eq!(err.kind(), "truncated");
/// ```
pub fn decode(bytes: &[u8]) -> Result<Packet, DecodeError> {
    let (header, mut r, n) = checked_header(bytes)?;
    let fmt = header.packet_format;
    let body = match header.packet_id {
        0 => Body::Motion(Motion::read(&mut r, n)?),
        1 => Body::Session(Box::new(Session::read(&mut r, fmt)?)),
        2 => Body::LapData(LapDataPacket::read(&mut r, fmt, n)?),
        3 => Body::Event(Event::read(&mut r, fmt)?),
        4 => Body::Participants(Participants::read(&mut r, fmt, n)?),
        5 => Body::CarSetups(CarSetups::read(&mut r, fmt, n)?),
        6 => Body::CarTelemetry(CarTelemetryPacket::read(&mut r, n)?),
        7 => Body::CarStatus(CarStatusPacket::read(&mut r, n)?),
        8 => Body::FinalClassification(FinalClassification::read(&mut r, fmt, n)?),
        9 => Body::LobbyInfo(LobbyInfo::read(&mut r, fmt, n)?),
        10 => Body::CarDamage(CarDamagePacket::read(&mut r, fmt, n)?),
        11 => Body::SessionHistory(Box::new(SessionHistory::read(&mut r)?)),
        12 => Body::TyreSets(TyreSets::read(&mut r)?),
        13 => Body::MotionEx(Box::new(MotionEx::read(&mut r, fmt)?)),
        14 => Body::TimeTrial(TimeTrial::read(&mut r)?),
        15 => Body::LapPositions(LapPositions::read(&mut r, n)?),
        // The size table has no entry for other ids, so this is unreachable for known formats.
        packet_id => {
            return Err(DecodeError::UnknownId {
                format: fmt,
                packet_id,
            });
        }
    };
    check_covered(&header, &r, bytes);
    Ok(Packet { header, body })
}

/// The packet ids whose bodies [`normalize::Normalizer`] reads: Session, LapData, Event, Participants,
/// CarTelemetry, CarStatus and CarDamage.
pub const RACE_PACKET_IDS: [u8; 7] = [1, 2, 3, 4, 6, 7, 10];

/// What [`decode_for_race`] read from a well-formed datagram.
#[derive(Clone, Debug, PartialEq)]
pub enum RacePacket {
    /// A packet whose body the normalizer reads ([`RACE_PACKET_IDS`]).
    Packet(Packet),
    /// Another packet: its header only ([`normalize::Normalizer::push_header`]).
    Other(PacketHeader),
}

/// [`decode`] for a client that only normalizes: the header, format and length are checked exactly as there, but
/// only the bodies of [`RACE_PACKET_IDS`] are read; any other well-formed packet gives its header. A program that
/// calls this and not [`decode`] links none of the other bodies' readers (the browser's offline replay, where every
/// kilobyte is shipped). Since the length is checked first, a body this skips could not have failed to decode,
/// so the same datagrams are errors here as in [`decode`].
///
/// # Errors
/// The [`DecodeError`] [`decode`] gives for the same bytes.
pub fn decode_for_race(bytes: &[u8]) -> Result<RacePacket, DecodeError> {
    let (header, mut r, n) = checked_header(bytes)?;
    let fmt = header.packet_format;
    let body = match header.packet_id {
        1 => Body::Session(Box::new(Session::read(&mut r, fmt)?)),
        2 => Body::LapData(LapDataPacket::read(&mut r, fmt, n)?),
        3 => Body::Event(Event::read(&mut r, fmt)?),
        4 => Body::Participants(Participants::read(&mut r, fmt, n)?),
        6 => Body::CarTelemetry(CarTelemetryPacket::read(&mut r, n)?),
        7 => Body::CarStatus(CarStatusPacket::read(&mut r, n)?),
        10 => Body::CarDamage(CarDamagePacket::read(&mut r, fmt, n)?),
        _ => return Ok(RacePacket::Other(header)),
    };
    check_covered(&header, &r, bytes);
    Ok(RacePacket::Packet(Packet { header, body }))
}

/// The header of a datagram whose format and id are known and whose length is that packet's, with a reader at
/// the body and the format's number of car slots.
fn checked_header(bytes: &[u8]) -> Result<(PacketHeader, Reader<'_>, usize), DecodeError> {
    let mut r = Reader::new(bytes);
    let header = PacketHeader::read(&mut r)?;
    let spec = format::spec(header.packet_format)
        .ok_or(DecodeError::UnknownFormat(header.packet_format))?;
    let id = usize::from(header.packet_id);
    let unknown = DecodeError::UnknownId {
        format: header.packet_format,
        packet_id: header.packet_id,
    };
    let expected = spec.sizes.get(id).copied().flatten().ok_or(unknown)?;
    if bytes.len() != expected {
        return Err(DecodeError::WrongLength {
            format: header.packet_format,
            packet_id: header.packet_id,
            name: format::PACKET_NAMES[id],
            got: bytes.len(),
            expected,
        });
    }
    Ok((header, r, spec.n_cars))
}

/// Every layout must account for every byte: a mismatch means the layout (not the datagram) is wrong.
fn check_covered(header: &PacketHeader, r: &Reader<'_>, bytes: &[u8]) {
    debug_assert_eq!(
        r.position(),
        bytes.len(),
        "{} layout in format {} does not cover the packet",
        format::PACKET_NAMES[usize::from(header.packet_id)],
        header.packet_format
    );
}

/// Encodes one packet to the exact datagram the game would send: the inverse of [`decode`].
///
/// Bytes the decoder does not read are zeros: the tail of the event details union past the code's fields, and the
/// padding after each name's NUL terminator (a name too long for its field is cut at a UTF-8 character boundary).
/// Everything else round-trips bit for bit, NaN payloads included.
///
/// # Errors
/// An [`EncodeError`] when the packet does not fit its header's format and id: unknown format or id, a body of
/// another packet, an array whose length is not the layout's, or a format-specific field present in the wrong
/// format. Never panics.
///
/// # Example
/// ```
/// use boxbox_engine::telemetry::{Body, Packet, PacketHeader, TimeTrial, TimeTrialDataSet, decode, encode};
///
/// let header = PacketHeader {
///     packet_format: 2025,
///     game_year: 25,
///     game_major_version: 1,
///     game_minor_version: 17,
///     packet_version: 1,
///     packet_id: 14,
///     session_uid: 42,
///     session_time: 1.5,
///     frame_identifier: 90,
///     overall_frame_identifier: 90,
///     player_car_index: 0,
///     secondary_player_car_index: 255,
/// };
/// let best = TimeTrialDataSet { lap_time_in_ms: 89_612, valid: 1, ..TimeTrialDataSet::default() };
/// let packet = Packet {
///     header,
///     body: Body::TimeTrial(TimeTrial {
///         player_session_best_data_set: best,
///         personal_best_data_set: best,
///         rival_data_set: TimeTrialDataSet::default(),
///     }),
/// };
/// let bytes = encode(&packet)?;
/// assert_eq!(bytes.len(), 101);
/// assert_eq!(decode(&bytes)?, packet);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encode(packet: &Packet) -> Result<Vec<u8>, EncodeError> {
    let header = &packet.header;
    let fmt = header.packet_format;
    let spec = format::spec(fmt).ok_or(EncodeError::UnknownFormat(fmt))?;
    let id = usize::from(header.packet_id);
    let expected = spec
        .sizes
        .get(id)
        .copied()
        .flatten()
        .ok_or(EncodeError::UnknownId {
            format: fmt,
            packet_id: header.packet_id,
        })?;
    let body_id = packet.body.packet_id();
    if body_id != header.packet_id {
        return Err(EncodeError::BodyMismatch {
            packet_id: header.packet_id,
            expected: format::PACKET_NAMES[id],
            got: format::PACKET_NAMES[usize::from(body_id)],
        });
    }
    let n = spec.n_cars;
    let mut w = Writer::with_capacity(expected);
    header.encode(&mut w);
    match &packet.body {
        Body::Motion(b) => b.encode(&mut w, n)?,
        Body::Session(b) => b.encode(&mut w, fmt)?,
        Body::LapData(b) => b.encode(&mut w, fmt, n)?,
        Body::Event(b) => b.encode(&mut w, fmt)?,
        Body::Participants(b) => b.encode(&mut w, fmt, n)?,
        Body::CarSetups(b) => b.encode(&mut w, fmt, n)?,
        Body::CarTelemetry(b) => b.encode(&mut w, n)?,
        Body::CarStatus(b) => b.encode(&mut w, n)?,
        Body::FinalClassification(b) => b.encode(&mut w, fmt, n)?,
        Body::LobbyInfo(b) => b.encode(&mut w, fmt, n)?,
        Body::CarDamage(b) => b.encode(&mut w, fmt, n)?,
        Body::SessionHistory(b) => b.encode(&mut w)?,
        Body::TyreSets(b) => b.encode(&mut w)?,
        Body::MotionEx(b) => b.encode(&mut w, fmt)?,
        Body::TimeTrial(b) => b.encode(&mut w),
        Body::LapPositions(b) => b.encode(&mut w, n)?,
    }
    check_length(w.into_bytes(), fmt, header.packet_id, expected)
}

/// The encoder's last line of defence: every layout must write exactly the format table's size.
fn check_length(
    bytes: Vec<u8>,
    format: u16,
    packet_id: u8,
    expected: usize,
) -> Result<Vec<u8>, EncodeError> {
    if bytes.len() == expected {
        Ok(bytes)
    } else {
        Err(EncodeError::WrongLength {
            format,
            packet_id,
            name: format::PACKET_NAMES
                .get(usize::from(packet_id))
                .copied()
                .unwrap_or("unknown"),
            got: bytes.len(),
            expected,
        })
    }
}

#[cfg(test)]
mod encode_tests;
#[cfg(test)]
mod tests;
