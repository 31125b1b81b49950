//! Session recordings as standard libpcap files: every UDP datagram with its IPv4/UDP framing and receive time, so
//! Wireshark opens them and a replay re-sends exactly the bytes the game sent.
//!
//! The engine only turns datagrams into bytes and back; the relay owns the files and the clock. Files are written
//! as a header ([`pcap_file_header`]) followed by one record per datagram ([`pcap_record`]), so a writer can append
//! and flush each datagram as it arrives and a crash loses at most the last one. [`read_pcap`] accepts Ethernet,
//! raw-IP and loopback captures (tcpdump and Wireshark recordings too), keeps the UDP/IPv4 datagrams and says what
//! it skipped; a truncated last record (a crash mid-write) is reported, not fatal. [`PcapReader`] does the same a
//! record at a time, for a caller that holds only a window of a large file.

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
    let (reader, header_len) = PcapReader::new(bytes)?;
    let mut rest = &bytes[header_len..];
    let mut out = Recording::default();
    while !rest.is_empty() {
        match reader.next(rest) {
            PcapStep::Record { consumed, datagram } => {
                rest = &rest[consumed..];
                match datagram {
                    Some(datagram) => out.datagrams.push(datagram),
                    None => out.skipped_frames += 1,
                }
            }
            PcapStep::NeedMore | PcapStep::Damaged => {
                out.truncated_tail = true;
                break;
            }
        }
    }
    Ok(out)
}

/// Reads a libpcap file one record at a time from whatever part of it the caller holds, so a file larger than
/// memory can be read through a window: bytes in, datagrams out, no IO.
#[derive(Debug)]
pub struct PcapReader {
    parser: PcapParser,
    unwrap: Unwrap,
}

/// Gets from a frame of the file's link type to its IP packet.
type Unwrap = fn(&[u8]) -> Option<SlicedPacket<'_>>;

/// What [`PcapReader::next`] found at the start of the bytes it was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PcapStep {
    /// A whole record, `consumed` bytes long: its UDP/IPv4 datagram, or `None` for a frame that is not one.
    Record {
        /// Bytes the record took, header included.
        consumed: usize,
        /// The datagram, if the frame held one.
        datagram: Option<Datagram>,
    },
    /// The bytes end inside a record: give more (or, at the end of the file, the last record is torn).
    NeedMore,
    /// The record cannot be read (a damaged header): nothing after it can be trusted.
    Damaged,
}

impl PcapReader {
    /// Reads the file header at the start of `bytes`; returns the reader and the header's length.
    ///
    /// # Errors
    /// [`RecordingError`] if the bytes are not a pcap header or the link type cannot be unwrapped.
    pub fn new(bytes: &[u8]) -> Result<(PcapReader, usize), RecordingError> {
        let (rest, parser) =
            PcapParser::new(bytes).map_err(|e| RecordingError::NotPcap(e.to_string()))?;
        let header_len = bytes.len() - rest.len();
        let unwrap = unwrap_fn(parser.header().datalink)?;
        Ok((PcapReader { parser, unwrap }, header_len))
    }

    /// The record at the start of `bytes`.
    pub fn next(&self, bytes: &[u8]) -> PcapStep {
        match self.parser.next_packet(bytes) {
            Ok((rest, packet)) => PcapStep::Record {
                consumed: bytes.len() - rest.len(),
                datagram: (self.unwrap)(&packet.data)
                    .and_then(|sliced| udp_datagram(packet.timestamp, &sliced)),
            },
            // More bytes than any record holds and still incomplete: the record's header claims a length no
            // capture writes (a damaged file), and reading on would buffer the rest of the file for it.
            Err(pcap_file::PcapError::IncompleteBuffer) if bytes.len() > MAX_RECORD_BYTES => {
                PcapStep::Damaged
            }
            Err(pcap_file::PcapError::IncompleteBuffer) => PcapStep::NeedMore,
            Err(_) => PcapStep::Damaged,
        }
    }
}

/// The longest pcap record: its 16-byte header and the largest snap length tools write (tcpdump's 262,144).
const MAX_RECORD_BYTES: usize = 16 + 262_144;

/// How to get from a frame of link type `link` to its IP packet.
fn unwrap_fn(link: DataLink) -> Result<Unwrap, RecordingError> {
    let unwrap: Unwrap = match link {
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
    Ok(unwrap)
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
    fn the_reader_reads_through_any_window_as_the_whole_file_does() {
        let mut file = pcap_file_header();
        let sent: Vec<Datagram> = (0..40).map(datagram).collect();
        for d in &sent {
            file.extend(pcap_record(d));
        }
        let (reader, header_len) = PcapReader::new(&file).unwrap();
        assert_eq!(header_len, 24);
        // Fed through a window of 37 bytes: every datagram, in order, and `NeedMore` in between.
        let mut got = Vec::new();
        let (mut held, mut at) = (Vec::new(), header_len);
        loop {
            match reader.next(&held) {
                PcapStep::Record { consumed, datagram } => {
                    got.push(datagram.unwrap());
                    held.drain(..consumed);
                }
                PcapStep::NeedMore if at < file.len() => {
                    let end = (at + 37).min(file.len());
                    held.extend_from_slice(&file[at..end]);
                    at = end;
                }
                PcapStep::NeedMore => break,
                PcapStep::Damaged => panic!("damaged"),
            }
        }
        assert_eq!((got, held.len()), (sent, 0));
        // A torn last record needs more, for ever.
        let torn = &file[header_len..file.len() - 3];
        let mut rest = torn;
        while let PcapStep::Record { consumed, .. } = reader.next(rest) {
            rest = &rest[consumed..];
        }
        assert_eq!(reader.next(rest), PcapStep::NeedMore);
        assert!(PcapReader::new(b"not a pcap file at all!!").is_err());
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
    fn a_record_claiming_more_than_any_record_holds_is_damaged_not_a_wait() {
        let mut file = pcap_file_header();
        file.extend(pcap_record(&datagram(0)));
        let header_len = 24;
        let (reader, _) = PcapReader::new(&file).unwrap();
        // A record header whose captured length says 1 GiB, then 300 KiB of anything.
        let mut damaged = pcap_record(&datagram(1));
        damaged[8..12].copy_from_slice(&(1u32 << 30).to_le_bytes());
        damaged.resize(300 << 10, 0xAB);
        let first = file.len() - header_len;
        let mut rest = file[header_len..].to_vec();
        rest.extend(&damaged);
        assert!(matches!(reader.next(&rest), PcapStep::Record { .. }));
        assert!(matches!(reader.next(&rest[first..]), PcapStep::Damaged));
        // With less in hand than a record can hold, it may still be coming.
        assert!(matches!(
            reader.next(&rest[first..first + 1000]),
            PcapStep::NeedMore
        ));
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
