-- Users of the shop. `tier` is something a lesson can sample or filter on.
CREATE TABLE users (
    id      BIGINT PRIMARY KEY,
    name    TEXT NOT NULL,
    email   TEXT NOT NULL UNIQUE,
    tier    TEXT NOT NULL CHECK (tier IN ('free', 'premium', 'enterprise'))
);

INSERT INTO users (id, name, email, tier) VALUES
    (1,  'Ada Lovelace',      'ada@example.com',      'enterprise'),
    (2,  'Alan Turing',       'alan@example.com',     'premium'),
    (3,  'Grace Hopper',      'grace@example.com',    'enterprise'),
    (4,  'Edsger Dijkstra',   'edsger@example.com',   'free'),
    (5,  'Barbara Liskov',    'barbara@example.com',  'premium'),
    (6,  'Donald Knuth',      'donald@example.com',   'free'),
    (7,  'Margaret Hamilton', 'margaret@example.com', 'enterprise'),
    (8,  'Ken Thompson',      'ken@example.com',      'free'),
    (9,  'Frances Allen',     'frances@example.com',  'premium'),
    (10, 'Leslie Lamport',    'leslie@example.com',   'free');
