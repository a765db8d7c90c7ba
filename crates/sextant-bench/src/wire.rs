//! A minimal HTTP/1.1 client for the load phase: one keep-alive connection, a request
//! head built once per target, and each body written with its head in one vectored
//! write. On two shared cores every microsecond the client spends is taken from the
//! server under test, so the client does no more than HTTP requires.

use std::io::{self, BufRead, BufReader, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Largest response body kept (the rest is read and dropped): answers are small JSON.
const MAX_KEPT: usize = 64 * 1024;

pub struct Connection {
    addr: SocketAddr,
    /// Everything of the request head up to the `Content-Length` value.
    head: Vec<u8>,
    timeout: Duration,
    stream: Option<BufReader<TcpStream>>,
    line: String,
}

/// An answer: the status and the (possibly cut) body.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Connection {
    /// For `POST`s to `url` (`http://host:port/path`) with these extra headers.
    pub fn new(url: &str, headers: &[(&str, &str)], timeout: Duration) -> io::Result<Connection> {
        let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, what.to_string());
        let parsed = url::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
        if parsed.scheme() != "http" {
            return Err(invalid("only http:// URLs are supported"));
        }
        let authority = &parsed[url::Position::BeforeHost..url::Position::AfterPort];
        let path = &parsed[url::Position::BeforePath..url::Position::AfterQuery];
        let addr = parsed
            .socket_addrs(|| None)?
            .into_iter()
            .next()
            .ok_or_else(|| invalid("the host has no address"))?;
        let mut head = format!("POST {path} HTTP/1.1\r\nHost: {authority}\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("Content-Length: ");
        Ok(Connection {
            addr,
            head: head.into_bytes(),
            timeout,
            stream: None,
            line: String::new(),
        })
    }

    /// Posts `body` and reads the whole answer, so the connection can carry the next
    /// request. A kept-alive connection the server has meanwhile closed is reopened once.
    pub fn post(&mut self, body: &[u8]) -> io::Result<Response> {
        let reused = self.stream.is_some();
        match self.exchange(body) {
            Err(err) if reused && is_stale(&err) => {
                self.stream = None;
                self.exchange(body)
            }
            other => other,
        }
    }

    fn exchange(&mut self, body: &[u8]) -> io::Result<Response> {
        let result = self.try_exchange(body);
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    fn try_exchange(&mut self, body: &[u8]) -> io::Result<Response> {
        if self.stream.is_none() {
            let stream = TcpStream::connect_timeout(&self.addr, self.timeout)?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(self.timeout))?;
            stream.set_write_timeout(Some(self.timeout))?;
            self.stream = Some(BufReader::with_capacity(16 * 1024, stream));
        }
        let mut head = self.head.clone();
        head.extend_from_slice(format!("{}\r\n\r\n", body.len()).as_bytes());
        let reader = self.stream.as_mut().expect("connected above");
        write_all_vectored(
            reader.get_mut(),
            &mut [IoSlice::new(&head), IoSlice::new(body)],
        )?;

        let (status, length, chunked, close) = read_head(reader, &mut self.line)?;
        let mut kept = Vec::new();
        if chunked {
            loop {
                self.line.clear();
                reader.read_line(&mut self.line)?;
                let size = usize::from_str_radix(
                    self.line.trim().split(';').next().unwrap_or_default(),
                    16,
                )
                .map_err(|_| bad("a bad chunk size"))?;
                if size == 0 {
                    // Trailers, then the blank line.
                    while read_trimmed(reader, &mut self.line)? != 0 {}
                    break;
                }
                take(reader, size, &mut kept)?;
                read_trimmed(reader, &mut self.line)?;
            }
        } else if let Some(length) = length {
            take(reader, length, &mut kept)?;
        } else {
            // Delimited by the end of the connection.
            reader.read_to_end(&mut kept)?;
            self.stream = None;
        }
        if close {
            self.stream = None;
        }
        Ok(Response { status, body: kept })
    }
}

/// Reads the status line and headers: (status, Content-Length, chunked, close).
fn read_head(
    reader: &mut BufReader<TcpStream>,
    line: &mut String,
) -> io::Result<(u16, Option<usize>, bool, bool)> {
    line.clear();
    if reader.read_line(line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection",
        ));
    }
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("a bad status line"))?;
    let (mut length, mut chunked, mut close) = (None, false, false);
    while read_trimmed(reader, line)? != 0 {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse().map_err(|_| bad("a bad Content-Length"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    Ok((status, length, chunked, close))
}

/// Reads one line without its line ending; returns its length (0: a blank line).
fn read_trimmed(reader: &mut impl BufRead, line: &mut String) -> io::Result<usize> {
    line.clear();
    if reader.read_line(line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the answer ended early",
        ));
    }
    let len = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(len);
    Ok(len)
}

/// Reads `n` bytes, keeping up to `MAX_KEPT` of the answer.
fn take(reader: &mut impl Read, n: usize, kept: &mut Vec<u8>) -> io::Result<()> {
    let keep = n.min(MAX_KEPT.saturating_sub(kept.len()));
    let start = kept.len();
    kept.resize(start + keep, 0);
    reader.read_exact(&mut kept[start..])?;
    io::copy(&mut reader.take((n - keep) as u64), &mut io::sink())?;
    Ok(())
}

fn write_all_vectored(stream: &mut TcpStream, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
    while !bufs.is_empty() {
        match stream.write_vectored(bufs) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// Errors that mean the server closed an idle kept-alive connection.
fn is_stale(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{what} in the answer"))
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    /// Serves the scripted answers in order, one per request, on one listener; returns
    /// the requests it read.
    fn server(answers: Vec<&'static [u8]>) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/api/1/envelope/", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut answers = answers.into_iter();
            'connections: for stream in listener.incoming() {
                let stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut head = String::new();
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap() == 0 {
                            continue 'connections;
                        }
                        if let Some(v) = line.strip_prefix("Content-Length: ") {
                            length = v.trim().parse().unwrap();
                        }
                        head.push_str(&line);
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    seen.push(format!("{head}{}", String::from_utf8(body).unwrap()));
                    let Some(answer) = answers.next() else {
                        return seen;
                    };
                    (&stream).write_all(answer).unwrap();
                    if answer.windows(17).any(|w| w == b"Connection: close") {
                        continue 'connections;
                    }
                    if answers.len() == 0 {
                        return seen;
                    }
                }
            }
            seen
        });
        (url, handle)
    }

    #[test]
    fn posts_with_the_head_and_reads_every_kind_of_answer() {
        let (url, server) = server(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{\"id\":1}\n",
            b"HTTP/1.1 429 Too Many Requests\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nslow\r\n5\r\n down\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
            b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 3\r\n\r\nbig",
        ]);
        let mut conn = Connection::new(
            &url,
            &[("X-Sentry-Auth", "Sentry k")],
            Duration::from_secs(5),
        )
        .unwrap();
        let first = conn.post(b"one").unwrap();
        assert_eq!((first.status, &first.body[..]), (200, &b"{\"id\":1}\n"[..]));
        let second = conn.post(b"two").unwrap();
        assert_eq!((second.status, &second.body[..]), (429, &b"slow down"[..]));
        assert_eq!(conn.post(b"three").unwrap().status, 200);
        // The server closed that connection: the next request opens another.
        let fourth = conn.post(b"four").unwrap();
        assert_eq!((fourth.status, &fourth.body[..]), (413, &b"big"[..]));

        let seen = server.join().unwrap();
        assert_eq!(seen.len(), 4);
        assert!(seen[0].starts_with("POST /api/1/envelope/ HTTP/1.1\r\nHost: 127.0.0.1:"));
        assert!(seen[0].contains("\r\nX-Sentry-Auth: Sentry k\r\nContent-Length: 3\r\n\r\none"));
        assert!(seen[3].ends_with("four"));
    }

    #[test]
    fn refuses_urls_it_cannot_speak_to() {
        assert!(Connection::new("https://example.com/", &[], Duration::from_secs(1)).is_err());
    }
}
