//! Deserializes typed config from the located tree.
//!
//! Errors carry the position of the innermost value that caused them. Unknown keys do not
//! stop deserialization: each becomes a warning (with a "did you mean" where the
//! suggestion is a typo's fix), as cargo warns about an unused manifest key, so a file
//! written for another version or for the reference system still loads. Values expanded
//! from the environment are never printed.

use super::diag::{Diagnostic, Loc, did_you_mean};
use super::node::{Entry, Node, Value};
use super::reference;
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use std::cell::RefCell;
use std::fmt;
use std::path::Path;

/// Shared state of one deserialization: the file and the diagnostics found so far.
pub struct Ctx<'a> {
    file: &'a Path,
    diags: RefCell<Vec<Diagnostic>>,
    extra_reference_keys: &'a [&'a str],
}

impl<'a> Ctx<'a> {
    /// A context for `file`.
    pub fn new(file: &'a Path) -> Ctx<'a> {
        Ctx {
            file,
            diags: RefCell::new(Vec::new()),
            extra_reference_keys: &[],
        }
    }

    /// A context where `keys`, in any mapping, are reference-format keys (for plugins).
    pub fn with_reference_keys(file: &'a Path, keys: &'a [&'a str]) -> Ctx<'a> {
        Ctx {
            extra_reference_keys: keys,
            ..Ctx::new(file)
        }
    }

    /// The diagnostics collected.
    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.diags.into_inner()
    }
}

/// Deserializes `T` from `node`; returns the value (if it could be built) and every
/// diagnostic found.
pub fn from_node<T: de::DeserializeOwned>(node: &Node, ctx: &Ctx<'_>) -> Result<T, Diagnostic> {
    T::deserialize(NodeDe { node, ctx }).map_err(|e| e.into_diagnostic(ctx.file))
}

/// A deserialization error and where it happened.
#[derive(Debug)]
pub struct DeError {
    message: String,
    hint: Option<String>,
    expected: Option<String>,
    loc: Option<Loc>,
}

impl DeError {
    fn new(message: String) -> DeError {
        DeError {
            message,
            hint: None,
            expected: None,
            loc: None,
        }
    }

    /// Attaches the position of `node`, unless an inner value already did; hides the
    /// value if it came from the environment.
    fn at(mut self, node: &Node) -> DeError {
        if self.loc.is_none() {
            self.loc = Some(node.loc);
            if node.secret {
                self.message = match &self.expected {
                    Some(exp) => format!(
                        "the value here came from an environment variable (not shown) and is not valid: expected {exp}"
                    ),
                    None => "the value here came from an environment variable (not shown) and is not valid".to_owned(),
                };
                self.hint = Some("check the variable's value".to_owned());
            }
        }
        self
    }

    fn into_diagnostic(self, file: &Path) -> Diagnostic {
        let diag = Diagnostic::error(file, self.loc.unwrap_or(Loc::new(1, 1)), self.message);
        match self.hint {
            Some(h) => diag.with_hint(h),
            None => diag,
        }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(msg.to_string())
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let exp = plain(exp);
        DeError {
            message: format!("expected {exp}, found {}", describe(&unexp)),
            expected: Some(exp),
            ..DeError::new(String::new())
        }
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let exp = plain(exp);
        DeError {
            message: format!("{} is not valid here: expected {exp}", describe(&unexp)),
            expected: Some(exp),
            ..DeError::new(String::new())
        }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let list = expected.join(", ");
        let mut err = DeError {
            expected: Some(format!("one of {list}")),
            ..DeError::new(format!(
                "unknown value `{variant}`; expected one of: {list}"
            ))
        };
        if let Some(near) = did_you_mean(variant, expected.iter().copied()) {
            err.hint = Some(format!("did you mean `{near}`?"));
        }
        err
    }

    fn missing_field(field: &'static str) -> Self {
        let mut err = DeError::new(format!("missing required key `{field}`"));
        err.hint = Some(format!("add `{field}:` here"));
        err
    }
}

/// serde names Rust types ("u32"); users read YAML.
fn plain(expected: &dyn de::Expected) -> String {
    let text = expected.to_string();
    match text.as_str() {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number (0 or more)".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a string" | "a borrowed string" => "text".to_owned(),
        "a sequence" => "a list".to_owned(),
        "a map" => "a mapping".to_owned(),
        "struct PluginSection" => {
            "a plugin's name, or a mapping with `plugin:` and its settings".to_owned()
        }
        t if t.starts_with("struct ") => "a mapping of settings".to_owned(),
        _ => text,
    }
}

fn describe(unexp: &de::Unexpected<'_>) -> String {
    match unexp {
        de::Unexpected::Str(s) => format!("the text \"{s}\""),
        de::Unexpected::Signed(n) => format!("the number {n}"),
        de::Unexpected::Unsigned(n) => format!("the number {n}"),
        de::Unexpected::Float(n) => format!("the number {n}"),
        de::Unexpected::Unit => "nothing".to_owned(),
        de::Unexpected::Map => "a mapping".to_owned(),
        de::Unexpected::Seq => "a list".to_owned(),
        other => other.to_string(),
    }
}

/// A serde deserializer over one node of the tree.
pub struct NodeDe<'a> {
    node: &'a Node,
    ctx: &'a Ctx<'a>,
}

impl<'a> NodeDe<'a> {
    fn scalar_text(&self) -> Option<String> {
        match &self.node.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    fn empty_if_null(&self) -> &'a [Entry] {
        self.node.entries()
    }

    fn report_unknown_key(
        &self,
        owner: &'static str,
        entry: &Entry,
        fields: &'static [&'static str],
    ) {
        let file = self.ctx.file;
        let diag = if let Some(note) = reference::unsupported_key(owner, &entry.key) {
            Diagnostic::warning(
                file,
                entry.key_loc,
                format!(
                    "`{}` is a key of the reference format that ao does not support yet; it is ignored",
                    entry.key
                ),
            )
            .with_hint(note)
        } else if self.ctx.extra_reference_keys.contains(&entry.key.as_str()) {
            Diagnostic::warning(
                file,
                entry.key_loc,
                format!("`{}` is read, not used by ao yet", entry.key),
            )
        } else {
            let valid: Vec<&str> = fields
                .iter()
                .copied()
                .filter(|f| !f.starts_with('$'))
                .collect();
            let diag = Diagnostic::warning(
                file,
                entry.key_loc,
                format!("unknown key `{}`; it is ignored", entry.key),
            );
            match did_you_mean(&entry.key, valid.iter().copied()) {
                Some(near) => diag.with_hint(format!("did you mean `{near}`?")),
                None if valid.is_empty() => diag.with_hint("this section takes no keys"),
                None => diag.with_hint(format!("valid keys here: {}", valid.join(", "))),
            }
        };
        self.ctx.diags.borrow_mut().push(diag);
    }
}

macro_rules! forward_to_any {
    ($($method:ident)*) => {
        $(fn $method<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.deserialize_any(visitor)
        })*
    };
}

impl<'a> de::Deserializer<'a> for NodeDe<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let node = self.node;
        let result = match &node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_str(s),
            Value::Seq(items) => visitor.visit_seq(SeqDe {
                items: items.iter(),
                ctx: self.ctx,
            }),
            Value::Map(entries) => visitor.visit_map(MapDe {
                entries: entries.iter(),
                pending: None,
                ctx: self.ctx,
                filter: None,
                de: &self,
            }),
        };
        result.map_err(|e| e.at(node))
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let node = self.node;
        match node.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
        .map_err(|e| e.at(node))
    }

    fn deserialize_str<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let node = self.node;
        match self.scalar_text() {
            Some(text) => visitor.visit_string(text),
            None => return self.deserialize_any(visitor),
        }
        .map_err(|e: DeError| e.at(node))
    }

    fn deserialize_string<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_map<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let node = self.node;
        if let Value::Null = node.value {
            return visitor
                .visit_map(MapDe {
                    entries: [].iter(),
                    pending: None,
                    ctx: self.ctx,
                    filter: None,
                    de: &self,
                })
                .map_err(|e| e.at(node));
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'a>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let node = self.node;
        match &node.value {
            Value::Map(_) | Value::Null => visitor
                .visit_map(MapDe {
                    entries: self.empty_if_null().iter(),
                    pending: None,
                    ctx: self.ctx,
                    filter: Some((name, fields)),
                    de: &self,
                })
                .map_err(|e| e.at(node)),
            _ => Err(DeError::new(format!(
                "expected a mapping of keys ({}), found {}",
                fields
                    .iter()
                    .filter(|f| !f.starts_with('$'))
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", "),
                node.kind()
            ))
            .at(node)),
        }
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let node = self.node;
        match &node.value {
            Value::Str(s) => {
                let access: de::value::StrDeserializer<'_, DeError> =
                    s.as_str().into_deserializer();
                visitor.visit_enum(access)
            }
            _ => Err(DeError::new(format!(
                "expected one of: {}; found {}",
                variants.join(", "),
                node.kind()
            ))),
        }
        .map_err(|e: DeError| e.at(node))
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let node = self.node;
        visitor.visit_newtype_struct(self).map_err(|e| e.at(node))
    }

    fn deserialize_ignored_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    forward_to_any! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32
        deserialize_f64 deserialize_char deserialize_bytes deserialize_byte_buf
        deserialize_unit deserialize_seq deserialize_identifier
    }

    fn deserialize_unit_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_tuple<V: Visitor<'a>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }
}

struct SeqDe<'a> {
    items: std::slice::Iter<'a, Node>,
    ctx: &'a Ctx<'a>,
}

impl<'a> de::SeqAccess<'a> for SeqDe<'a> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'a>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some(node) => seed
                .deserialize(NodeDe {
                    node,
                    ctx: self.ctx,
                })
                .map(Some),
            None => Ok(None),
        }
    }
}

struct MapDe<'a, 'b> {
    entries: std::slice::Iter<'a, Entry>,
    pending: Option<&'a Node>,
    ctx: &'a Ctx<'a>,
    /// For structs: the struct's name and field names; other keys are reported and skipped.
    filter: Option<(&'static str, &'static [&'static str])>,
    de: &'b NodeDe<'a>,
}

impl<'a> de::MapAccess<'a> for MapDe<'a, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'a>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        for entry in self.entries.by_ref() {
            if let Some((owner, fields)) = self.filter
                && !fields.contains(&entry.key.as_str())
            {
                self.de.report_unknown_key(owner, entry, fields);
                continue;
            }
            self.pending = Some(&entry.value);
            let key: de::value::StrDeserializer<'_, DeError> =
                entry.key.as_str().into_deserializer();
            return seed.deserialize(key).map(Some).map_err(|mut e| {
                e.loc.get_or_insert(entry.key_loc);
                e
            });
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let node = self
            .pending
            .take()
            .expect("next_value_seed called before next_key_seed");
        seed.deserialize(NodeDe {
            node,
            ctx: self.ctx,
        })
    }
}
