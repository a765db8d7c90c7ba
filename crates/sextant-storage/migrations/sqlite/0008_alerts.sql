-- Alerts: rules, their throttle, the counters they read, internal integrations, channels,
-- and the two-stage outbox (signals, then deliveries with their attempts). Keep in step
-- with migrations/postgres/0006_alerts.sql: same tables, columns and meaning.

-- Issue alert rules: the validated Sentry body, kept as JSON. `needs` tells the batch
-- writer what to record for the project (1: a signal per touched issue, 2: events per
-- minute, 4: users per minute); it is derived from the spec when the rule is saved.
CREATE TABLE alert_rules (
    id          INTEGER PRIMARY KEY,
    project_id  BIGINT  NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    spec        TEXT    NOT NULL,
    needs       BIGINT  NOT NULL,
    status      TEXT    NOT NULL,
    created_by  TEXT,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
CREATE INDEX alert_rules_project ON alert_rules (project_id);

-- Sentry's GroupRuleStatus: when a rule last acted for an issue, set by compare-and-set.
CREATE TABLE rule_fires (
    rule_id     BIGINT  NOT NULL REFERENCES alert_rules(id) ON DELETE CASCADE,
    issue_id    BIGINT  NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    last_fired  BIGINT  NOT NULL,
    times       BIGINT  NOT NULL,
    PRIMARY KEY (rule_id, issue_id)
) WITHOUT ROWID;
CREATE INDEX rule_fires_issue ON rule_fires (issue_id);

-- Events per issue and minute of arrival, kept for projects whose rules count them.
CREATE TABLE issue_minutes (
    issue_id  BIGINT  NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    minute    BIGINT  NOT NULL,
    events    BIGINT  NOT NULL,
    PRIMARY KEY (issue_id, minute)
) WITHOUT ROWID;
CREATE INDEX issue_minutes_age ON issue_minutes (minute);

-- Distinct users per issue and minute, for unique-user rules.
CREATE TABLE issue_minute_users (
    issue_id  BIGINT  NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    minute    BIGINT  NOT NULL,
    user_key  TEXT    NOT NULL,
    PRIMARY KEY (issue_id, minute, user_key)
) WITHOUT ROWID;
CREATE INDEX issue_minute_users_age ON issue_minute_users (minute);

-- State changes waiting for rule evaluation, written in the transaction that made them:
-- an issue's (`issue_id`) or a post-deploy check's verdict (`check_id`). No keys to
-- either: a signal of something deleted meanwhile is dropped when it is evaluated.
CREATE TABLE alert_signals (
    id             INTEGER PRIMARY KEY,
    project_id     BIGINT  NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    issue_id       BIGINT,
    check_id       BIGINT,
    kind           TEXT    NOT NULL,
    new_issue      BIGINT  NOT NULL,
    regression     BIGINT  NOT NULL,
    event_id       TEXT,
    created_at     BIGINT  NOT NULL,
    claimed_until  BIGINT  NOT NULL
);
CREATE INDEX alert_signals_claim ON alert_signals (claimed_until, id);

-- Internal integrations (Sentry's internal "Sentry Apps") and their one installation.
CREATE TABLE sentry_apps (
    id                 INTEGER PRIMARY KEY,
    org_id             BIGINT  NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    slug               TEXT    NOT NULL UNIQUE,
    name               TEXT    NOT NULL,
    uuid               TEXT    NOT NULL UNIQUE,
    installation_uuid  TEXT    NOT NULL UNIQUE,
    webhook_url        TEXT,
    events             TEXT    NOT NULL,
    scopes             TEXT    NOT NULL,
    is_alertable       BIGINT  NOT NULL,
    overview           TEXT,
    client_id          TEXT    NOT NULL,
    client_secret      TEXT    NOT NULL,
    created_at         BIGINT  NOT NULL
);
CREATE INDEX sentry_apps_org ON sentry_apps (org_id);

-- Notification channels: per organization, or per project when project_id is set.
-- `config` holds the channel's settings, secrets included; APIs show them redacted.
CREATE TABLE alert_channels (
    id          INTEGER PRIMARY KEY,
    org_id      BIGINT  NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    project_id  BIGINT  REFERENCES projects(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    config      TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX alert_channels_org ON alert_channels (org_id);

-- Sentry's project options (`webhooks:urls`, …), each value JSON.
CREATE TABLE project_options (
    project_id  BIGINT  NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    key         TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    PRIMARY KEY (project_id, key)
);

-- The outbox: one row per message to one destination. `payload` is the exact body (or,
-- for channels, the notice they render when sending); `request_id` is stable across
-- retries so receivers can deduplicate.
CREATE TABLE deliveries (
    id             INTEGER PRIMARY KEY,
    request_id     TEXT    NOT NULL UNIQUE,
    org_id         BIGINT  NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    project_id     BIGINT  REFERENCES projects(id) ON DELETE CASCADE,
    issue_id       BIGINT,
    rule_id        BIGINT,
    target_kind    TEXT    NOT NULL,
    target_id      BIGINT,
    url            TEXT,
    resource       TEXT    NOT NULL,
    action         TEXT    NOT NULL,
    payload        TEXT    NOT NULL,
    state          TEXT    NOT NULL,
    attempts       BIGINT  NOT NULL,
    next_at        BIGINT  NOT NULL,
    claimed_until  BIGINT  NOT NULL,
    created_at     BIGINT  NOT NULL,
    finished_at    BIGINT
);
CREATE INDEX deliveries_due ON deliveries (state, next_at);
CREATE INDEX deliveries_org ON deliveries (org_id, id);
-- A channel's recent messages, for its rate and for bursts (storm summaries).
CREATE INDEX deliveries_channel ON deliveries (target_kind, target_id, project_id, created_at);
CREATE INDEX deliveries_issue ON deliveries (issue_id);

CREATE TABLE delivery_attempts (
    id           INTEGER PRIMARY KEY,
    delivery_id  BIGINT  NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    at           BIGINT  NOT NULL,
    status       BIGINT,
    duration_ms  BIGINT  NOT NULL,
    response     TEXT,
    error        TEXT
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, id);
