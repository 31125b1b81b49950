//! Tests of the encoder: every real capture round-trips (byte for byte wherever the game's bytes follow from the
//! decoded packet), damaged real packets that still decode round-trip too, and every way a packet can misfit its
//! format is a typed error.

#[cfg(not(target_arch = "wasm32"))]
use proptest::prelude::*;

use super::tests::{all_captures, capture};
use super::*;

/// Structural equality with NaN equal to NaN: `Debug` prints every float with its shortest round-trip digits (and
/// `-0.0` apart from `0.0`), so two packets print alike exactly when all fields are equal, NaNs aside. NaN payloads
/// are compared by the byte checks that go with every use of this.
fn same(a: &Packet, b: &Packet) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

fn decoded_captures() -> Vec<(String, Vec<u8>, Packet)> {
    all_captures()
        .into_iter()
        .filter_map(|(name, bytes)| {
            let packet = decode(&bytes).ok()?;
            Some((name, bytes, packet))
        })
        .collect()
}

/// Bytes of the event details union the code's own fields use (the decoder reads only those).
fn event_details_len(details: &EventDetails) -> usize {
    match details {
        EventDetails::None => 0,
        EventDetails::FastestLap { .. } => 1 + 4,
        EventDetails::Retirement { reason, .. } => 1 + usize::from(reason.is_some()),
        EventDetails::DrsDisabled { .. }
        | EventDetails::Vehicle { .. }
        | EventDetails::StartLights { .. } => 1,
        EventDetails::Penalty { .. } => 7,
        EventDetails::SpeedTrap { .. } => 1 + 4 + 1 + 1 + 1 + 4,
        EventDetails::StopGoPenaltyServed { stop_time, .. } => {
            1 + 4 * usize::from(stop_time.is_some())
        }
        EventDetails::Flashback { .. } => 4 + 4,
        EventDetails::Buttons { .. } => 4,
        EventDetails::Overtake { .. }
        | EventDetails::SafetyCar { .. }
        | EventDetails::Collision { .. } => 2,
    }
}

/// Where a name field lies in a Participants (4) or LobbyInfo (9) datagram: `(offset of the name in a record,
/// name length)`. Both packets are a header, a count byte and one fixed-size record per car slot.
fn name_field(packet: &Packet) -> Option<(usize, usize)> {
    let name_len = if packet.header.packet_format >= 2025 {
        32
    } else {
        48
    };
    match packet.body {
        Body::Participants(_) => Some((7, name_len)),
        Body::LobbyInfo(_) => Some((4, name_len)),
        _ => None,
    }
}

/// Why a byte of a real capture may differ from its re-encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Undetermined {
    /// Past the event code's fields in the 12-byte details union: the game does not zero the union, so these bytes
    /// hold whatever an earlier event left there (spec §1), and the decoder rightly ignores them.
    EventUnionTail,
    /// After the NUL that ends a name: the game copies names into a buffer it does not clear, so stale characters
    /// of a longer earlier name can follow the terminator ("Stupy\0oc" in the F1 25 captures of formats 2023 and
    /// 2024). No reader sees them.
    AfterNameNul,
}

/// Classifies a differing byte at `pos`, or `None` if the packet determines that byte (an encoder bug).
fn undetermined(
    packet: &Packet,
    original: &[u8],
    encoded: &[u8],
    pos: usize,
) -> Option<Undetermined> {
    if encoded[pos] != 0 {
        return None;
    }
    if let Body::Event(e) = &packet.body {
        let tail_start = HEADER_LEN + 4 + event_details_len(&e.event_details);
        return (tail_start..HEADER_LEN + 16)
            .contains(&pos)
            .then_some(Undetermined::EventUnionTail);
    }
    let (name_offset, name_len) = name_field(packet)?;
    let n_cars = format::spec(packet.header.packet_format)?.n_cars;
    let record_len = (original.len() - HEADER_LEN - 1) / n_cars;
    let in_records = pos.checked_sub(HEADER_LEN + 1)?;
    let record_start = HEADER_LEN + 1 + in_records / record_len * record_len;
    let name = record_start + name_offset..record_start + name_offset + name_len;
    let nul = original[name.clone()].iter().position(|b| *b == 0)?;
    (name.contains(&pos) && pos > name.start + nul).then_some(Undetermined::AfterNameNul)
}

#[test]
fn every_decodable_capture_round_trips() {
    let captures = decoded_captures();
    // 150 captures, minus the 28 of format 2022 and the 2 hand-edited ones.
    assert_eq!(captures.len(), 120);
    for (name, bytes, packet) in &captures {
        let encoded = encode(packet).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(encoded.len(), bytes.len(), "{name}");
        let again = decode(&encoded).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(same(&again, packet), "{name}: {again:?}\n!= {packet:?}");
        assert_eq!(
            encode(&again).unwrap(),
            encoded,
            "{name}: not a fixed point"
        );
    }
}

/// Every byte of every real capture is reproduced, except bytes the decoded packet cannot know (see
/// [`Undetermined`]); the encoder writes zeros there, as a game with cleared buffers would.
#[test]
fn real_captures_round_trip_byte_for_byte_except_stale_bytes() {
    let mut exact = 0;
    let mut by_cause: std::collections::BTreeMap<Undetermined, Vec<String>> = Default::default();
    for (name, bytes, packet) in decoded_captures() {
        let encoded = encode(&packet).unwrap();
        let mut causes: Vec<Undetermined> = (0..bytes.len())
            .filter(|&i| bytes[i] != encoded[i])
            .map(|i| {
                undetermined(&packet, &bytes, &encoded, i).unwrap_or_else(|| {
                    panic!(
                        "{name}: byte {i} is {:#04x}, encoded {:#04x}",
                        bytes[i], encoded[i]
                    )
                })
            })
            .collect();
        causes.dedup();
        match causes.as_slice() {
            [] => exact += 1,
            [cause] => by_cause.entry(*cause).or_default().push(name),
            _ => panic!("{name}: several causes {causes:?}"),
        }
    }
    let events = &by_cause[&Undetermined::EventUnionTail];
    let names = &by_cause[&Undetermined::AfterNameNul];
    // The counts pin the fixtures down so the test cannot pass vacuously: 45 of the 55 event packets that decode
    // carry stale union bytes (the other 10 are BUTN, FLBK, FTLP and SPTP packets whose fields fill the union or
    // whose stale bytes happen to be zero), and the two Participants packets F1 25 sent in formats 2023 and 2024
    // carry a stale name tail. The other 73 captures, every other packet id included, are reproduced exactly.
    assert_eq!(events.len(), 45, "{events:?}");
    assert_eq!(
        names,
        &["gamesdat/2023/packet-4.bin", "gamesdat/2024/packet-4.bin"]
    );
    assert_eq!(exact, 120 - 45 - 2, "{by_cause:?}");
}

#[test]
fn names_too_long_for_their_field_are_cut_at_a_char_boundary() {
    let mut packet = decode(&capture("gamesdat/2025/packet-4.bin")).unwrap();
    let Body::Participants(p) = &mut packet.body else {
        panic!("not participants")
    };
    // 31 ASCII bytes then a 3-byte character: only the ASCII fits next to the NUL in a 32-byte field.
    let long = format!("{}…", "A".repeat(31));
    p.participants[0].name.clone_from(&long);
    let others = p.participants[1..].to_vec();
    let again = decode(&encode(&packet).unwrap()).unwrap();
    let Body::Participants(q) = &again.body else {
        panic!("not participants")
    };
    assert_eq!(q.participants[0].name, long[..31]);
    assert_eq!(q.participants[1..], others);
}

#[test]
fn unknown_format_and_id_are_errors() {
    let mut packet = decode(&capture("gamesdat/2025/packet-6.bin")).unwrap();
    packet.header.packet_format = 2022;
    assert_eq!(encode(&packet), Err(EncodeError::UnknownFormat(2022)));

    let mut tt = decode(&capture("gamesdat/2025/packet-14.bin")).unwrap();
    tt.header.packet_format = 2023;
    assert_eq!(
        encode(&tt),
        Err(EncodeError::UnknownId {
            format: 2023,
            packet_id: 14
        })
    );
    tt.header.packet_id = 16;
    tt.header.packet_format = 2025;
    assert_eq!(
        encode(&tt),
        Err(EncodeError::UnknownId {
            format: 2025,
            packet_id: 16
        })
    );
}

#[test]
fn a_body_of_another_packet_is_an_error() {
    let mut packet = decode(&capture("gamesdat/2025/packet-6.bin")).unwrap();
    packet.header.packet_id = 7;
    let err = encode(&packet).unwrap_err();
    assert_eq!(
        err,
        EncodeError::BodyMismatch {
            packet_id: 7,
            expected: "car_status",
            got: "car_telemetry"
        }
    );
    assert_eq!(
        err.to_string(),
        "header says car_status (id 7) but the body is car_telemetry"
    );
}

#[test]
fn arrays_of_the_wrong_length_are_errors() {
    let mut motion = decode(&capture("gamesdat/2025/packet-0.bin")).unwrap();
    let Body::Motion(m) = &mut motion.body else {
        panic!("not motion")
    };
    m.car_motion_data.truncate(20);
    assert_eq!(
        encode(&motion),
        Err(EncodeError::WrongCount {
            field: "car_motion_data",
            got: 20,
            expected: 22
        })
    );

    let mut lp = decode(&capture("gamesdat/2025/packet-15.bin")).unwrap();
    let Body::LapPositions(l) = &mut lp.body else {
        panic!("not lap positions")
    };
    l.position_for_vehicle_idx[3].push(0);
    assert_eq!(
        encode(&lp),
        Err(EncodeError::WrongCount {
            field: "position_for_vehicle_idx",
            got: 23,
            expected: 22
        })
    );

    // A 2023 session (56 forecast samples) relabelled as 2024 (64).
    let mut session = decode(&capture("gamesdat/2023/packet-1.bin")).unwrap();
    session.header.packet_format = 2024;
    assert_eq!(
        encode(&session),
        Err(EncodeError::WrongCount {
            field: "weather_forecast_samples",
            got: 56,
            expected: 64
        })
    );
}

#[test]
fn format_specific_fields_in_the_wrong_format_are_errors() {
    let mut participants = decode(&capture("gamesdat/2025/packet-4.bin")).unwrap();
    participants.header.packet_format = 2024;
    let err = encode(&participants).unwrap_err();
    assert_eq!(
        err,
        EncodeError::FormatField {
            format: 2024,
            field: "num_colours",
            present: true
        }
    );
    assert_eq!(
        err.to_string(),
        "num_colours is present, but absent from format 2024"
    );

    let mut motion_ex = decode(&capture("gamesdat/2024/packet-13.bin")).unwrap();
    motion_ex.header.packet_format = 2025;
    assert_eq!(
        encode(&motion_ex),
        Err(EncodeError::FormatField {
            format: 2025,
            field: "chassis_pitch",
            present: false
        })
    );

    let mut laps = decode(&capture("gamesdat/2023/packet-2.bin")).unwrap();
    laps.header.packet_format = 2024;
    assert_eq!(
        encode(&laps),
        Err(EncodeError::FormatField {
            format: 2024,
            field: "lap_data (LapData records)",
            present: false
        })
    );

    let mut rtmt = decode(&capture("gamesdat/2025/packet-3-RTMT.bin")).unwrap();
    rtmt.header.packet_format = 2024;
    assert_eq!(
        encode(&rtmt),
        Err(EncodeError::FormatField {
            format: 2024,
            field: "reason",
            present: true
        })
    );
}

#[test]
fn event_details_that_do_not_fit_the_code_are_errors() {
    let ssta = decode(&capture("gamesdat/2025/packet-3-SSTA.bin")).unwrap();
    let with = |code: &str, details: EventDetails, format: u16| {
        let mut p = ssta.clone();
        p.header.packet_format = format;
        p.body = Body::Event(Event {
            event_string_code: code.to_owned(),
            event_details: details,
        });
        encode(&p)
    };
    let mismatch = |code: &str, details: &'static str, format: u16| {
        Err(EncodeError::EventMismatch {
            format,
            code: code.to_owned(),
            details,
        })
    };
    let fastest = EventDetails::FastestLap {
        vehicle_idx: 1,
        lap_time: 90.0,
    };
    assert_eq!(
        with("SSTA", fastest, 2025),
        mismatch("SSTA", "FastestLap", 2025)
    );
    assert_eq!(
        with("ZZZZ", EventDetails::None, 2025),
        mismatch("ZZZZ", "None", 2025)
    );
    assert_eq!(
        with("SSTAX", EventDetails::None, 2025),
        mismatch("SSTAX", "None", 2025)
    );
    // DRSD carries a reason only from 2025, and SCAR exists only from 2024.
    assert_eq!(
        with("DRSD", EventDetails::None, 2025),
        mismatch("DRSD", "None", 2025)
    );
    assert!(with("DRSD", EventDetails::None, 2024).is_ok());
    let scar = EventDetails::SafetyCar {
        safety_car_type: 1,
        event_type: 0,
    };
    assert_eq!(
        with("SCAR", scar, 2023),
        mismatch("SCAR", "SafetyCar", 2023)
    );
    assert!(with("SCAR", scar, 2024).is_ok());
}

#[test]
fn a_layout_that_misses_the_size_table_is_an_error_not_a_panic() {
    assert_eq!(
        check_length(vec![0; 10], 2025, 6, 1352),
        Err(EncodeError::WrongLength {
            format: 2025,
            packet_id: 6,
            name: "car_telemetry",
            got: 10,
            expected: 1352
        })
    );
    assert_eq!(check_length(vec![0; 45], 2025, 3, 45), Ok(vec![0; 45]));
}

#[cfg(not(target_arch = "wasm32"))]
proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Real packets with random bytes overwritten (same length) that still decode round-trip through the encoder:
    /// the encoding re-decodes to the same packet, and encoding is a fixed point. The one loss is a name that no
    /// longer fits its field once damaged (its NUL overwritten, or invalid UTF-8 widened to U+FFFD): it comes back
    /// cut to fit, as a prefix.
    #[test]
    fn damaged_real_packets_that_decode_round_trip(
        pick in 0usize..1000,
        edits in proptest::collection::vec((0usize..2000, any::<u8>()), 1..8),
    ) {
        let captures = all_captures();
        let (name, bytes) = &captures[pick % captures.len()];
        let mut damaged = bytes.clone();
        for (pos, value) in edits {
            let len = damaged.len();
            damaged[pos % len] = value;
        }
        let Ok(packet) = decode(&damaged) else {
            return Ok(());
        };
        let encoded = encode(&packet).map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
        prop_assert_eq!(encoded.len(), damaged.len());
        let again = decode(&encoded).map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
        prop_assert_eq!(&encode(&again).unwrap(), &encoded);
        let mut expected = packet.clone();
        let name_len = name_field(&packet).map_or(0, |(_, len)| len);
        let names_in = |names: Vec<&mut String>, got: Vec<&String>| -> Result<(), TestCaseError> {
            for (want, got) in names.into_iter().zip(got) {
                prop_assert!(want.starts_with(got.as_str()) && got.len() < name_len, "{want:?} -> {got:?}");
                got.clone_into(want);
            }
            Ok(())
        };
        match (&mut expected.body, &again.body) {
            (Body::Participants(want), Body::Participants(got)) => names_in(
                want.participants.iter_mut().map(|p| &mut p.name).collect(),
                got.participants.iter().map(|p| &p.name).collect(),
            )?,
            (Body::LobbyInfo(want), Body::LobbyInfo(got)) => names_in(
                want.lobby_players.iter_mut().map(|p| &mut p.name).collect(),
                got.lobby_players.iter().map(|p| &p.name).collect(),
            )?,
            _ => {}
        }
        prop_assert!(same(&again, &expected), "{}: {:?}\n!= {:?}", name, again, expected);
    }
}
