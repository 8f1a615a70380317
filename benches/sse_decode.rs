//! SSE decoding throughput: this crate's decoder (the one its client reads every `text/event-stream`
//! reply with, reached through the hidden `client::SseDecoder`) vs the `sse-stream` crate (what
//! `rmcp` uses) and the `eventsource-stream` crate, on the same bytes cut into the same chunks.
//!
//! * `small events`: 20,000 JSON-RPC notifications of about 170 bytes, each with an `id`.
//! * `large events`: 16 events of 1 MiB of JSON each (one `data:` line per event).
//!
//! Chunks are 16 KiB, as a network read would hand them over. Every decoder must find the same
//! events with the same data length before anything is timed; the figure is the median of
//! several passes, in MB/s of input (higher is better), and the ratio to this crate's decoder.
//!
//! `cargo bench -p pagerduty-mcp-connect-benches --bench sse_decode`; `-- --test` runs one pass.

#[path = "common/mod.rs"]
mod common;

use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use pagerduty_mcp_connect::client::SseDecoder;

const CHUNK: usize = 16 * 1024;

/// An error type for `sse-stream`'s input (it wants a `std::error::Error`).
#[derive(Debug)]
struct NoError;

impl std::fmt::Display for NoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no error")
    }
}

impl std::error::Error for NoError {}

fn small_events(count: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..count {
        out.extend_from_slice(
            format!(
                "id: {i}\nevent: message\ndata: {{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{{\"progressToken\":\"t-1\",\"progress\":{i},\"total\":{count}}}}}\n\n"
            )
            .as_bytes(),
        );
    }
    out
}

fn large_events(count: usize, size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let filler: String = "incident-".repeat(size / 9);
    for i in 0..count {
        out.extend_from_slice(
            format!(
                "id: {i}\ndata: {{\"jsonrpc\":\"2.0\",\"id\":{i},\"result\":{{\"text\":\"{filler}\"}}}}\n\n"
            )
            .as_bytes(),
        );
    }
    out
}

fn chunks(bytes: &[u8]) -> Vec<Bytes> {
    bytes.chunks(CHUNK).map(Bytes::copy_from_slice).collect()
}

/// (events, data bytes) found by each decoder.
type Found = (usize, usize);

fn ours(chunks: &[Bytes]) -> Found {
    let mut decoder = SseDecoder::new(64 * 1024 * 1024);
    let mut found = (0, 0);
    for chunk in chunks {
        decoder
            .feed(chunk, |_, data| {
                found.0 += 1;
                found.1 += data.len();
            })
            .expect("valid stream");
    }
    found
}

async fn sse_stream(chunks: &[Bytes]) -> Found {
    let input = futures_util::stream::iter(chunks.iter().cloned().map(Ok::<_, NoError>));
    let mut stream = sse_stream::SseStream::from_bytes_stream(input);
    let mut found = (0, 0);
    while let Some(event) = stream.next().await {
        let event = event.expect("valid stream");
        if let Some(data) = event.data {
            found.0 += 1;
            found.1 += data.len();
        }
    }
    found
}

async fn eventsource_stream(chunks: &[Bytes]) -> Found {
    let input = futures_util::stream::iter(chunks.iter().cloned().map(Ok::<_, Infallible>));
    let mut stream = input.eventsource();
    let mut found = (0, 0);
    while let Some(event) = stream.next().await {
        let event = event.expect("valid stream");
        found.0 += 1;
        found.1 += event.data.len();
    }
    found
}

fn main() {
    let test = common::test_mode();
    let passes = if test { 1 } else { 15 };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let cases = [
        (
            "small events",
            small_events(if test { 500 } else { 20_000 }),
        ),
        (
            "large events",
            large_events(if test { 2 } else { 16 }, 1024 * 1024),
        ),
    ];
    println!(
        "sse_decode: MB/s of input, median of {passes} passes, {CHUNK}-byte chunks{}",
        if test { " (test mode)" } else { "" }
    );
    println!(
        "{:<14} {:>10} {:<22} {:>10} {:>12}",
        "case", "MB", "decoder", "MB/s", "÷ this crate"
    );
    for (name, bytes) in &cases {
        let input = chunks(bytes);
        let expected = ours(&input);
        assert!(expected.0 > 0);
        assert_eq!(runtime.block_on(sse_stream(&input)), expected, "sse-stream");
        assert_eq!(
            runtime.block_on(eventsource_stream(&input)),
            expected,
            "eventsource-stream"
        );
        let mut times: [Vec<Duration>; 3] = Default::default();
        for _ in 0..passes {
            let start = Instant::now();
            std::hint::black_box(ours(&input));
            times[0].push(start.elapsed());
            let start = Instant::now();
            std::hint::black_box(runtime.block_on(sse_stream(&input)));
            times[1].push(start.elapsed());
            let start = Instant::now();
            std::hint::black_box(runtime.block_on(eventsource_stream(&input)));
            times[2].push(start.elapsed());
        }
        let mb = bytes.len() as f64 / 1e6;
        let rates: Vec<f64> = times
            .iter_mut()
            .map(|t| {
                t.sort_unstable();
                mb / t[t.len() / 2].as_secs_f64()
            })
            .collect();
        for (decoder, rate) in [
            "pagerduty_mcp_connect",
            "sse-stream 0.2",
            "eventsource-stream 0.2",
        ]
        .iter()
        .zip(&rates)
        {
            println!(
                "{:<14} {:>10.1} {:<22} {:>10.0} {:>12.2}",
                name,
                mb,
                decoder,
                rate,
                rate / rates[0]
            );
        }
    }
}
