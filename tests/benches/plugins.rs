//! External plugin call overhead, printed as figures (run: `cargo bench -p ao-tests
//! --bench plugins`):
//!
//! - loading and checking a plugin library: the first load in the process, and the median
//!   of 20 later ones (the library already mapped);
//! - one notifier call through the ABI (JSON in and out, a thread of its own, the
//!   time-out), median of 1000, against the same notifier's work done in-process (its
//!   `ok` mode: read its mode, record nothing), timed the same way.
//!
//! `cargo test` runs it as a quick check: 2 loads and 10 calls.

use ao_core::config::load_file;
use ao_core::model::{Event, EventKind, Priority};
use ao_core::plugin::external;
use ao_core::plugin::{Notification, Notifier, Slot};
use ao_core::registry::{Factory, SectionRef};
use ao_tests::{Fleet, plugin_lib};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn calls() -> usize {
    if ao_tests::bench_quick() { 10 } else { 1000 }
}

fn loads() -> usize {
    if ao_tests::bench_quick() { 2 } else { 21 }
}

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

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn main() {
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
    for _ in 0..loads() {
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
        let mut took = Vec::with_capacity(calls());
        for _ in 0..calls() {
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
    println!(
        "external plugin: load and check the library: first {}, then median {} of {}",
        us(load[0]),
        us(median(load[1..].to_vec())),
        load.len() - 1
    );
    println!(
        "external notifier call through the ABI: median {} of {} (max {}); the same work in-process: median {}",
        us(median(abi.clone())),
        calls(),
        us(abi.iter().max().copied().unwrap_or_default()),
        us(median(local))
    );
}
