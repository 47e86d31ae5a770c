//! A target's options on an e-mail channel, and the subject line.

use serde::Deserialize;

use super::config::check_recipients;
use crate::TargetIssue;

/// Longest text, in characters (code points): a newsletter, not a book.
pub const MAX_TEXT_CHARS: usize = 100_000;
/// Longest subject a target may set.
pub const MAX_SUBJECT_CHARS: usize = 250;
/// A subject taken from the text is cut to this (RFC 5322's recommended line length).
pub const DEFAULT_SUBJECT_CHARS: usize = 78;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct EmailOptions {
    /// The subject; when absent, the text's first non-blank line (see [`subject`]).
    pub subject: Option<String>,
    /// Also send an HTML part (the text escaped, URLs as links, newlines as `<br>`).
    pub html: bool,
    /// Send to these instead of the channel's recipients.
    pub recipients: Option<Vec<String>>,
}

impl Default for EmailOptions {
    fn default() -> Self {
        Self { subject: None, html: true, recipients: None }
    }
}

pub(super) fn parse(value: &serde_json::Value) -> Result<EmailOptions, String> {
    if value.is_null() {
        return Ok(EmailOptions::default());
    }
    serde_json::from_value(value.clone()).map_err(|err| err.to_string())
}

/// The subject: `options.subject` trimmed, else the text's first non-blank line, trimmed and cut
/// to 78 characters (with an ellipsis). Control characters become spaces, so a subject can
/// never carry a line break into the header. `None` when there is nothing to make one from.
pub(super) fn subject(options: &EmailOptions, text: &str) -> Option<String> {
    let clean = |s: &str| s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>();
    if let Some(given) = &options.subject {
        let given = clean(given.trim());
        return (!given.is_empty()).then_some(given);
    }
    let line = clean(text.lines().map(str::trim).find(|l| !l.is_empty())?);
    if line.chars().count() <= DEFAULT_SUBJECT_CHARS {
        return Some(line);
    }
    let cut: String = line.chars().take(DEFAULT_SUBJECT_CHARS - 1).collect();
    Some(format!("{}…", cut.trim_end()))
}

/// Every problem with a target's text and options.
pub(super) fn check(text: &str, value: &serde_json::Value) -> Vec<TargetIssue> {
    let mut issues = Vec::new();
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        issues.push(TargetIssue::new(
            "/text",
            format!("{chars} characters; an e-mail takes at most {MAX_TEXT_CHARS}"),
        ));
    }
    let options = match parse(value) {
        Ok(options) => options,
        Err(err) => {
            issues.push(TargetIssue::new("/options", err));
            return issues;
        }
    };
    if let Some(given) = &options.subject {
        let count = given.trim().chars().count();
        if count == 0 || count > MAX_SUBJECT_CHARS {
            issues.push(TargetIssue::new(
                "/options/subject",
                format!("{count} characters; a subject needs 1 to {MAX_SUBJECT_CHARS}"),
            ));
        }
    } else if subject(&options, text).is_none() {
        issues.push(TargetIssue::new(
            "/options/subject",
            "the text is empty, so it gives no subject: set options.subject",
        ));
    }
    if let Some(recipients) = &options.recipients {
        issues.extend(check_recipients(recipients, "/options/recipients"));
    }
    issues
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pointers(issues: &[TargetIssue]) -> Vec<&str> {
        issues.iter().map(|i| i.pointer.as_str()).collect()
    }

    #[test]
    fn the_subject_is_given_or_the_first_line() {
        let none = EmailOptions::default();
        assert_eq!(subject(&none, "\n  Hello there  \nbody").as_deref(), Some("Hello there"));
        let long = "word ".repeat(30);
        let made = subject(&none, &long).unwrap();
        assert!(made.ends_with('…') && made.chars().count() <= DEFAULT_SUBJECT_CHARS, "{made}");
        let given =
            EmailOptions { subject: Some(" News\r\nBcc: x@example.com ".into()), ..EmailOptions::default() };
        assert_eq!(subject(&given, "ignored").as_deref(), Some("News  Bcc: x@example.com"));
        assert_eq!(subject(&none, " \n\t\n"), None);
    }

    #[test]
    fn options_are_checked() {
        assert!(check("Hi", &serde_json::Value::Null).is_empty());
        assert!(
            check("Hi", &json!({"subject": "S", "html": false, "recipients": ["a@example.com"]})).is_empty()
        );
        assert_eq!(pointers(&check("Hi", &json!({"sujet": "S"}))), ["/options"]);
        assert_eq!(pointers(&check("", &json!({}))), ["/options/subject"]);
        assert!(check("", &json!({"subject": "Only attachments"})).is_empty());
        assert_eq!(pointers(&check("Hi", &json!({"subject": " "}))), ["/options/subject"]);
        assert_eq!(
            pointers(&check("Hi", &json!({"recipients": ["ok@example.com", "bad"]}))),
            ["/options/recipients/1"]
        );
        assert_eq!(pointers(&check("Hi", &json!({"recipients": []}))), ["/options/recipients"]);
        assert_eq!(pointers(&check(&"x".repeat(MAX_TEXT_CHARS + 1), &json!({}))), ["/text"]);
    }
}
