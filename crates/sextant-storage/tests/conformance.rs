//! Backend conformance suite: every case runs against SQLite and PostgreSQL through the
//! same `Arc<dyn Store>`, so both backends are held to one contract. A case is an
//! `async fn(Shared)` marked `#[store_test]` in one of the modules below; the attribute
//! generates its `<case>::sqlite` and `<case>::postgres` tests.

// The suite lives in tests/conformance/; the paths keep this one test binary.
#[path = "conformance/harness.rs"]
mod harness;

#[path = "conformance/accounts.rs"]
mod accounts;
#[path = "conformance/admin.rs"]
mod admin;
#[path = "conformance/alert_fires.rs"]
mod alert_fires;
#[path = "conformance/alerts.rs"]
mod alerts;
#[path = "conformance/ingest.rs"]
mod ingest;
#[path = "conformance/lifecycle.rs"]
mod lifecycle;
#[path = "conformance/mail.rs"]
mod mail;
#[path = "conformance/members.rs"]
mod members;
#[path = "conformance/metric_alerts.rs"]
mod metric_alerts;
#[path = "conformance/releases.rs"]
mod releases;
#[path = "conformance/search.rs"]
mod search;
#[path = "conformance/storage.rs"]
mod storage;

/// A case file not declared above would not be compiled, and its cases would not run.
#[test]
fn every_case_file_is_part_of_the_suite() {
    let suite = include_str!("conformance.rs");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).expect("read tests/conformance") {
        let name = entry.expect("dir entry").file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".rs") {
            files += 1;
            let declared = format!("#[path = \"conformance/{name}\"]");
            assert!(
                suite.contains(&declared),
                "tests/conformance/{name} is not declared in conformance.rs"
            );
        }
    }
    assert!(files > 1, "no case files in {}", dir.display());
}
