//! The `github` tracker: GitHub issues of the project's `repo`, read through GitHub's
//! GraphQL API (one query per issue; a listing 100 issues a page).

use ao_core::config::Diagnostic;
use ao_core::plugin::Slot;
use ao_core::registry::{PluginEntry, SectionRef};
use serde::Deserialize;

/// The tracker's own settings (the scm takes the same).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GithubTrackerOptions {
    /// A GitHub Enterprise host, e.g. `github.example.com` (default github.com).
    #[serde(default)]
    pub host: Option<String>,
    /// The REST API's address, instead of the host's own (`https://HOST/api/v3`).
    #[serde(default)]
    pub api_url: Option<String>,
    /// The GraphQL API's address, instead of the one beside `apiUrl`.
    #[serde(default)]
    pub graphql_url: Option<String>,
}

fn validate(section: &SectionRef<'_>) -> Vec<Diagnostic> {
    let (options, mut diags) = section.deserialize::<GithubTrackerOptions>(&[]);
    if let Some(o) = options
        && let Err(e) = crate::github::endpoint::endpoints(
            o.host.as_deref(),
            o.api_url.as_deref(),
            o.graphql_url.as_deref(),
            None,
        )
    {
        diags.push(Diagnostic::error(section.file, section.loc, e));
    }
    diags
}

#[cfg(feature = "github")]
mod imp {
    use super::GithubTrackerOptions;
    use crate::github::{GitHub, GitHubError, RepoName, endpoint};
    use ao_core::plugin::{Issue, IssueFilter, PluginError, Tracker};
    use ao_core::registry::SectionRef;
    use async_trait::async_trait;
    use serde_json::{Value, json};
    use std::sync::Arc;

    pub(super) const NAME: &str = "github";

    const ISSUE_FIELDS: &str = "fragment IssueFields on Issue {
  number
  title
  body
  url
  state
  labels(first: 100) { nodes { name } }
  assignees(first: 100) { nodes { login } }
  milestone { title number }
}";

    /// One issue or pull request by number, so a pull request's number is told apart.
    pub const ISSUE_QUERY: &str = "query Issue($owner: String!, $name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) {
    issueOrPullRequest(number: $number) {
      __typename
      ... on Issue { ...IssueFields }
    }
  }
  rateLimit { cost remaining limit resetAt }
}";

    /// A page of open issues, filtered as GitHub can (labels match any; ao keeps those
    /// with all), by assignee and milestone only when asked: in GitHub's `IssueFilters`
    /// a filter given as `null` means "none" (no assignee, no milestone), so one not
    /// asked for is left out of the query.
    fn list_query(assignee: bool, milestone: bool) -> String {
        let mut variables = String::new();
        let mut filters = Vec::new();
        if assignee {
            variables.push_str(", $assignee: String");
            filters.push("assignee: $assignee");
        }
        if milestone {
            variables.push_str(", $milestone: String");
            filters.push("milestoneNumber: $milestone");
        }
        let filter_by = if filters.is_empty() {
            String::new()
        } else {
            format!(", filterBy: {{ {} }}", filters.join(", "))
        };
        format!(
            "query Issues($owner: String!, $name: String!, $after: String, $labels: [String!]{variables}) {{
  repository(owner: $owner, name: $name) {{
    issues(first: 100, after: $after, states: [OPEN], labels: $labels{filter_by}, orderBy: {{ field: CREATED_AT, direction: ASC }}) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ ...IssueFields }}
    }}
  }}
  rateLimit {{ cost remaining limit resetAt }}
}}
{ISSUE_FIELDS}"
        )
    }

    /// A filter value as GitHub's `IssueFilters` takes it: `none` is `null` (issues with
    /// none), `any` is `*` (issues with any), anything else as it is.
    fn filter_value(value: &str) -> Value {
        match value {
            "none" => Value::Null,
            "any" | "*" => json!("*"),
            other => json!(other),
        }
    }

    /// The repository's milestones whose title contains the text, to find one by title.
    pub const MILESTONES_QUERY: &str =
        "query Milestones($owner: String!, $name: String!, $query: String) {
  repository(owner: $owner, name: $name) {
    milestones(first: 100, query: $query) { nodes { title number } }
  }
  rateLimit { cost remaining limit resetAt }
}";

    /// Every query this tracker sends, for the tests that check them against GitHub's
    /// schema.
    pub fn queries() -> Vec<String> {
        vec![
            format!("{ISSUE_QUERY}\n{ISSUE_FIELDS}"),
            list_query(false, false),
            list_query(true, false),
            list_query(false, true),
            list_query(true, true),
            MILESTONES_QUERY.to_owned(),
        ]
    }

    /// GitHub issues of one repository.
    pub struct GithubTracker {
        gh: Arc<GitHub>,
        repo: Option<RepoName>,
        repo_text: Option<String>,
    }

    fn fail(e: GitHubError) -> PluginError {
        e.plugin(NAME)
    }

    fn failed(message: impl Into<String>) -> PluginError {
        PluginError::failed(NAME, message)
    }

    impl GithubTracker {
        fn repo(&self) -> Result<&RepoName, PluginError> {
            self.repo.as_ref().ok_or_else(|| match &self.repo_text {
                Some(text) => failed(format!(
                    "the project's `repo` `{text}` is not owner/name; set it to the GitHub repository, e.g. acme/app"
                )),
                None => failed(
                    "the project names no `repo`, so there are no GitHub issues to read; set `repo: owner/name` in the project",
                ),
            })
        }

        /// The issue number in what the user typed: `12`, `#12`, or the issue's address.
        fn number(&self, id: &str) -> Result<u64, PluginError> {
            let repo = self.repo()?;
            let id = id.trim();
            if let Some(n) = id
                .trim_start_matches('#')
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
            {
                return Ok(n);
            }
            let Some(rest) = id
                .strip_prefix("https://")
                .or_else(|| id.strip_prefix("http://"))
            else {
                return Err(failed(format!(
                    "`{id}` is not an issue of {repo}: give its number (12 or #12) or its address"
                )));
            };
            let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
            let host = &self.gh.endpoints().host;
            match parts.as_slice() {
                [h, owner, name, kind, n] if h.eq_ignore_ascii_case(host) => {
                    let named = format!("{owner}/{name}");
                    if !named.eq_ignore_ascii_case(&repo.to_string()) {
                        return Err(failed(format!(
                            "{id} is an issue of {named}, not of the project's repository {repo}"
                        )));
                    }
                    let n = n
                        .parse::<u64>()
                        .map_err(|_| failed(format!("{id} has no issue number at its end")))?;
                    match *kind {
                        "issues" => Ok(n),
                        "pull" => Err(failed(format!(
                            "#{n} of {repo} is a pull request, not an issue; give an issue's number"
                        ))),
                        _ => Err(failed(format!("{id} is not an issue's address"))),
                    }
                }
                [h, ..] if !h.eq_ignore_ascii_case(host) => Err(failed(format!(
                    "{id} is on {h}, but the project's tracker reads {host}; set the tracker's `host` if the repository lives there"
                ))),
                _ => Err(failed(format!(
                    "{id} is not an issue's address (https://{host}/owner/name/issues/N)"
                ))),
            }
        }

        async fn fetch(&self, id: &str) -> Result<Issue, PluginError> {
            let repo = self.repo()?;
            let number = self.number(id)?;
            let reply = self
                .gh
                .graphql(
                    &format!("{ISSUE_QUERY}\n{ISSUE_FIELDS}"),
                    json!({ "owner": repo.owner, "name": repo.name, "number": number }),
                )
                .await
                .map_err(fail)?;
            let repository = &reply.data["repository"];
            if repository.is_null() {
                return Err(failed(format!(
                    "there is no repository {repo} on {}, or the token cannot see it; check the project's `repo` and the token's access{}",
                    self.gh.endpoints().host,
                    said(&reply.errors)
                )));
            }
            let item = &repository["issueOrPullRequest"];
            match item["__typename"].as_str() {
                Some("Issue") => Ok(issue_of(item)),
                Some("PullRequest") => Err(failed(format!(
                    "#{number} of {repo} is a pull request, not an issue; give an issue's number"
                ))),
                _ => Err(failed(format!(
                    "{repo} has no issue #{number}; `ao issue ls` lists its open issues"
                ))),
            }
        }

        async fn milestone_number(&self, milestone: &str) -> Result<String, PluginError> {
            if milestone.parse::<u64>().is_ok() || ["*", "any", "none"].contains(&milestone) {
                return Ok(milestone.to_owned());
            }
            let repo = self.repo()?;
            let reply = self
                .gh
                .graphql(
                    MILESTONES_QUERY,
                    json!({ "owner": repo.owner, "name": repo.name, "query": milestone }),
                )
                .await
                .map_err(fail)?;
            let nodes = reply.data["repository"]["milestones"]["nodes"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            nodes
                .iter()
                .find(|m| m["title"].as_str() == Some(milestone))
                .and_then(|m| m["number"].as_u64())
                .map(|n| n.to_string())
                .ok_or_else(|| {
                    failed(format!(
                        "{repo} has no milestone titled `{milestone}`; give its title exactly, or its number"
                    ))
                })
        }
    }

    /// The errors GitHub gave, as a clause for a message.
    fn said(errors: &[crate::github::GraphqlError]) -> String {
        if errors.is_empty() {
            return String::new();
        }
        format!(
            " (GitHub said: {})",
            errors
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        )
    }

    fn names(v: &Value, key: &str) -> Vec<String> {
        v["nodes"]
            .as_array()
            .map(|nodes| {
                nodes
                    .iter()
                    .filter_map(|n| n[key].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn issue_of(v: &Value) -> Issue {
        Issue {
            id: v["number"]
                .as_u64()
                .map(|n| n.to_string())
                .unwrap_or_default(),
            title: v["title"].as_str().unwrap_or("").to_owned(),
            body: v["body"].as_str().unwrap_or("").to_owned(),
            url: v["url"].as_str().map(str::to_owned),
            labels: names(&v["labels"], "name"),
            state: v["state"].as_str().map(|s| s.to_ascii_lowercase()),
            assignees: names(&v["assignees"], "login"),
            milestone: v["milestone"]["title"].as_str().map(str::to_owned),
        }
    }

    #[async_trait]
    impl Tracker for GithubTracker {
        async fn issue(&self, id: &str) -> Result<Issue, PluginError> {
            self.fetch(id).await
        }

        async fn is_completed(&self, id: &str) -> Result<bool, PluginError> {
            Ok(self.fetch(id).await?.state.as_deref() == Some("closed"))
        }

        fn branch_name(&self, issue: &Issue) -> String {
            format!("feat/issue-{}", issue.id)
        }

        fn prompt(&self, issue: &Issue) -> String {
            let repo = self
                .repo
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            let mut text = format!(
                "Work on GitHub issue #{} of {repo}: {}\n",
                issue.id, issue.title
            );
            if let Some(url) = &issue.url {
                text.push_str(&format!("{url}\n"));
            }
            if !issue.labels.is_empty() {
                text.push_str(&format!("Labels: {}\n", issue.labels.join(", ")));
            }
            if let Some(m) = &issue.milestone {
                text.push_str(&format!("Milestone: {m}\n"));
            }
            let body = issue.body.trim();
            text.push('\n');
            text.push_str(if body.is_empty() {
                "(The issue has no description.)"
            } else {
                body
            });
            text.push_str(&format!(
                "\n\nWhen the work is done: commit it on this branch ({}), push the branch to origin, and open a pull request for it with `gh pr create`, saying in its description `Closes #{}`. If you cannot finish, say what stops you.",
                self.branch_name(issue),
                issue.id
            ));
            text
        }

        async fn list(&self, filter: &IssueFilter) -> Result<Vec<Issue>, PluginError> {
            let repo = self.repo()?;
            let milestone = match &filter.milestone {
                Some(m) => Some(self.milestone_number(m).await?),
                None => None,
            };
            let mut out = Vec::new();
            let query = list_query(filter.assignee.is_some(), milestone.is_some());
            let mut after: Option<String> = None;
            loop {
                let mut variables = json!({
                    "owner": repo.owner,
                    "name": repo.name,
                    "after": after,
                    "labels": (!filter.labels.is_empty()).then_some(&filter.labels),
                });
                if let Some(a) = &filter.assignee {
                    variables["assignee"] = filter_value(a);
                }
                if let Some(m) = &milestone {
                    variables["milestone"] = filter_value(m);
                }
                let reply = self.gh.graphql(&query, variables).await.map_err(fail)?;
                let issues = &reply.data["repository"]["issues"];
                if reply.data["repository"].is_null() {
                    return Err(failed(format!(
                        "there is no repository {repo} on {}, or the token cannot see it; check the project's `repo` and the token's access{}",
                        self.gh.endpoints().host,
                        said(&reply.errors)
                    )));
                }
                for node in issues["nodes"].as_array().into_iter().flatten() {
                    let issue = issue_of(node);
                    if filter.labels.iter().all(|l| issue.labels.contains(l)) {
                        out.push(issue);
                    }
                    if filter.limit.is_some_and(|n| out.len() >= n) {
                        return Ok(out);
                    }
                }
                match (
                    issues["pageInfo"]["hasNextPage"].as_bool(),
                    issues["pageInfo"]["endCursor"].as_str(),
                ) {
                    (Some(true), Some(cursor)) => after = Some(cursor.to_owned()),
                    _ => return Ok(out),
                }
            }
        }
    }

    /// The GitHub addresses a tracker or scm section names: its `host`, `apiUrl` and
    /// `graphqlUrl`, then `GITHUB_API_URL`.
    pub fn section_endpoints(section: &SectionRef<'_>) -> Result<endpoint::Endpoints, String> {
        let (options, diags) = section.deserialize::<GithubTrackerOptions>(&["webhook"]);
        if let Some(e) = diags
            .iter()
            .find(|d| d.severity == ao_core::config::Severity::Error)
        {
            return Err(e.message.clone());
        }
        let o = options.unwrap_or_default();
        let env_api = std::env::var("GITHUB_API_URL").ok();
        endpoint::endpoints(
            o.host.as_deref(),
            o.api_url.as_deref(),
            o.graphql_url.as_deref(),
            env_api.as_deref(),
        )
    }

    pub(super) fn build(section: &SectionRef<'_>) -> Result<Arc<dyn Tracker>, PluginError> {
        let endpoints = section_endpoints(section).map_err(failed)?;
        Ok(Arc::new(GithubTracker {
            // Its own clients: octocrab's run on the async runtime they were made on,
            // and each `ao` command makes its own.
            gh: GitHub::new(endpoints),
            repo: section.repo.and_then(RepoName::parse),
            repo_text: section.repo.map(str::to_owned),
        }))
    }
}

#[cfg(feature = "github")]
pub use imp::{GithubTracker, queries, section_endpoints};

/// The registry entry.
pub fn entry() -> PluginEntry {
    #[cfg(feature = "github")]
    {
        crate::available(
            Slot::Tracker,
            "github",
            "GitHub issues of the project's repo (default)",
            Some(validate),
            ao_core::registry::Factory::Tracker(std::sync::Arc::new(imp::build)),
        )
    }
    #[cfg(not(feature = "github"))]
    {
        crate::planned(
            Slot::Tracker,
            "github",
            "GitHub issues of the project's repo (default)",
            Some(validate),
        )
    }
}
