//! Lesson 17's check: the learner's unit test judged by breaking the code
//! it tests (`unit_tests` with `mutants`). Real `cargo test` runs on a tiny
//! crate made in a temporary directory, no mocks: the test must pass first
//! (`no-test`, `test-fails`), then fail on each breakage (`mutant-survived`
//! names the first it lets through), and the file under a breakage is put
//! back byte for byte, after a panic too. Then lesson 17's own breakages
//! against the real order-service source.

mod common;

use std::path::Path;

use common::*;
use lab::check::engine::Report;
use lab::check::spec::{MutantSpec, UnitTestsSpec};
use lab::check::unit_tests::{self, TestRun};
use tempfile::TempDir;

/// The code under test. Its last line has no newline and the file uses
/// CRLF line ends, so "byte for byte" means it.
const CODE: &str = "pub fn total(price: i64, quantity: i64) -> i64 {\r\n    price * quantity\r\n}\r\n\r\npub fn label() -> &'static str {\r\n    \"total\"\r\n}";

/// A crate of its own (its own workspace) in a fresh temporary directory,
/// with `CODE` in src/code.rs and `tests` as its unit tests. The directory
/// goes when the returned value drops.
fn tiny_crate(tests: &str) -> TempDir {
    let name = format!("mutants-{}", rand::random::<u32>());
    // The directory's name is the package's name, so tempfile adds no
    // random letters to it: rustc warns about a crate name with capitals.
    let dir = tempfile::Builder::new()
        .prefix(&name)
        .rand_bytes(0)
        .tempdir()
        .unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [workspace]\n"
        ),
    )
    .unwrap();
    std::fs::write(
        root.join("src/lib.rs"),
        format!(
            "pub mod code;\n\n#[cfg(test)]\nmod tests {{\n    use super::code::*;\n{tests}\n}}\n"
        ),
    )
    .unwrap();
    std::fs::write(root.join("src/code.rs"), CODE).unwrap();
    dir
}

/// Asserts the total, not the label: it catches a broken total only.
const TESTS_TOTAL: &str =
    "    #[test]\n    fn lesson_total() {\n        assert_eq!(total(4450, 2), 8900);\n    }\n";

fn package(root: &Path) -> String {
    root.file_name().unwrap().to_string_lossy().to_string()
}

fn mutant(name: &str, find: &str, replace: &str, why: &str) -> MutantSpec {
    MutantSpec {
        name: name.to_string(),
        file: "src/code.rs".to_string(),
        find: find.to_string(),
        replace: replace.to_string(),
        why: why.to_string(),
    }
}

/// The breakage most tests use: the total adds instead of multiplying.
fn adds() -> MutantSpec {
    mutant("sum", "price * quantity", "price + quantity", "it adds")
}

fn spec_for(root: &Path, filter: &str, mutants: Vec<MutantSpec>) -> UnitTestsSpec {
    UnitTestsSpec {
        package: package(root),
        filter: filter.to_string(),
        mutants,
    }
}

fn judge(root: &Path, spec: &UnitTestsSpec) -> Report {
    let mut report = Report::default();
    unit_tests::run(root, spec, &mut report, |_| {});
    report
}

fn code(root: &Path) -> Vec<u8> {
    std::fs::read(root.join("src/code.rs")).unwrap()
}

#[test]
fn a_test_that_catches_every_breakage_passes_and_the_file_is_restored() {
    let dir = tiny_crate(TESTS_TOTAL);
    let root = dir.path();
    let spec = spec_for(
        root,
        "lesson_",
        vec![
            adds(),
            mutant(
                "price-only",
                "price * quantity",
                "price",
                "it forgets the quantity",
            ),
        ],
    );
    let report = judge(root, &spec);
    assert!(report.passed(), "{:?}", report.findings);
    assert_eq!(code(root), CODE.as_bytes(), "restored byte for byte");
    assert!(!root.join(unit_tests::BACKUP).exists(), "no backup left");
    // And the unbroken code's test passes again (the build follows the file).
    assert_eq!(unit_tests::cargo_test(root, &spec), TestRun::Passed);
}

#[test]
fn the_first_breakage_the_test_lets_through_is_named_without_its_code() {
    let dir = tiny_crate(TESTS_TOTAL);
    let root = dir.path();
    let spec = spec_for(
        root,
        "lesson_",
        vec![
            mutant(
                "sum",
                "price * quantity",
                "price + quantity",
                "`total` adds",
            ),
            mutant(
                "label-changed",
                "\"total\"",
                "\"sum\"",
                "`label` says something else",
            ),
            mutant("never-run", "price * quantity", "0", "`total` is zero"),
        ],
    );
    let report = judge(root, &spec);
    assert_eq!(keys(&report), ["mutant-survived"]);
    let finding = &report.findings[0];
    assert_eq!(
        finding.problem,
        "your test still passes when `label` says something else"
    );
    assert!(
        !finding.problem.contains("\"sum\""),
        "no code in the finding"
    );
    assert_eq!(
        finding.cause,
        lab::check::diagnosis::Cause::MutantSurvived {
            name: "label-changed".to_string()
        }
    );
    assert_eq!(code(root), CODE.as_bytes(), "restored byte for byte");
}

#[test]
fn a_test_that_fails_on_the_unbroken_code_is_test_fails_and_nothing_is_broken() {
    let failing = "    #[test]\n    fn lesson_total() {\n        todo!(\"LESSON\")\n    }\n";
    let dir = tiny_crate(failing);
    let root = dir.path();
    let before = std::fs::metadata(root.join("src/code.rs"))
        .unwrap()
        .modified()
        .unwrap();
    let spec = spec_for(root, "lesson_", vec![adds()]);
    let report = judge(root, &spec);
    assert_eq!(keys(&report), ["test-fails"]);
    assert!(
        report.findings[0].problem.contains("lesson_total"),
        "{}",
        report.findings[0].problem
    );
    let after = std::fs::metadata(root.join("src/code.rs"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(
        before, after,
        "no breakage is applied to judge a failing test"
    );
}

#[test]
fn no_test_selected_and_a_test_that_does_not_build_are_findings_of_their_own() {
    let dir = tiny_crate(TESTS_TOTAL);
    let root = dir.path();
    let spec = spec_for(root, "no_such_test", vec![adds()]);
    assert_eq!(keys(&judge(root, &spec)), ["no-test"]);

    let broken =
        "    #[test]\n    fn lesson_total() {\n        assert_eq!(totl(4450, 2), 8900);\n    }\n";
    let dir2 = tiny_crate(broken);
    let root2 = dir2.path();
    let spec = spec_for(root2, "lesson_", vec![adds()]);
    let report = judge(root2, &spec);
    assert_eq!(keys(&report), ["test-fails"]);
    assert!(
        report.findings[0].problem.contains("does not build"),
        "{}",
        report.findings[0].problem
    );
}

#[test]
fn code_under_test_the_learner_changed_is_named_and_left_alone() {
    let dir = tiny_crate(TESTS_TOTAL);
    let root = dir.path();
    let spec = spec_for(
        root,
        "lesson_",
        vec![mutant("gone", "price * quantity * 2", "0", "it is zero")],
    );
    let report = judge(root, &spec);
    assert_eq!(keys(&report), ["code-under-test-changed"]);
    assert_eq!(code(root), CODE.as_bytes());

    // Found twice is as unsafe as not found: which one would it break?
    let twice = spec_for(
        root,
        "lesson_",
        vec![mutant("twice", "total", "sum", "it is renamed")],
    );
    assert_eq!(keys(&judge(root, &twice)), ["code-under-test-changed"]);
    assert_eq!(code(root), CODE.as_bytes());
}

#[test]
fn the_file_is_restored_after_a_panic_and_after_a_killed_check() {
    let dir = tiny_crate(TESTS_TOTAL);
    let root = dir.path();
    let sum = adds();
    // A panic while the breakage is applied: the guard puts the file back.
    let result = std::panic::catch_unwind(|| {
        unit_tests::with_mutant(root, &sum, || {
            let broken = String::from_utf8(code(root)).unwrap();
            assert!(broken.contains("price + quantity"));
            panic!("the test run blew up");
        })
    });
    assert!(result.is_err());
    assert_eq!(code(root), CODE.as_bytes(), "restored after a panic");
    assert!(!root.join(unit_tests::BACKUP).exists());

    // A check killed half-way leaves the breakage and its backup behind:
    // the next run puts the file back first.
    std::fs::create_dir_all(root.join(".lab")).unwrap();
    let mut backup = b"src/code.rs\n".to_vec();
    backup.extend_from_slice(CODE.as_bytes());
    std::fs::write(root.join(unit_tests::BACKUP), backup).unwrap();
    std::fs::write(root.join("src/code.rs"), "pub fn broken() {}").unwrap();
    let spec = spec_for(root, "lesson_", vec![sum]);
    let report = judge(root, &spec);
    assert!(report.passed(), "{:?}", report.findings);
    assert_eq!(code(root), CODE.as_bytes(), "recovered from the backup");
    assert!(!root.join(unit_tests::BACKUP).exists());
}

#[test]
fn without_mutants_the_tests_judge_the_code_as_before() {
    // Lesson 10's role: the lesson's tests fail on the learner's code.
    let failing =
        "    #[test]\n    fn lesson_total() {\n        assert_eq!(total(1, 1), 2);\n    }\n";
    let dir = tiny_crate(failing);
    let root = dir.path();
    let report = judge(root, &spec_for(root, "lesson_", Vec::new()));
    assert_eq!(keys(&report), ["unit-tests"]);
}

#[test]
fn a_unit_test_check_needs_no_requests_and_breakages_must_change_something() {
    let only_tests = spec(
        "title: t\nunit_tests:\n  package: p\n  filter: f\n  mutants:\n    \
         - { name: m, file: a.rs, find: x, replace: y, why: w }\n",
    );
    assert!(only_tests.requests.is_empty());
    assert!(lab::check::spec::Spec::parse("title: t\n").is_err());
    let err = lab::check::spec::Spec::parse(
        "title: t\nunit_tests:\n  package: p\n  filter: f\n  mutants:\n    \
         - { name: m, file: a.rs, find: x, replace: x, why: w }\n",
    )
    .unwrap_err();
    assert!(err.contains("mutant m"), "{err}");
}

#[test]
fn lesson_17s_breakages_each_apply_to_the_finished_workshop_exactly_once() {
    let spec = lesson("17-testing-spans");
    let tests = spec.unit_tests.expect("lesson 17 judges a unit test");
    assert_eq!(tests.package, "order-service");
    assert!(spec.requests.is_empty(), "lesson 17 needs no services");
    assert!(tests.mutants.len() >= 3);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    for mutant in &tests.mutants {
        let text = std::fs::read_to_string(root.join(&mutant.file)).unwrap();
        assert_eq!(
            text.matches(mutant.find.as_str()).count(),
            1,
            "breakage {} finds its text in {} exactly once",
            mutant.name,
            mutant.file
        );
        assert!(
            mutant.replace.is_empty() || !mutant.why.contains(&mutant.replace),
            "breakage {}: the finding gives no code",
            mutant.name
        );
    }
    assert!(!lab::check::needs_services(root, "17"));
    assert!(lab::check::needs_services(root, "15"));
}
