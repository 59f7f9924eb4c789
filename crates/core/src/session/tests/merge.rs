//! Auto-merge: one merge per repository per pass, so the next is read again against the
//! base the first one moved; other repositories merge in the same pass.

use super::{clock, pass};
use crate::fakes::Fleet;

#[tokio::test(flavor = "current_thread")]
async fn one_merge_per_repository_per_pass() {
    let _clock = clock();
    let fleet = Fleet::builder()
        .project("app", "o/app", "")
        .project("lib", "o/lib", "")
        .config(
            "reactions:\n  approved-and-green:\n    auto: true\n    action: auto-merge\nlifecycle:\n  autoCleanupOnMerge: false",
        )
        .build();
    let mut prs = Vec::new();
    for project in ["app", "app", "lib"] {
        let (_, pr) = fleet.spawn_with_pr(project).await;
        fleet.fakes.scm.approve_green(&pr);
        prs.push(pr);
    }
    let merged_repos = |fleet: &Fleet| {
        let mut repos: Vec<String> = fleet
            .fakes
            .scm
            .merges()
            .iter()
            .map(|m| format!("{}/{}#{}", m.pr.owner, m.pr.repo, m.pr.number))
            .collect();
        repos.sort();
        repos
    };
    pass(&fleet).await;
    assert_eq!(merged_repos(&fleet), ["o/app#1", "o/lib#1"]);
    pass(&fleet).await;
    assert_eq!(merged_repos(&fleet), ["o/app#1", "o/app#2", "o/lib#1"]);
    pass(&fleet).await;
    assert_eq!(fleet.fakes.scm.merges().len(), 3, "each once");
}
