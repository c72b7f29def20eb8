-- Idempotency record: a command's id is stored with its result in the same
-- transaction as its effect, so a redelivered command returns the stored result.
CREATE TABLE processed_commands (
    command_id   uuid        PRIMARY KEY,
    aggregate_id uuid        NOT NULL,
    command_type text        NOT NULL,
    result       jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
-- Old rows are pruned by age once no redelivery can still arrive.
CREATE INDEX processed_commands_created_at_idx ON processed_commands (created_at);
