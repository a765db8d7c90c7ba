//! Notification channels: a channel's settings, and the exact HTTP request that tells it
//! about a notice. Rendering is pure (no I/O, no clock): the sender posts the
//! [`OutboundRequest`] as it is, so what a channel receives is decided, and tested, here.
//!
//! Every channel has something to say for every kind of notice but one: a recovery is a
//! message of its own on chat channels ("Resolved: …") and a `resolve` event on the same
//! `dedup_key` for PagerDuty, which closes the incident the trigger opened; a recovery
//! without a `dedup_key` resolves nothing, so PagerDuty is sent nothing for it.

mod discord;
mod google_chat;
mod mattermost;
mod ntfy;
mod pagerduty;
mod settings;
mod slack;
mod teams;
mod telegram;
mod text;

#[cfg(test)]
mod fixtures;

use serde::{Deserialize, Serialize};

use crate::alerts::notice::Notice;

/// Where notices go and with which credentials. The secrets it holds (webhook URLs,
/// tokens, routing keys) never leave through `Debug`, which prints [`Self::redacted`].
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChannelConfig {
    /// Slack incoming webhook (Block Kit).
    Slack {
        webhook_url: String,
    },
    Discord {
        webhook_url: String,
    },
    /// Teams Workflows (Power Automate) webhook: an Adaptive Card.
    #[serde(rename = "msteams")]
    MsTeams {
        webhook_url: String,
    },
    GoogleChat {
        webhook_url: String,
    },
    /// Mattermost incoming webhook (Markdown text and attachments).
    Mattermost {
        webhook_url: String,
    },
    Telegram {
        bot_token: String,
        chat_id: String,
        /// The forum topic to post in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thread_id: Option<i64>,
        /// Default `https://api.telegram.org`; a local Bot API server otherwise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_base: Option<String>,
    },
    Ntfy {
        /// Default `https://ntfy.sh`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base_url: Option<String>,
        topic: String,
        /// Access token, sent as `Authorization: Bearer …`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
    },
    /// PagerDuty Events API v2.
    #[serde(rename = "pagerduty")]
    PagerDuty {
        routing_key: String,
        /// Default `https://events.pagerduty.com/v2/enqueue`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        events_url: Option<String>,
    },
}

pub const TELEGRAM_API_BASE: &str = "https://api.telegram.org";
pub const NTFY_BASE_URL: &str = "https://ntfy.sh";
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// One HTTP request to send, always a `POST`. Its URL and headers may hold secrets (a
/// Telegram bot token, an ntfy token), so `Debug` shows only the origin and header names.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// A setting is missing or malformed; `field` is its name in the settings.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("could not encode the request body: {0}")]
    Encode(#[from] serde_json::Error),
}

impl ChannelError {
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        ChannelError::Invalid {
            field,
            message: message.into(),
        }
    }
}

impl OutboundRequest {
    /// A POST of `body` as JSON to `url`.
    fn json(url: String, body: &serde_json::Value) -> Result<Self, ChannelError> {
        Ok(OutboundRequest {
            url,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: serde_json::to_vec(body)?,
        })
    }
}

impl std::fmt::Debug for OutboundRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let origin = url::Url::parse(&self.url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| "<invalid url>".into());
        let headers: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("OutboundRequest")
            .field("origin", &origin)
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl std::fmt::Debug for ChannelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChannelConfig({})", self.redacted())
    }
}

impl ChannelConfig {
    /// The `kind` tag of these settings.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ChannelConfig::Slack { .. } => "slack",
            ChannelConfig::Discord { .. } => "discord",
            ChannelConfig::MsTeams { .. } => "msteams",
            ChannelConfig::GoogleChat { .. } => "google_chat",
            ChannelConfig::Mattermost { .. } => "mattermost",
            ChannelConfig::Telegram { .. } => "telegram",
            ChannelConfig::Ntfy { .. } => "ntfy",
            ChannelConfig::PagerDuty { .. } => "pagerduty",
        }
    }

    /// Checks the settings (URL parses, scheme http/https, required fields non-empty,
    /// lengths bounded); the error names the field.
    pub fn validate(&self) -> Result<(), ChannelError> {
        settings::validate(self)
    }

    /// The settings with every secret replaced, for API responses and logs: webhook URLs
    /// keep only `scheme://host/…****` (their path is the secret), tokens, routing keys
    /// and ntfy topics (on a public server the topic is the password) keep at most their
    /// last 4 characters.
    pub fn redacted(&self) -> serde_json::Value {
        settings::redacted(self)
    }

    /// The request that tells this channel about `notice`, after checking the settings.
    /// `Ok(None)` when the channel has nothing to say about it (see the module
    /// documentation: only a PagerDuty resolve without a `dedup_key`).
    pub fn render(&self, notice: &Notice) -> Result<Option<OutboundRequest>, ChannelError> {
        self.validate()?;
        let request = match self {
            ChannelConfig::Slack { webhook_url } => {
                OutboundRequest::json(webhook_url.trim().to_string(), &slack::body(notice))?
            }
            ChannelConfig::Discord { webhook_url } => {
                OutboundRequest::json(webhook_url.trim().to_string(), &discord::body(notice))?
            }
            ChannelConfig::MsTeams { webhook_url } => {
                OutboundRequest::json(webhook_url.trim().to_string(), &teams::body(notice))?
            }
            ChannelConfig::GoogleChat { webhook_url } => {
                OutboundRequest::json(webhook_url.trim().to_string(), &google_chat::body(notice))?
            }
            ChannelConfig::Mattermost { webhook_url } => {
                OutboundRequest::json(webhook_url.trim().to_string(), &mattermost::body(notice))?
            }
            ChannelConfig::Telegram {
                bot_token,
                chat_id,
                thread_id,
                api_base,
            } => {
                let base = api_base.as_deref().unwrap_or(TELEGRAM_API_BASE);
                let url = format!(
                    "{}/bot{}/sendMessage",
                    base.trim().trim_end_matches('/'),
                    bot_token.trim()
                );
                OutboundRequest::json(url, &telegram::body(chat_id.trim(), *thread_id, notice))?
            }
            ChannelConfig::Ntfy {
                base_url,
                topic,
                token,
            } => {
                let base = base_url.as_deref().unwrap_or(NTFY_BASE_URL);
                let url = format!("{}/", base.trim().trim_end_matches('/'));
                let mut request = OutboundRequest::json(url, &ntfy::body(topic.trim(), notice))?;
                if let Some(token) = token {
                    request
                        .headers
                        .push(("Authorization".into(), format!("Bearer {}", token.trim())));
                }
                request
            }
            ChannelConfig::PagerDuty {
                routing_key,
                events_url,
            } => {
                let url = events_url.as_deref().unwrap_or(PAGERDUTY_EVENTS_URL);
                match pagerduty::body(routing_key.trim(), notice) {
                    Some(body) => OutboundRequest::json(url.trim().to_string(), &body)?,
                    None => return Ok(None),
                }
            }
        };
        Ok(Some(request))
    }
}
