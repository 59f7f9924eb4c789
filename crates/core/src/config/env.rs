//! `${VAR}` and `${VAR:-default}` expansion over the config tree.

use super::diag::{Diagnostic, Loc};
use super::node::{Node, Value};
use std::path::Path;

/// Expands every string value (not keys) in place. A value that received an environment
/// variable is marked secret so no message ever prints it. `$${` writes a literal `${`.
pub fn expand_tree(
    node: &mut Node,
    file: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<Diagnostic>,
) {
    match &mut node.value {
        Value::Str(s) if s.contains('$') => match expand(s, lookup) {
            Ok((expanded, used_env)) => {
                *s = expanded;
                node.secret |= used_env;
            }
            Err(problem) => errors.push(problem.into_diagnostic(file, node.loc)),
        },
        Value::Seq(items) => {
            for item in items {
                expand_tree(item, file, lookup, errors);
            }
        }
        Value::Map(entries) => {
            for entry in entries {
                expand_tree(&mut entry.value, file, lookup, errors);
            }
        }
        _ => {}
    }
}

/// The values of the environment variables that `${NAME}` placeholders in `text` name
/// (set ones only), for keeping them out of messages.
pub fn referenced_values(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        rest = &rest[i + 2..];
        let end = rest.find(['}', ':']).unwrap_or(rest.len());
        if let Some(value) = lookup(&rest[..end]).filter(|v| !v.is_empty())
            && !out.contains(&value)
        {
            out.push(value);
        }
    }
    out
}

/// Why a placeholder could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpandError {
    /// `${NAME}` with NAME unset and no default.
    Unset(String),
    /// `${` without a closing `}`, or an invalid name.
    Malformed(String),
}

impl ExpandError {
    fn into_diagnostic(self, file: &Path, loc: Loc) -> Diagnostic {
        match self {
            ExpandError::Unset(name) => Diagnostic::error(
                file,
                loc,
                format!("environment variable {name} is not set"),
            )
            .with_hint(format!(
                "export {name} before running ao, or give a default: ${{{name}:-value}}"
            )),
            ExpandError::Malformed(what) => Diagnostic::error(
                file,
                loc,
                format!("malformed placeholder `{what}`"),
            )
            .with_hint("write ${NAME} or ${NAME:-default}, with NAME made of letters, digits and _; write $${ for a literal ${"),
        }
    }
}

/// Expands placeholders in one string; returns the text and whether any variable was used.
pub fn expand(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, bool), ExpandError> {
    let mut out = String::with_capacity(text.len());
    let mut used_env = false;
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let close = tail
                .find('}')
                .ok_or_else(|| ExpandError::Malformed(after.chars().take(24).collect()))?;
            let inner = &tail[..close];
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            if !is_env_name(name) {
                return Err(ExpandError::Malformed(format!("${{{inner}}}")));
            }
            match lookup(name).filter(|v| !v.is_empty() || default.is_none()) {
                Some(value) => {
                    out.push_str(&value);
                    used_env = true;
                }
                None => match default {
                    Some(default) => out.push_str(default),
                    None => return Err(ExpandError::Unset(name.to_owned())),
                },
            }
            rest = &tail[close + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok((out, used_env))
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("example.org".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_set_variables_and_defaults() {
        assert_eq!(
            expand("https://${HOST}/x", &env).unwrap(),
            ("https://example.org/x".into(), true)
        );
        assert_eq!(
            expand("${NOPE:-fallback}", &env).unwrap(),
            ("fallback".into(), false)
        );
        assert_eq!(
            expand("${EMPTY:-fallback}", &env).unwrap(),
            ("fallback".into(), false)
        );
        assert_eq!(expand("${EMPTY}", &env).unwrap(), ("".into(), true));
        assert_eq!(
            expand("cost $5, $${HOST}", &env).unwrap(),
            ("cost $5, ${HOST}".into(), false)
        );
        assert_eq!(expand("${NOPE:-}", &env).unwrap(), ("".into(), false));
    }

    #[test]
    fn reports_unset_and_malformed_placeholders() {
        assert_eq!(
            expand("${NOPE}", &env),
            Err(ExpandError::Unset("NOPE".into()))
        );
        assert!(matches!(
            expand("${HOST", &env),
            Err(ExpandError::Malformed(_))
        ));
        assert!(matches!(
            expand("${1X}", &env),
            Err(ExpandError::Malformed(_))
        ));
    }

    #[test]
    fn marks_expanded_values_secret() {
        let mut root = Node::parse("a: ${HOST}\nb: plain\n").unwrap();
        let mut errors = Vec::new();
        expand_tree(&mut root, Path::new("f.yaml"), &env, &mut errors);
        assert!(errors.is_empty());
        assert!(root.get("a").unwrap().secret);
        assert!(!root.get("b").unwrap().secret);
    }
}
