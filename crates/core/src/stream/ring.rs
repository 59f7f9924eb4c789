//! The changes the hub keeps, so a subscriber that was away resumes from its last
//! sequence number: the newest ones, bounded by count and by size.

use super::state::Change;
use std::collections::VecDeque;
use std::sync::Arc;

/// How many changes are kept, unless a test says otherwise.
pub const KEEP_CHANGES: usize = 10_000;
/// How many bytes (as JSON) of changes are kept, so a run of large readings cannot
/// make the host large.
pub const KEEP_BYTES: usize = 2 * 1024 * 1024;

/// One published change and its sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Its place in the stream: one more than the change before it.
    pub seq: u64,
    /// What changed.
    pub change: Change,
    /// Its size as JSON, counted against [`KEEP_BYTES`].
    pub(crate) bytes: usize,
}

impl Frame {
    /// A frame of `change` at `seq`.
    pub fn new(seq: u64, change: Change) -> Frame {
        let bytes = serde_json::to_vec(&change).map(|v| v.len()).unwrap_or(0);
        Frame { seq, change, bytes }
    }
}

/// The newest frames, their sequence numbers consecutive.
#[derive(Debug)]
pub(crate) struct Ring {
    frames: VecDeque<Arc<Frame>>,
    bytes: usize,
    max_frames: usize,
    max_bytes: usize,
}

impl Ring {
    /// An empty ring keeping at most `max_frames` frames and `max_bytes` bytes.
    pub(crate) fn new(max_frames: usize, max_bytes: usize) -> Ring {
        Ring {
            frames: VecDeque::new(),
            bytes: 0,
            max_frames: max_frames.max(1),
            max_bytes,
        }
    }

    /// Keeps `frame` (the next in sequence), forgetting the oldest beyond the bounds.
    pub(crate) fn push(&mut self, frame: Arc<Frame>) {
        debug_assert!(self.frames.back().is_none_or(|f| f.seq + 1 == frame.seq));
        self.bytes += frame.bytes;
        self.frames.push_back(frame);
        while self.frames.len() > self.max_frames
            || (self.bytes > self.max_bytes && self.frames.len() > 1)
        {
            if let Some(old) = self.frames.pop_front() {
                self.bytes -= old.bytes;
            }
        }
    }

    /// Every frame after `seq` when the ring still holds them all, `last` being the
    /// newest sequence number published; `None` when some are forgotten, or `seq` is
    /// not one this stream gave.
    pub(crate) fn after(&self, seq: u64, last: u64) -> Option<Vec<Arc<Frame>>> {
        if seq > last {
            return None;
        }
        if seq == last {
            return Some(Vec::new());
        }
        let first = self.frames.front()?.seq;
        if seq + 1 < first {
            return None;
        }
        let skip = (seq + 1 - first) as usize;
        Some(self.frames.iter().skip(skip).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SessionId;

    fn frame(seq: u64) -> Arc<Frame> {
        Arc::new(Frame::new(
            seq,
            Change::SessionGone {
                id: SessionId::new("app", seq),
            },
        ))
    }

    fn seqs(frames: &[Arc<Frame>]) -> Vec<u64> {
        frames.iter().map(|f| f.seq).collect()
    }

    #[test]
    fn a_subscriber_resumes_with_every_frame_after_its_own_and_none_twice() {
        let mut ring = Ring::new(5, usize::MAX);
        for seq in 1..=4 {
            ring.push(frame(seq));
        }
        assert_eq!(seqs(&ring.after(0, 4).unwrap()), [1, 2, 3, 4]);
        assert_eq!(seqs(&ring.after(2, 4).unwrap()), [3, 4]);
        assert_eq!(seqs(&ring.after(4, 4).unwrap()), Vec::<u64>::new());
    }

    #[test]
    fn a_subscriber_older_than_the_ring_gets_nothing_to_resume_from() {
        let mut ring = Ring::new(3, usize::MAX);
        for seq in 1..=10 {
            ring.push(frame(seq));
        }
        // 8, 9 and 10 are kept: 7 resumes (it lacks 8 on), 6 does not (7 is forgotten).
        assert_eq!(seqs(&ring.after(7, 10).unwrap()), [8, 9, 10]);
        assert_eq!(ring.after(6, 10), None);
        assert_eq!(ring.after(0, 10), None);
        // A number this stream never gave.
        assert_eq!(ring.after(11, 10), None);
    }

    #[test]
    fn an_empty_ring_resumes_only_a_subscriber_that_is_up_to_date() {
        let ring = Ring::new(3, usize::MAX);
        assert_eq!(seqs(&ring.after(0, 0).unwrap()), Vec::<u64>::new());
        // Changes were published but none kept (the ring of a restarted hub is new).
        assert_eq!(ring.after(2, 5), None);
    }

    #[test]
    fn the_ring_is_bounded_by_size_too_but_keeps_the_newest() {
        let one = frame(1).bytes;
        let mut ring = Ring::new(100, one * 2);
        for seq in 1..=5 {
            ring.push(frame(seq));
        }
        assert_eq!(seqs(&ring.after(3, 5).unwrap()), [4, 5]);
        assert_eq!(ring.after(2, 5), None);
        let mut tiny = Ring::new(100, 1);
        tiny.push(frame(1));
        assert_eq!(seqs(&tiny.after(0, 1).unwrap()), [1]);
    }
}
