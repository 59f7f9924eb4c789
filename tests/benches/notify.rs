//! Notification dispatch, printed as figures (run: `cargo bench -p ao-tests --bench
//! notify`):
//!
//! - one event routed to 5 webhook notifiers on loopback, of which one never answers
//!   (time-out 2 s) and the slowest healthy one answers after 100 ms: when the four
//!   healthy ones had delivered (target: about the slowest healthy one, not the
//!   time-out), median of 5;
//! - the dispatcher's own cost per notification, with one in-process notifier that does
//!   nothing (target: under 1 ms), median of 1000.
//!
//! `cargo test` runs it as a quick check: one round and 10 calls.

use ao_core::config::load_file;
use ao_core::model::{Event, EventKind, Priority};
use ao_core::notify::{DEFAULT_TIMEOUT, Dispatcher, Outcome, Target};
use ao_core::plugin::{Notification, Notifier, PluginError};
use ao_tests::Fleet;
use ao_tests::receiver::{Receiver, Reply};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

struct Nothing;

#[async_trait::async_trait]
impl Notifier for Nothing {
    async fn notify(&self, _n: &Notification) -> Result<(), PluginError> {
        Ok(())
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let quick = ao_tests::bench_quick();
    let (rounds, calls) = if quick { (1, 10) } else { (5, 1000) };
    let n = Notification {
        title: "bench".into(),
        event: Event {
            id: 0,
            at: 0,
            project: "app".into(),
            session: None,
            priority: Priority::Urgent,
            kind: EventKind::Manual,
            message: "a notification of ordinary size for the benchmark".into(),
        },
    };
    let receivers: Vec<Receiver> = (0..5).map(|_| Receiver::start()).collect();
    let f = Fleet::new("");
    let file = f.repo.join("agent-orchestrator.yaml");
    let mut config = std::fs::read_to_string(&file).unwrap();
    config.push_str("notifiers:\n");
    for (i, r) in receivers.iter().enumerate() {
        let timeout = if i == 0 { "    timeoutMs: 2000\n" } else { "" };
        config.push_str(&format!(
            "  n{i}:\n    plugin: webhook\n    url: {}/hook\n    retries: 0\n{timeout}",
            r.url
        ));
    }
    config.push_str("defaults:\n  notifiers: [n0, n1, n2, n3, n4]\n");
    std::fs::write(&file, config).unwrap();
    let env = |k: &str| std::env::var(k).ok();
    let registry = ao_plugins::builtin_registry();
    let loaded = load_file(&file, &registry, &env).unwrap();
    let dispatcher = Dispatcher::new(&loaded, &registry);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let to = dispatcher.route(Priority::Urgent);
    let mut healthy = Vec::new();
    let mut whole = Vec::new();
    for _ in 0..rounds {
        receivers[0].reply([Reply::Never(Duration::from_secs(10))]);
        receivers[4].reply([Reply::Slow(Duration::from_millis(100))]);
        let start = Instant::now();
        let outcomes = rt.block_on(dispatcher.send(&n, &to));
        whole.push(start.elapsed());
        let mut slowest = Duration::ZERO;
        for (name, o) in &outcomes {
            match (name.as_str(), o) {
                ("n0", Outcome::TimedOut { .. }) => {}
                (_, Outcome::Delivered { ms }) => slowest = slowest.max(Duration::from_millis(*ms)),
                other => panic!("unexpected outcome {other:?}"),
            }
        }
        healthy.push(slowest);
    }
    // The dispatcher alone.
    let nothing = Dispatcher::from_parts(
        vec![Target {
            name: "nothing".into(),
            notifier: Arc::new(Nothing),
            timeout: DEFAULT_TIMEOUT,
        }],
        Default::default(),
        vec!["nothing".into()],
    );
    let names = vec!["nothing".to_owned()];
    let mut each = Vec::with_capacity(calls);
    for _ in 0..calls {
        let start = Instant::now();
        rt.block_on(nothing.send(&n, &names));
        each.push(start.elapsed());
    }
    println!(
        "notify: 5 notifiers, one never answering (time-out 2 s), the slowest healthy one 100 ms: the four healthy ones delivered within median {:.1} ms of {rounds} (the whole send, waiting out the time-out: {:.0} ms)",
        median(healthy).as_secs_f64() * 1000.0,
        median(whole).as_secs_f64() * 1000.0
    );
    println!(
        "notify: dispatch overhead per notification (one in-process notifier): median {:.1} µs of {calls} (target: under 1 ms)",
        median(each).as_secs_f64() * 1e6
    );
}
