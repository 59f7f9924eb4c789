//! One stream of every change ao makes: session rows, activity, pull-request readings,
//! events (notifications among them), the host's record of itself and the scm budgets.
//!
//! The host runs a [`Service`]: a watcher notices every commit to the store, whoever
//! made it (`watch.rs`), and publishes typed [`Change`]s into a [`Hub`] (`hub.rs`), which
//! numbers them, keeps the newest in a ring (`ring.rs`) and hands them to every
//! subscriber. In-process subscribers (the dashboard) call [`Hub::subscribe`]; others
//! connect to the host's socket (`socket.rs`, `client.rs`) and read JSON lines
//! (`wire.rs`). A subscriber starts from a snapshot ([`State`]) or, given where it left
//! off ([`Resume`]: the stream's epoch and the last sequence number it applied), from
//! the changes after that; one whose point is from another epoch (a restarted host) or
//! older than the ring gets a fresh snapshot instead. Every subscriber keeps its copy
//! with [`State::apply`].

mod hub;
mod local;
mod ring;
mod service;
mod socket;
mod state;
mod wake;
mod watch;
mod wire;

#[cfg(unix)]
mod client;

pub use hub::{Hub, Message, Resume, Subscription};
pub use local::Local;
pub use ring::{Frame, KEEP_BYTES, KEEP_CHANGES};
pub use service::{KEEP_ENV, Service, StartError};
pub use socket::{SOCKET_FILE, ServeError, socket_path};
pub use state::{Change, Exit, Host, Limit, RECENT_EVENTS, Report, SessionState, State};
pub use wake::{LOOK_EVERY, NOTIFIED_LOOK_EVERY, Waker};
pub use wire::{Hello, Line, VERSION, error_line, read_hello};

#[cfg(unix)]
pub use client::{Client, ClientError, Received};
