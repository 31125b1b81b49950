//! The `boxbox` command line and the `--config` file. Doc comments on the fields are the `--help` text.
//!
//! Settings come from, strongest first: flags, environment variables (`BOXBOX_*`), the TOML file given with
//! `--config`, then defaults. [`ServeArgs::resolve`] merges them into a [`crate::ServeConfig`].

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use serde::Deserialize;

use crate::source::{SourceConfig, SourceSpec};

/// The lowest request rate a client may be held to, per second (0 switches the limit off): a refused client is
/// told to wait up to one over it.
const MIN_RATE_LIMIT_PER_S: f64 = 0.01;

/// boxbox: a race-strategy pit wall in the browser.
#[derive(Debug, Parser)]
#[command(name = "boxbox", version, about)]
pub struct Cli {
    /// How log lines are written to stderr: `text` for people, `json` (one object per line, with the span's
    /// fields) for log collectors. The level is set with `RUST_LOG` (default `info`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "BOXBOX_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The format of log lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the relay: a live race (simulator, the game's UDP, a replay, a real race, a JSON feed or HTTP ingest), the web app,
    /// `/ws` and the REST API.
    Serve(Box<ServeArgs>),
    /// Print every packet of EA F1 UDP captures as JSON lines (EA's field names). Exit code 1 if any failed.
    Decode(DecodeArgs),
    /// Re-send a `.pcap` recording as UDP datagrams with its original timing (scaled), e.g. to a relay or a game
    /// tool.
    Replay(ReplayArgs),
    /// Stand in for the game: simulate a race and send it as F1 25 (format 2025) UDP datagrams, or write it to a
    /// `.pcap` recording.
    Simulate(SimulateArgs),
    /// Score the twins on real races: replay each race folder (`shared/data/races/...`) as if live and compare the
    /// twins' lap-time and pit-lap predictions with what happened. Exit code 1 if any folder failed to load.
    Backtest(BacktestArgs),
    /// Monte Carlo of a whole race from a TUMFTM parameter file: each driver's finishing-position distribution,
    /// win / podium / points / DNF chances and race-time band, run over OS threads.
    Montecarlo(MonteCarloArgs),
    /// Search one driver's best strategy (1–3 stops) against the others' plans by Monte Carlo: ranked plans, the
    /// pit window, and the current plan for comparison.
    Strategy(StrategyArgs),
    /// Write a self-contained post-race HTML report of a real race folder: results, race trace, lap times, tyre
    /// stints, pit stops, and the strategy model's finishing order from half distance against the real one.
    Report(ReportArgs),
}

/// Which race the strategy simulator runs: a TUMFTM parameter file, or a real race from a lap. The commands that
/// flatten it say whether one of `--params` and `--race-dir` is required (group `race`).
#[derive(Debug, Args)]
pub struct RaceArgs {
    /// A TUMFTM race parameter file (e.g. `shared/data/races/2019_07_canada/tumftm_pars_Montreal_2019.ini`).
    #[arg(long, value_name = "FILE.ini")]
    pub params: Option<PathBuf>,
    /// The TUMFTM Monte Carlo parameter file (default: `<FILE.ini's folder or DIR>/../_common/tumftm_pars_mcs.ini`;
    /// with `--race-dir` it is optional).
    #[arg(long, value_name = "FILE.ini")]
    pub mcs: Option<PathBuf>,
    /// A real race folder of FastF1/f1db files (e.g. `shared/data/races/2019_07_canada`): a model calibrated from
    /// its laps, every driver on the strategy it drove, simulated from the end of `--from-lap`.
    #[arg(long, value_name = "DIR", requires = "from_lap")]
    pub race_dir: Option<PathBuf>,
    /// With `--race-dir`: laps the leader has completed when the simulation takes over.
    #[arg(long, value_name = "L", requires = "race_dir")]
    pub from_lap: Option<u32>,
    /// Keep the file's real retirements and neutralisations. Without it they are cleared, because fixed events
    /// switch the random ones of their kind off.
    #[arg(long)]
    pub real_events: bool,
}

impl RaceArgs {
    /// The race to load.
    pub fn spec(&self) -> crate::strategy::RaceSpec {
        match (&self.params, &self.race_dir) {
            (Some(params), _) => crate::strategy::RaceSpec::Params {
                params: params.clone(),
                mcs: self.mcs.clone(),
            },
            (None, dir) => crate::strategy::RaceSpec::RealRace {
                dir: dir.clone().unwrap_or_default(),
                from_lap: self.from_lap.unwrap_or(0),
                mcs: self.mcs.clone(),
            },
        }
    }
}

/// Arguments of `boxbox montecarlo` (and of `boxbox simulate --params/--race-dir`).
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("race").required(true).args(["params", "race_dir"]))]
pub struct MonteCarloArgs {
    /// The race.
    #[command(flatten)]
    pub race: RaceArgs,
    /// Races to run.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
    /// Seed of the random streams: the same seed gives the same report on any number of threads.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// OS threads [default: the available parallelism].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,
    /// One race without randomness (mean values), with the file's real events (implies `--real-events`).
    #[arg(long)]
    pub deterministic: bool,
    /// One JSON object (the report, `elapsed_s`, `races_per_s`, `threads`, `track`, `total_laps`) instead of a
    /// table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `boxbox strategy`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("race").required(true).args(["params", "race_dir"]))]
pub struct StrategyArgs {
    /// The race.
    #[command(flatten)]
    pub race: RaceArgs,
    /// The driver's three-letter code, e.g. `HAM`.
    #[arg(long, value_name = "CODE")]
    pub driver: String,
    /// Monte Carlo races per evaluated plan (every plan sees the same seed).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs_per_plan: u32,
    /// Races each pit-window lap is run on, the first of every plan's (at most `--runs-per-plan`).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    pub window_runs: u32,
    /// Seed shared by every plan.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Most stops a plan may have.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=3))]
    pub max_stops: u32,
    /// Spacing of candidate in-laps, laps.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub lap_step: u32,
    /// Rank plans by expected position or expected points.
    #[arg(long, default_value = "position", value_parser = parse_objective)]
    pub objective: boxbox_engine::strategy::search::Objective,
    /// One JSON object (the search report and `elapsed_s`) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `boxbox report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A real race folder of FastF1/f1db files (e.g. `shared/data/races/2019_07_canada`).
    #[arg(value_name = "RACE_DIR")]
    pub dir: PathBuf,
    /// The HTML file to write (replaced atomically when it exists).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// Monte Carlo races of the strategy model from half distance.
    #[arg(long, default_value_t = boxbox_engine::backtest::FINAL_ORDER_RUNS,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub runs: u32,
    /// Seed of the Monte Carlo: the same race, runs and seed give the same file.
    #[arg(long, default_value_t = boxbox_engine::backtest::FINAL_ORDER_SEED)]
    pub seed: u64,
}

/// Arguments of `boxbox backtest`.
#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// Race folders of FastF1/f1db files (e.g. `shared/data/races/2019_07_canada`).
    #[arg(required = true, value_name = "RACE_DIR")]
    pub dirs: Vec<PathBuf>,
    /// One JSON object per race per line, then `{"summary": {...}}`, instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Monte Carlo runs per plan of the strategy review (each finisher's strategy against the model's best in
    /// hindsight); 0 skips it.
    #[arg(long, value_name = "N", default_value_t = boxbox_engine::backtest::STRATEGY_REVIEW_RUNS)]
    pub strategy_runs: u32,
}

/// Arguments of `boxbox simulate`: the game's stand-in (`--to`, `--pcap`), or, with `--params` or `--race-dir`,
/// the strategy simulator's Monte Carlo (the same as `boxbox montecarlo`).
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("mode").required(true).multiple(true)
    .args(["to", "pcap", "params", "race_dir"]))]
#[command(group = clap::ArgGroup::new("race").args(["params", "race_dir"]).conflicts_with("output"))]
#[command(group = clap::ArgGroup::new("output").multiple(true).args(["to", "pcap"]))]
pub struct SimulateArgs {
    /// Send the datagrams to HOST:PORT (e.g. a relay's `--udp` address), paced in real time times `--speed`.
    #[arg(long, value_name = "HOST:PORT")]
    pub to: Option<SocketAddr>,
    /// Write the datagrams to this libpcap file (as fast as they are computed).
    #[arg(long, value_name = "FILE.pcap")]
    pub pcap: Option<PathBuf>,
    /// The Monte Carlo's race, instead of the game's stand-in: `--params FILE.ini`, or `--race-dir DIR --from-lap
    /// L` (see `boxbox montecarlo`).
    #[command(flatten)]
    pub race: RaceArgs,
    /// Monte Carlo: races to run.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..), requires = "race")]
    pub runs: u32,
    /// Monte Carlo: OS threads [default: the available parallelism].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024), requires = "race")]
    pub threads: Option<u32>,
    /// Monte Carlo: one race without randomness (mean values), with the file's real events.
    #[arg(long, requires = "race")]
    pub deterministic: bool,
    /// Monte Carlo: one JSON object (the report, `elapsed_s`, `races_per_s`, …) instead of a table.
    #[arg(long, requires = "race")]
    pub json: bool,
    /// Seed of the race (the stand-in's, or the Monte Carlo's random streams).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Race distance in laps.
    #[arg(long, default_value_t = 57, value_parser = clap::value_parser!(u32).range(1..=200), conflicts_with = "race")]
    pub laps: u32,
    /// Simulated seconds per real second when sending.
    #[arg(long, default_value_t = 1.0, value_parser = parse_speed, conflicts_with = "race")]
    pub speed: f64,
    /// Frames per simulated second (the game sends up to 60).
    #[arg(long, default_value_t = 20.0, value_parser = parse_rate, conflicts_with = "race")]
    pub frame_hz: f64,
}

/// Arguments of `boxbox decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// Raw datagram files (`.bin`, one packet each) and libpcap recordings (`.pcap`).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Arguments of `boxbox replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The libpcap recording.
    pub file: PathBuf,
    /// Where to send the datagrams.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:20777")]
    pub to: SocketAddr,
    /// Speed factor (2 = twice as fast as recorded).
    #[arg(long, default_value_t = 1.0, value_parser = parse_speed)]
    pub speed: f64,
    /// Start at this session time, in seconds: earlier datagrams are sent first at up to 2,000 per second.
    #[arg(long, default_value_t = 0.0, value_parser = parse_non_negative)]
    pub start_s: f64,
}

/// Flags of `boxbox serve`. Without a source flag (or a `[source]` in the config file) the simulator runs.
#[derive(Debug, Default, Args)]
pub struct ServeArgs {
    /// A TOML configuration file (keys as the long flags with `_`, the source under `[source]`; see README).
    #[arg(long, env = "BOXBOX_CONFIG")]
    pub config: Option<PathBuf>,

    /// Address to serve HTTP and WebSocket on (HTTPS and WSS with `--tls-cert`) [default: 127.0.0.1:8080].
    /// `0.0.0.0:8080` opens it to the LAN.
    #[arg(long, env = "BOXBOX_HTTP")]
    pub http: Option<SocketAddr>,

    /// States published per real second [default: 10].
    #[arg(long, env = "BOXBOX_RATE_HZ", value_parser = parse_rate)]
    pub rate_hz: Option<f64>,

    /// Directory of the built web app (Trunk's output) [default: dist].
    #[arg(long, env = "BOXBOX_WEB_DIR")]
    pub web_dir: Option<PathBuf>,

    /// Where every UDP session is recorded as a `.pcap` file [default: boxbox-state/recordings].
    #[arg(long, env = "BOXBOX_RECORD_DIR")]
    pub record_dir: Option<PathBuf>,

    /// Do not record UDP sessions.
    #[arg(long)]
    pub no_record: bool,

    /// Where the relay keeps its state (two generations of `state-N.json`), the audit log (`audit.jsonl`) and, by
    /// default, its recordings; the newest valid state is recovered at start [default: boxbox-state].
    #[arg(long, value_name = "DIR", env = "BOXBOX_STATE_DIR")]
    pub state_dir: Option<PathBuf>,

    /// Seconds between two saves of the state (a crash loses at most this much) [default: 5].
    #[arg(long, value_name = "N", env = "BOXBOX_PERSIST_INTERVAL_S", value_parser = parse_persist_interval)]
    pub persist_interval_s: Option<f64>,

    /// Neither recover nor save the state, and keep no audit log.
    #[arg(long)]
    pub no_persist: bool,

    /// The engineer's token, needed to switch the source, ingest, issue share links and lock strategies (at least
    /// 16 characters). Without one a token is generated and printed at start.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "BOXBOX_CONTROL_TOKEN",
        hide_env_values = true
    )]
    pub control_token: Option<String>,

    /// Reads (`/api/v1/…` and `/ws`) need a token too: the control token or an issued one. Health, readiness and
    /// the OpenAPI document stay open.
    #[arg(long)]
    pub require_token_for_reads: bool,

    /// Allow this origin (e.g. `https://wall.example`) to call the API from a browser. Repeatable. Without it
    /// CORS is closed.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,

    /// Largest request body, in bytes [default: 1048576].
    #[arg(long, value_name = "BYTES")]
    pub max_body_bytes: Option<usize>,

    /// Largest `POST /api/v1/ingest` body, in bytes [default: 16777216].
    #[arg(long, value_name = "BYTES")]
    pub max_ingest_bytes: Option<usize>,

    /// Requests per second allowed per client IP on `/api` and `/ws`, with bursts of 4 seconds' worth; 0 turns
    /// rate limiting off [default: 50].
    #[arg(long, value_name = "N")]
    pub rate_limit_per_s: Option<f64>,

    /// Publish the live feed (snapshots and deltas, as on `/ws`) to this NATS server, e.g. `nats://127.0.0.1:4222`,
    /// on `boxbox.<session>.snapshot` and `boxbox.<session>.delta` (see README).
    #[arg(long, value_name = "URL", env = "BOXBOX_NATS")]
    pub nats: Option<String>,

    /// Serve HTTPS and WSS with this PEM certificate chain (the server's certificate first, then intermediates);
    /// needs `--tls-key`. Without both, plain HTTP.
    #[arg(long, value_name = "FILE.pem", env = "BOXBOX_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of `--tls-cert`, PEM: PKCS#8, RSA (PKCS#1) or EC (SEC1), not encrypted.
    #[arg(long, value_name = "FILE.pem", env = "BOXBOX_TLS_KEY")]
    pub tls_key: Option<PathBuf>,

    /// Source: listen for EA F1 23/24/25 UDP telemetry here (e.g. `0.0.0.0:20777`).
    #[arg(long, env = "BOXBOX_UDP", group = "source")]
    pub udp: Option<SocketAddr>,

    /// With `--udp`: re-send every received datagram unchanged to HOST:PORT, so one game feeds several apps
    /// (repeatable).
    #[arg(long = "forward", value_name = "HOST:PORT")]
    pub forward: Vec<SocketAddr>,

    /// Source: play a `.pcap` recording into the relay.
    #[arg(long, value_name = "FILE.pcap", group = "source")]
    pub replay: Option<PathBuf>,

    /// With `--replay`: speed factor [default: 1].
    #[arg(long, value_parser = parse_speed)]
    pub replay_speed: Option<f64>,

    /// With `--replay`: seek, i.e. start at this session time in seconds [default: 0].
    #[arg(long, value_parser = parse_non_negative)]
    pub start_s: Option<f64>,

    /// Source: play a real race from a folder of FastF1/f1db files (e.g. `shared/data/races/2019_02_bahrain`).
    #[arg(long, value_name = "DIR", env = "BOXBOX_RACE_DIR", group = "source")]
    pub race_dir: Option<PathBuf>,

    /// With `--race-dir` (or a race source in the config file): race seconds per real second [default: 10].
    #[arg(long, value_name = "N", env = "BOXBOX_RACE_SPEED", value_parser = parse_race_speed)]
    pub race_speed: Option<f64>,

    /// Source: connect to a WebSocket sending JSON feed frames (`ws://HOST:PORT/PATH`).
    #[arg(long, value_name = "URL", env = "BOXBOX_WS_FEED", group = "source")]
    pub ws_feed: Option<String>,

    /// Source: take JSON feed frames from `POST /api/v1/ingest`.
    #[arg(long, group = "source")]
    pub ingest: bool,

    /// Run the simulator (labelled simulated) after this many consecutive failures of a live source. Off by
    /// default.
    #[arg(long, value_name = "N")]
    pub fallback_after: Option<u32>,

    /// Simulator: seed of the race [default: 1]. The same seed gives the same race.
    #[arg(long, env = "BOXBOX_SEED")]
    pub seed: Option<u64>,

    /// Simulator: simulated seconds per real second [default: 1]. 10 runs a 95-minute race in under 10 minutes.
    #[arg(long, value_parser = parse_speed)]
    pub speed: Option<f64>,

    /// Simulator: race distance in laps [default: 57, the Bahrain Grand Prix].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=200))]
    pub laps: Option<u32>,

    /// Simulator: start a new race with the next seed this many real seconds after the flag. Without it the final
    /// classification stays up.
    #[arg(long)]
    pub restart_after_s: Option<f64>,
}

/// The `--config` TOML file: the same settings as the flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// As `--http`.
    pub http: Option<SocketAddr>,
    /// As `--rate-hz`.
    pub rate_hz: Option<f64>,
    /// As `--web-dir`.
    pub web_dir: Option<PathBuf>,
    /// As `--record-dir`.
    pub record_dir: Option<PathBuf>,
    /// `false` as `--no-record`.
    pub record: Option<bool>,
    /// As `--state-dir`.
    pub state_dir: Option<PathBuf>,
    /// As `--persist-interval-s`.
    pub persist_interval_s: Option<f64>,
    /// `false` as `--no-persist`.
    pub persist: Option<bool>,
    /// The source, as in `PUT /api/v1/source`.
    pub source: Option<SourceConfig>,
    /// As `--control-token`.
    pub control_token: Option<String>,
    /// As `--require-token-for-reads`.
    pub require_token_for_reads: Option<bool>,
    /// As `--cors-origin`, a list.
    pub cors_origins: Option<Vec<String>>,
    /// As `--max-body-bytes`.
    pub max_body_bytes: Option<usize>,
    /// As `--max-ingest-bytes`.
    pub max_ingest_bytes: Option<usize>,
    /// As `--rate-limit-per-s`.
    pub rate_limit_per_s: Option<f64>,
    /// As `--nats`.
    pub nats: Option<String>,
    /// As `--tls-cert`.
    pub tls_cert: Option<PathBuf>,
    /// As `--tls-key`.
    pub tls_key: Option<PathBuf>,
}

impl FileConfig {
    /// Reads and parses a config file.
    ///
    /// # Errors
    /// If the file cannot be read, or is not valid TOML of this shape (the message names the key).
    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }
}

impl ServeArgs {
    /// Merges the flags (and environment) over `file` over the defaults.
    ///
    /// # Errors
    /// If a value is out of range, the source is inconsistent, or the TLS certificate or key (read here, so that a
    /// bad file stops the relay before it starts) cannot be used.
    pub fn resolve(self, file: FileConfig) -> anyhow::Result<crate::ServeConfig> {
        // The signing secret of issued tokens lives in the state directory, when there is one.
        let secret_file = (!self.no_persist && file.persist.unwrap_or(true)).then(|| {
            self.state_dir
                .clone()
                .or_else(|| file.state_dir.clone())
                .unwrap_or_else(|| PathBuf::from("boxbox-state"))
                .join(crate::access::SECRET_FILE)
        });
        let access = self.access(&file, secret_file)?;
        let flag_source = if let Some(bind) = self.udp {
            Some(SourceSpec::Udp {
                bind,
                forward: self.forward.clone(),
            })
        } else if let Some(file) = self.replay.clone() {
            Some(SourceSpec::Replay {
                file,
                speed: self.replay_speed.unwrap_or(1.0),
                start_s: self.start_s.unwrap_or(0.0),
            })
        } else if let Some(dir) = self.race_dir.clone() {
            Some(SourceSpec::Race {
                dir,
                speed: crate::source::default_race_speed(),
            })
        } else if let Some(url) = self.ws_feed.clone() {
            Some(SourceSpec::WsFeed { url })
        } else if self.ingest {
            Some(SourceSpec::Ingest)
        } else {
            None
        };
        if !self.forward.is_empty() && !matches!(flag_source, Some(SourceSpec::Udp { .. })) {
            anyhow::bail!("--forward needs --udp");
        }
        let mut source = match (flag_source, file.source) {
            (Some(spec), file_source) => SourceConfig {
                spec,
                fallback_after: file_source.and_then(|s| s.fallback_after),
            },
            (None, Some(file_source)) => file_source,
            (None, None) => SourceConfig::simulator(),
        };
        if let SourceSpec::Simulator {
            seed,
            speed,
            laps,
            restart_after_s,
        } = &mut source.spec
        {
            *seed = self.seed.unwrap_or(*seed);
            *speed = self.speed.unwrap_or(*speed);
            *laps = self.laps.unwrap_or(*laps);
            *restart_after_s = self.restart_after_s.or(*restart_after_s);
        }
        if let SourceSpec::Race { speed, .. } = &mut source.spec {
            *speed = self.race_speed.unwrap_or(*speed);
        }
        if let Some(n) = self.fallback_after {
            source.fallback_after = Some(n);
        }
        source.spec.validate().map_err(anyhow::Error::msg)?;
        let rate_hz = self.rate_hz.or(file.rate_hz).unwrap_or(10.0);
        parse_rate(&rate_hz.to_string()).map_err(|e| anyhow::anyhow!("rate_hz: {e}"))?;
        let record = !self.no_record && file.record.unwrap_or(true);
        let persist = !self.no_persist && file.persist.unwrap_or(true);
        let state_dir = self
            .state_dir
            .or(file.state_dir)
            .unwrap_or_else(|| PathBuf::from("boxbox-state"));
        let persist_interval_s = self
            .persist_interval_s
            .or(file.persist_interval_s)
            .unwrap_or(5.0);
        parse_persist_interval(&persist_interval_s.to_string())
            .map_err(|e| anyhow::anyhow!("persist_interval_s: {e}"))?;
        let nats = self.nats.or(file.nats);
        if let Some(url) = &nats {
            url.parse::<async_nats::ServerAddr>()
                .map_err(|e| anyhow::anyhow!("--nats {url:?}: not a NATS server address ({e})"))?;
        }
        let tls = match (
            self.tls_cert.or(file.tls_cert),
            self.tls_key.or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some(crate::tls::Tls::load(&cert, &key)?),
            (None, None) => None,
            (Some(_), None) => {
                anyhow::bail!("--tls-cert needs --tls-key (give both for HTTPS, neither for HTTP)")
            }
            (None, Some(_)) => {
                anyhow::bail!("--tls-key needs --tls-cert (give both for HTTPS, neither for HTTP)")
            }
        };
        let access = crate::access::AccessConfig {
            https: tls.is_some(),
            ..access
        };
        Ok(crate::ServeConfig {
            access,
            nats,
            tls,
            http: self
                .http
                .or(file.http)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            rate_hz,
            web_dir: self
                .web_dir
                .or(file.web_dir)
                .unwrap_or_else(|| "dist".into()),
            record_dir: record.then(|| {
                self.record_dir
                    .or(file.record_dir)
                    .unwrap_or_else(|| state_dir.join("recordings"))
            }),
            source,
            persist: persist.then(|| crate::PersistConfig {
                state_dir,
                interval: std::time::Duration::from_secs_f64(persist_interval_s),
            }),
        })
    }
}

impl ServeArgs {
    /// The access settings: flags over the file over [`crate::access::AccessConfig::pit_wall`].
    fn access(
        &self,
        file: &FileConfig,
        secret_file: Option<PathBuf>,
    ) -> anyhow::Result<crate::access::AccessConfig> {
        let mut access = crate::access::AccessConfig::pit_wall(
            self.control_token
                .clone()
                .or_else(|| file.control_token.clone()),
        );
        if access.control_token.as_ref().is_some_and(|t| t.len() < 16) {
            anyhow::bail!("the control token must be at least 16 characters");
        }
        access.secret_file = secret_file;
        access.require_token_for_reads =
            self.require_token_for_reads || file.require_token_for_reads.unwrap_or(false);
        access.cors_origins = if self.cors_origins.is_empty() {
            file.cors_origins.clone().unwrap_or_default()
        } else {
            self.cors_origins.clone()
        };
        for origin in &access.cors_origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://"))
                || axum::http::HeaderValue::from_str(origin).is_err()
            {
                anyhow::bail!(
                    "--cors-origin {origin:?}: must be an origin like https://wall.example"
                );
            }
        }
        if let Some(n) = self.max_body_bytes.or(file.max_body_bytes) {
            access.max_body_bytes = n;
        }
        if let Some(n) = self.max_ingest_bytes.or(file.max_ingest_bytes) {
            access.max_ingest_bytes = n;
        }
        match self.rate_limit_per_s.or(file.rate_limit_per_s) {
            Some(0.0) => access.rate_limit = None,
            Some(r) if r.is_finite() && r >= MIN_RATE_LIMIT_PER_S => {
                access.rate_limit = Some(crate::access::RateLimit {
                    per_s: r,
                    // Four seconds' worth: a page load's burst of requests passes.
                    burst: (r * 4.0).ceil().clamp(1.0, f64::from(u32::MAX)) as u32,
                });
            }
            Some(r) => {
                anyhow::bail!(
                    "rate_limit_per_s {r}: must be 0 (off) or at least {MIN_RATE_LIMIT_PER_S}"
                )
            }
            None => {}
        }
        Ok(access)
    }
}

fn parse_objective(s: &str) -> Result<boxbox_engine::strategy::search::Objective, String> {
    use boxbox_engine::strategy::search::Objective;
    match s {
        "position" => Ok(Objective::Position),
        "points" => Ok(Objective::Points),
        _ => Err("must be `position` or `points`".to_owned()),
    }
}

fn parse_speed(s: &str) -> Result<f64, String> {
    parse_between(s, crate::source::MIN_SPEED, 1000.0)
}

fn parse_race_speed(s: &str) -> Result<f64, String> {
    parse_between(s, crate::source::MIN_SPEED, crate::source::MAX_RACE_SPEED)
}

fn parse_persist_interval(s: &str) -> Result<f64, String> {
    let x: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if x.is_finite() && (0.1..=3600.0).contains(&x) {
        Ok(x)
    } else {
        Err("must be between 0.1 and 3600 seconds".to_owned())
    }
}

/// States (or frames) per second: at least one every 10 s, at most 60 a second.
fn parse_rate(s: &str) -> Result<f64, String> {
    parse_between(s, 0.1, 60.0)
}

/// A number from `min` to `max`. The lower bounds keep waits (a period over a rate or a speed) within what a clock
/// can hold.
fn parse_between(s: &str, min: f64, max: f64) -> Result<f64, String> {
    let x: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if x.is_finite() && (min..=max).contains(&x) {
        Ok(x)
    } else {
        Err(format!("must be between {min} and {max}"))
    }
}

fn parse_non_negative(s: &str) -> Result<f64, String> {
    let x: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if x.is_finite() && x >= 0.0 {
        Ok(x)
    } else {
        Err("must be a number ≥ 0".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(args: &[&str]) -> anyhow::Result<crate::ServeConfig> {
        let mut argv = vec!["boxbox", "serve"];
        argv.extend_from_slice(args);
        let Command::Serve(args) = Cli::try_parse_from(argv)?.command else {
            panic!("serve")
        };
        args.resolve(FileConfig::default())
    }

    #[test]
    fn serve_defaults_and_validation() {
        let c = serve(&[]).unwrap();
        assert_eq!(c.http.to_string(), "127.0.0.1:8080");
        assert_eq!(c.web_dir, PathBuf::from("dist"));
        assert_eq!(c.rate_hz, 10.0);
        assert_eq!(c.source, SourceConfig::simulator());
        assert_eq!(c.record_dir, Some(PathBuf::from("boxbox-state/recordings")));
        let persist = c.persist.unwrap();
        assert_eq!(persist.state_dir, PathBuf::from("boxbox-state"));
        assert_eq!(persist.interval, std::time::Duration::from_secs(5));
        assert_eq!(c.nats, None);
        assert_eq!(c.tls, None);
        let c = serve(&["--nats", "nats://127.0.0.1:4222"]).unwrap();
        assert_eq!(c.nats.as_deref(), Some("nats://127.0.0.1:4222"));
        let e = serve(&["--nats", "http://127.0.0.1:4222"]).unwrap_err();
        assert!(e.to_string().contains("not a NATS server address"), "{e}");
        let c = serve(&["--state-dir", "/var/boxbox", "--persist-interval-s", "1.5"]).unwrap();
        let persist = c.persist.unwrap();
        assert_eq!(persist.state_dir, PathBuf::from("/var/boxbox"));
        assert_eq!(persist.interval, std::time::Duration::from_millis(1500));
        assert_eq!(c.record_dir, Some(PathBuf::from("/var/boxbox/recordings")));
        assert!(serve(&["--no-persist"]).unwrap().persist.is_none());
        assert!(serve(&["--persist-interval-s", "0"]).is_err());
        assert!(serve(&["--persist-interval-s", "inf"]).is_err());
        assert!(serve(&["--speed", "0"]).is_err());
        assert!(serve(&["--speed", "nan"]).is_err());
        // Bounds that keep waits within what a clock holds (these used to panic the source or a request).
        for flags in [
            &["--speed", "1e-300"][..],
            &["--replay", "x.pcap", "--replay-speed", "0.001"],
            &["--race-dir", "x", "--race-speed", "1e-300"],
            &["--rate-hz", "1e-300"],
            &["--rate-limit-per-s", "1e-300"],
            &["--restart-after-s", "inf"],
            &["--restart-after-s", "1e300"],
        ] {
            assert!(serve(flags).is_err(), "{flags:?}");
        }
        assert!(serve(&["--speed", "0.01", "--restart-after-s", "60"]).is_ok());
        assert!(serve(&["--rate-limit-per-s", "0"]).is_ok(), "off");
        assert!(serve(&["--laps", "0"]).is_err());
        assert!(
            serve(&["--udp", "0.0.0.0:20777", "--ingest"]).is_err(),
            "one source"
        );
        assert!(
            serve(&["--forward", "127.0.0.1:1"]).is_err(),
            "--forward needs --udp"
        );
        assert!(serve(&["--ws-feed", "http://x"]).is_err());
        let c = serve(&[
            "--http",
            "0.0.0.0:9000",
            "--speed",
            "10",
            "--seed",
            "7",
            "--no-record",
        ])
        .unwrap();
        assert_eq!(c.http.port(), 9000);
        assert_eq!(c.record_dir, None);
        let SourceSpec::Simulator { seed, speed, .. } = c.source.spec else {
            panic!("simulator")
        };
        assert_eq!((seed, speed), (7, 10.0));
        let c = serve(&[
            "--replay",
            "x.pcap",
            "--replay-speed",
            "4",
            "--start-s",
            "120",
        ])
        .unwrap();
        assert_eq!(
            c.source.spec,
            SourceSpec::Replay {
                file: "x.pcap".into(),
                speed: 4.0,
                start_s: 120.0
            }
        );
        let c = serve(&["--race-dir", "races/x", "--race-speed", "2000"]).unwrap();
        assert_eq!(
            c.source.spec,
            SourceSpec::Race {
                dir: "races/x".into(),
                speed: 2000.0
            }
        );
        let SourceSpec::Race { speed, .. } = serve(&["--race-dir", "r"]).unwrap().source.spec
        else {
            panic!("race")
        };
        assert_eq!(speed, 10.0);
        assert!(
            serve(&["--race-dir", "r", "--replay", "x.pcap"]).is_err(),
            "one source"
        );
        assert!(serve(&["--race-dir", "r", "--race-speed", "0"]).is_err());
        assert!(serve(&["--race-dir", "r", "--race-speed", "20000"]).is_err());
        assert!(
            Cli::try_parse_from(["boxbox", "decode"]).is_err(),
            "decode needs a file"
        );
        let Command::Replay(r) =
            Cli::try_parse_from(["boxbox", "replay", "a.pcap", "--speed", "2"])
                .unwrap()
                .command
        else {
            panic!("replay")
        };
        assert_eq!((r.to.port(), r.speed, r.start_s), (20777, 2.0, 0.0));
        assert!(
            Cli::try_parse_from(["boxbox", "backtest"]).is_err(),
            "backtest needs a race folder"
        );
        let Command::Backtest(b) = Cli::try_parse_from(["boxbox", "backtest", "a", "b", "--json"])
            .unwrap()
            .command
        else {
            panic!("backtest")
        };
        assert_eq!((b.dirs.len(), b.json), (2, true));
        assert!(
            Cli::try_parse_from(["boxbox", "report", "r"]).is_err(),
            "report needs -o"
        );
        let Command::Report(r) = Cli::try_parse_from(["boxbox", "report", "r", "-o", "x.html"])
            .unwrap()
            .command
        else {
            panic!("report")
        };
        assert_eq!(
            (r.dir, r.output, r.runs, r.seed),
            ("r".into(), "x.html".into(), 500, 2019)
        );
        assert!(Cli::try_parse_from(["boxbox", "report", "r", "-o", "x", "--runs", "0"]).is_err());
        assert!(
            Cli::try_parse_from(["boxbox", "simulate"]).is_err(),
            "simulate needs --to or --pcap"
        );
        assert!(
            Cli::try_parse_from([
                "boxbox",
                "simulate",
                "--pcap",
                "x.pcap",
                "--to",
                "127.0.0.1:1"
            ])
            .is_ok()
        );
    }

    #[test]
    fn tls_needs_both_files_and_a_missing_one_is_named() {
        let e = serve(&["--tls-cert", "cert.pem"]).unwrap_err();
        assert!(e.to_string().contains("--tls-cert needs --tls-key"), "{e}");
        let e = serve(&["--tls-key", "key.pem"]).unwrap_err();
        assert!(e.to_string().contains("--tls-key needs --tls-cert"), "{e}");
        let missing = std::env::temp_dir().join("boxbox-no-such-dir/cert.pem");
        let e = serve(&[
            "--tls-cert",
            missing.to_str().unwrap(),
            "--tls-key",
            "key.pem",
        ])
        .unwrap_err();
        assert!(
            format!("{e:#}").contains(&format!("(--tls-cert) {}: ", missing.display())),
            "{e:#}"
        );
        // One from the file, the other from a flag.
        let file: FileConfig = toml::from_str("tls_cert = \"/nonexistent/cert.pem\"\n").unwrap();
        let Command::Serve(args) =
            Cli::try_parse_from(["boxbox", "serve", "--tls-key", "/nonexistent/key.pem"])
                .unwrap()
                .command
        else {
            panic!("serve")
        };
        let e = args.resolve(file).unwrap_err();
        assert!(format!("{e:#}").contains("/nonexistent/cert.pem"), "{e:#}");
    }

    #[test]
    fn the_log_format_is_text_unless_json_is_asked_for_anywhere_on_the_line() {
        let format = |argv: &[&str]| Cli::try_parse_from(argv).map(|c| c.log_format);
        assert_eq!(format(&["boxbox", "serve"]).unwrap(), LogFormat::Text);
        assert_eq!(
            format(&["boxbox", "--log-format", "json", "serve"]).unwrap(),
            LogFormat::Json
        );
        assert_eq!(
            format(&["boxbox", "serve", "--log-format", "json"]).unwrap(),
            LogFormat::Json
        );
        assert!(format(&["boxbox", "serve", "--log-format", "xml"]).is_err());
    }

    #[test]
    fn flags_override_the_config_file() {
        let file: FileConfig = toml::from_str(
            r#"
            http = "0.0.0.0:8081"
            rate_hz = 20
            record = false
            state_dir = "/srv/boxbox"
            persist_interval_s = 2
            nats = "nats://10.0.0.7:4222"
            [source]
            mode = "udp"
            bind = "0.0.0.0:20777"
            forward = ["127.0.0.1:20778"]
            fallback_after = 3
            "#,
        )
        .unwrap();
        let Command::Serve(args) = Cli::try_parse_from(["boxbox", "serve", "--rate-hz", "5"])
            .unwrap()
            .command
        else {
            panic!("serve")
        };
        let c = args.resolve(file).unwrap();
        assert_eq!((c.http.port(), c.rate_hz, c.record_dir), (8081, 5.0, None));
        assert_eq!(c.nats.as_deref(), Some("nats://10.0.0.7:4222"));
        let persist = c.persist.unwrap();
        assert_eq!(
            (persist.state_dir, persist.interval),
            ("/srv/boxbox".into(), std::time::Duration::from_secs(2))
        );
        let file: FileConfig = toml::from_str("persist = false\n").unwrap();
        let Command::Serve(args) = Cli::try_parse_from(["boxbox", "serve"]).unwrap().command else {
            panic!("serve")
        };
        assert!(args.resolve(file).unwrap().persist.is_none());
        assert_eq!(c.source.fallback_after, Some(3));
        assert_eq!(
            c.source.spec,
            SourceSpec::Udp {
                bind: "0.0.0.0:20777".parse().unwrap(),
                forward: vec!["127.0.0.1:20778".parse().unwrap()]
            }
        );
        // A race in the file, its speed from the flag.
        let file: FileConfig = toml::from_str(
            "[source]\nmode = \"race\"\ndir = \"races/2019_07_canada\"\nspeed = 50\n",
        )
        .unwrap();
        let Command::Serve(args) = Cli::try_parse_from(["boxbox", "serve", "--race-speed", "100"])
            .unwrap()
            .command
        else {
            panic!("serve")
        };
        assert_eq!(
            args.resolve(file).unwrap().source.spec,
            SourceSpec::Race {
                dir: "races/2019_07_canada".into(),
                speed: 100.0
            }
        );
        let bad =
            toml::from_str::<FileConfig>("[source]\nmode = \"carrier_pigeon\"\n").unwrap_err();
        assert!(bad.to_string().contains("carrier_pigeon"), "{bad}");
        let typo = toml::from_str::<FileConfig>("htp = \"0.0.0.0:1\"\n").unwrap_err();
        assert!(typo.to_string().contains("htp"), "{typo}");
    }
}
