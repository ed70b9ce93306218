-- Confirmed orders. The price is copied in: an order keeps the price it was
-- sold at, whatever the catalogue says later.
CREATE TABLE orders (
    id                BIGSERIAL PRIMARY KEY,
    user_id           BIGINT NOT NULL,
    sku               TEXT NOT NULL,
    product           TEXT NOT NULL,
    quantity          INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 100),
    unit_price_cents  BIGINT NOT NULL,
    total_cents       BIGINT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'confirmed',
    reservation_id    BIGINT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
