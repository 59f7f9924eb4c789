//! Launch files: how a runtime starts an agent whose command is too long for the
//! runtime to carry, or whose standard input is a file. The runtime writes the argv,
//! environment and stdin path to a private file and runs `ao __launch FILE`, which reads
//! it, deletes it and execs the agent in place, so the agent still ends up as the
//! terminal's own process and no shell ever parses user text.

use ao_core::plugin::RuntimeSpec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// The hidden `ao` subcommand that runs a launch file.
pub const LAUNCH_SUBCOMMAND: &str = "__launch";

#[derive(Debug, Serialize, Deserialize)]
struct LaunchFile {
    argv: Vec<String>,
    env: BTreeMap<String, String>,
    stdin: Option<PathBuf>,
}

/// Writes the launch file for `spec` into its data directory, readable by the user only.
pub fn write_launch_file(spec: &RuntimeSpec) -> io::Result<PathBuf> {
    std::fs::create_dir_all(&spec.data_dir)?;
    let path = spec.data_dir.join("launch.json");
    let body = serde_json::to_vec(&LaunchFile {
        argv: spec.argv.clone(),
        env: spec.env.clone(),
        stdin: spec.stdin.clone(),
    })
    .map_err(io::Error::other)?;
    let tmp = spec.data_dir.join(".launch.json.tmp");
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        // No fsync: the launcher reads the file moments later from the same page cache,
        // and after a crash of the machine there is no agent left to launch.
        let mut f = options.open(&tmp)?;
        f.write_all(&body)?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Reads and deletes a launch file, then replaces this process with the agent. Returns
/// only on failure, with a message for the terminal the agent would have had.
#[cfg(unix)]
pub fn exec_launch_file(path: &Path) -> String {
    use std::os::unix::process::CommandExt;
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) => return format!("ao: cannot read launch file {}: {e}", path.display()),
    };
    let _ = std::fs::remove_file(path);
    let launch: LaunchFile = match serde_json::from_slice(&text) {
        Ok(l) => l,
        Err(e) => return format!("ao: launch file {} is damaged: {e}", path.display()),
    };
    let Some((program, args)) = launch.argv.split_first() else {
        return "ao: the launch file has an empty command".into();
    };
    let mut cmd = std::process::Command::new(program);
    cmd.args(args).envs(&launch.env);
    if let Some(stdin) = &launch.stdin {
        match std::fs::File::open(stdin) {
            Ok(f) => {
                cmd.stdin(f);
            }
            Err(e) => return format!("ao: cannot open {}: {e}", stdin.display()),
        }
    }
    let err = cmd.exec();
    format!("ao: cannot run `{program}`: {err}")
}
