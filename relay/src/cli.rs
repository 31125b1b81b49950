//! The `boxbox` command line. Doc comments on the fields are the `--help` text.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// boxbox: a race-strategy pit wall in the browser.
#[derive(Debug, Parser)]
#[command(name = "boxbox", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the relay: a live race from the built-in simulator, the web app, `/ws` and the REST API.
    Serve(ServeArgs),
    /// Print every packet of EA F1 UDP captures as JSON lines (EA's field names). Exit code 1 if any failed.
    Decode(DecodeArgs),
}

/// Arguments of `boxbox decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// Raw datagram files (`.bin`, one packet each) and libpcap recordings (`.pcap`).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Flags of `boxbox serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to serve HTTP and WebSocket on. `0.0.0.0:8080` opens it to the LAN (tablets on the pit wall).
    #[arg(long, default_value = "127.0.0.1:8080", env = "BOXBOX_HTTP")]
    pub http: SocketAddr,

    /// Seed of the simulated race: the same seed gives the same race.
    #[arg(long, default_value_t = 1, env = "BOXBOX_SEED")]
    pub seed: u64,

    /// Simulated seconds per real second (1 = real time; 10 runs a 95-minute race in under 10 minutes).
    #[arg(long, default_value_t = 1.0, value_parser = parse_speed)]
    pub speed: f64,

    /// States published per real second.
    #[arg(long, default_value_t = 10.0, value_parser = parse_rate)]
    pub rate_hz: f64,

    /// Race distance in laps (57 is the full Bahrain Grand Prix).
    #[arg(long, default_value_t = 57, value_parser = clap::value_parser!(u32).range(1..=200))]
    pub laps: u32,

    /// Start a new race with the next seed this many real seconds after the last car finishes. Without it the
    /// final classification stays up.
    #[arg(long)]
    pub restart_after_s: Option<f64>,

    /// Directory of the built web app (Trunk's output).
    #[arg(long, default_value = "dist", env = "BOXBOX_WEB_DIR")]
    pub web_dir: PathBuf,

    /// Listen for EA F1 23/24/25 UDP telemetry here (e.g. `0.0.0.0:20777`) instead of running the simulator.
    #[arg(long, env = "BOXBOX_UDP")]
    pub udp: Option<SocketAddr>,

    /// Re-send every received datagram unchanged to HOST:PORT, so one game feeds several apps (repeatable).
    #[arg(long = "forward", value_name = "HOST:PORT")]
    pub forward: Vec<SocketAddr>,
}

fn parse_speed(s: &str) -> Result<f64, String> {
    parse_positive(s, 1000.0)
}

fn parse_rate(s: &str) -> Result<f64, String> {
    parse_positive(s, 60.0)
}

fn parse_positive(s: &str, max: f64) -> Result<f64, String> {
    let x: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if x.is_finite() && x > 0.0 && x <= max {
        Ok(x)
    } else {
        Err(format!("must be greater than 0 and at most {max}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_defaults_and_validation() {
        let cli = Cli::try_parse_from(["boxbox", "serve"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        assert_eq!(args.http.to_string(), "127.0.0.1:8080");
        assert_eq!(args.speed, 1.0);
        assert_eq!(args.web_dir, PathBuf::from("dist"));
        assert!(Cli::try_parse_from(["boxbox", "serve", "--speed", "0"]).is_err());
        assert!(Cli::try_parse_from(["boxbox", "serve", "--speed", "nan"]).is_err());
        assert!(Cli::try_parse_from(["boxbox", "serve", "--laps", "0"]).is_err());
        let cli = Cli::try_parse_from([
            "boxbox",
            "serve",
            "--http",
            "0.0.0.0:9000",
            "--speed",
            "10",
            "--seed",
            "7",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        assert_eq!((args.http.port(), args.speed, args.seed), (9000, 10.0, 7));
        assert!(
            Cli::try_parse_from(["boxbox", "decode"]).is_err(),
            "decode needs a file"
        );
    }
}
