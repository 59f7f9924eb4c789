//! Checks that need more than types: names that must exist, be unique, or be safe.

use super::diag::{Diagnostic, Loc, did_you_mean};
use super::node::{Node, Value};
use super::reference;
use super::resolve::REACTION_KEYS;
use super::types::{Config, PluginSection, PluginSource};
use super::unknown_plugin::{self, NO_TRACKER};
use super::{EnvLookup, expand_path, is_valid_prefix};
use crate::model::Priority;
use crate::plugin::Slot;
use crate::reactions::ReactionKind;
use crate::registry::{PluginRegistry, SectionRef};
use std::collections::BTreeMap;
use std::path::Path;

/// What a message shows in place of a value that came from an environment variable.
const FROM_ENV: &str = "(a value from the environment)";

struct Checker<'a> {
    file: &'a Path,
    tree: &'a Node,
    registry: &'a PluginRegistry,
    external: Vec<&'a str>,
    diags: Vec<Diagnostic>,
}

impl<'a> Checker<'a> {
    /// The position of the value at `path`, else of the deepest key that exists.
    fn loc(&self, path: &[&str]) -> Loc {
        let mut node = self.tree;
        let mut loc = node.loc;
        for key in path {
            match node.entry(key) {
                Some(entry) => {
                    loc = entry.value.loc;
                    node = &entry.value;
                }
                None => break,
            }
        }
        loc
    }

    /// `text` as a message may show the value at `path`: not at all when it came from an
    /// environment variable.
    fn shown(&self, path: &[&str], text: impl std::fmt::Display) -> String {
        if self.tree.at(path).is_some_and(|n| n.secret) {
            FROM_ENV.into()
        } else {
            text.to_string()
        }
    }

    fn key_loc(&self, parent: &[&str], key: &str) -> Loc {
        self.tree
            .at(parent)
            .and_then(|n| n.entry(key))
            .map(|e| e.key_loc)
            .unwrap_or_else(|| self.loc(parent))
    }

    fn error(&mut self, loc: Loc, message: String, hint: String) {
        self.diags
            .push(Diagnostic::error(self.file, loc, message).with_hint(hint));
    }

    fn warning(&mut self, loc: Loc, message: String, hint: Option<String>) {
        let d = Diagnostic::warning(self.file, loc, message);
        self.diags.push(match hint {
            Some(h) => d.with_hint(h),
            None => d,
        });
    }

    /// Whether `name` is a plugin of `slot` that ao has, built in or named under `plugins`.
    fn has_plugin(&self, slot: Slot, name: &str) -> bool {
        self.registry.get(slot, name).is_some() || self.external.contains(&name)
    }

    /// Checks that `name` is a plugin of `slot`; returns whether ao has it. A name ao has
    /// no plugin for is a warning (the file loads; a command that needs the plugin fails),
    /// and `tracker: none`, no tracker, is no plugin and nothing to warn about.
    fn plugin_name(&mut self, slot: Slot, name: &str, shown: &str, loc: Loc) -> bool {
        if self.has_plugin(slot, name) {
            return true;
        }
        if slot == Slot::Tracker && name == NO_TRACKER {
            return false;
        }
        let known: Vec<&str> = self
            .registry
            .names(slot)
            .into_iter()
            .chain(self.external.iter().copied())
            .collect();
        let unknown = unknown_plugin::describe(slot, name, shown, &known);
        self.warning(loc, unknown.message, Some(unknown.hint));
        false
    }

    /// Checks a `tracker:`/`scm:`/notifier section and forwards it to its plugin.
    fn section(
        &mut self,
        slot: Slot,
        section: &PluginSection,
        path: &[&str],
        default: Option<&str>,
    ) {
        let node = self.tree.at(path);
        // A notifier's `timeoutMs`, whatever its plugin, is the dispatcher's.
        if slot == Slot::Notifier
            && let Some(t) = node.and_then(|n| n.get("timeoutMs"))
            && !matches!(t.value, Value::Int(ms) if ms > 0)
        {
            self.diags.push(
                Diagnostic::error(
                    self.file,
                    t.loc,
                    "`timeoutMs` must be a whole number of milliseconds above 0",
                )
                .with_hint("e.g. `timeoutMs: 5000` (the default is 10000)"),
            );
        }
        // An external plugin's section is all its own: `path` there is its setting, not
        // the reference format's JavaScript plugin path.
        let external = section
            .plugin
            .as_deref()
            .or(default)
            .is_some_and(|n| self.external.contains(&n));
        if external {
            return;
        }
        for key in reference::PLUGIN_SECTION_KEYS {
            if section.options.contains_key(*key) {
                let loc = self.key_loc(path, key);
                self.warning(
                    loc,
                    format!("`{key}` (a plugin from npm or a local JavaScript path) is a key of the reference format that ao does not support; it is ignored"),
                    Some("declare a shared-library plugin under `plugins:` and name it with `plugin:`".into()),
                );
            }
        }
        let name = match (&section.plugin, default) {
            (Some(name), _) => name.clone(),
            (None, Some(default)) => default.to_owned(),
            (None, None) => {
                if !reference::PLUGIN_SECTION_KEYS
                    .iter()
                    .any(|k| section.options.contains_key(*k))
                {
                    let loc = self.loc(path);
                    self.error(
                        loc,
                        format!("`{}` does not say which plugin to use", path.join(".")),
                        "add `plugin: <name>`".into(),
                    );
                }
                return;
            }
        };
        let loc = node
            .and_then(|n| n.get("plugin"))
            .map(|n| n.loc)
            .unwrap_or_else(|| self.loc(path));
        let shown = if node.and_then(|n| n.get("plugin")).is_some_and(|n| n.secret) {
            FROM_ENV.to_owned()
        } else {
            name.clone()
        };
        if self.plugin_name(slot, &name, &shown, loc) {
            let mut own = node.cloned();
            if let Some(Node {
                value: Value::Map(entries),
                ..
            }) = &mut own
            {
                entries.retain(|e| !reference::PLUGIN_SECTION_KEYS.contains(&e.key.as_str()));
                // A notifier's `timeoutMs` is the dispatcher's (checked above), not its own.
                if slot == Slot::Notifier {
                    entries.retain(|e| e.key != "timeoutMs");
                }
            }
            let section_ref = SectionRef {
                file: self.file,
                node: own.as_ref(),
                loc,
                repo: None,
            };
            let found = self.registry.validate_section(slot, &name, &section_ref);
            self.diags.extend(found);
        }
    }

    fn reactions(&mut self, reactions: &BTreeMap<String, super::ReactionConfig>, path: &[&str]) {
        // Each key is read as the reaction it names once; an unknown one is warned of.
        let kinds: Vec<(&String, &super::ReactionConfig, Option<ReactionKind>)> = reactions
            .iter()
            .map(|(key, r)| (key, r, ReactionKind::parse(key)))
            .collect();
        for (key, r, kind) in &kinds {
            let merges = kind.is_some_and(|k| k.definition().merges);
            if r.action == Some(super::ReactionAction::AutoMerge) && !merges {
                let loc = self.loc(&[path, &[key.as_str(), "action"]].concat());
                let merging: Vec<&str> = ReactionKind::ALL
                    .iter()
                    .filter(|k| k.definition().merges)
                    .map(|k| k.key())
                    .collect();
                self.warning(
                    loc,
                    format!("`{key}` never merges: only an approved pull request with passing checks is merged"),
                    Some(format!("put `action: auto-merge` on `{}`", merging.join("` or `"))),
                );
            }
        }
        for (key, _, kind) in &kinds {
            if kind.is_none() {
                let loc = self.key_loc(path, key);
                let hint = match did_you_mean(key, REACTION_KEYS.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("reactions ao knows: {}", REACTION_KEYS.join(", ")),
                };
                self.warning(
                    loc,
                    format!("unknown reaction `{key}`: no event triggers it, so it never runs"),
                    Some(hint),
                );
            }
        }
    }

    fn relative_paths(&mut self, list: &[String], path: &[&str]) {
        let Some(Node {
            value: Value::Seq(items),
            ..
        }) = self.tree.at(path)
        else {
            return;
        };
        for (entry, node) in list.iter().zip(items) {
            let p = Path::new(entry);
            let escapes = p
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir));
            if p.is_absolute() || entry.starts_with('~') || escapes || entry.is_empty() {
                self.error(
                    node.loc,
                    format!("`{entry}` must be a path inside the repository"),
                    "write it relative to the project's path, without `..`, e.g. `.env`".into(),
                );
            }
        }
    }
}

/// Every check that types cannot express.
pub fn validate(
    config: &Config,
    tree: &Node,
    file: &Path,
    registry: &PluginRegistry,
    env: EnvLookup<'_>,
) -> Vec<Diagnostic> {
    let mut c = Checker {
        file,
        tree,
        registry,
        external: config.plugins.iter().map(|p| p.name.as_str()).collect(),
        diags: Vec::new(),
    };
    let base = file.parent().unwrap_or(Path::new("."));

    if config.projects.is_empty() {
        let loc = c.loc(&["projects"]);
        c.error(
            loc,
            "no projects are configured".into(),
            "add one under `projects:` (ao init writes one for the repository you run it in)"
                .into(),
        );
    }

    // Defaults.
    for (slot, name, key) in [
        (Slot::Runtime, &config.defaults.runtime, "runtime"),
        (Slot::Agent, &config.defaults.agent, "agent"),
        (Slot::Workspace, &config.defaults.workspace, "workspace"),
        (Slot::Tracker, &config.defaults.tracker, "tracker"),
        (Slot::Scm, &config.defaults.scm, "scm"),
    ] {
        let loc = c.loc(&["defaults", key]);
        let shown = c.shown(&["defaults", key], name);
        c.plugin_name(slot, name, &shown, loc);
    }

    // External plugins.
    let mut seen_plugins: BTreeMap<&str, Loc> = BTreeMap::new();
    for (i, plugin) in config.plugins.iter().enumerate() {
        let item = tree.get("plugins").and_then(|n| match &n.value {
            Value::Seq(items) => items.get(i),
            _ => None,
        });
        let loc = item.map(|n| n.loc).unwrap_or_default();
        let name = if item.and_then(|n| n.get("name")).is_some_and(|n| n.secret) {
            FROM_ENV.to_owned()
        } else {
            plugin.name.clone()
        };
        if let Some(first) = seen_plugins.insert(&plugin.name, loc) {
            c.error(
                loc,
                format!(
                    "plugin `{name}` is declared twice (first at line {})",
                    first.line
                ),
                "give each plugin its own name".into(),
            );
        }
        match plugin.source {
            Some(PluginSource::Npm | PluginSource::Registry) => c.warning(
                loc,
                format!("plugin `{name}` comes from a package registry, which ao does not load plugins from; it is ignored"),
                Some("build it as a shared library with ao-plugin-sdk and give its `path`".into()),
            ),
            _ if plugin.enabled && plugin.path.is_none() => c.error(
                loc,
                format!("plugin `{name}` has no `path`"),
                "set `path:` to the plugin's shared library, or `enabled: false`".into(),
            ),
            _ => {}
        }
    }

    // Notifiers and routing.
    let builtin_notifiers = registry.names(Slot::Notifier);
    for (name, section) in &config.notifiers {
        c.section(Slot::Notifier, section, &["notifiers", name], Some(name));
    }
    let notifier_known = |n: &str| {
        config.notifiers.contains_key(n)
            || builtin_notifiers.contains(&n)
            || config.plugins.iter().any(|p| p.name == n)
    };
    let mut route_targets: Vec<(String, Loc, bool)> = Vec::new();
    if let Some(Node {
        value: Value::Seq(items),
        ..
    }) = tree.at(&["defaults", "notifiers"])
    {
        for (name, node) in config.defaults.notifiers.iter().zip(items) {
            route_targets.push((name.clone(), node.loc, node.secret));
        }
    }
    for (priority, names) in &config.notification_routing {
        if priority.parse::<Priority>().is_err() {
            let loc = c.key_loc(&["notificationRouting"], priority);
            c.warning(
                loc,
                format!("`{priority}` is not a priority; ao routes notifications by priority only, so this route is ignored"),
                Some("use urgent, action, warning or info".into()),
            );
            continue;
        }
        if let Some(Node {
            value: Value::Seq(items),
            ..
        }) = tree.at(&["notificationRouting", priority])
        {
            for (name, node) in names.iter().zip(items) {
                route_targets.push((name.clone(), node.loc, node.secret));
            }
        }
    }
    for (name, loc, secret) in route_targets {
        if !notifier_known(&name) {
            let shown = if secret { FROM_ENV } else { name.as_str() };
            // Notifiers that deliver: not one configured as a notifier ao does not have.
            let known: Vec<&str> = config
                .notifiers
                .iter()
                .filter(|(key, section)| {
                    unknown_plugin::skipped_notifier(section.plugin.as_deref().unwrap_or(key))
                        .is_none()
                })
                .map(|(key, _)| key.as_str())
                .chain(builtin_notifiers.iter().copied())
                .collect();
            let unknown = unknown_plugin::describe(Slot::Notifier, &name, shown, &known);
            let (message, hint) = if unknown_plugin::skipped_notifier(&name).is_some() {
                (unknown.message, unknown.hint)
            } else {
                (
                    format!("unknown notifier `{shown}`: notifications routed to it fail"),
                    match did_you_mean(&name, known.iter().copied()) {
                        Some(near) => format!("did you mean `{near}`?"),
                        None => format!(
                            "configure it under `notifiers:`, or use one of: {}",
                            known.join(", ")
                        ),
                    },
                )
            };
            c.warning(loc, message, Some(hint));
        }
    }

    c.reactions(&config.reactions, &["reactions"]);

    // Runtime settings, keyed by runtime name.
    for (name, section) in &config.runtimes {
        let loc = c.key_loc(&["runtimes"], name);
        if section.plugin.is_some() {
            let loc = c.loc(&["runtimes", name, "plugin"]);
            c.error(
                loc,
                format!("`runtimes.{name}` is keyed by the runtime's name and takes no `plugin:`"),
                "remove `plugin:`".into(),
            );
        }
        if c.plugin_name(Slot::Runtime, name, name, loc) {
            c.section(Slot::Runtime, section, &["runtimes", name], Some(name));
        }
    }

    // Projects.
    let mut prefixes: BTreeMap<String, (String, Loc)> = BTreeMap::new();
    let mut paths: BTreeMap<std::path::PathBuf, (String, Loc)> = BTreeMap::new();
    // In file order, so a duplicate is reported at the later of the two.
    let mut ordered: Vec<(&String, &super::ProjectConfig)> = config.projects.iter().collect();
    ordered.sort_by_key(|(id, _)| c.key_loc(&["projects"], id));
    for (id, p) in ordered {
        fn at<'k>(id: &'k str, key: &'k str) -> [&'k str; 3] {
            ["projects", id, key]
        }
        if !is_valid_prefix(id) {
            let loc = c.key_loc(&["projects"], id);
            c.error(
                loc,
                format!("project id `{id}` may only hold letters, digits, `-` and `_`"),
                "rename the project".into(),
            );
        }
        let (prefix, prefix_loc) = match &p.session_prefix {
            Some(prefix) => (prefix.clone(), c.loc(&at(id, "sessionPrefix"))),
            None => (id.clone(), c.key_loc(&["projects"], id)),
        };
        if !is_valid_prefix(&prefix) {
            c.error(
                prefix_loc,
                format!("sessionPrefix `{prefix}` may only hold letters, digits, `-` and `_`"),
                "session ids are <sessionPrefix>-<n>, so pick a short plain word such as `app`"
                    .into(),
            );
        } else if let Some((other, other_loc)) = prefixes.get(&prefix) {
            c.error(
                prefix_loc,
                format!(
                    "sessionPrefix `{prefix}` of project `{id}` is already used by project `{other}` (line {})",
                    other_loc.line
                ),
                "give each project its own sessionPrefix".into(),
            );
        } else {
            prefixes.insert(prefix, (id.clone(), prefix_loc));
        }

        let path = expand_path(&p.path, base, env);
        let path_loc = c.loc(&at(id, "path"));
        if let Some(rest) = p.path.strip_prefix("~/")
            && escapes(rest)
        {
            c.error(
                path_loc,
                format!(
                    "project `{id}`: path {} leaves your home directory through `..`",
                    c.shown(&at(id, "path"), &p.path)
                ),
                "write the path without `~/..`: the absolute path, or one inside your home".into(),
            );
            continue;
        }
        // A registry holds one entry per repository (one-file configs may give one
        // repository to several projects).
        let registered = p.project_id.is_some() || p.registered_at.is_some() || p.source.is_some();
        let real = path.canonicalize().unwrap_or_else(|_| path.clone());
        if !registered {
        } else if let Some((other, other_loc)) = paths.get(&real) {
            c.error(
                path_loc,
                format!(
                    "project `{id}` has the same path as project `{other}` (line {}): {}",
                    other_loc.line,
                    c.shown(&at(id, "path"), path.display())
                ),
                "keep one entry per repository; remove the other (`ao project rm ID`)".into(),
            );
        } else {
            paths.insert(real, (id.clone(), path_loc));
        }
        if !path.exists() {
            c.error(
                path_loc,
                format!(
                    "project `{id}`: path {} does not exist",
                    c.shown(&at(id, "path"), path.display())
                ),
                "clone the repository there, or set `path` to where it is".into(),
            );
        } else {
            match git2::Repository::open(&path) {
                Ok(repo) if repo.is_bare() => c.error(
                    path_loc,
                    format!(
                        "project `{id}`: {} is a bare repository",
                        c.shown(&at(id, "path"), path.display())
                    ),
                    "point `path` at a clone with a working tree".into(),
                ),
                Ok(_) => {}
                Err(_) => c.error(
                    path_loc,
                    format!(
                        "project `{id}`: {} is not a git repository",
                        c.shown(&at(id, "path"), path.display())
                    ),
                    "point `path` at the top of a git clone (the directory holding .git)".into(),
                ),
            }
        }

        let shared_dir = match (&config.defaults.worktree_dir, &config.worktree_dir) {
            (Some(dir), _) => Some((dir, vec!["defaults", "worktreeDir"])),
            (None, Some(dir)) => Some((dir, vec!["worktreeDir"])),
            (None, None) => None,
        };
        let worktree_dir = match (&p.worktree_dir, shared_dir) {
            (Some(dir), _) => Some((expand_path(dir, base, env), at(id, "worktreeDir").to_vec())),
            (None, Some((dir, key))) => Some((expand_path(dir, base, env).join(id), key)),
            (None, None) => None,
        };
        if let Some((dir, key)) = worktree_dir
            && path.exists()
        {
            let (dir, repo) = (resolved(&dir), resolved(&path));
            let problem = if dir == repo {
                Some("is the repository itself")
            } else if dir.starts_with(repo.join(".git")) {
                Some("is inside the repository's .git directory")
            } else if dir.starts_with(&repo) {
                Some(
                    "is inside the repository: every worktree would show as untracked files in the main checkout, and a `git add -A` there would take them in",
                )
            } else {
                None
            };
            if let Some(problem) = problem {
                let loc = c.loc(&key);
                c.error(
                    loc,
                    format!(
                        "project `{id}`: worktreeDir {} {problem}",
                        c.shown(&key, dir.display())
                    ),
                    "put worktrees outside the repository, e.g. ~/.agent-orchestrator/worktrees (the default when unset)".into(),
                );
            }
        }

        for (slot, name, key) in [
            (Slot::Runtime, &p.runtime, "runtime"),
            (Slot::Agent, &p.agent, "agent"),
            (Slot::Workspace, &p.workspace, "workspace"),
        ] {
            if let Some(name) = name {
                let loc = c.loc(&at(id, key));
                let shown = c.shown(&at(id, key), name);
                c.plugin_name(slot, name, &shown, loc);
            }
        }
        if let Some(tracker) = &p.tracker {
            c.section(Slot::Tracker, tracker, &at(id, "tracker"), None);
        }
        if let Some(scm) = &p.scm {
            c.section(Slot::Scm, scm, &at(id, "scm"), None);
        }
        c.relative_paths(&p.symlinks, &at(id, "symlinks"));
        c.relative_paths(&p.copy, &at(id, "copy"));
        c.reactions(&p.reactions, &at(id, "reactions"));
        let agent = p.agent.as_deref().unwrap_or(&config.defaults.agent);
        let shown_agent = match p.agent {
            Some(_) => c.shown(&at(id, "agent"), agent),
            None => c.shown(&["defaults", "agent"], agent),
        };
        // An agent ao lacks is warned about already; what it would read is unknown.
        let agent_known = c.has_plugin(Slot::Agent, agent);
        // Keys ao does not read are the agent plugin's; a built-in uses none of them.
        if agent_known && !c.external.contains(&agent) {
            for key in p.agent_config.extra.keys() {
                let loc = c.key_loc(&["projects", id, "agentConfig"], key);
                let typo = did_you_mean(
                    key,
                    [
                        "permissions",
                        "model",
                        "env",
                        "command",
                        "promptDelivery",
                        "processName",
                    ],
                );
                c.warning(
                    loc,
                    format!(
                        "`agentConfig.{key}` is not used by the `{shown_agent}` agent; it is ignored"
                    ),
                    typo.map(|t| format!("did you mean `{t}`?")),
                );
            }
        }
        if agent_known && agent != "command" && p.agent_config.command.is_some() {
            let loc = c.key_loc(&["projects", id, "agentConfig"], "command");
            c.warning(
                loc,
                format!("`agentConfig.command` is for the `command` agent; the `{shown_agent}` agent runs its own CLI from PATH"),
                Some("remove it, or set `agent: command` to run that program".into()),
            );
        }
        let command_empty = p.agent_config.command.as_ref().is_none_or(|c| c.is_empty());
        if agent == "command" && command_empty {
            let loc = if p.agent_config.command.is_some() {
                c.loc(&["projects", id, "agentConfig", "command"])
            } else if p.agent.is_some() {
                c.loc(&at(id, "agent"))
            } else {
                c.key_loc(&["projects"], id)
            };
            c.error(
                loc,
                format!("project `{id}` uses the `command` agent but gives no command"),
                "set `agentConfig.command` to the CLI to run, one argument per element, e.g. [\"my-agent\", \"--yes\"]".into(),
            );
        }
        if p.max_sessions == Some(0) {
            let loc = c.loc(&at(id, "maxSessions"));
            c.error(
                loc,
                "maxSessions must be at least 1".into(),
                "remove it for no limit".into(),
            );
        }
        if let Some(rules) = &p.agent_rules_file {
            let rules_path = expand_path(rules, &path, env);
            if path.exists() && !rules_path.is_file() {
                let loc = c.loc(&at(id, "agentRulesFile"));
                c.warning(
                    loc,
                    format!(
                        "agentRulesFile {} does not exist; agents start without it",
                        c.shown(&at(id, "agentRulesFile"), rules_path.display())
                    ),
                    Some("the path is relative to the project's path".into()),
                );
            }
        }
    }
    c.reference_keys(config);
    c.diags
}

impl Checker<'_> {
    /// A warning at `path` that its key is read but has no behaviour in ao yet.
    fn not_used_yet(&mut self, path: &[&str], note: &str) {
        let key = path.last().copied().unwrap_or_default();
        let loc = self
            .tree
            .at(&path[..path.len() - 1])
            .and_then(|n| n.entry(key))
            .map(|e| e.key_loc)
            .unwrap_or_else(|| self.loc(path));
        self.warning(
            loc,
            format!("`{key}` is read, not used by ao yet"),
            Some(note.to_owned()),
        );
    }

    /// The keys of the reference format that ao reads into its config but does not act
    /// on yet, each said once where it is written; wrong values among them are errors.
    fn reference_keys(&mut self, config: &Config) {
        // The dashboard (`port`, `dashboard`) is served by `ao start`; its terminals go
        // over the same port.
        let shared = "the dashboard's terminals share `port`";
        for (key, set) in [
            ("terminalPort", config.terminal_port.is_some()),
            ("directTerminalPort", config.direct_terminal_port.is_some()),
        ] {
            if set {
                self.not_used_yet(&[key], shared);
            }
        }
        // The dashboard on an address other machines reach: `ao start` refuses it without
        // a token and TLS, and so does the check, before anything starts.
        if let Some(d) = &config.dashboard
            && let Some(host) = d.host.as_deref()
        {
            let ip = match host {
                "localhost" => Some(std::net::IpAddr::from([127, 0, 0, 1])),
                h => h.trim_matches(['[', ']']).parse::<std::net::IpAddr>().ok(),
            };
            let loc = self.loc(&["dashboard", "host"]);
            match ip {
                // A warning too: only the dashboard fails on it.
                None => self.warning(
                    loc,
                    format!(
                        "dashboard.host `{}` is not an IP address: `ao start` cannot serve the dashboard on it",
                        self.shown(&["dashboard", "host"], host)
                    ),
                    Some("write 127.0.0.1 (the default), ::1, or an address of this machine".into()),
                ),
                Some(ip) if !ip.is_loopback() => {
                    let token = d.token.as_ref().is_some_and(|t| !t.expose().is_empty());
                    // A warning: every command but the dashboard works, and
                    // `ao start --no-dashboard` runs the host without it.
                    if !token {
                        self.warning(
                            loc,
                            format!("`ao start` refuses to serve the dashboard on {ip}, which other machines can reach, while dashboard.token is not set: anyone who reached it could drive your agents"),
                            Some("set dashboard.token (as `${AO_DASHBOARD_TOKEN}`, from the environment), or keep dashboard.host at 127.0.0.1 and reach it through a tunnel or VPN".into()),
                        );
                    } else if d.tls.is_none() {
                        self.warning(
                            loc,
                            format!("`ao start` refuses to serve the dashboard on {ip}, which other machines can reach, over plain HTTP: its login links and cookies would cross the network readable"),
                            Some("set dashboard.tls: { cert: FILE, key: FILE } (PEM), or keep dashboard.host at 127.0.0.1 and reach it through a tunnel or VPN that encrypts".into()),
                        );
                    }
                }
                Some(_) => {}
            }
        }
        if let Some(w) = &config.notification_dedup_window
            && crate::notify::parse_duration(w).is_none()
        {
            let loc = self.loc(&["notificationDedupWindow"]);
            self.error(
                loc,
                format!(
                    "notificationDedupWindow `{}` is not a duration",
                    self.shown(&["notificationDedupWindow"], w)
                ),
                "write it as 30s, 5m or 1h (0 sends every notification)".into(),
            );
        }
        if !config.project_order.is_empty() {
            self.not_used_yet(&["projectOrder"], "ao lists projects by id");
        }
        if let Some(lifecycle) = &config.lifecycle {
            if let Some(ms) = lifecycle.merge_cleanup_idle_grace_ms
                && (1..10_000).contains(&ms)
            {
                let loc = self.loc(&["lifecycle", "mergeCleanupIdleGraceMs"]);
                self.error(
                    loc,
                    format!("mergeCleanupIdleGraceMs is {ms}: milliseconds, so under 10 s, which looks like seconds written by mistake"),
                    "write 0 to clean up at once, or at least 10000 (10 s); the default is 300000 (5 min)".into(),
                );
            }
            if let Some(v) = &lifecycle.ci_grace_period
                && crate::notify::parse_duration(v).is_none()
            {
                let loc = self.loc(&["lifecycle", "ciGracePeriod"]);
                self.error(
                    loc,
                    format!(
                        "lifecycle.ciGracePeriod `{}` is not a duration",
                        self.shown(&["lifecycle", "ciGracePeriod"], v)
                    ),
                    "write it like `2m`, `90s` or `0` (the default is `2m`)".into(),
                );
            }
            for (key, value) in [
                ("probeInterval", &lifecycle.probe_interval),
                ("pollInterval", &lifecycle.poll_interval),
                ("notifyRetryDelay", &lifecycle.notify_retry_delay),
                ("webhookPollInterval", &lifecycle.webhook_poll_interval),
            ] {
                if let Some(v) = value
                    && crate::notify::parse_duration(v).is_none_or(|d| d.is_zero())
                {
                    let loc = self.loc(&["lifecycle", key]);
                    self.error(
                        loc,
                        format!(
                            "lifecycle.{key} `{}` is not a duration above 0",
                            self.shown(&["lifecycle", key], v)
                        ),
                        "write it as 5s, 30s or 2m".into(),
                    );
                }
            }
        }
        for (id, p) in &config.projects {
            if p.workspace.as_deref() == Some(crate::session::CHECKOUT) {
                let loc = self.loc(&["projects", id, "workspace"]);
                self.error(
                    loc,
                    "`workspace: checkout` is the orchestrator's own (the project's checkout); workers each need a workspace of their own".into(),
                    "use `worktree` (the default) or `clone`".into(),
                );
            }
            if p.opencode_issue_session_strategy.is_some() {
                self.not_used_yet(
                    &["projects", id, "opencodeIssueSessionStrategy"],
                    "ao starts one opencode session per ao session, and `ao session restore` resumes it",
                );
            }
            if p.decomposer.is_some() {
                self.not_used_yet(
                    &["projects", id, "decomposer"],
                    "ao spawns one session per issue",
                );
            }
        }
    }
}

/// Notes that only `ao config validate` and `ao config show` print: facts about the file
/// that ordinary commands need not repeat.
pub fn notes(config: &Config, tree: &Node, file: &Path) -> Vec<Diagnostic> {
    let mut notes = Vec::new();
    for (id, p) in &config.projects {
        let (named, path) = match &p.tracker {
            Some(section) => (
                section.plugin.as_deref(),
                vec!["projects", id.as_str(), "tracker"],
            ),
            None => (
                Some(config.defaults.tracker.as_str()),
                vec!["defaults", "tracker"],
            ),
        };
        if named != Some(NO_TRACKER) {
            continue;
        }
        let node = tree.at(&path);
        let loc = node
            .map(|n| n.get("plugin").unwrap_or(n).loc)
            .unwrap_or_default();
        notes.push(
            Diagnostic::warning(
                file,
                loc,
                format!("project `{id}` has no tracker (`tracker: none`): its sessions take their task from `ao spawn {id} --prompt TEXT`"),
            )
            .with_hint("`ao issue ls` and spawning by issue number need one, such as `tracker: github` with `repo: owner/name`"),
        );
    }
    if config.data_dir.is_some() {
        let loc = tree.entry("dataDir").map(|e| e.key_loc).unwrap_or_default();
        notes.push(
            Diagnostic::warning(
                file,
                loc,
                "`dataDir` is read, not used: ao keeps its state in $AO_HOME (default ~/.agent-orchestrator)",
            )
            .with_hint("set AO_HOME to move ao's store and worktrees"),
        );
    }
    notes
}

/// `path` with symlinks resolved as far as it exists, the rest appended as written, so a
/// directory not made yet compares with the real paths it will sit under.
fn resolved(path: &std::path::Path) -> std::path::PathBuf {
    if let Ok(real) = path.canonicalize() {
        return real;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => resolved(parent).join(name),
        _ => path.to_owned(),
    }
}

/// Whether a relative path climbs out of where it starts (`../x`, `a/../../x`).
fn escapes(rest: &str) -> bool {
    let mut depth: i64 = 0;
    for part in rest.split('/') {
        match part {
            ".." => depth -= 1,
            "" | "." => {}
            _ => depth += 1,
        }
        if depth < 0 {
            return true;
        }
    }
    false
}
