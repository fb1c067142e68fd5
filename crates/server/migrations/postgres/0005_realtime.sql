-- Agent 1: job parameters and the latest real-time snapshot on the session.
ALTER TABLE analysis_jobs ADD COLUMN payload TEXT;
ALTER TABLE sessions ADD COLUMN realtime TEXT;
