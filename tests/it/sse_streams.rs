//! Server-Sent Events against the crate's own embedded mock server: SSE replies in both eras with
//! progress and log notifications before the result, resumption of a dropped session-era stream
//! with GET + `Last-Event-ID`, a dropped stateless stream as an error, and the session's GET
//! stream delivering server notifications.

use std::time::{Duration, Instant};

use super::common::{assert_took_at_least, call, call_err, client, first_method, methods, start};
use futures_util::StreamExt;
use pagerduty_mcp_connect::{
    CallToolResult, Credential, Error, LoggingLevel, NotificationStream, ProtocolPreference,
    ProtocolVersion, RequestOptions, ServerNotification, Session,
};
use pagerduty_mcp_connect_mock::{MockPagerDuty, RecordedRequest, ResponseMode};
use serde_json::{Value, json};

const DEMO: &str = MockPagerDuty::DEMO_TOKEN;
const SESSION: ProtocolPreference = ProtocolPreference::Exact(ProtocolVersion::V2025_11_25);
const STATELESS: ProtocolPreference = ProtocolPreference::Exact(ProtocolVersion::V2026_07_28);

async fn sse_mock() -> MockPagerDuty {
    start(MockPagerDuty::builder().response_mode(ResponseMode::Sse)).await
}

async fn open(mock: &MockPagerDuty, preference: ProtocolPreference) -> Session {
    client(mock, preference)
        .connect(&Credential::new(DEMO))
        .await
        .expect("connect")
}

fn assert_all_authorised(mock: &MockPagerDuty) {
    let records = mock.requests();
    assert!(!records.is_empty());
    for record in &records {
        assert!(record.auth_matched, "{record:?}");
    }
}

/// The records among `records` whose first JSON-RPC method is `method`.
fn with_method<'a>(records: &'a [RecordedRequest], method: &str) -> Vec<&'a RecordedRequest> {
    records
        .iter()
        .filter(|r| first_method(r) == method)
        .collect()
}

/// What has arrived on `stream` so far (waiting at most `wait` for each next one).
async fn drain(stream: &mut NotificationStream, wait: Duration) -> Vec<ServerNotification> {
    let mut out = Vec::new();
    while let Ok(Some(notification)) = tokio::time::timeout(wait, stream.next()).await {
        out.push(notification);
    }
    out
}

fn progress_steps(notifications: &[ServerNotification], token: &Value) -> Vec<u64> {
    notifications
        .iter()
        .filter(|n| n.progress_token() == Some(token))
        .filter_map(|n| n.params["progress"].as_u64())
        .collect()
}

fn log_messages(notifications: &[ServerNotification]) -> Vec<String> {
    notifications
        .iter()
        .filter(|n| n.method == "notifications/message")
        .map(|n| n.params["data"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// Calls `tool` (no arguments) asking for progress under `token`, and returns its result with
/// the notifications that arrived meanwhile, after checking that they report progress 1, 2, 3
/// for `token`.
async fn call_with_progress(
    session: &Session,
    notifications: &mut NotificationStream,
    tool: &str,
    token: &Value,
) -> (CallToolResult, Vec<ServerNotification>) {
    let options = RequestOptions::with_progress_token(token.clone());
    let result = match session.call_tool_with(tool, json!({}), options).await {
        Ok(result) => result,
        Err(err) => panic!("{tool} with progress token {token}: {err:?}"),
    };
    let seen = drain(notifications, Duration::from_millis(300)).await;
    assert_eq!(progress_steps(&seen, token), [1, 2, 3], "{seen:?}");
    (result, seen)
}

/// A default mock, and a session with it in `preference`'s era, subscribed to notifications.
async fn listening_session(
    preference: ProtocolPreference,
) -> (MockPagerDuty, Session, NotificationStream) {
    let mock = MockPagerDuty::start().await;
    let session = open(&mock, preference).await;
    let notifications = session.notifications();
    (mock, session, notifications)
}

/// A session over an SSE-answering mock in `preference`'s era, subscribed to notifications,
/// after checking that a plain request (tools/list) is answered over SSE.
async fn sse_session(
    preference: ProtocolPreference,
) -> (MockPagerDuty, Session, NotificationStream) {
    let mock = sse_mock().await;
    let session = open(&mock, preference).await;
    let notifications = session.notifications();
    let tools = session.list_tools().await.expect("tools/list over SSE");
    assert_eq!(tools.len(), 19);
    (mock, session, notifications)
}

/// The next notification on `stream`, waiting at most five seconds for it.
async fn next_notification(stream: &mut NotificationStream) -> ServerNotification {
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("in time")
        .expect("a notification")
}

/// Waits (at most five seconds) until the mock holds exactly one session with its GET stream
/// open, and returns that session's id.
async fn wait_for_get_stream(mock: &MockPagerDuty) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let sessions = mock.sessions();
        if sessions.len() == 1 && sessions[0].has_standalone_stream {
            return sessions[0].id.clone();
        }
        assert!(Instant::now() < deadline, "no GET stream: {sessions:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn session_era_sse_replies_carry_progress_and_logs_before_the_result() {
    // Plain requests answered as SSE (priming event with an id and empty data first).
    let (mock, session, mut notifications) = sse_session(SESSION).await;

    let token = json!("pt-session-1");
    let (result, seen) =
        call_with_progress(&session, &mut notifications, "list_incidents", &token).await;
    assert!(!result.is_error(), "{}", result.text());
    assert!(result.text().contains("Q1CHKOUT5XX01"));
    let logs = log_messages(&seen);
    assert_eq!(logs.len(), 1, "{seen:?}");
    assert!(logs[0].contains(MockPagerDuty::DEMO_USER_ID));

    // After logging/setLevel warning the info log is no longer sent.
    session
        .set_logging_level(LoggingLevel::Warning)
        .await
        .expect("setLevel");
    let token2 = json!(7);
    let (_, seen) =
        call_with_progress(&session, &mut notifications, "list_services", &token2).await;
    assert!(log_messages(&seen).is_empty(), "{seen:?}");

    for record in mock.requests() {
        assert!(record.auth_matched, "{record:?}");
        if record.http_method == "GET" {
            assert!(
                record.session_id.is_some(),
                "the GET stream names the session"
            );
            assert_eq!(record.accept.as_deref(), Some("text/event-stream"));
        }
    }
}

#[tokio::test]
async fn stateless_sse_replies_carry_progress_and_logs_only_when_asked() {
    let (mock, session, mut notifications) = sse_session(STATELESS).await;

    // Without a log level in `_meta` the server must not send log messages.
    let token = json!("pt-stateless-1");
    let (_, seen) = call_with_progress(&session, &mut notifications, "list_oncalls", &token).await;
    assert!(log_messages(&seen).is_empty(), "{seen:?}");

    // With the level set, it rides in `_meta` and the log arrives on the same stream.
    session
        .set_logging_level(LoggingLevel::Info)
        .await
        .expect("level");
    let token = json!("pt-stateless-2");
    let (_, seen) = call_with_progress(&session, &mut notifications, "list_oncalls", &token).await;
    assert_eq!(log_messages(&seen).len(), 1, "{seen:?}");

    // No GET stream exists in this era. The client asks for a `subscriptions/listen` stream
    // once; the mock does not offer one (404, method not found) and it is not asked again.
    let mut listens = 0;
    for record in mock.requests() {
        assert_eq!(record.http_method, "POST", "{record:?}");
        assert!(record.auth_matched);
        if record
            .jsonrpc_methods
            .iter()
            .any(|m| m == "subscriptions/listen")
        {
            listens += 1;
            assert_eq!(record.status, Some(404), "{record:?}");
        } else {
            assert_eq!(record.status, Some(200), "{record:?}");
        }
    }
    assert!(listens <= 1, "{listens} subscriptions/listen requests");
}

#[tokio::test]
async fn a_dropped_session_stream_is_resumed_with_last_event_id_after_the_retry_delay() {
    let mock = start(MockPagerDuty::builder().sse_retry(Duration::from_millis(300))).await;
    let session = open(&mock, SESSION).await;
    let session_id = mock.sessions()[0].id.clone();

    mock.clear_requests();
    mock.drop_sse_next(1);
    let started = Instant::now();
    let arguments = json!({"incident_id": "Q1SEARCHLAT02"});
    let incident = call(&session, "get_incident", arguments).await;
    assert!(
        incident.text().contains("Search p99 latency"),
        "{}",
        incident.text()
    );
    // The client waited for the server's `retry:` (300 ms) before reconnecting.
    assert_took_at_least(started, Duration::from_millis(250), "resuming");

    let records = mock.requests();
    let story = methods(&records);
    assert_eq!(story, ["POST tools/call", "GET -"], "{records:#?}");
    assert_eq!(records[0].fault, Some("drop_sse"));
    let resume = &records[1];
    let last_id = resume.last_event_id.as_deref().expect("Last-Event-ID");
    assert!(!last_id.is_empty());
    assert_eq!(resume.session_id.as_deref(), Some(session_id.as_str()));
    assert_eq!(resume.protocol_version.as_deref(), Some("2025-11-25"));
    assert_eq!(resume.accept.as_deref(), Some("text/event-stream"));
    assert_eq!(resume.status, Some(200));
    assert_all_authorised(&mock);
}

#[tokio::test]
async fn a_resumed_stream_delivers_every_notification_once() {
    let (mock, session, mut notifications) = listening_session(SESSION).await;
    mock.drop_sse_next(1);
    // The stream breaks after the first half of the events (progress 1 and the log), in the
    // middle of the next one; the replay brings the rest.
    let token = json!("pt-resume");
    let (result, seen) =
        call_with_progress(&session, &mut notifications, "list_incidents", &token).await;
    assert!(!result.is_error());
    assert_eq!(log_messages(&seen).len(), 1);
    let resumes: Vec<_> = mock
        .requests()
        .into_iter()
        .filter(|r| r.http_method == "GET" && r.last_event_id.is_some())
        .collect();
    assert_eq!(resumes.len(), 1, "{resumes:?}");
    assert_all_authorised(&mock);
}

#[tokio::test]
async fn a_dropped_stateless_stream_is_a_transport_error() {
    let mock = MockPagerDuty::start().await;
    let session = open(&mock, STATELESS).await;
    mock.drop_sse_next(1);
    // A write is never repeated, and there is no resumption in this era: the request is lost.
    let note = json!({"incident_id": "Q1CHKOUT5XX01", "content": "dropped"});
    let err = call_err(&session, "add_note_to_incident", note).await;
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    // The write reached the server: it may have run, so repeating it is not safe.
    assert!(err.may_have_run(), "{err:?}");
    assert!(!err.is_retryable(), "{err:?}");
    let records = mock.requests();
    let calls = with_method(&records, "tools/call");
    assert_eq!(calls.len(), 1, "not repeated: {calls:?}");
    assert_eq!(calls[0].fault, Some("drop_sse"));
    assert!(
        records.iter().all(|r| r.http_method == "POST"),
        "no GET resumption in the stateless era: {records:?}"
    );
    assert_all_authorised(&mock);
    // The session carries on.
    session.list_tools().await.expect("still usable");
}

#[tokio::test]
async fn server_notifications_on_the_get_stream_reach_the_session() {
    let (mock, session, mut notifications) = listening_session(SESSION).await;

    // Wait until the listener's GET stream is open on the server.
    let session_id = wait_for_get_stream(&mock).await;
    assert_eq!(
        mock.notify("notifications/tools/list_changed", json!({})),
        1
    );
    assert_eq!(
        mock.notify(
            "notifications/message",
            json!({"level": "warning", "data": "maintenance at noon"})
        ),
        1
    );
    let first = next_notification(&mut notifications).await;
    assert_eq!(first.method, "notifications/tools/list_changed");
    let second = next_notification(&mut notifications).await;
    assert_eq!(second.method, "notifications/message");
    assert_eq!(second.params["data"], "maintenance at noon");

    let gets: Vec<_> = mock
        .requests()
        .into_iter()
        .filter(|r| r.http_method == "GET")
        .collect();
    assert!(!gets.is_empty());
    for get in &gets {
        assert!(get.auth_matched, "{get:?}");
        assert_eq!(get.session_id.as_deref(), Some(session_id.as_str()));
    }
    session.close().await.expect("close");
}

#[tokio::test]
async fn a_dropped_stateless_stream_of_a_read_is_issued_again_not_resumed() {
    let mock = MockPagerDuty::start().await;
    let session = open(&mock, STATELESS).await;
    mock.drop_sse_next(1);
    // tools/list is safe to repeat: the lost request is sent again (a new POST, never a GET).
    let tools = session.list_tools().await.expect("re-issued");
    assert_eq!(tools.len(), 19);
    let records = mock.requests();
    let lists = with_method(&records, "tools/list");
    assert_eq!(lists.len(), 2, "{lists:?}");
    assert_eq!(lists[0].fault, Some("drop_sse"));
    assert_eq!(lists[1].fault, None);
    assert!(records.iter().all(|r| r.http_method == "POST"));
    assert_all_authorised(&mock);
}

#[tokio::test]
async fn the_get_stream_follows_the_session_when_it_is_reestablished() {
    let (mock, session, mut notifications) = listening_session(SESSION).await;
    let old_id = wait_for_get_stream(&mock).await;

    // The server forgets the session; the next request re-establishes it.
    mock.expire_sessions();
    session.ping().await.expect("re-established");
    let new_id = wait_for_get_stream(&mock).await;
    assert_ne!(new_id, old_id);

    // A subscriber from before the expiry still hears the server.
    assert_eq!(
        mock.notify("notifications/resources/list_changed", json!({})),
        1
    );
    let got = next_notification(&mut notifications).await;
    assert_eq!(got.method, "notifications/resources/list_changed");
    for record in mock.requests() {
        assert!(record.auth_matched, "{record:?}");
    }
}

#[tokio::test]
async fn a_log_message_that_echoes_the_token_reaches_the_application_redacted() {
    let (mock, _session, mut notifications) = listening_session(SESSION).await;
    wait_for_get_stream(&mock).await;
    let echoed = format!(
        "request had Authorization: Token {}",
        MockPagerDuty::DEMO_TOKEN
    );
    assert_eq!(
        mock.notify(
            "notifications/message",
            json!({"level": "debug", "data": {"line": echoed, "token": MockPagerDuty::DEMO_TOKEN}})
        ),
        1
    );
    let log = next_notification(&mut notifications).await;
    let text = log.params.to_string();
    assert!(text.contains("[redacted]"), "{text}");
    assert!(!text.contains(MockPagerDuty::DEMO_TOKEN), "{text}");
}
