//! A project with every default filled in: what the rest of ao works with.

use super::types::{AgentConfig, Config, OrchestratorSessionStrategy, ReactionConfig};
use super::{EnvLookup, LoadedConfig, expand_path};
use crate::reactions::ReactionKind;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The reactions ao knows, by the key used under `reactions:`, in the order ao lists
/// them (each one's definition is its [`ReactionKind`]).
pub const REACTION_KEYS: &[&str] = &crate::reactions::keys();

/// The reactions in force when the config says nothing: each known one's defaults.
pub fn default_reactions() -> BTreeMap<String, ReactionConfig> {
    ReactionKind::ALL
        .iter()
        .map(|k| (k.key().to_owned(), k.defaults()))
        .collect()
}

/// Fills the unset fields of `over` from `base`.
fn merge_reaction(base: &ReactionConfig, over: &ReactionConfig) -> ReactionConfig {
    ReactionConfig {
        auto: over.auto.or(base.auto),
        action: over.action.or(base.action),
        message: over.message.clone().or_else(|| base.message.clone()),
        priority: over.priority.or(base.priority),
        retries: over.retries.or(base.retries),
        escalate_after: over.escalate_after.or(base.escalate_after),
        threshold: over.threshold.or(base.threshold),
        include_summary: over.include_summary.or(base.include_summary),
        merge_method: over.merge_method.or(base.merge_method),
        require_checks: over.require_checks.or(base.require_checks),
    }
}

/// A project with defaults applied and paths made absolute.
#[derive(Debug, Clone)]
pub struct ResolvedProject {
    /// The project id.
    pub id: String,
    /// Display name (the id when unset).
    pub name: String,
    /// The repository on the project's scm (`owner/name`; groups may nest), if set.
    pub repo: Option<String>,
    /// The local clone, absolute.
    pub path: PathBuf,
    /// The branch sessions start from.
    pub default_branch: String,
    /// Session ids are `<prefix>-<n>`.
    pub session_prefix: String,
    /// Runtime plugin name.
    pub runtime: String,
    /// Agent plugin name.
    pub agent: String,
    /// Workspace plugin name.
    pub workspace: String,
    /// Tracker plugin name.
    pub tracker: String,
    /// Scm plugin name.
    pub scm: String,
    /// Relative paths symlinked into workspaces.
    pub symlinks: Vec<String>,
    /// Relative paths copied into workspaces.
    pub copy: Vec<String>,
    /// Commands run in new workspaces.
    pub post_create: Vec<String>,
    /// Settings for the agent.
    pub agent_config: AgentConfig,
    /// Inline rules.
    pub agent_rules: Option<String>,
    /// The rules file, absolute.
    pub agent_rules_file: Option<PathBuf>,
    /// Defaults, then global reactions, then the project's, merged per key.
    pub reactions: BTreeMap<String, ReactionConfig>,
    /// Live-session limit.
    pub max_sessions: Option<u32>,
    /// The directory holding this project's workspaces, one per session, when the
    /// config names one (otherwise `$AO_HOME/worktrees/<project>`).
    pub worktree_dir: Option<PathBuf>,
    /// The orchestrator session's agent: `orchestrator.agent`, else
    /// `defaults.orchestrator.agent`, else the project's agent.
    pub orchestrator_agent: String,
    /// Its settings: the project's `agentConfig` under `orchestrator.agentConfig`, with
    /// `orchestratorModel` as its model where set.
    pub orchestrator_agent_config: AgentConfig,
    /// The project's `orchestratorRules`.
    pub orchestrator_rules: Option<String>,
    /// What `ao start` does with an earlier orchestrator session (default reuse).
    pub orchestrator_strategy: OrchestratorSessionStrategy,
}

impl ResolvedProject {
    /// Reaction `kind` as the project has it: ao's defaults, then the global settings,
    /// then the project's.
    pub fn reaction(&self, kind: ReactionKind) -> Option<&ReactionConfig> {
        self.reactions.get(kind.key())
    }

    /// The project as session `id` runs it: the orchestrator's agent and settings for
    /// the orchestrator session, the workers' for the others.
    pub fn for_session(&self, id: &crate::model::SessionId) -> ResolvedProject {
        if !id.is_orchestrator() {
            return self.clone();
        }
        ResolvedProject {
            agent: self.orchestrator_agent.clone(),
            agent_config: self.orchestrator_agent_config.clone(),
            ..self.clone()
        }
    }
}

/// `base` with the keys `over` sets laid on top (maps merged key by key).
fn layered(base: &AgentConfig, over: Option<&AgentConfig>) -> AgentConfig {
    fn merge(base: &mut serde_json::Value, over: serde_json::Value) {
        match (base, over) {
            (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
                for (k, v) in o {
                    if v.is_null() {
                        continue;
                    }
                    match b.get_mut(&k) {
                        Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                        _ => {
                            b.insert(k, v);
                        }
                    }
                }
            }
            (b, o) if !o.is_null() => *b = o,
            _ => {}
        }
    }
    let Some(over) = over else {
        return base.clone();
    };
    let mut value = serde_json::to_value(base).unwrap_or_default();
    merge(&mut value, serde_json::to_value(over).unwrap_or_default());
    serde_json::from_value(value).unwrap_or_else(|_| base.clone())
}

impl LoadedConfig {
    /// The directory relative paths in the file are relative to.
    pub fn base_dir(&self) -> PathBuf {
        self.file
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// Every project, resolved, by id.
    pub fn projects(&self, env: EnvLookup<'_>) -> Vec<ResolvedProject> {
        self.config
            .projects
            .keys()
            .filter_map(|id| self.project(id, env))
            .collect()
    }

    /// One project, resolved.
    pub fn project(&self, id: &str, env: EnvLookup<'_>) -> Option<ResolvedProject> {
        let cfg: &Config = &self.config;
        let p = cfg.projects.get(id)?;
        let base = self.base_dir();
        let path = expand_path(&p.path, &base, env);
        let mut reactions = default_reactions();
        for layer in [&cfg.reactions, &p.reactions] {
            for (key, over) in layer {
                let merged = match reactions.get(key) {
                    Some(base) => merge_reaction(base, over),
                    None => over.clone(),
                };
                reactions.insert(key.clone(), merged);
            }
        }
        let plugin_of = |section: &Option<super::PluginSection>, default: &str| {
            section
                .as_ref()
                .and_then(|s| s.plugin.clone())
                .unwrap_or_else(|| default.to_owned())
        };
        Some(ResolvedProject {
            id: id.to_owned(),
            name: p
                .name
                .clone()
                .or_else(|| p.display_name.clone())
                .unwrap_or_else(|| id.to_owned()),
            repo: p.repo.clone(),
            default_branch: p.default_branch.clone(),
            session_prefix: p.session_prefix.clone().unwrap_or_else(|| id.to_owned()),
            runtime: p
                .runtime
                .clone()
                .unwrap_or_else(|| cfg.defaults.runtime.clone()),
            // Workers: `worker.agent`, `defaults.worker.agent`, then the project's.
            agent: p
                .worker
                .as_ref()
                .and_then(|w| w.agent.clone())
                .or_else(|| cfg.defaults.worker.as_ref().and_then(|w| w.agent.clone()))
                .or_else(|| p.agent.clone())
                .unwrap_or_else(|| cfg.defaults.agent.clone()),
            orchestrator_agent: p
                .orchestrator
                .as_ref()
                .and_then(|o| o.agent.clone())
                .or_else(|| {
                    cfg.defaults
                        .orchestrator
                        .as_ref()
                        .and_then(|o| o.agent.clone())
                })
                .or_else(|| p.agent.clone())
                .unwrap_or_else(|| cfg.defaults.agent.clone()),
            orchestrator_agent_config: {
                let mut c = layered(
                    &p.agent_config,
                    p.orchestrator
                        .as_ref()
                        .and_then(|o| o.agent_config.as_ref()),
                );
                if let Some(m) = c.orchestrator_model.clone() {
                    c.model = Some(m);
                }
                c
            },
            orchestrator_rules: p.orchestrator_rules.clone(),
            orchestrator_strategy: p
                .orchestrator_session_strategy
                .unwrap_or(OrchestratorSessionStrategy::Reuse),
            workspace: p
                .workspace
                .clone()
                .unwrap_or_else(|| cfg.defaults.workspace.clone()),
            tracker: plugin_of(&p.tracker, &cfg.defaults.tracker),
            scm: plugin_of(&p.scm, &cfg.defaults.scm),
            symlinks: p.symlinks.clone(),
            copy: p.copy.clone(),
            post_create: p.post_create.clone(),
            agent_config: layered(
                &p.agent_config,
                p.worker.as_ref().and_then(|w| w.agent_config.as_ref()),
            ),
            agent_rules: p.agent_rules.clone(),
            agent_rules_file: p
                .agent_rules_file
                .as_ref()
                .map(|f| expand_path(f, &path, env)),
            reactions,
            max_sessions: p.max_sessions,
            worktree_dir: match (
                &p.worktree_dir,
                cfg.defaults
                    .worktree_dir
                    .as_ref()
                    .or(cfg.worktree_dir.as_ref()),
            ) {
                (Some(dir), _) => Some(expand_path(dir, &base, env)),
                (None, Some(dir)) => Some(expand_path(dir, &base, env).join(id)),
                (None, None) => None,
            },
            path,
        })
    }
}

#[cfg(test)]
mod reaction_tests {
    use super::*;
    use crate::config::{ConfigDuration, EscalateAfter, ReactionAction};
    use crate::model::Priority;
    use std::time::Duration;

    #[test]
    fn every_known_reaction_has_the_reference_defaults() {
        let defaults = default_reactions();
        let keys: Vec<&str> = defaults.keys().map(String::as_str).collect();
        let mut known = REACTION_KEYS.to_vec();
        known.sort_unstable();
        assert_eq!(keys, known);
        for (key, r) in &defaults {
            assert!(r.auto.is_some() && r.action.is_some(), "{key}");
        }
        let ci = &defaults["ci-failed"];
        assert_eq!(
            (ci.retries, ci.escalate_after),
            (Some(2), Some(EscalateAfter::Attempts(2)))
        );
        assert_eq!(defaults["approved-and-green"].auto, Some(false));
        assert_eq!(defaults["pr-closed"].priority, Some(Priority::Action));
        assert_eq!(defaults["agent-idle"].retries, Some(2));
        assert_eq!(defaults["all-complete"].include_summary, Some(true));
        assert_eq!(
            defaults["agent-stuck"].threshold,
            Some(ConfigDuration(Duration::from_secs(600)))
        );
        // A send-to-agent reaction always has something to say.
        for (key, r) in &defaults {
            if r.action == Some(ReactionAction::SendToAgent) {
                assert!(r.message.is_some(), "{key}");
            }
        }
    }
}
