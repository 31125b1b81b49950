//! `GET /metrics`: the relay's counters in Prometheus' text format (version 0.0.4), and the middleware that times
//! every HTTP request.
//!
//! Written by hand rather than with a metrics crate: a few counters, gauges and one histogram family, most of them
//! read from counters the relay keeps anyway ([`crate::source::SourceStatus`], [`crate::hub::WsStats`],
//! [`crate::persist::PersistStats`]). The source's counters start again from zero when the source is switched,
//! which Prometheus' `rate()` treats as a counter reset.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use crate::persist::PersistStats;
use crate::server::AppState;

/// Upper bounds of the request latency histogram's buckets, in seconds.
pub const LATENCY_BUCKETS_S: [f64; 12] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// What the relay measures besides the hub's and the source's own counters. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    inner: Arc<MetricsInner>,
}

#[derive(Debug, Default)]
struct MetricsInner {
    /// Request latencies by (route, method, status).
    http: Mutex<BTreeMap<(String, String, u16), Histogram>>,
    /// The persister's counters, once it runs.
    persist: OnceLock<Arc<PersistStats>>,
    /// The NATS publisher's counters, with `--nats`.
    nats: OnceLock<Arc<crate::nats::NatsStats>>,
}

/// A cumulative histogram.
#[derive(Clone, Debug, Default)]
struct Histogram {
    /// Observations at or under each of [`LATENCY_BUCKETS_S`].
    buckets: [u64; LATENCY_BUCKETS_S.len()],
    count: u64,
    sum_s: f64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (bound, n) in LATENCY_BUCKETS_S.iter().zip(self.buckets.iter_mut()) {
            if secs <= *bound {
                *n += 1;
            }
        }
        self.count += 1;
        self.sum_s += secs;
    }
}

impl Metrics {
    /// No observations yet.
    pub fn new() -> Self {
        Metrics::default()
    }

    /// Reports the persister's figures from now on (the first call wins).
    pub fn set_persist(&self, stats: Arc<PersistStats>) {
        let _ = self.inner.persist.set(stats);
    }

    /// Reports the NATS publisher's counters from now on (the first call wins).
    pub fn set_nats(&self, stats: Arc<crate::nats::NatsStats>) {
        let _ = self.inner.nats.set(stats);
    }

    /// Records one request's latency.
    pub fn observe_request(&self, route: &str, method: &str, status: u16, secs: f64) {
        let mut http = self.inner.http.lock().unwrap_or_else(|e| e.into_inner());
        http.entry((route.to_owned(), method.to_owned(), status))
            .or_default()
            .observe(secs);
    }
}

/// Middleware: times every request, labelled by its route's pattern (`/api/v1/car-twin/{car}`, not the car), or
/// `static` for the web app.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "static".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    state.hub.metrics().observe_request(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics`.
pub async fn handler(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&state),
    )
        .into_response()
}

/// The whole exposition.
pub fn render(state: &AppState) -> String {
    let mut out = String::with_capacity(8 * 1024);
    let source = state.sources.status();
    family(
        &mut out,
        "boxbox_packets_total",
        "counter",
        "Messages decoded by the running source, by packet type (EA packet name, or feed_frame).",
    );
    for (kind, n) in &source.packets {
        let _ = writeln!(out, "boxbox_packets_total{{type=\"{kind}\"}} {n}");
    }
    family(
        &mut out,
        "boxbox_decode_errors_total",
        "counter",
        "Messages the running source could not use, and other source errors, by kind.",
    );
    for (kind, n) in &source.errors {
        let _ = writeln!(out, "boxbox_decode_errors_total{{kind=\"{kind}\"}} {n}");
    }
    family(
        &mut out,
        "boxbox_source_received_total",
        "counter",
        "Datagrams or feed frames received by the running source.",
    );
    let _ = writeln!(out, "boxbox_source_received_total {}", source.received);
    let hub = &state.hub;
    family(
        &mut out,
        "boxbox_states_published_total",
        "counter",
        "Race states published (the latest sequence number).",
    );
    let _ = writeln!(out, "boxbox_states_published_total {}", hub.seq());
    family(
        &mut out,
        "boxbox_ws_clients",
        "gauge",
        "WebSocket clients connected to /ws.",
    );
    let _ = writeln!(out, "boxbox_ws_clients {}", hub.client_count());
    let ws = hub.ws_stats();
    for (name, help, value) in [
        (
            "boxbox_ws_snapshots_sent_total",
            "Snapshots sent to WebSocket clients.",
            &ws.snapshots_sent,
        ),
        (
            "boxbox_ws_deltas_sent_total",
            "Deltas sent to WebSocket clients.",
            &ws.deltas_sent,
        ),
        (
            "boxbox_ws_queue_drops_total",
            "Times a WebSocket client fell behind and its backlog was dropped for a fresh snapshot.",
            &ws.queue_drops,
        ),
        (
            "boxbox_ws_disconnected_slow_total",
            "WebSocket clients disconnected because a send blocked too long or no pong came.",
            &ws.disconnected_slow,
        ),
        (
            "boxbox_ws_bad_messages_total",
            "WebSocket client messages answered with an error frame.",
            &ws.bad_messages,
        ),
        (
            "boxbox_ws_sent_bytes_total",
            "Bytes of snapshot and delta frames sent to WebSocket clients.",
            &ws.bytes_sent,
        ),
    ] {
        family(&mut out, name, "counter", help);
        let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
    }
    let metrics = &hub.metrics().inner;
    if let Some(persist) = metrics.persist.get() {
        let f = persist.figures();
        family(
            &mut out,
            "boxbox_persist_duration_seconds",
            "summary",
            "Duration of state saves (serialize, write, fsync, rename, directory fsync).",
        );
        let _ = writeln!(
            out,
            "boxbox_persist_duration_seconds_sum {}",
            f.mean_duration_ms * f.writes as f64 / 1e3
        );
        let _ = writeln!(out, "boxbox_persist_duration_seconds_count {}", f.writes);
        family(
            &mut out,
            "boxbox_persist_last_duration_seconds",
            "gauge",
            "Duration of the last state save.",
        );
        let _ = writeln!(
            out,
            "boxbox_persist_last_duration_seconds {}",
            f.last_duration_ms / 1e3
        );
        family(
            &mut out,
            "boxbox_persist_max_duration_seconds",
            "gauge",
            "The longest state save so far.",
        );
        let _ = writeln!(
            out,
            "boxbox_persist_max_duration_seconds {}",
            f.max_duration_ms / 1e3
        );
        family(
            &mut out,
            "boxbox_persist_failures_total",
            "counter",
            "State saves that failed.",
        );
        let _ = writeln!(out, "boxbox_persist_failures_total {}", f.failures);
    }
    if let Some(nats) = metrics.nats.get() {
        for (name, help, value) in [
            (
                "boxbox_nats_published_total",
                "Messages published to NATS (snapshots, deltas, snapshot request replies).",
                &nats.published,
            ),
            (
                "boxbox_nats_dropped_total",
                "Publications not sent to NATS: it was unreachable or the publisher fell behind.",
                &nats.dropped,
            ),
        ] {
            family(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        family(
            &mut out,
            "boxbox_nats_connected",
            "gauge",
            "1 while the relay is connected to a NATS server.",
        );
        let _ = writeln!(
            out,
            "boxbox_nats_connected {}",
            u8::from(nats.is_connected.load(Ordering::Relaxed))
        );
    }
    family(
        &mut out,
        "boxbox_http_request_duration_seconds",
        "histogram",
        "HTTP request latency by route pattern, method and status (a WebSocket request until its upgrade).",
    );
    let http = metrics
        .http
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    for ((route, method, status), h) in &http {
        let labels = format!(
            "route=\"{}\",method=\"{method}\",status=\"{status}\"",
            escape(route)
        );
        for (bound, n) in LATENCY_BUCKETS_S.iter().zip(h.buckets) {
            let _ = writeln!(
                out,
                "boxbox_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "boxbox_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
            h.count
        );
        let _ = writeln!(
            out,
            "boxbox_http_request_duration_seconds_sum{{{labels}}} {}",
            h.sum_s
        );
        let _ = writeln!(
            out,
            "boxbox_http_request_duration_seconds_count{{{labels}}} {}",
            h.count
        );
    }
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_is_cumulative() {
        let mut h = Histogram::default();
        h.observe(0.003);
        h.observe(0.2);
        assert_eq!(h.buckets[..4], [0, 0, 0, 1]);
        assert_eq!(h.buckets[LATENCY_BUCKETS_S.len() - 1], 2);
        assert_eq!(h.count, 2);
        assert_eq!(escape("a\"b\\"), "a\\\"b\\\\");
    }
}
