-- LESSON 19, question 2: which service calls which, how often, how fast,
-- how often it fails.
--
-- A call is a span whose parent span belongs to another service: the
-- callee's SERVER span under the caller's CLIENT span, or a CONSUMER span
-- under the PRODUCER span that sent its message.
-- Columns: caller, callee, calls, p95_ms (the 95th percentile of the
-- callee's span durations, in milliseconds), errors (calls whose callee
-- span has status ERROR). One row per caller and callee.
-- Try it: cargo lab sql -f lessons/19-traces-as-data/queries/dependencies.sql
SELECT parent.service_name AS caller,
       child.service_name  AS callee,
       count(*)            AS calls,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY child.duration_ns) / 1e6 AS p95_ms,
       count(*) FILTER (WHERE child.status_code = 'STATUS_CODE_ERROR') AS errors
FROM spans AS child
JOIN spans AS parent
  ON parent.trace_id = child.trace_id
 AND parent.span_id  = child.parent_span_id
WHERE parent.service_name <> child.service_name
GROUP BY 1, 2
ORDER BY 1, 2;
