//! Facts about a user's git repository, read in-process: its origin and default branch.

use std::path::{Path, PathBuf};

/// Where a remote URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteInfo {
    /// The host name, lowercased.
    pub host: String,
    /// The owner (user or organization); for nested groups, every group joined by `/`.
    pub owner: String,
    /// The repository name without `.git`.
    pub name: String,
}

impl RemoteInfo {
    /// `owner/name`.
    pub fn slug(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

/// Parses https, http, ssh, git and scp-like (`git@host:owner/repo.git`) remote URLs.
pub fn parse_remote_url(url: &str) -> Option<RemoteInfo> {
    let url = url.trim();
    let (host, path) = if let Some((scheme, rest)) = url.split_once("://") {
        if !matches!(
            scheme,
            "https" | "http" | "ssh" | "git" | "git+ssh" | "ssh+git"
        ) {
            return None;
        }
        let (authority, path) = rest.split_once('/')?;
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        // A port ("host:2222") is not part of the host name.
        let host = host.split_once(':').map_or(host, |(h, _)| h);
        (host, path)
    } else {
        // scp-like: [user@]host:path, where the host has no slash before the colon.
        let (before, path) = url.split_once(':')?;
        if before.contains('/') || path.starts_with("//") {
            return None;
        }
        let host = before.rsplit_once('@').map_or(before, |(_, h)| h);
        (host, path)
    };
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let (owner, name) = path.rsplit_once('/')?;
    if host.is_empty() || owner.is_empty() || name.is_empty() {
        return None;
    }
    Some(RemoteInfo {
        host: host.to_ascii_lowercase(),
        owner: owner.to_owned(),
        name: name.to_owned(),
    })
}

/// How the default branch was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchSource {
    /// `refs/remotes/origin/HEAD`.
    OriginHead,
    /// A local or remote branch called `main` exists.
    Main,
    /// A local or remote branch called `master` exists.
    Master,
    /// Nothing found; `main` assumed.
    Assumed,
}

/// What `ao init` needs to know about a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoFacts {
    /// The top of the working tree.
    pub workdir: PathBuf,
    /// `origin`'s URL, if there is an origin.
    pub origin_url: Option<String>,
    /// The parsed URL, if it parses.
    pub remote: Option<RemoteInfo>,
    /// The branch sessions should start from.
    pub default_branch: String,
    /// How it was found.
    pub branch_source: BranchSource,
    /// Whether HEAD is detached.
    pub detached_head: bool,
}

/// Why a directory's repository could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// No repository at or above the directory.
    #[error("{0} is not inside a git repository")]
    NotARepo(PathBuf),
    /// A bare repository has no working tree to run agents in.
    #[error("{0} is a bare git repository")]
    Bare(PathBuf),
    /// libgit2 failed.
    #[error("cannot read the git repository at {path}: {message}")]
    Git {
        /// The directory.
        path: PathBuf,
        /// libgit2's message.
        message: String,
    },
}

/// Reads the facts of the repository containing `dir`.
pub fn inspect(dir: &Path) -> Result<RepoFacts, RepoError> {
    let repo = crate::git::discover(dir).map_err(|e| match e.code() {
        git2::ErrorCode::NotFound => RepoError::NotARepo(dir.to_owned()),
        _ => RepoError::Git {
            path: dir.to_owned(),
            message: e.message().to_owned(),
        },
    })?;
    let workdir = repo
        .workdir()
        .ok_or_else(|| RepoError::Bare(repo.path().to_owned()))?
        .to_owned();
    let origin_url = repo
        .find_remote("origin")
        .ok()
        .and_then(|r| r.url().ok().map(str::to_owned));
    let remote = origin_url.as_deref().and_then(parse_remote_url);
    let detached_head = repo.head_detached().unwrap_or(false);

    let origin_head = repo
        .find_reference("refs/remotes/origin/HEAD")
        .ok()
        .and_then(|r| r.symbolic_target().ok().flatten().map(str::to_owned))
        .and_then(|t| t.strip_prefix("refs/remotes/origin/").map(str::to_owned));
    let has_branch = |name: &str| {
        repo.find_branch(name, git2::BranchType::Local).is_ok()
            || repo
                .find_branch(&format!("origin/{name}"), git2::BranchType::Remote)
                .is_ok()
    };
    let (default_branch, branch_source) = match origin_head {
        Some(branch) => (branch, BranchSource::OriginHead),
        None if has_branch("main") => ("main".to_owned(), BranchSource::Main),
        None if has_branch("master") => ("master".to_owned(), BranchSource::Master),
        None => {
            // An unborn repository names its first branch in HEAD (init.defaultBranch).
            let unborn = repo
                .find_reference("HEAD")
                .ok()
                .and_then(|h| h.symbolic_target().ok().flatten().map(str::to_owned))
                .and_then(|t| t.strip_prefix("refs/heads/").map(str::to_owned));
            (
                unborn.unwrap_or_else(|| "main".to_owned()),
                BranchSource::Assumed,
            )
        }
    };
    Ok(RepoFacts {
        workdir,
        origin_url,
        remote,
        default_branch,
        branch_source,
        detached_head,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(url: &str) -> Option<(String, String, String)> {
        parse_remote_url(url).map(|r| (r.host, r.owner, r.name))
    }

    fn t(host: &str, owner: &str, name: &str) -> Option<(String, String, String)> {
        Some((host.into(), owner.into(), name.into()))
    }

    #[test]
    fn parses_every_url_form() {
        assert_eq!(
            parsed("https://github.com/acme/rocket.git"),
            t("github.com", "acme", "rocket")
        );
        assert_eq!(
            parsed("https://github.com/acme/rocket"),
            t("github.com", "acme", "rocket")
        );
        assert_eq!(
            parsed("https://user:tok@github.com/acme/rocket/"),
            t("github.com", "acme", "rocket")
        );
        assert_eq!(
            parsed("ssh://git@github.com/acme/rocket.git"),
            t("github.com", "acme", "rocket")
        );
        assert_eq!(
            parsed("ssh://git@ghe.corp.example:2222/acme/rocket.git"),
            t("ghe.corp.example", "acme", "rocket")
        );
        assert_eq!(
            parsed("git@github.com:acme/rocket.git"),
            t("github.com", "acme", "rocket")
        );
        assert_eq!(
            parsed("github.com:acme/rocket"),
            t("github.com", "acme", "rocket")
        );
        assert_eq!(
            parsed("git@github.example.com:team/svc.git"),
            t("github.example.com", "team", "svc")
        );
        assert_eq!(
            parsed("https://gitlab.com/group/sub/proj.git"),
            t("gitlab.com", "group/sub", "proj")
        );
        assert_eq!(parsed("/srv/git/rocket.git"), None);
        assert_eq!(parsed("file:///srv/git/rocket.git"), None);
        assert_eq!(parsed("../rocket"), None);
    }
}
