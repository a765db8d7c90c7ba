-- Releases, deploys, commits, release health and the deploy gate. Keep in step with
-- migrations/postgres/0003_releases.sql (same tables and meaning; only id DDL differs).
--
-- `releases` (0001) keeps one row per (project, version) and `first_seen` doubles as the
-- creation date; the columns below hold what `sentry-cli releases new|finalize` sets.
ALTER TABLE releases ADD COLUMN date_started BIGINT;
ALTER TABLE releases ADD COLUMN date_released BIGINT;
ALTER TABLE releases ADD COLUMN url TEXT;

CREATE TABLE deploys (
    id             INTEGER PRIMARY KEY,
    project_id     BIGINT  NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    version        TEXT    NOT NULL,
    environment    TEXT    NOT NULL,
    name           TEXT,
    url            TEXT,
    date_started   BIGINT,
    date_finished  BIGINT  NOT NULL
);
-- "The release deployed in this environment before X" walks deploys by time.
CREATE INDEX deploys_env ON deploys (project_id, environment, date_finished);
CREATE INDEX deploys_release ON deploys (project_id, version);

-- Commits of a release, in the order the client sent them (newest first, as git logs).
CREATE TABLE release_commits (
    id            INTEGER PRIMARY KEY,
    project_id    BIGINT  NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    version       TEXT    NOT NULL,
    position      BIGINT  NOT NULL,
    sha           TEXT    NOT NULL,
    repository    TEXT,
    author_name   TEXT,
    author_email  TEXT,
    message       TEXT,
    committed_at  BIGINT
);
CREATE INDEX release_commits_release ON release_commits (project_id, version, position);

CREATE TABLE commit_files (
    commit_id    BIGINT  NOT NULL REFERENCES release_commits(id) ON DELETE CASCADE,
    path         TEXT    NOT NULL,
    change_type  TEXT    NOT NULL
);
CREATE INDEX commit_files_commit ON commit_files (commit_id);

-- Session counts per (project, release, environment, minute the sessions started).
-- `errored` counts every session with any error state, crashed and abnormal included.
CREATE TABLE session_rollups (
    project_id   BIGINT  NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    release      TEXT    NOT NULL,
    environment  TEXT    NOT NULL,
    bucket       BIGINT  NOT NULL,
    total        BIGINT  NOT NULL,
    errored      BIGINT  NOT NULL,
    crashed      BIGINT  NOT NULL,
    abnormal     BIGINT  NOT NULL,
    unhandled    BIGINT  NOT NULL,
    PRIMARY KEY (project_id, release, environment, bucket)
);

-- Distinct members per (project, release, environment, hour): kind 'u' is a user (64-bit
-- hash of the distinct id, `bits` = seen|errored|crashed|abnormal|unhandled), kind 's' an
-- errored session id, so repeated updates of one session count once. Pruned by age.
CREATE TABLE session_members (
    project_id   BIGINT  NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    release      TEXT    NOT NULL,
    environment  TEXT    NOT NULL,
    bucket       BIGINT  NOT NULL,
    kind         TEXT    NOT NULL,
    member       BIGINT  NOT NULL,
    bits         BIGINT  NOT NULL,
    PRIMARY KEY (project_id, release, environment, bucket, kind, member)
);

-- Per-project deploy gate thresholds (JSON); absent means the defaults.
CREATE TABLE release_gate_settings (
    project_id  BIGINT  PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
    settings    TEXT    NOT NULL
);

-- Gate checks: scheduled after each deploy, run when due. A finished row (verdict set) is
-- also the health event the alerting work reads, in id order.
CREATE TABLE release_checks (
    id           INTEGER PRIMARY KEY,
    project_id   BIGINT  NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    version      TEXT    NOT NULL,
    environment  TEXT    NOT NULL,
    deploy_id    BIGINT,
    due_at       BIGINT  NOT NULL,
    run_at       BIGINT,
    verdict      TEXT,
    report       TEXT
);
CREATE INDEX release_checks_due ON release_checks (run_at, due_at);
CREATE INDEX release_checks_release ON release_checks (project_id, version);
