//! Merging a session's pull request: read it now, refuse with its blockers unless it can
//! merge, merge only the head it checked. Every request to the scm has its deadline, and a
//! merge that did not say it worked is read again before ao says what became of it.

use super::breaker::ScmKey;
use super::{SCM_DEADLINE, blockers, no_answer};
use crate::model::time::utc_clock as clock;
use crate::model::{PrRef, Session, SessionStatus, StatusReason, now_ms};
use crate::plugin::{MergeMethod, MergeParams, PluginError, PrState, PrStatus, Scm};
use crate::session::{Manager, ManagerError};
use crate::store::Change;
use std::sync::Arc;
use std::time::Duration;

/// What one read of a pull request gave.
enum Reading {
    /// Its state now.
    Read(Box<PrStatus>),
    /// No answer within the deadline.
    NoAnswer,
    /// The scm failed to read it, saying why.
    Failed(String),
}

/// How the merge request itself went.
enum Put {
    /// The scm said it merged.
    Merged,
    /// The scm said nothing certain (no answer, a failure on the way): it may have merged.
    Unsure(String),
    /// The scm asked ao to wait until then (milliseconds since 1970), saying so: not merged.
    AskedToWait(String, i64),
}

impl Manager {
    /// Merges a session's PR: reads it now, refuses with its blockers unless it can be
    /// merged, and merges only the head it checked (a branch that moves in between is
    /// refused by the scm).
    pub async fn merge(
        &self,
        id: &str,
        method: MergeMethod,
        delete_branch: bool,
    ) -> Result<PrStatus, ManagerError> {
        self.merge_as(id, method, delete_branch, None, None).await
    }

    /// Merges a session's PR for the host: as [`Manager::merge`], and only when CI vouches
    /// for the head it reads now ([`Manager::ci_holds`]; `require_checks` as the reaction
    /// says): a head pushed since the reaction decided is not merged on the old one's CI.
    pub async fn auto_merge(
        &self,
        id: &str,
        method: MergeMethod,
        require_checks: bool,
    ) -> Result<PrStatus, ManagerError> {
        self.merge_as(id, method, false, Some(require_checks), None)
            .await
    }

    /// The host's merge of head `head_sha`, decided earlier (perhaps by a host that has
    /// since stopped): merged already at that head is the merge done (recorded now, if
    /// it was not); a head that moved is refused; otherwise [`Manager::auto_merge`].
    pub(crate) async fn merge_decided(
        &self,
        id: &str,
        method: MergeMethod,
        require_checks: bool,
        head_sha: &str,
    ) -> Result<PrStatus, ManagerError> {
        self.merge_as(id, method, false, Some(require_checks), Some(head_sha))
            .await
    }

    /// What holds a session's auto-merge back, from its PR reading `pr`: its scm paused
    /// (see [`super::breaker`]), or checks running, failing, or none on the head (see
    /// [`crate::ci`]); `None` when CI vouches for it.
    pub async fn ci_holds(
        &self,
        s: &Session,
        pr: &PrStatus,
        require_checks: bool,
    ) -> Result<Option<String>, ManagerError> {
        self.ci_holds_within(s, pr, require_checks, SCM_DEADLINE)
            .await
    }

    /// [`Manager::ci_holds`], waiting at most `deadline` for the scm's CI lookup.
    async fn ci_holds_within(
        &self,
        s: &Session,
        pr: &PrStatus,
        require_checks: bool,
        deadline: Duration,
    ) -> Result<Option<String>, ManagerError> {
        use crate::ci::{Seen, Verdict};
        let scm = self
            .project(&s.project)
            .and_then(|p| Ok((self.scm_key(&p), self.scm(&p)?)));
        // Nothing is merged while the scm is not to be asked.
        if let Ok((key, scm)) = &scm
            && let Some(pause) = self.scm_pause(key)?
        {
            return Ok(Some(pause.sentence(&scm.display_name())));
        }
        let now = now_ms();
        // A reading from before ao kept first sightings (or from another path): seen now.
        self.store().note_head_seen(&s.id, &pr.head_sha)?;
        let seen = Seen {
            head_seen_at: self
                .store()
                .head_seen_at(&s.id, &pr.head_sha)?
                .unwrap_or(now),
            now,
            grace_ms: self.ci_grace_ms(),
            require_checks,
        };
        let verdict = match crate::ci::verdict(pr, &seen) {
            Verdict::NoChecks => {
                // Asked only where the answer can let it merge. Not known (the scm cannot
                // tell, failed to, or did not answer in time): held, and said so.
                let runs = match &scm {
                    Ok((key, scm)) if !require_checks => {
                        let repo = pr.pr.repo_id();
                        match tokio::time::timeout(deadline, scm.runs_ci(&repo)).await {
                            Ok(Ok(runs)) => {
                                self.scm_heard(key, scm.as_ref(), None)?;
                                runs
                            }
                            Ok(Err(e)) => {
                                self.scm_heard(key, scm.as_ref(), Some(&e))?;
                                None
                            }
                            Err(_) => None,
                        }
                    }
                    _ => None,
                };
                crate::ci::no_checks(pr, &seen, runs)
            }
            v => v,
        };
        Ok(match verdict {
            Verdict::Green => None,
            Verdict::Wait(why) | Verdict::Failing(why) => Some(why),
            Verdict::NoChecks => Some("no check ran on its head".into()),
        })
    }

    /// `lifecycle.ciGracePeriod` in milliseconds.
    fn ci_grace_ms(&self) -> i64 {
        self.config
            .config
            .lifecycle
            .as_ref()
            .and_then(|l| l.ci_grace_period.as_deref())
            .and_then(crate::notify::parse_duration)
            .map_or(crate::ci::CI_GRACE_PERIOD_MS, |d| d.as_millis() as i64)
    }

    async fn merge_as(
        &self,
        id: &str,
        method: MergeMethod,
        delete_branch: bool,
        ci: Option<bool>,
        decided_at: Option<&str>,
    ) -> Result<PrStatus, ManagerError> {
        self.merge_within(id, method, delete_branch, ci, decided_at, SCM_DEADLINE)
            .await
    }

    /// The merge, each request to the scm given at most `deadline`: the read, the CI
    /// lookup, the merge itself and, when the merge did not say it worked, the read after
    /// it. So it ends within four deadlines, and says what became of it.
    pub(crate) async fn merge_within(
        &self,
        id: &str,
        method: MergeMethod,
        delete_branch: bool,
        ci: Option<bool>,
        decided_at: Option<&str>,
        deadline: Duration,
    ) -> Result<PrStatus, ManagerError> {
        let s = self.session(id)?;
        let project = self.project(&s.project)?;
        let scm = self.scm(&project)?;
        let key = self.scm_key(&project);
        let name = scm.display_name();
        let paused = |this: &Manager| -> Result<Option<ManagerError>, ManagerError> {
            Ok(this.scm_pause(&key)?.map(|pause| {
                let what = match &s.pr {
                    Some(pr) => format!("pull request #{} was not merged", pr.number),
                    None => "its pull request was not looked for".to_owned(),
                };
                ManagerError::refused(
                    format!("{id}: {what}: {}", pause.sentence(&name)),
                    format!("try again after {}", clock(pause.until)),
                )
            }))
        };
        if let Some(refusal) = paused(self)? {
            return Err(refusal);
        }
        let Some(pr) = s.pr.clone() else {
            // Perhaps it was opened since the last poll.
            self.refresh_prs_within(Some(&s.project), deadline).await?;
            let s = self.session(id)?;
            if s.pr.is_none() {
                return Err(ManagerError::refused(
                    format!(
                        "{id} has no pull request (none for its branch {})",
                        s.branch
                    ),
                    "once its agent opens one, `ao status --refresh` finds it",
                ));
            }
            return Box::pin(self.merge_within(
                id,
                method,
                delete_branch,
                ci,
                decided_at,
                deadline,
            ))
            .await;
        };
        let number = pr.number;
        let not_merged = |why: &str, hint: String| {
            ManagerError::refused(
                format!("{id}: pull request #{number} was not merged: {why}"),
                hint,
            )
        };
        let status = match self.read_pr(&key, scm.as_ref(), &pr, deadline).await? {
            Reading::Read(status) => *status,
            Reading::NoAnswer => {
                let last = self
                    .store()
                    .pr_snapshots()?
                    .get(&s.id)
                    .map(|snap| snap.fetched_at);
                return Err(not_merged(
                    &no_answer(&name, deadline, last),
                    format!("try again once {name} answers; `ao status --refresh` reads it again"),
                ));
            }
            Reading::Failed(e) => {
                return Err(ManagerError::refused(
                    format!(
                        "{id}: its pull request #{number} could not be read, so it was not merged: {e}"
                    ),
                    format!("try again once {name} answers"),
                ));
            }
        };
        self.store().record_pr_snapshot(&s.id, &status, now_ms())?;
        // Merged at the head decided on: the merge asked for earlier went through.
        let done =
            decided_at.is_some_and(|h| status.state == PrState::Merged && status.head_sha == h);
        if let Some(head) = decided_at
            && !done
            && status.state == PrState::Open
            && status.head_sha != head
        {
            return Err(not_merged(
                &format!(
                    "its head moved from {head} to {} since the merge was decided",
                    status.head_sha
                ),
                "the host decides again on the new head once its CI has run".into(),
            ));
        }
        let mut blockers = if done {
            Vec::new()
        } else {
            blockers(&status, &name)
        };
        if blockers.is_empty()
            && !done
            && let Some(require_checks) = ci
            && let Some(why) = self
                .ci_holds_within(&s, &status, require_checks, deadline)
                .await?
        {
            blockers.push(why);
        }
        if !blockers.is_empty() {
            return Err(not_merged(
                &blockers.join("; "),
                "`ao status --refresh` shows it again once that changes".into(),
            ));
        }
        let mut merged = PrStatus {
            state: PrState::Merged,
            mergeable: false,
            ..status.clone()
        };
        let mut unsure = None;
        if !done {
            if let Some(refusal) = paused(self)? {
                return Err(refusal);
            }
            let params = MergeParams {
                pr: pr.clone(),
                method,
                head_sha: status.head_sha.clone(),
                delete_branch,
            };
            let why = match self.put(&key, &scm, &params, deadline).await? {
                Put::Merged => None,
                Put::Unsure(why) => Some(why),
                Put::AskedToWait(why, until) => {
                    return Err(not_merged(
                        &why,
                        format!("try again after {}", clock(until)),
                    ));
                }
            };
            if let Some(why) = why {
                // It may have taken: what the scm says now tells.
                match self.read_pr(&key, scm.as_ref(), &pr, deadline).await? {
                    Reading::Read(now) if now.state == PrState::Merged => {
                        merged = *now;
                        unsure = Some(why);
                    }
                    Reading::Read(now) => {
                        self.store().record_pr_snapshot(&s.id, &now, now_ms())?;
                        let is = match now.state {
                            PrState::Closed => "it is closed",
                            _ => "it is still open",
                        };
                        return Err(not_merged(
                            &format!("{why}; read again, {is}"),
                            "try again; `ao status --refresh` shows it again".into(),
                        ));
                    }
                    Reading::NoAnswer | Reading::Failed(_) => {
                        return Err(ManagerError::refused(
                            format!(
                                "{id}: whether pull request #{number} was merged is not known: {why}, and {name} did not answer when it was read again"
                            ),
                            format!("`ao status --refresh` reads it again once {name} answers"),
                        ));
                    }
                }
            }
        }
        self.record_merged(&s, &merged, ci.is_some())?;
        if let Some(why) = unsure
            && delete_branch
        {
            return Err(ManagerError::refused(
                format!(
                    "{id}: pull request #{number} was merged at {}, but its branch {} may not have been deleted: {why}",
                    merged.head_sha, merged.head_branch
                ),
                format!("delete the branch on {name} if it is still there"),
            ));
        }
        Ok(merged)
    }

    /// Reads pull request `pr` now, within `deadline`, sharing what the scm says of its
    /// pause and budget.
    async fn read_pr(
        &self,
        key: &ScmKey,
        scm: &dyn Scm,
        pr: &PrRef,
        deadline: Duration,
    ) -> Result<Reading, ManagerError> {
        let read = scm.enrich(std::slice::from_ref(pr), &[None]);
        let Ok(mut results) = tokio::time::timeout(deadline, read).await else {
            return Ok(Reading::NoAnswer);
        };
        Ok(match results.pop() {
            Some(Ok(Some(status))) => {
                self.scm_heard(key, scm, None)?;
                Reading::Read(Box::new(status))
            }
            Some(Err(e)) => {
                self.scm_heard(key, scm, Some(&e))?;
                Reading::Failed(e.to_string())
            }
            _ => Reading::Failed(format!("{} returned nothing for it", scm.display_name())),
        })
    }

    /// Sends the merge, within `deadline`. A refusal (the head moved) or the scm asking ao
    /// to wait is an error: nothing was merged. Anything else short of "merged" may have
    /// merged.
    async fn put(
        &self,
        key: &ScmKey,
        scm: &Arc<dyn Scm>,
        params: &MergeParams,
        deadline: Duration,
    ) -> Result<Put, ManagerError> {
        let answer = tokio::time::timeout(deadline, scm.merge(params)).await;
        let Ok(answer) = answer else {
            return Ok(Put::Unsure(format!(
                "{} did not answer the merge within {} s",
                scm.display_name(),
                deadline.as_secs()
            )));
        };
        self.scm_heard(key, scm.as_ref(), answer.as_ref().err())?;
        match answer {
            Ok(()) => Ok(Put::Merged),
            Err(e @ PluginError::Refused { .. }) => Err(e.into()),
            Err(
                ref e @ PluginError::Transient {
                    retry_after_ms: Some(ms),
                    ..
                },
            ) => Ok(Put::AskedToWait(e.to_string(), now_ms() + ms as i64)),
            Err(e) => Ok(Put::Unsure(e.to_string())),
        }
    }

    /// Records session `s` merged at `merged`, by the host's auto-merge or by the user.
    fn record_merged(
        &self,
        s: &Session,
        merged: &PrStatus,
        auto: bool,
    ) -> Result<(), ManagerError> {
        self.store().record_pr_snapshot(&s.id, merged, now_ms())?;
        let number = merged.pr.number;
        let sha = merged.head_sha.clone();
        self.update(&s.id, |row| {
            // Recorded already by this merge (a host stopped before it settled it); one
            // the poll saw merged first is recorded as ao's merge now, with its event.
            if row.status == SessionStatus::Merged
                && matches!(
                    row.status_reason,
                    Some(StatusReason::AutoMerge | StatusReason::User)
                )
            {
                return Vec::new();
            }
            row.status = SessionStatus::Merged;
            // Who merged: the user (`ao session merge`) or the host's auto-merge.
            row.status_reason = Some(if auto {
                StatusReason::AutoMerge
            } else {
                StatusReason::User
            });
            vec![Change::new(
                crate::model::EventKind::PrMerged {
                    number,
                    sha: sha.clone(),
                },
                crate::model::Priority::Info,
                format!("pull request #{number} merged at {sha}"),
            )]
        })?;
        Ok(())
    }
}
