//! The `boxbox` binary: parses the command line, sets up logging and hands over to [`boxbox_relay::run`].

#[cfg(not(target_arch = "wasm32"))]
fn main() -> anyhow::Result<()> {
    use boxbox_relay::cli::{Cli, Command};
    use clap::Parser;

    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve(args) => serve(args),
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
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn serve(args: boxbox_relay::cli::ServeArgs) -> anyhow::Result<()> {
    use anyhow::Context;

    let runtime = tokio::runtime::Runtime::new().context("cannot start the tokio runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.http)
            .await
            .with_context(|| format!("cannot listen on {}", args.http))?;
        let addr = listener.local_addr()?;
        let shown = if addr.ip().is_unspecified() {
            format!("http://localhost:{}/", addr.port())
        } else {
            format!("http://{addr}/")
        };
        println!("boxbox is running: open {shown}");
        let udp = match args.udp {
            Some(at) => Some(
                tokio::net::UdpSocket::bind(at)
                    .await
                    .with_context(|| format!("cannot listen for UDP on {at}"))?,
            ),
            None => None,
        };
        let config = boxbox_relay::ServeConfig {
            seed: args.seed,
            speed: args.speed,
            rate_hz: args.rate_hz,
            laps: args.laps,
            restart_after_s: args.restart_after_s,
            web_dir: args.web_dir,
            forward: args.forward,
        };
        let listeners = boxbox_relay::Listeners {
            http: listener,
            udp,
        };
        boxbox_relay::run(listeners, config, shutdown_signal()).await
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
