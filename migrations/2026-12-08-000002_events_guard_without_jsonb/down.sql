-- Back to the JSON comparison of outbox_quarantine.
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
