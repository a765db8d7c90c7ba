//! A metric rule's triggers (`critical`, then an optional `warning`) and their actions,
//! validated as Sentry's `AlertRuleTriggerSerializer` and
//! `AlertRuleTriggerActionSerializer` do: labels in order, thresholds consistent with the
//! direction and the resolve threshold, and each action's `type`, `targetType` and
//! `targetIdentifier` together. Besides Sentry's `email` and `sentry_app` actions, an
//! action may name a Sextant channel (`sextant_channel`).

use serde_json::{Map, Value, json};

use super::super::rules::RuleError;
use super::machine::Direction;
use super::spec::as_number;

/// Actions one trigger may have: their ids are derived from the trigger's
/// ([`Action::id`]), which leaves room for this many.
pub const MAX_ACTIONS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Critical,
    Warning,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Critical => "critical",
            Label::Warning => "warning",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub label: Label,
    pub alert_threshold: f64,
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ActionKind {
    /// Stored and shown; mail is sent by the mail module, not here.
    Email,
    /// An internal integration, by app id or installation; the caller resolves it and
    /// fills in `app_id`.
    SentryApp {
        app_id: Option<i64>,
        installation_uuid: Option<String>,
    },
    /// A notification channel configured in Sextant.
    Channel { channel_id: i64 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub kind: ActionKind,
    /// `user`, `team`, `specific` or `sentry_app`.
    pub target_type: String,
    pub target_identifier: String,
    /// Saved settings of an integration's alert-rule action, kept and shown as given.
    pub settings: Option<Value>,
}

impl Action {
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            ActionKind::Email => "email",
            ActionKind::SentryApp { .. } => "sentry_app",
            ActionKind::Channel { .. } => "sextant_channel",
        }
    }

    /// Stable while the action keeps its place in its trigger.
    pub fn id(trigger_id: i64, index: usize) -> i64 {
        trigger_id * 1000 + i64::try_from(index).unwrap_or(0)
    }

    /// The same action on both triggers is one action (Sentry's
    /// `deduplicate_trigger_actions`).
    pub fn key(&self) -> (String, String, String) {
        let app = match &self.kind {
            ActionKind::SentryApp { app_id, .. } => app_id.map(|a| a.to_string()),
            _ => None,
        };
        (
            self.type_name().to_string(),
            self.target_identifier.clone(),
            app.unwrap_or_default(),
        )
    }

    fn stored(&self) -> Value {
        let mut out = json!({
            "type": self.type_name(),
            "targetType": self.target_type,
            "targetIdentifier": self.target_identifier,
        });
        if let ActionKind::SentryApp {
            app_id,
            installation_uuid,
        } = &self.kind
        {
            out["sentryAppId"] = json!(app_id);
            out["sentryAppInstallationUuid"] = json!(installation_uuid);
        }
        if let Some(settings) = &self.settings {
            out["settings"] = settings.clone();
        }
        out
    }
}

impl Trigger {
    pub(super) fn stored(&self) -> Value {
        json!({
            "alertThreshold": self.alert_threshold,
            "actions": self.actions.iter().map(Action::stored).collect::<Vec<_>>(),
        })
    }
}

fn err(field: String, message: impl Into<String>) -> RuleError {
    RuleError::new(field, message)
}

/// A whole number given as a number or a string.
fn id_of(v: &Value) -> Option<i64> {
    let n = as_number(v)?;
    (n.fract() == 0.0 && n > 0.0 && n < 1e15).then_some(n as i64)
}

/// `targetIdentifier` as text: Sentry takes numbers and strings alike.
fn identifier(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn parse_action(path: &str, value: &Value) -> Result<Action, RuleError> {
    let obj = value
        .as_object()
        .ok_or_else(|| err(path.to_string(), "must be an object"))?;
    let field = |key: &str| format!("{path}.{key}");
    let given = |key: &str| obj.get(key).filter(|v| !v.is_null());
    let type_name = given("type").and_then(Value::as_str).map(str::trim);
    let target_type = given("targetType").and_then(Value::as_str).map(str::trim);
    let target = identifier(given("targetIdentifier"));
    let (Some(type_name), Some(target_type)) = (type_name, target_type) else {
        return Err(err(
            path.to_string(),
            "type, targetType and targetIdentifier must be passed together",
        ));
    };
    let (kind, target_types): (ActionKind, &[&str]) = match type_name {
        "email" => (ActionKind::Email, &["user", "team"]),
        "sentry_app" => {
            let app_id = given("sentryAppId")
                .or_else(|| given("sentryApp"))
                .map(|v| id_of(v).ok_or_else(|| err(field("sentryApp"), "must be an app id")))
                .transpose()?
                .or_else(|| target.as_deref().and_then(|t| t.parse().ok()));
            let installation_uuid = given("sentryAppInstallationUuid")
                .and_then(Value::as_str)
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty());
            if app_id.is_none() && installation_uuid.is_none() {
                return Err(err(
                    field("sentryApp"),
                    "SentryApp must be provided for sentry_app",
                ));
            }
            (
                ActionKind::SentryApp {
                    app_id,
                    installation_uuid,
                },
                &["sentry_app"],
            )
        }
        "sextant_channel" => {
            let channel_id = target
                .as_deref()
                .and_then(|t| t.parse().ok())
                .filter(|id: &i64| *id > 0)
                .ok_or_else(|| err(field("targetIdentifier"), "must be the id of a channel"))?;
            (ActionKind::Channel { channel_id }, &["specific"])
        }
        "slack" | "msteams" | "pagerduty" | "opsgenie" | "discord" => {
            return Err(err(
                field("type"),
                format!(
                    "{type_name:?} needs one of Sentry's integrations, which Sextant replaces with \
                     its own channels: create one under alert-channels and use \
                     {{\"type\": \"sextant_channel\", \"targetType\": \"specific\", \
                     \"targetIdentifier\": \"<channel id>\"}}"
                ),
            ));
        }
        other => {
            return Err(err(
                field("type"),
                format!(
                    "Invalid type {other:?}, valid values are [\"email\", \"sentry_app\", \
                     \"sextant_channel\"]"
                ),
            ));
        }
    };
    if !target_types.contains(&target_type) {
        return Err(err(
            field("targetType"),
            format!(
                "Invalid target type for {type_name}. Valid types are [{}]",
                target_types.join(",")
            ),
        ));
    }
    let target = match (&kind, target) {
        (_, Some(t)) => t,
        (
            ActionKind::SentryApp {
                app_id: Some(id), ..
            },
            None,
        ) => id.to_string(),
        // Filled in with the app's id once the installation is looked up.
        (
            ActionKind::SentryApp {
                installation_uuid: Some(_),
                ..
            },
            None,
        ) => String::new(),
        (_, None) => {
            return Err(err(field("targetIdentifier"), "This field is required."));
        }
    };
    let settings = given("settings")
        .or_else(|| given("sentryAppConfig"))
        .cloned();
    Ok(Action {
        kind,
        target_type: target_type.to_string(),
        target_identifier: target,
        settings,
    })
}

fn parse_trigger(index: usize, value: &Value, expected: Label) -> Result<Trigger, RuleError> {
    let path = format!("triggers[{index}]");
    let obj = value
        .as_object()
        .ok_or_else(|| err(path.clone(), "must be an object"))?;
    if obj.get("label").and_then(Value::as_str) != Some(expected.as_str()) {
        return Err(err(
            path,
            format!(
                "Trigger {} must be labeled \"{}\"",
                index + 1,
                expected.as_str()
            ),
        ));
    }
    let alert_threshold = obj
        .get("alertThreshold")
        .filter(|v| !v.is_null())
        .ok_or_else(|| err(format!("{path}.alertThreshold"), "This field is required."))
        .and_then(|v| {
            as_number(v).ok_or_else(|| {
                err(
                    format!("{path}.alertThreshold"),
                    "A valid number is required.",
                )
            })
        })?;
    let actions = match obj.get("actions") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            if items.len() > MAX_ACTIONS {
                return Err(err(
                    format!("{path}.actions"),
                    format!("at most {MAX_ACTIONS} actions per trigger"),
                ));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, a)| parse_action(&format!("{path}.actions[{i}]"), a))
                .collect::<Result<Vec<_>, _>>()?
        }
        Some(_) => return Err(err(format!("{path}.actions"), "Expected a list of items.")),
    };
    Ok(Trigger {
        label: expected,
        alert_threshold,
        actions,
    })
}

/// Sentry's `_validate_trigger_thresholds`: a trigger must alert on the far side of the
/// resolve threshold. Sentry compares strictly, so whole numbers get one unit of room
/// (alert above 0 and resolve below 1 is valid).
fn check_against_resolve(
    trigger: &Trigger,
    direction: Direction,
    resolve: f64,
) -> Result<(), RuleError> {
    let alert = trigger.alert_threshold;
    let whole = alert.fract() == 0.0 && resolve.fract() == 0.0;
    let room = if whole { 1.0 } else { 0.0 };
    let bad = match direction {
        Direction::Above => alert + room <= resolve - room,
        Direction::Below => alert - room >= resolve + room,
    };
    if bad {
        return Err(RuleError::new(
            "resolveThreshold",
            format!(
                "{} alert threshold must be {} resolution threshold",
                trigger.label.as_str(),
                direction.name()
            ),
        ));
    }
    Ok(())
}

pub fn parse_triggers(
    value: Option<&Value>,
    direction: Direction,
    resolve: Option<f64>,
) -> Result<Vec<Trigger>, RuleError> {
    let items = match value {
        None => return Err(err("triggers".into(), "This field is required.")),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(err("triggers".into(), "Expected a list of items.")),
    };
    if items.is_empty() {
        return Err(err("triggers".into(), "Must include at least one trigger"));
    }
    if items.len() > 2 {
        return Err(err(
            "triggers".into(),
            "Must send 1 or 2 triggers - A critical trigger, and an optional warning trigger",
        ));
    }
    let triggers = items
        .iter()
        .zip([Label::Critical, Label::Warning])
        .enumerate()
        .map(|(i, (item, label))| parse_trigger(i, item, label))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(resolve) = resolve {
        for trigger in &triggers {
            check_against_resolve(trigger, direction, resolve)?;
        }
    }
    if let [critical, warning] = triggers.as_slice() {
        let inverted = match direction {
            Direction::Above => critical.alert_threshold < warning.alert_threshold,
            Direction::Below => critical.alert_threshold > warning.alert_threshold,
        };
        if inverted {
            return Err(err(
                "triggers".into(),
                format!(
                    "Critical trigger must have an alert threshold {} warning trigger",
                    direction.name()
                ),
            ));
        }
    }
    Ok(triggers)
}

/// The triggers' actions in the stored and API shape, keyed by the trigger's id.
pub fn actions_json(trigger_id: i64, actions: &[Action], created: &str) -> Vec<Value> {
    actions
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let app_id = match &a.kind {
                ActionKind::SentryApp { app_id, .. } => *app_id,
                _ => None,
            };
            // Sentry shows the identifier of an integration as a number.
            let target: Value = match (&a.kind, a.target_identifier.parse::<i64>()) {
                (ActionKind::SentryApp { .. }, Ok(n)) => n.into(),
                _ => a.target_identifier.clone().into(),
            };
            let mut out = Map::new();
            out.insert("id".into(), Action::id(trigger_id, i).to_string().into());
            out.insert("alertRuleTriggerId".into(), trigger_id.to_string().into());
            out.insert("type".into(), a.type_name().into());
            out.insert("targetType".into(), a.target_type.clone().into());
            out.insert("targetIdentifier".into(), target);
            out.insert("inputChannelId".into(), Value::Null);
            out.insert("integrationId".into(), Value::Null);
            out.insert("sentryAppId".into(), app_id.into());
            out.insert("dateCreated".into(), created.into());
            out.insert("desc".into(), describe(a).into());
            out.insert("priority".into(), Value::Null);
            if let ActionKind::SentryApp {
                installation_uuid: Some(uuid),
                ..
            } = &a.kind
            {
                out.insert("sentryAppInstallationUuid".into(), uuid.clone().into());
            }
            if let Some(settings) = &a.settings {
                out.insert("settings".into(), settings.clone());
            }
            Value::Object(out)
        })
        .collect()
}

/// Sentry's `human_desc`, in its words where it has them.
fn describe(action: &Action) -> String {
    match &action.kind {
        ActionKind::Email if action.target_type == "team" => {
            format!(
                "Send an email to members of team {}",
                action.target_identifier
            )
        }
        ActionKind::Email => format!("Send a notification to user {}", action.target_identifier),
        ActionKind::SentryApp { .. } => {
            format!(
                "Send a notification via integration {}",
                action.target_identifier
            )
        }
        ActionKind::Channel { channel_id } => {
            format!("Send a notification to channel {channel_id}")
        }
    }
}
