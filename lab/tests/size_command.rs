//! `cargo lab size` run as the learner runs it: the real binary, its output
//! and its exit status. Needs no stack: the command is arithmetic alone.

use std::process::{Command, Output};

fn lab_size(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lab"))
        .arg("size")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run the lab binary")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn prints_the_estimate_and_the_numbers_behind_it() {
    let out = lab_size(&[
        "--traces-per-second",
        "100",
        "--spans",
        "12",
        "--decision-wait",
        "30s",
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    // 100 × 30 = 3,000 traces; × 12 = 36,000 spans; × 1,536 B = 52.7 MiB.
    assert!(
        text.contains("traces held        3,000  = 100 traces/s × decision_wait 30 s"),
        "{text}"
    );
    assert!(
        text.contains("spans held        36,000  = 3,000 traces × 12 spans"),
        "{text}"
    );
    assert!(
        text.contains("52.7 MiB  = 36,000 spans × 1.5 KiB per span (assumed"),
        "{text}"
    );
    assert!(
        text.contains("num_traces         6,000  = 3,000 traces × 2 headroom"),
        "{text}"
    );
    assert!(
        text.contains("    decision_wait: 30s\n    num_traces: 6000\n"),
        "{text}"
    );
    assert!(text.contains("that trace is dropped unsampled"), "{text}");
}

#[test]
fn plain_seconds_and_a_measured_span_size() {
    let out = lab_size(&[
        "--traces-per-second",
        "10",
        "--spans",
        "5",
        "--decision-wait",
        "10",
        "--bytes-per-span",
        "1000",
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    // 10 × 10 × 5 × 1,000 B = 500,000 B.
    assert!(
        text.contains("488.3 KiB  = 500 spans × 1000 B per span\n"),
        "{text}"
    );
}

#[test]
fn json_has_every_number() {
    let out = lab_size(&[
        "--traces-per-second",
        "50",
        "--spans",
        "22",
        "--decision-wait",
        "15s",
        "--num-traces",
        "20000",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["traces_held"], 750.0);
    assert_eq!(json["spans_held"], 16_500.0);
    assert_eq!(json["bytes_held"], 25_344_000.0);
    assert_eq!(json["num_traces_suggested"], 1_500);
    assert_eq!(json["num_traces_verdict"], "enough");
    assert_eq!(json["bytes_per_span_assumed"], true);
}

#[test]
fn a_num_traces_too_small_or_a_short_wait_exits_1() {
    let small = lab_size(&[
        "--traces-per-second",
        "100",
        "--spans",
        "12",
        "--decision-wait",
        "30s",
        "--num-traces",
        "2000",
    ]);
    assert_eq!(small.status.code(), Some(1));
    assert!(stdout(&small).contains("num_traces 2,000 is too small: it must hold at least 3,000"));

    let short = lab_size(&[
        "--traces-per-second",
        "100",
        "--spans",
        "12",
        "--decision-wait",
        "10s",
        "--longest-trace",
        "25s",
    ]);
    assert_eq!(short.status.code(), Some(1));
    assert!(stdout(&short).contains("decision_wait 10 s is shorter than the longest trace (25 s)"));
}

#[test]
fn every_bad_input_gets_a_sentence_and_a_failure() {
    let base = [
        "--traces-per-second",
        "100",
        "--spans",
        "12",
        "--decision-wait",
        "30s",
    ];
    let cases: [(&str, &str, &str); 8] = [
        (
            "--traces-per-second",
            "0",
            "traces per second must be above zero",
        ),
        (
            "--traces-per-second",
            "-5",
            "traces per second must be above zero",
        ),
        ("--spans", "many", "spans per trace must be a number"),
        (
            "--decision-wait",
            "0s",
            "decision wait must be longer than zero",
        ),
        (
            "--decision-wait",
            "-30s",
            "decision wait cannot be negative",
        ),
        ("--decision-wait", "half a minute", "is not a duration"),
        ("--num-traces", "0", "num_traces must be above zero"),
        ("--headroom", "0.5", "headroom must be at least 1"),
    ];
    for (flag, value, says) in cases {
        let mut args = base.to_vec();
        match args.iter().position(|a| *a == flag) {
            Some(i) => args[i + 1] = value,
            None => args.extend([flag, value]),
        }
        let out = lab_size(&args);
        assert!(!out.status.success(), "{flag} {value} was accepted");
        assert!(
            stderr(&out).contains(says),
            "{flag} {value}: {}",
            stderr(&out)
        );
    }
    let missing = lab_size(&["--spans", "12", "--decision-wait", "30s"]);
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("--traces-per-second"));
}
