//! Config problems with the place they were found.

use std::fmt;
use std::path::{Path, PathBuf};

/// A 1-based line and column in a config file, and which of the files that make up
/// the config it is in (0: the file ao was pointed at; others: a registry or a
/// project's own file merged into it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Loc {
    /// 1-based line; 0 when unknown.
    pub line: u32,
    /// 1-based column; 0 when unknown.
    pub col: u32,
    /// The file, as an index into the loaded config's list of files.
    pub file: u16,
}

impl Loc {
    /// A known position in the main file.
    pub fn new(line: u32, col: u32) -> Loc {
        Loc { line, col, file: 0 }
    }
}

/// Whether a problem stops ao from using the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The file is unusable until this is fixed.
    Error,
    /// ao goes on, but something the user wrote is ignored.
    Warning,
}

/// One problem in a config file: what, where, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file it is in.
    pub file: PathBuf,
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// 1-based column, 0 when unknown.
    pub column: u32,
    /// What is wrong, in one sentence.
    pub message: String,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Which of the config's files `file` is, until it is set from the list of files.
    #[serde(skip)]
    pub origin: u16,
}

impl Diagnostic {
    /// An error at `loc` in `file`.
    pub fn error(file: &Path, loc: Loc, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Error, file, loc, message)
    }

    /// A warning at `loc` in `file`.
    pub fn warning(file: &Path, loc: Loc, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Warning, file, loc, message)
    }

    fn new(severity: Severity, file: &Path, loc: Loc, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity,
            file: file.to_owned(),
            line: loc.line,
            column: loc.col,
            message: message.into(),
            hint: None,
            origin: loc.file,
        }
    }

    /// Adds what the user should do.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Where it is, as a position in the config's files.
    pub fn loc(&self) -> Loc {
        Loc {
            line: self.line,
            col: self.column,
            file: self.origin,
        }
    }

    /// The same diagnostic as an error (`ao config validate --strict`).
    pub fn as_error(mut self) -> Diagnostic {
        self.severity = Severity::Error;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        write!(f, ": {kind}: {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// The closest of `candidates` to `word`, if any is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    // A typo, not a neighbour: a few edits for the word's length. A plural or singular
    // of another key is another key (`runtime` is not `runtimes`), and a shared prefix
    // proves nothing (`escalateTo` is not `escalateAfter`).
    let allowed = (lower.chars().count() / 4).clamp(1, 3);
    candidates
        .into_iter()
        .filter(|c| {
            let c = c.to_ascii_lowercase();
            c != format!("{lower}s") && lower != format!("{c}s")
        })
        .map(|c| {
            (
                strsim::damerau_levenshtein(&lower, &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(distance, _)| *distance <= allowed)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let keys = ["sessionPrefix", "defaultBranch", "postCreate"];
        assert_eq!(did_you_mean("sessionprefix", keys), Some("sessionPrefix"));
        assert_eq!(did_you_mean("defaultBrnch", keys), Some("defaultBranch"));
        assert_eq!(did_you_mean("colour", keys), None);
        // Keys of another meaning are never offered.
        assert_eq!(did_you_mean("runtime", ["runtimes"]), None);
        assert_eq!(did_you_mean("escalateTo", ["escalateAfter"]), None);
        assert_eq!(
            did_you_mean("send-to-orchestrator", ["send-to-agent", "notify"]),
            None
        );
        assert_eq!(did_you_mean("reactons", ["reactions"]), Some("reactions"));
    }

    #[test]
    fn renders_file_line_column_and_hint() {
        let d = Diagnostic::error(Path::new("a.yaml"), Loc::new(3, 5), "bad").with_hint("fix it");
        assert_eq!(d.to_string(), "a.yaml:3:5: error: bad\n  hint: fix it");
    }
}
