//! A project's repository and its pull requests' references, as the project's scm writes
//! them: core parses no pull request's address and takes no `repo` apart itself, so an
//! scm of another shape (groups nested in groups, merge requests) needs no change here.

use super::{Manager, ManagerError};
use crate::config::ResolvedProject;
use crate::model::{PrRef, RepoId};
use crate::plugin::Scm;

/// Whether `text` names a pull request (a number, `#N` or a web address) rather than a
/// session. Which pull request, the project's scm says.
pub fn looks_like_pr(text: &str) -> bool {
    let n = text.strip_prefix('#').unwrap_or(text);
    (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) || text.contains("://")
}

/// A pull request's number as a user gives it: `12` or `#12`.
fn pr_number(text: &str) -> Option<u64> {
    text.strip_prefix('#')
        .unwrap_or(text)
        .parse::<u64>()
        .ok()
        .filter(|&n| n > 0)
}

impl Manager {
    /// The repository the project's `repo` names, as its scm reads it; `None` when the
    /// project names none. A `repo` the scm cannot read is refused, naming its line.
    pub(crate) fn project_repo(
        &self,
        project: &ResolvedProject,
        scm: &dyn Scm,
    ) -> Result<Option<RepoId>, ManagerError> {
        let Some(text) = project.repo.as_deref() else {
            return Ok(None);
        };
        scm.parse_repo(text).map(Some).map_err(|why| {
            let at = self
                .config
                .tree
                .at(&["projects", &project.id, "repo"])
                .map(|n| format!(" at {}", self.config.place(n.loc)))
                .unwrap_or_default();
            let scm_name = scm.display_name();
            ManagerError::refused(
                format!(
                    "project `{}`'s `repo`{at} names no repository of {scm_name}: {}",
                    project.id,
                    self.config.redact(&why)
                ),
                format!(
                    "set `repo` under projects.{} to the repository as {scm_name} names it",
                    project.id
                ),
            )
        })
    }

    /// The project's repository, or a refusal: "project `ID` names no repository`what`".
    fn required_repo(
        &self,
        project: &ResolvedProject,
        scm: &dyn Scm,
        what: &str,
        hint: &str,
    ) -> Result<RepoId, ManagerError> {
        self.project_repo(project, scm)?.ok_or_else(|| {
            ManagerError::refused(
                format!("project `{}` names no repository{what}", project.id),
                hint.to_owned(),
            )
        })
    }

    /// The pull request `text` names in `project`'s repository: a number, `#N` or its web
    /// address (which must be in that repository).
    pub(crate) fn project_pr(
        &self,
        project: &ResolvedProject,
        text: &str,
    ) -> Result<PrRef, ManagerError> {
        let scm = self.scm(project)?;
        let repo = self.required_repo(
            project,
            scm.as_ref(),
            ", so it has no pull requests to claim",
            &format!(
                "set `repo: OWNER/NAME` under projects.{} in the config",
                project.id
            ),
        )?;
        if let Some(pr) = scm.parse_pr_url(text) {
            let theirs = pr.repo_id();
            if !theirs.same(&repo) {
                return Err(ManagerError::refused(
                    format!(
                        "{text} is a pull request of {theirs}, but project `{}` works on {repo}",
                        project.id
                    ),
                    "claim it from the project whose repository it is in",
                ));
            }
            return Ok(pr);
        }
        let Some(number) = pr_number(text) else {
            let example = scm.pr_ref(&repo, 12).url;
            return Err(ManagerError::refused(
                format!("`{text}` is not a pull request of {}", scm.display_name()),
                if example.is_empty() {
                    "give its number (12 or #12)".to_owned()
                } else {
                    format!("give its number (12 or #12) or its address ({example})")
                },
            ));
        };
        Ok(scm.pr_ref(&repo, number))
    }

    /// The pull request an agent reports of itself: by its address, or by its number in
    /// the project's repository.
    pub(crate) fn reported_pr(
        &self,
        project: &ResolvedProject,
        url: Option<&str>,
        number: Option<u64>,
    ) -> Result<Option<PrRef>, ManagerError> {
        if url.is_none() && number.is_none() {
            return Ok(None);
        }
        let scm = self.scm(project)?;
        if let Some(url) = url {
            return match scm.parse_pr_url(url) {
                Some(pr) => Ok(Some(pr)),
                None => {
                    let example = self
                        .project_repo(project, scm.as_ref())
                        .ok()
                        .flatten()
                        .map(|repo| scm.pr_ref(&repo, 12).url)
                        .filter(|u| !u.is_empty());
                    Err(ManagerError::refused(
                        format!(
                            "`{url}` is not the address of a pull request of {}",
                            scm.display_name()
                        ),
                        match example {
                            Some(example) => {
                                format!("give its address, such as {example}, or --pr-number N")
                            }
                            None => "give it with --pr-number N".to_owned(),
                        },
                    ))
                }
            };
        }
        let number = number.unwrap_or_default();
        let repo = self.required_repo(
            project,
            scm.as_ref(),
            &format!(" for pull request #{number}"),
            "give its address with --pr-url",
        )?;
        Ok(Some(scm.pr_ref(&repo, number)))
    }
}
