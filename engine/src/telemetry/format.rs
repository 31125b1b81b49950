//! The packet formats boxbox decodes, as a table: per format, the number of car slots and the exact size of every
//! packet id. Adding a format (e.g. 2026, 24 cars) is a new row here plus its layout differences in the bodies.

/// Packet ids 0..=16 and their names.
pub const PACKET_NAMES: [&str; 17] = [
    "motion",
    "session",
    "lap_data",
    "event",
    "participants",
    "car_setups",
    "car_telemetry",
    "car_status",
    "final_classification",
    "lobby_info",
    "car_damage",
    "session_history",
    "tyre_sets",
    "motion_ex",
    "time_trial",
    "lap_positions",
    "car_telemetry2",
];

/// One packet format (`m_packetFormat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FormatSpec {
    /// The `m_packetFormat` value: 2023, 2024, 2025.
    pub format: u16,
    /// Car slots in every per-car array.
    pub n_cars: usize,
    /// Exact datagram size per packet id, header included; `None` where the format has no such packet.
    pub sizes: [Option<usize>; 17],
}

/// The formats boxbox decodes, with sizes from `shared/f1-udp-spec.md` §2 (checked there against EA's headers,
/// three parsers and real captures).
pub const FORMATS: [FormatSpec; 3] = [
    FormatSpec {
        format: 2023,
        n_cars: 22,
        sizes: [
            Some(1349),
            Some(644),
            Some(1131),
            Some(45),
            Some(1306),
            Some(1107),
            Some(1352),
            Some(1239),
            Some(1020),
            Some(1218),
            Some(953),
            Some(1460),
            Some(231),
            Some(217),
            None,
            None,
            None,
        ],
    },
    FormatSpec {
        format: 2024,
        n_cars: 22,
        sizes: [
            Some(1349),
            Some(753),
            Some(1285),
            Some(45),
            Some(1350),
            Some(1133),
            Some(1352),
            Some(1239),
            Some(1020),
            Some(1306),
            Some(953),
            Some(1460),
            Some(231),
            Some(237),
            Some(101),
            None,
            None,
        ],
    },
    FormatSpec {
        format: 2025,
        n_cars: 22,
        sizes: [
            Some(1349),
            Some(753),
            Some(1285),
            Some(45),
            Some(1284),
            Some(1133),
            Some(1352),
            Some(1239),
            Some(1042),
            Some(954),
            Some(1041),
            Some(1460),
            Some(231),
            Some(273),
            Some(101),
            Some(1131),
            None,
        ],
    },
];

/// The spec of a packet format, if boxbox decodes it.
pub fn spec(format: u16) -> Option<&'static FormatSpec> {
    FORMATS.iter().find(|f| f.format == format)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-car packets are `29 + n_cars × record (+ count byte / trailer)`: check the table against that
    /// arithmetic for the records whose sizes the spec gives (§2).
    #[test]
    fn sizes_follow_the_record_arithmetic() {
        let f25 = spec(2025).unwrap();
        assert_eq!(f25.sizes[2], Some(29 + 22 * 57 + 2));
        assert_eq!(f25.sizes[4], Some(29 + 1 + 22 * 57));
        assert_eq!(f25.sizes[6], Some(29 + 22 * 60 + 3));
        assert_eq!(f25.sizes[7], Some(29 + 22 * 55));
        assert_eq!(f25.sizes[10], Some(29 + 22 * 46));
        assert_eq!(spec(2023).unwrap().sizes[2], Some(29 + 22 * 50 + 2));
        assert_eq!(spec(2024).unwrap().sizes[4], Some(29 + 1 + 22 * 60));
        assert!(spec(2022).is_none());
    }
}
