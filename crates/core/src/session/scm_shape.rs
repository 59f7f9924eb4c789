//! An scm shaped unlike GitHub, in memory: repositories in nested groups
//! (`group/sub/app`), pull requests at `/-/merge_requests/N`, a name of its own. It goes
//! through core's paths (claiming by address and by number, an agent's report, the poll
//! that finds a branch's pull request, a merge's refusal), so an scm of that shape needs
//! no change in core.

use super::Manager;
use crate::config::load_str;
use crate::model::{PrRef, RepoId, SessionId, session_sample as sample_session};
use crate::plugin::{MergeParams, PluginError, PrState, PrStatus, ReviewDecision, Scm, Slot};
use crate::registry::{Factory, Origin, PluginEntry, PluginRegistry};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const WEB: &str = "https://lab.example";

/// The scm: its merge requests by project path and number, and what it was asked.
#[derive(Default)]
struct LabScm {
    mrs: Mutex<HashMap<(String, u64), PrStatus>>,
    /// Each `detect_prs` call's project path.
    asked: Mutex<Vec<String>>,
}

fn mr(path: &str, number: u64, branch: &str) -> PrStatus {
    PrStatus {
        pr: PrRef::new(
            &RepoId::from_path(path).expect("a project path"),
            number,
            format!("{WEB}/{path}/-/merge_requests/{number}"),
        ),
        state: PrState::Open,
        head_sha: "abc".into(),
        head_branch: branch.into(),
        cross_repository: false,
        title: format!("Change {number}"),
        draft: false,
        updated_at: 1,
        fingerprint: format!("f{number}"),
        checks: Vec::new(),
        review: ReviewDecision::Approved,
        unresolved_threads: Vec::new(),
        mergeable: false,
        conflicts: false,
        behind_base: false,
    }
}

impl LabScm {
    fn add(&self, status: PrStatus) {
        let path = status.pr.repo_id().to_string();
        self.mrs
            .lock()
            .unwrap()
            .insert((path, status.pr.number), status);
    }
}

#[async_trait]
impl Scm for LabScm {
    fn display_name(&self) -> String {
        "LabForge".into()
    }

    fn parse_repo(&self, text: &str) -> Result<RepoId, String> {
        // A project's path: groups within groups, then the project.
        RepoId::from_path(text).ok_or_else(|| format!("`{text}` is not GROUP/.../PROJECT"))
    }

    fn parse_pr_url(&self, url: &str) -> Option<PrRef> {
        let (path, number) = url
            .strip_prefix(WEB)?
            .trim_matches('/')
            .split_once("/-/merge_requests/")?;
        Some(PrRef::new(
            &RepoId::from_path(path)?,
            number.parse().ok()?,
            url,
        ))
    }

    fn pr_ref(&self, repo: &RepoId, number: u64) -> PrRef {
        PrRef::new(
            repo,
            number,
            format!("{WEB}/{repo}/-/merge_requests/{number}"),
        )
    }

    async fn detect_prs(
        &self,
        repo: &RepoId,
        branches: &[String],
    ) -> Result<Vec<Option<PrRef>>, PluginError> {
        let path = repo.to_string();
        self.asked.lock().unwrap().push(path.clone());
        let mrs = self.mrs.lock().unwrap();
        Ok(branches
            .iter()
            .map(|b| {
                mrs.iter()
                    .find(|((p, _), s)| *p == path && s.head_branch == *b)
                    .map(|(_, s)| s.pr.clone())
            })
            .collect())
    }

    async fn enrich(
        &self,
        prs: &[PrRef],
        _known: &[Option<String>],
    ) -> Vec<Result<Option<PrStatus>, PluginError>> {
        let mrs = self.mrs.lock().unwrap();
        prs.iter()
            .map(|pr| {
                mrs.get(&(pr.repo_id().to_string(), pr.number))
                    .cloned()
                    .map(Some)
                    .ok_or_else(|| PluginError::failed("labforge", "no such merge request"))
            })
            .collect()
    }

    async fn merge(&self, _merge: &MergeParams) -> Result<(), PluginError> {
        Ok(())
    }

    async fn close(&self, _pr: &PrRef) -> Result<(), PluginError> {
        Ok(())
    }
}

/// A manager of one project, `app`, whose repository is `group/sub/app` on the scm.
fn manager(dir: &std::path::Path, scm: Arc<LabScm>) -> Manager {
    let repo = dir.join("app");
    std::fs::create_dir_all(&repo).unwrap();
    let init = std::process::Command::new("git")
        .args(["init", "--quiet"])
        .current_dir(&repo)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .unwrap();
    assert!(init.success());
    let mut registry = PluginRegistry::new();
    registry.register(PluginEntry {
        manifest: ao_plugin_sdk::PluginManifest {
            name: "labforge".into(),
            version: "1".into(),
            slot: Slot::Scm,
            description: "merge requests in nested groups".into(),
        },
        origin: Origin::BuiltIn,
        validate: None,
        factory: Some(Factory::Scm(Arc::new(move |_| {
            Ok(scm.clone() as Arc<dyn Scm>)
        }))),
        untested: None,
        cli: None,
    });
    let file = dir.join("agent-orchestrator.yaml");
    let yaml = format!(
        "projects:\n  app:\n    path: {0}\n    repo: group/sub/app\n    scm:\n      plugin: labforge\n  solo:\n    path: {0}\n    repo: app\n    scm:\n      plugin: labforge\n",
        repo.display()
    );
    let config = load_str(&yaml, &file, &registry, &|_| None).expect("the config loads");
    Manager::new(config, registry, dir.join("home"), |_| None).expect("a manager")
}

fn session(m: &Manager, n: u64, branch: &str) -> SessionId {
    let id = SessionId::new("app", n);
    let mut s = sample_session(&id);
    s.branch = branch.into();
    m.store().insert_session(&s).unwrap();
    id
}

/// A refusal's message and hint, as the CLI shows them.
fn refusal(e: super::ManagerError) -> String {
    format!("{e}\n  hint: {}", e.hint().unwrap_or_default())
}

#[tokio::test]
async fn a_forge_of_nested_groups_and_merge_requests_goes_through_core_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let scm = Arc::new(LabScm::default());
    scm.add(mr("group/sub/app", 7, "feat-7"));
    scm.add(mr("group/sub/app", 8, "feat-8"));
    scm.add(mr("other/x", 3, "feat-3"));
    let m = manager(dir.path(), scm.clone());
    let project = m.project("app").unwrap();
    let app1 = session(&m, 1, "feat-1");

    // A merge request's address is one, and is claimed as the project's.
    let address = format!("{WEB}/group/sub/app/-/merge_requests/7");
    assert!(super::looks_like_pr(&address));
    let (status, holders) = m
        .claimable_pr(&project, &address, Some(&app1))
        .await
        .expect("the merge request is claimable by its address");
    assert_eq!((status.pr.number, holders.len()), (7, 0));
    let claimed = m
        .attach_claimed(&m.session("app-1").unwrap(), &status, &[], false)
        .unwrap();
    assert_eq!(
        claimed.pr.as_ref().map(|p| p.url.as_str()),
        Some(address.as_str())
    );

    // By number, it is the project's, at the scm's own address.
    let (status, _) = m.claimable_pr(&project, "#8", None).await.unwrap();
    assert_eq!(
        status.pr.url,
        format!("{WEB}/group/sub/app/-/merge_requests/8")
    );

    // Another project's is refused, naming both repositories whole.
    let other = format!("{WEB}/other/x/-/merge_requests/3");
    let e = refusal(m.claimable_pr(&project, &other, None).await.unwrap_err());
    assert!(
        e.contains("is a pull request of other/x, but project `app` works on group/sub/app"),
        "{e}"
    );

    // What is not one is refused with an address of the scm's own shape.
    let e = refusal(m.claimable_pr(&project, "seven", None).await.unwrap_err());
    assert!(
        e.contains("`seven` is not a pull request of LabForge")
            && e.contains(&format!("({WEB}/group/sub/app/-/merge_requests/12)")),
        "{e}"
    );
    // A closed one is reopened where it lives.
    let mut closed = mr("group/sub/app", 9, "feat-9");
    closed.state = PrState::Closed;
    scm.add(closed);
    let e = refusal(m.claimable_pr(&project, "9", None).await.unwrap_err());
    assert!(e.contains("reopen it on LabForge first"), "{e}");

    // An agent's report by number gets the scm's address; by address, the scm reads it.
    let app2 = session(&m, 2, "feat-2");
    m.report("app-2", "pr_created", None, None, Some(8))
        .unwrap();
    let pr = m.session("app-2").unwrap().pr.expect("attached");
    assert_eq!(
        (
            pr.owner.as_str(),
            pr.repo.as_str(),
            pr.number,
            pr.url.as_str()
        ),
        (
            "group/sub",
            "app",
            8,
            format!("{WEB}/group/sub/app/-/merge_requests/8").as_str()
        )
    );
    let app3 = session(&m, 3, "feat-3");
    m.report("app-3", "pr_created", None, Some(&address), None)
        .unwrap();
    assert_eq!(m.session("app-3").unwrap().pr.map(|p| p.number), Some(7));

    // The poll looks a branch up in the nested group and follows what it finds.
    let app4 = session(&m, 4, "feat-8");
    let report = m.refresh_prs(Some("app")).await.unwrap();
    assert!(report.detected.contains(&app4), "{report:?}");
    assert!(
        scm.asked
            .lock()
            .unwrap()
            .iter()
            .all(|p| p == "group/sub/app")
    );
    let _ = (app2, app3);

    // A merge the scm holds back names the scm as it names itself.
    let e = refusal(
        m.merge("app-4", crate::plugin::MergeMethod::Squash, false)
            .await
            .unwrap_err(),
    );
    assert!(
        e.contains("LabForge does not consider it mergeable yet"),
        "{e}"
    );

    // A `repo` the scm does not read as one of its repositories is refused where it is.
    let solo = m.project("solo").unwrap();
    let e = refusal(m.claimable_pr(&solo, "1", None).await.unwrap_err());
    assert!(
        e.contains("project `solo`'s `repo` at ")
            && e.contains("agent-orchestrator.yaml:9:11 ")
            && e.contains("names no repository of LabForge: `app` is not GROUP/.../PROJECT"),
        "{e}"
    );
}
