//! The mission's faults at rest: each one's patch and evidence, sealed so
//! that neither `grep` nor `git diff` reveals them
//! (`lessons/NN-slug/faults/<code>.sealed`).
//!
//! Sealing is not encryption, only a veil: the YAML of a [`Sealed`] is
//! XORed with a SHA-256 keystream (keyed by the fault's code) and written as
//! base64 lines. Anyone who reads this file can open a fault; nobody reads
//! one by accident.
//!
//! Maintainers edit faults in the open and seal them again:
//!
//! ```console
//! $ cargo lab faults open NN /tmp/faults     # <code>.patch and <code>.yaml each
//! $ cargo lab faults seal NN /tmp/faults     # writes lessons/NN-.../faults/*.sealed
//! ```

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::check::spec::Spec;
use crate::lessons::Lesson;

/// One fault, opened.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sealed {
    /// A `git diff` against the finished workshop (main): what the fault
    /// changes in the services.
    pub patch: String,
    /// A check file (see `check::spec`) whose `requests` make the fault show
    /// and whose `trace` says what a trace that shows it looks like.
    pub evidence: String,
}

impl Sealed {
    /// The evidence as a check spec.
    pub fn evidence(&self) -> anyhow::Result<Spec> {
        Spec::parse(&self.evidence)
            .map_err(|e| anyhow::anyhow!("the fault's evidence is not a valid check file: {e}"))
    }

    /// The repository-relative files the patch changes.
    pub fn files(&self) -> Vec<String> {
        let mut files = Vec::new();
        for line in self.patch.lines() {
            if let Some(rest) = line.strip_prefix("+++ b/") {
                let file = rest.trim().to_string();
                if !files.contains(&file) {
                    files.push(file);
                }
            }
        }
        files
    }
}

/// `lessons/NN-slug/faults/`.
pub fn dir(lesson: &Lesson) -> PathBuf {
    lesson.dir.join("faults")
}

/// `lessons/NN-slug/faults/<code>.sealed`.
pub fn file(lesson: &Lesson, code: &str) -> PathBuf {
    dir(lesson).join(format!("{code}.sealed"))
}

/// Reads and opens one fault.
pub fn load(lesson: &Lesson, code: &str) -> anyhow::Result<Sealed> {
    let path = file(lesson, code);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    open(code, &text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The text of a sealed fault.
pub fn seal(code: &str, sealed: &Sealed) -> anyhow::Result<String> {
    let mut bytes = serde_yaml::to_string(sealed)?.into_bytes();
    veil(code, &mut bytes);
    let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let mut text = String::from(
        "# A fault of the debugging mission, sealed: `cargo lab start` opens it.\n\
         # Maintainers: `cargo lab faults open NN DIR` / `cargo lab faults seal NN DIR`.\n",
    );
    for chunk in encoded.as_bytes().chunks(76) {
        text.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        text.push('\n');
    }
    Ok(text)
}

/// Opens a sealed fault's text.
pub fn open(code: &str, text: &str) -> anyhow::Result<Sealed> {
    let encoded: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::trim)
        .collect();
    let mut bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| anyhow::anyhow!("not a sealed fault ({e})"))?;
    veil(code, &mut bytes);
    let yaml = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("not a sealed fault of `{code}` (wrong code?)"))?;
    serde_yaml::from_str(&yaml).map_err(|e| anyhow::anyhow!("not a sealed fault of `{code}` ({e})"))
}

/// XOR with SHA-256("tracing-workshop mission/<code>/<block>") blocks; its
/// own inverse.
fn veil(code: &str, bytes: &mut [u8]) {
    for (block, chunk) in bytes.chunks_mut(32).enumerate() {
        let key = Sha256::digest(format!("tracing-workshop mission/{code}/{block}").as_bytes());
        for (byte, k) in chunk.iter_mut().zip(key.iter()) {
            *byte ^= k;
        }
    }
}

/// `cargo lab faults open NN DIR`: every fault as `<code>.patch` and
/// `<code>.yaml` in `dir`.
pub fn open_all(lesson: &Lesson, codes: &[String], dir: &Path) -> anyhow::Result<String> {
    std::fs::create_dir_all(dir)?;
    for code in codes {
        let sealed = load(lesson, code)?;
        std::fs::write(dir.join(format!("{code}.patch")), &sealed.patch)?;
        std::fs::write(dir.join(format!("{code}.yaml")), &sealed.evidence)?;
    }
    Ok(format!(
        "Opened {} faults into {}: edit <code>.patch (against main) and <code>.yaml (the \
         evidence), then `cargo lab faults seal NN {}`.\n",
        codes.len(),
        dir.display(),
        dir.display()
    ))
}

/// `cargo lab faults seal NN DIR`: seals `<code>.patch` and `<code>.yaml`
/// from `dir` for every fault of the mission.
pub fn seal_all(lesson: &Lesson, codes: &[String], dir: &Path) -> anyhow::Result<String> {
    std::fs::create_dir_all(self::dir(lesson))?;
    for code in codes {
        let read = |ext: &str| {
            let path = dir.join(format!("{code}.{ext}"));
            std::fs::read_to_string(&path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
        };
        let sealed = Sealed {
            patch: read("patch")?,
            evidence: read("yaml")?,
        };
        sealed
            .evidence()
            .map_err(|e| anyhow::anyhow!("{code}.yaml: {e}"))?;
        anyhow::ensure!(
            !sealed.files().is_empty(),
            "{code}.patch changes no file (a `git diff` with `+++ b/` lines)"
        );
        std::fs::write(file(lesson, code), seal(code, &sealed)?)?;
    }
    Ok(format!(
        "Sealed {} faults into {}.\n",
        codes.len(),
        self::dir(lesson).display()
    ))
}
