-- Studies (jobs), tester profiles and offers, sessions (tests) and their streams.
CREATE TABLE tester_profiles (
    user_id            TEXT PRIMARY KEY REFERENCES users(id),
    profile            TEXT NOT NULL,                 -- JSON: ndCategories, devices, country, …
    capacity_verified  BOOLEAN NOT NULL DEFAULT FALSE,  -- set by the capacity quiz
    updated_at         INTEGER NOT NULL
);

CREATE TABLE studies (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id),
    created_by       TEXT NOT NULL REFERENCES users(id),
    status           TEXT NOT NULL CHECK (status IN ('draft', 'open', 'in_progress', 'completed', 'closed')),
    definition       TEXT NOT NULL,                   -- JSON of the study body (title … analysis)
    tester_count     INTEGER NOT NULL,
    min_age          INTEGER,
    max_age          INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    launched_at      INTEGER,
    closed_at        INTEGER
);
CREATE INDEX studies_org ON studies(organization_id, created_at);
CREATE INDEX studies_status ON studies(status, created_at);

-- What a study targets, one row per value, so matching is plain SQL in both dialects.
-- kind: country | language | device | nd
CREATE TABLE study_targets (
    study_id  TEXT NOT NULL REFERENCES studies(id),
    kind      TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (study_id, kind, value)
);

CREATE TABLE study_tasks (
    id                TEXT PRIMARY KEY,
    study_id          TEXT NOT NULL REFERENCES studies(id),
    ord               INTEGER NOT NULL,
    title             TEXT NOT NULL,
    description       TEXT NOT NULL,
    success_criteria  TEXT NOT NULL,
    UNIQUE (study_id, ord)
);

-- Offers a tester answered. label_no gives the stable anonymous label "Tester N".
CREATE TABLE study_testers (
    study_id    TEXT NOT NULL REFERENCES studies(id),
    tester_id   TEXT NOT NULL REFERENCES users(id),
    status      TEXT NOT NULL CHECK (status IN ('accepted', 'declined')),
    label_no    INTEGER,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (study_id, tester_id),
    UNIQUE (study_id, label_no)
);
CREATE INDEX study_testers_tester ON study_testers(tester_id);

CREATE TABLE sessions (
    id                     TEXT PRIMARY KEY,
    study_id               TEXT NOT NULL REFERENCES studies(id),
    tester_id              TEXT NOT NULL REFERENCES users(id),
    variant                TEXT,
    status                 TEXT NOT NULL CHECK (status IN ('active', 'paused', 'completed', 'analyzed', 'confirmed', 'abandoned')),
    pipeline_status        TEXT NOT NULL,
    test_token_hash        TEXT NOT NULL UNIQUE,
    test_token_expires_at  INTEGER NOT NULL,
    started_at             INTEGER NOT NULL,
    paused_at              INTEGER,
    paused_ms              INTEGER NOT NULL DEFAULT 0,
    completed_at           INTEGER,
    consent                TEXT,                    -- JSON {version, streams{…}, givenAt}
    consent_events         BOOLEAN NOT NULL DEFAULT FALSE,
    consent_facial         BOOLEAN NOT NULL DEFAULT FALSE,
    consent_voice          BOOLEAN NOT NULL DEFAULT FALSE,
    sus                    TEXT,                    -- JSON array of 10 answers
    nps                    INTEGER,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    UNIQUE (study_id, tester_id)
);
CREATE INDEX sessions_study ON sessions(study_id, created_at);
CREATE INDEX sessions_tester ON sessions(tester_id, created_at);

CREATE TABLE events (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL,
    session_id       TEXT NOT NULL REFERENCES sessions(id),
    client_id        TEXT,
    ts               INTEGER NOT NULL,
    event_type       TEXT NOT NULL,
    target_selector  TEXT NOT NULL,
    x                REAL,
    y                REAL,
    scroll_y         REAL,
    input_length     INTEGER,
    viewport_width   INTEGER,
    viewport_height  INTEGER,
    url              TEXT,
    target_text      TEXT,
    task_id          TEXT,
    hover_ms         INTEGER,
    error_message    TEXT
);
CREATE UNIQUE INDEX events_client ON events(session_id, client_id);
CREATE INDEX events_session_ts ON events(session_id, ts, seq);

CREATE TABLE facial (
    seq                  INTEGER PRIMARY KEY,
    id                   TEXT NOT NULL,
    session_id           TEXT NOT NULL REFERENCES sessions(id),
    client_id            TEXT,
    ts                   INTEGER NOT NULL,
    emotion              TEXT NOT NULL,
    confidence           REAL NOT NULL,
    face_detected        BOOLEAN NOT NULL,
    action_units         TEXT,
    capture_interval_ms  INTEGER
);
CREATE UNIQUE INDEX facial_client ON facial(session_id, client_id);
CREATE INDEX facial_session_ts ON facial(session_id, ts, seq);

CREATE TABLE voice (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL,
    session_id   TEXT NOT NULL REFERENCES sessions(id),
    client_id    TEXT,
    ts           INTEGER NOT NULL,
    duration_ms  INTEGER NOT NULL,
    transcript   TEXT NOT NULL,
    confidence   REAL NOT NULL
);
CREATE UNIQUE INDEX voice_client ON voice(session_id, client_id);
CREATE INDEX voice_session_ts ON voice(session_id, ts, seq);

CREATE TABLE session_notes (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions(id),
    ts          INTEGER NOT NULL,
    text        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX session_notes_session ON session_notes(session_id, ts);

CREATE TABLE task_attempts (
    session_id  TEXT NOT NULL REFERENCES sessions(id),
    task_id     TEXT NOT NULL REFERENCES study_tasks(id),
    outcome     TEXT NOT NULL CHECK (outcome IN ('success', 'indirect', 'fail', 'abandon')),
    seq_score   INTEGER,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER NOT NULL,
    PRIMARY KEY (session_id, task_id)
);
