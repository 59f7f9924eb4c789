//! A runtime plugin for ao's tests, to prove an external runtime is used like a built-in
//! one: each session in a tmux session on the server whose socket the runtime's section
//! names (`runtimes: { <name>: { socket: PATH } }`), driven through tmux's CLI.

use ao_plugin_sdk::runtime::{AttachInfo, Liveness, Probe, Runtime, RuntimeHandle, RuntimeSpec};
use ao_plugin_sdk::serde_json::{Value, json};
use ao_plugin_sdk::{Context, Error, Plugin, export_plugin};
use std::process::{Command, Output};

struct TmuxRuntime;

fn socket(cx: &Context) -> Result<String, Error> {
    cx.path_setting("socket")
        .map(|p| p.display().to_string())
        .ok_or_else(|| Error::failed("set `socket` in the runtime's section"))
}

fn tmux(cx: &Context, args: &[&str]) -> Result<Output, Error> {
    Command::new("tmux")
        .arg("-S")
        .arg(socket(cx)?)
        .args(args)
        .output()
        .map_err(|e| Error::failed(format!("cannot run tmux: {e}")))
}

fn ok(out: Output) -> Result<String, Error> {
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(Error::failed(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ))
    }
}

fn target(h: &RuntimeHandle) -> String {
    format!("={}:", h.id)
}

impl Plugin for TmuxRuntime {
    fn init(_config: Value) -> Result<Self, Error> {
        Ok(TmuxRuntime)
    }
}

impl Runtime for TmuxRuntime {
    fn create(&self, cx: &Context, spec: &RuntimeSpec) -> Result<RuntimeHandle, Error> {
        let cwd = spec.cwd.display().to_string();
        let mut args = vec!["new-session", "-d", "-s", &spec.session, "-c", &cwd];
        let env: Vec<String> = spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        for e in &env {
            args.extend(["-e", e]);
        }
        args.push("--");
        args.extend(spec.argv.iter().map(String::as_str));
        ok(tmux(cx, &args)?)?;
        Ok(RuntimeHandle {
            runtime: String::new(),
            id: spec.session.clone(),
            data: json!({ "socket": socket(cx)? }),
        })
    }

    fn destroy(&self, cx: &Context, h: &RuntimeHandle) -> Result<(), Error> {
        // Already gone is fine.
        tmux(cx, &["kill-session", "-t", &target(h)]).map(drop)
    }

    fn send(&self, cx: &Context, h: &RuntimeHandle, text: &str) -> Result<(), Error> {
        ok(tmux(cx, &["send-keys", "-t", &target(h), "-l", text])?)?;
        self.submit(cx, h)
    }

    fn submit(&self, cx: &Context, h: &RuntimeHandle) -> Result<(), Error> {
        ok(tmux(cx, &["send-keys", "-t", &target(h), "Enter"])?).map(drop)
    }

    fn output(&self, cx: &Context, h: &RuntimeHandle, lines: usize) -> Result<String, Error> {
        let start = format!("-{lines}");
        ok(tmux(
            cx,
            &["capture-pane", "-p", "-t", &target(h), "-S", &start],
        )?)
    }

    fn is_alive(&self, cx: &Context, h: &RuntimeHandle) -> Result<bool, Error> {
        Ok(tmux(cx, &["has-session", "-t", &target(h)])?
            .status
            .success())
    }

    fn attach_info(&self, cx: &Context, h: &RuntimeHandle) -> AttachInfo {
        AttachInfo {
            argv: vec![
                "tmux".into(),
                "-S".into(),
                socket(cx).unwrap_or_default(),
                "attach".into(),
                "-t".into(),
                target(h),
            ],
            note: None,
        }
    }

    fn probe_all(&self, cx: &Context, handles: &[RuntimeHandle]) -> Result<Vec<Probe>, Error> {
        let out = tmux(
            cx,
            &[
                "list-panes",
                "-a",
                "-F",
                "#{session_name}\t#{pane_dead}\t#{pane_current_command}",
            ],
        )?;
        // No server yet: every session is gone.
        let listing = String::from_utf8_lossy(&out.stdout).into_owned();
        Ok(handles
            .iter()
            .map(|h| {
                let row = listing
                    .lines()
                    .map(|l| l.split('\t').collect::<Vec<_>>())
                    .find(|f| f.first() == Some(&h.id.as_str()));
                match row {
                    Some(f) if f.get(1) == Some(&"1") => Probe {
                        liveness: Liveness::Exited,
                        ..Probe::unknown()
                    },
                    Some(f) => Probe {
                        liveness: Liveness::Alive,
                        foreground: f.get(2).map(|c| c.to_string()),
                        ..Probe::unknown()
                    },
                    None => Probe {
                        liveness: Liveness::Gone,
                        ..Probe::unknown()
                    },
                }
            })
            .collect())
    }

    fn find(
        &self,
        cx: &Context,
        session: &str,
        _data_dir: &std::path::Path,
    ) -> Result<Option<RuntimeHandle>, Error> {
        let h = RuntimeHandle {
            runtime: String::new(),
            id: session.to_owned(),
            data: json!({ "socket": socket(cx)? }),
        };
        Ok(self.is_alive(cx, &h)?.then_some(h))
    }
}

export_plugin!(
    runtime: TmuxRuntime,
    name: "test-tmux",
    description: "tmux through its CLI, for tests"
);
