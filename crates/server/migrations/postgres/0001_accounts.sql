-- Accounts: organizations, users, sign-in sessions with rotating refresh tokens, API tokens, audit log.
-- Times are epoch milliseconds (BIGINT) so both dialects share one set of queries.
CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    plan        TEXT NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'pro')),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id               TEXT PRIMARY KEY,
    email            TEXT NOT NULL UNIQUE,           -- stored lower-cased
    full_name        TEXT NOT NULL,
    role             TEXT NOT NULL CHECK (role IN ('business', 'tester', 'admin')),
    organization_id  TEXT REFERENCES organizations(id),
    password_hash    TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'pending')),
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX users_org ON users(organization_id);

-- One row per sign-in: the refresh-token family. Revoking it ends its refresh and access tokens.
CREATE TABLE auth_sessions (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users(id),
    created_at      BIGINT NOT NULL,
    revoked_at      BIGINT,
    revoked_reason  TEXT
);
CREATE INDEX auth_sessions_user ON auth_sessions(user_id);

CREATE TABLE refresh_tokens (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES auth_sessions(id),
    token_hash  TEXT NOT NULL UNIQUE,                 -- SHA-256 hex of the opaque token
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    rotated_at  BIGINT                               -- set when exchanged; reuse after that revokes the family
);
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);

CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id),
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    token_prefix  TEXT NOT NULL,                      -- first characters, to recognise a token in a list
    scopes        TEXT NOT NULL,                      -- space-separated
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens(user_id, created_at);

CREATE TABLE audit_log (
    id           TEXT PRIMARY KEY,
    actor_id     TEXT,
    action       TEXT NOT NULL,
    target_type  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    details      TEXT NOT NULL,                       -- JSON
    created_at   BIGINT NOT NULL
);
CREATE INDEX audit_log_created ON audit_log(created_at);
