//! Backend conformance suite: every test runs against SQLite and PostgreSQL through the
//! same `Arc<dyn Store>`, so both backends are held to one contract.

// The suite lives in tests/conformance/; the paths keep this one test binary.
#[macro_use]
#[path = "conformance/harness.rs"]
mod harness;

#[path = "conformance/accounts.rs"]
mod accounts;
#[path = "conformance/admin.rs"]
mod admin;
#[path = "conformance/ingest.rs"]
mod ingest;
#[path = "conformance/lifecycle.rs"]
mod lifecycle;
#[path = "conformance/members.rs"]
mod members;
#[path = "conformance/releases.rs"]
mod releases;
#[path = "conformance/search.rs"]
mod search;
#[path = "conformance/storage.rs"]
mod storage;

conformance! {
    accounts::users_and_email_lookup,
    accounts::sessions_found_expire_and_revoke,
    accounts::memberships_and_roles,
    accounts::user_tokens_listed_and_revoked,
    admin::bootstrap_is_idempotent,
    admin::projects_crud_and_conflicts,
    admin::keys_crud,
    admin::tokens_crud,
    admin::delete_project_cascades,
    ingest::inbox_roundtrip_and_exactly_once,
    ingest::replayed_event_is_duplicate,
    ingest::grouping_by_shared_hashes,
    ingest::user_and_tag_counts,
    ingest::issue_follows_latest_event,
    ingest::concurrent_enqueue_and_process,
    lifecycle::regression_on_resolved,
    lifecycle::resolved_in_next_release,
    lifecycle::ignored_stays_ignored,
    lifecycle::update_and_delete_issues,
    members::first_owner_is_created_once,
    members::the_last_owner_stays,
    members::member_changes_apply_to_the_role_read,
    members::grants_never_lower_a_role,
    releases::releases_upsert_get_list,
    releases::deploys_per_environment_in_order,
    releases::commits_with_files_roundtrip,
    releases::session_rollups_via_batch,
    search::filters_and_negation,
    search::text_search,
    search::sorts_and_keyset_paging,
    storage::issue_events_paging,
    storage::attachments_raw_items_outcomes,
}
