-- The append-only guard compares rows as rows, not as JSON: the relay stamps every
-- row it publishes, and turning both versions of a row (its snapshot included) into
-- jsonb cost about three times the UPDATE itself (issue 18). The row is copied, its
-- bookkeeping columns are put back as they were, and the copy must equal the old row:
-- still a whole-row comparison, so a column added later is covered without editing this.
CREATE OR REPLACE FUNCTION events_guard_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    kept events;
BEGIN
    IF TG_OP = 'DELETE' OR TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION 'events is append-only: % refused', TG_OP
            USING ERRCODE = 'restrict_violation';
    END IF;
    kept := NEW;
    kept.published_at := OLD.published_at;
    kept.publish_attempts := OLD.publish_attempts;
    kept.last_error := OLD.last_error;
    kept.last_attempt_at := OLD.last_attempt_at;
    kept.quarantined_at := OLD.quarantined_at;
    IF kept IS DISTINCT FROM OLD THEN
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
