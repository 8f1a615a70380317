//! An upstream MCP server built on the official Rust SDK (`rmcp`'s Streamable HTTP server) whose
//! resources can be subscribed to in both protocol eras: with `subscriptions/listen` and
//! `resourceSubscriptions` (2026-07-28), and with `resources/subscribe` (session era). It accepts
//! `Authorization: Token <token>` for the tokens it is given (answering 401 otherwise) and keeps
//! every user's subscriptions apart, as a real server does: the test says when a resource of a
//! user changed ([`Upstream::touch`]) and looks at what the gateway opened and closed upstream.
//!
//! It honours every URI of a listen filter but those starting with `refused:`. Tool: `whoami`
//! returns the user.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ErrorData, ListToolsResult,
    PaginatedRequestParams, RequestId, ResourceUpdatedNotificationParam, ServerCapabilities,
    ServerConfig, ServerNotification, SubscribeRequestParams, SubscriptionFilter,
    UnsubscribeRequestParams,
};
use rmcp::service::{Peer, RequestContext, SubscriptionContext, SubscriptionSink};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{RoleServer, ServerHandler};
use serde_json::json;
use tokio::sync::Notify;

#[derive(Clone)]
struct User(String);

/// One open `subscriptions/listen` stream.
struct Listen {
    user: String,
    uris: Vec<String>,
    sink: SubscriptionSink,
    peer: Peer<RoleServer>,
    id: RequestId,
    end: Arc<Notify>,
}

/// One session-era `resources/subscribe`.
struct SessionSubscription {
    user: String,
    uri: String,
    peer: Peer<RoleServer>,
}

#[derive(Default)]
struct Shared {
    next: AtomicU64,
    listens: Mutex<HashMap<u64, Listen>>,
    /// Every listen opened: its user and URIs.
    opened: Mutex<Vec<(String, Vec<String>)>>,
    subscriptions: Mutex<Vec<SessionSubscription>>,
    /// Every `resources/subscribe` and `resources/unsubscribe`: (user, method, uri).
    subscribe_calls: Mutex<Vec<(String, String, String)>>,
}

/// The running upstream.
#[derive(Clone)]
pub struct Upstream {
    /// Its MCP endpoint URL.
    pub url: String,
    shared: Arc<Shared>,
}

impl Upstream {
    /// The URIs each of `user`'s open listen streams with resource subscriptions honours
    /// (streams for list changes only are left out).
    pub fn open_listens(&self, user: &str) -> Vec<Vec<String>> {
        let mut open: Vec<Vec<String>> = self
            .shared
            .listens
            .lock()
            .unwrap()
            .values()
            .filter(|l| l.user == user)
            .map(|l| l.uris.clone())
            .collect();
        open.sort();
        open
    }

    /// Every listen stream with resource subscriptions opened so far: user and honoured URIs.
    pub fn opened(&self) -> Vec<(String, Vec<String>)> {
        self.shared.opened.lock().unwrap().clone()
    }

    /// Every `resources/subscribe` and `resources/unsubscribe` so far: (user, method, uri).
    pub fn subscribe_calls(&self) -> Vec<(String, String, String)> {
        self.shared.subscribe_calls.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) until `ready` holds; panics naming `what` otherwise.
    pub async fn wait_for(&self, what: &str, ready: impl Fn(&Upstream) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !ready(self) {
            if tokio::time::Instant::now() >= deadline {
                let open: Vec<(String, Vec<String>)> = self
                    .shared
                    .listens
                    .lock()
                    .unwrap()
                    .values()
                    .map(|l| (l.user.clone(), l.uris.clone()))
                    .collect();
                panic!(
                    "the upstream never saw: {what}\nopened: {:?}\nopen: {open:?}\nsubscribe calls: {:?}",
                    self.opened(),
                    self.subscribe_calls()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `user`'s resource `uri` changed: every stream and session of that user that subscribed
    /// to it hears so. Returns how many.
    pub async fn touch(&self, user: &str, uri: &str) -> usize {
        let sinks: Vec<SubscriptionSink> = self
            .shared
            .listens
            .lock()
            .unwrap()
            .values()
            .filter(|l| l.user == user && l.uris.iter().any(|u| u == uri))
            .map(|l| l.sink.clone())
            .collect();
        let peers: Vec<Peer<RoleServer>> = self
            .shared
            .subscriptions
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.user == user && s.uri == uri)
            .map(|s| s.peer.clone())
            .collect();
        let mut told = 0;
        for sink in sinks {
            if sink.notify_resource_updated(uri).await.is_ok() {
                told += 1;
            }
        }
        for peer in peers {
            if peer
                .notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))
                .await
                .is_ok()
            {
                told += 1;
            }
        }
        told
    }

    /// A misbehaving upstream: an update of `uri` on every open stream of `user`, whatever the
    /// stream subscribed to.
    pub async fn touch_every_stream(&self, user: &str, uri: &str) {
        let streams: Vec<(Peer<RoleServer>, RequestId)> = self
            .shared
            .listens
            .lock()
            .unwrap()
            .values()
            .filter(|l| l.user == user)
            .map(|l| (l.peer.clone(), l.id.clone()))
            .collect();
        for (peer, id) in streams {
            let notification: ServerNotification = serde_json::from_value(json!({
                "method": "notifications/resources/updated",
                "params": {
                    "uri": uri,
                    "_meta": { "io.modelcontextprotocol/subscriptionId": id },
                },
            }))
            .unwrap();
            let _ = peer.send_notification(notification).await;
        }
    }

    /// Ends every open stream of `user` gracefully (a `subscriptions/listen` result).
    pub fn end_streams(&self, user: &str) {
        for listen in self.shared.listens.lock().unwrap().values() {
            if listen.user == user {
                listen.end.notify_one();
            }
        }
    }
}

#[derive(Clone)]
struct Subscribing(Arc<Shared>);

fn user_of(context: &RequestContext<RoleServer>) -> String {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|p| p.extensions.get::<User>())
        .map(|u| u.0.clone())
        .unwrap_or_default()
}

/// Takes a listen stream out of the list when its handler ends, however it ends.
struct Open(Arc<Shared>, u64);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.listens.lock().unwrap().remove(&self.1);
    }
}

impl ServerHandler for Subscribing {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_resources_subscribe()
                .build(),
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(serde_json::from_value(json!({
            "resultType": "complete",
            "tools": [{ "name": "whoami", "inputSchema": { "type": "object" },
                        "annotations": { "readOnlyHint": true } }],
        }))
        .unwrap())
    }

    async fn call_tool(
        &self,
        _request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let user = user_of(&context);
        let result: CallToolResult = serde_json::from_value(json!({
            "content": [{ "type": "text", "text": user }],
            "isError": false,
        }))
        .unwrap();
        Ok(result.into())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let mut accepted = requested.clone();
        accepted.resource_subscriptions = requested.resource_subscriptions.as_ref().map(|uris| {
            uris.iter()
                .filter(|uri| !uri.starts_with("refused:"))
                .cloned()
                .collect()
        });
        Some(accepted)
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let request = context.request_context();
        let user = user_of(request);
        if context.requested().resource_subscriptions.is_none() {
            // A stream for list changes only (the gateway's standing one): not watched here.
            context.cancelled().await;
            return Ok(());
        }
        let uris = context
            .accepted()
            .resource_subscriptions
            .clone()
            .unwrap_or_default();
        let end = Arc::new(Notify::new());
        let id = self.0.next.fetch_add(1, Ordering::Relaxed);
        self.0
            .opened
            .lock()
            .unwrap()
            .push((user.clone(), uris.clone()));
        self.0.listens.lock().unwrap().insert(
            id,
            Listen {
                user,
                uris,
                sink: context.sink().clone(),
                peer: request.peer.clone(),
                id: request.id.clone(),
                end: end.clone(),
            },
        );
        let _open = Open(self.0.clone(), id);
        tokio::select! {
            () = context.cancelled() => {}
            () = end.notified() => {}
        }
        Ok(())
    }

    #[allow(deprecated)]
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let user = user_of(&context);
        self.0.subscribe_calls.lock().unwrap().push((
            user.clone(),
            "resources/subscribe".into(),
            request.uri.clone(),
        ));
        self.0
            .subscriptions
            .lock()
            .unwrap()
            .push(SessionSubscription {
                user,
                uri: request.uri,
                peer: context.peer.clone(),
            });
        Ok(())
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let user = user_of(&context);
        self.0.subscribe_calls.lock().unwrap().push((
            user.clone(),
            "resources/unsubscribe".into(),
            request.uri.clone(),
        ));
        self.0
            .subscriptions
            .lock()
            .unwrap()
            .retain(|s| !(s.user == user && s.uri == request.uri));
        Ok(())
    }
}

async fn check_token(
    State(tokens): State<Arc<HashMap<String, String>>>,
    mut request: Request,
    next: Next,
) -> Response {
    let user = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Token "))
        .and_then(|t| tokens.get(t))
        .cloned();
    match user {
        Some(user) => {
            request.extensions_mut().insert(User(user));
            next.run(request).await
        }
        None => (
            http::StatusCode::UNAUTHORIZED,
            [("content-type", "application/json")],
            r#"{"error":{"message":"Authentication failed","code":2006}}"#,
        )
            .into_response(),
    }
}

/// Starts the server on loopback; `tokens` maps each accepted token to its user's name.
pub async fn start(tokens: &[(&str, &str)]) -> Upstream {
    let tokens: Arc<HashMap<String, String>> = Arc::new(
        tokens
            .iter()
            .map(|(t, u)| ((*t).to_owned(), (*u).to_owned()))
            .collect(),
    );
    let shared = Arc::new(Shared::default());
    let handler = Subscribing(shared.clone());
    let service = StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let router = axum::Router::new()
        .route_service("/mcp", service)
        .route_layer(axum::middleware::from_fn_with_state(tokens, check_token));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Upstream {
        url: format!("http://{addr}/mcp"),
        shared,
    }
}
