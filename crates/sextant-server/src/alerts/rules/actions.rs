//! "Then" items: email, legacy plugins, Sentry app installations and Sextant's own
//! channels. Whether what they name exists is the caller's to check.

use serde_json::{Map, Value, json};

use super::RuleError;
use super::checks::{Target, target};
use super::ids;
use super::params::{Item, node, stored_item};

/// A "then" item.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// The id as given (one of [`ids`]).
    pub id: &'static str,
    pub kind: ActionKind,
    /// Keys Sextant does not read (Sentry's per-action `uuid`, UI hints).
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ActionKind {
    Email {
        target: EmailTarget,
        fallthrough: Option<Fallthrough>,
    },
    /// A legacy plugin by slug: `webhooks` or `mail`.
    Service { service: String },
    /// A Sentry app installation's alert-rule action; `settings` are `{name, value}`
    /// objects, kept as given.
    SentryApp {
        installation_uuid: String,
        settings: Option<Vec<Map<String, Value>>>,
    },
    /// Every legacy plugin, which here is the webhooks plugin.
    LegacyPlugins,
    /// A notification channel configured in Sextant, by id.
    Channel { channel: i64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailTarget {
    /// The issue's owners (ownership rules), or `fallthrough` when it has none.
    IssueOwners,
    Team(i64),
    Member(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallthrough {
    ActiveMembers,
    AllMembers,
    NoOne,
}

impl Fallthrough {
    pub fn as_str(self) -> &'static str {
        match self {
            Fallthrough::ActiveMembers => "ActiveMembers",
            Fallthrough::AllMembers => "AllMembers",
            Fallthrough::NoOne => "NoOne",
        }
    }
}

const FALLTHROUGHS: [(&str, Fallthrough); 3] = [
    ("ActiveMembers", Fallthrough::ActiveMembers),
    ("AllMembers", Fallthrough::AllMembers),
    ("NoOne", Fallthrough::NoOne),
];
/// The legacy plugins a `NotifyEventServiceAction` may name here.
const SERVICES: [(&str, &str); 2] = [("webhooks", "webhooks"), ("mail", "mail")];

const ACTION_IDS: [&str; 5] = [
    ids::EMAIL_ACTION,
    ids::SERVICE_ACTION,
    ids::SENTRY_APP_ACTION,
    ids::LEGACY_ACTION,
    ids::CHANNEL_ACTION,
];

pub(super) fn parse_action(path: &str, value: &Value) -> Result<Action, RuleError> {
    let (item, id) = node(path, value, &ACTION_IDS, "action")?;
    let (kind, known): (ActionKind, &[&str]) = match id {
        ids::EMAIL_ACTION => {
            let target = match target(&item, "IssueOwners")? {
                Target::Nobody => EmailTarget::IssueOwners,
                Target::Team(id) => EmailTarget::Team(id),
                Target::Member(id) => EmailTarget::Member(id),
            };
            let fallthrough = item.opt_choice("fallthroughType", &FALLTHROUGHS)?;
            (
                ActionKind::Email {
                    target,
                    fallthrough,
                },
                &["targetType", "targetIdentifier", "fallthroughType"],
            )
        }
        ids::SERVICE_ACTION => {
            let service = item.choice("service", &SERVICES)?.to_owned();
            (ActionKind::Service { service }, &["service"])
        }
        ids::SENTRY_APP_ACTION => {
            let installation_uuid = item.required_text("sentryAppInstallationUuid")?;
            let settings = match item.obj.get("settings") {
                None | Some(Value::Null) => None,
                Some(Value::Array(entries)) => Some(settings(&item, entries)?),
                Some(_) => return Err(item.err("settings", "must be a list of {name, value}")),
            };
            (
                ActionKind::SentryApp {
                    installation_uuid,
                    settings,
                },
                &["sentryAppInstallationUuid", "settings"],
            )
        }
        ids::LEGACY_ACTION => (ActionKind::LegacyPlugins, &[]),
        _ => {
            let channel = item.int("channel", 1)?;
            (ActionKind::Channel { channel }, &["channel"])
        }
    };
    Ok(Action {
        id,
        kind,
        extra: item.extra(known),
    })
}

fn settings(item: &Item, entries: &[Value]) -> Result<Vec<Map<String, Value>>, RuleError> {
    entries
        .iter()
        .map(|entry| match entry.as_object() {
            Some(obj) if obj.get("name").is_some_and(Value::is_string) => Ok(obj.clone()),
            _ => Err(item.err("settings", "must be a list of {name, value}")),
        })
        .collect()
}

impl Action {
    /// The stored form: `id`, the parameters in Sentry's types, and the kept extras.
    pub fn params(&self) -> Map<String, Value> {
        let mut out = Map::new();
        match &self.kind {
            ActionKind::Email {
                target,
                fallthrough,
            } => {
                let (kind, identifier) = match target {
                    EmailTarget::IssueOwners => ("IssueOwners", json!("")),
                    EmailTarget::Team(id) => ("Team", json!(id)),
                    EmailTarget::Member(id) => ("Member", json!(id)),
                };
                out.insert("targetType".into(), json!(kind));
                out.insert("targetIdentifier".into(), identifier);
                if let Some(f) = fallthrough {
                    out.insert("fallthroughType".into(), json!(f.as_str()));
                }
            }
            ActionKind::Service { service } => {
                out.insert("service".into(), json!(service));
            }
            ActionKind::SentryApp {
                installation_uuid,
                settings,
            } => {
                out.insert("sentryAppInstallationUuid".into(), json!(installation_uuid));
                if let Some(settings) = settings {
                    out.insert("settings".into(), json!(settings));
                }
            }
            ActionKind::LegacyPlugins => {}
            ActionKind::Channel { channel } => {
                out.insert("channel".into(), json!(channel));
            }
        }
        stored_item(self.id, out, &self.extra)
    }
}
