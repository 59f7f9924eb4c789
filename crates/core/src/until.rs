//! One way to wait for something to become true: [`wait_until`] (and
//! [`wait_until_async`]) ask `check` again and again, a short pause between (growing
//! from 5 ms to 50 ms, so a quick answer is seen quickly and a slow one costs little),
//! until it answers or `deadline` has passed; then the caller says what it waited for.

use std::time::{Duration, Instant};

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

fn pauses() -> impl Iterator<Item = Duration> {
    std::iter::successors(Some(FIRST_PAUSE), |p| Some((*p * 2).min(LONGEST_PAUSE)))
}

/// Asks `check` until it answers `Some`, for at most `deadline` (checked once at least).
pub fn wait_until<T>(
    what: &str,
    deadline: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Result<T, TimedOut> {
    let until = Instant::now() + deadline;
    for pause in pauses() {
        if let Some(found) = check() {
            return Ok(found);
        }
        let now = Instant::now();
        if now >= until {
            break;
        }
        std::thread::sleep(pause.min(until - now));
    }
    Err(TimedOut {
        what: what.to_owned(),
        after: deadline,
    })
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
    let until = tokio::time::Instant::now() + deadline;
    for pause in pauses() {
        if let Some(found) = check().await {
            return Ok(found);
        }
        let now = tokio::time::Instant::now();
        if now >= until {
            break;
        }
        tokio::time::sleep(pause.min(until - now)).await;
    }
    Err(TimedOut {
        what: what.to_owned(),
        after: deadline,
    })
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
