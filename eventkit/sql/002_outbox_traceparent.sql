-- The W3C traceparent of the request that wrote the row (eventkit.tracing), so the relay's
-- produce span joins that request's trace however long the row waits. NULL when tracing is
-- off (the default) or for rows written before this column: the relay then sends no trace.
ALTER TABLE outbox ADD COLUMN traceparent text;
