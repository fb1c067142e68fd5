-- Accounts people can recover, organisations with members (api.md §12): verified addresses,
-- owners and members, one-time account tokens (stored hashed), invitations, per-user read state.
ALTER TABLE users ADD COLUMN email_verified_at INTEGER;
-- owner or member for a business account in an organization; NULL otherwise.
ALTER TABLE users ADD COLUMN org_role TEXT CHECK (org_role IN ('owner', 'member'));
UPDATE users SET org_role = 'owner' WHERE role = 'business' AND organization_id IS NOT NULL;

-- Email verification, password reset and email change links: single use, expiring, SHA-256 only.
CREATE TABLE account_tokens (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    purpose     TEXT NOT NULL CHECK (purpose IN ('verify_email', 'password_reset', 'email_change')),
    token_hash  TEXT NOT NULL UNIQUE,
    email       TEXT NOT NULL,                     -- the address the link proves
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER                            -- spent, or superseded by a newer link
);
CREATE INDEX account_tokens_user ON account_tokens(user_id, purpose, created_at);

CREATE TABLE invitations (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id),
    email            TEXT NOT NULL,                -- lower-cased
    org_role         TEXT NOT NULL CHECK (org_role IN ('owner', 'member')),
    invited_by       TEXT NOT NULL,                -- user id (no key: erasure repoints it)
    token_hash       TEXT UNIQUE,                  -- set when the mail is sent
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    accepted_at      INTEGER,
    accepted_by      TEXT,
    revoked_at       INTEGER
);
CREATE INDEX invitations_org ON invitations(organization_id, created_at);

-- Read state per reader: an organization's notification is read or not for each member.
CREATE TABLE notification_reads (
    notification_id  TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    read_at          INTEGER NOT NULL,
    PRIMARY KEY (notification_id, user_id)
);
CREATE INDEX notification_reads_user ON notification_reads(user_id);
