//! A project's issue alert rules (`{project}/alerts/`): the list, with when each rule
//! last fired, and rules made from templates ("New issue", "Regression", "More than N
//! events in M", "Deploy verdict regressed", and the metric alert "Crash-free sessions
//! below X%"). A template only builds Sentry's rule body; it is saved through the same
//! validation as the API's. Changes need the admin or owner role.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};
use sextant_storage::{Project, Role};

use super::alert_targets::{Targets, WEBHOOKS_CHOICE};
use super::error::{UiError, UiResult};
use super::format::ago;
use super::pages::{Nav, render};
use super::viewer::{Form, Viewer};
use crate::alerts::evaluate::{WEBHOOK_URLS, webhook_urls};
use crate::alerts::rule_store::{self, RuleSaveError};
use crate::alerts::rules::{self, DEFAULT_FREQUENCY_MINUTES, Interval, ids};
use crate::clock::format_ms;
use crate::state::AppState;

/// The rule templates: (form value, heading).
const TEMPLATES: [(&str, &str); 5] = [
    ("new_issue", "New issue"),
    ("regression", "Regression"),
    ("frequency", "More than N events in M"),
    ("deploy_verdict", "Deploy verdict regressed"),
    ("crash_free", "Crash-free sessions below X%"),
];

/// The throttles offered, in minutes: Sentry's own choices.
const FREQUENCIES: [u32; 9] = [5, 10, 30, 60, 180, 720, 1440, 10080, 43200];

pub struct RuleRow {
    pub name: String,
    pub conditions: Vec<String>,
    pub actions: Vec<String>,
    pub frequency: String,
    /// Empty when the rule never fired.
    pub last_fired: String,
    pub last_fired_at: String,
    pub times: i64,
    pub delete_url: String,
}

#[derive(Template)]
#[template(path = "alert_rules.html")]
struct RulesPage {
    nav: Option<Nav>,
    title: String,
    project_name: String,
    settings_url: String,
    channels_url: String,
    create_url: String,
    rules: Vec<RuleRow>,
    metric_rules: Vec<super::alert_metric::MetricRow>,
    templates: Vec<(&'static str, &'static str)>,
    actions: Vec<(String, String)>,
    intervals: Vec<&'static str>,
    frequencies: Vec<(u32, String)>,
    default_frequency: u32,
    can_admin: bool,
    csrf: String,
    error: String,
}

/// "every 30 minutes", "every 12 hours", "every 7 days".
fn every(minutes: u32) -> String {
    let (n, unit) = match minutes {
        m if m >= 1440 && m % 1440 == 0 => (m / 1440, "day"),
        m if m >= 60 && m % 60 == 0 => (m / 60, "hour"),
        m => (m, "minute"),
    };
    match n {
        1 => format!("every {unit}"),
        n => format!("every {n} {unit}s"),
    }
}

fn prefix(project: &Project) -> String {
    format!("/orgs/{}/{}", project.org_slug, project.slug)
}

async fn rules_page(
    state: &AppState,
    viewer: &Viewer,
    project: &Project,
    error: &str,
) -> UiResult<Response> {
    let now = state.clock.now_ms();
    let targets = Targets::load(state, project.org_id).await?;
    let fires = state.store.project_rule_fires(project.id).await?;
    let plugin = state.store.project_option(project.id, WEBHOOK_URLS).await?;
    let plugin_urls = !webhook_urls(plugin.as_ref()).is_empty();
    let base = prefix(project);
    let rules = state
        .store
        .list_rules(project.id)
        .await?
        .into_iter()
        .map(|rule| {
            let fire = fires.iter().find(|f| f.rule_id == rule.id);
            let spec = rules::parse(&rule.spec).ok();
            RuleRow {
                conditions: spec
                    .as_ref()
                    .map(|s| s.conditions.iter().map(|c| c.name()).collect())
                    .unwrap_or_default(),
                actions: spec
                    .as_ref()
                    .map(|s| s.actions.iter().map(|a| targets.action(a)).collect())
                    .unwrap_or_default(),
                frequency: spec
                    .as_ref()
                    .map(|s| every(s.frequency_minutes))
                    .unwrap_or_default(),
                last_fired: fire.map(|f| ago(f.last_fired, now)).unwrap_or_default(),
                last_fired_at: fire.map(|f| format_ms(f.last_fired)).unwrap_or_default(),
                times: fire.map_or(0, |f| f.times),
                delete_url: format!("{base}/alerts/rules/{}/delete", rule.id),
                name: rule.name,
            }
        })
        .collect();
    let page = RulesPage {
        nav: Some(Nav::build(state, viewer, Some(project)).await?),
        title: format!("{} alert rules", project.name),
        project_name: project.name.clone(),
        settings_url: format!("{base}/settings"),
        channels_url: format!("/orgs/{}/alerts/channels", project.org_slug),
        create_url: format!("{base}/alerts/rules"),
        rules,
        metric_rules: super::alert_metric::rows(state, project).await?,
        templates: TEMPLATES.to_vec(),
        actions: targets.choices(project.id, plugin_urls),
        intervals: Interval::STANDARD.iter().map(|i| i.key()).collect(),
        frequencies: FREQUENCIES.iter().map(|m| (*m, every(*m))).collect(),
        default_frequency: DEFAULT_FREQUENCY_MINUTES,
        can_admin: viewer.role(&project.org_slug)? >= Role::Admin,
        csrf: viewer.session.csrf_token.clone(),
        error: error.into(),
    };
    let status = if error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok((status, render(&page)?).into_response())
}

pub async fn list(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, slug)): Path<(String, String)>,
) -> UiResult<Response> {
    let project = viewer.project(&state, &org, &slug).await?;
    rules_page(&state, &viewer, &project, "").await
}

/// The Sentry action item of a form's `action` choice.
fn action_body(choice: &str) -> Option<Value> {
    if choice == WEBHOOKS_CHOICE {
        return Some(json!({"id": ids::SERVICE_ACTION, "service": "webhooks"}));
    }
    if let Some(uuid) = choice.strip_prefix("app:") {
        return Some(json!({"id": ids::SENTRY_APP_ACTION, "sentryAppInstallationUuid": uuid}));
    }
    let channel: i64 = choice.strip_prefix("channel:")?.parse().ok()?;
    Some(json!({"id": ids::CHANNEL_ACTION, "channel": channel}))
}

/// The Sentry rule body a template form describes. The values go in as typed, so the
/// rule's own validation judges them.
fn rule_body(form: &Form) -> Result<Value, String> {
    let (condition, default_name) = match form.text("template") {
        "new_issue" => (json!({"id": ids::FIRST_SEEN}), "New issue".to_string()),
        "regression" => (json!({"id": ids::REGRESSION}), "Regression".to_string()),
        "frequency" => {
            let (value, interval) = (form.text("value"), form.text("interval"));
            (
                json!({
                    "id": ids::EVENT_FREQUENCY,
                    "value": value,
                    "interval": interval,
                    "comparisonType": "count",
                }),
                format!("More than {value} events in {interval}"),
            )
        }
        // Recoveries too, so what the regression opened (a PagerDuty incident) closes.
        "deploy_verdict" => (
            json!({"id": ids::RELEASE_VERDICT, "verdict": "any"}),
            "Deploy verdict regressed".to_string(),
        ),
        other => return Err(format!("Unknown rule template {other:?}.")),
    };
    let action = action_body(form.text("action"))
        .ok_or_else(|| "Choose where the alert is sent.".to_string())?;
    let name = match form.text("name") {
        "" => default_name,
        name => name.to_string(),
    };
    let frequency = match form.text("frequency") {
        "" => DEFAULT_FREQUENCY_MINUTES.to_string(),
        f => f.to_string(),
    };
    Ok(json!({
        "name": name,
        "actionMatch": "all",
        "filterMatch": "all",
        "frequency": frequency,
        "conditions": [condition],
        "filters": [],
        "actions": [action],
    }))
}

pub async fn create(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, slug)): Path<(String, String)>,
    body: Bytes,
) -> UiResult<Response> {
    let form = viewer.form(&body)?;
    viewer.require_admin(&org)?;
    let project = viewer.project(&state, &org, &slug).await?;
    if form.text("template") == "crash_free" {
        let owner = state.store.get_org(&project.org_slug).await?;
        let by = viewer.user.email.clone();
        return match super::alert_metric::create_crash_free(&state, &owner, &project, &form, by)
            .await?
        {
            Ok(()) => Ok(Redirect::to(&format!("{}/alerts/", prefix(&project))).into_response()),
            Err(refusal) => rules_page(&state, &viewer, &project, &refusal).await,
        };
    }
    let body = match rule_body(&form) {
        Ok(body) => body,
        Err(refusal) => return rules_page(&state, &viewer, &project, &refusal).await,
    };
    let created_by = Some(viewer.user.email.clone());
    match rule_store::create(state.store.as_ref(), &project, &body, created_by).await {
        Ok(_) => Ok(Redirect::to(&format!("{}/alerts/", prefix(&project))).into_response()),
        Err(RuleSaveError::Invalid(err)) => {
            rules_page(&state, &viewer, &project, &format!("Not saved: {err}")).await
        }
        Err(RuleSaveError::Store(err)) => Err(err.into()),
    }
}

pub async fn delete(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, slug, raw_id)): Path<(String, String, String)>,
    body: Bytes,
) -> UiResult<Response> {
    viewer.form(&body)?;
    viewer.require_admin(&org)?;
    let project = viewer.project(&state, &org, &slug).await?;
    let id: i64 = raw_id.parse().map_err(|_| UiError::NotFound)?;
    state.store.delete_rule(project.id, id).await?;
    Ok(Redirect::to(&format!("{}/alerts/", prefix(&project))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_read_as_sentences() {
        assert_eq!(every(5), "every 5 minutes");
        assert_eq!(every(60), "every hour");
        assert_eq!(every(720), "every 12 hours");
        assert_eq!(every(10080), "every 7 days");
        assert_eq!(every(90), "every 90 minutes");
    }

    #[test]
    fn templates_build_sentry_bodies_that_parse() {
        let form =
            Form::parse(b"template=frequency&value=12&interval=1h&action=channel%3A7&frequency=60");
        let body = rule_body(&form).unwrap();
        let spec = rules::parse(&body).unwrap();
        assert_eq!(spec.name, "More than 12 events in 1h");
        assert_eq!(spec.frequency_minutes, 60);
        assert_eq!(
            spec.conditions[0].name(),
            "The issue is seen more than 12 times in 1h"
        );
        assert_eq!(body["actions"][0]["channel"], 7);

        let verdict = rule_body(&Form::parse(b"template=deploy_verdict&action=webhooks")).unwrap();
        let spec = rules::parse(&verdict).unwrap();
        assert_eq!(spec.conditions[0].id, ids::RELEASE_VERDICT);
        let form = Form::parse(b"template=new_issue&action=webhooks&name=Fresh");
        let spec = rules::parse(&rule_body(&form).unwrap()).unwrap();
        assert_eq!(spec.name, "Fresh");
        assert_eq!(spec.conditions[0].id, ids::FIRST_SEEN);
        assert_eq!(spec.actions[0].id, ids::SERVICE_ACTION);

        for bad in [
            &b"template=new_issue&action=nowhere"[..],
            b"template=nope&action=webhooks",
            b"template=regression&action=channel%3Ax",
        ] {
            assert!(rule_body(&Form::parse(bad)).is_err());
        }
    }
}
