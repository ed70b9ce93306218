//! `/`: recent traces, newest first, filtered by `?service=` and `?min_ms=`.
//! Two radio columns pick traces for `/diff` (a plain form: no JS needed).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Html;

use super::html::{self, esc};
use crate::model::Status;
use crate::sink::otlp::{lock, SharedStore};

/// Rows shown at most.
const SHOWN: usize = 200;

pub async fn page(
    State(store): State<SharedStore>,
    Query(params): Query<HashMap<String, String>>,
) -> Html<String> {
    let service = params.get("service").map(|s| s.trim()).unwrap_or("");
    let min_ms_text = params.get("min_ms").map(|s| s.trim()).unwrap_or("");
    let min_ms = min_ms_text.parse::<f64>().ok().filter(|m| *m >= 0.0);
    let services = lock(&store).services();
    let traces: Vec<_> = super::recent(&store)
        .into_iter()
        .filter(|t| service.is_empty() || t.spans.iter().any(|s| s.service() == service))
        .filter(|t| min_ms.is_none_or(|m| t.duration_us() as f64 >= m * 1000.0))
        .take(SHOWN)
        .collect();

    let options = html::service_options(&services, service);
    let mut body = format!(
        r#"<form class="filters" method="get" action="/">
<label>service <select name="service"><option value="">(any)</option>{options}</select></label>
<label>min duration <input name="min_ms" value="{}" placeholder="ms"> ms</label>
<button>search</button></form>
"#,
        esc(min_ms_text)
    );
    if !min_ms_text.is_empty() && min_ms.is_none() {
        body.push_str(r#"<p class="err">min_ms must be a number of milliseconds; ignored.</p>"#);
    }
    if traces.is_empty() {
        body.push_str(
            "<p>No traces yet. Send a request (e.g. <code>curl -X POST localhost:8080/orders ...</code>); \
             spans arrive a few seconds later.</p>",
        );
        return html::page("Recent traces", &body);
    }
    body.push_str(
        r#"<form method="get" action="/diff"><table id="traces"><thead><tr>
<th>a</th><th>b</th><th>started (UTC)</th><th>root</th><th>services</th>
<th class="num">spans</th><th class="num">duration</th><th>errors</th></tr></thead><tbody>
"#,
    );
    for trace in &traces {
        let id = trace.trace_id.as_str();
        let (root_service, root_name) = html::root_label(trace);
        // In one order on every row (by name), so a column of them reads
        // down the page: a service missing from one trace stands out.
        let mut services = trace.services();
        services.sort_unstable();
        let services: Vec<String> = services.into_iter().map(html::service_tag).collect();
        let errors = trace
            .spans
            .iter()
            .filter(|s| s.status == Status::Error)
            .count();
        let error_mark = if errors > 0 {
            format!(
                r#"<span class="err" title="{errors} spans with status ERROR">✗ {errors}</span>"#
            )
        } else {
            String::new()
        };
        let started = crate::time::format_us(trace.start_us());
        body.push_str(&format!(
            r#"<tr class="trace" data-trace-id="{id}"><td><input type="radio" name="a" value="{id}"></td><td><input type="radio" name="b" value="{id}"></td>
<td class="muted">{}</td><td>{} <a href="/trace/{id}">{}</a></td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td>{error_mark}</td></tr>
"#,
            started.get(11..23).unwrap_or(&started),
            html::service_tag(&root_service),
            esc(&root_name),
            services.join(" "),
            trace.spans.len(),
            html::duration(trace.duration_us()),
        ));
    }
    body.push_str("</tbody></table><p><button>compare a with b</button></p></form>");
    html::page("Recent traces", &body)
}
