//! ao's dashboard, served by the host (`ao start`) from the one binary: the board of every
//! session in its attention zone, kept live from the host's stream of changes.
//!
//! - `settings.rs`: where it listens and with what token, from the config (refusing an
//!   address beyond loopback without a token).
//! - `guard.rs`: the checks every request passes (Host, Origin, login).
//! - `login.rs`: one-time login tokens from `ao dashboard`, session cookies.
//! - `board.rs`: a session's card, in its zone (`ao_core::zones`).
//! - `live.rs`: the snapshot and the server-sent events.
//! - `fleet.rs`: the fleet's other pages: issues and spawning, the event log.
//! - `session.rs`: a session's page: its facts, its live terminal, its actions.
//! - `server.rs`: the routes and the server's thread.
//! - `tls.rs`: HTTPS with `dashboard.tls`.
//! - `webhook.rs`: GitHub's webhooks, verified, turned into reads of the PRs they name.
//! - `published.rs`: where the running host says its address, for `ao dashboard` and
//!   `ao status`.

pub mod board;
mod fleet;
pub mod guard;
mod live;
pub mod login;
pub mod published;
mod server;
mod session;
mod settings;
mod tls;
pub mod webhook;

pub use published::Published;
pub use server::{Running, ServeError, start};
pub use session::Ops;
pub use settings::{Settings, SettingsError, TlsFiles};
pub use tls::TlsError;
