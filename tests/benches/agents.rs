//! Agent benchmarks against the real CLIs and the scripted model (run: `cargo bench -p
//! ao-tests --bench agents [-- AGENT...]`; the CLIs must be on PATH, and an agent whose
//! CLI is missing is skipped), each figure with its target and a verdict; `cargo bench`
//! fails when a target is missed. Targets are meant for a quiet machine.
//!
//! - From the model's last streamed token of a turn to `ao status` reporting `ready`,
//!   for Claude Code, Gemini CLI and Qwen Code (hooks), Codex (notify program), opencode
//!   and Kilo Code (ao's reporter plugin) and GitHub Copilot CLI (its event log): under
//!   1 s, median of 10 turns.
//! - From the model's permission-needing tool call to `ao status` reporting
//!   `waiting_input` (Claude Code, Gemini CLI and Qwen Code through their hooks, opencode
//!   and Kilo Code through the reporter, Copilot through its event log, Codex through its
//!   screen): under 2 s, median of 5.
//!
//! `cargo test` runs it as a quick pass: one turn and one prompt each, nothing judged.
//! Every wait has a deadline of 60 s, so a broken reading fails instead of hanging.

use ao_tests::bench::{self, Bench, Target, Unit};
use ao_tests::model::{Scenario, Step};
use ao_tests::{AgentFleet, agent_cli};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

/// The longest any one wait of the benchmark may take.
const DEADLINE: Duration = Duration::from_secs(60);

fn held(i: usize) -> Step {
    Step {
        text: Some(format!("Answer {i}")),
        hold: true,
        ..Step::default()
    }
}

/// Polls `ao status` until the session shows `activity`; returns when it did. Fails
/// after [`DEADLINE`] with what it showed last.
fn seen(f: &AgentFleet, activity: &str) -> SystemTime {
    let start = Instant::now();
    loop {
        let s = f.status("app-1");
        if s["activity"] == activity {
            return SystemTime::now();
        }
        assert!(start.elapsed() < DEADLINE, "never {activity}: {s:#}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn ready_latency(b: &mut Bench, agent: &str, config: &str) {
    // Turns measured, after the first, which includes the CLI's start.
    let turns = b.runs(10);
    let steps = (0..=turns).map(held).collect();
    let f = AgentFleet::new(
        agent,
        Scenario {
            steps,
            ..Scenario::default()
        },
        config,
    );
    if agent == "claude-code" {
        // Root may bypass permissions only where its user marks a sandbox.
        f.add_env("IS_SANDBOX", "1");
        let settings = f.fleet.env.home.join(".claude/settings.json");
        std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
        std::fs::write(&settings, r#"{"skipDangerousModePermissionPrompt": true}"#).unwrap();
    }
    f.ao(&["spawn", "app", "--prompt", "Turn 0"]).success();
    let mut took = Vec::new();
    for i in 0..=turns {
        if i > 0 {
            f.ao(&["send", "app-1", &format!("Turn {i}")]).success();
        }
        f.wait_hold("app-1");
        f.wait_activity("app-1", "active");
        f.model.release();
        let at = seen(&f, "ready");
        let waited = Instant::now();
        let last = loop {
            if let Some(t) = f.model.finished_at(i) {
                break t;
            }
            assert!(
                waited.elapsed() < DEADLINE,
                "turn {i} never finished at the model"
            );
            std::thread::sleep(Duration::from_millis(1));
        };
        // Turn 0 includes the CLI's start; it is not counted.
        if i > 0 {
            took.push(at.duration_since(last).unwrap_or_default());
        }
    }
    b.median(
        &format!("{agent}: last token -> `ao status` ready"),
        took.iter().copied().map(bench::ms),
        Unit::Ms,
        Target::Under(1000.0),
    );
    b.figure(
        &format!("{agent}: the slowest of those turns"),
        bench::ms(took.iter().max().copied().unwrap_or_default()),
        Unit::Ms,
        Target::None,
    );
}

/// How a permission benchmark drives one CLI's dialogs.
struct Dialogs {
    agent: &'static str,
    /// More `agentConfig` lines the CLI needs (six spaces in).
    config: &'static str,
    /// Answers the folder-trust dialog of the first run, for a CLI that shows one.
    trust: Option<fn(&AgentFleet)>,
    /// Approves the command asked about and waits until the question is gone.
    approve: fn(&AgentFleet),
}

const CLAUDE: Dialogs = Dialogs {
    agent: "claude-code",
    config: "",
    trust: Some(|f| {
        f.press_until("app-1", &["Down"], "❯ Yes, I trust this folder");
        f.keys("app-1", &["Enter"]);
    }),
    approve: |f| f.press_until_gone("app-1", &["Enter"], "Do you want to proceed?"),
};

const CODEX: Dialogs = Dialogs {
    agent: "codex",
    config: "",
    trust: Some(|f| f.keys("app-1", &["Enter"])),
    approve: |f| f.press_until_gone("app-1", &["y"], "Would you like to run"),
};

const GEMINI: Dialogs = Dialogs {
    agent: "gemini",
    config: "",
    // ao trusts the session's worktree for the session.
    trust: None,
    approve: |f| f.press_until_gone("app-1", &["Enter"], "Allow execution of"),
};

const COPILOT: Dialogs = Dialogs {
    agent: "copilot",
    config: "",
    trust: Some(|f| f.press_until_gone("app-1", &["Enter"], "Do you trust the files")),
    approve: |f| f.press_until_gone("app-1", &["Enter"], "Do you want to run this command?"),
};

const OPENCODE: Dialogs = Dialogs {
    agent: "opencode",
    config: "      model: scripted/test-model\n",
    trust: None,
    approve: |f| f.press_until_gone("app-1", &["Enter"], "Permission required"),
};

const KILO: Dialogs = Dialogs {
    agent: "kilo",
    ..OPENCODE
};

const QWEN: Dialogs = Dialogs {
    agent: "qwen-code",
    config: "",
    // Its folder trust is off unless the user turns it on.
    trust: None,
    approve: |f| f.press_until_gone("app-1", &["Enter"], "Allow execution of"),
};

fn permission_latency(b: &mut Bench, d: &Dialogs) {
    let asks = b.runs(5);
    let mut steps = Vec::new();
    for i in 0..asks {
        steps.push(Step {
            shell: Some(format!("echo {i} >> log.txt")),
            // Codex asks only for a command that would leave its sandbox.
            escalate: Some("Append to log.txt".into()),
            ..Step::default()
        });
        steps.push(Step {
            text: Some("Done.".into()),
            ..Step::default()
        });
    }
    let f = AgentFleet::new(
        d.agent,
        Scenario {
            steps,
            ..Scenario::default()
        },
        &format!("      permissions: default\n{}", d.config),
    );
    f.ao(&["spawn", "app", "--prompt", "Run step 0"]).success();
    if let Some(trust) = d.trust {
        f.wait_activity("app-1", "waiting_input");
        // The first question is the folder-trust dialog.
        trust(&f);
    }
    let mut took = Vec::new();
    for i in 0..asks {
        if i > 0 {
            f.ao(&["send", "app-1", &format!("Run step {i}")]).success();
        }
        let start = Instant::now();
        let at = loop {
            let s = f.status("app-1");
            if s["activity"] == "waiting_input"
                && s["activity_detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("permission"))
            {
                break SystemTime::now();
            }
            assert!(start.elapsed() < DEADLINE, "{s:#}");
            std::thread::sleep(Duration::from_millis(5));
        };
        let asked = f.model.finished_at(2 * i).expect("the tool call was sent");
        took.push(at.duration_since(asked).unwrap_or_default());
        (d.approve)(&f);
        f.wait_activity("app-1", "ready");
    }
    b.median(
        &format!(
            "{}: permission prompt -> `ao status` waiting_input",
            d.agent
        ),
        took.iter().copied().map(bench::ms),
        Unit::Ms,
        Target::Under(2000.0),
    );
    b.figure(
        &format!("{}: the slowest of those prompts", d.agent),
        bench::ms(took.iter().max().copied().unwrap_or_default()),
        Unit::Ms,
        Target::None,
    );
}

fn main() -> ExitCode {
    let mut b = Bench::start("agents");
    // `cargo bench -p ao-tests --bench agents -- gemini` measures that agent only.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |agent: &str| only.is_empty() || only.iter().any(|o| o == agent);
    if wanted("claude-code") && agent_cli("claude", "@anthropic-ai/claude-code").is_some() {
        ready_latency(&mut b, "claude-code", "      permissions: permissionless\n");
        permission_latency(&mut b, &CLAUDE);
    }
    if wanted("codex") && agent_cli("codex", "@openai/codex").is_some() {
        ready_latency(&mut b, "codex", "      permissions: permissionless\n");
        permission_latency(&mut b, &CODEX);
    }
    if wanted("gemini") && agent_cli("gemini", "@google/gemini-cli").is_some() {
        ready_latency(&mut b, "gemini", "      permissions: permissionless\n");
        permission_latency(&mut b, &GEMINI);
    }
    if wanted("qwen-code") && agent_cli("qwen", "@qwen-code/qwen-code").is_some() {
        ready_latency(&mut b, "qwen-code", "      permissions: permissionless\n");
        permission_latency(&mut b, &QWEN);
    }
    for (d, program, package) in [
        (&OPENCODE, "opencode", "opencode-ai"),
        (&KILO, "kilo", "@kilocode/cli"),
    ] {
        if wanted(d.agent) && agent_cli(program, package).is_some() {
            ready_latency(
                &mut b,
                d.agent,
                &format!("      permissions: permissionless\n{}", d.config),
            );
            permission_latency(&mut b, d);
        }
    }
    // Cline runs only permissionless (ao refuses its asking modes): no question to time.
    if wanted("cline") && agent_cli("cline", "cline").is_some() {
        ready_latency(&mut b, "cline", "      permissions: permissionless\n");
    }
    if wanted("copilot") && agent_cli("copilot", "@github/copilot").is_some() {
        ready_latency(&mut b, "copilot", "      permissions: permissionless\n");
        permission_latency(&mut b, &COPILOT);
    }
    b.finish()
}
