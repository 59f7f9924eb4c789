//! The stream's state read straight from the store, for a viewer when no host streams
//! (`ao tui` without `ao start`): the same [`State`] and [`Change`]s the host would
//! publish, found by the same watcher, each check nearly free while nothing changed.

use super::state::{Change, State};
use super::watch::Watcher;
use crate::store::{Store, StoreError};
use std::path::Path;

/// A watcher of the store of one `$AO_HOME`, without a host.
pub struct Local {
    watcher: Watcher,
    /// The state as of the last check, to diff against.
    shown: State,
}

impl Local {
    /// Opens the store of `home` and reads the state as of now.
    pub fn open(home: &Path) -> Result<(Local, State), StoreError> {
        let store = Store::open(home)?;
        let (watcher, state) = Watcher::new(store)?;
        let shown = state.clone();
        Ok((Local { watcher, shown }, state))
    }

    /// What changed since the last check (nothing, at the cost of one pragma, when no
    /// process committed).
    pub fn check(&mut self) -> Result<Vec<Change>, StoreError> {
        let changes = self.watcher.check(&self.shown)?;
        for c in &changes {
            self.shown.apply(c);
        }
        Ok(changes)
    }
}
