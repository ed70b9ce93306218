-- Run once by the postgres image, on the first start with an empty data volume
-- (mounted into /docker-entrypoint-initdb.d by docker-compose.yml).
-- One database per service; each service runs its own migrations (tables and
-- seed data) at start-up. `docker compose down -v` empties the volume, so the
-- next `up` runs this file again.
CREATE DATABASE orders;
CREATE DATABASE users;
CREATE DATABASE inventory;
