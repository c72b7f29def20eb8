-- A refused command is recorded too, with its refusal instead of a result, so a
-- redelivery or a replay of it is answered the same way (a 403 replayed after the
-- state changed is still a 403) instead of being decided again. Exactly one of the
-- two is set. The check is NOT VALID: it holds for every row written from now on, and
-- the rows already there all have a result and no refusal, so scanning a large table
-- under the migration's exclusive lock to prove it would only stall the fleet.
ALTER TABLE processed_commands
    ALTER COLUMN result DROP NOT NULL,
    ADD COLUMN rejection jsonb NULL;
ALTER TABLE processed_commands
    ADD CONSTRAINT processed_commands_one_answer
    CHECK ((result IS NULL) <> (rejection IS NULL)) NOT VALID;
