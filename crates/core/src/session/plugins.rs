//! Building the plugins a project names, from the registry and the config's sections.

use super::{Manager, ManagerError};
use crate::config::ResolvedProject;
use crate::config::unknown_plugin::NO_TRACKER;
use crate::plugin::{Agent, Runtime, Slot, Tracker, Workspace};
use crate::registry::{Factory, SectionRef};
use std::sync::Arc;

/// The plugins of one project.
pub(crate) struct Plugins {
    pub runtime: Arc<dyn Runtime>,
    pub agent: Arc<dyn Agent>,
    pub workspace: Arc<dyn Workspace>,
}

/// Plugin instances by what built them (see [`Manager::build`]).
pub(crate) type Instances =
    std::sync::Mutex<std::collections::HashMap<String, Box<dyn std::any::Any + Send + Sync>>>;

/// A config section's value without its positions, as a key: two sections that say the
/// same in different places (or files) give the same text.
pub(crate) fn meaning(node: &crate::config::Node) -> String {
    use crate::config::Value;
    match &node.value {
        Value::Null => "~".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Str(s) => format!("{s:?}"),
        Value::Seq(items) => format!(
            "[{}]",
            items.iter().map(meaning).collect::<Vec<_>>().join(",")
        ),
        Value::Map(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|e| format!("{:?}:{}", e.key, meaning(&e.value)))
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

impl Manager {
    pub(crate) fn build<T: ?Sized + Send + Sync + 'static>(
        &self,
        slot: Slot,
        name: &str,
        section: &[&str],
        repo: Option<&str>,
        pick: impl Fn(&Factory) -> Option<&crate::registry::Build<T>>,
    ) -> Result<Arc<T>, ManagerError> {
        // No section (agents, workspaces) is none, not the whole config.
        let node = (!section.is_empty())
            .then(|| self.config.tree.at(section))
            .flatten();
        // One instance per meaning, kept: its clients, caches and budgets live on. A
        // kept one passed every check below when it was built (asked for once per
        // session per probe: nothing else is done for it).
        let key = format!(
            "{slot}|{name}|{}|{repo:?}",
            node.map(meaning).unwrap_or_default()
        );
        let keep = self
            .keep_instances
            .load(std::sync::atomic::Ordering::Relaxed);
        if keep
            && let Some(instance) = self
                .instances
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&key)
                .and_then(|i| i.downcast_ref::<Arc<T>>())
        {
            return Ok(instance.clone());
        }
        // The name may have come from the environment (`agent: ${AGENT}`).
        let shown = self.config.redact(name);
        if let Some(why) = self.registry.refusal(name) {
            return Err(ManagerError::refused(
                format!(
                    "the {slot} plugin `{shown}` was not loaded: {}",
                    self.config.redact(why)
                ),
                "fix the plugin or its entry under `plugins:`; `ao plugin ls` shows every plugin's state",
            ));
        }
        // Where the config names it, for every refusal below: the line to change.
        let at = self
            .config
            .plugin_named_at(slot.as_str(), name, None)
            .map(|loc| format!(" (named at {})", self.config.place(loc)))
            .unwrap_or_default();
        let Some(entry) = self.registry.get(slot, name) else {
            let known = self.registry.names(slot);
            let unknown = crate::config::unknown_plugin::describe(slot, name, &shown, &known);
            return Err(ManagerError::refused(
                format!("there is no {slot} plugin `{shown}`{at}"),
                unknown.hint,
            ));
        };
        let Some(build) = entry.factory.as_ref().and_then(&pick) else {
            return Err(ManagerError::refused(
                format!("the {slot} plugin `{shown}`{at} is not in this build of ao yet"),
                format!(
                    "choose another {slot}; available: {}",
                    self.available(slot).join(", ")
                ),
            ));
        };
        let mut kept = self.instances.lock().unwrap_or_else(|e| e.into_inner());
        if keep && let Some(instance) = kept.get(&key).and_then(|i| i.downcast_ref::<Arc<T>>()) {
            return Ok(instance.clone());
        }
        let section_ref = SectionRef {
            file: &self.config.file,
            node,
            loc: node.map(|n| n.loc).unwrap_or_default(),
            repo,
        };
        let instance = build(&section_ref)?;
        if keep {
            kept.insert(key, Box::new(instance.clone()));
        }
        Ok(instance)
    }

    fn available(&self, slot: Slot) -> Vec<String> {
        self.registry
            .entries()
            .into_iter()
            .filter(|e| e.manifest.slot == slot && e.is_available())
            .map(|e| e.manifest.name.clone())
            .collect()
    }

    pub(crate) fn runtime(&self, name: &str) -> Result<Arc<dyn Runtime>, ManagerError> {
        self.build(
            Slot::Runtime,
            name,
            &["runtimes", name],
            None,
            |f| match f {
                Factory::Runtime(b) => Some(b),
                _ => None,
            },
        )
    }

    pub(crate) fn agent(&self, name: &str) -> Result<Arc<dyn Agent>, ManagerError> {
        self.build(Slot::Agent, name, &[], None, |f| match f {
            Factory::Agent(b) => Some(b),
            _ => None,
        })
    }

    pub(crate) fn workspace(&self, name: &str) -> Result<Arc<dyn Workspace>, ManagerError> {
        if name == super::orchestrator::CHECKOUT {
            return Ok(Arc::new(super::orchestrator::InPlace));
        }
        self.build(Slot::Workspace, name, &[], None, |f| match f {
            Factory::Workspace(b) => Some(b),
            _ => None,
        })
    }

    /// The project's tracker; `tracker: none` is a refusal that says what to set.
    pub(crate) fn tracker(
        &self,
        project: &ResolvedProject,
    ) -> Result<Arc<dyn Tracker>, ManagerError> {
        if project.tracker == NO_TRACKER {
            let at = self
                .config
                .plugin_named_at("tracker", NO_TRACKER, Some(&project.id))
                .map(|loc| format!(" at {}", self.config.place(loc)))
                .unwrap_or_default();
            return Err(ManagerError::refused(
                format!(
                    "project `{}` has no tracker (`tracker: none`{at})",
                    project.id
                ),
                format!(
                    "set `tracker: github` and `repo: owner/name` for project `{id}` to work on GitHub issues; `ao spawn {id} --prompt TEXT` needs no tracker",
                    id = project.id
                ),
            ));
        }
        self.build(
            Slot::Tracker,
            &project.tracker,
            &["projects", &project.id, "tracker"],
            project.repo.as_deref(),
            |f| match f {
                Factory::Tracker(b) => Some(b),
                _ => None,
            },
        )
    }

    pub(crate) fn plugins_for(
        &self,
        agent: &str,
        workspace: &str,
        runtime: &str,
    ) -> Result<Plugins, ManagerError> {
        Ok(Plugins {
            runtime: self.runtime(runtime)?,
            agent: self.agent(agent)?,
            workspace: self.workspace(workspace)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::Fakes;
    use crate::registry::{Origin, PluginEntry, PluginManifest};
    use std::sync::Mutex;

    /// An agent has no section of its own: its plugin is given none, not the whole config
    /// (which an external plugin would be sent with every call, and whose text was the
    /// key of its kept instance, made again at every probe of every session).
    #[test]
    fn an_agent_is_given_no_section_not_the_whole_config() {
        let fakes = Fakes::default();
        let mut registry = fakes.registry();
        let given = Arc::new(Mutex::new(Vec::new()));
        let (agent, seen) = (fakes.agent.clone(), given.clone());
        registry.register(PluginEntry {
            manifest: PluginManifest {
                name: "recording".to_owned(),
                version: "0.0.0".to_owned(),
                slot: Slot::Agent,
                description: "an agent that records the section it is built with".to_owned(),
            },
            origin: Origin::BuiltIn,
            validate: None,
            factory: Some(Factory::Agent(Arc::new(move |s: &SectionRef<'_>| {
                seen.lock().unwrap().push(s.node.is_some());
                Ok(Arc::new(agent.clone()) as Arc<dyn Agent>)
            }))),
            untested: None,
            cli: None,
        });
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init(dir.path()).unwrap();
        let file = dir.path().join("agent-orchestrator.yaml");
        let text = format!(
            "defaults:\n  runtime: fake\n  agent: recording\n  workspace: fake\n  tracker: fake\n  scm: fake\nprojects:\n  app:\n    path: {}\n",
            dir.path().display()
        );
        let loaded = crate::config::load_str(&text, &file, &registry, &|_| None).unwrap();
        let m = Manager::new(loaded, registry, dir.path().join("home"), |_| None).unwrap();
        m.agent("recording").unwrap();
        assert_eq!(*given.lock().unwrap(), [false]);
    }
}
