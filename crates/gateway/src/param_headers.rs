//! The routing headers of a 2026-07-28 `tools/call` (SEP-2243) checked against its body at the
//! gateway's front, before anything goes upstream and on both paths (rmcp's service and the
//! [direct path](super::direct)).
//!
//! From protocol version 2026-07-28 an MCP client mirrors parts of a request's body into HTTP
//! headers so that load balancers and gateways can route it without reading the body:
//! `Mcp-Method` (the method), `Mcp-Name` (a `tools/call`'s tool name) and one
//! `Mcp-Param-<Name>` header for each argument whose property in the tool's listed
//! `inputSchema` carries `"x-mcp-header": "<Name>"`. A value that cannot travel as a plain
//! header value is sent as `=?base64?<standard Base64, padded>?=`. A server MUST check them
//! against the body and refuse a request whose headers are missing, malformed or say
//! something else (HTTP 400, JSON-RPC error -32020 `HeaderMismatch`): whatever routed the
//! request on its headers must not have routed a different request than the one served.
//!
//! rmcp checks `Mcp-Method` and `Mcp-Name` for the requests it serves, but the `Mcp-Param-*`
//! headers only for the tools its handler knows (`ServerHandler::get_tool`), and the gateway's
//! tools are the upstream's, known per user and only asynchronously. So the gateway checks all
//! three here, the way rmcp's own check does (`rmcp::transport::common::mcp_headers`, which it
//! does not export), for every request that names a version from 2026-07-28 on and
//! `Mcp-Method: tools/call`, with the user's tool list from the connector
//! ([`Connector::list_tools_with_verdicts`](pagerduty_mcp_connect::Connector::list_tools_with_verdicts)).
//!
//! The gateway learns the declarations from the tool lists its agents get (a 2026-07-28
//! `tools/list` reply passing through the front), per user, and keeps them for five minutes
//! from the last listing; only a call from a user whose agents have not listed their tools
//! lately has them fetched first (one `tools/list` upstream). A refusal is never based on a
//! stale copy: before refusing, a copy older than a few seconds is fetched again and the request
//! checked once more. When the list cannot be had (the upstream is down, the user is refused),
//! the `Mcp-Param-*` headers go unchecked and the call meets the error it would have met anyway;
//! the upstream gets its own headers from the gateway's client, computed from the body, never
//! the agent's.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::Value;

use super::state::GatewayState;
use pagerduty_mcp_connect::UserId;

/// The JSON-RPC error code of a request whose routing headers do not match its body.
pub(crate) const HEADER_MISMATCH: i32 = -32020;

/// The first protocol version with routing headers.
const FIRST_VERSION: &str = "2026-07-28";

/// How long a user's tool declarations are used, from the last listing, before they are fetched
/// again.
const FRESH_FOR: Duration = Duration::from_secs(300);
/// How long a failure to list a user's tools is remembered (their calls go unchecked meanwhile).
const FAILURE_FOR: Duration = Duration::from_secs(5);
/// A refusal on declarations older than this fetches them again first.
const RECHECK_OLDER_THAN: Duration = Duration::from_secs(2);
/// Above this many users, entries no longer fresh are dropped when a user is added.
const PRUNE_ABOVE: usize = 1024;
/// The largest `tools/list` reply read for its declarations.
const MAX_LISTING: usize = 16 * 1024 * 1024;

const BASE64_PREFIX: &str = "=?base64?";
const BASE64_SUFFIX: &str = "?=";

/// Whether the front checks this request's routing headers: a POST naming a protocol version
/// from 2026-07-28 on and `Mcp-Method: tools/call`. (Any other 2026-07-28 request is rmcp's to
/// check: it refuses a missing or mismatched `Mcp-Method` and `Mcp-Name` itself.)
pub(crate) fn applies(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::POST
        && stateless_era(headers)
        && headers
            .get_all("mcp-method")
            .iter()
            .any(|value| trimmed(value.as_bytes()) == b"tools/call")
}

/// Whether this request lists tools in the 2026-07-28 era (its reply is [learnt](learn) from).
pub(crate) fn lists_tools(headers: &HeaderMap) -> bool {
    stateless_era(headers)
        && headers
            .get("mcp-method")
            .is_some_and(|value| trimmed(value.as_bytes()) == b"tools/list")
}

fn stateless_era(headers: &HeaderMap) -> bool {
    headers
        .get("mcp-protocol-version")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|version| version.trim() >= FIRST_VERSION)
}

/// Takes the declarations of the tools in a `tools/list` reply to `user`'s agent (a JSON reply
/// of known length; any other is passed on untouched) and passes the reply on.
pub(crate) async fn learn(state: &GatewayState, user: &UserId, response: Response) -> Response {
    use http_body::Body as _;
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|c| c.as_bytes().starts_with(b"application/json"));
    let small = response
        .body()
        .size_hint()
        .exact()
        .is_some_and(|length| length <= MAX_LISTING as u64);
    if response.status() != StatusCode::OK || !json || !small {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_LISTING).await else {
        // The reply broke off (its length was known and within the limit).
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if let Ok(reply) = serde_json::from_slice::<Value>(&bytes)
        && let Some(tools) = reply.pointer("/result/tools").and_then(Value::as_array)
    {
        let listed = tools.iter().filter_map(|tool| {
            let name = tool.get("name")?.as_str()?;
            Some((name.to_owned(), declarations(tool.get("inputSchema")?)))
        });
        state.front.tool_headers.learn(user, listed).await;
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Checks a `tools/call`'s `Mcp-Method`, `Mcp-Name` and `Mcp-Param-*` headers against its body
/// ([`applies`] said yes); `Err` is the 400 reply. A body that is not a `tools/call` request
/// with a tool name is left to rmcp, which answers it.
pub(crate) async fn check(
    state: &GatewayState,
    user: &UserId,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), Response> {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return Ok(());
    };
    let (Some(id), Some("tools/call")) = (
        request.get("id"),
        request.get("method").and_then(Value::as_str),
    ) else {
        return Ok(());
    };
    let Some(name) = request.pointer("/params/name").and_then(Value::as_str) else {
        return Ok(());
    };
    let arguments = request.pointer("/params/arguments");
    let refuse = |reason: String| {
        state.metrics.record_rejection("header_mismatch");
        // The reason (which quotes header and argument values) goes to the agent only; the log
        // line names the user and the tool, capped.
        tracing::info!(user = %user, tool = crate::metrics::capped_tool_name(name), "refused a tools/call whose headers do not match its body");
        mismatch(id, &reason)
    };
    if let Err(reason) = standard_headers(headers, name) {
        return Err(refuse(reason));
    }
    let cache = &state.front.tool_headers;
    let Some(listing) = cache.declarations(state, user, false).await else {
        return Ok(());
    };
    let Err(reason) = param_headers(headers, listing.tool(name), arguments) else {
        return Ok(());
    };
    if listing.at.elapsed() < RECHECK_OLDER_THAN {
        return Err(refuse(reason));
    }
    // Never refuse on a stale copy: the tool may have changed since.
    match cache.declarations(state, user, true).await {
        Some(listing) => match param_headers(headers, listing.tool(name), arguments) {
            Ok(()) => Ok(()),
            Err(reason) => Err(refuse(reason)),
        },
        None => Ok(()),
    }
}

/// `Mcp-Method` is `tools/call` and `Mcp-Name` the tool's name (decoded), once each.
fn standard_headers(headers: &HeaderMap, name: &str) -> Result<(), String> {
    match single(headers, "Mcp-Method")? {
        Some("tools/call") => {}
        Some(other) => {
            return Err(format!(
                "Mcp-Method header `{other}` does not match body method `tools/call`"
            ));
        }
        None => return Err("missing required Mcp-Method header".to_owned()),
    }
    let Some(raw) = single(headers, "Mcp-Name")? else {
        return Err("missing required Mcp-Name header for `tools/call`".to_owned());
    };
    let decoded = decode(raw).ok_or("Mcp-Name header is not valid Base64")?;
    if decoded != name {
        return Err(format!(
            "Mcp-Name header `{decoded}` does not match body value `{name}`"
        ));
    }
    Ok(())
}

/// Each declared argument has its header, with its value, and no header stands for an argument
/// that is absent (or null). Headers the tool does not declare are ignored.
fn param_headers(
    headers: &HeaderMap,
    declared: &[Declaration],
    arguments: Option<&Value>,
) -> Result<(), String> {
    for declaration in declared {
        let header = declaration.header.as_str();
        let sent = single(headers, header)?;
        let value = arguments
            .and_then(|arguments| {
                declaration
                    .path
                    .iter()
                    .try_fold(arguments, |value, key| value.get(key))
            })
            .and_then(primitive);
        let property = declaration.path.join(".");
        match (sent, value) {
            (None, None) => {}
            (Some(_), None) => {
                return Err(format!(
                    "unexpected {header} header for absent or null argument `{property}`"
                ));
            }
            (None, Some(_)) => {
                return Err(format!(
                    "missing {header} header for argument `{property}` (its inputSchema declares x-mcp-header)"
                ));
            }
            (Some(raw), Some(value)) => {
                let decoded =
                    decode(raw).ok_or_else(|| format!("{header} header is not valid Base64"))?;
                if decoded != value {
                    return Err(format!(
                        "{header} header `{decoded}` does not match body value `{value}` of `{property}`"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A header's only value, without surrounding whitespace; an error if it is repeated or is not
/// visible ASCII.
fn single<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, String> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(format!("duplicate {name} header"));
    }
    value
        .to_str()
        .map(|value| Some(value.trim_matches([' ', '\t'])))
        .map_err(|_| format!("{name} header contains invalid characters"))
}

fn trimmed(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |end| end + 1);
    &bytes[start..end]
}

/// A JSON primitive as its header text; `None` for null, objects and arrays.
fn primitive(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// A header value as text: `=?base64?…?=` decoded (strict standard Base64 with padding, UTF-8;
/// `None` if it is not), anything else as it is.
fn decode(value: &str) -> Option<String> {
    match value
        .strip_prefix(BASE64_PREFIX)
        .and_then(|inner| inner.strip_suffix(BASE64_SUFFIX))
    {
        Some(inner) => String::from_utf8(base64_decode(inner)?).ok(),
        None => Some(value.to_owned()),
    }
}

/// Standard Base64 (RFC 4648 §4) with its padding, no whitespace, unused bits zero.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn sextet(byte: u8) -> Option<u32> {
        Some(u32::from(match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let quads = bytes.len() / 4;
    for (i, quad) in bytes.chunks_exact(4).enumerate() {
        let padding = quad.iter().rev().take_while(|b| **b == b'=').count();
        if padding > 2 || (padding > 0 && i + 1 != quads) {
            return None;
        }
        let mut bits = 0u32;
        for byte in &quad[..4 - padding] {
            bits = bits << 6 | sextet(*byte)?;
        }
        bits <<= 6 * padding;
        let decoded = [(bits >> 16) as u8, (bits >> 8) as u8, bits as u8];
        let kept = 3 - padding;
        if decoded[kept..].iter().any(|b| *b != 0) {
            // Bits a canonical encoder leaves zero.
            return None;
        }
        out.extend_from_slice(&decoded[..kept]);
    }
    Some(out)
}

/// The 400 reply: a JSON-RPC error answering request `id`.
fn mismatch(id: &Value, reason: &str) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {
            "code": HEADER_MISMATCH,
            "message": format!("Header mismatch: {reason}"),
        },
    });
    (
        StatusCode::BAD_REQUEST,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        Body::from(body.to_string()),
    )
        .into_response()
}

/// One argument a tool mirrors into a header.
#[derive(Debug, Clone)]
struct Declaration {
    /// The `properties` keys from the schema's root to the argument.
    path: Vec<String>,
    /// `Mcp-Param-<Name>`.
    header: String,
}

/// A user's tools' declarations as fetched (or learnt) at `at` (only tools that declare any).
#[derive(Clone)]
struct Listing {
    at: Instant,
    tools: HashMap<String, Vec<Declaration>>,
}

impl Listing {
    fn tool(&self, name: &str) -> &[Declaration] {
        self.tools.get(name).map_or(&[], Vec::as_slice)
    }

    fn of(tools: &[pagerduty_mcp_connect::Tool]) -> Listing {
        let tools = tools
            .iter()
            .map(|tool| (tool.name.clone(), declarations(&tool.input_schema)))
            .filter(|(_, declared)| !declared.is_empty())
            .collect();
        Listing {
            at: Instant::now(),
            tools,
        }
    }
}

/// The `x-mcp-header` declarations of an input schema.
fn declarations(schema: &Value) -> Vec<Declaration> {
    let mut declared = Vec::new();
    collect(schema, &mut Vec::new(), &mut declared, 0);
    declared
}

/// The `x-mcp-header` declarations along `properties` chains from a schema's root (a non-empty
/// RFC 9110 token each; a malformed one is skipped).
fn collect(schema: &Value, path: &mut Vec<String>, out: &mut Vec<Declaration>, depth: usize) {
    let Some(Value::Object(properties)) = schema.get("properties") else {
        return;
    };
    if depth > 32 {
        return;
    }
    for (key, property) in properties {
        path.push(key.clone());
        if let Some(name) = property.get("x-mcp-header").and_then(Value::as_str)
            && is_token(name)
        {
            out.push(Declaration {
                path: path.clone(),
                header: format!("Mcp-Param-{name}"),
            });
        }
        collect(property, path, out, depth + 1);
        path.pop();
    }
}

fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// What the front knows of each user's tools' `x-mcp-header` declarations.
#[derive(Default)]
pub(crate) struct ToolHeaders {
    users: Mutex<HashMap<UserId, Arc<UserEntry>>>,
}

impl fmt::Debug for ToolHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolHeaders")
            .field("users", &self.lock().len())
            .finish()
    }
}

#[derive(Default)]
struct UserEntry {
    /// The last fetch (`None` inside: it failed); one fetch at a time per user.
    fetched: tokio::sync::Mutex<Option<(Instant, Option<Arc<Listing>>)>>,
}

impl ToolHeaders {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, Arc<UserEntry>>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `user`'s entry, added if new.
    fn entry(&self, user: &UserId) -> Arc<UserEntry> {
        let mut users = self.lock();
        if let Some(entry) = users.get(user) {
            return entry.clone();
        }
        if users.len() >= PRUNE_ABOVE {
            users.retain(|_, entry| {
                entry.fetched.try_lock().map_or(true, |fetched| {
                    fetched
                        .as_ref()
                        .is_some_and(|(at, _)| at.elapsed() < FRESH_FOR)
                })
            });
        }
        users.entry(user.clone()).or_default().clone()
    }

    /// What `user`'s agent was just told of these tools (name, declarations), over what was
    /// kept of them; the other tools' are kept (a listing may come in pages).
    async fn learn(&self, user: &UserId, listed: impl Iterator<Item = (String, Vec<Declaration>)>) {
        let entry = self.entry(user);
        let mut fetched = entry.fetched.lock().await;
        let mut tools = match fetched.take() {
            Some((_, Some(listing))) => Arc::unwrap_or_clone(listing).tools,
            _ => HashMap::new(),
        };
        for (name, declared) in listed {
            if declared.is_empty() {
                tools.remove(&name);
            } else {
                tools.insert(name, declared);
            }
        }
        let now = Instant::now();
        *fetched = Some((now, Some(Arc::new(Listing { at: now, tools }))));
    }

    /// `user`'s declarations: the kept ones while fresh (unless `refetch`), else fetched now.
    /// `None` when the list cannot be had.
    async fn declarations(
        &self,
        state: &GatewayState,
        user: &UserId,
        refetch: bool,
    ) -> Option<Arc<Listing>> {
        let entry = self.entry(user);
        let mut fetched = entry.fetched.lock().await;
        if let Some((at, listing)) = fetched.as_ref() {
            let keep_for = if listing.is_some() {
                FRESH_FOR
            } else {
                FAILURE_FOR
            };
            // A refetch asked for while another one just happened uses that one.
            let just_now = refetch && at.elapsed() < RECHECK_OLDER_THAN;
            if (!refetch || just_now) && at.elapsed() < keep_for {
                return listing.clone();
            }
        }
        let listing = match state.connector.list_tools_with_verdicts(user).await {
            Ok(tools) => {
                let tools: Vec<_> = tools.into_iter().map(|(tool, _)| tool).collect();
                Some(Arc::new(Listing::of(&tools)))
            }
            Err(err) => {
                tracing::debug!(user = %user, error = %err, "could not list the user's tools: their Mcp-Param-* headers go unchecked for now");
                None
            }
        };
        *fetched = Some((Instant::now(), listing.clone()));
        listing
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn declared(schema: Value) -> Vec<Declaration> {
        declarations(&schema)
    }

    #[test]
    fn base64_is_strict() {
        assert_eq!(base64_decode("SGVsbG8=").unwrap(), b"Hello");
        assert_eq!(base64_decode("").unwrap(), b"");
        assert_eq!(base64_decode("Y2Fmw6k=").unwrap(), "café".as_bytes());
        assert_eq!(base64_decode("YQ0KYg==").unwrap(), b"a\r\nb");
        for bad in [
            "SGVsbG8",
            "SGVs!!!bG8=",
            "SGVsbG9=",
            "S===",
            "SG=sbG8=",
            "SGVs bG8=",
        ] {
            assert!(base64_decode(bad).is_none(), "{bad}");
        }
        assert_eq!(decode("=?base64?SGVsbG8=?=").as_deref(), Some("Hello"));
        assert_eq!(decode("=?base64?SGVsbG8?="), None);
        assert_eq!(
            decode("=?base64?SGVsbG8=").as_deref(),
            Some("=?base64?SGVsbG8=")
        );
        assert_eq!(decode("SGVsbG8=").as_deref(), Some("SGVsbG8="));
    }

    #[test]
    fn declarations_follow_properties_chains() {
        let found = declared(json!({"type": "object", "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "limit": {"type": "integer", "x-mcp-header": "Limit"},
            "bad": {"type": "string", "x-mcp-header": "Bad Name"},
            "location": {"type": "object", "properties": {
                "zone": {"type": "string", "x-mcp-header": "Zone"}}},
            "list": {"type": "array", "items": {"properties": {
                "x": {"type": "string", "x-mcp-header": "X"}}}},
        }}));
        let mut pairs: Vec<_> = found
            .iter()
            .map(|d| (d.path.join("."), d.header.as_str()))
            .collect();
        pairs.sort();
        assert_eq!(
            pairs,
            [
                ("limit".to_owned(), "Mcp-Param-Limit"),
                ("location.zone".to_owned(), "Mcp-Param-Zone"),
                ("region".to_owned(), "Mcp-Param-Region"),
            ]
        );
    }

    #[test]
    fn param_headers_match_the_arguments() {
        let declared = declared(json!({"properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "limit": {"type": "integer", "x-mcp-header": "Limit"},
        }}));
        let args = json!({"region": "eu", "limit": 5});
        let ok = |pairs: &[(&str, &str)], args: &Value| {
            param_headers(&headers(pairs), &declared, Some(args))
        };
        assert!(
            ok(
                &[("mcp-param-region", "eu"), ("MCP-PARAM-LIMIT", "5")],
                &args
            )
            .is_ok()
        );
        assert!(
            ok(
                &[
                    ("mcp-param-region", "=?base64?ZXU=?="),
                    ("mcp-param-limit", "5")
                ],
                &args
            )
            .is_ok()
        );
        let missing = ok(&[("mcp-param-region", "eu")], &args).unwrap_err();
        assert!(missing.contains("missing Mcp-Param-Limit"), "{missing}");
        let wrong = ok(
            &[("mcp-param-region", "us"), ("mcp-param-limit", "5")],
            &args,
        )
        .unwrap_err();
        assert!(wrong.contains("does not match"), "{wrong}");
        let twice = ok(
            &[
                ("mcp-param-region", "eu"),
                ("mcp-param-region", "eu"),
                ("mcp-param-limit", "5"),
            ],
            &args,
        )
        .unwrap_err();
        assert!(twice.contains("duplicate"), "{twice}");
        let extra = ok(&[("mcp-param-region", "eu")], &json!({"limit": null})).unwrap_err();
        assert!(extra.contains("unexpected Mcp-Param-Region"), "{extra}");
        assert!(ok(&[], &json!({})).is_ok());
        assert!(param_headers(&headers(&[]), &declared, None).is_ok());
    }

    #[test]
    fn standard_headers_name_the_call() {
        let call = [("mcp-method", "tools/call"), ("mcp-name", "deploy")];
        assert!(standard_headers(&headers(&call), "deploy").is_ok());
        assert!(standard_headers(&headers(&call), "other").is_err());
        assert!(standard_headers(&headers(&call[..1]), "deploy").is_err());
        assert!(
            standard_headers(
                &headers(&[
                    ("mcp-method", "tools/call"),
                    ("mcp-name", "=?base64?ZGVwbG95?=")
                ]),
                "deploy"
            )
            .is_ok()
        );
        assert!(
            standard_headers(
                &headers(&[("mcp-method", "TOOLS/CALL"), ("mcp-name", "deploy")]),
                "deploy"
            )
            .is_err()
        );
    }

    #[test]
    fn which_requests_are_checked() {
        let call = headers(&[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
        ]);
        assert!(applies(&Method::POST, &call));
        assert!(!applies(&Method::GET, &call));
        let session_era = headers(&[
            ("mcp-protocol-version", "2025-11-25"),
            ("mcp-method", "tools/call"),
        ]);
        assert!(!applies(&Method::POST, &session_era));
        let list = headers(&[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/list"),
        ]);
        assert!(!applies(&Method::POST, &list));
        assert!(lists_tools(&list));
    }
}
