//! EA F1 23/24/25 UDP telemetry decoding: bytes in, typed packets out. No sockets here; the relay owns those.
//!
//! [`decode`] dispatches on `(m_packetFormat, m_packetId)`, checks the exact datagram length for that format
//! (table in [`format`](mod@format)), and reads the body with a bounds-checked [`reader::Reader`], so malformed input is a
//! typed [`DecodeError`], never a panic. Field names follow EA's (`m_lastLapTimeInMS` → `last_lap_time_in_ms`)
//! and serialize under those names; units and ranges are in the field docs. The layouts are those of
//! `shared/f1-udp-spec.md`.
//!
//! Every packet id of formats 2023, 2024 and 2025 is decoded (ids 0–15 where the format has them); a decoded
//! packet has consumed exactly the datagram's bytes, which the tests check on every real capture.

pub mod format;
pub mod normalize;
pub mod packets;
pub mod reader;
pub mod results;
pub mod setup;

use serde::Serialize;

pub use packets::*;
use reader::Reader;
pub use results::*;
pub use setup::*;

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
    let name = format::PACKET_NAMES[id];
    if bytes.len() != expected {
        return Err(DecodeError::WrongLength {
            format: header.packet_format,
            packet_id: header.packet_id,
            name,
            got: bytes.len(),
            expected,
        });
    }
    let fmt = header.packet_format;
    let n = spec.n_cars;
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
    // Every layout must account for every byte: a mismatch means the layout (not the datagram) is wrong.
    debug_assert_eq!(
        r.position(),
        bytes.len(),
        "{name} layout in format {fmt} does not cover the packet"
    );
    Ok(Packet { header, body })
}

#[cfg(test)]
mod tests;
