//! Server-Sent Events: framing, the per-session event log that makes streams resumable
//! (`Last-Event-ID`), and the response bodies.
//!
//! Event ids are `<stream>-<seq>`: the stream number is unique in the mock, so an id names the
//! stream it belongs to and a GET with `Last-Event-ID` replays only that stream.

use std::collections::{HashMap, VecDeque};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::stream::{self, BoxStream, StreamExt};
use http::{HeaderValue, StatusCode, header};
use serde_json::Value;
use tokio::sync::{mpsc, watch};

/// The most streams whose events are kept for resumption; older ones are forgotten.
const MAX_STREAMS: usize = 4096;
/// How long a cut stream waits before writing its partial event and before breaking.
const CUT_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);
/// The most events kept per stream.
const MAX_EVENTS_PER_STREAM: usize = 1024;

/// `id:` (when given), `event: message` and `data:` lines, CRLF-terminated like the Python SDK.
pub(crate) fn data_event(id: Option<&str>, message: &Value) -> Bytes {
    let json = message.to_string();
    let mut out = String::with_capacity(json.len() + 48);
    if let Some(id) = id {
        out.push_str("id: ");
        out.push_str(id);
        out.push_str("\r\n");
    }
    out.push_str("event: message\r\ndata: ");
    out.push_str(&json);
    out.push_str("\r\n\r\n");
    Bytes::from(out)
}

/// The 2025-11-25 priming event: an id, empty data and the reconnection delay.
pub(crate) fn priming_event(id: &str, retry_ms: u64) -> Bytes {
    Bytes::from(format!("id: {id}\r\ndata: \r\nretry: {retry_ms}\r\n\r\n"))
}

/// An SSE comment line (a keep-alive).
pub(crate) fn comment(text: &str) -> Bytes {
    Bytes::from(format!(": {text}\r\n\r\n"))
}

/// Splits an event id made here into (stream, seq).
pub(crate) fn parse_event_id(id: &str) -> Option<(u64, u64)> {
    let (stream, seq) = id.trim().split_once('-')?;
    Some((stream.parse().ok()?, seq.parse().ok()?))
}

struct StreamLog {
    session_id: String,
    events: VecDeque<(u64, Bytes)>,
    next_seq: u64,
    done: bool,
    live: Option<mpsc::UnboundedSender<Bytes>>,
}

/// Why a resumption was refused.
pub(crate) enum ResumeError {
    /// The id was not made here, or its stream was forgotten.
    UnknownEvent,
    /// The stream belongs to another session.
    OtherSession,
}

/// What a resumption yields: the events after the given id, and the live tail when the stream
/// is still open.
pub(crate) struct Resumed {
    pub(crate) replay: Vec<Bytes>,
    pub(crate) live: Option<mpsc::UnboundedReceiver<Bytes>>,
}

/// Every resumable stream of the session era.
#[derive(Default)]
pub(crate) struct StreamStore {
    next_stream: u64,
    streams: HashMap<u64, StreamLog>,
    order: VecDeque<u64>,
}

impl StreamStore {
    /// Opens a stream of `session_id`; returns its number.
    pub(crate) fn open(&mut self, session_id: &str) -> u64 {
        self.next_stream += 1;
        let number = self.next_stream;
        self.streams.insert(
            number,
            StreamLog {
                session_id: session_id.to_owned(),
                events: VecDeque::new(),
                next_seq: 1,
                done: false,
                live: None,
            },
        );
        self.order.push_back(number);
        while self.order.len() > MAX_STREAMS {
            if let Some(old) = self.order.pop_front() {
                self.streams.remove(&old);
            }
        }
        number
    }

    /// The priming event id of a stream (`<stream>-0`; never replayed).
    pub(crate) fn priming_id(stream: u64) -> String {
        format!("{stream}-0")
    }

    /// Appends a message to a stream: stores it, sends it to the live reader if there is one,
    /// and returns the framed event.
    pub(crate) fn append(&mut self, stream: u64, message: &Value) -> Option<Bytes> {
        let log = self.streams.get_mut(&stream)?;
        let seq = log.next_seq;
        log.next_seq += 1;
        let event = data_event(Some(&format!("{stream}-{seq}")), message);
        log.events.push_back((seq, event.clone()));
        if log.events.len() > MAX_EVENTS_PER_STREAM {
            log.events.pop_front();
        }
        if let Some(live) = &log.live
            && live.send(event.clone()).is_err()
        {
            log.live = None;
        }
        Some(event)
    }

    /// Marks a stream complete: a resumption replays and then ends.
    pub(crate) fn finish(&mut self, stream: u64) {
        if let Some(log) = self.streams.get_mut(&stream) {
            log.done = true;
            log.live = None;
        }
    }

    /// Attaches a new live reader to an open stream (replacing any previous one).
    pub(crate) fn attach(&mut self, stream: u64) -> Option<mpsc::UnboundedReceiver<Bytes>> {
        let log = self.streams.get_mut(&stream)?;
        if log.done {
            return None;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        log.live = Some(tx);
        Some(rx)
    }

    /// The events of the stream named by `last_event_id` after it, for `session_id`.
    pub(crate) fn resume(
        &mut self,
        last_event_id: &str,
        session_id: &str,
    ) -> Result<Resumed, ResumeError> {
        let (stream, after) = parse_event_id(last_event_id).ok_or(ResumeError::UnknownEvent)?;
        let log = self
            .streams
            .get_mut(&stream)
            .ok_or(ResumeError::UnknownEvent)?;
        if log.session_id != session_id {
            return Err(ResumeError::OtherSession);
        }
        let replay = log
            .events
            .iter()
            .filter(|(seq, _)| *seq > after)
            .map(|(_, event)| event.clone())
            .collect();
        let live = if log.done {
            None
        } else {
            let (tx, rx) = mpsc::unbounded_channel();
            log.live = Some(tx);
            Some(rx)
        };
        Ok(Resumed { replay, live })
    }

    /// Forgets every stream of a session (its live readers end).
    pub(crate) fn remove_session(&mut self, session_id: &str) {
        self.streams.retain(|_, log| log.session_id != session_id);
        let streams = &self.streams;
        self.order.retain(|n| streams.contains_key(n));
    }

    /// Ends the live readers of every stream (they stay replayable).
    pub(crate) fn close_all_live(&mut self) {
        for log in self.streams.values_mut() {
            log.live = None;
        }
    }
}

/// How an SSE body ends.
pub(crate) enum Ending {
    /// After the last chunk, normally.
    Complete,
    /// After the given live channel closes (or the mock shuts down).
    Live(mpsc::UnboundedReceiver<Bytes>),
    /// Abruptly, after writing this partial event: the connection is cut mid-event.
    Cut(Bytes),
}

/// A `text/event-stream` response of `chunks`, ended as `ending` says, and cut short when the
/// mock shuts down.
pub(crate) fn sse_response(
    chunks: Vec<Bytes>,
    ending: Ending,
    shutdown: watch::Receiver<bool>,
) -> Response {
    let head = stream::iter(chunks.into_iter().map(Ok::<Bytes, std::io::Error>));
    let body: BoxStream<'static, Result<Bytes, std::io::Error>> = match ending {
        Ending::Complete => head.boxed(),
        Ending::Live(rx) => head
            .chain(tokio_stream::wrappers::UnboundedReceiverStream::new(rx).map(Ok))
            .boxed(),
        // The pauses let the server flush what was written before the connection is cut.
        Ending::Cut(partial) => head
            .chain(stream::once(async move {
                tokio::time::sleep(CUT_PAUSE).await;
                Ok(partial)
            }))
            .chain(stream::once(async {
                tokio::time::sleep(CUT_PAUSE).await;
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "mock: SSE stream dropped mid-event (fault injection)",
                ))
            }))
            .boxed(),
    };
    let mut shutdown = shutdown;
    let stopped = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    let body = body.take_until(Box::pin(stopped));
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-transform"),
    );
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}
