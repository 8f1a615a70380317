//! The HTTP requests a session sends besides a request's POST: messages (notifications and
//! answers), the GET event stream and the DELETE ending the session.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::{Map, Value};

use super::{Route, SessionInner};
use crate::client::jsonrpc;
use crate::client::transport::{self, ACCEPT_POST, ACCEPT_STREAM, CONTENT_JSON};
use crate::error::{Error, Result};

impl SessionInner {
    /// POSTs a notification or a response (no result expected: 202).
    pub(super) async fn post_message(&self, route: &Route, body: Bytes) -> Result<()> {
        let exchange = async {
            let response = self
                .send_post(self.headers(route, ACCEPT_POST), body)
                .await?;
            let response = self.expect_success(response).await?;
            transport::discard_body(response, &self.client.endpoint.stream_ends).await;
            Ok(())
        };
        tokio::time::timeout(self.config().request_timeout, exchange)
            .await
            .unwrap_or_else(|_| Err(Error::timeout("no answer to a notification")))
    }

    /// POSTs `body` with `headers` plus `Content-Type: application/json`.
    pub(super) async fn send_post(
        &self,
        mut headers: http::HeaderMap,
        body: Bytes,
    ) -> Result<reqwest::Response> {
        if self.is_rejected() {
            return Err(self.rejected_error());
        }
        headers.insert(http::header::CONTENT_TYPE, CONTENT_JSON);
        let mut request = self
            .client
            .http
            .post(self.client.server.endpoint().clone())
            .body(body)
            .build()
            .map_err(transport::map_reqwest_error)?;
        // The request has no header of its own yet: hand it ours instead of merging them in.
        *request.headers_mut() = headers;
        let response = self
            .client
            .http
            .execute(request)
            .await
            .map_err(transport::map_reqwest_error)?;
        self.same_origin(response)
    }

    /// Refuses a reply that a caller-supplied HTTP client fetched from another origin after a
    /// redirect (this crate's own client never follows one).
    pub(super) fn same_origin(&self, response: reqwest::Response) -> Result<reqwest::Response> {
        let endpoint = self.client.server.endpoint();
        let url = response.url();
        // The origin of an http(s) URL is its scheme, host and port: compared in place, without
        // building two `Origin` values per reply.
        if url.scheme() == endpoint.scheme()
            && url.host() == endpoint.host()
            && url.port_or_known_default() == endpoint.port_or_known_default()
        {
            Ok(response)
        } else {
            Err(Error::config(format!(
                "the reply came from another origin ({}) after a redirect and was refused; build the HTTP client given to McpClientBuilder::http_client with a redirect policy that stays within the origin (or none)",
                response.url().origin().ascii_serialization()
            )))
        }
    }

    /// The reply if it is a success, else the error it means.
    pub(super) async fn expect_success(
        &self,
        mut response: reqwest::Response,
    ) -> Result<reqwest::Response> {
        let status = response.status();
        if status.is_success() {
            Ok(response)
        } else {
            Err(self.error_reply(status, &mut response).await)
        }
    }

    pub(super) async fn notify(
        self: &Arc<Self>,
        method: &str,
        params: Option<Map<String, Value>>,
    ) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        if self.version.is_stateless() {
            return Err(Error::config(
                "the 2026-07-28 protocol has no client notifications to send",
            ));
        }
        let body = Bytes::from(jsonrpc::notification_bytes(method, params.as_ref()));
        self.post_message(&self.route(), body)
            .await
            .map_err(|err| self.scrub(err))
    }

    pub(super) async fn delete_session(&self) -> Result<()> {
        let route = self.route();
        if self.version.is_stateless() || route.session_id.is_none() {
            return Ok(());
        }
        tokio::time::timeout(self.config().request_timeout, self.send_delete(&route))
            .await
            .unwrap_or_else(|_| Err(Error::timeout("no answer to the DELETE ending the session")))
    }

    pub(super) async fn send_delete(&self, route: &Route) -> Result<()> {
        if self.is_rejected() {
            // The DELETE would carry the rejected credential again.
            return Ok(());
        }
        let response = self
            .delete_request(route)
            .send()
            .await
            .map_err(transport::map_reqwest_error)?;
        let mut response = self.same_origin(response)?;
        let status = response.status();
        if status.is_success()
            || status == StatusCode::METHOD_NOT_ALLOWED
            || status == StatusCode::NOT_FOUND
        {
            transport::discard_body(response, &self.client.endpoint.stream_ends).await;
            return Ok(());
        }
        Err(self.scrub(self.error_reply(status, &mut response).await))
    }

    /// A GET opening the session's event stream, resuming after `last_event_id` if given.
    pub(super) fn stream_request(
        &self,
        route: &Route,
        last_event_id: Option<HeaderValue>,
    ) -> reqwest::RequestBuilder {
        let mut headers = self.headers(route, ACCEPT_STREAM);
        if let Some(id) = last_event_id {
            headers.insert(HeaderName::from_static(transport::LAST_EVENT_ID), id);
        }
        self.client
            .http
            .get(self.client.server.endpoint().clone())
            .headers(headers)
    }

    /// A DELETE ending the session `route` names.
    pub(super) fn delete_request(&self, route: &Route) -> reqwest::RequestBuilder {
        self.client
            .http
            .delete(self.client.server.endpoint().clone())
            .headers(self.headers(route, ACCEPT_POST))
    }
}
