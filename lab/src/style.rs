//! Colour for terminals, plain text for everything else.
//!
//! Colour is on only when the output is a terminal and `NO_COLOR` is unset
//! (<https://no-color.org>), so `cargo lab trace latest > trace.txt` and CI
//! logs stay free of escape codes. A handful of ANSI codes is all we need,
//! so there is no colour crate.

use std::io::IsTerminal;

/// Whether to colour, and the helpers that do it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    color: bool,
}

impl Style {
    /// Never colours (tests, files, pipes).
    pub fn plain() -> Self {
        Style { color: false }
    }

    /// Always colours (for tests of the coloured output).
    pub fn colored() -> Self {
        Style { color: true }
    }

    /// Colours when stdout is a terminal and `NO_COLOR` is not set.
    pub fn for_stdout() -> Self {
        Style {
            color: std::io::stdout().is_terminal() && !no_color(),
        }
    }

    pub fn is_colored(&self) -> bool {
        self.color
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    pub fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }

    pub fn red(&self, text: &str) -> String {
        self.paint("31", text)
    }

    pub fn green(&self, text: &str) -> String {
        self.paint("32", text)
    }

    pub fn yellow(&self, text: &str) -> String {
        self.paint("33", text)
    }

    pub fn cyan(&self, text: &str) -> String {
        self.paint("36", text)
    }

    /// Each service gets its own colour, the same on every run (picked
    /// from a hash of the name), like the lanes in Jaeger's UI.
    pub fn service(&self, name: &str) -> String {
        self.in_service_color(name, name)
    }

    /// `text` in the colour of `service`.
    pub fn in_service_color(&self, service: &str, text: &str) -> String {
        const PALETTE: [&str; 6] = ["34", "35", "36", "32", "33", "94"];
        let hash = service
            .bytes()
            .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
        self.paint(PALETTE[hash % PALETTE.len()], text)
    }
}

/// `NO_COLOR` set to anything non-empty turns colour off.
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Pads `text` (which may contain colour codes) to `width` visible columns.
/// `format!("{:width$}")` would count the escape codes as characters.
pub fn pad(text: &str, visible_len: usize, width: usize) -> String {
    format!("{text}{}", " ".repeat(width.saturating_sub(visible_len)))
}

/// The number of characters a person sees (not bytes: `│` is 3 bytes).
pub fn width(text: &str) -> usize {
    text.chars().count()
}

/// Formats microseconds the way people read durations: `850 µs`,
/// `12.3 ms`, `1.52 s`.
pub fn duration(us: u64) -> String {
    if us < 1_000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{:.1} ms", us as f64 / 1_000.0)
    } else {
        format!("{:.2} s", us as f64 / 1_000_000.0)
    }
}
