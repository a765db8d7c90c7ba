//! Issue search: filters, free text, sorts and keyset paging, built as one dynamic query
//! with hand-numbered `$N` placeholders.

use sqlx::AssertSqlSafe;

use super::rows::{self, ISSUE_COLUMNS};
use super::{Arg, Args, Backend, SqlStore};
use crate::Result;
use crate::model::*;

fn sort_column(sort: IssueSort) -> &'static str {
    match sort {
        IssueSort::LastSeen => "last_seen",
        IssueSort::FirstSeen => "first_seen",
        IssueSort::Events => "times_seen",
        IssueSort::Users => "user_count",
    }
}

fn sort_value(sort: IssueSort, issue: &Issue) -> i64 {
    match sort {
        IssueSort::LastSeen => issue.last_seen,
        IssueSort::FirstSeen => issue.first_seen,
        IssueSort::Events => issue.times_seen,
        IssueSort::Users => issue.user_count,
    }
}

fn cmp_op(cmp: Cmp) -> &'static str {
    match cmp {
        Cmp::Lt => "<",
        Cmp::Le => "<=",
        Cmp::Gt => ">",
        Cmp::Ge => ">=",
        Cmp::Eq => "=",
    }
}

/// User text as an FTS5 query: each word becomes a quoted string token (inner quotes
/// doubled, so no FTS syntax gets through) with `*` for prefix matching; words are ANDed.
/// Words without letters or digits are left to the LIKE half of the condition, since
/// they would tokenize to nothing.
pub(super) fn fts5_query(text: &str) -> Option<String> {
    let terms: Vec<String> = text
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// `%text%` with LIKE's wildcards escaped (escape character `\`).
pub(super) fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// The free-text condition. Word index plus substring match on title and culprit, so
/// "Error" finds "TypeError" on both backends.
fn text_condition(backend: Backend, text: &str, args: &mut Args) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let like = args.push(Arg::Text(like_pattern(text)));
    Some(match backend {
        Backend::Sqlite => {
            // SQLite's LIKE is case-insensitive for ASCII, matching ILIKE closely enough.
            let substring =
                format!("title LIKE {like} ESCAPE '\\' OR culprit LIKE {like} ESCAPE '\\'");
            match fts5_query(text) {
                Some(q) => {
                    let q = args.push(Arg::Text(q));
                    format!(
                        "(id IN (SELECT rowid FROM issues_fts WHERE issues_fts MATCH {q}) OR {substring})"
                    )
                }
                None => format!("({substring})"),
            }
        }
        Backend::Postgres => {
            let words = args.push(Arg::Text(text.to_string()));
            format!(
                "(search_vector @@ plainto_tsquery('simple', {words}) \
                 OR title ILIKE {like} ESCAPE '\\' OR culprit ILIKE {like} ESCAPE '\\')"
            )
        }
    })
}

fn filter_condition(backend: Backend, filter: &IssueFilter, args: &mut Args) -> Option<String> {
    match filter {
        IssueFilter::Status { statuses, negate } => {
            if statuses.is_empty() {
                // "in no status" matches nothing; "in none of no statuses" everything.
                return (!negate).then(|| "1 = 0".to_string());
            }
            let list: Vec<String> = statuses
                .iter()
                .map(|s| args.push(Arg::Text(s.as_str().into())))
                .collect();
            let not = if *negate { "NOT " } else { "" };
            Some(format!("status {not}IN ({})", list.join(", ")))
        }
        IssueFilter::Level { value, negate } => {
            let v = args.push(Arg::Text(value.clone()));
            Some(format!("level {} {v}", if *negate { "<>" } else { "=" }))
        }
        IssueFilter::Tag { key, value, negate } => {
            let k = args.push(Arg::Text(key.clone()));
            let v = args.push(Arg::Text(value.clone()));
            let not = if *negate { "NOT " } else { "" };
            Some(format!(
                "{not}EXISTS (SELECT 1 FROM issue_tags t \
                 WHERE t.issue_id = issues.id AND t.tag_key = {k} AND t.tag_value = {v})"
            ))
        }
        IssueFilter::FirstSeen { cmp, at } => {
            let v = args.push(Arg::Int(*at));
            Some(format!("first_seen {} {v}", cmp_op(*cmp)))
        }
        IssueFilter::LastSeen { cmp, at } => {
            let v = args.push(Arg::Int(*at));
            Some(format!("last_seen {} {v}", cmp_op(*cmp)))
        }
        IssueFilter::Text(text) => text_condition(backend, text, args),
    }
}

impl SqlStore {
    /// Sorted descending by the sort column, then id, and paged by keyset: the cursor is
    /// the (sort value, id) of the last row already shown.
    pub(super) async fn list_issues(&self, query: &IssueQuery) -> Result<Page<Issue>> {
        if query.project_ids.is_empty() {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        if query
            .filters
            .iter()
            .any(|f| matches!(f, IssueFilter::Tag { .. }))
        {
            self.settle_tag_counts().await?;
        }
        let limit = query.limit.max(1);
        let col = sort_column(query.sort);
        let mut args = Args::default();

        let projects: Vec<String> = query
            .project_ids
            .iter()
            .map(|id| args.push(Arg::Int(*id)))
            .collect();
        let mut conditions = vec![format!("project_id IN ({})", projects.join(", "))];
        conditions.extend(
            query
                .filters
                .iter()
                .filter_map(|f| filter_condition(self.backend, f, &mut args)),
        );
        if let Some(c) = query.cursor {
            let v = args.push(Arg::Int(c.sort_value));
            let id = args.push(Arg::Int(c.id));
            conditions.push(format!("({col} < {v} OR ({col} = {v} AND id < {id}))"));
        }
        // One extra row tells whether another page follows.
        let n = args.push(Arg::Int(i64::from(limit) + 1));
        let sql = format!(
            "SELECT {ISSUE_COLUMNS} FROM issues WHERE {} ORDER BY {col} DESC, id DESC LIMIT {n}",
            conditions.join(" AND ")
        );

        let found = args
            .bind_all(sqlx::query(AssertSqlSafe(sql)))
            .fetch_all(&self.reader)
            .await?;
        let mut items = found.iter().map(rows::issue).collect::<Result<Vec<_>>>()?;
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next = more
            .then(|| {
                items.last().map(|i| Cursor {
                    sort_value: sort_value(query.sort, i),
                    id: i.id,
                })
            })
            .flatten();
        Ok(Page { items, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts_query_quotes_words() {
        assert_eq!(fts5_query("TypeError"), Some("\"TypeError\"*".into()));
        assert_eq!(
            fts5_query(" a \"b\" "),
            Some("\"a\"* \"\"\"b\"\"\"*".into())
        );
        assert_eq!(fts5_query("NEAR( OR"), Some("\"NEAR(\"* \"OR\"*".into()));
        assert_eq!(fts5_query(" - % "), None);
    }

    #[test]
    fn like_escapes_wildcards() {
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
