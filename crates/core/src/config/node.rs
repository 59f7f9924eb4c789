//! The YAML document as a tree whose every value and key knows its line and column.
//!
//! ao parses into this tree first, expands `${VAR}` on it, checks keys against the
//! typed config while deserializing from it, and forwards subtrees to plugins, so every
//! message anywhere can point at the exact place in the file.

use super::diag::Loc;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

/// A value in the config tree with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where it starts.
    pub loc: Loc,
    /// True when an environment variable was expanded into it: it may be a secret and is
    /// never printed.
    pub secret: bool,
}

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `~`, `null` or nothing.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A number with a fraction.
    Float(f64),
    /// Text.
    Str(String),
    /// A list.
    Seq(Vec<Node>),
    /// A mapping, in file order.
    Map(Vec<Entry>),
}

/// A mapping's key and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The key's text.
    pub key: String,
    /// Where the key is.
    pub key_loc: Loc,
    /// Its value.
    pub value: Node,
}

impl Node {
    /// Marks every position in this tree as being in file `file` of the config's files.
    pub fn set_file(&mut self, file: u16) {
        self.loc.file = file;
        match &mut self.value {
            Value::Seq(items) => items.iter_mut().for_each(|n| n.set_file(file)),
            Value::Map(entries) => entries.iter_mut().for_each(|e| {
                e.key_loc.file = file;
                e.value.set_file(file);
            }),
            _ => {}
        }
    }

    /// Removes the mapping entry or list item whose value is at `loc`, anywhere below;
    /// returns where its mapping is and its key (empty for a list item), or `None` when
    /// nothing is at `loc`.
    pub fn remove_at(&mut self, loc: Loc) -> Option<(Loc, String)> {
        let here = self.loc;
        match &mut self.value {
            Value::Map(entries) => {
                if let Some(i) = entries.iter().position(|e| e.value.loc == loc) {
                    return Some((here, entries.remove(i).key));
                }
                entries.iter_mut().find_map(|e| e.value.remove_at(loc))
            }
            Value::Seq(items) => {
                if let Some(i) = items.iter().position(|n| n.loc == loc) {
                    items.remove(i);
                    return Some((here, String::new()));
                }
                items.iter_mut().find_map(|n| n.remove_at(loc))
            }
            _ => None,
        }
    }

    /// Every string value that received an environment variable, anywhere below.
    pub fn secret_values(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_secrets(&mut out);
        out
    }

    fn collect_secrets(&self, out: &mut Vec<String>) {
        match &self.value {
            Value::Str(s) if self.secret && !s.is_empty() => out.push(s.clone()),
            Value::Seq(items) => items.iter().for_each(|n| n.collect_secrets(out)),
            Value::Map(entries) => entries.iter().for_each(|e| e.value.collect_secrets(out)),
            _ => {}
        }
    }

    /// The entries of a mapping, or none.
    pub fn entries(&self) -> &[Entry] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    /// The value under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()
            .iter()
            .find(|e| e.key == key)
            .map(|e| &e.value)
    }

    /// The entry (key and value) under `key` of a mapping.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries().iter().find(|e| e.key == key)
    }

    /// Follows a path of mapping keys.
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |node, key| node.get(key))
    }

    /// The text of a string scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// What kind of value this is, for messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// Parses a YAML document. An empty document is an empty mapping.
    pub fn parse(text: &str) -> Result<Node, ParseError> {
        if text.trim().is_empty() || is_only_comments(text) {
            return Ok(Node {
                value: Value::Map(Vec::new()),
                loc: Loc::new(1, 1),
                secret: false,
            });
        }
        let options = serde_saphyr::options::Options::default();
        serde_saphyr::from_str_with_options::<RawNode>(text, options)
            .map(|raw| raw.0)
            .map_err(|e| {
                let loc = e
                    .location()
                    .map(|l| Loc::new(l.line() as u32, l.column() as u32))
                    .unwrap_or_default();
                let (message, hint) = in_user_words(&first_line(&e.to_string()), loc, text);
                ParseError { message, hint, loc }
            })
    }
}

fn is_only_comments(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .all(|l| l.is_empty() || l.starts_with('#') || l == "---")
}

/// Messages the parser words for programmers, said for the user: a key given twice
/// (with where it was first), and a document whose aliases expand past the parser's
/// budget (an "alias bomb").
fn in_user_words(message: &str, loc: Loc, text: &str) -> (String, Option<String>) {
    if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
        let key = rest
            .split(", set DuplicateKeyPolicy")
            .next()
            .unwrap_or(rest)
            .trim();
        let first = text
            .lines()
            .take(loc.line.saturating_sub(1) as usize)
            .enumerate()
            .filter(|(_, l)| {
                let indent = l.len() - l.trim_start().len();
                indent + 1 == loc.col as usize
                    && l.trim_start()
                        .trim_start_matches(['"', '\''])
                        .starts_with(key)
            })
            .map(|(i, _)| i + 1)
            .last();
        let at = first
            .map(|l| format!(" (first at line {l})"))
            .unwrap_or_default();
        return (
            format!("the key `{key}` is given twice in the same mapping{at}"),
            Some("keep one of them; a key may appear once per mapping".into()),
        );
    }
    if message.starts_with("budget breached") {
        return (
            "the file expands to far more values than any config holds, through aliases (`*name`) that repeat each other; ao does not read it".into(),
            Some("write the values out, or use aliases that do not nest".into()),
        );
    }
    (message.to_owned(), None)
}

/// The parser's message without its rendered snippet: ao prints its own location.
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or("").trim();
    let line = line.strip_prefix("error: ").unwrap_or(line);
    // Some messages start with "line L column C: "; ao shows the position itself.
    let line = match line.split_once(": ") {
        Some((head, rest)) if head.starts_with("line ") && head.contains(" column ") => rest,
        _ => line,
    };
    // The parser appends " at line L column C"; ao shows the position itself.
    match line.rfind(" at line ") {
        Some(i) => line[..i].to_owned(),
        None => line.to_owned(),
    }
}

/// A YAML syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The parser's message.
    pub message: String,
    /// Where.
    pub loc: Loc,
    /// What to do, where the problem is not plain syntax.
    pub hint: Option<String>,
}

struct RawNode(Node);
struct RawValue(Value);
struct RawKey(String);

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<RawValue>::deserialize(d)?;
        Ok(RawNode(Node {
            value: spanned.value.0,
            loc: Loc::new(
                spanned.referenced.line() as u32,
                spanned.referenced.column() as u32,
            ),
            secret: false,
        }))
    }
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor).map(RawValue)
    }
}

impl<'de> Deserialize<'de> for RawKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Asked for text, the parser keeps a key as written: `n:` and `on:` are names
        // (a notifier, a project), not YAML 1.1 booleans.
        match d.deserialize_string(ValueVisitor)? {
            Value::Str(s) => Ok(RawKey(s)),
            Value::Int(i) => Ok(RawKey(i.to_string())),
            Value::Float(f) => Ok(RawKey(f.to_string())),
            Value::Bool(b) => Ok(RawKey(b.to_string())),
            Value::Null => Ok(RawKey("null".into())),
            Value::Seq(_) | Value::Map(_) => Err(de::Error::custom(
                "a mapping key must be plain text, not a list or mapping",
            )),
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Int)
            .or(Ok(Value::Float(v as f64)))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(i64::try_from(v)
            .map(Value::Int)
            .unwrap_or(Value::Float(v as f64)))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(i64::try_from(v)
            .map(Value::Int)
            .unwrap_or(Value::Float(v as f64)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(RawNode(node)) = seq.next_element()? {
            items.push(node);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<RawKey>>()? {
            let RawNode(value) = map.next_value()?;
            entries.push(Entry {
                key: key.value.0,
                key_loc: Loc::new(key.referenced.line() as u32, key.referenced.column() as u32),
                value,
            });
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_carry_positions() {
        let doc = "a: 1\nprojects:\n  app:\n    path: ~/x\n    list: [one, 2]\n";
        let root = Node::parse(doc).unwrap();
        let app = root.at(&["projects", "app"]).unwrap();
        let path = app.entry("path").unwrap();
        assert_eq!(path.key_loc, Loc::new(4, 5));
        assert_eq!(path.value.loc, Loc::new(4, 11));
        assert_eq!(path.value.as_str(), Some("~/x"));
        assert_eq!(root.get("a").unwrap().value, Value::Int(1));
        match &app.get("list").unwrap().value {
            Value::Seq(items) => {
                assert_eq!(items[0].value, Value::Str("one".into()));
                assert_eq!(items[1].value, Value::Int(2));
            }
            other => panic!("expected a list, got {other:?}"),
        }
    }

    #[test]
    fn keys_stay_as_written() {
        let root = Node::parse(
            "n: 1
y: 2
on: 3
12: 4
",
        )
        .unwrap();
        let keys: Vec<&str> = root.entries().iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["n", "y", "on", "12"]);
    }

    #[test]
    fn quoted_numbers_stay_text() {
        let root = Node::parse("id: \"123\"\n").unwrap();
        assert_eq!(root.get("id").unwrap().value, Value::Str("123".into()));
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let err = Node::parse("a: 1\nb: [unclosed\nc: 2\n").unwrap_err();
        assert!(err.loc.line >= 2, "{err:?}");
        assert!(!err.message.is_empty());
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = Node::parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(err.loc.line, 2, "{err:?}");
    }

    #[test]
    fn empty_documents_are_empty_mappings() {
        assert_eq!(Node::parse("# nothing\n").unwrap().entries().len(), 0);
    }
}
