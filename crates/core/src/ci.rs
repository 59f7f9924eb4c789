//! Whether CI vouches for a pull request's head, for auto-merge: every required check
//! passed on that very head, and at least one check ran on it. A head with no checks yet
//! is given a grace period for its CI to start; a repository that runs no CI at all is
//! merged only when the user said so (`requireChecks: false`).

use crate::plugin::{CheckState, PrStatus};

/// How long a head with no checks is waited on by default (`lifecycle.ciGracePeriod`).
pub const CI_GRACE_PERIOD_MS: i64 = 120_000;

/// What ao knows besides the pull request's reading.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    /// When ao first saw the PR at its current head (milliseconds since 1970).
    pub head_seen_at: i64,
    /// Now.
    pub now: i64,
    /// The grace period for a head's CI to start, in milliseconds.
    pub grace_ms: i64,
    /// Whether checks are required at all (`requireChecks`, default true).
    pub require_checks: bool,
}

/// What CI says of a head, for auto-merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// CI ran on this head and passed: merge.
    Green,
    /// Not yet: checks still run, or none has started within the grace period.
    Wait(String),
    /// No check ran on the head after the grace period: whether the repository runs CI at
    /// all decides ([`no_checks`]).
    NoChecks,
    /// Not to be merged: a check failed.
    Failing(String),
}

/// The verdict on `pr`'s head from its checks alone.
pub fn verdict(pr: &PrStatus, seen: &Seen) -> Verdict {
    let short = &pr.head_sha[..pr.head_sha.len().min(12)];
    let named = |f: &dyn Fn(&crate::plugin::CheckRun) -> bool| {
        pr.checks
            .iter()
            .filter(|c| f(c))
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let failing = named(&|c| c.state == CheckState::Failed);
    if !failing.is_empty() {
        return Verdict::Failing(format!("checks failing on {short}: {failing}"));
    }
    let pending = named(&|c| c.state == CheckState::Pending);
    if !pending.is_empty() {
        return Verdict::Wait(format!("checks still running on {short}: {pending}"));
    }
    if pr.checks.iter().any(|c| c.state == CheckState::Passed) {
        return Verdict::Green;
    }
    let waited = seen.now - seen.head_seen_at;
    if waited < seen.grace_ms {
        return Verdict::Wait(format!(
            "no check has started on {short} yet; its CI has until {} s after the push was seen",
            seen.grace_ms / 1000
        ));
    }
    Verdict::NoChecks
}

/// The verdict on a head no check ran on within the grace period: with `runs_ci` (the
/// repository's CI, as its scm tells; `None` when it cannot), merged only in a repository
/// without CI whose user said checks are not required.
pub fn no_checks(pr: &PrStatus, seen: &Seen, runs_ci: Option<bool>) -> Verdict {
    let short = &pr.head_sha[..pr.head_sha.len().min(12)];
    match runs_ci {
        Some(false) if !seen.require_checks => Verdict::Green,
        Some(false) => Verdict::Wait(format!(
            "no check ran on {short} and the repository runs no CI; `requireChecks: false` on the approved-and-green reaction lets ao merge without checks"
        )),
        Some(true) => Verdict::Wait(format!(
            "no check ran on {short} within {} s, though the repository runs CI; ao merges once one has passed",
            seen.grace_ms / 1000
        )),
        None if seen.require_checks => Verdict::Wait(format!(
            "no check ran on {short} within {} s; ao merges once one has passed (in a repository without CI, `requireChecks: false` on approved-and-green lets it merge without)",
            seen.grace_ms / 1000
        )),
        None => Verdict::Wait(format!(
            "no check ran on {short} within {} s, and ao could not tell whether the repository runs CI; it merges once a check has passed",
            seen.grace_ms / 1000
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PrRef;
    use crate::plugin::{CheckRun, PrState, ReviewDecision};

    fn pr(checks: &[(&str, CheckState)]) -> PrStatus {
        PrStatus {
            pr: PrRef {
                number: 1,
                url: "https://example.com/pr/1".into(),
                owner: "acme".into(),
                repo: "app".into(),
            },
            state: PrState::Open,
            head_sha: "0123456789abcdef".into(),
            head_branch: String::new(),
            cross_repository: false,
            title: String::new(),
            draft: false,
            updated_at: 0,
            fingerprint: String::new(),
            checks: checks
                .iter()
                .map(|(name, state)| CheckRun {
                    id: name.to_string(),
                    name: name.to_string(),
                    required: false,
                    state: *state,
                    url: None,
                    log_excerpt: None,
                })
                .collect(),
            review: ReviewDecision::Approved,
            unresolved_threads: Vec::new(),
            mergeable: true,
            conflicts: false,
            behind_base: false,
        }
    }

    fn seen(after_ms: i64, require_checks: bool) -> Seen {
        Seen {
            head_seen_at: 1_000_000,
            now: 1_000_000 + after_ms,
            grace_ms: CI_GRACE_PERIOD_MS,
            require_checks,
        }
    }

    #[test]
    fn a_head_is_green_only_when_a_check_passed_on_it_and_none_runs_or_failed() {
        use CheckState::*;
        assert_eq!(
            verdict(&pr(&[("build", Passed)]), &seen(0, true)),
            Verdict::Green
        );
        assert!(matches!(
            verdict(&pr(&[("build", Passed), ("lint", Pending)]), &seen(0, true)),
            Verdict::Wait(w) if w.contains("lint")
        ));
        assert!(matches!(
            verdict(&pr(&[("build", Failed)]), &seen(0, true)),
            Verdict::Failing(w) if w.contains("build")
        ));
        // Queued checks are no green, however long they take.
        assert!(matches!(
            verdict(&pr(&[("build", Pending)]), &seen(3_600_000, true)),
            Verdict::Wait(_)
        ));
    }

    #[test]
    fn a_head_without_checks_waits_its_grace_then_needs_a_repository_without_ci_and_consent() {
        let none = pr(&[]);
        assert!(
            matches!(verdict(&none, &seen(0, true)), Verdict::Wait(w) if w.contains("no check has started"))
        );
        assert!(matches!(
            verdict(&none, &seen(CI_GRACE_PERIOD_MS - 1, false)),
            Verdict::Wait(_)
        ));
        assert_eq!(
            verdict(&none, &seen(CI_GRACE_PERIOD_MS, true)),
            Verdict::NoChecks
        );
        let late = seen(CI_GRACE_PERIOD_MS, true);
        // A repository with CI, or one whose scm cannot tell: never merged without a check.
        assert!(
            matches!(no_checks(&none, &late, Some(true)), Verdict::Wait(w) if w.contains("runs CI"))
        );
        for runs in [Some(true), None] {
            assert!(
                matches!(no_checks(&none, &late, runs), Verdict::Wait(w) if w.contains("ao merges once one has passed"))
            );
            assert!(matches!(
                no_checks(&none, &seen(CI_GRACE_PERIOD_MS, false), runs),
                Verdict::Wait(_)
            ));
        }
        // No CI at all: only with the user's consent.
        assert!(
            matches!(no_checks(&none, &late, Some(false)), Verdict::Wait(w) if w.contains("requireChecks: false"))
        );
        assert_eq!(
            no_checks(&none, &seen(CI_GRACE_PERIOD_MS, false), Some(false)),
            Verdict::Green
        );
    }
}
