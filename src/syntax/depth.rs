//! How deep an expression may nest, and a scan that finds deeper nesting
//! before the parser recurses into it.
//!
//! Every later phase (lowering, typing, the checks, emission) walks
//! expressions recursively, and so does pest. Input nested deeper than
//! [`MAX_DEPTH`] is reported as P003 and its item skipped, so no walk ever
//! meets it: the limit is what keeps `shopc` from overflowing its stack on
//! hostile or generated input. It is DuckDB's own default
//! (`max_expression_depth`): an expression deeper than this would not run on
//! the default engine anyway.
//!
//! Two places enforce it. [`too_deep`] scans text for brackets and
//! `case … end` nested deeper than the limit, which is how pest would
//! recurse; lowering counts the depth of the tree it builds from flat chains
//! (`a + b + …`, `- - x`, `x::int::text`), which pest reads without
//! recursion but which nest in the tree.

/// The deepest expression accepted, in levels of the syntax tree.
pub const MAX_DEPTH: usize = 1000;

/// The offset of the first bracket or `case` nested deeper than
/// [`MAX_DEPTH`] in `text`, skipping comments, strings and quoted names.
/// Linear in the text; never recurses.
pub fn too_deep(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'#' => i = skip_to(bytes, i, b'\n'),
            b'\'' => i = skip_quoted(bytes, i, b'\'', false),
            b'"' => i = skip_quoted(bytes, i, b'"', true),
            b'`' => i = skip_to(bytes, i + 1, b'`'),
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i);
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b if b.is_ascii_alphabetic() || b == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                match &text[start..i] {
                    "case" => {
                        depth += 1;
                        if depth > MAX_DEPTH {
                            return Some(start);
                        }
                    }
                    "end" => depth = depth.saturating_sub(1),
                    _ => {}
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The innermost bracket of `text` that is never closed (its offset and
/// the bracket), skipping comments, strings and quoted names: where to
/// point when a file ends inside an item.
pub fn unclosed(text: &str) -> Option<(usize, char)> {
    let bytes = text.as_bytes();
    let mut open: Vec<(usize, u8)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => i = skip_to(bytes, i, b'\n'),
            b'\'' => i = skip_quoted(bytes, i, b'\'', false),
            b'"' => i = skip_quoted(bytes, i, b'"', true),
            b'`' => i = skip_to(bytes, i + 1, b'`'),
            b @ (b'(' | b'[' | b'{') => open.push((i, b)),
            b @ (b')' | b']' | b'}') => {
                let opener = match b {
                    b')' => b'(',
                    b']' => b'[',
                    _ => b'{',
                };
                if let Some(at) = open.iter().rposition(|(_, o)| *o == opener) {
                    open.truncate(at);
                }
            }
            _ => {}
        }
        i += 1;
    }
    open.last().map(|&(at, b)| (at, b as char))
}

/// The index of the next `stop` at or after `from` (or the end).
fn skip_to(bytes: &[u8], from: usize, stop: u8) -> usize {
    bytes[from.min(bytes.len())..]
        .iter()
        .position(|&b| b == stop)
        .map_or(bytes.len(), |p| from + p)
}

/// The index of the quote closing the one at `start`; a doubled quote is
/// part of the text, and so, with `escapes`, is a quote after `\`. A string
/// ends at the end of its line at the latest, as the grammar's do.
fn skip_quoted(bytes: &[u8], start: usize, quote: u8, escapes: bool) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if escapes => i += 1,
            b'\n' if escapes => return i,
            b if b == quote => {
                if !escapes && bytes.get(i + 1) == Some(&quote) {
                    i += 1;
                } else {
                    return i;
                }
            }
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_brackets_and_case_outside_strings_and_comments() {
        let deep = "(".repeat(MAX_DEPTH + 1);
        assert_eq!(too_deep(&deep), Some(MAX_DEPTH));
        assert_eq!(too_deep(&"(".repeat(MAX_DEPTH)), None);
        let cases = "case when x then ".repeat(MAX_DEPTH + 1);
        assert!(too_deep(&cases).is_some());
        let balanced = "(a) ".repeat(10 * MAX_DEPTH);
        assert_eq!(too_deep(&balanced), None);
        let closed = "case when x then 1 end ".repeat(10 * MAX_DEPTH);
        assert_eq!(too_deep(&closed), None);
        for hidden in ["# ", "'", "\"", "`"] {
            let close = if hidden == "# " { "\n" } else { hidden };
            let text = format!("{hidden}{}{close} x", "(".repeat(MAX_DEPTH + 1));
            assert_eq!(too_deep(&text), None, "{hidden}");
        }
        assert_eq!(too_deep("'it''s (' ("), None);
    }

    #[test]
    fn finds_the_innermost_unclosed_bracket() {
        assert_eq!(
            unclosed("model m {\n columns { a = f(1) \n"),
            Some((19, '{'))
        );
        assert_eq!(unclosed("model m { columns { a = 1 } }"), None);
        assert_eq!(unclosed("model m { a = '{' # {\n"), Some((8, '{')));
        assert_eq!(unclosed("a = (1 ]"), Some((4, '(')));
    }
}
