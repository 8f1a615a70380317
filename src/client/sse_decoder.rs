//! The client's SSE decoder, reachable from the benches (not a supported API).

use super::sse::{SseEvent, SseParser};
use crate::error::Error;

/// The MCP client's own incremental `text/event-stream` decoder, exposed so that
/// `benches/sse_decode.rs` can compare it with other crates on the same bytes.
///
/// Hidden and unstable: it exists for benchmarks only and may change or go away in any release.
#[doc(hidden)]
#[derive(Debug)]
pub struct SseDecoder {
    parser: SseParser,
    events: Vec<SseEvent>,
}

impl SseDecoder {
    /// A decoder refusing any event larger than `max_event_bytes`.
    pub fn new(max_event_bytes: usize) -> Self {
        SseDecoder {
            parser: SseParser::new(max_event_bytes),
            events: Vec::new(),
        }
    }

    /// Feeds one chunk; calls `on_event(event_type, data)` for each event it completes.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        mut on_event: impl FnMut(&str, &str),
    ) -> Result<(), Error> {
        self.parser.feed(chunk, &mut self.events)?;
        for event in self.events.drain(..) {
            on_event(&event.event, &event.data);
        }
        Ok(())
    }
}
