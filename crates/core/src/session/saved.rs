//! The uncommitted work `ao session kill --force` saves before it deletes a workspace:
//! a stash-shaped commit on `refs/ao/saved/<session>/<n>` of the project's repository,
//! which `git stash apply <ref>` brings back in any checkout of the branch. Nothing of
//! ao ever deletes these refs; `ao session ls --all` and `info` list them.

use super::{Manager, ManagerError};
use crate::git::{SaveError, SavedRef, UncommittedFile};
use crate::model::{Session, SessionId};
use crate::plugin::WorkspaceSpec;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

/// Work saved from a workspace just before it was removed.
#[derive(Debug, Clone, Serialize)]
pub struct SavedWork {
    /// The ref that holds it, `refs/ao/saved/<session>/<n>`.
    pub reference: String,
    /// Each file saved and how it differed, by path.
    pub files: Vec<UncommittedFile>,
    /// The branch it was saved from; `None` when that branch is gone (deleted outside
    /// ao), and the work is saved against an empty commit.
    pub branch: Option<String>,
    /// The commits on no branch it keeps (a detached HEAD's), `sha subject` each.
    pub commits: Vec<String>,
    /// The command that brings it back, run in a checkout of the branch.
    pub apply: String,
}

impl SavedWork {
    /// What was saved, for a line of the kill's report: `3 uncommitted files`.
    pub fn summary(&self) -> String {
        let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let mut parts = Vec::new();
        if !self.files.is_empty() {
            parts.push(count(self.files.len(), "uncommitted file"));
        }
        if !self.commits.is_empty() {
            parts.push(format!(
                "{} on no branch",
                count(self.commits.len(), "commit")
            ));
        }
        parts.join(" and ")
    }
}

/// One ref of a session's saved work, with the paths it holds.
#[derive(Debug, Clone, Serialize)]
pub struct SavedEntry {
    /// The ref.
    #[serde(flatten)]
    pub saved: SavedRef,
    /// The paths it holds.
    pub files: Vec<String>,
    /// The command that brings it back.
    pub apply: String,
}

/// The command that brings the work saved at `reference` back into a checkout.
pub fn apply_command(reference: &str) -> String {
    format!("git stash apply {reference}")
}

/// What the saved commit's message says made it.
fn saved_by(s: &Session) -> String {
    format!("saved by `ao session kill --force {}`", s.id)
}

impl Manager {
    /// Builds the commit that would save `s`'s uncommitted work at `path`, keeping no
    /// ref: whether saving works, asked before anything is ended.
    pub(crate) async fn try_saving(&self, s: &Session, path: &Path) -> Result<(), SaveError> {
        if crate::git::holds_nothing(path) {
            return Ok(());
        }
        crate::git::stash_commit(path, &saved_by(s)).await.map(drop)
    }

    /// Saves `s`'s uncommitted work in its workspace on a new ref of its own; `None`
    /// when everything there is committed (or ignored).
    pub(crate) async fn save_work(
        &self,
        s: &Session,
        spec: &WorkspaceSpec,
    ) -> Result<Option<SavedWork>, SaveError> {
        // A directory a spawn claimed and git never filled: nothing to save.
        if crate::git::holds_nothing(&spec.path) {
            return Ok(None);
        }
        let Some(stash) = crate::git::stash_commit(&spec.path, &saved_by(s)).await? else {
            return Ok(None);
        };
        let reference = crate::git::keep(
            &spec.repo_path,
            &spec.path,
            &s.id.to_string(),
            &stash.commit,
        )
        .await?;
        let mut files = stash.files;
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Some(SavedWork {
            commits: stash.commits,
            apply: apply_command(&reference),
            reference,
            files,
            branch: crate::git::local_branch_exists(&spec.repo_path, &s.branch)
                .then(|| s.branch.clone()),
        }))
    }

    /// The refs of saved work of each of `sessions` that has any, with one git call per
    /// repository; a repository that cannot be read adds nothing.
    pub async fn saved_work(&self, sessions: &[&Session]) -> HashMap<SessionId, Vec<SavedRef>> {
        let mut repos: Vec<std::path::PathBuf> = Vec::new();
        for s in sessions {
            if let Ok(p) = self.project(&s.project)
                && !repos.contains(&p.path)
            {
                repos.push(p.path.clone());
            }
        }
        let mut found: HashMap<String, Vec<SavedRef>> = HashMap::new();
        for repo in repos {
            for r in crate::git::saved_refs(&repo, None)
                .await
                .unwrap_or_default()
            {
                found.entry(r.name.clone()).or_default().push(r);
            }
        }
        sessions
            .iter()
            .filter_map(|s| Some((s.id.clone(), found.remove(&s.id.to_string())?)))
            .collect()
    }

    /// The refs of `s`'s saved work, with the paths each holds.
    pub async fn saved_work_of(&self, s: &Session) -> Result<Vec<SavedEntry>, ManagerError> {
        let Ok(project) = self.project(&s.project) else {
            return Ok(Vec::new());
        };
        let refs = crate::git::saved_refs(&project.path, Some(&s.id.to_string()))
            .await
            .unwrap_or_default();
        let mut entries = Vec::new();
        for saved in refs {
            let files = crate::git::saved_paths(&project.path, &saved.reference)
                .await
                .unwrap_or_default();
            entries.push(SavedEntry {
                apply: apply_command(&saved.reference),
                saved,
                files,
            });
        }
        Ok(entries)
    }
}

/// The refusal of a forced kill whose workspace's work could not be saved; `ended` says
/// whether the agent had been ended by then.
pub(crate) fn refuse_unsaved(s: &Session, path: &Path, e: &SaveError, ended: bool) -> ManagerError {
    let what = if ended {
        format!(
            "its agent was ended, but its workspace {} is kept",
            path.display()
        )
    } else {
        "nothing was changed".to_owned()
    };
    let hint = match e {
        SaveError::Conflicts(_) => format!(
            "resolve the conflicts and commit, or give up the merge (`git merge --abort`, `git rebase --abort`), in {}; then kill it again, or pass --keep-workspace to leave the directory as it is",
            path.display()
        ),
        _ => format!(
            "make {} a checkout git can read (the error says why) and kill it again, or copy what you need from it and remove it yourself; `ao session kill --keep-workspace` ends the session and leaves the directory as it is",
            path.display()
        ),
    };
    ManagerError::refused(
        format!(
            "{}: could not save the uncommitted work in {} before deleting it: {e}; {what}",
            s.id,
            path.display()
        ),
        hint,
    )
}
