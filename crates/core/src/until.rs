//! One way to wait for something to become true: [`wait_until`] (and
//! [`wait_until_async`]) ask `check` again and again, a short pause between (growing
//! from 5 ms to 50 ms, so a quick answer is seen quickly and a slow one costs little),
//! until it answers or `deadline` has passed; then the caller says what it waited for.
//! A wait whose looks keep state from one to the next (the last screen seen, how often
//! Enter was pressed) paces itself with a [`Deadline`], the same pauses in a loop (its
//! first pause shorter where an answer comes within a millisecond or two).

use std::time::Duration;
use tokio::time::Instant;

/// The first pause between two checks.
const FIRST_PAUSE: Duration = Duration::from_millis(5);
/// The longest pause between two checks.
const LONGEST_PAUSE: Duration = Duration::from_millis(50);

/// What did not happen in time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} did not happen within {} ms", after.as_millis())]
pub struct TimedOut {
    /// What was waited for.
    pub what: String,
    /// How long.
    pub after: Duration,
}

/// The pauses of one wait and its deadline: `pause` between two looks, `passed` to say
/// that the time is up.
#[derive(Debug, Clone)]
pub struct Deadline {
    /// None: no end (a wait that something else ends).
    until: Option<Instant>,
    next: Duration,
    longest: Duration,
}

impl Deadline {
    /// A wait of at most `within` from now.
    pub fn after(within: Duration) -> Deadline {
        Deadline {
            until: Instant::now().checked_add(within),
            next: FIRST_PAUSE,
            longest: LONGEST_PAUSE,
        }
    }

    /// A wait with no end of its own: the same pauses, until something else ends it.
    pub fn none() -> Deadline {
        Deadline {
            until: None,
            next: FIRST_PAUSE,
            longest: LONGEST_PAUSE,
        }
    }

    /// The same wait with its pauses growing to `longest` instead: shorter where an answer
    /// comes within moments, longer where each look costs (a tmux call, a store read).
    pub fn pausing_at_most(mut self, longest: Duration) -> Deadline {
        self.longest = longest;
        self.next = self.next.min(longest);
        self
    }

    /// The same wait with its first pause `first` instead (then doubling): for a look that
    /// is cheap or an answer that comes within a millisecond or two.
    pub fn pausing_first(mut self, first: Duration) -> Deadline {
        self.next = first.min(self.longest);
        self
    }

    /// Whether the time is up.
    pub fn passed(&self) -> bool {
        self.until.is_some_and(|u| Instant::now() >= u)
    }

    /// The next pause, never past the deadline.
    fn take_pause(&mut self) -> Duration {
        let left = self
            .until
            .map_or(self.next, |u| u.saturating_duration_since(Instant::now()));
        let pause = self.next.min(left);
        self.next = (self.next * 2).min(self.longest);
        pause
    }

    /// Pauses before the next look, without blocking the runtime.
    pub async fn pause(&mut self) {
        tokio::time::sleep(self.take_pause()).await;
    }

    /// Pauses before the next look, blocking this thread.
    pub fn pause_blocking(&mut self) {
        std::thread::sleep(self.take_pause());
    }
}

/// Asks `check` until it answers `Some`, for at most `deadline` (checked once at least).
pub fn wait_until<T>(
    what: &str,
    deadline: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Result<T, TimedOut> {
    let mut wait = Deadline::after(deadline);
    loop {
        if let Some(found) = check() {
            return Ok(found);
        }
        if wait.passed() {
            return Err(TimedOut {
                what: what.to_owned(),
                after: deadline,
            });
        }
        wait.pause_blocking();
    }
}

/// [`wait_until`] for a check that awaits, pausing without blocking the runtime.
pub async fn wait_until_async<T, F>(
    what: &str,
    deadline: Duration,
    mut check: impl FnMut() -> F,
) -> Result<T, TimedOut>
where
    F: std::future::Future<Output = Option<T>>,
{
    let mut wait = Deadline::after(deadline);
    loop {
        if let Some(found) = check().await {
            return Ok(found);
        }
        if wait.passed() {
            return Err(TimedOut {
                what: what.to_owned(),
                after: deadline,
            });
        }
        wait.pause().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_answers_as_soon_as_the_check_does_and_says_what_did_not_happen() {
        let mut n = 0;
        let found = wait_until("the third look", Duration::from_secs(5), || {
            n += 1;
            (n == 3).then_some(n)
        });
        assert_eq!(found, Ok(3));
        let err = wait_until("never", Duration::from_millis(30), || None::<()>).unwrap_err();
        assert_eq!(err.to_string(), "never did not happen within 30 ms");
    }

    #[test]
    fn a_check_is_made_once_even_with_no_time_left() {
        assert_eq!(wait_until("now", Duration::ZERO, || Some(1)), Ok(1));
    }

    #[test]
    fn a_deadline_pauses_longer_each_time_and_never_past_its_end() {
        let mut wait = Deadline::after(Duration::from_millis(12));
        assert!(!wait.passed());
        let pauses: Vec<Duration> = (0..3).map(|_| wait.take_pause()).collect();
        assert_eq!(pauses[0], FIRST_PAUSE);
        assert_eq!(pauses[1], FIRST_PAUSE * 2);
        // The third would be 20 ms: it ends at the deadline instead.
        assert!(pauses[2] <= Duration::from_millis(12), "{pauses:?}");
        wait.pause_blocking();
        std::thread::sleep(Duration::from_millis(12));
        assert!(wait.passed());
    }

    #[test]
    fn a_wait_can_start_with_a_shorter_pause_and_still_grow_to_its_longest() {
        let mut wait = Deadline::none()
            .pausing_at_most(Duration::from_millis(6))
            .pausing_first(Duration::from_millis(1));
        let pauses: Vec<u128> = (0..5).map(|_| wait.take_pause().as_millis()).collect();
        assert_eq!(pauses, [1, 2, 4, 6, 6]);
        // A first pause over the longest is the longest.
        let mut wait = Deadline::none()
            .pausing_at_most(Duration::from_millis(3))
            .pausing_first(Duration::from_millis(10));
        assert_eq!(wait.take_pause(), Duration::from_millis(3));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_async_one_waits_alike() {
        let mut n = 0;
        let found = wait_until_async("the second look", Duration::from_secs(5), || {
            n += 1;
            let v = n;
            async move { (v == 2).then_some(v) }
        })
        .await;
        assert_eq!(found, Ok(2));
    }
}
