//! GitHub, part 1: the token, the host's addresses, the `github` tracker, `ao issue ls`,
//! `ao spawn --label` and `ao doctor`'s GitHub lines, against the fake GitHub, with every
//! GraphQL query checked against GitHub's schema.

use ao_tests::Fleet;
use ao_tests::github::{FakeGitHub, Fault, TOKEN};

/// A fleet whose project `app` reads issues of `acme/app` on the fake GitHub (through
/// `GITHUB_API_URL`, as GitHub Actions sets it), with `cat` as its agent.
fn github_fleet(gh: &FakeGitHub, extra_tracker: &str) -> Fleet {
    gh.repo("acme/app");
    let mut f = Fleet::new("");
    let config = format!(
        "runtimes:\n  tmux:\n    socket: {}\nprojects:\n  app:\n    path: {}\n    repo: acme/app\n    tracker:\n      plugin: github\n{extra_tracker}    agent: command\n    agentConfig:\n      command: [cat]\n",
        f.socket.display(),
        f.repo.display()
    );
    std::fs::write(f.repo.join("agent-orchestrator.yaml"), config).unwrap();
    f.env.set("GH_TOKEN", TOKEN);
    f.env.set("GITHUB_API_URL", &gh.url);
    f
}

/// After each test: ao sent only queries that GitHub's schema accepts.
/// Appends `yaml` (top-level keys) to the fleet's config.
fn add_to_config(f: &Fleet, yaml: &str) {
    let config = f.repo.join("agent-orchestrator.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text + yaml).unwrap();
}

fn assert_queries_valid(gh: &FakeGitHub) {
    assert!(
        gh.invalid_queries().is_empty(),
        "queries GitHub would refuse: {:?}",
        gh.invalid_queries()
    );
}

#[test]
fn every_query_ao_sends_is_valid_against_githubs_schema() {
    let mut queries = ao_plugins::tracker::github::queries();
    queries.extend(ao_plugins::scm::github::queries());
    assert!(queries.len() >= 6);
    for q in queries {
        if let Err(errors) = ao_tests::github::validate(&q) {
            panic!("invalid against GitHub's schema: {errors:?}\n{q}");
        }
    }
    // And the check can fail: a misspelt field is refused with GitHub's kind of message.
    let errors = ao_tests::github::validate(
        "query { repository(owner: \"a\", name: \"b\") { isssue(number: 1) { title } } }",
    )
    .unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("type `Repository` does not have a field `isssue`")),
        "{errors:?}"
    );
}

#[test]
fn an_issue_by_number_hash_or_address_becomes_a_session_with_its_task() {
    let gh = FakeGitHub::start();
    let f = github_fleet(&gh, "");
    let n = gh.issue(
        "acme/app",
        "Fix the login",
        "The login form drops the password.",
        &["bug"],
    );
    assert_eq!(n, 1);
    f.ao(&["spawn", "app", "#1"]).success().stdout_has("app-1");
    let s = &f.sessions()[0];
    assert_eq!(s["branch"], "feat/issue-1");
    assert_eq!(s["issue"], "1");
    let prompt = s["prompt"].as_str().unwrap();
    for part in [
        "Work on GitHub issue #1 of acme/app: Fix the login",
        "https://github.com/acme/app/issues/1",
        "Labels: bug",
        "The login form drops the password.",
        "push the branch to origin, and open a pull request for it with `gh pr create`",
        "Closes #1",
    ] {
        assert!(prompt.contains(part), "{part:?} missing from {prompt}");
    }
    // The address form, and a number that is a pull request, refused as such.
    gh.issue("acme/app", "Second", "", &[]);
    f.ao(&["spawn", "app", "https://github.com/acme/app/issues/2"])
        .success()
        .stdout_has("app-2");
    let pr = gh.pull("acme/app", "A pull request");
    f.ao(&["spawn", "app", &pr.to_string()])
        .code(1)
        .stderr_has(&format!(
            "#{pr} of acme/app is a pull request, not an issue"
        ));
    f.ao(&["spawn", "app", "https://github.com/acme/other/issues/1"])
        .code(1)
        .stderr_has("is an issue of acme/other, not of the project's repository acme/app");
    f.ao(&["spawn", "app", "99"])
        .code(1)
        .stderr_has("acme/app has no issue #99");
    assert_eq!(f.tmux_sessions(), ["app-1", "app-2"]);
    assert_queries_valid(&gh);
}

#[test]
fn issue_ls_filters_pages_and_marks_issues_being_worked_on() {
    let gh = FakeGitHub::start();
    let f = github_fleet(&gh, "");
    let v1 = gh.milestone("acme/app", "v1.0");
    // 130 open issues: more than one page of 100.
    for i in 1..=130 {
        let labels: &[&str] = if i % 2 == 0 {
            &["agent", "bug"]
        } else {
            &["agent"]
        };
        gh.issue("acme/app", &format!("Issue {i}"), "", labels);
    }
    gh.edit_issue("acme/app", 4, |i| {
        i.assignees = vec!["octo".into()];
        i.milestone = Some(v1);
    });
    gh.edit_issue("acme/app", 6, |i| i.open = false);
    let all = f.ao(&["issue", "ls", "app", "--json"]);
    all.success();
    let list: Vec<serde_json::Value> = serde_json::from_str(&all.stdout).unwrap();
    assert_eq!(list.len(), 129, "every page, closed #6 left out");
    // Labels: all of them.
    let bugs = f.ao(&[
        "issue", "ls", "app", "--label", "agent", "--label", "bug", "--json",
    ]);
    let bugs: Vec<serde_json::Value> = serde_json::from_str(&bugs.stdout).unwrap();
    assert_eq!(bugs.len(), 64);
    assert!(
        bugs.iter()
            .all(|i| i["labels"] == serde_json::json!(["agent", "bug"]))
    );
    // Assignee and milestone (by title and by number).
    for args in [
        &["--assignee", "octo"][..],
        &["--milestone", "v1.0"],
        &["--milestone", "1"],
    ] {
        let run = f.ao(&[&["issue", "ls", "app", "--json"][..], args].concat());
        run.success();
        let got: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(got.len(), 1, "{args:?}: {}", run.stdout);
        assert_eq!(got[0]["id"], "4");
    }
    f.ao(&["issue", "ls", "app", "--milestone", "v9"])
        .code(1)
        .stderr_has("acme/app has no milestone titled `v9`");
    // A live session is marked on its issue.
    f.ao(&["spawn", "app", "4"]).success();
    f.ao(&["issue", "ls", "app", "--assignee", "octo"])
        .success()
        .stdout_has("ISSUE")
        .stdout_has("#4")
        .stdout_has("app-1");
    assert_queries_valid(&gh);
}

/// GitHub's meanings of the assignee and milestone filters: none asked for lists every
/// issue, `none` those without, `*` (or `any`) those with any, a value that one.
#[test]
fn issue_ls_and_spawn_by_label_keep_assigned_and_milestoned_issues_unless_filtered() {
    let gh = FakeGitHub::start();
    let f = github_fleet(&gh, "");
    let v1 = gh.milestone("acme/app", "v1.0");
    for (n, assigned, milestoned) in [
        (1, false, false),
        (2, true, false),
        (3, false, true),
        (4, true, true),
    ] {
        gh.issue("acme/app", &format!("Issue {n}"), "", &["agent"]);
        gh.edit_issue("acme/app", n, |i| {
            if assigned {
                i.assignees = vec!["octo".into()];
            }
            if milestoned {
                i.milestone = Some(v1);
            }
        });
    }
    let listed = |args: &[&str]| -> Vec<String> {
        let run = f.ao(&[&["issue", "ls", "app", "--json"][..], args].concat());
        run.success();
        let list: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
        list.iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    for (args, want) in [
        (&[][..], &["1", "2", "3", "4"][..]),
        (&["--assignee", "none"], &["1", "3"]),
        (&["--assignee", "*"], &["2", "4"]),
        (&["--assignee", "any"], &["2", "4"]),
        (&["--assignee", "octo"], &["2", "4"]),
        (&["--milestone", "none"], &["1", "2"]),
        (&["--milestone", "*"], &["3", "4"]),
        (&["--milestone", "any"], &["3", "4"]),
        (&["--milestone", "v1.0"], &["3", "4"]),
        (&["--assignee", "none", "--milestone", "any"], &["3"]),
    ] {
        assert_eq!(listed(args), want, "ao issue ls app {}", args.join(" "));
    }
    f.ao(&["spawn", "app", "--label", "agent", "--dry-run"])
        .success()
        .stdout_has("would spawn #1")
        .stdout_has("would spawn #2")
        .stdout_has("would spawn #3")
        .stdout_has("would spawn #4");
    assert_queries_valid(&gh);
}

#[test]
fn spawn_by_label_starts_one_session_per_free_issue_within_the_limit() {
    let gh = FakeGitHub::start();
    let f = github_fleet(&gh, "");
    for i in 1..=4 {
        gh.issue("acme/app", &format!("Task {i}"), "", &["agent"]);
    }
    gh.issue("acme/app", "Not for agents", "", &["human"]);
    f.ao(&["spawn", "app", "1"]).success();
    f.ao(&[
        "spawn",
        "app",
        "--label",
        "agent",
        "--limit",
        "2",
        "--dry-run",
    ])
    .success()
    .stdout_has("would spawn #2: Task 2")
    .stdout_has("would spawn #3: Task 3")
    .stdout_has("would skip #1: app-1 works on it");
    assert_eq!(f.tmux_sessions(), ["app-1"], "a dry run starts nothing");
    f.ao(&["spawn", "app", "--label", "agent", "--limit", "2"])
        .success()
        .stdout_has("app-2")
        .stdout_has("app-3");
    let issues: Vec<String> = f
        .sessions()
        .iter()
        .map(|s| s["issue"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(issues, ["1", "2", "3"]);
    f.ao(&["spawn", "app", "--label", "agent"])
        .success()
        .stdout_has("app-4");
    f.ao(&["spawn", "app", "--label", "agent"])
        .code(1)
        .stderr_has(
            "every open issue of project `app` with the label `agent` has a live session already",
        );
    f.ao(&["spawn", "app", "--label", "nobody-uses-this"])
        .code(1)
        .stderr_has("no open issue of project `app` has the label `nobody-uses-this`");
    assert_queries_valid(&gh);
}

#[test]
fn spawn_by_label_keeps_to_max_sessions() {
    let gh = FakeGitHub::start();
    let f = github_fleet(&gh, "");
    std::fs::write(
        f.repo.join("agent-orchestrator.yaml"),
        std::fs::read_to_string(f.repo.join("agent-orchestrator.yaml")).unwrap()
            + "    maxSessions: 2\n",
    )
    .unwrap();
    for i in 1..=3 {
        gh.issue("acme/app", &format!("Task {i}"), "", &["agent"]);
    }
    let run = f.ao(&["spawn", "app", "--label", "agent"]);
    run.code(1)
        .stdout_has("app-1")
        .stdout_has("app-2")
        .stderr_has("maxSessions 2");
    assert_eq!(f.tmux_sessions(), ["app-1", "app-2"]);
}

#[test]
fn bad_repositories_tokens_and_answers_are_explained_and_change_nothing() {
    let gh = FakeGitHub::start();
    let mut f = github_fleet(&gh, "");
    gh.issue("acme/app", "One", "", &[]);
    let config = f.repo.join("agent-orchestrator.yaml");
    let original = std::fs::read_to_string(&config).unwrap();
    // A repository that does not exist.
    std::fs::write(
        &config,
        original.replace("repo: acme/app", "repo: acme/gone"),
    )
    .unwrap();
    f.ao(&["spawn", "app", "1"])
        .code(1)
        .stderr_has("there is no repository acme/gone on github.com, or the token cannot see it")
        .stderr_has("Could not resolve to a Repository with the name 'acme/gone'");
    std::fs::write(&config, &original).unwrap();
    // A 5xx storm: retried, then explained.
    gh.fail_next(3, Fault::Status(502));
    f.ao(&["issue", "ls", "app"])
        .code(1)
        .stderr_has("github.com did not answer a GraphQL query after 3 attempts (502 Bad Gateway)");
    // One 5xx is retried away.
    gh.fail_next(1, Fault::Status(503));
    f.ao(&["issue", "ls", "app"]).success().stdout_has("#1");
    // Something that is not JSON.
    gh.fail_next(1, Fault::NotJson);
    f.ao(&["issue", "ls", "app"])
        .code(1)
        .stderr_has("answered a GraphQL query with something that is not JSON (status 200)")
        .stderr_has("Unicorn!");
    // A token GitHub rejects: named by where it came from, never shown.
    f.env.set("GH_TOKEN", "ghp_wrongTokenNeverToBeShown");
    let run = f.ao(&["spawn", "app", "1"]);
    run.code(1)
        .stderr_has("github.com rejected the token from $GH_TOKEN (Bad credentials)");
    assert!(!run.stderr.contains("ghp_wrong") && !run.stdout.contains("ghp_wrong"));
    f.env.set("GH_TOKEN", TOKEN);
    // A repository the token cannot see (GitHub answers as if it did not exist).
    gh.hide("acme/app");
    f.ao(&["issue", "ls", "app"])
        .code(1)
        .stderr_has("there is no repository acme/app on github.com, or the token cannot see it");
    assert!(f.tmux_sessions().is_empty());
    assert!(f.sessions().is_empty());
    assert_queries_valid(&gh);
}

#[test]
fn without_a_token_ao_says_where_it_looked() {
    let gh = FakeGitHub::start();
    let mut f = github_fleet(&gh, "");
    f.env.set("GH_TOKEN", "");
    // No `gh` to ask either.
    let mut cmd = f.env.command(ao_tests::ao_bin());
    cmd.args(["issue", "ls", "app"])
        .env("PATH", "/nonexistent")
        .current_dir(&f.repo);
    ao_tests::Run::of(cmd, &f.repo).code(1).stderr_has(
        "no GitHub token for github.com: set GH_TOKEN (or GITHUB_TOKEN), or run `gh auth login`",
    );
    assert!(gh.requests().is_empty(), "nothing was sent without a token");
}

#[test]
fn a_short_secondary_rate_limit_is_waited_out() {
    let gh = FakeGitHub::start();
    let f = github_fleet(&gh, "");
    gh.issue("acme/app", "One", "", &[]);
    gh.fail_next(1, Fault::SecondaryLimit(1));
    f.ao(&["issue", "ls", "app"]).success().stdout_has("#1");
    // Waited out: the retry came no sooner than `retry-after` said.
    let log = gh.requests();
    let waited = log[1].at.duration_since(log[0].at);
    assert!(
        waited >= std::time::Duration::from_secs(1),
        "retried {waited:?} after a secondary rate limit that said to wait 1 s"
    );
    gh.fail_next(1, Fault::SecondaryLimit(120));
    f.ao(&["issue", "ls", "app"])
        .code(1)
        .stderr_has("is limiting ao's requests (its secondary rate limit")
        .stderr_has("try again in 120 s");
    let statuses: Vec<u16> = gh.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [403, 200, 403]);
}

#[test]
fn enterprise_hosts_use_their_own_rest_and_graphql_addresses() {
    let gh = FakeGitHub::start();
    // An Enterprise-style base: GraphQL must go to /api/graphql beside /api/v3, with the
    // token (octocrab would post to /api/v3/graphql, and unauthenticated to an absolute URL).
    let f = github_fleet(
        &gh,
        &format!(
            "      host: github.example.com\n      apiUrl: {}/api/v3\n",
            gh.url
        ),
    );
    gh.issue("acme/app", "On Enterprise", "", &[]);
    f.ao(&["issue", "ls", "app"])
        .success()
        .stdout_has("On Enterprise");
    let paths: Vec<String> = gh.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/api/graphql"]);
    // An issue's address names the Enterprise host.
    f.ao(&[
        "spawn",
        "app",
        "https://github.example.com/acme/app/issues/1",
    ])
    .success();
    f.ao(&["spawn", "app", "https://github.com/acme/app/issues/1"])
        .code(1)
        .stderr_has("is on github.com, but the project's tracker reads github.example.com");
}

#[test]
fn doctor_reports_the_token_api_rate_limit_scopes_and_each_repository() {
    let gh = FakeGitHub::start();
    let f = github_fleet(&gh, "");
    let run = f.ao(&["doctor"]);
    let line = |name: &str| {
        run.stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name) || l.contains(&format!(" {name} ")))
            .unwrap_or_else(|| panic!("no `{name}` line in\n{}", run.stdout))
            .to_owned()
    };
    assert!(line("github").starts_with("ok"), "{}", line("github"));
    assert!(line("github").contains("token from $GH_TOKEN"));
    let api = line("api");
    assert!(
        api.contains(&format!(
            "{} answers; rate limit left: 5000/5000 REST, 5000/5000 GraphQL",
            gh.url
        )),
        "{api}"
    );
    assert!(line("scopes").contains("repo, read:org"));
    assert!(line("acme/app").contains("project `app`: readable"));
    assert!(!run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN));
    // A token without `repo`, a repository it cannot see.
    gh.scopes(Some("read:org"));
    gh.hide("acme/app");
    let run = f.ao(&["doctor", "--json"]);
    run.code(1);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let checks = report["checks"].as_array().unwrap().clone();
    let find = |name: &str| {
        checks
            .iter()
            .find(|c| c["check"] == name)
            .unwrap_or_else(|| panic!("no {name} in {checks:?}"))
            .clone()
    };
    assert_eq!(find("github scopes")["status"], "warn");
    assert_eq!(find("repo acme/app")["status"], "fail");
    assert!(
        find("repo acme/app")["detail"]
            .as_str()
            .unwrap()
            .contains("there is no repository acme/app on github.com, or the token cannot see it")
    );
    // GitHub down: said once, not once per repository.
    gh.fail_next(3, Fault::Status(500));
    let run = f.ao(&["doctor", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let checks = report["checks"].as_array().unwrap().clone();
    let api = checks.iter().find(|c| c["check"] == "github api").unwrap();
    assert_eq!(api["status"], "fail");
    assert!(
        api["detail"]
            .as_str()
            .unwrap()
            .contains("after 3 attempts (500 Internal Server Error)")
    );
    assert!(!checks.iter().any(|c| c["check"] == "repo acme/app"));
}

/// The client, driven directly: what ao's GitHub requests do at the HTTP level.
mod client {
    use super::*;
    use ao_plugins::github::{GitHub, endpoint};
    use std::time::Duration;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn host(gh: &FakeGitHub, timeout: Duration) -> std::sync::Arc<GitHub> {
        // The token comes from the test process's environment, as ao's does from its own.
        // SAFETY: set once, to the same value, before any client reads it.
        unsafe { std::env::set_var("GH_TOKEN", TOKEN) };
        GitHub::with_timeout(
            endpoint::endpoints(None, Some(&gh.url), None, None).unwrap(),
            timeout,
        )
    }

    #[test]
    fn a_conditional_request_gets_a_304_that_costs_nothing() {
        let gh = FakeGitHub::start();
        gh.repo("acme/app");
        let client = host(&gh, Duration::from_secs(5));
        let rt = runtime();
        let first = rt.block_on(client.get("/repos/acme/app", None)).unwrap();
        assert_eq!(first.status, 200);
        assert_eq!(first.body["full_name"], "acme/app");
        let etag = first.etag.clone().expect("an ETag");
        let left = client.rate_limit().unwrap().remaining;
        let again = rt
            .block_on(client.get("/repos/acme/app", Some(&etag)))
            .unwrap();
        assert_eq!(again.status, 304);
        assert!(again.body.is_null());
        assert_eq!(
            client.rate_limit().unwrap().remaining,
            left,
            "a 304 is free"
        );
        assert_eq!(first.scopes.as_deref(), Some("repo, read:org"));
    }

    #[test]
    fn one_missing_item_does_not_sink_a_batch() {
        let gh = FakeGitHub::start();
        gh.repo("acme/app");
        gh.issue("acme/app", "Present", "", &[]);
        let client = host(&gh, Duration::from_secs(5));
        let reply = runtime()
            .block_on(client.graphql(
                "query Batch { repository(owner: \"acme\", name: \"app\") { a: issue(number: 1) { title } b: issue(number: 99) { title } } rateLimit { cost remaining } }",
                serde_json::json!({}),
            ))
            .unwrap();
        assert_eq!(reply.data["repository"]["a"]["title"], "Present");
        assert!(reply.data["repository"]["b"].is_null());
        assert_eq!(reply.errors.len(), 1, "{:?}", reply.errors);
        assert_eq!(
            reply.errors[0].message,
            "Could not resolve to an Issue with the number of 99."
        );
        assert_eq!(
            reply.errors[0].path,
            [serde_json::json!("repository"), serde_json::json!("b")]
        );
        assert_eq!(reply.errors[0].kind.as_deref(), Some("NOT_FOUND"));
        // GitHub's documented cost: no connection at all is still 1 point.
        assert_eq!(reply.data["rateLimit"]["cost"], 1);
        assert_eq!(client.rate_limit().unwrap().remaining, 4999);
    }

    #[test]
    fn a_hanging_github_is_cut_off_and_said_so() {
        let gh = FakeGitHub::start();
        let client = host(&gh, Duration::from_millis(300));
        gh.fail_next(3, Fault::Hang(Duration::from_secs(3)));
        let e = runtime().block_on(client.get("/user", None)).unwrap_err();
        assert_eq!(
            e.message,
            "github.com did not answer GET /user after 3 attempts (no answer within 300 ms); it may be down or unreachable from here, try again later"
        );
    }

    #[test]
    fn the_cost_of_a_query_is_what_github_documents() {
        let gh = FakeGitHub::start();
        gh.repo("acme/app");
        let client = host(&gh, Duration::from_secs(5));
        // 100 issues, and 100 labels of each: 1 + 100 requests, 1 point; with a third
        // level of 10 under each label, 1 + 100 + 10000: 101 points.
        let reply = runtime()
            .block_on(client.graphql(
                "query Cost { repository(owner: \"acme\", name: \"app\") { issues(first: 100) { nodes { labels(first: 100) { nodes { name issues(first: 10) { totalCount } } } } } } rateLimit { cost } }",
                serde_json::json!({}),
            ))
            .unwrap();
        assert_eq!(reply.data["rateLimit"]["cost"], 101);
        assert!(gh.invalid_queries().is_empty());
    }
}

#[test]
fn a_closed_issue_is_refused_and_the_token_never_shows() {
    let gh = FakeGitHub::start();
    let mut f = github_fleet(&gh, "");
    let n = gh.issue("acme/app", "Old work", "", &[]);
    gh.edit_issue("acme/app", n, |i| i.open = false);
    f.env.set("AO_LOG", "trace");
    let run = f.ao(&["spawn", "app", &n.to_string()]);
    run.code(1)
        .stderr_has("issue #1 (Old work) is closed: there is nothing left to work on")
        .stderr_has("reopen it first, or give the task as text with --prompt");
    assert!(!run.stderr.contains(TOKEN), "the token in ao's trace log");
    assert!(f.tmux_sessions().is_empty());
    assert!(f.sessions().is_empty());
}

/// A fleet on the fake GitHub whose repository's remote is the fleet's own origin, with
/// one session whose agent "pushed" a commit and "opened" its PR.
fn session_with_pr(gh: &FakeGitHub) -> (Fleet, String, u64) {
    let f = github_fleet(gh, "");
    gh.remote("acme/app", &f.env.root().join("repo-origin.git"));
    f.ao(&["spawn", "app", "--prompt", "Fix the login"])
        .success();
    let wt = f.worktree("app-1");
    std::fs::write(wt.join("login.txt"), "fixed\n").unwrap();
    f.env.git(&wt, &["add", "."]);
    f.env.git(&wt, &["commit", "-q", "-m", "Fix the login"]);
    f.env.git(&wt, &["push", "-q", "origin", "HEAD"]);
    let branch = f
        .env
        .git(&wt, &["branch", "--show-current"])
        .trim()
        .to_owned();
    let pr = gh.open_pr("acme/app", &branch, "main", "Fix the login");
    (f, branch, pr)
}

fn status_json(f: &Fleet, refresh: bool) -> serde_json::Value {
    let mut args = vec!["status", "--json"];
    if refresh {
        args.push("--refresh");
    }
    let run = f.ao(&args);
    run.success();
    let list: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
    list.into_iter().next().expect("one session")
}

#[test]
fn a_sessions_pull_request_is_found_read_shown_without_network_and_merged() {
    let gh = FakeGitHub::start();
    let (f, branch, pr) = session_with_pr(&gh);
    // Found by its branch and read in one poll.
    let s = status_json(&f, true);
    assert_eq!(s["pr"]["number"], pr);
    assert_eq!(s["pr"]["state"], "open");
    assert_eq!(s["ci"], "none");
    assert_eq!(s["review"], "pending");
    assert_eq!(s["stale"], false);
    // CI fails: the failing check by name, its job's log fetched once.
    gh.check(
        "acme/app",
        pr,
        "build",
        Some("FAILURE"),
        true,
        "compiling\n\u{1b}[31merror\u{1b}[0m: test login failed\n",
    );
    gh.check("acme/app", pr, "lint", Some("SUCCESS"), false, "");
    gh.status("acme/app", pr, "ci/external", Some("FAILURE"), false);
    let s = status_json(&f, true);
    assert_eq!(s["ci"], "failing");
    assert_eq!(
        s["failed_checks"],
        serde_json::json!(["build", "ci/external"])
    );
    // The lifecycle moved the session, through the single write path, with its event.
    assert_eq!(s["status"], "ci_failed");
    f.ao(&["events", "--kind", "status_changed"])
        .success()
        .stdout_has(&format!("pr_open → ci_failed (pull request #{pr})"));
    gh.status("acme/app", pr, "ci/external", Some("SUCCESS"), false);
    let logs = |gh: &FakeGitHub| {
        gh.requests()
            .iter()
            .filter(|r| r.path.contains("/logs"))
            .count()
    };
    assert_eq!(logs(&gh), 1);
    // The log's tail, control sequences stripped, is kept with the reading.
    let info = f.ao(&["session", "info", "app-1", "--json"]);
    info.success();
    let info: serde_json::Value = serde_json::from_str(&info.stdout).unwrap();
    let build = info["pull_request"]["status"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "build")
        .unwrap()
        .clone();
    assert_eq!(
        build["log_excerpt"],
        "compiling\nerror: test login failed\n"
    );
    assert_eq!(build["required"], true);
    f.ao(&["session", "info", "app-1"])
        .success()
        .stdout_has("    failed       build: error: test login failed");
    // Another check changes the PR; the next process reads it in full, and the failed
    // job's log (same check, same head) is not fetched again.
    gh.edit_pr("acme/app", pr, |p| {
        p.review = Some("CHANGES_REQUESTED".into())
    });
    let before = gh.requests().len();
    let s = status_json(&f, true);
    assert_eq!(s["review"], "changes_requested");
    let ops: Vec<_> = gh.requests()[before..]
        .iter()
        .filter_map(|r| r.operation.clone())
        .collect();
    assert_eq!(ops, ["LightPoll", "FullPoll"]);
    assert_eq!(logs(&gh), 1, "a log fetched twice for one check and head");
    gh.edit_pr("acme/app", pr, |p| {
        p.review = Some("REVIEW_REQUIRED".into())
    });
    status_json(&f, true);
    // Without --refresh: the same, and not one request.
    let before = gh.requests().len();
    let s = status_json(&f, false);
    assert_eq!(s["ci"], "failing");
    assert_eq!(gh.requests().len(), before, "ao status used the network");
    f.ao(&["status"])
        .success()
        .stdout_has("failing")
        .stdout_has(&format!("#{pr}"));
    // Nothing changed: one light query, no full read, no log again.
    let before = gh.requests().len();
    status_json(&f, true);
    let new: Vec<_> = gh.requests()[before..].to_vec();
    assert_eq!(new.len(), 1, "{new:?}");
    assert_eq!(new[0].operation.as_deref(), Some("LightPoll"));
    // Merge refused, saying why; nothing moves.
    let main_before = f.env.git(
        &f.env.root().join("repo-origin.git"),
        &["rev-parse", "main"],
    );
    f.ao(&["session", "merge", "app-1"])
        .code(1)
        .stderr_has(&format!("app-1: pull request #{pr} was not merged: checks failing: build; no approving review yet"));
    // Fixed and approved: merged, the remote's main moves to include the branch, and the
    // branch is deleted.
    gh.check("acme/app", pr, "build", Some("SUCCESS"), true, "");
    gh.edit_pr("acme/app", pr, |p| p.review = Some("APPROVED".into()));
    f.ao(&["session", "merge", "app-1", "--delete-branch"])
        .success()
        .stdout_has(&format!("app-1: merged pull request #{pr}"))
        .stdout_has("its branch was deleted");
    let origin = f.env.root().join("repo-origin.git");
    let main_after = f.env.git(&origin, &["rev-parse", "main"]);
    assert_ne!(main_before, main_after);
    f.env.git(
        &origin,
        &[
            "cat-file",
            "-e",
            &format!("{}:login.txt", main_after.trim()),
        ],
    );
    let branches = f.env.git(&origin, &["branch", "--list", &branch]);
    assert!(branches.trim().is_empty(), "{branches}");
    let s = status_json(&f, false);
    assert_eq!(s["status"], "merged");
    assert_eq!(s["pr"]["state"], "merged");
    assert_queries_valid(&gh);
}

#[test]
fn a_github_outage_keeps_the_last_reading_marked_stale() {
    let gh = FakeGitHub::start();
    let (f, _branch, pr) = session_with_pr(&gh);
    gh.check("acme/app", pr, "build", Some("SUCCESS"), true, "");
    let s = status_json(&f, true);
    assert_eq!(s["ci"], "passing");
    assert_eq!(s["status"], "review_pending");
    gh.fail_next(3, Fault::Status(502));
    let run = f.ao(&["status", "--json", "--refresh"]);
    run.success()
        .stderr_has("app-1: its pull request was not read (shown as last known)");
    let list: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(list[0]["ci"], "passing", "an outage is no failing CI");
    assert_eq!(list[0]["stale"], true);
    assert_eq!(
        list[0]["status"], "review_pending",
        "an outage changes no status"
    );
    f.ao(&["status"]).success().stdout_has("passing (stale)");
    // GitHub back: fresh again.
    let s = status_json(&f, true);
    assert_eq!(s["stale"], false);
}

#[test]
fn a_refused_pull_request_query_names_the_plugin_once() {
    let gh = FakeGitHub::start();
    let (f, _branch, _pr) = session_with_pr(&gh);
    status_json(&f, true);
    // A 4xx is no outage to retry: it is said as GitHub's refusal, by the plugin, once.
    gh.fail_next(1, Fault::Status(422));
    let run = f.ao(&["status", "--refresh"]);
    run.success()
        .stderr_has("app-1: its pull request was not read (shown as last known)")
        .stderr_has("github: ");
    assert!(
        !run.stderr.contains("github: github:"),
        "the plugin is named twice:\n{}",
        run.explain()
    );
}

/// A GitHub that does not answer holds `ao status --refresh` and `ao session merge` for at
/// most 10 s: the last reading is shown, said to be the last, and nothing is merged.
#[test]
fn a_github_that_does_not_answer_holds_no_command_past_its_deadline() {
    let gh = FakeGitHub::start();
    let (f, _branch, pr) = session_with_pr(&gh);
    gh.check("acme/app", pr, "build", Some("SUCCESS"), true, "");
    gh.edit_pr("acme/app", pr, |p| p.review = Some("APPROVED".into()));
    assert_eq!(status_json(&f, true)["status"], "mergeable");
    gh.fail_next(10, Fault::Hang(std::time::Duration::from_secs(40)));
    let run = f.ao(&["status", "--refresh"]);
    run.success()
        .stderr_has("GitHub did not answer within 10 s; the last reading is from")
        .stdout_has("passing (stale)");
    f.ao(&["session", "merge", "app-1"])
        .code(1)
        .stderr_has(&format!(
            "app-1: pull request #{pr} was not merged: GitHub did not answer within 10 s; the last reading is from"
        ));
    assert_eq!(merge_puts(&gh), 0, "merged unread");
}

/// A merge GitHub does not answer is read again before ao says what became of it: one
/// GitHub never carried out is not merged, one it carried out is merged; neither holds
/// `ao session merge` past its deadlines.
#[test]
fn a_merge_github_does_not_answer_is_read_again_before_it_is_reported() {
    use std::time::{Duration, Instant};
    let gh = FakeGitHub::start();
    let (f, _branch, pr) = session_with_pr(&gh);
    gh.check("acme/app", pr, "build", Some("SUCCESS"), true, "");
    gh.edit_pr("acme/app", pr, |p| p.review = Some("APPROVED".into()));
    assert_eq!(status_json(&f, true)["status"], "mergeable");
    // The merge goes unanswered, and GitHub did not carry it out.
    gh.fail_on("PUT", "/merge", Fault::Hang(Duration::from_secs(40)));
    let started = Instant::now();
    let run = f.ao(&["session", "merge", "app-1"]);
    run.code(1)
        .stderr_has(&format!("app-1: pull request #{pr} was not merged: "))
        .stderr_has("; read again, it is still open");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "`ao session merge` took {:?}:\n{}",
        started.elapsed(),
        run.explain()
    );
    assert_eq!(status_json(&f, false)["status"], "mergeable");
    // GitHub merges, and its answer never comes: read again, the merge is said done.
    gh.fail_on("PUT", "/merge", Fault::AnswerAfter(Duration::from_secs(40)));
    let started = Instant::now();
    let run = f.ao(&["session", "merge", "app-1"]);
    run.success()
        .stdout_has(&format!("app-1: merged pull request #{pr}"));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "`ao session merge` took {:?}:\n{}",
        started.elapsed(),
        run.explain()
    );
    let s = status_json(&f, false);
    assert_eq!(s["status"], "merged");
    assert_eq!(s["pr"]["state"], "merged");
}

/// A secondary rate limit's long `retry-after` stops every process's requests until it
/// has passed: `ao status --refresh`, `ao session merge`, `ao review-check` and the host
/// each say until when GitHub is not asked, and none asks it.
#[test]
fn a_long_retry_after_is_honoured_by_every_process() {
    let gh = FakeGitHub::start();
    let (f, _branch, pr) = session_with_pr(&gh);
    gh.check("acme/app", pr, "build", Some("SUCCESS"), true, "");
    gh.edit_pr("acme/app", pr, |p| p.review = Some("APPROVED".into()));
    add_to_config(
        &f,
        "lifecycle:\n  probeInterval: 200ms\n  pollInterval: 300ms\nreactions:\n  approved-and-green:\n    auto: true\n    action: auto-merge\n",
    );
    status_json(&f, true);
    gh.fail_next(1, Fault::SecondaryLimit(120));
    f.ao(&["status", "--refresh"])
        .success()
        .stderr_has("is limiting ao's requests")
        .stderr_has("try again in 120 s");
    let before = gh.requests().len();
    for _ in 0..2 {
        f.ao(&["status", "--refresh"])
            .success()
            .stderr_has("GitHub is not asked until")
            .stderr_has("it asked ao to wait 120 s");
    }
    f.ao(&["session", "merge", "app-1"])
        .code(1)
        .stderr_has(&format!(
            "app-1: pull request #{pr} was not merged: GitHub is not asked until"
        ))
        .stderr_has("it asked ao to wait 120 s");
    f.ao(&["review-check", "app"])
        .success()
        .stdout_has("GitHub is not asked until");
    let host = f.ao_child(&["start", "--no-orchestrator"]);
    let log = f.env.ao_home.join("logs").join("host.log");
    ao_tests::wait_until("the host to say GitHub is not asked", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("GitHub is not asked until")
            .then_some(())
    });
    f.stop_host(host);
    f.ao(&["session", "ls"]).success();
    assert_eq!(
        gh.requests()[before..]
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect::<Vec<_>>(),
        Vec::<String>::new(),
        "requests sent while GitHub asked ao to wait"
    );
}

/// A request budget read at 0 stops every process's requests until its window resets, and
/// each says until when.
#[test]
fn a_spent_request_budget_stops_every_command_until_it_resets() {
    let gh = FakeGitHub::start();
    let (f, _branch, pr) = session_with_pr(&gh);
    gh.check("acme/app", pr, "build", Some("SUCCESS"), true, "");
    gh.edit_pr("acme/app", pr, |p| p.review = Some("APPROVED".into()));
    status_json(&f, true);
    // The next poll spends the last point.
    gh.set_graphql_remaining(0);
    status_json(&f, true);
    let before = gh.requests().len();
    f.ao(&["status", "--refresh"]).success().stderr_has(
        "GitHub is not asked until 2100-01-01 00:00 UTC: its request budget is used up",
    );
    f.ao(&["session", "merge", "app-1"])
        .code(1)
        .stderr_has(&format!(
            "app-1: pull request #{pr} was not merged: GitHub is not asked until 2100-01-01 00:00 UTC"
        ));
    assert_eq!(gh.requests().len(), before, "asked with no budget left");
}

#[test]
fn a_pr_closed_or_merged_by_hand_is_seen_and_not_merged_again() {
    let gh = FakeGitHub::start();
    let (f, _branch, pr) = session_with_pr(&gh);
    status_json(&f, true);
    gh.edit_pr("acme/app", pr, |p| p.state = "CLOSED".into());
    let s = status_json(&f, true);
    assert_eq!(s["pr"]["state"], "closed");
    assert_eq!(s["status"], "done");
    assert_eq!(s["status_reason"], "pr_closed");
    f.ao(&["session", "merge", "app-1"])
        .code(1)
        .stderr_has("was not merged: it is closed");
}

#[test]
fn many_branches_are_looked_up_in_one_query() {
    let gh = FakeGitHub::start();
    let (f, _branch, _pr) = session_with_pr(&gh);
    for task in ["Second task", "Third task"] {
        f.ao(&["spawn", "app", "--prompt", task]).success();
    }
    let before = gh.requests().len();
    f.ao(&["status", "--refresh"]).success();
    let ops: Vec<String> = gh.requests()[before..]
        .iter()
        .filter_map(|r| r.operation.clone())
        .collect();
    assert_eq!(
        ops,
        ["DetectPrs", "LightPoll", "FullPoll"],
        "three sessions, one lookup"
    );
}

#[test]
fn a_head_that_moved_since_the_check_is_not_merged() {
    use ao_core::plugin::{MergeMethod, MergeParams, Scm};
    let gh = FakeGitHub::start();
    let (f, _branch, pr) = session_with_pr(&gh);
    gh.check("acme/app", pr, "build", Some("SUCCESS"), true, "");
    gh.edit_pr("acme/app", pr, |p| p.review = Some("APPROVED".into()));
    let checked = gh.head_sha("acme/app", pr);
    // The agent pushes again after the decision.
    let wt = f.worktree("app-1");
    std::fs::write(wt.join("more.txt"), "more\n").unwrap();
    f.env.git(&wt, &["add", "."]);
    f.env.git(&wt, &["commit", "-q", "-m", "More"]);
    f.env.git(&wt, &["push", "-q", "origin", "HEAD"]);
    // SAFETY: set once, to the same value, before any client reads it.
    unsafe { std::env::set_var("GH_TOKEN", TOKEN) };
    let scm = ao_plugins::scm::github::GithubScm::new(ao_plugins::github::GitHub::new(
        ao_plugins::github::endpoint::endpoints(None, Some(&gh.url), None, None).unwrap(),
    ));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let e = rt
        .block_on(scm.merge(&MergeParams {
            pr: ao_core::model::PrRef {
                owner: "acme".into(),
                repo: "app".into(),
                number: pr,
                url: String::new(),
            },
            method: MergeMethod::Squash,
            head_sha: checked.clone(),
            delete_branch: false,
        }))
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("was not merged: its head moved since it was checked"),
        "{e}"
    );
    assert_eq!(
        gh.requests()
            .iter()
            .filter(|r| r.path.ends_with("/merge"))
            .count(),
        1
    );
}

#[test]
fn unresolved_current_review_threads_are_counted_with_their_authors() {
    use ao_tests::github::FakeThread;
    let gh = FakeGitHub::start();
    let (f, _branch, pr) = session_with_pr(&gh);
    let thread = |body: &str, author: &str, bot: bool, resolved: bool, outdated: bool| FakeThread {
        path: "src/login.rs".into(),
        line: Some(12),
        body: body.into(),
        author: author.into(),
        bot,
        resolved,
        outdated,
        ..FakeThread::default()
    };
    gh.thread(
        "acme/app",
        pr,
        thread("Check the empty password", "octo", false, false, false),
    );
    gh.thread(
        "acme/app",
        pr,
        thread("Possible panic here", "lint-bot", true, false, false),
    );
    gh.thread(
        "acme/app",
        pr,
        thread("Done already", "octo", false, true, false),
    );
    gh.thread(
        "acme/app",
        pr,
        thread("On an old line", "octo", false, false, true),
    );
    gh.edit_pr("acme/app", pr, |p| {
        p.review = Some("CHANGES_REQUESTED".into())
    });
    let s = status_json(&f, true);
    assert_eq!(
        s["unresolved_threads"], 2,
        "resolved and outdated ones do not count"
    );
    assert_eq!(s["review"], "changes_requested");
    f.ao(&["session", "merge", "app-1"])
        .code(1)
        .stderr_has("a reviewer asked for changes");
    assert_queries_valid(&gh);
}

#[test]
fn repeated_failed_polls_open_a_breaker_every_process_honours() {
    let gh = FakeGitHub::start();
    let (f, _branch, _pr) = session_with_pr(&gh);
    status_json(&f, true);
    // Three polls that fail, each after its three attempts.
    gh.fail_next(9, Fault::Status(503));
    for _ in 0..2 {
        f.ao(&["status", "--refresh"])
            .success()
            .stderr_has("was not read");
    }
    f.ao(&["status", "--refresh"])
        .success()
        .stderr_has("3 polls in a row failed: GitHub is not asked again until");
    // A new process asks nothing while the breaker is open, and says why.
    let before = gh.requests().len();
    let run = f.ao(&["status", "--refresh", "--json"]);
    run.success()
        .stderr_has("GitHub is not asked until")
        .stderr_has("after 3 failed polls in a row");
    assert_eq!(
        gh.requests().len(),
        before,
        "asked while the breaker was open"
    );
    let list: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(list[0]["stale"], true);
    assert!(
        list[0]["stale_reason"]
            .as_str()
            .unwrap()
            .contains("GitHub is not asked until")
    );
}

#[test]
fn a_renamed_repository_is_followed_and_said_so() {
    let gh = FakeGitHub::start();
    let (f, _branch, pr) = session_with_pr(&gh);
    status_json(&f, true);
    gh.rename("acme/app", "acme/app2");
    gh.check("acme/app2", pr, "build", Some("SUCCESS"), false, "");
    let run = f.ao(&["status", "--refresh", "--json"]);
    run.success()
        .stderr_has("acme/app is now acme/app2 (renamed): app-1's pull request #")
        .stderr_has("set the project's `repo` to acme/app2");
    let list: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(list[0]["ci"], "passing");
}

#[test]
fn a_project_without_an_issue_tracker_says_so() {
    let f = Fleet::new("");
    f.ao(&["issue", "ls", "app"]).code(1).stderr_has(
        "the prompt tracker holds no issues to list; set the project's `tracker: github`",
    );
    f.ao(&["spawn", "app", "--label", "agent"])
        .code(1)
        .stderr_has("the prompt tracker holds no issues to list");
}

#[test]
fn the_host_keeps_status_current_and_ao_stop_ends_it() {
    let gh = FakeGitHub::start();
    let (f, _branch, pr) = session_with_pr(&gh);
    add_to_config(
        &f,
        "lifecycle:\n  probeInterval: 200ms\n  pollInterval: 1s\n",
    );
    let host = f.ao_child(&["start", "--no-orchestrator"]);
    // The host polls by itself: a failing check shows in `ao status` without --refresh.
    gh.check("acme/app", pr, "build", Some("FAILURE"), true, "boom\n");
    ao_tests::wait_until("the host to see the failing check", || {
        (status_json(&f, false)["status"] == "ci_failed").then_some(())
    });
    f.ao(&["status"]).success().stdout_has("host: running (pid");
    // One host per AO_HOME.
    f.ao(&["start", "--no-orchestrator"])
        .code(1)
        .stderr_has("a host already runs for")
        .stderr_has("`ao stop` ends it");
    f.ao(&["stop"])
        .success()
        .stdout_has("stopped the host (pid");
    let out = host.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("ao host stopped (SIGTERM)"));
    f.ao(&["stop"]).success().stdout_has("no host runs for");
    assert_queries_valid(&gh);
}

/// A GitHub that refuses every session's pull request, poll after poll, is said once in
/// the host's log, naming every session, not once per session per poll.
#[test]
fn the_host_says_a_failure_once_not_every_poll() {
    let gh = FakeGitHub::start();
    let mut f = github_fleet(&gh, "");
    for task in ["One", "Two", "Three"] {
        f.ao(&["spawn", "app", "--prompt", task]).success();
    }
    add_to_config(
        &f,
        "lifecycle:\n  probeInterval: 200ms\n  pollInterval: 1s\n",
    );
    f.env.set("GH_TOKEN", "ghp_rejectedEveryTime");
    let before = gh.requests().len();
    let host = f.ao_child(&["start", "--no-orchestrator"]);
    ao_tests::wait_until("three polls GitHub refuses", || {
        (gh.requests().len() >= before + 3).then_some(())
    });
    f.stop_host(host);
    let log = std::fs::read_to_string(f.env.ao_home.join("logs").join("host.log")).unwrap();
    let said: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("pull request not read"))
        .collect();
    assert_eq!(said.len(), 1, "{log}");
    assert!(said[0].contains("app-1, app-2, app-3"), "{log}");
    assert!(
        said[0].contains("rejected the token from $GH_TOKEN"),
        "{log}"
    );
}

/// The host keeps its plugin instances: the GitHub client that asked `gh` for the token
/// asks it once, not once per poll.
#[test]
fn the_host_keeps_its_github_client_across_polls() {
    let gh = FakeGitHub::start();
    let (mut f, _branch, _pr) = session_with_pr(&gh);
    add_to_config(
        &f,
        "lifecycle:\n  probeInterval: 200ms\n  pollInterval: 300ms\n",
    );
    // No GH_TOKEN: the token comes from `gh auth token`, each call logged.
    let asked = f.env.root().join("gh-asked");
    f.env.set("GH_TOKEN", "");
    f.env.script_on_path(
        "gh-bin",
        "gh",
        &format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\necho {TOKEN}\n",
            asked.display()
        ),
    );
    let polls = || {
        gh.requests()
            .iter()
            .filter(|r| r.operation.as_deref() == Some("LightPoll"))
            .count()
    };
    let host = f.ao_child(&["start", "--no-orchestrator"]);
    let first = ao_tests::wait_until("the host's first poll", || (polls() >= 1).then(&polls));
    let asked_then = std::fs::read_to_string(&asked).unwrap_or_default();
    ao_tests::wait_until("three polls more", || (polls() >= first + 3).then_some(()));
    f.stop_host(host);
    let asked_now = std::fs::read_to_string(&asked).unwrap_or_default();
    assert!(!asked_then.is_empty(), "gh was never asked");
    assert_eq!(
        asked_now, asked_then,
        "gh asked again for a token in later polls"
    );
}

/// A host whose first look for a token failed looks again next poll: a kept client does
/// not keep the failure (say `gh auth login` was run after `ao start`).
#[test]
fn a_host_that_found_no_token_looks_again() {
    let gh = FakeGitHub::start();
    let (mut f, _branch, pr) = session_with_pr(&gh);
    add_to_config(
        &f,
        "lifecycle:\n  probeInterval: 200ms\n  pollInterval: 300ms\n",
    );
    // `gh` has no token until the test logs in.
    let login = f.env.root().join("logged-in");
    f.env.set("GH_TOKEN", "");
    f.env.script_on_path(
        "gh-bin",
        "gh",
        &format!(
            "#!/bin/sh\n[ -e '{}' ] || exit 1\necho {TOKEN}\n",
            login.display()
        ),
    );
    gh.check("acme/app", pr, "build", Some("FAILURE"), true, "boom\n");
    let host = f.ao_child(&["start", "--no-orchestrator"]);
    let log = f.env.ao_home.join("logs").join("host.log");
    ao_tests::wait_until("the host to say it has no token", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("no GitHub token")
            .then_some(())
    });
    std::fs::write(&login, "").unwrap();
    ao_tests::wait_until("the host to read the pull request", || {
        (status_json(&f, false)["status"] == "ci_failed").then_some(())
    });
    f.stop_host(host);
}

#[test]
fn batch_spawn_skips_the_issues_a_live_session_works_on() {
    let gh = FakeGitHub::start();
    let f = github_fleet(&gh, "");
    let one = gh.issue("acme/app", "Fix the login", "It fails.", &[]);
    let two = gh.issue("acme/app", "Add a logout", "Needed.", &[]);
    f.ao(&["spawn", "app", &one.to_string()]).success();
    let run = f.ao(&["batch-spawn", "app", &format!("#{one}"), &two.to_string()]);
    insta::assert_snapshot!(run.seen(&format!("batch-spawn app #{one} {two}"), &f.env.root()));
    run.success()
        .stderr_has(&format!("issue #{one}: skipped, app-1 already works on it"))
        .stdout_has("app-2");
    let sessions = f.sessions();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    assert_eq!(sessions[1]["issue"], two.to_string());
    f.ao(&["batch-spawn", "app", &one.to_string(), &two.to_string()])
        .success()
        .stdout_has("nothing to spawn: every issue given has a live session");
    assert_queries_valid(&gh);
}

#[test]
fn review_check_sends_the_unresolved_threads_now_and_never_twice() {
    let gh = FakeGitHub::start();
    let (f, _branch, pr) = session_with_pr(&gh);
    gh.thread(
        "acme/app",
        pr,
        ao_tests::github::FakeThread {
            path: "login.txt".into(),
            line: Some(1),
            body: "Say why it was broken".into(),
            author: "rev".into(),
            ..Default::default()
        },
    );
    gh.edit_pr("acme/app", pr, |p| {
        p.review = Some("CHANGES_REQUESTED".into())
    });
    let dry = f.ao(&["review-check", "app", "--dry-run"]);
    dry.success()
        .stdout_has("app-1: `changes-requested` would send 1 thread");
    let sent = f.ao(&["review-check", "app"]);
    sent.success()
        .stdout_has("app-1: `changes-requested` sent the agent 1 item (attempt 1)");
    let root = f.env.root();
    insta::assert_snapshot!(
        dry.seen("review-check app --dry-run", &root) + &sent.seen("review-check app", &root)
    );
    ao_tests::wait_until("the thread on the agent's screen", || {
        f.ao(&["session", "output", "app-1"])
            .stdout
            .contains("login.txt:1 rev: Say why it was broken")
            .then_some(())
    });
    f.ao(&["review-check"])
        .success()
        .stdout_has("no session has review threads it has not had");
    f.ao(&["review-check", "nope"]).code(1).stderr_has("nope");
    assert_queries_valid(&gh);
}

/// A human's branch, pushed to origin with one commit, and its open pull request.
fn humans_pr(gh: &FakeGitHub, f: &Fleet, branch: &str, file: &str) -> u64 {
    let env = &f.env;
    env.git(&f.repo, &["switch", "-q", "-c", branch]);
    std::fs::write(f.repo.join(file), "from a human\n").unwrap();
    env.git(&f.repo, &["add", file]);
    env.git(&f.repo, &["commit", "-q", "-m", &format!("Start {branch}")]);
    env.git(&f.repo, &["push", "-q", "origin", branch]);
    env.git(&f.repo, &["switch", "-q", "main"]);
    env.git(&f.repo, &["branch", "-q", "-D", branch]);
    gh.open_pr("acme/app", branch, "main", &format!("Work on {branch}"))
}

#[test]
fn an_existing_pull_request_is_handed_to_a_new_or_a_running_session() {
    let gh = FakeGitHub::start();
    let f = github_fleet(&gh, "");
    gh.remote("acme/app", &f.env.root().join("repo-origin.git"));
    let typo = humans_pr(&gh, &f, "fix-typo", "typo.txt");
    let docs = humans_pr(&gh, &f, "docs", "docs.txt");

    // A new session on the PR's branch, with the human's commit, told what to do.
    let spawned = f.ao(&["spawn", "app", "--claim-pr", &format!("#{typo}")]);
    insta::assert_snapshot!(
        "spawn_claim_pr",
        spawned.seen(&format!("spawn app --claim-pr #{typo}"), &f.env.root())
    );
    spawned
        .success()
        .stdout_has("app-1")
        .stderr_has(&format!(
            "app-1 took over pull request #{typo} (https://github.com/acme/app/pull/{typo}) on its branch fix-typo"
        ));
    let wt = f.worktree("app-1");
    assert_eq!(
        f.env.git(&wt, &["branch", "--show-current"]).trim(),
        "fix-typo"
    );
    assert!(wt.join("typo.txt").exists());
    ao_tests::wait_until("the take-over task on the agent's screen", || {
        f.ao(&["session", "output", "app-1"])
            .stdout
            .contains(&format!("Take over pull request #{typo}"))
            .then_some(())
    });
    let one = status_json(&f, false);
    assert_eq!(one["pr"]["number"], typo, "{one}");
    // Its branch is the PR's: no second session gets it.
    f.ao(&["spawn", "app", "--prompt", "Other work"]).success();
    f.ao(&["session", "claim-pr", "app-2", &typo.to_string()])
        .code(1)
        .stderr_has(&format!(
            "app-1 works on pull request #{typo}'s branch fix-typo already"
        ));

    // A running session, the PR given first (as agents type it): refused while its
    // checkout holds uncommitted work, which stays.
    let wt2 = f.worktree("app-2");
    let old_branch = f
        .env
        .git(&wt2, &["branch", "--show-current"])
        .trim()
        .to_owned();
    std::fs::write(wt2.join("notes.txt"), "half done\n").unwrap();
    f.ao(&["session", "claim-pr", &docs.to_string(), "app-2"])
        .code(1)
        .stderr_has("app-2's checkout holds work that switching to pull request")
        .stderr_has("1 uncommitted change: ?? notes.txt");
    assert!(wt2.join("notes.txt").exists());
    std::fs::remove_file(wt2.join("notes.txt")).unwrap();
    // app-3 had the PR attached by mistake; the claim takes it from it.
    f.ao(&["spawn", "app", "--prompt", "Third"]).success();
    f.ao(&[
        "report",
        "pr-created",
        "-s",
        "app-3",
        "--pr-number",
        &docs.to_string(),
    ])
    .success();
    let url = format!("https://github.com/acme/app/pull/{docs}");
    let claimed = f.ao(&["session", "claim-pr", &url, "app-2"]);
    insta::assert_snapshot!(
        "claim_pr",
        claimed.seen(&format!("session claim-pr {url} app-2"), &f.env.root())
    );
    claimed
        .success()
        .stdout_has(&format!(
            "app-2 claimed pull request #{docs} \"Work on docs\""
        ))
        .stdout_has(&format!(
            "checkout: switched to its branch docs (from {old_branch}, which is kept)"
        ))
        .stdout_has("taken over from: app-3");
    assert_eq!(
        f.env.git(&wt2, &["branch", "--show-current"]).trim(),
        "docs"
    );
    assert!(wt2.join("docs.txt").exists());
    assert!(f.branches().contains(&old_branch));
    let sessions = f.sessions();
    let by_id = |id: &str| {
        sessions
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("{id} in {sessions:?}"))
            .clone()
    };
    assert_eq!(by_id("app-2")["pr"]["number"], docs);
    assert_eq!(by_id("app-2")["branch"], "docs");
    assert!(by_id("app-3")["pr"].is_null(), "{:?}", by_id("app-3"));
    // Claiming it again changes nothing.
    f.ao(&["session", "claim-pr", "app-2", &docs.to_string()])
        .success()
        .stdout_has("checkout: on its branch docs already");

    // What cannot be claimed, said plainly.
    let merged = humans_pr(&gh, &f, "old", "old.txt");
    gh.edit_pr("acme/app", merged, |p| p.state = "MERGED".into());
    let root = f.env.root();
    let mut refusals = String::new();
    let mut refused = |args: &[&str], code: i32, text: &str| {
        let run = f.ao(args);
        run.code(code).stderr_has(text);
        refusals += &run.seen(&args.join(" "), &root);
    };
    refused(
        &["spawn", "app", "--claim-pr", &merged.to_string()],
        1,
        &format!("pull request #{merged} is merged already"),
    );
    let fork = humans_pr(&gh, &f, "forked", "fork.txt");
    gh.edit_pr("acme/app", fork, |p| p.from_fork = true);
    refused(
        &["spawn", "app", "--claim-pr", &fork.to_string()],
        1,
        &format!("pull request #{fork} comes from a fork"),
    );
    refused(
        &[
            "spawn",
            "app",
            "--claim-pr",
            "https://github.com/other/repo/pull/3",
        ],
        1,
        "is a pull request of other/repo, but project `app` works on acme/app",
    );
    refused(
        &["spawn", "app", "--claim-pr", "9999"],
        1,
        "pull request #9999 could not be read",
    );
    refused(
        &["session", "claim-pr", "12"],
        2,
        "which session? none was given and AO_SESSION_ID is not set",
    );
    insta::assert_snapshot!("claim_pr_refused", refusals);
    // None of those made a session.
    assert_eq!(f.sessions().len(), 3);
    assert_queries_valid(&gh);
}

/// Spawns a session of `app` on `task` whose agent "pushed" a commit adding `file` and
/// "opened" its pull request. Returns the session's id and the PR's number.
fn spawn_with_pr(gh: &FakeGitHub, f: &Fleet, task: &str, file: &str) -> (String, u64) {
    f.ao(&["spawn", "app", "--prompt", task]).success();
    let s = f
        .sessions()
        .into_iter()
        .find(|s| s["prompt"].as_str().is_some_and(|p| p.contains(task)))
        .unwrap_or_else(|| panic!("no session on {task:?}"));
    let id = s["id"].as_str().unwrap().to_owned();
    let wt = f.worktree(&id);
    std::fs::write(wt.join(file), format!("{task}\n")).unwrap();
    f.env.git(&wt, &["add", "."]);
    f.env.git(&wt, &["commit", "-q", "-m", task]);
    f.env.git(&wt, &["push", "-q", "origin", "HEAD"]);
    let branch = s["branch"].as_str().unwrap();
    (id, gh.open_pr("acme/app", branch, "main", task))
}

/// The GraphQL operations `ao args` sent, in order.
fn operations_of(f: &Fleet, gh: &FakeGitHub, args: &[&str]) -> Vec<String> {
    let before = gh.requests().len();
    f.ao(args).success();
    gh.requests()[before..]
        .iter()
        .filter_map(|r| r.operation.clone())
        .collect()
}

#[test]
fn the_pull_requests_of_many_sessions_are_found_and_read_in_one_query_each() {
    let gh = FakeGitHub::start();
    let f = github_fleet(&gh, "");
    gh.remote("acme/app", &f.env.root().join("repo-origin.git"));
    let sessions: Vec<(String, u64)> = [
        ("Fix the login", "login.txt"),
        ("Add a logout", "logout.txt"),
        ("Keep the session", "session.txt"),
    ]
    .iter()
    .map(|(task, file)| spawn_with_pr(&gh, &f, task, file))
    .collect();
    // Three branches whose pull requests ao has not found yet: one lookup for all three,
    // then the three found read in one light query and, new to ao, one full query.
    assert_eq!(
        operations_of(&f, &gh, &["status", "--refresh"]),
        ["DetectPrs", "LightPoll", "FullPoll"],
        "three sessions' pull requests found and read in one poll"
    );
    let run = f.ao(&["status", "--json"]);
    let list: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
    for (id, pr) in &sessions {
        let s = list.iter().find(|s| s["id"] == id.as_str()).unwrap();
        assert_eq!(s["pr"]["number"], *pr, "{s}");
    }
    // All three change: one light query tells which, one full query reads them.
    for (_, pr) in &sessions {
        gh.check("acme/app", *pr, "build", Some("SUCCESS"), true, "");
    }
    assert_eq!(
        operations_of(&f, &gh, &["status", "--refresh"]),
        ["LightPoll", "FullPoll"],
        "three changed pull requests read in one poll"
    );
    let run = f.ao(&["status", "--json"]);
    let list: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
    assert!(list.iter().all(|s| s["ci"] == "passing"), "{list:?}");
    assert_queries_valid(&gh);
}

/// Projects that each say `scm: github` share one scm: their pull requests are read in
/// one query, not one per project.
#[test]
fn identical_scm_sections_share_one_batch() {
    let gh = FakeGitHub::start();
    let f = ao_tests::five_repo_fleet(
        &gh,
        "",
        |_| {
            "    agent: command\n    agentConfig:\n      command: [cat]\n    scm:\n      plugin: github\n".to_owned()
        },
        1,
    );
    for s in &f.sessions() {
        let p = s["project"].as_str().unwrap();
        let repo = format!("acme/r{}", &p[1..]);
        let wt = f
            .env
            .ao_home
            .join("worktrees")
            .join(p)
            .join(s["id"].as_str().unwrap());
        std::fs::write(wt.join("work.txt"), s["id"].as_str().unwrap()).unwrap();
        f.env.git(&wt, &["add", "work.txt"]);
        f.env.git(&wt, &["commit", "-q", "-m", "work"]);
        f.env.git(&wt, &["push", "-q", "origin", "HEAD"]);
        gh.open_pr(&repo, s["branch"].as_str().unwrap(), "main", "Work");
    }
    f.ao(&["status", "--refresh"]).success();
    assert_eq!(
        operations_of(&f, &gh, &["status", "--refresh"]),
        ["LightPoll"],
        "an unchanged poll of five projects' pull requests"
    );
}

/// More pull requests than one query reads (100): each batch's answers go to their own
/// sessions, and only the changed ones are read whole.
#[test]
fn a_poll_of_more_than_one_batch_reads_each_change_into_its_own_session() {
    let gh = FakeGitHub::start();
    let f = ao_tests::five_repo_fleet(
        &gh,
        "",
        |_| "    agent: command\n    agentConfig:\n      command: [cat]\n".to_owned(),
        21,
    );
    let mut prs: Vec<(String, u64, String)> = Vec::new();
    for s in &f.sessions() {
        let (p, id) = (s["project"].as_str().unwrap(), s["id"].as_str().unwrap());
        let repo = format!("acme/r{}", &p[1..]);
        let wt = f.env.ao_home.join("worktrees").join(p).join(id);
        // Each its own head, so a check fails on one pull request only.
        f.env.git(&wt, &["commit", "-q", "--allow-empty", "-m", id]);
        f.env.git(&wt, &["push", "-q", "origin", "HEAD"]);
        let pr = gh.open_pr(&repo, s["branch"].as_str().unwrap(), "main", "Work");
        gh.check(&repo, pr, "build", Some("SUCCESS"), true, "");
        prs.push((repo, pr, id.to_owned()));
    }
    assert_eq!(prs.len(), 105);
    f.ao(&["status", "--refresh"]).success();
    // The first, one in the second batch, and the last.
    let failing: Vec<&(String, u64, String)> = [0, 102, 104].iter().map(|&i| &prs[i]).collect();
    for (repo, pr, _) in &failing {
        gh.check(repo, *pr, "build", Some("FAILURE"), true, "error: broken\n");
    }
    assert_eq!(
        operations_of(&f, &gh, &["status", "--refresh"]),
        ["LightPoll", "LightPoll", "FullPoll"],
        "105 pull requests looked at in two queries, the three changed read in one"
    );
    let list: Vec<serde_json::Value> =
        serde_json::from_str(&f.ao(&["status", "--json"]).stdout).unwrap();
    // Each session, its pull request's number and its CI as ao read them.
    let seen: Vec<String> = list
        .iter()
        .map(|s| format!("{} #{} {}", s["id"], s["pr"]["number"], s["ci"]))
        .collect();
    let mut failed: Vec<&str> = list
        .iter()
        .filter(|s| s["ci"] == "failing")
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    failed.sort();
    let mut expected: Vec<&str> = failing.iter().map(|(_, _, id)| id.as_str()).collect();
    expected.sort();
    assert_eq!(failed, expected, "{seen:?}");
    for (_, pr, id) in &prs {
        let s = list.iter().find(|s| s["id"] == id.as_str()).unwrap();
        assert_eq!(s["pr"]["number"], *pr, "{seen:?}");
    }
    assert_eq!(
        list.iter().filter(|s| s["ci"] == "passing").count(),
        102,
        "{seen:?}"
    );
    assert_queries_valid(&gh);
}

#[test]
fn the_host_polls_less_often_as_the_github_budget_runs_low() {
    let gh = FakeGitHub::start();
    let (f, _branch, _pr) = session_with_pr(&gh);
    let config = f.repo.join("agent-orchestrator.yaml");
    std::fs::write(
        &config,
        std::fs::read_to_string(&config).unwrap()
            + "lifecycle:\n  probeInterval: 100ms\n  pollInterval: 1s\n",
    )
    .unwrap();
    status_json(&f, true);
    // Under a tenth of the GraphQL budget left: the host polls at four times its interval.
    gh.set_graphql_remaining(400);
    let before = gh.requests().len();
    let host = f.ao_child(&["start", "--no-orchestrator"]);
    let polls = wait_until_polls(&gh, before, 2);
    f.stop_host(host);
    let gap = polls[1].duration_since(polls[0]);
    // Four intervals are counted from when the first poll began, a moment before its
    // first request reached the fake; more than three tells four from one or two.
    assert!(
        gap >= std::time::Duration::from_secs(3),
        "with 8% of the GitHub budget left the host polled again {gap:?} after its first poll, not stretching its 1 s poll interval to 4 s"
    );
}

/// When the host's polls (each begins with one light query) arrived, once there are `n`
/// since request `before`.
fn wait_until_polls(gh: &FakeGitHub, before: usize, n: usize) -> Vec<std::time::Instant> {
    ao_tests::wait_until(&format!("{n} polls of the host"), || {
        let polls: Vec<std::time::Instant> = gh.requests()[before..]
            .iter()
            .filter(|r| r.operation.as_deref() == Some("LightPoll"))
            .map(|r| r.at)
            .collect();
        (polls.len() >= n).then_some(polls)
    })
}

#[test]
fn the_host_auto_merges_one_pull_request_per_repository_per_pass() {
    let gh = FakeGitHub::start();
    let f = github_fleet(&gh, "");
    gh.remote("acme/app", &f.env.root().join("repo-origin.git"));
    // Every pass polls (the poll interval is far shorter than a merge takes), so what a
    // pass merges from is what GitHub said at its start.
    let config = f.repo.join("agent-orchestrator.yaml");
    std::fs::write(
        &config,
        std::fs::read_to_string(&config).unwrap()
            + "lifecycle:\n  probeInterval: 200ms\n  pollInterval: 1ms\nreactions:\n  approved-and-green:\n    auto: true\n    action: auto-merge\n",
    )
    .unwrap();
    let mut prs = std::collections::BTreeMap::new();
    for (task, file) in [
        ("Fix the login", "login.txt"),
        ("Add a logout", "logout.txt"),
    ] {
        let (id, pr) = spawn_with_pr(&gh, &f, task, file);
        gh.check("acme/app", pr, "build", Some("SUCCESS"), true, "");
        gh.edit_pr("acme/app", pr, |p| p.review = Some("APPROVED".into()));
        prs.insert(id, pr);
    }
    let events = || {
        let run = f.ao(&["events", "--json"]);
        run.success();
        serde_json::from_str::<Vec<serde_json::Value>>(&run.stdout).unwrap()
    };
    let merged = |events: &[serde_json::Value]| -> Vec<String> {
        events
            .iter()
            .filter(|e| e["kind"] == "pr_merged")
            .map(|e| e["session"].as_str().unwrap().to_owned())
            .collect()
    };
    let host = f.ao_child(&["start", "--no-orchestrator"]);
    // Both are approved and green in the host's first pass; it merges one of them.
    let first = ao_tests::wait_until("the host to merge a pull request", || {
        merged(&events()).into_iter().next()
    });
    let (second, second_pr) = prs
        .iter()
        .find(|(id, _)| **id != first)
        .map(|(id, pr)| (id.clone(), *pr))
        .unwrap();
    // The other is read again in the next pass, against the base the merge moved: behind
    // it now, so approved but not mergeable, and not merged.
    ao_tests::wait_until(
        "the other pull request read again as behind its base",
        || {
            let run = f.ao(&["status", "--json"]);
            let list: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).ok()?;
            list.iter()
                .any(|s| s["id"] == second.as_str() && s["status"] == "approved")
                .then_some(())
        },
    );
    // Its agent brings it up to date; the host merges it in a later pass.
    let wt = f.worktree(&second);
    f.env.git(&wt, &["fetch", "-q", "origin"]);
    f.env.git(&wt, &["merge", "-q", "--no-edit", "origin/main"]);
    f.env.git(&wt, &["push", "-q", "origin", "HEAD"]);
    gh.check("acme/app", second_pr, "build", Some("SUCCESS"), true, "");
    let all = ao_tests::wait_until("the host to merge the other pull request", || {
        let all = events();
        (merged(&all).len() == 2).then_some(all)
    });
    f.stop_host(host);
    assert_eq!(merged(&all), [first.clone(), second.clone()]);
    // No merge was tried against the reading from before the first merge (it would have
    // been refused: behind its base).
    let refused: Vec<&serde_json::Value> = all
        .iter()
        .filter(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("not merged"))
        })
        .collect();
    assert!(
        refused.is_empty(),
        "a second merge was tried in the pass of the first: {refused:?}"
    );
    let puts = gh
        .requests()
        .iter()
        .filter(|r| r.method == "PUT" && r.path.ends_with("/merge"))
        .count();
    assert_eq!(puts, 2);
    assert_queries_valid(&gh);
}

/// A fleet whose host auto-merges approved, green pull requests, with `extra` added under
/// the approved-and-green reaction and a one-second CI grace period.
fn auto_merge_fleet(gh: &FakeGitHub, extra: &str) -> Fleet {
    let f = github_fleet(gh, "");
    gh.remote("acme/app", &f.env.root().join("repo-origin.git"));
    add_to_config(
        &f,
        &format!(
            "lifecycle:\n  probeInterval: 200ms\n  pollInterval: 300ms\n  ciGracePeriod: 1s\nreactions:\n  approved-and-green:\n    auto: true\n    action: auto-merge\n{extra}"
        ),
    );
    f
}

fn merge_puts(gh: &FakeGitHub) -> usize {
    gh.requests()
        .iter()
        .filter(|r| r.method == "PUT" && r.path.ends_with("/merge"))
        .count()
}

/// What the host said of a session in its events, once `what` is among it.
fn wait_event(f: &Fleet, what: &str) -> String {
    ao_tests::wait_until(what, || {
        let run = f.ao(&["events", "--json"]);
        let all: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).ok()?;
        all.iter()
            .filter_map(|e| e["message"].as_str())
            .find(|m| m.contains(what))
            .map(str::to_owned)
    })
}

fn merged_status(f: &Fleet, id: &str) -> bool {
    let run = f.ao(&["status", "--json"]);
    let list: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap_or_default();
    list.iter()
        .any(|s| s["id"] == id && s["status"] == "merged")
}

/// An approved pull request no check ever ran on is not merged: not in a repository that
/// runs CI, and in one without CI only once the user says checks are not required.
#[test]
fn auto_merge_needs_a_check_that_ran_on_the_head() {
    let gh = FakeGitHub::start();
    let f = auto_merge_fleet(&gh, "");
    gh.repo_ci("acme/app", true, true);
    let (id, pr) = spawn_with_pr(&gh, &f, "Fix the login", "login.txt");
    gh.edit_pr("acme/app", pr, |p| p.review = Some("APPROVED".into()));
    let host = f.ao_child(&["start", "--no-orchestrator"]);
    let said = wait_event(&f, "waits for CI before merging: no check ran on");
    assert!(
        said.contains("the repository runs CI") || said.contains("ao merges once one has passed"),
        "{said}"
    );
    assert_eq!(merge_puts(&gh), 0, "merged with no check on its head");
    f.stop_host(host);

    // A repository without CI, and the user's consent: merged.
    gh.repo_ci("acme/app", false, false);
    add_to_config(&f, "    requireChecks: false\n");
    f.ao(&["config", "validate"]).success();
    let host = f.ao_child(&["start", "--no-orchestrator"]);
    ao_tests::wait_until("the merge without CI", || {
        merged_status(&f, &id).then_some(())
    });
    f.stop_host(host);
    assert_eq!(merge_puts(&gh), 1);
    // The host's own merge is said as such, not as the user's.
    f.ao(&["session", "ls", "--all"])
        .success()
        .stdout_has("merged (auto_merge)");
    assert_queries_valid(&gh);
}

/// With `requireChecks: false`, a repository that runs CI still needs a check on the head.
#[test]
fn a_repository_with_ci_is_never_merged_without_a_check() {
    let gh = FakeGitHub::start();
    let f = auto_merge_fleet(&gh, "    requireChecks: false\n");
    gh.repo_ci("acme/app", false, true);
    let (_id, pr) = spawn_with_pr(&gh, &f, "Fix the login", "login.txt");
    gh.edit_pr("acme/app", pr, |p| p.review = Some("APPROVED".into()));
    let host = f.ao_child(&["start", "--no-orchestrator"]);
    wait_event(&f, "though the repository runs CI");
    f.stop_host(host);
    assert_eq!(merge_puts(&gh), 0);
}

/// A head pushed after the checks passed on the one before is not merged on their word:
/// it waits for its own CI, queued checks included, and is merged once they pass.
#[test]
fn a_new_head_waits_for_its_own_checks() {
    let gh = FakeGitHub::start();
    let f = auto_merge_fleet(&gh, "");
    gh.repo_ci("acme/app", true, true);
    let (id, pr) = spawn_with_pr(&gh, &f, "Fix the login", "login.txt");
    gh.check("acme/app", pr, "build", Some("SUCCESS"), true, "");
    gh.edit_pr("acme/app", pr, |p| p.review = Some("APPROVED".into()));
    // Read green and approved on its first head.
    let s = status_json(&f, true);
    assert_eq!(s["status"], "mergeable", "{s}");
    // The agent pushes again; its CI has not started.
    let wt = f.worktree(&id);
    std::fs::write(wt.join("login.txt"), "fixed again\n").unwrap();
    f.env.git(&wt, &["commit", "-q", "-am", "Fix it again"]);
    f.env.git(&wt, &["push", "-q", "origin", "HEAD"]);
    let host = f.ao_child(&["start", "--no-orchestrator"]);
    wait_event(&f, "no check ran on");
    assert_eq!(merge_puts(&gh), 0, "merged on the previous head's checks");
    // Its CI starts: still running, not merged.
    gh.check("acme/app", pr, "build", None, true, "");
    ao_tests::wait_until("the queued check read", || {
        (status_json(&f, false)["ci"] == "pending").then_some(())
    });
    assert_eq!(merge_puts(&gh), 0, "merged while its checks ran");
    // It passes: merged, at the new head.
    gh.check("acme/app", pr, "build", Some("SUCCESS"), true, "");
    ao_tests::wait_until("the merge", || merged_status(&f, &id).then_some(()));
    f.stop_host(host);
    assert_eq!(merge_puts(&gh), 1);
}

/// A required check GitHub skipped or called neutral on the head did not pass there: the
/// pull request's CI is pending, so neither auto-merge nor `ao session merge` goes ahead.
/// Skipped and neutral checks that are not required block nothing.
#[test]
fn a_skipped_or_neutral_required_check_is_no_pass() {
    let gh = FakeGitHub::start();
    let (f, _branch, pr) = session_with_pr(&gh);
    gh.edit_pr("acme/app", pr, |p| p.review = Some("APPROVED".into()));
    gh.check("acme/app", pr, "build", Some("SUCCESS"), true, "");
    gh.check("acme/app", pr, "docs", Some("SKIPPED"), false, "");
    gh.check("acme/app", pr, "lint", Some("NEUTRAL"), false, "");
    let s = status_json(&f, true);
    assert_eq!(s["ci"], "passing", "{s}");
    for conclusion in ["SKIPPED", "NEUTRAL"] {
        // Run again on the same head: running first, then concluded.
        gh.check("acme/app", pr, "build", None, true, "");
        assert_eq!(status_json(&f, true)["ci"], "pending");
        gh.check("acme/app", pr, "build", Some(conclusion), true, "");
        let s = status_json(&f, true);
        assert_eq!(s["ci"], "pending", "a required check {conclusion}: {s}");
        f.ao(&["session", "merge", "app-1"])
            .code(1)
            .stderr_has(&format!(
                "app-1: pull request #{pr} was not merged: checks pending: build"
            ));
    }
    assert_eq!(merge_puts(&gh), 0);
}
