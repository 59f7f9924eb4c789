//! The host's config, live: it watches the files its config was made of, and ends its
//! run when one changes ([`super::HostEnd::ConfigChanged`]) so the caller loads it again.
//! A valid edit makes a new manager, which says what changed in an event
//! ([`Manager::adopt_config`]) and drops what the edit took away (effects due for a
//! reaction no longer configured); an invalid one is said in the log and an event
//! ([`Manager::refuse_config`]) and the running config stays in force.

use super::{Manager, ManagerError};
use crate::config::{LoadedConfig, Node, ReactionAction, Value};
use crate::model::{Event, EventKind, Priority, now_ms};
use crate::store::Settled;
use std::path::PathBuf;
use std::time::SystemTime;

/// What the config's files look like on disk: each one's modification time and length
/// (`None` when it is missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesSeen(Vec<(PathBuf, Option<(SystemTime, u64)>)>);

impl FilesSeen {
    /// The files of `config`, as they are now.
    pub fn of(config: &LoadedConfig) -> FilesSeen {
        let files = if config.files.is_empty() {
            vec![config.file.clone()]
        } else {
            config.files.clone()
        };
        FilesSeen(
            files
                .into_iter()
                .map(|f| {
                    let seen = std::fs::metadata(&f)
                        .ok()
                        .and_then(|m| Some((m.modified().ok()?, m.len())));
                    (f, seen)
                })
                .collect(),
        )
    }
}

/// Whether two trees say the same, wherever in their files they say it.
fn same(a: &Node, b: &Node) -> bool {
    match (&a.value, &b.value) {
        (Value::Seq(x), Value::Seq(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(a, b)| a.key == b.key && same(&a.value, &b.value))
        }
        (x, y) => x == y,
    }
}

/// What an edit changed, section by section and project by project, in words.
pub fn config_changes(old: &LoadedConfig, new: &LoadedConfig) -> Vec<String> {
    let mut changes = Vec::new();
    let (old_projects, new_projects) = (old.tree.get("projects"), new.tree.get("projects"));
    let ids = |n: Option<&Node>| -> Vec<String> {
        n.map(|n| n.entries().iter().map(|e| e.key.clone()).collect())
            .unwrap_or_default()
    };
    let (before, after) = (ids(old_projects), ids(new_projects));
    for id in &after {
        if !before.contains(id) {
            changes.push(format!("project `{id}` added"));
        }
    }
    for id in &before {
        if !after.contains(id) {
            changes.push(format!(
                "project `{id}` removed (its sessions run on, with no reactions)"
            ));
        }
    }
    for id in after.iter().filter(|id| before.contains(id)) {
        let at = |n: Option<&Node>| n.and_then(|n| n.get(id)).cloned();
        if let (Some(a), Some(b)) = (at(old_projects), at(new_projects))
            && !same(&a, &b)
        {
            changes.push(format!("project `{id}` changed"));
        }
    }
    let mut keys: Vec<&str> = old
        .tree
        .entries()
        .iter()
        .chain(new.tree.entries())
        .map(|e| e.key.as_str())
        .filter(|k| *k != "projects")
        .collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let differs = match (old.tree.get(key), new.tree.get(key)) {
            (Some(a), Some(b)) => !same(a, b),
            (None, None) => false,
            _ => true,
        };
        if differs {
            changes.push(format!("`{key}` changed"));
        }
    }
    changes
}

impl Manager {
    /// Takes over from the manager of config `old` (a valid edit): an event says what
    /// changed, and effects still due for a reaction the edit took away (or whose
    /// project it removed) are dropped, each with an event. Returns the log's lines.
    pub fn adopt_config(&self, old: &LoadedConfig) -> Result<Vec<String>, ManagerError> {
        let changes = config_changes(old, &self.config);
        let mut lines = Vec::new();
        let what = if changes.is_empty() {
            "nothing that ao reads changed".to_owned()
        } else {
            changes.join("; ")
        };
        let line = format!(
            "config reloaded from {}: {what}",
            self.config.file.display()
        );
        self.store().append_event(&Event {
            id: 0,
            at: now_ms(),
            project: String::new(),
            session: None,
            priority: Priority::Info,
            kind: EventKind::Manual,
            message: line.clone(),
        })?;
        lines.push(line);
        lines.extend(self.drop_unconfigured()?);
        Ok(lines)
    }

    /// An edit that does not load: said in an event (with its file:line), the running
    /// config kept. Returns the log's line.
    pub fn refuse_config(&self, why: &str) -> Result<String, ManagerError> {
        let line =
            format!("the edited config was not applied; the running one stays in force: {why}");
        self.store().append_event(&Event {
            id: 0,
            at: now_ms(),
            project: String::new(),
            session: None,
            priority: Priority::Warning,
            kind: EventKind::Manual,
            message: line.clone(),
        })?;
        Ok(line)
    }

    /// Drops the effects due for a reaction the config no longer has: a session's whose
    /// project is gone, or whose project's reactions lost it.
    fn drop_unconfigured(&self) -> Result<Vec<String>, ManagerError> {
        let mut lines = Vec::new();
        let pending = self.store().pending_intents()?;
        for i in pending.into_iter().filter(|i| i.state == "due") {
            let (project, session) = match i.owner.strip_prefix('@') {
                Some(project) => (project.to_owned(), None),
                None => match i
                    .owner
                    .parse()
                    .ok()
                    .and_then(|id| self.store().session(&id).ok()?)
                {
                    Some(s) => (s.project.clone(), Some(s.id)),
                    None => continue,
                },
            };
            let reaction = i.reaction.strip_prefix("escalated:").unwrap_or(&i.reaction);
            // The planner's reactions only: a merge's notice, a usage limit's follow the
            // facts, not a reaction's key.
            if crate::reactions::ReactionKind::parse(reaction).is_none() {
                continue;
            }
            let why = match self.project(&project) {
                Err(_) => format!("its project `{project}` is no longer in the config"),
                Ok(p) => match p.reactions.get(reaction) {
                    None => format!("the reaction `{reaction}` is no longer in the config"),
                    Some(r)
                        if r.auto == Some(false)
                            && r.action.is_some_and(|a| a != ReactionAction::Notify) =>
                    {
                        format!("the reaction `{reaction}` is off (auto: false)")
                    }
                    Some(_) => continue,
                },
            };
            let message = format!(
                "{}: `{}` dropped before it was done: {why}",
                i.owner, i.reaction
            );
            let event = Event {
                id: 0,
                at: now_ms(),
                project,
                session,
                priority: Priority::Info,
                kind: EventKind::Manual,
                message: message.clone(),
            };
            if self
                .store()
                .drop_intent(i.id, &Settled::Dropped(why), &event)?
            {
                lines.push(message);
            }
        }
        Ok(lines)
    }
}
