//! An incremental parser for `text/event-stream` (Server-Sent Events), bounded in memory.
//!
//! Follows the WHATWG event-stream interpretation rules: lines end with CRLF, LF or CR; a leading
//! byte-order mark is skipped; `:` starts a comment (keep-alive); `data` lines are joined with
//! `\n`; `id` fills the last-event-id buffer (ignored when it contains NUL), which becomes the
//! stream's last event id only when its event ends with a blank line, even an event without data
//! (so an event cut mid-way never advances the id a resumption sends); `retry` takes digits only;
//! an event is dispatched on a blank line, and only if it has data.

use std::time::Duration;

use crate::error::Error;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseEvent {
    /// The `event:` type (empty means `message`).
    pub(crate) event: String,
    /// The joined `data:` lines.
    pub(crate) data: String,
}

/// Parser state. Feed it byte chunks as they arrive; it returns complete events.
#[derive(Debug)]
pub(crate) struct SseParser {
    line: Vec<u8>,
    data: String,
    event: String,
    has_data: bool,
    /// The `id` seen in the current (unfinished) event, or carried over from earlier ones.
    id_buffer: Option<String>,
    /// The id of the last *complete* event: what `Last-Event-ID` must send.
    last_event_id: Option<String>,
    retry: Option<Duration>,
    max_event_bytes: usize,
    at_start: bool,
    skip_lf: bool,
}

impl SseParser {
    /// A parser refusing any line or event larger than `max_event_bytes`.
    pub(crate) fn new(max_event_bytes: usize) -> Self {
        SseParser {
            line: Vec::new(),
            data: String::new(),
            event: String::new(),
            has_data: false,
            id_buffer: None,
            last_event_id: None,
            retry: None,
            max_event_bytes,
            at_start: true,
            skip_lf: false,
        }
    }

    /// The id of the last complete event that carried one (what `Last-Event-ID` should send).
    pub(crate) fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }

    /// The reconnection delay the server asked for with `retry:`.
    pub(crate) fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// Whether a partial event or line is pending (the stream ended mid-event if so).
    #[cfg(test)]
    pub(crate) fn is_mid_event(&self) -> bool {
        !self.line.is_empty() || self.has_data
    }

    /// Forgets a partial event (after a dropped connection), including an `id` it carried, but
    /// keeps the last complete event's id and the retry delay, which a resumed stream continues
    /// from.
    pub(crate) fn reset_partial(&mut self) {
        self.id_buffer = self.last_event_id.clone();
        self.line.clear();
        self.data.clear();
        self.event.clear();
        self.has_data = false;
        self.at_start = true;
        self.skip_lf = false;
    }

    /// Parses `chunk`, appending complete events to `out`.
    pub(crate) fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), Error> {
        if self.at_start && !chunk.is_empty() {
            // A byte order mark at the very start is dropped, even split across chunks: the
            // bytes of a possible BOM wait in `line` until it is complete or proves not to be one.
            const BOM: &[u8] = b"\xEF\xBB\xBF";
            let held = self.line.len();
            let take = (BOM.len() - held).min(chunk.len());
            if BOM[held..held + take] == chunk[..take] {
                if held + take < BOM.len() {
                    self.line.extend_from_slice(&chunk[..take]);
                    return Ok(());
                }
                self.line.clear();
                chunk = &chunk[take..];
            }
            // Otherwise the held bytes are simply the start of the first line.
            self.at_start = false;
        }
        // A CR ended the previous chunk: an LF starting this one belongs to it (CRLF), once.
        if self.skip_lf && !chunk.is_empty() {
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
            self.skip_lf = false;
        }
        while let Some(end) = chunk.iter().position(|&b| b == b'\n' || b == b'\r') {
            let (head, tail) = chunk.split_at(end);
            let cr = tail[0] == b'\r';
            chunk = &tail[1..];
            if cr {
                match chunk.first() {
                    Some(b'\n') => chunk = &chunk[1..],
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            if self.line.is_empty() {
                self.process_line(head, out)?;
            } else {
                self.grow_line(head)?;
                let line = std::mem::take(&mut self.line);
                let result = self.process_line(&line, out);
                self.line = line;
                self.line.clear();
                result?;
            }
        }
        if !chunk.is_empty() {
            self.grow_line(chunk)?;
        }
        Ok(())
    }

    fn grow_line(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if self.line.len() + bytes.len() > self.max_event_bytes {
            return Err(Error::too_large(self.max_event_bytes));
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) -> Result<(), Error> {
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                let value = std::str::from_utf8(value)
                    .map_err(|_| Error::protocol("an SSE data line is not valid UTF-8"))?;
                if self.data.len() + value.len() + 1 > self.max_event_bytes {
                    return Err(Error::too_large(self.max_event_bytes));
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            b"event" => {
                self.event.clear();
                self.event.push_str(&String::from_utf8_lossy(value));
            }
            b"id" if !value.contains(&0) => {
                self.id_buffer = Some(String::from_utf8_lossy(value).into_owned());
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                if let Ok(ms) = std::str::from_utf8(value).unwrap_or("").parse::<u64>() {
                    self.retry = Some(Duration::from_millis(ms));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        // WHATWG "dispatch the event", step 1: the id becomes the stream's last event id only
        // now that its event is complete (also for an event without data, like a priming event).
        self.last_event_id.clone_from(&self.id_buffer);
        if self.has_data {
            out.push(SseEvent {
                event: std::mem::take(&mut self.event),
                data: std::mem::take(&mut self.data),
            });
        } else {
            self.event.clear();
        }
        self.has_data = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> (Vec<SseEvent>, SseParser) {
        let mut parser = SseParser::new(1024);
        let mut out = Vec::new();
        for chunk in chunks {
            parser.feed(chunk, &mut out).unwrap();
        }
        (out, parser)
    }

    #[test]
    fn joins_multi_line_data_and_skips_comments() {
        let (events, parser) =
            parse_all(&[b": ping\n\nid: 7\nevent: message\ndata: {\"a\":\ndata:1}\n\n"]);
        assert_eq!(
            events,
            vec![SseEvent {
                event: "message".into(),
                data: "{\"a\":\n1}".into()
            }]
        );
        assert_eq!(parser.last_event_id(), Some("7"));
    }

    #[test]
    fn handles_every_line_ending_and_split_chunks() {
        let (events, _) =
            parse_all(&[b"data: a\r", b"\n\r", b"\ndata: b\r\rdata", b": c\n", b"\n"]);
        let data: Vec<_> = events.iter().map(|e| e.data.as_str()).collect();
        assert_eq!(data, ["a", "b", "c"]);
    }

    #[test]
    fn priming_event_sets_id_without_dispatch_and_retry_is_read() {
        let (events, parser) = parse_all(&[b"\xEF\xBB\xBFid: prime-1\nretry: 250\ndata:\n\n"]);
        // `data:` with an empty value is still data: dispatched as an empty string.
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, "");
        assert_eq!(parser.last_event_id(), Some("prime-1"));
        assert_eq!(parser.retry(), Some(Duration::from_millis(250)));
        let (events, parser) = parse_all(&[b"id: p2\n\n"]);
        assert!(events.is_empty());
        assert_eq!(parser.last_event_id(), Some("p2"));
        let (_, parser) = parse_all(&[b"retry: 1x\n\n"]);
        assert_eq!(parser.retry(), None);
    }

    #[test]
    fn oversized_lines_and_events_are_refused() {
        let mut parser = SseParser::new(16);
        let mut out = Vec::new();
        let err = parser.feed(&[b'x'; 40], &mut out).unwrap_err();
        assert!(matches!(err, Error::TooLarge { limit: 16, .. }));
        let mut parser = SseParser::new(16);
        let err = parser
            .feed(b"data: 0123456789\ndata: 0123456789\n", &mut out)
            .unwrap_err();
        assert!(matches!(err, Error::TooLarge { .. }));
    }

    #[test]
    fn reports_a_partial_event() {
        let (events, mut parser) = parse_all(&[b"id: 1\ndata: {\"par"]);
        assert!(events.is_empty());
        assert!(parser.is_mid_event());
        parser.reset_partial();
        assert!(!parser.is_mid_event());
        assert_eq!(parser.last_event_id(), None, "event 1 never completed");
    }

    /// Regression: a stream cut in the middle of an event whose `id:` line had arrived must not
    /// resume after that event (the server would never replay it: its notification or, worse,
    /// the response itself was lost). Found with the mock's `drop_sse_next`.
    #[test]
    fn an_id_counts_only_once_its_event_is_complete() {
        let mut parser = SseParser::new(1024);
        let mut out = Vec::new();
        parser
            .feed(
                b"id: s-0\r\ndata: \r\nretry: 50\r\n\r\nid: s-1\r\ndata: {\"a\":1}\r\n\r\nid: s-2\r\nevent: message\r\ndata: {\"b\"",
                &mut out,
            )
            .unwrap();
        assert_eq!(out.len(), 2, "priming and the first data event");
        assert_eq!(parser.last_event_id(), Some("s-1"));
        parser.reset_partial();
        assert_eq!(parser.last_event_id(), Some("s-1"));
        // The replay after s-1 starts with s-2 in full.
        parser
            .feed(b"id: s-2\r\ndata: {\"b\":2}\r\n\r\n", &mut out)
            .unwrap();
        assert_eq!(out.last().unwrap().data, "{\"b\":2}");
        assert_eq!(parser.last_event_id(), Some("s-2"));
        // An event without an id keeps the previous one (the buffer carries over).
        parser.feed(b"data: 3\n\n", &mut out).unwrap();
        assert_eq!(parser.last_event_id(), Some("s-2"));
    }
}
