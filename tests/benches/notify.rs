//! Notification dispatch (run: `cargo bench -p ao-tests --bench notify`), each figure
//! with its target and a verdict; `cargo bench` fails when a target is missed. Targets
//! are meant for a quiet machine.
//!
//! - One event routed to 5 webhook notifiers on loopback, of which one never answers
//!   (time-out 2 s) and the slowest healthy one answers after 100 ms: from the send's
//!   start until the four healthy ones had delivered (target: about the slowest healthy
//!   one, not the time-out: at most 200 ms), median of 5; the whole send, which waits
//!   out the time-out, is information only.
//! - The dispatcher's own cost per notification, with one in-process notifier that does
//!   nothing (target: under 1 ms), median of 1000.
//!
//! `cargo test` runs it as a quick pass: each measured once, nothing judged.

use ao_core::config::load_file;
use ao_core::model::{Event, EventKind, Priority};
use ao_core::notify::{DEFAULT_TIMEOUT, Dispatcher, Outcome, Target};
use ao_core::plugin::{Notification, Notifier, PluginError, Slot};
use ao_core::registry::{Factory, SectionRef};
use ao_tests::Fleet;
use ao_tests::bench::{self, Bench, Unit};
use ao_tests::receiver::{Receiver, Reply};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Nothing;

#[async_trait::async_trait]
impl Notifier for Nothing {
    async fn notify(&self, _n: &Notification) -> Result<(), PluginError> {
        Ok(())
    }
}

/// A notifier that records when the one it wraps delivered, so the time is counted from
/// the send's start (a dispatcher that waited for one notifier before the next would
/// show here, not in each notifier's own time).
struct Timed {
    inner: Arc<dyn Notifier>,
    done: Arc<Mutex<Option<Instant>>>,
}

#[async_trait::async_trait]
impl Notifier for Timed {
    async fn notify(&self, n: &Notification) -> Result<(), PluginError> {
        let r = self.inner.notify(n).await;
        *self.done.lock().unwrap() = Some(Instant::now());
        r
    }
}

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--list") {
        return ExitCode::SUCCESS;
    }
    let mut b = Bench::start("notify");
    let (rounds, calls) = (b.runs(5), b.runs(1000));
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
        config.push_str(&format!(
            "  n{i}:\n    plugin: webhook\n    url: {}/hook\n    retries: 0\n",
            r.url
        ));
    }
    config.push_str("defaults:\n  notifiers: [n0, n1, n2, n3, n4]\n");
    std::fs::write(&file, config).unwrap();
    let env = |k: &str| std::env::var(k).ok();
    let registry = ao_plugins::builtin_registry();
    let loaded = load_file(&file, &registry, &env).unwrap();
    let Some(Some(Factory::Notifier(webhook))) = registry
        .get(Slot::Notifier, "webhook")
        .map(|e| e.factory.clone())
    else {
        panic!("no webhook notifier in this build");
    };
    // Each webhook as the config makes it, wrapped to say when it delivered.
    let mut targets = Vec::new();
    let mut done = Vec::new();
    for i in 0..5 {
        let key = format!("n{i}");
        let node = loaded.tree.at(&["notifiers", &key]);
        let inner = webhook(&SectionRef {
            file: &loaded.file,
            node,
            loc: node.unwrap().loc,
            repo: None,
        })
        .unwrap();
        let at = Arc::new(Mutex::new(None));
        done.push(at.clone());
        targets.push(Target {
            name: key,
            notifier: Arc::new(Timed { inner, done: at }),
            timeout: if i == 0 {
                Duration::from_secs(2)
            } else {
                DEFAULT_TIMEOUT
            },
        });
    }
    let names: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
    let dispatcher = Dispatcher::from_parts(targets, Default::default(), names.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut healthy = Vec::new();
    let mut whole = Vec::new();
    for _ in 0..rounds {
        receivers[0].reply([Reply::Never(Duration::from_secs(10))]);
        receivers[4].reply([Reply::Slow(Duration::from_millis(100))]);
        for d in &done {
            *d.lock().unwrap() = None;
        }
        let start = Instant::now();
        let outcomes = rt.block_on(dispatcher.send(&n, &names));
        whole.push(start.elapsed());
        for (name, o) in &outcomes {
            match (name.as_str(), o) {
                ("n0", Outcome::TimedOut { .. }) | (_, Outcome::Delivered { .. }) => {}
                other => panic!("unexpected outcome {other:?}"),
            }
        }
        let last = done[1..]
            .iter()
            .map(|d| d.lock().unwrap().expect("a healthy notifier delivered"))
            .max()
            .unwrap();
        healthy.push(last - start);
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
    b.median(
        "5 webhooks, one never answering (time-out 2 s), the slowest healthy one 100 ms: the four healthy ones delivered",
        healthy.into_iter().map(bench::ms),
        Unit::Ms,
        bench::Target::AtMost(200.0),
    );
    b.median(
        "the same send as a whole (it waits out the time-out)",
        whole.into_iter().map(bench::ms),
        Unit::Ms,
        bench::Target::None,
    );
    b.median(
        "dispatch overhead per notification (one in-process notifier)",
        each.into_iter().map(bench::us),
        Unit::Us,
        bench::Target::Under(1000.0),
    );
    b.finish()
}
