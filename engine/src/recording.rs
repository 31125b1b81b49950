//! Session recordings as standard libpcap files: every UDP datagram with its IPv4/UDP framing and receive time, so
//! Wireshark opens them and a replay re-sends exactly the bytes the game sent.
//!
//! The engine only turns datagrams into bytes and back; the relay owns the files and the clock. Files are written
//! as a header ([`pcap_file_header`]) followed by one record per datagram ([`pcap_record`]), so a writer can append
//! and flush each datagram as it arrives and a crash loses at most the last one. [`read_pcap`] accepts Ethernet,
//! raw-IP and loopback captures (tcpdump and Wireshark recordings too), keeps the UDP/IPv4 datagrams and says what
//! it skipped; a truncated last record (a crash mid-write) is reported, not fatal.

use std::borrow::Cow;
use std::net::SocketAddrV4;
use std::time::Duration;

use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TransportSlice};
use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapParser};

/// One UDP datagram as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    /// Receive time, as a duration since the Unix epoch (or any fixed origin).
    pub received: Duration,
    /// Sender.
    pub src: SocketAddrV4,
    /// Receiver.
    pub dst: SocketAddrV4,
    /// The UDP payload: one game packet.
    pub payload: Vec<u8>,
}

/// What a recording held.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recording {
    /// The UDP/IPv4 datagrams, in file order.
    pub datagrams: Vec<Datagram>,
    /// Frames that were not UDP over IPv4 (ARP, TCP, IPv6…), left out.
    pub skipped_frames: usize,
    /// The file ended inside a record (e.g. the writer was killed mid-write); everything before it was read.
    pub truncated_tail: bool,
}

/// Why a recording could not be read at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordingError {
    /// Not a libpcap file (pcapng is not supported).
    #[error("not a pcap file: {0}")]
    NotPcap(String),
    /// A link type boxbox cannot unwrap.
    #[error("unsupported pcap link type {0}")]
    UnsupportedLinkType(u32),
}

/// The 24-byte libpcap global header boxbox writes: microsecond timestamps, Ethernet link type, 65535 snap length.
pub fn pcap_file_header() -> Vec<u8> {
    let header = PcapHeader {
        datalink: DataLink::ETHERNET,
        snaplen: 65_535,
        endianness: pcap_file::Endianness::Little,
        ..PcapHeader::default()
    };
    let mut out = Vec::with_capacity(24);
    // Writing into a Vec cannot fail.
    let _ = header.write_to(&mut out);
    out
}

/// One libpcap record for `datagram`: record header, then Ethernet, IPv4 and UDP headers and the payload.
pub fn pcap_record(datagram: &Datagram) -> Vec<u8> {
    let frame = ethernet_frame(datagram);
    let packet = PcapPacket {
        timestamp: datagram.received,
        orig_len: frame.len() as u32,
        data: Cow::Owned(frame),
    };
    let mut out = Vec::with_capacity(16 + packet.data.len());
    // Writing into a Vec cannot fail.
    let _ = packet.write_to::<_, byteorder::LittleEndian>(
        &mut out,
        pcap_file::TsResolution::MicroSecond,
        65_535,
    );
    out
}

fn ethernet_frame(d: &Datagram) -> Vec<u8> {
    // Locally administered, otherwise meaningless MAC addresses: the game's traffic is UDP, the link is incidental.
    let builder = PacketBuilder::ethernet2([0x02, 0, 0, 0, 0, 1], [0x02, 0, 0, 0, 0, 2])
        .ipv4(d.src.ip().octets(), d.dst.ip().octets(), 64)
        .udp(d.src.port(), d.dst.port());
    let mut frame = Vec::with_capacity(builder.size(d.payload.len()));
    if builder.write_to_vec(&mut frame, &d.payload).is_err() {
        // Only a payload over 65,507 bytes fails; game packets are under 1,500. Keep the record well-formed anyway.
        frame.clear();
    }
    frame
}

/// Reads a whole libpcap file.
///
/// # Errors
/// [`RecordingError`] if the file is not pcap or its link type cannot be unwrapped; damaged records after a valid
/// header are not errors (see [`Recording`]).
pub fn read_pcap(bytes: &[u8]) -> Result<Recording, RecordingError> {
    let (mut rest, parser) =
        PcapParser::new(bytes).map_err(|e| RecordingError::NotPcap(e.to_string()))?;
    let link = parser.header().datalink;
    let unwrap: fn(&[u8]) -> Option<SlicedPacket<'_>> = match link {
        DataLink::ETHERNET => |f| SlicedPacket::from_ethernet(f).ok(),
        DataLink::RAW | DataLink::IPV4 => |f| SlicedPacket::from_ip(f).ok(),
        // BSD loopback (tcpdump on `lo` on macOS): a 4-byte address family, then IP.
        DataLink::NULL | DataLink::LOOP => {
            |f| f.get(4..).and_then(|ip| SlicedPacket::from_ip(ip).ok())
        }
        // Linux cooked capture (tcpdump -i any): a 16-byte header, then IP.
        DataLink::LINUX_SLL => |f| f.get(16..).and_then(|ip| SlicedPacket::from_ip(ip).ok()),
        other => return Err(RecordingError::UnsupportedLinkType(u32::from(other))),
    };
    let mut out = Recording::default();
    while !rest.is_empty() {
        let Ok((next, packet)) = parser.next_packet(rest) else {
            out.truncated_tail = true;
            break;
        };
        rest = next;
        match unwrap(&packet.data).and_then(|sliced| udp_datagram(packet.timestamp, &sliced)) {
            Some(datagram) => out.datagrams.push(datagram),
            None => out.skipped_frames += 1,
        }
    }
    Ok(out)
}

fn udp_datagram(received: Duration, sliced: &SlicedPacket<'_>) -> Option<Datagram> {
    let Some(NetSlice::Ipv4(ip)) = &sliced.net else {
        return None;
    };
    let Some(TransportSlice::Udp(udp)) = &sliced.transport else {
        return None;
    };
    let header = ip.header();
    Some(Datagram {
        received,
        src: SocketAddrV4::new(header.source_addr(), udp.source_port()),
        dst: SocketAddrV4::new(header.destination_addr(), udp.destination_port()),
        payload: udp.payload().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datagram(i: u8) -> Datagram {
        Datagram {
            received: Duration::from_micros(1_700_000_000_000_000 + u64::from(i) * 16_667),
            src: "192.168.1.20:56789".parse().unwrap(),
            dst: "192.168.1.10:20777".parse().unwrap(),
            payload: (0..=i).collect(),
        }
    }

    #[test]
    fn written_records_read_back_identically() {
        let mut file = pcap_file_header();
        assert_eq!(&file[..4], &0xa1b2_c3d4u32.to_le_bytes());
        let sent: Vec<Datagram> = (0..50).map(datagram).collect();
        for d in &sent {
            file.extend(pcap_record(d));
        }
        let back = read_pcap(&file).unwrap();
        assert_eq!(back.datagrams, sent);
        assert_eq!((back.skipped_frames, back.truncated_tail), (0, false));
    }

    #[test]
    fn a_torn_last_record_keeps_everything_before_it() {
        let mut file = pcap_file_header();
        for i in 0..3 {
            file.extend(pcap_record(&datagram(i)));
        }
        let whole = file.len();
        file.extend(&pcap_record(&datagram(9))[..20]);
        let back = read_pcap(&file).unwrap();
        assert_eq!(back.datagrams.len(), 3);
        assert!(back.truncated_tail);
        assert!(read_pcap(&file[..whole]).is_ok_and(|r| !r.truncated_tail));
    }

    #[test]
    fn garbage_is_a_clear_error() {
        assert!(matches!(
            read_pcap(b"not a pcap at all, just text"),
            Err(RecordingError::NotPcap(_))
        ));
        assert!(matches!(read_pcap(&[]), Err(RecordingError::NotPcap(_))));
    }
}
