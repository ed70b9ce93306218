-- The sink's spans table (lab/src/sink/database.rs). The columns are those
-- of the OpenTelemetry Collector's `clickhouse` exporter, in snake_case;
-- docs/traces-as-data.md maps each to OTLP.
CREATE TABLE IF NOT EXISTS spans (
    timestamp           timestamptz NOT NULL,          -- span start
    trace_id            text        NOT NULL,          -- 32 lowercase hex digits
    span_id             text        NOT NULL,          -- 16 lowercase hex digits
    parent_span_id      text        NOT NULL DEFAULT '', -- '' for a root
    trace_state         text        NOT NULL DEFAULT '',
    span_name           text        NOT NULL,
    span_kind           text        NOT NULL,          -- SPAN_KIND_SERVER, ...
    service_name        text        NOT NULL,
    resource_attributes jsonb       NOT NULL DEFAULT '{}',
    scope_name          text        NOT NULL DEFAULT '',
    span_attributes     jsonb       NOT NULL DEFAULT '{}',
    duration_ns         bigint      NOT NULL,
    status_code         text        NOT NULL,          -- STATUS_CODE_UNSET|OK|ERROR
    status_message      text        NOT NULL DEFAULT '',
    events              jsonb       NOT NULL DEFAULT '[]', -- [{timestamp, name, attributes}]
    links               jsonb       NOT NULL DEFAULT '[]', -- [{trace_id, span_id}]
    -- A span an exporter sends twice is stored once; the same index serves
    -- the self-join from a span to its parent (trace_id, parent_span_id).
    PRIMARY KEY (trace_id, span_id)
);
-- Time windows (stats, retention) and per-service questions.
CREATE INDEX IF NOT EXISTS spans_timestamp ON spans (timestamp);
CREATE INDEX IF NOT EXISTS spans_service_kind ON spans (service_name, span_kind, timestamp);
