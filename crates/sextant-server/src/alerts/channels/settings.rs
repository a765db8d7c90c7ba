//! Checking a channel's settings and hiding their secrets. Values are checked as they
//! will be used (trimmed), and each refusal names the field, so the API can point at it.

use serde_json::Value;

use super::{ChannelConfig, ChannelError};

/// The longest URL accepted in a setting; webhook URLs are far shorter.
const MAX_URL: usize = 2048;

pub(super) fn validate(config: &ChannelConfig) -> Result<(), ChannelError> {
    match config {
        ChannelConfig::Slack { webhook_url }
        | ChannelConfig::Discord { webhook_url }
        | ChannelConfig::MsTeams { webhook_url }
        | ChannelConfig::GoogleChat { webhook_url }
        | ChannelConfig::Mattermost { webhook_url } => {
            check_url("webhook_url", webhook_url).map(drop)
        }
        ChannelConfig::Telegram {
            bot_token,
            chat_id,
            thread_id,
            api_base,
        } => {
            // The token goes into the request path: only the characters Telegram uses.
            check_word("bot_token", bot_token, 128, |c| {
                c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-')
            })?;
            // A numeric id (negative for groups) or an "@channelusername".
            check_word("chat_id", chat_id, 64, |c| {
                c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '@')
            })?;
            if thread_id.is_some_and(|id| id <= 0) {
                return Err(ChannelError::invalid("thread_id", "must be positive"));
            }
            if let Some(base) = api_base {
                check_base_url("api_base", base)?;
            }
            Ok(())
        }
        ChannelConfig::Ntfy {
            base_url,
            topic,
            token,
        } => {
            if let Some(base) = base_url {
                check_base_url("base_url", base)?;
            }
            // ntfy's own rule for topic names.
            check_word("topic", topic, 64, |c| {
                c.is_ascii_alphanumeric() || matches!(c, '-' | '_')
            })?;
            if let Some(token) = token {
                // Sent in a header: visible ASCII only.
                check_word("token", token, 256, |c| c.is_ascii_graphic())?;
            }
            Ok(())
        }
        ChannelConfig::PagerDuty {
            routing_key,
            events_url,
        } => {
            check_word("routing_key", routing_key, 128, |c| {
                c.is_ascii_alphanumeric() || matches!(c, '-' | '_')
            })?;
            if let Some(url) = events_url {
                check_url("events_url", url)?;
            }
            Ok(())
        }
    }
}

fn check_url(field: &'static str, value: &str) -> Result<url::Url, ChannelError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ChannelError::invalid(field, "is required"));
    }
    if value.len() > MAX_URL {
        return Err(ChannelError::invalid(
            field,
            format!("is longer than {MAX_URL} characters"),
        ));
    }
    let url = url::Url::parse(value)
        .map_err(|e| ChannelError::invalid(field, format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ChannelError::invalid(field, "must be an http or https URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ChannelError::invalid(field, "has no host"));
    }
    Ok(url)
}

/// A URL that paths are appended to: no query or fragment, which would swallow them.
fn check_base_url(field: &'static str, value: &str) -> Result<(), ChannelError> {
    let url = check_url(field, value)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ChannelError::invalid(
            field,
            "must not have a query or fragment",
        ));
    }
    Ok(())
}

fn check_word(
    field: &'static str,
    value: &str,
    max: usize,
    allowed: fn(char) -> bool,
) -> Result<(), ChannelError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ChannelError::invalid(field, "is required"));
    }
    if value.chars().count() > max {
        return Err(ChannelError::invalid(
            field,
            format!("is longer than {max} characters"),
        ));
    }
    if let Some(bad) = value.chars().find(|c| !allowed(*c)) {
        return Err(ChannelError::invalid(
            field,
            format!("must not contain {bad:?}"),
        ));
    }
    Ok(())
}

pub(super) fn redacted(config: &ChannelConfig) -> Value {
    let mut shown = config.clone();
    match &mut shown {
        ChannelConfig::Slack { webhook_url }
        | ChannelConfig::Discord { webhook_url }
        | ChannelConfig::MsTeams { webhook_url }
        | ChannelConfig::GoogleChat { webhook_url }
        | ChannelConfig::Mattermost { webhook_url } => *webhook_url = redact_webhook(webhook_url),
        ChannelConfig::Telegram {
            bot_token,
            api_base,
            ..
        } => {
            *bot_token = redact_secret(bot_token);
            if let Some(base) = api_base {
                *base = public_url(base);
            }
        }
        ChannelConfig::Ntfy {
            base_url,
            topic,
            token,
        } => {
            if let Some(base) = base_url {
                *base = public_url(base);
            }
            *topic = redact_secret(topic);
            if let Some(token) = token {
                *token = redact_secret(token);
            }
        }
        ChannelConfig::PagerDuty {
            routing_key,
            events_url,
        } => {
            *routing_key = redact_secret(routing_key);
            if let Some(url) = events_url {
                *url = public_url(url);
            }
        }
    }
    serde_json::to_value(&shown).unwrap_or(Value::Null)
}

/// `scheme://host/…****`: a webhook URL's path is its secret, the host says which
/// service it is.
fn redact_webhook(url: &str) -> String {
    match url::Url::parse(url.trim()) {
        Ok(parsed) => match parsed.host_str() {
            Some(host) => match parsed.port() {
                Some(port) => format!("{}://{host}:{port}/…****", parsed.scheme()),
                None => format!("{}://{host}/…****", parsed.scheme()),
            },
            None => "****".into(),
        },
        Err(_) => "****".into(),
    }
}

/// "********" and, for a secret long enough that they give nothing useful away, its
/// last 4 characters, so a user can tell two secrets apart.
fn redact_secret(secret: &str) -> String {
    let chars: Vec<char> = secret.trim().chars().collect();
    if chars.len() >= 16 {
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("********{tail}")
    } else {
        "********".into()
    }
}

/// A URL that is not itself a secret, without the parts that may carry one
/// (credentials, query, fragment).
fn public_url(url: &str) -> String {
    match url::Url::parse(url.trim()) {
        Ok(mut parsed) => {
            // Both only fail for URLs that cannot have credentials, which have none.
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.set_fragment(None);
            parsed.to_string()
        }
        Err(_) => "****".into(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SLACK_HOOK: &str = "https://hooks.slack.com/services/T0/B0/SlackSecret123";
    const TELEGRAM_TOKEN: &str = "123456:TelegramSecretABCDEFwxyz";
    const NTFY_TOKEN: &str = "tk_NtfySecretToken0123456789";
    const NTFY_TOPIC: &str = "sextant-TopicSecret42";
    const PD_KEY: &str = "PagerDutySecretKey0123456789abcd";

    /// One configuration of each kind, as the API receives it, with the secrets in it.
    fn every_kind() -> Vec<(Value, Vec<&'static str>)> {
        vec![
            (
                json!({"kind": "slack", "webhook_url": SLACK_HOOK}),
                vec!["SlackSecret123"],
            ),
            (
                json!({"kind": "discord", "webhook_url": "https://discord.com/api/webhooks/1/DiscordSecret"}),
                vec!["DiscordSecret"],
            ),
            (
                json!({"kind": "msteams", "webhook_url": "https://x.logic.azure.com/workflows/w/invoke?sig=TeamsSecret"}),
                vec!["TeamsSecret"],
            ),
            (
                json!({"kind": "google_chat", "webhook_url": "https://chat.googleapis.com/v1/spaces/S/messages?key=K&token=ChatSecret"}),
                vec!["ChatSecret"],
            ),
            (
                json!({"kind": "mattermost", "webhook_url": "https://mm.example:8443/hooks/MattermostSecret"}),
                vec!["MattermostSecret"],
            ),
            (
                json!({"kind": "telegram", "bot_token": TELEGRAM_TOKEN, "chat_id": "-100123", "thread_id": 7, "api_base": "https://user:ApiPassword@tg.example/"}),
                vec![TELEGRAM_TOKEN, "TelegramSecret", "ApiPassword"],
            ),
            (
                json!({"kind": "ntfy", "base_url": "https://ntfy.example/", "topic": NTFY_TOPIC, "token": NTFY_TOKEN}),
                vec![NTFY_TOKEN, "NtfySecret", "TopicSecret"],
            ),
            (
                json!({"kind": "pagerduty", "routing_key": PD_KEY, "events_url": "https://events.eu.pagerduty.com/v2/enqueue?auth=QuerySecret"}),
                vec![PD_KEY, "PagerDutySecret", "QuerySecret"],
            ),
        ]
    }

    fn field_of(result: Result<(), ChannelError>) -> &'static str {
        match result {
            Err(ChannelError::Invalid { field, .. }) => field,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn every_kind_round_trips_with_its_tag() {
        for (json, _) in every_kind() {
            let config: ChannelConfig = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(config.kind_name(), json["kind"]);
            assert_eq!(serde_json::to_value(&config).unwrap(), json);
            config.validate().unwrap();
        }
        let minimal: ChannelConfig =
            serde_json::from_value(json!({"kind": "ntfy", "topic": "alerts"})).unwrap();
        assert_eq!(
            minimal,
            ChannelConfig::Ntfy {
                base_url: None,
                topic: "alerts".into(),
                token: None
            }
        );
        assert_eq!(
            serde_json::to_value(&minimal).unwrap(),
            json!({"kind": "ntfy", "topic": "alerts"})
        );
    }

    #[test]
    fn unknown_fields_and_kinds_are_refused() {
        let extra = json!({"kind": "slack", "webhook_url": SLACK_HOOK, "channel": "#ops"});
        let error = serde_json::from_value::<ChannelConfig>(extra).unwrap_err();
        assert!(error.to_string().contains("channel"), "{error}");
        let unknown = json!({"kind": "carrier_pigeon", "webhook_url": SLACK_HOOK});
        assert!(serde_json::from_value::<ChannelConfig>(unknown).is_err());
        let untagged = json!({"webhook_url": SLACK_HOOK});
        assert!(serde_json::from_value::<ChannelConfig>(untagged).is_err());
        let missing = json!({"kind": "telegram", "bot_token": TELEGRAM_TOKEN});
        let error = serde_json::from_value::<ChannelConfig>(missing).unwrap_err();
        assert!(error.to_string().contains("chat_id"), "{error}");
    }

    #[test]
    fn redaction_never_shows_a_secret() {
        for (json, secrets) in every_kind() {
            let config: ChannelConfig = serde_json::from_value(json).unwrap();
            let shown = config.redacted().to_string();
            let debug = format!("{config:?}");
            for secret in secrets {
                assert!(!shown.contains(secret), "{secret} in {shown}");
                assert!(!debug.contains(secret), "{secret} in {debug}");
            }
        }
    }

    #[test]
    fn redaction_keeps_what_tells_settings_apart() {
        let redact = |json: Value| {
            serde_json::from_value::<ChannelConfig>(json)
                .unwrap()
                .redacted()
        };
        let kinds = every_kind();
        assert_eq!(
            redact(kinds[0].0.clone()),
            json!({"kind": "slack", "webhook_url": "https://hooks.slack.com/…****"})
        );
        assert_eq!(
            redact(kinds[4].0.clone()),
            json!({"kind": "mattermost", "webhook_url": "https://mm.example:8443/…****"})
        );
        assert_eq!(
            redact(kinds[5].0.clone()),
            json!({"kind": "telegram", "bot_token": "********wxyz", "chat_id": "-100123", "thread_id": 7, "api_base": "https://tg.example/"})
        );
        assert_eq!(
            redact(kinds[6].0.clone()),
            json!({"kind": "ntfy", "base_url": "https://ntfy.example/", "topic": "********et42", "token": "********6789"})
        );
        assert_eq!(
            redact(kinds[7].0.clone()),
            json!({"kind": "pagerduty", "routing_key": "********abcd", "events_url": "https://events.eu.pagerduty.com/v2/enqueue"})
        );
        // A short secret shows nothing of itself.
        assert_eq!(
            redact(json!({"kind": "ntfy", "topic": "short", "token": "tk_12345"})),
            json!({"kind": "ntfy", "topic": "********", "token": "********"})
        );
        assert_eq!(
            redact(json!({"kind": "slack", "webhook_url": "not a url /secret"})),
            json!({"kind": "slack", "webhook_url": "****"})
        );
    }

    #[test]
    fn validation_errors_name_the_field() {
        let slack = |url: &str| ChannelConfig::Slack {
            webhook_url: url.into(),
        };
        assert_eq!(field_of(slack("").validate()), "webhook_url");
        assert_eq!(
            field_of(slack("hooks.slack.com/x").validate()),
            "webhook_url"
        );
        assert_eq!(
            field_of(slack("ftp://hooks.slack.com/x").validate()),
            "webhook_url"
        );
        assert_eq!(
            field_of(slack("javascript:alert(1)").validate()),
            "webhook_url"
        );
        let long = format!("https://hooks.slack.com/{}", "a".repeat(MAX_URL));
        assert_eq!(field_of(slack(&long).validate()), "webhook_url");
        let error = slack("ftp://x").validate().unwrap_err();
        assert_eq!(
            error.to_string(),
            "webhook_url: must be an http or https URL"
        );

        let telegram = |token: &str, chat: &str, thread: Option<i64>, base: Option<&str>| {
            ChannelConfig::Telegram {
                bot_token: token.into(),
                chat_id: chat.into(),
                thread_id: thread,
                api_base: base.map(str::to_string),
            }
        };
        assert_eq!(
            field_of(telegram("", "1", None, None).validate()),
            "bot_token"
        );
        assert_eq!(
            field_of(telegram("1:a/../b", "1", None, None).validate()),
            "bot_token"
        );
        assert_eq!(
            field_of(telegram("1:a", " ", None, None).validate()),
            "chat_id"
        );
        assert_eq!(
            field_of(telegram("1:a", "1", Some(0), None).validate()),
            "thread_id"
        );
        let with_query = telegram("1:a", "1", None, Some("https://t.example/?x=1"));
        assert_eq!(field_of(with_query.validate()), "api_base");
        telegram(" 1:a ", "@my_channel", Some(3), Some("http://t.example"))
            .validate()
            .unwrap();

        let ntfy = |base: Option<&str>, topic: &str, token: Option<&str>| ChannelConfig::Ntfy {
            base_url: base.map(str::to_string),
            topic: topic.into(),
            token: token.map(str::to_string),
        };
        assert_eq!(
            field_of(ntfy(Some("ntfy"), "t", None).validate()),
            "base_url"
        );
        assert_eq!(field_of(ntfy(None, "", None).validate()), "topic");
        assert_eq!(field_of(ntfy(None, "a/b", None).validate()), "topic");
        assert_eq!(
            field_of(ntfy(None, &"t".repeat(65), None).validate()),
            "topic"
        );
        assert_eq!(field_of(ntfy(None, "t", Some("")).validate()), "token");
        assert_eq!(
            field_of(ntfy(None, "t", Some("a\r\nX-Evil: 1")).validate()),
            "token"
        );

        let pagerduty = |key: &str, url: Option<&str>| ChannelConfig::PagerDuty {
            routing_key: key.into(),
            events_url: url.map(str::to_string),
        };
        assert_eq!(field_of(pagerduty("", None).validate()), "routing_key");
        assert_eq!(field_of(pagerduty("a b", None).validate()), "routing_key");
        assert_eq!(
            field_of(pagerduty("abc", Some("mailto:x@y")).validate()),
            "events_url"
        );
    }

    #[test]
    fn render_refuses_invalid_settings() {
        let config = ChannelConfig::Telegram {
            bot_token: "1:a?b".into(),
            chat_id: "1".into(),
            thread_id: None,
            api_base: None,
        };
        let notice = super::super::fixtures::notice();
        assert!(matches!(
            config.render(&notice),
            Err(ChannelError::Invalid {
                field: "bot_token",
                ..
            })
        ));
    }
}
