//! The few Python `str` methods lm-eval's prompt code calls, with Python's semantics:
//! `strip()`, `lstrip()`, `capitalize()` and `len()`.
//!
//! Python and Rust disagree at the edges (Python counts U+001C..U+001F as whitespace;
//! `len` counts code points, not bytes), and a prompt that differs by one character scores
//! differently, so tasks use these instead of `trim`/`len`. Not a general Python-string
//! emulation.

/// Python's `str.isspace()` for one character: Unicode White_Space plus the four
/// information separators U+001C..U+001F.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `s.strip()` (no argument).
pub(crate) fn strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// Python's `s.lstrip()` (no argument).
pub(crate) fn lstrip(s: &str) -> &str {
    s.trim_start_matches(is_py_space)
}

/// Python's `s.capitalize()`: the first character upper-cased and the rest lower-cased.
/// Python title-cases the first character; that differs from upper case only for a few
/// digraphs and ligatures (e.g. `ǆ`, `ß`), which no benchmark here starts a field with.
pub(crate) fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        None => String::new(),
        Some(first) => first
            .to_uppercase()
            .chain(chars.as_str().to_lowercase().chars())
            .collect(),
    }
}

/// Python's `len(s)`: the number of code points.
pub(crate) fn char_len(s: &str) -> usize {
    s.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_matches_python_whitespace() {
        assert_eq!(strip("\u{1f} a b\u{a0}\n"), "a b");
        assert_eq!(strip("  "), "");
        assert_eq!(strip("x"), "x");
        assert_eq!(lstrip("\u{1c} a \n"), "a \n");
    }

    #[test]
    fn capitalize_lowers_the_rest() {
        assert_eq!(capitalize("the DVD player"), "The dvd player");
        assert_eq!(capitalize(""), "");
        assert_eq!(capitalize("élan ÉTÉ"), "Élan été");
    }

    #[test]
    fn len_counts_code_points() {
        assert_eq!(char_len(" café"), 5);
    }
}
