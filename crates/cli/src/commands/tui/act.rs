//! What the keys do to sessions: the same `Manager` calls as the commands, with the
//! same words for what was done and the same refusals, each on a thread of its own so
//! the screen stays live while it runs. Attaching suspends the screen instead.

use super::Msg;
use crate::commands::session::user;
use crate::error::UserError;
use ao_core::session::{KillOptions, Manager, Sent};
use std::sync::Arc;
use std::sync::mpsc::Sender;

/// One thing to do to a session.
#[derive(Debug, Clone)]
pub enum Act {
    /// Type a line into its agent (`ao send`).
    Send(String),
    /// Answer its agent's question with a key's text, at once.
    Answer(String),
    /// Merge its pull request (`ao session merge`).
    Merge,
    /// Kill it (`ao session kill`, without --force: unsaved work refuses).
    Kill,
    /// Restore it (`ao session restore`).
    Restore,
}

/// What an act ended with: the line the command would print, or its error and hint.
pub type Outcome = Result<String, String>;

/// Runs `act` on session `id` on a thread; its outcome comes back as [`Msg::Done`].
pub fn start(m: Arc<Manager>, id: String, act: Act, to: Sender<Msg>) {
    let spawned = std::thread::Builder::new()
        .name("ao-tui-act".into())
        .spawn({
            let to = to.clone();
            move || {
                let outcome = run(&m, &id, act);
                let _ = to.send(Msg::Done(outcome));
            }
        });
    if let Err(e) = spawned {
        let _ = to.send(Msg::Done(Err(format!("cannot start a thread: {e}"))));
    }
}

/// Spawns from the `c` prompt, as `ao spawn` does: `label:L` spawns for the label's open
/// issues, an issue (`12`, `#12`, `ENG-3`, an address) for it, any other text as the task's
/// prompt. It runs `ao spawn` itself, so the outcome reads as the command's.
pub fn spawn(project: String, input: String, to: Sender<Msg>) {
    let _ = std::thread::Builder::new()
        .name("ao-tui-spawn".into())
        .spawn(move || {
            let mut args = vec!["spawn".to_owned(), project];
            let input = input.trim();
            if let Some(label) = input.strip_prefix("label:") {
                args.extend(["--label".to_owned(), label.trim().to_owned()]);
            } else if looks_like_issue(input) {
                args.extend(input.split_whitespace().map(str::to_owned));
            } else {
                args.extend(["--prompt".to_owned(), input.to_owned()]);
            }
            let outcome = match std::env::current_exe().and_then(|ao| {
                std::process::Command::new(ao)
                    .args(&args)
                    .stdin(std::process::Stdio::null())
                    .output()
            }) {
                Err(e) => Err(format!("cannot run ao spawn: {e}")),
                Ok(out) => {
                    let said = |b: &[u8]| {
                        String::from_utf8_lossy(b)
                            .lines()
                            .map(str::trim)
                            .filter(|l| !l.is_empty())
                            .collect::<Vec<_>>()
                            .join("; ")
                    };
                    let (stdout, stderr) = (said(&out.stdout), said(&out.stderr));
                    if out.status.success() {
                        Ok(format!("spawned {stdout}{}", sep(&stderr)))
                    } else {
                        Err(if stderr.is_empty() { stdout } else { stderr })
                    }
                }
            };
            let _ = to.send(Msg::Done(outcome));
        });
}

fn sep(s: &str) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!(" ({s})")
    }
}

/// Whether the words are issues rather than a task: each a number, `#N`, `KEY-N` or an
/// address.
fn looks_like_issue(input: &str) -> bool {
    !input.is_empty()
        && input.split_whitespace().all(|w| {
            let n = w.trim_start_matches('#');
            n.chars().all(|c| c.is_ascii_digit())
                || w.starts_with("https://")
                || w.starts_with("http://")
                || w.split_once('-').is_some_and(|(k, n)| {
                    !k.is_empty()
                        && k.chars().all(|c| c.is_ascii_alphanumeric())
                        && !n.is_empty()
                        && n.chars().all(|c| c.is_ascii_digit())
                })
        })
}

fn run(m: &Arc<Manager>, id: &str, act: Act) -> Outcome {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start ao's async runtime: {e}"))?;
    let said = |e| words(user(e));
    match act {
        Act::Send(text) => {
            let sent = rt.block_on(m.send(id, &text)).map_err(said)?;
            Ok(match sent {
                Sent::Taken => format!("{id}: sent; the agent took it"),
                Sent::Queued => format!(
                    "{id}: sent while the agent works; it reads the message when its turn ends"
                ),
                Sent::Typed => format!("{id}: typed into the agent's terminal"),
                Sent::TypedAtOnce => {
                    format!("{id}: typed into its terminal at once, without waiting or checking")
                }
            })
        }
        Act::Answer(text) => {
            rt.block_on(m.send_now(id, &text)).map_err(said)?;
            Ok(format!("{id}: answered {text}"))
        }
        Act::Merge => {
            let merged = rt
                .block_on(m.merge(id, ao_core::plugin::MergeMethod::Merge, false))
                .map_err(said)?;
            Ok(format!(
                "{id}: merged pull request #{} ({}) at {}",
                merged.pr.number,
                merged.pr.url,
                &merged.head_sha[..merged.head_sha.len().min(12)],
            ))
        }
        Act::Kill => {
            let opts = KillOptions {
                keep_workspace: false,
                force: false,
            };
            let report = rt.block_on(m.kill(id, opts)).map_err(said)?;
            let verb = if report.cancelled_spawn {
                "was still spawning; the spawn was cancelled and undone"
            } else {
                "killed"
            };
            Ok(match report.done.first() {
                Some(d) if d.starts_with("was already") => format!("{id} {d}"),
                None => format!("{id} {verb}"),
                Some(_) => format!("{id} {verb}: {}", report.done.join("; ")),
            })
        }
        Act::Restore => {
            let s = rt.block_on(m.restore(id)).map_err(said)?;
            Ok(format!("{} restored on {}", s.id, s.branch))
        }
    }
}

/// An error as one line: its sentence and, after it, its hint.
fn words(e: anyhow::Error) -> String {
    match e.downcast::<UserError>() {
        Ok(u) => match u.hint {
            Some(h) => format!("{} (hint: {h})", u.message),
            None => u.message,
        },
        Err(e) => e.to_string(),
    }
}

/// Attaches this terminal to session `id` as `ao attach` does, and returns when the user
/// detaches. Inside a pane of ao's own tmux server, the client switches to the session
/// instead, and the TUI stays where it was.
pub fn attach(m: &Manager, id: &str) -> Outcome {
    let info = m.attach_info(id).map_err(|e| words(user(e)))?;
    let (program, args) = info
        .argv
        .split_first()
        .ok_or_else(|| "the runtime gave no way to attach".to_owned())?;
    let mut args = args.to_vec();
    if let Some(switch) = args.iter().position(|a| a == "switch-client") {
        let out = std::process::Command::new(program)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("cannot run `{program}`: {e}"))?;
        if out.status.success() {
            // tmux's own key for the last session brings this client back here.
            let prefix = std::process::Command::new(program)
                .args(&args[..switch])
                .args(["show-options", "-gv", "prefix"])
                .stdin(std::process::Stdio::null())
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .filter(|p| !p.is_empty() && p != "None")
                .unwrap_or_else(|| "the tmux prefix".to_owned());
            let back = format!("{prefix} L (tmux's last session) comes back to ao tui");
            // Said where the person now looks: on the status line of the session they
            // switched to.
            let _ = std::process::Command::new(program)
                .args(&args[..switch])
                .args(["display-message", "-d", "5000", back.as_str()])
                .stdin(std::process::Stdio::null())
                .output();
            return Ok(format!("{id}: switched to it; {back}"));
        }
        args[switch] = "attach-session".to_owned();
    }
    let mut cmd = std::process::Command::new(program);
    cmd.args(&args);
    if args.iter().any(|a| a == "attach-session") {
        // A nested client of ao's own server, on purpose: tmux refuses it while $TMUX is set.
        cmd.env_remove("TMUX");
    }
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run `{program}`: {e}"))?;
    if status.success() {
        Ok(format!("{id}: detached"))
    } else {
        Err(format!("`{}` ended with {status}", info.argv.join(" ")))
    }
}

#[cfg(test)]
mod tests {
    use super::looks_like_issue;

    #[test]
    fn issues_are_told_from_a_prompt() {
        for issue in ["12", "#12", "ENG-3", "12 13", "https://example.invalid/i/1"] {
            assert!(looks_like_issue(issue), "{issue}");
        }
        for prompt in ["fix the login page", "", "add-tests"] {
            assert!(!looks_like_issue(prompt), "{prompt}");
        }
    }
}
