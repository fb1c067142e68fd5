-- Issue #24 (api.md §11): an abandoned session frees its seat and its tester may try again.
-- One session per (study, tester) becomes one *non-abandoned* session per (study, tester).
--
-- The inline UNIQUE (study_id, tester_id) can only go with a table rebuild. The migrator runs
-- each migration in one transaction with foreign keys on, and `PRAGMA foreign_keys` cannot
-- change inside a transaction (decision 206), so the rows referencing `sessions` are kept
-- valid by deferring the check to the commit: the old table is copied aside, dropped (its
-- implicit DELETE counts a deferred violation per referencing row), re-created under the same
-- name (the referencing tables' `REFERENCES sessions(id)` now point at it) and refilled (each
-- inserted parent row resolves its violations). The commit fails, and nothing changes, unless
-- every reference is satisfied again. No table references `sessions` with ON DELETE actions,
-- and no trigger or view reads it.
PRAGMA defer_foreign_keys = ON;

CREATE TEMP TABLE sessions_0015 AS SELECT * FROM sessions;

DROP TABLE sessions;

CREATE TABLE sessions (
    id                     TEXT PRIMARY KEY,
    study_id               TEXT NOT NULL REFERENCES studies(id),
    tester_id              TEXT NOT NULL REFERENCES users(id),
    variant                TEXT,
    status                 TEXT NOT NULL CHECK (status IN ('active', 'paused', 'completed', 'analyzed', 'confirmed', 'abandoned')),
    pipeline_status        TEXT NOT NULL,
    test_token_hash        TEXT NOT NULL UNIQUE,
    test_token_expires_at  INTEGER NOT NULL,
    started_at             INTEGER NOT NULL,
    paused_at              INTEGER,
    paused_ms              INTEGER NOT NULL DEFAULT 0,
    completed_at           INTEGER,
    consent                TEXT,                    -- JSON {version, streams{…}, givenAt}
    consent_events         BOOLEAN NOT NULL DEFAULT FALSE,
    consent_facial         BOOLEAN NOT NULL DEFAULT FALSE,
    consent_voice          BOOLEAN NOT NULL DEFAULT FALSE,
    sus                    TEXT,                    -- JSON array of 10 answers
    nps                    INTEGER,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    analysis               TEXT,                    -- JSON {insights, analytics, toneProfile}
    added_notes            TEXT,
    realtime               TEXT,
    streams_purged_at      INTEGER
);

INSERT INTO sessions (id, study_id, tester_id, variant, status, pipeline_status, test_token_hash,
    test_token_expires_at, started_at, paused_at, paused_ms, completed_at, consent, consent_events,
    consent_facial, consent_voice, sus, nps, created_at, updated_at, analysis, added_notes, realtime,
    streams_purged_at)
SELECT id, study_id, tester_id, variant, status, pipeline_status, test_token_hash,
    test_token_expires_at, started_at, paused_at, paused_ms, completed_at, consent, consent_events,
    consent_facial, consent_voice, sus, nps, created_at, updated_at, analysis, added_notes, realtime,
    streams_purged_at
FROM sessions_0015;

DROP TABLE sessions_0015;

CREATE INDEX sessions_study ON sessions(study_id, created_at);
CREATE INDEX sessions_tester ON sessions(tester_id, created_at);
CREATE UNIQUE INDEX sessions_one_open_per_tester ON sessions(study_id, tester_id) WHERE status <> 'abandoned';
