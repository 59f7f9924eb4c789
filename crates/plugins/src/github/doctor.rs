//! What `ao doctor` says about a GitHub host: the token, the API, the rate limit, the
//! token's scopes, and each project's repository.

use super::{GitHub, RepoName};

/// How a finding reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Fine.
    Ok,
    /// Works, with a caveat.
    Warn,
    /// Does not work.
    Fail,
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Finding {
    /// What was checked (`github`, `github api`, `repo acme/app`).
    pub name: String,
    /// Its level.
    pub level: Level,
    /// What was found.
    pub detail: String,
    /// What to do, when something is to be done.
    pub fix: Option<String>,
}

fn finding(name: &str, level: Level, detail: impl Into<String>, fix: Option<&str>) -> Finding {
    Finding {
        name: name.to_owned(),
        level,
        detail: detail.into(),
        fix: fix.map(str::to_owned),
    }
}

/// Checks `gh` and the repositories (`(project, repo)`) projects read on it.
pub async fn check(gh: &GitHub, repos: &[(String, String)]) -> Vec<Finding> {
    let host = gh.endpoints().host.clone();
    let name = if host == "github.com" {
        "github".to_owned()
    } else {
        format!("github {host}")
    };
    let mut out = Vec::new();
    let source = match gh.token_source().await {
        Ok(s) => s,
        Err(_) => {
            out.push(finding(
                &name,
                Level::Warn,
                format!("no token for {host}: issues and pull requests cannot be read"),
                Some(&if host == "github.com" {
                    "set GH_TOKEN (or GITHUB_TOKEN), or run `gh auth login`".to_owned()
                } else {
                    format!(
                        "set GH_TOKEN (or GITHUB_TOKEN), or run `gh auth login --hostname {host}`"
                    )
                }),
            ));
            return out;
        }
    };
    out.push(finding(
        &name,
        Level::Ok,
        format!("token from {source}"),
        None,
    ));
    match gh.get("/rate_limit", None).await {
        Ok(reply) => {
            let bucket = |b: &serde_json::Value| {
                format!(
                    "{}/{}",
                    b["remaining"].as_u64().unwrap_or(0),
                    b["limit"].as_u64().unwrap_or(0)
                )
            };
            let core = &reply.body["resources"]["core"];
            let graphql = &reply.body["resources"]["graphql"];
            let low = core["remaining"].as_u64().is_some_and(|r| r < 100)
                || graphql["remaining"].as_u64().is_some_and(|r| r < 100);
            out.push(finding(
                &format!("{name} api"),
                if low { Level::Warn } else { Level::Ok },
                format!(
                    "{} answers; rate limit left: {} REST, {} GraphQL",
                    gh.endpoints().rest,
                    bucket(core),
                    bucket(graphql)
                ),
                low.then_some("wait for the limit to reset, or use another token"),
            ));
            match reply.scopes.as_deref().map(str::trim) {
                Some(scopes) => {
                    let has = |s: &str| scopes.split(',').any(|x| x.trim() == s);
                    if has("repo") || has("public_repo") {
                        out.push(finding(
                            &format!("{name} scopes"),
                            Level::Ok,
                            scopes.to_owned(),
                            None,
                        ));
                    } else {
                        out.push(finding(
                            &format!("{name} scopes"),
                            Level::Warn,
                            format!(
                                "`{}`: neither `repo` nor `public_repo`, so pull requests cannot be opened or merged",
                                if scopes.is_empty() { "(none)" } else { scopes }
                            ),
                            Some("make a token with the `repo` scope, or run `gh auth refresh -s repo`"),
                        ));
                    }
                }
                None => out.push(finding(
                    &format!("{name} scopes"),
                    Level::Ok,
                    "not reported (a fine-grained token: its repository permissions apply)",
                    None,
                )),
            }
        }
        Err(e) => {
            out.push(finding(
                &format!("{name} api"),
                Level::Fail,
                e.message,
                Some("check the network, `apiUrl` or GITHUB_API_URL, and the token"),
            ));
            return out;
        }
    }
    for (project, repo) in repos {
        let label = format!("repo {repo}");
        let Some(parsed) = RepoName::parse(repo) else {
            out.push(finding(
                &label,
                Level::Fail,
                format!("project `{project}`: `{repo}` is not owner/name"),
                Some("set the project's `repo` to its GitHub repository, e.g. acme/app"),
            ));
            continue;
        };
        match gh.get(&format!("/repos/{parsed}"), None).await {
            Ok(_) => out.push(finding(
                &label,
                Level::Ok,
                format!("project `{project}`: readable"),
                None,
            )),
            Err(e) if e.status == Some(404) => out.push(finding(
                &label,
                Level::Fail,
                format!(
                    "project `{project}`: there is no repository {parsed} on {host}, or the token cannot see it"
                ),
                Some("check the project's `repo`, and that the token has access to it"),
            )),
            Err(e) => out.push(finding(
                &label,
                Level::Fail,
                format!("project `{project}`: {e}"),
                None,
            )),
        }
    }
    out
}
