//! `cargo lab watch [NN]`: a lesson's edit loop, as rustlings has it. It
//! runs the check once, then again every time a file the lesson works on is
//! saved, each result replacing the last on the screen; Ctrl-C stops it.
//!
//! The check does the rest, as `cargo lab check` does: natively it
//! rebuilds and restarts what changed, and a change that does not compile
//! shows the compiler's message (the loop then waits for the next save).
//!
//! The files are the ones the lesson's exercise changes. Their folders are
//! watched, not the files: editors save by writing a new file and renaming
//! it over the old one, and a watch on the old file would end there.

use std::collections::BTreeSet;
use std::future::Future;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::lessons::Lesson;
use crate::style::Style;

/// How long the files must stay quiet before the check runs: one save can
/// be several events (write, rename, metadata), and "save all" several files.
const SETTLE: Duration = Duration::from_millis(300);

/// The lesson `watch` works on: the one named, else the active one; it must
/// be the active lesson (watching the finished version would be pointless)
/// and have files to edit (the mission is answered, not edited).
pub fn lesson_to_watch(root: &Path, which: Option<&str>) -> anyhow::Result<Lesson> {
    let active = crate::stack::active_lesson(root);
    let lesson = match (which, &active) {
        (Some(which), _) => crate::lessons::find(root, which)?,
        (None, Some(slug)) => crate::lessons::all(root)
            .into_iter()
            .find(|lesson| lesson.slug == *slug)
            .ok_or_else(|| anyhow::anyhow!("the started lesson {slug} is not in lessons/"))?,
        (None, None) => anyhow::bail!(
            "no lesson is started: `cargo lab start NN` begins one, then `cargo lab watch` \
             follows your edits"
        ),
    };
    if active.as_deref() != Some(lesson.slug.as_str()) {
        anyhow::bail!(
            "lesson {:02} is not the one you started{}: `cargo lab start {:02}` begins it, \
             then `cargo lab watch` follows your edits",
            lesson.number,
            active
                .map(|slug| format!(" (that is {slug})"))
                .unwrap_or_default(),
            lesson.number
        );
    }
    if !lesson.exercise_patch().is_file() {
        anyhow::bail!(
            "lesson {:02} has no files to edit: it is answered with `cargo lab check {:02} \
             --answer ...`",
            lesson.number,
            lesson.number
        );
    }
    Ok(lesson)
}

/// The files the lesson's exercise changes, as paths under `root`.
pub fn watched_files(root: &Path, lesson: &Lesson) -> anyhow::Result<Vec<PathBuf>> {
    let files = crate::lifecycle::patched_files(root, &lesson.exercise_patch())?;
    Ok(files.into_iter().map(|file| root.join(file)).collect())
}

/// Runs `check` now and after every save of `files`, until `stop`
/// completes (Ctrl-C, for `cargo lab watch`) while it waits for a save.
/// Returns whether the last check passed.
pub async fn run<F, Fut>(
    lesson: &Lesson,
    files: &[PathBuf],
    style: Style,
    mut check: F,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<bool>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    tokio::pin!(stop);
    let (tx, mut changes) = mpsc::unbounded_channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            if matches!(
                event.kind,
                EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
            ) {
                for path in event.paths {
                    let _ = tx.send(path);
                }
            }
        }
    })?;
    // Each file as its folder's real path joins it: that is how the events
    // name it, whichever way the workshop's root was spelled.
    let files: Vec<PathBuf> = files
        .iter()
        .filter_map(|file| Some(file.parent()?.canonicalize().ok()?.join(file.file_name()?)))
        .collect();
    let folders: BTreeSet<&Path> = files.iter().filter_map(|f| f.parent()).collect();
    for folder in &folders {
        watcher.watch(folder, RecursiveMode::NonRecursive)?;
    }
    let names: Vec<String> = files
        .iter()
        .map(|f| {
            f.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let watched = |path: &Path| files.iter().any(|file| file == path);

    loop {
        if std::io::stdout().is_terminal() {
            // A clean screen: only the newest result is on it.
            print!("\x1b[2J\x1b[H");
        }
        println!(
            "{}",
            style.bold(&format!(
                "lesson {:02}, watching {} (Ctrl-C stops)",
                lesson.number,
                names.join(", ")
            ))
        );
        let passed = match check().await {
            Ok(passed) => passed,
            Err(error) => {
                println!(
                    "{}",
                    style.red(&format!("the check could not run: {error:#}"))
                );
                false
            }
        };
        // What the check itself changed meanwhile (lesson 17's check breaks
        // and restores the code under test) is not the learner's save.
        while changes.try_recv().is_ok() {}
        println!(
            "\n{}",
            style.dim("waiting for a change to the lesson's files ...")
        );
        tokio::select! {
            () = &mut stop => return Ok(passed),
            () = next_save(&mut changes, &watched) => {}
        }
    }
}

/// Waits for a change to a watched file, then for the files to be quiet.
async fn next_save(
    changes: &mut mpsc::UnboundedReceiver<PathBuf>,
    watched: &impl Fn(&Path) -> bool,
) {
    loop {
        match changes.recv().await {
            Some(path) if watched(&path) => break,
            Some(_) => continue,
            // The watcher is gone: nothing more will come.
            None => std::future::pending::<()>().await,
        }
    }
    while let Ok(Some(_)) = tokio::time::timeout(SETTLE, changes.recv()).await {}
}
