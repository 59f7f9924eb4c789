//! Where the config file and ao's home directory are.

use super::EnvLookup;
use std::fmt;
use std::path::{Path, PathBuf};

/// The names looked for in the working directory and its parents.
pub const CONFIG_FILE_NAMES: [&str; 2] = ["agent-orchestrator.yaml", "agent-orchestrator.yml"];

/// No config file anywhere ao looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigNotFound {
    /// Every place looked at, in order.
    pub searched: Vec<PathBuf>,
    /// Set when `AO_CONFIG_PATH` names a missing file.
    pub explicit: bool,
}

impl fmt::Display for ConfigNotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.explicit {
            let path = &self.searched[0];
            return write!(
                f,
                "AO_CONFIG_PATH names {}, {}",
                path.display(),
                not_a_config_file(path)
            );
        }
        write!(
            f,
            "no agent-orchestrator.yaml in this directory or its parents, nor in $AO_HOME or $XDG_CONFIG_HOME"
        )
    }
}

impl std::error::Error for ConfigNotFound {}

/// Why `path` cannot be read as a config file, in words for the user.
pub fn not_a_config_file(path: &Path) -> String {
    match (path.symlink_metadata(), path.metadata()) {
        (Err(_), _) => "which does not exist".into(),
        (Ok(_), Err(e)) if e.raw_os_error() == Some(40) || e.raw_os_error() == Some(62) => {
            "a symbolic link that leads back to itself".into()
        }
        (Ok(_), Err(_)) => "a symbolic link to nothing".into(),
        (Ok(_), Ok(m)) if m.is_dir() => "which is a directory, not a file".into(),
        (Ok(_), Ok(m)) if !m.is_file() => "which is not a regular file (a device or a pipe)".into(),
        (Ok(_), Ok(_)) => "which cannot be read".into(),
    }
}

/// The user's home directory (`$HOME`).
pub fn user_home(env: EnvLookup<'_>) -> Option<PathBuf> {
    env("HOME").filter(|h| !h.is_empty()).map(PathBuf::from)
}

/// ao's home: `$AO_HOME`, else `~/.agent-orchestrator`.
pub fn ao_home(env: EnvLookup<'_>) -> PathBuf {
    match env("AO_HOME").filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home),
        None => user_home(env)
            .unwrap_or_else(|| PathBuf::from("."))
            .join(".agent-orchestrator"),
    }
}

/// The variable naming directories (separated as in `PATH`) that the walk up from the
/// working directory does not enter, as git's `GIT_CEILING_DIRECTORIES` does: a checkout
/// nested inside another project's is not configured by that project's file.
pub const CEILING_ENV: &str = "AO_CONFIG_CEILING_DIRECTORIES";

/// Finds the config: `AO_CONFIG_PATH`, then `agent-orchestrator.yaml`/`.yml` walking up from
/// `cwd` (not into a directory of `AO_CONFIG_CEILING_DIRECTORIES`), then
/// `$AO_HOME/config.yaml`, then `$XDG_CONFIG_HOME/agent-orchestrator/config.yaml`.
pub fn find_config(cwd: &Path, env: EnvLookup<'_>) -> Result<PathBuf, ConfigNotFound> {
    if let Some(explicit) = env("AO_CONFIG_PATH").filter(|p| !p.is_empty()) {
        let path = cwd.join(explicit);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(ConfigNotFound {
                searched: vec![path],
                explicit: true,
            })
        };
    }
    let ceilings: Vec<PathBuf> = env(CEILING_ENV)
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| p.is_absolute())
                .collect()
        })
        .unwrap_or_default();
    let mut searched = Vec::new();
    for dir in cwd.ancestors() {
        if dir != cwd && ceilings.iter().any(|c| c == dir) {
            break;
        }
        for name in CONFIG_FILE_NAMES {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
            searched.push(candidate);
        }
    }
    let xdg = env("XDG_CONFIG_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| user_home(env).map(|h| h.join(".config")));
    let home_candidates = [
        Some(ao_home(env).join("config.yaml")),
        xdg.map(|x| x.join("agent-orchestrator").join("config.yaml")),
        // The reference's registry of projects, wherever AO_GLOBAL_CONFIG or the default
        // puts it (often one of the above already).
        super::compose::registry_path(env),
    ];
    for candidate in home_candidates.into_iter().flatten() {
        if candidate.is_file() {
            return Ok(candidate);
        }
        searched.push(candidate);
    }
    Err(ConfigNotFound {
        searched,
        explicit: false,
    })
}

/// The name of the file, in a session's own git directory, that says which config and
/// which ao home the session belongs to.
pub const SESSION_MARK: &str = "ao-session.json";

/// Which config and ao home a session's workspace belongs to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionMark {
    /// The config file the session was spawned with.
    pub config: PathBuf,
    /// Its `$AO_HOME`.
    pub home: PathBuf,
    /// The session.
    pub session: String,
}

/// The session whose workspace `dir` is in, if any: read from the mark in the workspace's
/// own git directory (never a file in the work tree, so nothing shows in `git status`).
pub fn session_mark(dir: &Path) -> Option<SessionMark> {
    let repo = crate::git::discover(dir).ok()?;
    let text = std::fs::read_to_string(repo.path().join(SESSION_MARK)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Writes the mark into the git directory of the workspace at `workspace`.
pub fn write_session_mark(workspace: &Path, mark: &SessionMark) -> std::io::Result<()> {
    let repo = git2::Repository::open(workspace).map_err(std::io::Error::other)?;
    let body = serde_json::to_vec(mark).map_err(std::io::Error::other)?;
    std::fs::write(repo.path().join(SESSION_MARK), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_walk_up_stops_at_a_ceiling_directory() {
        let dir = tempfile::tempdir().unwrap();
        let outer = dir.path().join("outer");
        let inner = outer.join("ceiling").join("repo");
        std::fs::create_dir_all(&inner).unwrap();
        std::fs::write(outer.join(CONFIG_FILE_NAMES[0]), "projects: {}\n").unwrap();
        let home = dir.path().join("home");
        let lookup = |ceiling: Option<PathBuf>| {
            let home = home.clone();
            move |k: &str| match k {
                "HOME" => Some(home.display().to_string()),
                CEILING_ENV => ceiling.as_ref().map(|c| c.display().to_string()),
                _ => None,
            }
        };
        let open = lookup(None);
        assert_eq!(
            find_config(&inner, &open).unwrap(),
            outer.join(CONFIG_FILE_NAMES[0])
        );
        let closed = lookup(Some(outer.join("ceiling")));
        let err = find_config(&inner, &closed).unwrap_err();
        assert!(
            !err.searched.contains(&outer.join(CONFIG_FILE_NAMES[0])),
            "{err:?}"
        );
        // The working directory itself is always looked in, ceiling or not.
        let at = lookup(Some(outer.clone()));
        assert_eq!(
            find_config(&outer, &at).unwrap(),
            outer.join(CONFIG_FILE_NAMES[0])
        );
    }
}
