//! `ao config show`: the configuration in force once registry, projects' own files and
//! defaults are merged, each value with the file and line it came from (the way `git
//! config --show-origin` shows it). Values from the environment are shown by the
//! variable's name, never by what they hold.

use super::node::{Node, Value};
use super::resolve::ResolvedProject;
use super::{EnvLookup, LoadedConfig};
use serde::Serialize;
use std::path::PathBuf;

/// Where a value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Origin {
    /// Written in a file, at this line.
    File {
        /// The file.
        file: PathBuf,
        /// Its 1-based line.
        line: u32,
    },
    /// Not written anywhere: ao's default.
    Default,
}

/// One setting as it is in force.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    /// Its dotted key, e.g. `projects.app.defaultBranch`.
    pub key: String,
    /// Its value as text (`<from $VAR>` for one that came from the environment).
    pub value: String,
    /// Where it was set.
    pub origin: Origin,
}

impl LoadedConfig {
    /// Every setting in force, in a stable order: global ones, then each project's.
    pub fn effective(&self, env: EnvLookup<'_>) -> Vec<Shown> {
        let mut out = Vec::new();
        let c = &self.config;
        let d = &c.defaults;
        let threshold = c.ready_threshold_ms.unwrap_or(300_000).to_string();
        self.typed(&mut out, &["readyThresholdMs"], threshold);
        for (key, value) in [
            ("runtime", &d.runtime),
            ("agent", &d.agent),
            ("workspace", &d.workspace),
            ("tracker", &d.tracker),
            ("scm", &d.scm),
        ] {
            self.typed(&mut out, &["defaults", key], value.clone());
        }
        self.dashboard(&mut out);
        self.host(&mut out);
        for section in ["notifiers", "notificationRouting", "runtimes", "plugins"] {
            if let Some(node) = self.tree.get(section) {
                self.leaves(&mut out, section.to_owned(), node);
            }
        }
        for p in self.projects(env) {
            self.show_project(&mut out, &p);
        }
        out
    }

    fn show_project(&self, out: &mut Vec<Shown>, p: &ResolvedProject) {
        let id = p.id.as_str();
        fn key<'k>(id: &'k str, k: &'k str) -> [&'k str; 3] {
            ["projects", id, k]
        }
        self.typed(out, &key(id, "path"), p.path.display().to_string());
        if let Some(repo) = &p.repo {
            self.typed(out, &key(id, "repo"), repo.clone());
        }
        self.typed(out, &key(id, "defaultBranch"), p.default_branch.clone());
        self.typed(out, &key(id, "sessionPrefix"), p.session_prefix.clone());
        for (k, value) in [
            ("runtime", &p.runtime),
            ("agent", &p.agent),
            ("workspace", &p.workspace),
        ] {
            // Unset in the project, it is the default's: show where that came from.
            let at = if self.tree.at(&key(id, k)).is_some() {
                key(id, k).to_vec()
            } else {
                vec!["defaults", k]
            };
            self.shown(out, format!("projects.{id}.{k}"), value.clone(), &at);
        }
        for section in [
            "tracker",
            "scm",
            "agentConfig",
            "symlinks",
            "copy",
            "postCreate",
            "agentRules",
            "agentRulesFile",
            "maxSessions",
            "worktreeDir",
        ] {
            if let Some(node) = self.tree.at(&key(id, section)) {
                self.leaves(out, format!("projects.{id}.{section}"), node);
            }
        }
        if self.tree.at(&key(id, "tracker")).is_none() {
            self.shown(
                out,
                format!("projects.{id}.tracker.plugin"),
                p.tracker.clone(),
                &["defaults", "tracker"],
            );
        }
        for (name, r) in &p.reactions {
            let fields = [
                ("auto", r.auto.map(|v| v.to_string())),
                (
                    "action",
                    r.action.map(|a| {
                        match a {
                            super::ReactionAction::SendToAgent => "send-to-agent",
                            super::ReactionAction::Notify => "notify",
                            super::ReactionAction::AutoMerge => "auto-merge",
                        }
                        .to_owned()
                    }),
                ),
                ("priority", r.priority.map(|v| v.to_string())),
                ("retries", r.retries.map(|v| v.to_string())),
                ("message", r.message.clone()),
            ];
            for (field, value) in fields {
                let Some(value) = value else { continue };
                // The project's own reaction, else the global one, else ao's default.
                let own = ["projects", id, "reactions", name.as_str(), field];
                let global = ["reactions", name.as_str(), field];
                let at: &[&str] = if self.tree.at(&own).is_some() {
                    &own
                } else {
                    &global
                };
                self.shown(
                    out,
                    format!("projects.{id}.reactions.{name}.{field}"),
                    value,
                    at,
                );
            }
        }
    }

    /// The dashboard's port and keys; its token is never shown, only whether it is set
    /// and where (or from which variable).
    fn dashboard(&self, out: &mut Vec<Shown>) {
        let c = &self.config;
        let d = c.dashboard.clone().unwrap_or_default();
        let port = c.port.unwrap_or(super::DASHBOARD_PORT).to_string();
        self.typed(out, &["port"], port);
        let host = d.host.unwrap_or_else(|| super::DASHBOARD_HOST.into());
        self.typed(out, &["dashboard", "host"], host);
        let zones = match d.attention_zones.unwrap_or_default() {
            super::AttentionZones::Simple => "simple",
            super::AttentionZones::Detailed => "detailed",
        };
        self.typed(out, &["dashboard", "attentionZones"], zones.into());
        for key in ["allowedHosts", "tls"] {
            if let Some(node) = self.tree.at(&["dashboard", key]) {
                self.leaves(out, format!("dashboard.{key}"), node);
            }
        }
        let at = ["dashboard", "token"];
        let token = match self.tree.at(&at) {
            Some(node) if node.secret => self.env_names(node),
            Some(_) => "<set in the file; hidden>".into(),
            None => "<none: loopback only>".into(),
        };
        out.push(Shown {
            key: at.join("."),
            value: token,
            origin: self
                .tree
                .at(&at)
                .map(|n| self.origin(n))
                .unwrap_or(Origin::Default),
        });
    }

    /// How the host watches (`lifecycle`, with ao's defaults) and whether it keeps the
    /// machine awake (`power`).
    fn host(&self, out: &mut Vec<Shown>) {
        let l = self.config.lifecycle.clone().unwrap_or_default();
        let or = |v: Option<String>, default: &str| v.unwrap_or_else(|| default.to_owned());
        let bool_or = |v: Option<bool>, default: bool| v.unwrap_or(default).to_string();
        for (key, value) in [
            ("probeInterval", or(l.probe_interval, "5s")),
            ("pollInterval", or(l.poll_interval, "30s")),
            ("webhookPollInterval", or(l.webhook_poll_interval, "5m")),
            ("notifyRetryDelay", or(l.notify_retry_delay, "30s")),
            ("ciGracePeriod", or(l.ci_grace_period, "2m")),
            ("autoCleanupOnMerge", bool_or(l.auto_cleanup_on_merge, true)),
            (
                "mergeCleanupIdleGraceMs",
                l.merge_cleanup_idle_grace_ms.unwrap_or(300_000).to_string(),
            ),
        ] {
            self.typed(out, &["lifecycle", key], value);
        }
        let awake = self
            .config
            .power
            .as_ref()
            .and_then(|p| p.prevent_idle_sleep);
        self.typed(out, &["power", "preventIdleSleep"], bool_or(awake, false));
    }

    /// A value the typed config holds, shown from where it is written (if anywhere).
    fn typed(&self, out: &mut Vec<Shown>, path: &[&str], value: String) {
        self.shown(out, path.join("."), value, path);
    }

    fn shown(&self, out: &mut Vec<Shown>, key: String, value: String, at: &[&str]) {
        let (value, origin) = match self.tree.at(at) {
            Some(node) => (self.text(node).unwrap_or(value), self.origin(node)),
            None => (value, Origin::Default),
        };
        out.push(Shown { key, value, origin });
    }

    /// Every scalar under `node`, each with its own place.
    fn leaves(&self, out: &mut Vec<Shown>, key: String, node: &Node) {
        match &node.value {
            Value::Map(entries) => {
                for e in entries {
                    self.leaves(out, format!("{key}.{}", e.key), &e.value);
                }
            }
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.leaves(out, format!("{key}[{i}]"), item);
                }
            }
            _ => out.push(Shown {
                key,
                value: self.text(node).unwrap_or_default(),
                origin: self.origin(node),
            }),
        }
    }

    fn origin(&self, node: &Node) -> Origin {
        match self.files.get(node.loc.file as usize) {
            Some(file) if node.loc.line > 0 => Origin::File {
                file: file.clone(),
                line: node.loc.line,
            },
            _ => Origin::Default,
        }
    }

    /// A scalar as text; one from the environment as the names of its variables.
    fn text(&self, node: &Node) -> Option<String> {
        if node.secret {
            return Some(self.env_names(node));
        }
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null => Some("null".into()),
            _ => None,
        }
    }

    /// `<from $A>` (or `<from $A, $B>`) for a value written with `${A}` placeholders,
    /// read back from the file's own text at the value's place.
    fn env_names(&self, node: &Node) -> String {
        let line = self
            .files
            .get(node.loc.file as usize)
            .and_then(|f| std::fs::read_to_string(f).ok())
            .and_then(|t| {
                t.lines()
                    .nth(node.loc.line.saturating_sub(1) as usize)
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        let from = line
            .char_indices()
            .nth(node.loc.col.saturating_sub(1) as usize)
            .map(|(i, _)| &line[i..])
            .unwrap_or(&line);
        let mut names = Vec::new();
        let mut rest = from;
        while let Some(i) = rest.find("${") {
            rest = &rest[i + 2..];
            let end = rest.find(['}', ':']).unwrap_or(rest.len());
            names.push(format!("${}", &rest[..end]));
        }
        if names.is_empty() {
            "<from the environment>".into()
        } else {
            format!("<from {}>", names.join(", "))
        }
    }
}
