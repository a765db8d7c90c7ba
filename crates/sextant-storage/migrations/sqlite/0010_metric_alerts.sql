-- Metric alerts (Sentry's `alert-rules`): rules evaluated every minute over a window of
-- sessions or events, their triggers, and the incidents they open with each change of
-- level. Keep in step with migrations/postgres/0008_metric_alerts.sql: same tables,
-- columns and meaning.

-- A rule: the validated body (triggers aside) as JSON. `next_eval_at` and
-- `claimed_until` schedule evaluations and let one node at a time hold a rule (a lease);
-- `state` is what the evaluator carries from one round to the next.
CREATE TABLE metric_alert_rules (
    id             INTEGER PRIMARY KEY,
    org_id         BIGINT  NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    spec           TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    created_by     TEXT,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL,
    state          TEXT    NOT NULL,
    next_eval_at   BIGINT  NOT NULL,
    claimed_until  BIGINT  NOT NULL
);
CREATE INDEX metric_alert_rules_org ON metric_alert_rules (org_id);
CREATE INDEX metric_alert_rules_due ON metric_alert_rules (status, next_eval_at);

CREATE TABLE metric_alert_rule_projects (
    rule_id     BIGINT  NOT NULL REFERENCES metric_alert_rules(id) ON DELETE CASCADE,
    project_id  BIGINT  NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    PRIMARY KEY (rule_id, project_id)
) WITHOUT ROWID;
CREATE INDEX metric_alert_rule_projects_project ON metric_alert_rule_projects (project_id);

-- One trigger per label (`critical`, `warning`), which keeps its id across edits; `spec`
-- holds its threshold and actions as JSON.
CREATE TABLE metric_alert_triggers (
    id          INTEGER PRIMARY KEY,
    rule_id     BIGINT  NOT NULL REFERENCES metric_alert_rules(id) ON DELETE CASCADE,
    label       TEXT    NOT NULL,
    spec        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    UNIQUE (rule_id, label)
);

-- The last incident identifier handed out in each organization: identifiers count per
-- organization, as Sentry's do, and are never reused.
CREATE TABLE metric_incident_counters (
    org_id  BIGINT  NOT NULL PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
    last    BIGINT  NOT NULL
);

-- Incidents, with Sentry's numbers: `status` 2 closed, 10 warning, 20 critical;
-- `status_method` 2 rule updated, 3 rule triggered. `projects` holds the rule's project
-- slugs when it opened, as JSON. A rule has at most one incident that is not closed.
CREATE TABLE metric_incidents (
    id             INTEGER PRIMARY KEY,
    org_id         BIGINT  NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    rule_id        BIGINT  NOT NULL REFERENCES metric_alert_rules(id) ON DELETE CASCADE,
    identifier     BIGINT  NOT NULL,
    status         BIGINT  NOT NULL,
    status_method  BIGINT  NOT NULL,
    title          TEXT    NOT NULL,
    projects       TEXT    NOT NULL,
    date_started   BIGINT  NOT NULL,
    date_detected  BIGINT  NOT NULL,
    date_created   BIGINT  NOT NULL,
    date_closed    BIGINT,
    UNIQUE (org_id, identifier)
);
CREATE UNIQUE INDEX metric_incidents_open ON metric_incidents (rule_id) WHERE status <> 2;
CREATE INDEX metric_incidents_rule ON metric_incidents (rule_id, id);

-- Each incident's history (Sentry's IncidentActivity): `kind` 2 status change (`value`
-- and `previous_value` are statuses), 4 detected.
CREATE TABLE metric_incident_activity (
    id              INTEGER PRIMARY KEY,
    incident_id     BIGINT  NOT NULL REFERENCES metric_incidents(id) ON DELETE CASCADE,
    kind            BIGINT  NOT NULL,
    value           TEXT,
    previous_value  TEXT,
    date_added      BIGINT  NOT NULL
);
CREATE INDEX metric_incident_activity_incident ON metric_incident_activity (incident_id, id);
