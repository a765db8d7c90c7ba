//! An organization's notification channels (`/orgs/{org}/alerts/channels`): the list with
//! settings redacted (a secret is shown only while it is typed in), new channels of each
//! kind, deletion, and "Send test", which goes through the outbox like any alert.
//! Changes need the admin or owner role.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;
use sextant_storage::{Channel, Organization, Role};

use super::alert_targets::kind_label;
use super::error::{UiError, UiResult};
use super::format::ago;
use super::pages::{Nav, render};
use super::viewer::{Form, Viewer};
use crate::alerts::channel_store::{self, ChannelSaveError};
use crate::alerts::channels::ChannelConfig;
use crate::clock::format_ms;
use crate::state::AppState;

/// The kinds that take nothing but an incoming webhook URL.
const WEBHOOK_KINDS: [&str; 5] = ["slack", "discord", "ms_teams", "google_chat", "mattermost"];

pub struct ChannelRow {
    pub name: String,
    pub kind: String,
    pub project: String,
    pub settings: Vec<(String, String)>,
    pub created: String,
    pub created_at: String,
    pub test_url: String,
    pub delete_url: String,
}

#[derive(Template)]
#[template(path = "alert_channels.html")]
struct ChannelsPage {
    nav: Option<Nav>,
    title: String,
    org: Organization,
    settings_url: String,
    deliveries_url: String,
    create_url: String,
    channels: Vec<ChannelRow>,
    webhook_kinds: Vec<(&'static str, &'static str)>,
    can_admin: bool,
    csrf: String,
    error: String,
}

/// The redacted settings as (name, value) rows, the kind left out.
fn settings_rows(channel: &Channel) -> Vec<(String, String)> {
    let redacted = serde_json::from_str::<ChannelConfig>(&channel.config)
        .map(|c| c.redacted())
        .unwrap_or(Value::Null);
    let Value::Object(fields) = redacted else {
        return vec![("settings".into(), "unreadable".into())];
    };
    fields
        .into_iter()
        .filter(|(name, _)| name != "kind")
        .map(|(name, value)| {
            let shown = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (name, shown)
        })
        .collect()
}

async fn channels_page(
    state: &AppState,
    viewer: &Viewer,
    slug: &str,
    error: &str,
) -> UiResult<Response> {
    let role = viewer.role(slug)?;
    let org = state.store.get_org(slug).await?;
    let now = state.clock.now_ms();
    let projects = state.store.list_projects(Some(org.id)).await?;
    let base = format!("/orgs/{}/alerts", org.slug);
    let channels = state
        .store
        .list_channels(org.id)
        .await?
        .into_iter()
        .map(|c| ChannelRow {
            settings: settings_rows(&c),
            kind: kind_label(&c.kind).to_string(),
            project: c
                .project_id
                .and_then(|id| projects.iter().find(|p| p.id == id))
                .map(|p| p.slug.clone())
                .unwrap_or_default(),
            created: ago(c.created_at, now),
            created_at: format_ms(c.created_at),
            test_url: format!("{base}/channels/{}/test", c.id),
            delete_url: format!("{base}/channels/{}/delete", c.id),
            name: c.name,
        })
        .collect();
    let page = ChannelsPage {
        nav: Some(Nav::build(state, viewer, None).await?),
        title: format!("{} alert channels", org.name),
        settings_url: format!("/orgs/{}/settings", org.slug),
        deliveries_url: format!("{base}/deliveries"),
        create_url: format!("{base}/channels"),
        channels,
        webhook_kinds: WEBHOOK_KINDS.iter().map(|k| (*k, kind_label(k))).collect(),
        can_admin: role >= Role::Admin,
        csrf: viewer.session.csrf_token.clone(),
        error: error.into(),
        org,
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
    Path(slug): Path<String>,
) -> UiResult<Response> {
    channels_page(&state, &viewer, &slug, "").await
}

/// The settings a "new channel" form describes; empty optional fields are left out.
fn config_of(form: &Form) -> Result<ChannelConfig, String> {
    let text = |name: &str| form.text(name).to_string();
    let optional = |name: &str| {
        Some(form.text(name))
            .filter(|v| !v.is_empty())
            .map(String::from)
    };
    let webhook_url = text("webhook_url");
    Ok(match form.text("kind") {
        "slack" => ChannelConfig::Slack { webhook_url },
        "discord" => ChannelConfig::Discord { webhook_url },
        "ms_teams" => ChannelConfig::MsTeams { webhook_url },
        "google_chat" => ChannelConfig::GoogleChat { webhook_url },
        "mattermost" => ChannelConfig::Mattermost { webhook_url },
        "telegram" => ChannelConfig::Telegram {
            bot_token: text("bot_token"),
            chat_id: text("chat_id"),
            thread_id: optional("thread_id")
                .map(|id| id.parse::<i64>())
                .transpose()
                .map_err(|_| "thread_id: must be a whole number".to_string())?,
            api_base: None,
        },
        "ntfy" => ChannelConfig::Ntfy {
            base_url: optional("base_url"),
            topic: text("topic"),
            token: optional("token"),
        },
        "pager_duty" => ChannelConfig::PagerDuty {
            routing_key: text("routing_key"),
            events_url: None,
        },
        other => return Err(format!("Unknown channel kind {other:?}.")),
    })
}

pub async fn create(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(slug): Path<String>,
    body: Bytes,
) -> UiResult<Response> {
    let form = viewer.form(&body)?;
    viewer.require_admin(&slug)?;
    let org = state.store.get_org(&slug).await?;
    let config = match config_of(&form) {
        Ok(config) => config,
        Err(refusal) => return channels_page(&state, &viewer, &slug, &refusal).await,
    };
    let name = match form.text("name") {
        "" => kind_label(config.kind_name()),
        name => name,
    };
    let new = match channel_store::new_channel(org.id, None, Some(name), &config) {
        Ok(new) => new,
        Err(err @ (ChannelSaveError::Config(_) | ChannelSaveError::Name)) => {
            let refusal = format!("Not saved: {err}");
            return channels_page(&state, &viewer, &slug, &refusal).await;
        }
        Err(err) => return Err(UiError::Internal(err.to_string())),
    };
    state.store.create_channel(&new).await?;
    Ok(Redirect::to(&format!("/orgs/{slug}/alerts/channels")).into_response())
}

/// The organization in the path and its channel `raw_id`; 404 for another's channel.
async fn org_channel(
    state: &AppState,
    slug: &str,
    raw_id: &str,
) -> UiResult<(Organization, Channel)> {
    let org = state.store.get_org(slug).await?;
    let id: i64 = raw_id.parse().map_err(|_| UiError::NotFound)?;
    let channel = state.store.get_channel(id).await?;
    if channel.org_id != org.id {
        return Err(UiError::NotFound);
    }
    Ok((org, channel))
}

pub async fn delete(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((slug, raw_id)): Path<(String, String)>,
    body: Bytes,
) -> UiResult<Response> {
    viewer.form(&body)?;
    viewer.require_admin(&slug)?;
    let (_, channel) = org_channel(&state, &slug, &raw_id).await?;
    state.store.delete_channel(channel.id).await?;
    Ok(Redirect::to(&format!("/orgs/{slug}/alerts/channels")).into_response())
}

/// Queues a test notice and shows its delivery, where its attempts will appear.
pub async fn send_test(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((slug, raw_id)): Path<(String, String)>,
    body: Bytes,
) -> UiResult<Response> {
    viewer.form(&body)?;
    viewer.require_admin(&slug)?;
    let (org, channel) = org_channel(&state, &slug, &raw_id).await?;
    let now = state.clock.now_ms();
    let written =
        channel_store::send_test(state.store.as_ref(), &org, &channel, &state.base_url(), now)
            .await
            .map_err(|err| match err {
                ChannelSaveError::Store(e) => e.into(),
                other => UiError::Internal(other.to_string()),
            })?;
    state.alert_deliveries.notify_one();
    let target = match written {
        Some(delivery) => format!("/orgs/{slug}/alerts/deliveries/{}", delivery.id),
        None => format!("/orgs/{slug}/alerts/deliveries"),
    };
    Ok(Redirect::to(&target).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_describe_each_kind_of_channel() {
        let slack = config_of(&Form::parse(
            b"kind=slack&webhook_url=https%3A%2F%2Fh.example%2Fx",
        ));
        assert_eq!(
            slack,
            Ok(ChannelConfig::Slack {
                webhook_url: "https://h.example/x".into()
            })
        );
        let telegram = config_of(&Form::parse(
            b"kind=telegram&bot_token=1%3Aab&chat_id=-100&thread_id=7",
        ));
        assert_eq!(
            telegram,
            Ok(ChannelConfig::Telegram {
                bot_token: "1:ab".into(),
                chat_id: "-100".into(),
                thread_id: Some(7),
                api_base: None,
            })
        );
        let ntfy = config_of(&Form::parse(b"kind=ntfy&topic=ops&base_url=&token="));
        assert_eq!(
            ntfy,
            Ok(ChannelConfig::Ntfy {
                base_url: None,
                topic: "ops".into(),
                token: None,
            })
        );
        assert!(config_of(&Form::parse(b"kind=telegram&thread_id=x")).is_err());
        assert!(config_of(&Form::parse(b"kind=carrier_pigeon")).is_err());
    }
}
