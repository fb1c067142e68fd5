-- OAuth 2.1 authorization server and MCP sessions: registered public clients, sign-in + consent
-- handshakes of the authorization page, single-use authorization codes, grants (one token
-- family per consent) with their access and refresh tokens, and MCP sessions. Every secret
-- (cookie, CSRF token, code, token) is stored as its SHA-256, never in clear.
CREATE TABLE oauth_clients (
    id             TEXT PRIMARY KEY,                 -- the client_id (oac_…)
    name           TEXT NOT NULL,
    redirect_uris  TEXT NOT NULL,                    -- JSON array, compared exactly
    scopes         TEXT NOT NULL,                    -- space-separated: what the client may ask for
    metadata       TEXT NOT NULL,                    -- JSON of the accepted RFC 7591 metadata
    created_at     BIGINT NOT NULL
);

-- A sign-in on the authorization page, waiting for the user's decision (single use, minutes).
CREATE TABLE oauth_consents (
    id               TEXT PRIMARY KEY,
    secret_hash      TEXT NOT NULL UNIQUE,           -- of the HttpOnly cookie bound to this sign-in
    csrf_hash        TEXT NOT NULL,                  -- of the form's CSRF token
    user_id          TEXT NOT NULL REFERENCES users(id),
    organization_id  TEXT NOT NULL REFERENCES organizations(id),
    client_id        TEXT NOT NULL REFERENCES oauth_clients(id),
    request          TEXT NOT NULL,                  -- JSON of the validated authorization request
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    used_at          BIGINT
);

-- One consent: the family of tokens it issued. Revoking it ends all of them.
CREATE TABLE oauth_grants (
    id               TEXT PRIMARY KEY,               -- oag_…
    client_id        TEXT NOT NULL REFERENCES oauth_clients(id),
    user_id          TEXT NOT NULL REFERENCES users(id),
    organization_id  TEXT NOT NULL REFERENCES organizations(id),
    scopes           TEXT NOT NULL,
    resource         TEXT,
    created_at       BIGINT NOT NULL,
    revoked_at       BIGINT,
    revoked_reason   TEXT
);
CREATE INDEX oauth_grants_user ON oauth_grants(user_id, created_at);

CREATE TABLE oauth_codes (
    code_hash        TEXT PRIMARY KEY,
    client_id        TEXT NOT NULL REFERENCES oauth_clients(id),
    user_id          TEXT NOT NULL REFERENCES users(id),
    organization_id  TEXT NOT NULL REFERENCES organizations(id),
    redirect_uri     TEXT NOT NULL,
    scopes           TEXT NOT NULL,
    code_challenge   TEXT NOT NULL,                  -- PKCE S256
    resource         TEXT,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    used_at          BIGINT,                        -- set by the first redemption
    grant_id         TEXT REFERENCES oauth_grants(id) -- what that redemption issued
);

CREATE TABLE oauth_tokens (
    id          TEXT PRIMARY KEY,                    -- oat_…
    grant_id    TEXT NOT NULL REFERENCES oauth_grants(id),
    kind        TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    token_hash  TEXT NOT NULL UNIQUE,
    scopes      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    rotated_at  BIGINT                              -- refresh tokens: spent; reuse revokes the grant
);
CREATE INDEX oauth_tokens_grant ON oauth_tokens(grant_id);

-- Handshake-era MCP sessions (`Mcp-Session-Id`), shared by every API node through the store.
CREATE TABLE mcp_sessions (
    id                TEXT PRIMARY KEY,              -- mcps_…
    user_id           TEXT NOT NULL REFERENCES users(id),
    protocol_version  TEXT NOT NULL,
    client_name       TEXT,
    created_at        BIGINT NOT NULL,
    ended_at          BIGINT
);
