//! External plugin call overhead, printed as figures (run: `cargo bench -p ao-tests
//! --bench plugins`): loading and checking a plugin library, and one notifier call through
//! the ABI (JSON in and out, a thread of its own, the time-out), median of 1000, against
//! the same notifier's work done in-process.

use ao_core::config::load_file;
use ao_core::model::{Event, EventKind, Priority};
use ao_core::plugin::external;
use ao_core::plugin::{Notification, Slot};
use ao_core::registry::{Factory, SectionRef};
use ao_tests::{Fleet, plugin_lib};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CALLS: usize = 1000;

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
    let start = Instant::now();
    external::load(&loaded, &mut registry, &env, Arc::new(|_| {}));
    let load = start.elapsed();
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
    let mut took = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let t = Instant::now();
        rt.block_on(notifier.notify(&n)).unwrap();
        took.push(t.elapsed());
    }
    println!("external plugin: load and check the library: {}", us(load));
    println!(
        "external notifier call through the ABI: median {} of {CALLS} (max {})",
        us(median(took.clone())),
        us(took.iter().max().copied().unwrap_or_default())
    );
}
