//! `ao plugin ls`.

use crate::cli::PluginCommand;
use ao_core::config::{find_config, load_file, process_env};
use ao_core::registry::Origin;
use std::process::ExitCode;

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
    let registry = ao_plugins::builtin_registry();
    let mut rows: Vec<Row> = registry
        .entries()
        .into_iter()
        .map(|e| Row {
            slot: e.manifest.slot.to_string(),
            name: e.manifest.name.clone(),
            version: e.manifest.version.clone(),
            origin: match &e.origin {
                Origin::BuiltIn => "built-in".to_owned(),
                Origin::External(p) => p.display().to_string(),
            },
            status: if e.is_available() {
                "available"
            } else {
                "not in this build yet"
            }
            .to_owned(),
            description: e.manifest.description.clone(),
        })
        .collect();
    // External plugins declared in the config are listed even before they can load.
    if let Ok(path) = super::cwd().and_then(|cwd| Ok(find_config(&cwd, &process_env)?))
        && let Ok(loaded) = load_file(&path, &registry, &process_env)
    {
        for p in &loaded.config.plugins {
            rows.push(Row {
                slot: "?".to_owned(),
                name: p.name.clone(),
                version: "?".to_owned(),
                origin: p.path.clone().unwrap_or_default(),
                status: if p.enabled {
                    "declared; not loaded: this build has no plugin loader yet".to_owned()
                } else {
                    "disabled".to_owned()
                },
                description: String::new(),
            });
        }
    }
    if json {
        let list: Vec<_> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "slot": r.slot, "name": r.name, "version": r.version,
                    "origin": r.origin, "status": r.status, "description": r.description,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    let w = |f: fn(&Row) -> &str, title: &str| {
        rows.iter()
            .map(|r| f(r).len())
            .chain([title.len()])
            .max()
            .unwrap_or(0)
    };
    let (ws, wn, wv, wo, wst) = (
        w(|r| &r.slot, "SLOT"),
        w(|r| &r.name, "NAME"),
        w(|r| &r.version, "VERSION"),
        w(|r| &r.origin, "ORIGIN"),
        w(|r| &r.status, "STATUS"),
    );
    println!(
        "{:ws$}  {:wn$}  {:wv$}  {:wo$}  {:wst$}  DESCRIPTION",
        "SLOT", "NAME", "VERSION", "ORIGIN", "STATUS"
    );
    for r in &rows {
        println!(
            "{:ws$}  {:wn$}  {:wv$}  {:wo$}  {:wst$}  {}",
            r.slot, r.name, r.version, r.origin, r.status, r.description
        );
    }
    Ok(ExitCode::SUCCESS)
}
