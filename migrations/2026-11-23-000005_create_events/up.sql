-- Events: the transactional outbox and, because rows are never removed, the
-- transition history of every image and task. A state change inserts its events in
-- the same transaction; the relay publishes them in seq order and then stamps
-- published_at, the only change a row ever sees.
CREATE TABLE events (
    seq            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id       uuid        NOT NULL CONSTRAINT events_event_id_key UNIQUE,
    aggregate_type text        NOT NULL CONSTRAINT events_aggregate_type_check
                       CHECK (aggregate_type IN ('image', 'task')),
    -- No foreign key: the history must outlive a purged image or task.
    aggregate_id   uuid        NOT NULL,
    version        bigint      NOT NULL CONSTRAINT events_version_check CHECK (version >= 1),
    event_type     text        NOT NULL,
    from_status    text        NULL,
    to_status      text        NOT NULL,
    routing_key    text        NOT NULL,
    command_id     uuid        NOT NULL,
    correlation_id text        NULL,
    actor          jsonb       NOT NULL,
    snapshot       jsonb       NOT NULL,
    occurred_at    timestamptz NOT NULL,
    published_at   timestamptz NULL,
    -- One event per version of an aggregate: a second writer of the same version
    -- fails here even if its optimistic UPDATE were somehow bypassed.
    CONSTRAINT events_aggregate_id_version_key UNIQUE (aggregate_id, version)
);

-- Partial: the relay only ever scans the unpublished tail.
CREATE INDEX events_unpublished_seq_idx ON events (seq) WHERE published_at IS NULL;

-- Refuses every change but the one-time stamping of published_at. restrict_violation
-- makes diesel report DatabaseErrorKind::RestrictViolation, which callers can tell
-- apart from transient failures.
CREATE FUNCTION events_guard_append_only() RETURNS trigger
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

CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_guard_append_only();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_guard_append_only();

-- Wakes the outbox relay. Postgres delivers notifications at commit and folds
-- identical ones of a transaction into one, so a statement-level trigger costs one
-- notification per committing transaction; the relay re-reads the table anyway.
CREATE FUNCTION events_notify_outbox() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('imagefleet_outbox', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_notify_outbox
    AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_notify_outbox();
