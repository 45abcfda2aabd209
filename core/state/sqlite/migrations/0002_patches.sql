-- Patch-first execution: patches (patch_artifact.v1 + patch_ledger_entry.v1 in one row) and
-- gate results (gate_result.v1); attempts learn which patch they produced and the feedback of
-- their failing gate.

CREATE TABLE patches (
    patch_id           TEXT PRIMARY KEY,
    run_id             TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    task_id            TEXT NOT NULL,
    attempt_id         TEXT,
    attempt_no         INTEGER,
    state              TEXT NOT NULL CHECK (state IN ('created', 'validated', 'rejected',
                           'applied', 'apply_failed', 'requeued', 'verified', 'committed',
                           'quarantined', 'rolled_back', 'dropped')),
    state_reason       TEXT,
    -- [{state, at, reason}], appended by each transition (json_insert '$[#]').
    history_json       TEXT NOT NULL,
    base_commit        TEXT NOT NULL,
    diff_path          TEXT NOT NULL,
    sha256             TEXT NOT NULL,
    size_bytes         INTEGER NOT NULL,
    files_changed      INTEGER NOT NULL,
    added              INTEGER NOT NULL,
    removed            INTEGER NOT NULL,
    hunks              INTEGER NOT NULL,
    files_json         TEXT NOT NULL,
    origin_json        TEXT,
    validation_json    TEXT,
    relations_json     TEXT,
    integration_branch TEXT,
    commit_sha         TEXT,
    revert_commit      TEXT,
    applied_at         TEXT,
    quarantine_path    TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    FOREIGN KEY (run_id, task_id) REFERENCES tasks (run_id, task_id) ON DELETE CASCADE
);

CREATE INDEX patches_by_run ON patches (run_id, task_id);
-- The oscillation check: earlier patches of a task with the same diff.
CREATE INDEX patches_by_hash ON patches (sha256);

CREATE TABLE gate_results (
    gate_result_id   TEXT PRIMARY KEY,
    gate             TEXT NOT NULL,
    type             TEXT,
    run_id           TEXT,  -- NULL for `uet gate run` outside any run
    task_id          TEXT,
    attempt_id       TEXT,
    patch_id         TEXT,
    command_json     TEXT NOT NULL,
    cwd              TEXT,
    state            TEXT NOT NULL CHECK (state IN
                         ('pending', 'running', 'passed', 'failed', 'error', 'skipped')),
    blocking         INTEGER NOT NULL,
    decision         TEXT CHECK (decision IN ('pass', 'block', 'warn')),
    exit_code        INTEGER,
    duration_seconds REAL,
    totals_json      TEXT,
    failures_json    TEXT,
    coverage_json    TEXT,
    feedback         TEXT,
    log_path         TEXT,
    junit_xml        TEXT,
    started_at       TEXT,
    finished_at      TEXT
);

CREATE INDEX gate_results_by_run ON gate_results (run_id, task_id);
CREATE INDEX gate_results_by_patch ON gate_results (patch_id) WHERE patch_id IS NOT NULL;

ALTER TABLE attempts ADD COLUMN patch_id TEXT;
ALTER TABLE attempts ADD COLUMN feedback TEXT;

CREATE VIEW v_patches AS
SELECT p.run_id,
       p.task_id,
       p.patch_id,
       p.attempt_no,
       p.state,
       p.state_reason,
       p.files_changed,
       p.added,
       p.removed,
       p.sha256,
       p.commit_sha,
       (SELECT COUNT(*) FROM gate_results g WHERE g.patch_id = p.patch_id)  AS gates,
       (SELECT COUNT(*) FROM gate_results g
         WHERE g.patch_id = p.patch_id AND g.state <> 'passed' AND g.state <> 'skipped')
                                                                            AS gates_not_passed,
       p.created_at,
       p.updated_at
FROM patches p;
