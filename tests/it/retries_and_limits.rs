//! Retries and limits against the crate's own embedded mock server: which failures are retried
//! (only requests safe to repeat), how `Retry-After` is honoured, and how time-outs, oversized and
//! malformed replies, cross-origin redirects and unreachable servers end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::common::{
    assert_took_less_than, call, call_err, eventually, first_method, new_incident, start,
};
use super::loopback::serve_mcp;
use pagerduty_mcp_connect::{
    AuthScheme, Credential, Error, GenericServer, McpClientBuilder, ProtocolPreference,
    ProtocolVersion, Session,
};
use pagerduty_mcp_connect_mock::{MockPagerDuty, RecordedRequest};
use serde_json::json;

const DEMO: &str = MockPagerDuty::DEMO_TOKEN;
const SESSION: ProtocolPreference = ProtocolPreference::Exact(ProtocolVersion::V2025_11_25);
const STATELESS: ProtocolPreference = ProtocolPreference::Exact(ProtocolVersion::V2026_07_28);

fn builder(url: &str, preference: ProtocolPreference) -> McpClientBuilder {
    let server = GenericServer::new("mock", url, AuthScheme::token()).expect("loopback URL");
    pagerduty_mcp_connect::McpClient::builder(server)
        .protocol(preference)
        .retry_base_delay(Duration::from_millis(20))
}

async fn open(mock: &MockPagerDuty, builder: McpClientBuilder) -> Session {
    let _ = mock;
    builder
        .build()
        .expect("client")
        .connect(&Credential::new(DEMO))
        .await
        .expect("connect")
}

/// A mock that hangs a request for 10 s when told to, and a session with it in `preference`'s
/// era whose requests time out after 500 ms.
async fn hanging_session(preference: ProtocolPreference) -> (MockPagerDuty, Session) {
    let mock = start(MockPagerDuty::builder().hang_duration(Duration::from_secs(10))).await;
    let builder = builder(mock.url().as_str(), preference);
    let session = open(&mock, builder.request_timeout(Duration::from_millis(500))).await;
    (mock, session)
}

/// The recorded POSTs of one JSON-RPC method.
fn posts_of(mock: &MockPagerDuty, method: &str) -> Vec<RecordedRequest> {
    mock.requests()
        .into_iter()
        .filter(|r| r.http_method == "POST" && first_method(r) == method)
        .collect()
}

/// The statuses the mock answered the POSTs of one JSON-RPC method with, in order.
fn statuses_of(mock: &MockPagerDuty, method: &str) -> Vec<Option<u16>> {
    posts_of(mock, method).iter().map(|r| r.status).collect()
}

fn assert_all_authorised(mock: &MockPagerDuty) {
    let records = mock.requests();
    assert!(!records.is_empty());
    for record in &records {
        assert!(record.auth_matched, "{record:?}");
    }
}

#[tokio::test]
async fn a_503_on_a_read_is_retried_and_succeeds() {
    for preference in [SESSION, STATELESS] {
        let mock = MockPagerDuty::start().await;
        let session = open(&mock, builder(mock.url().as_str(), preference)).await;
        mock.fail_next(1, 503);
        let tools = session.list_tools().await.expect("retried");
        assert_eq!(tools.len(), 19);
        let posts = posts_of(&mock, "tools/list");
        assert_eq!(posts.len(), 2, "{preference:?}: {posts:?}");
        assert_eq!(posts[0].status, Some(503));
        assert_eq!(posts[0].fault, Some("fail"));
        assert_eq!(posts[1].status, Some(200));
        assert_eq!(posts[0].session_id, posts[1].session_id);
        assert_all_authorised(&mock);
    }
}

#[tokio::test]
async fn a_500_on_a_write_tool_is_not_retried() {
    let mock = MockPagerDuty::start().await;
    let session = open(&mock, builder(mock.url().as_str(), SESSION)).await;
    session.list_tools().await.expect("tools/list");
    mock.fail_next(1, 500);
    let err = call_err(
        &session,
        "create_incident",
        new_incident("Must not be sent twice"),
    )
    .await;
    assert!(
        matches!(err, Error::HttpStatus { status: 500, .. }),
        "{err:?}"
    );
    // The write may have run: repeating it is not safe, whatever the status says.
    assert!(err.may_have_run(), "{err:?}");
    assert!(!err.is_retryable(), "{err:?}");
    let calls = posts_of(&mock, "tools/call");
    assert_eq!(calls.len(), 1, "not retried: {calls:?}");
    assert_eq!(calls[0].status, Some(500));
    assert_all_authorised(&mock);
}

#[tokio::test]
async fn a_read_only_tool_becomes_retryable_once_listed() {
    let mock = MockPagerDuty::start().await;
    let session = open(&mock, builder(mock.url().as_str(), STATELESS)).await;

    // Before tools/list the client knows nothing about list_incidents: a 502 stands.
    mock.fail_next(1, 502);
    let err = call_err(&session, "list_incidents", json!({})).await;
    assert!(
        matches!(err, Error::HttpStatus { status: 502, .. }),
        "{err:?}"
    );
    assert_eq!(posts_of(&mock, "tools/call").len(), 1);

    // tools/list says readOnlyHint: true — now a 502 is retried.
    session.list_tools().await.expect("tools/list");
    mock.clear_requests();
    mock.fail_next(1, 502);
    let result = call(&session, "list_incidents", json!({})).await;
    assert!(!result.is_error());
    assert_eq!(statuses_of(&mock, "tools/call"), [Some(502), Some(200)]);
    let calls = posts_of(&mock, "tools/call");
    for call in &calls {
        assert_eq!(call.mcp_name.as_deref(), Some("list_incidents"));
    }
    assert_all_authorised(&mock);
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_as_the_server_asks() {
    let mock = MockPagerDuty::start().await;
    let session = open(&mock, builder(mock.url().as_str(), SESSION)).await;
    mock.rate_limit_next(1, Duration::from_secs(1));
    let started = Instant::now();
    session.list_prompts().await.expect("after the wait");
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    assert_eq!(statuses_of(&mock, "prompts/list"), [Some(429), Some(200)]);
    assert_all_authorised(&mock);
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_is_returned_at_once() {
    let mock = MockPagerDuty::start().await;
    let session = open(
        &mock,
        builder(mock.url().as_str(), SESSION).max_retry_wait(Duration::from_secs(2)),
    )
    .await;
    mock.rate_limit_next(1, Duration::from_secs(120));
    let started = Instant::now();
    let err = session.list_tools().await.expect_err("rate limited");
    assert_took_less_than(started, Duration::from_secs(10), "the rate-limited request");
    match &err {
        Error::RateLimited { retry_after, .. } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(120)))
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    // A generic server description gets the generic advice, whatever the body looks like;
    // PagerDuty's ("960 requests per minute") comes with the `PagerDuty` description only.
    assert!(err.to_string().contains("wait before retrying"), "{err}");
    assert!(!err.to_string().contains("960"), "{err}");
    assert_eq!(posts_of(&mock, "tools/list").len(), 1);
    assert_all_authorised(&mock);
}

#[tokio::test]
async fn a_hanging_request_times_out_and_is_cancelled_in_the_session_era() {
    let (mock, session) = hanging_session(SESSION).await;
    mock.hang_next(1);
    let started = Instant::now();
    let err = call_err(&session, "list_incidents", json!({})).await;
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(8));

    // The session era cancels with notifications/cancelled (sent in the background).
    let cancelled = eventually(250, Duration::from_millis(20), || {
        !posts_of(&mock, "notifications/cancelled").is_empty()
    })
    .await;
    assert!(cancelled, "no notifications/cancelled within 5 s");
    let cancel = &posts_of(&mock, "notifications/cancelled")[0];
    assert_eq!(cancel.status, Some(202));
    assert!(cancel.session_id.is_some());
    let hung = posts_of(&mock, "tools/call");
    assert_eq!(hung.len(), 1);
    assert_eq!(hung[0].fault, Some("hang"));
    // The session is still usable.
    call(&session, "list_incidents", json!({})).await;
    assert_all_authorised(&mock);
}

#[tokio::test]
async fn a_hanging_request_times_out_in_the_stateless_era_without_a_cancel_notification() {
    let (mock, session) = hanging_session(STATELESS).await;
    mock.hang_next(1);
    let err = session.list_tools().await.expect_err("timeout");
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Cancellation there is closing the stream; no notification exists.
    assert!(posts_of(&mock, "notifications/cancelled").is_empty());
    session.list_tools().await.expect("after the time-out");
}

#[tokio::test]
async fn an_oversized_reply_is_too_large_and_the_session_survives() {
    let mock = MockPagerDuty::start().await;
    let limit = 256 * 1024;
    let session = open(
        &mock,
        builder(mock.url().as_str(), SESSION).max_body_bytes(limit),
    )
    .await;
    mock.oversized_next(1, 4 * 1024 * 1024);
    let err = call_err(&session, "list_incidents", json!({})).await;
    assert!(
        matches!(err, Error::TooLarge { limit: l, .. } if l == limit),
        "{err:?}"
    );
    let result = call(&session, "list_incidents", json!({})).await;
    assert!(!result.is_error());
    assert_all_authorised(&mock);
}

#[tokio::test]
async fn a_malformed_reply_is_a_protocol_error() {
    for preference in [SESSION, STATELESS] {
        let mock = MockPagerDuty::start().await;
        let session = open(&mock, builder(mock.url().as_str(), preference)).await;
        mock.malformed_next(1);
        let err = session.list_tools().await.expect_err("malformed");
        assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
        assert!(!err.is_retryable());
        assert_eq!(posts_of(&mock, "tools/list").len(), 1, "not retried");
        session.list_tools().await.expect("still usable");
        assert_all_authorised(&mock);
    }
}

/// A plain HTTP listener on another loopback port counting what reaches it.
async fn other_origin() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            "stolen"
        }
    });
    (serve_mcp(app).await, hits)
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_not_followed() {
    let (elsewhere, hits) = other_origin().await;
    for preference in [SESSION, STATELESS] {
        let mock = MockPagerDuty::start().await;
        let session = open(&mock, builder(mock.url().as_str(), preference)).await;
        mock.redirect_next(1, elsewhere.clone());
        let err = call_err(&session, "list_incidents", json!({})).await;
        assert!(
            matches!(err, Error::HttpStatus { status: 307, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("another origin"), "{err}");
        assert_eq!(
            hits.load(Ordering::SeqCst),
            0,
            "the other origin got a request"
        );
        let calls = posts_of(&mock, "tools/call");
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].fault, Some("redirect"));
        assert_all_authorised(&mock);
    }
    // The other origin does answer when asked directly: the zero above is meaningful.
    reqwest::get(&elsewhere).await.expect("direct");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_redirect_within_the_origin_is_followed_with_the_credential() {
    let mock = MockPagerDuty::start().await;
    let session = open(&mock, builder(mock.url().as_str(), STATELESS)).await;
    mock.redirect_next(1, mock.url().as_str());
    let result = call(&session, "list_incidents", json!({})).await;
    assert!(!result.is_error());
    assert_eq!(statuses_of(&mock, "tools/call"), [Some(307), Some(200)]);
    assert_all_authorised(&mock);
}

#[tokio::test]
async fn an_unreachable_server_is_a_transport_error_quickly() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    }; // closed again: nothing listens there now
    let url = format!("http://127.0.0.1:{port}/mcp");
    for preference in [ProtocolPreference::Auto, SESSION] {
        let client = builder(&url, preference)
            .connect_timeout(Duration::from_secs(1))
            .build()
            .expect("client");
        let started = Instant::now();
        let err = client
            .connect(&Credential::new(DEMO))
            .await
            .expect_err("nothing listens");
        assert!(matches!(err, Error::Transport { .. }), "{err:?}");
        assert!(err.is_retryable());
        assert_took_less_than(started, Duration::from_secs(10), "connecting to nothing");
        assert_eq!(client.negotiated_version(), None);
    }
}
