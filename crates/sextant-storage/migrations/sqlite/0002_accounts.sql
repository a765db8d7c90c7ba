-- Accounts: users, server-side sessions, organization membership, invites, personal API
-- tokens and per-project browser origins. Keep in step with
-- migrations/postgres/0002_accounts.sql. Secrets (session and invite tokens) are stored
-- only as SHA-256 hex digests.

CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    email          TEXT    NOT NULL UNIQUE,
    -- PHC string, argon2id.
    password_hash  TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL
);

CREATE TABLE sessions (
    id          INTEGER PRIMARY KEY,
    token_hash  TEXT    NOT NULL UNIQUE,
    user_id     BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- Per-session CSRF token, echoed in forms and the X-CSRF-Token header.
    csrf_token  TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE org_members (
    org_id      BIGINT  NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id     BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_user ON org_members (user_id);

CREATE TABLE invites (
    id          INTEGER PRIMARY KEY,
    org_id      BIGINT  NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    token_hash  TEXT    NOT NULL UNIQUE,
    role        TEXT    NOT NULL,
    email       TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL
);

-- NULL: an instance-wide token made with the CLI; otherwise a user's personal token,
-- limited to that user's organizations.
ALTER TABLE api_tokens ADD COLUMN user_id BIGINT REFERENCES users(id) ON DELETE CASCADE;

-- Origins a browser SDK may send from (one per line); empty means any.
ALTER TABLE projects ADD COLUMN allowed_origins TEXT NOT NULL DEFAULT '';
