//! Text from outside, checked where it enters.
//!
//! Postgres refuses a NUL character in `text`, and control characters in a
//! product name are never what a client meant: both would surface later as
//! a database error (a 500). Checked at the door they are a 400 with a
//! sentence saying which field is wrong.

/// `Err(sentence)` when `value` holds a control character (NUL included).
pub fn check_text(field: &str, value: &str) -> Result<(), String> {
    match value.chars().find(|c| c.is_control()) {
        Some(c) => Err(format!(
            "{field} must be plain text, but it contains the control character {:?}",
            c
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::check_text;

    #[test]
    fn plain_text_passes_and_control_characters_do_not() {
        assert!(check_text("product", "Laptop Pro 14\"").is_ok());
        assert!(check_text("product", "Écran ünïcode").is_ok());
        let error = check_text("product", "Lap\0top").unwrap_err();
        assert!(
            error.contains("product") && error.contains("\\0"),
            "{error}"
        );
        assert!(check_text("product", "a\nb").is_err());
    }
}
