//! The command line, defined once: help, parsing and completions all come from here.

use clap::{Args, Parser, Subcommand};
use clap_complete::ArgValueCompleter;
use std::path::PathBuf;

/// Run a fleet of AI coding agents, each on one issue in its own git worktree and tmux session.
#[derive(Debug, Parser)]
#[command(name = "ao", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write agent-orchestrator.yaml for the git repository in DIR.
    Init(InitArgs),
    /// Check or describe the config file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// List plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// The registry of projects (the reference's global config).
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Check tmux, git, the agent CLIs, GitHub auth and the store; say what to fix.
    Doctor(DoctorArgs),
    /// Start one session per issue (or one for --prompt): worktree, branch, agent in tmux.
    Spawn(SpawnArgs),
    /// Sessions with branch, PR, CI, review, activity and age.
    Status(StatusArgs),
    /// Type a message into a session's agent once it is ready.
    Send(SendArgs),
    /// Attach this terminal to a session.
    Attach {
        /// The session id, e.g. app-3.
        #[arg(add = ArgValueCompleter::new(crate::complete::sessions))]
        session: String,
    },
    /// Manage sessions.
    #[command(subcommand)]
    Session(SessionCommand),
    /// A project's issues, from its tracker.
    #[command(subcommand)]
    Issue(IssueCommand),
    /// Send a notification through the configured notifiers, routed by its priority.
    Notify(NotifyArgs),
    /// The event log: what happened to sessions, and every notification's outcome.
    Events(EventsArgs),
    /// Print a shell completion script (commands, options, project and session ids).
    #[command(alias = "completion")]
    Completions(CompletionsArgs),
    /// Spawn one session per issue, skipping issues a live session already works on.
    BatchSpawn {
        /// The project id from the config.
        #[arg(add = ArgValueCompleter::new(crate::complete::projects))]
        project: String,
        /// The issues (tracker id, #N or URL).
        #[arg(required = true)]
        issues: Vec<String>,
    },
    /// Say which ao this is and how this install updates itself.
    Update,
    /// Send each session the unresolved review threads it has not had yet, now, as the
    /// host does.
    ReviewCheck {
        /// Only this project (default: every project).
        #[arg(add = ArgValueCompleter::new(crate::complete::projects))]
        project: Option<String>,
        /// Say what would be sent, and send nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Adopt the sessions the reference system runs on this machine: its records, live
    /// tmux sessions and worktrees become ao's, with no agent restarted and nothing of
    /// the reference's changed.
    Import {
        /// Say what would be adopted, and adopt nothing.
        #[arg(long)]
        dry_run: bool,
        /// The reference's data directory (default: ~/.agent-orchestrator).
        #[arg(long, value_name = "DIR")]
        from: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// An agent says it has read its task (run inside its session).
    Acknowledge {
        /// The session (default: $AO_SESSION_ID, set inside a session).
        session: Option<String>,
        /// A note for the human.
        #[arg(long)]
        note: Option<String>,
    },
    /// An agent says what it is doing (run inside its session): started, working,
    /// waiting, needs-input, fixing-ci, addressing-reviews, pr-created,
    /// draft-pr-created, ready-for-review, completed.
    Report {
        /// The state.
        state: String,
        /// The session (default: $AO_SESSION_ID, set inside a session).
        #[arg(short, long)]
        session: Option<String>,
        /// A note for the human.
        #[arg(long)]
        note: Option<String>,
        /// With pr-created: the pull request's address.
        #[arg(long)]
        pr_url: Option<String>,
        /// With pr-created: its number in the project's repository.
        #[arg(long)]
        pr_number: Option<u64>,
    },
    /// Records what an agent's own hook reports (called by the agent CLI, not by you).
    #[command(hide = true)]
    Hook {
        /// The agent plugin, e.g. claude-code.
        agent: String,
        /// What the agent passes: the event name, or its notification.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run the supervising host: it starts each project's orchestrator session, probes
    /// every session, polls their pull requests and reacts (the agent gets failing
    /// checks and review threads, the human the notifications, approved and green PRs
    /// merge where allowed). In the foreground until Ctrl-C or `ao stop`, or in the
    /// background with --detach.
    Start {
        /// Watch only these projects (default: every project of the config).
        projects: Vec<String>,
        /// Run in the background; prints its pid and where it logs.
        #[arg(long)]
        detach: bool,
        /// Do not start the projects' orchestrator sessions.
        #[arg(long)]
        no_orchestrator: bool,
        /// Serve the dashboard on this port instead of the config's `port` (default 3000).
        #[arg(long, value_name = "N", conflicts_with = "no_dashboard")]
        port: Option<u16>,
        /// Do not serve the dashboard.
        #[arg(long)]
        no_dashboard: bool,
    },
    /// Attach to a project's orchestrator session (`<prefix>-orchestrator`), the agent
    /// that runs the fleet; `ao start` starts it.
    Orchestrator {
        /// The project (default: the config's only project).
        #[arg(add = ArgValueCompleter::new(crate::complete::projects))]
        project: Option<String>,
    },
    /// End the supervising host that `ao start` runs.
    Stop {
        /// Also end every project's orchestrator session (its checkout is left as it is).
        #[arg(long)]
        all: bool,
    },
    /// Open sessions: attach to one, or, inside tmux, a new window attached to each.
    Open {
        /// The session ids.
        #[arg(required = true, add = ArgValueCompleter::new(crate::complete::sessions))]
        sessions: Vec<String>,
    },
    /// The dashboard's address with a one-time login link (and a QR code for a phone);
    /// `ao start` serves it.
    Dashboard {
        /// Print the login link only (no QR code), e.g. for a script.
        #[arg(long)]
        no_qr: bool,
        /// Do not open it in the desktop's browser.
        #[arg(long)]
        no_open: bool,
    },
    /// The fleet, live, full-screen in the terminal: zones, a session's terminal, keys to act.
    Tui(crate::commands::tui::TuiArgs),
    /// Runs a launch file written by a runtime (internal).
    #[command(name = "__launch", hide = true)]
    Launch {
        /// The launch file.
        file: PathBuf,
    },
}

/// `ao spawn`.
#[derive(Debug, Args)]
pub struct SpawnArgs {
    /// The project id from the config.
    #[arg(add = ArgValueCompleter::new(crate::complete::projects))]
    pub project: String,
    /// Issues to work on (tracker id, #N or URL), one session each.
    pub issues: Vec<String>,
    /// One session per open issue with this label (repeat for all of several) that no
    /// live session works on yet.
    #[arg(long = "label", value_name = "LABEL", conflicts_with_all = ["issues", "prompt"])]
    pub labels: Vec<String>,
    /// With --label: at most this many sessions.
    #[arg(long, requires = "labels")]
    pub limit: Option<usize>,
    /// With --label: say which issues would get a session, and start nothing.
    #[arg(long, requires = "labels")]
    pub dry_run: bool,
    /// The task as text (`-` reads it from standard input), instead of issues.
    #[arg(long)]
    pub prompt: Option<String>,
    /// Another agent plugin than the project's.
    #[arg(long)]
    pub agent: Option<String>,
    /// The branch to work on (created from the default branch, or reused if it exists).
    #[arg(long)]
    pub branch: Option<String>,
    /// Wait for a free slot under maxSessions instead of refusing.
    #[arg(long)]
    pub wait: bool,
    /// Take over this existing pull request (12, #12 or its address): the session works
    /// on its branch, and the PR is the session's.
    #[arg(long, value_name = "PR", conflicts_with_all = ["labels", "branch"])]
    pub claim_pr: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `ao status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only this project's sessions.
    #[arg(short, long, add = ArgValueCompleter::new(crate::complete::projects))]
    pub project: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Refresh in place until interrupted (every --interval seconds).
    #[arg(long)]
    pub watch: bool,
    /// With --watch: seconds between refreshes.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    pub interval: u64,
    /// Read the sessions' pull requests from the scm once (one batched poll) first;
    /// without it, `ao status` shows the last reading and uses no network.
    #[arg(long)]
    pub refresh: bool,
}

/// `ao send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The session id.
    #[arg(add = ArgValueCompleter::new(crate::complete::sessions))]
    pub session: String,
    /// The message (words are joined by spaces); `-` reads standard input.
    pub text: Vec<String>,
    /// Send the contents of this file.
    #[arg(long, conflicts_with = "text")]
    pub file: Option<PathBuf>,
    /// How long to wait for the agent to be ready, in seconds (default 30).
    #[arg(long, value_name = "SECONDS", conflicts_with = "no_wait")]
    pub timeout: Option<u64>,
    /// Type the message at once: do not wait for the agent to be ready, nor to confirm
    /// it took the message.
    #[arg(long)]
    pub no_wait: bool,
}

/// `ao issue ...`.
#[derive(Debug, Subcommand)]
pub enum IssueCommand {
    /// List the project's open issues, marking those a live session works on.
    Ls {
        /// The project id from the config.
        #[arg(add = ArgValueCompleter::new(crate::complete::projects))]
        project: String,
        /// Only issues with this label (repeat for all of several).
        #[arg(long = "label", value_name = "LABEL")]
        labels: Vec<String>,
        /// Only issues assigned to this login (`none`: to nobody, `any` or `*`: to anybody).
        #[arg(long)]
        assignee: Option<String>,
        /// Only issues of this milestone: its title or number (`none`: of no milestone,
        /// `any` or `*`: of any).
        #[arg(long)]
        milestone: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `ao session ...`.
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List sessions.
    Ls {
        /// Only this project's sessions.
        #[arg(short, long, add = ArgValueCompleter::new(crate::complete::projects))]
        project: Option<String>,
        /// Archived sessions too.
        #[arg(short, long)]
        all: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Attach this terminal to a session (as `ao attach`).
    Attach {
        /// The session id, e.g. app-3.
        #[arg(add = ArgValueCompleter::new(crate::complete::sessions))]
        session: String,
    },
    /// Show one session: its record, activity, and what its agent CLI records about its
    /// own session (id, summary, tokens, cost).
    Info {
        /// The session id.
        #[arg(add = ArgValueCompleter::new(crate::complete::sessions))]
        session: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a session's recent output without attaching.
    Output {
        /// The session id.
        #[arg(add = ArgValueCompleter::new(crate::complete::sessions))]
        session: String,
        /// How many lines.
        #[arg(short = 'n', long, default_value_t = 50)]
        lines: usize,
        /// Print the screen, then the output live until the session ends (or Ctrl-C).
        #[arg(short = 'f', long, conflicts_with = "lines")]
        follow: bool,
    },
    /// End a session's agent and remove its workspace.
    Kill {
        /// The session id.
        #[arg(add = ArgValueCompleter::new(crate::complete::sessions))]
        session: String,
        /// Leave the workspace in place.
        #[arg(long)]
        keep_workspace: bool,
        /// Remove the workspace even with uncommitted or unpushed work.
        #[arg(long)]
        force: bool,
    },
    /// Archive finished sessions and remove their workspaces.
    Cleanup {
        /// Only this project's sessions.
        #[arg(short, long, add = ArgValueCompleter::new(crate::complete::projects))]
        project: Option<String>,
        /// Say what would be done, and do nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Merge a session's pull request, if nothing blocks it; only the head ao checked.
    Merge {
        /// The session id.
        #[arg(add = ArgValueCompleter::new(crate::complete::sessions))]
        session: String,
        /// How to merge.
        #[arg(long, value_enum, default_value_t = MergeMethodArg::Merge)]
        method: MergeMethodArg,
        /// Delete the head branch after merging.
        #[arg(long)]
        delete_branch: bool,
    },
    /// Start an ended or archived session again.
    Restore {
        /// The session id.
        #[arg(add = ArgValueCompleter::new(crate::complete::sessions))]
        session: String,
    },
    /// Hand an existing pull request to a session: its checkout moves to the PR's branch
    /// (never with uncommitted work in it), and the PR is the session's from now on.
    /// The two arguments come in either order; the session defaults to $AO_SESSION_ID.
    #[command(name = "claim-pr")]
    ClaimPr {
        /// The session id, or the pull request (12, #12 or its address).
        #[arg(value_name = "SESSION|PR")]
        first: String,
        /// The pull request, or the session id.
        #[arg(value_name = "PR|SESSION")]
        second: Option<String>,
    },
}

/// `--method` of `ao session merge`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum MergeMethodArg {
    /// A merge commit.
    Merge,
    /// One squashed commit.
    Squash,
    /// The commits rebased onto the base.
    Rebase,
}

/// `ao init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Ask nothing; use what was detected.
    #[arg(long)]
    pub auto: bool,
    /// Overwrite an existing agent-orchestrator.yaml.
    #[arg(long)]
    pub force: bool,
    /// A directory inside the repository (default: the current one).
    pub dir: Option<PathBuf>,
}

/// `ao config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load and validate a config file; errors carry file:line:column.
    Validate {
        /// The file (default: the one ao would use here).
        file: Option<PathBuf>,
        /// Print the diagnostics as JSON.
        #[arg(long)]
        json: bool,
        /// Treat every warning (an unknown key, a setting ao ignores) as an error.
        #[arg(long)]
        strict: bool,
    },
    /// Print the JSON Schema of agent-orchestrator.yaml.
    Schema,
    /// The configuration in force (registry, projects' own files and defaults merged),
    /// each value with the file and line it came from.
    Show {
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `ao project ...`.
#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// List the registered projects.
    Ls {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Register the git repository at PATH.
    Add {
        /// The repository (any directory inside it).
        path: PathBuf,
        /// Its project id (default: the directory's name).
        #[arg(long)]
        id: Option<String>,
    },
    /// Remove a project from the registry (its repository and sessions stay).
    Rm {
        /// The project id.
        #[arg(add = ArgValueCompleter::new(crate::complete::projects))]
        id: String,
    },
}

/// `ao plugin ...`.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// List built-in and external plugins with slot, version and status.
    Ls {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `ao doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Send a test notification through every notifier `ao notify` would use (the default
    /// `desktop` included) and every configured one, and report each result.
    #[arg(long)]
    pub test_notify: bool,
}

/// `ao events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only this session's events.
    #[arg(long, short, add = ArgValueCompleter::new(crate::complete::sessions))]
    pub session: Option<String>,
    /// Only events of this kind (`status_changed`, `notified`, `pr_detected`, ...).
    #[arg(long, short)]
    pub kind: Option<String>,
    /// The last N events (default 50).
    #[arg(long, short = 'n', default_value_t = 50)]
    pub last: usize,
    /// Keep printing new events as they come, until interrupted.
    #[arg(long, short)]
    pub follow: bool,
    /// Print JSON (one object per line with --follow).
    #[arg(long)]
    pub json: bool,
}

/// `ao notify`.
#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// How urgent: urgent, action, warning or info; `notificationRouting` decides who hears it.
    #[arg(long, short, value_enum, default_value_t = PriorityArg::Action)]
    pub priority: PriorityArg,
    /// The session it is about.
    #[arg(long, short, add = ArgValueCompleter::new(crate::complete::sessions))]
    pub session: Option<String>,
    /// Its title.
    pub title: String,
    /// Its text.
    pub body: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// A notification's priority.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PriorityArg {
    /// The human must act now.
    Urgent,
    /// The human should act.
    Action,
    /// Something went wrong, nothing waits.
    Warning,
    /// For the record.
    Info,
}

/// `ao completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
