//! How a fake's calls go: each operation answers as scripted (works, fails, hangs, works
//! and then never answers, waits at a gate), call by call, and counts its calls.

use crate::plugin::PluginError;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use tokio::sync::watch;

/// What one call of a fake does.
#[derive(Debug, Clone)]
pub enum Scripted {
    /// Does its work and answers.
    Works,
    /// Does nothing and fails with this message.
    Fails(String),
    /// Does nothing and fails for now (a service down or limiting requests).
    Transient {
        /// What went wrong.
        message: String,
        /// How long the service asked to wait, if it said.
        retry_after_ms: Option<u64>,
    },
    /// Does nothing and never answers (a hung service): its caller's deadline, or the
    /// test dropping the caller, ends it.
    Hangs,
    /// Does its work, then never answers: the effect happened and the caller never learns
    /// it. Dropping the caller then is a crash right after the act.
    WorksThenHangs,
    /// Does its work, then fails (the answer lost on its way back).
    WorksThenFails(String),
    /// Stops at the gate until the test opens it, then does its work and answers; the
    /// test can wait for a call to reach it (and drop the caller there: a crash before
    /// the act).
    Waits(Gate),
}

/// A point where a scripted call stops until the test opens it.
#[derive(Debug, Clone)]
pub struct Gate {
    reached: Arc<watch::Sender<bool>>,
    opened: Arc<watch::Sender<bool>>,
}

impl Default for Gate {
    fn default() -> Gate {
        Gate {
            reached: Arc::new(watch::channel(false).0),
            opened: Arc::new(watch::channel(false).0),
        }
    }
}

impl Gate {
    /// A closed gate nothing has reached.
    pub fn new() -> Gate {
        Gate::default()
    }

    /// Waits until a call stops at the gate.
    pub async fn reached(&self) {
        let mut seen = self.reached.subscribe();
        let _ = seen.wait_for(|r| *r).await;
    }

    /// Whether a call has stopped at the gate.
    pub fn is_reached(&self) -> bool {
        *self.reached.borrow()
    }

    /// Lets every call at the gate, and every later one, through.
    pub fn open(&self) {
        self.opened.send_replace(true);
    }

    async fn pass(&self) {
        self.reached.send_replace(true);
        let mut open = self.opened.subscribe();
        let _ = open.wait_for(|o| *o).await;
    }
}

/// The calls of one operation to come: the scripted ones in order, then `then` for every
/// call after them (works, unless set).
#[derive(Debug, Default)]
struct Script {
    next: VecDeque<Scripted>,
    then: Option<Scripted>,
    calls: usize,
}

/// The scripts and call counts of one fake, by operation.
#[derive(Debug)]
pub(crate) struct Scripts<Op> {
    by_op: BTreeMap<Op, Script>,
}

impl<Op> Default for Scripts<Op> {
    fn default() -> Self {
        Scripts {
            by_op: BTreeMap::new(),
        }
    }
}

impl<Op: Ord + Copy> Scripts<Op> {
    /// The next calls of `op` go as `calls` say, in order.
    pub(crate) fn push(&mut self, op: Op, calls: impl IntoIterator<Item = Scripted>) {
        self.by_op.entry(op).or_default().next.extend(calls);
    }

    /// Every call of `op` after the scripted ones goes as `then` says.
    pub(crate) fn always(&mut self, op: Op, then: Scripted) {
        self.by_op.entry(op).or_default().then = Some(then);
    }

    /// Counts a call of `op` and says how it goes.
    pub(crate) fn take(&mut self, op: Op) -> Scripted {
        let script = self.by_op.entry(op).or_default();
        script.calls += 1;
        script
            .next
            .pop_front()
            .or_else(|| script.then.clone())
            .unwrap_or(Scripted::Works)
    }

    /// How many calls of `op` reached the fake, whatever became of them.
    pub(crate) fn calls(&self, op: Op) -> usize {
        self.by_op.get(&op).map_or(0, |s| s.calls)
    }

    /// How many calls of any operation reached the fake.
    pub(crate) fn all_calls(&self) -> usize {
        self.by_op.values().map(|s| s.calls).sum()
    }
}

/// Runs one call of plugin `plugin` as `scripted` says; `work` does its effect and makes
/// its answer.
pub(crate) async fn perform<T>(
    scripted: Scripted,
    plugin: &str,
    work: impl FnOnce() -> Result<T, PluginError>,
) -> Result<T, PluginError> {
    match scripted {
        Scripted::Works => work(),
        Scripted::Fails(message) => Err(PluginError::failed(plugin, message)),
        Scripted::Transient {
            message,
            retry_after_ms,
        } => Err(PluginError::Transient {
            plugin: plugin.to_owned(),
            message,
            retry_after_ms,
        }),
        Scripted::Hangs => std::future::pending().await,
        Scripted::WorksThenHangs => {
            let _ = work();
            std::future::pending().await
        }
        Scripted::WorksThenFails(message) => {
            let _ = work();
            Err(PluginError::failed(plugin, message))
        }
        Scripted::Waits(gate) => {
            gate.pass().await;
            work()
        }
    }
}

/// Locks a fake's state; a test that panicked while holding it leaves it usable.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::time::Duration;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    struct Op;

    /// A call of `op` under `scripts`: whether its work ran, and what it answered (None:
    /// no answer within a moment).
    async fn call(scripts: &mut Scripts<Op>) -> (bool, Option<Result<(), PluginError>>) {
        let worked = Cell::new(false);
        let scripted = scripts.take(Op);
        let answer = tokio::time::timeout(
            Duration::from_millis(20),
            perform(scripted, "fake", || {
                worked.set(true);
                Ok(())
            }),
        )
        .await
        .ok();
        (worked.get(), answer)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn each_call_goes_as_scripted_then_as_always_says() {
        let mut scripts = Scripts::default();
        scripts.push(
            Op,
            [
                Scripted::Fails("down".into()),
                Scripted::Hangs,
                Scripted::WorksThenHangs,
                Scripted::WorksThenFails("lost".into()),
            ],
        );
        let (worked, answer) = call(&mut scripts).await;
        assert!(!worked && matches!(answer, Some(Err(PluginError::Failed { .. }))));
        assert!(
            matches!(call(&mut scripts).await, (false, None)),
            "hung before acting"
        );
        let (worked, answer) = call(&mut scripts).await;
        assert!(worked && answer.is_none(), "acted, then no answer");
        let (worked, answer) = call(&mut scripts).await;
        assert!(
            worked && matches!(answer, Some(Err(_))),
            "acted, then failed"
        );
        assert!(matches!(call(&mut scripts).await, (true, Some(Ok(())))));
        scripts.always(Op, Scripted::Hangs);
        assert!(matches!(call(&mut scripts).await, (false, None)));
        assert_eq!(scripts.calls(Op), 6);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_gate_holds_a_call_until_it_is_opened() {
        let gate = Gate::new();
        let worked = Cell::new(false);
        let held = perform(Scripted::Waits(gate.clone()), "fake", || {
            worked.set(true);
            Ok(())
        });
        let test = async {
            gate.reached().await;
            assert!(gate.is_reached() && !worked.get(), "stopped before acting");
            gate.open();
        };
        let (answer, ()) = tokio::join!(held, test);
        assert!(answer.is_ok() && worked.get());
    }
}
