//! A libpcap recording read from disk a window at a time ([`PcapStream`]), so memory does not grow with the
//! recording: a race recorded at the games' rates is gigabytes. The exports and the replay source read through it;
//! the parsing is the engine's ([`boxbox_engine::recording::PcapReader`], bytes in, datagrams out).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use boxbox_engine::recording::{Datagram, PcapReader, PcapStep};

/// How much of the file is read at a time.
pub const READ_CHUNK_BYTES: usize = 1 << 20;

/// The records of one recording, in file order.
#[derive(Debug)]
pub struct PcapStream {
    path: PathBuf,
    file: File,
    reader: PcapReader,
    /// Bytes read and not yet parsed start at `pos`.
    buf: Vec<u8>,
    pos: usize,
    /// The file ended inside a record, or a record was damaged: what came before it was read.
    truncated_tail: bool,
    ended: bool,
}

impl PcapStream {
    /// Opens `path` and reads its header.
    ///
    /// # Errors
    /// If the file cannot be read or is not a libpcap file (the message names the file).
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let context = || format!("cannot read {}", path.display());
        let mut file = File::open(path).with_context(context)?;
        let mut buf = Vec::with_capacity(2 * READ_CHUNK_BYTES);
        while buf.len() < 24 && read_more(&mut file, &mut buf).with_context(context)? > 0 {}
        let (reader, pos) = PcapReader::new(&buf).with_context(context)?;
        Ok(PcapStream {
            path: path.to_owned(),
            file,
            reader,
            buf,
            pos,
            truncated_tail: false,
            ended: false,
        })
    }

    /// The next record: `Some(None)` for a frame that is not an IPv4/UDP datagram, `None` at the end of the file or
    /// at a torn or damaged record ([`PcapStream::truncated_tail`] then says so).
    ///
    /// # Errors
    /// If the file cannot be read.
    pub fn next_record(&mut self) -> anyhow::Result<Option<Option<Datagram>>> {
        while !self.ended {
            match self.reader.next(&self.buf[self.pos..]) {
                PcapStep::Record { consumed, datagram } => {
                    self.pos += consumed;
                    return Ok(Some(datagram));
                }
                PcapStep::NeedMore => {
                    // Keep the partial record and read on; a partial record at the end of the file is a torn tail.
                    self.buf.drain(..self.pos);
                    self.pos = 0;
                    let n = read_more(&mut self.file, &mut self.buf)
                        .with_context(|| format!("cannot read {}", self.path.display()))?;
                    if n == 0 {
                        self.truncated_tail = !self.buf.is_empty();
                        self.ended = true;
                    }
                }
                PcapStep::Damaged => {
                    self.truncated_tail = true;
                    self.ended = true;
                }
            }
        }
        Ok(None)
    }

    /// The recording ended inside a record or at a damaged one (known once [`PcapStream::next_record`] gave
    /// `None`).
    pub fn truncated_tail(&self) -> bool {
        self.truncated_tail
    }
}

/// Appends up to a chunk of `file` to `buf`; 0 at the end of the file.
fn read_more(file: &mut File, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let old = buf.len();
    buf.resize(old + READ_CHUNK_BYTES, 0);
    let n = file.read(&mut buf[old..])?;
    buf.truncate(old + n);
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use boxbox_engine::recording::{pcap_file_header, pcap_record, read_pcap};
    use std::net::{Ipv4Addr, SocketAddrV4};
    use std::time::Duration;

    fn datagram(i: u32, len: usize) -> Datagram {
        Datagram {
            received: Duration::from_millis(u64::from(i)),
            src: SocketAddrV4::new(Ipv4Addr::LOCALHOST, 50_000),
            dst: SocketAddrV4::new(Ipv4Addr::LOCALHOST, 20_777),
            payload: (0..len).map(|k| (k as u32 + i) as u8).collect(),
        }
    }

    /// Records across many chunk boundaries, then a torn one: the stream gives what reading the whole file does.
    #[test]
    fn reads_through_chunks_as_the_whole_file_does() {
        let mut file = pcap_file_header();
        for i in 0..3000 {
            file.extend(pcap_record(&datagram(i, 1400)));
        }
        file.extend(&pcap_record(&datagram(9999, 100))[..40]);
        let path =
            std::env::temp_dir().join(format!("boxbox-pcap-stream-{}.pcap", std::process::id()));
        std::fs::write(&path, &file).unwrap();
        let mut stream = PcapStream::open(&path).unwrap();
        let mut read = Vec::new();
        while let Some(record) = stream.next_record().unwrap() {
            read.push(record.unwrap());
        }
        assert!(stream.truncated_tail());
        let whole = read_pcap(&file).unwrap();
        assert!(whole.truncated_tail);
        assert_eq!(read, whole.datagrams);
        assert_eq!(read.len(), 3000);
        std::fs::remove_file(&path).unwrap();
        assert!(PcapStream::open(&path).is_err());
    }
}
