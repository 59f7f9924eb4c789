//! Failpoints: named steps where a test makes `ao` die (as `kill -9` would) or fail, to
//! prove that whatever a spawn leaves behind is found and undone.

/// `AO_FAILPOINT=<step>` kills the process with SIGKILL at that step;
/// `AO_FAILPOINT=<step>:error` makes the step fail instead.
pub const FAILPOINT_ENV: &str = "AO_FAILPOINT";

/// Reached step `name`: dies or fails there if the environment asks for it.
pub fn failpoint(name: &str) -> Result<(), String> {
    let Ok(spec) = std::env::var(FAILPOINT_ENV) else {
        return Ok(());
    };
    let (step, action) = spec.split_once(':').unwrap_or((spec.as_str(), "kill"));
    if step != name {
        return Ok(());
    }
    if action == "error" {
        return Err(format!("failpoint `{name}` was hit"));
    }
    #[cfg(unix)]
    // SAFETY: sends SIGKILL to this very process, exactly what the test asks for.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    std::process::abort();
}

/// A named step of a spawn or restore: a failpoint, as a [`super::ManagerError`].
pub(crate) fn step(name: &str) -> Result<(), super::ManagerError> {
    failpoint(name).map_err(super::ManagerError::plain)
}
