//! Editing the registry of projects (`ao project add|rm`) by its text: an entry is
//! added after the last one, or removed by its lines, so comments, formatting and keys
//! ao does not know stay exactly as they were.

use super::node::{Node, Value};

/// One registry entry to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// The project id (the key under `projects:`).
    pub id: String,
    /// `(key, value)` lines of the entry, in order; each value is a JSON scalar (text or
    /// number), which YAML reads as the same scalar.
    pub fields: Vec<(String, serde_json::Value)>,
}

/// Why the text could not be edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The file is not YAML, or not a mapping.
    #[error("the registry is not a YAML mapping ao can edit: {0}")]
    Unreadable(String),
    /// `projects:` is written in flow style (`{...}`) with entries, which ao does not
    /// rewrite.
    #[error(
        "`projects:` is written on one line (flow style); ao edits it only as an indented block"
    )]
    FlowStyle,
    /// No entry has that id.
    #[error("the registry has no project `{0}`")]
    NoSuchProject(String),
}

/// `text` with `entry` added at the end of `projects:` (made if missing).
pub fn add_entry(text: &str, entry: &NewEntry) -> Result<String, EditError> {
    let tree = Node::parse(text).map_err(|e| EditError::Unreadable(e.message))?;
    if !matches!(tree.value, Value::Map(_)) {
        return Err(EditError::Unreadable("it is not a mapping".into()));
    }
    let lines: Vec<&str> = text.lines().collect();
    let Some(projects) = tree.entry("projects") else {
        let mut out = text.to_owned();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str("projects:\n");
        out.push_str(&render(entry, 2));
        return Ok(out);
    };
    let entries = projects.value.entries();
    if entries.is_empty() {
        // `projects:` with nothing, `projects: {}` or `projects: ~`: written anew.
        let line = projects.key_loc.line as usize - 1;
        let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        out[line] = format!("{}projects:", " ".repeat(projects.key_loc.col as usize - 1));
        let block = render(entry, projects.key_loc.col as usize - 1 + 2);
        out.insert(line + 1, block.trim_end_matches('\n').to_owned());
        return Ok(out.join("\n") + "\n");
    }
    if projects.value.loc.line == projects.key_loc.line {
        return Err(EditError::FlowStyle);
    }
    let indent = entries[0].key_loc.col as usize - 1;
    let end = end_of_mapping(&tree, "projects", &lines);
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    out.insert(end, render(entry, indent).trim_end_matches('\n').to_owned());
    Ok(out.join("\n") + "\n")
}

/// `text` without the entry `id` of `projects:` (its lines, up to the next entry).
pub fn remove_entry(text: &str, id: &str) -> Result<String, EditError> {
    let tree = Node::parse(text).map_err(|e| EditError::Unreadable(e.message))?;
    let lines: Vec<&str> = text.lines().collect();
    let projects = tree
        .entry("projects")
        .ok_or_else(|| EditError::NoSuchProject(id.to_owned()))?;
    let entries = projects.value.entries();
    let i = entries
        .iter()
        .position(|e| e.key == id)
        .ok_or_else(|| EditError::NoSuchProject(id.to_owned()))?;
    if projects.value.loc.line == projects.key_loc.line {
        return Err(EditError::FlowStyle);
    }
    let start = entries[i].key_loc.line as usize - 1;
    let end = match entries.get(i + 1) {
        Some(next) => next.key_loc.line as usize - 1,
        None => end_of_mapping(&tree, "projects", &lines),
    };
    let mut out: Vec<&str> = Vec::new();
    out.extend(&lines[..start]);
    out.extend(&lines[end..]);
    let mut text = out.join("\n");
    text.push('\n');
    Ok(text)
}

/// The line index just after the block mapping under top-level `key`: the line of the
/// next top-level key, or the end, not counting the blank and comment lines before it.
fn end_of_mapping(tree: &Node, key: &str, lines: &[&str]) -> usize {
    let entries = tree.entries();
    let i = entries.iter().position(|e| e.key == key).unwrap_or(0);
    let mut end = match entries.get(i + 1) {
        Some(next) => next.key_loc.line as usize - 1,
        None => lines.len(),
    };
    while end > 0 {
        let l = lines[end - 1].trim();
        if l.is_empty() || l.starts_with('#') {
            end -= 1;
        } else {
            break;
        }
    }
    end
}

fn render(entry: &NewEntry, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = format!("{pad}{}:\n", entry.id);
    for (k, v) in &entry.fields {
        out.push_str(&format!("{pad}  {k}: {v}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> NewEntry {
        NewEntry {
            id: id.into(),
            fields: vec![("path".into(), "/src/api".into())],
        }
    }

    #[test]
    fn adding_keeps_comments_and_unknown_keys() {
        let text = "# my registry\nport: 3000 # the dashboard\nprojects:\n  # the web app\n  web:\n    path: /src/web\n    mine: kept\n\n# after\nnotifiers: {}\n";
        let out = add_entry(text, &entry("api")).unwrap();
        assert_eq!(
            out,
            "# my registry\nport: 3000 # the dashboard\nprojects:\n  # the web app\n  web:\n    path: /src/web\n    mine: kept\n  api:\n    path: \"/src/api\"\n\n# after\nnotifiers: {}\n"
        );
        let back = remove_entry(&out, "api").unwrap();
        assert_eq!(back, text);
    }

    #[test]
    fn adding_to_a_missing_or_empty_registry_writes_the_block() {
        assert_eq!(
            add_entry("", &entry("api")).unwrap(),
            "projects:\n  api:\n    path: \"/src/api\"\n"
        );
        assert_eq!(
            add_entry("port: 1\nprojects: {}\n", &entry("api")).unwrap(),
            "port: 1\nprojects:\n  api:\n    path: \"/src/api\"\n"
        );
        assert_eq!(
            add_entry("projects: {a: {path: /x}}\n", &entry("api")),
            Err(EditError::FlowStyle)
        );
    }

    #[test]
    fn removing_takes_only_that_entry() {
        let text =
            "projects:\n  a:\n    path: /a\n  b:\n    path: /b\n  c:\n    path: /c\nport: 1\n";
        assert_eq!(
            remove_entry(text, "b").unwrap(),
            "projects:\n  a:\n    path: /a\n  c:\n    path: /c\nport: 1\n"
        );
        assert_eq!(
            remove_entry(text, "c").unwrap(),
            "projects:\n  a:\n    path: /a\n  b:\n    path: /b\nport: 1\n"
        );
        assert_eq!(
            remove_entry(text, "x"),
            Err(EditError::NoSuchProject("x".into()))
        );
    }
}
