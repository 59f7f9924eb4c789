//! `agent-orchestrator.yaml`: discovery, `${VAR}` expansion, typed loading with
//! file:line:column diagnostics, validation, defaults and the JSON Schema.

mod compose;
pub mod de;
mod diag;
mod discover;
mod duration;
mod env;
mod node;
pub mod reference;
pub mod registry_file;
mod resolve;
mod show;
mod types;
pub mod unknown_plugin;
mod validate;

pub use compose::{derived_identity, is_flat, project_id_from, registry_path, session_prefix};
pub use diag::{Diagnostic, Loc, Severity, did_you_mean};
pub use discover::{
    CONFIG_FILE_NAMES, ConfigNotFound, SESSION_MARK, SessionMark, ao_home, find_config,
    session_mark, user_home, write_session_mark,
};
pub use duration::{ConfigDuration, EscalateAfter};
pub use env::{ExpandError, expand};
pub use node::{Entry, Node, ParseError, Value};
pub use resolve::{REACTION_KEYS, ResolvedProject, default_reactions};
pub use show::{Origin, Shown};
pub use types::{
    AgentConfig, AttentionZones, Config, DASHBOARD_HOST, DASHBOARD_PORT, DashboardConfig,
    DashboardTls, Defaults, ExternalPlugin, MergeMethodSetting, OrchestratorSessionStrategy,
    Permission, PluginSection, PluginSource, ProjectConfig, PromptMode, ReactionAction,
    ReactionConfig, SecretText,
};

use crate::registry::PluginRegistry;
use std::fmt;
use std::path::{Path, PathBuf};

/// A config file that loaded: the typed config, the tree it came from, and its warnings.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The typed config.
    pub config: Config,
    /// The file it came from.
    pub file: PathBuf,
    /// The located tree, for forwarding sections to plugins.
    pub tree: Node,
    /// Keys and plugins ignored with a warning.
    pub warnings: Vec<Diagnostic>,
    /// The values of the environment variables the file names (`${VAR}`), which no
    /// message may show.
    pub secrets: Vec<String>,
    /// Facts about the file that only `ao config validate` and `ao config show` print
    /// (such as that `dataDir` is not where ao keeps its state).
    pub notes: Vec<Diagnostic>,
    /// The files the config was made of: `file` first, then a registry or projects'
    /// own files merged into it.
    pub files: Vec<PathBuf>,
}

impl LoadedConfig {
    /// `text` with every value that came from an environment variable (a token in a
    /// `postCreate` command, a path) replaced by `***`, for messages that quote config
    /// values back to the user.
    pub fn redact(&self, text: &str) -> String {
        redact(text, &self.tree, &self.secrets)
    }

    /// `file:line:column` of `loc`, in whichever of the config's files it is.
    pub fn place(&self, loc: Loc) -> String {
        let file = self.files.get(loc.file as usize).unwrap_or(&self.file);
        format!("{}:{}:{}", file.display(), loc.line, loc.col)
    }

    /// Where the config names `name` as a project's `key` plugin (`agent`, `workspace`,
    /// `tracker`, ...), else as the default one: `project`'s own setting, or with no
    /// project the first that names it, else `defaults`. `None` when the name came from
    /// elsewhere (a command's `--agent`).
    pub fn plugin_named_at(&self, key: &str, name: &str, project: Option<&str>) -> Option<Loc> {
        // `tracker: github` in a project is composed into `tracker: { plugin: github }`.
        let named = |node: Option<&Node>| {
            let node = node?;
            let node = node.get("plugin").unwrap_or(node);
            (node.as_str() == Some(name)).then_some(node.loc)
        };
        let projects = self.tree.get("projects").map(Node::entries).unwrap_or(&[]);
        projects
            .iter()
            .filter(|p| project.is_none_or(|id| p.key == id))
            .find_map(|p| named(p.value.get(key)))
            .or_else(|| named(self.tree.at(&["defaults", key])))
    }
}

/// `text` with every value that came from an environment variable replaced by `***`:
/// the values `${VAR}` gave the tree, and the variables' own values (`secrets`)
/// wherever they show (in a command's output, say).
fn redact(text: &str, tree: &Node, secrets: &[String]) -> String {
    let mut values = tree.secret_values();
    // Values this short are too common to hunt for in other text.
    values.extend(secrets.iter().filter(|v| v.len() >= 6).cloned());
    // Longest first, so a value inside another is not left half shown.
    values.sort_by_key(|s| std::cmp::Reverse(s.len()));
    values.dedup();
    let mut out = text.to_owned();
    for value in values {
        out = if value.len() >= 6 {
            out.replace(&value, "***")
        } else {
            replace_word(&out, &value)
        };
    }
    out
}

/// `text` with `word` replaced by `***` where it stands on its own: a short value (`5`,
/// `main`) is hidden without mangling the numbers and words that merely contain it.
fn replace_word(text: &str, word: &str) -> String {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric());
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(word) {
        let (before, after) = (&rest[..i], &rest[i + word.len()..]);
        out.push_str(before);
        let edge_before = out.chars().next_back();
        if alnum(edge_before) || alnum(after.chars().next()) {
            out.push_str(word);
        } else {
            out.push_str("***");
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// `diagnostics` with every value from the environment hidden in their messages and
/// hints: a warning that quotes a config value never shows a token, as errors never do.
fn redact_diagnostics(diagnostics: &mut [Diagnostic], tree: &Node, secrets: &[String]) {
    for d in diagnostics {
        d.message = redact(&d.message, tree, secrets);
        d.hint = d.hint.as_deref().map(|h| redact(h, tree, secrets));
    }
}

/// A config file that did not load: every error found (and the warnings beside them).
#[derive(Debug, Clone)]
pub struct ConfigError {
    /// Errors and warnings together, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl ConfigError {
    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for d in &self.diagnostics {
            if !first {
                writeln!(f)?;
            }
            first = false;
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// The environment the loader reads (`${VAR}`, `~`): the process's, or a test's.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment as an [`EnvLookup`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Reads, expands, deserializes and validates a config file.
pub fn load_file(
    path: &Path,
    registry: &PluginRegistry,
    env: EnvLookup<'_>,
) -> Result<LoadedConfig, ConfigError> {
    let refuse = |message: String, hint: &str| ConfigError {
        diagnostics: vec![Diagnostic::error(path, Loc::default(), message).with_hint(hint)],
    };
    // Only a regular file is read: a directory, a device such as /dev/zero (which would
    // be read forever) or a looping link is said to be what it is.
    if !path.metadata().is_ok_and(|m| m.is_file()) {
        return Err(refuse(
            format!(
                "cannot read the config file: it is {}",
                discover::not_a_config_file(path).trim_start_matches("which is ")
            ),
            "give the path of an agent-orchestrator.yaml file",
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        refuse(
            format!("cannot read the config file: {e}"),
            "check the path and its permissions",
        )
    })?;
    // Relative paths inside the file are relative to its directory, so that directory
    // must be known even for `ao config validate agent-orchestrator.yaml`.
    // Its directory is resolved (`docs/../x.yaml` is `x.yaml`), so messages name real
    // places; the file itself is not, so a linked config still resolves paths beside the link.
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let absolute = match (absolute.parent(), absolute.file_name()) {
        (Some(dir), Some(name)) => dir
            .canonicalize()
            .map(|d| d.join(name))
            .unwrap_or(absolute.clone()),
        _ => absolute,
    };
    load_str(&text, &absolute, registry, env)
}

/// Deserializes the typed config, reporting every wrong value of the file rather than
/// the first: after an error, the value at fault is taken out of a copy of the tree and
/// the rest deserialized again, until it builds or nothing more can be taken out.
/// Returns the config (if every value was right) and every diagnostic, in file order.
fn deserialize_all(tree: &Node, path: &Path) -> (Result<Config, ()>, Vec<Diagnostic>) {
    let mut tree = tree.clone();
    let mut errors: Vec<Diagnostic> = Vec::new();
    let mut removed: Vec<(Loc, String)> = Vec::new();
    loop {
        let ctx = de::Ctx::new(path);
        let typed = de::from_node::<Config>(&tree, &ctx);
        let mut found = ctx.into_diagnostics();
        let e = match typed {
            Ok(config) if errors.is_empty() => return (Ok(config), found),
            Ok(_) => {
                found.extend(errors);
                return (Err(()), found);
            }
            Err(e) => e,
        };
        let loc = e.loc();
        // A required key missing only because its wrong value was taken out is no news:
        // take out the mapping that needs it instead.
        let consequence = removed
            .iter()
            .any(|(at, key)| *at == loc && e.message == format!("missing required key `{key}`"));
        if !consequence {
            errors.push(e);
        }
        match tree.remove_at(loc) {
            Some(gone) => removed.push(gone),
            None => {
                found.extend(errors);
                return (Err(()), found);
            }
        }
    }
}

/// Like [`load_file`], with the text already read.
pub fn load_str(
    text: &str,
    path: &Path,
    registry: &PluginRegistry,
    env: EnvLookup<'_>,
) -> Result<LoadedConfig, ConfigError> {
    let fail = |mut diagnostics: Vec<Diagnostic>| {
        // Every problem of the file together, in line order.
        diagnostics.sort_by_key(|d| (d.line, d.column));
        ConfigError { diagnostics }
    };
    let mut tree = Node::parse(text).map_err(|e| {
        let hint = e
            .hint
            .as_deref()
            .unwrap_or("fix the syntax at this position (indentation, quotes, brackets)");
        fail(vec![
            Diagnostic::error(path, e.loc, format!("invalid YAML: {}", e.message)).with_hint(hint),
        ])
    })?;
    if !matches!(tree.value, Value::Map(_)) {
        return Err(fail(vec![
            Diagnostic::error(
                path,
                tree.loc,
                format!("expected a mapping of settings, found {}", tree.kind()),
            )
            .with_hint("the file starts with keys such as `projects:`"),
        ]));
    }
    let mut diags = Vec::new();
    env::expand_tree(&mut tree, path, env, &mut diags);
    if !diags.is_empty() {
        return Err(fail(diags));
    }
    let composed = compose::compose(tree, path, env);
    let (tree, files) = (composed.tree, composed.files);
    let mut secrets = env::referenced_values(text, env);
    for f in files.iter().skip(1) {
        if let Ok(other) = std::fs::read_to_string(f) {
            secrets.extend(env::referenced_values(&other, env));
        }
    }
    // Each message names the file its position is in, and no value from the environment.
    let place = |mut list: Vec<Diagnostic>| {
        for d in &mut list {
            if let Some(f) = files.get(d.origin as usize)
                && d.origin > 0
            {
                d.file = f.clone();
            }
        }
        list.sort_by_key(|d| (d.origin, d.line, d.column));
        redact_diagnostics(&mut list, &tree, &secrets);
        list
    };
    diags.extend(composed.diags);
    let config = match deserialize_all(&tree, path) {
        (Ok(config), found) => {
            diags.extend(found);
            config
        }
        (Err(()), found) => {
            diags.extend(found);
            return Err(ConfigError {
                diagnostics: place(diags),
            });
        }
    };
    diags.extend(validate::validate(&config, &tree, path, registry, env));
    if diags.iter().any(Diagnostic::is_error) {
        return Err(ConfigError {
            diagnostics: place(diags),
        });
    }
    let mut notes = composed.notes;
    notes.extend(validate::notes(&config, &tree, path));
    let (notes, warnings) = (place(notes), place(diags));
    Ok(LoadedConfig {
        notes,
        config,
        file: path.to_owned(),
        tree,
        warnings,
        secrets,
        files,
    })
}

/// Whether `prefix` may start session ids: letters, digits, `-` and `_`.
pub fn is_valid_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The JSON Schema of the config file, generated from the same types that load it.
pub fn json_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(Config).to_value();
    if let Some(obj) = schema.as_object_mut() {
        obj.insert(
            "$id".into(),
            serde_json::Value::String(
                "https://ao.invalid/schema/agent-orchestrator.schema.json".into(),
            ),
        );
    }
    schema
}

/// [`json_schema`] as the text committed under `schema/`.
pub fn json_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&json_schema()).expect("a schema serializes");
    text.push('\n');
    text
}

/// Expands a leading `~` and makes a relative path relative to `base`.
pub fn expand_path(path: &str, base: &Path, env: EnvLookup<'_>) -> PathBuf {
    let expanded = if path == "~" {
        user_home(env).unwrap_or_else(|| PathBuf::from("~"))
    } else if let Some(rest) = path.strip_prefix("~/") {
        match user_home(env) {
            Some(home) => home.join(rest),
            None => PathBuf::from(path),
        }
    } else {
        PathBuf::from(path)
    };
    let joined = if expanded.is_absolute() {
        expanded
    } else {
        base.join(expanded)
    };
    // `./x` and `a/./b` read better without the dots; `..` stays (symlinks make it unsafe to fold).
    joined
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_value_is_hidden_where_it_stands_alone_only() {
        assert_eq!(
            replace_word("the `aider` agent", "aider"),
            "the `***` agent"
        );
        assert_eq!(replace_word("e.g. 5000, or 5", "5"), "e.g. 5000, or ***");
        assert_eq!(replace_word("main, mainline", "main"), "***, mainline");
    }
}
