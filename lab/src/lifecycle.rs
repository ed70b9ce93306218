//! A lesson's life: `start NN` applies its `exercise.patch` and activates
//! its environment, `solution NN [--apply]` shows or applies
//! `solution.patch`, `reset NN` puts the files back to the committed
//! version. Everything goes through `git`, and only the files a lesson
//! patches are touched; the learner's history never is.
//!
//! `start` stages the starting point of those files (`git add`), so that
//! `git diff` shows only what the learner changed since, and `git diff HEAD`
//! the whole way from the finished version. `reset` keeps the learner's
//! work as a patch under `.lab/saved/` before it puts the files (and their
//! index entries) back to the committed version.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::lessons::{self, Lesson};
use crate::mission::{self, Mission};
use crate::progress::{Progress, Result as LessonResult};
use crate::stack;

/// The files a patch touches (repository-relative), from `git apply --numstat`.
pub fn patched_files(root: &Path, patch: &Path) -> anyhow::Result<Vec<String>> {
    let out = git(root, &["apply", "--numstat", &patch.to_string_lossy()])?;
    Ok(out
        .lines()
        .filter_map(|l| l.split('\t').nth(2))
        .map(str::to_string)
        .collect())
}

/// Every file the lesson's patches touch, each once.
pub fn lesson_files(root: &Path, lesson: &Lesson) -> anyhow::Result<Vec<String>> {
    let mut files = Vec::new();
    for patch in [lesson.exercise_patch(), lesson.solution_patch()] {
        if patch.is_file() {
            for file in patched_files(root, &patch)? {
                if !files.contains(&file) {
                    files.push(file);
                }
            }
        }
    }
    Ok(files)
}

/// Files among `files` that differ from the committed version.
pub fn changed_files(root: &Path, files: &[String]) -> anyhow::Result<Vec<String>> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = vec!["status", "--porcelain", "--untracked-files=all", "--"];
    args.extend(files.iter().map(String::as_str));
    let out = git(root, &args)?;
    Ok(out
        .lines()
        .filter(|l| l.len() > 3)
        .map(|l| l[3..].to_string())
        .collect())
}

/// `cargo lab start NN`.
pub fn start(root: &Path, which: &str) -> anyhow::Result<String> {
    start_with_seed(root, which, None)
}

/// `cargo lab start NN [--seed N]`: the seed picks the mission's fault.
pub fn start_with_seed(root: &Path, which: &str, seed: Option<u64>) -> anyhow::Result<String> {
    let lesson = lessons::find(root, which)?;
    if let Some(mission) = Mission::load(&lesson)? {
        return mission::start(root, &lesson, &mission, seed);
    }
    if seed.is_some() {
        anyhow::bail!(
            "--seed picks the hidden fault of the debugging mission; lesson {:02} has none",
            lesson.number
        );
    }
    let patch = require_exercise(&lesson)?;
    let files = patched_files(root, &patch)?;
    let changed = changed_files(root, &files)?;
    if !changed.is_empty() {
        anyhow::bail!(
            "lesson {:02} changes {}, which {} local changes; commit or stash them \
             (`git stash`), or drop them with `cargo lab reset {:02}`, then start again",
            lesson.number,
            changed.join(", "),
            if changed.len() == 1 { "has" } else { "have" },
            lesson.number
        );
    }
    apply(root, &patch, "exercise.patch")?;
    stage(root, &files)?;
    let previous = stack::active_lesson(root).filter(|p| p != &lesson.slug);
    stack::set_active_lesson(root, Some(&lesson.slug))?;
    let mut progress = Progress::load(root)?;
    progress.record(&lesson.slug, LessonResult::Started);
    progress.save(root)?;

    let mut out = format!(
        "Lesson {:02} ({}) started: exercise.patch changed {}.\n",
        lesson.number,
        lesson.title(),
        files.join(", ")
    );
    if lesson.env_dir().is_dir() {
        out.push_str(&format!(
            "Its environment (lessons/{}/env/) now applies to the services.\n",
            lesson.slug
        ));
    }
    if let Some(previous) = previous {
        out.push_str(&format!(
            "Lesson {previous}'s environment no longer applies (its files stay as they are).\n"
        ));
    }
    out.push_str(
        "The starting point is staged: `git diff` shows only your changes from here \
         (`git diff HEAD`: everything since the finished version).\n",
    );
    let what_check_does = if crate::check::needs_services(root, which) {
        "rebuilds and restarts what changed, then checks"
    } else {
        "runs your test, then breaks the code it tests; no services needed"
    };
    out.push_str(&format!(
        "\nRead lessons/{}/README.md, make your change at the `LESSON {:02}` marker, then:\n  \
         cargo lab check {:02}      ({what_check_does})\n  \
         cargo lab hint {:02}       (a nudge)\n  \
         cargo lab solution {:02}   (the answer)\n",
        lesson.slug, lesson.number, lesson.number, lesson.number, lesson.number
    ));
    Ok(out)
}

/// `cargo lab reset NN`.
pub fn reset(root: &Path, which: &str) -> anyhow::Result<String> {
    let lesson = lessons::find(root, which)?;
    if Mission::load(&lesson)?.is_some() {
        return mission::reset(root, &lesson);
    }
    let files = lesson_files(root, &lesson)?;
    let changed = changed_files(root, &files)?;
    let mut out = String::new();
    if let Some(saved) = save_learner_changes(root, &lesson, &changed)? {
        out.push_str(&format!(
            "Your changes are kept in {saved}: after `cargo lab start {:02}`, \
             `git apply {saved}` brings them back.\n",
            lesson.number
        ));
    }
    for file in &changed {
        if in_head(root, file)? {
            // Restores the index entry too (start staged the starting point).
            git(root, &["checkout", "HEAD", "--", file])?;
        } else {
            // Not committed: out of the index (if start staged it) and the tree.
            git(
                root,
                &[
                    "rm",
                    "--cached",
                    "--quiet",
                    "--force",
                    "--ignore-unmatch",
                    "--",
                    file,
                ],
            )?;
            if root.join(file).exists() {
                std::fs::remove_file(root.join(file))
                    .map_err(|e| anyhow::anyhow!("cannot remove {file}: {e}"))?;
            }
        }
    }
    if changed.is_empty() {
        out.push_str(&format!(
            "Lesson {:02}'s files were already the committed version ({}).\n",
            lesson.number,
            if files.is_empty() {
                "it patches none".to_string()
            } else {
                files.join(", ")
            }
        ));
    } else {
        out.push_str(&format!(
            "Put back to the committed version: {}.\n",
            changed.join(", ")
        ));
    }
    // Files the learner added beside the lesson's (a module of their own)
    // are theirs: kept, and named, since `git status` still lists them.
    let added = added_files(root, &files)?;
    if !added.is_empty() {
        out.push_str(&format!(
            "Kept as they are, not being in the repository: {} (delete them for a clean tree).\n",
            added.join(", ")
        ));
    }
    if stack::active_lesson(root).as_deref() == Some(lesson.slug.as_str()) {
        stack::set_active_lesson(root, None)?;
        if lesson.env_dir().is_dir() {
            out.push_str(&format!(
                "Lesson {:02}'s environment no longer applies.\n",
                lesson.number
            ));
        }
    }
    // Only code and environments the services run with: a collector
    // config (lessons 11 and 12) is not in any service, nor a unit test
    // (lesson 17, whose check needs no services).
    let service_side = (changed.iter().any(|f| f.ends_with(".rs")) || lesson.env_dir().is_dir())
        && crate::check::needs_services(root, which);
    if service_side {
        out.push_str(
            "The running services still have the lesson's version until the next \
             `scripts/dev-up.sh` (or `cargo lab check`) rebuilds and restarts them.\n",
        );
    }
    let mut progress = Progress::load(root)?;
    progress.forget_started(&lesson.slug);
    progress.save(root)?;
    Ok(out)
}

/// `cargo lab solution NN [--apply]`.
pub fn solution(root: &Path, which: &str, apply_it: bool) -> anyhow::Result<String> {
    let lesson = lessons::find(root, which)?;
    require_exercise(&lesson)?;
    let patch = lesson.solution_patch();
    if !patch.is_file() {
        anyhow::bail!(
            "lesson {:02} has no solution.patch (expected at {})",
            lesson.number,
            patch.display()
        );
    }
    if !apply_it {
        let text = std::fs::read_to_string(&patch)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", patch.display()))?;
        return Ok(format!(
            "{text}\n`cargo lab solution {:02} --apply` applies it on top of the exercise.\n",
            lesson.number
        ));
    }
    if git(
        root,
        &[
            "apply",
            "--check",
            &lesson.exercise_patch().to_string_lossy(),
        ],
    )
    .is_ok()
    {
        anyhow::bail!(
            "lesson {:02} is not started (its exercise is not applied): run `cargo lab start {:02}` first",
            lesson.number,
            lesson.number
        );
    }
    apply(root, &patch, "solution.patch").map_err(|e| {
        anyhow::anyhow!(
            "{e}; your changes to the lesson's files are in the way: `cargo lab reset {:02}` \
             then `cargo lab start {:02}` gives a clean starting point",
            lesson.number,
            lesson.number
        )
    })?;
    let files = patched_files(root, &patch)?;
    Ok(format!(
        "Applied lesson {:02}'s solution to {}. `cargo lab check {:02}` should pass now.\n",
        lesson.number,
        files.join(", "),
        lesson.number
    ))
}

fn require_exercise(lesson: &Lesson) -> anyhow::Result<PathBuf> {
    if lesson.exercise_pending() {
        anyhow::bail!(
            "lesson {:02}'s exercise is not written yet (check.yaml says `exercise: pending`); \
             `cargo lab check {:02}` checks the finished version",
            lesson.number,
            lesson.number
        );
    }
    let patch = lesson.exercise_patch();
    if !patch.is_file() {
        anyhow::bail!(
            "lesson {:02} has no exercise (no {})",
            lesson.number,
            patch.display()
        );
    }
    Ok(patch)
}

fn apply(root: &Path, patch: &Path, name: &str) -> anyhow::Result<()> {
    let path = patch.to_string_lossy();
    git(root, &["apply", "--check", &path])
        .map_err(|e| anyhow::anyhow!("{name} does not apply to your files ({e})"))?;
    git(root, &["apply", &path])?;
    Ok(())
}

/// Stages `files` as they are now (the starting point), so `git diff`
/// shows only the learner's changes from here.
fn stage(root: &Path, files: &[String]) -> anyhow::Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    let mut args = vec!["add", "--"];
    args.extend(files.iter().map(String::as_str));
    git(root, &args)?;
    Ok(())
}

/// When the learner changed the lesson's files since `start`, writes their
/// changes against the starting point (the committed files with
/// `exercise.patch` applied, rebuilt in a scratch index so that whatever
/// the learner staged counts too) to `.lab/saved/<slug>-<time>.patch`, so
/// that `reset` never loses anything. Returns the path to show.
fn save_learner_changes(
    root: &Path,
    lesson: &Lesson,
    changed: &[String],
) -> anyhow::Result<Option<String>> {
    if changed.is_empty() {
        return Ok(None);
    }
    let dir = root.join(".lab").join("saved");
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let index = dir.join("start.index");
    let at_start = |args: &[&str]| git_with_index(root, Some(&index), args);
    let exercise = lesson.exercise_patch().to_string_lossy().to_string();
    // A file the starting point lacks (one the learner created) is in the
    // diff only once marked as meant to be added.
    let mut intent = vec!["add", "--intent-to-add", "--"];
    intent.extend(
        changed
            .iter()
            .filter(|f| root.join(f).exists())
            .map(String::as_str),
    );
    let mut diff = vec!["diff", "--binary", "--"];
    diff.extend(changed.iter().map(String::as_str));
    let patch = at_start(&["read-tree", "HEAD"])
        .and_then(|_| at_start(&["apply", "--cached", &exercise]))
        .and_then(|_| at_start(&intent))
        .and_then(|_| at_start(&diff));
    let _ = std::fs::remove_file(&index);
    let patch = patch?;
    if patch.trim().is_empty() {
        return Ok(None);
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let name = format!(".lab/saved/{}-{stamp}.patch", lesson.slug);
    std::fs::write(root.join(&name), patch)
        .map_err(|e| anyhow::anyhow!("cannot write {name}: {e}"))?;
    Ok(Some(name))
}

/// Is `file` in the committed tree?
fn in_head(root: &Path, file: &str) -> anyhow::Result<bool> {
    Ok(Command::new("git")
        .current_dir(root)
        .args(["cat-file", "-e", &format!("HEAD:{file}")])
        .output()?
        .status
        .success())
}

/// Runs git in `root`; a failure is an error carrying git's own sentence.
/// Files not in HEAD in the folders of `files`: untracked ones, and ones
/// staged as new.
fn added_files(root: &Path, files: &[String]) -> anyhow::Result<Vec<String>> {
    let mut folders: Vec<String> = files
        .iter()
        .filter_map(|file| Path::new(file).parent())
        .map(|folder| match folder.to_string_lossy().into_owned() {
            empty if empty.is_empty() => ".".to_string(),
            folder => folder,
        })
        .collect();
    folders.sort();
    folders.dedup();
    if folders.is_empty() {
        return Ok(Vec::new());
    }
    let mut untracked = vec!["ls-files", "--others", "--exclude-standard", "--"];
    untracked.extend(folders.iter().map(String::as_str));
    let mut staged = vec!["diff", "--cached", "--name-only", "--diff-filter=A", "--"];
    staged.extend(folders.iter().map(String::as_str));
    let mut added: Vec<String> = git(root, &untracked)?
        .lines()
        .chain(git(root, &staged)?.lines())
        .map(str::to_string)
        // Only files directly in those folders: a lesson's folder may be
        // the root, whose subfolders are not the lesson's business.
        .filter(|file| {
            let parent = Path::new(file)
                .parent()
                .map(|p| p.to_string_lossy().into_owned());
            let parent = parent
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| ".".into());
            folders.contains(&parent)
        })
        .collect();
    added.sort();
    added.dedup();
    Ok(added)
}

pub fn git(root: &Path, args: &[&str]) -> anyhow::Result<String> {
    git_with_index(root, None, args)
}

/// [`git`], with `GIT_INDEX_FILE` set to `index` when there is one.
fn git_with_index(root: &Path, index: Option<&Path>, args: &[&str]) -> anyhow::Result<String> {
    let mut command = Command::new("git");
    command.current_dir(root).args(args);
    if let Some(index) = index {
        command.env("GIT_INDEX_FILE", index);
    }
    let output = command
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run git ({e}); is it installed?"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        anyhow::bail!("`git {}` failed: {}", args.join(" "), first.trim());
    }
    Ok(String::from_utf8_lossy(&output.stdout).to_string())
}
