//! Every relative link in every markdown file of the repository points at
//! something that exists.
//!
//! The README, `docs/` and the lessons link to each other and to the code a
//! learner should read (`[server.rs](telemetry/src/server.rs)`). A file that
//! moves or a heading that is renamed breaks such a link silently; this test
//! makes it loud. For each `*.md` outside `target/`, `.git/` and `.lab/`:
//!
//! - `[text](target)`, `![alt](target)` and `[id]: target` are links; those
//!   inside fenced code blocks or inline code are not. Links with a scheme
//!   (`https://`, `mailto:`) are not checked: only files in the repository.
//! - The target, relative to the file (or to the repository root when it
//!   starts with `/`), must exist, as a file or a directory, inside the
//!   repository.
//! - `file.md#anchor` and `#anchor` must name a heading of that markdown
//!   file, with GitHub's slug rules: lowercase, punctuation dropped except
//!   `-` and `_`, each space a `-`, and `-1`, `-2`, ... for repeated headings.
//!
//! A failure lists every broken link as `file:line: target — reason`.
//! No dependencies: the walk and the parser are small and below.

use std::collections::HashSet;
use std::fs;
use std::path::{Component, Path, PathBuf};

/// The repository root (the workspace holding this crate).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("repository root")
}

#[test]
fn every_relative_link_in_the_markdown_files_resolves() {
    let root = repo_root();
    let files = markdown_files(&root);
    assert!(
        files.iter().any(|f| f.ends_with("README.md")),
        "no markdown files found under {}",
        root.display()
    );
    // A parser that finds nothing would pass everything: the docs link a lot.
    let found: usize = files
        .iter()
        .map(|f| links(&fs::read_to_string(f).unwrap_or_default()).len())
        .sum();
    assert!(
        found >= 100,
        "only {found} links found: is the parser broken?"
    );
    let broken = check_tree(&root, &files);
    assert!(
        broken.is_empty(),
        "{} broken link(s) in the markdown files:\n{}",
        broken.len(),
        broken.join("\n")
    );
}

/// The checker itself: a scratch tree with one good link of each kind and
/// one broken link of each kind. Every break must be reported, with its
/// file and line, and nothing else.
#[test]
fn the_checker_catches_each_kind_of_broken_link() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("stack-check-links");
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(root.join("docs")).unwrap();
    fs::create_dir_all(root.join("src")).unwrap();
    fs::write(root.join("src/main.rs"), "fn main() {}\n").unwrap();
    fs::write(
        root.join("docs/guide.md"),
        "# Guide\n\n## Changing the sampler\n\n## The `rules` file — by hand\n\n## Twice\n\n## Twice\n\nBack to the [top](../README.md#top).\n",
    )
    .unwrap();
    fs::write(
        root.join("README.md"),
        "# Top\n\
         \n\
         Good: [guide](docs/guide.md), [section](docs/guide.md#changing-the-sampler),\n\
         [code](src/main.rs), [folder](src/), [here](#top), [again](docs/guide.md#twice-1),\n\
         [dash](docs/guide.md#the-rules-file--by-hand), [web](https://example.com/x.md),\n\
         [mail](mailto:a@b.c), `[not a link](nowhere.md)`.\n\
         \n\
         ```md\n\
         [inside a fence](nowhere.md)\n\
         ```\n\
         \n\
         Bad: [gone](docs/missing.md), [bad anchor](docs/guide.md#no-such-heading)\n\
         and [bad self](#nope), [outside](../../etc/passwd).\n\
         \n\
         [ref]: src/missing.rs\n",
    )
    .unwrap();

    let files = markdown_files(&root);
    assert_eq!(files.len(), 2, "{files:?}");
    let broken = check_tree(&root, &files);
    let expected = [
        "README.md:12: docs/missing.md — no such file or directory",
        "README.md:12: docs/guide.md#no-such-heading — docs/guide.md has no heading `no-such-heading`",
        "README.md:13: #nope — README.md has no heading `nope`",
        "README.md:13: ../../etc/passwd — points outside the repository",
        "README.md:15: src/missing.rs — no such file or directory",
    ];
    assert_eq!(broken, expected, "\n{}", broken.join("\n"));
}

#[test]
fn slugs_follow_github() {
    assert_eq!(slug("Changing the sampler"), "changing-the-sampler");
    assert_eq!(slug("06 — Baggage"), "06--baggage");
    assert_eq!(
        slug("Where things are: concept → file"),
        "where-things-are-concept--file"
    );
    assert_eq!(slug("The `OTEL_*` variables"), "the-otel_-variables");
    assert_eq!(slug("Run one service natively"), "run-one-service-natively");
    assert_eq!(slug("What's [linked](x.md) here?"), "whats-linked-here");
}

// ---------------------------------------------------------------- the walk

/// Every `*.md` file under `root`, sorted, skipping build output and state.
fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                let skipped = matches!(name.as_str(), ".git" | ".lab" | "target" | "node_modules")
                    || name.starts_with("target-");
                if !skipped {
                    dirs.push(path);
                }
            } else if name.ends_with(".md") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Checks the links of `files`; one line per broken link.
fn check_tree(root: &Path, files: &[PathBuf]) -> Vec<String> {
    let mut broken = Vec::new();
    for file in files {
        let text = fs::read_to_string(file).unwrap_or_default();
        let shown = relative(root, file);
        for link in links(&text) {
            if let Err(reason) = check_link(root, file, &link.target) {
                broken.push(format!("{shown}:{}: {} — {reason}", link.line, link.target));
            }
        }
    }
    broken
}

/// `path` relative to `root`, with `/`, for messages.
fn relative(root: &Path, path: &Path) -> String {
    let path = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<_> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect();
    parts.join("/")
}

/// Why `target`, linked from `from`, is broken; `Ok` when it is not.
fn check_link(root: &Path, from: &Path, target: &str) -> Result<(), String> {
    if has_scheme(target) {
        return Ok(());
    }
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (target, None),
    };
    let path = percent_decode(path);
    let resolved = if path.is_empty() {
        from.to_path_buf()
    } else {
        let base = if path.starts_with('/') {
            root.to_path_buf()
        } else {
            from.parent().unwrap_or(root).to_path_buf()
        };
        normalise(&base.join(path.trim_start_matches('/')))
    };
    if !resolved.starts_with(root) {
        return Err("points outside the repository".to_string());
    }
    if !resolved.exists() {
        return Err("no such file or directory".to_string());
    }
    let Some(anchor) = anchor.filter(|a| !a.is_empty()) else {
        return Ok(());
    };
    // A folder shows its README; line anchors of code (`#L10`) are not checked.
    let page = if resolved.is_dir() {
        resolved.join("README.md")
    } else {
        resolved
    };
    if page.extension().and_then(|e| e.to_str()) != Some("md") || !page.is_file() {
        return Ok(());
    }
    let text = fs::read_to_string(&page).unwrap_or_default();
    let anchor = percent_decode(anchor).to_lowercase();
    if anchors(&text).contains(&anchor) {
        Ok(())
    } else {
        Err(format!(
            "{} has no heading `{anchor}`",
            relative(root, &page)
        ))
    }
}

/// `https:`, `mailto:`, ...: a link that leaves the repository.
fn has_scheme(target: &str) -> bool {
    let Some((scheme, _)) = target.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Resolves `.` and `..` without touching the file system (the target may
/// not exist).
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `%20` → space, and the like; anything malformed is kept as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// -------------------------------------------------------------- the parser

/// One link found in a markdown file.
#[derive(Debug)]
struct Link {
    /// 1-based line number.
    line: usize,
    target: String,
}

/// The lines of `text` outside fenced code blocks, with their 1-based numbers.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut lines = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        let run = marker.map_or(0, |m| trimmed.chars().take_while(|c| *c == m).count());
        match (fence, marker) {
            (None, Some(m)) if run >= 3 => fence = Some((m, run)),
            (Some((m, len)), Some(c))
                if c == m && run >= len && trimmed[run..].trim().is_empty() =>
            {
                fence = None
            }
            (None, _) => lines.push((index + 1, line)),
            _ => {}
        }
    }
    lines
}

/// `line` with its inline code spans (`` `...` ``) blanked out.
fn without_code_spans(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|c| **c == '`').count();
        // The closing run has the same length; without one, the backticks are text.
        let close = (i + run..chars.len()).find(|&j| {
            chars[j..].iter().take_while(|c| **c == '`').count() == run
                && (j == 0 || chars[j - 1] != '`')
        });
        match close {
            Some(j) => {
                out.extend(std::iter::repeat_n(' ', j + run - i));
                i = j + run;
            }
            None => {
                out.extend(&chars[i..i + run]);
                i += run;
            }
        }
    }
    out
}

/// Every link of `text`: inline `[..](target)` / `![..](target)` and
/// reference definitions `[id]: target`.
fn links(text: &str) -> Vec<Link> {
    let mut found = Vec::new();
    for (line_no, line) in prose_lines(text) {
        let line = without_code_spans(line);
        if let Some(target) = reference_definition(&line) {
            found.push(Link {
                line: line_no,
                target,
            });
            continue;
        }
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            match inline_target(after) {
                Some((target, used)) => {
                    if !target.is_empty() {
                        found.push(Link {
                            line: line_no,
                            target,
                        });
                    }
                    rest = &after[used..];
                }
                None => rest = after,
            }
        }
    }
    found
}

/// The target of an inline link, given the text after `](`, and how many
/// bytes it used; `None` when there is no closing `)`.
fn inline_target(after: &str) -> Option<(String, usize)> {
    let after_trimmed = after.trim_start();
    let skipped = after.len() - after_trimmed.len();
    if let Some(inner) = after_trimmed.strip_prefix('<') {
        let end = inner.find('>')?;
        let close = inner[end..].find(')')?;
        return Some((inner[..end].to_string(), skipped + 1 + end + close + 1));
    }
    // Up to the matching `)`, allowing balanced parentheses inside; a title
    // (`"..."` after a space) is not part of the target.
    let mut depth = 0usize;
    for (i, c) in after_trimmed.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => {
                let target = after_trimmed[..i].split_whitespace().next().unwrap_or("");
                return Some((target.to_string(), skipped + i + 1));
            }
            ')' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// `[id]: target` at the start of a line (up to three spaces in).
fn reference_definition(line: &str) -> Option<String> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let rest = line[indent..].strip_prefix('[').filter(|_| indent <= 3)?;
    let (label, after) = rest.split_once("]:")?;
    if label.is_empty() || label.starts_with('^') {
        return None; // `[^1]:` is a footnote
    }
    let target = after.split_whitespace().next()?;
    Some(
        target
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_string(),
    )
}

// ---------------------------------------------------------------- anchors

/// The anchors a markdown file offers: its headings' slugs (with `-1`, `-2`
/// for repeats), and explicit `id="..."` / `name="..."` of HTML tags.
fn anchors(text: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    let add = |base: String, seen: &mut HashSet<String>| {
        let mut candidate = base.clone();
        let mut n = 0;
        while !seen.insert(candidate.clone()) {
            n += 1;
            candidate = format!("{base}-{n}");
        }
    };
    let lines = prose_lines(text);
    for (i, (line_no, line)) in lines.iter().enumerate() {
        if let Some(heading) = atx_heading(line) {
            add(slug(heading), &mut seen);
        } else if is_setext_underline(line) {
            // Only when the line just above is text (not blank, in no fence).
            if let Some((prev_no, prev)) = i.checked_sub(1).map(|p| lines[p]) {
                if prev_no + 1 == *line_no && !prev.trim().is_empty() && atx_heading(prev).is_none()
                {
                    add(slug(prev.trim()), &mut seen);
                }
            }
        }
        for attr in ["id=\"", "name=\""] {
            let mut rest = *line;
            while let Some(at) = rest.find(attr) {
                let value = &rest[at + attr.len()..];
                if let Some(end) = value.find('"') {
                    seen.insert(value[..end].to_lowercase());
                }
                rest = value;
            }
        }
    }
    seen
}

/// The text of an ATX heading (`## Text ##`), if `line` is one.
fn atx_heading(line: &str) -> Option<&str> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let level = rest.chars().take_while(|c| *c == '#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let text = &rest[level..];
    if !text.is_empty() && !text.starts_with([' ', '\t']) {
        return None; // `#hashtag`
    }
    let text = text.trim();
    // A closing run of `#`, when it follows a space, is not part of the text.
    let unclosed = text.trim_end_matches('#');
    let text = if unclosed.is_empty() || unclosed.ends_with([' ', '\t']) {
        unclosed.trim_end()
    } else {
        text
    };
    Some(text)
}

/// `===` or `---` under a line of text makes it a heading.
fn is_setext_underline(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && (t.chars().all(|c| c == '=') || t.chars().all(|c| c == '-'))
}

/// GitHub's anchor for a heading: the rendered text (code marks and link
/// targets dropped), lowercased; letters, digits, `-` and `_` kept, each
/// space a `-`, everything else dropped.
fn slug(heading: &str) -> String {
    let mut text = String::new();
    let mut rest = heading;
    // `[text](target)` renders as `text`.
    while let Some(open) = rest.find('[') {
        let Some(mid) = rest[open..].find("](") else {
            break;
        };
        let Some((_, used)) = inline_target(&rest[open + mid + 2..]) else {
            break;
        };
        text.push_str(&rest[..open]);
        text.push_str(&rest[open + 1..open + mid]);
        rest = &rest[open + mid + 2 + used..];
    }
    text.push_str(rest);
    text.to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}
