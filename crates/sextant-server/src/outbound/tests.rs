//! The client against raw HTTP servers on 127.0.0.1 that count the connections they get.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::*;

/// What a test server does once it has read a request.
#[derive(Clone)]
enum Answer {
    /// Writes these bytes and closes.
    Raw(Vec<u8>),
    /// Writes nothing and keeps the connection open.
    Never,
}

/// A raw HTTP/1.1 server on 127.0.0.1 that counts the connections it accepts, so a test
/// can tell that a refused request never reached it.
struct TestServer {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl TestServer {
    async fn start(answer: Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (count, seen) = (Arc::clone(&connections), Arc::clone(&requests));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream, answer.clone(), Arc::clone(&seen)));
            }
        });
        TestServer {
            addr,
            connections,
            requests,
            task,
        }
    }

    fn ok(body: &[u8]) -> Answer {
        let mut raw = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        raw.extend_from_slice(body);
        Answer::Raw(raw)
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut stream: TcpStream, answer: Answer, seen: Arc<Mutex<Vec<String>>>) {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while request.len() < head_end + length {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    seen.lock()
        .unwrap()
        .push(String::from_utf8_lossy(&request).into_owned());
    match answer {
        Answer::Raw(bytes) => {
            let _ = stream.write_all(&bytes).await;
            let _ = stream.shutdown().await;
        }
        // Reads until the client gives up, answering nothing.
        Answer::Never => while stream.read(&mut buf).await.is_ok_and(|n| n > 0) {},
    }
}

fn client(allow: &[&str]) -> OutboundClient {
    client_with(Outbound {
        allow: allow.iter().map(|entry| entry.parse().unwrap()).collect(),
        ..Outbound::default()
    })
}

fn client_with(config: Outbound) -> OutboundClient {
    OutboundClient::new(&config).unwrap()
}

fn refused_reason(result: Result<Response, OutboundError>) -> String {
    match result {
        Err(OutboundError::Refused { reason }) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn loopback_is_refused_without_an_allow_entry_and_never_contacted() {
    let server = TestServer::start(TestServer::ok(b"ok")).await;
    let result = client(&[])
        .post(&server.url("/hook"), &[], b"{}".to_vec())
        .await;
    let reason = refused_reason(result);
    assert_eq!(reason, "127.0.0.1 is a loopback address");
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn an_ipv4_mapped_loopback_address_is_refused() {
    let server = TestServer::start(TestServer::ok(b"ok")).await;
    let url = format!("http://[::ffff:127.0.0.1]:{}/hook", server.addr.port());
    let reason = refused_reason(client(&[]).post(&url, &[], Vec::new()).await);
    assert!(
        reason.contains("(127.0.0.1) is a loopback address"),
        "{reason}"
    );
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn an_allowed_range_reaches_the_server_with_headers_and_body() {
    let server = TestServer::start(TestServer::ok(b"{\"ok\":true}")).await;
    let headers = [("Content-Type".to_string(), "application/json".to_string())];
    let response = client(&["127.0.0.0/8"])
        .post(&server.url("/hook"), &headers, b"{\"event\":1}".to_vec())
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.excerpt, "{\"ok\":true}");
    assert_eq!(response.body, b"{\"ok\":true}");
    let requests = server.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let request = requests[0].to_ascii_lowercase();
    assert!(request.starts_with("post /hook http/1.1\r\n"), "{request}");
    let agent = format!("user-agent: sextant/{}\r\n", env!("CARGO_PKG_VERSION"));
    assert!(request.contains(&agent), "{request}");
    assert!(
        request.contains("content-type: application/json\r\n"),
        "{request}"
    );
    assert!(request.ends_with("\r\n\r\n{\"event\":1}"), "{request}");
}

#[tokio::test]
async fn a_host_name_is_checked_on_every_address_it_resolves_to() {
    let server = TestServer::start(TestServer::ok(b"ok")).await;
    let url = format!("http://localhost:{}/hook", server.addr.port());
    let reason = refused_reason(client(&[]).post(&url, &[], Vec::new()).await);
    assert!(
        reason.starts_with("localhost resolves only to refused addresses: "),
        "{reason}"
    );
    assert!(
        reason.contains("127.0.0.1 is a loopback address"),
        "{reason}"
    );
    assert_eq!(server.connections(), 0);

    // The allowed IPv4 loopback is connected to; a host entry allows whatever it resolves to.
    for allow in ["127.0.0.0/8", "localhost"] {
        let response = client(&[allow]).post(&url, &[], Vec::new()).await;
        assert_eq!(response.unwrap().status, 200, "{allow}");
    }
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn a_redirect_is_returned_and_not_followed() {
    let target = TestServer::start(TestServer::ok(b"ok")).await;
    let redirect = format!(
        "HTTP/1.1 302 Found\r\nLocation: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        target.url("/elsewhere")
    );
    let server = TestServer::start(Answer::Raw(redirect.into_bytes())).await;
    let response = client(&["127.0.0.0/8"])
        .post(&server.url("/hook"), &[], Vec::new())
        .await
        .unwrap();
    assert_eq!(response.status, 302);
    assert_eq!(server.connections(), 1);
    assert_eq!(target.connections(), 0);
}

#[tokio::test]
async fn a_server_that_never_answers_runs_into_the_timeout() {
    let server = TestServer::start(Answer::Never).await;
    let client = client_with(Outbound {
        allow: vec!["127.0.0.1".parse().unwrap()],
        connect_timeout_ms: 300,
        timeout_ms: 300,
        ..Outbound::default()
    });
    let started = Instant::now();
    let result = client
        .post(
            &server.url("/hook/secret-path?token=s3cret"),
            &[],
            Vec::new(),
        )
        .await;
    let elapsed = started.elapsed();
    let error = result.unwrap_err();
    assert_eq!(
        error,
        OutboundError::Timeout {
            target: format!("http://{}", server.addr),
            after_ms: 300
        }
    );
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(server.connections(), 1);
    let text = error.to_string();
    assert!(!text.contains("secret"), "{text}");
}

#[tokio::test]
async fn the_response_body_read_is_capped() {
    let big = vec![b'x'; 1024 * 1024];
    let server = TestServer::start(TestServer::ok(&big)).await;
    let capped = client_with(Outbound {
        allow: vec!["127.0.0.0/8".parse().unwrap()],
        max_response_bytes: 1000,
        ..Outbound::default()
    });
    let response = capped
        .post(&server.url("/"), &[], Vec::new())
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, big[..1000]);
    assert_eq!(response.excerpt, "x".repeat(1000));

    let default = client(&["127.0.0.0/8"]);
    let response = default
        .post(&server.url("/"), &[], Vec::new())
        .await
        .unwrap();
    assert_eq!(response.body.len(), 64 * 1024);
    assert_eq!(response.excerpt.len(), EXCERPT_BYTES);
}

#[tokio::test]
async fn errors_show_only_scheme_host_and_port_of_the_url() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://user:hunter2@127.0.0.1:{port}/services/T0/B0/s3cret?token=s3cret");
    let error = client(&["127.0.0.0/8"]).post(&url, &[], Vec::new()).await;
    let error = error.unwrap_err();
    assert!(matches!(error, OutboundError::Connect { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.starts_with(&format!("could not connect to http://127.0.0.1:{port}: ")),
        "{text}"
    );
    assert!(
        !text.contains("s3cret") && !text.contains("hunter2"),
        "{text}"
    );
}

#[tokio::test]
async fn metadata_and_malformed_urls_are_refused_before_any_lookup() {
    let allow_link_local = client(&["169.254.0.0/16"]);
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
    ] {
        let reason = refused_reason(allow_link_local.post(url, &[], Vec::new()).await);
        assert!(reason.contains("cloud metadata"), "{url}: {reason}");
    }
    for url in ["ftp://files.example/x", "not a url", "http:///"] {
        let error = allow_link_local.post(url, &[], Vec::new()).await;
        assert!(
            matches!(error, Err(OutboundError::InvalidUrl { .. })),
            "{url}: {error:?}"
        );
    }
}

#[tokio::test]
async fn a_bad_header_is_an_error_that_does_not_show_its_value() {
    let server = TestServer::start(TestServer::ok(b"ok")).await;
    let headers = [("Authorization".to_string(), "Bearer s3cret\n".to_string())];
    let error = client(&["127.0.0.0/8"])
        .post(&server.url("/"), &headers, Vec::new())
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "invalid value for header authorization");
    assert_eq!(server.connections(), 0);
}

#[test]
fn the_excerpt_is_cut_on_a_character_boundary() {
    let mut body = vec![b'a'; EXCERPT_BYTES - 1];
    body.extend_from_slice("é and more".as_bytes());
    assert_eq!(excerpt(&body), "a".repeat(EXCERPT_BYTES - 1));
    assert_eq!(excerpt(b"short \xff"), "short \u{fffd}");
    let exact = "b".repeat(EXCERPT_BYTES + 10);
    assert_eq!(excerpt(exact.as_bytes()), exact[..EXCERPT_BYTES]);
}
