-- Routing, workers, resilience and costs.

-- The router config a run routes its tool tasks with (router_config.v1), kept so resume does
-- not depend on the file, which may have changed since.
ALTER TABLE runs ADD COLUMN router_json TEXT;

-- Content hash of a task's resolved spec and base commit: `uet run --reuse-results` looks for
-- an earlier success with the same hash.
ALTER TABLE tasks ADD COLUMN spec_hash TEXT;
CREATE INDEX tasks_by_spec_hash ON tasks (spec_hash, state) WHERE spec_hash IS NOT NULL;

-- kind: the task kind (routing statistics per tool and kind); role: primary, or a best_of_n /
-- shadow branch; usage: tokens and model the tool reported (cost_record.v1 usage); result: the
-- outcome a process worker reported, applied by the run's orchestrator.
ALTER TABLE attempts ADD COLUMN kind TEXT;
ALTER TABLE attempts ADD COLUMN role TEXT;
ALTER TABLE attempts ADD COLUMN usage_json TEXT;
ALTER TABLE attempts ADD COLUMN result_json TEXT;
CREATE INDEX attempts_by_tool ON attempts (tool, kind) WHERE tool IS NOT NULL;
CREATE INDEX attempts_unclaimed ON attempts (started_at)
    WHERE state = 'running' AND worker_id IS NULL;
CREATE INDEX attempts_reported ON attempts (run_id)
    WHERE state = 'running' AND result_json IS NOT NULL;
CREATE INDEX attempts_by_worker ON attempts (worker_id, state);

-- Workers (worker_record.v1): the threads of a `uet run` (one row per run process) and
-- standalone `uet worker` processes. Current attempt and statistics come from attempts.
CREATE TABLE workers (
    worker_id                  TEXT PRIMARY KEY,
    kind                       TEXT NOT NULL CHECK (kind IN ('thread', 'process')),
    host                       TEXT NOT NULL,
    pid                        INTEGER NOT NULL,
    state                      TEXT NOT NULL CHECK (state IN
                                   ('starting', 'idle', 'busy', 'draining', 'stopped', 'lost')),
    state_reason               TEXT,
    run_id                     TEXT,
    slots                      INTEGER NOT NULL DEFAULT 1 CHECK (slots >= 1),
    heartbeat_at               TEXT,
    heartbeat_interval_seconds REAL NOT NULL,
    started_at                 TEXT NOT NULL,
    stopped_at                 TEXT,
    updated_at                 TEXT NOT NULL
);

CREATE INDEX workers_by_state ON workers (state);

-- Costs (cost_record.v1): one row per attempt and per gate run.
CREATE TABLE costs (
    cost_id        TEXT PRIMARY KEY,
    subject_kind   TEXT NOT NULL CHECK (subject_kind IN ('attempt', 'gate', 'run')),
    subject_id     TEXT NOT NULL,
    run_id         TEXT,
    task_id        TEXT,
    workstream_id  TEXT,
    resource_type  TEXT NOT NULL CHECK (resource_type IN
                       ('llm_tokens', 'compute', 'api_call', 'other')),
    tool           TEXT,
    model          TEXT,
    tokens_in      INTEGER NOT NULL DEFAULT 0,
    tokens_out     INTEGER NOT NULL DEFAULT 0,
    usage_json     TEXT,
    amount         REAL NOT NULL DEFAULT 0 CHECK (amount >= 0),
    currency       TEXT NOT NULL DEFAULT 'USD',
    estimated      INTEGER NOT NULL DEFAULT 0,
    wall_seconds   REAL,
    cpu_seconds    REAL,
    recorded_at    TEXT NOT NULL
);

CREATE INDEX costs_by_run ON costs (run_id, task_id);
CREATE INDEX costs_by_tool ON costs (tool);

-- Circuit breakers, one per tool, shared by every run on the ledger.
CREATE TABLE circuits (
    tool       TEXT PRIMARY KEY,
    state      TEXT NOT NULL CHECK (state IN ('closed', 'open', 'half_open')),
    failures   INTEGER NOT NULL DEFAULT 0,  -- consecutive failures while closed
    successes  INTEGER NOT NULL DEFAULT 0,  -- successful probes while half open
    probes     INTEGER NOT NULL DEFAULT 0,  -- probes started while half open
    opened_at  TEXT,
    updated_at TEXT NOT NULL
);

CREATE VIEW v_costs_by_run AS
SELECT run_id,
       COUNT(*)                                        AS records,
       ROUND(SUM(amount), 6)                           AS amount,
       MIN(currency)                                   AS currency,
       SUM(tokens_in)                                  AS tokens_in,
       SUM(tokens_out)                                 AS tokens_out,
       ROUND(SUM(COALESCE(wall_seconds, 0)), 3)        AS wall_seconds,
       ROUND(SUM(COALESCE(cpu_seconds, 0)), 3)         AS cpu_seconds,
       SUM(estimated)                                  AS estimated_records
FROM costs
GROUP BY run_id;
