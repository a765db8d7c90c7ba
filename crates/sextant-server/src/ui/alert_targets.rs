//! The places an organization's alerts go (internal integrations, the legacy webhooks
//! plugin, channels), named as the alert pages show them: a rule's actions, a delivery's
//! target, and the choices of the rule forms.

use sextant_storage::{Channel, DeliveryTarget, SentryApp};

use super::error::UiResult;
use crate::alerts::rules::{Action, ActionKind};
use crate::state::AppState;

/// The value of the rule forms' "legacy webhooks plugin" choice.
pub const WEBHOOKS_CHOICE: &str = "webhooks";

/// The console's name of a channel kind (`ChannelConfig::kind_name`).
pub fn kind_label(kind: &str) -> &str {
    match kind {
        "slack" => "Slack",
        "discord" => "Discord",
        "ms_teams" => "Microsoft Teams",
        "google_chat" => "Google Chat",
        "mattermost" => "Mattermost",
        "telegram" => "Telegram",
        "ntfy" => "ntfy",
        "pager_duty" => "PagerDuty",
        other => other,
    }
}

/// An organization's internal integrations and channels.
pub struct Targets {
    apps: Vec<SentryApp>,
    channels: Vec<Channel>,
}

impl Targets {
    pub async fn load(state: &AppState, org_id: i64) -> UiResult<Targets> {
        Ok(Targets {
            apps: state.store.list_sentry_apps(org_id).await?,
            channels: state.store.list_channels(org_id).await?,
        })
    }

    fn channel_name(&self, id: i64) -> String {
        match self.channels.iter().find(|c| c.id == id) {
            Some(c) => format!("{} ({})", c.name, kind_label(&c.kind)),
            None => format!("channel {id} (deleted)"),
        }
    }

    /// What a rule's action does, with the integration or channel named.
    pub fn action(&self, action: &Action) -> String {
        match &action.kind {
            ActionKind::SentryApp {
                installation_uuid, ..
            } => match self
                .apps
                .iter()
                .find(|a| &a.installation_uuid == installation_uuid)
            {
                Some(app) => format!("Send a notification via {}", app.name),
                None => {
                    format!("Send a notification via integration {installation_uuid} (deleted)")
                }
            },
            ActionKind::Channel { channel } => {
                format!("Send a notification to {}", self.channel_name(*channel))
            }
            _ => action.name(),
        }
    }

    /// Where a delivery goes. A plugin URL may carry a password, which is hidden.
    pub fn delivery(&self, target: &DeliveryTarget) -> String {
        match target {
            DeliveryTarget::SentryApp { app_id } => {
                match self.apps.iter().find(|a| a.id == *app_id) {
                    Some(app) => format!("{} (integration)", app.name),
                    None => format!("integration {app_id} (deleted)"),
                }
            }
            DeliveryTarget::Channel { channel_id } => self.channel_name(*channel_id),
            DeliveryTarget::Webhook { url } => {
                format!("{} (webhooks plugin)", sextant_storage::redact_url(url))
            }
            DeliveryTarget::Email { address } => format!("{address} (email)"),
            DeliveryTarget::Digest { user_id, .. } => format!("email digest of user {user_id}"),
        }
    }

    /// The actions a rule of project `project_id` may take, as (form value, label):
    /// alertable integrations, the legacy webhooks plugin (said to have no URLs unless
    /// `plugin_urls`), and the organization's and project's channels.
    pub fn choices(&self, project_id: i64, plugin_urls: bool) -> Vec<(String, String)> {
        let apps = self.apps.iter().filter(|a| a.is_alertable).map(|a| {
            (
                format!("app:{}", a.installation_uuid),
                format!("{} (integration)", a.name),
            )
        });
        let plugin_label = if plugin_urls {
            "Legacy webhooks plugin"
        } else {
            "Legacy webhooks plugin (no URLs set yet)"
        };
        let plugin = std::iter::once((WEBHOOKS_CHOICE.to_string(), plugin_label.to_string()));
        let channels = self
            .channels
            .iter()
            .filter(|c| c.project_id.is_none_or(|p| p == project_id))
            .map(|c| {
                (
                    format!("channel:{}", c.id),
                    format!("{} ({})", c.name, kind_label(&c.kind)),
                )
            });
        apps.chain(plugin).chain(channels).collect()
    }
}
