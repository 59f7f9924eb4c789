//! `ao init`: writes a commented agent-orchestrator.yaml for the repository it runs in.

use crate::cli::InitArgs;
use crate::detect::{self, GithubAuth};
use crate::error::UserError;
use crate::ui::Paint;
use ao_core::config::{
    CONFIG_FILE_NAMES, ao_home, is_valid_prefix, json_schema_text, load_str, process_env,
};
use ao_core::registry::PluginRegistry;
use ao_core::repo::{self, BranchSource, RepoError, RepoFacts};
use ao_plugins::github::{is_github_com, is_github_host};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The schema file's name under `$AO_HOME/schema/`.
const SCHEMA_FILE: &str = "agent-orchestrator.schema.json";

/// What goes into the file.
struct Choices {
    project: String,
    agent: String,
    /// For the `command` agent: its command line.
    command: Option<String>,
    default_branch: String,
}

pub fn run(args: InitArgs) -> anyhow::Result<ExitCode> {
    let cwd = super::cwd()?;
    let dir = match &args.dir {
        Some(d) => cwd.join(d),
        None => cwd,
    };
    if !dir.is_dir() {
        return Err(
            UserError::usage(format!("{} is not a directory", dir.display()))
                .hint("pass the path of your repository's clone")
                .into(),
        );
    }
    let facts = repo::inspect(&dir).map_err(|e| match e {
        RepoError::NotARepo(_) => {
            UserError::usage(format!("{} is not inside a git repository", dir.display()))
                .hint("run `ao init` in your project's clone (or `git init` first)")
        }
        RepoError::Bare(p) => UserError::usage(format!(
            "{} is a bare repository, with no working tree for agents",
            p.display()
        ))
        .hint("run `ao init` in a clone with a working tree"),
        other => UserError::failed(other.to_string()),
    })?;
    let target = facts.workdir.join(CONFIG_FILE_NAMES[0]);
    if !args.force
        && let Some(existing) = CONFIG_FILE_NAMES
            .iter()
            .map(|n| facts.workdir.join(n))
            .find(|p| p.exists())
    {
        return Err(UserError::failed(format!("{} already exists", existing.display()))
            .hint("keep it, check it with `ao config validate`, or run `ao init --force` to replace it")
            .into());
    }

    let tmux = detect::which("tmux").and_then(|t| detect::version_line(&t, &["-V"]));
    // Each agent's program is its registry entry's.
    let registry = ao_plugins::builtin_registry();
    let agents_found: Vec<&str> = registry
        .agent_clis()
        .into_iter()
        .filter(|(_, cli)| detect::which(cli.program).is_some())
        .map(|(agent, _)| agent)
        .collect();
    let auth = detect::github_auth();

    let interactive =
        !args.auto && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let mut choices = Choices {
        project: project_id(&facts),
        // With no agent CLI installed, a terminal is offered the `command` agent, which
        // runs any CLI; asking nothing, ao names the default agent and says what is missing.
        agent: match agents_found.first() {
            Some(found) => found,
            None if interactive => "command",
            None => "claude-code",
        }
        .to_owned(),
        command: None,
        default_branch: facts.default_branch.clone(),
    };
    if interactive {
        ask(&mut choices, &registry, &agents_found)?;
    }

    let home = ao_home(&process_env);
    let schema_path = home.join("schema").join(SCHEMA_FILE);
    let text = render(&facts, &choices, &schema_path);
    // What ao writes must load: check it before it touches the disk.
    if let Err(e) = load_str(&text, &target, &registry, &process_env) {
        return Err(
            UserError::failed(format!("the generated config does not validate:\n{e}"))
                .hint("this is a bug in ao init; please report it with the output above")
                .into(),
        );
    }
    write_atomically(&schema_path, json_schema_text().as_bytes()).map_err(|e| {
        UserError::failed(format!(
            "cannot write the schema to {}: {e}",
            schema_path.display()
        ))
    })?;
    write_atomically(&target, text.as_bytes())
        .map_err(|e| UserError::failed(format!("cannot write {}: {e}", target.display())))?;

    let paint = Paint::stdout();
    println!("{} {}", paint.green("wrote"), target.display());
    println!("  project        {}", choices.project);
    match &facts.remote {
        Some(r) if is_github_host(&r.host) => {
            println!("  repo           {} ({})", r.slug(), r.host)
        }
        Some(r) => println!(
            "  repo           {} on {}: not a GitHub host, so the GitHub tracker and pull requests are off",
            r.slug(),
            r.host
        ),
        None => match &facts.origin_url {
            Some(url) => println!(
                "  repo           not detected: origin's URL ({url}) is not a host/owner/repo address"
            ),
            None => println!(
                "  repo           not detected: no `origin` remote; set `repo: owner/name` once there is one"
            ),
        },
    }
    let branch_note = match facts.branch_source {
        BranchSource::OriginHead => "from origin/HEAD",
        BranchSource::Main | BranchSource::Master => "origin/HEAD not set; found the branch",
        BranchSource::Assumed => "not detected (no origin/HEAD, main or master); check it",
    };
    println!(
        "  default branch {} ({branch_note})",
        choices.default_branch
    );
    if facts.detached_head {
        println!("  note           HEAD is detached; sessions still start from the default branch");
    }
    println!(
        "  agent          {} ({})",
        choices.agent,
        agent_note(&choices, &registry, &agents_found)
    );
    println!(
        "  tracker        {}",
        if on_github(&facts) {
            "github (the issues of `repo`; `ao spawn PROJECT --prompt TEXT` takes a task as text)"
        } else {
            "prompt (tasks as text, `ao spawn PROJECT --prompt TEXT`: origin is not on GitHub)"
        }
    );
    println!(
        "  tmux           {}",
        tmux.unwrap_or_else(
            || "not found: install tmux (apt-get install tmux, brew install tmux)".to_owned()
        )
    );
    println!(
        "  github auth    {}",
        match auth {
            GithubAuth::Missing => "no token: set GH_TOKEN, or run `gh auth login`".to_owned(),
            other => other.describe(),
        }
    );
    println!("  schema         {}", schema_path.display());
    println!();
    println!("Next: `ao doctor` checks everything ao needs.");
    Ok(ExitCode::SUCCESS)
}

/// Whether origin is a repository on GitHub (github.com or an Enterprise host).
fn on_github(facts: &RepoFacts) -> bool {
    facts
        .remote
        .as_ref()
        .is_some_and(|r| is_github_host(&r.host))
}

/// What init found of the chosen agent, and what to do when it is missing.
fn agent_note(choices: &Choices, registry: &PluginRegistry, agents_found: &[&str]) -> String {
    if let Some(command) = &choices.command {
        return format!("runs `{command}`");
    }
    if agents_found.contains(&choices.agent.as_str()) {
        return format!("found: {}", agents_found.join(", "));
    }
    if agents_found.is_empty() {
        let example = registry
            .agent_clis()
            .first()
            .map(|(_, cli)| format!(" (e.g. `{}`)", cli.install))
            .unwrap_or_default();
        return format!(
            "no agent CLI found on PATH: install one{example}, or run `ao init --force` on a terminal and choose `command`, which runs any CLI"
        );
    }
    let program = registry
        .agent_cli(&choices.agent)
        .map_or(choices.agent.as_str(), |cli| cli.program);
    format!(
        "`{program}` is not on PATH; found: {}",
        agents_found.join(", ")
    )
}

/// The project id: the repository's name, else the directory's, made safe.
fn project_id(facts: &RepoFacts) -> String {
    let raw = facts
        .remote
        .as_ref()
        .map(|r| r.name.clone())
        .or_else(|| {
            facts
                .workdir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "project".to_owned());
    ao_core::config::project_id_from(&raw)
}

/// Asks for the few real choices on a terminal; Enter keeps the default.
fn ask(
    choices: &mut Choices,
    registry: &PluginRegistry,
    agents_found: &[&str],
) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut prompt = |question: &str, default: &str| -> anyhow::Result<String> {
        print!("{question} [{default}]: ");
        std::io::stdout().flush()?;
        let answer = lines.next().transpose()?.unwrap_or_default();
        let answer = answer.trim();
        Ok(if answer.is_empty() {
            default.to_owned()
        } else {
            answer.to_owned()
        })
    };
    loop {
        let id = prompt("Project id", &choices.project)?;
        if is_valid_prefix(&id) {
            choices.project = id;
            break;
        }
        println!("  a project id holds only letters, digits, `-` and `_`");
    }
    if agents_found.is_empty() {
        println!(
            "  No agent CLI is on PATH. The `command` agent runs any CLI you name; with tasks given as text (`ao spawn PROJECT --prompt TEXT`), trying ao needs no account."
        );
    }
    // Every built-in agent, the ones found on PATH marked as such.
    let mut known: Vec<&str> = registry
        .agent_clis()
        .into_iter()
        .map(|(agent, _)| agent)
        .collect();
    known.push("command");
    let offer: Vec<String> = known
        .iter()
        .map(|a| {
            if agents_found.contains(a) {
                format!("{a} (found)")
            } else {
                (*a).to_owned()
            }
        })
        .collect();
    loop {
        let agent = prompt(&format!("Agent: {}", offer.join(", ")), &choices.agent)?;
        if known.contains(&agent.as_str()) {
            choices.agent = agent;
            break;
        }
        println!("  choose one of: {}", known.join(", "));
    }
    if choices.agent == "command" {
        loop {
            let line = prompt("The agent's command line (any CLI)", "")?;
            match shell_words::split(&line).map(|w| w.len()) {
                Ok(n) if n > 0 => {
                    choices.command = Some(line);
                    break;
                }
                _ => println!("  give the program to run and its arguments, e.g. my-agent --yes"),
            }
        }
    }
    choices.default_branch = prompt("Default branch", &choices.default_branch)?;
    Ok(())
}

/// A YAML double-quoted scalar; JSON string syntax is valid YAML, and escapes everything.
fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

/// The commented config file.
fn render(facts: &RepoFacts, c: &Choices, schema_path: &Path) -> String {
    let mut out = String::new();
    let mut line = |s: &str| {
        out.push_str(s);
        out.push('\n');
    };
    line(&format!(
        "# yaml-language-server: $schema={}",
        schema_path.display()
    ));
    line("# ao configuration. `ao config validate` checks this file; `ao config schema` prints");
    line("# the schema above, which describes every key. ${VAR} and ${VAR:-default} expand from");
    line("# the environment.");
    line("");
    line("defaults:");
    line("  runtime: tmux          # tmux | process");
    line(&format!(
        "  agent: {}{}# claude-code | codex | aider | opencode | gemini | qwen-code | copilot | kilo | cline | command (presets: crush, amp, auggie, cursor)",
        c.agent,
        " ".repeat(16usize.saturating_sub(c.agent.len()))
    ));
    line("  workspace: worktree    # worktree | clone");
    line("  # notifiers: [desktop]");
    line("");
    line("projects:");
    line(&format!("  {}:", c.project));
    line("    # Where the clone is; relative paths are relative to this file.");
    line("    path: .");
    match &facts.remote {
        Some(r) if is_github_host(&r.host) => line(&format!("    repo: {}", quote(&r.slug()))),
        Some(r) => line(&format!(
            "    # repo: {}   # {} is not a GitHub host",
            quote(&r.slug()),
            r.host
        )),
        None => match &facts.origin_url {
            Some(url) => line(&format!(
                "    # repo: owner/name   # origin's URL ({}) is not a host/owner/repo address",
                quote(url)
            )),
            None => line("    # repo: owner/name   # no origin remote was found"),
        },
    }
    line(&format!("    defaultBranch: {}", quote(&c.default_branch)));
    line(&format!(
        "    sessionPrefix: {}   # session ids are {}-1, {}-2, ...",
        c.project, c.project, c.project
    ));
    match &facts.remote {
        Some(r) if is_github_host(&r.host) => {
            line("    # Issues of `repo`; `prompt` takes tasks only as --prompt text.");
            line("    tracker:");
            line("      plugin: github");
            if !is_github_com(&r.host) {
                line(&format!("      host: {}", quote(&r.host)));
                line("    scm:");
                line("      plugin: github");
                line(&format!("      host: {}", quote(&r.host)));
            }
        }
        _ => {
            line("    # Tasks come as --prompt text: origin is not on GitHub.");
            line("    tracker:");
            line("      plugin: prompt");
        }
    }
    line("    # Files the worktree needs that git does not track (paths inside the repo):");
    line("    # copy: [.env]");
    line("    # symlinks: [node_modules]");
    line("    # Commands run in each new worktree, in order:");
    line("    # postCreate:");
    line("    #   - npm ci");
    line("    agentConfig:");
    if let Some(command) = &c.command {
        line(&format!(
            "      command: {}   # split into words as a shell would, without a shell",
            quote(command)
        ));
    }
    line("      permissions: permissionless   # permissionless | default | auto-edit | suggest");
    line("      # model: ...");
    line("      # env:");
    line("      #   SOME_VAR: ${SOME_VAR}");
    line("    # agentRules: |");
    line("    #   Run the tests before pushing.");
    line("    # agentRulesFile: .agent-rules.md");
    line("    # maxSessions: 5");
    line("");
    line("# notifiers:");
    line("#   slack:");
    line("#     plugin: slack");
    line("#     webhook: ${SLACK_WEBHOOK_URL}");
    line("# notificationRouting:");
    line("#   urgent: [desktop, slack]");
    line("#   action: [desktop]");
    line("# reactions:");
    line("#   ci-failed:");
    line("#     action: send-to-agent");
    line("#     retries: 2");
    line("#   approved-and-green:");
    line("#     auto: true");
    line("#     action: auto-merge");
    line("# External plugins (shared libraries built with ao-plugin-sdk), named like built-ins:");
    line("# plugins:");
    line("#   - name: my-tracker");
    line("#     path: ./plugins/libmy_tracker.so");
    out
}

/// Writes through a temporary file and a rename, so no reader sees half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
