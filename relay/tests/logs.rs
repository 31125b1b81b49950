//! The relay's request logs name the method and path of every request and never its query: a token in `?token=`
//! (the only way a browser's WebSocket carries one) must not reach a log file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use boxbox_relay::desk::Desk;
use boxbox_relay::hub::Hub;
use tower::ServiceExt;

/// Everything the subscriber writes, kept for the test to read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn request_logs_name_the_path_never_the_token() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);
    let router = common::ingest_router(
        Hub::new(),
        Desk::new(),
        common::pit_wall_access(),
        None,
        std::path::Path::new("/nonexistent"),
    )
    .await;
    let secret = common::CONTROL_TOKEN;
    for uri in [
        format!("/api/v1/health?token={secret}"),
        format!("/api/v1/telemetry?token={secret}"),
        format!("/ws?token={secret}"),
    ] {
        let response = router
            .clone()
            .oneshot(Request::get(uri.as_str()).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_ne!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{uri}"
        );
    }
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for path in [
        r#"path="/api/v1/health""#,
        r#"path="/api/v1/telemetry""#,
        r#"path="/ws""#,
    ] {
        assert!(logs.contains(path), "no {path} in the logs:\n{logs}");
    }
    assert!(!logs.contains(secret), "the token is in the logs:\n{logs}");
    assert!(!logs.contains("token="), "a query is in the logs:\n{logs}");
}
