//! What an agent says of itself with `ao report`: a pull request it names by number is
//! the project's repository's, attached with its address.

use ao_tests::Fleet;

#[test]
fn a_pull_request_reported_by_number_is_attached_with_its_address_in_the_projects_repository() {
    let f = Fleet::new(
        "    repo: acme/app\n    agent: command\n    agentConfig:\n      command: [cat]\n",
    );
    f.ao(&["spawn", "app", "--prompt", "Fix the login"])
        .success();
    f.ao(&["report", "pr-created", "-s", "app-1", "--pr-number", "12"])
        .success();
    let pr = &f.sessions()[0]["pr"];
    assert_eq!(pr["url"], "https://github.com/acme/app/pull/12", "{pr}");
    assert_eq!(pr["owner"], "acme", "{pr}");
    assert_eq!(pr["repo"], "app", "{pr}");
    assert_eq!(pr["number"], 12, "{pr}");
    f.ao(&["events", "--kind", "pr_detected"])
        .success()
        .stdout_has("pull request #12 reported by its agent: https://github.com/acme/app/pull/12");
    f.ao(&["session", "kill", "app-1"]).success();
}
