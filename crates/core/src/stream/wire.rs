//! The stream on the wire: JSON lines. A client sends one [`Hello`]; the host answers
//! with a `snapshot` (or `resumed`) line, then one `change` line per change, or with one
//! `error` line and closes.
//!
//! ```text
//! > {"v":1,"resume":{"epoch":"1767225600000-4242","seq":41}}
//! < {"type":"resumed","v":1,"epoch":"1767225600000-4242","seq":41}
//! < {"type":"change","seq":42,"change":{"kind":"event","event":{...}}}
//! ```

use super::hub::{Message, Resume};
use super::state::{Change, State};
use serde::{Deserialize, Serialize};

/// The version of the stream's wire format this ao speaks.
pub const VERSION: u32 = 1;

/// The line a client opens with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The wire format's version the client speaks.
    pub v: u32,
    /// Where it left off, to resume from there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<Resume>,
}

/// One line from the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Line {
    /// Start over from this state; the next change is `seq + 1`.
    Snapshot {
        /// The wire format's version.
        v: u32,
        /// The host's stream.
        epoch: String,
        /// The last change the state includes.
        seq: u64,
        /// The state.
        state: Box<State>,
    },
    /// The resume point is held; the changes after it follow.
    Resumed {
        /// The wire format's version.
        v: u32,
        /// The host's stream.
        epoch: String,
        /// The resume point.
        seq: u64,
    },
    /// One change.
    Change {
        /// Its sequence number.
        seq: u64,
        /// What changed.
        change: Change,
    },
    /// The host will not serve this client; it closes after this line.
    Error {
        /// The wire format's version.
        v: u32,
        /// What was wrong.
        message: String,
        /// What to do.
        hint: Option<String>,
    },
}

/// [`Line`] borrowing what it carries, so the host writes a change without copying it.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum LineRef<'a> {
    Snapshot {
        v: u32,
        epoch: &'a str,
        seq: u64,
        state: &'a State,
    },
    Resumed {
        v: u32,
        epoch: &'a str,
        seq: u64,
    },
    Change {
        seq: u64,
        change: &'a Change,
    },
    Error {
        v: u32,
        message: &'a str,
        hint: Option<&'a str>,
    },
}

impl Message {
    /// The message as one line of JSON (without its newline), as the socket carries it.
    pub fn to_json(&self) -> String {
        let line = match self {
            Message::Snapshot { epoch, seq, state } => LineRef::Snapshot {
                v: VERSION,
                epoch,
                seq: *seq,
                state,
            },
            Message::Resumed { epoch, seq } => LineRef::Resumed {
                v: VERSION,
                epoch,
                seq: *seq,
            },
            Message::Change(f) => LineRef::Change {
                seq: f.seq,
                change: &f.change,
            },
        };
        serde_json::to_string(&line).expect("plain data serializes")
    }
}

/// An `error` line (without its newline).
pub fn error_line(message: &str, hint: Option<&str>) -> String {
    serde_json::to_string(&LineRef::Error {
        v: VERSION,
        message,
        hint,
    })
    .expect("plain data serializes")
}

/// What a hello line asks for, or the error line that answers it.
pub fn read_hello(line: &str) -> Result<Hello, String> {
    let hint = Some(
        "open with one line such as {\"v\":1} or {\"v\":1,\"resume\":{\"epoch\":\"...\",\"seq\":41}}",
    );
    let value: serde_json::Value = match serde_json::from_str(line.trim()) {
        Ok(v) => v,
        Err(e) => {
            return Err(error_line(
                &format!("the first line is not JSON ({e}); ao's stream opens with a hello"),
                hint,
            ));
        }
    };
    let v = value.get("v").and_then(serde_json::Value::as_u64);
    match v {
        None => Err(error_line(
            "the hello names no version (`v`, a number)",
            hint,
        )),
        Some(v) if v > u64::from(VERSION) => Err(error_line(
            &format!(
                "this host speaks version {VERSION} of ao's stream; the client asked for version {v}"
            ),
            Some(
                "use the same ao for the client and the host: `ao stop`, then `ao start` with the newer ao",
            ),
        )),
        Some(0) => Err(error_line("there is no version 0 of ao's stream", hint)),
        Some(_) => serde_json::from_value::<Hello>(value)
            .map_err(|e| error_line(&format!("the hello is not one ao reads: {e}"), hint)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Event, EventKind, Priority, SessionId};
    use crate::stream::ring::Frame;
    use std::sync::Arc;

    #[test]
    fn what_the_host_writes_a_client_reads_back() {
        let event = Event {
            id: 7,
            at: 1,
            project: "app".into(),
            session: Some(SessionId::new("app", 1)),
            priority: Priority::Info,
            kind: EventKind::Manual,
            message: "hello".into(),
        };
        let change = Change::Event {
            event: Box::new(event),
        };
        let mut state = State::default();
        state.apply(&change);
        let messages = [
            Message::Snapshot {
                epoch: "e".into(),
                seq: 3,
                state: Arc::new(state.clone()),
            },
            Message::Resumed {
                epoch: "e".into(),
                seq: 3,
            },
            Message::Change(Arc::new(Frame::new(4, change.clone()))),
        ];
        let read: Vec<Line> = messages
            .iter()
            .map(|m| serde_json::from_str(&m.to_json()).unwrap())
            .collect();
        assert_eq!(
            read,
            [
                Line::Snapshot {
                    v: VERSION,
                    epoch: "e".into(),
                    seq: 3,
                    state: Box::new(state),
                },
                Line::Resumed {
                    v: VERSION,
                    epoch: "e".into(),
                    seq: 3,
                },
                Line::Change { seq: 4, change },
            ]
        );
        let error: Line = serde_json::from_str(&error_line("no", Some("do"))).unwrap();
        assert_eq!(
            error,
            Line::Error {
                v: VERSION,
                message: "no".into(),
                hint: Some("do".into()),
            }
        );
    }

    #[test]
    fn a_hello_is_read_or_answered_with_why_not() {
        assert_eq!(
            read_hello("{\"v\":1}\n").unwrap(),
            Hello { v: 1, resume: None }
        );
        assert_eq!(
            read_hello("{\"v\":1,\"resume\":{\"epoch\":\"e\",\"seq\":4}}")
                .unwrap()
                .resume,
            Some(Resume {
                epoch: "e".into(),
                seq: 4
            })
        );
        let err = |line: &str| match serde_json::from_str::<Line>(&read_hello(line).unwrap_err()) {
            Ok(Line::Error { message, .. }) => message,
            other => panic!("{other:?}"),
        };
        assert!(err("{\"v\":2}").contains("the client asked for version 2"));
        assert!(err("hello").contains("not JSON"));
        assert!(err("{}").contains("no version"));
        assert!(err("{\"v\":1,\"resume\":{\"seq\":\"x\"}}").contains("not one ao reads"));
    }
}
