//! The GitHub token: `GH_TOKEN`, `GITHUB_TOKEN`, else what `gh auth token` prints. The
//! token is held as a secret: it is never printed, logged, or put in a message.

use ao_core::exec::Cmd;
use octocrab::secrecy::SecretString;
use std::time::Duration;

/// Where the token came from, for messages (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An environment variable.
    Env(&'static str),
    /// `gh auth token`.
    GhCli,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Env(var) => write!(f, "${var}"),
            Source::GhCli => write!(f, "`gh auth token`"),
        }
    }
}

/// A token and where it came from.
pub struct Token {
    /// The secret.
    pub secret: SecretString,
    /// Its source.
    pub source: Source,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token(from {}, redacted)", self.source)
    }
}

/// Finds the token for `host`; None when there is none.
pub async fn find(host: &str) -> Option<Token> {
    for var in ["GH_TOKEN", "GITHUB_TOKEN"] {
        if let Ok(v) = std::env::var(var)
            && !v.trim().is_empty()
        {
            return Some(Token {
                secret: SecretString::from(v.trim().to_owned()),
                source: Source::Env(var),
            });
        }
    }
    // The CLI's own login, for this host. Its output is the token: kept, never shown.
    let out = Cmd::new("gh")
        .args(["auth", "token", "--hostname", host])
        .timeout(Duration::from_secs(10))
        .run()
        .await
        .ok()?;
    let token = out.stdout.trim();
    (out.success() && !token.is_empty()).then(|| Token {
        secret: SecretString::from(token.to_owned()),
        source: Source::GhCli,
    })
}
