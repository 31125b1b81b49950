//! The `boxbox` binary: parses the command line, sets up logging and hands over to [`boxbox_relay::run`].

#[cfg(not(target_arch = "wasm32"))]
fn main() -> anyhow::Result<()> {
    use boxbox_relay::cli::{Cli, Command};
    use clap::Parser;

    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn")),
        )
        .with_writer(std::io::stderr);
    match cli.log_format {
        boxbox_relay::cli::LogFormat::Text => logs.init(),
        boxbox_relay::cli::LogFormat::Json => logs.json().with_current_span(true).init(),
    }
    match cli.command {
        Command::Serve(args) => serve(*args),
        Command::Replay(args) => replay(args),
        Command::Simulate(args) if args.race.params.is_some() || args.race.race_dir.is_some() => {
            montecarlo(&boxbox_relay::cli::MonteCarloArgs {
                race: args.race,
                runs: args.runs,
                seed: args.seed,
                threads: args.threads,
                deterministic: args.deterministic,
                json: args.json,
            })
        }
        Command::Simulate(args) => {
            let runtime = tokio::runtime::Runtime::new()?;
            let options = boxbox_relay::simulate::SimulateOptions {
                seed: args.seed,
                laps: args.laps,
                speed: args.speed,
                frame_hz: args.frame_hz,
                to: args.to,
                pcap: args.pcap,
            };
            let sent = runtime.block_on(boxbox_relay::simulate::run(options))?;
            eprintln!("boxbox simulate: {sent} datagrams");
            Ok(())
        }
        Command::Decode(args) => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let failed = boxbox_relay::decode::run(&args.files, &mut out)?;
            std::io::Write::flush(&mut out)?;
            if failed > 0 {
                eprintln!("boxbox decode: {failed} datagram(s) failed to decode");
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Backtest(args) => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let outcome = boxbox_relay::backtest::run(
                &args.dirs,
                args.json,
                args.strategy_runs,
                &mut out,
                &mut std::io::stderr(),
            )?;
            std::io::Write::flush(&mut out)?;
            if outcome.failed > 0 {
                eprintln!(
                    "boxbox backtest: {} of {} race folder(s) failed to load",
                    outcome.failed,
                    args.dirs.len()
                );
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Montecarlo(args) => montecarlo(&args),
        Command::Strategy(args) => strategy(&args),
        Command::Report(args) => {
            let options = boxbox_relay::report::ReportOptions {
                runs: args.runs,
                seed: args.seed,
            };
            // One line naming the folder, file or output path, like `backtest`: no backtrace for a bad folder.
            let written = match boxbox_relay::report::run(&args.dir, &args.output, &options) {
                Ok(written) => written,
                Err(e) => {
                    eprintln!("boxbox report: {e:#}");
                    std::process::exit(1);
                }
            };
            eprintln!(
                "boxbox report: {} ({} KB{}) written to {}",
                written.race,
                written.bytes.div_ceil(1024),
                if written.model {
                    ""
                } else {
                    "; the strategy model could not run"
                },
                args.output.display()
            );
            Ok(())
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn montecarlo(args: &boxbox_relay::cli::MonteCarloArgs) -> anyhow::Result<()> {
    use boxbox_relay::strategy;

    // A deterministic race is the real one replayed with mean values: it keeps the file's events.
    let race = strategy::load(
        &args.race.spec(),
        args.race.real_events || args.deterministic,
    )?;
    let threads = match args.threads {
        Some(n) => n as usize,
        None => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
    };
    let options = strategy::MonteCarloOptions {
        runs: args.runs,
        seed: args.seed,
        threads,
        deterministic: args.deterministic,
    };
    let run = strategy::monte_carlo(&race, &options)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    strategy::write_monte_carlo(&run, args.json, &mut out)?;
    std::io::Write::flush(&mut out)?;
    Ok(())
}

#[cfg(not(target_arch = "wasm32"))]
fn strategy(args: &boxbox_relay::cli::StrategyArgs) -> anyhow::Result<()> {
    use boxbox_relay::strategy;

    let race = strategy::load(&args.race.spec(), args.race.real_events)?;
    let options = strategy::StrategyOptions {
        driver: args.driver.clone(),
        runs_per_plan: args.runs_per_plan,
        window_runs: args.window_runs,
        seed: args.seed,
        max_stops: args.max_stops,
        lap_step: args.lap_step,
        objective: args.objective,
    };
    let run = strategy::strategy(&race, &options)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    strategy::write_strategy(&run, args.json, &mut out)?;
    std::io::Write::flush(&mut out)?;
    Ok(())
}

#[cfg(not(target_arch = "wasm32"))]
fn serve(args: boxbox_relay::cli::ServeArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::io::Write;

    let file = match &args.config {
        Some(path) => boxbox_relay::cli::FileConfig::load(path)?,
        None => boxbox_relay::cli::FileConfig::default(),
    };
    let mut config = args.resolve(file)?;
    let generated = match config.access.control_token {
        Some(_) => None,
        None => {
            let token = boxbox_relay::access::generate_token()?;
            config.access.control_token = Some(token.clone());
            Some(token)
        }
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the tokio runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.http)
            .await
            .with_context(|| format!("cannot listen on {}", config.http))?;
        let addr = listener.local_addr()?;
        let scheme = if config.tls.is_some() { "https" } else { "http" };
        let shown = if addr.ip().is_unspecified() {
            format!("{scheme}://localhost:{}/", addr.port())
        } else {
            format!("{scheme}://{addr}/")
        };
        println!("boxbox is running: open {shown}");
        // After the address (scripts read the first line for it, and may close the pipe then: a failed write is
        // not an error). Printed, not logged: it opens every control action.
        if let Some(token) = generated {
            let _ = writeln!(
                std::io::stdout(),
                "control token (engineer): {token}\n  pass it as `Authorization: Bearer <token>`; give one with \
                 --control-token or BOXBOX_CONTROL_TOKEN to keep it across restarts"
            );
        }
        let listeners = boxbox_relay::Listeners {
            http: listener,
            udp: None,
        };
        boxbox_relay::run(listeners, config, shutdown_signal()).await
    })
}

#[cfg(not(target_arch = "wasm32"))]
fn replay(args: boxbox_relay::cli::ReplayArgs) -> anyhow::Result<()> {
    use anyhow::Context;

    let runtime = tokio::runtime::Runtime::new().context("cannot start the tokio runtime")?;
    runtime.block_on(async move {
        let mut playback = boxbox_relay::source::replay::open(&args.file)?;
        let socket = boxbox_relay::source::udp::sender_socket(args.to)
            .await
            .context("cannot open a UDP socket")?;
        let options = boxbox_relay::source::replay::PlayOptions {
            speed: args.speed,
            start_s: args.start_s,
            fast_forward_per_s: Some(2000.0),
        };
        eprintln!(
            "replaying {} to {} at {}x",
            args.file.display(),
            args.to,
            args.speed
        );
        let (stop_tx, mut stop) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
        let mut failed = 0usize;
        let mut pacer = boxbox_relay::source::replay::Pacer::new(options);
        while let Some(d) = pacer.next(&mut playback, &mut stop).await {
            if socket.send_to(&d.payload, args.to).await.is_err() {
                failed += 1;
            }
        }
        eprintln!(
            "sent {} datagrams ({failed} failed)",
            pacer.delivered() - failed
        );
        let end = playback.finish().await?;
        if end.truncated_tail {
            eprintln!("the recording ends inside a record: sent what precedes it");
        }
        if failed > 0 {
            anyhow::bail!("{failed} datagrams could not be sent to {}", args.to);
        }
        Ok(())
    })
}

/// Resolves on Ctrl-C or SIGTERM.
#[cfg(not(target_arch = "wasm32"))]
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for ctrl-c: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(target_arch = "wasm32")]
fn main() {}
