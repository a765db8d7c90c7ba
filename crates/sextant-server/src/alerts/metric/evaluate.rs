//! Evaluating one claimed metric rule at a given moment: its value over the window, one
//! step of the threshold state machine, and, when the incident changes, the commit that
//! writes the change together with a notification for each of the actions Sentry would
//! run (`handle_trigger_actions`). Callable directly with any `now`, which is how tests
//! drive it; the worker calls it with the store's clock.

use std::collections::HashSet;

use serde_json::Value;
use sextant_storage::{
    DeliveryTarget, Incident, IncidentChange, MetricEvaluation, MetricRule, NewDelivery, SentryApp,
    Store, StoreError, incident_status,
};

use super::machine::{self, Change, Level, State};
use super::measure;
use super::payload::{MetricAlert, Outcome};
use super::serialize::{incident_json, rule_json, snake_keys};
use super::spec::MetricSpec;
use super::triggers::{Action, ActionKind, Label};

/// What evaluations need besides the rule.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub store: &'a dyn Store,
    /// The server's public URL, for links in notifications.
    pub base_url: &'a str,
    /// How long until the rule is evaluated again.
    pub interval_ms: i64,
}

/// The state as stored, made to agree with the incident actually open. Both are written
/// in one transaction and an edit resets both, so they should never differ; if they do,
/// the incident is what notifications were sent about, and it wins.
fn reconciled(stored: &Value, open: Option<&Incident>) -> State {
    let mut state: State = serde_json::from_value(stored.clone()).unwrap_or_default();
    match (state.level(), open) {
        (Some(_), None) => state = State::default(),
        (None, Some(incident)) => {
            let critical = incident.status == incident_status::CRITICAL;
            state.critical.active = critical;
            state.warning.active = !critical;
            state.was_critical = critical;
        }
        _ => {}
    }
    state
}

/// The actions a change runs, as Sentry picks them: every action when the incident is or
/// was critical, only the warning trigger's for a warning that never was. The same
/// action on both triggers runs once.
fn actions_for(spec: &MetricSpec, change: Change) -> Vec<&Action> {
    let of = |label| {
        spec.triggers
            .iter()
            .filter(move |t| t.label == label)
            .flat_map(|t| t.actions.iter())
    };
    let everything = match change {
        Change::Open(level) | Change::Level { to: level, .. } if level == Level::Critical => true,
        Change::Level { from, .. } => from == Level::Critical,
        Change::Resolve { was_critical } => was_critical,
        Change::Open(_) => false,
    };
    let chosen: Vec<&Action> = if everything {
        of(Label::Critical).chain(of(Label::Warning)).collect()
    } else {
        of(Label::Warning).collect()
    };
    let mut seen = HashSet::new();
    chosen
        .into_iter()
        .filter(|a| seen.insert(a.key()))
        .collect()
}

/// The organization's slug and the rule's project slugs (projects deleted since are left
/// out).
async fn names(store: &dyn Store, rule: &MetricRule) -> Result<(String, Vec<String>), StoreError> {
    let mut org_slug = None;
    let mut slugs = Vec::new();
    for &id in &rule.project_ids {
        match store.get_project(id).await {
            Ok(p) => {
                org_slug.get_or_insert(p.org_slug);
                slugs.push(p.slug);
            }
            Err(StoreError::NotFound) => {}
            Err(err) => return Err(err),
        }
    }
    let org_slug = match org_slug {
        Some(slug) => slug,
        None => store
            .list_orgs()
            .await?
            .into_iter()
            .find(|o| o.id == rule.org_id)
            .map(|o| o.slug)
            .unwrap_or_default(),
    };
    Ok((org_slug, slugs))
}

/// Where each action sends: the integrations and channels that still exist in the
/// organization. Email is the mail module's to send.
async fn targets(
    store: &dyn Store,
    org_id: i64,
    actions: &[&Action],
) -> Result<Vec<(DeliveryTarget, Option<SentryApp>)>, StoreError> {
    let apps = store.list_sentry_apps(org_id).await?;
    let mut out = Vec::new();
    for action in actions {
        match &action.kind {
            ActionKind::SentryApp { app_id, .. } => {
                if let Some(app) = apps.iter().find(|a| Some(a.id) == *app_id) {
                    out.push((
                        DeliveryTarget::SentryApp { app_id: app.id },
                        Some(app.clone()),
                    ));
                }
            }
            ActionKind::Channel { channel_id } => match store.get_channel(*channel_id).await {
                Ok(c) if c.org_id == org_id => {
                    out.push((DeliveryTarget::Channel { channel_id: c.id }, None));
                }
                Ok(_) | Err(StoreError::NotFound) => {}
                Err(err) => return Err(err),
            },
            ActionKind::Email => {}
        }
    }
    Ok(out)
}

/// Evaluates a rule claimed with `claim_metric_rules` at `now` and commits the outcome.
/// Returns the incident when it changed. A claim lost meanwhile (another node, an edit of
/// the rule) commits nothing and returns `None`.
pub async fn evaluate(
    ctx: &Context<'_>,
    rule: &MetricRule,
    now: i64,
) -> Result<Option<Incident>, StoreError> {
    let mut evaluation = MetricEvaluation {
        rule_id: rule.id,
        claimed_until: rule.claimed_until,
        state: rule.state.clone(),
        next_eval_at: now + ctx.interval_ms,
        change: None,
    };
    let spec = match MetricSpec::from_rule(rule) {
        Ok(spec) => spec,
        Err(err) => {
            tracing::warn!(rule = rule.id, error = %err, "skipping a stored metric rule that no longer parses");
            return commit(ctx, &evaluation, &|_| Vec::new()).await;
        }
    };
    let open = ctx.store.open_incident(rule.id).await?;
    let state = reconciled(&rule.state, open.as_ref());
    let value = measure::value(ctx.store, &spec, &rule.project_ids, now).await?;
    let step = machine::step(&spec.thresholds(), &state, value);
    evaluation.state = serde_json::to_value(step.state)
        .map_err(|e| StoreError::Backend(format!("metric rule state: {e}")))?;
    let (Some(change), Some(value)) = (step.change, value) else {
        return commit(ctx, &evaluation, &|_| Vec::new()).await;
    };
    let (org_slug, projects) = names(ctx.store, rule).await?;
    let open_id = open.as_ref().map(|i| i.id).unwrap_or_default();
    let (incident_change, outcome) = match change {
        Change::Open(level) => {
            let lead = spec.window_ms() + ctx.interval_ms * i64::from(spec.threshold_period - 1);
            (
                IncidentChange::Open {
                    title: rule.name.clone(),
                    projects: projects.clone(),
                    status: level.status(),
                    date_started: now - lead,
                },
                Outcome::Fired(level),
            )
        }
        Change::Level { to, .. } => (
            IncidentChange::Level {
                incident_id: open_id,
                status: to.status(),
            },
            Outcome::Fired(to),
        ),
        Change::Resolve { .. } => (
            IncidentChange::Close {
                incident_id: open_id,
            },
            Outcome::Resolved,
        ),
    };
    evaluation.change = Some(incident_change);
    let actions = actions_for(&spec, change);
    let targets = targets(ctx.store, rule.org_id, &actions).await?;
    let rule_value = rule_json(rule, &spec, &projects);
    let alert = MetricAlert {
        outcome,
        rule_id: rule.id,
        rule_name: &rule.name,
        aggregate: spec.aggregate,
        time_window: spec.time_window,
        query: &spec.query,
        environment: spec.environment.as_deref(),
        value,
        org_slug: &org_slug,
        project: projects.first().map(String::as_str).unwrap_or_default(),
        base_url: ctx.base_url,
        now,
    };
    let notify = |incident: &Incident| -> Vec<NewDelivery> {
        let serialized = snake_keys(incident_json(incident, rule_value.clone(), None));
        targets
            .iter()
            .map(|(target, app)| {
                let payload = match app {
                    Some(app) => alert
                        .webhook(app, serialized.clone(), incident.identifier)
                        .to_string(),
                    None => serde_json::to_string(&alert.notice(incident.identifier))
                        .unwrap_or_default(),
                };
                NewDelivery {
                    org_id: rule.org_id,
                    project_id: rule.project_ids.first().copied(),
                    issue_id: None,
                    rule_id: Some(rule.id),
                    target: target.clone(),
                    resource: "metric_alert".into(),
                    action: outcome.action().into(),
                    payload,
                }
            })
            .collect()
    };
    commit(ctx, &evaluation, &notify).await
}

async fn commit(
    ctx: &Context<'_>,
    evaluation: &MetricEvaluation,
    notify: &sextant_storage::NotifyFn<'_>,
) -> Result<Option<Incident>, StoreError> {
    match ctx.store.commit_metric_evaluation(evaluation, notify).await {
        Err(StoreError::Conflict(reason)) => {
            tracing::debug!(rule = evaluation.rule_id, %reason, "dropping a metric evaluation");
            Ok(None)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests;
