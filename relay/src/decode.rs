//! `boxbox decode FILE...`: prints every packet of raw datagram files (`.bin`, one datagram each) and libpcap
//! recordings as one JSON object per line, with EA's field names.
//!
//! A datagram that does not decode prints an error line (`{"error": {...}}`) in its place and decoding goes on;
//! the caller turns "any failed" into the exit code.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use boxbox_engine::recording;
use boxbox_engine::telemetry::{self, DecodeError};
use serde_json::json;

/// Decodes every file and writes one line per packet to `out`. Returns how many datagrams failed.
///
/// # Errors
/// When a file cannot be read or is neither a datagram nor a pcap file, or `out` fails.
pub fn run(files: &[impl AsRef<Path>], out: &mut impl Write) -> anyhow::Result<usize> {
    let mut failed = 0;
    for file in files {
        let path = file.as_ref();
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let shown = path.display().to_string();
        if is_pcap(&bytes) {
            let rec = recording::read_pcap(&bytes)
                .with_context(|| format!("cannot read the recording {shown}"))?;
            for (i, d) in rec.datagrams.iter().enumerate() {
                failed += usize::from(!print(out, &shown, Some(i), &d.payload)?);
            }
            if rec.truncated_tail {
                writeln!(
                    out,
                    "{}",
                    json!({"error": {"file": shown, "kind": "truncated_recording",
                    "message": "the recording ends inside a record; everything before it was decoded"}})
                )?;
                failed += 1;
            }
        } else {
            failed += usize::from(!print(out, &shown, None, &bytes)?);
        }
    }
    Ok(failed)
}

/// A libpcap file starts with its magic number in either byte order (microsecond or nanosecond timestamps).
fn is_pcap(bytes: &[u8]) -> bool {
    const MAGICS: [u32; 2] = [0xa1b2_c3d4, 0xa1b2_3c4d];
    bytes.get(..4).is_some_and(|m| {
        let m = [m[0], m[1], m[2], m[3]];
        MAGICS.contains(&u32::from_le_bytes(m)) || MAGICS.contains(&u32::from_be_bytes(m))
    })
}

/// Prints one datagram's packet, or its error line; returns whether it decoded.
fn print(
    out: &mut impl Write,
    file: &str,
    index: Option<usize>,
    datagram: &[u8],
) -> anyhow::Result<bool> {
    match telemetry::decode(datagram) {
        Ok(packet) => {
            serde_json::to_writer(&mut *out, &packet)?;
            writeln!(out)?;
            Ok(true)
        }
        Err(e) => {
            writeln!(out, "{}", error_line(file, index, &e))?;
            Ok(false)
        }
    }
}

fn error_line(file: &str, index: Option<usize>, e: &DecodeError) -> serde_json::Value {
    json!({"error": {"file": file, "datagram": index, "kind": e.kind(), "message": e.to_string()}})
}
