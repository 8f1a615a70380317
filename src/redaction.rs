//! Redaction: making text derived from a server's reply safe to put into an error or a log line.
//!
//! Two layers:
//!
//! - [`Redactor`] knows the credential values a request carried and removes **every form** of
//!   each from a text: raw, JSON-escaped (`\"`, `\\`, `\/`, `\u0041` …, also escaped twice),
//!   percent-encoded (`%2B`, in either case, or every character encoded), with or without the
//!   scheme's prefix, any run of at least [`MIN_RUN`] of its characters wherever it stands, and
//!   a piece of at least [`MIN_PARTIAL`] characters next to a cut (the text's ends, a `…`, a
//!   `[redacted]` mark). The client runs it on every error at the boundary of each request,
//!   after any truncation, and on what it logs.
//! - [`excerpt`] turns any server text into one short line (control characters and bidirectional
//!   overrides removed, whitespace collapsed, at most [`MAX_EXCERPT`] characters) and blanks what
//!   merely *looks* like a credential (`Authorization: …`, `Bearer …`, `token=…`), for text that
//!   is shown before any credential is known (the token check's reply) and as a second net.

use std::borrow::Cow;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

/// What replaces a credential.
pub(crate) const REDACTED: &str = "[redacted]";

/// The most characters of server-supplied text kept in an error message.
pub(crate) const MAX_EXCERPT: usize = 240;

/// The shortest piece of a credential, next to a cut (the start or the end of a text, a `…`, a
/// `[redacted]` mark), that is still removed. Shorter secrets are removed only whole.
pub(crate) const MIN_PARTIAL: usize = 4;

/// The shortest run of a credential's characters that is removed wherever it stands in a text.
pub(crate) const MIN_RUN: usize = 6;

/// Removes every form of the credential values it knows from texts.
///
/// Holds each value (and its JSON-escaped form) as a [`SecretString`], so a `Redactor` is never
/// printed and its copies are zeroized when it is dropped. Build one when an error needs it; it
/// is cheap.
#[derive(Default)]
pub(crate) struct Redactor {
    needles: Vec<SecretString>,
    /// For each needle: whether runs of its characters are removed too (the value as sent), or
    /// only the whole of it (a stored value with a pasted prefix: `Token ` is six characters
    /// of it that ordinary text holds).
    partial: Vec<bool>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("values", &self.needles.len())
            .finish()
    }
}

impl Redactor {
    /// A redactor that knows no value yet.
    pub(crate) fn new() -> Self {
        Redactor::default()
    }

    /// Adds a credential value. Values shorter than [`MIN_PARTIAL`] characters are ignored (they
    /// would blank ordinary words).
    pub(crate) fn with_secret(self, secret: &str) -> Self {
        self.add(secret, true)
    }

    /// Adds a credential value removed only whole (and in its escaped forms), not by runs of
    /// its characters.
    pub(crate) fn with_whole_secret(self, secret: &str) -> Self {
        self.add(secret, false)
    }

    fn add(mut self, secret: &str, partial: bool) -> Self {
        let secret = secret.trim();
        if secret.chars().count() < MIN_PARTIAL {
            return self;
        }
        let mut add = |needle: String| match self
            .needles
            .iter()
            .position(|n| n.expose_secret() == needle)
        {
            Some(at) => self.partial[at] |= partial,
            None => {
                self.needles.push(SecretString::from(needle));
                self.partial.push(partial);
            }
        };
        add(secret.to_owned());
        let escaped = json_escaped(secret);
        if escaped != secret {
            // Decoding once turns a twice-escaped value into the once-escaped one.
            add(escaped);
        }
        self
    }

    /// A redactor for a credential sent with `scheme`: the value as stored, and as sent (trimmed,
    /// without a pasted prefix).
    pub(crate) fn for_credential(secret: &SecretString, scheme: &crate::AuthScheme) -> Self {
        let stored = secret.expose_secret();
        match scheme.header_value(secret) {
            Ok(value) => {
                let sent = value.as_bytes();
                let bare =
                    String::from_utf8_lossy(sent.get(scheme.prefix().len()..).unwrap_or_default())
                        .into_owned();
                // Runs of the value as sent; the stored one (which may carry a pasted prefix)
                // whole.
                Redactor::new().with_whole_secret(stored).with_secret(&bare)
            }
            Err(_) => Redactor::new().with_secret(stored),
        }
    }

    /// The needles whose runs are removed too.
    fn run_needles(&self) -> impl Iterator<Item = &SecretString> {
        self.needles
            .iter()
            .zip(&self.partial)
            .filter(|(_, partial)| **partial)
            .map(|(needle, _)| needle)
    }

    /// Whether it knows no value.
    pub(crate) fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// Whether `text` holds no form of any known value.
    pub(crate) fn is_clean(&self, text: &str) -> bool {
        self.ranges(text).is_empty()
    }

    /// `text` with every form of every known value replaced by `[redacted]`.
    pub(crate) fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let ranges = self.ranges(text);
        if ranges.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut cursor = 0;
        for (start, end) in ranges {
            out.push_str(&text[cursor..start]);
            out.push_str(REDACTED);
            cursor = end;
        }
        out.push_str(&text[cursor..]);
        Cow::Owned(out)
    }

    /// [`Redactor::redact`] for an owned text, without a copy when nothing is found.
    pub(crate) fn redact_owned(&self, text: String) -> String {
        match self.redact(&text) {
            Cow::Borrowed(_) => text,
            Cow::Owned(clean) => clean,
        }
    }

    /// A JSON value with every string and every object key redacted.
    pub(crate) fn redact_value(&self, value: Value) -> Value {
        match value {
            Value::String(text) => Value::String(self.redact_owned(text)),
            Value::Array(items) => {
                Value::Array(items.into_iter().map(|v| self.redact_value(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(key, value)| (self.redact_owned(key), self.redact_value(value)))
                    .collect(),
            ),
            other => other,
        }
    }

    /// The sorted, disjoint byte ranges of `text` to blank out.
    fn ranges(&self, text: &str) -> Vec<(usize, usize)> {
        let mut ranges = Vec::new();
        if self.needles.is_empty() || text.is_empty() {
            return ranges;
        }
        // The text as it is.
        for needle in &self.needles {
            find(text, needle.expose_secret(), |s, e| ranges.push((s, e)));
        }
        let runs: Vec<&SecretString> = self.run_needles().collect();
        partial_runs(text, &runs, |s, e| ranges.push((s, e)));
        // The text with one level of JSON and percent escapes decoded.
        if text.contains(['\\', '%']) {
            let view = DecodedView::new(text);
            if view.decoded != text {
                for needle in &self.needles {
                    find(&view.decoded, needle.expose_secret(), |s, e| {
                        ranges.push(view.original(s, e));
                    });
                }
                partial_runs(&view.decoded, &runs, |s, e| {
                    ranges.push(view.original(s, e));
                });
            }
        }
        merge(ranges)
    }
}

/// Calls `hit` with the byte range of each occurrence of `needle` in `haystack`.
fn find(haystack: &str, needle: &str, mut hit: impl FnMut(usize, usize)) {
    for (at, _) in haystack.match_indices(needle) {
        hit(at, at + needle.len());
    }
}

/// Runs of a needle's characters in `text` that are not the whole needle: what a cut (a
/// truncated excerpt, a `[redacted]` mark of an earlier, coarser pass, a server that echoes part
/// of a token) leaves of one. A run of at least [`MIN_RUN`] bytes is removed wherever it stands;
/// a shorter one of at least [`MIN_PARTIAL`] bytes when it touches a cut: the start or end of
/// the text, a `…` or `...` truncation mark, or a `[redacted]` mark.
fn partial_runs(text: &str, needles: &[&SecretString], mut hit: impl FnMut(usize, usize)) {
    let bytes = text.as_bytes();
    for needle in needles {
        let needle = needle.expose_secret().as_bytes();
        if needle.len() < MIN_PARTIAL {
            continue;
        }
        let mut at = 0;
        while at + MIN_PARTIAL <= bytes.len() {
            let len = longest_run_at(&bytes[at..], needle);
            if len >= MIN_RUN || (len >= MIN_PARTIAL && touches_a_cut(text, at, at + len)) {
                let (start, end) = char_bounds(text, at, at + len);
                hit(start, end);
                at = end;
            } else {
                at += 1;
            }
        }
    }
}

/// The length of the longest prefix of `text` that appears somewhere in `needle`.
fn longest_run_at(text: &[u8], needle: &[u8]) -> usize {
    let Some(&first) = text.first() else {
        return 0;
    };
    memchr::memchr_iter(first, needle)
        .map(|from| {
            text.iter()
                .zip(&needle[from..])
                .take_while(|(a, b)| a == b)
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// Whether the byte range `start..end` of `text` touches a cut: the text's start or end, a
/// truncation mark or a `[redacted]` mark (white space between them looked through).
fn touches_a_cut(text: &str, start: usize, end: usize) -> bool {
    let before = text[..floor_boundary(text, start)].trim_end();
    let after = text[ceil_boundary(text, end)..].trim_start();
    before.is_empty()
        || after.is_empty()
        || before.ends_with('…')
        || before.ends_with("...")
        || after.starts_with('…')
        || after.starts_with("...")
        || before.ends_with(REDACTED)
        || after.starts_with(REDACTED)
}

/// `start..end` widened to the nearest character boundaries of `text`.
fn char_bounds(text: &str, start: usize, end: usize) -> (usize, usize) {
    (floor_boundary(text, start), ceil_boundary(text, end))
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil_boundary(text: &str, mut at: usize) -> usize {
    while at < text.len() && !text.is_char_boundary(at) {
        at += 1;
    }
    at.min(text.len())
}

/// Sorts and merges overlapping ranges.
fn merge(mut ranges: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// A value as it appears inside a JSON string.
fn json_escaped(value: &str) -> String {
    let quoted = serde_json::to_string(value).unwrap_or_default();
    quoted[1..quoted.len().saturating_sub(1).max(1)].to_owned()
}

/// A text with one level of JSON string escapes (`\"`, `\\`, `\/`, `\uXXXX` below 0x80) and
/// percent escapes (`%XX` below 0x80) decoded, and for each byte of the decoded text the range of
/// the original it came from.
struct DecodedView {
    decoded: String,
    starts: Vec<usize>,
    ends: Vec<usize>,
}

impl DecodedView {
    fn new(text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut view = DecodedView {
            decoded: String::with_capacity(text.len()),
            starts: Vec::with_capacity(text.len()),
            ends: Vec::with_capacity(text.len()),
        };
        let mut i = 0;
        while i < bytes.len() {
            let (decoded, len) = match bytes[i] {
                b'\\' => match bytes.get(i + 1) {
                    Some(b'"') => (Some('"'), 2),
                    Some(b'\\') => (Some('\\'), 2),
                    Some(b'/') => (Some('/'), 2),
                    Some(b'u') => (hex_ascii(bytes.get(i + 2..i + 6)), 6),
                    _ => (None, 1),
                },
                b'%' => (hex_ascii(bytes.get(i + 1..i + 3)), 3),
                _ => (None, 1),
            };
            match decoded {
                Some(c) => view.push(c, i, i + len),
                None => {
                    // A literal character (whole, so multi-byte characters stay intact).
                    let c = text[i..].chars().next().unwrap_or('\u{FFFD}');
                    let len = c.len_utf8();
                    view.push(c, i, i + len);
                    i += len;
                    continue;
                }
            }
            i += len;
        }
        view
    }

    fn push(&mut self, c: char, start: usize, end: usize) {
        self.decoded.push(c);
        for _ in 0..c.len_utf8() {
            self.starts.push(start);
            self.ends.push(end);
        }
    }

    /// The original range of the decoded range `start..end`.
    fn original(&self, start: usize, end: usize) -> (usize, usize) {
        (self.starts[start], self.ends[end - 1])
    }
}

/// The ASCII character that hex digits encode, if they are hex and below 0x80.
fn hex_ascii(digits: Option<&[u8]>) -> Option<char> {
    let digits = std::str::from_utf8(digits?).ok()?;
    let value = u32::from_str_radix(digits, 16).ok()?;
    (value < 0x80).then(|| char::from_u32(value)).flatten()
}

/// Server text made safe for a message: what looks like a credential blanked, control characters
/// removed, whitespace collapsed, truncated to [`MAX_EXCERPT`] characters, and blanked again after
/// the cut. The caller's [`Redactor`] runs after this.
pub(crate) fn excerpt(text: &str) -> String {
    // Look at a bounded prefix only: a message is short, and this keeps the work bounded.
    let mut end = text.len().min(16 * 1024);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let redacted = redact_credential_like(&text[..end]);
    let cut = truncate(&clean(&redacted), MAX_EXCERPT);
    redact_credential_like(&cut)
}

/// Replaces control characters and bidirectional overrides by spaces and collapses whitespace.
pub(crate) fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(1024));
    let mut pending_space = false;
    for c in text.chars() {
        let unwanted = c.is_control()
            || c.is_whitespace()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}');
        if unwanted {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

/// At most `max_chars` characters, with `…` when cut.
pub(crate) fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", text[..cut].trim_end()),
        None => text.to_owned(),
    }
}

/// Replaces what looks like an echoed credential by `[redacted]`: the value after an
/// `Authorization` key (up to the end of the value), and the word after `Bearer ` or `token=`.
pub(crate) fn redact_credential_like(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    // (start, end) byte ranges to blank out.
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    let value_end = |from: usize, stops: &[u8]| {
        text.as_bytes()[from..]
            .iter()
            .position(|b| stops.contains(b))
            .map_or(text.len(), |p| from + p)
    };
    for (at, _) in lower.match_indices("authorization") {
        let mut start = at + "authorization".len();
        let bytes = text.as_bytes();
        // Skip the separator: `": "`, `=`, `: `, `'`.
        let sep_start = start;
        while start < bytes.len()
            && matches!(
                bytes[start],
                b'"' | b'\'' | b':' | b'=' | b' ' | b'\t' | b'\\'
            )
        {
            start += 1;
        }
        let separated = text[sep_start..start].contains([':', '=']);
        if !separated || start >= bytes.len() || text[start..].starts_with(REDACTED) {
            continue;
        }
        let end = value_end(start, b"\"'\r\n,;}<&\\");
        if end > start {
            ranges.push((start, end));
        }
    }
    for needle in ["bearer ", "token="] {
        for (at, _) in lower.match_indices(needle) {
            let start = at + needle.len();
            if text[start..].starts_with(REDACTED) {
                continue;
            }
            let end = value_end(start, b" \t\"'\r\n,;}<&\\");
            if end > start {
                ranges.push((start, end));
            }
        }
    }
    if ranges.is_empty() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut cursor = 0;
    for (start, end) in merge(ranges) {
        out.push_str(&text[cursor..start]);
        out.push_str(REDACTED);
        cursor = end;
    }
    out.push_str(&text[cursor..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "u+Se\"cr\\et/Tok3nValue";

    fn redactor() -> Redactor {
        Redactor::new().with_secret(TOKEN)
    }

    /// A bare 20-character token, as PagerDuty issues them.
    const BARE: &str = "u+PRBTKs07690eXyZq1w";

    #[test]
    fn a_bare_token_cut_by_the_excerpt_inside_a_longer_message_is_removed() {
        // A 403 body that echoes the token without a label, cut by the 240-character excerpt
        // inside the token, then put into a message with more text after it.
        let body = format!("{} {BARE} and more", "x".repeat(MAX_EXCERPT - 16));
        let cut = excerpt(&body);
        assert!(
            cut.contains("u+PRBTKs07690e"),
            "the excerpt cut elsewhere: {cut}"
        );
        let message = format!("HTTP 403: {cut} (ask an admin for the permission)");
        let clean = Redactor::new().with_secret(BARE).redact_owned(message);
        for piece in BARE.as_bytes().windows(MIN_PARTIAL) {
            let piece = std::str::from_utf8(piece).unwrap();
            assert!(
                !clean.contains(piece),
                "{piece:?} of the token left in {clean}"
            );
        }
        assert!(
            clean.contains("(ask an admin for the permission)"),
            "{clean}"
        );
    }

    #[test]
    fn a_pasted_prefix_is_not_redacted_from_ordinary_text() {
        let stored = SecretString::from(format!("Token token={BARE}"));
        let redactor = Redactor::for_credential(&stored, &crate::AuthScheme::token_equals());
        let help = "Create a PagerDuty User API Token: paste the token=… value";
        assert_eq!(redactor.redact(help), help);
        assert_eq!(
            redactor.redact(&format!("got Token token={BARE} x")),
            "got [redacted] x"
        );
        assert_eq!(redactor.redact("id 07690eXy was"), "id [redacted] was");
    }

    #[test]
    fn runs_of_a_token_are_removed_wherever_they_stand_and_short_ones_only_at_cuts() {
        let redactor = Redactor::new().with_secret(BARE);
        // Six characters or more: anywhere.
        assert_eq!(redactor.redact("id 07690eXy was"), "id [redacted] was");
        // Four or five: only next to a cut.
        assert_eq!(redactor.redact("the PRBT was"), "the PRBT was");
        assert_eq!(redactor.redact("ends in …q1w"), "ends in …q1w");
        assert_eq!(redactor.redact("cut PRBT… then"), "cut [redacted]… then");
        assert_eq!(
            redactor.redact("cut PRBT... then"),
            "cut [redacted]... then"
        );
        assert_eq!(
            redactor.redact("a [redacted]XyZq then"),
            "a [redacted][redacted] then"
        );
        assert_eq!(redactor.redact("Xyzq1w"), "Xyzq1w");
        assert_eq!(redactor.redact("XyZq1w"), "[redacted]");
        // Ordinary text stays.
        let text = "the token was not accepted: ask an admin";
        assert_eq!(redactor.redact(text), text);
    }

    fn percent(value: &str, all: bool) -> String {
        value
            .bytes()
            .map(|b| {
                if all || !(b.is_ascii_alphanumeric() || b"-._~".contains(&b)) {
                    format!("%{b:02X}")
                } else {
                    (b as char).to_string()
                }
            })
            .collect()
    }

    fn assert_clean(text: &str) {
        let out = redactor().redact(text).into_owned();
        for piece in ["Se\"cr", "cr\\et", "et/Tok", "Tok3n", "3nValue"] {
            assert!(
                !out.contains(piece),
                "{piece:?} left in {out:?} (from {text:?})"
            );
        }
    }

    #[test]
    fn every_form_of_the_value_is_removed() {
        let escaped = json_escaped(TOKEN);
        let twice = json_escaped(&escaped);
        let unicode: String = TOKEN
            .chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect();
        let forms = [
            TOKEN.to_owned(),
            format!("Token {TOKEN}"),
            escaped.clone(),
            twice,
            escaped.replace('/', "\\/"),
            unicode,
            percent(TOKEN, false),
            TOKEN
                .bytes()
                .map(|b| format!("%{b:02x}"))
                .collect::<String>(),
            percent(TOKEN, true),
            format!("Token%20{}", percent(TOKEN, false)),
            percent(&escaped, false),
        ];
        for form in forms {
            let text = format!("before {form} after");
            let out = redactor().redact(&text).into_owned();
            assert!(
                out.starts_with("before ") && out.ends_with(&format!("{REDACTED} after")),
                "{text} → {out}"
            );
            assert_clean(&text);
        }
    }

    #[test]
    fn a_piece_left_at_a_cut_is_removed() {
        let text = format!("a long message ending in {TOKEN} and more");
        let chars: Vec<char> = text.chars().collect();
        for cut in 0..chars.len() {
            let head: String = chars[..cut].iter().collect();
            assert_clean(&truncate(&head, cut.saturating_sub(1).max(1)));
            assert_clean(&head);
            let tail: String = chars[cut..].iter().collect();
            assert_clean(&tail);
        }
    }

    #[test]
    fn pieces_beside_an_earlier_redaction_are_removed() {
        let text = format!(
            "Authorization: {REDACTED}{} and {}{REDACTED} end",
            &TOKEN[6..],
            &TOKEN[..9]
        );
        assert_clean(&text);
        let out = redactor().redact(&text).into_owned();
        assert!(
            out.ends_with(" end") && out.starts_with("Authorization: "),
            "{out}"
        );
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        let r = redactor();
        for text in [
            "",
            "Invalid token provided",
            "u+",
            "%%%\\\\ \\u12",
            "100% sure \\",
        ] {
            assert_eq!(r.redact(text), text);
        }
        // Multi-byte text around a match keeps its characters.
        let text = format!("é→{TOKEN}←ü");
        assert_eq!(r.redact(&text), format!("é→{REDACTED}←ü"));
        let text = format!("é%41→{}←ü", percent(TOKEN, true));
        assert_eq!(r.redact(&text), format!("é%41→{REDACTED}←ü"));
        // Too short to be matched safely.
        assert!(Redactor::new().with_secret("abc").is_empty());
    }

    #[test]
    fn json_values_are_redacted_in_strings_and_keys() {
        let value = serde_json::json!({
            TOKEN: [TOKEN, {"k": format!("x{}y", json_escaped(TOKEN))}, 1, null],
        });
        let clean = redactor().redact_value(value);
        let text = clean.to_string();
        assert!(!text.contains("Tok3n"), "{text}");
        assert_eq!(clean[REDACTED][2], 1);
    }

    #[test]
    fn excerpts_are_bounded_cleaned_and_blank_credential_like_words() {
        let text = format!("bad\r\n\tthing\u{1b}[31m \u{202E}evil {}", "x".repeat(5000));
        let out = excerpt(&text);
        assert!(out.starts_with("bad thing [31m evil x"), "{out}");
        assert!(out.chars().count() <= MAX_EXCERPT + 1);
        assert!(out.ends_with('…'));
        // A credential-looking word cut by the truncation is still blanked.
        let text = format!(
            "{} Authorization: Token abcdefghijklmnop",
            "y".repeat(MAX_EXCERPT - 26)
        );
        let out = excerpt(&text);
        assert!(!out.contains("abcdefg"), "{out}");
    }
}
