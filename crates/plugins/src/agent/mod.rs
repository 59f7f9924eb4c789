//! Agents: the AI coding CLIs.

pub mod aider;
pub mod claude_code;
pub mod codex;
pub mod command;
pub mod opencode;

use ao_core::model::{Activity, Timestamp};
use ao_core::plugin::{ActivityReport, ActivitySource, PluginError};
use ao_core::store::AgentReport;
use std::path::Path;

/// A random (version 4) UUID, for CLIs that take their session id from the caller.
pub(crate) fn new_uuid() -> String {
    let mut b = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b));
    if read.is_err() {
        // No /dev/urandom: the clock and pid still make it unique enough per host.
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
            ^ ((std::process::id() as u128) << 64);
        b = n.to_le_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Quotes one word for a POSIX shell (for the few CLIs whose hook settings take a
/// command line; ao's own path and fixed words only, never user text).
pub(crate) fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:@".contains(c))
    {
        return word.to_owned();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// Writes a file the agent reads (settings, rules), creating its directory.
pub(crate) fn write_file(plugin: &str, path: &Path, text: &str) -> Result<(), PluginError> {
    path.parent()
        .map(std::fs::create_dir_all)
        .transpose()
        .and_then(|_| std::fs::write(path, text))
        .map_err(|e| PluginError::failed(plugin, format!("cannot write {}: {e}", path.display())))
}

/// A report from a hook, as a reading: `ready` turns `idle` after the threshold.
pub(crate) fn from_report(r: &AgentReport, idle_after_ms: u64, now: Timestamp) -> ActivityReport {
    let activity = match r.activity {
        Activity::Ready if now.saturating_sub(r.at) >= idle_after_ms as i64 => Activity::Idle,
        a => a,
    };
    ActivityReport {
        activity,
        source: ActivitySource::Hook,
        last_at: Some(r.at),
        detail: r.detail.clone(),
    }
}

/// A reading taken from the terminal.
pub(crate) fn from_terminal(activity: Activity, detail: Option<String>) -> ActivityReport {
    ActivityReport {
        activity,
        source: ActivitySource::Terminal,
        last_at: None,
        detail,
    }
}

/// The first screen line containing one of `needles`, trimmed of box-drawing and
/// selection marks: the question a dialog asks.
pub(crate) fn screen_line(screen: &str, needles: &[&str]) -> Option<String> {
    screen.lines().find_map(|line| {
        needles.iter().any(|n| line.contains(n)).then(|| {
            line.trim_matches(|c: char| c.is_whitespace() || "│╭╮╰╯─❯>›*•".contains(c))
                .to_owned()
        })
    })
}

/// When the file was last written, in ms since the epoch.
pub(crate) fn modified_ms(path: &Path) -> Option<Timestamp> {
    let t = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as Timestamp)
}

/// The model to pass, when the project names one.
pub(crate) fn model_args(flag: &str, model: Option<&String>) -> Vec<String> {
    model
        .map(|m| vec![flag.to_owned(), m.clone()])
        .unwrap_or_default()
}

/// The launch of an interactive CLI that takes its first prompt as an argument (after
/// `--`, so a task starting with `-` is not an option) and stays open.
pub(crate) fn inline_launch(
    mut argv: Vec<String>,
    ctx: &ao_core::plugin::LaunchContext,
    agent_session_id: Option<String>,
) -> ao_core::plugin::LaunchSpec {
    if !ctx.prompt.is_empty() {
        argv.push("--".into());
        argv.push(ctx.prompt.clone());
    }
    ao_core::plugin::LaunchSpec {
        argv,
        env: ctx.config.env.clone().into_iter().collect(),
        prompt: ao_core::plugin::PromptDelivery::Inline,
        agent_session_id,
    }
}
