//! An agent plugin for ao's tests, to prove an external agent is used like a built-in one
//! and that typed input is confirmed taken. Its CLI is a bash script that reads what is
//! typed a character at a time and logs each line it takes; with `missEnter: N` in the
//! plugin's config it ignores the first N Enters, as a busy terminal program can.

use ao_plugin_sdk::agent::{
    Activity, ActivityContext, ActivityReport, ActivitySource, Agent, AgentSessionInfo,
    LaunchContext, LaunchSpec, PromptDelivery,
};
use ao_plugin_sdk::serde_json::Value;
use ao_plugin_sdk::{Context, Error, Plugin, Timestamp, export_plugin};
use std::path::{Path, PathBuf};

const SCRIPT: &str = r#"missed=0
line=""
printf 'line-agent ready\n'
while IFS= read -r -s -n1 c; do
  if [ -z "$c" ]; then
    if [ "$missed" -lt "$MISS_ENTER" ]; then
      missed=$((missed + 1))
      printf '\n(missed an Enter)\n'
      continue
    fi
    printf '\ntook: %s\n' "$line"
    printf '%s\n' "$line" >> "$TAKEN_LOG"
    line=""
  else
    line="$line$c"
    printf '%s' "$c"
  fi
done
"#;

struct LineAgent {
    miss_enter: u64,
}

fn taken_log(scratch: &Path) -> PathBuf {
    scratch.join("taken.log")
}

fn modified_ms(path: &Path) -> Option<Timestamp> {
    let t = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as Timestamp)
}

impl Plugin for LineAgent {
    fn init(config: Value) -> Result<Self, Error> {
        Ok(LineAgent {
            miss_enter: config.get("missEnter").and_then(Value::as_u64).unwrap_or(0),
        })
    }
}

impl Agent for LineAgent {
    fn launch(&self, _cx: &Context, l: &LaunchContext) -> Result<LaunchSpec, Error> {
        std::fs::create_dir_all(&l.scratch_dir)?;
        let script = l.scratch_dir.join("line-agent.sh");
        std::fs::write(&script, SCRIPT)?;
        Ok(LaunchSpec {
            argv: vec!["bash".into(), script.display().to_string()],
            env: [
                ("MISS_ENTER".to_owned(), self.miss_enter.to_string()),
                (
                    "TAKEN_LOG".to_owned(),
                    taken_log(&l.scratch_dir).display().to_string(),
                ),
            ]
            .into(),
            prompt: PromptDelivery::PostLaunch,
            agent_session_id: None,
        })
    }

    fn process_names(&self, _cx: &Context, _config: &Value) -> Vec<String> {
        vec!["bash".into()]
    }

    fn activity(&self, _cx: &Context, ctx: &ActivityContext) -> Result<ActivityReport, Error> {
        Ok(ActivityReport {
            activity: Activity::Ready,
            source: ActivitySource::SessionLog,
            last_at: modified_ms(&taken_log(&ctx.scratch_dir)),
            detail: None,
            resets_at: None,
            choices: Vec::new(),
        })
    }

    fn session_info(
        &self,
        _cx: &Context,
        ctx: &ActivityContext,
    ) -> Result<AgentSessionInfo, Error> {
        let taken = std::fs::read_to_string(taken_log(&ctx.scratch_dir)).unwrap_or_default();
        Ok(AgentSessionInfo {
            summary: taken.lines().next().map(str::to_owned),
            ..AgentSessionInfo::default()
        })
    }

    fn confirms_delivery(&self, _cx: &Context) -> bool {
        true
    }
}

export_plugin!(
    agent: LineAgent,
    name: "line-agent",
    description: "a line-reading CLI that misses Enter on request, for tests"
);
