-- The kernel: runs, their tasks, each task's attempts, and the append-only event log.
-- JSON columns hold documents of the matching schema (request_json: execution_request.v1).

CREATE TABLE runs (
    run_id             TEXT PRIMARY KEY,
    name               TEXT,
    state              TEXT NOT NULL CHECK (state IN
                           ('pending', 'running', 'paused', 'succeeded', 'failed', 'canceled')),
    state_reason       TEXT,
    bundle_path        TEXT,
    bundle_sha256      TEXT NOT NULL,
    bundle_json        TEXT NOT NULL,
    workstreams_json   TEXT NOT NULL,
    workdir            TEXT NOT NULL,
    repo               TEXT,
    base_commit        TEXT,
    integration_branch TEXT,
    parallel           INTEGER NOT NULL CHECK (parallel >= 1),
    budget_json        TEXT,
    owner_host         TEXT,
    owner_pid          INTEGER,
    heartbeat_at       TEXT,
    created_at         TEXT NOT NULL,
    started_at         TEXT,
    finished_at        TEXT,
    updated_at         TEXT NOT NULL
);

CREATE INDEX runs_by_created ON runs (created_at);

CREATE TABLE tasks (
    run_id        TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    task_id       TEXT NOT NULL,
    workstream_id TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'ready', 'running', 'retrying',
                      'succeeded', 'failed', 'skipped', 'canceled')),
    state_reason  TEXT,
    priority      INTEGER NOT NULL DEFAULT 0,
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL CHECK (max_attempts >= 1),
    request_json  TEXT NOT NULL,
    output_json   TEXT,
    not_before    TEXT,
    created_at    TEXT NOT NULL,
    started_at    TEXT,
    finished_at   TEXT,
    updated_at    TEXT NOT NULL,
    -- A rowid table on purpose: rows carry the request JSON, and WITHOUT ROWID tables rewrite
    -- the whole (large) row inside the key b-tree on every state change (2.5x slower here).
    PRIMARY KEY (run_id, task_id)
);

CREATE TABLE attempts (
    attempt_id       TEXT PRIMARY KEY,
    run_id           TEXT NOT NULL,
    task_id          TEXT NOT NULL,
    attempt_no       INTEGER NOT NULL CHECK (attempt_no >= 1),
    state            TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed',
                         'timed_out', 'interrupted', 'canceled')),
    action           TEXT NOT NULL CHECK (action IN ('command', 'call', 'tool')),
    worker_id        TEXT,
    tool             TEXT,
    argv_json        TEXT,
    call             TEXT,
    cwd              TEXT,
    worktree         TEXT,
    exit_code        INTEGER,
    error            TEXT,
    retryable        INTEGER,
    output_json      TEXT,
    stdout_path      TEXT,
    stdout_bytes     INTEGER,
    stdout_truncated INTEGER,
    stderr_path      TEXT,
    stderr_bytes     INTEGER,
    stderr_truncated INTEGER,
    started_at       TEXT NOT NULL,
    finished_at      TEXT,
    duration_seconds REAL,
    -- One attempt number per task: a replayed insert fails instead of running twice.
    UNIQUE (run_id, task_id, attempt_no),
    FOREIGN KEY (run_id, task_id) REFERENCES tasks (run_id, task_id) ON DELETE CASCADE
);

CREATE TABLE events (
    seq          INTEGER PRIMARY KEY,
    event_id     TEXT NOT NULL,  -- a ULID: unique by construction, no index to maintain
    kind         TEXT NOT NULL,
    run_id       TEXT,
    task_id      TEXT,
    attempt_id   TEXT,
    subject_id   TEXT,
    payload_json TEXT NOT NULL DEFAULT '{}',
    ts           TEXT NOT NULL
);

CREATE INDEX events_by_run ON events (run_id, seq);

CREATE TRIGGER events_are_append_only_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;

CREATE TRIGGER events_are_append_only_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;

-- Views for people (documented in docs/ledger.md).

CREATE VIEW v_run_progress AS
SELECT r.run_id,
       r.name,
       r.state,
       r.created_at,
       r.started_at,
       r.finished_at,
       COUNT(t.task_id)                                   AS total,
       COALESCE(SUM(t.state = 'pending'), 0)              AS pending,
       COALESCE(SUM(t.state = 'ready'), 0)                AS ready,
       COALESCE(SUM(t.state = 'running'), 0)              AS running,
       COALESCE(SUM(t.state = 'retrying'), 0)             AS retrying,
       COALESCE(SUM(t.state = 'succeeded'), 0)            AS succeeded,
       COALESCE(SUM(t.state = 'failed'), 0)               AS failed,
       COALESCE(SUM(t.state = 'skipped'), 0)              AS skipped,
       COALESCE(SUM(t.state = 'canceled'), 0)             AS canceled,
       ROUND(100.0 * COALESCE(SUM(t.state IN ('succeeded', 'failed', 'skipped', 'canceled')), 0)
             / MAX(COUNT(t.task_id), 1), 1)               AS percent_done
FROM runs r
LEFT JOIN tasks t ON t.run_id = r.run_id
GROUP BY r.run_id;

CREATE VIEW v_task_latest_attempt AS
SELECT t.run_id,
       t.task_id,
       t.workstream_id,
       t.state            AS task_state,
       t.attempts,
       t.max_attempts,
       a.attempt_id,
       a.state            AS attempt_state,
       a.exit_code,
       a.error,
       a.started_at,
       a.finished_at,
       a.duration_seconds
FROM tasks t
LEFT JOIN attempts a
       ON a.run_id = t.run_id AND a.task_id = t.task_id AND a.attempt_no = t.attempts;
