//! `ao hook AGENT ARGS...`: called by an agent CLI's own hooks (Claude Code's hooks,
//! Codex's notify program) to report what the agent is doing straight into the store, so
//! `ao status` is right whether or not a host runs. It never fails the agent: it prints
//! nothing on standard output (some CLIs feed that to the model) and always exits 0.

use ao_core::config::{ao_home, load_file, process_env};
use ao_core::model::SessionId;
use ao_core::plugin::Slot;
use ao_core::registry::{Factory, SectionRef};
use ao_core::store::Store;
use std::io::{IsTerminal, Read};
use std::process::ExitCode;
use std::time::Duration;

/// Records one hook call; problems go to standard error only.
pub fn run(agent: &str, args: &[String]) -> ExitCode {
    if let Err(message) = record(agent, args) {
        eprintln!("ao hook {agent}: {message}");
    }
    ExitCode::SUCCESS
}

fn record(agent: &str, args: &[String]) -> Result<(), String> {
    let Ok(id) = std::env::var("AO_SESSION_ID") else {
        // Not started by ao: nothing to report to.
        return Ok(());
    };
    let id: SessionId = id.parse().map_err(|e| format!("AO_SESSION_ID: {e}"))?;
    let mut registry = ao_plugins::builtin_registry();
    if registry.get(Slot::Agent, agent).is_none() {
        // An external agent: load the session's config and its plugins.
        let path = super::locate_config().map_err(|e| e.to_string())?;
        let loaded = load_file(&path, &registry, &process_env).map_err(|e| e.to_string())?;
        super::load_externals(&loaded, &mut registry);
    }
    let Some(Factory::Agent(build)) = registry
        .get(Slot::Agent, agent)
        .and_then(|e| e.factory.clone())
    else {
        return Err(format!("there is no agent plugin `{agent}`"));
    };
    let plugin = build(&SectionRef {
        file: std::path::Path::new(""),
        node: None,
        loc: Default::default(),
        repo: None,
    })
    .map_err(|e| e.to_string())?;
    let input = read_stdin();
    let now = ao_core::model::now_ms();
    let Some(report) = plugin.hook_report(args, &input, now) else {
        return Ok(());
    };
    let home = ao_home(&process_env);
    let mut store = Store::open(&home).map_err(|e| e.to_string())?;
    store
        .record_agent_report(&id, &report)
        .map_err(|e| e.to_string())
}

/// The hook's input on standard input, when it has one. A CLI that leaves standard input
/// open (or attached to its terminal) gets no wait beyond a moment.
fn read_stdin() -> String {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return String::new();
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::stdin().lock().read_to_string(&mut text);
        let _ = tx.send(text);
    });
    rx.recv_timeout(Duration::from_millis(500))
        .unwrap_or_default()
}
