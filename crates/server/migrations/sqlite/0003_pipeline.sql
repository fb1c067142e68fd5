-- The agent pipeline: a durable job queue, session findings awaiting confirmation, analytics.
CREATE TABLE analysis_jobs (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    subject_id       TEXT NOT NULL,              -- session or study id
    organization_id  TEXT NOT NULL,              -- tenancy of reads
    tester_id        TEXT,                       -- the session's tester, for their reads
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'complete', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    run_at           INTEGER NOT NULL,
    lease_until      INTEGER,
    worker           TEXT,
    error            TEXT,
    result_ref       TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX analysis_jobs_ready ON analysis_jobs(status, run_at);
CREATE INDEX analysis_jobs_subject ON analysis_jobs(subject_id, status);

CREATE TABLE findings (
    id          TEXT PRIMARY KEY,                -- the engine's stable id (fnd_…)
    session_id  TEXT NOT NULL REFERENCES sessions(id),
    study_id    TEXT NOT NULL REFERENCES studies(id),
    data        TEXT NOT NULL,                   -- JSON of the finding
    decision    TEXT CHECK (decision IN ('confirm', 'reject')),
    comment     TEXT,
    decided_at  INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX findings_session ON findings(session_id);
CREATE INDEX findings_study ON findings(study_id);

ALTER TABLE sessions ADD COLUMN analysis TEXT;     -- JSON {insights, analytics, toneProfile}
ALTER TABLE sessions ADD COLUMN added_notes TEXT;
