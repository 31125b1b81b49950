//! Fuzz target for the telemetry decoder: arbitrary bytes must decode to a packet or a `DecodeError`, never a panic;
//! every packet that decodes must encode back to bytes that decode to the same header and re-encode identically; and
//! the normalizer must take any stream of decoded packets without panicking.
//!
//! The input is decoded whole (one datagram of any length), then read as a stream of datagrams laid end to end, each
//! as long as its header's format and id say, so that one input can bring a Session, a LapData and the rest to a
//! single [`Normalizer`]. Run from `engine/`: `cargo +nightly fuzz run decode` (README.md, Fuzzing).

#![no_main]

use std::hint::black_box;

use boxbox_engine::telemetry::normalize::Normalizer;
use boxbox_engine::telemetry::{HEADER_LEN, Packet, PacketHeader, decode, encode, format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Any length, any bytes: a packet or a typed error.
    let _ = black_box(decode(data));

    let mut normalizer = Normalizer::new();
    let mut rest = data;
    while let Some(len) = datagram_len(rest) {
        let (datagram, tail) = rest.split_at(len);
        rest = tail;
        let Ok(packet) = decode(datagram) else {
            continue;
        };
        round_trip(&packet);
        normalizer.push(&packet);
        // Whatever the bytes, the normalizer's state keeps the model's invariants.
        if let Some(state) = normalizer.state() {
            assert_eq!(state.check_invariants(), Ok(()));
        }
    }
});

/// The length of the datagram `bytes` starts with, from its header's format and id, if that many bytes are there.
fn datagram_len(bytes: &[u8]) -> Option<usize> {
    let header = bytes.get(..HEADER_LEN)?;
    let packet_format = u16::from_le_bytes([header[0], header[1]]);
    let packet_id = usize::from(header[6]);
    let len = format::spec(packet_format)?
        .sizes
        .get(packet_id)
        .copied()
        .flatten()?;
    (len <= bytes.len()).then_some(len)
}

/// A decoded packet encodes, the encoding decodes to the same header, and encoding that again gives the same bytes.
///
/// The first encoding may differ from the datagram (the decoder ignores the event union's stale tail and the bytes
/// after a name's NUL), but from then on the bytes are a fixed point.
fn round_trip(packet: &Packet) {
    let bytes = match encode(packet) {
        Ok(bytes) => bytes,
        Err(e) => panic!("a decoded packet does not encode: {e}"),
    };
    let again = match decode(&bytes) {
        Ok(again) => again,
        Err(e) => panic!("an encoded packet does not decode: {e}"),
    };
    assert!(
        same_header(&packet.header, &again.header),
        "header changed in the round trip: {:?} became {:?}",
        packet.header,
        again.header
    );
    match encode(&again) {
        Ok(bytes_again) => assert!(bytes_again == bytes, "re-encoding changed the bytes"),
        Err(e) => panic!("a re-decoded packet does not encode: {e}"),
    }
}

/// Header equality with the session time compared bit for bit (it may be NaN).
fn same_header(a: &PacketHeader, b: &PacketHeader) -> bool {
    let without_time = |h: &PacketHeader| PacketHeader {
        session_time: 0.0,
        ..*h
    };
    a.session_time.to_bits() == b.session_time.to_bits() && without_time(a) == without_time(b)
}
