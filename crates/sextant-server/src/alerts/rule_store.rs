//! Saving issue alert rules, for every way in (the API's Sentry-shaped bodies and the
//! console's templates): the body validated by [`rules::parse`], the installations and
//! channels its actions name checked against the project's organization, and what the
//! batch writer must record for it derived from the rule itself.

use serde_json::Value;
use sextant_storage::{AlertRule, NewRule, Project, Store, StoreError, needs};

use super::rules::{self, ActionKind, ConditionKind, Match, RuleError, RuleSpec};

#[derive(Debug, thiserror::Error)]
pub enum RuleSaveError {
    /// The body is not a valid rule, or names something the organization does not have.
    #[error(transparent)]
    Invalid(RuleError),
    #[error("storage failed")]
    Store(#[source] StoreError),
}

impl From<StoreError> for RuleSaveError {
    fn from(e: StoreError) -> Self {
        RuleSaveError::Store(e)
    }
}

/// What the batch writer must record for a rule (bits of `needs`).
pub fn needs_of(spec: &RuleSpec) -> i64 {
    let wanted = spec.needs();
    let mut bits = 0;
    if !wanted.event_windows.is_empty() {
        bits |= needs::EVENT_COUNTS;
    }
    if !wanted.user_windows.is_empty() {
        bits |= needs::USER_COUNTS;
    }
    // New issues and regressions are always signalled; any other condition (or none,
    // or "none of") can pass on an ordinary event.
    let only_transitions = !spec.conditions.is_empty()
        && spec.action_match != Match::None
        && spec
            .conditions
            .iter()
            .all(|c| matches!(c.kind, ConditionKind::FirstSeen | ConditionKind::Regression));
    if !only_transitions {
        bits |= needs::SIGNALS;
    }
    bits
}

/// The rule in `body`, once everything it names belongs to the project's organization.
pub async fn validate(
    store: &dyn Store,
    project: &Project,
    body: &Value,
) -> Result<RuleSpec, RuleSaveError> {
    let spec = rules::parse(body).map_err(RuleSaveError::Invalid)?;
    for (index, action) in spec.actions.iter().enumerate() {
        let field = format!("actions[{index}]");
        match &action.kind {
            ActionKind::SentryApp {
                installation_uuid, ..
            } => match store.find_installation(installation_uuid).await {
                Ok(app) if app.org_id == project.org_id => {}
                Ok(_) | Err(StoreError::NotFound) => {
                    return Err(RuleSaveError::Invalid(RuleError::new(
                        field,
                        format!("no installation {installation_uuid:?} in this organization"),
                    )));
                }
                Err(err) => return Err(err.into()),
            },
            ActionKind::Channel { channel } => match store.get_channel(*channel).await {
                Ok(c) if c.org_id == project.org_id => {}
                Ok(_) | Err(StoreError::NotFound) => {
                    return Err(RuleSaveError::Invalid(RuleError::new(
                        field,
                        format!("no channel {channel} in this organization"),
                    )));
                }
                Err(err) => return Err(err.into()),
            },
            _ => {}
        }
    }
    Ok(spec)
}

/// The stored record of a validated rule.
pub fn new_rule(project: &Project, spec: &RuleSpec, created_by: Option<String>) -> NewRule {
    NewRule {
        project_id: project.id,
        name: spec.name.clone(),
        spec: spec.to_stored(),
        needs: needs_of(spec),
        created_by,
    }
}

/// Validates `body` and stores it as a new rule of the project.
pub async fn create(
    store: &dyn Store,
    project: &Project,
    body: &Value,
    created_by: Option<String>,
) -> Result<AlertRule, RuleSaveError> {
    let spec = validate(store, project, body).await?;
    Ok(store
        .create_rule(&new_rule(project, &spec, created_by))
        .await?)
}

/// Replaces rule `id` of the project with `body`; `NotFound` (before any validation)
/// when the project has no such rule.
pub async fn replace(
    store: &dyn Store,
    project: &Project,
    id: i64,
    body: &Value,
    created_by: Option<String>,
) -> Result<AlertRule, RuleSaveError> {
    store.get_rule(project.id, id).await?;
    let spec = validate(store, project, body).await?;
    Ok(store
        .update_rule(id, &new_rule(project, &spec, created_by))
        .await?)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::alerts::rules::ids;

    fn spec(conditions: Value, action_match: &str) -> RuleSpec {
        rules::parse(&json!({
            "name": "r",
            "actionMatch": action_match,
            "conditions": conditions,
            "actions": [{"id": ids::SERVICE_ACTION, "service": "webhooks"}],
        }))
        .unwrap()
    }

    #[test]
    fn transitions_alone_need_no_per_event_signals() {
        let first_seen = json!([{"id": ids::FIRST_SEEN}, {"id": ids::REGRESSION}]);
        assert_eq!(needs_of(&spec(first_seen.clone(), "any")), 0);
        // "None of" passes on events that are neither.
        assert_eq!(needs_of(&spec(first_seen, "none")), needs::SIGNALS);
        assert_eq!(needs_of(&spec(json!([]), "all")), needs::SIGNALS);
    }

    #[test]
    fn frequency_conditions_need_their_counters() {
        let events = json!([{"id": ids::EVENT_FREQUENCY, "value": 3, "interval": "1h"}]);
        assert_eq!(
            needs_of(&spec(events, "all")),
            needs::SIGNALS | needs::EVENT_COUNTS
        );
        let users = json!([{"id": ids::USER_FREQUENCY, "value": 3, "interval": "1h"}]);
        assert_eq!(
            needs_of(&spec(users, "all")),
            needs::SIGNALS | needs::USER_COUNTS
        );
    }
}
