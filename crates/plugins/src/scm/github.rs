//! The `github` scm: pull requests, checks and reviews on GitHub.

use ao_core::config::Diagnostic;
use ao_core::plugin::Slot;
use ao_core::registry::{PluginEntry, SectionRef};
use serde::Deserialize;

/// The scm's own settings.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GithubScmOptions {
    /// A GitHub Enterprise host, e.g. `github.example.com` (default github.com).
    #[serde(default)]
    pub host: Option<String>,
    /// The REST API's address, instead of the host's own.
    #[serde(default)]
    pub api_url: Option<String>,
    /// The GraphQL API's address, instead of the one beside `apiUrl`.
    #[serde(default)]
    pub graphql_url: Option<String>,
    /// The webhook receiver: GitHub pushes the changes of this project's pull requests to
    /// the dashboard's server (`ao start`), which reads them at once.
    #[serde(default)]
    pub webhook: Option<WebhookOptions>,
}

/// `scm.webhook` of the reference format.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookOptions {
    /// Whether the receiver runs.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// The URL path it listens on.
    #[serde(default)]
    pub path: Option<String>,
    /// The environment variable holding the signing secret.
    #[serde(default)]
    pub secret_env_var: Option<String>,
    /// The header carrying the signature.
    #[serde(default)]
    pub signature_header: Option<String>,
    /// The header naming the event.
    #[serde(default)]
    pub event_header: Option<String>,
    /// The header carrying the delivery id.
    #[serde(default)]
    pub delivery_header: Option<String>,
    /// The largest body accepted, in bytes (more than 0).
    #[serde(default)]
    pub max_body_bytes: Option<u64>,
}

fn validate(section: &SectionRef<'_>) -> Vec<Diagnostic> {
    let (options, mut diags) = section.deserialize::<GithubScmOptions>(&[]);
    if let Some(webhook) = options.and_then(|o| o.webhook) {
        let at = |key: &str| {
            section
                .node
                .and_then(|n| n.get("webhook"))
                .and_then(|w| w.entry(key).map(|e| e.value.loc))
                .unwrap_or(section.loc)
        };
        if webhook.max_body_bytes == Some(0) {
            diags.push(
                Diagnostic::error(
                    section.file,
                    at("maxBodyBytes"),
                    "maxBodyBytes must be more than 0",
                )
                .with_hint("give the largest body to accept, in bytes"),
            );
        }
    }
    diags
}

#[cfg(feature = "github")]
mod imp {
    use crate::github::{GitHub, GitHubError, RepoName};
    use ao_core::model::{PrRef, RepoId};
    use ao_core::plugin::{
        CheckRun, CheckState, MergeMethod, MergeParams, PluginError, PrState, PrStatus,
        ReviewDecision, ReviewThread, Scm,
    };
    use ao_core::registry::SectionRef;
    use async_trait::async_trait;
    use serde_json::{Value, json};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    pub(super) const NAME: &str = "github";
    /// PRs per GraphQL query (aliases).
    const BATCH: usize = 100;
    /// The most of a failing job's log kept for the agent.
    const LOG_TAIL: usize = 4000;

    /// What a cheap look at a PR reads: enough to tell whether anything changed.
    const LIGHT_FIELDS: &str = "number state isDraft headRefOid updatedAt mergeable mergeStateStatus reviewDecision commits(last: 1) { nodes { commit { statusCheckRollup { state } } } } reviewThreads(first: 100) { nodes { isResolved isOutdated } }";

    /// Everything the host needs of a PR whose fingerprint changed.
    const FULL_FIELDS: &str = "number title url state isDraft headRefName headRefOid baseRefName isCrossRepository updatedAt mergeable mergeStateStatus reviewDecision commits(last: 1) { nodes { commit { oid statusCheckRollup { state contexts(first: 100) { nodes { __typename ... on CheckRun { databaseId name status conclusion detailsUrl isRequired(pullRequestNumber: NUMBER) } ... on StatusContext { context state targetUrl isRequired(pullRequestNumber: NUMBER) } } } } } } } reviewThreads(first: 100) { nodes { id isResolved isOutdated path line comments(first: 1) { nodes { body author { __typename login } } } } }";

    /// A merged PR's head branch, to delete it.
    const HEAD_QUERY: &str = "query Head($owner: String!, $name: String!, $number: Int!) { repository(owner: $owner, name: $name) { pullRequest(number: $number) { headRefName } } rateLimit { cost remaining limit resetAt } }";

    /// One query per batch of PRs: each PR an aliased `repository { pullRequest }`.
    fn batch_query(name: &str, prs: &[PrRef], fields: &str) -> (String, Value) {
        let mut decls = Vec::new();
        let mut body = String::new();
        let mut vars = serde_json::Map::new();
        for (i, pr) in prs.iter().enumerate() {
            decls.push(format!("$o{i}: String!, $r{i}: String!, $n{i}: Int!"));
            body.push_str(&format!(
                "  p{i}: repository(owner: $o{i}, name: $r{i}) {{ nameWithOwner pullRequest(number: $n{i}) {{ {} }} }}\n",
                fields.replace("NUMBER", &format!("$n{i}"))
            ));
            vars.insert(format!("o{i}"), json!(pr.owner));
            vars.insert(format!("r{i}"), json!(pr.repo));
            vars.insert(format!("n{i}"), json!(pr.number));
        }
        (
            format!(
                "query {name}({}) {{\n{body}  rateLimit {{ cost remaining limit resetAt }}\n}}",
                decls.join(", ")
            ),
            Value::Object(vars),
        )
    }

    /// The branches' PR lookup: each branch an aliased `pullRequests(headRefName:)`.
    fn detect_query(branches: &[String]) -> String {
        let decls: Vec<String> = (0..branches.len())
            .map(|i| format!("$b{i}: String!"))
            .collect();
        let mut body = String::new();
        for i in 0..branches.len() {
            body.push_str(&format!(
                "    b{i}: pullRequests(headRefName: $b{i}, first: 1, states: [OPEN, MERGED, CLOSED], orderBy: {{ field: CREATED_AT, direction: DESC }}) {{ nodes {{ number url }} }}\n"
            ));
        }
        format!(
            "query DetectPrs($owner: String!, $name: String!, {}) {{\n  repository(owner: $owner, name: $name) {{\n{body}  }}\n  rateLimit {{ cost remaining limit resetAt }}\n}}",
            decls.join(", ")
        )
    }

    /// Whether a repository runs CI: checks or statuses on the last 10 commits of its
    /// default branch, or a workflow directory.
    const RUNS_CI_QUERY: &str = "query RunsCi($owner: String!, $name: String!) {\n  repository(owner: $owner, name: $name) {\n    defaultBranchRef { target { ... on Commit { history(first: 10) { nodes { statusCheckRollup { state } } } } } }\n    workflows: object(expression: \"HEAD:.github/workflows\") { __typename }\n  }\n  rateLimit { cost remaining limit resetAt }\n}";

    /// Every query this scm sends (for two PRs or branches), for the schema tests.
    pub fn queries() -> Vec<String> {
        let prs = [
            PrRef {
                owner: "o".into(),
                repo: "r".into(),
                number: 1,
                url: String::new(),
            },
            PrRef {
                owner: "o".into(),
                repo: "s".into(),
                number: 2,
                url: String::new(),
            },
        ];
        vec![
            batch_query("LightPoll", &prs, LIGHT_FIELDS).0,
            batch_query("FullPoll", &prs, FULL_FIELDS).0,
            detect_query(&["a".into(), "b".into()]),
            HEAD_QUERY.to_owned(),
            RUNS_CI_QUERY.to_owned(),
        ]
    }

    /// GitHub pull requests on one host.
    pub struct GithubScm {
        gh: Arc<GitHub>,
        /// Log tails already fetched, by (repository, check id, head SHA).
        logs: Mutex<HashMap<(String, String, String), Option<String>>>,
    }

    impl GithubScm {
        /// The scm of the host `gh`.
        pub fn new(gh: Arc<GitHub>) -> GithubScm {
            GithubScm {
                gh,
                logs: Mutex::new(HashMap::new()),
            }
        }
    }

    fn fail(e: GitHubError) -> PluginError {
        if e.status.is_none_or(|s| s >= 500 || s == 403 || s == 429) {
            PluginError::Transient {
                plugin: NAME.into(),
                message: e.message,
                retry_after_ms: e.retry_after_ms,
            }
        } else {
            e.plugin(NAME)
        }
    }

    fn fingerprint(light: &Value) -> String {
        // FNV-1a of the light fields as GitHub gave them.
        let text = light.to_string();
        let h = text.bytes().fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100000001b3)
        });
        format!("{h:016x}")
    }

    fn millis(text: &str) -> i64 {
        crate::github::parse_rfc3339(text)
            .map(|s| s * 1000)
            .unwrap_or(0)
    }

    /// A check's state on the head, from a `CheckRun` or `StatusContext` of the rollup.
    ///
    /// GitHub counts a skipped or neutral check as a success, even a required one (its
    /// docs: "A job that is skipped will report its status as Success. It will not prevent
    /// a pull request from merging, even if it is a required check."). For ao, green is
    /// every required check passed on the head: a required check that was skipped or came
    /// out neutral did not pass there, so it is pending (held, no failure to fix) until it
    /// runs and passes. One that is not required blocks nothing, as on GitHub.
    pub(super) fn check_state(c: &Value) -> CheckState {
        if c["__typename"] == "CheckRun" {
            let required = c["isRequired"].as_bool().unwrap_or(false);
            match (c["status"].as_str(), c["conclusion"].as_str()) {
                (Some("COMPLETED"), Some("SUCCESS")) => CheckState::Passed,
                (Some("COMPLETED"), Some("NEUTRAL" | "SKIPPED")) if required => CheckState::Pending,
                (Some("COMPLETED"), Some("NEUTRAL" | "SKIPPED")) => CheckState::Passed,
                (Some("COMPLETED"), _) => CheckState::Failed,
                _ => CheckState::Pending,
            }
        } else {
            match c["state"].as_str() {
                Some("SUCCESS") => CheckState::Passed,
                Some("FAILURE" | "ERROR") => CheckState::Failed,
                _ => CheckState::Pending,
            }
        }
    }

    fn status_of(pr: &PrRef, v: &Value, fingerprint: String) -> PrStatus {
        let (owner, repo) = v["__repository"]
            .as_str()
            .and_then(|n| n.split_once('/'))
            .map(|(o, r)| (o.to_owned(), r.to_owned()))
            .unwrap_or_else(|| (pr.owner.clone(), pr.repo.clone()));
        let rollup = &v["commits"]["nodes"][0]["commit"]["statusCheckRollup"];
        let checks = rollup["contexts"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                let check_run = c["__typename"] == "CheckRun";
                let state = check_state(c);
                CheckRun {
                    id: if check_run {
                        c["databaseId"]
                            .as_u64()
                            .map(|n| n.to_string())
                            .unwrap_or_default()
                    } else {
                        format!("status:{}", c["context"].as_str().unwrap_or(""))
                    },
                    name: c[if check_run { "name" } else { "context" }]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                    required: c["isRequired"].as_bool().unwrap_or(false),
                    state,
                    url: c[if check_run { "detailsUrl" } else { "targetUrl" }]
                        .as_str()
                        .map(str::to_owned),
                    log_excerpt: None,
                }
            })
            .collect();
        let threads = v["reviewThreads"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["isResolved"] != true && t["isOutdated"] != true)
            .map(|t| {
                let comment = &t["comments"]["nodes"][0];
                ReviewThread {
                    id: t["id"].as_str().unwrap_or("").to_owned(),
                    is_bot: comment["author"]["__typename"] == "Bot",
                    path: t["path"].as_str().map(str::to_owned),
                    line: t["line"].as_u64().map(|l| l as u32),
                    body: comment["body"].as_str().unwrap_or("").to_owned(),
                    author: comment["author"]["login"].as_str().map(str::to_owned),
                }
            })
            .collect();
        let merge_state = v["mergeStateStatus"].as_str().unwrap_or("");
        PrStatus {
            pr: PrRef {
                owner,
                repo,
                number: pr.number,
                url: v["url"].as_str().unwrap_or(&pr.url).to_owned(),
            },
            state: match v["state"].as_str() {
                Some("MERGED") => PrState::Merged,
                Some("CLOSED") => PrState::Closed,
                _ => PrState::Open,
            },
            head_sha: v["headRefOid"].as_str().unwrap_or("").to_owned(),
            head_branch: v["headRefName"].as_str().unwrap_or("").to_owned(),
            cross_repository: v["isCrossRepository"].as_bool().unwrap_or(false),
            title: v["title"].as_str().unwrap_or("").to_owned(),
            draft: v["isDraft"].as_bool().unwrap_or(false),
            updated_at: v["updatedAt"].as_str().map(millis).unwrap_or(0),
            fingerprint,
            checks,
            review: match v["reviewDecision"].as_str() {
                Some("APPROVED") => ReviewDecision::Approved,
                Some("CHANGES_REQUESTED") => ReviewDecision::ChangesRequested,
                _ => ReviewDecision::Pending,
            },
            unresolved_threads: threads,
            mergeable: v["state"] == "OPEN" && merge_state == "CLEAN",
            conflicts: v["mergeable"] == "CONFLICTING" || merge_state == "DIRTY",
            behind_base: merge_state == "BEHIND",
        }
    }

    /// At most the last `LOG_TAIL` characters of a log, without control sequences.
    fn tail(log: &str) -> String {
        let clean = ao_core::text::sanitize_for_terminal(log);
        let chars: Vec<char> = clean.chars().collect();
        let start = chars.len().saturating_sub(LOG_TAIL);
        chars[start..].iter().collect()
    }

    impl GithubScm {
        /// Runs one query per batch and turns each PR's `pullRequest` object into what
        /// `each` makes of it (given the PR's place in `prs`), or says why not, in order.
        /// Each object is taken out of its batch's reply as the reply comes, so a poll
        /// of a thousand holds what `each` keeps, not a thousand replies.
        async fn batched<T>(
            &self,
            name: &str,
            prs: &[&PrRef],
            fields: &str,
            mut each: impl FnMut(usize, Value) -> T,
        ) -> Vec<Result<T, PluginError>> {
            let mut out = Vec::with_capacity(prs.len());
            for (c, chunk) in prs.chunks(BATCH).enumerate() {
                let owned: Vec<PrRef> = chunk.iter().map(|p| (*p).clone()).collect();
                let (query, vars) = batch_query(name, &owned, fields);
                match self.gh.graphql(&query, vars).await {
                    Ok(mut reply) => {
                        for (i, pr) in owned.iter().enumerate() {
                            let alias = format!("p{i}");
                            let mut field = |name: &str| {
                                reply
                                    .data
                                    .get_mut(&alias)
                                    .and_then(|r| r.get_mut(name))
                                    .map(Value::take)
                                    .unwrap_or(Value::Null)
                            };
                            let mut v = field("pullRequest");
                            if v.is_object() {
                                // Where GitHub says the repository is now (it follows a rename).
                                v["__repository"] = field("nameWithOwner");
                                out.push(Ok(each(c * BATCH + i, v)));
                            } else {
                                let why = reply
                                    .errors
                                    .iter()
                                    .find(|e| {
                                        e.path.first().and_then(Value::as_str) == Some(&alias)
                                    })
                                    .map(|e| e.message.clone())
                                    .unwrap_or_else(|| "GitHub returned nothing for it".into());
                                out.push(Err(PluginError::failed(
                                    NAME,
                                    format!("{}/{}#{}: {why}", pr.owner, pr.repo, pr.number),
                                )));
                            }
                        }
                    }
                    Err(e) => {
                        // Each pull request of the chunk gets the request's error as it is.
                        for _ in chunk {
                            out.push(Err(fail(e.clone())));
                        }
                    }
                }
            }
            out
        }

        /// Adds the tail of each failed GitHub Actions job's log, fetched once per check
        /// and head SHA.
        async fn add_logs(&self, status: &mut PrStatus) {
            let repo = format!("{}/{}", status.pr.owner, status.pr.repo);
            for check in &mut status.checks {
                let is_actions = check
                    .url
                    .as_deref()
                    .is_some_and(|u| u.contains("/actions/runs/"));
                if check.state != CheckState::Failed || !is_actions || check.id.is_empty() {
                    continue;
                }
                let key = (repo.clone(), check.id.clone(), status.head_sha.clone());
                let known = self.logs.lock().ok().and_then(|l| l.get(&key).cloned());
                let excerpt = match known {
                    Some(e) => e,
                    None => {
                        let got = self
                            .gh
                            .get(
                                &format!("/repos/{repo}/actions/jobs/{}/logs", check.id),
                                None,
                            )
                            .await
                            .ok()
                            .and_then(|r| r.body.as_str().map(tail));
                        // Only a log read is kept: one that failed is asked for again.
                        if got.is_some()
                            && let Ok(mut l) = self.logs.lock()
                        {
                            // A host keeps this scm for its life: the logs of heads gone
                            // by are dropped, not kept forever.
                            if l.len() >= 1000 {
                                l.clear();
                            }
                            l.insert(key, got.clone());
                        }
                        got
                    }
                };
                check.log_excerpt = excerpt;
            }
        }
    }

    /// `owner/name`, as GitHub names a repository.
    pub fn parse_repo(text: &str) -> Result<RepoId, String> {
        RepoName::parse(text)
            .map(|r| RepoId::new(r.owner, r.name))
            .ok_or_else(|| {
                format!("`{text}` is not OWNER/NAME, as GitHub names a repository (acme/app)")
            })
    }

    /// The pull request at `url`: `https://HOST/OWNER/NAME/pull/N`, perhaps with more
    /// after it (`/files`); the address is kept as given.
    pub fn parse_pr_url(url: &str) -> Option<PrRef> {
        let rest = url.trim().split_once("://")?.1;
        let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
        match parts.as_slice() {
            [_host, owner, name, "pull", n, ..] => {
                let repo = RepoName::parse(&format!("{owner}/{name}"))?;
                let number = n.parse().ok().filter(|&n: &u64| n > 0)?;
                Some(PrRef::new(
                    &RepoId::new(repo.owner, repo.name),
                    number,
                    url.trim(),
                ))
            }
            _ => None,
        }
    }

    #[async_trait]
    impl Scm for GithubScm {
        fn display_name(&self) -> String {
            "GitHub".to_owned()
        }

        fn parse_repo(&self, text: &str) -> Result<RepoId, String> {
            parse_repo(text)
        }

        fn parse_pr_url(&self, url: &str) -> Option<PrRef> {
            parse_pr_url(url)
        }

        fn pr_ref(&self, repo: &RepoId, number: u64) -> PrRef {
            let host = &self.gh.endpoints().host;
            PrRef::new(repo, number, format!("https://{host}/{repo}/pull/{number}"))
        }

        async fn detect_prs(
            &self,
            repo: &RepoId,
            branches: &[String],
        ) -> Result<Vec<Option<PrRef>>, PluginError> {
            let (owner, name) = (repo.owner(), repo.name());
            let mut out = Vec::new();
            for chunk in branches.chunks(BATCH) {
                let mut vars = serde_json::Map::new();
                vars.insert("owner".into(), json!(owner));
                vars.insert("name".into(), json!(name));
                for (i, b) in chunk.iter().enumerate() {
                    vars.insert(format!("b{i}"), json!(b));
                }
                let reply = self
                    .gh
                    .graphql(&detect_query(chunk), Value::Object(vars))
                    .await
                    .map_err(fail)?;
                let repository = &reply.data["repository"];
                if repository.is_null() {
                    return Err(PluginError::failed(
                        NAME,
                        format!(
                            "there is no repository {repo} on {}, or the token cannot see it (renamed or deleted?); check the project's `repo`",
                            self.gh.endpoints().host
                        ),
                    ));
                }
                for i in 0..chunk.len() {
                    let node = &repository[format!("b{i}")]["nodes"][0];
                    out.push(node["number"].as_u64().map(|number| {
                        PrRef::new(repo, number, node["url"].as_str().unwrap_or(""))
                    }));
                }
            }
            Ok(out)
        }

        async fn enrich(
            &self,
            prs: &[PrRef],
            known: &[Option<String>],
        ) -> Vec<Result<Option<PrStatus>, PluginError>> {
            let refs: Vec<&PrRef> = prs.iter().collect();
            // Only each PR's fingerprint is kept of the light look.
            let light = self
                .batched("LightPoll", &refs, LIGHT_FIELDS, |_, v| fingerprint(&v))
                .await;
            let mut out: Vec<Option<Result<Option<PrStatus>, PluginError>>> =
                Vec::with_capacity(prs.len());
            let mut changed = Vec::new();
            for (i, l) in light.into_iter().enumerate() {
                match l {
                    Ok(f) => {
                        if known.get(i).and_then(|k| k.as_deref()) == Some(f.as_str()) {
                            out.push(Some(Ok(None)));
                        } else {
                            out.push(None);
                            changed.push((i, f));
                        }
                    }
                    Err(e) => out.push(Some(Err(e))),
                }
            }
            let changed_refs: Vec<&PrRef> = changed.iter().map(|(i, _)| &prs[*i]).collect();
            let full = self
                .batched("FullPoll", &changed_refs, FULL_FIELDS, |k, v| {
                    let (i, f) = &changed[k];
                    status_of(&prs[*i], &v, f.clone())
                })
                .await;
            for ((i, _), r) in changed.into_iter().zip(full) {
                out[i] = Some(match r {
                    Ok(mut status) => {
                        self.add_logs(&mut status).await;
                        Ok(Some(status))
                    }
                    Err(e) => Err(e),
                });
            }
            out.into_iter()
                .map(|r| r.unwrap_or_else(|| Err(PluginError::failed(NAME, "not read"))))
                .collect()
        }

        async fn merge(&self, m: &MergeParams) -> Result<(), PluginError> {
            let repo = RepoName {
                owner: m.pr.owner.clone(),
                name: m.pr.repo.clone(),
            };
            let method = match m.method {
                MergeMethod::Merge => "merge",
                MergeMethod::Squash => "squash",
                MergeMethod::Rebase => "rebase",
            };
            let reply = self
                .gh
                .write(
                    "PUT",
                    &format!("/repos/{repo}/pulls/{}/merge", m.pr.number),
                    &json!({ "sha": m.head_sha, "merge_method": method }),
                )
                .await;
            match reply {
                Ok(_) => {}
                Err(e) if e.status == Some(409) => {
                    return Err(PluginError::Refused {
                        plugin: NAME.into(),
                        message: format!(
                            "{repo}#{} was not merged: its head moved since it was checked (it is no longer {}); look at the new commits first",
                            m.pr.number,
                            &m.head_sha[..m.head_sha.len().min(12)]
                        ),
                    });
                }
                // No answer, an outage, or GitHub asking ao to wait (its `retry-after`):
                // transient, so the caller reads the pull request again, or waits.
                Err(e) => return Err(fail(e)),
            }
            if m.delete_branch {
                let detail = self
                    .gh
                    .graphql(
                        HEAD_QUERY,
                        json!({ "owner": repo.owner, "name": repo.name, "number": m.pr.number }),
                    )
                    .await
                    .map_err(|e| e.plugin(NAME))?;
                if let Some(branch) =
                    detail.data["repository"]["pullRequest"]["headRefName"].as_str()
                {
                    self.gh
                        .write("DELETE", &format!("/repos/{repo}/git/refs/heads/{branch}"), &json!({}))
                        .await
                        .map_err(|e| {
                            PluginError::failed(
                                NAME,
                                format!("{repo}#{} was merged, but its branch {branch} was not deleted: {e}", m.pr.number),
                            )
                        })?;
                }
            }
            Ok(())
        }

        fn remember(&self, status: &PrStatus) {
            let repo = format!("{}/{}", status.pr.owner, status.pr.repo);
            if let Ok(mut logs) = self.logs.lock() {
                for c in &status.checks {
                    if c.state == CheckState::Failed && c.log_excerpt.is_some() {
                        logs.entry((repo.clone(), c.id.clone(), status.head_sha.clone()))
                            .or_insert_with(|| c.log_excerpt.clone());
                    }
                }
            }
        }

        async fn runs_ci(&self, repo: &RepoId) -> Result<Option<bool>, PluginError> {
            let reply = self
                .gh
                .graphql(
                    RUNS_CI_QUERY,
                    json!({ "owner": repo.owner(), "name": repo.name() }),
                )
                .await
                .map_err(fail)?;
            let repository = &reply.data["repository"];
            if repository.is_null() {
                return Ok(None);
            }
            let checked = repository["defaultBranchRef"]["target"]["history"]["nodes"]
                .as_array()
                .is_some_and(|commits| commits.iter().any(|c| !c["statusCheckRollup"].is_null()));
            Ok(Some(checked || !repository["workflows"].is_null()))
        }

        fn budget(&self) -> Option<ao_core::plugin::Budget> {
            self.gh.rate_limit().map(|r| ao_core::plugin::Budget {
                remaining: r.remaining,
                limit: r.limit,
                reset: r.reset,
            })
        }

        async fn close(&self, pr: &PrRef) -> Result<(), PluginError> {
            self.gh
                .write(
                    "PATCH",
                    &format!("/repos/{}/{}/pulls/{}", pr.owner, pr.repo, pr.number),
                    &json!({ "state": "closed" }),
                )
                .await
                .map(|_| ())
                .map_err(|e| e.plugin(NAME))
        }
    }

    pub(super) fn build(section: &SectionRef<'_>) -> Result<Arc<dyn Scm>, PluginError> {
        let endpoints = crate::tracker::github::section_endpoints(section)
            .map_err(|e| PluginError::failed(NAME, e))?;
        Ok(Arc::new(GithubScm::new(GitHub::new(endpoints))))
    }
}

#[cfg(feature = "github")]
pub use imp::{GithubScm, parse_pr_url, parse_repo, queries};

/// The registry entry.
pub fn entry() -> PluginEntry {
    #[cfg(feature = "github")]
    {
        crate::available(
            Slot::Scm,
            "github",
            "GitHub pull requests, checks and reviews (default)",
            Some(validate),
            ao_core::registry::Factory::Scm(std::sync::Arc::new(imp::build)),
        )
    }
    #[cfg(not(feature = "github"))]
    {
        crate::planned(
            Slot::Scm,
            "github",
            "GitHub pull requests, checks and reviews (default)",
            Some(validate),
        )
    }
}

#[cfg(all(test, feature = "github"))]
mod tests {
    use super::*;

    #[test]
    fn a_required_check_skipped_or_neutral_has_not_passed() {
        use ao_core::plugin::CheckState::{Failed, Passed, Pending};
        let run = |conclusion: &str, required: bool| {
            imp::check_state(&serde_json::json!({
                "__typename": "CheckRun", "status": "COMPLETED",
                "conclusion": conclusion, "isRequired": required,
            }))
        };
        assert_eq!(run("SUCCESS", true), Passed);
        assert_eq!(run("SKIPPED", true), Pending);
        assert_eq!(run("NEUTRAL", true), Pending);
        assert_eq!(run("SKIPPED", false), Passed);
        assert_eq!(run("NEUTRAL", false), Passed);
        assert_eq!(run("FAILURE", false), Failed);
        assert_eq!(run("CANCELLED", true), Failed);
    }

    #[test]
    fn repositories_and_pull_request_addresses_read_as_github_writes_them() {
        assert_eq!(parse_repo("acme/app.git").unwrap().to_string(), "acme/app");
        let e = parse_repo("group/sub/app").unwrap_err();
        assert!(
            e.contains("is not OWNER/NAME, as GitHub names a repository"),
            "{e}"
        );
        let pr = parse_pr_url("https://github.com/acme/app/pull/7/files").unwrap();
        assert_eq!(
            (pr.owner.as_str(), pr.repo.as_str(), pr.number),
            ("acme", "app", 7)
        );
        assert_eq!(pr.url, "https://github.com/acme/app/pull/7/files");
        assert_eq!(parse_pr_url("https://github.com/acme/app/issues/7"), None);
        assert_eq!(parse_pr_url("https://github.com/acme/app/pull/0"), None);
    }
}
