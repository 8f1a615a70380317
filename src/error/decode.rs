//! Deserializing a server's reply into a typed value, with an error that names where and what
//! was wrong but never quotes the server's value (serde's own messages do: `invalid type: string
//! "<whatever the server sent>"`).

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Error;

/// The longest path kept in a message, in characters.
const MAX_PATH: usize = 120;

/// Deserializes `value` as a `T`; `what` names it in the error ("initialize result").
pub(crate) fn decode<T: DeserializeOwned>(value: Value, what: &str) -> Result<T, Error> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = describe_path(&err.path().to_string());
        let problem = describe_problem(&err.inner().to_string());
        Error::protocol(format!("malformed {what}: {problem} at {path}"))
    })
}

/// The path, bounded, with only characters that cannot carry a credential's punctuation.
fn describe_path(path: &str) -> String {
    if path.is_empty() || path == "." {
        return "the top level".to_owned();
    }
    let mut out: String = path
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '[' | ']' | '?') {
                c
            } else {
                '?'
            }
        })
        .take(MAX_PATH)
        .collect();
    if path.chars().count() > MAX_PATH {
        out.push('…');
    }
    format!("`{out}`")
}

/// serde's message reduced to its kind and what was expected; the unexpected value is left out.
///
/// serde_json's data errors read `invalid type: string "x", expected a sequence`, `invalid value:
/// integer `3`, expected …`, `unknown variant `x`, expected one of …`, `unknown field `x``,
/// `missing field `name``, `invalid length 3, expected …`, `duplicate field `x``. What follows
/// `expected` is written by this crate's types, never by the server.
fn describe_problem(message: &str) -> String {
    let expected = message
        .split_once(", expected ")
        .map(|(_, expected)| format!(", expected {}", bounded(expected)));
    let expected = expected.as_deref().unwrap_or("");
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        return format!("wrong type ({}){expected}", unexpected_kind(rest));
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        return format!("invalid value ({}){expected}", unexpected_kind(rest));
    }
    if message.starts_with("invalid length") {
        return format!("wrong number of items{expected}");
    }
    if message.starts_with("unknown variant") {
        return format!("unknown variant{expected}");
    }
    if message.starts_with("unknown field") {
        return "unknown field".to_owned();
    }
    if message.starts_with("duplicate field") {
        return "duplicate field".to_owned();
    }
    if let Some(field) = message.strip_prefix("missing field ") {
        // The field's name comes from this crate's types.
        return format!("missing field {}", bounded(field));
    }
    "a value this client cannot read".to_owned()
}

/// The kind of the unexpected value in `string "…", expected …`: the words before any quote,
/// backtick or digit.
fn unexpected_kind(rest: &str) -> String {
    let end = rest
        .find(|c: char| matches!(c, '"' | '`' | ',' | '\'') || c.is_ascii_digit())
        .unwrap_or(rest.len());
    let kind = rest[..end].trim();
    if kind.is_empty() || kind.len() > 24 {
        "a value".to_owned()
    } else {
        kind.to_owned()
    }
}

fn bounded(text: &str) -> String {
    text.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Reply {
        #[serde(rename = "protocolVersion")]
        protocol_version: String,
        tools: Vec<Tool>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Tool {
        name: String,
        kind: Kind,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Read,
    }

    const SECRET: &str = "u+SECRETvalue42";

    fn message(value: Value) -> String {
        decode::<Reply>(value, "test result")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn messages_name_the_path_and_kind_never_the_value() {
        let text = message(json!({"protocolVersion": {"x": SECRET}, "tools": []}));
        assert!(text.contains("wrong type (map)"), "{text}");
        assert!(text.contains("expected a string"), "{text}");
        assert!(text.contains("`protocolVersion`"), "{text}");

        let text =
            message(json!({"protocolVersion": "1", "tools": [{"name": SECRET, "kind": SECRET}]}));
        assert!(text.contains("unknown variant"), "{text}");
        assert!(text.contains("`tools[0].kind`"), "{text}");

        let text = message(json!({"protocolVersion": "1", "tools": SECRET}));
        assert!(text.contains("wrong type (string)"), "{text}");

        let text = message(json!({"protocolVersion": "1", "tools": [{"name": 7, "kind": "read"}]}));
        assert!(text.contains("wrong type (integer)"), "{text}");

        let text = message(json!({"protocolVersion": "1"}));
        assert!(text.contains("missing field `tools`"), "{text}");

        let text = message(json!(SECRET));
        assert!(text.contains("the top level"), "{text}");

        for value in [
            json!({"protocolVersion": SECRET, "tools": [{"name": "a", "kind": SECRET}]}),
            json!({"protocolVersion": [SECRET], "tools": []}),
            json!({"protocolVersion": "1", "tools": [SECRET]}),
            json!({"protocolVersion": "1", "tools": [{"name": [SECRET], "kind": "read"}]}),
        ] {
            let text = message(value);
            assert!(!text.contains("SECRET"), "{text}");
        }
    }

    #[test]
    fn server_supplied_keys_in_the_path_are_bounded_and_defanged() {
        let path = describe_path(&format!("a.{}\"\\", "k".repeat(500)));
        assert!(path.chars().count() < MAX_PATH + 4, "{path}");
        assert!(!path.contains('"') && !path.contains('\\'), "{path}");
    }
}
