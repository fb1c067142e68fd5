-- Reports of Agent 3 (one session) and Agent 4 (a study).
CREATE TABLE reports (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('session', 'study')),
    subject_id       TEXT NOT NULL,              -- session or study id
    study_id         TEXT NOT NULL REFERENCES studies(id),
    organization_id  TEXT NOT NULL,
    data             TEXT NOT NULL,              -- JSON of the report
    created_at       BIGINT NOT NULL
);
CREATE INDEX reports_subject ON reports(subject_id, created_at);
