//! An ao tracker plugin whose issues live in a plain-text file in the repository, for
//! teams without an issue tracker, or to try ao's issue flow offline.
//!
//! ```yaml
//! plugins:
//!   - name: file-tracker
//!     path: ./target/release/libao_example_file_tracker.so
//! projects:
//!   app:
//!     tracker:
//!       plugin: file-tracker
//!       file: ISSUES.md        # relative to agent-orchestrator.yaml
//! ```
//!
//! The file holds one issue per `## ` heading: its id, an optional `(done)`, its title;
//! then an optional `labels:` line and the body. Lines before the first heading are free.
//!
//! ```text
//! ## 12 Fix the login bug
//! labels: bug, auth
//! The login form rejects addresses with a plus sign.
//!
//! ## 13 (done) Update the changelog
//! ```
//!
//! `ao spawn app 12` then starts a session on branch `feat/issue-12` with the issue as
//! its task.

use ao_plugin_sdk::serde_json::Value;
use ao_plugin_sdk::tracker::{Issue, IssueFilter, Tracker};
use ao_plugin_sdk::{Context, Error, Plugin, export_plugin};
use std::path::PathBuf;

/// One issue of the file, with whether it is done.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    issue: Issue,
    done: bool,
}

/// Reads the issues of a file's text.
fn parse(text: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut body: Vec<&str> = Vec::new();
    let finish = |entries: &mut Vec<Entry>, body: &mut Vec<&str>| {
        if let Some(last) = entries.last_mut() {
            let mut lines = body.iter().copied().skip_while(|l| l.trim().is_empty());
            let mut text: Vec<&str> = Vec::new();
            if let Some(first) = lines.next() {
                match first.strip_prefix("labels:") {
                    Some(labels) => {
                        last.issue.labels = labels
                            .split(',')
                            .map(|l| l.trim().to_owned())
                            .filter(|l| !l.is_empty())
                            .collect();
                    }
                    None => text.push(first),
                }
            }
            text.extend(lines);
            last.issue.body = text.join("\n").trim().to_owned();
        }
        body.clear();
    };
    for line in text.lines() {
        let Some(heading) = line.strip_prefix("## ") else {
            body.push(line);
            continue;
        };
        finish(&mut entries, &mut body);
        let heading = heading.trim();
        let (id, rest) = heading.split_once(' ').unwrap_or((heading, ""));
        let rest = rest.trim();
        let (done, title) = match rest.strip_prefix("(done)") {
            Some(title) => (true, title.trim()),
            None => (false, rest),
        };
        entries.push(Entry {
            issue: Issue {
                id: id.trim_start_matches('#').to_owned(),
                title: title.to_owned(),
                state: Some(if done { "closed" } else { "open" }.to_owned()),
                ..Issue::default()
            },
            done,
        });
    }
    finish(&mut entries, &mut body);
    entries
}

/// Issues kept in a file.
struct FileTracker {
    /// The file named in the plugin's own `config:`, used when a project names none.
    default_file: Option<PathBuf>,
}

impl FileTracker {
    fn read(&self, cx: &Context) -> Result<(PathBuf, Vec<Entry>), Error> {
        let file = cx
            .path_setting("file")
            .or_else(|| self.default_file.clone())
            .ok_or_else(|| {
                Error::failed("no issues file: set `file` in the project's `tracker:`")
            })?;
        let text = std::fs::read_to_string(&file).map_err(|e| {
            Error::failed(format!(
                "cannot read the issues file {}: {e}",
                file.display()
            ))
        })?;
        Ok((file, parse(&text)))
    }

    fn find(&self, cx: &Context, id: &str) -> Result<Entry, Error> {
        let (file, entries) = self.read(cx)?;
        let want = id.trim_start_matches('#');
        entries
            .iter()
            .find(|e| e.issue.id == want)
            .cloned()
            .ok_or_else(|| {
                let ids: Vec<&str> = entries.iter().map(|e| e.issue.id.as_str()).collect();
                Error::failed(format!(
                    "there is no issue `{id}` in {} (its issues: {})",
                    file.display(),
                    if ids.is_empty() {
                        "none".to_owned()
                    } else {
                        ids.join(", ")
                    }
                ))
            })
    }
}

impl Plugin for FileTracker {
    fn init(config: Value) -> Result<Self, Error> {
        Ok(FileTracker {
            default_file: config
                .get("file")
                .and_then(Value::as_str)
                .map(PathBuf::from),
        })
    }
}

impl Tracker for FileTracker {
    fn issue(&self, cx: &Context, id: &str) -> Result<Issue, Error> {
        Ok(self.find(cx, id)?.issue)
    }

    fn is_completed(&self, cx: &Context, id: &str) -> Result<bool, Error> {
        Ok(self.find(cx, id)?.done)
    }

    fn prompt(&self, _cx: &Context, issue: &Issue) -> String {
        let mut task = format!("Issue {}: {}", issue.id, issue.title);
        if !issue.body.is_empty() {
            task.push_str("\n\n");
            task.push_str(&issue.body);
        }
        task
    }

    fn list(&self, cx: &Context, filter: &IssueFilter) -> Result<Vec<Issue>, Error> {
        let (_, entries) = self.read(cx)?;
        Ok(entries
            .into_iter()
            .filter(|e| !e.done)
            .map(|e| e.issue)
            .filter(|i| filter.labels.iter().all(|l| i.labels.contains(l)))
            .take(filter.limit.unwrap_or(usize::MAX))
            .collect())
    }
}

export_plugin!(
    tracker: FileTracker,
    name: "file-tracker",
    description: "issues kept in a plain-text file"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_headings_labels_bodies_and_done() {
        let text = "Our issues.\n\n## 12 Fix the login bug\nlabels: bug, auth\nThe form rejects\nplus signs.\n\n## #13 (done) Update the changelog\n## 14 No body\n";
        let e = parse(text);
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].issue.id, "12");
        assert_eq!(e[0].issue.title, "Fix the login bug");
        assert_eq!(e[0].issue.labels, ["bug", "auth"]);
        assert_eq!(e[0].issue.body, "The form rejects\nplus signs.");
        assert!(!e[0].done);
        assert_eq!(e[1].issue.id, "13");
        assert_eq!(e[1].issue.title, "Update the changelog");
        assert!(e[1].done);
        assert_eq!(e[2].issue.body, "");
        assert!(parse("no headings\n").is_empty());
    }
}
