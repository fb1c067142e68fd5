-- The result of a queue item (Agent 1's snapshot, Agent 2's insights, a report id), readable
-- through GET /api/analysis-jobs/:id as `result`.
ALTER TABLE analysis_jobs ADD COLUMN result TEXT;
