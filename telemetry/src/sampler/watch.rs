//! Noticing that a file changed, by polling: what makes the rules file hot.
//!
//! A thread looks at the file's modification time and length every poll
//! interval (see [`super::DEFAULT_POLL_INTERVAL`]) and calls back when they
//! have changed. Polling, not inotify: editors save by renaming a new file
//! over the old one (the watched inode never changes), and Docker bind mounts
//! may deliver no events at all. Reading one file's metadata twice a second
//! costs nothing.
//!
//! Two details keep it quiet and safe:
//!
//! - A change is acted on once the file has stayed the same for one more
//!   poll, so a file still being written is not read half-way.
//! - The thread holds only a [`Weak`] reference to what it reloads, so it
//!   stops by itself once the last owner is dropped (a test that builds a
//!   sampler per case leaves no thread behind).
//!
//! What a change *does* is up to the caller: [`super::rules`] re-reads its
//! rules and keeps the old ones when the new file is invalid.

use std::path::{Path, PathBuf};
use std::sync::Weak;
use std::time::{Duration, SystemTime};

/// What the file watcher has done so far.
#[derive(Clone, Debug, Default)]
pub struct WatchStatus {
    /// Changes of the file noticed since start-up (valid or not).
    pub changes_seen: u64,
    /// Why the last change was rejected; `None` if it was loaded.
    pub last_error: Option<String>,
}

/// What tells us the file changed: modification time and length. `None`
/// while the file cannot be read (an editor may be replacing it).
pub(super) type Stamp = Option<(SystemTime, u64)>;

/// The file's stamp right now. Take it *before* reading the file, so that an
/// edit made while you read it is seen as a change afterwards.
pub(super) fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Starts the polling thread: every `poll`, it compares the stamp of `path`
/// with `loaded` (the stamp of the version already read) and, once a new
/// stamp has held for two polls in a row, calls `on_change(owner, path)`.
/// The thread ends when `owner` has been dropped.
///
/// If no thread can be started, the file is simply not watched: that is
/// logged, and edits then need a restart.
pub(super) fn spawn<T>(
    path: PathBuf,
    poll: Duration,
    mut loaded: Stamp,
    owner: Weak<T>,
    on_change: fn(&T, &Path),
) where
    T: Send + Sync + 'static,
{
    let mut seen = loaded;
    let watcher = move || loop {
        std::thread::sleep(poll);
        let Some(owner) = owner.upgrade() else {
            return;
        };
        let now = stamp(&path);
        if now == seen && now != loaded {
            loaded = now;
            on_change(&owner, &path);
        }
        seen = now;
    };
    let spawned = std::thread::Builder::new()
        .name("sampling-rules-watcher".into())
        .spawn(watcher);
    if let Err(error) = spawned {
        tracing::warn!("cannot watch the sampling rules file ({error}): edits need a restart");
    }
}
