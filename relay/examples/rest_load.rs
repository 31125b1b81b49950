//! A load generator for the REST API, run as its own process against a running relay: N clients, each on its own
//! keep-alive HTTP/1.1 connection, GET a mix of `/api/v1` reads at a fixed rate, first one client alone (the
//! baseline), then all of them; it prints the latency of each phase and their ratio.
//!
//! ```sh
//! cargo build --release -p boxbox-relay --bin boxbox --example rest_load
//! target/release/boxbox serve --no-persist --no-record --rate-limit-per-s 0 --speed 10 --http 127.0.0.1:8080 &
//! target/release/examples/rest_load --relay 127.0.0.1:8080 --relay-pid $! --clients 200 --seconds 20
//! ```
//!
//! Open loop: client `i` sends its `k`-th request at `start + offset_i + k / rate`. A request's latency runs from
//! its send to the last byte of its body; `from_planned_time_ms` runs from its planned time instead, so a response
//! that held up the next request on the same connection counts against both (no coordinated omission), and so
//! does the load generator's own timer (tokio's wheel is 1 ms coarse). One line of JSON on stdout: per phase the requests,
//! non-2xx answers by path and status, connection errors, latency p50/p99/max in ms overall and per path, mean body bytes, and the
//! relay's CPU and memory when `--relay-pid` is given (read from `/proc`). Loopback only; bounded by `--seconds`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::time::Instant;

#[path = "support/proc_stats.rs"]
mod proc_stats;

/// The reads a pit-wall tablet or an analyst's script makes, cycled through by every client.
const DEFAULT_PATHS: [&str; 6] = [
    "/api/v1/health",
    "/api/v1/telemetry",
    "/api/v1/car-twin/0",
    "/api/v1/field-twin",
    "/api/v1/strategy",
    "/api/v1/sessions",
];

/// Command-line settings.
#[derive(Debug)]
struct Args {
    relay: SocketAddr,
    clients: usize,
    seconds: f64,
    /// Requests per second per client.
    rate: f64,
    paths: Vec<String>,
    relay_pid: Option<u32>,
}

fn args() -> Args {
    let mut a = Args {
        relay: "127.0.0.1:8080".parse().unwrap(),
        clients: 200,
        seconds: 20.0,
        rate: 10.0,
        paths: Vec::new(),
        relay_pid: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().expect("a value after the flag");
        match flag.as_str() {
            "--relay" => a.relay = value().parse().unwrap(),
            "--clients" => a.clients = value().parse().unwrap(),
            "--seconds" => a.seconds = value().parse().unwrap(),
            "--rate" => a.rate = value().parse().unwrap(),
            "--path" => a.paths.push(value()),
            "--relay-pid" => a.relay_pid = Some(value().parse().unwrap()),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(a.rate > 0.0, "--rate must be positive");
    if a.paths.is_empty() {
        a.paths = DEFAULT_PATHS.iter().map(|p| (*p).to_owned()).collect();
    }
    a
}

/// What one client saw, per path.
#[derive(Debug, Default)]
struct Seen {
    /// From the request's send to its body's last byte, by path.
    latencies_us: BTreeMap<String, Vec<u64>>,
    /// From the request's planned time to its body's last byte (all paths): with the time it waited for the
    /// previous answer on its connection and for the load generator's timer (tokio's is 1 ms coarse).
    scheduled_us: Vec<u64>,
    bytes: BTreeMap<String, u64>,
    /// Answers that were not 2xx, by path and status.
    not_ok: BTreeMap<String, u64>,
    errors: u64,
}

/// One client: a connection, then requests on schedule until `until`.
async fn client(args: Arc<Args>, index: usize, start: Instant, until: Instant) -> Seen {
    let mut seen = Seen::default();
    let Ok(stream) = tokio::net::TcpStream::connect(args.relay).await else {
        seen.errors += 1;
        return seen;
    };
    let _ = stream.set_nodelay(true);
    let Ok((mut sender, connection)) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    else {
        seen.errors += 1;
        return seen;
    };
    tokio::spawn(connection);
    let period = Duration::from_secs_f64(1.0 / args.rate);
    // Spread the clients over one period so they do not all fire on the same tick.
    let offset = period.mul_f64(index as f64 / args.clients.max(1) as f64);
    let mut k = 0u32;
    loop {
        let planned = start + offset + period * k;
        if planned >= until {
            break;
        }
        tokio::time::sleep_until(planned).await;
        let sent = Instant::now();
        let path = &args.paths[(index + k as usize) % args.paths.len()];
        k += 1;
        let request = hyper::Request::get(path.as_str())
            .header(hyper::header::HOST, args.relay.to_string())
            .body(Empty::<Bytes>::new())
            .unwrap();
        let Ok(response) = sender.send_request(request).await else {
            seen.errors += 1;
            break;
        };
        let status = response.status();
        let Ok(body) = response.into_body().collect().await else {
            seen.errors += 1;
            break;
        };
        let (took, scheduled) = (sent.elapsed(), planned.elapsed());
        if !status.is_success() {
            *seen
                .not_ok
                .entry(format!("{path} {}", status.as_u16()))
                .or_default() += 1;
        }
        *seen.bytes.entry(path.clone()).or_default() += body.to_bytes().len() as u64;
        let micros = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        seen.latencies_us
            .entry(path.clone())
            .or_default()
            .push(micros(took));
        seen.scheduled_us.push(micros(scheduled));
    }
    seen
}

/// Runs `clients` clients for `seconds` and summarises what they saw, with the relay's CPU and memory.
async fn phase(args: &Arc<Args>, clients: usize, seconds: f64) -> serde_json::Value {
    let start = Instant::now() + Duration::from_millis(200);
    let until = start + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = (0..clients)
        .map(|i| tokio::spawn(client(args.clone(), i, start, until)))
        .collect();
    let (cpu, max_rss_mib) =
        proc_stats::watch(args.relay_pid, Duration::from_millis(700), until).await;
    let mut all = Seen::default();
    for t in tasks {
        let seen = t.await.unwrap();
        for (what, n) in seen.not_ok {
            *all.not_ok.entry(what).or_default() += n;
        }
        all.errors += seen.errors;
        for (path, mut l) in seen.latencies_us {
            all.latencies_us.entry(path).or_default().append(&mut l);
        }
        all.scheduled_us.extend(seen.scheduled_us);
        for (path, b) in seen.bytes {
            *all.bytes.entry(path).or_default() += b;
        }
    }
    let mut overall = Vec::new();
    let mut per_path = serde_json::Map::new();
    for (path, l) in &mut all.latencies_us {
        l.sort_unstable();
        overall.extend_from_slice(l);
        per_path.insert(
            path.clone(),
            serde_json::json!({
                "requests": l.len(),
                "body_bytes_mean": all.bytes[path] / (l.len().max(1) as u64),
                "p50": proc_stats::percentile(l, 0.5),
                "p99": proc_stats::percentile(l, 0.99),
                "max": proc_stats::percentile(l, 1.0),
            }),
        );
    }
    overall.sort_unstable();
    all.scheduled_us.sort_unstable();
    serde_json::json!({
        "clients": clients,
        "seconds": seconds,
        "requests": overall.len(),
        "requests_per_s": overall.len() as f64 / seconds,
        "not_2xx": all.not_ok,
        "errors": all.errors,
        "latency_ms": {
            "p50": proc_stats::percentile(&overall, 0.5),
            "p99": proc_stats::percentile(&overall, 0.99),
            "max": proc_stats::percentile(&overall, 1.0),
        },
        "from_planned_time_ms": {
            "p50": proc_stats::percentile(&all.scheduled_us, 0.5),
            "p99": proc_stats::percentile(&all.scheduled_us, 0.99),
            "max": proc_stats::percentile(&all.scheduled_us, 1.0),
        },
        "per_path_ms": per_path,
        "relay_cpu_cores": cpu,
        "relay_max_rss_mib": max_rss_mib,
    })
}

#[tokio::main]
async fn main() {
    let args = Arc::new(args());
    // The baseline: one client alone, a quarter of the time (at least 3 s), in the same process and run.
    let baseline = phase(&args, 1, (args.seconds / 4.0).max(3.0)).await;
    let loaded = phase(&args, args.clients, args.seconds).await;
    let ratio = |key: &str| {
        loaded["latency_ms"][key].as_f64().unwrap_or(f64::NAN)
            / baseline["latency_ms"][key].as_f64().unwrap_or(f64::NAN)
    };
    println!(
        "{}",
        serde_json::json!({
            "relay": args.relay.to_string(),
            "rate_per_client": args.rate,
            "paths": args.paths,
            "baseline": baseline,
            "loaded": loaded,
            "p50_ratio": ratio("p50"),
            "p99_ratio": ratio("p99"),
        })
    );
}
