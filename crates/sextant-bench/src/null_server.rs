//! A trivial in-process HTTP/1.1 server answering every request with 200, used by
//! `--null-server` to show the client's own ceiling: if the benchmark could not go much
//! faster than a real server, the numbers would measure the client, not the server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 41\r\n\r\n{\"id\":\"00000000000000000000000000000000\"}";

/// Binds 127.0.0.1 on a free port and serves until the process exits.
pub fn start() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = serve(stream);
            });
        }
    });
    Ok(addr)
}

/// Keep-alive loop: read headers, skip `Content-Length` body bytes, answer.
fn serve(stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let mut line = String::new();
    let mut body = Vec::new();
    loop {
        let mut length = 0usize;
        let mut first = true;
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(()); // client closed the connection
            }
            let trimmed = line.trim_end();
            if trimmed.is_empty() && !first {
                break;
            }
            first = false;
            if let Some((name, value)) = trimmed.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
        writer.write_all(RESPONSE)?;
    }
}
