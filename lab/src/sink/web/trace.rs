//! `/trace/{id}`: the waterfall. One row per span in tree order, indented by
//! depth, its bar placed to scale on the trace's timeline, coloured by
//! service. A dashed line marks when the root span ended (the response was
//! sent); spans that ended after it are marked "after the response", since
//! work after the response (an outbox relay, a consumer) is easy to miss.
//! Each row is a `<details>`: click it for attributes, events, status, links.
//! Each row names the span's kind; its duration stands in a column of its
//! own, right of the track, so no label ever covers a bar; an axis above
//! the rows gives the time since the trace began.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};

use super::html::{self, esc};
use crate::model::{Attribute, Span, Status, Trace};
use crate::sink::otlp::SharedStore;
use crate::tree;

pub async fn page(State(store): State<SharedStore>, Path(id): Path<String>) -> Response {
    match super::find(&store, &id) {
        Ok(trace) => render(&trace).into_response(),
        Err(message) => html::not_found(&message),
    }
}

fn render(trace: &Trace) -> axum::response::Html<String> {
    let t0 = trace.start_us();
    let total = trace.duration_us().max(1) as f64;
    let percent = |us: u64| us.saturating_sub(t0) as f64 * 100.0 / total;
    let mut roots = trace.roots();
    roots.sort_by_key(|s| s.start_us);
    let response_at = roots.first().map(|r| r.end_us());
    let (root_service, root_name) = html::root_label(trace);

    let mut body = format!(
        r#"<p>{} · {} spans · {} services · {}
<button type="button" id="toggle">open/close all</button></p>
<div class="wf" id="waterfall">
{axis}"#,
        esc(&format!("{root_service} {root_name}")),
        trace.spans.len(),
        trace.services().len(),
        html::duration(trace.duration_us()),
        axis = axis(trace.duration_us()),
    );
    for (depth, span) in tree::depth_first(trace) {
        let late = response_at.is_some_and(|end| span.end_us() > end);
        let left = percent(span.start_us);
        let width = (span.duration_us as f64 * 100.0 / total).max(0.2);
        let colour = html::colour(span.service());
        let mut label = format!(
            r#"<span class="label" style="padding-left:{}px">{} {} <span class="kind">{}</span>"#,
            depth * 14,
            html::service_tag(span.service()),
            esc(&span.name),
            esc(span.kind.as_str()),
        );
        if span.status == Status::Error {
            label.push_str(r#" <span class="err">✗</span>"#);
        }
        if late {
            label.push_str(r#"<span class="late-tag">after the response</span>"#);
        }
        label.push_str("</span>");
        let response_line = response_at
            .map(|end| {
                format!(
                    r#"<span class="resp" style="left:{:.3}%"></span>"#,
                    percent(end)
                )
            })
            .unwrap_or_default();
        body.push_str(&format!(
            r#"<details class="span{late}" id="span-{id}" data-service="{service}"><summary>{label}<span class="track">{response_line}<span class="bar{error}" style="left:{left:.3}%;width:{width:.3}%;background:{colour}"></span></span><span class="dur">{duration}</span></summary>
{detail}</details>
"#,
            late = if late { " late" } else { "" },
            id = esc(&span.span_id),
            service = esc(span.service()),
            error = if span.status == Status::Error { " error" } else { "" },
            duration = html::duration(span.duration_us),
            detail = detail(span, t0),
        ));
    }
    body.push_str(
        "</div>\n<script>document.getElementById('toggle').onclick=function(){\
         var d=[].slice.call(document.querySelectorAll('#waterfall details'));\
         var open=!d.every(function(x){return x.open});d.forEach(function(x){x.open=open})};</script>",
    );
    html::page(&format!("Trace {}", trace.trace_id), &body)
}

/// The time axis above the rows: five ticks from the trace's start to its
/// end, laid out like a row (an empty label column, the track, the
/// duration column) so each tick stands over the same point of every bar.
fn axis(total_us: u64) -> String {
    let ticks: String = (0..=4)
        .map(|i| {
            let at = total_us * i / 4;
            // The last label ends at its tick instead of starting there.
            let class = if i == 4 { "tick last" } else { "tick" };
            format!(
                r#"<span class="{class}" style="left:{}%">{}</span>"#,
                i * 25,
                html::duration(at)
            )
        })
        .collect();
    format!(
        r#"<div class="axis" id="axis"><span class="label"></span><span class="track">{ticks}</span><span class="dur"></span></div>
"#
    )
}

/// The hidden part of a row: everything the span carries.
fn detail(span: &Span, t0: u64) -> String {
    let status = match span.status {
        Status::Unset => "unset".to_string(),
        Status::Ok => "OK".to_string(),
        Status::Error => format!(
            r#"<span class="err">ERROR</span> {}"#,
            esc(span.status_message.as_deref().unwrap_or(""))
        ),
    };
    let mut out = format!(
        r#"<div class="detail"><table>
<tr><th>span</th><td><code>{}</code> · {} · starts at +{} · parent <code>{}</code></td></tr>
<tr><th>status</th><td>{status}</td></tr>
"#,
        esc(&span.span_id),
        esc(span.kind.as_str()),
        html::duration(span.start_us.saturating_sub(t0)),
        esc(span.parent_span_id.as_deref().unwrap_or("none")),
    );
    out.push_str(&format!(
        "<tr><th>attributes</th><td>{}</td></tr>\n",
        attributes(&span.attributes)
    ));
    if !span.events.is_empty() {
        let events: Vec<String> = span
            .events
            .iter()
            .map(|e| {
                format!(
                    "<li>+{} <b>{}</b> {}</li>",
                    html::duration(e.time_us.saturating_sub(span.start_us)),
                    esc(&e.name),
                    attributes(&e.attributes)
                )
            })
            .collect();
        out.push_str(&format!(
            "<tr><th>events</th><td><ul>{}</ul></td></tr>\n",
            events.join("")
        ));
    }
    if !span.links.is_empty() {
        let links: Vec<String> = span
            .links
            .iter()
            .map(|l| {
                format!(
                    r#"<li><a href="/trace/{0}#span-{1}">{0} / {1}</a></li>"#,
                    esc(l.trace_id.as_str()),
                    esc(&l.span_id)
                )
            })
            .collect();
        out.push_str(&format!(
            "<tr><th>links</th><td><ul>{}</ul></td></tr>\n",
            links.join("")
        ));
    }
    out.push_str(&format!(
        "<tr><th>process</th><td>{} {}</td></tr>\n</table></div>",
        esc(span.service()),
        attributes(&span.process.tags)
    ));
    out
}

fn attributes(attributes: &[Attribute]) -> String {
    if attributes.is_empty() {
        return String::new();
    }
    let rows: Vec<String> = attributes
        .iter()
        .map(|a| {
            format!(
                r#"<tr class="attr"><td>{}</td><td>{}</td></tr>"#,
                esc(&a.key),
                esc(&a.value.to_string())
            )
        })
        .collect();
    format!("<table>{}</table>", rows.join(""))
}
