//! The NATS client protocol, as much of it as the page needs to read the relay's feed through a NATS server's
//! WebSocket listener: a reader that splits the server's bytes into operations (`INFO`, `MSG`, `PING`, `PONG`,
//! `+OK`, `-ERR`) however the WebSocket frames cut them, and the client's lines (`CONNECT`, `SUB`, `PUB`, `PONG`).
//! Pure, tested natively.
//!
//! Written by hand: the NATS clients for Rust (`async-nats`, `nats`) need tokio or OS sockets and do not run in a
//! browser, and the official JavaScript client (`nats.ws`) would add a second runtime and bundle. The protocol is a
//! few text lines (<https://docs.nats.io/reference/reference-protocols/nats-protocol>), and the page only
//! subscribes and asks for a snapshot.

use thiserror::Error;

/// The longest control line accepted (the server's own default is 4,096 bytes; `INFO` can be longer with many
/// `connect_urls`). Without a line end within this, the stream is broken.
const MAX_CONTROL_LINE: usize = 64 * 1024;

/// The largest message payload accepted: the page's own limit, above NATS's default `max_payload` of 1 MiB so
/// that a server configured for large snapshots still works.
const MAX_PAYLOAD: usize = 64 * 1024 * 1024;

/// The subject the relay publishes every session's deltas on (see the relay's `nats` module).
pub const DELTA_SUBJECT: &str = "boxbox.*.delta";
/// The subject the relay publishes every session's snapshots on.
pub const SNAPSHOT_SUBJECT: &str = "boxbox.*.snapshot";
/// Where to ask the relay for the live session's snapshot (any session token is answered with the live one).
pub const SNAPSHOT_REQUEST_SUBJECT: &str = "boxbox.any.snapshot.request";

/// One operation from the server.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerOp {
    /// The server's `INFO` JSON.
    Info(String),
    /// A message on a subscription.
    Msg {
        /// Its subject.
        subject: String,
        /// The subscription id it matched.
        sid: u64,
        /// Where to reply, if the publisher asked for a reply.
        reply_to: Option<String>,
        /// The payload.
        payload: Vec<u8>,
    },
    /// The server checks the client is alive: answer with [`pong`].
    Ping,
    /// The answer to a client's `PING`.
    Pong,
    /// Acknowledgement in verbose mode.
    Ok,
    /// A protocol error; the server usually closes the connection after it.
    Err(String),
}

/// Why the server's bytes cannot be read.
#[derive(Debug, Error, PartialEq)]
pub enum ProtocolError {
    /// A control line that is not a known operation or has bad arguments.
    #[error("bad NATS control line {0:?}")]
    BadLine(String),
    /// No line end within 64 KiB.
    #[error("a NATS control line longer than {MAX_CONTROL_LINE} bytes")]
    LineTooLong,
    /// A payload over 64 MiB, more than this page accepts.
    #[error("a NATS message of {0} bytes, more than this page accepts")]
    PayloadTooLarge(usize),
    /// A payload not followed by a line end.
    #[error("a NATS message payload not followed by CRLF")]
    MissingPayloadEnd,
}

/// Splits the server's byte stream into [`ServerOp`]s. Push each WebSocket frame's bytes, then take operations
/// until [`NatsReader::next_op`] says it needs more.
#[derive(Debug, Default)]
pub struct NatsReader {
    buf: Vec<u8>,
    /// Bytes of `buf` already read.
    at: usize,
}

impl NatsReader {
    /// An empty reader.
    pub fn new() -> Self {
        NatsReader::default()
    }

    /// Adds bytes as they arrived.
    pub fn push(&mut self, bytes: &[u8]) {
        // Drop what was read once it is most of the buffer, so a long session does not grow it.
        if self.at > 0 && self.at * 2 >= self.buf.len() {
            self.buf.drain(..self.at);
            self.at = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole operation, `Ok(None)` when more bytes are needed.
    ///
    /// # Errors
    /// [`ProtocolError`] when the stream cannot be a NATS server's: the connection should be dropped.
    pub fn next_op(&mut self) -> Result<Option<ServerOp>, ProtocolError> {
        let rest = &self.buf[self.at..];
        let Some(end) = rest.windows(2).position(|w| w == b"\r\n") else {
            return if rest.len() > MAX_CONTROL_LINE {
                Err(ProtocolError::LineTooLong)
            } else {
                Ok(None)
            };
        };
        let line = String::from_utf8_lossy(&rest[..end]).into_owned();
        let (verb, args) = match line.split_once([' ', '\t']) {
            Some((verb, args)) => (verb, args.trim()),
            None => (line.as_str(), ""),
        };
        let bad = || ProtocolError::BadLine(line.chars().take(120).collect());
        let op = match verb.to_ascii_uppercase().as_str() {
            "MSG" => {
                let fields: Vec<&str> = args.split_ascii_whitespace().collect();
                let (subject, sid, reply_to, size) = match fields[..] {
                    [subject, sid, size] => (subject, sid, None, size),
                    [subject, sid, reply, size] => (subject, sid, Some(reply), size),
                    _ => return Err(bad()),
                };
                let sid = sid.parse().map_err(|_| bad())?;
                let size: usize = size.parse().map_err(|_| bad())?;
                if size > MAX_PAYLOAD {
                    return Err(ProtocolError::PayloadTooLarge(size));
                }
                let start = end + 2;
                if rest.len() < start + size + 2 {
                    return Ok(None);
                }
                if &rest[start + size..start + size + 2] != b"\r\n" {
                    return Err(ProtocolError::MissingPayloadEnd);
                }
                let op = ServerOp::Msg {
                    subject: subject.to_owned(),
                    sid,
                    reply_to: reply_to.map(str::to_owned),
                    payload: rest[start..start + size].to_vec(),
                };
                self.at += start + size + 2;
                return Ok(Some(op));
            }
            "INFO" => ServerOp::Info(args.to_owned()),
            "PING" => ServerOp::Ping,
            "PONG" => ServerOp::Pong,
            "+OK" => ServerOp::Ok,
            "-ERR" => ServerOp::Err(args.trim_matches('\'').to_owned()),
            _ => return Err(bad()),
        };
        self.at += end + 2;
        Ok(Some(op))
    }
}

/// The client's `CONNECT`: no echo, no verbose acknowledgements, no headers (so the server sends `MSG`, never
/// `HMSG`).
pub fn connect(name: &str) -> String {
    /// The options, as a struct rather than `json!`: `serde_json::Value` stays out of the app's bundle.
    #[derive(serde::Serialize)]
    struct Options<'a> {
        verbose: bool,
        pedantic: bool,
        lang: &'a str,
        version: &'a str,
        protocol: u8,
        headers: bool,
        no_responders: bool,
        echo: bool,
        name: &'a str,
    }
    let options = Options {
        verbose: false,
        pedantic: false,
        lang: "rust-wasm",
        version: env!("CARGO_PKG_VERSION"),
        protocol: 1,
        headers: false,
        no_responders: false,
        echo: false,
        name,
    };
    let json = serde_json::to_string(&options).unwrap_or_default();
    format!("CONNECT {json}\r\n")
}

/// `SUB subject sid`.
pub fn subscribe(subject: &str, sid: u64) -> String {
    format!("SUB {subject} {sid}\r\n")
}

/// `PUB subject [reply_to] size` and the payload.
pub fn publish(subject: &str, reply_to: Option<&str>, payload: &[u8]) -> Vec<u8> {
    let mut out = match reply_to {
        Some(reply) => format!("PUB {subject} {reply} {}\r\n", payload.len()),
        None => format!("PUB {subject} {}\r\n", payload.len()),
    }
    .into_bytes();
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
    out
}

/// The answer to the server's `PING`.
pub fn pong() -> &'static str {
    "PONG\r\n"
}

/// Asks the server for a `PONG` (the page's check that a quiet connection is still there).
pub fn ping() -> &'static str {
    "PING\r\n"
}

/// Whether the page applies a feed message that came through NATS, given the sequence number of the last one it
/// applied (`None`: not in sync). In sync, snapshots are skipped (the relay publishes one every few seconds for late
/// subscribers, and applying it would restart the twins) unless one goes back in sequence, which only a restarted
/// relay does; deltas at or before `have` are stale (a requested snapshot can overtake deltas still in flight).
/// Out of sync, everything is applied: a snapshot restarts the feed, a delta fails and asks for one.
pub fn admit(is_snapshot: bool, seq: u64, have: Option<u64>) -> bool {
    match have {
        None => true,
        Some(have) if is_snapshot => seq < have,
        Some(have) => seq > have,
    }
}

/// An inbox subject for replies to this page, unique by `nonce` (a random number).
pub fn inbox(nonce: u64) -> String {
    format!("_INBOX.boxbox.{nonce:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server's stream as a real `nats-server` writes it: `INFO`, a `PING`, messages with and without a reply
    /// subject, one with an empty payload and one whose payload holds CRLF.
    fn stream() -> Vec<u8> {
        let mut s = Vec::new();
        s.extend_from_slice(b"INFO {\"server_id\":\"X\",\"max_payload\":1048576}\r\n");
        s.extend_from_slice(b"PING\r\n");
        s.extend_from_slice(b"MSG boxbox.live-1.delta 1 11\r\n{\"seq\":2}\r\n\r\n");
        s.extend_from_slice(b"MSG _INBOX.boxbox.00 3 boxbox.reply 5\r\nhello\r\n");
        s.extend_from_slice(b"MSG boxbox.x.snapshot 2 0\r\n\r\n");
        s.extend_from_slice(b"+OK\r\n-ERR 'Authorization Violation'\r\npong\r\n");
        s
    }

    fn expected() -> Vec<ServerOp> {
        vec![
            ServerOp::Info("{\"server_id\":\"X\",\"max_payload\":1048576}".into()),
            ServerOp::Ping,
            ServerOp::Msg {
                subject: "boxbox.live-1.delta".into(),
                sid: 1,
                reply_to: None,
                payload: b"{\"seq\":2}\r\n".to_vec(),
            },
            ServerOp::Msg {
                subject: "_INBOX.boxbox.00".into(),
                sid: 3,
                reply_to: Some("boxbox.reply".into()),
                payload: b"hello".to_vec(),
            },
            ServerOp::Msg {
                subject: "boxbox.x.snapshot".into(),
                sid: 2,
                reply_to: None,
                payload: Vec::new(),
            },
            ServerOp::Ok,
            ServerOp::Err("Authorization Violation".into()),
            ServerOp::Pong,
        ]
    }

    fn read_all(reader: &mut NatsReader, ops: &mut Vec<ServerOp>) {
        while let Some(op) = reader.next_op().unwrap() {
            ops.push(op);
        }
    }

    #[test]
    fn a_stream_reads_the_same_however_the_frames_cut_it() {
        let s = stream();
        // Every single cut, and every pair of cuts: frames end anywhere, inside a line end too.
        for a in 0..=s.len() {
            for b in (a..=s.len()).step_by(7) {
                let mut reader = NatsReader::new();
                let mut ops = Vec::new();
                for part in [&s[..a], &s[a..b], &s[b..]] {
                    reader.push(part);
                    read_all(&mut reader, &mut ops);
                }
                assert_eq!(ops, expected(), "cut at {a} and {b}");
            }
        }
    }

    #[test]
    fn byte_by_byte_the_buffer_stays_small() {
        let mut reader = NatsReader::new();
        let mut ops = Vec::new();
        for _ in 0..50 {
            for byte in stream() {
                reader.push(&[byte]);
                read_all(&mut reader, &mut ops);
            }
        }
        assert_eq!(ops.len(), 50 * expected().len());
        assert!(reader.buf.len() < 200, "{} bytes kept", reader.buf.len());
    }

    #[test]
    fn what_is_not_a_nats_server_is_an_error() {
        for (bytes, error) in [
            (&b"HTTP/1.1 200 OK\r\n"[..], "bad NATS control line"),
            (b"MSG a b 3\r\nabc\r\n", "bad NATS control line"),
            (b"MSG a 1\r\n", "bad NATS control line"),
            (b"MSG a 1 3\r\nabcXY", "not followed by CRLF"),
            (b"MSG a 1 999999999999\r\n", "more than this page accepts"),
        ] {
            let mut reader = NatsReader::new();
            reader.push(bytes);
            let e = reader.next_op().unwrap_err().to_string();
            assert!(e.contains(error), "{bytes:?}: {e}");
        }
        let mut reader = NatsReader::new();
        reader.push(&vec![b'x'; MAX_CONTROL_LINE + 1]);
        assert_eq!(reader.next_op(), Err(ProtocolError::LineTooLong));
    }

    #[test]
    fn in_sync_only_newer_deltas_and_a_restarted_relays_snapshot_apply() {
        // Out of sync: anything (a delta then fails and asks for a snapshot).
        assert!(admit(true, 5, None) && admit(false, 5, None));
        // In sync at 10: the periodic snapshot (equal or ahead) is skipped, its deltas still come.
        assert!(!admit(true, 10, Some(10)) && !admit(true, 12, Some(10)));
        assert!(!admit(false, 9, Some(10)) && !admit(false, 10, Some(10)));
        assert!(admit(false, 11, Some(10)));
        // A gap is applied, so the replica sees it and the page asks for a snapshot.
        assert!(admit(false, 13, Some(10)));
        // A relay that restarted counts from 0 again: its first snapshot is behind.
        assert!(admit(true, 1, Some(10)));
    }

    #[test]
    fn the_clients_lines() {
        assert_eq!(subscribe(DELTA_SUBJECT, 1), "SUB boxbox.*.delta 1\r\n");
        assert_eq!(
            publish(SNAPSHOT_REQUEST_SUBJECT, Some("_INBOX.boxbox.1"), b""),
            b"PUB boxbox.any.snapshot.request _INBOX.boxbox.1 0\r\n\r\n"
        );
        assert_eq!(publish("a", None, b"xy"), b"PUB a 2\r\nxy\r\n");
        let connect = connect("pit wall");
        assert!(connect.starts_with("CONNECT {") && connect.ends_with("}\r\n"));
        let options: serde_json::Value =
            serde_json::from_str(connect["CONNECT ".len()..].trim_end()).unwrap();
        assert_eq!(options["headers"], false);
        assert_eq!(options["verbose"], false);
        assert_eq!(inbox(255), "_INBOX.boxbox.00000000000000ff");
    }
}
