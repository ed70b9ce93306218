//! The pieces every page shares: escaping, the page shell with its inline
//! stylesheet (no CDN: the page works offline), a colour per service, and
//! the 404 page.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::model::Trace;

/// Escapes text for HTML content and attribute values. Every value that
/// comes from a span goes through here: span data is whatever a service
/// sent, `<script>` included.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A stable colour for a service, the same on every page.
pub fn colour(service: &str) -> String {
    let hash = service
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
    format!("hsl({}, 60%, 45%)", hash % 360)
}

/// `<span class="svc">` with the service's colour dot.
pub fn service_tag(service: &str) -> String {
    format!(
        r#"<span class="svc"><i class="dot" style="background:{}"></i>{}</span>"#,
        colour(service),
        esc(service)
    )
}

/// The `<option>`s of a service filter, `selected` marked.
pub fn service_options(services: &[String], selected: &str) -> String {
    services
        .iter()
        .map(|s| {
            let mark = if s == selected { " selected" } else { "" };
            format!(r#"<option value="{0}"{mark}>{0}</option>"#, esc(s))
        })
        .collect()
}

/// `12.3 ms`, `1.52 s`: the terminal's duration format.
pub fn duration(us: u64) -> String {
    crate::style::duration(us)
}

/// The root operation of a trace: its earliest root span's service and name.
pub fn root_label(trace: &Trace) -> (String, String) {
    let mut roots = trace.roots();
    roots.sort_by_key(|s| s.start_us);
    match roots.first() {
        Some(root) => (root.service().to_string(), root.name.clone()),
        None => (String::new(), "(no spans)".to_string()),
    }
}

/// A whole page: navigation, title, body.
pub fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · lab sink</title>
<style>{CSS}</style></head>
<body><nav><b>lab sink</b> <a href="/">traces</a> <a href="/map">service map</a> <a href="/operations">operations</a></nav>
<main><h1>{title}</h1>
{body}
</main></body></html>
"#,
        title = esc(title),
    ))
}

/// The 404 page: for unknown paths and for ids that are malformed or unknown.
pub fn not_found(message: &str) -> Response {
    let body = format!(
        r#"<p class="notfound">{}</p><p>Spans arrive a few seconds after a request (batch export). <a href="/">Recent traces</a></p>"#,
        esc(message)
    );
    (StatusCode::NOT_FOUND, page("Not found", &body)).into_response()
}

const CSS: &str = "
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
nav{background:#263238;color:#fff;padding:8px 16px}nav a{color:#cfd8dc;margin-left:16px}
main{padding:8px 16px}h1{font-size:18px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #e0e0e0;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.svc{white-space:nowrap}.dot{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:4px}
.err{color:#c62828;font-weight:bold}.muted{color:#777}.notfound{font-size:16px}
.wf details{border-bottom:1px solid #eee}.wf summary{display:flex;cursor:pointer;list-style:none;align-items:center}
.wf summary::-webkit-details-marker{display:none}
.label{flex:0 0 38%;box-sizing:border-box;overflow:hidden;white-space:nowrap;text-overflow:ellipsis}
.track{flex:1;position:relative;height:18px;background:#f0f0f0}
.bar{position:absolute;top:3px;height:12px;min-width:2px;border-radius:2px}
.bar.error{outline:2px solid #c62828}
.resp{position:absolute;top:0;bottom:0;border-left:2px dashed #555}
.dur{flex:0 0 5.5em;text-align:right;font-size:11px;color:#444;font-variant-numeric:tabular-nums}
.kind{font-size:11px;color:#777}
.axis{display:flex;font-size:11px;color:#777;border-bottom:1px solid #ccc}
.axis .track{background:none}.tick{position:absolute;top:1px;border-left:1px solid #bbb;padding-left:2px;white-space:nowrap}
.tick.last{transform:translateX(-100%);border-left:none;border-right:1px solid #bbb;padding:0 2px 0 0}
.late .bar{opacity:.6;background-image:repeating-linear-gradient(45deg,transparent 0 4px,#fff8 4px 8px)}
.late-tag{background:#fff3e0;color:#e65100;border:1px solid #ffb74d;border-radius:3px;font-size:11px;padding:0 4px;margin-left:6px}
.detail{padding:4px 8px 8px 40px;background:#fff}.detail table{width:auto;font-size:13px}
.up{color:#c62828}.down{color:#2e7d32}
form.filters{margin:8px 0}form.filters input{width:6em}
svg text{font-size:12px}svg .edge-label{text-anchor:middle}
";
