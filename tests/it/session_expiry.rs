//! Session-era lifetimes against the crate's own embedded mock server: a session the server
//! forgets is re-established once, transparently, and the request replayed; many requests
//! noticing at once still cause one re-initialisation; `close()` ends the session with DELETE.

use std::time::Duration;

use super::common::{call, client, first_method, new_incident};
use pagerduty_mcp_connect::{Credential, Error, ProtocolPreference, ProtocolVersion, Session};
use pagerduty_mcp_connect_mock::{MockPagerDuty, RecordedRequest};
use serde_json::json;

const DEMO: &str = MockPagerDuty::DEMO_TOKEN;
const SESSION: ProtocolPreference = ProtocolPreference::Exact(ProtocolVersion::V2025_11_25);

async fn open(mock: &MockPagerDuty) -> Session {
    client(mock, SESSION)
        .connect(&Credential::new(DEMO))
        .await
        .expect("connect")
}

/// A session with `mock` that has listed the tools, and the id of the mock's one session.
async fn listed_session(mock: &MockPagerDuty) -> (Session, String) {
    let session = open(mock).await;
    session.list_tools().await.expect("tools/list");
    (session, only_session_id(mock))
}

fn only_session_id(mock: &MockPagerDuty) -> String {
    let sessions = mock.sessions();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    sessions[0].id.clone()
}

fn assert_all_authorised(records: &[RecordedRequest]) {
    assert!(!records.is_empty());
    for record in records {
        assert!(record.auth_matched, "{record:?}");
    }
}

fn open_incident_count(text: &str) -> usize {
    let value: serde_json::Value = serde_json::from_str(text).expect("JSON text");
    value["response"].as_array().expect("a list").len()
}

#[tokio::test]
async fn an_expired_session_is_reinitialised_once_and_the_request_replayed() {
    let mock = MockPagerDuty::start().await;
    let (session, old_id) = listed_session(&mock).await;

    // The server forgets every session (a restart, an idle timeout).
    mock.clear_requests();
    assert_eq!(mock.expire_sessions(), 1);
    let incidents = call(&session, "list_incidents", json!({})).await;
    assert!(!incidents.is_error(), "{}", incidents.text());
    let new_id = only_session_id(&mock);
    assert_ne!(new_id, old_id);
    assert!(mock.sessions()[0].initialized);

    let records = mock.requests();
    let story: Vec<_> = records
        .iter()
        .map(|r| {
            (
                first_method(r).to_owned(),
                r.session_id.clone(),
                r.status.unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        story,
        [
            ("tools/call".to_owned(), Some(old_id.clone()), 404),
            ("initialize".to_owned(), None, 200),
            (
                "notifications/initialized".to_owned(),
                Some(new_id.clone()),
                202
            ),
            ("tools/call".to_owned(), Some(new_id.clone()), 200),
        ]
    );
    assert_all_authorised(&records);

    // Every later request carries the new id.
    mock.clear_requests();
    session.ping().await.expect("ping");
    session.list_prompts().await.expect("prompts/list");
    for record in mock.requests() {
        assert_eq!(record.session_id.as_deref(), Some(new_id.as_str()));
        assert_eq!(record.protocol_version.as_deref(), Some("2025-11-25"));
        assert!(record.auth_matched);
    }
}

#[tokio::test]
async fn a_write_refused_with_404_is_replayed_and_happens_exactly_once() {
    // A 404 for the session means the server did not run the request, so even a write is
    // replayed on the new session — and the incident exists once.
    let mock = MockPagerDuty::start().await;
    let session = open(&mock).await;
    let arguments = json!({"statuses": ["triggered"]});
    let before = call(&session, "list_incidents", arguments).await;
    let before = open_incident_count(&before.text());

    mock.expire_sessions();
    let created = call(
        &session,
        "create_incident",
        new_incident("Replayed after expiry"),
    )
    .await;
    assert!(!created.is_error(), "{}", created.text());

    let arguments = json!({"statuses": ["triggered"]});
    let after = call(&session, "list_incidents", arguments).await;
    assert_eq!(open_incident_count(&after.text()), before + 1);
    let creates = mock
        .requests()
        .iter()
        .filter(|r| r.status == Some(200) && first_method(r) == "tools/call")
        .count();
    assert_eq!(
        creates, 3,
        "two lists and one create reached the tool layer"
    );
}

#[tokio::test]
async fn concurrent_requests_during_an_expiry_cause_one_reinitialisation() {
    let mock = MockPagerDuty::start().await;
    let (session, old_id) = listed_session(&mock).await;

    mock.clear_requests();
    mock.expire_sessions();
    let mut tasks = Vec::new();
    for i in 0..12 {
        let session = session.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                session
                    .call_tool("list_services", json!({}))
                    .await
                    .map(|r| r.is_error())
            } else {
                session.list_prompts().await.map(|_| false)
            }
        }));
    }
    for task in tasks {
        let is_error = task.await.expect("task").expect("request succeeded");
        assert!(!is_error);
    }
    let records = mock.requests();
    let initializes = records
        .iter()
        .filter(|r| first_method(r) == "initialize")
        .count();
    assert_eq!(initializes, 1, "one re-initialisation: {records:#?}");
    let new_id = only_session_id(&mock);
    assert_ne!(new_id, old_id);
    // The requests that saw the old id got 404; every answered one ran on the new session.
    for record in &records {
        match record.status {
            Some(404) => assert_eq!(record.session_id.as_deref(), Some(old_id.as_str())),
            Some(200 | 202) if first_method(record) != "initialize" => {
                assert_eq!(record.session_id.as_deref(), Some(new_id.as_str()))
            }
            _ => {}
        }
    }
    let answered = records
        .iter()
        .filter(|r| r.status == Some(200) && first_method(r) != "initialize")
        .count();
    assert_eq!(answered, 12);
    assert_all_authorised(&records);
}

#[tokio::test]
async fn close_sends_delete_with_the_session_id_and_later_calls_are_closed() {
    let mock = MockPagerDuty::start().await;
    let session = open(&mock).await;
    let id = only_session_id(&mock);
    session.list_tools().await.expect("tools/list");

    mock.clear_requests();
    session.close().await.expect("close");
    assert!(session.is_closed());
    let records = mock.requests();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].http_method, "DELETE");
    assert_eq!(records[0].session_id.as_deref(), Some(id.as_str()));
    assert_eq!(records[0].protocol_version.as_deref(), Some("2025-11-25"));
    assert_eq!(records[0].status, Some(200));
    assert_all_authorised(&records);
    assert!(mock.sessions().is_empty());

    // Later calls fail at once without reaching the server; a second close is a no-op.
    assert!(matches!(session.list_tools().await, Err(Error::Closed)));
    assert!(matches!(
        session.call_tool("list_incidents", json!({})).await,
        Err(Error::Closed)
    ));
    assert!(matches!(session.ping().await, Err(Error::Closed)));
    assert!(matches!(
        session.notify("notifications/progress", None).await,
        Err(Error::Closed)
    ));
    session.close().await.expect("second close");
    assert_eq!(mock.requests().len(), 1, "nothing more was sent");
}

#[tokio::test]
async fn a_clone_sees_the_close_and_a_stateless_close_sends_nothing() {
    let mock = MockPagerDuty::start().await;
    let session = open(&mock).await;
    let clone = session.clone();
    session.close().await.expect("close");
    assert!(clone.is_closed());
    assert!(matches!(clone.list_tools().await, Err(Error::Closed)));

    // The stateless era has no session to end: close() sends nothing, later calls are Closed.
    let stateless = client(
        &mock,
        ProtocolPreference::Exact(ProtocolVersion::V2026_07_28),
    )
    .connect(&Credential::new(DEMO))
    .await
    .expect("stateless");
    mock.clear_requests();
    stateless.close().await.expect("close");
    assert!(mock.requests().is_empty(), "{:?}", mock.requests());
    assert!(matches!(stateless.list_tools().await, Err(Error::Closed)));
}

#[tokio::test]
async fn dropping_the_last_handle_ends_the_session_on_the_server() {
    let mock = MockPagerDuty::start().await;
    let session = open(&mock).await;
    let id = only_session_id(&mock);
    drop(session);
    // The DELETE is sent in the background; wait for it (bounded).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !mock.sessions().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no DELETE after drop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delete = mock
        .requests()
        .into_iter()
        .find(|r| r.http_method == "DELETE")
        .expect("a DELETE");
    assert_eq!(delete.session_id.as_deref(), Some(id.as_str()));
    assert!(delete.auth_matched);
}
