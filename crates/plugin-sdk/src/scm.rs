//! The scm slot: where pull requests live.

use crate::export::{Dispatch, params, result, unknown_method};
use crate::{Context, Error, Plugin, Slot};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The first ao-plugin-sdk whose scm messages this ao reads: 0.2.0 added the repository
/// to [`PrRef`], many branches to `detect_prs`, a result per PR to `enrich`, and the head
/// SHA to `merge`. ao refuses an scm plugin built with an older SDK (plugins of the other
/// slots still load).
pub const SCM_SDK_SINCE: (u32, u32) = (0, 2);

/// A repository as its scm names it: an owner (a user, an organization, or groups nested
/// with `/`) and a name. The scm parses it from the config's `repo` ([`Scm::parse_repo`]);
/// ao only compares it and shows it, never takes it apart.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RepoId {
    owner: String,
    name: String,
}

impl RepoId {
    /// The repository `name` of `owner` (which may hold several `/`).
    pub fn new(owner: impl Into<String>, name: impl Into<String>) -> RepoId {
        RepoId {
            owner: owner.into(),
            name: name.into(),
        }
    }

    /// A path of at least two parts: the name is its last, the owner everything before.
    /// What an scm that says nothing more of its repositories takes `repo` to be.
    pub fn from_path(path: &str) -> Option<RepoId> {
        let path = path.trim().trim_matches('/');
        let (owner, name) = path.rsplit_once('/')?;
        let part = |p: &str| !p.is_empty() && !p.chars().any(char::is_whitespace);
        (owner.split('/').all(part) && part(name)).then(|| RepoId::new(owner, name))
    }

    /// The owner: a user, an organization, or nested groups joined by `/`.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The repository's own name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `other` is the same repository: scms take names without regard to ASCII
    /// case.
    pub fn same(&self, other: &RepoId) -> bool {
        self.owner.eq_ignore_ascii_case(&other.owner) && self.name.eq_ignore_ascii_case(&other.name)
    }
}

impl std::fmt::Display for RepoId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// A pull request a session opened. Its stored and wire form keeps the repository as
/// `owner` and `repo`, as it always was.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PrRef {
    /// The repository's owner (see [`RepoId::owner`]).
    #[serde(default)]
    pub owner: String,
    /// The repository's name.
    #[serde(default)]
    pub repo: String,
    /// Its number in the repository.
    pub number: u64,
    /// Its web address (empty when the scm did not give one).
    pub url: String,
}

impl PrRef {
    /// Pull request `number` of `repo`, at `url`.
    pub fn new(repo: &RepoId, number: u64, url: impl Into<String>) -> PrRef {
        PrRef {
            owner: repo.owner.clone(),
            repo: repo.name.clone(),
            number,
            url: url.into(),
        }
    }

    /// Its repository.
    pub fn repo_id(&self) -> RepoId {
        RepoId::new(&self.owner, &self.repo)
    }
}

/// A pull request's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrState {
    /// Open.
    Open,
    /// Merged.
    Merged,
    /// Closed without merging.
    Closed,
}

/// One CI check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckState {
    /// Queued or running.
    Pending,
    /// Passed (or skipped, or neutral).
    Passed,
    /// Failed, timed out or was cancelled.
    Failed,
}

/// One CI check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRun {
    /// The scm's id for it (a check run's or a status context's), stable per head SHA.
    #[serde(default)]
    pub id: String,
    /// Its name, as the reviewer sees it.
    pub name: String,
    /// Whether branch protection requires it.
    #[serde(default)]
    pub required: bool,
    /// Its outcome.
    pub state: CheckState,
    /// Where its log is.
    #[serde(default)]
    pub url: Option<String>,
    /// The tail of its log or its summary, for failures.
    #[serde(default)]
    pub log_excerpt: Option<String>,
}

/// The review verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    /// No verdict yet.
    Pending,
    /// Approved.
    Approved,
    /// A reviewer asked for changes.
    ChangesRequested,
}

/// An unresolved review thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewThread {
    /// The scm's id for it, so it is never sent to the agent twice.
    #[serde(default)]
    pub id: String,
    /// Whether a bot wrote it.
    #[serde(default)]
    pub is_bot: bool,
    /// The file it is on.
    #[serde(default)]
    pub path: Option<String>,
    /// The line it is on.
    #[serde(default)]
    pub line: Option<u32>,
    /// The comments' text.
    pub body: String,
    /// Its author.
    #[serde(default)]
    pub author: Option<String>,
}

/// Everything the host needs to know about one pull request, from one batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrStatus {
    /// Which pull request.
    pub pr: PrRef,
    /// Open, merged or closed.
    pub state: PrState,
    /// The commit its head branch points at, which a merge must still find there.
    #[serde(default)]
    pub head_sha: String,
    /// Its head branch's name (empty from an scm that does not say).
    #[serde(default)]
    pub head_branch: String,
    /// Whether its head branch lives in another repository (a fork).
    #[serde(default)]
    pub cross_repository: bool,
    /// Its title.
    #[serde(default)]
    pub title: String,
    /// Whether it is a draft.
    #[serde(default)]
    pub draft: bool,
    /// When it last changed (milliseconds since 1970).
    #[serde(default)]
    pub updated_at: i64,
    /// A digest of what a cheap look at the PR shows; the same digest next time means
    /// nothing changed, and the scm may answer "unchanged" without the full read.
    #[serde(default)]
    pub fingerprint: String,
    /// Its checks.
    #[serde(default)]
    pub checks: Vec<CheckRun>,
    /// The review verdict.
    pub review: ReviewDecision,
    /// Unresolved threads only.
    #[serde(default)]
    pub unresolved_threads: Vec<ReviewThread>,
    /// Whether the host could merge it now.
    #[serde(default)]
    pub mergeable: bool,
    /// Whether it conflicts with its base.
    #[serde(default)]
    pub conflicts: bool,
    /// Whether its base moved on since it branched.
    #[serde(default)]
    pub behind_base: bool,
}

/// How to merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MergeMethod {
    /// A merge commit.
    Merge,
    /// One squashed commit.
    Squash,
    /// Rebased commits.
    Rebase,
}

/// An scm plugin.
pub trait Scm: Plugin {
    /// For each branch of `owner/repo`, the pull request whose head it is, if any, in order.
    fn detect_prs(
        &self,
        cx: &Context,
        owner: &str,
        repo: &str,
        branches: &[String],
    ) -> Result<Vec<Option<PrRef>>, Error>;
    /// The state of many pull requests in as few requests as possible: a result per PR,
    /// in order, so one that fails spoils nothing else. `known` holds the fingerprint of
    /// each PR's last status, where there is one: a PR whose fingerprint is unchanged may
    /// be answered `None` (unchanged).
    fn enrich(
        &self,
        cx: &Context,
        prs: &[PrRef],
        known: &[Option<String>],
    ) -> Vec<Result<Option<PrStatus>, Error>>;
    /// Merges a pull request if its head is still `head_sha`, optionally deleting its
    /// branch.
    fn merge(&self, cx: &Context, merge: &MergeParams) -> Result<(), Error>;
    /// Closes a pull request without merging.
    fn close(&self, cx: &Context, pr: &PrRef) -> Result<(), Error>;
    /// The scm's name as messages say it ("GitHub"); `None`: ao says the plugin's name.
    /// (Added after 0.2.0, as are the three below: a plugin built before them answers
    /// "no such method", and ao then does what each default here does.)
    fn display_name(&self, cx: &Context) -> Option<String> {
        let _ = cx;
        None
    }
    /// The repository a project's `repo` names, or why it names none of this scm's.
    fn parse_repo(&self, cx: &Context, text: &str) -> Result<RepoId, String> {
        let _ = cx;
        RepoId::from_path(text).ok_or_else(|| format!("`{text}` is not OWNER/NAME"))
    }
    /// The pull request a web address names, when it is one of this scm's.
    fn parse_pr_url(&self, cx: &Context, url: &str) -> Option<PrRef> {
        let _ = (cx, url);
        None
    }
    /// Pull request `number` of `repo`, with its web address.
    fn pr_ref(&self, cx: &Context, repo: &RepoId, number: u64) -> PrRef {
        let _ = cx;
        PrRef::new(repo, number, "")
    }
}

/// The method names.
pub mod method {
    /// `detect_prs`: [`super::BranchesParams`] → a list of [`super::PrRef`] or `null`.
    pub const DETECT_PRS: &str = "detect_prs";
    /// `enrich`: [`super::PrsParams`] → a list of [`super::Enriched`].
    pub const ENRICH: &str = "enrich";
    /// `merge`: [`super::MergeParams`] → `null`.
    pub const MERGE: &str = "merge";
    /// `close`: [`super::PrParams`] → `null`.
    pub const CLOSE: &str = "close";
    /// `display_name`: `null` → a string or `null`.
    pub const DISPLAY_NAME: &str = "display_name";
    /// `parse_repo`: [`super::TextParams`] → [`super::ParsedRepo`].
    pub const PARSE_REPO: &str = "parse_repo";
    /// `parse_pr_url`: [`super::TextParams`] → a [`super::PrRef`] or `null`.
    pub const PARSE_PR_URL: &str = "parse_pr_url";
    /// `pr_ref`: [`super::PrNumberParams`] → a [`super::PrRef`].
    pub const PR_REF: &str = "pr_ref";
}

/// Parameters carrying text to parse.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TextParams {
    /// The text.
    pub text: String,
}

/// Parameters naming a pull request by its repository and number.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrNumberParams {
    /// The repository.
    pub repo: RepoId,
    /// The number.
    pub number: u64,
}

/// The answer of `parse_repo`: the repository, or why the text names none (an answer,
/// not a failed call, so ao can tell it from a plugin that has no such method).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParsedRepo {
    /// A repository.
    Ok(RepoId),
    /// Why not.
    Err(String),
}

/// Parameters naming branches of one repository.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BranchesParams {
    /// The repository's owner.
    pub owner: String,
    /// The repository's name.
    pub repo: String,
    /// The branches.
    pub branches: Vec<String>,
}

/// Parameters naming pull requests.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrsParams {
    /// The pull requests.
    pub prs: Vec<PrRef>,
    /// Each one's last fingerprint, where known (same order; may be shorter).
    #[serde(default)]
    pub known: Vec<Option<String>>,
}

/// One PR's result of `enrich`: its status, or why it could not be read.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Enriched {
    /// Read.
    Ok(PrStatus),
    /// Its fingerprint is the one known: nothing changed.
    Unchanged,
    /// Not read.
    Err(Error),
}

/// Parameters naming one pull request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrParams {
    /// The pull request.
    pub pr: PrRef,
}

/// Parameters of `merge`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeParams {
    /// The pull request.
    pub pr: PrRef,
    /// How.
    pub method: MergeMethod,
    /// The head commit the decision to merge was made on: a PR whose head moved since is
    /// not merged.
    pub head_sha: String,
    /// Whether to delete the head branch after merging.
    #[serde(default)]
    pub delete_branch: bool,
}

/// The dispatcher [`crate::export_plugin!`] uses for an scm.
#[doc(hidden)]
pub struct AsScm<T>(pub T);

impl<T: Scm> Dispatch for AsScm<T> {
    const SLOT: Slot = Slot::Scm;

    fn create(config: Value) -> Result<Self, Error> {
        T::init(config).map(AsScm)
    }

    fn dispatch(&self, m: &str, cx: &Context, p: Value) -> Result<Value, Error> {
        let s = &self.0;
        match m {
            method::DETECT_PRS => {
                let q: BranchesParams = params(m, p)?;
                result(s.detect_prs(cx, &q.owner, &q.repo, &q.branches)?)
            }
            method::ENRICH => {
                let q = params::<PrsParams>(m, p)?;
                result(
                    s.enrich(cx, &q.prs, &q.known)
                        .into_iter()
                        .map(|r| match r {
                            Ok(Some(status)) => Enriched::Ok(status),
                            Ok(None) => Enriched::Unchanged,
                            Err(e) => Enriched::Err(e),
                        })
                        .collect::<Vec<_>>(),
                )
            }
            method::MERGE => result(s.merge(cx, &params::<MergeParams>(m, p)?)?),
            method::CLOSE => result(s.close(cx, &params::<PrParams>(m, p)?.pr)?),
            method::DISPLAY_NAME => result(s.display_name(cx)),
            method::PARSE_REPO => {
                result(match s.parse_repo(cx, &params::<TextParams>(m, p)?.text) {
                    Ok(repo) => ParsedRepo::Ok(repo),
                    Err(why) => ParsedRepo::Err(why),
                })
            }
            method::PARSE_PR_URL => result(s.parse_pr_url(cx, &params::<TextParams>(m, p)?.text)),
            method::PR_REF => {
                let q: PrNumberParams = params(m, p)?;
                result(s.pr_ref(cx, &q.repo, q.number))
            }
            _ => Err(unknown_method(Self::SLOT, m)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_a_repository_of_nested_owners_and_a_name() {
        let repo = RepoId::from_path("group/sub/app").unwrap();
        assert_eq!((repo.owner(), repo.name()), ("group/sub", "app"));
        assert_eq!(repo.to_string(), "group/sub/app");
        assert!(repo.same(&RepoId::new("Group/Sub", "App")));
        for bad in ["app", "/app", "group//app", "group/my app", ""] {
            assert_eq!(RepoId::from_path(bad), None, "{bad}");
        }
        // A stored PR of today reads as it always did, and names its repository.
        let pr: PrRef = serde_json::from_str(
            r#"{"owner":"acme","repo":"app","number":7,"url":"https://github.com/acme/app/pull/7"}"#,
        )
        .unwrap();
        assert_eq!(pr.repo_id(), RepoId::new("acme", "app"));
    }

    struct Plain;

    impl Plugin for Plain {
        fn init(_config: Value) -> Result<Self, Error> {
            Ok(Plain)
        }
    }

    impl Scm for Plain {
        fn detect_prs(
            &self,
            _cx: &Context,
            _owner: &str,
            _repo: &str,
            branches: &[String],
        ) -> Result<Vec<Option<PrRef>>, Error> {
            Ok(branches.iter().map(|_| None).collect())
        }
        fn enrich(
            &self,
            _cx: &Context,
            prs: &[PrRef],
            _known: &[Option<String>],
        ) -> Vec<Result<Option<PrStatus>, Error>> {
            prs.iter().map(|_| Ok(None)).collect()
        }
        fn merge(&self, _cx: &Context, _merge: &MergeParams) -> Result<(), Error> {
            Ok(())
        }
        fn close(&self, _cx: &Context, _pr: &PrRef) -> Result<(), Error> {
            Ok(())
        }
    }

    // A plugin that writes none of the methods added after 0.2.0 answers them with the
    // defaults, as ao would do for a plugin built before them.
    #[test]
    fn the_reference_methods_answer_with_their_defaults() {
        let s = AsScm(Plain);
        let cx = Context::default();
        let call = |m: &str, p: Value| s.dispatch(m, &cx, p).unwrap();
        assert_eq!(call(method::DISPLAY_NAME, Value::Null), Value::Null);
        assert_eq!(
            call(method::PARSE_REPO, serde_json::json!({ "text": "g/s/app" })),
            serde_json::json!({ "ok": { "owner": "g/s", "name": "app" } })
        );
        assert_eq!(
            call(method::PARSE_REPO, serde_json::json!({ "text": "app" })),
            serde_json::json!({ "err": "`app` is not OWNER/NAME" })
        );
        assert_eq!(
            call(
                method::PARSE_PR_URL,
                serde_json::json!({ "text": "https://x/y" })
            ),
            Value::Null
        );
        assert_eq!(
            call(
                method::PR_REF,
                serde_json::json!({ "repo": { "owner": "g/s", "name": "app" }, "number": 3 })
            ),
            serde_json::json!({ "owner": "g/s", "repo": "app", "number": 3, "url": "" })
        );
    }
}
