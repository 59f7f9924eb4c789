//! Now, and UTC times as people and web APIs (RFC 3339) write them, from and to
//! milliseconds since 1970, by Howard Hinnant's civil-date algorithms (no time-zone
//! database needed).
//!
//! Every "now" of ao's decisions comes from [`now_ms`], so a test can set the clock: with a
//! [`FakeClock`] installed, `now_ms` on that thread reads it instead of the system clock
//! (tests run the manager on a current-thread runtime, so its tasks share the thread).

use super::Timestamp;

/// The current time as a [`Timestamp`]: the system clock, or the fake clock a test
/// installed on this thread.
pub fn now_ms() -> Timestamp {
    #[cfg(any(test, feature = "fakes"))]
    if let Some(ms) = fake::now() {
        return ms;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(any(test, feature = "fakes"))]
pub use fake::FakeClock;

#[cfg(any(test, feature = "fakes"))]
mod fake {
    use super::Timestamp;
    use std::cell::Cell;
    use std::time::Duration;

    thread_local! {
        static NOW: Cell<Option<Timestamp>> = const { Cell::new(None) };
    }

    pub(super) fn now() -> Option<Timestamp> {
        NOW.with(Cell::get)
    }

    /// A clock that stands still until the test moves it: while it is installed,
    /// [`super::now_ms`] on this thread reads it. Dropping it gives the thread the system
    /// clock back. Only ao's own "now" is faked: tokio's timers and `Instant` keep real
    /// time, so waits with deadlines still end.
    #[derive(Debug)]
    pub struct FakeClock {
        // Bound to the thread it was installed on.
        _thread: std::marker::PhantomData<*const ()>,
    }

    impl FakeClock {
        /// Installs the clock on this thread, reading `start_ms`.
        pub fn install(start_ms: Timestamp) -> FakeClock {
            NOW.with(|now| {
                assert!(
                    now.get().is_none(),
                    "a fake clock is installed on this thread already"
                );
                now.set(Some(start_ms));
            });
            FakeClock {
                _thread: std::marker::PhantomData,
            }
        }

        /// What it reads.
        pub fn now(&self) -> Timestamp {
            now().expect("installed")
        }

        /// Moves it forward by `by`.
        pub fn advance(&self, by: Duration) {
            NOW.with(|now| now.set(now.get().map(|t| t + by.as_millis() as i64)));
        }

        /// Sets it to `ms` (backwards too, for a clock that jumps).
        pub fn set(&self, ms: Timestamp) {
            NOW.with(|now| now.set(Some(ms)));
        }
    }

    impl Drop for FakeClock {
        fn drop(&mut self) {
            NOW.with(|now| now.set(None));
        }
    }
}

/// `ms` as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_rfc3339(ms: i64) -> String {
    let (y, m, d, h, min, s) = civil(ms);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}Z")
}

/// `ms` as `YYYY-MM-DD HH:MM:SS` (UTC), for tables.
pub fn utc_datetime(ms: i64) -> String {
    let (y, m, d, h, min, s) = civil(ms);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{min:02}:{s:02}")
}

/// `ms` as `HH:MM UTC` when it is within a day of now, else with its date
/// (`YYYY-MM-DD HH:MM UTC`), for "until when" in messages.
pub fn utc_clock(ms: i64) -> String {
    utc_clock_seen_at(ms, now_ms())
}

/// [`utc_clock`] as seen at `now_ms`: a clock time alone names the next such moment, so
/// a moment further than a day away (or gone) carries its date.
pub fn utc_clock_seen_at(ms: i64, now_ms: i64) -> String {
    const DAY_MS: i64 = 86_400_000;
    let (y, m, d, h, min, _) = civil(ms);
    if (0..DAY_MS).contains(&(ms - now_ms)) {
        format!("{h:02}:{min:02} UTC")
    } else {
        format!("{y:04}-{m:02}-{d:02} {h:02}:{min:02} UTC")
    }
}

fn civil(ms: i64) -> (i64, i64, i64, i64, i64, i64) {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let s = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, s / 3600, (s % 3600) / 60, s % 60)
}

/// `2026-12-01T10:00:00Z` (or `...:00.250Z`, to the millisecond) as milliseconds since
/// 1970.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let (date, time) = text.trim_end_matches('Z').split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.splitn(3, ':').map(|p| p.parse::<f64>().ok());
    let (h, min, s) = (t.next()??, t.next()??, t.next()??);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h as i64 * 3600 + min as i64 * 60) * 1000 + (s * 1000.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_known_dates() {
        assert_eq!(parse_rfc3339("1970-01-02T00:00:01Z"), Some(86_401_000));
        assert_eq!(parse_rfc3339("1970-01-02T00:00:01.250Z"), Some(86_401_250));
        assert_eq!(
            parse_rfc3339("2026-12-01T10:30:00Z"),
            Some(1_796_121_000_000)
        );
        assert_eq!(utc_rfc3339(1_796_121_000_000), "2026-12-01T10:30:00Z");
        assert_eq!(utc_datetime(1_796_121_000_000), "2026-12-01 10:30:00");
        let at = 1_796_121_000_000;
        assert_eq!(utc_clock_seen_at(at, at - 3_600_000), "10:30 UTC");
        assert_eq!(utc_clock_seen_at(at, at - 86_399_000), "10:30 UTC");
        // Further than a day, years away, or gone: the clock alone would mislead.
        assert_eq!(
            utc_clock_seen_at(at, at - 2 * 86_400_000),
            "2026-12-01 10:30 UTC"
        );
        assert_eq!(
            utc_clock_seen_at(at + 3 * 365 * 86_400_000, at),
            "2029-11-30 10:30 UTC"
        );
        assert_eq!(utc_clock_seen_at(at, at + 60_000), "2026-12-01 10:30 UTC");
        assert_eq!(utc_rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        for ms in [0, 951_782_400_000, 4_102_444_800_000] {
            assert_eq!(parse_rfc3339(&utc_rfc3339(ms)), Some(ms));
        }
    }

    #[test]
    fn a_fake_clock_stands_still_until_moved_and_only_on_its_thread() {
        let system = now_ms();
        {
            let clock = FakeClock::install(1_000);
            assert_eq!(now_ms(), 1_000);
            clock.advance(std::time::Duration::from_secs(90));
            assert_eq!(now_ms(), 91_000);
            assert_eq!(utc_clock(91_000 + 60_000), "00:02 UTC");
            let other = std::thread::spawn(now_ms).join().unwrap();
            assert!(other >= system, "another thread keeps the system clock");
        }
        assert!(now_ms() >= system, "dropped: the system clock again");
    }
}
