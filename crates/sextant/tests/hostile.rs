//! Hostile clients against a real `sextant serve` process, whose memory is read from
//! `/proc`: unbounded periods, compression bombs, and connections that stall.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{ServerProcess, TestDb, agent, create_token, envelope_target, wait_until};

/// Memory the server may reach while it is attacked.
const MAX_RSS_KIB: u64 = 300 * 1024;

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc status"))
}

fn rss_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmRSS:")
}

fn peak_rss_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmHWM:")
}

fn host(server: &ServerProcess) -> String {
    server.base_url.trim_start_matches("http://").to_string()
}

#[test]
fn periods_past_ninety_days_are_refused_at_once() {
    let db = TestDb::new();
    let server = ServerProcess::start(&db);
    let admin = create_token(&db, "admin");
    let read = create_token(&db, "read");
    let agent = agent();
    let created = agent
        .post(&format!(
            "{}/api/0/organizations/default/releases/",
            server.base_url
        ))
        .header("Authorization", &format!("Bearer {admin}"))
        .header("Content-Type", "application/json")
        .send(r#"{"version": "1.0", "projects": ["default"]}"#)
        .expect("create release");
    assert_eq!(created.status().as_u16(), 201);

    let before = rss_kib(server.pid());
    let base = format!(
        "{}/api/0/projects/default/default/releases/1.0",
        server.base_url
    );
    for path in [
        "health/?statsPeriod=999999999w",
        "health/?statsPeriod=91d",
        "health-check/?window=9999999999d",
        "health-check/?window=99999999999999999999",
    ] {
        let mut response = agent
            .get(&format!("{base}/{path}"))
            .header("Authorization", &format!("Bearer {read}"))
            .call()
            .expect("GET");
        let body = response.body_mut().read_to_string().unwrap_or_default();
        assert_eq!(response.status().as_u16(), 400, "{path}: {body}");
    }
    let (status, _) = support::get_json(&agent, &format!("{base}/health/?statsPeriod=90d"), &read);
    assert_eq!(status, 200, "90 days is within the bound");
    let after = rss_kib(server.pid());
    assert!(
        after < before + 32 * 1024,
        "RSS grew from {before} to {after} KiB"
    );
}

/// A zstd body that inflates to `header` and then `zeros` zero bytes.
fn zstd_bomb(header: &[u8], zeros: usize) -> Vec<u8> {
    let mut encoder = zstd::stream::Encoder::new(Vec::new(), 3).expect("zstd encoder");
    encoder.write_all(header).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..zeros / chunk.len() {
        encoder.write_all(&chunk).unwrap();
    }
    encoder.finish().unwrap()
}

fn post_bomb(url: &str, body: &[u8], auth: Option<&str>) -> u16 {
    let mut request = agent()
        .post(url)
        .header("Content-Encoding", "zstd")
        .header("Content-Type", "application/x-sentry-envelope");
    if let Some(auth) = auth {
        request = request.header("X-Sentry-Auth", auth);
    }
    request.send(body).expect("POST").status().as_u16()
}

#[test]
fn compression_bombs_are_refused_and_their_memory_returned() {
    let db = TestDb::new();
    let server = ServerProcess::start(&db);
    let pid = server.pid();
    let (key, url) = envelope_target(&server.dsn);
    let idle = rss_kib(pid);

    let no_key = zstd_bomb(b"{}\n", 1 << 30);
    let wrong_key = zstd_bomb(
        format!(
            "{{\"dsn\":\"http://{}@{}/1\"}}\n",
            "0".repeat(32),
            host(&server)
        )
        .as_bytes(),
        1 << 30,
    );
    // Unauthenticated: only the envelope header line is inflated before the key check.
    let unauthenticated: Vec<u16> = std::thread::scope(|s| {
        let senders: Vec<_> = (0..8)
            .map(|i| {
                let (url, body) = (&url, if i % 2 == 0 { &no_key } else { &wrong_key });
                s.spawn(move || post_bomb(url, body, None))
            })
            .collect();
        senders.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert!(
        unauthenticated.iter().all(|&s| s == 401),
        "{unauthenticated:?}"
    );
    let peak_unauthenticated = peak_rss_kib(pid);
    assert!(
        peak_unauthenticated < idle + 16 * 1024,
        "unauthenticated bombs took RSS from {idle} to {peak_unauthenticated} KiB"
    );

    // With a valid key each bomb is inflated only to be counted, up to the envelope
    // limit, and refused without its decoded bytes ever being held.
    let auth = format!("Sentry sentry_key={key}, sentry_version=7");
    let keyed = zstd_bomb(b"{}\n", 1 << 30);
    let authenticated: Vec<u16> = std::thread::scope(|s| {
        let senders: Vec<_> = (0..8)
            .map(|_| s.spawn(|| post_bomb(&url, &keyed, Some(&auth))))
            .collect();
        senders.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert!(
        authenticated.iter().all(|&s| s == 413 || s == 429),
        "{authenticated:?}"
    );
    let peak = peak_rss_kib(pid);
    assert!(
        peak < idle + 48 * 1024,
        "authenticated bombs took RSS from {idle} to {peak} KiB"
    );

    // Large bodies that do decode (to an envelope that is then refused) take real memory,
    // together no more than the decoding budget, and give it back as they finish.
    let before = rss_kib(pid);
    let large = zstd_bomb(
        b"{}\n{\"type\":\"attachment\",\"length\":99999999999}\n",
        40 << 20,
    );
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let senders: Vec<_> = (0..8)
            .map(|_| s.spawn(|| post_bomb(&url, &large, Some(&auth))))
            .collect();
        senders.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert!(
        statuses.iter().all(|&s| s == 400 || s == 429),
        "{statuses:?}"
    );
    assert!(statuses.contains(&400), "some decoded: {statuses:?}");
    let peak = peak_rss_kib(pid);
    assert!(peak < MAX_RSS_KIB, "peak RSS {peak} KiB");
    assert!(
        peak > before + 40 * 1024,
        "a decoded body was held: {before} KiB before, peak {peak} KiB"
    );
    wait_until(Duration::from_secs(5), || {
        (rss_kib(pid) < before + 16 * 1024).then_some(())
    })
    .expect("timed out waiting for RSS to return to where it was");
}

/// Reads until the server closes the connection; the time it took.
fn closed_within(mut stream: TcpStream, limit: Duration) -> Duration {
    stream.set_read_timeout(Some(limit)).unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return start.elapsed(),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return start.elapsed(),
            Err(e) => panic!("the server kept a stalled connection open: {e}"),
        }
    }
}

#[test]
fn stalled_connections_are_closed() {
    let db = TestDb::new();
    let server = ServerProcess::start_with_env(
        &db,
        &[
            ("SEXTANT_HTTP__HEADER_TIMEOUT_SECS", "1"),
            ("SEXTANT_HTTP__BODY_TIMEOUT_SECS", "1"),
        ],
    );
    let addr = host(&server);
    let limit = Duration::from_secs(10);
    let openers: [&[u8]; 4] = [
        // Half a request head, then nothing.
        b"GET /health HTTP/1.1\r\nHost: x\r\n",
        // Not a byte.
        b"",
        // A keep-alive connection left idle after its first request.
        b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
        // A body that stops arriving.
        b"POST /api/1/envelope/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\
          X-Sentry-Auth: Sentry sentry_key=00000000000000000000000000000000\r\n\r\n{}\n",
    ];
    std::thread::scope(|s| {
        for opener in openers {
            let addr = &addr;
            s.spawn(move || {
                let mut stream = TcpStream::connect(addr).unwrap();
                stream.write_all(opener).unwrap();
                closed_within(stream, limit)
            });
        }
    });
}

#[test]
fn connections_past_the_bound_wait_for_a_free_one() {
    let db = TestDb::new();
    let server = ServerProcess::start_with_env(
        &db,
        &[
            ("SEXTANT_HTTP__HEADER_TIMEOUT_SECS", "3"),
            ("SEXTANT_HTTP__MAX_CONNECTIONS", "1"),
        ],
    );
    let addr = host(&server);
    // The one connection allowed, held without a byte sent.
    let holder = TcpStream::connect(&addr).unwrap();
    let mut waiting = TcpStream::connect(&addr).unwrap();
    waiting
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    waiting
        .set_read_timeout(Some(Duration::from_millis(1000)))
        .unwrap();
    let mut first = [0u8; 1];
    match waiting.read(&mut first) {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) => {}
        other => panic!("a connection past the bound was served at once: {other:?}"),
    }
    // Once the holder's header deadline closes it, the waiting client is served.
    closed_within(holder, Duration::from_secs(10));
    waiting
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut response = String::new();
    waiting.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}
