-- LESSON 19, question 3: where did each failure start?
--
-- For every trace with a span of status ERROR, the deepest such span (the
-- one furthest from the trace's root). The root is the span whose parent
-- is not in the table: `cargo lab check` continues its requests from a
-- traceparent of its own, so not every root has an empty parent_span_id.
-- Columns: trace_id, service, span_name. One row per failed trace.
-- Try it: cargo lab sql -f lessons/19-traces-as-data/queries/failure-origins.sql
WITH RECURSIVE tree AS (
    SELECT trace_id, span_id, service_name, span_name, status_code, 0 AS depth
    FROM spans AS s
    WHERE NOT EXISTS (SELECT 1 FROM spans AS p
                      WHERE p.trace_id = s.trace_id AND p.span_id = s.parent_span_id)
  UNION ALL
    SELECT c.trace_id, c.span_id, c.service_name, c.span_name, c.status_code, t.depth + 1
    FROM spans AS c
    JOIN tree AS t ON c.trace_id = t.trace_id AND c.parent_span_id = t.span_id
)
SELECT DISTINCT ON (trace_id)
       trace_id,
       service_name AS service,
       span_name
FROM tree
WHERE status_code = 'STATUS_CODE_ERROR'
ORDER BY trace_id, depth DESC;
