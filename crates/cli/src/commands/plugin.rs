//! `ao plugin ls`: built-in and external plugins, with slot, version, origin and status.

use crate::cli::PluginCommand;
use ao_core::config::{find_config, load_file, process_env};
use ao_core::plugin::external::ExternalState;
use serde::Serialize;
use std::process::ExitCode;

#[derive(Serialize)]
struct Row {
    slot: String,
    name: String,
    version: String,
    origin: String,
    status: String,
    description: String,
}

pub fn run(cmd: PluginCommand) -> anyhow::Result<ExitCode> {
    let PluginCommand::Ls { json } = cmd;
    let mut registry = ao_plugins::builtin_registry();
    let mut rows: Vec<Row> = registry
        .entries()
        .into_iter()
        .map(|e| Row {
            slot: e.manifest.slot.to_string(),
            name: e.manifest.name.clone(),
            version: e.manifest.version.clone(),
            origin: "built-in".to_owned(),
            status: match (&e.untested, e.is_available()) {
                (_, false) => "not in this build yet",
                (Some(_), true) => "available, untested",
                (None, true) => "available",
            }
            .to_owned(),
            description: match &e.untested {
                Some(why) => format!("{}; untested: {why}", e.manifest.description),
                None => e.manifest.description.clone(),
            },
        })
        .collect();
    // External plugins of the config in reach: each one loaded and checked, or refused
    // with the reason. A config that does not load lists the built-ins only.
    let config = super::cwd()
        .ok()
        .and_then(|cwd| find_config(&cwd, &process_env).ok())
        .and_then(|path| load_file(&path, &registry, &process_env).ok());
    if let Some(loaded) = config {
        let statuses = super::load_externals(&loaded, &mut registry);
        for s in statuses {
            let origin = s
                .path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let row = |slot: String, version: String, status: String, description: String| Row {
                slot,
                name: s.name.clone(),
                version,
                origin: origin.clone(),
                status,
                description,
            };
            rows.push(match s.state {
                ExternalState::Loaded {
                    slot,
                    plugin,
                    version,
                    description,
                    sdk_version,
                } => row(
                    slot.to_string(),
                    version,
                    "loaded".to_owned(),
                    format!("{description} ({plugin}, ao-plugin-sdk {sdk_version})"),
                ),
                ExternalState::Refused { why } => row(
                    "?".into(),
                    "?".into(),
                    format!("refused: {why}"),
                    String::new(),
                ),
                ExternalState::Disabled => row(
                    "?".into(),
                    "?".into(),
                    "disabled (enabled: false)".into(),
                    String::new(),
                ),
                ExternalState::Ignored => row(
                    "?".into(),
                    "?".into(),
                    "ignored: ao loads shared libraries, not packages".into(),
                    String::new(),
                ),
            });
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    let w = |f: fn(&Row) -> &str, title: &str| {
        rows.iter()
            .map(|r| f(r).chars().count())
            .chain([title.len()])
            .max()
            .unwrap_or(0)
    };
    // A long status (a refusal's reason) runs over rather than widening every row.
    let (ws, wn, wv, wo, wst) = (
        w(|r| &r.slot, "SLOT"),
        w(|r| &r.name, "NAME"),
        w(|r| &r.version, "VERSION"),
        w(|r| &r.origin, "ORIGIN"),
        w(|r| &r.status, "STATUS").min(21),
    );
    println!(
        "{:ws$}  {:wn$}  {:wv$}  {:wo$}  {:wst$}  DESCRIPTION",
        "SLOT", "NAME", "VERSION", "ORIGIN", "STATUS"
    );
    for r in &rows {
        let line = format!(
            "{:ws$}  {:wn$}  {:wv$}  {:wo$}  {:wst$}  {}",
            r.slot, r.name, r.version, r.origin, r.status, r.description
        );
        println!("{}", line.trim_end());
    }
    Ok(ExitCode::SUCCESS)
}
