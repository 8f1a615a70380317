//! The client and the connector against the official Python MCP SDK server set up like
//! PagerDuty's hosted server, as public sources describe it: the incidents list tool renamed
//! (`browse_incidents`), one documented `Authorization` form only, PagerDuty's 429 (code 2020,
//! with and without its `ratelimit-*` headers) and its 403 (code 2010, "Access Denied").

// python_interop.rs includes the same support module; both stay self-contained.
#[allow(clippy::duplicate_mod)]
#[path = "../support/python_peer.rs"]
mod python_peer;

use std::time::{Duration, Instant};

use pagerduty_mcp_connect::{
    AuthScheme, Connector, Credential, ErrorKind, GenericServer, InMemoryCredentialStore,
    McpClient, ProtocolPreference, ProtocolVersion, ToolCatalogue, ToolRole, UserId,
};
use python_peer::PythonPeer;
use serde_json::json;

const TOKEN: &str = "u+hosted-like-peer-0001";

const ERAS: [ProtocolPreference; 2] = [
    ProtocolPreference::Exact(ProtocolVersion::V2025_11_25),
    ProtocolPreference::Exact(ProtocolVersion::V2026_07_28),
];

/// A client of `peer` sending the token in `scheme`'s form, speaking `preference`.
fn client(peer: &PythonPeer, scheme: AuthScheme, preference: ProtocolPreference) -> McpClient {
    let server = GenericServer::new("hosted-like peer", &peer.url, scheme).expect("loopback URL");
    McpClient::builder(server)
        .protocol(preference)
        .retry_base_delay(Duration::from_millis(20))
        .build()
        .expect("client")
}

/// A connector of one user, `alice`, holding [`TOKEN`], for `peer`.
fn connector(
    peer: &PythonPeer,
    preference: ProtocolPreference,
) -> (Connector, InMemoryCredentialStore) {
    let store = InMemoryCredentialStore::new();
    store.insert("alice", TOKEN);
    let server = GenericServer::new("hosted-like peer", &peer.url, AuthScheme::token())
        .expect("loopback URL");
    let connector = Connector::builder()
        .server(server)
        .credentials(store.clone())
        .configure_client(move |client| {
            client
                .protocol(preference)
                .retry_base_delay(Duration::from_millis(20))
        })
        .build()
        .expect("connector");
    (connector, store)
}

/// Sends a control request (`rate-limit?…`, `forbid?…`) to the peer.
async fn control(peer: &PythonPeer, what: &str) {
    let status = reqwest::Client::new()
        .post(format!("{}/_peer/{what}", peer.base))
        .send()
        .await
        .expect("control request")
        .status();
    assert!(status.is_success(), "/_peer/{what}: {status}");
}

#[tokio::test]
async fn the_incidents_list_tool_is_found_by_its_role_under_either_name() {
    for (args, expected) in [
        (&["--hosted-names"][..], "browse_incidents"),
        (&[][..], "list_incidents"),
    ] {
        let Some(peer) = PythonPeer::start(&[TOKEN], args).await else {
            return;
        };
        for preference in ERAS {
            let session = client(&peer, AuthScheme::token(), preference)
                .connect(&Credential::new(TOKEN))
                .await
                .unwrap_or_else(|err| panic!("{preference:?}: {err}"));
            let catalogue = ToolCatalogue::new(session.list_tools().await.unwrap());
            let name = catalogue.name_of(ToolRole::ListIncidents).unwrap();
            assert_eq!(name, expected, "{preference:?}");
            let result = session.call_tool(name, json!({})).await.unwrap();
            assert!(!result.is_error(), "{preference:?}: {}", result.text());
            let incidents = &result.structured_content.unwrap()["incidents"];
            assert_eq!(
                incidents.as_array().map(Vec::len),
                Some(2),
                "{preference:?}"
            );
        }
    }
}

#[tokio::test]
async fn each_documented_header_form_is_sent_exactly_when_configured() {
    let forms = [
        ("token", AuthScheme::token()),
        ("token-equals", AuthScheme::token_equals()),
        ("bearer", AuthScheme::bearer()),
    ];
    for (form, scheme) in &forms {
        let Some(peer) = PythonPeer::start(&[TOKEN], &["--auth-form", form]).await else {
            return;
        };
        for preference in ERAS {
            let session = client(&peer, scheme.clone(), preference)
                .connect(&Credential::new(TOKEN))
                .await
                .unwrap_or_else(|err| panic!("{form} {preference:?}: {err}"));
            session
                .call_tool("echo", json!({"text": "hi"}))
                .await
                .unwrap();
            // Any other documented form of the same good token is refused.
            for (other, other_scheme) in forms.iter().filter(|(name, _)| name != form) {
                let err = client(&peer, other_scheme.clone(), preference)
                    .connect(&Credential::new(TOKEN))
                    .await
                    .err()
                    .unwrap_or_else(|| panic!("{other} accepted by a {form}-only server"));
                assert_eq!(err.kind(), ErrorKind::Unauthorized, "{form}/{other}: {err}");
            }
        }
    }
}

#[tokio::test]
async fn pagerdutys_429_is_waited_out_or_returned_with_its_reset() {
    let Some(peer) = PythonPeer::start(&[TOKEN], &[]).await else {
        return;
    };
    for preference in ERAS {
        let (connector, store) = connector(&peer, preference);
        let alice = UserId::from("alice");
        connector
            .call_tool(&alice, "echo", json!({"text": "warm"}))
            .await
            .unwrap();

        // `ratelimit-reset: 1` (no Retry-After): the client waits that second, then succeeds.
        control(&peer, "rate-limit?n=1&reset=1").await;
        let started = Instant::now();
        connector
            .call_tool(&alice, "echo", json!({"text": "a"}))
            .await
            .unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "{preference:?}: no wait"
        );

        // No header at all: retried with backoff, then succeeds.
        control(&peer, "rate-limit?n=1&headers=0").await;
        connector
            .call_tool(&alice, "echo", json!({"text": "b"}))
            .await
            .unwrap();

        // A reset longer than the client waits itself: RateLimited with that wait, token kept.
        control(&peer, "rate-limit?n=1&reset=120").await;
        let err = connector
            .call_tool(&alice, "echo", json!({"text": "c"}))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RateLimited, "{preference:?}: {err}");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(120)), "{err}");
        assert!(err.to_string().contains("Rate Limit Exceeded"), "{err}");
        assert!(
            !store.is_revoked(&alice),
            "{preference:?}: a 429 revoked the token"
        );
        connector
            .call_tool(&alice, "echo", json!({"text": "d"}))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn pagerdutys_403_names_the_permission_and_keeps_the_token() {
    let Some(peer) = PythonPeer::start(&[TOKEN], &[]).await else {
        return;
    };
    for preference in ERAS {
        let (connector, store) = connector(&peer, preference);
        let alice = UserId::from("alice");
        connector
            .call_tool(&alice, "echo", json!({"text": "warm"}))
            .await
            .unwrap();
        control(&peer, "forbid?n=1").await;
        let err = connector
            .call_tool(&alice, "echo", json!({"text": "x"}))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Forbidden, "{preference:?}: {err}");
        let message = err.to_string();
        assert!(message.contains("Access Denied"), "{message}");
        assert!(message.contains("incidents.write"), "{message}");
        assert!(
            !store.is_revoked(&alice),
            "{preference:?}: a 403 revoked the token"
        );
        connector
            .call_tool(&alice, "echo", json!({"text": "y"}))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn the_pagerduty_preset_finds_the_one_form_the_peer_accepts() {
    for form in ["token-equals", "bearer"] {
        let Some(peer) = PythonPeer::start(&[TOKEN], &["--auth-form", form]).await else {
            return;
        };
        for preference in ERAS {
            let preset = pagerduty_mcp_connect::PagerDuty::builder()
                .endpoint(peer.url.as_str())
                .build()
                .unwrap();
            let client = McpClient::builder(preset)
                .protocol(preference)
                .retry_base_delay(Duration::from_millis(20))
                .build()
                .unwrap();
            for _ in 0..2 {
                let session = client
                    .connect(&Credential::new(TOKEN))
                    .await
                    .unwrap_or_else(|err| panic!("{form} {preference:?}: {err}"));
                session
                    .call_tool("echo", json!({"text": "hi"}))
                    .await
                    .unwrap();
            }
            let refused = peer
                .mcp_requests()
                .await
                .iter()
                .filter(|r| r["status"] == 401)
                .count();
            assert_eq!(
                refused, 1,
                "{form} {preference:?}: one 401, then the accepted form"
            );
            peer.reset().await;
        }
    }
}
