//! Session recordings on disk: every datagram from the game is appended to one libpcap file per session (keyed by
//! the `session_uid` of the datagrams that decode; anything else goes to the current file), with its receive time
//! and UDP/IP framing, so Wireshark opens it and `boxbox replay` re-sends exactly what the game sent.
//!
//! Files are flushed at least once a second, when the game goes quiet, and when the session changes or the source
//! stops, so a crash loses at most the last second; a torn last record is reported by the reader, never fatal. Simulated data is not
//! datagrams and never reaches a recorder.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::time::Instant;

use boxbox_engine::recording::{Datagram, pcap_file_header, pcap_record};

/// How often buffered records are written out.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// Writes datagrams to a recording per session in one directory.
#[derive(Debug)]
pub struct Recorder {
    dir: PathBuf,
    current: Option<Open>,
}

#[derive(Debug)]
struct Open {
    session_uid: Option<u64>,
    path: PathBuf,
    file: BufWriter<File>,
    last_flush: Instant,
}

impl Recorder {
    /// A recorder writing into `dir` (created on the first datagram).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Recorder {
            dir: dir.into(),
            current: None,
        }
    }

    /// The file being written, if any.
    pub fn path(&self) -> Option<&Path> {
        self.current.as_ref().map(|o| o.path.as_path())
    }

    /// Appends `datagram` to its session's file, opening a new file when the session changes. `session`: the
    /// session uid of a datagram that decoded; only such a datagram changes files, anything else on the port (a
    /// runt, a damaged packet, another program's traffic, whose header bytes are anything) goes to the current
    /// file, so junk cannot open a file per datagram.
    ///
    /// # Errors
    /// If the directory or the file cannot be created or written.
    pub fn write(&mut self, datagram: &Datagram, session: Option<u64>) -> io::Result<()> {
        let uid = session;
        let same = match (&self.current, uid) {
            (Some(open), Some(uid)) => open.session_uid == Some(uid),
            (Some(_), None) => true,
            (None, _) => false,
        };
        if !same {
            self.finish()?;
            self.current = Some(self.open(uid)?);
        }
        let Some(open) = self.current.as_mut() else {
            return Ok(());
        };
        open.file.write_all(&pcap_record(datagram))?;
        if open.last_flush.elapsed() >= FLUSH_EVERY {
            open.file.flush()?;
            open.last_flush = Instant::now();
        }
        Ok(())
    }

    /// Writes out what is buffered (the source calls it when the game goes quiet).
    ///
    /// # Errors
    /// If the buffered records cannot be written.
    pub fn flush(&mut self) -> io::Result<()> {
        match self.current.as_mut() {
            Some(open) => {
                open.last_flush = Instant::now();
                open.file.flush()
            }
            None => Ok(()),
        }
    }

    /// Flushes and closes the current file.
    ///
    /// # Errors
    /// If the buffered records cannot be written.
    pub fn finish(&mut self) -> io::Result<()> {
        match self.current.take() {
            Some(mut open) => {
                open.file.flush()?;
                open.file.get_ref().sync_data()
            }
            None => Ok(()),
        }
    }

    fn open(&self, uid: Option<u64>) -> io::Result<Open> {
        std::fs::create_dir_all(&self.dir)?;
        let stamp = jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%SZ")
            .to_string();
        let uid_text = uid.map_or_else(|| "unknown".to_owned(), |u| format!("{u:016x}"));
        // Never overwrite: a relay restarted within the same second for the same session gets a suffix.
        for n in 1u32.. {
            let suffix = if n == 1 {
                String::new()
            } else {
                format!("-{n}")
            };
            let path = self.dir.join(format!("{stamp}-{uid_text}{suffix}.pcap"));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    let mut file = BufWriter::new(file);
                    file.write_all(&pcap_file_header())?;
                    file.flush()?;
                    tracing::info!(path = %path.display(), "recording the session");
                    return Ok(Open {
                        session_uid: uid,
                        path,
                        file,
                        last_flush: Instant::now(),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => {}
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other("no free recording file name"))
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            tracing::error!("cannot finish the recording: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use boxbox_engine::recording::read_pcap;
    use std::net::{Ipv4Addr, SocketAddrV4};

    fn datagram(uid: u64, t: u64, extra: u8) -> Datagram {
        let mut payload = vec![0u8; 29];
        payload[7..15].copy_from_slice(&uid.to_le_bytes());
        payload.push(extra);
        Datagram {
            received: Duration::from_millis(t),
            src: SocketAddrV4::new(Ipv4Addr::LOCALHOST, 50_000),
            dst: SocketAddrV4::new(Ipv4Addr::LOCALHOST, 20_777),
            payload,
        }
    }

    #[test]
    fn one_file_per_session_and_everything_read_back() {
        let dir = std::env::temp_dir().join(format!("boxbox-recorder-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut rec = Recorder::new(&dir);
        let first = [datagram(1, 10, 0), datagram(1, 20, 1), datagram(1, 30, 2)];
        for d in &first {
            rec.write(d, Some(1)).unwrap();
        }
        let path_1 = rec.path().unwrap().to_owned();
        // A runt datagram, and one whose header says session 9 but did not decode, stay with the current session.
        let runt = Datagram {
            payload: vec![7, 7],
            ..datagram(1, 40, 0)
        };
        rec.write(&runt, None).unwrap();
        rec.write(&datagram(9, 45, 0), None).unwrap();
        assert_eq!(rec.path(), Some(path_1.as_path()));
        rec.write(&datagram(2, 50, 3), Some(2)).unwrap();
        let path_2 = rec.path().unwrap().to_owned();
        assert_ne!(path_1, path_2);
        rec.finish().unwrap();

        let one = read_pcap(&std::fs::read(&path_1).unwrap()).unwrap();
        assert_eq!(one.datagrams.len(), 5);
        assert_eq!(&one.datagrams[..3], &first);
        assert_eq!(one.datagrams[3].payload, vec![7, 7]);
        assert_eq!(one.datagrams[4], datagram(9, 45, 0));
        assert!(!one.truncated_tail);
        let two = read_pcap(&std::fs::read(&path_2).unwrap()).unwrap();
        assert_eq!(two.datagrams, vec![datagram(2, 50, 3)]);
        assert!(path_2.to_string_lossy().ends_with("-0000000000000002.pcap"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
