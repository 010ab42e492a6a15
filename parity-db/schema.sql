-- Schema of the parity database (parity-db/parity.sqlite, not committed).
-- The database is rebuilt from the committed text sources (go-tests.csv,
-- classifications.csv), the scenario registry in conformance/, and run results.

-- Bumped with every change below; an older database is rebuilt.
PRAGMA user_version = 3;

-- One Go test function of nats-server 2.9.10.
CREATE TABLE IF NOT EXISTS go_tests (
    file     TEXT NOT NULL,            -- path relative to the Go source root, e.g. test/proto_test.go
    name     TEXT NOT NULL,            -- TestXxx
    line     INTEGER NOT NULL,
    category TEXT NOT NULL,
    PRIMARY KEY (file, name)
);

-- Hand-kept NOT_APPLICABLE / DEFERRED decisions, one reason each.
CREATE TABLE IF NOT EXISTS classifications (
    file   TEXT NOT NULL,
    name   TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('NOT_APPLICABLE', 'DEFERRED')),
    kind   TEXT NOT NULL,              -- NOT_APPLICABLE: a kind of reason; DEFERRED: the capability awaited
    reason TEXT NOT NULL CHECK (length(reason) > 0),
    PRIMARY KEY (file, name),
    FOREIGN KEY (file, name) REFERENCES go_tests (file, name)
);

-- One black-box scenario, synced from the registry in conformance/ on every run.
CREATE TABLE IF NOT EXISTS scenarios (
    id       TEXT PRIMARY KEY,
    category TEXT NOT NULL,
    needs    TEXT NOT NULL             -- comma-separated capabilities, e.g. "jetstream,cluster:3"
);

-- Scenario <-> Go test, with how much of the Go test the scenario covers.
CREATE TABLE IF NOT EXISTS mappings (
    scenario_id TEXT NOT NULL REFERENCES scenarios (id) ON DELETE CASCADE,
    file        TEXT NOT NULL,
    name        TEXT NOT NULL,
    coverage    TEXT NOT NULL CHECK (coverage IN ('full', 'partial')),
    refusal     TEXT NOT NULL DEFAULT '', -- why a full claim counts as partial (its evidence)
    partial_why TEXT NOT NULL DEFAULT '', -- for a partial mapping: what it leaves out, and why
    PRIMARY KEY (scenario_id, file, name),
    FOREIGN KEY (file, name) REFERENCES go_tests (file, name)
);

-- One run of a set of scenarios against one target.
CREATE TABLE IF NOT EXISTS runs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    target         TEXT NOT NULL CHECK (target IN ('rust', 'go')),
    server_version TEXT NOT NULL,      -- what the server binary printed for --version
    git_revision   TEXT NOT NULL,      -- of this workspace
    harness        TEXT NOT NULL,      -- fingerprint of the scenario sources the run used
    started_at     TEXT NOT NULL       -- RFC 3339, UTC
);

-- What one scenario did in one run.
CREATE TABLE IF NOT EXISTS results (
    run_id       INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    scenario_id  TEXT NOT NULL,
    outcome      TEXT NOT NULL CHECK (outcome IN ('pass', 'fail', 'timeout')),
    duration_ms  INTEGER NOT NULL,
    message      TEXT NOT NULL,        -- failure message, empty on pass
    observations TEXT NOT NULL,        -- normalized observations, JSON array of [key, value]
    flaky        INTEGER NOT NULL DEFAULT 0, -- 1: a re-run's pass after this check failed once
    PRIMARY KEY (run_id, scenario_id)
);

-- Lines of source per subsystem, Go (non-test files) and natsd, counted at run time.
CREATE TABLE IF NOT EXISTS source_lines (
    subsystem TEXT NOT NULL,
    side      TEXT NOT NULL CHECK (side IN ('go', 'natsd')),
    lines     INTEGER NOT NULL,
    PRIMARY KEY (subsystem, side)
);
