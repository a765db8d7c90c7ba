//! Batch-write microbenchmark: `enqueue` plus `process_inbox` of N pre-built events into
//! a fresh SQLite database (WAL, `synchronous=FULL`) in a tempdir. The counter is events,
//! so divan's throughput column reads as events per second and time / N is per event.
//!
//! Run with `cargo bench -p sextant-storage --bench stages`.

/// The server's allocator, so that allocation costs here what it costs in `sextant serve`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use divan::Bencher;
use divan::counter::ItemsCount;
use sextant_storage::{Batch, InboxEntry, InboxKind, NewEvent, OutcomeDelta, Store};
use tokio::runtime::Runtime;

fn main() {
    divan::main();
}

/// Distinct issues the events spread over, as many as `sextant bench` has templates (after
/// the first round each batch updates issues, the steady state of a busy project).
const ISSUES: u64 = 50;
/// Size of one inbox body: the envelope of a 23 KiB Django event.
const BODY_BYTES: usize = 24 * 1024;
/// Size of one stored payload: that event's normalized JSON after zstd level 3.
const PAYLOAD_BYTES: usize = 3 * 1024;

struct Db {
    rt: Runtime,
    store: Arc<dyn Store>,
    project_id: i64,
    next: AtomicU64,
    _dir: tempfile::TempDir,
}

impl Db {
    fn new() -> Db {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}/bench.db", dir.path().display());
        let store = rt
            .block_on(sextant_storage::open(&url))
            .expect("open sqlite");
        let (_, project, _) = rt
            .block_on(store.bootstrap_default())
            .expect("bootstrap")
            .expect("fresh database");
        Db {
            rt,
            store,
            project_id: project.id,
            next: AtomicU64::new(0),
            _dir: dir,
        }
    }

    /// N inbox entries and the batch "processing" them yields, with fresh event ids.
    fn inputs(&self, n: usize) -> (Vec<InboxEntry>, Batch) {
        let received_at = 1_795_512_730_000;
        let entries = (0..n)
            .map(|_| InboxEntry {
                project_id: self.project_id,
                kind: InboxKind::Envelope,
                received_at,
                client_ip: Some("203.0.113.7".into()),
                user_agent: Some("sentry.python/2.75.0".into()),
                body: filler(BODY_BYTES),
            })
            .collect();
        let events = (0..n)
            .map(|_| {
                let seq = self.next.fetch_add(1, Ordering::Relaxed);
                new_event(self.project_id, seq, received_at)
            })
            .collect();
        let outcomes = vec![OutcomeDelta {
            project_id: self.project_id,
            bucket: received_at - received_at % 3_600_000,
            outcome: "accepted".into(),
            category: "error".into(),
            reason: String::new(),
            quantity: n as i64,
        }];
        let batch = Batch {
            events,
            outcomes,
            ..Batch::default()
        };
        (entries, batch)
    }

    fn write(&self, entries: Vec<InboxEntry>, batch: Batch) {
        let n = entries.len();
        let batch = Mutex::new(Some(batch));
        let process = |_rows: &[sextant_storage::InboxRow]| {
            batch.lock().expect("batch lock").take().unwrap_or_default()
        };
        self.rt.block_on(async {
            self.store.enqueue(entries).await.expect("enqueue");
            let report = self
                .store
                .process_inbox(n as u32, &process)
                .await
                .expect("process_inbox");
            assert_eq!(report.rows, n);
        });
    }
}

/// Deterministic bytes with JSON-like entropy (not a run of one byte, which SQLite and
/// the page cache would treat unrealistically well).
fn filler(len: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            b" \"{}:,abcdefghijklmnopqrstuvwxyz0123456789"[(state % 41) as usize]
        })
        .collect()
}

fn new_event(project_id: i64, seq: u64, received_at: i64) -> NewEvent {
    let issue = seq % ISSUES;
    // The tags `sextant bench` events end up with: 20 that repeat within an issue and
    // four that are new with every event (the user and the URL carry ids).
    let server = format!("web-{}.shop.internal", seq % 4);
    let user = format!("id:{seq}");
    let tags = [
        ("browser", "Chrome 131.0.0"),
        ("browser.name", "Chrome"),
        ("celery.queue", "default"),
        ("customer.tier", "enterprise"),
        ("domain", "shop.example.com"),
        ("environment", "production"),
        ("feature.checkout_v2", "on"),
        ("handled", "no"),
        ("level", "error"),
        ("logger", "django.request"),
        ("mechanism", "django"),
        ("os", "Linux 6.1.0"),
        ("os.name", "Linux"),
        ("region", "eu-west-1"),
        ("release", "shop@4.18.2"),
        ("runtime", "CPython 3.11.7"),
        ("runtime.name", "CPython"),
        ("tenant", "acme"),
        ("transaction", "/api/orders/{pk}/refund/"),
        ("server_name", server.as_str()),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .chain([
        ("user".to_owned(), user.clone()),
        ("user.id".to_owned(), seq.to_string()),
        (
            "user.email".to_owned(),
            format!("customer{seq}@example.com"),
        ),
        (
            "url".to_owned(),
            format!("https://shop.example.com/api/orders/{seq}/refund/"),
        ),
    ])
    .collect();
    NewEvent {
        project_id,
        event_id: format!("{seq:032x}"),
        timestamp: received_at - 1_000,
        received_at,
        level: "error".into(),
        platform: "python".into(),
        event_type: "error".into(),
        release: Some("shop@4.18.2".into()),
        environment: Some("production".into()),
        title: format!("DoesNotExist{issue}: Order matching query does not exist."),
        culprit: format!("orders.views_{issue} in handle_step_19"),
        message: String::new(),
        metadata: serde_json::json!({
            "type": format!("DoesNotExist{issue}"),
            "value": "Order matching query does not exist. (pk=1842)",
            "filename": "orders/views_19.py",
            "function": "handle_step_19",
        }),
        tags,
        user_key: Some(user),
        trace_id: Some(format!("{:032x}", seq.wrapping_mul(0x9E37_79B9))),
        unhandled: true,
        grouping_config: "sextant:2026-11".into(),
        hashes: vec![
            format!("{:032x}", issue + 1),
            format!("{:032x}", issue + 1001),
        ],
        payload: filler(PAYLOAD_BYTES),
    }
}

/// One transaction (well, two: the enqueue commit and the processing commit) per batch of
/// N events; N = 1 is the idle-server latency case, N = 100 the processor's batch size.
#[divan::bench(args = [1, 10, 100], sample_count = 30, sample_size = 1)]
fn write_batch(bencher: Bencher, n: usize) {
    let db = Db::new();
    // Warm the issues so timed rounds measure the steady state (updates, not inserts).
    let (entries, batch) = db.inputs(ISSUES as usize);
    db.write(entries, batch);
    bencher
        .counter(ItemsCount::new(n))
        .with_inputs(|| db.inputs(n))
        .bench_local_values(|(entries, batch)| db.write(entries, batch));
}

/// The durable inbox write alone (what an SDK waits for), N requests per group commit.
#[divan::bench(args = [1, 10, 100], sample_count = 30, sample_size = 1)]
fn enqueue(bencher: Bencher, n: usize) {
    let db = Db::new();
    bencher
        .counter(ItemsCount::new(n))
        .with_inputs(|| db.inputs(n).0)
        .bench_local_values(|entries| db.rt.block_on(db.store.enqueue(entries)).expect("enqueue"));
}
