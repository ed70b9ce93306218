-- Products and their stock. `stock >= 0` is enforced by the database too:
-- even a buggy query cannot sell what is not there.
CREATE TABLE products (
    sku         TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    price_cents BIGINT NOT NULL CHECK (price_cents >= 0),
    stock       INTEGER NOT NULL CHECK (stock >= 0)
);

-- One row per successful reservation; deleted when released.
CREATE TABLE reservations (
    id          BIGSERIAL PRIMARY KEY,
    sku         TEXT NOT NULL REFERENCES products (sku),
    quantity    INTEGER NOT NULL CHECK (quantity > 0),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Seed data: ample stock for the everyday products, and one scarce product
-- for the "not enough stock" lesson (order 6 of them and watch the 409).
INSERT INTO products (sku, name, price_cents, stock) VALUES
    ('LAPTOP-001',   'Laptop',                129900, 1000000),
    ('MOUSE-001',    'Mouse',                   2500, 1000000),
    ('KEYBOARD-001', 'Keyboard',                7900, 1000000),
    ('MONITOR-001',  'Monitor',                34900, 1000000),
    ('HEADSET-001',  'Headset',                 8900, 1000000),
    ('CAMERA-001',   'Camera',                249900, 5);
