//! Agents: the AI coding CLIs.

pub mod aider;
pub mod claude_code;
pub mod cline;
pub mod codex;
pub mod command;
pub mod copilot;
pub mod gemini;
pub mod opencode;
pub mod preset;
pub mod qwen_code;

use ao_core::model::{Activity, Timestamp};
use ao_core::plugin::{ActivityReport, ActivitySource, PluginError};
use ao_core::registry::PluginEntry;
use ao_core::store::AgentReport;
use std::path::Path;

/// Every built-in agent's registry entry. The agents that run a CLI come in the order
/// `ao init` prefers them when it finds several installed. An agent is its own module
/// (its CLI described once, in its `entry`) plus its line here.
pub fn entries() -> Vec<PluginEntry> {
    [
        claude_code::entry(),
        codex::entry(),
        aider::entry(),
        opencode::entry(&opencode::OPENCODE),
        gemini::entry(),
        qwen_code::entry(),
        copilot::entry(),
        opencode::entry(&opencode::KILO),
        cline::entry(),
        command::entry(),
    ]
    .into_iter()
    .chain(preset::entries())
    .collect()
}

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

/// The hook settings Claude Code, Gemini CLI and Qwen Code read alike: each event runs
/// `ao hook AGENT EVENT` (`hook_command` quoted word by word: ao's own path and fixed
/// words), cut off after `timeout` in the CLI's unit. With `rules`, a second
/// `SessionStart` hook prints that file: a hook output whose `additionalContext` the CLI
/// gives the model (see [`rules_hook_output`]).
pub(crate) fn hook_settings(
    hook_command: &[String],
    events: &[&str],
    timeout: u64,
    rules: Option<&Path>,
) -> serde_json::Value {
    use serde_json::json;
    let base: Vec<String> = hook_command.iter().map(|w| shell_word(w)).collect();
    let mut hooks = serde_json::Map::new();
    for event in events {
        let command = format!("{} {event}", base.join(" "));
        let mut list =
            vec![json!({"hooks": [{"type": "command", "command": command, "timeout": timeout}]})];
        if *event == "SessionStart"
            && let Some(file) = rules
        {
            let cat = format!("cat {}", shell_word(&file.to_string_lossy()));
            list.push(json!({"hooks": [{"type": "command", "command": cat, "timeout": timeout}]}));
        }
        hooks.insert((*event).to_owned(), serde_json::Value::Array(list));
    }
    json!({ "hooks": hooks })
}

/// What a `SessionStart` hook prints to give the model `rules` as context.
pub(crate) fn rules_hook_output(rules: &str) -> String {
    serde_json::json!({"hookSpecificOutput": {
        "hookEventName": "SessionStart", "additionalContext": rules}})
    .to_string()
}

/// The names the agent's process may have: the project's `processName` first, then
/// `names` (its program, its interpreter or launcher).
pub(crate) fn process_names(config: &ao_core::config::AgentConfig, names: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = config.process_name.iter().cloned().collect();
    for n in names {
        if !all.iter().any(|a| a == n) {
            all.push((*n).to_owned());
        }
    }
    all
}

/// What a CLI's screen shows, by the plugin's own reading of it.
pub(crate) struct ScreenSigns {
    /// What a dialog on the screen asks, if one is showing.
    pub dialog: fn(&str) -> Option<String>,
    /// Whether the CLI is at work.
    pub working: fn(&str) -> bool,
    /// Whether the CLI's last question was refused, which no hook reports: the turn
    /// ended on it and the screen says so.
    pub refused: fn(&str) -> bool,
}

/// What the screen makes of a question the CLI's hooks reported: `None` while the
/// question stands. Its hook runs before the CLI draws it, so a screen that shows
/// neither the question nor an answer has not drawn it yet; the question is over only
/// when the screen shows it answered: the CLI at work again (allowed) or the question
/// refused (`ready`). A later hook replaces the report itself.
pub(crate) fn reported_question(screen: &str, signs: &ScreenSigns) -> Option<Activity> {
    if (signs.dialog)(screen).is_some() {
        None
    } else if (signs.working)(screen) {
        Some(Activity::Active)
    } else if (signs.refused)(screen) {
        Some(Activity::Ready)
    } else {
        None
    }
}

/// The activity of a CLI whose hooks reported `r`, `screen` being its terminal when the
/// plugin asked for it: a question stands until the screen shows it answered
/// ([`reported_question`]).
pub(crate) fn after_hook(
    r: &AgentReport,
    ctx: &ao_core::plugin::ActivityContext,
    signs: &ScreenSigns,
) -> ActivityReport {
    match ctx.recent_output.as_deref() {
        Some(screen) if r.activity == Activity::WaitingInput => {
            match reported_question(screen, signs) {
                Some(activity) => from_terminal(activity, None),
                None => from_report(r, ctx.idle_after_ms, ctx.now),
            }
        }
        _ => from_report(r, ctx.idle_after_ms, ctx.now),
    }
}

/// The file in the session's agent directory that says the CLI was started on a task
/// (given on its command line); a resume without a task removes it.
const STARTED_ON_TASK: &str = "started-on-task";

/// Records in `scratch_dir` whether the CLI starts on a task (`prompt` not empty).
pub(crate) fn note_task(plugin: &str, scratch_dir: &Path, prompt: &str) -> Result<(), PluginError> {
    let file = scratch_dir.join(STARTED_ON_TASK);
    if !prompt.is_empty() {
        return write_file(plugin, &file, "");
    }
    match std::fs::remove_file(&file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(PluginError::failed(
            plugin,
            format!("cannot remove {}: {e}", file.display()),
        )),
        _ => Ok(()),
    }
}

/// Whether the CLI of the session read with `ctx` was started on a task ([`note_task`]).
pub(crate) fn started_on_task(ctx: &ao_core::plugin::ActivityContext) -> bool {
    ctx.scratch_dir.join(STARTED_ON_TASK).exists()
}

/// What the screen alone says, when no hook, notification or log tells yet: a CLI at
/// work is `active`, one at rest `ready`, unless its task is pending (it was started on
/// one, and nothing has told of that task's turn): its screen rests between the start
/// and the turn, and between a command and its question, so it is about to work.
pub(crate) fn screen_alone(working: bool, task_pending: bool) -> Activity {
    if working || task_pending {
        Activity::Active
    } else {
        Activity::Ready
    }
}

/// Set in the environment of a CLI started with its task on the command line, so its
/// hooks' `SessionStart` reads as about to work, not as waiting.
pub(crate) const TASK_PENDING_ENV: &str = "AO_TASK_PENDING";

/// Whether a `SessionStart` hook's `payload` comes from a CLI started on a task it has
/// not begun yet (not a resume, nor a start with no task).
pub(crate) fn starts_on_task(payload: &serde_json::Value) -> bool {
    std::env::var_os(TASK_PENDING_ENV).is_some() && payload["source"].as_str() != Some("resume")
}

/// The event a hook call reports (its argument, else its input's `hook_event_name`)
/// and that input.
pub(crate) fn hook_event(args: &[String], stdin: &str) -> Option<(String, serde_json::Value)> {
    let payload: serde_json::Value = serde_json::from_str(stdin).unwrap_or_default();
    let event = args
        .first()
        .cloned()
        .or_else(|| payload["hook_event_name"].as_str().map(str::to_owned))?;
    Some((event, payload))
}

/// A reading from the CLI's own session log, whose last entry, written at `timestamp`,
/// `ended` the turn or not.
pub(crate) fn from_log(ended: bool, timestamp: Option<&str>) -> ActivityReport {
    ActivityReport {
        activity: if ended {
            Activity::Ready
        } else {
            Activity::Active
        },
        source: ActivitySource::SessionLog,
        // When the turn's last entry was written: a message typed later is taken once an
        // entry newer than the typing shows.
        last_at: timestamp.and_then(ao_core::model::time::parse_rfc3339),
        detail: None,
        resets_at: None,
        choices: Vec::new(),
    }
}

/// A reading from the screen: at work, or waiting at its prompt.
pub(crate) fn from_screen(working: bool) -> ActivityReport {
    from_terminal(
        if working {
            Activity::Active
        } else {
            Activity::Ready
        },
        None,
    )
}

/// Adds `pattern` to the repository's `info/exclude` (shared by its worktrees, never
/// committed), so files an agent keeps in the session's worktree are not untracked work.
pub(crate) fn exclude_from_git(workspace: &Path, pattern: &str) {
    let Ok(repo) = git2::Repository::open(workspace) else {
        return;
    };
    let file = repo.commondir().join("info").join("exclude");
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    if text.lines().any(|l| l.trim() == pattern) {
        return;
    }
    let mut out = text;
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(pattern);
    out.push('\n');
    if let Err(e) = file
        .parent()
        .map(std::fs::create_dir_all)
        .transpose()
        .and_then(|_| std::fs::write(&file, out))
    {
        tracing::warn!("cannot add {pattern} to {}: {e}", file.display());
    }
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
        resets_at: None,
        choices: Vec::new(),
    }
}

/// A reading taken from the terminal.
pub(crate) fn from_terminal(activity: Activity, detail: Option<String>) -> ActivityReport {
    ActivityReport {
        activity,
        source: ActivitySource::Terminal,
        last_at: None,
        detail,
        resets_at: None,
        choices: Vec::new(),
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

/// A reading of an agent held by its provider's usage limit: `detail` says what the CLI
/// said, `resets_at` when the limit lifts where it said so.
pub(crate) fn limited(
    source: ActivitySource,
    detail: String,
    resets_at: Option<Timestamp>,
) -> ActivityReport {
    ActivityReport {
        activity: Activity::Limited,
        source,
        last_at: None,
        detail: Some(detail),
        resets_at,
        choices: Vec::new(),
    }
}

/// The next moment, after `now` (ms), that a wall-clock time in the user's time zone
/// names: `3:04 PM`, `3pm`, `15:04`, `3:04pm`, or in UTC with a ` UTC` after it. None
/// when `text` holds no such time.
pub(crate) fn next_clock_time(text: &str, now: Timestamp) -> Option<Timestamp> {
    let t = text.trim().to_ascii_lowercase();
    if let Some(clock) = t.strip_suffix("utc") {
        let (hour, minute) = clock_of(clock)?;
        const DAY: i64 = 24 * 3600 * 1000;
        let mut at = now.div_euclid(DAY) * DAY + (hour as i64 * 60 + minute as i64) * 60_000;
        if at <= now - 60_000 {
            at += DAY;
        }
        return Some(at);
    }
    let (hour, minute) = clock_of(&t)?;
    local_next(hour, minute, now)
}

/// The hour and minute a wall-clock time names (`3:04 PM`, `3pm`, `15:04`).
fn clock_of(text: &str) -> Option<(u32, u32)> {
    let t = text.trim().to_ascii_lowercase();
    let (clock, pm, am) = if let Some(c) = t.strip_suffix("pm") {
        (c.trim(), true, false)
    } else if let Some(c) = t.strip_suffix("am") {
        (c.trim(), false, true)
    } else {
        (t.as_str(), false, false)
    };
    let (h, m) = match clock.split_once(':') {
        Some((h, m)) => (h.trim().parse::<u32>().ok()?, m.trim().parse::<u32>().ok()?),
        None => (clock.parse::<u32>().ok()?, 0),
    };
    if m > 59 || h > 23 || ((am || pm) && !(1..=12).contains(&h)) {
        return None;
    }
    let hour = match (am, pm) {
        (true, _) if h == 12 => 0,
        (_, true) if h != 12 => h + 12,
        _ => h,
    };
    Some((hour, m))
}

/// The next `hour:minute` in local time after `now`.
#[cfg(unix)]
fn local_next(hour: u32, minute: u32, now: Timestamp) -> Option<Timestamp> {
    let secs = (now / 1000) as libc::time_t;
    // SAFETY: localtime_r and mktime on a tm this function owns.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() {
            return None;
        }
        tm.tm_hour = hour as i32;
        tm.tm_min = minute as i32;
        tm.tm_sec = 0;
        tm.tm_isdst = -1;
        let mut at = libc::mktime(&mut tm) as i64 * 1000;
        if at <= now - 60_000 {
            at += 24 * 3600 * 1000;
        }
        Some(at)
    }
}

#[cfg(not(unix))]
fn local_next(_hour: u32, _minute: u32, _now: Timestamp) -> Option<Timestamp> {
    None
}

#[cfg(test)]
mod limit_tests {
    use super::*;

    /// A time zone six hours east of UTC without summer time (Asia/Dhaka's), in POSIX
    /// form so it needs no zone files.
    pub(crate) const UTC_PLUS_6: &str = "<+06>-6";

    /// Whether this process's local time zone is `tz`. When it is not, runs the test
    /// `test` (its path in the crate) again in a process whose zone is, checks that it
    /// ran and passed there, and returns false: the caller returns, its checks made by
    /// that process. A time read as local must be tested outside UTC, where most
    /// machines that run tests are, and the process's own `TZ` is shared by every test.
    pub(crate) fn in_time_zone(test: &str, tz: &str) -> bool {
        if std::env::var("TZ").as_deref() == Ok(tz) {
            return true;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env("TZ", tz)
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{test} with TZ={tz}:\n{stdout}\n{stderr}"
        );
        false
    }

    #[test]
    fn clock_times_read_as_the_next_such_moment() {
        let now = 1_796_137_400_000; // 2026-12-01 15:03:20 UTC
        let day = 24 * 3600 * 1000;
        let next = |t: &str| next_clock_time(t, now).unwrap();
        // In any time zone: within the coming day (a minute ago still counts), a minute
        // apart where a minute apart, and 12 hours between 12am and 12pm.
        for t in ["3:04 PM", "3pm", "9am", "12am", "12pm", "15:04", "23:59"] {
            let at = next(t);
            assert!(at > now - 60_000 && at <= now + day, "{t}: {at}");
        }
        assert_eq!((next("3:05 PM") - next("3:04 PM")).rem_euclid(day), 60_000);
        assert_eq!(
            (next("12pm") - next("12am")).rem_euclid(day),
            12 * 3600 * 1000
        );
        assert_eq!(next("15:04"), next("3:04pm"));
        assert_eq!(next_clock_time("noon", now), None);
        assert_eq!(next_clock_time("13pm", now), None);
        assert_eq!(next_clock_time("3:60 PM", now), None);
    }
}

/// An activity context for the agents' unit tests: session `app-1` in `dir` (its
/// workspace and agent directory), with the hooks' last `report` and the `screen`.
#[cfg(test)]
pub(crate) fn test_context(
    dir: &Path,
    report: Option<AgentReport>,
    screen: &str,
) -> ao_core::plugin::ActivityContext {
    ao_core::plugin::ActivityContext {
        session: ao_core::model::SessionId::new("app", 1),
        workspace: dir.to_owned(),
        scratch_dir: dir.to_owned(),
        agent_session_id: None,
        started_at: None,
        report,
        recent_output: Some(screen.to_owned()),
        idle_after_ms: 300_000,
        now: 1_000_000,
        last_output_at: None,
    }
}

#[cfg(test)]
mod reading_tests {
    use super::*;

    fn signs() -> ScreenSigns {
        ScreenSigns {
            dialog: |s| s.contains("Allow?").then(|| "Allow?".to_owned()),
            working: |s| s.contains("esc to cancel"),
            refused: |s| s.contains("Request cancelled."),
        }
    }

    #[test]
    fn a_reported_question_stands_until_the_screen_shows_it_answered() {
        let signs = signs();
        // Not drawn yet: the screen shows neither the question nor an answer.
        assert_eq!(reported_question("> Write the file\n", &signs), None);
        assert_eq!(reported_question("Allow?\n", &signs), None);
        // Allowed, at work again.
        assert_eq!(
            reported_question("esc to cancel\n", &signs),
            Some(Activity::Active)
        );
        // Refused: the turn ended on it.
        assert_eq!(
            reported_question("Request cancelled.\n", &signs),
            Some(Activity::Ready)
        );
    }

    #[test]
    fn a_reported_question_on_a_screen_that_has_not_drawn_it_is_still_asked() {
        let report = AgentReport {
            activity: Activity::WaitingInput,
            detail: Some("asks permission".into()),
            at: 999_000,
            agent_session_id: None,
            log_path: None,
        };
        let ctx = test_context(Path::new("/nowhere"), Some(report), "> Write the file\n");
        let r = after_hook(ctx.report.as_ref().unwrap(), &ctx, &signs());
        assert_eq!(r.activity, Activity::WaitingInput);
        assert_eq!(r.source, ActivitySource::Hook);
        assert_eq!(r.detail.as_deref(), Some("asks permission"));
    }

    #[test]
    fn a_pending_task_is_never_ready_on_the_screen_alone() {
        assert_eq!(screen_alone(false, true), Activity::Active);
        assert_eq!(screen_alone(true, false), Activity::Active);
        assert_eq!(screen_alone(false, false), Activity::Ready);
    }

    #[test]
    fn a_start_on_a_task_is_noted_and_a_start_without_one_forgets_it() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = test_context(dir.path(), None, "");
        assert!(!started_on_task(&ctx));
        note_task("x", dir.path(), "Write the file").unwrap();
        assert!(started_on_task(&ctx));
        note_task("x", dir.path(), "").unwrap();
        assert!(!started_on_task(&ctx));
        note_task("x", dir.path(), "").unwrap();
    }
}
