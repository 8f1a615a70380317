//! The checks at the gateway's front, before the gateway key is even looked at: the `Host` and
//! `Origin` headers of every request to `/mcp` (DNS rebinding and cross-origin browser pages,
//! which the MCP specification's Streamable HTTP transport says servers MUST refuse).
//!
//! Both are checked here, on every path (rmcp's service and the [direct path](super::direct)),
//! so that a refused request gets the same clear JSON-RPC error and nothing else happens for
//! it: no key lookup, no session, nothing upstream. rmcp's own checks are left off (it would
//! answer in plain text, and only on its own path).
//!
//! - `Host`: one of the [allowed hosts](super::GatewayBuilder::allowed_hosts) (default: the
//!   loopback names `localhost`, `127.0.0.1`, `::1`, any port). A DNS-rebinding page reaches a
//!   loopback gateway under the attacker's own host name, which is not on the list.
//! - `Origin`: absent (every non-browser client: the SDKs, Claude Desktop, Cursor, mcp-remote)
//!   is allowed. Present, it must be one of the
//!   [allowed origins](super::GatewayBuilder::allowed_origins) (default: loopback origins
//!   `http(s)://localhost`, `127.0.0.1`, `[::1]`, any port, such as the MCP Inspector's page on
//!   the same machine). The gateway serves no web pages of its own, so no other origin has a
//!   reason to call it; a page on a rebinding attacker's domain has that domain as its origin.
//!
//! A 2026-07-28 `tools/call`'s routing headers (`Mcp-Method`, `Mcp-Name`, `Mcp-Param-*`) are
//! checked against its body once the key is known ([`param_headers`](super::param_headers)),
//! with the declarations kept here.

use std::sync::Arc;

use http::{HeaderMap, StatusCode, header};

use super::agent_auth::json_rpc_error;
use super::param_headers::ToolHeaders;
use axum::response::Response;

/// The JSON-RPC error code of a request refused at the front (`Host` or `Origin`).
pub(crate) const FORBIDDEN_CODE: i32 = -32003;

/// The default allowed `Host` names (any port).
pub(crate) const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The default allowed origins: loopback pages, any port.
pub(crate) const LOOPBACK_ORIGINS: [&str; 6] = [
    "http://localhost:*",
    "http://127.0.0.1:*",
    "http://[::1]:*",
    "https://localhost:*",
    "https://127.0.0.1:*",
    "https://[::1]:*",
];

/// The front's rules, from the builder.
#[derive(Debug, Clone)]
pub(crate) struct Front {
    /// Allowed `Host` values (`None`: any).
    pub(crate) hosts: Option<Vec<String>>,
    /// Allowed origins, parsed.
    origins: Vec<AllowedOrigin>,
    /// Each user's tools' `x-mcp-header` declarations, for the
    /// [routing-header check](super::param_headers) of 2026-07-28 calls.
    pub(crate) tool_headers: Arc<ToolHeaders>,
}

impl Front {
    pub(crate) fn new(hosts: Option<Vec<String>>, origins: &[String]) -> Self {
        Front {
            hosts,
            origins: origins.iter().filter_map(|o| parse_allowed(o)).collect(),
            tool_headers: Arc::default(),
        }
    }

    /// `Ok` if the request may go on; else why not.
    pub(crate) fn check(&self, headers: &HeaderMap) -> Result<(), Refused> {
        if !host_allowed(headers, self.hosts.as_deref()) {
            tracing::warn!(
                "refused a request whose Host header is not allowed (possible DNS rebinding)"
            );
            return Err(Refused::Host);
        }
        let mut origins = headers.get_all(header::ORIGIN).iter();
        let Some(origin) = origins.next() else {
            return Ok(());
        };
        let allowed = origins.next().is_none()
            && origin
                .to_str()
                .ok()
                .and_then(parse_origin)
                .is_some_and(|origin| self.origins.iter().any(|a| a.matches(&origin)));
        if allowed {
            return Ok(());
        }
        tracing::warn!("refused a request from a browser origin that is not allowed");
        Err(Refused::Origin)
    }
}

/// Why the front refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    Host,
    Origin,
}

impl Refused {
    /// The rejection's metric reason.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Refused::Host => "host_not_allowed",
            Refused::Origin => "origin_not_allowed",
        }
    }

    /// The 403 reply.
    pub(crate) fn response(self) -> Response {
        match self {
            Refused::Host => json_rpc_error(
                StatusCode::FORBIDDEN,
                FORBIDDEN_CODE,
                "Forbidden: this gateway does not answer to this Host header (DNS-rebinding protection). \
                     Connect with the gateway's own address, or ask its operator to add this host name \
                     (--allowed-host / GatewayBuilder::allowed_hosts).",
            ),
            Refused::Origin => json_rpc_error(
                StatusCode::FORBIDDEN,
                FORBIDDEN_CODE,
                "Forbidden: requests from this Origin are not allowed (the gateway refuses web pages \
                 of other origins, against DNS rebinding and cross-site requests). MCP clients that \
                 are not browsers send no Origin header; to allow a web client, ask the gateway's \
                 operator to add its origin (--allowed-origin / GatewayBuilder::allowed_origins).",
            ),
        }
    }
}

/// Whether the request's `Host` is on `allowed` (`None`: the check is off). A missing or
/// malformed `Host` is not.
pub(crate) fn host_allowed(headers: &HeaderMap, allowed: Option<&[String]>) -> bool {
    let Some(allowed) = allowed else {
        return true;
    };
    let mut hosts = headers.get_all(header::HOST).iter();
    let (Some(host), None) = (hosts.next(), hosts.next()) else {
        return false;
    };
    let Some(host) = host
        .to_str()
        .ok()
        .and_then(|host| host.parse::<http::uri::Authority>().ok())
    else {
        return false;
    };
    let name = host.host().trim_matches(|c| c == '[' || c == ']');
    allowed.iter().any(|entry| {
        let Ok(entry_authority) = entry.parse::<http::uri::Authority>() else {
            // A bare IPv6 address such as `::1`.
            return entry.eq_ignore_ascii_case(name) && entry.contains(':');
        };
        let entry_name = entry_authority
            .host()
            .trim_matches(|c| c == '[' || c == ']');
        entry_name.eq_ignore_ascii_case(name)
            && entry_authority
                .port_u16()
                .is_none_or(|port| host.port_u16() == Some(port))
    })
}

/// An origin as a browser sends it: `scheme://host[:port]`, or `null`.
#[derive(Debug, PartialEq, Eq)]
enum Origin {
    Null,
    Tuple {
        scheme: String,
        host: String,
        port: Option<u16>,
    },
}

/// An allowed origin: `scheme://host[:port]`, `scheme://host:*` (any port) or `null`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AllowedOrigin {
    Null,
    Tuple {
        scheme: String,
        host: String,
        /// `None`: any port.
        port: Option<u16>,
    },
}

impl AllowedOrigin {
    fn matches(&self, origin: &Origin) -> bool {
        match (self, origin) {
            (AllowedOrigin::Null, Origin::Null) => true,
            (
                AllowedOrigin::Tuple { scheme, host, port },
                Origin::Tuple {
                    scheme: o_scheme,
                    host: o_host,
                    port: o_port,
                },
            ) => {
                scheme == o_scheme
                    && host == o_host
                    && port
                        .is_none_or(|port| o_port.or_else(|| default_port(o_scheme)) == Some(port))
            }
            _ => false,
        }
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

fn parse_origin(value: &str) -> Option<Origin> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("null") {
        return Some(Origin::Null);
    }
    let uri = value.parse::<http::Uri>().ok()?;
    // An origin has no path, query or user info.
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return None;
    }
    let authority = uri.authority()?;
    if authority.as_str().contains('@') {
        return None;
    }
    Some(Origin::Tuple {
        scheme: uri.scheme_str()?.to_ascii_lowercase(),
        host: authority
            .host()
            .trim_matches(|c| c == '[' || c == ']')
            .to_ascii_lowercase(),
        port: authority.port_u16(),
    })
}

/// Parses an allowed-origin entry; `None` (ignored, with a warning) if it is not one.
fn parse_allowed(entry: &str) -> Option<AllowedOrigin> {
    let parsed = match entry.trim().strip_suffix(":*") {
        Some(base) => match parse_origin(base) {
            Some(Origin::Tuple {
                scheme,
                host,
                port: None,
            }) => Some(AllowedOrigin::Tuple {
                scheme,
                host,
                port: None,
            }),
            _ => None,
        },
        None => match parse_origin(entry) {
            Some(Origin::Null) => Some(AllowedOrigin::Null),
            Some(Origin::Tuple { scheme, host, port }) => {
                let port = port.or_else(|| default_port(&scheme));
                port.map(|port| AllowedOrigin::Tuple {
                    scheme,
                    host,
                    port: Some(port),
                })
            }
            None => None,
        },
    };
    if parsed.is_none() {
        tracing::warn!(
            entry,
            "ignoring an allowed origin that is not `scheme://host[:port]`, `scheme://host:*` or `null`"
        );
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        headers.insert(name, HeaderValue::from_str(value).unwrap());
        headers
    }

    fn defaults() -> Front {
        let origins: Vec<String> = LOOPBACK_ORIGINS.iter().map(|o| (*o).to_owned()).collect();
        Front::new(
            Some(LOOPBACK_HOSTS.iter().map(|h| (*h).to_owned()).collect()),
            &origins,
        )
    }

    #[test]
    fn loopback_origins_pass_and_others_do_not() {
        let front = defaults();
        for origin in [
            "http://localhost:6274",
            "http://127.0.0.1",
            "https://[::1]:8443",
        ] {
            assert!(
                front.check(&with(header::ORIGIN, origin)).is_ok(),
                "{origin}"
            );
        }
        for origin in [
            "http://evil.example",
            "http://localhost.evil.example",
            "null",
            "file://",
            "http://127.0.0.1:8080/path",
            "garbage",
        ] {
            assert!(
                front.check(&with(header::ORIGIN, origin)).is_err(),
                "{origin}"
            );
        }
        let mut no_origin = HeaderMap::new();
        no_origin.insert(header::HOST, HeaderValue::from_static("localhost"));
        assert!(front.check(&no_origin).is_ok());
    }

    #[test]
    fn explicit_origins_match_scheme_host_and_port() {
        let front = Front::new(
            None,
            &[
                "https://app.example.com".to_owned(),
                "http://dev.example.com:*".to_owned(),
            ],
        );
        let ok = |o: &str| front.check(&with(header::ORIGIN, o)).is_ok();
        assert!(ok("https://app.example.com"));
        assert!(ok("https://app.example.com:443"));
        assert!(ok("https://APP.example.com"));
        assert!(!ok("https://app.example.com:8443"));
        assert!(!ok("http://app.example.com"));
        assert!(ok("http://dev.example.com:3000"));
        assert!(!ok("https://dev.example.com"));
        assert!(parse_allowed("null").is_some());
        assert!(parse_allowed("app.example.com").is_none());
        assert!(parse_allowed("https://app.example.com/path").is_none());
    }

    #[test]
    fn hosts_on_the_list() {
        let with_host = |host: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
            headers
        };
        let defaults = LOOPBACK_HOSTS.map(str::to_owned);
        for host in ["localhost", "localhost:8080", "127.0.0.1:9", "[::1]:80"] {
            assert!(host_allowed(&with_host(host), Some(&defaults)), "{host}");
        }
        for host in ["evil.example", "127.0.0.2", "localhost.evil.example"] {
            assert!(!host_allowed(&with_host(host), Some(&defaults)), "{host}");
        }
        assert!(!host_allowed(&HeaderMap::new(), Some(&defaults)));
        let pinned = ["gw.example.com:8443".to_owned()];
        assert!(host_allowed(
            &with_host("gw.example.com:8443"),
            Some(&pinned)
        ));
        assert!(!host_allowed(&with_host("gw.example.com"), Some(&pinned)));
        assert!(host_allowed(&with_host("anything"), None));
    }
}
