-- Alert mail: per-user options, and the digests that collapse one project's notifications
-- for one user into one mail. Keep in step with migrations/postgres/0007_mail.sql: same
-- tables, columns and meaning.

-- Per-user settings, each value JSON (`alerts:email`: "always" or "never").
CREATE TABLE user_options (
    user_id  BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key      TEXT    NOT NULL,
    value    TEXT    NOT NULL,
    PRIMARY KEY (user_id, key)
);

-- One open digest per (project, user). `due_at` is `min_delay_ms` after its newest entry,
-- but no later than `max_delay_ms` after its first (`opened_at`); the delays are those of
-- the newest entry. Claimed with a lease like the outbox.
CREATE TABLE mail_digests (
    id             INTEGER PRIMARY KEY,
    org_id         BIGINT  NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    project_id     BIGINT  NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id        BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    opened_at      BIGINT  NOT NULL,
    last_at        BIGINT  NOT NULL,
    min_delay_ms   BIGINT  NOT NULL,
    max_delay_ms   BIGINT  NOT NULL,
    due_at         BIGINT  NOT NULL,
    claimed_until  BIGINT  NOT NULL,
    UNIQUE (project_id, user_id)
);
CREATE INDEX mail_digests_due ON mail_digests (due_at);

-- The notifications waiting in digests, written in the transaction of the rule firing;
-- `payload` is the notice the mail is rendered from.
CREATE TABLE mail_digest_entries (
    id          INTEGER PRIMARY KEY,
    project_id  BIGINT  NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id     BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    issue_id    BIGINT,
    rule_id     BIGINT,
    payload     TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX mail_digest_entries_digest ON mail_digest_entries (project_id, user_id, id);
