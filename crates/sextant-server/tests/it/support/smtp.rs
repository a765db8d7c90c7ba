//! A real SMTP server for the alert email tests: `tests/sdk/python/smtp_sink.py`
//! (aiosmtpd) as a child process, which writes each message it accepts to a directory
//! as JSON. It stops when the test drops it (and with the test process, which holds its
//! standard input).

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::sdk::{python, repo_root};
use super::wait_until;

pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

/// One message as the sink saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub rcpt_tos: Vec<String>,
    json: Value,
}

impl Received {
    /// A header, decoded (lowercase name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.json["headers"][name.to_ascii_lowercase()].as_str()
    }

    pub fn text(&self) -> &str {
        self.json["text"].as_str().unwrap_or_default()
    }

    pub fn raw(&self) -> &str {
        self.json["raw"].as_str().unwrap_or_default()
    }

    pub fn html(&self) -> &str {
        self.json["html"].as_str().unwrap_or_default()
    }
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = tempfile::tempdir().expect("mail directory");
        let child = Command::new(python())
            .arg(repo_root().join("tests/sdk/python/smtp_sink.py"))
            .arg(port.to_string())
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start smtp_sink.py (is aiosmtpd installed? see requirements.txt)");
        let mut sink = SmtpSink { port, dir, child };
        let up = wait_until(Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
                || sink.child.try_wait().ok().flatten().is_some()
        });
        assert!(
            up && sink.child.try_wait().ok().flatten().is_none(),
            "smtp_sink.py did not listen on port {port}"
        );
        sink
    }

    /// The messages accepted so far, in order.
    pub fn received(&self) -> Vec<Received> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("read mail directory")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        files.sort();
        files
            .iter()
            .map(|path| {
                let json: Value =
                    serde_json::from_slice(&std::fs::read(path).expect("read mail")).expect("mail");
                let rcpt_tos = json["rcpt_tos"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                Received { rcpt_tos, json }
            })
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
