-- Outbox liveness: the relay records each failed publish of a row (a broker nack, a
-- row that does not encode) and, once a row keeps failing, quarantines it. A row
-- with a failure on record holds back its aggregate's later rows (so subscribers
-- never see version n+1 before n) while every other aggregate keeps flowing; an
-- operator releases a quarantined row with `imagefleet outbox retry`.
ALTER TABLE events
    ADD COLUMN publish_attempts integer     NOT NULL DEFAULT 0
        CONSTRAINT events_publish_attempts_check CHECK (publish_attempts >= 0),
    ADD COLUMN last_error       text        NULL,
    ADD COLUMN last_attempt_at  timestamptz NULL,
    ADD COLUMN quarantined_at   timestamptz NULL;

-- The unpublished rows with a failure on record: few, and probed once per candidate
-- row by the relay's read (is an earlier row of this aggregate held?).
CREATE INDEX events_held_aggregate_seq_idx ON events (aggregate_id, seq)
    WHERE published_at IS NULL AND last_attempt_at IS NOT NULL;

-- The relay's bookkeeping columns may change besides published_at; the event itself
-- (every other column) stays as written, and published_at is still set once.
CREATE OR REPLACE FUNCTION events_guard_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION 'events is append-only: % refused', TG_OP
            USING ERRCODE = 'restrict_violation';
    END IF;
    -- Whole-row comparison, so a column added later is covered without editing this.
    IF (to_jsonb(NEW) - 'published_at' - 'publish_attempts' - 'last_error'
            - 'last_attempt_at' - 'quarantined_at')
       IS DISTINCT FROM
       (to_jsonb(OLD) - 'published_at' - 'publish_attempts' - 'last_error'
            - 'last_attempt_at' - 'quarantined_at') THEN
        RAISE EXCEPTION 'events is append-only: only publishing bookkeeping may change (seq %)',
            OLD.seq
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.published_at IS NOT NULL AND NEW.published_at IS DISTINCT FROM OLD.published_at THEN
        RAISE EXCEPTION 'events: published_at is set once (seq %)', OLD.seq
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$;
