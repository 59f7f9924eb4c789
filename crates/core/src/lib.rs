//! ao-core: the model, plugin traits, config, store and plugin registry of ao.
//!
//! This crate knows no concrete plugin and no network client; `ao-plugins` provides the
//! built-ins and the `ao` binary wires them together.

pub mod ci;
pub mod config;
pub mod exec;
#[cfg(any(test, feature = "fakes"))]
pub mod fakes;
pub mod git;
pub mod lifecycle;
pub mod mem;
pub mod model;
pub mod notify;
pub mod pane;
pub mod plugin;
pub mod power;
pub mod reactions;
pub mod registry;
pub mod repo;
pub mod session;
pub mod store;
pub mod stream;
pub mod text;
pub mod tty;
pub mod until;
pub mod zones;
