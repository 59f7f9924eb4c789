//! Workspaces: how a session's checkout is isolated.

pub mod clone;
pub mod worktree;

use ao_core::git::{self, GitError};
use ao_core::plugin::{CommandOutput, PluginError, WorkspaceInfo, WorkspaceSpec};
use std::path::Path;
use std::time::Duration;

/// How long one `postCreate` command may run.
const POST_CREATE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

fn git_failed(plugin: &str, e: GitError) -> PluginError {
    PluginError::failed(plugin, e.to_string())
}

/// The variable that hands a `postCreate` command to its shell.
const POST_CREATE_VAR: &str = "AO_POST_CREATE_COMMAND";
/// The shell's whole command line for a `postCreate` command: it takes the command from
/// [`POST_CREATE_VAR`], out of sight of its own children, and runs it.
const POST_CREATE_SCRIPT: &str = "exec 2>&1\n__ao_command=$AO_POST_CREATE_COMMAND\nunset AO_POST_CREATE_COMMAND\neval \"$__ao_command\"";

/// Copies and symlinks the configured files from the repository into the checkout, then
/// runs the `postCreate` commands in order; the first failing one fails with its output.
async fn post_create(
    plugin: &str,
    spec: &WorkspaceSpec,
    info: &WorkspaceInfo,
) -> Result<Vec<CommandOutput>, PluginError> {
    let mut outputs = Vec::new();
    for rel in &spec.copy {
        let from = spec.repo_path.join(rel);
        let to = info.path.join(rel);
        let note = if !from.exists() {
            format!("skipped: {} does not exist in the repository", rel)
        } else {
            copy_recursive(&from, &to).map_err(|e| {
                PluginError::failed(plugin, format!("copy {rel} into the workspace: {e}"))
            })?;
            format!("copied {rel}")
        };
        outputs.push(CommandOutput {
            command: format!("copy {rel}"),
            code: Some(0),
            output: note,
        });
    }
    for rel in &spec.symlinks {
        let from = spec.repo_path.join(rel);
        let to = info.path.join(rel);
        let note = if !from.exists() {
            format!("skipped: {rel} does not exist in the repository")
        } else if to.symlink_metadata().is_ok() {
            format!("skipped: {rel} already exists in the workspace")
        } else {
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| PluginError::failed(plugin, format!("symlink {rel}: {e}")))?;
            }
            symlink(&from, &to)
                .map_err(|e| PluginError::failed(plugin, format!("symlink {rel}: {e}")))?;
            format!("linked {rel}")
        };
        outputs.push(CommandOutput {
            command: format!("symlink {rel}"),
            code: Some(0),
            output: note,
        });
    }
    for command in &spec.post_create {
        // The command is the user's own shell text from the config, with its `${VAR}`s
        // filled in (a token, say): it goes to the shell in its environment, which only
        // its user can read, never on its command line, which every user can. stderr
        // joins stdout so the output reads in order.
        let out = ao_core::exec::Cmd::new("sh")
            .arg("-c")
            .arg(POST_CREATE_SCRIPT)
            .env(POST_CREATE_VAR, command)
            .current_dir(&info.path)
            .env("AO_SESSION_ID", spec.session.to_string())
            .env("AO_PROJECT_ID", &spec.project)
            .timeout(POST_CREATE_TIMEOUT)
            .run()
            .await
            .map_err(|e| PluginError::failed(plugin, format!("postCreate `{command}`: {e}")))?;
        let success = out.success();
        let result = CommandOutput {
            command: command.clone(),
            code: out.code,
            output: out.stdout,
        };
        if !success {
            let code = result
                .code
                .map(|c| format!("exit code {c}"))
                .unwrap_or_else(|| "killed by a signal".into());
            return Err(PluginError::failed(
                plugin,
                format!(
                    "postCreate `{command}` failed ({code}):\n{}",
                    result.output.trim_end()
                ),
            ));
        }
        outputs.push(result);
    }
    Ok(outputs)
}

fn copy_recursive(from: &Path, to: &Path) -> std::io::Result<()> {
    if from.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_recursive(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(from, to).map(|_| ())
    }
}

#[cfg(unix)]
fn symlink(from: &Path, to: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(from, to)
}

#[cfg(not(unix))]
fn symlink(_from: &Path, _to: &Path) -> std::io::Result<()> {
    Err(std::io::Error::other("symlinks need a Unix system"))
}

/// The checkout at the spec's path, if one is there (a restore keeps it as it is).
fn existing_checkout(spec: &WorkspaceSpec) -> Option<WorkspaceInfo> {
    spec.path.join(".git").exists().then(|| WorkspaceInfo {
        path: spec.path.clone(),
        branch: spec.branch.clone(),
        created_branch: false,
    })
}

/// Checks that a new checkout's directory is free (absent, or the empty directory ao
/// made for it) and makes its parent.
fn prepare_path(plugin: &str, spec: &WorkspaceSpec) -> Result<(), PluginError> {
    let empty_dir = std::fs::read_dir(&spec.path).is_ok_and(|mut d| d.next().is_none());
    if spec.path.symlink_metadata().is_ok() && !empty_dir {
        return Err(PluginError::failed(
            plugin,
            format!(
                "{} already exists; move it away or set worktreeDir elsewhere",
                spec.path.display()
            ),
        ));
    }
    if let Some(parent) = spec.path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| {
            PluginError::failed(plugin, format!("cannot create {}: {e}", parent.display()))
        })?;
    }
    Ok(())
}

/// Refuses unless `force` while the checkout at `path` holds work that would be lost.
async fn refuse_unsaved(
    plugin: &str,
    spec: &WorkspaceSpec,
    force: bool,
) -> Result<(), PluginError> {
    if force || !spec.path.exists() {
        return Ok(());
    }
    let lost = git::unsaved_work(&spec.path, &spec.default_branch)
        .await
        .map_err(|e| git_failed(plugin, e))?;
    if lost.is_empty() {
        return Ok(());
    }
    Err(PluginError::Refused {
        plugin: plugin.to_owned(),
        message: format!(
            "{} holds work that would be lost: {}. Commit and push it, or pass --force to delete it anyway",
            spec.path.display(),
            lost.join("; ")
        ),
    })
}
