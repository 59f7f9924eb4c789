//! What is installed on this machine: tools on PATH, their versions, GitHub auth. Which
//! program each agent runs is its registry entry's (`PluginRegistry::agent_cli`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The first executable called `program` on `PATH`.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// The first line `program args` prints, if it runs and succeeds.
pub fn version_line(program: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .map(|l| l.trim().to_owned())
}

/// Where a GitHub token was found; the token itself is never kept or shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GithubAuth {
    /// `GH_TOKEN` or `GITHUB_TOKEN` is set.
    Env(&'static str),
    /// `gh auth token` printed one.
    GhCli,
    /// None found.
    Missing,
}

impl GithubAuth {
    /// A phrase for output.
    pub fn describe(&self) -> String {
        match self {
            GithubAuth::Env(var) => format!("token from ${var}"),
            GithubAuth::GhCli => "token from `gh auth token`".to_owned(),
            GithubAuth::Missing => "no token found".to_owned(),
        }
    }
}

/// Looks for GitHub credentials: `GH_TOKEN`, `GITHUB_TOKEN`, then `gh auth token`.
pub fn github_auth() -> GithubAuth {
    for var in ["GH_TOKEN", "GITHUB_TOKEN"] {
        if std::env::var(var).is_ok_and(|v| !v.trim().is_empty()) {
            return GithubAuth::Env(var);
        }
    }
    let Some(gh) = which("gh") else {
        return GithubAuth::Missing;
    };
    let ok = Command::new(gh)
        .args(["auth", "token"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.trim_ascii().is_empty());
    if ok {
        GithubAuth::GhCli
    } else {
        GithubAuth::Missing
    }
}
