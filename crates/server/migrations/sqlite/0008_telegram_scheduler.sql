-- Reaching testers (issue #12): Telegram links, offers and messages, send pacing, in-app
-- notifications, scheduler ticks and the scheduled jobs' bookkeeping.

-- A tester's Telegram chat: one chat per tester, one tester per chat.
CREATE TABLE telegram_links (
    user_id    TEXT PRIMARY KEY REFERENCES users(id),
    chat_id    INTEGER NOT NULL UNIQUE,
    linked_at  INTEGER NOT NULL
);

-- One-time codes of `/start <code>` (SHA-256 hex; single use, short-lived).
CREATE TABLE telegram_link_codes (
    code_hash   TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX telegram_link_codes_user ON telegram_link_codes(user_id);

-- Updates already handled: Telegram sends an update again after any non-2xx answer.
CREATE TABLE telegram_updates (
    update_id    INTEGER PRIMARY KEY,
    received_at  INTEGER NOT NULL
);

-- A study offered to a tester: at most one offer per pair.
CREATE TABLE telegram_offers (
    id          TEXT PRIMARY KEY,
    study_id    TEXT NOT NULL REFERENCES studies(id),
    tester_id   TEXT NOT NULL REFERENCES users(id),
    status      TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'skipped')),
    chat_id     INTEGER,
    message_id  INTEGER,
    error       TEXT,
    created_at  INTEGER NOT NULL,
    sent_at     INTEGER,
    UNIQUE (study_id, tester_id)
);

-- Other messages to a chat (replies, notifications), sent by the queue.
CREATE TABLE telegram_messages (
    id          TEXT PRIMARY KEY,
    user_id     TEXT REFERENCES users(id),
    chat_id     INTEGER NOT NULL,
    text        TEXT NOT NULL,                  -- blanked once sent when it held a test token
    sensitive   BOOLEAN NOT NULL DEFAULT FALSE,
    status      TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'skipped')),
    message_id  INTEGER,
    error       TEXT,
    created_at  INTEGER NOT NULL,
    sent_at     INTEGER
);

-- Send pacing shared by every node: the next free slot and a pause after a 429.
CREATE TABLE send_pacers (
    name          TEXT PRIMARY KEY,
    next_at       INTEGER NOT NULL,
    paused_until  INTEGER NOT NULL
);

-- In-app notifications for a user, an organization's members, or staff (admins).
CREATE TABLE notifications (
    id               TEXT PRIMARY KEY,
    user_id          TEXT REFERENCES users(id),
    organization_id  TEXT REFERENCES organizations(id),
    staff            BOOLEAN NOT NULL DEFAULT FALSE,
    kind             TEXT NOT NULL,
    title            TEXT NOT NULL,
    body             TEXT NOT NULL,
    data             TEXT NOT NULL,                 -- JSON object
    dedup_key        TEXT UNIQUE,
    created_at       INTEGER NOT NULL
);
CREATE INDEX notifications_user ON notifications(user_id, created_at);
CREATE INDEX notifications_org ON notifications(organization_id, created_at);
CREATE INDEX notifications_staff ON notifications(staff, created_at);

-- The last tick each scheduled job ran; a node claims a tick by moving it forward.
CREATE TABLE scheduler_ticks (
    job         TEXT PRIMARY KEY,
    tick_at     INTEGER NOT NULL,
    node        TEXT NOT NULL,
    claimed_at  INTEGER NOT NULL
);

-- Studies open too long, flagged once for staff.
CREATE TABLE study_followups (
    study_id     TEXT PRIMARY KEY REFERENCES studies(id),
    flagged_at   INTEGER NOT NULL,
    resolved_at  INTEGER
);

ALTER TABLE study_testers ADD COLUMN reminded_at INTEGER;
ALTER TABLE sessions ADD COLUMN streams_purged_at INTEGER;
