-- One batch of spans (lab/src/sink/database.rs): each column arrives as an
-- array; UNNEST zips them back into rows. JSON travels as text and is cast.
INSERT INTO spans (
    timestamp, trace_id, span_id, parent_span_id, trace_state, span_name,
    span_kind, service_name, resource_attributes, scope_name, span_attributes,
    duration_ns, status_code, status_message, events, links)
SELECT 'epoch'::timestamptz + r.start_us * interval '1 microsecond',
       r.trace_id, r.span_id, r.parent_span_id, r.trace_state, r.span_name,
       r.span_kind, r.service_name, r.resource_attributes::jsonb, r.scope_name,
       r.span_attributes::jsonb, r.duration_ns, r.status_code, r.status_message,
       r.events::jsonb, r.links::jsonb
FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
            $12::int8[], $13::text[], $14::text[], $15::text[], $16::text[])
     AS r(start_us, trace_id, span_id, parent_span_id, trace_state, span_name,
          span_kind, service_name, resource_attributes, scope_name, span_attributes,
          duration_ns, status_code, status_message, events, links)
ON CONFLICT (trace_id, span_id) DO NOTHING;
