//! The terminal form of a [`Diff`]: `cargo lab diff`.

use super::{grouped, path_text, signed_duration, Diff, Pair};
use crate::model::Status;
use crate::style::{self, Style};

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Unset => "unset",
        Status::Ok => "OK",
        Status::Error => "ERROR",
    }
}

/// Pairs worth a line: those whose time changed by at least this much.
const NOTABLE_US: i64 = 100;

/// The terminal form of `cargo lab diff`.
pub fn render(diff: &Diff, style: Style) -> String {
    let mut out = format!(
        "a {} · {}\nb {} · {}  ({})\n",
        style.bold(diff.a.as_str()),
        style::duration(diff.a_duration_us),
        style.bold(diff.b.as_str()),
        style::duration(diff.b_duration_us),
        signed_duration(diff.b_duration_us as i64 - diff.a_duration_us as i64)
    );
    let notable: Vec<&Pair> = diff
        .pairs
        .iter()
        .filter(|p| {
            p.self_delta_us().abs() >= NOTABLE_US || p.duration_delta_us().abs() >= NOTABLE_US
        })
        .collect();
    out.push_str(&format!(
        "\n{} spans in both; where the time went (self time = a span's duration minus its children's):\n",
        diff.pairs.len()
    ));
    if notable.is_empty() {
        out.push_str("  no span's time changed by 0.1 ms or more\n");
    }
    for pair in notable.iter().take(15) {
        let delta = signed_duration(pair.self_delta_us());
        let delta = if pair.self_delta_us() > 0 {
            style.red(&format!("{delta:>9}"))
        } else {
            style.green(&format!("{delta:>9}"))
        };
        out.push_str(&format!(
            "  {delta} self  {:>9} → {:<9} {}  {}\n",
            style::duration(pair.a.duration_us),
            style::duration(pair.b.duration_us),
            style.service(&pair.service),
            path_text(&pair.path)
        ));
    }
    if notable.len() > 15 {
        out.push_str(&format!("  … and {} more\n", notable.len() - 15));
    }
    for (label, singles) in [("a", &diff.only_a), ("b", &diff.only_b)] {
        if singles.is_empty() {
            continue;
        }
        out.push_str(&format!("\nonly in {label} ({} spans):\n", singles.len()));
        for (service, path, count, total) in grouped(singles) {
            let times = if count > 1 {
                format!("×{count} ")
            } else {
                String::new()
            };
            out.push_str(&format!(
                "  {times}{:>9}  {}  {}\n",
                style::duration(total),
                style.service(service),
                path_text(path)
            ));
        }
    }
    let changes: Vec<&Pair> = diff.status_changes().collect();
    if !changes.is_empty() {
        out.push_str("\nstatus changes:\n");
        for pair in changes {
            out.push_str(&format!(
                "  {} → {}  {}  {}\n",
                status_name(pair.a.status),
                style.red(status_name(pair.b.status)),
                style.service(&pair.service),
                path_text(&pair.path)
            ));
        }
    }
    out
}
