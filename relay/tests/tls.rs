//! `boxbox serve --tls-cert --tls-key`: the real binary with a self-signed certificate made by rcgen for the test
//! serves the REST API over HTTPS and `/ws` over WSS to a client that trusts it, refuses plain HTTP and clients
//! that do not trust it, stops gracefully on SIGTERM, and a missing, foreign or empty file stops it at start with a
//! message naming the file.

// Test helpers outside #[test] functions may panic too: a panic is a test failure here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use boxbox_engine::protocol::ServerMessage;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_tungstenite::tungstenite::Message;

/// A self-signed certificate for `localhost` and `127.0.0.1`, written as PEM into a fresh directory.
struct TestCert {
    cert_file: PathBuf,
    key_file: PathBuf,
    der: CertificateDer<'static>,
}

fn make_cert(dir: &Path, name: &str) -> TestCert {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert_file = dir.join(format!("{name}-cert.pem"));
    let key_file = dir.join(format!("{name}-key.pem"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, signing_key.serialize_pem()).unwrap();
    TestCert {
        cert_file,
        key_file,
        der: cert.der().clone(),
    }
}

/// A `boxbox serve` child with TLS, killed if a test fails.
struct Served {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `boxbox serve` on 127.0.0.1:0 with the simulator and `args`; stderr goes to `log`.
fn boxbox_serve(dir: &Path, log: &Path, args: &[&std::ffi::OsStr]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_boxbox"))
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--no-record",
            "--speed",
            "20",
        ])
        .arg("--web-dir")
        .arg(std::env::temp_dir().join("boxbox-no-web-app"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .args(args)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env("BOXBOX_CONTROL_TOKEN", common::CONTROL_TOKEN)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

/// Starts the relay with `cert` and reads its first line, which must show an `https://` address.
fn serve_tls(dir: &Path, cert: &TestCert) -> Served {
    let mut child = boxbox_serve(
        dir,
        &dir.join("relay.log"),
        &[
            "--tls-cert".as_ref(),
            cert.cert_file.as_os_str(),
            "--tls-key".as_ref(),
            cert.key_file.as_os_str(),
        ],
    );
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let addr = line
        .strip_prefix("boxbox is running: open https://")
        .unwrap_or_else(|| panic!("not an https start line: {line:?}"))
        .trim_end()
        .trim_end_matches('/')
        .parse()
        .unwrap();
    Served { child, addr }
}

/// A TLS client that trusts exactly `roots` (ring, as the relay).
fn client(roots: &[&CertificateDer<'static>]) -> tokio_rustls::TlsConnector {
    let mut store = rustls::RootCertStore::empty();
    for root in roots {
        store.add((*root).clone()).unwrap();
    }
    // ring, as the relay (rustls deprecated it for lacking post-quantum key exchange; see `boxbox_relay::tls`).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn tls_connect(
    connector: &tokio_rustls::TlsConnector,
    addr: SocketAddr,
    name: &str,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(name.to_owned()).unwrap();
    connector.connect(name, tcp).await
}

/// Reads until the peer closes (or resets) the connection, within 10 s.
async fn read_all(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("the server answers or closes within 10 s");
        match read {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// `GET path` with `Connection: close` over `stream`; the status and the body.
async fn get(
    stream: &mut (impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin),
    path: &str,
) -> (u16, String) {
    request(stream, "GET", path).await
}

/// `method path` with no body and the control token, `Connection: close`, over `stream`; the status and the body.
async fn request(
    stream: &mut (impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin),
    method: &str,
    path: &str,
) -> (u16, String) {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 0\r\nAuthorization: Bearer {}\r\n\r\n",
        common::CONTROL_TOKEN
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let response = String::from_utf8(read_all(stream).await).unwrap();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

/// Waits up to 10 s for a child to exit.
fn wait_exit(child: &mut Child) -> ExitStatus {
    for _ in 0..200 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("boxbox is still running after 10 s");
}

#[tokio::test]
async fn https_and_wss_with_the_users_certificate_plain_http_refused_and_sigterm_stops_it() {
    let dir = common::temp_dir("tls-serve");
    let cert = make_cert(&dir, "relay");
    let mut served = serve_tls(&dir, &cert);
    let trusting = client(&[&cert.der]);

    // REST over HTTPS, by IP address and by name (both are in the certificate).
    for name in ["127.0.0.1", "localhost"] {
        let mut https = tls_connect(&trusting, served.addr, name).await.unwrap();
        let (status, body) = get(&mut https, "/api/v1/health").await;
        assert_eq!(status, 200, "{body}");
        let health: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(health["status"], "ok", "{health}");
    }

    // A share link made over HTTPS opens over HTTPS.
    let mut https = tls_connect(&trusting, served.addr, "localhost")
        .await
        .unwrap();
    let (status, body) = request(&mut https, "POST", "/api/v1/share").await;
    assert_eq!(status, 201, "{body}");
    let shared: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        shared["url"]
            .as_str()
            .unwrap()
            .starts_with("https://localhost/?token="),
        "{shared}"
    );

    // The live feed over WSS: the snapshot comes first.
    let stream = tls_connect(&trusting, served.addr, "localhost")
        .await
        .unwrap();
    let url = format!("wss://localhost:{}/ws", served.addr.port());
    let (mut ws, response) = tokio_tungstenite::client_async(url, stream).await.unwrap();
    assert_eq!(response.status(), 101);
    let first = loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s")
            .expect("stream open")
            .expect("no ws error");
        if let Message::Text(text) = frame {
            break serde_json::from_str::<ServerMessage>(&text).unwrap();
        }
    };
    let ServerMessage::Snapshot { state, .. } = first else {
        panic!("the first frame is not a snapshot: {first:?}")
    };
    assert_eq!(state.source, boxbox_engine::wire::DataSource::Simulator);

    // Plain HTTP to the TLS port gets no HTTP answer, let alone a 200.
    let mut plain = TcpStream::connect(served.addr).await.unwrap();
    plain
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_all(&mut plain).await;
    assert!(
        !answer.starts_with(b"HTTP/"),
        "plain HTTP was answered: {:?}",
        String::from_utf8_lossy(&answer)
    );

    // A client that does not trust the certificate fails the handshake.
    let other = make_cert(&dir, "other");
    let e = tls_connect(&client(&[&other.der]), served.addr, "localhost")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("certificate"), "{e}");

    // SIGTERM with a WSS client connected: the client gets a close frame and the relay exits 0.
    let killed = Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(frame) = ws.next().await {
            match frame {
                Ok(Message::Close(_)) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the WSS client is closed within 10 s");
    let status = wait_exit(&mut served.child);
    assert!(status.success(), "{status}");
    let log = std::fs::read_to_string(dir.join("relay.log")).unwrap();
    assert!(log.contains("tls=true"), "{log}");
    // The shutdown sequence ran to its last save.
    assert!(log.contains("persister figures"), "{log}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs `boxbox serve` with `args`, which must make it exit at start with a non-zero code; returns its stderr.
fn refused_at_start(dir: &Path, args: &[&std::ffi::OsStr]) -> String {
    let log = dir.join("refused.log");
    let mut child = boxbox_serve(dir, &log, args);
    let status = wait_exit(&mut child);
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(!status.success(), "{status}: {stderr}");
    assert!(
        !stdout.contains("boxbox is running"),
        "started before failing: {stdout}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn a_missing_file_a_foreign_key_or_a_file_without_pem_stops_it_at_start_naming_the_file() {
    let dir = common::temp_dir("tls-refused");
    let cert = make_cert(&dir, "relay");
    let other = make_cert(&dir, "other");
    let missing = dir.join("missing-cert.pem");
    let not_pem = dir.join("not-pem.pem");
    std::fs::write(&not_pem, "this is not PEM\n").unwrap();
    let tls = |cert: &Path, key: &Path| -> Vec<std::ffi::OsString> {
        vec![
            "--tls-cert".into(),
            cert.into(),
            "--tls-key".into(),
            key.into(),
        ]
    };
    let run = |args: Vec<std::ffi::OsString>| {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        refused_at_start(&dir, &args)
    };

    let e = run(tls(&missing, &cert.key_file));
    assert!(
        e.contains(&format!(
            "cannot read the TLS certificate (--tls-cert) {}",
            missing.display()
        )),
        "{e}"
    );
    assert!(e.contains("No such file or directory"), "{e}");

    let e = run(tls(&cert.cert_file, &other.key_file));
    assert!(
        e.contains(&format!(
            "the TLS private key (--tls-key) {} is not the key of the certificate (--tls-cert) {}",
            other.key_file.display(),
            cert.cert_file.display()
        )),
        "{e}"
    );

    let e = run(tls(&cert.cert_file, &not_pem));
    assert!(
        e.contains("no private key") && e.contains(&not_pem.display().to_string()),
        "{e}"
    );
    let e = run(tls(&not_pem, &cert.key_file));
    assert!(
        e.contains("no certificate") && e.contains(&not_pem.display().to_string()),
        "{e}"
    );
    // A key where the certificate should be.
    let e = run(tls(&cert.key_file, &cert.key_file));
    assert!(
        e.contains("no certificate") && e.contains(&cert.key_file.display().to_string()),
        "{e}"
    );

    let e = run(vec!["--tls-cert".into(), cert.cert_file.clone().into()]);
    assert!(e.contains("--tls-cert needs --tls-key"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
