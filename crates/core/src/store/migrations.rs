//! Versioned schema migrations. Version N is reached by applying `MIGRATIONS[..N]`; the
//! version lives in SQLite's `user_version`. Migrations only ever get appended.

use super::{Store, StoreError};
use rusqlite::TransactionBehavior;

const MIGRATIONS: &[&str] = &[
    // 1: sessions, id reservations, the event log, reaction state.
    r#"
    CREATE TABLE sessions (
        id               TEXT PRIMARY KEY,
        prefix           TEXT NOT NULL,
        n                INTEGER NOT NULL,
        project          TEXT NOT NULL,
        issue            TEXT,
        branch           TEXT NOT NULL,
        workspace_path   TEXT,
        runtime          TEXT,
        agent            TEXT NOT NULL,
        agent_session_id TEXT,
        pr               TEXT,
        status           TEXT NOT NULL,
        status_reason    TEXT,
        activity         TEXT,
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL,
        archived_at      INTEGER,
        UNIQUE (prefix, n)
    );
    CREATE INDEX sessions_by_project ON sessions (project, archived_at);

    CREATE TABLE id_counters (
        prefix TEXT PRIMARY KEY,
        next   INTEGER NOT NULL
    );

    CREATE TABLE reservations (
        id          TEXT PRIMARY KEY,
        prefix      TEXT NOT NULL,
        n           INTEGER NOT NULL,
        project     TEXT NOT NULL,
        pid         INTEGER NOT NULL,
        reserved_at INTEGER NOT NULL
    );

    CREATE TABLE events (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        at       INTEGER NOT NULL,
        project  TEXT NOT NULL,
        session  TEXT,
        priority TEXT NOT NULL,
        kind     TEXT NOT NULL,
        payload  TEXT NOT NULL,
        message  TEXT NOT NULL
    );
    CREATE INDEX events_by_session ON events (session, id);

    CREATE TABLE reaction_state (
        session   TEXT NOT NULL,
        reaction  TEXT NOT NULL,
        attempts  INTEGER NOT NULL,
        first_at  INTEGER NOT NULL,
        last_at   INTEGER NOT NULL,
        escalated INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (session, reaction)
    );
    "#,
    // 2: what a spawn in progress has made, so a crashed one can be undone; what a
    // restore needs.
    r#"
    ALTER TABLE sessions ADD COLUMN workspace TEXT NOT NULL DEFAULT 'worktree';
    ALTER TABLE sessions ADD COLUMN runtime_plugin TEXT NOT NULL DEFAULT 'tmux';
    ALTER TABLE sessions ADD COLUMN created_branch INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sessions ADD COLUMN spawn_pid INTEGER;
    ALTER TABLE sessions ADD COLUMN prompt TEXT;
    "#,
    // 3: what an agent's own hooks last reported, written by `ao hook`.
    r#"
    CREATE TABLE agent_reports (
        session          TEXT PRIMARY KEY,
        activity         TEXT NOT NULL,
        detail           TEXT,
        at               INTEGER NOT NULL,
        agent_session_id TEXT,
        log_path         TEXT
    );
    "#,
    // 4: when the agent last started (spawn or restore), so a log older than that does
    // not make a freshly resumed agent look idle.
    r#"
    ALTER TABLE sessions ADD COLUMN agent_started_at INTEGER;
    "#,
    // 5: the single write path: a version per row, checked by every writer; what a spawn
    // has claimed of its workspace path; the restore in progress; a kill's request that a
    // spawn in progress stop.
    r#"
    ALTER TABLE sessions ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sessions ADD COLUMN workspace_claim INTEGER NOT NULL DEFAULT 2;
    ALTER TABLE sessions ADD COLUMN restore_pid INTEGER;
    ALTER TABLE sessions ADD COLUMN cancel_requested_at INTEGER;
    "#,
    // 6: the last reading of each session's pull request, and what an scm keeps between
    // processes (its rate-limit reading), so every process starts warm and shares one
    // budget.
    r#"
    CREATE TABLE pr_snapshots (
        session    TEXT PRIMARY KEY,
        status     TEXT NOT NULL,
        fetched_at INTEGER NOT NULL,
        stale      INTEGER NOT NULL DEFAULT 0,
        error      TEXT
    );
    CREATE TABLE scm_state (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        at    INTEGER NOT NULL
    );
    "#,
    // 7: the host's reactions: what each has handed over (a review thread, a failing
    // check at a head), so nothing goes to an agent twice, and the jobs due later.
    r#"
    CREATE TABLE reaction_sent (
        session  TEXT NOT NULL,
        item     TEXT NOT NULL,
        reaction TEXT NOT NULL,
        at       INTEGER NOT NULL,
        PRIMARY KEY (session, item)
    );
    CREATE TABLE jobs (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        kind       TEXT NOT NULL,
        payload    TEXT NOT NULL,
        attempts   INTEGER NOT NULL DEFAULT 0,
        due_at     INTEGER NOT NULL,
        last_error TEXT
    );
    "#,
    // 8: agents held by their provider's usage limit: what the CLI said, when the limit
    // lifts, whether the human was told and the agent told to continue.
    r#"
    CREATE TABLE agent_limits (
        session   TEXT PRIMARY KEY,
        agent     TEXT NOT NULL,
        detail    TEXT NOT NULL,
        resets_at INTEGER,
        since     INTEGER NOT NULL,
        notified  INTEGER NOT NULL DEFAULT 0,
        continued INTEGER NOT NULL DEFAULT 0
    );
    "#,
    // 9: what an agent said of itself (`ao acknowledge`, `ao report`).
    r#"
    CREATE TABLE self_reports (
        session TEXT PRIMARY KEY,
        state   TEXT NOT NULL,
        note    TEXT,
        at      INTEGER NOT NULL
    );
    "#,
    // 10: the outbox: every effect of the host's (a message to an agent, a notification,
    // a merge) is recorded as due before it is done and settled after, so a host killed
    // in between does it after its restart instead of never. Notifications waiting for a
    // retry move over from `jobs`, their deliveries so far kept.
    r#"
    CREATE TABLE outbox (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        owner       TEXT NOT NULL,
        reaction    TEXT NOT NULL,
        kind        TEXT NOT NULL,
        payload     TEXT NOT NULL,
        state       TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        due_at      INTEGER NOT NULL,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        pid         INTEGER,
        lease_until INTEGER,
        outcome     TEXT
    );
    CREATE INDEX outbox_by_state ON outbox (state, due_at);
    INSERT INTO outbox (owner, reaction, kind, payload, state, attempts, due_at, created_at, updated_at, outcome)
        SELECT COALESCE(json_extract(payload, '$.event.session'), '@' || json_extract(payload, '$.event.project')),
               json_extract(payload, '$.key'), 'notify', payload, 'due', attempts + 1, due_at, due_at, due_at, last_error
        FROM jobs WHERE kind = 'notify';
    DELETE FROM jobs WHERE kind = 'notify';
    "#,
];

/// The schema version this ao writes and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the store up to [`SCHEMA_VERSION`], or refuses a store from a newer ao.
pub(super) fn migrate(store: &mut Store) -> Result<(), StoreError> {
    let too_new = |found| StoreError::TooNew {
        path: store.path.clone(),
        found,
        supported: SCHEMA_VERSION,
    };
    let version = store.schema_version()?;
    if version > SCHEMA_VERSION {
        return Err(too_new(version));
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = store
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Another process may have migrated while this one waited for the lock.
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: store.path.clone(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    for sql in &MIGRATIONS[version as usize..] {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}
