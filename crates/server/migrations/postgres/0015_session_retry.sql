-- Issue #24 (api.md §11): an abandoned session frees its seat and its tester may try again.
-- One session per (study, tester) becomes one *non-abandoned* session per (study, tester).
ALTER TABLE sessions DROP CONSTRAINT sessions_study_id_tester_id_key;
CREATE UNIQUE INDEX sessions_one_open_per_tester ON sessions(study_id, tester_id) WHERE status <> 'abandoned';
