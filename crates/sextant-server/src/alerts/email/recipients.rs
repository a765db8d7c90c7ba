//! Who a rule's email action mails, as digest targets.
//!
//! Sextant has neither ownership rules nor teams yet, so Sentry's targets map onto the
//! organization's members: `IssueOwners` always falls through (`ActiveMembers` by
//! default, and every member counts as active), `Team` mails every member of the
//! organization, `Member` mails that user when a member. Users who opted out of alert
//! email (the `alerts:email` user option) are left out.

use sextant_storage::{DeliveryTarget, Project, Store, StoreError};

use super::config::EmailConfig;
use super::options::{DigestDelays, opted_out};
use crate::alerts::rules::{ActionKind, EmailTarget, Fallthrough};
use crate::metrics::Metrics;

/// Whom an email action names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Every member of the project's organization.
    Members,
    /// One user, if a member.
    Member(i64),
    Nobody,
}

impl Audience {
    /// The audience of a rule action, or `None` when the action sends no email: Sentry's
    /// `NotifyEmailAction`, and the legacy `mail` plugin (its issue owners).
    pub fn of_action(kind: &ActionKind) -> Option<Audience> {
        Some(match kind {
            ActionKind::Email {
                target: EmailTarget::IssueOwners,
                fallthrough,
            } => match fallthrough.unwrap_or(Fallthrough::ActiveMembers) {
                Fallthrough::ActiveMembers | Fallthrough::AllMembers => Audience::Members,
                Fallthrough::NoOne => Audience::Nobody,
            },
            ActionKind::Email {
                target: EmailTarget::Team(_),
                ..
            } => Audience::Members,
            ActionKind::Email {
                target: EmailTarget::Member(id),
                ..
            } => Audience::Member(*id),
            ActionKind::Service { service } if service == "mail" => Audience::Members,
            _ => return None,
        })
    }
}

/// Where an email action's notice goes: one digest target per recipient. Empty when
/// alert email is off (no SMTP host), which is counted and logged, not an error.
pub async fn digest_targets(
    store: &dyn Store,
    config: &EmailConfig,
    metrics: &Metrics,
    project: &Project,
    audience: Audience,
) -> Result<Vec<DeliveryTarget>, StoreError> {
    if !config.enabled() {
        metrics.alert_email_skipped("no_smtp_host", 1);
        tracing::debug!(
            project = project.id,
            "skipping an email action: alerts.email.smtp_host is not set"
        );
        return Ok(Vec::new());
    }
    let members: Vec<i64> = store
        .list_members(project.org_id)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    let mut users: Vec<i64> = match audience {
        Audience::Members => members,
        Audience::Member(id) if members.contains(&id) => vec![id],
        Audience::Member(id) => {
            metrics.alert_email_skipped("not_a_member", 1);
            tracing::debug!(
                user = id,
                org = project.org_id,
                "skipping an email action: the user is not a member"
            );
            Vec::new()
        }
        Audience::Nobody => Vec::new(),
    };
    let out = opted_out(store, &users).await?;
    if !out.is_empty() {
        metrics.alert_email_skipped("opted_out", out.len() as u64);
        users.retain(|id| !out.contains(id));
    }
    users.sort_unstable();
    users.dedup();
    let delays = DigestDelays::of_project(store, project.id).await?;
    Ok(users
        .into_iter()
        .map(|user_id| DeliveryTarget::Digest {
            user_id,
            min_delay_ms: config.scaled_ms(delays.min_secs),
            max_delay_ms: config.scaled_ms(delays.max_secs),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(target: EmailTarget, fallthrough: Option<Fallthrough>) -> ActionKind {
        ActionKind::Email {
            target,
            fallthrough,
        }
    }

    #[test]
    fn sentry_targets_map_onto_members() {
        let cases = [
            (email(EmailTarget::IssueOwners, None), Audience::Members),
            (
                email(EmailTarget::IssueOwners, Some(Fallthrough::AllMembers)),
                Audience::Members,
            ),
            (
                email(EmailTarget::IssueOwners, Some(Fallthrough::NoOne)),
                Audience::Nobody,
            ),
            (email(EmailTarget::Team(4), None), Audience::Members),
            (email(EmailTarget::Member(7), None), Audience::Member(7)),
        ];
        for (kind, audience) in cases {
            assert_eq!(Audience::of_action(&kind), Some(audience), "{kind:?}");
        }
        let mail = ActionKind::Service {
            service: "mail".into(),
        };
        assert_eq!(Audience::of_action(&mail), Some(Audience::Members));
        let hooks = ActionKind::Service {
            service: "webhooks".into(),
        };
        assert_eq!(Audience::of_action(&hooks), None);
        assert_eq!(Audience::of_action(&ActionKind::LegacyPlugins), None);
    }

    #[tokio::test]
    async fn members_who_opted_out_get_nothing_and_email_off_sends_nothing() {
        let store = sextant_storage::open("sqlite::memory:").await.unwrap();
        let (org, project, _) = store.bootstrap_default().await.unwrap().unwrap();
        let mut ids = Vec::new();
        for email in ["a@example.com", "b@example.com", "c@example.com"] {
            let user = store.create_user(email, "x").await.unwrap();
            ids.push(user.id);
        }
        for id in &ids[..2] {
            store
                .set_member(org.id, *id, sextant_storage::Role::Member)
                .await
                .unwrap();
        }
        store
            .set_user_option(ids[1], "alerts:email", Some(&serde_json::json!("never")))
            .await
            .unwrap();
        let metrics = Metrics::new();
        let on = EmailConfig {
            smtp_host: Some("mail.example".into()),
            digest_scale: 0.5,
            ..EmailConfig::default()
        };
        let users = |targets: Vec<DeliveryTarget>| -> Vec<i64> {
            targets
                .iter()
                .map(|t| match t {
                    DeliveryTarget::Digest { user_id, .. } => *user_id,
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        let all = digest_targets(&*store, &on, &metrics, &project, Audience::Members)
            .await
            .unwrap();
        assert_eq!(
            all[0],
            DeliveryTarget::Digest {
                user_id: ids[0],
                min_delay_ms: 150_000,
                max_delay_ms: 900_000
            },
            "the default delays, scaled"
        );
        assert_eq!(users(all), vec![ids[0]], "b opted out, c is no member");
        let one = digest_targets(&*store, &on, &metrics, &project, Audience::Member(ids[2]))
            .await
            .unwrap();
        assert!(one.is_empty(), "not a member");
        assert_eq!(
            metrics.counter_total("sextant_alert_emails_skipped_total"),
            2
        );
        let off = EmailConfig::default();
        let none = digest_targets(&*store, &off, &metrics, &project, Audience::Members)
            .await
            .unwrap();
        assert!(none.is_empty());
        assert!(
            metrics
                .render()
                .contains("sextant_alert_emails_skipped_total{reason=\"no_smtp_host\"} 1")
        );
    }
}
