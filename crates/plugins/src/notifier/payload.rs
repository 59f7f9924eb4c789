//! What each HTTP notifier sends, built from a notification: pure functions, so the
//! formats are pinned by tests.

use ao_core::model::Priority;
use ao_core::plugin::Notification;
use serde_json::{Value, json};

/// The version of the webhook payload; a change of its fields gets a new one.
pub const WEBHOOK_VERSION: u32 = 1;

/// The command that attaches a terminal to the notification's session, if it has one.
pub fn attach_hint(n: &Notification) -> Option<String> {
    n.event.session.as_ref().map(|s| format!("ao attach {s}"))
}

/// The webhook's JSON: `{version, title, text, attach, event}` with the whole event.
pub fn webhook(n: &Notification) -> Value {
    json!({
        "version": WEBHOOK_VERSION,
        "title": n.title,
        "text": n.event.message,
        "attach": attach_hint(n),
        "event": n.event,
    })
}

fn context(n: &Notification) -> String {
    let mut parts = vec![n.event.priority.as_str().to_owned()];
    if !n.event.project.is_empty() {
        parts.push(n.event.project.clone());
    }
    if let Some(s) = &n.event.session {
        parts.push(s.to_string());
    }
    if let Some(a) = attach_hint(n) {
        parts.push(format!("`{a}`"));
    }
    parts.join(" · ")
}

/// Slack's incoming-webhook JSON: a fallback `text` and blocks (a header, the message,
/// its context).
pub fn slack(n: &Notification, channel: Option<&str>, username: Option<&str>) -> Value {
    let mut v = json!({
        "text": format!("{}: {}", n.title, n.event.message),
        "blocks": [
            { "type": "header", "text": { "type": "plain_text", "text": n.title } },
            { "type": "section", "text": { "type": "mrkdwn", "text": n.event.message } },
            { "type": "context", "elements": [ { "type": "mrkdwn", "text": context(n) } ] },
        ],
    });
    if let Some(c) = channel {
        v["channel"] = json!(c);
    }
    if let Some(u) = username {
        v["username"] = json!(u);
    }
    v
}

fn colour(p: Priority) -> u32 {
    match p {
        Priority::Urgent => 0xd7_3a_49,
        Priority::Action => 0xdb_ab_09,
        Priority::Warning => 0xe3_6c_09,
        Priority::Info => 0x2f_81_f7,
    }
}

/// Discord's webhook JSON: one embed with the title, the message, a colour by priority
/// and the context as its footer.
pub fn discord(n: &Notification, username: Option<&str>) -> Value {
    let mut v = json!({
        "embeds": [{
            "title": n.title,
            "description": n.event.message,
            "color": colour(n.event.priority),
            "footer": { "text": context(n).replace('`', "") },
        }],
        "allowed_mentions": { "parse": [] },
    });
    if let Some(u) = username {
        v["username"] = json!(u);
    }
    v
}

/// ntfy's headers for the notification: its title, priority (5 urgent … 2 info) and tags.
pub fn ntfy_headers(n: &Notification) -> Vec<(String, String)> {
    let (priority, tag) = match n.event.priority {
        Priority::Urgent => ("5", "rotating_light"),
        Priority::Action => ("4", "point_right"),
        Priority::Warning => ("3", "warning"),
        Priority::Info => ("2", "information_source"),
    };
    let mut tags = vec![tag.to_owned(), "ao".to_owned()];
    if let Some(s) = &n.event.session {
        tags.push(s.to_string());
    }
    // Header values must be plain text on one line.
    let title: String = n
        .title
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    vec![
        ("Title".into(), title),
        ("Priority".into(), priority.into()),
        ("Tags".into(), tags.join(",")),
    ]
}

/// ntfy's body: the message and the attach command.
pub fn ntfy_body(n: &Notification) -> String {
    match attach_hint(n) {
        Some(a) => format!("{}\n{a}", n.event.message),
        None => n.event.message.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ao_core::model::{Event, EventKind};

    fn sample() -> Notification {
        Notification {
            title: "app-3 needs input".into(),
            event: Event {
                id: 7,
                at: 1_796_121_000_000,
                project: "app".into(),
                session: Some("app-3".parse().unwrap()),
                priority: Priority::Urgent,
                kind: EventKind::Manual,
                message: "Claude Code asks permission to run: npm test".into(),
            },
        }
    }

    #[test]
    fn payloads_are_as_documented() {
        let n = sample();
        assert_eq!(
            webhook(&n),
            json!({
                "version": 1,
                "title": "app-3 needs input",
                "text": "Claude Code asks permission to run: npm test",
                "attach": "ao attach app-3",
                "event": {
                    "id": 7, "at": 1_796_121_000_000i64, "project": "app", "session": "app-3",
                    "priority": "urgent", "kind": "manual",
                    "message": "Claude Code asks permission to run: npm test"
                }
            })
        );
        assert_eq!(
            slack(&n, Some("#agents"), None)["blocks"][2]["elements"][0]["text"],
            "urgent · app · app-3 · `ao attach app-3`"
        );
        assert_eq!(slack(&n, Some("#agents"), None)["channel"], "#agents");
        let d = discord(&n, Some("ao"));
        assert_eq!(d["embeds"][0]["color"], 0xd73a49);
        assert_eq!(
            d["embeds"][0]["footer"]["text"],
            "urgent · app · app-3 · ao attach app-3"
        );
        assert_eq!(d["username"], "ao");
        assert_eq!(
            ntfy_headers(&n),
            [
                ("Title".to_owned(), "app-3 needs input".to_owned()),
                ("Priority".to_owned(), "5".to_owned()),
                ("Tags".to_owned(), "rotating_light,ao,app-3".to_owned())
            ]
        );
        assert_eq!(
            ntfy_body(&n),
            "Claude Code asks permission to run: npm test\nao attach app-3"
        );
    }
}
