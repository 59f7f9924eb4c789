//! ao's end-to-end suites: the real `ao` binary, real git, a private store per test.
//! One test binary with a module per area, so the suite links once.

mod agents;
mod cli;
mod config_errors;
mod dashboard;
mod discovery;
mod doctor;
mod first_hour;
mod formats;
mod github;
mod hardening;
mod import;
mod init;
mod integrity;
mod notify;
mod orchestrator;
mod pane;
mod plugins;
mod reactions;
mod reference;
mod removal;
mod report;
mod schema;
mod sessions;
mod store;
mod stream;
mod tui;
