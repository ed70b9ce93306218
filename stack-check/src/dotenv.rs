//! `.env`: the variables `docker compose` substitutes into docker-compose.yml.
//!
//! Only the file counts here, not the shell: the check must give the same
//! answer on every machine, and the stack's versions must be pinned in the file.

use std::collections::BTreeMap;

/// The variables of a `.env` file.
#[derive(Debug, Default, Clone)]
pub struct DotEnv {
    vars: BTreeMap<String, String>,
}

impl DotEnv {
    /// Parses `KEY=VALUE` lines; blank lines and `#` comments are skipped,
    /// `export ` in front of a key and quotes around a value are allowed.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut vars = BTreeMap::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let Some((key, value)) = line.split_once('=') else {
                return Err(format!("line {} is not KEY=VALUE: {line}", index + 1));
            };
            let key = key.trim();
            if !is_name(key) {
                return Err(format!(
                    "line {}: `{key}` is not a variable name",
                    index + 1
                ));
            }
            vars.insert(key.to_string(), unquote(value.trim()).to_string());
        }
        Ok(DotEnv { vars })
    }

    /// The value of `key`, if the file sets it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    /// Substitutes variables the way compose does: `${VAR}`, `${VAR:-default}`
    /// (default when unset or empty), `${VAR-default}` (when unset),
    /// `${VAR:?message}` / `${VAR?message}`, `$VAR`, and `$$` for a literal `$`.
    /// Names used without a default and not set are pushed to `undefined`.
    pub fn interpolate(&self, text: &str, undefined: &mut Vec<String>) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                out.push('$');
                rest = tail;
            } else if let Some(inner) = after.strip_prefix('{') {
                let Some(end) = closing_brace(inner) else {
                    // Not a complete `${...}`: compose rejects it; keep it as text.
                    out.push_str(&rest[at..]);
                    return out;
                };
                out.push_str(&self.expand(&inner[..end], undefined));
                rest = &inner[end + 1..];
            } else {
                let len = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                if len == 0 {
                    out.push('$');
                } else {
                    out.push_str(&self.lookup(&after[..len], undefined));
                }
                rest = &after[len..];
            }
        }
        out.push_str(rest);
        out
    }

    /// The inside of one `${...}`.
    fn expand(&self, expr: &str, undefined: &mut Vec<String>) -> String {
        let name_len = expr
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(expr.len());
        let (name, op) = expr.split_at(name_len);
        let value = self.get(name);
        let set_and_non_empty = value.is_some_and(|v| !v.is_empty());
        if let Some(default) = op.strip_prefix(":-") {
            return match value {
                Some(v) if set_and_non_empty => v.to_string(),
                _ => self.interpolate(default, undefined),
            };
        }
        if let Some(default) = op.strip_prefix('-') {
            return match value {
                Some(v) => v.to_string(),
                None => self.interpolate(default, undefined),
            };
        }
        if (op.starts_with(":?") && !set_and_non_empty) || (op.starts_with('?') && value.is_none())
        {
            undefined.push(name.to_string());
            return String::new();
        }
        self.lookup(name, undefined)
    }

    fn lookup(&self, name: &str, undefined: &mut Vec<String>) -> String {
        match self.get(name) {
            Some(v) => v.to_string(),
            None => {
                undefined.push(name.to_string());
                String::new()
            }
        }
    }
}

/// Index of the `}` that closes a `${`, allowing nested `${...}` in defaults.
fn closing_brace(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> DotEnv {
        DotEnv::parse("# pins\nA=1.2.3\nexport B='x'\nEMPTY=\n").unwrap()
    }

    #[test]
    fn substitutes_like_compose() {
        let mut undefined = Vec::new();
        let e = env();
        assert_eq!(e.interpolate("img:${A}", &mut undefined), "img:1.2.3");
        assert_eq!(e.interpolate("$B/$$HOME", &mut undefined), "x/$HOME");
        assert_eq!(
            e.interpolate("${EMPTY:-d}|${EMPTY-d}", &mut undefined),
            "d|"
        );
        assert_eq!(e.interpolate("${NOPE:-${A}}", &mut undefined), "1.2.3");
        assert!(undefined.is_empty());
        assert_eq!(e.interpolate("v${NOPE}", &mut undefined), "v");
        assert_eq!(undefined, ["NOPE"]);
    }

    #[test]
    fn rejects_lines_that_are_not_assignments() {
        assert!(DotEnv::parse("JUST_A_NAME\n").is_err());
        assert!(DotEnv::parse("1X=2\n").is_err());
    }
}
