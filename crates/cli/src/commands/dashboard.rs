//! `ao dashboard`: where the host serves the dashboard, with a one-time login link as text
//! and as a QR code for a phone, opened on the desktop too (with a link of its own, so
//! the printed one still works).

use super::session::manager;
use crate::error::UserError;
use std::io::IsTerminal;
use std::process::ExitCode;

/// `ao dashboard [--no-qr] [--no-open]`.
pub fn run(no_qr: bool, no_open: bool) -> anyhow::Result<ExitCode> {
    let m = manager()?;
    let home = super::home();
    let Some(pid) = m.running_host() else {
        let port = m
            .config()
            .config
            .port
            .unwrap_or(ao_core::config::DASHBOARD_PORT);
        return Err(UserError::failed(format!(
            "no host runs for {}, so nothing serves the dashboard",
            home.display()
        ))
        .hint(format!(
            "`ao start` (or `ao start --detach`) serves it on port {port}, then run `ao dashboard` again"
        ))
        .into());
    };
    let Some(published) = ao_web::Published::read(&home, Some(pid)) else {
        return Err(UserError::failed(format!(
            "the host (pid {pid}) serves no dashboard: it was started with --no-dashboard, or could not listen"
        ))
        .hint(format!(
            "its log says why ({}); `ao stop`, then `ao start` serves it",
            super::host::log_path(&home).display()
        ))
        .into());
    };
    let login = |what: &str| {
        ao_web::login::issue_login(&home)
            .map(|t| format!("{}/login?token={t}", published.url))
            .map_err(|e| UserError::failed(format!("cannot issue a login link {what}: {e}")))
    };
    let link = login("to print")?;
    println!("dashboard: {}", published.url);
    if let Some(on) = &published.listening_on {
        println!("listening on {on}; from another machine, use this machine's address");
    }
    println!(
        "log in (this link works once, within {} minutes): {link}",
        ao_web::login::LOGIN_FOR.as_secs() / 60
    );
    if !no_qr {
        match qrcode::QrCode::new(link.as_bytes()) {
            Ok(code) => println!(
                "{}",
                code.render::<qrcode::render::unicode::Dense1x2>()
                    .quiet_zone(true)
                    .build()
            ),
            Err(e) => eprintln!("warning: no QR code for the link: {e}"),
        }
    }
    if !no_open && std::io::stdout().is_terminal() && desktop() {
        let link = login("to open")?;
        open(&link);
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether a desktop session is there to open a browser in.
fn desktop() -> bool {
    cfg!(target_os = "macos")
        || ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()))
}

/// Opens `url` in the desktop's browser, by argv (never a shell line); a failure is said.
fn open(url: &str) {
    let program = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let started = std::process::Command::new(program)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = started {
        eprintln!("note: could not open a browser ({program}: {e}); open the link above");
    }
}
