-- The W3C trace context (`traceparent`) of the worker span that wrote the event, so
-- the relay publishes the event in the same trace as the request that caused it.
-- Nullable: events written before this column, or by commands sent without a trace,
-- have none. Not in the published JSON: it travels in the AMQP `traceparent` header.
ALTER TABLE events ADD COLUMN traceparent text NULL;
