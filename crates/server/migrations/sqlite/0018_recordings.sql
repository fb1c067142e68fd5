-- Issue #27: screen recordings in the rrweb format (api.md §5.1). One summary row per session
-- (totals, the full-snapshot check, the derivation state carried from chunk to chunk) and the
-- chunks themselves, masked and gzip-compressed, in arrival order; `chunk_id` makes a retried
-- chunk a duplicate. Erasure and retention delete both with the session's other streams.
CREATE TABLE recordings (
    session_id      TEXT PRIMARY KEY REFERENCES sessions(id),
    chunks          INTEGER NOT NULL,
    events          INTEGER NOT NULL,
    raw_bytes       INTEGER NOT NULL,
    stored_bytes    INTEGER NOT NULL,
    first_ts        INTEGER,
    last_ts         INTEGER,
    full_snapshots  INTEGER NOT NULL,
    gaps            TEXT NOT NULL,       -- JSON array of {at, reason}
    state           BLOB NOT NULL,       -- gzip of the derivation state (JSON)
    updated_at      INTEGER NOT NULL
);

CREATE TABLE recording_chunks (
    session_id  TEXT NOT NULL REFERENCES sessions(id),
    seq         INTEGER NOT NULL,
    chunk_id    TEXT,
    first_ts    INTEGER NOT NULL,
    last_ts     INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    raw_bytes   INTEGER NOT NULL,
    data        BLOB NOT NULL,           -- gzip of the masked events, comma-separated JSON
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (session_id, seq)
);
CREATE UNIQUE INDEX recording_chunks_client ON recording_chunks(session_id, chunk_id);
