//! `ao import`: adopting the sessions the reference system runs on this machine. Its
//! records (`<dir>/projects/<project>/sessions/<id>.json` and `orchestrator.json`) are
//! read, never written; each live one becomes an ao session with the same id (its
//! agent's `AO_SESSION_ID` is that id), the same tmux session and the same worktree,
//! none of which is touched: no agent restarts. What cannot be adopted is listed with
//! why, and a record adopted before is recognised and left alone.

use super::orchestrator::CHECKOUT;
use super::{Manager, ManagerError};
use crate::config::ResolvedProject;
use crate::git::WorktreePlace;
use crate::model::time::parse_rfc3339;
use crate::model::{
    EventKind, Priority, RuntimeHandle, Session, SessionId, SessionStatus, WorkspaceClaim, now_ms,
};
use crate::plugin::{Liveness, Probe};
use crate::store::Change;
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The shells a pane is left running once the agent the reference typed into it exits.
const SHELLS: [&str; 6] = ["bash", "zsh", "sh", "fish", "dash", "ksh"];

/// One record the import adopts (or, with `--dry-run`, would).
#[derive(Debug, Clone, Serialize)]
pub struct Adopted {
    /// The session id, as the reference named it.
    pub session: String,
    /// The ao project it belongs to.
    pub project: String,
    /// Its agent.
    pub agent: String,
    /// Its branch.
    pub branch: String,
    /// Its checkout.
    pub worktree: PathBuf,
    /// Its tmux session.
    pub tmux: String,
    /// Its status in ao.
    pub status: SessionStatus,
    /// Its pull request's number.
    pub pr: Option<u64>,
}

/// One record the import leaves, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// The session id, where the record gives one.
    pub session: String,
    /// The record's file.
    pub file: PathBuf,
    /// Why it was not adopted.
    pub reason: String,
    /// Whether it was adopted by an earlier import (nothing is wrong with it).
    pub adopted_before: bool,
}

/// What one `ao import` did.
#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    /// Where the records were read.
    pub from: PathBuf,
    /// The records adopted.
    pub adopted: Vec<Adopted>,
    /// The records left, with why.
    pub skipped: Vec<Skipped>,
    /// What the user should know beyond that (ids named after another prefix).
    pub notes: Vec<String>,
}

/// A record's fields, read as the reference writes them.
struct Record {
    file: PathBuf,
    id: String,
    raw: Value,
}

impl Record {
    fn text(&self, key: &str) -> Option<&str> {
        self.raw[key].as_str().filter(|s| !s.is_empty())
    }

    /// Its status as the reference derives it: from the lifecycle where there is one,
    /// else the stored word.
    fn status(&self) -> String {
        let lc = &self.raw["lifecycle"];
        let Some(state) = lc["session"]["state"].as_str() else {
            return self.text("status").unwrap_or("unknown").to_owned();
        };
        let reason = lc["session"]["reason"].as_str().unwrap_or("");
        let word = match state {
            "not_started" => "spawning",
            "needs_input" => "needs_input",
            "stuck" => "stuck",
            "done" => "done",
            "detecting" => "detecting",
            "terminated" => match reason {
                "manually_killed" | "runtime_lost" => "killed",
                "auto_cleanup" | "pr_merged" => "cleanup",
                "error_in_process" | "probe_failure" => "errored",
                _ => "terminated",
            },
            _ => match (lc["pr"]["state"].as_str(), lc["pr"]["reason"].as_str()) {
                (Some("merged"), _) => "merged",
                (Some("open"), Some("ci_failing")) => "ci_failed",
                (Some("open"), Some("changes_requested")) => "changes_requested",
                (Some("open"), Some("review_pending")) => "review_pending",
                (Some("open"), Some("approved")) => "approved",
                (Some("open"), Some("merge_ready")) => "mergeable",
                (Some("open"), _) => "pr_open",
                _ if state == "idle" => "idle",
                _ => "working",
            },
        };
        word.to_owned()
    }

    /// The tmux session: the runtime handle's, else the name the record keeps, else
    /// the id (the reference names its tmux sessions after them).
    fn tmux(&self) -> String {
        let handle = match &self.raw["runtimeHandle"] {
            Value::String(s) => serde_json::from_str::<Value>(s).unwrap_or(Value::Null),
            v => v.clone(),
        };
        handle["id"]
            .as_str()
            .or_else(|| self.text("tmuxName"))
            .or_else(|| self.raw["lifecycle"]["runtime"]["tmuxName"].as_str())
            .unwrap_or(&self.id)
            .to_owned()
    }

    fn runtime_name(&self) -> Option<String> {
        let handle = match &self.raw["runtimeHandle"] {
            Value::String(s) => serde_json::from_str::<Value>(s).unwrap_or(Value::Null),
            v => v.clone(),
        };
        handle["runtimeName"].as_str().map(str::to_owned)
    }

    /// Its pull request's address, which the project's scm reads.
    fn pr_url(&self) -> Option<&str> {
        self.text("pr")
            .or_else(|| self.raw["lifecycle"]["pr"]["url"].as_str())
    }

    fn is_orchestrator(&self) -> bool {
        self.text("role") == Some("orchestrator")
            || self.raw["lifecycle"]["session"]["kind"] == "orchestrator"
            || self.id.ends_with("-orchestrator")
    }
}

/// The reference's statuses for sessions that have ended.
fn ended(status: &str) -> bool {
    matches!(
        status,
        "killed" | "cleanup" | "terminated" | "merged" | "done" | "errored"
    )
}

/// ao's status for a live session of the reference's `status`.
fn status_of(status: &str) -> SessionStatus {
    match status {
        "pr_open" => SessionStatus::PrOpen,
        "ci_failed" => SessionStatus::CiFailed,
        "review_pending" => SessionStatus::ReviewPending,
        "changes_requested" => SessionStatus::ChangesRequested,
        "approved" => SessionStatus::Approved,
        "mergeable" => SessionStatus::Mergeable,
        "needs_input" => SessionStatus::NeedsInput,
        "stuck" => SessionStatus::Stuck,
        _ => SessionStatus::Working,
    }
}

/// Every record under `dir/projects/*/`: its sessions, then its orchestrator's file.
fn records(dir: &Path) -> Result<(Vec<Record>, Vec<Skipped>), ManagerError> {
    let projects = dir.join("projects");
    let mut out = Vec::new();
    let mut bad = Vec::new();
    let mut project_dirs: Vec<PathBuf> = match std::fs::read_dir(&projects) {
        Ok(entries) => entries.flatten().map(|e| e.path()).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ManagerError::refused(
                format!(
                    "there are no session records of the reference system here: {} does not exist",
                    projects.display()
                ),
                "give the directory it keeps its data in with --from DIR (by default ~/.agent-orchestrator)",
            ));
        }
        Err(e) => {
            return Err(ManagerError::plain(format!(
                "cannot read {}: {e}",
                projects.display()
            )));
        }
    };
    project_dirs.sort();
    for p in project_dirs.into_iter().filter(|p| p.is_dir()) {
        let mut files: Vec<PathBuf> = std::fs::read_dir(p.join("sessions"))
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|f| f.extension().is_some_and(|x| x == "json"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        let orchestrator = p.join("orchestrator.json");
        if orchestrator.symlink_metadata().is_ok() {
            files.push(orchestrator);
        }
        for file in files {
            let stem = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = match read_record(&file) {
                Ok(t) => t,
                Err(why) => {
                    bad.push(skip(&stem, &file, why));
                    continue;
                }
            };
            if text.trim().is_empty() {
                // The reference reserves an id with an empty file while it spawns.
                bad.push(skip(
                    &stem,
                    &file,
                    "is empty (a spawn the reference had not finished)".into(),
                ));
                continue;
            }
            let raw: Value = match serde_json::from_str(&text) {
                Ok(v @ Value::Object(_)) => v,
                Ok(_) => {
                    bad.push(skip(&stem, &file, "is not a JSON object".into()));
                    continue;
                }
                Err(e) => {
                    bad.push(skip(&stem, &file, format!("is not JSON: {e}")));
                    continue;
                }
            };
            let id = if stem == "orchestrator" {
                let handle = Record {
                    file: file.clone(),
                    id: String::new(),
                    raw: raw.clone(),
                }
                .tmux();
                if handle.is_empty() {
                    bad.push(skip(&stem, &file, "names no session".into()));
                    continue;
                }
                handle
            } else {
                stem
            };
            if out.iter().any(|r: &Record| r.id == id) {
                continue;
            }
            out.push(Record { file, id, raw });
        }
    }
    Ok((out, bad))
}

/// The most a record may hold; the reference's are a few KiB.
const MAX_RECORD: u64 = 1 << 20;

/// The text of the record `file`, read only when it is a regular file (through a link)
/// of at most [`MAX_RECORD`] bytes: a FIFO would wait for a writer forever, and a device
/// such as `/dev/zero` never ends. Else why not, for the user.
fn read_record(file: &Path) -> Result<String, String> {
    use std::io::Read;
    let not_regular = |t: std::fs::FileType| {
        format!(
            "is {}, not a regular file; ao reads only regular files",
            kind(t)
        )
    };
    let unreadable = |e: std::io::Error| format!("cannot be read: {e}");
    // Looked at before it is opened: opening a FIFO to read waits for a writer.
    let meta = std::fs::metadata(file).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(not_regular(meta.file_type()));
    }
    if meta.len() > MAX_RECORD {
        return Err(format!(
            "holds {} bytes, more than the {MAX_RECORD} a record may",
            meta.len()
        ));
    }
    // Swapped for a FIFO since, it still opens at once, and is found out.
    let opened = open_without_waiting(file).map_err(unreadable)?;
    let meta = opened.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Err(not_regular(meta.file_type()));
    }
    let mut bytes = Vec::new();
    opened
        .take(MAX_RECORD + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_RECORD {
        return Err(format!(
            "holds more than the {MAX_RECORD} bytes a record may"
        ));
    }
    String::from_utf8(bytes).map_err(|_| "is not UTF-8 text".to_owned())
}

/// What a file that is not a regular file is, for the user.
#[cfg(unix)]
fn kind(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "no regular file"
    }
}

#[cfg(not(unix))]
fn kind(t: std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else {
        "no regular file"
    }
}

/// Opens `file` to read without waiting for a writer, were it a FIFO.
#[cfg(unix)]
fn open_without_waiting(file: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(file)
}

#[cfg(not(unix))]
fn open_without_waiting(file: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(file)
}

fn skip(session: &str, file: &Path, reason: String) -> Skipped {
    Skipped {
        session: session.to_owned(),
        file: file.to_owned(),
        reason,
        adopted_before: false,
    }
}

/// The repository a checkout belongs to (its common git directory), canonical.
fn common_dir(path: &Path) -> Option<PathBuf> {
    let repo = git2::Repository::open(path).ok()?;
    repo.commondir().canonicalize().ok()
}

/// The branch a checkout is on, if any.
fn branch_of(path: &Path) -> Option<String> {
    let repo = git2::Repository::open(path).ok()?;
    let head = repo.head().ok()?;
    head.shorthand()
        .ok()
        .filter(|b| *b != "HEAD")
        .map(str::to_owned)
}

impl Manager {
    /// Adopts the reference's live sessions from its data directory `from` (see the
    /// module's doc); with `dry_run`, only says what it would do.
    pub async fn import_reference(
        &self,
        from: &Path,
        dry_run: bool,
    ) -> Result<ImportReport, ManagerError> {
        let (records, mut skipped) = records(from)?;
        let mut report = ImportReport {
            from: from.to_owned(),
            ..ImportReport::default()
        };
        let projects: Vec<ResolvedProject> = self
            .config
            .config
            .projects
            .keys()
            .filter_map(|id| self.project(id).ok())
            .collect();
        let tmux = self.runtime("tmux")?;
        let handles: Vec<RuntimeHandle> = records
            .iter()
            .map(|r| RuntimeHandle {
                runtime: "tmux".into(),
                id: r.tmux(),
                data: Value::Null,
            })
            .collect();
        // One at a time: a probe of one session names its foreground process, which
        // tells an agent from the shell it left behind.
        let mut probes = Vec::with_capacity(handles.len());
        for h in &handles {
            let probe = tmux.probe_all(std::slice::from_ref(h)).await?;
            probes.push(probe.into_iter().next().unwrap_or_else(Probe::unknown));
        }
        let mut renamed: Vec<(String, String, String)> = Vec::new();
        // The worktrees adopted in this run, by whom: a dry run records nothing.
        let mut taken: Vec<(PathBuf, SessionId)> = Vec::new();
        for ((r, handle), probe) in records.iter().zip(handles).zip(probes) {
            match self.adoptable(r, &handle, &probe, &projects, &taken).await {
                Err(reason) => skipped.push(skip(&r.id, &r.file, reason)),
                Ok(Adoption::Before) => skipped.push(Skipped {
                    adopted_before: true,
                    ..skip(&r.id, &r.file, "adopted by an earlier import".into())
                }),
                Ok(Adoption::New(s)) => {
                    let project = projects
                        .iter()
                        .find(|p| p.id == s.project)
                        .expect("matched to a project");
                    if s.id.prefix() != project.session_prefix
                        && !s.id.is_orchestrator()
                        && !renamed.iter().any(|(p, _, _)| *p == project.id)
                    {
                        renamed.push((
                            project.id.clone(),
                            s.id.prefix().to_owned(),
                            project.session_prefix.clone(),
                        ));
                    }
                    let adopted = Adopted {
                        session: s.id.to_string(),
                        project: s.project.clone(),
                        agent: s.agent.clone(),
                        branch: s.branch.clone(),
                        worktree: s.workspace_path.clone().unwrap_or_default(),
                        tmux: handle.id.clone(),
                        status: s.status,
                        pr: s.pr.as_ref().map(|p| p.number),
                    };
                    if let Some(path) = &s.workspace_path {
                        taken.push((canonical(path), s.id.clone()));
                    }
                    if !dry_run {
                        self.adopt(*s, &r.file)?;
                    }
                    report.adopted.push(adopted);
                }
            }
        }
        if !dry_run {
            // The reference's agents know themselves by these ids: ao's own new sessions
            // never take one, adopted or not.
            let ids = records
                .iter()
                .map(|r| r.id.as_str())
                .chain(skipped.iter().map(|s| s.session.as_str()));
            for id in ids.filter_map(|id| id.parse::<SessionId>().ok()) {
                if !id.is_orchestrator() {
                    self.store().skip_ids_through(id.prefix(), id.number())?;
                }
            }
        }
        for (project, theirs, ours) in renamed {
            report.notes.push(format!(
                "project `{project}` names its new sessions {ours}-N, and the reference named them {theirs}-N: set `sessionPrefix: {theirs}` under projects.{project} to keep one naming"
            ));
        }
        skipped.sort_by_cached_key(|s| match s.session.parse::<SessionId>() {
            Ok(id) => (id.prefix().to_owned(), id.number()),
            Err(_) => (s.session.clone(), u64::MAX),
        });
        report.skipped = skipped;
        Ok(report)
    }

    /// Whether record `r` can become an ao session, and as what; `taken` holds the
    /// worktrees adopted before it in this run.
    async fn adoptable(
        &self,
        r: &Record,
        handle: &RuntimeHandle,
        probe: &Probe,
        projects: &[ResolvedProject],
        taken: &[(PathBuf, SessionId)],
    ) -> Result<Adoption, String> {
        let status = r.status();
        if ended(&status) {
            return Err(format!(
                "the reference ended it ({status}); nothing runs to adopt"
            ));
        }
        let id: SessionId = r
            .id
            .parse()
            .map_err(|_| format!("`{}` is not an id ao can give a session (ao keeps one orchestrator per project, `<prefix>-orchestrator`)", r.id))?;
        if let Some(runtime) = r.runtime_name().filter(|n| n != "tmux") {
            return Err(format!(
                "it runs in the reference's `{runtime}` runtime, and ao adopts tmux sessions only"
            ));
        }
        if let Some(why) = crate::text::tmux_name_problem(&handle.id) {
            return Err(format!(
                "its tmux session name {:?} is not one ao makes or adopts: it {why}",
                handle.id
            ));
        }
        let Some(worktree) = r.text("worktree").map(PathBuf::from) else {
            return Err("the record names no worktree".into());
        };
        // Adopted before: the same session, on the same checkout and tmux session.
        if let Ok(Some(existing)) = self.store().session(&id) {
            let same = existing.workspace_path.as_deref() == Some(worktree.as_path())
                && existing.runtime.as_ref().map(|h| h.id.as_str()) == Some(handle.id.as_str());
            if same {
                return Ok(Adoption::Before);
            }
            return Err(format!(
                "ao has a session {id} of its own (on {}); the reference's agent reports as {id}, so it cannot be adopted under another id",
                existing.branch
            ));
        }
        if !worktree.is_dir() {
            return Err(format!("its worktree {} is gone", worktree.display()));
        }
        let Some(repo) = common_dir(&worktree) else {
            return Err(format!(
                "its worktree {} is not a git checkout",
                worktree.display()
            ));
        };
        let project = r
            .text("project")
            .and_then(|p| projects.iter().find(|x| x.id == p))
            .filter(|p| common_dir(&p.path).as_ref() == Some(&repo))
            .or_else(|| {
                projects
                    .iter()
                    .find(|p| common_dir(&p.path).as_ref() == Some(&repo))
            })
            .ok_or_else(|| {
                format!(
                    "no project in {} works on the repository of {} (the reference's project `{}`)",
                    self.config.file.display(),
                    worktree.display(),
                    r.text("project").unwrap_or("?")
                )
            })?;
        if let Some(other) = projects
            .iter()
            .find(|p| p.session_prefix == id.prefix() && p.id != project.id)
        {
            return Err(format!(
                "its id {id} has the session prefix of project `{}`, but it works on project `{}`",
                other.id, project.id
            ));
        }
        if id.is_orchestrator() != r.is_orchestrator() {
            return Err(format!(
                "the record's role and its id {id} disagree on whether it is an orchestrator"
            ));
        }
        let in_place = self
            .worktree_is_its_own(&id, &worktree, project, taken)
            .await
            .map_err(|why| format!("its worktree {why}"))?;
        match probe.liveness {
            Liveness::Alive => {}
            Liveness::Exited => {
                return Err(format!(
                    "its tmux pane `{}` is dead{}",
                    handle.id,
                    probe
                        .exit_code
                        .map(|c| format!(" (its process exited with {c})"))
                        .unwrap_or_default()
                ));
            }
            Liveness::Gone => {
                return Err(format!(
                    "no tmux session `{}` runs on the default tmux server",
                    handle.id
                ));
            }
            Liveness::Unknown => {
                return Err(format!("tmux could not say whether `{}` runs", handle.id));
            }
        }
        if let Some(shell) = probe.foreground.as_deref().filter(|fg| SHELLS.contains(fg)) {
            return Err(format!(
                "its agent has exited: only its shell ({shell}) runs in tmux session `{}`",
                handle.id
            ));
        }
        let agent = r.text("agent").unwrap_or(&project.agent).to_owned();
        if self.agent(&agent).is_err() {
            return Err(format!(
                "its agent `{agent}` has no ao plugin (`ao plugin ls` lists them)"
            ));
        }
        let now = now_ms();
        let recorded = r.text("branch").unwrap_or("").to_owned();
        let mut s = Session::starting(
            id,
            crate::model::Origin {
                project: project.id.clone(),
                branch: branch_of(&worktree).unwrap_or(recorded),
                agent,
                workspace: if in_place {
                    CHECKOUT.into()
                } else {
                    project.workspace.clone()
                },
                runtime: "tmux".into(),
                workspace_path: worktree,
            },
            r.text("createdAt").and_then(parse_rfc3339).unwrap_or(now),
        );
        s.spawn_pid = None;
        s.updated_at = now;
        s.status = status_of(&status);
        s.runtime = Some(handle.clone());
        s.issue = r.text("issue").map(str::to_owned);
        s.pr = r
            .pr_url()
            .and_then(|url| self.scm(project).ok()?.parse_pr_url(url));
        s.prompt = r.text("userPrompt").map(str::to_owned);
        s.agent_session_id = r.text("opencodeSessionId").map(str::to_owned);
        // A worktree is ao's to remove when the session ends, as for its own; the
        // project's checkout (an orchestrator's) never is.
        s.workspace_claim = if in_place {
            WorkspaceClaim::None
        } else {
            WorkspaceClaim::Made
        };
        Ok(Adoption::New(Box::new(s)))
    }

    /// Records an adopted session and its event.
    fn adopt(&self, mut s: Session, file: &Path) -> Result<(), ManagerError> {
        if s.id.is_orchestrator() {
            self.store().note_prefix(s.id.prefix())?;
        }
        self.store().insert_session(&s)?;
        let _ = std::fs::create_dir_all(self.data_dir(&s.id));
        let adopted = Change::new(
            EventKind::Adopted {
                from: file.display().to_string(),
            },
            Priority::Info,
            format!(
                "{} adopted from the reference ({}), its agent still running in tmux session `{}`",
                s.id,
                file.display(),
                s.runtime.as_ref().map(|h| h.id.as_str()).unwrap_or("")
            ),
        );
        self.commit(&mut s, vec![adopted])
    }
}

impl Manager {
    /// Whether the worktree `path` a record of session `id` names can be that session's:
    /// a linked worktree of `project`'s repository (`git worktree list` there) that no
    /// other session holds, or for an orchestrator the project's own checkout (then
    /// `true`: the checkout, which ao never removes). Else what the path is.
    async fn worktree_is_its_own(
        &self,
        id: &SessionId,
        path: &Path,
        project: &ResolvedProject,
        taken: &[(PathBuf, SessionId)],
    ) -> Result<bool, String> {
        let place = crate::git::worktree_place(&project.path, path)
            .await
            .map_err(|e| format!("{} cannot be read as a worktree: {e}", path.display()))?;
        match place {
            WorktreePlace::Linked => {}
            WorktreePlace::MainCheckout if id.is_orchestrator() => return Ok(true),
            WorktreePlace::MainCheckout => {
                return Err(format!(
                    "{}, where only the project's orchestrator works; ao adopts a worker in a linked worktree only",
                    place.describe(path, &project.path)
                ));
            }
            _ => return Err(place.describe(path, &project.path)),
        }
        let held = |other: &dyn std::fmt::Display| {
            format!("{} is the worktree of session {other}", path.display())
        };
        if let Some(mark) = crate::config::session_mark(path) {
            return Err(held(&mark.session));
        }
        let canonical_path = canonical(path);
        if let Some((_, other)) = taken.iter().find(|(p, _)| *p == canonical_path) {
            return Err(held(other));
        }
        match self.holder_of(path, id) {
            Ok(Some(other)) => Err(held(&other)),
            Ok(None) => Ok(false),
            Err(e) => Err(format!("{}: ao cannot read its store: {e}", path.display())),
        }
    }
}

/// `path` with its links resolved, where it exists.
fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_owned())
}

/// What a record can become.
enum Adoption {
    /// A new ao session.
    New(Box<Session>),
    /// Nothing: an earlier import adopted it.
    Before,
}
