-- The erasure journal: every person who asked to be erased, and when. A restore of an older
-- backup re-applies the erasures it lists (docs/deploy.md, "Erasure and backups"); the same
-- entries are appended to a journal file outside the database.
CREATE TABLE erasure_journal (
    user_id       TEXT PRIMARY KEY,
    requested_at  BIGINT NOT NULL
);
