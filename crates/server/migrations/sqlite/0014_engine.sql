-- The event fields of the engine's baselines and false-alarm rules (api.md §5, analysis.md
-- §1.1–1.2): deletions merged into a typing burst, text selected after a click, DOM
-- mutations within 1 s after a click, a click that opens a new tab or a download, the
-- target's role, and the words on a page. All optional: older recordings leave them NULL.
ALTER TABLE events ADD COLUMN deletions INTEGER;
ALTER TABLE events ADD COLUMN selection_length INTEGER;
ALTER TABLE events ADD COLUMN mutations INTEGER;
ALTER TABLE events ADD COLUMN opens_new_context BOOLEAN;
ALTER TABLE events ADD COLUMN role TEXT;
ALTER TABLE events ADD COLUMN word_count INTEGER;
