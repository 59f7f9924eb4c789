//! External plugin call overhead (run: `cargo bench -p ao-tests --bench plugins`). No
//! figure here has a target yet, so each is printed as information only and the
//! benchmark never fails for its figures; like every benchmark's, they are meant for a
//! quiet machine.
//!
//! - loading and checking a plugin library: the first load in the process, and the median
//!   of 20 later ones (the library already mapped);
//! - one notifier call through the ABI (JSON in and out, a thread of its own, the
//!   time-out), median of 1000, against the same notifier's work done in-process (its
//!   `ok` mode: read its mode, record nothing), timed the same way.
//!
//! `cargo test` runs it as a quick pass: 2 loads (the first and one later) and 1 call.

use ao_core::config::load_file;
use ao_core::model::{Event, EventKind, Priority};
use ao_core::plugin::external;
use ao_core::plugin::{Notification, Notifier, Slot};
use ao_core::registry::{Factory, SectionRef};
use ao_tests::bench::{self, Bench, Target, Unit};
use ao_tests::{Fleet, plugin_lib};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

/// The test notifier's `ok` mode, in-process: read the mode from the section, return.
struct InProcess {
    mode: String,
}

#[async_trait::async_trait]
impl Notifier for InProcess {
    async fn notify(&self, n: &Notification) -> Result<(), ao_core::plugin::PluginError> {
        std::hint::black_box((&self.mode, n));
        Ok(())
    }
}

fn main() -> ExitCode {
    let mut b = Bench::start("plugins");
    // The first load, then the later ones (the library already mapped).
    let loads = 1 + b.runs(20);
    let calls = b.runs(1000);
    let lib = plugin_lib("ao-test-plugin-misbehaving");
    let f = Fleet::new("    agent: command\n    agentConfig:\n      command: [cat]\n");
    let file = f.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        format!(
            "{config}plugins:\n  - name: bench\n    path: {}\nnotifiers:\n  to-bench:\n    plugin: bench\n    mode: ok\n",
            lib.display()
        ),
    )
    .unwrap();
    let env = |k: &str| std::env::var(k).ok();
    let mut registry = ao_plugins::builtin_registry();
    let loaded = load_file(&file, &registry, &env).unwrap();
    let mut load = Vec::new();
    for _ in 0..loads {
        registry = ao_plugins::builtin_registry();
        let start = Instant::now();
        external::load(&loaded, &mut registry, &env, Arc::new(|_| {}));
        load.push(start.elapsed());
    }
    let Some(Factory::Notifier(build)) = registry
        .get(Slot::Notifier, "bench")
        .and_then(|e| e.factory.clone())
    else {
        panic!("the bench plugin did not load");
    };
    let node = loaded.tree.at(&["notifiers", "to-bench"]);
    let notifier = build(&SectionRef {
        file: &loaded.file,
        node,
        loc: node.unwrap().loc,
        repo: None,
    })
    .unwrap();
    let n = Notification {
        title: "bench".into(),
        event: Event {
            id: 1,
            at: 1,
            project: "app".into(),
            session: Some("app-1".parse().unwrap()),
            priority: Priority::Urgent,
            kind: EventKind::Test,
            message: "a notification of ordinary size for the benchmark".into(),
        },
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let time = |notifier: &dyn Notifier| {
        let mut took = Vec::with_capacity(calls);
        for _ in 0..calls {
            let t = Instant::now();
            rt.block_on(notifier.notify(&n)).unwrap();
            took.push(t.elapsed());
        }
        took
    };
    let abi = time(notifier.as_ref());
    let mode = node
        .and_then(|n| n.get("mode"))
        .and_then(|m| m.as_str())
        .unwrap_or("ok")
        .to_owned();
    let local = time(&InProcess { mode });
    b.figure(
        "load and check the plugin library, the first time",
        bench::us(load[0]),
        Unit::Us,
        Target::None,
    );
    b.median(
        "load and check it again (the library already mapped)",
        load[1..].iter().copied().map(bench::us),
        Unit::Us,
        Target::None,
    );
    b.median(
        "a notifier call through the plugin ABI",
        abi.iter().copied().map(bench::us),
        Unit::Us,
        Target::None,
    );
    b.figure(
        "the slowest of those calls",
        bench::us(abi.iter().max().copied().unwrap_or_default()),
        Unit::Us,
        Target::None,
    );
    b.median(
        "the same work in-process",
        local.into_iter().map(bench::us),
        Unit::Us,
        Target::None,
    );
    b.finish()
}
