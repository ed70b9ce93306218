//! The small commands: `list`, `hint`, `trace` and `diff` (`logs` has its
//! own module, [`crate::logs`]). Each returns the text to print, so tests can
//! call them without a terminal.

use std::path::Path;

use crate::client::JaegerClient;
use crate::lessons;
use crate::model::{Trace, TraceId};
use crate::progress::{Progress, Result as LessonResult};
use crate::style::Style;
use crate::tree::{self, TreeOptions};

/// `cargo lab list`: every lesson with its last result and when. Runs nothing.
pub fn list(root: &Path, style: Style) -> anyhow::Result<String> {
    let lessons = lessons::all(root);
    if lessons.is_empty() {
        anyhow::bail!("no lessons found under {}", root.join("lessons").display());
    }
    let progress = Progress::load(root)?;
    let active = crate::stack::active_lesson(root);
    let now = crate::now_us() / 1_000_000;
    let mut out = String::new();
    let mut next = None;
    for lesson in &lessons {
        let last = progress.last(&lesson.slug);
        let (mark, state) = match last.map(|l| l.result) {
            Some(LessonResult::Passed) => (style.green("✓"), "passed".to_string()),
            Some(LessonResult::Failed) => (style.red("✗"), "failed".to_string()),
            Some(LessonResult::Started) => (style.yellow("▸"), "started".to_string()),
            None => (style.dim("·"), "not started".to_string()),
        };
        let when = last.map(|l| format!(" {}", ago(now.saturating_sub(l.at))));
        let mut line = format!(
            "{mark} {:02}  {:<34} {}",
            lesson.number,
            lesson.title(),
            style.dim(&format!("{state}{}", when.unwrap_or_default()))
        );
        if active.as_deref() == Some(lesson.slug.as_str()) {
            line.push_str(&style.dim("  (started: the active lesson)"));
        }
        if !lesson.has_check() {
            line.push_str(&style.dim("  (no automatic check)"));
        } else if last.map(|l| l.result) != Some(LessonResult::Passed) && next.is_none() {
            next = Some((
                lesson.number,
                lesson.is_exercise() && !lesson.exercise_pending(),
            ));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let checks = lessons.iter().filter(|l| l.has_check()).count();
    let passed = lessons
        .iter()
        .filter(|l| {
            l.has_check() && progress.last(&l.slug).map(|x| x.result) == Some(LessonResult::Passed)
        })
        .count();
    out.push_str(&format!("\n{passed} of {checks} checks pass."));
    match next {
        Some((n, true)) => out.push_str(&format!(" Next: cargo lab start {n:02}")),
        Some((n, false)) => out.push_str(&format!(" Next: cargo lab check {n:02}")),
        None => {}
    }
    out.push('\n');
    Ok(out)
}

/// `3 min ago`, `2 h ago`, `4 days ago`.
fn ago(seconds: u64) -> String {
    match seconds {
        0..60 => "just now".to_string(),
        60..3600 => format!("{} min ago", seconds / 60),
        3600..86400 => format!("{} h ago", seconds / 3600),
        _ => format!("{} days ago", seconds / 86400),
    }
}

/// `cargo lab hint N`: the next hint not yet shown (remembered).
pub fn hint(root: &Path, which: &str, reset: bool) -> anyhow::Result<String> {
    let lesson = lessons::find(root, which)?;
    let mut progress = Progress::load(root)?;
    if reset {
        progress.reset_hints(&lesson.slug);
        progress.save(root)?;
        return Ok(format!(
            "Hints of lesson {:02} start over.\n",
            lesson.number
        ));
    }
    let hints = lesson.hints();
    let Some(index) = progress.next_hint(&lesson.slug, hints.len()) else {
        return Ok(format!("Lesson {:02} has no hints.\n", lesson.number));
    };
    progress.save(root)?;
    let mut out = format!(
        "Hint {} of {} for lesson {:02} ({}):\n\n{}\n\n",
        index + 1,
        hints.len(),
        lesson.number,
        lesson.title(),
        hints[index]
    );
    if index + 1 < hints.len() {
        out.push_str(&format!(
            "Run `cargo lab hint {:02}` again for the next one.\n",
            lesson.number
        ));
    } else {
        out.push_str(&format!(
            "That was the last hint. `cargo lab hint {:02} --reset` starts over.\n",
            lesson.number
        ));
    }
    Ok(out)
}

/// `cargo lab trace <id|latest>`: fetches and renders one trace.
pub async fn trace(
    jaeger: &str,
    which: &str,
    service: &str,
    options: &TreeOptions,
    style: Style,
) -> anyhow::Result<String> {
    let client = JaegerClient::new(jaeger);
    let trace = fetch(&client, which, service).await?;
    let mut out = tree::render(&trace, options, style);
    out.push_str(&format!(
        "\n{}\n",
        style.dim(&format!("open: {}", client.trace_url(&trace.trace_id)))
    ));
    Ok(out)
}

/// `cargo lab diff <a> <b>`: fetches two traces and compares them span by span.
pub async fn diff(jaeger: &str, a: &str, b: &str, style: Style) -> anyhow::Result<String> {
    let client = JaegerClient::new(jaeger);
    let a = fetch(&client, a, "api-gateway").await?;
    let b = fetch(&client, b, "api-gateway").await?;
    let diff = crate::compare::compare(&a, &b);
    let mut out = crate::compare::render(&diff, style);
    out.push_str(&format!(
        "\n{}\n",
        style.dim(&format!(
            "open: {}/diff/{}/{} (in the sink's web page)",
            client.base(),
            diff.a,
            diff.b
        ))
    ));
    Ok(out)
}

async fn fetch(client: &JaegerClient, which: &str, service: &str) -> anyhow::Result<Trace> {
    if which == "latest" {
        let newest = client.find(service, 20, None).await?.into_iter().next();
        return newest.ok_or_else(|| {
            anyhow::anyhow!(
                "{} has no traces of {service} yet. Send a request first:\n  \
                 curl -X POST localhost:8080/orders -H 'content-type: application/json' \
                 -d '{{\"user_id\":\"1\",\"product\":\"Laptop\",\"quantity\":1}}'\n\
                 Spans arrive a few seconds later (they are exported in batches).",
                client.base()
            )
        });
    }
    let id = TraceId::parse(which)?;
    client.trace(&id).await?.ok_or_else(|| {
        anyhow::anyhow!(
            "trace {id} is not (yet) at {}. Spans arrive a few seconds after the request \
             (batch export): try again. A request the sampler dropped (its `traceresponse` \
             header ends in -00) never shows up; if a sampled one never does, `cargo lab check \
             01` diagnoses the export path.",
            client.base()
        )
    })
}
