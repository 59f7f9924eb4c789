//! Handing an existing pull request to a session: `ao session claim-pr` (the session's
//! checkout moves to the PR's branch) and `ao spawn --claim-pr` (a new session starts on
//! it). The PR must be open, in the project's repository, and its branch free of other
//! live sessions; a checkout with uncommitted work is never switched.

use super::{Manager, ManagerError};
use crate::config::ResolvedProject;
use crate::git;
use crate::model::{EventKind, Priority, Session, SessionId, now_ms};
use crate::plugin::{PrState, PrStatus};
use crate::store::{Change, SessionFilter};

/// What a claim did.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The session, as it is now.
    pub session: Session,
    /// The pull request, as read at the claim.
    pub status: PrStatus,
    /// The branch the checkout was on before, when the claim moved it.
    pub switched_from: Option<String>,
    /// Sessions that had the PR attached, and no longer have.
    pub taken_from: Vec<SessionId>,
}

impl Manager {
    /// Reads the pull request `text` names and checks it can be claimed: open, its branch
    /// in the project's own repository, and no other live session (than `except`) on
    /// that branch. Returns it and the sessions holding it otherwise.
    pub(crate) async fn claimable_pr(
        &self,
        project: &ResolvedProject,
        text: &str,
        except: Option<&SessionId>,
    ) -> Result<(PrStatus, Vec<SessionId>), ManagerError> {
        let pr = self.project_pr(project, text)?;
        let scm = self.scm(project)?;
        let status = match scm.enrich(std::slice::from_ref(&pr), &[None]).await.pop() {
            Some(Ok(Some(status))) => status,
            Some(Err(e)) => {
                return Err(ManagerError::refused(
                    format!("pull request #{} could not be read: {e}", pr.number),
                    format!(
                        "check the number, and try again once {} answers",
                        scm.display_name()
                    ),
                ));
            }
            _ => {
                return Err(ManagerError::plain(format!(
                    "pull request #{} could not be read",
                    pr.number
                )));
            }
        };
        let n = pr.number;
        match status.state {
            PrState::Open => {}
            PrState::Merged => {
                return Err(ManagerError::refused(
                    format!("pull request #{n} is merged already; there is nothing to take over"),
                    "spawn a session for the follow-up work instead",
                ));
            }
            PrState::Closed => {
                return Err(ManagerError::refused(
                    format!("pull request #{n} is closed"),
                    format!(
                        "reopen it on {} first, if the work should go on",
                        scm.display_name()
                    ),
                ));
            }
        }
        if status.cross_repository {
            return Err(ManagerError::refused(
                format!(
                    "pull request #{n} comes from a fork, and ao checks out branches of {} only",
                    pr.repo_id()
                ),
                "push its branch to the project's repository and open the PR from there",
            ));
        }
        if status.head_branch.is_empty() {
            return Err(ManagerError::refused(
                format!(
                    "the scm plugin `{}` did not say which branch pull request #{n} is on",
                    project.scm
                ),
                "update the plugin (it is older than ao's claim-pr)",
            ));
        }
        if !git::is_valid_branch_name(&status.head_branch) {
            return Err(ManagerError::plain(format!(
                "pull request #{n}'s branch `{}` is not a name git accepts for a branch",
                status.head_branch
            )));
        }
        let mut holders = Vec::new();
        for other in self.store().sessions(&SessionFilter {
            project: Some(project.id.clone()),
            include_archived: false,
        })? {
            if Some(&other.id) == except || other.status.is_terminal() {
                continue;
            }
            if other.branch == status.head_branch {
                return Err(ManagerError::refused(
                    format!(
                        "{} works on pull request #{n}'s branch {} already",
                        other.id, status.head_branch
                    ),
                    format!(
                        "send {} what to do (`ao send {} ...`), or `ao session kill {}` first",
                        other.id, other.id, other.id
                    ),
                ));
            }
            if other.pr.as_ref().is_some_and(|p| p.number == n) {
                holders.push(other.id.clone());
            }
        }
        Ok((status, holders))
    }

    /// Fetches a pull request's branch from the project's origin, so a checkout can be
    /// made of it or switched to it.
    pub(crate) async fn fetch_pr_branch(
        &self,
        project: &ResolvedProject,
        status: &PrStatus,
    ) -> Result<(), ManagerError> {
        let b = &status.head_branch;
        let refspec = format!("+refs/heads/{b}:refs/remotes/origin/{b}");
        git::run(&project.path, &["fetch", "--quiet", "origin", &refspec])
            .await
            .map(|_| ())
            .map_err(|e| {
                ManagerError::refused(
                    format!(
                        "pull request #{}'s branch {b} could not be fetched from origin: {e}",
                        status.pr.number
                    ),
                    "check that the project's origin is the PR's repository",
                )
            })
    }

    /// Makes session `id` own the pull request `pr` (a number, `#N` or address): its
    /// checkout switches to the PR's branch (refused while it holds uncommitted work),
    /// and any other session that had the PR attached lets it go.
    pub async fn claim_pr(&self, id: &str, pr: &str) -> Result<Claimed, ManagerError> {
        let s = self.session(id)?;
        if s.id.is_orchestrator() {
            return Err(ManagerError::refused(
                format!(
                    "{} is the project's orchestrator; it hands PRs to workers, it does not work on them",
                    s.id
                ),
                format!(
                    "`ao spawn {} --claim-pr {pr}` starts a worker on it",
                    s.project
                ),
            ));
        }
        if s.status.is_terminal() || s.spawn_pid.is_some() || s.restore_pid.is_some() {
            return Err(ManagerError::refused(
                format!(
                    "{} is {}; it cannot take over a pull request",
                    s.id, s.status
                ),
                format!(
                    "`ao spawn {} --claim-pr {pr}` starts a new session on it",
                    s.project
                ),
            ));
        }
        let project = self.project(&s.project)?;
        let (status, holders) = self.claimable_pr(&project, pr, Some(&s.id)).await?;
        let n = status.pr.number;
        let branch = status.head_branch.clone();
        let Some(checkout) = s.workspace_path.clone().filter(|p| p.is_dir()) else {
            return Err(ManagerError::refused(
                format!(
                    "{} has no checkout to switch to pull request #{n}'s branch",
                    s.id
                ),
                format!("`ao session restore {}` makes it again", s.id),
            ));
        };
        let switched_from = if s.branch == branch {
            None
        } else {
            let unsaved = git::unsaved_work(&checkout, &project.default_branch)
                .await
                .map_err(|e| {
                    ManagerError::plain(format!(
                        "{}'s checkout could not be read, so it was not switched: {e}",
                        s.id
                    ))
                })?;
            if !unsaved.is_empty() {
                return Err(ManagerError::refused(
                    format!(
                        "{}'s checkout holds work that switching to pull request #{n}'s branch {branch} would leave behind: {}",
                        s.id,
                        unsaved.join("; ")
                    ),
                    format!(
                        "have the agent commit it first (`ao send {} ...`), then claim again",
                        s.id
                    ),
                ));
            }
            self.fetch_pr_branch(&project, &status).await?;
            let args: Vec<String> = if git::local_branch_exists(&project.path, &branch) {
                vec!["switch".into(), "--quiet".into(), branch.clone()]
            } else {
                vec![
                    "switch".into(),
                    "--quiet".into(),
                    "--create".into(),
                    branch.clone(),
                    "--track".into(),
                    format!("origin/{branch}"),
                ]
            };
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            git::run(&checkout, &args).await.map_err(|e| {
                ManagerError::plain(format!(
                    "{}'s checkout could not switch to pull request #{n}'s branch {branch}: {e}",
                    s.id
                ))
            })?;
            Some(s.branch.clone())
        };
        let session = self.attach_claimed(&s, &status, &holders, switched_from.is_some())?;
        Ok(Claimed {
            session,
            status,
            switched_from,
            taken_from: holders,
        })
    }

    /// Session `s` owns the pull request it claimed now (on its branch, when `on_branch`:
    /// the branch is the PR's then, so ending the session must not delete it), and the
    /// sessions in `holders` let it go.
    pub(crate) fn attach_claimed(
        &self,
        s: &Session,
        status: &PrStatus,
        holders: &[SessionId],
        on_branch: bool,
    ) -> Result<Session, ManagerError> {
        let n = status.pr.number;
        for other in holders {
            self.update(other, |row| {
                if row.pr.as_ref().map(|p| p.number) != Some(n) {
                    return Vec::new();
                }
                row.pr = None;
                vec![Change::new(
                    EventKind::PrTakenOver {
                        number: n,
                        by: s.id.to_string(),
                    },
                    Priority::Info,
                    format!("pull request #{n} was taken over by {}", s.id),
                )]
            })?;
        }
        let pr = status.pr.clone();
        let session = self.update(&s.id, |row| {
            row.pr = Some(pr.clone());
            if on_branch {
                row.branch = status.head_branch.clone();
                row.created_branch = false;
            }
            vec![Change::new(
                EventKind::PrClaimed { number: n },
                Priority::Info,
                format!("pull request #{n} claimed: {}", pr.url),
            )]
        })?;
        self.store()
            .record_pr_snapshot(&session.id, status, now_ms())?;
        self.apply_pr(&session, status)?;
        Ok(self.store().session(&s.id)?.unwrap_or(session))
    }
}

/// The task a session started on a claimed pull request gets, when it is given none.
pub(crate) fn claim_task(status: &PrStatus) -> String {
    format!(
        "Take over pull request #{} \"{}\" ({}). Your checkout is on its branch {}, with its commits. Read the PR, its review comments and its failing checks, then finish the work it sets out to do, pushing to the same branch.",
        status.pr.number, status.title, status.pr.url, status.head_branch
    )
}
