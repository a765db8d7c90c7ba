//! The events a `count()` or `count_unique(user)` metric rule counts: error events of its
//! projects in a window of event timestamps, narrowed by environment, event type, tags
//! and words. The window is reached through the issues seen in it (`issues_last_seen`,
//! then `events_issue`), so a count reads the window's events, not the project's.

use sqlx::{AssertSqlSafe, Row};

use super::super::{Arg, Args, Backend, SqlStore};
use crate::metric_alerts::*;
use crate::{Result, StoreError};

/// `text` as a `LIKE` pattern matching it anywhere, with `\` as the escape character.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl SqlStore {
    pub(super) async fn event_stats(&self, window: &EventWindow) -> Result<EventStats> {
        if window.project_ids.is_empty() {
            return Ok(EventStats::default());
        }
        let mut args = Args::default();
        let projects: Vec<String> = window
            .project_ids
            .iter()
            .map(|id| args.push(Arg::Int(*id)))
            .collect();
        let from = args.push(Arg::Int(window.from));
        let to = args.push(Arg::Int(window.to));
        // An issue's `last_seen` is its newest event timestamp: issues with events in the
        // window were last seen in it or after.
        let mut sql = format!(
            "SELECT COUNT(*) AS n, COUNT(DISTINCT e.user_key) AS users FROM events e \
             WHERE e.issue_id IN (SELECT i.id FROM issues i WHERE i.project_id IN ({}) \
             AND i.last_seen >= {from}) AND e.timestamp_ms >= {from} AND e.timestamp_ms < {to}",
            projects.join(", ")
        );
        if let Some(env) = &window.environment {
            let env = args.push(Arg::Text(env.clone()));
            sql.push_str(&format!(" AND e.environment = {env}"));
        }
        if !window.event_types.is_empty() {
            let types: Vec<String> = window
                .event_types
                .iter()
                .map(|t| args.push(Arg::Text(t.clone())))
                .collect();
            sql.push_str(&format!(" AND e.event_type IN ({})", types.join(", ")));
        }
        let find = match self.backend {
            Backend::Sqlite => "instr",
            Backend::Postgres => "strpos",
        };
        for condition in &window.conditions {
            match condition {
                EventCondition::Tag { key, value, negate } => {
                    // Tags are stored as a JSON list of [key, value] pairs, written by
                    // serde_json: the pair serialized the same way is found verbatim, and
                    // its quotes cannot match inside another string, where they are
                    // escaped.
                    let pair = serde_json::to_string(&(key, value))
                        .map_err(|e| StoreError::Backend(format!("tag condition: {e}")))?;
                    let pair = args.push(Arg::Text(pair));
                    let cmp = if *negate { "=" } else { ">" };
                    sql.push_str(&format!(" AND {find}(e.tags, {pair}) {cmp} 0"));
                }
                EventCondition::Text { text } => {
                    let p = args.push(Arg::Text(contains_pattern(text)));
                    sql.push_str(&format!(
                        " AND (LOWER(e.title) LIKE {p} ESCAPE '\\' \
                         OR LOWER(e.message) LIKE {p} ESCAPE '\\' \
                         OR LOWER(e.culprit) LIKE {p} ESCAPE '\\')"
                    ));
                }
            }
        }
        let row = args
            .bind_all(sqlx::query(AssertSqlSafe(sql)))
            .fetch_one(&self.reader)
            .await?;
        Ok(EventStats {
            events: row.try_get("n")?,
            users: row.try_get("users")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_escape_wildcards_and_ignore_case() {
        assert_eq!(contains_pattern("Disk Full"), "%disk full%");
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
