//! One model for both of the reference's formats. A project is identity (path, repo,
//! default branch, prefix) plus behaviour (plugins, rules, reactions). The one-file
//! format writes behaviour inline under `projects:`; the reference's current format keeps
//! identity in a global registry and behaviour in a flat `agent-orchestrator.yaml` in the
//! repository. Here every file becomes one tree of the one-file shape: a flat file found
//! at a project's path is merged under its entry, and a flat file ao is pointed at is
//! merged under the registry entry whose path is its directory, or stands as a project of
//! its own. Every node keeps the file it came from, so messages point into the right one.

use super::diag::{Diagnostic, Loc};
use super::discover::{CONFIG_FILE_NAMES, user_home};
use super::node::{Entry, Node, Value};
use super::{EnvLookup, env, expand_path};
use std::path::{Path, PathBuf};

/// Top-level keys of ao's config that belong to no one project; in a flat file every
/// other key is the project's.
const GLOBAL_KEYS: &[&str] = &[
    "$schema",
    "defaults",
    "notifiers",
    "notificationRouting",
    "plugins",
    "runtimes",
    "readyThresholdMs",
    "worktreeDir",
    "dataDir",
    "port",
    "terminalPort",
    "directTerminalPort",
    "power",
    "dashboard",
    "lifecycle",
    "projectOrder",
];

/// Keys of a project that say which project it is; a flat file does not set them, and
/// where it does, the registry's entry is what counts.
const IDENTITY_KEYS: &[&str] = &["path", "projectId", "storageKey", "originUrl", "repo"];

/// The tree every file of a config makes together, the files (index 0: the one ao was
/// pointed at), and what composing them found.
pub struct Composed {
    /// The one-file-shaped tree.
    pub tree: Node,
    /// The files, by the index their nodes carry.
    pub files: Vec<PathBuf>,
    /// Problems found while composing (a registry entry and a flat file disagreeing).
    pub diags: Vec<Diagnostic>,
    /// Facts for `ao config validate` (a flat file no registry lists).
    pub notes: Vec<Diagnostic>,
}

/// Where the reference's global registry is: `AO_GLOBAL_CONFIG`, else
/// `$XDG_CONFIG_HOME/agent-orchestrator/config.yaml`, else
/// `~/.agent-orchestrator/config.yaml`.
pub fn registry_path(env: EnvLookup<'_>) -> Option<PathBuf> {
    if let Some(p) = env("AO_GLOBAL_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    if let Some(xdg) = env("XDG_CONFIG_HOME").filter(|p| !p.is_empty()) {
        return Some(
            PathBuf::from(xdg)
                .join("agent-orchestrator")
                .join("config.yaml"),
        );
    }
    user_home(env).map(|h| h.join(".agent-orchestrator").join("config.yaml"))
}

/// Whether a tree is a flat (behaviour-only) project file: a mapping without `projects`.
pub fn is_flat(tree: &Node) -> bool {
    matches!(tree.value, Value::Map(_)) && tree.get("projects").is_none()
}

/// Builds the one tree of a config from the file at `path` (already parsed and
/// expanded as `tree`) and the files it brings in.
pub fn compose(tree: Node, path: &Path, env_lookup: EnvLookup<'_>) -> Composed {
    let mut c = compose_files(tree, path, env_lookup);
    expand_shorthands(&mut c.tree);
    c
}

/// `tracker: github` in a project, as `defaults.tracker` takes it, means
/// `tracker: { plugin: github }` (and the same for `scm`).
fn expand_shorthands(tree: &mut Node) {
    let Value::Map(top) = &mut tree.value else {
        return;
    };
    let Some(projects) = top.iter_mut().find(|e| e.key == "projects") else {
        return;
    };
    let Value::Map(entries) = &mut projects.value.value else {
        return;
    };
    for project in entries {
        let Value::Map(keys) = &mut project.value.value else {
            continue;
        };
        for e in keys.iter_mut() {
            if (e.key == "tracker" || e.key == "scm") && matches!(e.value.value, Value::Str(_)) {
                let loc = e.value.loc;
                let name = std::mem::replace(&mut e.value, empty_map(loc));
                push(&mut e.value, "plugin", name);
            }
        }
    }
}

fn compose_files(tree: Node, path: &Path, env_lookup: EnvLookup<'_>) -> Composed {
    let mut c = Composed {
        tree,
        files: vec![path.to_owned()],
        diags: Vec::new(),
        notes: Vec::new(),
    };
    let base = path.parent().unwrap_or(Path::new(".")).to_owned();
    if !is_flat(&c.tree) {
        merge_project_files(&mut c, &base, env_lookup);
        return c;
    }
    let flat = std::mem::replace(&mut c.tree, empty_map(Loc::new(1, 1)));
    let registry = registry_path(env_lookup)
        .filter(|r| canonical(r) != canonical(path))
        .and_then(|r| read_tree(&r, &mut c, env_lookup).map(|t| (r, t)));
    if let Some((registry_file, mut reg)) = registry {
        let reg_base = registry_file.parent().unwrap_or(Path::new(".")).to_owned();
        let dir = canonical(&base);
        let found = projects_of(&reg).into_iter().find(|(_, entry)| {
            entry_path(entry, &reg_base, env_lookup).is_some_and(|p| canonical(&p) == dir)
        });
        if let Some((id, _)) = found {
            // The registry's globals with this one project, its behaviour from the flat
            // file in the repository.
            retain_project(&mut reg, &id);
            if let Some(entry) = project_mut(&mut reg, &id) {
                merge_flat(entry, flat, &mut c.diags, path);
            }
            c.tree = reg;
            return c;
        }
        c.tree = globals_of(reg);
    }
    // No registry lists it: the repository is one project of its own.
    let (id, prefix) = derived_identity(&base);
    let root = flat.loc;
    let mut entry = empty_map(root);
    push(&mut entry, "path", text_node(&base.to_string_lossy(), root));
    push(&mut entry, "sessionPrefix", text_node(&prefix, root));
    let mut top = Vec::new();
    if let Value::Map(entries) = flat.value {
        for e in entries {
            if GLOBAL_KEYS.contains(&e.key.as_str()) {
                top.push(e);
            } else if let Value::Map(own) = &mut entry.value {
                own.push(e);
            }
        }
    }
    c.notes.push(
        Diagnostic::warning(
            path,
            root,
            format!(
                "this repository's file has no `projects:` and no registry lists it, so it is one project of its own, `{id}`"
            ),
        )
        .with_hint(format!(
            "`ao project add {}` registers it with the id you choose",
            base.display()
        )),
    );
    if let Value::Map(entries) = &mut c.tree.value {
        entries.retain(|e| !top.iter().any(|t| t.key == e.key));
        entries.extend(top);
        let mut projects = empty_map(root);
        push(&mut projects, &id, entry);
        entries.push(Entry {
            key: "projects".into(),
            key_loc: root,
            value: projects,
        });
    }
    c
}

/// For each project entry, a flat file at its path (not the file being read) is merged
/// under it.
fn merge_project_files(c: &mut Composed, base: &Path, env_lookup: EnvLookup<'_>) {
    let ids: Vec<(String, PathBuf)> = projects_of(&c.tree)
        .into_iter()
        .filter_map(|(id, entry)| entry_path(&entry, base, env_lookup).map(|p| (id, p)))
        .collect();
    let main = canonical(&c.files[0]);
    for (id, dir) in ids {
        let Some(file) = CONFIG_FILE_NAMES
            .iter()
            .map(|n| dir.join(n))
            .find(|f| f.is_file() && canonical(f) != main)
        else {
            continue;
        };
        let Some(flat) = read_tree(&file, c, env_lookup) else {
            continue;
        };
        if !is_flat(&flat) {
            // Another one-file config (a repository of its own with `projects:`) says
            // nothing about this entry.
            continue;
        }
        let mut diags = Vec::new();
        if let Some(entry) = project_mut(&mut c.tree, &id) {
            merge_flat(entry, flat, &mut diags, &file);
        }
        c.diags.extend(diags);
    }
}

/// Merges a flat file's keys into a project entry: the entry's own keys stand; identity
/// keys of the flat file are ignored, except a `defaultBranch` that disagrees, which is
/// an error.
fn merge_flat(entry: &mut Node, flat: Node, diags: &mut Vec<Diagnostic>, flat_file: &Path) {
    let Value::Map(flat_entries) = flat.value else {
        return;
    };
    for e in flat_entries {
        let existing = entry.entry(&e.key).map(|x| (x.value.clone(), x.key_loc));
        match (e.key.as_str(), existing) {
            ("defaultBranch", Some((theirs, at))) => {
                if theirs.value != e.value.value {
                    diags.push(
                        Diagnostic::error(
                            flat_file,
                            e.value.loc,
                            format!(
                                "defaultBranch here is {}, but the project's entry (line {}) says {}",
                                show(&e.value),
                                at.line,
                                show(&theirs)
                            ),
                        )
                        .with_hint("keep one defaultBranch: the entry's, or remove it there"),
                    );
                }
            }
            (key, _) if IDENTITY_KEYS.contains(&key) => {}
            (_, Some(_)) => {}
            (_, None) => {
                if let Value::Map(own) = &mut entry.value {
                    own.push(e);
                }
            }
        }
    }
}

fn show(node: &Node) -> String {
    match &node.value {
        Value::Str(s) if !node.secret => format!("`{s}`"),
        Value::Str(_) => "(a value from the environment)".into(),
        other => format!("{other:?}"),
    }
}

/// Reads, parses and expands another file of the config, giving its nodes the next file
/// index; `None` (with the problem recorded) when it cannot be read or parsed.
fn read_tree(path: &Path, c: &mut Composed, env_lookup: EnvLookup<'_>) -> Option<Node> {
    let text = std::fs::read_to_string(path).ok()?;
    let index = c.files.len() as u16;
    c.files.push(path.to_owned());
    let mut tree = match Node::parse(&text) {
        Ok(t) => t,
        Err(e) => {
            let mut loc = e.loc;
            loc.file = index;
            c.diags.push(
                Diagnostic::error(path, loc, format!("invalid YAML: {}", e.message)).with_hint(
                    e.hint
                        .unwrap_or_else(|| "fix the syntax at this position".into()),
                ),
            );
            return None;
        }
    };
    tree.set_file(index);
    if !matches!(tree.value, Value::Map(_)) {
        return None;
    }
    env::expand_tree(&mut tree, path, env_lookup, &mut c.diags);
    Some(tree)
}

fn projects_of(tree: &Node) -> Vec<(String, Node)> {
    tree.get("projects")
        .map(|p| {
            p.entries()
                .iter()
                .map(|e| (e.key.clone(), e.value.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn project_mut<'t>(tree: &'t mut Node, id: &str) -> Option<&'t mut Node> {
    let Value::Map(top) = &mut tree.value else {
        return None;
    };
    let projects = top.iter_mut().find(|e| e.key == "projects")?;
    let Value::Map(entries) = &mut projects.value.value else {
        return None;
    };
    entries
        .iter_mut()
        .find(|e| e.key == id)
        .map(|e| &mut e.value)
}

fn retain_project(tree: &mut Node, id: &str) {
    if let Value::Map(top) = &mut tree.value
        && let Some(projects) = top.iter_mut().find(|e| e.key == "projects")
        && let Value::Map(entries) = &mut projects.value.value
    {
        entries.retain(|e| e.key == id);
    }
}

fn globals_of(mut tree: Node) -> Node {
    if let Value::Map(top) = &mut tree.value {
        top.retain(|e| e.key != "projects");
    }
    tree
}

/// The path a project entry names, absolute.
fn entry_path(entry: &Node, base: &Path, env_lookup: EnvLookup<'_>) -> Option<PathBuf> {
    match &entry.get("path")?.value {
        Value::Str(p) => Some(expand_path(p, base, env_lookup)),
        _ => None,
    }
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_owned())
}

fn empty_map(loc: Loc) -> Node {
    Node {
        value: Value::Map(Vec::new()),
        loc,
        secret: false,
    }
}

fn text_node(text: &str, loc: Loc) -> Node {
    Node {
        value: Value::Str(text.to_owned()),
        loc,
        secret: false,
    }
}

fn push(map: &mut Node, key: &str, value: Node) {
    if let Value::Map(entries) = &mut map.value {
        entries.push(Entry {
            key: key.to_owned(),
            key_loc: value.loc,
            value,
        });
    }
}

/// `raw` (a directory's or repository's name) made a valid project id: other characters
/// become `-`, leading and trailing dashes go, and nothing left is `project`.
pub fn project_id_from(raw: &str) -> String {
    let id: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let id = id.trim_matches('-');
    if id.is_empty() {
        "project".to_owned()
    } else {
        id.to_owned()
    }
}

/// The id and session prefix of a repository no registry lists, as the reference
/// derives them: the directory's name (made a valid id), and from it a short prefix.
pub fn derived_identity(dir: &Path) -> (String, String) {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "project".into());
    let id = project_id_from(&name);
    (id.clone(), session_prefix(&id))
}

/// A short session prefix for a project id: short ids as they are, otherwise the
/// capitals of a camelCase id, the initials of a kebab- or snake_case one, or the first
/// three letters.
pub fn session_prefix(id: &str) -> String {
    if id.chars().count() <= 4 {
        return id.to_lowercase();
    }
    let capitals: String = id.chars().filter(char::is_ascii_uppercase).collect();
    if capitals.chars().count() > 1 {
        return capitals.to_lowercase();
    }
    for separator in ['-', '_'] {
        if id.contains(separator) {
            return id
                .split(separator)
                .filter_map(|w| w.chars().next())
                .collect::<String>()
                .to_lowercase();
        }
    }
    id.chars().take(3).collect::<String>().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_derived_as_the_reference_derives_them() {
        assert_eq!(session_prefix("app"), "app");
        assert_eq!(session_prefix("MyCoolApp"), "mca");
        assert_eq!(session_prefix("agent-orchestrator"), "ao");
        assert_eq!(session_prefix("my_web_app"), "mwa");
        assert_eq!(session_prefix("frontend"), "fro");
        assert_eq!(
            derived_identity(Path::new("/x/my repo")),
            ("my-repo".into(), "mr".into())
        );
    }
}
