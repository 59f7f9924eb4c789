//! Turns failures into one clear sentence, a hint, and an exit code:
//! 0 ok, 1 the operation failed, 2 bad usage or bad config.

use ao_core::config::ConfigError;
use std::fmt;
use std::process::ExitCode;

/// A failure the user should read, with what to do about it.
#[derive(Debug)]
pub struct UserError {
    /// 1 or 2.
    pub code: u8,
    /// One sentence.
    pub message: String,
    /// What to do.
    pub hint: Option<String>,
}

impl UserError {
    /// The operation failed (exit 1).
    pub fn failed(message: impl Into<String>) -> UserError {
        UserError {
            code: 1,
            message: message.into(),
            hint: None,
        }
    }

    /// Bad usage or input (exit 2).
    pub fn usage(message: impl Into<String>) -> UserError {
        UserError {
            code: 2,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> UserError {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

/// A session command's failure as the user reads it: each kind of [`ManagerError`] with
/// its message and what to do about it, in this one place.
pub fn manager_error(e: ao_core::session::ManagerError) -> anyhow::Error {
    use ao_core::session::ManagerError as E;
    let hint = manager_hint(&e);
    match e {
        E::Store(s) => s.into(),
        e => {
            let mut u = UserError::failed(e.to_string());
            u.hint = hint;
            u.into()
        }
    }
}

/// What the user can do about a session command's failure: by its kind, and by the
/// operation that failed where that changes it.
pub fn manager_hint(e: &ao_core::session::ManagerError) -> Option<String> {
    use ao_core::plugin::PluginError;
    use ao_core::session::{ManagerError as E, NotTakenHow, Op};
    let hint = match (e.op(), e.kind()) {
        (_, E::UnsavedWork { .. }) => {
            "commit and push it, pass --keep-workspace to keep it, or --force to save it on a ref and delete the workspace"
                .into()
        }
        (_, E::Transient { retry_after, .. }) => match retry_after {
            Some(d) => format!("try again in {} s", d.as_secs().max(1)),
            None => "try again in a moment".into(),
        },
        (_, E::Plugin(PluginError::Transient { .. }) | E::Plugin(PluginError::Timeout { .. })) => {
            "it may work if you try again in a moment".into()
        }
        // The agent's plugin read its output: that says more than anything here.
        (_, E::AgentExited { diagnosis: Some(d), .. }) => d.clone(),
        (Some(Op::Send), E::AgentExited { .. }) => format!(
            "`ao session restore {}` starts the agent again",
            session_of(e).unwrap_or("<session>")
        ),
        (_, E::AgentExited { .. }) => "check the agent's command and settings in the config".into(),
        (_, E::NotReady { diagnosis: Some(d), .. }) => d.clone(),
        (Some(Op::Send), E::NotReady { .. }) => {
            let id = session_of(e).unwrap_or("<session>");
            format!("`ao attach {id}` shows what runs there; `ao send --no-wait` types it anyway")
        }
        (_, E::NotReady { expected, foreground, .. }) if !expected.is_empty() => format!(
            "nothing was typed into it; if the agent runs under another name, set agentConfig.processName to it (now `{foreground}`)"
        ),
        (_, E::NotReady { .. }) => {
            "nothing was typed into it; check that the agent starts by hand in the workspace".into()
        }
        (_, E::NotTaken { how, .. }) => match how {
            NotTakenHow::Unread => {
                "check that the agent reads typed input once it starts (an interactive prompt)"
            }
            NotTakenHow::Ignored => {
                "check that the agent takes typed input (an interactive prompt, not a one-shot mode)"
            }
            NotTakenHow::Discarded(_) => {
                "set agentConfig.readyPattern to text the agent shows once it reads input, so ao types only then"
            }
        }
        .into(),
        (_, E::ProjectFull { .. }) => {
            "kill or clean up one of them, or pass --wait to start when a slot frees".into()
        }
        (_, E::LimitHeld { .. }) => {
            "--wait waits for the limit to lift; --agent picks another agent".into()
        }
        _ => return e.hint(),
    };
    Some(hint)
}

/// The session a failure names, when it names one.
fn session_of(e: &ao_core::session::ManagerError) -> Option<&str> {
    match e {
        ao_core::session::ManagerError::During { session, .. } => session.as_deref(),
        _ => None,
    }
}

/// Prints an error to stderr and returns its exit code.
pub fn report(err: &anyhow::Error) -> ExitCode {
    let paint = crate::ui::Paint::stderr();
    if let Some(config) = err.downcast_ref::<ConfigError>() {
        for d in &config.diagnostics {
            eprintln!("{}", crate::ui::render_diagnostic(d, &paint));
        }
        return ExitCode::from(2);
    }
    if let Some(user) = err.downcast_ref::<UserError>() {
        eprintln!("{} {}", paint.red("error:"), user.message);
        if let Some(hint) = &user.hint {
            eprintln!("  {} {hint}", paint.cyan("hint:"));
        }
        return ExitCode::from(user.code);
    }
    if let Some(store) = err.downcast_ref::<ao_core::store::StoreError>() {
        eprintln!("{} {store}", paint.red("error:"));
        if let Some(hint) = store.hint() {
            eprintln!("  {} {hint}", paint.cyan("hint:"));
        }
        return ExitCode::from(1);
    }
    eprintln!("{} {err:#}", paint.red("error:"));
    ExitCode::from(1)
}
