//! The hub: one in-process stream of changes. The watcher publishes into it; each
//! subscriber (a socket client, the dashboard) starts from a snapshot or, resuming,
//! from the changes after its last sequence number, then gets every change once, in
//! order.

use super::ring::{Frame, KEEP_BYTES, KEEP_CHANGES, Ring};
use super::state::{Change, State};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio::sync::broadcast;

/// How many changes a subscriber may fall behind the live channel before it catches
/// up from the ring instead.
const CHANNEL: usize = 1024;

/// Where a subscriber left off: the stream (`epoch`) and the last change it applied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Resume {
    /// The host's stream it read from.
    pub epoch: String,
    /// The sequence number of the last change it applied.
    pub seq: u64,
}

/// What a subscriber receives.
#[derive(Debug, Clone)]
pub enum Message {
    /// Start over from this state: the first message of a new subscriber, and of one
    /// whose resume point the hub no longer holds (another epoch, or too old).
    Snapshot {
        /// The stream's epoch.
        epoch: Arc<str>,
        /// The last change the state includes; the next change is `seq + 1`.
        seq: u64,
        /// The state.
        state: Arc<State>,
    },
    /// The subscriber's resume point is held: the changes after it follow.
    Resumed {
        /// The stream's epoch.
        epoch: Arc<str>,
        /// The resume point; the next change is `seq + 1`.
        seq: u64,
    },
    /// One change.
    Change(Arc<Frame>),
}

/// The stream; cheap to clone, each clone the same stream.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    epoch: Arc<str>,
    /// Read by subscribers and by the publisher while it looks; written only to apply
    /// and send what it found.
    shared: RwLock<Shared>,
    /// Held by the one publisher at work, so the state it looked at is the state its
    /// changes apply to.
    publishing: Mutex<()>,
}

struct Shared {
    /// The last sequence number given.
    seq: u64,
    /// The state after change `seq`.
    state: State,
    ring: Ring,
    /// `None` once the hub is closed.
    tx: Option<broadcast::Sender<Arc<Frame>>>,
}

impl Hub {
    /// A stream starting from `state`, its epoch this process and now.
    pub fn new(state: State) -> Hub {
        Hub::keeping(state, KEEP_CHANGES)
    }

    /// [`Hub::new`] keeping `keep` changes for resuming.
    pub fn keeping(state: State, keep: usize) -> Hub {
        // This process, now: a restarted host's numbers start again under another name.
        let epoch = format!("{}-{}", crate::model::now_ms(), std::process::id());
        Hub::with_limits(epoch, state, keep, KEEP_BYTES)
    }

    /// A stream named `epoch` that keeps at most `keep` changes and `keep_bytes` bytes of
    /// them for resuming.
    pub fn with_limits(epoch: String, state: State, keep: usize, keep_bytes: usize) -> Hub {
        let (tx, _) = broadcast::channel(CHANNEL);
        Hub {
            inner: Arc::new(Inner {
                epoch: epoch.into(),
                shared: RwLock::new(Shared {
                    seq: 0,
                    state,
                    ring: Ring::new(keep, keep_bytes),
                    tx: Some(tx),
                }),
                publishing: Mutex::new(()),
            }),
        }
    }

    fn shared(&self) -> RwLockReadGuard<'_, Shared> {
        self.inner.shared.read().unwrap_or_else(|e| e.into_inner())
    }

    fn shared_mut(&self) -> RwLockWriteGuard<'_, Shared> {
        self.inner.shared.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The stream's epoch: a subscriber's resume point from another epoch is not
    /// honoured.
    pub fn epoch(&self) -> &str {
        &self.inner.epoch
    }

    /// The last sequence number given.
    pub fn seq(&self) -> u64 {
        self.shared().seq
    }

    /// A copy of the state as of now.
    pub fn state(&self) -> State {
        self.shared().state.clone()
    }

    /// Publishes `changes`, each with the next sequence number.
    pub fn publish(&self, changes: impl IntoIterator<Item = Change>) {
        let changes: Vec<Change> = changes.into_iter().collect();
        let _ = self.publish_from(|_| Ok::<_, std::convert::Infallible>(changes));
    }

    /// Publishes the changes `look` finds against the state as of now (the one copy of
    /// it the stream keeps: the watcher diffs against it instead of keeping its own).
    /// Subscribers read on while it looks; they wait only while its changes are applied
    /// and sent. An error publishes nothing.
    pub(crate) fn publish_from<E>(
        &self,
        look: impl FnOnce(&State) -> Result<Vec<Change>, E>,
    ) -> Result<usize, E> {
        let _one = self
            .inner
            .publishing
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let changes = look(&self.shared().state)?;
        let n = changes.len();
        if n == 0 {
            return Ok(0);
        }
        let mut shared = self.shared_mut();
        for change in changes {
            shared.seq += 1;
            shared.state.apply(&change);
            let frame = Arc::new(Frame::new(shared.seq, change));
            shared.ring.push(frame.clone());
            if let Some(tx) = &shared.tx {
                // No subscriber is no error.
                let _ = tx.send(frame);
            }
        }
        Ok(n)
    }

    /// A new subscriber, resuming from `resume` when the hub still holds every change
    /// after it, else starting from a snapshot.
    pub fn subscribe(&self, resume: Option<&Resume>) -> Subscription {
        let shared = self.shared();
        let rx = shared.tx.as_ref().map(|tx| tx.subscribe());
        let backlog = resume
            .filter(|r| *r.epoch == *self.inner.epoch)
            .and_then(|r| Some((r.seq, shared.ring.after(r.seq, shared.seq)?)));
        let mut pending = VecDeque::new();
        match backlog {
            Some((seq, frames)) => {
                pending.push_back(Message::Resumed {
                    epoch: self.inner.epoch.clone(),
                    seq,
                });
                pending.extend(frames.into_iter().map(Message::Change));
            }
            None => pending.push_back(Message::Snapshot {
                epoch: self.inner.epoch.clone(),
                seq: shared.seq,
                state: Arc::new(shared.state.clone()),
            }),
        }
        Subscription {
            hub: self.clone(),
            rx,
            pending,
            last: shared.seq,
        }
    }

    /// Ends the stream: every subscriber gets what is pending, then nothing.
    pub fn close(&self) {
        self.shared_mut().tx = None;
    }
}

/// One subscriber's view of the stream.
pub struct Subscription {
    hub: Hub,
    /// `None` when the hub was closed before it subscribed.
    rx: Option<broadcast::Receiver<Arc<Frame>>>,
    pending: VecDeque<Message>,
    /// The last sequence number this subscriber has been given (or will be, from
    /// `pending`).
    last: u64,
}

/// What one receive from the live channel gave.
enum Step {
    Got(Message),
    Again,
    Closed,
}

impl Subscription {
    /// The next message; `None` once the hub is closed.
    pub async fn recv(&mut self) -> Option<Message> {
        loop {
            if let Some(m) = self.pending.pop_front() {
                return Some(m);
            }
            let got = match &mut self.rx {
                Some(rx) => rx.recv().await,
                None => return None,
            };
            match self.step(got) {
                Step::Got(m) => return Some(m),
                Step::Again => {}
                Step::Closed => return None,
            }
        }
    }

    /// [`Subscription::recv`] for a thread outside any async runtime.
    pub fn recv_blocking(&mut self) -> Option<Message> {
        loop {
            if let Some(m) = self.pending.pop_front() {
                return Some(m);
            }
            let got = match &mut self.rx {
                Some(rx) => rx.blocking_recv(),
                None => return None,
            };
            match self.step(got) {
                Step::Got(m) => return Some(m),
                Step::Again => {}
                Step::Closed => return None,
            }
        }
    }

    fn step(&mut self, got: Result<Arc<Frame>, broadcast::error::RecvError>) -> Step {
        match got {
            // Already given from the backlog.
            Ok(f) if f.seq <= self.last => Step::Again,
            Ok(f) => {
                self.last = f.seq;
                Step::Got(Message::Change(f))
            }
            // Fell behind the channel: catch up from the ring (or a snapshot), as a
            // client resuming would.
            Err(broadcast::error::RecvError::Lagged(_)) => {
                let resume = Resume {
                    epoch: self.hub.epoch().to_owned(),
                    seq: self.last,
                };
                let mut fresh = self.hub.subscribe(Some(&resume));
                // The resume point itself is no news to this subscriber.
                if matches!(fresh.pending.front(), Some(Message::Resumed { .. })) {
                    fresh.pending.pop_front();
                }
                *self = fresh;
                Step::Again
            }
            Err(broadcast::error::RecvError::Closed) => Step::Closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SessionId;

    fn gone(n: u64) -> Change {
        Change::SessionGone {
            id: SessionId::new("app", n),
        }
    }

    fn seqs(sub: &mut Subscription) -> Vec<u64> {
        let mut out = Vec::new();
        while let Some(m) = sub.pending.pop_front() {
            if let Message::Change(f) = m {
                out.push(f.seq);
            }
        }
        while let Some(Ok(f)) = sub.rx.as_mut().map(|rx| rx.try_recv()) {
            if f.seq > sub.last {
                sub.last = f.seq;
                out.push(f.seq);
            }
        }
        out
    }

    #[test]
    fn a_new_subscriber_gets_a_snapshot_then_the_changes_after_it() {
        let hub = Hub::with_limits("e1".into(), State::default(), 10, usize::MAX);
        hub.publish([gone(1), gone(2)]);
        let mut sub = hub.subscribe(None);
        match sub.pending.pop_front() {
            Some(Message::Snapshot { epoch, seq, .. }) => {
                assert_eq!((&*epoch, seq), ("e1", 2));
            }
            other => panic!("not a snapshot: {other:?}"),
        }
        hub.publish([gone(3), gone(4)]);
        assert_eq!(seqs(&mut sub), [3, 4]);
    }

    #[test]
    fn a_subscriber_resumes_without_gaps_or_repeats() {
        let hub = Hub::with_limits("e1".into(), State::default(), 10, usize::MAX);
        hub.publish((1..=5).map(gone));
        let resume = Resume {
            epoch: "e1".into(),
            seq: 3,
        };
        let mut sub = hub.subscribe(Some(&resume));
        assert!(matches!(
            sub.pending.pop_front(),
            Some(Message::Resumed { seq: 3, .. })
        ));
        hub.publish([gone(6)]);
        assert_eq!(seqs(&mut sub), [4, 5, 6]);
    }

    #[test]
    fn a_resume_point_too_old_or_from_another_epoch_gets_a_snapshot() {
        let hub = Hub::with_limits("e2".into(), State::default(), 3, usize::MAX);
        hub.publish((1..=10).map(gone));
        for resume in [
            Resume {
                epoch: "e2".into(),
                seq: 2,
            },
            Resume {
                epoch: "e1".into(),
                seq: 9,
            },
        ] {
            let mut sub = hub.subscribe(Some(&resume));
            assert!(
                matches!(
                    sub.pending.pop_front(),
                    Some(Message::Snapshot { seq: 10, .. })
                ),
                "{resume:?}"
            );
        }
    }

    #[test]
    fn a_subscriber_that_falls_behind_the_channel_catches_up_from_the_ring() {
        let hub = Hub::with_limits("e1".into(), State::default(), 5000, usize::MAX);
        let mut sub = hub.subscribe(None);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(matches!(
            rt.block_on(sub.recv()),
            Some(Message::Snapshot { .. })
        ));
        hub.publish((1..=(CHANNEL as u64 * 2)).map(gone));
        let mut got = Vec::new();
        while got.len() < CHANNEL * 2 {
            match rt.block_on(sub.recv()) {
                Some(Message::Change(f)) => got.push(f.seq),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(got, (1..=CHANNEL as u64 * 2).collect::<Vec<_>>());
    }

    #[test]
    fn a_look_that_fails_publishes_nothing() {
        let hub = Hub::with_limits("e1".into(), State::default(), 10, usize::MAX);
        hub.publish([gone(1)]);
        let mut sub = hub.subscribe(None);
        assert!(matches!(
            sub.recv_blocking(),
            Some(Message::Snapshot { .. })
        ));
        let failed = hub.publish_from(|state| {
            assert!(state.sessions.is_empty());
            Err::<Vec<Change>, _>("no store")
        });
        assert_eq!(failed, Err("no store"));
        assert_eq!(hub.seq(), 1);
        assert_eq!(hub.publish_from(|_| Ok::<_, ()>(vec![gone(2)])), Ok(1));
        assert_eq!(seqs(&mut sub), [2]);
    }

    #[test]
    fn closing_the_hub_ends_every_subscription() {
        let hub = Hub::with_limits("e1".into(), State::default(), 5, usize::MAX);
        let mut sub = hub.subscribe(None);
        hub.close();
        assert!(matches!(
            sub.recv_blocking(),
            Some(Message::Snapshot { .. })
        ));
        assert!(sub.recv_blocking().is_none());
    }
}
