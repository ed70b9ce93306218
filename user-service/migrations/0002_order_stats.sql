-- What the order stream tells user-service (see `consumer.rs`): how many
-- orders a user made, and the loyalty points they earned
-- (total_cents / 100 per order, rounded down).
ALTER TABLE users
    ADD COLUMN orders_count BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN points       BIGINT NOT NULL DEFAULT 0;

-- Orders already counted. The stream delivers at least once; inserting the
-- order id in the same transaction as the update makes a redelivery change
-- nothing (the insert conflicts, the transaction is rolled back).
CREATE TABLE processed_orders (
    order_id      BIGINT PRIMARY KEY,
    user_id       BIGINT NOT NULL,
    message_id    TEXT NOT NULL,
    processed_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
