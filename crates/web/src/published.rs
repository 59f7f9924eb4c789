//! Where a running host's dashboard says its address: `$AO_HOME/dashboard/url.json`,
//! written once it listens and removed when it stops. `ao dashboard` and `ao status` read
//! it, and trust it only while the host it names still runs.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What the host publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// The address to open, without any token: `http://127.0.0.1:3000`.
    pub url: String,
    /// The host's process.
    pub pid: u32,
    /// Where it listens, when that is not the URL's address (every address: `0.0.0.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listening_on: Option<String>,
}

impl Published {
    /// The file.
    pub fn path(home: &Path) -> PathBuf {
        home.join("dashboard").join("url.json")
    }

    /// What the host of `home` published, if it is `host_pid`'s (the host that runs).
    pub fn read(home: &Path, host_pid: Option<u32>) -> Option<Published> {
        let text = std::fs::read_to_string(Published::path(home)).ok()?;
        let p: Published = serde_json::from_str(&text).ok()?;
        (Some(p.pid) == host_pid).then_some(p)
    }

    /// Writes it (replacing the file whole, so a reader never sees half of it).
    pub fn write(&self, home: &Path) -> std::io::Result<()> {
        let path = Published::path(home);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension(format!("json.{}", std::process::id()));
        std::fs::write(&tmp, serde_json::to_vec(self).unwrap_or_default())?;
        std::fs::rename(tmp, path)
    }

    /// Removes it, if it is still this one's.
    pub fn remove(&self, home: &Path) {
        if Published::read(home, Some(self.pid)).is_some() {
            let _ = std::fs::remove_file(Published::path(home));
        }
    }
}
