-- LESSON 19, question 1: the slowest database queries, with their text.
--
-- One row per service and statement (a CLIENT span with `db.system.name`
-- is one database call; `db.query.text` is its statement, with $1
-- placeholders, so one statement groups all its calls).
-- Columns: service, query, calls, p95_ms (the 95th percentile of the
-- calls' durations, in milliseconds). Slowest (highest p95_ms) first.
-- Try it: cargo lab sql -f lessons/19-traces-as-data/queries/slow-queries.sql
SELECT service_name                        AS service,
       span_attributes ->> 'db.query.text' AS query,
       count(*)                            AS calls,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ns) / 1e6 AS p95_ms
FROM spans
WHERE span_kind = 'SPAN_KIND_CLIENT'
  AND span_attributes ? 'db.system.name'
GROUP BY 1, 2
ORDER BY p95_ms DESC;
