//! Shell completion of project and session ids. The script `ao completions SHELL`
//! prints calls `ao` back as the user presses Tab, and these read the config and the
//! store that `ao status` would, quietly: a config that does not load offers nothing.

use crate::commands::{home, locate_config};
use ao_core::config::{load_file, process_env};
use ao_core::store::{SessionFilter, Store};
use clap_complete::engine::CompletionCandidate;
use std::ffi::OsStr;

/// The config's project ids that start with what is typed, each with its path.
pub fn projects(typed: &OsStr) -> Vec<CompletionCandidate> {
    let typed = typed.to_string_lossy();
    let Some(loaded) = locate_config()
        .ok()
        .and_then(|path| load_file(&path, &ao_plugins::builtin_registry(), &process_env).ok())
    else {
        return Vec::new();
    };
    loaded
        .config
        .projects
        .iter()
        .filter(|(id, _)| id.starts_with(typed.as_ref()))
        .map(|(id, p)| CompletionCandidate::new(id).help(Some(p.path.clone().into())))
        .collect()
}

/// The ids of the sessions ao has (archived ones left out) that start with what is typed,
/// each with its status and project. No store yet means no sessions; none is made.
pub fn sessions(typed: &OsStr) -> Vec<CompletionCandidate> {
    let typed = typed.to_string_lossy();
    let home = home();
    if !home.join(ao_core::store::DB_FILE).is_file() {
        return Vec::new();
    }
    let Ok(sessions) = Store::open(&home).and_then(|s| s.sessions(&SessionFilter::default()))
    else {
        return Vec::new();
    };
    sessions
        .into_iter()
        .filter(|s| s.id.to_string().starts_with(typed.as_ref()))
        .map(|s| {
            CompletionCandidate::new(s.id.to_string())
                .help(Some(format!("{} · {}", s.status, s.project).into()))
        })
        .collect()
}
