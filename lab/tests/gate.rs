//! The lesson gate, like rustlings' `dev check`: for every lesson with an
//! `exercise.patch` it proves, with the real binaries and `lab check` run
//! as a learner runs it, that
//!
//! 1. the patches apply to main,
//! 2. main passes the check (the finished version),
//! 3. the starting point (`lab start NN`) fails with the cause check.yaml
//!    names in `expect_failure`,
//! 4. the solution (`lab solution NN --apply`) passes,
//! 5. `lab reset NN` leaves `git status` clean,
//! 6. every `wrong/*.patch` (a plausible wrong fix, against the starting
//!    point) fails the check with the finding its first line names, and
//!    every `also-right/*.patch` passes (at least 3 and 1 per lesson).
//!
//! It works in scratch copies of the committed state (HEAD), one per worker
//! (`LAB_GATE_WORKERS`, 2 by default), each with its own stack, ports
//! (`LAB_PORT_BASE`), databases (`LAB_DB_PREFIX`) and target directory (a
//! copy of this build's, so nothing the gate builds replaces a binary the
//! rest of the suite runs); dev-up runs
//! copies of the binaries (`.lab/bin/`), so later builds never swap a binary
//! under the stack. The workers take lessons from one queue, longest first. Lessons marked
//! `exercise: pending` (or with no patch at all) are listed as not yet
//! proven; a lesson that claims to be an exercise (`expect_failure`, a
//! solution.patch) without an exercise.patch fails the gate. The time per lesson is
//! printed and written to `target/lesson-gate.txt`.
//!
//! `LAB_GATE_LESSONS=14` (or `08,14`) proves only those lessons: for the
//! author of a lesson, on a shared machine. CI runs them all.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use lab::check::engine::evaluate;
use lab::check::scenario::{observe, CheckOptions, Control};
use lab::check::spec::Spec;
use lab::lessons::Lesson;
use lab::mission::Mission;

/// The repository this test was built from.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `target/` (this test runs from `target/<profile>/deps/`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

fn run(dir: &Path, program: &str, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut command = Command::new(program);
    command.current_dir(dir).args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, "git", args, &[]);
    assert!(out.status.success(), "git {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A scratch copy of the committed state (`git archive HEAD`), committed in
/// a fresh repository so `lab reset` has a HEAD. The committed state, not
/// the working tree: a lesson started in this checkout (its exercise
/// applied) must not become the gate's "main".
fn scratch_copy(repo: &Path, scratch: &Path) {
    let archive = scratch.join("..").join(format!(
        "{}.tar",
        scratch.file_name().unwrap().to_string_lossy()
    ));
    git(
        repo,
        &[
            "archive",
            "--format=tar",
            "-o",
            archive.to_str().unwrap(),
            "HEAD",
        ],
    );
    let out = run(scratch, "tar", &["-xf", archive.to_str().unwrap()], &[]);
    assert!(out.status.success(), "tar: {}", text(&out));
    let _ = std::fs::remove_file(&archive);
    let dirty = git(repo, &["status", "--porcelain", "--untracked-files=no"]);
    if !dirty.is_empty() {
        println!(
            "lesson gate: proving HEAD; uncommitted changes in this checkout are not part of it"
        );
    }
    git(scratch, &["init", "-q"]);
    git(scratch, &["add", "-A"]);
    git(
        scratch,
        &[
            "-c",
            "user.name=gate",
            "-c",
            "user.email=gate@localhost",
            "commit",
            "-qm",
            "main, as committed",
        ],
    );
}

/// A base port with seven free ports above it.
fn free_port_base() -> u16 {
    for _ in 0..200 {
        // Below Linux's ephemeral range (32768 and up): a port there can be
        // taken by any outgoing connection between a stop and a restart.
        let base = 20_000 + 10 * (rand::random::<u16>() % 1_270);
        let all_free =
            (base..base + 7).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
        if all_free {
            return base;
        }
    }
    panic!("no 7 free consecutive ports found");
}

/// One worker's stack: a scratch copy, its ports and databases, a target
/// directory, and a copy of this build's lab. Dropping it stops the stack
/// and drops its databases, even on a panic.
struct Stack {
    scratch: PathBuf,
    lab: PathBuf,
    env: Vec<(&'static str, String)>,
    /// Its own copy of the target directory, removed with the stack.
    target: PathBuf,
}

impl Stack {
    fn new(scratch: PathBuf, target: PathBuf, base: u16) -> Stack {
        // A copy of this build's lab: builds in the scratch copy replace target/*/lab.
        let lab = scratch.join(".lab").join("gate-lab");
        std::fs::create_dir_all(lab.parent().unwrap()).unwrap();
        std::fs::copy(env!("CARGO_BIN_EXE_lab"), &lab).unwrap();
        let mut env: Vec<(&'static str, String)> = vec![
            ("CARGO_TARGET_DIR", target.to_string_lossy().to_string()),
            ("LAB_PORT_BASE", base.to_string()),
            ("LAB_DB_PREFIX", format!("gate{}_", rand::random::<u32>())),
            ("LAB_ROOT", scratch.to_string_lossy().to_string()),
            ("NO_COLOR", "1".to_string()),
        ];
        if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
            env.push(("DATABASE_URL", url));
        }
        if let Ok(url) = std::env::var("TEST_REDIS_URL") {
            env.push(("REDIS_URL", url));
        }
        Stack {
            scratch,
            lab,
            env,
            target,
        }
    }

    /// Builds and starts the stack (`dev-up`); the summary's line.
    fn start(&self) -> String {
        let up = Instant::now();
        let out = run(&self.scratch, "bash", &["scripts/dev-up.sh"], &self.env());
        assert!(
            out.status.success(),
            "dev-up in the scratch copy:\n{}",
            text(&out)
        );
        format!(
            "lesson gate: stack in {} built and started in {:.0} s\n",
            self.scratch.display(),
            up.elapsed().as_secs_f64()
        )
    }

    fn env(&self) -> Vec<(&str, String)> {
        self.env.iter().map(|(k, v)| (*k, v.clone())).collect()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let out = run(
            &self.scratch,
            "bash",
            &["scripts/dev-down.sh", "--wipe"],
            &self.env(),
        );
        if !out.status.success() {
            eprintln!("dev-down in the gate's scratch copy: {}", text(&out));
        }
        if std::env::var_os("LAB_GATE_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.scratch);
            let _ = std::fs::remove_dir_all(&self.target);
        }
    }
}

/// `lab check NN` in the scratch copy; returns (passed, cause keys, output).
fn check(lab: &Path, stack: &Stack, number: u32) -> (bool, Vec<String>, String) {
    check_with(lab, stack, number, &[])
}

/// `lab check NN --answer A ...`: (passed, cause keys, output).
fn check_with(
    lab: &Path,
    stack: &Stack,
    number: u32,
    answers: &[String],
) -> (bool, Vec<String>, String) {
    let report = stack.scratch.join(".lab").join("gate-report.json");
    let _ = std::fs::remove_file(&report);
    let lesson = format!("{number:02}");
    let mut args = vec!["check", &lesson, "--report-json", report.to_str().unwrap()];
    for answer in answers {
        args.extend(["--answer", answer.as_str()]);
    }
    let out = run(&stack.scratch, lab.to_str().unwrap(), &args, &stack.env());
    let output = text(&out);
    let json: serde_json::Value = std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| panic!("lab check {lesson} wrote no report:\n{output}"));
    let causes = json["causes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let passed = json["passed"].as_bool().unwrap_or(false);
    assert_eq!(
        passed,
        out.status.success(),
        "exit status follows the result:\n{output}"
    );
    (passed, causes, output)
}

fn lab_cmd(lab: &Path, stack: &Stack, args: &[&str]) -> String {
    let out = run(&stack.scratch, lab.to_str().unwrap(), args, &stack.env());
    if !out.status.success() {
        // The mission keeps a failed build's output in a file (the learner
        // is not shown it: it names the fault); the scratch copy goes when
        // the gate ends, so the file's end is said here.
        let build_log = stack.scratch.join(".lab/mission/build.log");
        let build = std::fs::read_to_string(&build_log)
            .map(|log| {
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                format!("\nthe end of {}:\n{}", build_log.display(), tail.join("\n"))
            })
            .unwrap_or_default();
        panic!("lab {args:?} failed:\n{}{build}", text(&out));
    }
    text(&out)
}

#[test]
fn every_lesson_exercise_fails_and_its_solution_passes() {
    let repo = repo_root();
    let started = Instant::now();
    let only = only_lessons();
    let workers = gate_workers();
    let run_id = format!("{}-{}", std::process::id(), rand::random::<u32>());
    let scratches: Vec<PathBuf> = (0..workers)
        .map(|i| std::env::temp_dir().join(format!("lab-gate-{run_id}-{i}")))
        .collect();
    for scratch in &scratches {
        std::fs::create_dir_all(scratch).unwrap();
        scratch_copy(&repo, scratch);
    }
    let remove_scratches = || {
        for scratch in &scratches {
            let _ = std::fs::remove_dir_all(scratch);
        }
    };
    // The lessons as committed, read from the first scratch copy.
    let mut lessons: Vec<Lesson> = lab::lessons::all(&scratches[0])
        .into_iter()
        .filter(Lesson::has_check)
        .collect();
    if let Some(only) = only {
        if let Some(n) = only
            .iter()
            .find(|n| !lessons.iter().any(|l| l.number == **n))
        {
            remove_scratches();
            panic!(
                "LAB_GATE_LESSONS names lesson {n:02}, which has no check.yaml (or mission.yaml) \
                 in HEAD"
            );
        }
        lessons.retain(|l| only.contains(&l.number));
        println!("lesson gate: only lessons {only:?} (LAB_GATE_LESSONS)");
    }
    let mut jobs = Vec::new();
    let mut pending = Vec::new();
    let mut unmarked = Vec::new();
    for lesson in &lessons {
        if Mission::load(lesson).unwrap().is_some() {
            jobs.push(Job {
                number: lesson.number,
                cause: None,
                cost: f64::MAX,
            });
            continue;
        }
        let spec = Spec::load(&lesson.check_file()).unwrap();
        match (lesson.is_exercise(), spec.exercise_pending()) {
            (true, true) => panic!(
                "lesson {} has an exercise.patch and says `exercise: pending`: remove the mark",
                lesson.slug
            ),
            (true, false) => {
                let cause = spec.expect_failure.clone().unwrap_or_else(|| {
                    panic!(
                        "lesson {} has an exercise but no `expect_failure` naming the cause \
                         its starting point fails with",
                        lesson.slug
                    )
                });
                assert!(
                    lesson.solution_patch().is_file(),
                    "lesson {} has exercise.patch but no solution.patch",
                    lesson.slug
                );
                let patch = lesson.exercise_patch();
                let out = run(
                    &scratches[0],
                    "git",
                    &["apply", "--check", patch.to_str().unwrap()],
                    &[],
                );
                assert!(
                    out.status.success(),
                    "{}'s exercise.patch does not apply to main: {}",
                    lesson.slug,
                    text(&out)
                );
                jobs.push(Job {
                    number: lesson.number,
                    cost: estimated_cost(lesson, &spec),
                    cause: Some(cause),
                });
            }
            (false, true) => pending.push(format!("{:02}", lesson.number)),
            // It claims to be an exercise (a cause to fail with, a solution)
            // but has nothing to start from.
            (false, false)
                if spec.expect_failure.is_some() || lesson.solution_patch().is_file() =>
            {
                panic!(
                    "lesson {} claims to be an exercise (expect_failure or solution.patch) \
                     but has no exercise.patch",
                    lesson.slug
                )
            }
            (false, false) => unmarked.push(format!("{:02}", lesson.number)),
        }
    }
    let mut summary = String::new();
    if !pending.is_empty() {
        summary.push_str(&format!(
            "lesson gate: NOT YET PROVEN (exercise: pending): {}\n",
            pending.join(", ")
        ));
    }
    if !unmarked.is_empty() {
        summary.push_str(&format!(
            "lesson gate: NOT PROVEN, no exercise.patch and not marked `exercise: pending`: {}\n",
            unmarked.join(", ")
        ));
    }
    if jobs.is_empty() {
        println!("{summary}");
        remove_scratches();
        return;
    }
    // The longest first, so the workers finish close together.
    jobs.sort_by(|a, b| b.cost.total_cmp(&a.cost));
    let total = jobs.len();
    let workers = workers.min(total);

    // Every worker has its own stack: scratch copy, ports, databases and
    // target directory, a copy of this build's. Two trees building into one
    // target directory run each other's binaries: the scratch copy's crates
    // get the same artifact names as this checkout's (cargo names them by
    // the path inside the workspace), so a lesson's patched build would
    // replace the binaries the rest of `cargo test` runs.
    let mut stacks = Vec::new();
    let mut bases: Vec<u16> = Vec::new();
    for (i, scratch) in scratches.iter().take(workers).enumerate() {
        let target = target_dir().join(format!("gate-worker-{i}"));
        copy_build(&target_dir(), &target);
        let base = loop {
            let base = free_port_base();
            if !bases.contains(&base) {
                break base;
            }
        };
        bases.push(base);
        stacks.push(Stack::new(scratch.clone(), target, base));
    }
    for scratch in scratches.iter().skip(workers) {
        let _ = std::fs::remove_dir_all(scratch);
    }
    summary.push_str(&format!(
        "lesson gate: {total} lessons on {workers} stacks (LAB_GATE_WORKERS), ports {bases:?}\n"
    ));

    let queue = Mutex::new(VecDeque::from(jobs));
    let failed = AtomicBool::new(false);
    let lines = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for stack in &stacks {
            let (queue, failed, lines) = (&queue, &failed, &lines);
            scope.spawn(move || {
                // A panic here fails the test; the others stop taking lessons.
                let _stop_others = FailOnPanic(failed);
                let line = stack.start();
                lines.lock().unwrap().push((0, line));
                let lessons = lab::lessons::all(&stack.scratch);
                loop {
                    if failed.load(Ordering::SeqCst) {
                        break;
                    }
                    let Some(job) = queue.lock().unwrap().pop_front() else {
                        break;
                    };
                    let lesson = lessons
                        .iter()
                        .find(|l| l.number == job.number)
                        .expect("every worker's copy has the lesson");
                    let line = match &job.cause {
                        Some(cause) => prove_lesson(stack, lesson, cause),
                        None => {
                            let mission = Mission::load(lesson).unwrap().unwrap();
                            prove_mission(stack, lesson, &mission)
                        }
                    };
                    print!("{line}");
                    lines.lock().unwrap().push((job.number, line));
                }
            });
        }
    });
    drop(stacks);
    let mut lines = lines.into_inner().unwrap();
    lines.sort();
    for (_, line) in lines {
        summary.push_str(&line);
    }
    summary.push_str(&format!(
        "lesson gate: {} lessons proven in {:.0} s\n",
        total,
        started.elapsed().as_secs_f64()
    ));
    println!("{summary}");
    let _ = std::fs::write(target_dir().join("lesson-gate.txt"), &summary);
}

/// One lesson or the mission, for a worker to take.
struct Job {
    number: u32,
    /// The cause the starting point fails with; `None` for the mission.
    cause: Option<String>,
    /// A guess at its time, to take the longest first.
    cost: f64,
}

/// A guess at a lesson's time in the gate: one check per fix, plus main,
/// start and solution, each as long as its paced load (if any) and a few
/// seconds of build, restart and collection.
fn estimated_cost(lesson: &Lesson, spec: &Spec) -> f64 {
    let paced: f64 = spec
        .requests
        .iter()
        .filter_map(|r| r.rps.map(|rps| r.repeat as f64 / rps))
        .sum();
    let checks = lesson.wrong_fixes().len() + lesson.also_right_fixes().len() + 3;
    checks as f64 * (8.0 + paced)
}

/// Marks the gate failed when the worker thread holding it unwinds.
struct FailOnPanic<'a>(&'a AtomicBool);

impl Drop for FailOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

/// `LAB_GATE_WORKERS`: how many stacks prove lessons side by side (2 by
/// default: a check mostly waits for its services and traces, so two fit on
/// two cores).
fn gate_workers() -> usize {
    match std::env::var("LAB_GATE_WORKERS") {
        Ok(raw) => raw
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .unwrap_or_else(|| {
                panic!("LAB_GATE_WORKERS={raw}: not a number of workers (1 or more)")
            }),
        Err(_) => 2,
    }
}

/// Copies a target directory's debug build so a scratch copy builds on it
/// without compiling the dependencies again: the compiled crates, build
/// script outputs and fingerprints, not the executables in `deps/` (test
/// binaries, gigabytes the gate never runs; a service binary it needs is
/// linked again in seconds) nor the incremental caches.
fn copy_build(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    let debug = to.join("debug");
    std::fs::create_dir_all(debug.join("deps")).unwrap();
    for dir in ["build", ".fingerprint"] {
        let out = run(
            from,
            "cp",
            &["-a", &format!("debug/{dir}"), debug.to_str().unwrap()],
            &[],
        );
        assert!(
            out.status.success(),
            "copying target/debug/{dir}: {}",
            text(&out)
        );
    }
    let deps = debug.join("deps");
    let out = run(
        &from.join("debug").join("deps"),
        "find",
        &[
            ".",
            "-maxdepth",
            "1",
            "-type",
            "f",
            "(",
            "-name",
            "*.*",
            "-o",
            "!",
            "-perm",
            "-u+x",
            ")",
            "-exec",
            "cp",
            "-a",
            "-t",
            deps.to_str().unwrap(),
            "{}",
            "+",
        ],
        &[],
    );
    // A build running beside this one (the learner's `cargo lab check`)
    // removes its temporary files while they are copied: those are not
    // part of any build, and only they may be missing.
    let vanished = |line: &str| {
        line.starts_with("cp: cannot stat") && line.ends_with("No such file or directory")
    };
    assert!(
        out.status.success() || String::from_utf8_lossy(&out.stderr).lines().all(vanished),
        "copying target/debug/deps: {}",
        text(&out)
    );
}

/// The gate for one lesson: main passes, the starting point fails with its
/// cause, the solution passes, reset is clean, and the wrong and also-right
/// fixes (`prove_fixes`). Returns the lesson's line for the summary.
fn prove_lesson(stack: &Stack, lesson: &Lesson, cause: &String) -> String {
    let lab = &stack.lab;
    let t = Instant::now();
    let n = lesson.number;
    let nn = format!("{n:02}");
    let (passed, causes, output) = check(lab, stack, n);
    assert!(
        passed,
        "lesson {nn}: main fails its check ({causes:?}):\n{output}\n{}",
        service_logs(&stack.scratch)
    );
    assert!(output.contains("this is the finished version"), "{output}");
    let progress =
        std::fs::read_to_string(stack.scratch.join(".lab/progress.json")).unwrap_or_default();
    assert!(
        !progress.contains(&lesson.slug),
        "checking the finished version records nothing: {progress}"
    );
    let t_main = t.elapsed().as_secs_f64();

    lab_cmd(lab, stack, &["start", &nn]);
    let (passed, causes, output) = check(lab, stack, n);
    assert!(
        !passed,
        "lesson {nn}: the starting point passes its check:\n{output}"
    );
    assert_eq!(
        causes.first(),
        Some(cause),
        "lesson {nn}: the starting point fails, but not first with `{cause}`:\n{output}"
    );
    let t_exercise = t.elapsed().as_secs_f64() - t_main;

    lab_cmd(lab, stack, &["solution", &nn, "--apply"]);
    let (passed, causes, output) = check(lab, stack, n);
    assert!(
        passed,
        "lesson {nn}: the solution fails its check ({causes:?}):\n{output}"
    );
    let t_solution = t.elapsed().as_secs_f64() - t_main - t_exercise;

    lab_cmd(lab, stack, &["reset", &nn]);
    let status = git(&stack.scratch, &["status", "--porcelain"]);
    assert_eq!(status, "", "lesson {nn}: reset leaves changes behind");

    let t_fixes = Instant::now();
    let (wrong, also_right) = prove_fixes(lab, stack, lesson);
    format!(
        "lesson {nn}: main passes ({t_main:.0} s), start fails with {cause} ({t_exercise:.0} s), \
         solution passes ({t_solution:.0} s), {wrong} wrong fixes rejected and {also_right} \
         also-right accepted ({:.0} s): {:.0} s\n",
        t_fixes.elapsed().as_secs_f64(),
        t.elapsed().as_secs_f64()
    )
}

/// The wrong-fix gate: every `wrong/*.patch`, applied to the starting
/// point, fails the check with the finding its first line names; every
/// `also-right/*.patch` passes. A lesson needs at least three of the first
/// and one of the second. Returns how many of each were proven.
fn prove_fixes(lab: &Path, stack: &Stack, lesson: &Lesson) -> (usize, usize) {
    let nn = format!("{:02}", lesson.number);
    let wrong = lesson.wrong_fixes();
    let also_right = lesson.also_right_fixes();
    assert!(
        wrong.len() >= 3 && !also_right.is_empty(),
        "lesson {nn} needs at least 3 wrong/*.patch and 1 also-right/*.patch (has {} and {})",
        wrong.len(),
        also_right.len()
    );
    let apply = |fix: &lab::lessons::FixPatch| {
        lab_cmd(lab, stack, &["start", &nn]);
        let out = run(
            &stack.scratch,
            "git",
            &["apply", fix.path.to_str().unwrap()],
            &[],
        );
        assert!(
            out.status.success(),
            "lesson {nn}: {} does not apply to the starting point: {}",
            fix.path.display(),
            text(&out)
        );
    };
    // A fix may need a file the lesson does not patch (the consumer's side
    // of lesson 14's queue), or add one (lesson 18's own server layer):
    // `reset` leaves those, so they go back, or away, here.
    let undo = |fix: &lab::lessons::FixPatch| {
        lab_cmd(lab, stack, &["reset", &nn]);
        let files = lab::lifecycle::patched_files(&stack.scratch, &fix.path)
            .unwrap_or_else(|e| panic!("{}: {e}", fix.path.display()));
        let (tracked, added): (Vec<&String>, Vec<&String>) = files.iter().partition(|file| {
            run(
                &stack.scratch,
                "git",
                &["cat-file", "-e", &format!("HEAD:{file}")],
                &[],
            )
            .status
            .success()
        });
        for file in added {
            let path = stack.scratch.join(file);
            if path.exists() {
                std::fs::remove_file(&path)
                    .unwrap_or_else(|e| panic!("removing {}: {e}", path.display()));
            }
        }
        if !tracked.is_empty() {
            let mut args = vec!["checkout", "HEAD", "--"];
            args.extend(tracked.iter().map(|file| file.as_str()));
            git(&stack.scratch, &args);
        }
    };
    for fix in &wrong {
        let expect = fix.expect.clone().unwrap_or_else(|| {
            panic!(
                "{}: the first line must be `# expect: <finding> - why`",
                fix.path.display()
            )
        });
        apply(fix);
        let (passed, causes, output) = check(lab, stack, lesson.number);
        assert!(
            !passed,
            "lesson {nn}: the wrong fix {} passes the check ({}):\n{output}",
            fix.name(),
            fix.description
        );
        assert!(
            causes.contains(&expect),
            "lesson {nn}: the wrong fix {} fails, but without `{expect}` (causes: {causes:?}):\n{output}",
            fix.name()
        );
        println!(
            "lesson {nn}: wrong fix {} rejected with {expect}",
            fix.name()
        );
        undo(fix);
    }
    for fix in &also_right {
        apply(fix);
        let (passed, causes, output) = check(lab, stack, lesson.number);
        assert!(
            passed,
            "lesson {nn}: the right fix {} ({}) fails the check ({causes:?}):\n{output}",
            fix.name(),
            fix.description
        );
        println!("lesson {nn}: also-right fix {} accepted", fix.name());
        undo(fix);
    }
    assert_eq!(
        git(&stack.scratch, &["status", "--porcelain"]),
        "",
        "lesson {nn}: reset after the fixes leaves changes behind"
    );
    (wrong.len(), also_right.len())
}

/// The debugging mission, for every fault (its evidence opened from the
/// lesson's sealed faults):
///
/// 1. on the healthy services no trace of the evidence scenario shows it
///    (the evidence proves the fault, not the workshop's normal behaviour);
///    one of those healthy traces is kept;
/// 2. `start NN --seed i` builds and runs the services with it, and prints
///    the report without naming it; a trace of the evidence scenario shows
///    it;
/// 3. a wrong answer fails and says only that it is wrong (no per-field
///    "right"), the second one with the fault's hint; the right service and
///    cause with the healthy trace fail and say why; with the trace that
///    shows the fault they pass;
/// 4. `reset NN` leaves `git status` clean, and no trace shows it any more.
///
/// The faults go in the order of the crate they patch, so each start
/// rebuilds as little as it can.
fn prove_mission(stack: &Stack, lesson: &Lesson, mission: &Mission) -> String {
    let lab = &stack.lab;
    let t = Instant::now();
    let nn = format!("{:02}", lesson.number);
    let env = stack.env();
    let dev_up = || {
        let out = run(&stack.scratch, "bash", &["scripts/dev-up.sh"], &env);
        assert!(out.status.success(), "dev-up:\n{}", text(&out));
    };
    let evidence: Vec<Spec> = mission
        .faults
        .iter()
        .map(|f| {
            f.evidence(lesson)
                .unwrap_or_else(|e| panic!("fault {}: {e:#}", f.code))
        })
        .collect();

    // 1. Healthy: no trace shows any fault; keep one trace per fault.
    let mut healthy = Vec::new();
    for (fault, spec) in mission.faults.iter().zip(&evidence) {
        let (_, observations) = observe_spec(stack, spec);
        if let Some(trace) = lab::mission::shows(spec, &observations) {
            panic!(
                "the evidence of fault {} shows on the healthy services (trace {}): it proves \
                 nothing",
                fault.code, trace.trace_id
            );
        }
        let trace = observations
            .iter()
            .rev()
            .find_map(|o| o.trace.clone())
            .unwrap_or_else(|| panic!("fault {}: the healthy scenario left no trace", fault.code));
        healthy.push(trace.trace_id.to_string());
    }
    let t_healthy = t.elapsed().as_secs_f64();

    let mut seeds: Vec<u64> = (0..mission.faults.len() as u64).collect();
    seeds.sort_by_key(|seed| mission_files(lesson, mission.fault(*seed)));
    let mut starts = Vec::new();
    for seed in seeds {
        let index = seed as usize % mission.faults.len();
        let fault = mission.fault(seed);
        let spec = &evidence[index];
        let (service, cause) = mission
            .solve(fault)
            .unwrap_or_else(|| panic!("fault {}: no answer in the vocabulary", fault.code));

        // 2. Start: the report, and nothing that names the fault.
        let t_start = Instant::now();
        let output = lab_cmd(lab, stack, &["start", &nn, "--seed", &seed.to_string()]);
        starts.push(t_start.elapsed().as_secs_f64());
        assert!(output.contains(&fault.symptom), "{output}");
        let sealed = fault.open(lesson).unwrap();
        for word in [fault.code.as_str(), cause.as_str()]
            .into_iter()
            .chain(sealed.files().iter().map(String::as_str))
        {
            assert!(
                !output.contains(word),
                "`start {nn}` names the fault ({word}):\n{output}"
            );
        }
        // dev-up keeps running the mission's services.
        dev_up();
        let (report, observations) = observe_spec(stack, spec);
        let Some(shown) = lab::mission::shows(spec, &observations) else {
            panic!(
                "mission fault {} (seed {seed}) does not show in the traces: {:#?}\n{}",
                fault.code,
                report.findings,
                service_logs(&stack.scratch)
            );
        };
        let trace = format!("trace={}", shown.trace_id);

        // 3. Answers.
        let wrong_cause = mission.vocabulary["cause"]
            .iter()
            .find(|c| **c != cause)
            .unwrap();
        let wrong_service = mission.vocabulary["service"]
            .iter()
            .find(|s| **s != service)
            .unwrap();
        let tries = [
            [format!("service={service}"), format!("cause={wrong_cause}")],
            [format!("service={wrong_service}"), format!("cause={cause}")],
        ];
        for (n, pair) in tries.iter().enumerate() {
            let answers = [pair[0].clone(), pair[1].clone(), trace.clone()];
            let (passed, causes, output) = check_with(lab, stack, lesson.number, &answers);
            assert!(
                !passed,
                "mission seed {seed}: a wrong answer passes:\n{output}"
            );
            assert_eq!(causes, ["wrong-answer"], "{output}");
            assert!(
                !output.contains("is the right") && !output.contains("is right"),
                "a wrong answer says only that it is wrong:\n{output}"
            );
            assert_eq!(
                output.contains("Hint:"),
                n == 1,
                "the fault's hint comes with the second wrong answer, not before:\n{output}"
            );
        }
        let right = [format!("service={service}"), format!("cause={cause}")];
        let with_healthy = [
            right[0].clone(),
            right[1].clone(),
            format!("trace={}", healthy[index]),
        ];
        let (passed, causes, output) = check_with(lab, stack, lesson.number, &with_healthy);
        assert!(
            !passed,
            "mission seed {seed}: the right pair passes with a healthy trace:\n{output}"
        );
        assert_eq!(causes, ["no-evidence"], "{output}");
        assert!(output.contains("does not show"), "{output}");
        let answers = [right[0].clone(), right[1].clone(), trace.clone()];
        let (passed, _, output) = check_with(lab, stack, lesson.number, &answers);
        assert!(
            passed,
            "mission seed {seed}: the right answer with trace {} fails:\n{output}",
            shown.trace_id
        );

        // 4. Reset: the workshop's own services again.
        lab_cmd(lab, stack, &["reset", &nn]);
        assert_eq!(git(&stack.scratch, &["status", "--porcelain"]), "");
        let (_, observations) = observe_spec(stack, spec);
        if let Some(trace) = lab::mission::shows(spec, &observations) {
            panic!(
                "fault {} still shows after `reset {nn}` (trace {})",
                fault.code, trace.trace_id
            );
        }
    }
    // The first start builds the copy's crates from nothing; the later
    // ones (the learner's warm start) only what their fault changes.
    let warm = starts.get(1..).unwrap_or_default();
    let slowest = warm.iter().cloned().fold(0.0, f64::max);
    let mean = warm.iter().sum::<f64>() / warm.len().max(1) as f64;
    format!(
        "lesson {nn}: {} hidden faults: none shows on the healthy services ({t_healthy:.0} s); \
         each shows after its start (the first, cold, {:.0} s; then {mean:.0} s on average, \
         at most {slowest:.0} s), takes the right answer with its trace, refuses a wrong one \
         and the right one with a healthy trace, and is gone after reset: {:.0} s\n",
        mission.faults.len(),
        starts.first().copied().unwrap_or(0.0),
        t.elapsed().as_secs_f64()
    )
}

/// The files a fault's patch changes: faults that patch the same crate
/// run one after the other.
fn mission_files(lesson: &Lesson, fault: &lab::mission::Fault) -> Vec<String> {
    fault
        .open(lesson)
        .map(|sealed| sealed.files())
        .unwrap_or_default()
}

/// Runs a spec against the scratch stack in-process (no lesson, no
/// restart): the report over all its traces, and the observations.
fn observe_spec(
    stack: &Stack,
    spec: &Spec,
) -> (
    lab::check::outcome::Report,
    Vec<lab::check::outcome::Observation>,
) {
    let recorded = lab::stack::NativeStack::load(&stack.scratch)
        .unwrap()
        .expect("dev-up recorded the stack");
    let options = CheckOptions {
        gateway: recorded.gateway().unwrap().to_string(),
        jaeger: recorded.jaeger().unwrap().to_string(),
        timeout: std::time::Duration::from_secs(20),
        control: Control::Native {
            root: stack.scratch.clone(),
            lesson_env: None,
        },
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let observations = runtime
        .block_on(observe(spec, &options, |_| {}))
        .expect("the evidence scenario runs");
    (evaluate(spec, &observations), observations)
}

/// `LAB_GATE_LESSONS=08,14`: the lesson numbers to prove (all when unset).
fn only_lessons() -> Option<Vec<u32>> {
    let raw = std::env::var("LAB_GATE_LESSONS").ok()?;
    let numbers = raw
        .split(',')
        .map(|n| {
            n.trim().parse::<u32>().unwrap_or_else(|_| {
                panic!("LAB_GATE_LESSONS={raw}: {n:?} is not a lesson number (e.g. 14 or 08,14)")
            })
        })
        .collect();
    Some(numbers)
}

/// The last lines of each service's log in the scratch stack, so a failure
/// in CI says what the services did.
fn service_logs(scratch: &Path) -> String {
    let mut out = String::new();
    for service in [
        "api-gateway",
        "order-service",
        "user-service",
        "inventory-service",
    ] {
        let log = std::fs::read_to_string(scratch.join(format!(".lab/logs/{service}.log")))
            .unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        out.push_str(&format!("--- {service}.log (last lines)\n"));
        for line in &lines[lines.len().saturating_sub(12)..] {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}
