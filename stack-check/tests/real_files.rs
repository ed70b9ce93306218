//! The repository's own stack files pass every check.

mod common;

use common::{render, repo_root};

#[test]
fn the_real_stack_has_no_problems() {
    let problems = stack_check::check_stack(&repo_root());
    assert!(
        problems.is_empty(),
        "stack-check found problems:\n{}",
        render(&problems)
    );
}

#[test]
fn the_tail_sampling_override_is_checked_too() {
    let overrides = stack_check::override_files(&repo_root());
    assert!(
        overrides.contains(&"docker-compose.tail-sampling.yml".to_string()),
        "override files found: {overrides:?}"
    );
    let problems = stack_check::check_files(
        &repo_root(),
        &["docker-compose.yml", "docker-compose.tail-sampling.yml"],
    );
    assert!(problems.is_empty(), "{}", render(&problems));
}

#[test]
fn an_unmodified_copy_has_no_problems() {
    // Guards the fixture itself: the broken-copy tests start from this.
    let problems = common::Fixture::new("unmodified").problems();
    assert!(problems.is_empty(), "{}", render(&problems));
}
