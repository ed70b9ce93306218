-- The outbox: one row per event, written in the same transaction as the
-- order it describes, so an order is never saved without its event (nor an
-- event sent for an order that was rolled back). The relay (`relay.rs`)
-- publishes unpublished rows to the Redis stream and marks them.
--
-- `traceparent` / `tracestate` / `baggage` hold the W3C context of the
-- `save_order` span: the PRODUCER span that sends the event later, in
-- another task, continues the order's trace from there.
CREATE TABLE order_events (
    id            BIGSERIAL PRIMARY KEY,
    event         TEXT NOT NULL DEFAULT 'order.confirmed',
    order_id      BIGINT NOT NULL REFERENCES orders (id),
    user_id       BIGINT NOT NULL,
    sku           TEXT NOT NULL,
    quantity      INTEGER NOT NULL,
    total_cents   BIGINT NOT NULL,
    traceparent   TEXT,
    tracestate    TEXT,
    baggage       TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Set by the relay once the stream has the entry (its id in `stream_id`).
    published_at  TIMESTAMPTZ,
    stream_id     TEXT
);

-- The relay's question, "what is still to send?", reads only this index.
CREATE INDEX order_events_unpublished ON order_events (id) WHERE published_at IS NULL;
