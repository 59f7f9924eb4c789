//! What the reference format allows that ao does not support yet. Such keys and plugin
//! names load with a warning that names them, never an error, so a file written for the
//! reference system works unchanged.

/// If `key` of the section deserialized as `owner` is a reference-format key ao does not
/// support yet, a note on what ao does instead.
pub fn unsupported_key(owner: &str, key: &str) -> Option<&'static str> {
    let note = match (owner, key) {
        ("Config", "terminalPort" | "directTerminalPort") => {
            "the dashboard's terminals share `port`"
        }
        ("Config", "lifecycle") => "`ao session cleanup` removes finished sessions",
        ("Defaults" | "ProjectConfig", "orchestrator" | "worker") => {
            "ao has no orchestrator agent; set `agent` and `agentConfig` for the project"
        }
        ("ProjectConfig", "orchestratorRules" | "orchestratorSessionStrategy") => {
            "ao has no orchestrator agent"
        }
        ("ProjectConfig", "storageKey" | "originUrl" | "resolveError") => {
            "ao keeps its state in one store under $AO_HOME"
        }
        ("ProjectConfig", "opencodeIssueSessionStrategy") => {
            "ao starts one opencode session per ao session"
        }
        ("AgentConfig", "orchestratorModel") => "ao has no orchestrator agent; `model` applies",
        ("AgentConfig", "opencodeSessionId") => "ao records each session's opencode id itself",
        ("ExternalPlugin", "package" | "version") => {
            "ao loads external plugins from shared libraries named by `path`"
        }
        _ => return None,
    };
    Some(note)
}

/// Keys of a plugin section (`tracker:`, `scm:`, a notifier) that only the reference format
/// has: an npm package or a local JavaScript path.
pub const PLUGIN_SECTION_KEYS: &[&str] = &["package", "path"];

/// Built-in plugin names of the reference format that ao does not ship, per slot.
pub fn unsupported_plugin(slot: &str, name: &str) -> bool {
    matches!(
        (slot, name),
        ("tracker", "linear" | "gitlab" | "jira")
            | ("scm", "gitlab")
            | ("notifier", "composio" | "openclaw")
    )
}
