//! In-memory plugins for tests: one fake per slot, each recording what it was asked and
//! scripted to fail, hang or answer given readings ([`Scripted`]); the fake clock
//! ([`FakeClock`]); and a [`Fleet`]: a manager over the fakes in a temporary `$AO_HOME`,
//! driven pass by pass as the host drives it.
//!
//! The fakes are the world the manager acts on: a manager dropped mid-pass (a crash) and
//! another built over the same home ([`Fleet::restart`]) find it as the first left it.
//!
//! Built for ao-core's unit tests, and for other crates' tests with the `fakes` feature.

mod agent;
mod fleet;
mod notifier;
mod runtime;
mod scm;
mod script;
mod tracker;
mod workspace;

pub use crate::model::time::FakeClock;
pub use agent::{FakeAgent, PROCESS};
pub use fleet::{Fleet, FleetBuilder};
pub use notifier::{FakeNotifier, NotifierOp};
pub use runtime::{FakeRuntime, RuntimeOp, Terminal};
pub use scm::{FakeScm, ScmOp, check, thread};
pub use script::{Gate, Scripted};
pub use tracker::{FakeTracker, TrackerOp};
pub use workspace::{FakeWorkspace, WorkspaceOp};

use crate::plugin::{Agent, Notifier, Runtime, Scm, Slot, Tracker, Workspace};
use crate::registry::{Factory, Origin, PluginEntry, PluginManifest, PluginRegistry};
use std::sync::Arc;

/// The name every fake is registered under, in every slot.
pub const FAKE: &str = "fake";

/// One fake of each slot. Clones share them: the registry's instances and the test's
/// handles are the same fakes.
#[derive(Debug, Clone, Default)]
pub struct Fakes {
    /// The runtime.
    pub runtime: FakeRuntime,
    /// The agent.
    pub agent: FakeAgent,
    /// The workspace.
    pub workspace: FakeWorkspace,
    /// The tracker.
    pub tracker: FakeTracker,
    /// The scm.
    pub scm: FakeScm,
    /// The notifier.
    pub notifier: FakeNotifier,
}

impl Fakes {
    /// A registry holding the fakes, each named [`FAKE`] in its slot.
    pub fn registry(&self) -> PluginRegistry {
        let mut registry = PluginRegistry::new();
        self.register(&mut registry);
        registry
    }

    /// Adds the fakes to `registry`, each named [`FAKE`] in its slot (replacing a plugin
    /// of that name).
    pub fn register(&self, registry: &mut PluginRegistry) {
        let runtime = self.runtime.clone();
        let agent = self.agent.clone();
        let workspace = self.workspace.clone();
        let tracker = self.tracker.clone();
        let scm = self.scm.clone();
        let notifier = self.notifier.clone();
        let factories = [
            Factory::Runtime(Arc::new(move |_| {
                Ok(Arc::new(runtime.clone()) as Arc<dyn Runtime>)
            })),
            Factory::Agent(Arc::new(move |_| {
                Ok(Arc::new(agent.clone()) as Arc<dyn Agent>)
            })),
            Factory::Workspace(Arc::new(move |_| {
                Ok(Arc::new(workspace.clone()) as Arc<dyn Workspace>)
            })),
            Factory::Tracker(Arc::new(move |_| {
                Ok(Arc::new(tracker.clone()) as Arc<dyn Tracker>)
            })),
            Factory::Scm(Arc::new(move |_| Ok(Arc::new(scm.clone()) as Arc<dyn Scm>))),
            Factory::Notifier(Arc::new(move |_| {
                Ok(Arc::new(notifier.clone()) as Arc<dyn Notifier>)
            })),
        ];
        for factory in factories {
            let slot: Slot = factory.slot();
            registry.register(PluginEntry {
                manifest: PluginManifest {
                    name: FAKE.to_owned(),
                    version: "0.0.0".to_owned(),
                    slot,
                    description: format!("an in-memory {slot} for tests"),
                },
                origin: Origin::BuiltIn,
                validate: None,
                factory: Some(factory),
                untested: None,
                cli: None,
            });
        }
    }
}
