//! Property tests of the reply decoders on arbitrary input: the SSE parser and the JSON-RPC
//! classifier never panic, and give the same result however the bytes are split into chunks.

#![cfg(test)]

use proptest::prelude::*;

use super::jsonrpc;
use super::sse::{SseEvent, SseParser};

/// The limit used here: small enough that arbitrary input reaches it.
const LIMIT: usize = 512;

/// Feeds `chunks` to a fresh parser; returns the events, the error (as text) if one stopped it,
/// and the parser's resumption state.
fn parse(chunks: &[&[u8]]) -> (Vec<SseEvent>, Option<String>, Option<String>, Option<u128>) {
    let mut parser = SseParser::new(LIMIT);
    let mut events = Vec::new();
    let mut error = None;
    for chunk in chunks {
        if let Err(err) = parser.feed(chunk, &mut events) {
            error = Some(format!("{:?}", err.kind()));
            break;
        }
    }
    let last = parser.last_event_id().map(str::to_owned);
    let retry = parser.retry().map(|d| d.as_millis());
    (events, error, last, retry)
}

/// Splits `bytes` at the given cut points.
fn split<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|c| {
            if bytes.is_empty() {
                0
            } else {
                c % (bytes.len() + 1)
            }
        })
        .collect();
    points.sort_unstable();
    points.dedup();
    let mut chunks = Vec::new();
    let mut from = 0;
    for point in points {
        chunks.push(&bytes[from..point]);
        from = point;
    }
    chunks.push(&bytes[from..]);
    chunks
}

/// SSE-looking input: fields, values, comments and every line ending, mixed with noise.
fn sse_like() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        "[ -~]{0,40}".prop_map(|v| format!("data: {v}")),
        "[ -~]{0,40}".prop_map(|v| format!("data:{v}")),
        "[!-~]{0,20}".prop_map(|v| format!("id: {v}")),
        "[0-9]{0,6}".prop_map(|v| format!("retry: {v}")),
        "[a-z]{0,10}".prop_map(|v| format!("event: {v}")),
        "[ -~]{0,20}".prop_map(|v| format!(": {v}")),
        Just(String::new()),
        "[ -~]{0,20}",
        any::<Vec<u8>>().prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ];
    let ending = prop_oneof![Just("\n"), Just("\r\n"), Just("\r")];
    (any::<bool>(), prop::collection::vec((line, ending), 0..30)).prop_map(|(bom, lines)| {
        let mut bytes = if bom {
            b"\xEF\xBB\xBF".to_vec()
        } else {
            Vec::new()
        };
        bytes.extend(
            lines
                .into_iter()
                .flat_map(|(l, e)| format!("{l}{e}").into_bytes()),
        );
        bytes
    })
}

/// JSON-RPC-looking values: objects with the fields in any combination and type.
fn json_like() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[ -~]{0,12}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::from("2.0")),
        Just(serde_json::Value::from("tools/list")),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("jsonrpc".to_owned()),
                        Just("id".to_owned()),
                        Just("method".to_owned()),
                        Just("params".to_owned()),
                        Just("result".to_owned()),
                        Just("error".to_owned()),
                        Just("code".to_owned()),
                        Just("message".to_owned()),
                        Just("data".to_owned()),
                        "[a-z]{1,6}",
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|fields| serde_json::Value::Object(fields.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn sse_on_arbitrary_bytes_is_the_same_however_chunked(
        bytes in any::<Vec<u8>>(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let whole = parse(&[&bytes]);
        let chunked = parse(&split(&bytes, &cuts));
        prop_assert_eq!(whole, chunked);
    }

    #[test]
    fn sse_on_sse_like_input_is_the_same_however_chunked(
        bytes in sse_like(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let whole = parse(&[&bytes]);
        let one_byte_at_a_time: Vec<&[u8]> = bytes.chunks(1).collect();
        prop_assert_eq!(&whole, &parse(&one_byte_at_a_time));
        prop_assert_eq!(&whole, &parse(&split(&bytes, &cuts)));
        // Every event stays within the limit.
        for event in &whole.0 {
            prop_assert!(event.data.len() <= LIMIT);
        }
    }

    #[test]
    fn json_rpc_on_arbitrary_text_never_panics(text in any::<String>()) {
        let first = format!("{:?}", jsonrpc::parse_event_data(&text));
        let again = format!("{:?}", jsonrpc::parse_event_data(&text));
        prop_assert_eq!(first, again);
    }

    #[test]
    fn json_rpc_on_json_like_values_never_panics_and_is_deterministic(value in json_like()) {
        let text = value.to_string();
        let from_text = format!("{:?}", jsonrpc::parse_event_data(&text));
        let from_value = format!("{:?}", jsonrpc::parse_messages(value));
        prop_assert_eq!(from_text, from_value);
    }

    #[test]
    fn sse_then_json_rpc_is_the_same_however_chunked(
        values in prop::collection::vec(json_like(), 0..6),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let stream: Vec<u8> = values
            .iter()
            .flat_map(|v| format!("id: e\ndata: {v}\n\n").into_bytes())
            .collect();
        let decode = |chunks: &[&[u8]]| {
            let mut parser = SseParser::new(64 * 1024);
            let mut events = Vec::new();
            for chunk in chunks {
                parser.feed(chunk, &mut events).expect("within the limit");
            }
            events
                .iter()
                .map(|e| format!("{:?}", jsonrpc::parse_event_data(&e.data)))
                .collect::<Vec<_>>()
        };
        let whole = decode(&[&stream]);
        prop_assert_eq!(whole.len(), values.len());
        prop_assert_eq!(whole, decode(&split(&stream, &cuts)));
    }
}
