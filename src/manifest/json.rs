//! A node's JSON, written field by field. The manifest of a large project
//! is tens of megabytes of keys, identifiers and hex digests, none of which
//! needs escaping: a derived `Serialize` has every key and value scanned
//! byte by byte for characters to escape. Here keys are written as they
//! are, values are checked for such a character in one pass and copied
//! when there is none, and only a text that has one (a description with a
//! quote or a newline) is escaped, by serde_json. The bytes are those
//! serde_json writes for the same fields.

use super::{ColumnNode, DependsOn, Digest, Fingerprints, Materialization, Node, References};
use crate::ir::ColumnId;

/// An object being written into a buffer: its fields are written with
/// the comma between them.
pub(super) struct Object<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> Object<'o> {
    pub(super) fn new(out: &'o mut Vec<u8>) -> Object<'o> {
        out.push(b'{');
        Object { out, first: true }
    }

    /// Starts a field: `"key":`. A key is a field name, which needs no
    /// escaping. Inlined, so that each key's copy is of a known length.
    #[inline]
    fn key(&mut self, key: &'static str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    #[inline]
    fn str(&mut self, key: &'static str, value: &str) {
        string(self.key(key), value);
    }

    #[inline]
    fn maybe_str(&mut self, key: &'static str, value: Option<&str>) {
        if let Some(value) = value {
            self.str(key, value);
        }
    }

    #[inline]
    fn bool(&mut self, key: &'static str, value: bool) {
        let out = self.key(key);
        out.extend_from_slice(if value { b"true" } else { b"false" });
    }

    #[inline]
    fn number(&mut self, key: &'static str, value: u64) {
        let out = self.key(key);
        out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    #[inline]
    fn digest<const N: usize>(&mut self, key: &'static str, value: &Digest<N>) {
        let out = self.key(key);
        let mut digits = [0; 32];
        value.hex(&mut digits[..2 * N]);
        out.push(b'"');
        out.extend_from_slice(&digits[..2 * N]);
        out.push(b'"');
    }

    /// A list of texts, left out when empty.
    fn strs<S: AsRef<str>>(&mut self, key: &'static str, values: &[S]) {
        if !values.is_empty() {
            self.all_strs(key, values);
        }
    }

    /// A list of texts, written even when empty.
    fn all_strs<S: AsRef<str>>(&mut self, key: &'static str, values: &[S]) {
        let out = self.key(key);
        out.push(b'[');
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(out, value.as_ref());
        }
        out.push(b']');
    }

    /// A list of objects, left out when empty.
    fn objects<T>(&mut self, key: &'static str, values: &[T], write: impl Fn(&T, Object<'_>)) {
        if values.is_empty() {
            return;
        }
        let out = self.key(key);
        out.push(b'[');
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write(value, Object::new(out));
        }
        out.push(b']');
    }

    fn object(&mut self, key: &'static str, write: impl FnOnce(Object<'_>)) {
        write(Object::new(self.key(key)));
    }
}

impl Drop for Object<'_> {
    fn drop(&mut self) {
        self.out.push(b'}');
    }
}

/// A JSON string: copied as it is when nothing in it needs escaping.
pub(super) fn string(out: &mut Vec<u8>, value: &str) {
    if needs_escape(value.as_bytes()) {
        // Writing to a Vec does not fail.
        let _ = serde_json::to_writer(&mut *out, value);
    } else {
        out.push(b'"');
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
    }
}

/// Column references by their column's index (see
/// [`super::Manifest::column`]).
type Refs = References;

impl Object<'_> {
    /// A list of columns, left out when empty.
    fn columns(&mut self, key: &'static str, refs: &Refs, columns: &[ColumnId]) {
        if columns.is_empty() {
            return;
        }
        let out = self.key(key);
        out.push(b'[');
        let named = columns.iter().filter_map(|c| refs.get(*c));
        for (i, column) in named.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(out, column);
        }
        out.push(b']');
    }
}

/// Whether a text has a character JSON escapes: a control character, a
/// quote or a backslash (what serde_json escapes; it leaves the rest as
/// they are). Eight bytes at a time, with the bit tricks of "Bit Twiddling
/// Hacks" (a byte less than `n` sets its high bit in `(w - n) & !w`).
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH;
    let escapes = |word: &[u8; 8]| {
        let w = u64::from_ne_bytes(*word);
        below(w, 0x20)
            | below(w ^ (ONES * u64::from(b'"')), 1)
            | below(w ^ (ONES * u64::from(b'\\')), 1)
            != 0
    };
    let (words, rest) = bytes.as_chunks::<8>();
    // The last bytes, padded with spaces (which are not escaped).
    let mut last = [b' '; 8];
    last[..rest.len()].copy_from_slice(rest);
    words.iter().any(escapes) || escapes(&last)
}

impl Node {
    /// Its JSON, appended to `out`.
    pub(super) fn write_json(&self, refs: &Refs, out: &mut Vec<u8>) {
        let mut o = Object::new(out);
        o.str("unique_id", &self.unique_id);
        o.str("kind", self.kind);
        o.str("name", &self.name);
        o.maybe_str("layer", self.layer.as_deref());
        o.str("file", &self.file);
        o.number("line", self.line as u64);
        o.maybe_str("description", self.description.as_deref());
        if let Some(p) = &self.physical {
            o.object("physical", |mut o| {
                o.str("schema", &p.schema);
                o.str("name", &p.name);
            });
        }
        if let Some(m) = &self.materialized {
            o.object("materialized", |o| m.write_json(o));
        }
        o.strs("tags", &self.tags);
        o.strs("grain", &self.grain);
        o.objects("columns", &self.columns, |c, o| c.write_json(refs, o));
        o.object("depends_on", |o| self.depends_on.write_json(refs, o));
        o.strs("tests", &self.tests);
        o.maybe_str("attached_to", self.attached_to.as_deref());
        o.maybe_str("severity", self.severity);
        o.maybe_str("proven", self.proven.as_deref());
        o.object("fingerprints", |o| self.fingerprints.write_json(o));
    }
}

impl Materialization {
    fn write_json(&self, mut o: Object<'_>) {
        o.str("kind", self.kind);
        o.maybe_str("strategy", self.strategy);
        o.strs("unique_key", &self.unique_key);
        o.maybe_str("since", self.since.as_deref());
        if let Some(seconds) = self.lookback_seconds {
            o.number("lookback_seconds", seconds);
        }
        o.maybe_str("on_schema_change", self.on_schema_change);
    }
}

impl ColumnNode {
    fn write_json(&self, refs: &Refs, mut o: Object<'_>) {
        use std::io::Write;
        o.str("name", &self.name);
        let out = o.key("type");
        match self.ty.plain_name() {
            Some(name) => string(out, name),
            // `numeric(38, 2)`: nothing to escape.
            None => {
                let _ = write!(out, "\"{}\"", self.ty);
            }
        }
        o.bool("nullable", self.nullable);
        o.str("additivity", self.additivity);
        o.maybe_str("description", self.description.as_deref());
        o.columns("from", refs, &self.from);
        o.digest("fingerprint", &self.fingerprint);
    }
}

impl DependsOn {
    fn write_json(&self, refs: &Refs, mut o: Object<'_>) {
        o.all_strs("nodes", &self.nodes);
        o.columns("columns", refs, &self.columns);
    }
}

impl Fingerprints {
    fn write_json(&self, mut o: Object<'_>) {
        o.digest("meaning", &self.meaning);
        o.digest("config", &self.config);
        o.digest("docs", &self.docs);
        if let Some(rows) = &self.rows {
            o.digest("rows", rows);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::string;

    /// Every character serde_json escapes, at every place of every length
    /// up to three words, and texts with none: the same bytes either way.
    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let mut texts: Vec<String> = vec![
            String::new(),
            "model.shop_co.fact_orders.revenue".into(),
            "naïve — “quoted” ✓".into(),
            "\u{7f}~ del and tilde".into(),
        ];
        for len in 1..=24 {
            for at in 0..len {
                for special in [
                    '"', '\\', '\n', '\t', '\u{0}', '\u{1f}', ' ', '!', '#', '[', ']',
                ] {
                    let mut text: String = "abcdefghijklmnopqrstuvwxyz".chars().take(len).collect();
                    text.replace_range(at..=at, &special.to_string());
                    texts.push(text);
                }
            }
        }
        for text in &texts {
            let mut ours = Vec::new();
            string(&mut ours, text);
            let theirs = serde_json::to_vec(text).expect("a string serializes");
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs),
                "{text:?}"
            );
        }
    }
}
