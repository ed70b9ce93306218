//! Building the services with a fault, without touching the learner's
//! tree: the committed tree (`git archive HEAD`) with the fault's patch
//! applied is kept in sync with a build copy (`.lab/mission/src/`), built
//! there with the learner's target directory (dependencies are reused; the
//! workspace's own crates get artifacts of their own, as the copy lives at
//! another path), and the four binaries are copied to the lesson's
//! binary directory, which `scripts/dev-up.sh` runs in place of its own
//! build while the lesson is active.
//!
//! Only files whose content changed are rewritten, so cargo rebuilds only
//! the crates the fault (or a new commit) touched. After the build the
//! patched files are put back to the committed version, so no fault sits
//! in plain text on disk (their new times make the next build recompile
//! those crates, which it must anyway).
//!
//! Cargo names a workspace crate's artifacts by its path relative to the
//! workspace, not by where the workspace is: the copy's crates would share
//! their artifacts (and their freshness) with the learner's own, and the
//! learner's next build would find the fault's binaries up to date. So the
//! copy's crates carry another version ([`COPY_VERSION`]), which gives them
//! artifacts of their own, while the dependencies' are shared. Two copies
//! sharing one target directory (a checkout and the lesson gate's scratch
//! copy) would still share theirs: the target directory remembers which
//! copy built last, and another copy starts from fresh files.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::seal::Sealed;
use crate::lessons::Lesson;
use crate::stack;

/// Appended to the version of every crate of the copy.
pub const COPY_VERSION: &str = "-lab-copy";

/// `.lab/mission/`.
fn work_dir(root: &Path) -> PathBuf {
    root.join(".lab").join("mission")
}

/// `.lab/lesson-<slug>.bin/`: the binaries dev-up runs while the lesson is
/// active (dev-up knows this name).
pub fn bin_dir(root: &Path, lesson: &Lesson) -> PathBuf {
    root.join(".lab")
        .join(format!("lesson-{}.bin", lesson.slug))
}

/// The target directory cargo uses for the learner's builds.
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                root.join(dir)
            }
        }
        None => root.join("target"),
    }
}

/// Builds the four services from HEAD with the fault's patch applied and
/// installs them in [`bin_dir`]. `release`: the release profile (a stack
/// dev-up started with `--release`).
pub fn build(root: &Path, lesson: &Lesson, fault: &Sealed, release: bool) -> anyhow::Result<()> {
    let work = work_dir(root);
    let src = work.join("src");
    let next = work.join("next");
    std::fs::create_dir_all(&work)?;
    remove_dir(&next)?;
    std::fs::create_dir_all(&next)?;
    archive_head(root, &next)?;
    mark_versions(&next)?;
    // Another copy built in this target directory last: its artifacts'
    // times say nothing about this copy's files.
    let marker = target_dir(root).join(".lab-mission-copy");
    let this_copy = src.to_string_lossy().to_string();
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(this_copy.as_str()) {
        remove_dir(&src)?;
    }
    let mut committed = Vec::new();
    for file in fault.files() {
        let content = std::fs::read(next.join(&file)).ok();
        committed.push((file, content));
    }
    let applied = apply(&work, &next, &fault.patch);
    if let Err(e) = applied {
        remove_dir(&next)?;
        return Err(e);
    }
    sync(&next, &src)?;
    remove_dir(&next)?;

    if let Some(dir) = marker.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&marker, &this_copy)?;
    let built = cargo_build(root, &src, release);
    // Put the committed version back whatever happened: no fault in the open.
    for (file, content) in &committed {
        let path = src.join(file);
        match content {
            Some(bytes) => std::fs::write(&path, bytes)?,
            None => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    built?;

    let profile = if release { "release" } else { "debug" };
    let built_dir = target_dir(root).join(profile);
    let bin = bin_dir(root, lesson);
    std::fs::create_dir_all(&bin)?;
    for service in stack::SERVICES {
        let from = built_dir.join(service);
        let tmp = bin.join(format!("{service}.tmp"));
        std::fs::copy(&from, &tmp)
            .map_err(|e| anyhow::anyhow!("cannot copy {}: {e}", from.display()))?;
        std::fs::rename(&tmp, bin.join(service))?;
    }
    Ok(())
}

/// Forgets the lesson's binaries (the build copy stays, for the next start).
pub fn remove_binaries(root: &Path, lesson: &Lesson) -> anyhow::Result<bool> {
    let bin = bin_dir(root, lesson);
    let there = bin.is_dir();
    remove_dir(&bin)?;
    Ok(there)
}

fn remove_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(anyhow::anyhow!("cannot remove {}: {e}", dir.display())),
    }
}

/// [`COPY_VERSION`] appended to the `version` of every crate in `dir`
/// (`*/Cargo.toml`).
fn mark_versions(dir: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let manifest = entry?.path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let mut done = false;
        let lines: Vec<String> = text
            .lines()
            .map(|line| match line.strip_prefix("version = \"") {
                Some(rest) if !done && rest.ends_with('"') => {
                    done = true;
                    format!("version = \"{}{COPY_VERSION}\"", rest.trim_end_matches('"'))
                }
                _ => line.to_string(),
            })
            .collect();
        if done {
            std::fs::write(&manifest, lines.join("\n") + "\n")?;
        }
    }
    Ok(())
}

/// `git archive HEAD | tar -x -C dest`.
fn archive_head(root: &Path, dest: &Path) -> anyhow::Result<()> {
    let mut git = Command::new("git")
        .current_dir(root)
        .args(["archive", "--format=tar", "HEAD"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot run git ({e}); is it installed?"))?;
    let stdout = git.stdout.take().expect("piped");
    let tar = Command::new("tar")
        .current_dir(dest)
        .args(["-xf", "-"])
        .stdin(stdout)
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run tar ({e})"))?;
    let git = git.wait_with_output()?;
    if !git.status.success() {
        anyhow::bail!(
            "`git archive HEAD` failed: {}",
            String::from_utf8_lossy(&git.stderr).trim()
        );
    }
    if !tar.status.success() {
        anyhow::bail!(
            "unpacking HEAD failed: {}",
            String::from_utf8_lossy(&tar.stderr).trim()
        );
    }
    Ok(())
}

/// `git apply` in `dir` (not a repository: git must not look above `work`).
fn apply(work: &Path, dir: &Path, patch: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut child = Command::new("git")
        .current_dir(dir)
        .env("GIT_CEILING_DIRECTORIES", work)
        .args(["apply", "--whitespace=nowarn", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot run git ({e}); is it installed?"))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(patch.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        // git's message names the file and line of the fault: not shown.
        anyhow::bail!(
            "the mission's fault does not apply to your HEAD: it is written against the \
             finished workshop (branch main). Commit or check out main, then start again"
        );
    }
    Ok(())
}

/// Makes `dst` hold exactly the files of `src`, rewriting only those whose
/// content differs (cargo decides by modification time).
fn sync(src: &Path, dst: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dst)?;
    let mut wanted = std::collections::HashSet::new();
    for entry in walk(src)? {
        let relative = entry.strip_prefix(src)?.to_path_buf();
        let target = dst.join(&relative);
        let same = std::fs::read(&target).ok() == Some(std::fs::read(&entry)?);
        if !same {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let _ = std::fs::remove_file(&target);
            std::fs::copy(&entry, &target)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", target.display()))?;
        }
        wanted.insert(relative);
    }
    for entry in walk(dst)? {
        let relative = entry.strip_prefix(dst)?.to_path_buf();
        if !wanted.contains(&relative) {
            std::fs::remove_file(&entry)?;
        }
    }
    Ok(())
}

/// Every file under `dir` (symlinks and other non-files are left out).
fn walk(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    Ok(files)
}

/// `cargo build -p <the four services>` in the copy, its output kept to
/// itself (cargo names the crates it compiles, which would name the fault).
fn cargo_build(root: &Path, src: &Path, release: bool) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(src)
        .env("CARGO_TARGET_DIR", target_dir(root))
        .arg("build")
        .arg("--quiet");
    if release {
        command.arg("--release");
    }
    for service in stack::SERVICES {
        command.args(["-p", service]);
    }
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run cargo ({e})"))?;
    if !out.status.success() {
        let log = work_dir(root).join("build.log");
        let _ = std::fs::write(&log, [out.stdout, out.stderr].concat());
        anyhow::bail!(
            "building the services with the mission's fault failed; cargo's output is in {} \
             (it shows the fault)",
            log.display()
        );
    }
    Ok(())
}
