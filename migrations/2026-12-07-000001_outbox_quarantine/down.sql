-- Back to the function of create_events: only published_at may change.
CREATE OR REPLACE FUNCTION events_guard_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION 'events is append-only: % refused', TG_OP
            USING ERRCODE = 'restrict_violation';
    END IF;
    -- Whole-row comparison, so a column added later is covered without editing this.
    IF (to_jsonb(NEW) - 'published_at') IS DISTINCT FROM (to_jsonb(OLD) - 'published_at') THEN
        RAISE EXCEPTION 'events is append-only: only published_at may change (seq %)', OLD.seq
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.published_at IS NOT NULL AND NEW.published_at IS DISTINCT FROM OLD.published_at THEN
        RAISE EXCEPTION 'events: published_at is set once (seq %)', OLD.seq
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$;

DROP INDEX events_held_aggregate_seq_idx;
ALTER TABLE events
    DROP COLUMN quarantined_at,
    DROP COLUMN last_attempt_at,
    DROP COLUMN last_error,
    DROP COLUMN publish_attempts;
