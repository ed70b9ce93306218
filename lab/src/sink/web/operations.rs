//! `/operations`: RED per operation ([`crate::red`]) over a chosen window
//! (`?since=5m`, one service with `?service=`): calls per second, the error
//! share, and p50/p95/p99, each a link to the trace of the call at that
//! percentile (an exemplar). The same table as `cargo lab stats`.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Html;

use super::html::{self, esc};
use crate::red;
use crate::sink::otlp::{lock, SharedStore};

pub async fn page(
    State(store): State<SharedStore>,
    Query(params): Query<HashMap<String, String>>,
) -> Html<String> {
    let service = params.get("service").map(|s| s.trim()).unwrap_or("");
    let since_text = params.get("since").map(|s| s.trim()).unwrap_or("5m");
    let (since, since_text, bad_since) = match crate::load::parse_duration(since_text) {
        Ok(d) if !d.is_zero() => (d, since_text, None),
        Ok(_) | Err(_) => (
            std::time::Duration::from_secs(300),
            "5m",
            Some(format!(
                "since={since_text:?} is not a duration like 30s, 5m or 1h; showing the last 5m."
            )),
        ),
    };
    let from_us = crate::now_us().saturating_sub(since.as_micros() as u64);
    let services = lock(&store).services();
    let traces: Vec<_> = super::recent(&store);
    let calls: Vec<red::Call> = red::calls(&traces)
        .into_iter()
        .filter(|c| c.start_us >= from_us && (service.is_empty() || c.service == service))
        .collect();
    let operations = red::operations(&calls, since.as_secs_f64(), 1.0);

    let options = html::service_options(&services, service);
    let mut body = format!(
        r#"<form class="filters" method="get" action="/operations">
<label>service <select name="service"><option value="">(any)</option>{options}</select></label>
<label>last <input name="since" value="{}" placeholder="5m"></label>
<button>show</button></form>
"#,
        esc(since_text)
    );
    if let Some(problem) = bad_since {
        body.push_str(&format!(r#"<p class="err">{}</p>"#, esc(&problem)));
    }
    if operations.is_empty() {
        body.push_str(&format!(
            "<p>No SERVER or CONSUMER spans in the last {}: send some traffic \
             (<code>cargo lab load</code>).</p>",
            esc(since_text)
        ));
        return html::page("Operations", &body);
    }
    body.push_str(&format!(
        r#"<p class="muted">Rate, errors and duration of each operation over the last {} (from the sink's memory; <code>cargo lab stats</code> prints the same from Postgres). Each percentile links to the trace of the call that has it.</p>
<table id="operations"><thead><tr><th>service</th><th>operation</th><th class="num">calls</th><th class="num">rate/s</th><th class="num">errors</th><th class="num">p50</th><th class="num">p95</th><th class="num">p99</th></tr></thead><tbody>
"#,
        esc(since_text)
    ));
    for op in &operations {
        let link = |p: &red::Percentile, which: &str| {
            format!(
                r#"<a class="exemplar" data-percentile="{which}" href="/trace/{}">{}</a>"#,
                esc(&p.trace_id),
                html::duration(p.us)
            )
        };
        let errors = format!("{:.1} %", op.error_share * 100.0);
        let errors = if op.errors > 0 {
            format!(r#"<span class="err">{errors}</span>"#)
        } else {
            errors
        };
        body.push_str(&format!(
            r#"<tr class="operation"><td>{}</td><td><span class="kind">{}</span> {}</td><td class="num">{}</td><td class="num">{:.2}</td><td class="num">{errors}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>
"#,
            html::service_tag(&op.service),
            op.kind.to_uppercase(),
            esc(&op.operation),
            op.calls,
            op.rate_per_s,
            link(&op.p50, "p50"),
            link(&op.p95, "p95"),
            link(&op.p99, "p99"),
        ));
    }
    body.push_str("</tbody></table>");
    html::page("Operations", &body)
}
