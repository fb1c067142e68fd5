-- Issue #27: screen recordings in the rrweb format (api.md §5.1). One summary row per session
-- (totals, the full-snapshot check, the derivation state carried from chunk to chunk) and the
-- chunks themselves, masked and gzip-compressed, in arrival order; `chunk_id` makes a retried
-- chunk a duplicate. Erasure and retention delete both with the session's other streams.
CREATE TABLE recordings (
    session_id      TEXT PRIMARY KEY REFERENCES sessions(id),
    chunks          BIGINT NOT NULL,
    events          BIGINT NOT NULL,
    raw_bytes       BIGINT NOT NULL,
    stored_bytes    BIGINT NOT NULL,
    first_ts        BIGINT,
    last_ts         BIGINT,
    full_snapshots  BIGINT NOT NULL,
    gaps            TEXT NOT NULL,       -- JSON array of {at, reason}
    state           BYTEA NOT NULL,       -- gzip of the derivation state (JSON)
    updated_at      BIGINT NOT NULL
);

CREATE TABLE recording_chunks (
    session_id  TEXT NOT NULL REFERENCES sessions(id),
    seq         BIGINT NOT NULL,
    chunk_id    TEXT,
    first_ts    BIGINT NOT NULL,
    last_ts     BIGINT NOT NULL,
    events      BIGINT NOT NULL,
    raw_bytes   BIGINT NOT NULL,
    data        BYTEA NOT NULL,           -- gzip of the masked events, comma-separated JSON
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (session_id, seq)
);
CREATE UNIQUE INDEX recording_chunks_client ON recording_chunks(session_id, chunk_id);
