//! Terminal output: colour only on a terminal, and never with `NO_COLOR`.

use ao_core::config::{Diagnostic, Severity};
use std::io::IsTerminal;

fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Whether stderr gets colour.
pub fn colour_enabled_stderr() -> bool {
    !no_color() && std::io::stderr().is_terminal()
}

/// Colours text, or leaves it plain.
pub struct Paint {
    on: bool,
}

impl Paint {
    /// For stdout.
    pub fn stdout() -> Paint {
        Paint {
            on: !no_color() && std::io::stdout().is_terminal(),
        }
    }

    /// Never: for the log and the store.
    pub fn plain() -> Paint {
        Paint { on: false }
    }

    /// For stderr.
    pub fn stderr() -> Paint {
        Paint {
            on: colour_enabled_stderr(),
        }
    }

    fn wrap(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// Red.
    pub fn red(&self, text: &str) -> String {
        self.wrap("1;31", text)
    }
    /// Yellow.
    pub fn yellow(&self, text: &str) -> String {
        self.wrap("1;33", text)
    }
    /// Green.
    pub fn green(&self, text: &str) -> String {
        self.wrap("1;32", text)
    }
    /// Cyan.
    pub fn cyan(&self, text: &str) -> String {
        self.wrap("36", text)
    }
    /// Dim.
    pub fn dim(&self, text: &str) -> String {
        self.wrap("2", text)
    }
}

/// `file:line:col: error: message` and an indented hint.
pub fn render_diagnostic(d: &Diagnostic, paint: &Paint) -> String {
    let mut place = d.file.display().to_string();
    if d.line > 0 {
        place = format!("{place}:{}:{}", d.line, d.column);
    }
    let kind = match d.severity {
        Severity::Error => paint.red("error:"),
        Severity::Warning => paint.yellow("warning:"),
    };
    let mut out = format!("{place}: {kind} {}", d.message);
    if let Some(hint) = &d.hint {
        out.push_str(&format!("\n  {} {hint}", paint.cyan("hint:")));
    }
    out
}
