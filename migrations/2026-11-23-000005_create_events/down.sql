-- Dropping the table drops its triggers and indexes; the functions are separate.
DROP TABLE events;
DROP FUNCTION events_notify_outbox();
DROP FUNCTION events_guard_append_only();
