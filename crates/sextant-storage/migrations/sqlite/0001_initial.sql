-- Sextant schema, SQLite flavour. Keep in step with migrations/postgres/0001_initial.sql:
-- same tables, columns and meaning; only DDL syntax and the search machinery differ.
--
-- Conventions shared by both backends (the `Any` driver decodes only these portably):
-- times are BIGINT Unix milliseconds, booleans are BIGINT 0/1, JSON is TEXT, bytes are BLOB.
-- Every table that belongs to a project cascades from `projects`, so deleting a project
-- deletes everything stored for it in one statement.

CREATE TABLE organizations (
    id          INTEGER PRIMARY KEY,
    slug        TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE projects (
    id          INTEGER PRIMARY KEY,
    org_id      BIGINT  NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    slug        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    platform    TEXT,
    created_at  BIGINT  NOT NULL,
    UNIQUE (org_id, slug)
);

CREATE TABLE project_keys (
    id                      INTEGER PRIMARY KEY,
    project_id              BIGINT  NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    public_key              TEXT    NOT NULL UNIQUE,
    label                   TEXT    NOT NULL,
    active                  BIGINT  NOT NULL DEFAULT 1,
    rate_limit_count        BIGINT,
    rate_limit_window_secs  BIGINT,
    created_at              BIGINT  NOT NULL
);
CREATE INDEX project_keys_project ON project_keys (project_id);

CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY,
    token_hash  TEXT    NOT NULL UNIQUE,
    scope       TEXT    NOT NULL,
    label       TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    revoked     BIGINT  NOT NULL DEFAULT 0
);

-- Accepted requests waiting for the pipeline. Cascades from the project so a deleted
-- project's backlog cannot turn into rows that can never be written.
CREATE TABLE inbox (
    id           INTEGER PRIMARY KEY,
    project_id   BIGINT  NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    received_at  BIGINT  NOT NULL,
    client_ip    TEXT,
    user_agent   TEXT,
    body         BLOB    NOT NULL
);
CREATE INDEX inbox_project ON inbox (project_id);

CREATE TABLE issues (
    id                    INTEGER PRIMARY KEY,
    project_id            BIGINT  NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    title                 TEXT    NOT NULL,
    culprit               TEXT    NOT NULL,
    -- Latest event's formatted message; kept only for free-text search.
    message               TEXT    NOT NULL,
    level                 TEXT    NOT NULL,
    event_type            TEXT    NOT NULL,
    metadata              TEXT    NOT NULL,
    status                TEXT    NOT NULL,
    first_seen            BIGINT  NOT NULL,
    last_seen             BIGINT  NOT NULL,
    first_release         TEXT,
    last_release          TEXT,
    times_seen            BIGINT  NOT NULL,
    user_count            BIGINT  NOT NULL,
    unhandled             BIGINT  NOT NULL,
    is_regression         BIGINT  NOT NULL DEFAULT 0,
    regressed_in_release  TEXT,
    regressed_at          BIGINT,
    resolved_at           BIGINT,
    resolved_in_release   TEXT,
    grouping_config       TEXT    NOT NULL,
    primary_hash          TEXT    NOT NULL
);
-- One index per sort order, each ending in id for the keyset tie breaker.
CREATE INDEX issues_last_seen  ON issues (project_id, last_seen, id);
CREATE INDEX issues_first_seen ON issues (project_id, first_seen, id);
CREATE INDEX issues_times_seen ON issues (project_id, times_seen, id);
CREATE INDEX issues_user_count ON issues (project_id, user_count, id);

-- Free-text search: external-content FTS5 index over issues, rowid = issue id, kept in
-- step by triggers so no code path can forget it (cascading deletes included).
CREATE VIRTUAL TABLE issues_fts USING fts5 (
    title, culprit, message,
    content = 'issues', content_rowid = 'id'
);

CREATE TRIGGER issues_fts_insert AFTER INSERT ON issues BEGIN
    INSERT INTO issues_fts (rowid, title, culprit, message)
    VALUES (new.id, new.title, new.culprit, new.message);
END;

CREATE TRIGGER issues_fts_delete AFTER DELETE ON issues BEGIN
    INSERT INTO issues_fts (issues_fts, rowid, title, culprit, message)
    VALUES ('delete', old.id, old.title, old.culprit, old.message);
END;

-- Every event updates its issue's counters; only reindex when the text changed.
CREATE TRIGGER issues_fts_update AFTER UPDATE OF title, culprit, message ON issues
WHEN old.title IS NOT new.title OR old.culprit IS NOT new.culprit OR old.message IS NOT new.message
BEGIN
    INSERT INTO issues_fts (issues_fts, rowid, title, culprit, message)
    VALUES ('delete', old.id, old.title, old.culprit, old.message);
    INSERT INTO issues_fts (rowid, title, culprit, message)
    VALUES (new.id, new.title, new.culprit, new.message);
END;

-- Grouping hash -> issue. An event joins the issue owning any of its hashes.
CREATE TABLE group_hashes (
    project_id  BIGINT  NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    hash        TEXT    NOT NULL,
    issue_id    BIGINT  NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    PRIMARY KEY (project_id, hash)
);
CREATE INDEX group_hashes_issue ON group_hashes (issue_id);

CREATE TABLE events (
    id            INTEGER PRIMARY KEY,
    project_id    BIGINT  NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    event_id      TEXT    NOT NULL,
    issue_id      BIGINT  REFERENCES issues(id) ON DELETE CASCADE,
    timestamp_ms  BIGINT  NOT NULL,
    received_at   BIGINT  NOT NULL,
    level         TEXT    NOT NULL,
    platform      TEXT    NOT NULL,
    event_type    TEXT    NOT NULL,
    release_name  TEXT,
    environment   TEXT,
    title         TEXT    NOT NULL,
    culprit       TEXT    NOT NULL,
    message       TEXT    NOT NULL,
    metadata      TEXT    NOT NULL,
    -- JSON array of [key, value] pairs, in the event's order.
    tags          TEXT    NOT NULL,
    user_key      TEXT,
    trace_id      TEXT,
    unhandled     BIGINT  NOT NULL,
    grouping_config TEXT  NOT NULL,
    -- JSON array of the grouping hashes, primary first.
    hashes        TEXT    NOT NULL,
    payload       BLOB    NOT NULL,
    -- Exactly-once: replaying a batch hits this constraint and changes nothing.
    UNIQUE (project_id, event_id)
);
CREATE INDEX events_issue ON events (issue_id, timestamp_ms, id);

CREATE TABLE issue_tags (
    issue_id    BIGINT  NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    tag_key     TEXT    NOT NULL,
    tag_value   TEXT    NOT NULL,
    times_seen  BIGINT  NOT NULL,
    first_seen  BIGINT  NOT NULL,
    last_seen   BIGINT  NOT NULL,
    PRIMARY KEY (issue_id, tag_key, tag_value)
);
-- Tag filters in issue search look issues up by key and value.
CREATE INDEX issue_tags_lookup ON issue_tags (tag_key, tag_value, issue_id);

CREATE TABLE issue_users (
    issue_id  BIGINT  NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    user_key  TEXT    NOT NULL,
    PRIMARY KEY (issue_id, user_key)
);

-- When each release was first seen; decides what "the next release" is.
CREATE TABLE releases (
    project_id  BIGINT  NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    version     TEXT    NOT NULL,
    first_seen  BIGINT  NOT NULL,
    PRIMARY KEY (project_id, version)
);

CREATE TABLE attachments (
    id               INTEGER PRIMARY KEY,
    project_id       BIGINT  NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    event_id         TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    content_type     TEXT    NOT NULL,
    attachment_type  TEXT    NOT NULL,
    size             BIGINT  NOT NULL,
    data             BLOB    NOT NULL,
    created_at       BIGINT  NOT NULL
);
CREATE INDEX attachments_event ON attachments (project_id, event_id);

CREATE TABLE raw_items (
    id           INTEGER PRIMARY KEY,
    project_id   BIGINT  NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    item_type    TEXT    NOT NULL,
    event_id     TEXT,
    received_at  BIGINT  NOT NULL,
    payload      BLOB    NOT NULL
);
CREATE INDEX raw_items_type ON raw_items (project_id, item_type);

CREATE TABLE outcomes (
    project_id  BIGINT  NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    bucket      BIGINT  NOT NULL,
    outcome     TEXT    NOT NULL,
    category    TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    quantity    BIGINT  NOT NULL,
    PRIMARY KEY (project_id, bucket, outcome, category, reason)
);
