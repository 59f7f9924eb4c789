//! The fleet of fakes itself: a spawn goes through the manager's real steps onto the fake
//! plugins, and a kill ends what it started.

use super::{clock, pass};
use crate::fakes::{FAKE, Fleet, Gate, PROCESS, RuntimeOp, ScmOp, Scripted};
use crate::model::SessionStatus;
use crate::session::KillOptions;

#[tokio::test(flavor = "current_thread")]
async fn a_spawn_over_the_fakes_starts_the_agent_in_its_workspace() {
    let _clock = clock();
    let fleet = Fleet::new();
    let s = fleet.spawn("app", "write the parser").await.unwrap();
    assert_eq!(s.status, SessionStatus::Working);
    let id = s.id.to_string();
    let made = fleet.fakes.workspace.made();
    assert_eq!(made.len(), 1);
    assert_eq!(Some(&made[0].path), s.workspace_path.as_ref());
    let t = fleet.fakes.runtime.terminal(&id).expect("its terminal");
    assert_eq!(t.spec.cwd, made[0].path);
    assert_eq!(t.foreground, PROCESS);
    assert_eq!(s.runtime.as_ref().map(|h| h.runtime.as_str()), Some(FAKE));
    let launched = fleet.fakes.agent.launched();
    assert_eq!(launched.len(), 1);
    assert_eq!(launched[0].prompt, "write the parser");

    // The probe reads the fake agent, and nothing is due.
    assert!(pass(&fleet).await.is_empty());
    assert!(fleet.fakes.agent.activity_calls() > 0);
    assert!(fleet.fakes.runtime.sent().is_empty());

    let report = fleet
        .manager()
        .kill(
            &id,
            KillOptions {
                keep_workspace: true,
                force: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(report.session.status, SessionStatus::Killed);
    assert_eq!(fleet.fakes.runtime.destroyed(), vec![id.clone()]);
    assert!(fleet.fakes.runtime.running().is_empty());
}

/// A program given its task at launch that cannot run at all is seen running for a
/// moment, then exits 127: the spawn looks again once the agent was seen running, and the
/// exit fails it and undoes it (the look that saw it running is not taken for the last).
#[tokio::test(flavor = "current_thread")]
async fn a_spawn_whose_agent_exits_127_after_it_was_seen_running_fails_and_is_undone() {
    let _clock = clock();
    let fleet = Fleet::new();
    let after_seen = Gate::new();
    fleet.fakes.runtime.script(
        RuntimeOp::ProbeAll,
        [Scripted::Works, Scripted::Waits(after_seen.clone())],
    );
    let spawn = fleet.spawn("app", "write the parser");
    tokio::pin!(spawn);
    tokio::select! {
        made = &mut spawn => panic!("the spawn ended without looking at its agent again: {made:?}"),
        () = after_seen.reached() => {}
    }
    let id = fleet.fakes.runtime.running().pop().expect("its terminal");
    fleet.fakes.runtime.exit(&id, Some(127));
    after_seen.open();
    let e = spawn.await.unwrap_err();
    assert!(e.to_string().contains("exit code 127"), "{e}");
    assert_eq!(fleet.fakes.runtime.destroyed(), vec![id]);
    assert_eq!(fleet.fakes.workspace.removed().len(), 1);
    assert!(fleet.manager().status(None, true).await.unwrap().is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn a_runtime_scripted_to_fail_fails_the_spawn_and_it_is_undone() {
    let _clock = clock();
    let fleet = Fleet::new();
    fleet
        .fakes
        .runtime
        .script(RuntimeOp::Create, [Scripted::Fails("no server".into())]);
    let e = fleet.spawn("app", "task").await.unwrap_err();
    assert!(e.to_string().contains("no server"), "{e}");
    assert_eq!(fleet.fakes.runtime.calls(RuntimeOp::Create), 1);
    // Undone: its checkout discarded, no row left.
    assert_eq!(fleet.fakes.workspace.removed().len(), 1);
    assert!(fleet.manager().status(None, true).await.unwrap().is_empty());
    // The next one works.
    fleet.spawn("app", "task").await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_restarted_manager_finds_the_home_and_the_world_as_they_were() {
    let _clock = clock();
    let mut fleet = Fleet::builder()
        .config(
            "reactions:\n  approved-and-green:\n    auto: true\n    action: auto-merge\nlifecycle:\n  autoCleanupOnMerge: false",
        )
        .build();
    let (s, pr) = fleet.spawn_with_pr("app").await;
    fleet.fakes.scm.approve_green(&pr);
    // The merge goes through and the host dies before it hears so.
    fleet
        .fakes
        .scm
        .script(ScmOp::Merge, [Scripted::WorksThenHangs]);
    let cut = tokio::time::timeout(std::time::Duration::from_millis(500), fleet.pass()).await;
    assert!(cut.is_err(), "the pass hangs in the merge");
    assert_eq!(fleet.fakes.scm.merges().len(), 1);

    fleet.restart();
    assert_eq!(fleet.session(&s.id).id, s.id);
    assert!(fleet.fakes.runtime.terminal(&s.id.to_string()).is_some());
}
