//! The audit log: an append-only record, one JSON object per line, of every state change of note: pit stops,
//! SC/VSC and the green flag after them, retirements, penalties, consistency warnings, source switches (with who
//! asked), recoveries and shutdowns.
//!
//! `audit.jsonl` lives in the state directory. When it would pass [`AuditSettings::max_bytes`] it is renamed to
//! `audit.1.jsonl` (the older ones shifting to `audit.2.jsonl`, …, the oldest beyond [`AuditSettings::keep`]
//! deleted) and a new one is started.
//!
//! Writing is off the async threads and off the publish path: [`Audit::record`] hands the line to a dedicated
//! writer thread over a bounded channel and never waits; when the channel is full the entry is dropped and
//! counted, so a stalled disk slows nothing down. The writer flushes whenever the channel runs dry, so a crash
//! loses at most the lines still queued; [`Audit::flush`] waits for everything queued and fsyncs (at shutdown).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The live file's name.
pub const AUDIT_FILE: &str = "audit.jsonl";

/// Entries queued for the writer before new ones are dropped.
const QUEUE: usize = 1024;

/// Where and how much.
#[derive(Clone, Debug)]
pub struct AuditSettings {
    /// The state directory.
    pub dir: PathBuf,
    /// Size at which the live file is rotated, in bytes.
    pub max_bytes: u64,
    /// Rotated files kept (`audit.1.jsonl` is the newest).
    pub keep: u32,
}

impl AuditSettings {
    /// 8 MiB per file, three rotated files kept.
    pub fn in_dir(dir: &Path) -> Self {
        AuditSettings {
            dir: dir.to_owned(),
            max_bytes: 8 << 20,
            keep: 3,
        }
    }
}

/// What an entry is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// A car entered the pit lane.
    PitStop,
    /// A safety car was deployed.
    SafetyCar,
    /// A virtual safety car was deployed.
    VirtualSafetyCar,
    /// The SC, VSC or red-flag period ended.
    GreenAgain,
    /// A red flag suspended the session.
    RedFlag,
    /// A car retired.
    Retirement,
    /// A car was given a penalty (the message says which; `detail.seconds` is the time added, 0 for a
    /// drive-through or stop-go).
    Penalty,
    /// Something in the data does not add up.
    ConsistencyWarning,
    /// The source was switched (`PUT /api/v1/source`).
    SourceSwitch,
    /// The relay started and recovered (or did not recover) a saved state.
    Recovery,
    /// The relay shut down gracefully.
    Shutdown,
    /// A strategy option was locked for a car (`PUT /api/v1/strategy/lock`).
    StrategyLock,
    /// A car's strategy lock was removed (`DELETE /api/v1/strategy/lock/{car}`).
    StrategyUnlock,
    /// The engineer issued a share link or a strategist token (`POST /api/v1/share`).
    TokenIssued,
}

/// One line of the audit log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Wall-clock time, in milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
    /// What happened.
    pub kind: AuditKind,
    /// Who made it happen: `race` for what the data shows, `relay` for the relay itself, `role:token id` for a
    /// control action (e.g. `engineer:control`, `strategist:3f9a0c1b2d4e`; never the token).
    pub actor: String,
    /// Session time, in seconds, where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_time_s: Option<f64>,
    /// The lap (the car's, or the leader's for track events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lap: Option<u32>,
    /// The car, for car events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub car_idx: Option<u8>,
    /// The car's driver code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// A sentence for people.
    pub message: String,
    /// Anything else, as JSON (e.g. the new source's configuration, the persister's figures).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub detail: serde_json::Value,
}

impl AuditEntry {
    /// An entry stamped now, with no race context.
    pub fn new(kind: AuditKind, actor: impl Into<String>, message: impl Into<String>) -> Self {
        AuditEntry {
            at_unix_ms: crate::persist::unix_ms_now(),
            kind,
            actor: actor.into(),
            session_time_s: None,
            lap: None,
            car_idx: None,
            driver: None,
            message: message.into(),
            detail: serde_json::Value::Null,
        }
    }
}

/// Handle to the audit log. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Audit {
    queue: SyncSender<Message>,
    dropped: Arc<AtomicU64>,
    /// The writer's error, once it failed (logged once, then entries are dropped).
    failed: Arc<Mutex<Option<String>>>,
}

#[derive(Debug)]
enum Message {
    Entry(Box<AuditEntry>),
    /// Write out everything queued, fsync, then answer.
    Flush(std::sync::mpsc::SyncSender<io::Result<()>>),
}

impl Audit {
    /// Opens (or creates) the log and starts its writer thread.
    ///
    /// # Errors
    /// If the directory or the file cannot be created.
    pub fn open(settings: AuditSettings) -> anyhow::Result<Audit> {
        let writer = Writer::open(settings)?;
        let (queue, received) = std::sync::mpsc::sync_channel(QUEUE);
        let failed = Arc::new(Mutex::new(None));
        let failure = Arc::clone(&failed);
        std::thread::Builder::new()
            .name("boxbox-audit".into())
            .spawn(move || writer.run(&received, &failure))
            .context("cannot start the audit log's writer thread")?;
        Ok(Audit {
            queue,
            dropped: Arc::default(),
            failed,
        })
    }

    /// Queues `entry`; never blocks. Dropped (and counted) when the writer is behind or has failed.
    pub fn record(&self, entry: AuditEntry) {
        match self.queue.try_send(Message::Entry(Box::new(entry))) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Entries dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits (on a blocking thread, at most `timeout`) until every entry queued so far is written and fsynced.
    ///
    /// # Errors
    /// If the writer failed, the write or fsync failed, or it took longer than `timeout`.
    pub async fn flush(&self, timeout: Duration) -> anyhow::Result<()> {
        let queue = self.queue.clone();
        let failed = Arc::clone(&self.failed);
        let waited = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let (done, answer) = std::sync::mpsc::sync_channel(1);
            let gone = || {
                let why = failed.lock().unwrap_or_else(|e| e.into_inner()).clone();
                anyhow::anyhow!(
                    "the audit log's writer stopped: {}",
                    why.unwrap_or_else(|| "unknown reason".into())
                )
            };
            queue.send(Message::Flush(done)).map_err(|_| gone())?;
            answer
                .recv_timeout(timeout)
                .map_err(|_| anyhow::anyhow!("the audit log did not flush within {timeout:?}"))?
                .context("cannot flush the audit log")
        });
        waited.await.context("the audit flush panicked")?
    }
}

/// The writer thread's side: the open file and its size.
#[derive(Debug)]
struct Writer {
    settings: AuditSettings,
    file: BufWriter<File>,
    bytes: u64,
}

impl Writer {
    fn open(settings: AuditSettings) -> anyhow::Result<Writer> {
        std::fs::create_dir_all(&settings.dir).with_context(|| {
            format!(
                "cannot create the state directory {}",
                settings.dir.display()
            )
        })?;
        let path = settings.dir.join(AUDIT_FILE);
        let file = open_append(&path)
            .with_context(|| format!("cannot open the audit log {}", path.display()))?;
        let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(Writer {
            settings,
            file: BufWriter::new(file),
            bytes,
        })
    }

    fn run(mut self, received: &Receiver<Message>, failed: &Mutex<Option<String>>) {
        // Each wait takes one message, then everything else already queued, then flushes once.
        while let Ok(first) = received.recv() {
            let mut next = Some(first);
            let mut result = Ok(());
            while let Some(message) = next.take() {
                match message {
                    Message::Entry(entry) => {
                        if result.is_ok() {
                            result = self.write(&entry);
                        }
                    }
                    Message::Flush(done) => {
                        let flushed = result
                            .as_ref()
                            .map_err(|e| io::Error::new(e.kind(), e.to_string()))
                            .and_then(|()| self.file.flush())
                            .and_then(|()| self.file.get_ref().sync_data());
                        let _ = done.send(flushed);
                    }
                }
                next = received.try_recv().ok();
            }
            if let Err(e) = result.and_then(|()| self.file.flush()) {
                let message = format!("{e} in {}", self.settings.dir.join(AUDIT_FILE).display());
                tracing::error!("the audit log stopped: cannot write: {message}");
                *failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(message);
                return;
            }
        }
        // Every handle is gone: the process is ending.
        let _ = self.file.flush();
    }

    fn write(&mut self, entry: &AuditEntry) -> io::Result<()> {
        let mut line = serde_json::to_vec(entry).map_err(io::Error::other)?;
        line.push(b'\n');
        if self.bytes > 0 && self.bytes + line.len() as u64 > self.settings.max_bytes {
            self.rotate()?;
        }
        self.file.write_all(&line)?;
        self.bytes += line.len() as u64;
        Ok(())
    }

    /// `audit.jsonl` → `audit.1.jsonl` → … → `audit.{keep}.jsonl`, the oldest deleted, and a new live file.
    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        let dir = &self.settings.dir;
        let rotated = |n: u32| dir.join(format!("audit.{n}.jsonl"));
        let keep = self.settings.keep;
        if keep == 0 {
            std::fs::remove_file(dir.join(AUDIT_FILE))?;
        } else {
            match std::fs::remove_file(rotated(keep)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            for n in (1..keep).rev() {
                match std::fs::rename(rotated(n), rotated(n + 1)) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            std::fs::rename(dir.join(AUDIT_FILE), rotated(1))?;
        }
        self.file = BufWriter::new(open_append(&dir.join(AUDIT_FILE))?);
        self.bytes = 0;
        Ok(())
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Reads an audit file's entries; a torn last line (a crash mid-write) is skipped, any other bad line is an error.
///
/// # Errors
/// If the file cannot be read or a complete line is not an entry.
pub fn read(path: &Path) -> anyhow::Result<Vec<AuditEntry>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the audit log {}", path.display()))?;
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    complete
        .lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line)
                .with_context(|| format!("line {} of {}", i + 1, path.display()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("boxbox-audit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn entries_are_appended_as_json_lines_and_rotated() {
        let dir = temp_dir("rotate");
        let settings = AuditSettings {
            dir: dir.clone(),
            max_bytes: 2_000,
            keep: 2,
        };
        let audit = Audit::open(settings.clone()).unwrap();
        let mut pit = AuditEntry::new(AuditKind::PitStop, "race", "pit stop");
        pit.car_idx = Some(4);
        pit.driver = Some("HAM".into());
        pit.lap = Some(12);
        pit.session_time_s = Some(1234.5);
        for _ in 0..3 {
            audit.record(pit.clone());
        }
        audit.flush(Duration::from_secs(5)).await.unwrap();
        let entries = read(&dir.join(AUDIT_FILE)).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].driver.as_deref(), Some("HAM"));
        let line = std::fs::read_to_string(dir.join(AUDIT_FILE)).unwrap();
        assert!(line.contains("\"kind\":\"pit_stop\""), "{line}");
        assert!(!line.contains("detail"), "null detail left out: {line}");

        // Reopening appends; enough entries rotate twice and drop the oldest beyond `keep`.
        drop(audit);
        let audit = Audit::open(settings).unwrap();
        for i in 0..100 {
            let mut e = AuditEntry::new(
                AuditKind::SourceSwitch,
                "127.0.0.1:5000",
                format!("switch {i}"),
            );
            e.detail = serde_json::json!({ "mode": "simulator" });
            audit.record(e);
        }
        audit.flush(Duration::from_secs(5)).await.unwrap();
        assert_eq!(audit.dropped(), 0);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["audit.1.jsonl", "audit.2.jsonl", "audit.jsonl"]);
        for name in &names {
            let size = std::fs::metadata(dir.join(name)).unwrap().len();
            assert!(size <= 2_000, "{name}: {size} bytes");
        }
        let live = read(&dir.join(AUDIT_FILE)).unwrap();
        assert_eq!(live.last().unwrap().message, "switch 99");
        // A torn last line is skipped; a bad complete line is an error.
        let torn = dir.join("torn.jsonl");
        std::fs::write(
            &torn,
            format!("{}\n{{\"at_unix", serde_json::to_string(&pit).unwrap()),
        )
        .unwrap();
        assert_eq!(read(&torn).unwrap().len(), 1);
        std::fs::write(&torn, "nope\n").unwrap();
        assert!(read(&torn).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
