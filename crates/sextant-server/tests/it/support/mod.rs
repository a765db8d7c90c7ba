//! Test harness: one real Sextant server per test on 127.0.0.1:0 with its own fresh
//! database (`sextant_testkit::TestDb`: SQLite, or PostgreSQL when `SEXTANT_TEST_PG_URL`
//! is set), an admin API token, and blocking HTTP helpers (ureq) for plain `#[test]`s.
#![allow(dead_code)] // each test module uses a different subset

pub mod accounts;
pub mod alerting;
pub mod envelope;
pub mod event;
pub mod http;
mod pipeline;
pub mod receiver;
pub mod sdk;
pub mod smtp;

pub use self::http::{Body, Resp, body_json, encode, sentry_auth};
pub use sextant_testkit::wait_until;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sextant_server::config::Config;
use sextant_server::pipeline::Progress;
use sextant_storage::{Store, TokenScope};
use sextant_testkit::TestDb;
use ureq::SendBody;

/// How long to wait for asynchronous processing before a test gives up.
pub const WAIT: Duration = Duration::from_secs(20);

pub struct TestApp {
    pub base_url: String,
    pub dsn: String,
    pub project_id: i64,
    pub public_key: String,
    /// Admin-scope API token.
    pub token: String,
    pub backend: &'static str,
    agent: ureq::Agent,
    config: Config,
    store: Option<Arc<dyn Store>>,
    rt: Option<tokio::runtime::Runtime>,
    server: Option<ServerTask>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// The running server's pipeline, for [`TestApp::drain`].
    progress: Progress,
    // Dropped last: the database outlives the server and every pool.
    pub db: TestDb,
}

impl TestApp {
    pub fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {})
    }

    /// Starts a server whose configuration `adjust` may change (limits, rate limit …).
    pub fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let db = TestDb::new();
        let mut config = Config {
            data_dir: db.path().to_path_buf(),
            database_url: db.url.clone(),
            ..Config::default()
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("sextant-e2e")
            .build()
            .expect("tokio runtime");

        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("local addr");
        config.listen = addr;
        adjust(&mut config);

        let url = config.effective_database_url();
        let store = rt
            .block_on(sextant_storage::open(&url))
            .unwrap_or_else(|e| panic!("open store {url}: {e}"));
        let (_org, project, key) = rt
            .block_on(store.bootstrap_default())
            .expect("bootstrap_default")
            .expect("a fresh database must bootstrap the default project");
        let token = sextant_server::accounts::token::generate_token();
        rt.block_on(store.create_token(
            &sextant_server::accounts::token::hash_token(&token),
            TokenScope::Admin,
            "e2e admin",
        ))
        .expect("create admin token");

        let (server, shutdown, progress) = start_server(&rt, &config, listener);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .max_redirects(0)
            .build()
            .into();
        let base_url = format!("http://{addr}");
        let mut app = TestApp {
            dsn: format!("http://{}@{addr}/{}", key.public_key, project.id),
            base_url,
            project_id: project.id,
            public_key: key.public_key,
            token,
            backend: db.backend(),
            agent,
            config,
            store: Some(store),
            rt: Some(rt),
            server: Some(server),
            shutdown: Some(shutdown),
            progress,
            db,
        };
        app.wait_until_ready();
        app
    }

    fn wait_until_ready(&mut self) {
        let mut stopped = false;
        let ok = wait_until(Duration::from_secs(30), || {
            stopped = self.server.as_ref().is_some_and(|s| s.is_finished());
            stopped
                || matches!(self.try_request("GET", "/health", &[], Body::None), Ok(r) if r.status == 200)
        });
        if stopped {
            let server = self.server.take().expect("server task");
            let result = self.block_on(server);
            panic!("the server stopped during startup: {result:?}");
        }
        assert!(
            ok,
            "server at {} did not answer GET /health with 200 within 30 s",
            self.base_url
        );
    }

    /// Stops the server (graceful shutdown, which drains the pipeline) and waits for it;
    /// returns what `run` returned.
    pub fn stop(&mut self) -> Result<(), String> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let server = self.server.take().ok_or("server already stopped")?;
        match self.block_on(async { tokio::time::timeout(Duration::from_secs(60), server).await }) {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(format!("server ended with an error: {e}")),
            Ok(Err(e)) => Err(format!("server task failed: {e}")),
            Err(_) => Err("server did not shut down within 60 s".into()),
        }
    }

    /// Stops the server and starts a new one on the same database (new port).
    pub fn restart(&mut self) {
        self.stop().expect("clean shutdown");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("local addr");
        self.config.listen = addr;
        let rt = self.rt.as_ref().expect("runtime");
        let (server, shutdown, progress) = start_server(rt, &self.config, listener);
        self.server = Some(server);
        self.shutdown = Some(shutdown);
        self.progress = progress;
        self.base_url = format!("http://{addr}");
        self.dsn = format!("http://{}@{addr}/{}", self.public_key, self.project_id);
        self.wait_until_ready();
    }

    /// The store of this test's database, for setup and checks the API does not cover.
    pub fn store(&self) -> &Arc<dyn Store> {
        self.store.as_ref().expect("store")
    }

    /// Runs a future (typically a store call) to completion.
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.rt.as_ref().expect("runtime").block_on(fut)
    }

    /// A DSN for another key or project of this server.
    pub fn dsn_for(&self, public_key: &str, project_id: i64) -> String {
        let host = self.base_url.trim_start_matches("http://");
        format!("http://{public_key}@{host}/{project_id}")
    }

    pub fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http://") {
            path_or_url.to_string()
        } else {
            format!("{}{path_or_url}", self.base_url)
        }
    }

    /// Sends a request; transport failures (not HTTP statuses) are `Err`.
    pub fn try_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> Result<Resp, ureq::Error> {
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(self.url(path));
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let response = match body {
            Body::None => self.agent.run(builder.body(()).expect("request")),
            Body::Bytes(bytes) => self.agent.run(builder.body(bytes).expect("request")),
            Body::Chunked(bytes) => self.agent.run(
                builder
                    .body(SendBody::from_owned_reader(std::io::Cursor::new(bytes)))
                    .expect("request"),
            ),
        }?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response
            .into_body()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()?;
        Ok(Resp {
            status,
            headers,
            body,
        })
    }

    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Body) -> Resp {
        self.try_request(method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: transport error: {e}"))
    }

    // --- REST API (admin bearer token) ------------------------------------------------

    fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// `GET` with the admin token; returns the status and the JSON body (`Null` if empty).
    pub fn get(&self, path: &str) -> (u16, Value) {
        let r = self.api("GET", path, None);
        (r.status, body_json(&r))
    }

    pub fn put(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self.api("PUT", path, Some(body));
        (r.status, body_json(&r))
    }

    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self.api("POST", path, Some(body));
        (r.status, body_json(&r))
    }

    pub fn delete(&self, path: &str) -> (u16, Value) {
        let r = self.api("DELETE", path, None);
        (r.status, body_json(&r))
    }

    /// An API request with the admin token, returning the whole response (headers too).
    pub fn api(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        self.api_as(&self.bearer(), method, path, body)
    }

    /// An API request with an explicit `Authorization` value ("" for none).
    pub fn api_as(
        &self,
        authorization: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Resp {
        let mut headers = vec![("Accept", "application/json")];
        if !authorization.is_empty() {
            headers.push(("Authorization", authorization));
        }
        match body {
            None => self.request(method, path, &headers, Body::None),
            Some(json) => {
                headers.push(("Content-Type", "application/json"));
                self.request(
                    method,
                    path,
                    &headers,
                    Body::Bytes(serde_json::to_vec(&json).expect("json")),
                )
            }
        }
    }

    // --- ingest -----------------------------------------------------------------------

    /// `X-Sentry-Auth` value for the test key.
    pub fn auth_header(&self) -> String {
        sentry_auth(&self.public_key)
    }

    pub fn envelope_path(&self) -> String {
        format!("/api/{}/envelope/", self.project_id)
    }

    pub fn store_path(&self) -> String {
        format!("/api/{}/store/", self.project_id)
    }

    /// POSTs an envelope to this project with header auth plus `headers`.
    pub fn send_envelope(&self, body: Vec<u8>, headers: &[(&str, &str)]) -> Resp {
        let auth = self.auth_header();
        let mut all = vec![("X-Sentry-Auth", auth.as_str())];
        all.extend_from_slice(headers);
        self.request("POST", &self.envelope_path(), &all, Body::Bytes(body))
    }

    /// Sends an envelope that must be accepted; returns the id from the response.
    pub fn send_ok(&self, body: Vec<u8>) -> String {
        let r = self.send_envelope(body, &[]);
        assert_eq!(r.status, 200, "envelope rejected: {}", r.text());
        r.json()["id"].as_str().unwrap_or_default().to_string()
    }

    /// `GET /metrics` as text.
    pub fn metrics(&self) -> String {
        let r = self.request("GET", "/metrics", &[], Body::None);
        assert_eq!(r.status, 200, "GET /metrics: {}", r.text());
        r.text()
    }
}

type ServerTask = tokio::task::JoinHandle<Result<(), sextant_server::ServerError>>;

/// Opens the server's storage on `rt` and starts serving `listener` in a task; returns
/// the task, the sender that stops it, and its pipeline's progress.
fn start_server(
    rt: &tokio::runtime::Runtime,
    config: &Config,
    listener: std::net::TcpListener,
) -> (ServerTask, tokio::sync::oneshot::Sender<()>, Progress) {
    let listener = {
        let _guard = rt.enter();
        tokio::net::TcpListener::from_std(listener).expect("tokio listener")
    };
    let server = rt
        .block_on(sextant_server::Server::prepare(config.clone(), listener))
        .unwrap_or_else(|e| panic!("the server did not start: {e}"));
    let progress = server.progress();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = rt.spawn(server.serve(async move {
        let _ = rx.await;
    }));
    (task, tx, progress)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let rt = self.rt.take().expect("runtime");
        if let Some(server) = self.server.take() {
            match rt.block_on(async { tokio::time::timeout(Duration::from_secs(30), server).await })
            {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => eprintln!("warning: server ended with an error: {e}"),
                Ok(Err(e)) => eprintln!("warning: server task failed: {e}"),
                Err(_) => eprintln!("warning: server did not shut down within 30 s"),
            }
        }
        self.store.take();
        rt.shutdown_timeout(Duration::from_secs(10));
    }
}
