//! Sessions: the live one and the recordings in `--record-dir`, their pcap downloads and their exports (laps,
//! stints, pit stops as JSON or CSV).
//!
//! **Ids.** The live session's id is the hub's ([`crate::hub::Hub::session_id`], `live-…`); a recording's is its
//! file name without `.pcap` (the recorder names them `<UTC start>-<session uid>[-n]`). An id is only ever
//! looked up among the files listed in the directory, and must be ASCII letters, digits, `-` and `_`, so no id
//! reaches outside the recording directory.
//!
//! **Exports.** The live session's come from the hub's lap history and latest state. A recording's are computed
//! by playing it through the engine (decode → normalize → lap records, the same code as a replay, states sampled
//! every [`SAMPLE_EVERY_S`] of session time) on a blocking thread, one at a time, for files up to
//! [`MAX_EXPORT_BYTES`]; the last one is cached while the file does not change. The file is read through a window
//! ([`crate::pcap_stream::PcapStream`]), so memory does not grow with the recording.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use boxbox_engine::history::LapRecorder;
use boxbox_engine::telemetry::{self, normalize::Normalizer};
use boxbox_engine::wire::{LapRecord, RaceState, SCHEMA_VERSION};
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::access::Caller;
use crate::hub::TwinsError;
use crate::server::{ApiError, AppState, ErrorBody, json_response, twins_error};

/// Session time between two states sampled from a recording for its export, in seconds.
pub const SAMPLE_EVERY_S: f64 = 0.2;

/// The largest recording exported: it bounds the time an export takes (a simulated 57-lap race at 20 Hz is
/// 777 MB and takes 4–10 s in a debug build), not the memory (24 MB at the peak for that race).
pub const MAX_EXPORT_BYTES: u64 = 4 << 30;

/// The longest session id.
const MAX_ID_LEN: usize = 128;

/// Body of `GET /api/v1/sessions`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SessionList {
    /// Version of the API's JSON shapes.
    pub schema_version: u32,
    /// The live session first (when there is a state), then the recordings, newest first.
    pub sessions: Vec<SessionEntry>,
}

/// One session of [`SessionList`].
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SessionEntry {
    /// The id to use in `sessions/{id}/…`.
    pub id: String,
    /// The session the relay is serving now.
    pub live: bool,
    /// The recording's file name, for a recording.
    pub file: Option<String>,
    /// The recording's size, in bytes.
    pub bytes: Option<u64>,
    /// When the recording was last written, in milliseconds since the Unix epoch.
    pub modified_unix_ms: Option<u64>,
    /// The live session's track.
    pub track: Option<String>,
    /// The live session's latest session time, in seconds.
    pub session_time_s: Option<f64>,
    /// Laps completed in the live session so far (all cars).
    pub laps: Option<usize>,
}

/// Body of `GET /api/v1/sessions/{id}/export.json`: what happened in a session, as tables.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SessionExport {
    /// Version of the API's JSON shapes.
    pub schema_version: u32,
    /// The session's id.
    pub session: String,
    /// Whether it is the live session (still going on: the tables grow).
    pub live: bool,
    /// The track, when known.
    pub track: Option<String>,
    /// Scheduled race distance, in laps.
    pub total_laps: Option<u32>,
    /// Every completed lap, by lap then position.
    pub laps: Vec<LapRow>,
    /// Every car's stints, by car then stint.
    pub stints: Vec<StintRow>,
    /// Every pit stop (a stint change), by lap then car.
    pub pit_stops: Vec<PitStopRow>,
}

/// One completed lap of one car.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LapRow {
    /// The car.
    pub car_idx: u8,
    /// Its driver's code.
    pub driver: String,
    /// The lap completed.
    pub lap: u32,
    /// Lap time, in seconds.
    pub lap_time_s: f64,
    /// Position at the line.
    pub position: u8,
    /// Compound fitted at the line (`soft`, `medium`, …).
    pub compound: String,
    /// Age of that set at the line, in laps.
    pub tyre_age_laps: u32,
    /// Fuel at the line, in kilograms.
    pub fuel_kg: f64,
    /// The most restrictive track status of the lap (`green`, `vsc`, `sc`, …).
    pub track_status: String,
    /// The car was in the pit lane during the lap.
    pub pit_lane: bool,
    /// Sector times, in seconds, where known.
    pub sectors_s: [Option<f64>; 3],
    /// Time behind the leader at the line, in seconds.
    pub gap_to_leader_s: Option<f64>,
}

/// One stint of one car.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StintRow {
    /// The car.
    pub car_idx: u8,
    /// Its driver's code.
    pub driver: String,
    /// 1 for the first stint.
    pub stint: u32,
    /// The compound.
    pub compound: String,
    /// The lap the stint began on.
    pub start_lap: u32,
    /// Laps completed on the set in this stint.
    pub laps: u32,
    /// The set's age when fitted, in laps.
    pub start_age_laps: u32,
}

/// One pit stop: the change from one stint to the next.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PitStopRow {
    /// The car.
    pub car_idx: u8,
    /// Its driver's code.
    pub driver: String,
    /// 1 for the first stop.
    pub stop: u32,
    /// The in-lap (the lap before the new stint began).
    pub lap: u32,
    /// The compound taken off.
    pub from_compound: String,
    /// The compound fitted.
    pub to_compound: String,
}

/// Which table `export.csv` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    /// [`LapRow`]s.
    Laps,
    /// [`StintRow`]s.
    Stints,
    /// [`PitStopRow`]s.
    PitStops,
}

/// Why a session cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The id is not a session id at all.
    #[error("invalid session id {0:?}: letters, digits, `-` and `_` only, at most 128")]
    InvalidId(String),
    /// No such session.
    #[error("no session {0}")]
    Unknown(String),
    /// The live session has no recording.
    #[error("session {0} has no recording (only the game's UDP telemetry is recorded)")]
    NoRecording(String),
    /// The recording is too large to export here.
    #[error("the recording is {0} bytes; exports stop at {MAX_EXPORT_BYTES}")]
    TooLarge(u64),
    /// The recording could not be read or decoded.
    #[error("cannot export the recording: {0}")]
    Failed(String),
}

/// The recording directory and the export cache. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Sessions {
    inner: Arc<SessionsInner>,
}

#[derive(Debug)]
struct SessionsInner {
    record_dir: Option<PathBuf>,
    /// One export at a time: each is a whole recording decoded on a blocking thread.
    exporting: Semaphore,
    cached: Mutex<Option<CachedExport>>,
}

/// The last recording exported: its file, size and modification time, and the export.
type CachedExport = (PathBuf, u64, Option<SystemTime>, Arc<SessionExport>);

impl Sessions {
    /// Sessions recorded in `record_dir` (none when recording is off).
    pub fn new(record_dir: Option<PathBuf>) -> Self {
        Sessions {
            inner: Arc::new(SessionsInner {
                record_dir,
                exporting: Semaphore::new(1),
                cached: Mutex::new(None),
            }),
        }
    }

    /// The recordings, newest first (their names start with the UTC start time). A missing directory has none.
    pub fn recordings(&self) -> Vec<SessionEntry> {
        let Some(dir) = &self.inner.record_dir else {
            return Vec::new();
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut found: Vec<SessionEntry> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let id = name.strip_suffix(".pcap")?;
                valid_id(id).then_some(())?;
                // `DirEntry::metadata` does not follow symlinks: a link is not a recording.
                let meta = e.metadata().ok().filter(std::fs::Metadata::is_file)?;
                Some(SessionEntry {
                    id: id.to_owned(),
                    live: false,
                    file: Some(name.clone()),
                    bytes: Some(meta.len()),
                    modified_unix_ms: meta.modified().ok().and_then(unix_ms),
                    track: None,
                    session_time_s: None,
                    laps: None,
                })
            })
            .collect();
        found.sort_by(|a, b| b.id.cmp(&a.id));
        found
    }

    /// The file of recording `id`, if it is one of [`Sessions::recordings`].
    ///
    /// # Errors
    /// [`SessionError::InvalidId`] or [`SessionError::Unknown`].
    pub fn recording_path(&self, id: &str) -> Result<PathBuf, SessionError> {
        check_id(id)?;
        let dir = self
            .inner
            .record_dir
            .as_ref()
            .ok_or_else(|| SessionError::Unknown(id.to_owned()))?;
        // Looked up among the listed files rather than joined blindly.
        self.recordings()
            .into_iter()
            .find(|r| r.id == id)
            .and_then(|r| r.file)
            .map(|file| dir.join(file))
            .ok_or_else(|| SessionError::Unknown(id.to_owned()))
    }

    /// The export of recording `id`, decoded on a blocking thread (or the cached one if the file is unchanged).
    ///
    /// # Errors
    /// [`SessionError`]: a bad or unknown id, a file too large, or one that does not read as a recording.
    pub async fn export_recording(&self, id: &str) -> Result<Arc<SessionExport>, SessionError> {
        let path = self.recording_path(id)?;
        let meta = std::fs::metadata(&path).map_err(|e| SessionError::Failed(e.to_string()))?;
        if meta.len() > MAX_EXPORT_BYTES {
            return Err(SessionError::TooLarge(meta.len()));
        }
        let _one_at_a_time = self
            .inner
            .exporting
            .acquire()
            .await
            .map_err(|e| SessionError::Failed(e.to_string()))?;
        let modified = meta.modified().ok();
        if let Some((p, len, m, export)) = &*self.lock_cache()
            && *p == path
            && *len == meta.len()
            && *m == modified
        {
            return Ok(Arc::clone(export));
        }
        let (id_owned, file) = (id.to_owned(), path.clone());
        let export = tokio::task::spawn_blocking(move || export_pcap(&id_owned, &file))
            .await
            .map_err(|e| SessionError::Failed(e.to_string()))?
            .map_err(|e| SessionError::Failed(format!("{e:#}")))?;
        let export = Arc::new(export);
        *self.lock_cache() = Some((path, meta.len(), modified, Arc::clone(&export)));
        Ok(export)
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, Option<CachedExport>> {
        self.inner.cached.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether `id` may name a session: ASCII letters, digits, `-` and `_`, 1 to 128 of them.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// # Errors
/// [`SessionError::InvalidId`] unless [`valid_id`].
pub fn check_id(id: &str) -> Result<(), SessionError> {
    if valid_id(id) {
        Ok(())
    } else {
        Err(SessionError::InvalidId(
            id.chars().take(MAX_ID_LEN).collect(),
        ))
    }
}

/// The export of a session from its lap history and its latest state (stints come from the state).
pub fn export(
    session: &str,
    live: bool,
    state: Option<&RaceState>,
    history: &[LapRecord],
) -> SessionExport {
    let driver = |car: u8| {
        state
            .and_then(|s| s.car(car))
            .map_or_else(String::new, |c| c.driver.code.clone())
    };
    let mut laps: Vec<LapRow> = history
        .iter()
        .map(|r| LapRow {
            car_idx: r.car_idx,
            driver: driver(r.car_idx),
            lap: r.lap,
            lap_time_s: r.lap_time_s,
            position: r.position,
            compound: name_of(&r.compound),
            tyre_age_laps: r.tyre_age_laps,
            fuel_kg: r.fuel_kg,
            track_status: name_of(&r.track_status),
            pit_lane: r.pit_lane,
            sectors_s: r.sectors_s,
            gap_to_leader_s: r.gap_to_leader_s,
        })
        .collect();
    laps.sort_by_key(|l| (l.lap, l.position, l.car_idx));
    let mut stints = Vec::new();
    let mut pit_stops = Vec::new();
    if let Some(state) = state {
        let mut cars: Vec<_> = state.cars.iter().collect();
        cars.sort_by_key(|c| c.car_idx);
        for car in cars {
            for (i, s) in car.stints.iter().enumerate() {
                let n = u32::try_from(i).unwrap_or(u32::MAX).saturating_add(1);
                stints.push(StintRow {
                    car_idx: car.car_idx,
                    driver: car.driver.code.clone(),
                    stint: n,
                    compound: name_of(&s.compound),
                    start_lap: s.start_lap,
                    laps: s.laps,
                    start_age_laps: s.start_age_laps,
                });
                if let Some(before) = i.checked_sub(1).and_then(|j| car.stints.get(j)) {
                    pit_stops.push(PitStopRow {
                        car_idx: car.car_idx,
                        driver: car.driver.code.clone(),
                        stop: n - 1,
                        lap: s.start_lap.saturating_sub(1),
                        from_compound: name_of(&before.compound),
                        to_compound: name_of(&s.compound),
                    });
                }
            }
        }
    }
    pit_stops.sort_by_key(|p| (p.lap, p.car_idx));
    SessionExport {
        schema_version: SCHEMA_VERSION,
        session: session.to_owned(),
        live,
        track: state.map(|s| s.session.track.clone()),
        total_laps: state.map(|s| s.session.total_laps),
        laps,
        stints,
        pit_stops,
    }
}

/// Plays a recording through the engine and exports it, reading it a window at a time
/// ([`crate::pcap_stream::PcapStream`]). A torn or damaged tail ends the export with what came before it, as a
/// replay does.
///
/// # Errors
/// If the file cannot be read or is not a libpcap file.
pub fn export_pcap(id: &str, path: &Path) -> anyhow::Result<SessionExport> {
    let mut stream = crate::pcap_stream::PcapStream::open(path)?;
    let mut normalizer = Normalizer::new();
    let mut laps = LapRecorder::new();
    let mut sampled_at: Option<f64> = None;
    while let Some(datagram) = stream.next_record()? {
        // Frames that are not UDP and malformed datagrams are skipped, as the live source does.
        let Some(packet) = datagram.and_then(|d| telemetry::decode(&d.payload).ok()) else {
            continue;
        };
        let t = f64::from(packet.header.session_time);
        normalizer.push(&packet);
        if sampled_at.is_none_or(|s| (t - s).abs() >= SAMPLE_EVERY_S)
            && let Some(state) = normalizer.state()
        {
            laps.observe(&state);
            sampled_at = Some(t);
        }
    }
    let last = normalizer.state();
    if let Some(state) = &last {
        laps.observe(state);
    }
    Ok(export(id, false, last.as_ref(), laps.records()))
}

/// Writes one table of an export as CSV (RFC 4180: a header line, commas, quotes where a field needs them).
pub fn csv(export: &SessionExport, table: Table) -> String {
    let mut out = String::new();
    let mut line = |fields: &[String]| {
        let quoted: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&quoted.join(","));
        out.push_str("\r\n");
    };
    let num = |x: Option<f64>| x.map_or_else(String::new, |v| v.to_string());
    match table {
        Table::Laps => {
            line(
                &[
                    "car_idx",
                    "driver",
                    "lap",
                    "lap_time_s",
                    "position",
                    "compound",
                    "tyre_age_laps",
                    "fuel_kg",
                    "track_status",
                    "pit_lane",
                    "sector_1_s",
                    "sector_2_s",
                    "sector_3_s",
                    "gap_to_leader_s",
                ]
                .map(String::from),
            );
            for l in &export.laps {
                line(&[
                    l.car_idx.to_string(),
                    l.driver.clone(),
                    l.lap.to_string(),
                    l.lap_time_s.to_string(),
                    l.position.to_string(),
                    l.compound.clone(),
                    l.tyre_age_laps.to_string(),
                    l.fuel_kg.to_string(),
                    l.track_status.clone(),
                    l.pit_lane.to_string(),
                    num(l.sectors_s[0]),
                    num(l.sectors_s[1]),
                    num(l.sectors_s[2]),
                    num(l.gap_to_leader_s),
                ]);
            }
        }
        Table::Stints => {
            line(
                &[
                    "car_idx",
                    "driver",
                    "stint",
                    "compound",
                    "start_lap",
                    "laps",
                    "start_age_laps",
                ]
                .map(String::from),
            );
            for s in &export.stints {
                line(&[
                    s.car_idx.to_string(),
                    s.driver.clone(),
                    s.stint.to_string(),
                    s.compound.clone(),
                    s.start_lap.to_string(),
                    s.laps.to_string(),
                    s.start_age_laps.to_string(),
                ]);
            }
        }
        Table::PitStops => {
            line(
                &[
                    "car_idx",
                    "driver",
                    "stop",
                    "lap",
                    "from_compound",
                    "to_compound",
                ]
                .map(String::from),
            );
            for p in &export.pit_stops {
                line(&[
                    p.car_idx.to_string(),
                    p.driver.clone(),
                    p.stop.to_string(),
                    p.lap.to_string(),
                    p.from_compound.clone(),
                    p.to_compound.clone(),
                ]);
            }
        }
    }
    out
}

/// A CSV field, quoted when it holds a comma, a quote or a line break. A field a spreadsheet would run as a
/// formula (`=`, `+`, `-`, `@` first) gets a leading `'`, unless it is a number: driver codes come from the data.
fn csv_field(field: &str) -> String {
    let formula = field.starts_with(['=', '+', '-', '@']) && field.parse::<f64>().is_err();
    let field = if formula {
        format!("'{field}")
    } else {
        field.to_owned()
    };
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field
    }
}

/// A unit enum's JSON name (`Compound::Soft` → `soft`).
fn name_of<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn unix_ms(t: SystemTime) -> Option<u64> {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).ok()?;
    u64::try_from(d.as_millis()).ok()
}

/// Query of `export.csv`.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct CsvQuery {
    /// The table; `laps` by default.
    table: Option<Table>,
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        let (status, code) = match &e {
            SessionError::InvalidId(_) => (StatusCode::BAD_REQUEST, "invalid_session"),
            SessionError::Unknown(_) => (StatusCode::NOT_FOUND, "unknown_session"),
            SessionError::NoRecording(_) => (StatusCode::NOT_FOUND, "no_recording"),
            SessionError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "recording_too_large"),
            SessionError::Failed(_) => (StatusCode::UNPROCESSABLE_ENTITY, "export_failed"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

/// The sessions: the live one (once it has a state), then the recordings, newest first. A token scoped to one
/// session lists only that one.
#[utoipa::path(get, path = "/sessions", tag = "sessions", responses((status = OK, body = SessionList)))]
pub(crate) async fn list(State(state): State<AppState>, caller: Caller) -> Json<SessionList> {
    let mut sessions = Vec::new();
    if let Some(view) = state.hub.persist_view() {
        sessions.push(SessionEntry {
            id: state.hub.session_id(),
            live: true,
            file: None,
            bytes: None,
            modified_unix_ms: None,
            track: Some(view.state.session.track.clone()),
            session_time_s: Some(view.state.session_time_s),
            laps: Some(view.history.len()),
        });
    }
    let sessions_dir = state.sessions.clone();
    let recorded = tokio::task::spawn_blocking(move || sessions_dir.recordings())
        .await
        .unwrap_or_default();
    sessions.extend(recorded);
    if let Some(scope) = caller.0.as_ref().and_then(|a| a.scope.as_deref()) {
        sessions.retain(|s| s.id == scope);
    }
    Json(SessionList {
        schema_version: SCHEMA_VERSION,
        sessions,
    })
}

/// Downloads a session's recording (libpcap, as the game sent it): a recording by its id, or the live session's
/// while the game's UDP is being recorded (the file as written so far).
#[utoipa::path(get, path = "/sessions/{id}/recording", tag = "sessions",
    params(("id" = String, Path, description = "a session id from /sessions")),
    responses(
        (status = OK, content_type = "application/vnd.tcpdump.pcap", body = Vec<u8>, description = "the pcap"),
        (status = BAD_REQUEST, body = ErrorBody, description = "invalid_session"),
        (status = NOT_FOUND, body = ErrorBody, description = "unknown_session, no_recording")))]
pub(crate) async fn recording(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    check_id(&id)?;
    let path = if id == state.hub.session_id() {
        state
            .sources
            .status()
            .recording
            .ok_or_else(|| SessionError::NoRecording(id.clone()))?
    } else {
        let sessions = state.sessions.clone();
        let lookup = id.clone();
        tokio::task::spawn_blocking(move || sessions.recording_path(&lookup))
            .await
            .map_err(|e| SessionError::Failed(e.to_string()))??
    };
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| SessionError::Unknown(id.clone()))?;
    let length = file.metadata().await.ok().map(|m| m.len());
    // Streamed in chunks: a race's recording is hundreds of megabytes.
    let stream = futures_util::stream::try_unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut chunk = vec![0u8; 64 * 1024];
        let n = file.read(&mut chunk).await?;
        if n == 0 {
            return Ok::<_, std::io::Error>(None);
        }
        chunk.truncate(n);
        Ok(Some((Bytes::from(chunk), file)))
    });
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.tcpdump.pcap"),
    );
    // The id is letters, digits, `-` and `_` only: safe inside the quotes.
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{id}.pcap\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some(length) = length
        && id != state.hub.session_id()
    {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    Ok(response)
}

/// The export of session `id`: the live session's from the hub, a recording's decoded from its pcap.
async fn session_export(state: &AppState, id: &str) -> Result<Arc<SessionExport>, ApiError> {
    check_id(id)?;
    if id == state.hub.session_id() {
        let view = state
            .hub
            .persist_view()
            .ok_or_else(|| twins_error(TwinsError::NoState))?;
        let (id, state) = (id.to_owned(), view.state);
        let history = view.history;
        return tokio::task::spawn_blocking(move || {
            Arc::new(export(&id, true, Some(&state), &history))
        })
        .await
        .map_err(|e| SessionError::Failed(e.to_string()).into());
    }
    Ok(state.sessions.export_recording(id).await?)
}

/// A session's laps, stints and pit stops as JSON.
#[utoipa::path(get, path = "/sessions/{id}/export.json", tag = "sessions",
    params(("id" = String, Path, description = "a session id from /sessions")),
    responses(
        (status = OK, body = SessionExport),
        (status = BAD_REQUEST, body = ErrorBody, description = "invalid_session"),
        (status = NOT_FOUND, body = ErrorBody, description = "unknown_session"),
        (status = PAYLOAD_TOO_LARGE, body = ErrorBody, description = "recording_too_large"),
        (status = UNPROCESSABLE_ENTITY, body = ErrorBody, description = "export_failed: not a recording"),
        (status = SERVICE_UNAVAILABLE, body = ErrorBody, description = "no_state (the live session)")))]
pub(crate) async fn export_json(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    let export = session_export(&state, &id).await?;
    json_response(&*export)
}

/// One table of a session's export as CSV: `?table=laps` (default), `stints` or `pit_stops`.
#[utoipa::path(get, path = "/sessions/{id}/export.csv", tag = "sessions",
    params(("id" = String, Path, description = "a session id from /sessions"),
           ("table" = Option<Table>, Query, description = "laps (default), stints or pit_stops")),
    responses(
        (status = OK, content_type = "text/csv", body = String),
        (status = BAD_REQUEST, body = ErrorBody, description = "invalid_session, invalid_query"),
        (status = NOT_FOUND, body = ErrorBody, description = "unknown_session"),
        (status = PAYLOAD_TOO_LARGE, body = ErrorBody, description = "recording_too_large"),
        (status = UNPROCESSABLE_ENTITY, body = ErrorBody, description = "export_failed"),
        (status = SERVICE_UNAVAILABLE, body = ErrorBody, description = "no_state (the live session)")))]
pub(crate) async fn export_csv(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    query: Result<Query<CsvQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))?;
    let table = query.table.unwrap_or(Table::Laps);
    let export = session_export(&state, &id).await?;
    let body = csv(&export, table);
    let name = match table {
        Table::Laps => "laps",
        Table::Stints => "stints",
        Table::PitStops => "pit_stops",
    };
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{id}-{name}.csv\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_never_paths() {
        for good in ["20261206T045000Z-00000000000000ab", "live-18c-3", "a_b"] {
            assert!(valid_id(good), "{good}");
        }
        let long = "x".repeat(129);
        for bad in [
            "",
            "..",
            "../x",
            "a/b",
            "a\\b",
            "a.pcap",
            "%2e%2e",
            " a",
            long.as_str(),
        ] {
            assert!(!valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("HAM"), "HAM");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field("-0.5"), "-0.5");
    }
}
