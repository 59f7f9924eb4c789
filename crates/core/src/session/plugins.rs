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

impl Manager {
    pub(crate) fn build<T: ?Sized>(
        &self,
        slot: Slot,
        name: &str,
        section: &[&str],
        repo: Option<&str>,
        pick: impl Fn(&Factory) -> Option<&crate::registry::Build<T>>,
    ) -> Result<Arc<T>, ManagerError> {
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
        let node = self.config.tree.at(section);
        let section_ref = SectionRef {
            file: &self.config.file,
            node,
            loc: node.map(|n| n.loc).unwrap_or_default(),
            repo,
        };
        Ok(build(&section_ref)?)
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
