//! The one embedded store every `ao` command and the host share: SQLite in WAL mode at
//! `$AO_HOME/ao.db`. Every change is one transaction; writers wait for each other (a
//! busy timeout plus `BEGIN IMMEDIATE`) instead of failing with "database is locked".

mod agent_reports;
mod events;
mod marks;
mod migrations;
mod outbox;
mod pr_snapshots;
mod reactions;
mod reservations;
mod sessions;
#[cfg(test)]
mod tests;

pub use agent_reports::{AgentReport, SelfReport};
pub use marks::PrMark;
pub use migrations::SCHEMA_VERSION;
pub use outbox::{Claim, Intent, NewIntent, Settle, Settled};
pub use pr_snapshots::PrSnapshot;
pub use reactions::{AgentLimit, Job, ReactionState};
pub use reservations::{Reservation, Reserved};
pub use sessions::{Change, SessionFilter};

use rusqlite::{Connection, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The file name of the store inside `$AO_HOME`.
pub const DB_FILE: &str = "ao.db";

/// How long a writer waits for another before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The directory could not be created.
    #[error("cannot create ao's home directory {path}: {source}")]
    Home {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// SQLite could not open the file.
    #[error("cannot open the store {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// The store file cannot be written (its mode, or a read-only file system).
    #[error("the store {path} cannot be written: {source}")]
    ReadOnly {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not an SQLite database: damaged, or replaced by something else.
    #[error("the store {path} is not a database ao can read (damaged or replaced): {source}")]
    NotADatabase {
        /// The file.
        path: PathBuf,
        /// SQLite's words.
        source: rusqlite::Error,
    },
    /// A newer ao migrated the store past what this one understands.
    #[error(
        "the store {path} has schema version {found}, newer than this ao understands (up to {supported}): a newer ao has used it"
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest this ao knows.
        supported: i64,
    },
    /// A query failed.
    #[error("store query failed: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The session was changed by another writer since this one read it.
    #[error("{id} was changed by another ao process (version {found}, expected {expected})")]
    Stale {
        /// The session.
        id: crate::model::SessionId,
        /// The version the writer had read.
        expected: u64,
        /// The version in the store.
        found: u64,
    },
    /// The session's row is gone (its spawn was undone).
    #[error("there is no session `{0}` in the store any more")]
    NoSession(crate::model::SessionId),
    /// A row held something this ao cannot read.
    #[error("unreadable {what} in the store: {detail}")]
    Corrupt {
        /// Which kind of row.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
}

impl StoreError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            StoreError::TooNew { .. } => Some(
                "upgrade ao to the version that last used this store, or set AO_HOME to another directory",
            ),
            StoreError::Home { .. } | StoreError::Open { .. } => {
                Some("check that AO_HOME points at a writable directory")
            }
            StoreError::ReadOnly { .. } => Some(
                "make the file writable for this user (chmod u+w), or run ao as the user who owns it; nothing was changed",
            ),
            StoreError::NotADatabase { .. } => Some(
                "put back ao.db from a backup; or move the file aside, and ao starts a new store (the sessions it held are then unknown to ao)",
            ),
            _ => None,
        }
    }
}

/// An open store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// The rows this connection last turned into values, kept so a row that did not
    /// change is not parsed again (the host reads every session and every reading
    /// several times a pass).
    parsed: std::cell::RefCell<Parsed>,
    /// What this connection wrote of the tables whose reads are kept.
    written: std::sync::Arc<Written>,
}

/// Rows already parsed, each with the digest of what it was parsed from.
#[derive(Default)]
struct Parsed {
    /// Session rows by id (the digest of all their columns).
    sessions: std::collections::HashMap<String, (Digest, Arc<crate::model::Session>)>,
    /// The digest of each session's pull-request reading (its JSON) as last parsed;
    /// the parsed reading itself is kept once, in `snapshots`.
    readings: std::collections::HashMap<String, Digest>,
    /// The last read of every live session, and the moment it was read at (the
    /// sessions shared with the parses above).
    live: Option<(Moment, Arc<Vec<Arc<crate::model::Session>>>)>,
    /// The last read of every session, archived too, and its moment.
    all: Option<(Moment, Arc<Vec<Arc<crate::model::Session>>>)>,
    /// The last read of every pull-request reading, and its moment.
    snapshots: Option<(
        Moment,
        Arc<std::collections::HashMap<crate::model::SessionId, PrSnapshot>>,
    )>,
}

/// A moment of one table as one connection sees it: nothing was committed to it between
/// two equal moments, by another connection (SQLite's `data_version` moves for any
/// commit of theirs) or by this one (its rows of that table written, counted by an
/// update hook). A whole read made at a moment stands until the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Moment {
    data_version: i64,
    written: u64,
}

/// The tables whose whole reads are kept.
#[derive(Debug, Clone, Copy)]
enum Kept {
    Sessions,
    Readings,
}

/// Rows this connection wrote, by kept table (rolled back ones too: a read is then
/// made again for nothing, never kept for too long).
#[derive(Debug, Default)]
struct Written {
    sessions: std::sync::atomic::AtomicU64,
    readings: std::sync::atomic::AtomicU64,
}

/// A hash of a row's values: a changed row is told from the one parsed before without
/// keeping a copy of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Digest(u64);

impl Digest {
    fn hasher() -> std::collections::hash_map::DefaultHasher {
        std::collections::hash_map::DefaultHasher::default()
    }

    /// Of one text.
    fn of(text: &str) -> Digest {
        use std::hash::Hasher;
        let mut h = Digest::hasher();
        h.write(text.as_bytes());
        Digest(h.finish())
    }

    /// Of the first `columns` values of a row, as stored.
    fn of_row(r: &rusqlite::Row<'_>, columns: usize) -> rusqlite::Result<Digest> {
        use rusqlite::types::ValueRef;
        use std::hash::Hasher;
        let mut h = Digest::hasher();
        for i in 0..columns {
            match r.get_ref(i)? {
                ValueRef::Null => h.write_u8(0),
                ValueRef::Integer(n) => {
                    h.write_u8(1);
                    h.write_i64(n);
                }
                ValueRef::Real(x) => {
                    h.write_u8(2);
                    h.write_u64(x.to_bits());
                }
                ValueRef::Text(b) | ValueRef::Blob(b) => {
                    h.write_u8(3);
                    h.write_usize(b.len());
                    h.write(b);
                }
            }
        }
        Ok(Digest(h.finish()))
    }
}

impl Store {
    /// The moment of `table`, or None inside a transaction (what it reads may yet be
    /// rolled back, so it is not kept).
    fn moment(&self, table: Kept) -> Result<Option<Moment>, StoreError> {
        if !self.conn.is_autocommit() {
            return Ok(None);
        }
        let written = match table {
            Kept::Sessions => &self.written.sessions,
            Kept::Readings => &self.written.readings,
        };
        Ok(Some(Moment {
            data_version: self.data_version()?,
            written: written.load(std::sync::atomic::Ordering::Relaxed),
        }))
    }

    /// Opens (creating and migrating as needed) the store in `home`.
    /// `$AO_HOME`, its `sessions/` and the store are made private to the user (0700,
    /// 0600) whatever the umask: they hold every task prompt.
    pub fn open(home: &Path) -> Result<Store, StoreError> {
        let home_err = |source| StoreError::Home {
            path: home.to_owned(),
            source,
        };
        private_dir(home).map_err(home_err)?;
        private_dir(&home.join("sessions")).map_err(home_err)?;
        Store::open_file(&home.join(DB_FILE))
    }

    /// Opens the store file at `path`.
    pub fn open_file(path: &Path) -> Result<Store, StoreError> {
        // Every command writes the store, and must know it can before it ends an agent
        // or removes a worktree; SQLite would open a read-only file for reading only.
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
        {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(StoreError::ReadOnly {
                    path: path.to_owned(),
                    source: e,
                });
            }
            _ => {}
        }
        // SQLite gives its -wal and -shm files the store's own mode.
        let _ = private_file(path);
        let open_err = |source: rusqlite::Error| {
            if source.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) {
                StoreError::NotADatabase {
                    path: path.to_owned(),
                    source,
                }
            } else {
                StoreError::Open {
                    path: path.to_owned(),
                    source,
                }
            }
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // The journal mode is a property of the file; once WAL, it stays WAL. Switching a
        // new file can fail with SQLITE_BUSY without SQLite calling the busy handler,
        // while another process creates it at the same moment: retry.
        let mode: String =
            retry_busy(|| conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)))
                .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(mode, "the store could not switch to WAL mode");
        }
        // A page cache of 1 MiB (SQLite's default is 2): the rows read most are kept
        // parsed above it, and the host holds two connections for as long as it runs.
        retry_busy(|| {
            conn.execute_batch(
                "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-1024;",
            )
        })
        .map_err(open_err)?;
        let written = std::sync::Arc::new(Written::default());
        let counts = written.clone();
        conn.update_hook(Some(
            move |_: rusqlite::hooks::Action, _: &str, table: &str, _: i64| {
                let n = match table {
                    "sessions" => &counts.sessions,
                    "pr_snapshots" => &counts.readings,
                    _ => return,
                };
                n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            },
        ))
        .map_err(open_err)?;
        let mut store = Store {
            conn,
            path: path.to_owned(),
            parsed: Default::default(),
            written,
        };
        let deadline = Instant::now() + BUSY_TIMEOUT;
        loop {
            match migrations::migrate(&mut store) {
                Err(StoreError::Sql(e)) if is_busy(&e) && Instant::now() < deadline => backoff(),
                Err(StoreError::Sql(e)) => return Err(open_err(e)),
                other => return other.map(|()| store),
            }
        }
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the store has never held a session: it is new, or was emptied.
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT (SELECT count(*) FROM id_counters) + (SELECT count(*) FROM sessions)",
            [],
            |r| r.get(0),
        )?;
        Ok(n == 0)
    }

    /// The schema version of the file.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Runs one statement as its own write transaction; returns the rows changed.
    fn execute(&self, sql: &str, params: impl rusqlite::Params) -> Result<usize, StoreError> {
        self.write(|tx| Ok(tx.execute(sql, params)?))
    }

    /// Runs `f` in one immediate transaction: it holds the write lock from the start, so
    /// a read-then-write inside cannot race another process.
    fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // The guard rolls back unless committed.
        let tx = retry_busy(|| {
            rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
        })?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

/// Makes `dir` (and its missing parents) with mode 0700 where it does not exist yet.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates `path` empty with mode 0600 where it does not exist yet.
fn private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether SQLite said another connection holds the lock.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// A short, growing pause between lock attempts.
fn backoff() {
    thread_local!(static ATTEMPT: std::cell::Cell<u32> = const { std::cell::Cell::new(0) });
    let n = ATTEMPT.with(|a| {
        let n = a.get();
        a.set(n.wrapping_add(1));
        n
    });
    std::thread::sleep(Duration::from_millis(2 + u64::from(n % 16) * 3));
}

/// Runs `f` until it stops failing with a lock error, for at most [`BUSY_TIMEOUT`].
fn retry_busy<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match f() {
            Err(e) if is_busy(&e) && Instant::now() < deadline => backoff(),
            other => return other,
        }
    }
}
