//! `ao config validate|schema`.

use crate::cli::ConfigCommand;
use crate::ui::Paint;
use ao_core::config::{ConfigError, json_schema_text, load_file, process_env};
use std::process::ExitCode;

pub fn run(cmd: ConfigCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ConfigCommand::Schema => {
            print!("{}", json_schema_text());
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::Validate { file, json, strict } => validate(file, json, strict),
        ConfigCommand::Show { json } => show(json),
    }
}

fn show(json: bool) -> anyhow::Result<ExitCode> {
    let path = super::locate_config()?;
    let registry = ao_plugins::builtin_registry();
    let loaded = load_file(&path, &registry, &process_env)?;
    let shown = loaded.effective(&process_env);
    if json {
        let out = serde_json::json!({
            "files": loaded.files,
            "settings": shown,
            "notes": loaded.notes,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    let paint = crate::ui::Paint::stderr();
    for note in loaded.warnings.iter().chain(&loaded.notes) {
        eprintln!("{}", crate::ui::render_diagnostic(note, &paint));
    }
    let origins: Vec<String> = shown
        .iter()
        .map(|s| match &s.origin {
            ao_core::config::Origin::File { file, line } => format!("{}:{line}", file.display()),
            ao_core::config::Origin::Default => "(default)".to_owned(),
        })
        .collect();
    let width = origins.iter().map(|o| o.chars().count()).max().unwrap_or(0);
    for (s, origin) in shown.iter().zip(&origins) {
        println!("{origin:<width$}  {} = {}", s.key, s.value);
    }
    Ok(ExitCode::SUCCESS)
}

fn validate(
    file: Option<std::path::PathBuf>,
    json: bool,
    strict: bool,
) -> anyhow::Result<ExitCode> {
    let path = match file {
        Some(f) => f,
        None => super::locate_config()?,
    };
    let registry = ao_plugins::builtin_registry();
    let mut result = load_file(&path, &registry, &process_env);
    // --strict: a file that loads with warnings fails, each warning reported as an error.
    if strict
        && let Ok(loaded) = &result
        && !loaded.warnings.is_empty()
    {
        result = Err(ConfigError {
            diagnostics: loaded
                .warnings
                .iter()
                .map(|w| {
                    let mut e = w.clone().as_error();
                    e.message = format!("{} (an error under --strict)", e.message);
                    e
                })
                .collect(),
        });
    }
    if json {
        let (ok, diagnostics, projects) = match &result {
            Ok(loaded) => (
                true,
                loaded
                    .warnings
                    .iter()
                    .chain(&loaded.notes)
                    .cloned()
                    .collect(),
                loaded.config.projects.keys().cloned().collect(),
            ),
            Err(ConfigError { diagnostics }) => (false, diagnostics.clone(), Vec::new()),
        };
        let out = serde_json::json!({
            "file": path,
            "valid": ok,
            "projects": projects,
            "diagnostics": diagnostics,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        });
    }
    let loaded = result?;
    super::print_warnings(&loaded);
    let paint = crate::ui::Paint::stderr();
    for note in &loaded.notes {
        eprintln!("{}", crate::ui::render_diagnostic(note, &paint));
    }
    let n = loaded.config.projects.len();
    println!(
        "{} {} is valid: {n} project{}{}",
        Paint::stdout().green("ok"),
        path.display(),
        if n == 1 { "" } else { "s" },
        match loaded.warnings.len() {
            0 => String::new(),
            w => format!(", {w} warning{}", if w == 1 { "" } else { "s" }),
        }
    );
    Ok(ExitCode::SUCCESS)
}
