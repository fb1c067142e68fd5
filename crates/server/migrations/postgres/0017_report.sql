-- Issue #26: a session left out of the study's synthesis with the business's reason, and
-- read-only links to a study report (the token is stored as its SHA-256 only).
ALTER TABLE sessions ADD COLUMN excluded_reason TEXT;
ALTER TABLE sessions ADD COLUMN excluded_at BIGINT;
CREATE TABLE report_shares (
    id TEXT PRIMARY KEY,
    study_id TEXT NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX report_shares_study ON report_shares (study_id, created_at);
