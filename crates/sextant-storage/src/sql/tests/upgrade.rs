//! Upgrades of SQLite databases that earlier versions migrated: migrations that rebuild
//! a table must carry its rows over.

use sqlx::Connection;

use crate::sql::{SQLITE_MIGRATIONS, open};

/// The last migration before the counter tables were rebuilt without rowids.
const BEFORE_COMPACT_COUNTERS: i64 = 5;

const OLD_ROWS: &str = "
    INSERT INTO organizations (id, slug, name, created_at) VALUES (1, 'acme', 'Acme', 0);
    INSERT INTO projects (id, org_id, slug, name, created_at) VALUES (7, 1, 'shop', 'Shop', 0);
    INSERT INTO issues (id, project_id, title, culprit, message, level, event_type, metadata,
                        status, first_seen, last_seen, times_seen, user_count, unhandled,
                        grouping_config, primary_hash)
        VALUES (3, 7, 'KeyError', 'views in pay', '', 'error', 'error', '{}', 'unresolved',
                1000, 2000, 5, 2, 1, 'sextant:2026-11', 'ab');
    INSERT INTO issue_tags (issue_id, tag_key, tag_value, times_seen, first_seen, last_seen)
        VALUES (3, 'browser', 'Firefox', 3, 1000, 1500),
               (3, 'browser', 'Chrome', 2, 1200, 2000),
               (3, 'release', 'shop@1.0', 5, 1000, 2000);
    INSERT INTO issue_users (issue_id, user_key) VALUES (3, 'id:1'), (3, 'id:2');
";

#[tokio::test]
async fn counter_tables_keep_their_rows_when_rebuilt_without_rowids() {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let mut old = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap();
    SQLITE_MIGRATIONS
        .run_to(BEFORE_COMPACT_COUNTERS, &mut old)
        .await
        .unwrap();
    sqlx::raw_sql(OLD_ROWS).execute(&mut old).await.unwrap();
    old.close().await.unwrap();

    let store = open(&format!("sqlite://{}", path.display())).await.unwrap();

    let values = store.issue_tag_values(3, "browser", 10).await.unwrap();
    let counted: Vec<(&str, i64, i64, i64)> = values
        .iter()
        .map(|v| (v.value.as_str(), v.count, v.first_seen, v.last_seen))
        .collect();
    assert_eq!(
        counted,
        [("Firefox", 3, 1000, 1500), ("Chrome", 2, 1200, 2000)]
    );
    let keys = store.issue_tag_keys(3).await.unwrap();
    assert_eq!(keys.len(), 2);
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM issue_users WHERE issue_id = 3")
        .fetch_one(&store.reader)
        .await
        .unwrap();
    assert_eq!(users, 2);

    for table in ["issue_tags", "issue_users"] {
        let sql: String = sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = $1")
            .bind(table)
            .fetch_one(&store.reader)
            .await
            .unwrap();
        assert!(sql.ends_with("WITHOUT ROWID"), "{table}: {sql}");
    }
    // Rows of a deleted issue still go with it.
    sqlx::query("DELETE FROM issues WHERE id = 3")
        .execute(&store.writer)
        .await
        .unwrap();
    assert!(store.issue_tag_keys(3).await.unwrap().is_empty());
}
