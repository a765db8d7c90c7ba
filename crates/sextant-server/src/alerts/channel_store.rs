//! Saving notification channels and sending them a test notice, for the API and the
//! console alike.

use sextant_storage::{
    Channel, Delivery, DeliveryTarget, Millis, NewChannel, NewDelivery, Organization, Store,
    StoreError,
};

use super::channels::{ChannelConfig, ChannelError};
use super::notice::{Notice, NoticeKind};

const MAX_NAME_CHARS: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum ChannelSaveError {
    #[error("config: {0}")]
    Config(#[from] ChannelError),
    #[error("name: 1 to {MAX_NAME_CHARS} characters")]
    Name,
    #[error("could not encode the channel's settings or notice: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("storage failed")]
    Store(#[from] StoreError),
}

/// The record of a channel with these settings, checked; without a name it is named
/// after its kind.
pub fn new_channel(
    org_id: i64,
    project_id: Option<i64>,
    name: Option<&str>,
    config: &ChannelConfig,
) -> Result<NewChannel, ChannelSaveError> {
    config.validate()?;
    let name = name.unwrap_or(config.kind_name()).trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ChannelSaveError::Name);
    }
    Ok(NewChannel {
        org_id,
        project_id,
        name: name.to_string(),
        kind: config.kind_name().to_string(),
        config: serde_json::to_string(config)?,
    })
}

/// "Send test": a test notice through the outbox, like any other delivery, so its
/// result shows in the delivery log. The caller wakes the delivery worker.
pub async fn send_test(
    store: &dyn Store,
    org: &Organization,
    channel: &Channel,
    base_url: &str,
    now: Millis,
) -> Result<Option<Delivery>, ChannelSaveError> {
    let notice = Notice {
        kind: NoticeKind::Test,
        title: format!("Test notification for {}", channel.name),
        project: org.slug.clone(),
        url: format!("{base_url}/orgs/{}/settings", org.slug),
        culprit: None,
        level: Some("info".into()),
        environment: None,
        release: None,
        fields: vec![("channel".into(), channel.name.clone())],
        items: Vec::new(),
        dedup_key: format!("sextant-test-{}", channel.id),
        timestamp_ms: now,
    };
    let delivery = NewDelivery {
        org_id: org.id,
        project_id: channel.project_id,
        issue_id: None,
        rule_id: None,
        target: DeliveryTarget::Channel {
            channel_id: channel.id,
        },
        resource: "test".into(),
        action: "test".into(),
        payload: serde_json::to_string(&notice)?,
    };
    let written = store.enqueue_deliveries(&[delivery]).await?;
    Ok(written.into_iter().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slack(url: &str) -> ChannelConfig {
        ChannelConfig::Slack {
            webhook_url: url.into(),
        }
    }

    #[test]
    fn a_channel_without_a_name_is_named_after_its_kind() {
        let new = new_channel(
            1,
            None,
            None,
            &slack("https://hooks.slack.com/services/T/B/x"),
        )
        .unwrap();
        assert_eq!(new.name, "slack");
        assert_eq!(new.kind, "slack");
        let back: ChannelConfig = serde_json::from_str(&new.config).unwrap();
        assert_eq!(back, slack("https://hooks.slack.com/services/T/B/x"));
    }

    #[test]
    fn bad_settings_and_names_are_refused() {
        let refused = new_channel(1, None, None, &slack("ftp://x"));
        assert!(
            matches!(refused, Err(ChannelSaveError::Config(_))),
            "{refused:?}"
        );
        let good = slack("https://hooks.slack.com/services/T/B/x");
        for name in ["  ", &"n".repeat(201)] {
            let refused = new_channel(1, None, Some(name), &good);
            assert!(
                matches!(refused, Err(ChannelSaveError::Name)),
                "{refused:?}"
            );
        }
    }
}
