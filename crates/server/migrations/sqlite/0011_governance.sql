-- Testers and governance: capacity quiz versions and attempts, special-category consent history,
-- the tester's status, and the request id on audit entries.
CREATE TABLE quizzes (
    id             TEXT PRIMARY KEY,                -- quiz_v<version>
    version        INTEGER NOT NULL UNIQUE,         -- the newest version is the active one
    passing_score  INTEGER NOT NULL,                -- percent of the points
    questions      TEXT NOT NULL,                   -- JSON: questionId, text, type, options[{id,text}], correctOptionId, points
    created_at     INTEGER NOT NULL
);

CREATE TABLE quiz_attempts (
    id          TEXT PRIMARY KEY,
    quiz_id     TEXT NOT NULL REFERENCES quizzes(id),
    tester_id   TEXT NOT NULL REFERENCES users(id),
    score       INTEGER NOT NULL,
    passed      BOOLEAN NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX quiz_attempts_tester ON quiz_attempts(tester_id, created_at);

-- Every special-category consent given or withdrawn, with the version of the text.
CREATE TABLE tester_consents (
    id          TEXT PRIMARY KEY,
    tester_id   TEXT NOT NULL REFERENCES users(id),
    version     TEXT NOT NULL,
    action      TEXT NOT NULL,                      -- given | withdrawn
    created_at  INTEGER NOT NULL
);
CREATE INDEX tester_consents_tester ON tester_consents(tester_id, created_at);

ALTER TABLE tester_profiles ADD COLUMN consent_version TEXT;      -- the consent in force (NULL: none)
ALTER TABLE tester_profiles ADD COLUMN status TEXT NOT NULL DEFAULT 'active';  -- active | suspended | pending
ALTER TABLE audit_log ADD COLUMN request_id TEXT;

-- The shipped quiz (version 1): ten questions, two per domain; editable by publishing a new version.
INSERT INTO quizzes (id, version, passing_score, questions, created_at)
VALUES ('quiz_v1', 1, 80, '[{"questionId":"q_001","text":"What should you do if a task instruction is unclear?","type":"multiple_choice","options":[{"id":"a","text":"Guess and move on silently"},{"id":"b","text":"Say out loud what is unclear and try your best interpretation"},{"id":"c","text":"Close the test"},{"id":"d","text":"Ask another tester"}],"correctOptionId":"b","points":10},{"questionId":"q_002","text":"A task says ''Find the pricing page''. When is it done?","type":"multiple_choice","options":[{"id":"a","text":"When you have read every page"},{"id":"b","text":"When you have bought something"},{"id":"c","text":"When the pricing page is open"},{"id":"d","text":"After exactly five minutes"}],"correctOptionId":"c","points":10},{"questionId":"q_003","text":"What does ''think aloud'' mean in usability testing?","type":"multiple_choice","options":[{"id":"a","text":"Narrating your thoughts and actions while performing tasks"},{"id":"b","text":"Reading instructions out loud"},{"id":"c","text":"Answering questions after the test"},{"id":"d","text":"Using a voice interface"}],"correctOptionId":"a","points":10},{"questionId":"q_004","text":"If you prefer not to speak, how can you share your thoughts?","type":"multiple_choice","options":[{"id":"a","text":"You cannot take part"},{"id":"b","text":"Email the company afterwards"},{"id":"c","text":"Only use the camera"},{"id":"d","text":"Write short notes during the test"}],"correctOptionId":"d","points":10},{"questionId":"q_005","text":"A button does nothing when you click it. What is most useful to do?","type":"multiple_choice","options":[{"id":"a","text":"Keep quiet so you do not bias the test"},{"id":"b","text":"Describe what you expected and what happened"},{"id":"c","text":"Reload the extension"},{"id":"d","text":"Skip the rest of the study"}],"correctOptionId":"b","points":10},{"questionId":"q_006","text":"Who is at fault when you cannot complete a task?","type":"multiple_choice","options":[{"id":"a","text":"Nobody should be blamed; the design is being tested"},{"id":"b","text":"You, the tester"},{"id":"c","text":"The other testers"},{"id":"d","text":"The internet connection, always"}],"correctOptionId":"a","points":10},{"questionId":"q_007","text":"Which data can you switch off and still take part?","type":"multiple_choice","options":[{"id":"a","text":"None of it"},{"id":"b","text":"Only the behavioural events"},{"id":"c","text":"Camera and voice; behavioural events are the test itself"},{"id":"d","text":"Your account email"}],"correctOptionId":"c","points":10},{"questionId":"q_008","text":"What happens to your special-category data if you withdraw consent?","type":"multiple_choice","options":[{"id":"a","text":"It is kept forever"},{"id":"b","text":"It is removed and you receive no new study offers that need it"},{"id":"c","text":"It is shared with the business"},{"id":"d","text":"It is sent to an AI provider"}],"correctOptionId":"b","points":10},{"questionId":"q_009","text":"You need a break in the middle of a test. What do you do?","type":"multiple_choice","options":[{"id":"a","text":"Close the browser"},{"id":"b","text":"Start a new session"},{"id":"c","text":"Finish quickly without breaks"},{"id":"d","text":"Pause the session and resume when ready"}],"correctOptionId":"d","points":10},{"questionId":"q_010","text":"After the test, findings are shown to you. What is your role?","type":"multiple_choice","options":[{"id":"a","text":"None, they are final"},{"id":"b","text":"Confirm, reject or add context to each finding"},{"id":"c","text":"Rewrite the report"},{"id":"d","text":"Rate the business"}],"correctOptionId":"b","points":10}]', 0);
