//! A local webhook receiver for the alert tests: records each request's `Request-ID` and
//! the issue its body names, and answers 200 after a delay, so a burst of deliveries
//! keeps requests in flight. On hold, it answers nothing until released: the requests
//! it holds are certainly unanswered when the test kills the sender.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// One request as the receiver got it.
#[derive(Debug, Clone)]
pub struct Hook {
    pub request_id: String,
    /// `data.issue.id` of the body.
    pub issue_id: String,
    /// `action` of the body (`created`, …).
    pub action: String,
}

#[derive(Default)]
struct State {
    hooks: Vec<Hook>,
    /// How long each answer takes.
    delay: Duration,
    holding: bool,
    /// Requests waiting for their answer because of the hold.
    held: Vec<Hook>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    released: Condvar,
}

pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
}

impl Receiver {
    /// Answers every request `delay` after reading it.
    pub fn start(delay: Duration) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let shared = Arc::new(Shared::default());
        shared.state.lock().unwrap().delay = delay;
        let accepted = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = accepted.clone();
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        Receiver { url, shared }
    }

    /// Every request so far, in order of arrival.
    pub fn hooks(&self) -> Vec<Hook> {
        self.shared.state.lock().unwrap().hooks.clone()
    }

    /// Answers every request `delay` after reading it from now on.
    pub fn set_delay(&self, delay: Duration) {
        self.shared.state.lock().unwrap().delay = delay;
    }

    /// Answers nothing from now on, until `release`.
    pub fn hold(&self) {
        self.shared.state.lock().unwrap().holding = true;
    }

    /// The requests that arrived during the hold, all unanswered.
    pub fn held(&self) -> Vec<Hook> {
        self.shared.state.lock().unwrap().held.clone()
    }

    pub fn release(&self) {
        let mut state = self.shared.state.lock().unwrap();
        state.holding = false;
        state.held.clear();
        self.shared.released.notify_all();
    }
}

fn serve(stream: TcpStream, shared: &Shared) {
    let mut writer = stream.try_clone().expect("clone stream");
    let mut reader = BufReader::new(stream);
    // Keep-alive: the sender reuses connections.
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let (mut length, mut request_id) = (0usize, String::new());
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse().unwrap_or(0);
                } else if name.eq_ignore_ascii_case("request-id") {
                    request_id = value.to_string();
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let hook = Hook {
            request_id,
            issue_id: json["data"]["issue"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            action: json["action"].as_str().unwrap_or_default().to_string(),
        };
        let mut state = shared.state.lock().unwrap();
        state.hooks.push(hook.clone());
        if state.holding {
            state.held.push(hook);
            while state.holding {
                state = shared.released.wait(state).unwrap();
            }
        }
        let delay = state.delay;
        drop(state);
        // A slow answer, so a burst has requests in flight when the sender dies.
        std::thread::sleep(delay);
        let reply = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok";
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}
