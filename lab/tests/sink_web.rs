//! The sink's web page: a sink on ephemeral ports gets a few traces over
//! OTLP/HTTP, then each page is read over plain HTTP and, when `chromium` is
//! on PATH, rendered by headless Chromium (`--dump-dom`), which proves the
//! pages parse and show in a real browser.

mod common;

use std::process::Command;
use std::time::Instant;

use common::*;
use lab::model::{SpanKind, Trace};
use lab::sink::{start, RunningSink, SinkConfig};

const SLOW_ID: &str = "5ee5ee5ee5ee5ee5ee5ee5ee5ee5ee5e";

/// Sends a trace to the sink the way an exporter would (OTLP/JSON).
async fn send(sink: &RunningSink, trace: &Trace) {
    send_otlp(sink.http_addr, trace).await;
}

async fn get(sink: &RunningSink, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("http://{}{path}", sink.query_addr))
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("text/html"),
        "{path}: {content_type}"
    );
    (status, response.text().await.unwrap())
}

/// The healthy trace with the outbox relay's spans after the response, an
/// attribute that tries to inject a script, and a slower copy under another id.
fn traces() -> (Trace, Trace) {
    let mut trace = healthy_order();
    let mut relay = span(
        40,
        Some(3),
        "order-service",
        "send orders",
        SpanKind::Producer,
        35.0,
        2.0,
    );
    relay.attributes.push(attr("messaging.system", s("redis")));
    trace.spans.push(relay);
    find_mut(&mut trace, "user-service", "GET /users/{id}")
        .attributes
        .push(attr("user.name", s("<script>alert('x')</script>")));
    let mut slow = healthy_order();
    slow.trace_id = trace_id(SLOW_ID);
    for span in slow.spans.iter_mut() {
        span.trace_id = slow.trace_id.clone();
        span.start_us += 60_000_000;
    }
    find_mut(&mut slow, "inventory-service", "UPDATE products").duration_us += 900_000;
    (trace, slow)
}

#[tokio::test]
async fn pages_render_over_http_and_in_chromium() {
    let started = Instant::now();
    let sink = start(SinkConfig::ephemeral()).await.unwrap();
    let (trace, slow) = traces();
    send(&sink, &trace).await;
    send(&sink, &slow).await;

    // The list: both traces, newest (the slow one) first; filters work.
    let (status, list) = get(&sink, "/").await;
    assert_eq!(status, 200);
    let (first, second) = (list.find(SLOW_ID).unwrap(), list.find(TRACE_ID).unwrap());
    assert!(first < second, "newest first");
    assert!(list.contains("POST /orders") && list.contains("inventory-service"));
    // Each row lists its services in one order (by name), whatever order
    // their spans arrived in.
    let row = &list[second..];
    let row = &row[..row.find("</tr>").unwrap()];
    let at = |service: &str| row.find(&format!("</i>{service}</span>")).unwrap();
    assert!(at("api-gateway") < at("inventory-service"), "{row}");
    assert!(at("inventory-service") < at("order-service"), "{row}");
    let (_, filtered) = get(&sink, "/?min_ms=500").await;
    assert!(filtered.contains(SLOW_ID) && !filtered.contains(TRACE_ID));
    let (_, filtered) = get(&sink, "/?service=nobody").await;
    assert!(!filtered.contains(TRACE_ID) && filtered.contains("No traces"));

    // The waterfall: a bar per span, the late span marked, values escaped.
    let (status, waterfall) = get(&sink, &format!("/trace/{TRACE_ID}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        waterfall.matches(r#"<span class="bar"#).count(),
        trace.spans.len()
    );
    // The relay's span (and the consumer's, in the fixture) ended after the
    // root: marked as such.
    assert!(waterfall.matches("after the response").count() >= 1);
    assert!(waterfall.contains(r#"<details class="span late" id="span-0000000000000028""#));
    assert!(
        !waterfall.contains("<script>alert"),
        "span values are escaped"
    );
    assert!(waterfall.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(waterfall.contains("http.route") && waterfall.contains("cache.hit"));
    // Every row names its kind; the duration stands after the track, never
    // on it; the axis runs from 0 to the trace's duration.
    assert_eq!(
        waterfall.matches(r#"<span class="kind">"#).count(),
        trace.spans.len()
    );
    assert!(waterfall.contains(r#"<span class="kind">server</span>"#));
    assert_eq!(
        waterfall
            .matches(r#""></span></span><span class="dur">"#)
            .count(),
        trace.spans.len(),
        "the duration column follows each bar's track"
    );
    let axis = &waterfall[waterfall.find(r#"id="axis""#).expect("an axis")..];
    let axis = &axis[..axis.find("</div>").unwrap()];
    assert_eq!(axis.matches(r#"class="tick"#).count(), 5, "{axis}");
    assert!(axis.contains(">0 µs<"), "{axis}");
    let end = lab::style::duration(trace.duration_us());
    assert!(axis.contains(&format!(">{end}<")), "{end} in {axis}");

    // The map: the gateway calls order-service, which calls the others.
    let (_, map) = get(&sink, "/map").await;
    for (caller, callee) in [
        ("api-gateway", "order-service"),
        ("order-service", "user-service"),
        ("order-service", "inventory-service"),
        ("user-service", "postgresql"),
    ] {
        let edge = format!(r#"data-caller="{caller}" data-callee="{callee}""#);
        assert!(map.contains(&edge), "{edge} in {map}");
    }

    // The diff: the UPDATE that grew comes first.
    let (status, diff) = get(&sink, &format!("/diff/{TRACE_ID}/{SLOW_ID}")).await;
    assert_eq!(status, 200);
    let first_row = diff.split(r#"<tr class="pair">"#).nth(1).unwrap();
    assert!(first_row.contains("UPDATE products"), "{first_row}");
    assert!(diff.contains("Only in a (1 spans)"));

    // Unknown and malformed ids, unknown paths: 404 pages.
    for path in [
        "/trace/0123456789abcdef0123456789abcdef".to_string(),
        "/trace/not-a-trace-id".to_string(),
        format!("/diff/{TRACE_ID}/abc"),
        "/nowhere".to_string(),
    ] {
        let (status, body) = get(&sink, &path).await;
        assert_eq!(status, 404, "{path}");
        assert!(body.contains("Not found"), "{path}: {body}");
    }
    // Operations: RED per SERVER/CONSUMER operation over a window wide
    // enough for the fixtures' fixed timestamps; each percentile is a link
    // to a trace that has it.
    let (status, ops) = get(&sink, "/operations?since=1000000h").await;
    assert_eq!(status, 200);
    let row = ops
        .split("<tr class=\"operation\">")
        .find(|r| r.contains("api-gateway") && r.contains("POST /orders"))
        .unwrap_or_else(|| panic!("no api-gateway POST /orders row: {ops}"));
    assert!(
        row.contains(r#"<td class="num">2</td>"#),
        "two calls: {row}"
    );
    for percentile in ["p50", "p95", "p99"] {
        assert!(
            row.contains(&format!(r#"data-percentile="{percentile}" href="/trace/"#)),
            "{percentile} links to a trace: {row}"
        );
    }
    assert!(
        !ops.contains("CLIENT"),
        "only SERVER and CONSUMER operations"
    );
    let (_, recent) = get(&sink, "/operations").await;
    assert!(
        recent.contains("No SERVER or CONSUMER spans in the last 5m"),
        "{recent}"
    );
    let (_, bad) = get(&sink, "/operations?since=soon").await;
    assert!(bad.contains("is not a duration"), "{bad}");
    eprintln!("plain HTTP part: {:?}", started.elapsed());

    in_chromium(&sink, trace.spans.len()).await;
    sink.shutdown().await;
}

/// The same pages through headless Chromium, if installed.
async fn in_chromium(sink: &RunningSink, spans: usize) {
    if Command::new("chromium").arg("--version").output().is_err() {
        eprintln!(
            "sink_web: chromium is not on PATH, the browser part was skipped \
             (install it: apt-get install -y chromium)"
        );
        return;
    }
    let started = Instant::now();
    let base = format!("http://{}", sink.query_addr);
    let list = dump_dom(&format!("{base}/")).await;
    assert!(
        list.contains(&format!(r#"data-trace-id="{TRACE_ID}""#)),
        "{list}"
    );
    let waterfall = dump_dom(&format!("{base}/trace/{TRACE_ID}")).await;
    assert_eq!(
        waterfall.matches(r#"class="bar"#).count(),
        spans,
        "{waterfall}"
    );
    assert!(waterfall.contains("after the response"));
    // The escaped attribute is text in the DOM, never a script element.
    assert!(!waterfall.contains("<script>alert"));
    let map = dump_dom(&format!("{base}/map")).await;
    assert!(map.contains(r#"data-caller="api-gateway" data-callee="order-service""#));
    assert!(map.contains("<svg"));
    let ops = dump_dom(&format!("{base}/operations?since=1000000h")).await;
    assert!(
        ops.contains(r#"class="exemplar" data-percentile="p99" href="/trace/"#),
        "{ops}"
    );
    let missing = dump_dom(&format!("{base}/trace/0123456789abcdef0123456789abcdef")).await;
    assert!(missing.contains("is not in the sink"), "{missing}");
    eprintln!("chromium part: {:?}", started.elapsed());
}

/// `chromium --headless --dump-dom URL`: the DOM after the page loaded.
async fn dump_dom(url: &str) -> String {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || {
        let profile = tempfile::Builder::new()
            .prefix("lab-sink-web-chromium-")
            .tempdir()
            .unwrap();
        let output = Command::new("timeout")
            .args(["60", "chromium"])
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(["--dump-dom", &url])
            .output()
            .expect("run chromium");
        let dom = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(
            output.status.success() && dom.contains("</html>"),
            "chromium failed on {url}: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        dom
    })
    .await
    .unwrap()
}

#[test]
fn the_value_escape_covers_quotes_and_ampersands() {
    use lab::sink::web::html::esc;
    assert_eq!(
        esc(r#"<a href="x">&'"#),
        "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
    );
}
