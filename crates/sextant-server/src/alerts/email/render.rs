//! One alert mail from a digest's notices: the subject, a plain-text body and an HTML
//! body in which every piece of user text (issue titles, culprits, project slugs) is
//! escaped, each issue linked to its page.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::alerts::notice::Notice;

/// Subjects are cut to this many characters; mail clients show far fewer.
const MAX_SUBJECT_CHARS: usize = 200;

/// A rendered mail, as the email delivery's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What a digest mail says besides its notices.
pub struct Envelope<'a> {
    pub to: &'a str,
    pub subject_prefix: &'a str,
    /// Project slug.
    pub project: &'a str,
    /// Where the recipient turns alert email off.
    pub settings_url: &'a str,
}

/// The mail for a digest. Notices about the same thing (one `dedup_key`) are listed once,
/// the first of them. `None` when there is nothing to say.
pub fn render(envelope: &Envelope<'_>, notices: &[Notice]) -> Option<Mail> {
    let mut unique: Vec<&Notice> = Vec::new();
    for notice in notices {
        if !unique.iter().any(|n| n.dedup_key == notice.dedup_key) {
            unique.push(notice);
        }
    }
    let first = unique.first()?;
    let headline = match unique.len() {
        1 => first.headline(),
        n => format!("{n} new alerts in {}", envelope.project),
    };
    let subject = cut(
        &one_line(&format!("{}{headline}", envelope.subject_prefix)),
        MAX_SUBJECT_CHARS,
    );
    Some(Mail {
        to: envelope.to.to_string(),
        subject,
        text: text_body(envelope, &headline, &unique),
        html: html_body(envelope, &headline, &unique),
    })
}

/// The facts under an issue's title: where, which environment and release, how often.
fn details(notice: &Notice) -> Vec<String> {
    let mut where_ = Vec::new();
    if let Some(culprit) = &notice.culprit {
        where_.push(culprit.clone());
    }
    where_.extend(notice.environment.clone());
    where_.extend(notice.release.clone());
    where_.extend(notice.level.clone());
    let mut lines = Vec::new();
    if !where_.is_empty() {
        lines.push(one_line(&where_.join(" · ")));
    }
    if !notice.fields.is_empty() {
        let facts: Vec<String> = notice
            .fields
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        lines.push(one_line(&facts.join(" · ")));
    }
    lines
}

fn text_body(envelope: &Envelope<'_>, headline: &str, notices: &[&Notice]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", one_line(headline));
    for notice in notices {
        let _ = writeln!(out, "{}", one_line(&notice.headline()));
        let _ = writeln!(out, "  {}", notice.url);
        for line in details(notice) {
            let _ = writeln!(out, "  {line}");
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "-- \nSent by Sextant for project {}. To stop alert email, change your settings at {}",
        one_line(envelope.project),
        envelope.settings_url
    );
    out
}

fn html_body(envelope: &Envelope<'_>, headline: &str, notices: &[&Notice]) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n\
         <body style=\"font-family: sans-serif; line-height: 1.4\">\n",
    );
    let _ = writeln!(out, "<h2>{}</h2>\n<ul>", escape(headline));
    for notice in notices {
        let _ = write!(
            out,
            "<li><p><strong>{}:</strong> <a href=\"{}\">{}</a>",
            escape(notice.kind.label()),
            escape(&notice.url),
            escape(&one_line(&notice.title)),
        );
        for line in details(notice) {
            let _ = write!(out, "<br><small>{}</small>", escape(&line));
        }
        out.push_str("</p></li>\n");
    }
    let _ = write!(
        out,
        "</ul>\n<p style=\"color: #666\"><small>Sent by Sextant for project {}. \
         <a href=\"{}\">Stop alert email</a> in your settings.</small></p>\n</body></html>\n",
        escape(envelope.project),
        escape(envelope.settings_url),
    );
    out
}

/// Text for HTML content and attribute values alike.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// User text on one line: line breaks and other control characters become spaces, so no
/// title can add a header to the mail or a paragraph of its own to the text body.
fn one_line(text: &str) -> String {
    text.trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// At most `max` characters, an ellipsis marking a cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::notice::NoticeKind;

    fn notice(id: i64, title: &str) -> Notice {
        Notice {
            kind: NoticeKind::NewIssue,
            title: title.into(),
            project: "web".into(),
            url: format!("https://sextant.example/organizations/default/issues/{id}/"),
            culprit: Some("app.main".into()),
            level: Some("error".into()),
            environment: Some("production".into()),
            release: None,
            fields: vec![("events".into(), "1".into()), ("rule".into(), "r".into())],
            items: Vec::new(),
            dedup_key: format!("sextant-issue-{id}"),
            timestamp_ms: 0,
        }
    }

    fn envelope() -> Envelope<'static> {
        Envelope {
            to: "ann@example.com",
            subject_prefix: "[Sextant] ",
            project: "web",
            settings_url: "https://sextant.example/account",
        }
    }

    #[test]
    fn one_notice_is_named_in_the_subject() {
        let mail = render(&envelope(), &[notice(1, "TypeError: x")]).unwrap();
        assert_eq!(mail.to, "ann@example.com");
        assert_eq!(mail.subject, "[Sextant] New issue: TypeError: x");
        assert!(mail.text.contains("New issue: TypeError: x\n  https://sextant.example/organizations/default/issues/1/\n"), "{}", mail.text);
        assert!(mail.text.contains("app.main · production · error"));
        assert!(mail.text.contains("https://sextant.example/account"));
        assert!(
            mail.html
                .contains("<a href=\"https://sextant.example/organizations/default/issues/1/\">TypeError: x</a>"),
            "{}",
            mail.html
        );
    }

    #[test]
    fn a_digest_lists_each_issue_once() {
        let notices = [
            notice(1, "A"),
            notice(2, "B"),
            notice(1, "A"),
            notice(3, "C"),
        ];
        let mail = render(&envelope(), &notices).unwrap();
        assert_eq!(mail.subject, "[Sextant] 3 new alerts in web");
        for id in 1..=3 {
            let url = format!("https://sextant.example/organizations/default/issues/{id}/");
            assert_eq!(mail.text.matches(&url).count(), 1, "{}", mail.text);
            assert_eq!(mail.html.matches(&url).count(), 1, "{}", mail.html);
        }
        assert!(render(&envelope(), &[]).is_none());
    }

    #[test]
    fn hostile_titles_are_escaped_and_kept_to_one_line() {
        let title = "<script>alert('x')</script> & \"q\"\r\nBcc: eve@example.com";
        let mail = render(&envelope(), &[notice(1, title)]).unwrap();
        assert!(!mail.html.contains("<script>"), "{}", mail.html);
        assert!(
            mail.html
                .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"),
            "{}",
            mail.html
        );
        assert!(!mail.subject.contains('\n') && !mail.subject.contains('\r'));
        assert!(
            mail.subject.ends_with("& \"q\"  Bcc: eve@example.com"),
            "the subject is plain text, on one line: {}",
            mail.subject
        );
        assert!(!mail.text.contains("\nBcc:"), "{}", mail.text);
        let long = render(&envelope(), &[notice(1, &"x".repeat(500))]).unwrap();
        assert_eq!(long.subject.chars().count(), MAX_SUBJECT_CHARS);
        assert!(long.subject.ends_with('…'));
    }
}
