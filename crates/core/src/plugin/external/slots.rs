//! Adapters that make a loaded plugin one of ao's own async plugins, per slot: each call
//! becomes a JSON message carrying the plugin's config section.

use super::instance::Instance;
use crate::model::{PrRef, RepoId};
use crate::model::{RuntimeHandle, SessionId};
use crate::plugin::{
    AttachInfo, CommandOutput, Issue, IssueFilter, MergeParams, Notification, Notifier,
    PluginError, PrStatus, Probe, Runtime, RuntimeSpec, Scm, Tracker, Workspace, WorkspaceInfo,
    WorkspaceSpec,
};
use ao_plugin_sdk::{notifier as n, runtime as r, scm as s, tracker as t, workspace as w};
use async_trait::async_trait;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

/// A loaded plugin with the config section of the place that names it.
pub(crate) struct External {
    pub inst: Arc<Instance>,
    pub section: Value,
}

impl External {
    async fn call<P: serde::Serialize, R: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        params: &P,
    ) -> Result<R, PluginError> {
        self.inst.call(method, &self.section, params).await
    }

    /// A handle the plugin made, under the name the config gives the plugin (which is how
    /// ao finds the runtime of a session again).
    fn named(&self, handle: RuntimeHandle) -> RuntimeHandle {
        RuntimeHandle {
            runtime: self.inst.name.clone(),
            ..handle
        }
    }

    fn call_blocking<P: serde::Serialize, R: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        params: &P,
    ) -> Result<R, PluginError> {
        self.inst.call_blocking(method, &self.section, params)
    }
}

#[async_trait]
impl Notifier for External {
    async fn notify(&self, notification: &Notification) -> Result<(), PluginError> {
        let event = serde_json::to_value(&notification.event)
            .and_then(serde_json::from_value::<n::Event>)
            .map_err(|e| PluginError::failed(&self.inst.name, e.to_string()))?;
        let wire = n::Notification {
            title: notification.title.clone(),
            event,
        };
        self.call(n::method::NOTIFY, &wire).await
    }
}

#[async_trait]
impl Tracker for External {
    async fn issue(&self, id: &str) -> Result<Issue, PluginError> {
        self.call(t::method::ISSUE, &t::IdParams { id: id.into() })
            .await
    }

    async fn is_completed(&self, id: &str) -> Result<bool, PluginError> {
        self.call(t::method::IS_COMPLETED, &t::IdParams { id: id.into() })
            .await
    }

    fn branch_name(&self, issue: &Issue) -> String {
        let params = t::IssueParams {
            issue: issue.clone(),
        };
        self.call_blocking(t::method::BRANCH_NAME, &params)
            .unwrap_or_else(|e| {
                tracing::warn!("{e}; using the default branch name");
                t::default_branch_name(issue)
            })
    }

    fn prompt(&self, issue: &Issue) -> String {
        let params = t::IssueParams {
            issue: issue.clone(),
        };
        self.call_blocking(t::method::PROMPT, &params)
            .unwrap_or_else(|e| {
                tracing::warn!("{e}; using the issue's title and text as the task");
                t::default_prompt(issue)
            })
    }

    async fn list(&self, filter: &IssueFilter) -> Result<Vec<Issue>, PluginError> {
        self.call(t::method::LIST, filter).await
    }
}

fn wire_runtime_spec(spec: &RuntimeSpec) -> r::RuntimeSpec {
    r::RuntimeSpec {
        session: spec.session.to_string(),
        cwd: spec.cwd.clone(),
        argv: spec.argv.clone(),
        env: spec.env.clone(),
        stdin: spec.stdin.clone(),
        data_dir: spec.data_dir.clone(),
    }
}

#[async_trait]
impl Runtime for External {
    async fn create(&self, spec: &RuntimeSpec) -> Result<RuntimeHandle, PluginError> {
        let handle: RuntimeHandle = self
            .call(r::method::CREATE, &wire_runtime_spec(spec))
            .await?;
        Ok(self.named(handle))
    }

    async fn destroy(&self, handle: &RuntimeHandle) -> Result<(), PluginError> {
        self.call(
            r::method::DESTROY,
            &r::HandleParams {
                handle: handle.clone(),
            },
        )
        .await
    }

    async fn send(&self, handle: &RuntimeHandle, text: &str) -> Result<(), PluginError> {
        self.call(
            r::method::SEND,
            &r::SendParams {
                handle: handle.clone(),
                text: text.into(),
            },
        )
        .await
    }

    async fn submit(&self, handle: &RuntimeHandle) -> Result<(), PluginError> {
        self.call(
            r::method::SUBMIT,
            &r::HandleParams {
                handle: handle.clone(),
            },
        )
        .await
    }

    async fn output(&self, handle: &RuntimeHandle, lines: usize) -> Result<String, PluginError> {
        self.call(
            r::method::OUTPUT,
            &r::OutputParams {
                handle: handle.clone(),
                lines,
            },
        )
        .await
    }

    async fn is_alive(&self, handle: &RuntimeHandle) -> Result<bool, PluginError> {
        self.call(
            r::method::IS_ALIVE,
            &r::HandleParams {
                handle: handle.clone(),
            },
        )
        .await
    }

    fn attach_info(&self, handle: &RuntimeHandle) -> AttachInfo {
        self.call_blocking(
            r::method::ATTACH_INFO,
            &r::HandleParams {
                handle: handle.clone(),
            },
        )
        .unwrap_or_else(|e| AttachInfo {
            argv: Vec::new(),
            note: Some(format!("cannot attach: {e}")),
        })
    }

    async fn probe_all(&self, handles: &[RuntimeHandle]) -> Result<Vec<Probe>, PluginError> {
        let probes: Vec<Probe> = self
            .call(
                r::method::PROBE_ALL,
                &r::HandlesParams {
                    handles: handles.to_vec(),
                },
            )
            .await?;
        if probes.len() != handles.len() {
            return Err(PluginError::failed(
                &self.inst.name,
                format!(
                    "probed {} sessions but answered for {}",
                    handles.len(),
                    probes.len()
                ),
            ));
        }
        Ok(probes)
    }

    async fn find(
        &self,
        session: &SessionId,
        data_dir: &Path,
    ) -> Result<Option<RuntimeHandle>, PluginError> {
        let found: Option<RuntimeHandle> = self
            .call(
                r::method::FIND,
                &r::FindParams {
                    session: session.to_string(),
                    data_dir: data_dir.to_owned(),
                },
            )
            .await?;
        Ok(found.map(|h| self.named(h)))
    }
}

fn wire_workspace_spec(spec: &WorkspaceSpec) -> w::WorkspaceSpec {
    w::WorkspaceSpec {
        session: spec.session.to_string(),
        project: spec.project.clone(),
        repo_path: spec.repo_path.clone(),
        branch: spec.branch.clone(),
        base_branch: spec.base_branch.clone(),
        default_branch: spec.default_branch.clone(),
        path: spec.path.clone(),
        copy: spec.copy.clone(),
        symlinks: spec.symlinks.clone(),
        post_create: spec.post_create.clone(),
    }
}

#[async_trait]
impl Workspace for External {
    async fn create(&self, spec: &WorkspaceSpec) -> Result<WorkspaceInfo, PluginError> {
        let spec = wire_workspace_spec(spec);
        self.call(w::method::CREATE, &w::SpecParams { spec }).await
    }

    async fn post_create(
        &self,
        spec: &WorkspaceSpec,
        info: &WorkspaceInfo,
    ) -> Result<Vec<CommandOutput>, PluginError> {
        let spec = wire_workspace_spec(spec);
        self.call(
            w::method::POST_CREATE,
            &w::PostCreateParams {
                spec,
                info: info.clone(),
            },
        )
        .await
    }

    async fn destroy(&self, spec: &WorkspaceSpec, force: bool) -> Result<(), PluginError> {
        let spec = wire_workspace_spec(spec);
        self.call(w::method::DESTROY, &w::DestroyParams { spec, force })
            .await
    }

    async fn list(
        &self,
        project: &str,
        repo_path: &Path,
    ) -> Result<Vec<WorkspaceInfo>, PluginError> {
        self.call(
            w::method::LIST,
            &w::ListParams {
                project: project.into(),
                repo_path: repo_path.to_owned(),
            },
        )
        .await
    }

    async fn restore(&self, spec: &WorkspaceSpec) -> Result<WorkspaceInfo, PluginError> {
        let spec = wire_workspace_spec(spec);
        self.call(w::method::RESTORE, &w::SpecParams { spec }).await
    }

    async fn discard(&self, spec: &WorkspaceSpec, created_branch: bool) -> Result<(), PluginError> {
        let spec = wire_workspace_spec(spec);
        self.call(
            w::method::DISCARD,
            &w::DiscardParams {
                spec,
                created_branch,
            },
        )
        .await
    }
}

#[async_trait]
impl Scm for External {
    // The four below came after SDK 0.2.0: a plugin without them answers with an error,
    // and what the trait does by default stands in (the plugin's own name for its
    // display name).
    fn display_name(&self) -> String {
        self.call_blocking::<_, Option<String>>(s::method::DISPLAY_NAME, &Value::Null)
            .ok()
            .flatten()
            .unwrap_or_else(|| self.inst.name.clone())
    }

    fn parse_repo(&self, text: &str) -> Result<RepoId, String> {
        let params = s::TextParams { text: text.into() };
        match self.call_blocking(s::method::PARSE_REPO, &params) {
            Ok(s::ParsedRepo::Ok(repo)) => Ok(repo),
            Ok(s::ParsedRepo::Err(why)) => Err(why),
            Err(_) => RepoId::from_path(text).ok_or_else(|| format!("`{text}` is not OWNER/NAME")),
        }
    }

    fn parse_pr_url(&self, url: &str) -> Option<PrRef> {
        let params = s::TextParams { text: url.into() };
        self.call_blocking(s::method::PARSE_PR_URL, &params)
            .ok()
            .flatten()
    }

    fn pr_ref(&self, repo: &RepoId, number: u64) -> PrRef {
        let params = s::PrNumberParams {
            repo: repo.clone(),
            number,
        };
        self.call_blocking(s::method::PR_REF, &params)
            .unwrap_or_else(|_| PrRef::new(repo, number, ""))
    }

    async fn detect_prs(
        &self,
        repo: &RepoId,
        branches: &[String],
    ) -> Result<Vec<Option<PrRef>>, PluginError> {
        self.call(
            s::method::DETECT_PRS,
            &s::BranchesParams {
                owner: repo.owner().into(),
                repo: repo.name().into(),
                branches: branches.to_vec(),
            },
        )
        .await
    }

    async fn enrich(
        &self,
        prs: &[PrRef],
        known: &[Option<String>],
    ) -> Vec<Result<Option<PrStatus>, PluginError>> {
        let params = s::PrsParams {
            prs: prs.to_vec(),
            known: known.to_vec(),
        };
        match self
            .call::<_, Vec<s::Enriched>>(s::method::ENRICH, &params)
            .await
        {
            Ok(all) if all.len() == prs.len() => all
                .into_iter()
                .map(|e| match e {
                    s::Enriched::Ok(status) => Ok(Some(status)),
                    s::Enriched::Unchanged => Ok(None),
                    s::Enriched::Err(e) => Err(PluginError::failed(&self.inst.name, e.message)),
                })
                .collect(),
            Ok(all) => prs
                .iter()
                .map(|_| {
                    Err(PluginError::failed(
                        &self.inst.name,
                        format!(
                            "answered enrich with {} results for {} pull requests",
                            all.len(),
                            prs.len()
                        ),
                    ))
                })
                .collect(),
            Err(e) => {
                let message = e.to_string();
                prs.iter()
                    .map(|_| Err(PluginError::failed(&self.inst.name, message.clone())))
                    .collect()
            }
        }
    }

    async fn merge(&self, merge: &MergeParams) -> Result<(), PluginError> {
        self.call(s::method::MERGE, merge).await
    }

    async fn close(&self, pr: &PrRef) -> Result<(), PluginError> {
        self.call(s::method::CLOSE, &s::PrParams { pr: pr.clone() })
            .await
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Event, EventKind, Priority, SessionStatus};
    use crate::reactions::ReactionKind;
    use ao_plugin_sdk::notifier as n;

    // Every event kind ao records reaches a notifier plugin as the SDK's event, with the
    // kind's own fields kept.
    #[test]
    fn every_event_kind_reads_as_the_sdk_event() {
        let kinds = [
            EventKind::SessionSpawned,
            EventKind::SpawnUndone {
                undone: vec!["removed /w".into()],
            },
            EventKind::StatusChanged {
                from: SessionStatus::Working,
                to: SessionStatus::Killed,
            },
            EventKind::ReactionRan {
                reaction: ReactionKind::CiFailed.key().into(),
                attempt: 2,
            },
            EventKind::Escalated {
                reaction: ReactionKind::CiFailed.key().into(),
            },
            EventKind::PluginDisabled { plugin: "x".into() },
            EventKind::Test,
        ];
        for kind in kinds {
            let name = kind.name();
            let e = Event {
                id: 7,
                at: 9,
                project: "app".into(),
                session: Some("app-1".parse().unwrap()),
                priority: Priority::Urgent,
                kind,
                message: "m".into(),
            };
            let wire: n::Event = serde_json::from_value(serde_json::to_value(&e).unwrap()).unwrap();
            assert_eq!(wire.kind, name);
            assert_eq!(wire.priority, "urgent");
            assert_eq!(wire.session.as_deref(), Some("app-1"));
            if name == "status_changed" {
                assert_eq!(wire.details["from"], "working");
                assert_eq!(wire.details["to"], "killed");
            }
        }
    }
}
