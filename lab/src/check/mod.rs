//! `cargo lab check N`: does the learner's workshop produce the traces
//! lesson N expects?
//!
//! - [`spec`]: the `check.yaml` format (requests to send, expected shape).
//! - [`scenario`]: sends the requests and fetches the traces (network).
//! - [`engine`]: compares expected and actual, in memory, into findings.
//! - [`whole_trace`]: all services present? split-off traces? orphans?
//! - [`matching`]: one expected span against the spans of a trace.
//! - [`sampling`]: the sampled share of requests, and whole sampled traces.
//! - [`diagnosis`]: each finding's likely cause and fix.
//! - [`report`]: prints expected vs actual side by side, then the findings.

pub mod diagnosis;
pub mod engine;
pub mod matching;
pub mod report;
pub mod sampling;
pub mod scenario;
pub mod spec;
pub mod whole_trace;

use std::path::Path;

use crate::lessons;
use crate::progress::Progress;
use crate::style::Style;
use scenario::CheckOptions;
use spec::Spec;

/// Runs lesson `which`'s check, prints the report, records a pass.
/// Returns whether it passed.
pub async fn run(root: &Path, which: &str, options: &CheckOptions) -> anyhow::Result<bool> {
    let lesson = lessons::find(root, which)?;
    if !lesson.has_check() {
        anyhow::bail!(
            "lesson {} has no automatic check (no check.yaml)",
            lesson.slug
        );
    }
    let spec = Spec::load(&lesson.check_file())?;
    let style = Style::for_stdout();
    println!(
        "{}",
        style.bold(&format!("Lesson {:02}: {}", lesson.number, spec.title))
    );
    let observations =
        scenario::observe(&spec, options, |line| println!("{}", style.dim(&line))).await?;
    let report = engine::evaluate(&spec, &observations);
    println!();
    print!("{}", report::render(&report, style));
    if report.passed() {
        let mut progress = Progress::load(root)?;
        progress.mark_done(&lesson.slug);
        progress.save(root)?;
        println!(
            "Lesson {:02} is done. `cargo lab list` shows what is next.",
            lesson.number
        );
    } else {
        println!("Stuck? `cargo lab hint {}` gives a hint.", lesson.number);
    }
    Ok(report.passed())
}
