-- Tasks: long-running work (imports) with its own small lifecycle.
CREATE TABLE tasks (
    id         uuid        PRIMARY KEY,
    version    bigint      NOT NULL CONSTRAINT tasks_version_check CHECK (version >= 1),
    task_type  text        NOT NULL CONSTRAINT tasks_task_type_check
                   CHECK (task_type IN ('import', 'api_image_import')),
    status     text        NOT NULL CONSTRAINT tasks_status_check
                   CHECK (status IN ('pending', 'processing', 'success', 'failure')),
    input      jsonb       NOT NULL,
    result     jsonb       NULL,
    -- Glance shows an empty string, not null, until a task fails.
    message    text        NOT NULL DEFAULT '',
    owner      text        NOT NULL,
    -- A task outlives a purged image: its history stays readable.
    image_id   uuid        NULL REFERENCES images (id) ON DELETE SET NULL,
    request_id text        NULL,
    user_id    text        NULL,
    expires_at timestamptz NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    deleted    boolean     NOT NULL DEFAULT false,
    deleted_at timestamptz NULL
);

CREATE INDEX tasks_image_id_idx ON tasks (image_id);
CREATE INDEX tasks_status_idx ON tasks (status);
CREATE INDEX tasks_created_at_id_idx ON tasks (created_at DESC, id DESC);
-- Partial: the expiry sweep only looks at finished, not yet purged tasks.
CREATE INDEX tasks_expires_at_idx ON tasks (expires_at)
    WHERE NOT deleted AND expires_at IS NOT NULL;
