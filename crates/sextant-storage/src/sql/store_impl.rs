//! `Store` for `SqlStore`: a thin delegation to the per-domain modules, kept apart so
//! the trait stays the one place listing the whole contract.

use async_trait::async_trait;

use super::{Backend, SqlStore};
use crate::model::*;
use crate::{ProcessFn, ProcessReport, Result, Store};

#[async_trait]
impl Store for SqlStore {
    fn clock(&self) -> std::sync::Arc<dyn crate::clock::Clock> {
        self.clock.clone()
    }

    fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    async fn bootstrap_default(&self) -> Result<Option<(Organization, Project, ProjectKey)>> {
        SqlStore::bootstrap_default(self).await
    }

    async fn create_org(&self, slug: &str, name: &str) -> Result<Organization> {
        SqlStore::create_org(self, slug, name).await
    }

    async fn get_org(&self, slug: &str) -> Result<Organization> {
        SqlStore::get_org(self, slug).await
    }

    async fn list_orgs(&self) -> Result<Vec<Organization>> {
        SqlStore::list_orgs(self).await
    }

    async fn create_project(
        &self,
        org_id: i64,
        slug: &str,
        name: &str,
        platform: Option<&str>,
    ) -> Result<Project> {
        SqlStore::create_project(self, org_id, slug, name, platform).await
    }

    async fn get_project(&self, id: i64) -> Result<Project> {
        SqlStore::get_project(self, id).await
    }

    async fn get_project_by_slug(&self, org_slug: &str, slug: &str) -> Result<Project> {
        SqlStore::get_project_by_slug(self, org_slug, slug).await
    }

    async fn list_projects(&self, org_id: Option<i64>) -> Result<Vec<Project>> {
        SqlStore::list_projects(self, org_id).await
    }

    async fn rename_project(&self, id: i64, name: &str) -> Result<Project> {
        SqlStore::rename_project(self, id, name).await
    }

    async fn delete_project(&self, id: i64) -> Result<()> {
        SqlStore::delete_project(self, id).await
    }

    async fn create_key(&self, project_id: i64, label: &str) -> Result<ProjectKey> {
        SqlStore::create_key(self, project_id, label).await
    }

    async fn list_keys(&self, project_id: i64) -> Result<Vec<ProjectKey>> {
        SqlStore::list_keys(self, project_id).await
    }

    async fn find_key(&self, public_key: &str) -> Result<Option<ProjectKey>> {
        SqlStore::find_key(self, public_key).await
    }

    async fn set_key_active(
        &self,
        project_id: i64,
        public_key: &str,
        active: bool,
    ) -> Result<ProjectKey> {
        SqlStore::set_key_active(self, project_id, public_key, active).await
    }

    async fn set_key_rate_limit(
        &self,
        project_id: i64,
        public_key: &str,
        count: Option<i64>,
        window_secs: Option<i64>,
    ) -> Result<ProjectKey> {
        SqlStore::set_key_rate_limit(self, project_id, public_key, count, window_secs).await
    }

    async fn delete_key(&self, project_id: i64, public_key: &str) -> Result<()> {
        SqlStore::delete_key(self, project_id, public_key).await
    }

    async fn create_token(
        &self,
        token_hash: &str,
        scope: TokenScope,
        label: &str,
    ) -> Result<ApiToken> {
        SqlStore::create_token(self, token_hash, scope, label).await
    }

    async fn find_token(&self, token_hash: &str) -> Result<Option<ApiToken>> {
        SqlStore::find_token(self, token_hash).await
    }

    async fn list_tokens(&self) -> Result<Vec<ApiToken>> {
        SqlStore::list_tokens(self).await
    }

    async fn revoke_token(&self, id: i64) -> Result<()> {
        SqlStore::revoke_token(self, id).await
    }

    async fn open_inbox(&self) -> Result<()> {
        if self.lite.is_some() {
            self.journal().await?;
        }
        Ok(())
    }

    async fn enqueue(&self, entries: Vec<InboxEntry>) -> Result<Vec<i64>> {
        SqlStore::enqueue(self, entries).await
    }

    fn enqueue_groups_itself(&self) -> bool {
        self.lite.is_some()
    }

    async fn inbox_depth(&self) -> Result<i64> {
        SqlStore::inbox_depth(self).await
    }

    async fn process_inbox(&self, limit: u32, process: &ProcessFn<'_>) -> Result<ProcessReport> {
        SqlStore::process_inbox(self, limit, process).await
    }

    async fn list_issues(&self, query: &IssueQuery) -> Result<Page<Issue>> {
        SqlStore::list_issues(self, query).await
    }

    async fn get_issue(&self, id: i64) -> Result<Issue> {
        SqlStore::get_issue(self, id).await
    }

    async fn update_issues(&self, ids: &[i64], update: &IssueUpdate) -> Result<Vec<Issue>> {
        SqlStore::update_issues(self, ids, update).await
    }

    async fn delete_issues(&self, ids: &[i64]) -> Result<()> {
        SqlStore::delete_issues(self, ids).await
    }

    async fn get_event(&self, project_id: i64, event_id: &str) -> Result<EventRecord> {
        SqlStore::get_event(self, project_id, event_id).await
    }

    async fn list_issue_events(
        &self,
        issue_id: i64,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> Result<Page<EventRecord>> {
        SqlStore::list_issue_events(self, issue_id, cursor, limit).await
    }

    async fn latest_issue_event(&self, issue_id: i64) -> Result<EventRecord> {
        SqlStore::latest_issue_event(self, issue_id).await
    }

    async fn oldest_issue_event(&self, issue_id: i64) -> Result<EventRecord> {
        SqlStore::oldest_issue_event(self, issue_id).await
    }

    async fn count_events(&self, project_id: i64) -> Result<i64> {
        SqlStore::count_events(self, project_id).await
    }

    async fn issue_tag_keys(&self, issue_id: i64) -> Result<Vec<TagKeySummary>> {
        SqlStore::issue_tag_keys(self, issue_id).await
    }

    async fn issue_tag_values(
        &self,
        issue_id: i64,
        key: &str,
        limit: u32,
    ) -> Result<Vec<TagValueCount>> {
        SqlStore::issue_tag_values(self, issue_id, key, limit).await
    }

    async fn list_attachments(
        &self,
        project_id: i64,
        event_id: &str,
    ) -> Result<Vec<AttachmentRecord>> {
        SqlStore::list_attachments(self, project_id, event_id).await
    }

    async fn get_attachment(
        &self,
        project_id: i64,
        attachment_id: i64,
    ) -> Result<(AttachmentRecord, Vec<u8>)> {
        SqlStore::get_attachment(self, project_id, attachment_id).await
    }

    async fn count_raw_items(&self, project_id: i64, item_type: &str) -> Result<i64> {
        SqlStore::count_raw_items(self, project_id, item_type).await
    }

    async fn outcome_totals(&self, project_id: i64) -> Result<Vec<OutcomeDelta>> {
        SqlStore::outcome_totals(self, project_id).await
    }
}
