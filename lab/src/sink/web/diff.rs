//! `/diff/{a}/{b}`: two traces compared, the same comparison as
//! `cargo lab diff` ([`crate::compare`]); `/diff?a=..&b=..` (the list's
//! form) redirects there.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};

use super::html::{self, esc};
use crate::compare::{self, Diff};
use crate::sink::otlp::SharedStore;

pub async fn pick(Query(params): Query<HashMap<String, String>>) -> Response {
    let a = params.get("a").map(|s| s.trim()).unwrap_or("");
    let b = params.get("b").map(|s| s.trim()).unwrap_or("");
    let valid = |id: &str| crate::model::TraceId::parse(id).ok();
    match (valid(a), valid(b)) {
        (Some(a), Some(b)) => Redirect::to(&format!("/diff/{a}/{b}")).into_response(),
        _ => html::not_found("Pick two traces in the list (columns a and b) to compare them."),
    }
}

pub async fn page(
    State(store): State<SharedStore>,
    Path((a, b)): Path<(String, String)>,
) -> Response {
    let a = match super::find(&store, &a) {
        Ok(trace) => trace,
        Err(message) => return html::not_found(&message),
    };
    let b = match super::find(&store, &b) {
        Ok(trace) => trace,
        Err(message) => return html::not_found(&message),
    };
    let diff = compare::compare(&a, &b);
    html::page("Two traces compared", &render(&diff)).into_response()
}

fn render(diff: &Diff) -> String {
    let mut out = format!(
        r#"<p>a <a href="/trace/{a}">{a}</a> · {}<br>b <a href="/trace/{b}">{b}</a> · {} ({})</p>
<p class="muted">Spans are matched by service and path from the root. Self time is a span's duration minus its children's: the row at the top is where the time went.</p>
<table id="pairs"><thead><tr><th>service</th><th>path</th><th class="num">a</th><th class="num">b</th><th class="num">Δ duration</th><th class="num">Δ self</th><th>status</th></tr></thead><tbody>
"#,
        html::duration(diff.a_duration_us),
        html::duration(diff.b_duration_us),
        compare::signed_duration(diff.b_duration_us as i64 - diff.a_duration_us as i64),
        a = diff.a,
        b = diff.b,
    );
    for pair in &diff.pairs {
        let delta_class = |d: i64| match d {
            d if d > 0 => "up",
            d if d < 0 => "down",
            _ => "muted",
        };
        let status = if pair.status_changed() {
            format!(
                r#"<span class="err">{:?} → {:?}</span>"#,
                pair.a.status, pair.b.status
            )
        } else {
            String::new()
        };
        out.push_str(&format!(
            r#"<tr class="pair"><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num {}">{}</td><td class="num {}">{}</td><td>{status}</td></tr>
"#,
            html::service_tag(&pair.service),
            esc(&compare::path_text(&pair.path)),
            html::duration(pair.a.duration_us),
            html::duration(pair.b.duration_us),
            delta_class(pair.duration_delta_us()),
            compare::signed_duration(pair.duration_delta_us()),
            delta_class(pair.self_delta_us()),
            compare::signed_duration(pair.self_delta_us()),
        ));
    }
    out.push_str("</tbody></table>\n");
    for (label, singles) in [("a", &diff.only_a), ("b", &diff.only_b)] {
        if singles.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "<h2>Only in {label} ({} spans)</h2><table class=\"only\"><tbody>\n",
            singles.len()
        ));
        for (service, path, count, total) in compare::grouped(singles) {
            out.push_str(&format!(
                r#"<tr class="only-{label}"><td class="num">×{count}</td><td>{}</td><td>{}</td><td class="num">{}</td></tr>
"#,
                html::service_tag(service),
                esc(&compare::path_text(path)),
                html::duration(total)
            ));
        }
        out.push_str("</tbody></table>\n");
    }
    out
}
