-- Refusals cannot be kept without a result: they go, as before they were never recorded.
DELETE FROM processed_commands WHERE result IS NULL;
ALTER TABLE processed_commands DROP CONSTRAINT processed_commands_one_answer;
ALTER TABLE processed_commands DROP COLUMN rejection;
ALTER TABLE processed_commands ALTER COLUMN result SET NOT NULL;
