//! Count sources: how many events a server has made queryable, so end-to-end throughput
//! and time-to-visible can be measured on Sextant (its issue API) or on any peer (a URL
//! returning a number, or a shell command such as a sqlite3 query on its database).

use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

pub enum Kind {
    /// Sums `count` over `{base}/api/0/projects/{org}/{project}/issues/`.
    Sextant {
        base: String,
        org: String,
        project: String,
        token: String,
    },
    /// GET a URL returning a JSON number, or an object with the count at `pointer`.
    Url {
        url: String,
        pointer: String,
        headers: Vec<(String, String)>,
    },
    /// `sh -c CMD` printing a number.
    Cmd(String),
}

pub struct Counter {
    agent: ureq::Agent,
    pub kind: Kind,
}

impl Counter {
    pub fn new(kind: Kind) -> Counter {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Counter { agent, kind }
    }

    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Sextant {
                base, org, project, ..
            } => {
                format!("sextant issue counts at {base} ({org}/{project})")
            }
            Kind::Url { url, pointer, .. } => format!("GET {url} ({pointer})"),
            Kind::Cmd(cmd) => format!("command `{cmd}`"),
        }
    }

    /// The number of stored events right now.
    pub fn count(&self) -> anyhow::Result<u64> {
        match &self.kind {
            Kind::Sextant {
                base,
                org,
                project,
                token,
            } => {
                let mut url = Some(format!(
                    "{base}/api/0/projects/{org}/{project}/issues/?query=&limit=100"
                ));
                let mut total = 0;
                // Guards against a server whose cursor never advances.
                let mut pages = 0;
                while let Some(current) = url.take() {
                    pages += 1;
                    anyhow::ensure!(pages <= 10_000, "issue pagination does not end");
                    let mut response = self
                        .agent
                        .get(&current)
                        .header("Authorization", &format!("Bearer {token}"))
                        .call()
                        .with_context(|| format!("GET {current}"))?;
                    let status = response.status().as_u16();
                    let link = response
                        .headers()
                        .get("link")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let body = response.body_mut().read_to_string()?;
                    if status != 200 {
                        bail!("GET {current}: HTTP {status}: {body}");
                    }
                    let issues: Value = serde_json::from_str(&body)
                        .with_context(|| format!("GET {current}: not JSON"))?;
                    for issue in issues.as_array().map(Vec::as_slice).unwrap_or_default() {
                        total += as_count(&issue["count"]).unwrap_or(0);
                    }
                    url = link.as_deref().and_then(next_link);
                }
                Ok(total)
            }
            Kind::Url {
                url,
                pointer,
                headers,
            } => {
                let mut request = self.agent.get(url);
                for (name, value) in headers {
                    request = request.header(name, value);
                }
                let mut response = request.call().with_context(|| format!("GET {url}"))?;
                let status = response.status().as_u16();
                let body = response.body_mut().read_to_string()?;
                if status != 200 {
                    bail!("GET {url}: HTTP {status}: {body}");
                }
                let value: Value =
                    serde_json::from_str(&body).with_context(|| format!("GET {url}: not JSON"))?;
                extract(&value, pointer)
                    .with_context(|| format!("GET {url}: no count at {pointer:?} in {body}"))
            }
            Kind::Cmd(cmd) => {
                let output = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(cmd)
                    .output()
                    .with_context(|| format!("cannot run {cmd:?}"))?;
                let text = String::from_utf8_lossy(&output.stdout);
                if !output.status.success() {
                    bail!(
                        "{cmd:?} failed ({}): {}",
                        output.status,
                        String::from_utf8_lossy(&output.stderr).trim()
                    );
                }
                parse_number(text.trim())
                    .with_context(|| format!("{cmd:?} printed {:?}, not a number", text.trim()))
            }
        }
    }

    /// Whether one event is queryable; `None` when this source can only count.
    pub fn event_visible(&self, event_id: &str) -> anyhow::Result<Option<bool>> {
        let Kind::Sextant {
            base,
            org,
            project,
            token,
        } = &self.kind
        else {
            return Ok(None);
        };
        let url = format!("{base}/api/0/projects/{org}/{project}/events/{event_id}/");
        let mut response = self
            .agent
            .get(&url)
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .with_context(|| format!("GET {url}"))?;
        let status = response.status().as_u16();
        // Drain so the connection is reused by the next poll.
        let body = response.body_mut().read_to_string().unwrap_or_default();
        match status {
            200 => Ok(Some(true)),
            404 => Ok(Some(false)),
            _ => bail!("GET {url}: HTTP {status}: {body}"),
        }
    }
}

/// A count from JSON: a number, or a string holding one (Sentry sends `count` as a string).
fn as_count(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)),
        Value::String(s) => parse_number(s),
        _ => None,
    }
}

fn parse_number(s: &str) -> Option<u64> {
    s.parse::<u64>().ok().or_else(|| {
        s.parse::<f64>()
            .ok()
            .filter(|f| *f >= 0.0)
            .map(|f| f as u64)
    })
}

/// The count in a `--count-url` answer: the document itself if it is a number,
/// otherwise the value at the JSON pointer.
pub fn extract(value: &Value, pointer: &str) -> Option<u64> {
    as_count(value).or_else(|| value.pointer(pointer).and_then(as_count))
}

/// The `rel="next"` URL of a Sentry `Link` header, if it says `results="true"`.
pub fn next_link(header: &str) -> Option<String> {
    let mut rest = header;
    while let Some(start) = rest.find('<') {
        let end = start + rest[start..].find('>')?;
        let url = &rest[start + 1..end];
        let params_end = rest[end..].find('<').map_or(rest.len(), |i| end + i);
        let params = &rest[end + 1..params_end];
        let has = |name: &str, value: &str| {
            params.split(';').any(|p| {
                p.trim()
                    .trim_end_matches(',')
                    .trim()
                    .split_once('=')
                    .is_some_and(|(k, v)| k.trim() == name && v.trim().trim_matches('"') == value)
            })
        };
        if has("rel", "next") && has("results", "true") {
            return Some(url.to_owned());
        }
        rest = &rest[params_end..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NEXT: &str = "<http://h/api/0/projects/o/p/issues/?query=&limit=100&cursor=0:0:1>; \
        rel=\"previous\"; results=\"false\"; cursor=\"0:0:1\", \
        <http://h/api/0/projects/o/p/issues/?query=&limit=100&cursor=1700:3:0>; \
        rel=\"next\"; results=\"true\"; cursor=\"1700:3:0\"";

    #[test]
    fn follows_next_link_only_when_it_has_results() {
        assert_eq!(
            next_link(NEXT).as_deref(),
            Some("http://h/api/0/projects/o/p/issues/?query=&limit=100&cursor=1700:3:0")
        );
        let last = NEXT.replace("results=\"true\"", "results=\"false\"");
        assert_eq!(next_link(&last), None);
        assert_eq!(next_link(""), None);
        // Order of the two links and of their parameters does not matter.
        let swapped = "<http://x/?cursor=b>; results=\"true\"; rel=\"next\", <http://x/?cursor=a>; rel=\"previous\"; results=\"true\"";
        assert_eq!(next_link(swapped).as_deref(), Some("http://x/?cursor=b"));
    }

    #[test]
    fn extracts_counts_from_numbers_strings_and_pointers() {
        assert_eq!(extract(&json!(42), "/count"), Some(42));
        assert_eq!(extract(&json!("17"), "/count"), Some(17));
        assert_eq!(extract(&json!({"count": 5}), "/count"), Some(5));
        assert_eq!(
            extract(&json!({"data": {"total": "9"}}), "/data/total"),
            Some(9)
        );
        assert_eq!(extract(&json!({"n": 1}), "/count"), None);
        assert_eq!(parse_number("12.0"), Some(12));
    }
}
