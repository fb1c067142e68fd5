-- Studies (jobs), tester profiles and offers, sessions (tests) and their streams.
CREATE TABLE tester_profiles (
    user_id            TEXT PRIMARY KEY REFERENCES users(id),
    profile            TEXT NOT NULL,                 -- JSON: ndCategories, devices, country, …
    capacity_verified  BOOLEAN NOT NULL DEFAULT FALSE,  -- set by the capacity quiz
    updated_at         BIGINT NOT NULL
);

CREATE TABLE studies (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id),
    created_by       TEXT NOT NULL REFERENCES users(id),
    status           TEXT NOT NULL CHECK (status IN ('draft', 'open', 'in_progress', 'completed', 'closed')),
    definition       TEXT NOT NULL,                   -- JSON of the study body (title … analysis)
    tester_count     BIGINT NOT NULL,
    min_age          BIGINT,
    max_age          BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    launched_at      BIGINT,
    closed_at        BIGINT
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
    ord               BIGINT NOT NULL,
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
    label_no    BIGINT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
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
    test_token_expires_at  BIGINT NOT NULL,
    started_at             BIGINT NOT NULL,
    paused_at              BIGINT,
    paused_ms              BIGINT NOT NULL DEFAULT 0,
    completed_at           BIGINT,
    consent                TEXT,                    -- JSON {version, streams{…}, givenAt}
    consent_events         BOOLEAN NOT NULL DEFAULT FALSE,
    consent_facial         BOOLEAN NOT NULL DEFAULT FALSE,
    consent_voice          BOOLEAN NOT NULL DEFAULT FALSE,
    sus                    TEXT,                    -- JSON array of 10 answers
    nps                    BIGINT,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    UNIQUE (study_id, tester_id)
);
CREATE INDEX sessions_study ON sessions(study_id, created_at);
CREATE INDEX sessions_tester ON sessions(tester_id, created_at);

CREATE TABLE events (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id               TEXT NOT NULL,
    session_id       TEXT NOT NULL REFERENCES sessions(id),
    client_id        TEXT,
    ts               BIGINT NOT NULL,
    event_type       TEXT NOT NULL,
    target_selector  TEXT NOT NULL,
    x                DOUBLE PRECISION,
    y                DOUBLE PRECISION,
    scroll_y         DOUBLE PRECISION,
    input_length     BIGINT,
    viewport_width   BIGINT,
    viewport_height  BIGINT,
    url              TEXT,
    target_text      TEXT,
    task_id          TEXT,
    hover_ms         BIGINT,
    error_message    TEXT
);
CREATE UNIQUE INDEX events_client ON events(session_id, client_id);
CREATE INDEX events_session_ts ON events(session_id, ts, seq);

CREATE TABLE facial (
    seq                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                   TEXT NOT NULL,
    session_id           TEXT NOT NULL REFERENCES sessions(id),
    client_id            TEXT,
    ts                   BIGINT NOT NULL,
    emotion              TEXT NOT NULL,
    confidence           DOUBLE PRECISION NOT NULL,
    face_detected        BOOLEAN NOT NULL,
    action_units         TEXT,
    capture_interval_ms  BIGINT
);
CREATE UNIQUE INDEX facial_client ON facial(session_id, client_id);
CREATE INDEX facial_session_ts ON facial(session_id, ts, seq);

CREATE TABLE voice (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           TEXT NOT NULL,
    session_id   TEXT NOT NULL REFERENCES sessions(id),
    client_id    TEXT,
    ts           BIGINT NOT NULL,
    duration_ms  BIGINT NOT NULL,
    transcript   TEXT NOT NULL,
    confidence   DOUBLE PRECISION NOT NULL
);
CREATE UNIQUE INDEX voice_client ON voice(session_id, client_id);
CREATE INDEX voice_session_ts ON voice(session_id, ts, seq);

CREATE TABLE session_notes (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions(id),
    ts          BIGINT NOT NULL,
    text        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX session_notes_session ON session_notes(session_id, ts);

CREATE TABLE task_attempts (
    session_id  TEXT NOT NULL REFERENCES sessions(id),
    task_id     TEXT NOT NULL REFERENCES study_tasks(id),
    outcome     TEXT NOT NULL CHECK (outcome IN ('success', 'indirect', 'fail', 'abandon')),
    seq_score   BIGINT,
    started_at  BIGINT NOT NULL,
    ended_at    BIGINT NOT NULL,
    PRIMARY KEY (session_id, task_id)
);
