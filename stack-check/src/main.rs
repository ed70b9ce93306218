//! `cargo run -p stack-check [ROOT]`: checks the Docker stack files in ROOT
//! (default: the workspace root) and prints one line per problem.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."));
    let root = root.canonicalize().unwrap_or(root);
    let problems = stack_check::check_stack(&root);
    if problems.is_empty() {
        println!("stack-check: no problems in {}", root.display());
        return ExitCode::SUCCESS;
    }
    for problem in &problems {
        eprintln!("{problem}");
    }
    eprintln!("stack-check: {} problem(s)", problems.len());
    ExitCode::FAILURE
}
