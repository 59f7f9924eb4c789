//! `ao project ls|add|rm`: the registry of projects (the reference's global config),
//! edited by its text so comments and keys ao does not know stay as they were.

use crate::cli::ProjectCommand;
use crate::error::UserError;
use ao_core::config::registry_file::{NewEntry, add_entry, remove_entry};
use ao_core::config::{Node, Value, derived_identity, is_valid_prefix, process_env, registry_path};
use ao_core::model::now_ms;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn run(cmd: ProjectCommand) -> anyhow::Result<ExitCode> {
    let registry = registry_path(&process_env).ok_or_else(|| {
        UserError::failed("cannot tell where the registry is: HOME is not set")
            .hint("set AO_GLOBAL_CONFIG to the registry file")
    })?;
    match cmd {
        ProjectCommand::Ls { json } => list(&registry, json),
        ProjectCommand::Add { path, id } => add(&registry, &path, id),
        ProjectCommand::Rm { id } => rm(&registry, &id),
    }
}

/// The registry's text and tree; an absent file is an empty registry.
fn read(registry: &Path) -> anyhow::Result<(String, Node)> {
    let text = match std::fs::read_to_string(registry) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(
                UserError::failed(format!("cannot read {}: {e}", registry.display())).into(),
            );
        }
    };
    let tree = Node::parse(&text).map_err(|e| {
        UserError::failed(format!(
            "{}:{}:{}: invalid YAML: {}",
            registry.display(),
            e.loc.line,
            e.loc.col,
            e.message
        ))
        .hint("fix the file by hand; nothing was changed")
    })?;
    Ok((text, tree))
}

struct Listed {
    id: String,
    path: String,
    repo: String,
    branch: String,
    prefix: String,
}

fn entries(tree: &Node) -> Vec<Listed> {
    let text = |n: Option<&Node>| match n.map(|n| &n.value) {
        Some(Value::Str(s)) => s.clone(),
        _ => String::new(),
    };
    tree.get("projects")
        .map(|p| {
            p.entries()
                .iter()
                .map(|e| {
                    let repo = match e.value.get("repo") {
                        Some(r) if matches!(r.value, Value::Map(_)) => {
                            format!("{}/{}", text(r.get("owner")), text(r.get("name")))
                        }
                        other => text(other),
                    };
                    Listed {
                        id: e.key.clone(),
                        path: text(e.value.get("path")),
                        repo,
                        branch: text(e.value.get("defaultBranch")),
                        prefix: text(e.value.get("sessionPrefix")),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

fn list(registry: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let (_, tree) = read(registry)?;
    let listed = entries(&tree);
    if json {
        let out: Vec<serde_json::Value> = listed
            .iter()
            .map(|l| {
                serde_json::json!({
                    "id": l.id, "path": l.path, "repo": l.repo,
                    "defaultBranch": l.branch, "sessionPrefix": l.prefix,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if listed.is_empty() {
        println!(
            "no projects in {}; `ao project add PATH` registers one",
            registry.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let w = |f: fn(&Listed) -> &str, head: &str| {
        listed
            .iter()
            .map(|l| f(l).chars().count())
            .chain([head.len()])
            .max()
            .unwrap_or(0)
    };
    let (wi, wp, wr) = (
        w(|l| &l.id, "ID"),
        w(|l| &l.path, "PATH"),
        w(|l| &l.repo, "REPO"),
    );
    println!("{:<wi$}  {:<wp$}  {:<wr$}  BRANCH", "ID", "PATH", "REPO");
    for l in &listed {
        println!(
            "{:<wi$}  {:<wp$}  {:<wr$}  {}",
            l.id,
            l.path,
            if l.repo.is_empty() { "-" } else { &l.repo },
            if l.branch.is_empty() { "-" } else { &l.branch }
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn add(registry: &Path, path: &Path, id: Option<String>) -> anyhow::Result<ExitCode> {
    let facts = ao_core::repo::inspect(path).map_err(|e| {
        UserError::failed(e.to_string()).hint("give the path of a git clone with a working tree")
    })?;
    let workdir = facts
        .workdir
        .canonicalize()
        .unwrap_or(facts.workdir.clone());
    let workdir = PathBuf::from(workdir.to_string_lossy().trim_end_matches('/'));
    let (derived, _) = derived_identity(&workdir);
    let id = id.unwrap_or(derived);
    if !is_valid_prefix(&id) {
        return Err(UserError::usage(format!(
            "`{id}` is not a valid project id: it may only hold letters, digits, `-` and `_`"
        ))
        .hint("choose one with --id")
        .into());
    }
    let (text, tree) = read(registry)?;
    for l in entries(&tree) {
        if l.id == id {
            return Err(UserError::failed(format!(
                "the registry already has a project `{id}` ({})",
                l.path
            ))
            .hint("choose another id with --id, or `ao project rm` the old one first")
            .into());
        }
        let theirs = ao_core::config::expand_path(&l.path, Path::new("/"), &process_env);
        if theirs.canonicalize().ok().as_deref() == Some(workdir.as_path()) {
            return Err(UserError::failed(format!(
                "{} is already registered, as project `{}`",
                workdir.display(),
                l.id
            ))
            .into());
        }
    }
    let mut fields: Vec<(String, serde_json::Value)> = vec![
        ("projectId".into(), id.clone().into()),
        ("path".into(), workdir.display().to_string().into()),
    ];
    if let Some(remote) = &facts.remote {
        fields.push(("repo".into(), remote.slug().into()));
    }
    fields.push(("defaultBranch".into(), facts.default_branch.clone().into()));
    fields.push((
        "sessionPrefix".into(),
        ao_core::config::session_prefix(&id).into(),
    ));
    fields.push(("source".into(), "ao project add".into()));
    fields.push(("registeredAt".into(), now_ms().into()));
    let edited = add_entry(
        &text,
        &NewEntry {
            id: id.clone(),
            fields,
        },
    )
    .map_err(|e| UserError::failed(format!("{}: {e}", registry.display())))?;
    write_atomically(registry, &edited)?;
    println!(
        "registered project `{id}` ({}) in {}",
        workdir.display(),
        registry.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn rm(registry: &Path, id: &str) -> anyhow::Result<ExitCode> {
    let (text, tree) = read(registry)?;
    let edited = remove_entry(&text, id).map_err(|e| {
        let known: Vec<String> = entries(&tree).into_iter().map(|l| l.id).collect();
        UserError::failed(format!("{}: {e}", registry.display())).hint(if known.is_empty() {
            "the registry has no projects".to_owned()
        } else {
            format!("its projects: {}", known.join(", "))
        })
    })?;
    write_atomically(registry, &edited)?;
    println!("removed project `{id}` from {}", registry.display());
    Ok(ExitCode::SUCCESS)
}

/// Writes `text` beside `path` and renames it into place, so a reader never sees half a
/// file; an existing file keeps its mode.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let fail =
        |e: std::io::Error| UserError::failed(format!("cannot write {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let tmp = path.with_extension("yaml.ao-tmp");
    std::fs::write(&tmp, text).map_err(fail)?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path).map_err(fail)?;
    Ok(())
}
