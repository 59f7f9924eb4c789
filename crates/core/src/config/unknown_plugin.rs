//! Plugin names ao has no plugin for. A config may name one (a typo, or a name from a file
//! written for the reference format): it loads with a warning, and only a command that
//! needs the plugin fails, saying where the name is written. `tracker: none` means no
//! tracker; a notifier of the reference format that ao does not have is skipped.

use super::diag::did_you_mean;
use super::reference;
use crate::plugin::Slot;

/// The tracker name that means "no tracker": sessions take their task from `--prompt`.
pub const NO_TRACKER: &str = "none";

/// Why a notification routed to the notifier plugin `name` is skipped rather than failed,
/// when `name` is a notifier of the reference format that ao does not have.
pub fn skipped_notifier(name: &str) -> Option<String> {
    if reference::unsupported_plugin("notifier", name) {
        Some(format!("ao has no `{name}` notifier"))
    } else {
        None
    }
}

/// What fails while a config names a plugin of `slot` that ao does not have.
fn what_fails(slot: Slot) -> &'static str {
    match slot {
        Slot::Runtime | Slot::Agent | Slot::Workspace => {
            "`ao spawn` and `ao session restore` fail until it is changed"
        }
        Slot::Tracker => "`ao issue ls` and spawning by issue fail until it is changed",
        Slot::Scm => "pull requests are not followed until it is changed",
        Slot::Notifier => "notifications routed to it fail",
    }
}

/// What to tell the user about a plugin name ao has no plugin for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// What is wrong and what it means, in one sentence.
    pub message: String,
    /// What to write instead.
    pub hint: String,
}

/// Describes the plugin name `name` of `slot` (printed as `shown`, so that a value from
/// the environment is not), which is none of `known`: the plugins ao has for the slot,
/// built in or loaded.
pub fn describe(slot: Slot, name: &str, shown: &str, known: &[&str]) -> Unknown {
    let mut names: Vec<&str> = known.to_vec();
    if slot == Slot::Tracker {
        names.push(NO_TRACKER);
    }
    names.sort_unstable();
    names.dedup();
    let list = names.join(", ");
    let (message, hint) = match (slot, name) {
        (Slot::Notifier, _) if skipped_notifier(name).is_some() => (
            format!(
                "{}: notifications routed to `{shown}` are skipped",
                skipped_notifier(name).unwrap_or_default()
            ),
            format!("route them to a notifier ao has as well: {list}"),
        ),
        (Slot::Workspace, "local") => (
            format!(
                "ao has no workspace plugin `{shown}`: a session never works in the project's own checkout, and {}",
                what_fails(slot)
            ),
            "set `workspace: worktree` (the default: a git worktree per session) or `clone`"
                .into(),
        ),
        (Slot::Agent, "custom") => (
            format!("ao has no agent plugin `{shown}`: {}", what_fails(slot)),
            "to run a CLI of your own, set `agent: command` and `agentConfig.command` to it, e.g. [\"my-agent\", \"--yes\"]".into(),
        ),
        _ if reference::unsupported_plugin(slot.as_str(), name) => (
            format!(
                "ao has no {slot} plugin `{shown}` yet: {}",
                what_fails(slot)
            ),
            format!("ao's {slot} plugins: {list}; or build one as an external plugin"),
        ),
        _ => (
            format!("unknown {slot} plugin `{shown}`: {}", what_fails(slot)),
            match did_you_mean(name, names.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("{slot} plugins: {list}"),
            },
        ),
    };
    Unknown { message, hint }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_gets_the_name_meant_and_a_name_of_the_reference_format_what_to_write() {
        let trackers = ["github", "prompt"];
        assert_eq!(
            describe(Slot::Tracker, "githb", "githb", &trackers).hint,
            "did you mean `github`?"
        );
        assert_eq!(
            describe(Slot::Tracker, "non", "non", &trackers).hint,
            "did you mean `none`?"
        );
        let local = describe(Slot::Workspace, "local", "local", &["clone", "worktree"]);
        assert!(local.hint.contains("`workspace: worktree`"), "{local:?}");
        let custom = describe(Slot::Agent, "custom", "custom", &["command"]);
        assert!(custom.hint.contains("`agent: command`"), "{custom:?}");
        let lacking = describe(Slot::Notifier, "composio", "composio", &["desktop"]);
        assert!(
            lacking.message.starts_with("ao has no `composio` notifier"),
            "{lacking:?}"
        );
        let far = describe(Slot::Runtime, "screen", "screen", &["process", "tmux"]);
        assert_eq!(far.hint, "runtime plugins: process, tmux");
    }

    #[test]
    fn only_notifiers_ao_lacks_from_the_reference_are_skipped() {
        assert!(skipped_notifier("dashboard").is_none());
        assert!(skipped_notifier("composio").is_some());
        assert!(skipped_notifier("desktp").is_none());
    }
}
